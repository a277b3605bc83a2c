//! Load on Hoist's control plane: `--clients` concurrent clients, each a guest with its own
//! cookie and connections, doing what a page does for its uploads, over and over until
//! `--duration` is up. Every call is a real one against running servers and a real store:
//!
//! 1. `start_uploads` for a large file (multipart: the store opens an upload);
//! 2. `sign_parts` for all its parts, in batches of 8 (as the engine asks);
//! 3. `abort_upload` (nothing of it was sent: the store's upload is aborted);
//! 4. `start_uploads` for a 4 KiB file with its checksum (its part's URL comes with the answer);
//! 5. the part PUT straight to the store (not through Hoist);
//! 6. `complete_uploads` (the server asks the store what arrived: ListParts, Complete, a
//!    ranged GET);
//! 7. `list_uploads`, the library's first page.
//!
//! By default each client calls back to back (the most the servers can take). With
//! `--link-mbit`, each client is paced like a real upload over a link of that speed: after
//! each batch of signatures it waits as long as that batch's parts would take to send, so
//! 1,000 clients are 1,000 uploads in progress, not 1,000 callers in a tight loop.
//!
//! With several `--server`s, each call goes to the next one in turn, so an upload is started
//! on one instance, signed on another and completed on a third. Nothing is retried: every
//! failure counts. Prints, per call: requests, requests per second, p50/p99/max latency,
//! errors (and the first few errors' text), as JSON lines or a Markdown table.
//!
//!   cargo run --release --no-default-features --features ssr --example load -- \
//!       --server http://127.0.0.1:3000 --clients 1000 --duration 60s

use clap::Parser;
use hoist::{
    api::{AbortUpload, CompleteUploads, ListUploads, SignParts, StartUploads},
    checksum::{self, ChecksumAlgorithm},
    error::ApiError,
    model::{FileToStart, LibraryPage, PartToSign, SignedPart, StartedUpload, UploadView},
};
use serde::{de::DeserializeOwned, Serialize};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

#[derive(Parser, Debug)]
struct Args {
    /// A Hoist instance (repeat for several: calls go to each in turn).
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Clients start over this long, not all in the same millisecond.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    ramp: Duration,
    /// The size announced for the file whose parts are signed and never sent.
    #[arg(long, default_value_t = 256 << 20)]
    announced: u64,
    /// Pace each client as an upload over a link of this many Mbit/s (default: no pause).
    #[arg(long)]
    link_mbit: Option<f64>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

const CALLS: [&str; 7] = [
    "start_uploads (multipart)",
    "sign_parts (batch of 8)",
    "abort_upload",
    "start_uploads (one part)",
    "PUT part to the store",
    "complete_uploads",
    "list_uploads",
];
const SIGN_BATCH: usize = 8;
const SMALL: usize = 4096;
/// Error texts kept per call, to say what went wrong without printing thousands.
const KEPT_ERRORS: usize = 3;

#[derive(Default)]
struct Tally {
    /// Microseconds, per call.
    micros: [Vec<u32>; 7],
    errors: [u64; 7],
    texts: [Vec<String>; 7],
    cycles: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for i in 0..CALLS.len() {
            self.micros[i].extend(&other.micros[i]);
            self.errors[i] += other.errors[i];
            for text in &other.texts[i] {
                if self.texts[i].len() < KEPT_ERRORS {
                    self.texts[i].push(text.clone());
                }
            }
        }
        self.cycles += other.cycles;
    }

    /// Times `call` as number `i`; a failure is counted and ends the cycle.
    async fn time<T>(
        &mut self,
        i: usize,
        call: impl std::future::Future<Output = Result<T, String>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = call.await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.micros[i].push(micros);
        match result {
            Ok(value) => Some(value),
            Err(text) => {
                self.errors[i] += 1;
                if self.texts[i].len() < KEPT_ERRORS {
                    self.texts[i].push(text);
                }
                None
            }
        }
    }
}

/// One simulated page: its own cookie jar and connection pool, as a browser has.
struct Client {
    http: reqwest::Client,
    store: reqwest::Client,
    servers: Arc<Vec<String>>,
    turn: usize,
}

impl Client {
    async fn call<A: Serialize, T: DeserializeOwned>(
        &mut self,
        name: &str,
        args: &A,
    ) -> Result<T, String> {
        let server = &self.servers[self.turn % self.servers.len()];
        self.turn += 1;
        let body = serde_qs::to_string(args).map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(format!("{server}/api/{name}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "{status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    }

    /// A batch server function called for one item: that item's answer.
    async fn call_one<A: Serialize, T: DeserializeOwned>(
        &mut self,
        name: &str,
        args: &A,
    ) -> Result<T, String> {
        let answers: Vec<Result<T, ApiError>> = self.call(name, args).await?;
        answers
            .into_iter()
            .next()
            .ok_or_else(|| format!("{name}: no answer for the item"))?
            .map_err(|e| e.to_string())
    }

    async fn put(&self, part: &SignedPart, body: Vec<u8>) -> Result<(), String> {
        let request = &part.request;
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.store.request(method, &request.url).body(body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let answer = builder.send().await.map_err(|e| e.to_string())?;
        match answer.status().is_success() {
            true => Ok(()),
            false => Err(format!("store: {}", answer.status())),
        }
    }
}

fn one_file(name: String, size: u64, checksum: Option<String>) -> StartUploads {
    StartUploads {
        files: vec![FileToStart {
            name,
            size,
            content_type: "application/octet-stream".into(),
            checksum,
            sha256: None,
        }],
    }
}

async fn cycle(client: &mut Client, tally: &mut Tally, n: u64, args: &Args) -> Option<()> {
    let big = one_file(format!("big-{n}.bin"), args.announced, None);
    let started: StartedUpload = tally
        .time(
            0,
            client.call_one::<_, StartedUpload>("start_uploads", &big),
        )
        .await?;
    let parts: Vec<u32> = (1..=started.plan.part_count()).collect();
    for batch in parts.chunks(SIGN_BATCH) {
        let sign = SignParts {
            upload_id: started.upload_id.clone(),
            // A checksum per part, as the engine signs them (any value: nothing is sent).
            parts: batch
                .iter()
                .map(|&part_number| PartToSign {
                    part_number,
                    checksum: Some("AAAAAA==".into()),
                })
                .collect(),
        };
        tally
            .time(1, client.call::<_, Vec<SignedPart>>("sign_parts", &sign))
            .await?;
        if let Some(mbit) = args.link_mbit {
            let bytes: u64 = batch
                .iter()
                .filter_map(|&n| started.plan.range(n))
                .map(|(a, b)| b - a)
                .sum();
            tokio::time::sleep(Duration::from_secs_f64(bytes as f64 * 8.0 / (mbit * 1e6))).await;
        }
    }
    let abort = AbortUpload {
        upload_id: started.upload_id,
    };
    tally
        .time(2, client.call::<_, UploadView>("abort_upload", &abort))
        .await?;

    let body = vec![(n % 251) as u8; SMALL];
    let checksum = checksum::of(ChecksumAlgorithm::Crc32c, &body);
    let small = one_file(format!("small-{n}.bin"), SMALL as u64, Some(checksum));
    let started: StartedUpload = tally
        .time(
            3,
            client.call_one::<_, StartedUpload>("start_uploads", &small),
        )
        .await?;
    let part = started.signed.first()?.clone();
    tally.time(4, client.put(&part, body)).await?;
    let complete = CompleteUploads {
        upload_ids: vec![started.upload_id],
    };
    tally
        .time(
            5,
            client.call_one::<_, UploadView>("complete_uploads", &complete),
        )
        .await?;
    tally
        .time(
            6,
            client.call::<_, LibraryPage>(
                "list_uploads",
                &ListUploads {
                    cursor: None,
                    search: None,
                    sort: None,
                },
            ),
        )
        .await?;
    Some(())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let servers = Arc::new(args.servers.clone());
    // Shared by all: the store is not what is measured, and 1,000 pools would exhaust ports.
    let store = reqwest::Client::new();
    let started = Instant::now();
    let deadline = started + args.duration;
    let tasks: Vec<_> = (0..args.clients)
        .map(|i| {
            let (args, servers, store) = (args.clone(), servers.clone(), store.clone());
            let delay = args.ramp.mul_f64(i as f64 / args.clients.max(1) as f64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let http = reqwest::Client::builder()
                    .cookie_store(true)
                    .build()
                    .expect("an HTTP client");
                let mut client = Client {
                    http,
                    store,
                    servers,
                    turn: i,
                };
                let mut tally = Tally::default();
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    if cycle(&mut client, &mut tally, n, &args).await.is_some() {
                        tally.cycles += 1;
                    } else {
                        // A server that is down is not hammered in a tight loop.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        match task.await {
            Ok(tally) => total.merge(tally),
            Err(e) => eprintln!("a client panicked: {e}"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    report(&args, &mut total, seconds);
}

fn report(args: &Args, total: &mut Tally, seconds: f64) {
    if !args.json {
        let pace = args.link_mbit.map_or("back to back".to_owned(), |m| {
            format!("paced at {m} Mbit/s")
        });
        println!(
            "{} clients ({pace}, started over {:?}), {} instance(s), {:.0} s, {} cycles\n",
            args.clients,
            args.ramp,
            args.servers.len(),
            seconds,
            total.cycles
        );
        println!("| call | requests | per second | p50 ms | p99 ms | max ms | errors |");
        println!("|---|---|---|---|---|---|---|");
    }
    for (i, name) in CALLS.iter().enumerate() {
        let sorted = &mut total.micros[i];
        sorted.sort_unstable();
        let (p50, p99, max) = (
            percentile(sorted, 50.0),
            percentile(sorted, 99.0),
            percentile(sorted, 100.0),
        );
        let rate = sorted.len() as f64 / seconds;
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "call": name, "clients": args.clients, "instances": args.servers.len(),
                    "link_mbit": args.link_mbit,
                    "requests": sorted.len(), "per_second": rate, "p50_ms": p50,
                    "p99_ms": p99, "max_ms": max, "errors": total.errors[i],
                    "error_texts": total.texts[i],
                })
            );
        } else {
            println!(
                "| {name} | {} | {rate:.0} | {p50:.1} | {p99:.1} | {max:.1} | {} |",
                sorted.len(),
                total.errors[i]
            );
        }
    }
    for (i, texts) in total.texts.iter().enumerate() {
        for text in texts {
            eprintln!("{}: {text}", CALLS[i]);
        }
    }
}

//! The real `hoist` binary, started on a free port against the real Garage that the tests'
//! environment names, with its own data folder; and clients that talk to it over HTTP with a
//! cookie jar, as a browser or an attacker with curl would.

use super::eventually;
use hoist::{
    checksum::{self, ChecksumAlgorithm},
    error::ApiError,
    model::{FileInfo, LibraryPage, Processing, SignedPart, StartedUpload, UploadView},
};
use serde::de::DeserializeOwned;
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A browser that keeps its cookies and does not follow redirects: it sees where a door sends
/// it.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Every account the tests make has this password.
pub const PASSWORD: &str = "correct horse battery";

pub struct App {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    /// SQLite in `dir`, or a PostgreSQL database on the test command's second pass.
    pub database_url: String,
}

/// What a server function answered: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }

    /// The typed error a failed call carries.
    pub fn error(&self) -> hoist::error::ApiError {
        assert!(self.status >= 400, "expected an error, got {self:?}");
        self.json()
    }
}

/// The `hoist` binary under test: cargo's, unless `HOIST_TEST_BINARY` names a copy (several
/// worktrees sharing one target folder each link their own build to the same path).
pub fn hoist_binary() -> String {
    std::env::var("HOIST_TEST_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hoist").to_string())
}

/// A port no one listens on: the system picks it, and it is released for the server.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until the server at `base` answers its health check.
pub async fn until_healthy(base: &str) {
    let health = format!("{base}/healthz");
    let http = reqwest::Client::new();
    let (http, health) = (&http, &health);
    eventually(
        Duration::from_secs(30),
        "hoist answers",
        move || async move {
            http.get(health.as_str())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;
}

impl App {
    /// Starts `hoist` with the test settings plus `settings`, and waits until it answers.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = super::database_url(dir.path()).await;
        Self::start_in(dir, database_url, settings).await
    }

    /// Starts `hoist` with its data in `dir` on the database `database_url` (which another
    /// instance may share).
    pub async fn start_in(
        dir: tempfile::TempDir,
        database_url: String,
        settings: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let mut command = Command::new(hoist_binary());
        command
            .env("HOIST_DATA_DIR", dir.path())
            .env("HOIST_DATABASE_URL", &database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("HOIST_S3_SET_CORS", "false")
            .env("HOIST_S3_LIFECYCLE_RULE", "false")
            .env("HOIST_ORPHAN_SWEEP_INTERVAL", "off")
            .env("HOIST_PART_SIZE", "5MiB")
            // Ladders take the CPU of seconds of encoding per video: tests/hls.rs turns them on.
            .env("HOIST_HLS", "off")
            // Tests fire requests faster than any person; the rate limits have tests of their own.
            .env("HOIST_RATE_LIMIT", "0")
            .env("HOIST_IP_RATE_LIMIT", "0");
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hoist starts");
        let app = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            database_url,
        };
        until_healthy(&app.base).await;
        app
    }

    /// A browser of its own: a cookie jar, so it keeps the session it is given. Like a
    /// browser, it does not send a request on a connection the server may be closing: the
    /// server closes one idle for `HOIST_HEADER_TIMEOUT` (10 s), and a call sent on it at that
    /// instant (after a long upload to the store, say) would fail with IncompleteMessage,
    /// which a browser retries and reqwest does not.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("client")
    }

    /// POSTs `form` (already encoded) to the server function `name`.
    pub async fn call(&self, client: &reqwest::Client, name: &str, form: &str) -> Answer {
        self.call_with(
            client.post(format!("{}/api/{name}", self.base)),
            form.as_bytes().to_vec(),
        )
        .await
    }

    /// POSTs raw bytes, with whatever else the builder carries (headers of an attacker's choice).
    pub async fn call_with(&self, request: reqwest::RequestBuilder, body: Vec<u8>) -> Answer {
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("hoist answers");
        Answer {
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Runs `hoist ARGS` beside the server, on its database; `stdin` is piped in.
    pub fn admin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(hoist_binary())
            .env("HOIST_DATA_DIR", self.dir.path())
            .env("HOIST_DATABASE_URL", &self.database_url)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hoist starts");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("stdin");
        }
        child.wait_with_output().expect("hoist finishes")
    }

    /// Starts `hoist worker` beside the server, on its database, with `settings`.
    pub fn worker(&self, settings: &[(&str, &str)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.log_path())
            .expect("log");
        let mut command = Command::new(hoist_binary());
        command
            .env("HOIST_DATA_DIR", self.dir.path())
            .env("HOIST_DATABASE_URL", &self.database_url)
            .arg("worker");
        for (name, value) in settings {
            command.env(name, value);
        }
        command
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hoist worker starts")
    }

    /// The server's database, opened beside it (SQLite's WAL lets both read and write).
    pub async fn database(&self) -> hoist::db::Pool {
        hoist::db::connect(&self.database_url)
            .await
            .expect("the app's database")
    }

    /// The server's database as it is, migrated by nobody but the server: for tests that may
    /// run against another build of it (`HOIST_TEST_BINARY`).
    pub async fn database_as_is(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await
            .expect("the app's database")
    }

    /// A new browser signed up as `email` (password `PASSWORD`) and signed in, as the page
    /// does it (signing up signs nothing in).
    pub async fn account(&self, email: &str) -> reqwest::Client {
        let client = self.browser();
        let credentials = form(&[("email", email), ("password", PASSWORD)]);
        let answer = self.call(&client, "sign_up", &credentials).await;
        assert_eq!(answer.status, 200, "sign up {email}: {answer:?}");
        let answer = self.call(&client, "sign_in", &credentials).await;
        assert_eq!(answer.status, 200, "sign in {email}: {answer:?}");
        client
    }

    /// Who the server thinks `client` is.
    pub async fn whoami(&self, client: &reqwest::Client) -> hoist::model::Me {
        self.call(client, "whoami", "").await.json()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Still running (not crashed by what it was sent)?
    /// SIGKILL: no shutdown, exactly as a crash or a lost machine.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// The server's process id, to read its memory and its children from /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `application/x-www-form-urlencoded` for a list of pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Starts an upload as `client` and expects it to be accepted.
pub async fn start(
    app: &App,
    client: &reqwest::Client,
    name: &str,
    size: u64,
    kind: &str,
) -> StartedUpload {
    let size = size.to_string();
    let answer = app
        .call(
            client,
            "start_upload",
            &form(&[("name", name), ("size", &size), ("content_type", kind)]),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// Uploads `data` whole through the protocol as `client` (start, sign in batches, PUT every
/// part to the store, complete) and returns the upload's id.
pub async fn upload(
    app: &App,
    client: &reqwest::Client,
    name: &str,
    kind: &str,
    data: &[u8],
) -> String {
    let started = start(app, client, name, data.len() as u64, kind).await;
    send_all(app, client, started, data).await
}

/// Sends every part of an upload `start` began and completes it; returns the upload's id.
pub async fn send_all(
    app: &App,
    client: &reqwest::Client,
    started: StartedUpload,
    data: &[u8],
) -> String {
    use futures::StreamExt;
    let id = started.upload_id.clone();
    let parts: Vec<u32> = (1..=started.plan.part_count()).collect();
    let store = super::store_client();
    for batch in parts.chunks(100) {
        let mut pairs = vec![("upload_id".to_string(), id.clone())];
        for (i, n) in batch.iter().enumerate() {
            let (a, b) = started.plan.range(*n).expect("a part");
            let sum = checksum::of(ChecksumAlgorithm::Crc32c, &data[a as usize..b as usize]);
            pairs.push((format!("parts[{i}][part_number]"), n.to_string()));
            pairs.push((format!("parts[{i}][checksum]"), sum));
        }
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = app.call(client, "sign_parts", &form(&pairs)).await;
        assert_eq!(signed.status, 200, "{signed:?}");
        let signed: Vec<SignedPart> = signed.json();
        let sends = signed.into_iter().map(|part| {
            let (a, b) = started.plan.range(part.part_number).expect("a part");
            let body = data[a as usize..b as usize].to_vec();
            let store = store.clone();
            async move {
                let answer = super::send(&store, &part.request, body).await;
                assert!(
                    answer.status().is_success(),
                    "part {}: {}",
                    part.part_number,
                    answer.status()
                );
            }
        });
        futures::stream::iter(sends)
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }
    let done = by_id(app, client, "complete_upload", &id).await;
    assert_eq!(done.status, 200, "{done:?}");
    id
}

/// Asks for part 1's URL, signed for `content`'s checksum.
pub async fn sign_for(app: &App, client: &reqwest::Client, id: &str, content: &[u8]) -> Answer {
    let sum = checksum::of(ChecksumAlgorithm::Crc32c, content);
    app.call(
        client,
        "sign_parts",
        &form(&[
            ("upload_id", id),
            ("parts[0][part_number]", "1"),
            ("parts[0][checksum]", &sum),
        ]),
    )
    .await
}

pub async fn url_for(app: &App, client: &reqwest::Client, id: &str, content: &[u8]) -> SignedPart {
    let answer = sign_for(app, client, id, content).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json::<Vec<SignedPart>>().remove(0)
}

pub async fn by_id(app: &App, client: &reqwest::Client, name: &str, id: &str) -> Answer {
    app.call(client, name, &form(&[("upload_id", id)])).await
}

/// `stranger` tries every door to upload `id` (each server function that takes an upload id,
/// one at a time and in a batch, and the download link): each answers "not found", exactly as
/// for an id that does not exist.
pub async fn assert_not_found_through_every_door(app: &App, stranger: &reqwest::Client, id: &str) {
    for (name, body) in [
        (
            "sign_parts",
            form(&[("upload_id", id), ("parts[0][part_number]", "1")]),
        ),
        (
            "resume_upload",
            form(&[
                ("upload_id", id),
                ("size", "3000"),
                ("content_type", "image/png"),
            ]),
        ),
        ("keep_upload_alive", form(&[("upload_id", id)])),
        ("complete_upload", form(&[("upload_id", id)])),
        ("abort_upload", form(&[("upload_id", id)])),
        ("delete_upload", form(&[("upload_id", id)])),
    ] {
        let answer = app.call(stranger, name, &body).await;
        assert_eq!(answer.status, 404, "{name} {id}: {answer:?}");
        assert_eq!(answer.error(), ApiError::NotFound, "{name}");
    }
    // In a batch, each foreign id is answered on its own: not found, and nothing else said.
    let batch = app
        .call(
            stranger,
            "complete_uploads",
            &form(&[("upload_ids[0]", id)]),
        )
        .await;
    assert_eq!(batch.status, 200, "{batch:?}");
    assert_eq!(
        batch.json::<Vec<Result<UploadView, ApiError>>>(),
        vec![Err(ApiError::NotFound)]
    );
    let download = stranger
        .get(format!("{}/files/{id}/download", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(download.status(), 404);
}

/// What the library says of `id` now.
pub async fn row(app: &App, client: &reqwest::Client, id: &str) -> UploadView {
    let page: LibraryPage = app.call(client, "list_uploads", "").await.json();
    page.uploads
        .into_iter()
        .find(|u| u.id == id)
        .unwrap_or_else(|| panic!("{id} is not in the library"))
}

/// Waits until processing of `id` has ended (ready or failed) and returns what it found.
pub async fn processed(
    app: &App,
    client: &reqwest::Client,
    id: &str,
    within: Duration,
) -> FileInfo {
    let deadline = tokio::time::Instant::now() + within;
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticks.tick().await;
        let file = row(app, client, id).await.file;
        if let Some(file) =
            file.filter(|f| matches!(f.processing, Processing::Ready | Processing::Failed))
        {
            return file;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processing of {id} did not end within {within:?}"
        );
    }
}

/// Sends `head` (a request line and headers, without the blank line that ends them) and `body`
/// to the server as raw bytes on a connection of its own, exactly as written: no client library
/// normalises the path (`/api/x/../y`, `%2e%2e`) first, as a proxy or `curl --path-as-is`
/// would not. Returns the status and the body.
pub async fn raw(app: &App, head: &str, body: &[u8]) -> (u16, String) {
    let answer = raw_answer(app, head, body).await;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// The whole answer to a request written by hand, as [`raw`] sends it: status line (with its
/// reason phrase, which client libraries hide), headers and body.
pub async fn raw_answer(app: &App, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "{head}\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The name of every server function the `hoist` binary registers (Leptos's own registry, as
/// `hoist server-functions` prints it): what a test that must reach every function walks, so
/// a function added later is covered without anyone remembering to list it.
pub fn server_functions() -> Vec<String> {
    let output = Command::new(hoist_binary())
        .arg("server-functions")
        .output()
        .expect("hoist runs");
    assert!(output.status.success(), "{output:?}");
    let names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split(' ').next()?.strip_prefix("/api/"))
        .map(str::to_owned)
        .collect();
    // Guards against walking nothing: the registry of this build is far from empty.
    assert!(names.len() >= 20, "only {names:?} registered?");
    names
}

/// The resident memory of process `pid`, in bytes (VmRSS in /proc).
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Watches a running server from the side: its resident memory and whether `/healthz`
/// answers within a second, every 200 ms, until [`Watch::stop`].
pub struct Watch {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Watched>,
}

/// What a [`Watch`] saw.
#[derive(Debug, Default)]
pub struct Watched {
    pub samples: u64,
    pub max_rss: u64,
    /// `/healthz` checks that failed or took longer than a second.
    pub unhealthy: u64,
    pub slowest_health_ms: u128,
}

impl Watch {
    pub fn start(app: &App) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (pid, health) = (app.pid(), format!("{}/healthz", app.base));
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .pool_max_idle_per_host(0)
                .build()
                .expect("client");
            let mut seen = Watched::default();
            let mut ticks = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.changed() => return seen,
                }
                let began = std::time::Instant::now();
                let ok = http
                    .get(&health)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                seen.slowest_health_ms = seen.slowest_health_ms.max(began.elapsed().as_millis());
                seen.unhealthy += u64::from(!ok);
                seen.max_rss = seen.max_rss.max(resident_bytes(pid));
                seen.samples += 1;
            }
        });
        Self { stop, task }
    }

    pub async fn stop(self) -> Watched {
        let _ = self.stop.send(true);
        self.task.await.expect("the watch ends")
    }
}

//! The live feed in front of strangers (issue 28, hole 1): `/events` as an attacker holds it,
//! with raw sockets that send a request and never read, against the real server.

mod common;

use common::{
    app::{self, App},
    events::Events,
    eventually,
};
use futures::StreamExt;
use hoist::model::{EventCursor, UploadEvent};
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// The built-in cap on one network's streams (`HOIST_LIVE_PER_NETWORK`).
const PER_NETWORK: usize = 64;

/// A fresh guest's session cookie (`name=value`), as any GET hands one out.
async fn mint(app: &App) -> String {
    let answer = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("hoist answers");
    let set = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a guest cookie");
    set.split(';').next().expect("name=value").to_string()
}

/// The owner a guest cookie names (`guest:<id>`), for writing its events as a worker would.
fn owner_of(cookie: &str) -> String {
    let value = cookie.split_once('=').expect("name=value").1;
    let id = value
        .split_once(':')
        .and_then(|(_, rest)| rest.split_once('.'))
        .expect("g:<id>.<tag>")
        .0;
    format!("guest:{id}")
}

fn address(app: &App) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// `GET /events` on a socket of its own; the caller decides whether it ever reads. A small
/// receive buffer makes a client that stops reading show soon.
async fn open(app: &App, cookie: Option<&str>, small_buffer: bool) -> TcpStream {
    let addr = address(app);
    let socket = TcpSocket::new_v4().expect("a socket");
    if small_buffer {
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    }
    let mut stream = socket
        .connect(addr.parse().expect("an address"))
        .await
        .expect("connects");
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let request = format!(
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{cookie}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    stream
}

/// The response's head (status line and headers, lower-cased), or `None` if none came within
/// `wait`. Reads no further than the head's first read: a stream's events stay unread.
async fn head(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buffer = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(wait, reading).await.ok()??;
    Some(String::from_utf8_lossy(&buffer).to_lowercase())
}

fn status(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The server closed its end: reading reaches the end (or a reset) within `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let draining = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, draining).await.is_ok()
}

async fn live_clients(app: &App) -> usize {
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("a body");
    text.lines()
        .find_map(|l| l.strip_prefix("hoist_live_clients "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the live clients gauge")
}

/// What became of one attacker's stream.
enum Outcome {
    /// Admitted: held open, never read past its head.
    Held(#[allow(dead_code)] TcpStream),
    /// Refused with 429 and `Retry-After`, and the server closed the connection.
    Refused {
        closed: bool,
        retry_after: bool,
    },
    Other(Option<String>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_thousand_streams_that_never_read_leave_room_for_pages_and_uploads() {
    const STREAMS: usize = 4096;
    let app = App::start(&[]).await;
    // A cookie per 16 streams: the per-session cap alone would let every one of them in.
    let cookies: Vec<String> = futures::stream::iter(0..STREAMS / 16)
        .map(|_| mint(&app))
        .buffer_unordered(32)
        .collect()
        .await;
    let app = &app;
    let outcomes: Vec<Outcome> = futures::stream::iter(0..STREAMS)
        .map(|i| {
            let cookie = cookies[i / 16].clone();
            async move {
                let mut stream = open(app, Some(&cookie), false).await;
                let head = head(&mut stream, Duration::from_secs(60)).await;
                match head.as_deref().map(status) {
                    Some(200) => Outcome::Held(stream),
                    Some(429) => {
                        let head = head.unwrap_or_default();
                        Outcome::Refused {
                            retry_after: head.contains("\r\nretry-after:"),
                            closed: head.contains("\r\nconnection: close")
                                && closed_by_server(&mut stream, Duration::from_secs(10)).await,
                        }
                    }
                    _ => Outcome::Other(head),
                }
            }
        })
        .buffer_unordered(512)
        .collect()
        .await;

    // Every stream has its answer (or is held): now a person's page must still be served.
    let began = Instant::now();
    let health = tokio::time::timeout(
        Duration::from_secs(1),
        reqwest::get(format!("{}/healthz", app.base)),
    )
    .await;
    assert!(
        matches!(&health, Ok(Ok(r)) if r.status() == 200),
        "/healthz did not answer within 1 s with {STREAMS} streams open: {health:?}"
    );
    let began_upload = Instant::now();
    let page = app.browser();
    let uploaded = tokio::time::timeout(Duration::from_secs(1), async {
        app.call(&page, "whoami", "").await;
        app::upload(
            app,
            &page,
            "note.bin",
            "application/octet-stream",
            &[7u8; 4096],
        )
        .await
    })
    .await;
    assert!(
        uploaded.is_ok(),
        "an upload did not finish within 1 s with {STREAMS} streams open (healthz took {:?})",
        began_upload - began
    );

    let held = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Held(_)))
        .count();
    let refused: Vec<(bool, bool)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Refused {
                closed,
                retry_after,
            } => Some((*closed, *retry_after)),
            _ => None,
        })
        .collect();
    let other: Vec<&Option<String>> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Other(head) => Some(head),
            _ => None,
        })
        .collect();
    assert!(
        other.is_empty(),
        "{} neither held nor refused: {:?}",
        other.len(),
        other.first()
    );
    assert_eq!(held, PER_NETWORK, "one network holds at most its share");
    assert_eq!(refused.len(), STREAMS - PER_NETWORK);
    assert!(
        refused.iter().all(|(closed, retry)| *closed && *retry),
        "every refusal says when to come back and closes its connection"
    );
    assert_eq!(live_clients(app).await, held);
}

#[tokio::test]
async fn a_stream_without_a_presented_session_is_refused_and_holds_nothing() {
    let app = App::start(&[]).await;
    let answer = reqwest::get(format!("{}/events", app.base))
        .await
        .expect("hoist answers");
    assert_eq!(answer.status(), 401);
    assert_ne!(
        answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let sentence = answer.text().await.expect("a body");
    assert!(sentence.contains("session"), "{sentence}");
    assert_eq!(live_clients(&app).await, 0);

    // A cookie that was presented (the page's own) is followed.
    let page = app.browser();
    app.call(&page, "whoami", "").await;
    let _live = Events::open(&app, &page, None).await;
    assert_eq!(live_clients(&app).await, 1);
}

#[tokio::test]
async fn the_overall_cap_binds_across_networks_sessions_and_says_so() {
    let app = App::start(&[("HOIST_LIVE_MAX", "20"), ("HOIST_LIVE_PER_NETWORK", "100")]).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let cookie = mint(&app).await;
        let mut stream = open(&app, Some(&cookie), false).await;
        let head = head(&mut stream, Duration::from_secs(10)).await;
        assert_eq!(head.as_deref().map(status), Some(200), "{head:?}");
        held.push(stream);
    }
    let cookie = mint(&app).await;
    let mut stream = open(&app, Some(&cookie), false).await;
    let head = head(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status(&head), 429, "{head}");
    assert!(head.contains("\r\nretry-after:"), "{head}");
    assert!(closed_by_server(&mut stream, Duration::from_secs(10)).await);
    assert_eq!(live_clients(&app).await, 20);
}

/// Reads `response` to its end; `None` if it is still open after `wait`.
async fn to_the_end(mut response: reqwest::Response, wait: Duration) -> Option<String> {
    let mut text = String::new();
    let reading = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(wait, reading).await.ok()?;
    Some(text)
}

/// The events' ids and the uploads they are about, from a stream's text.
fn events_in(text: &str) -> Vec<(EventCursor, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))?
                .trim()
                .parse()
                .ok()?;
            let data = block.lines().find_map(|l| l.strip_prefix("data:"))?;
            let event: UploadEvent = serde_json::from_str(data.trim()).ok()?;
            Some((id, about(&event)))
        })
        .collect()
}

fn about(event: &UploadEvent) -> String {
    match event {
        UploadEvent::Changed { upload } => upload.id.clone(),
        UploadEvent::Deleted { upload_id } => upload_id.clone(),
    }
}

#[tokio::test]
async fn a_stream_ends_at_its_max_age_and_a_reconnect_gets_what_was_missed() {
    let app = App::start(&[("HOIST_LIVE_MAX_AGE", "4s")]).await;
    let page = app.browser();
    app.call(&page, "whoami", "").await;
    let began = Instant::now();
    let response = page
        .get(format!("{}/events", app.base))
        .send()
        .await
        .expect("hoist answers");
    assert_eq!(response.status(), 200);
    let first = app::upload(
        &app,
        &page,
        "first.bin",
        "application/octet-stream",
        &[1u8; 1000],
    )
    .await;
    let text = to_the_end(response, Duration::from_secs(20))
        .await
        .expect("the stream was still open 20 s after it began");
    let lived = began.elapsed();
    // 4 s less up to a tenth.
    assert!(
        lived >= Duration::from_millis(3500),
        "ended after {lived:?}"
    );
    let seen = events_in(&text);
    assert!(seen.iter().any(|(_, id)| *id == first), "{text}");
    let last = seen.iter().map(|(n, _)| *n).max().expect("events");

    // While the page reconnects, another file arrives; resuming from the last id seen misses
    // nothing and repeats nothing.
    let second = app::upload(
        &app,
        &page,
        "second.bin",
        "application/octet-stream",
        &[2u8; 1000],
    )
    .await;
    let mut back = Events::open(&app, &page, Some(last)).await;
    let mut missed = Vec::new();
    while let Some((n, event)) = back.next(Duration::from_secs(2)).await {
        missed.push((n, about(&event)));
    }
    assert!(missed.iter().all(|(n, _)| *n > last), "{missed:?}");
    assert!(missed.iter().any(|(_, id)| *id == second), "{missed:?}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let app = App::start(&[("HOIST_WRITE_TIMEOUT", "2s")]).await;
    let cookie = mint(&app).await;
    // All of one session's places, held by streams that never read.
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut stream = open(&app, Some(&cookie), true).await;
        let head = head(&mut stream, Duration::from_secs(10)).await;
        assert_eq!(head.as_deref().map(status), Some(200), "{head:?}");
        stalled.push(stream);
    }
    let mut refused = open(&app, Some(&cookie), false).await;
    let answer = head(&mut refused, Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref().map(status), Some(429), "{answer:?}");

    // More events than the sockets' buffers hold, written as a worker process writes them.
    let db = app.database().await;
    let owner = owner_of(&cookie);
    // 12 MiB: more than a loopback socket's largest send buffer (4 MiB) and what the server
    // queues above it.
    let body = format!("\"{}\"", "x".repeat(4 * 1024));
    for _ in 0..24 {
        let mut tx = db.writer().begin().await.expect("a write transaction");
        for _ in 0..128 {
            hoist::db::events::record(&mut tx, &owner, "flood", &body, 0)
                .await
                .expect("an event");
        }
        tx.commit().await.expect("committed");
    }

    let app = &app;
    let cookie = &cookie;
    eventually(
        Duration::from_secs(60),
        "a stalled stream is dropped and its place given to a new one",
        move || async move {
            let mut stream = open(app, Some(cookie), false).await;
            let head = head(&mut stream, Duration::from_secs(5)).await;
            head.as_deref().map(status) == Some(200)
        },
    )
    .await;
    drop(stalled);
}

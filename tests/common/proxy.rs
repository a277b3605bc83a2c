//! A TCP proxy in front of the test store that passes every request through, except those its
//! rule picks: those are read and never answered, as a store that stops sending does. Tests use
//! it to hold a process at a chosen store call for as long as they need.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Picks the requests to hold by their request line (`GET /bucket/key?… HTTP/1.1`).
pub type Rule = Box<dyn Fn(&str) -> bool + Send + Sync>;

pub struct HoldingProxy {
    pub url: String,
    held: Arc<AtomicUsize>,
}

impl HoldingProxy {
    /// Starts a proxy to the test store (`HOIST_S3_ENDPOINT`).
    pub async fn start(rule: Rule) -> Self {
        let store = std::env::var("HOIST_S3_ENDPOINT").expect("the test store (s3.env)");
        let upstream = store
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let held = Arc::new(AtomicUsize::new(0));
        let (counter, rule) = (held.clone(), Arc::new(rule));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counter, rule) = (upstream.clone(), counter.clone(), rule.clone());
                tokio::spawn(async move { pass(client, &upstream, &counter, &rule).await });
            }
        });
        Self { url, held }
    }

    /// Requests held so far.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

async fn pass(mut client: TcpStream, upstream: &str, held: &AtomicUsize, rule: &Rule) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 << 10 {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head[..head.len().min(2048)]);
    if rule(line.lines().next().unwrap_or("")) {
        held.fetch_add(1, Ordering::SeqCst);
        // Hold the connection open, sending nothing, for as long as the client waits.
        let _ = client.read(&mut buf).await;
        std::future::pending::<()>().await;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    // One request per connection, so that each is seen here: a pooled connection would carry
    // later requests past the rule.
    if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
        head.splice(end + 2..end + 2, b"Connection: close\r\n".iter().copied());
    }
    if server.write_all(&head).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// The path of a request line, without its query.
pub fn path_of(line: &str) -> &str {
    line.split(' ')
        .nth(1)
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
}

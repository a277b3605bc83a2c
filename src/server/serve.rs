//! The accept loop. `axum::serve` has no header-read timeout and no cap on connections, so a
//! few thousand clients that open a connection and trickle half a header (slowloris) would
//! hold the server hostage. Here every connection must finish its headers within
//! `header_timeout`, and at most `max_connections` are served at once: past that, new ones
//! wait in the kernel's backlog instead of costing memory. A client that stops reading
//! (a live stream nobody drains) is cut off once its writes have made no progress for
//! `write_timeout`, so it cannot keep its connection by never reading what it asked for.

use super::limits::PeerAddr;
use crate::parse;
use axum::{http::Request, Router};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{
    future::Future,
    io,
    pin::{pin, Pin},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, Semaphore},
    time::Sleep,
};
use tower::ServiceExt;

/// How long and how many: what keeps slow or numerous clients from holding the server.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct HttpSettings {
    /// A connection must send a request's headers within this.
    #[arg(long, env = "HOIST_HEADER_TIMEOUT", default_value = "10s", value_parser = parse::duration)]
    pub header_timeout: Duration,
    /// A request must be answered within this (the server never carries file bytes).
    #[arg(long, env = "HOIST_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse::duration)]
    pub request_timeout: Duration,
    #[arg(long, env = "HOIST_MAX_CONNECTIONS", default_value = "4096", value_parser = parse::number_in(16..=1_000_000usize))]
    pub max_connections: usize,
    /// A connection whose client takes no bytes of its answer for this long is closed.
    #[arg(long, env = "HOIST_WRITE_TIMEOUT", default_value = "30s", value_parser = parse::duration)]
    pub write_timeout: Duration,
}

/// How long open connections get to finish their requests once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpSettings,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection holds a receiver; the sender learns when the last one is gone.
    let (closing, closing_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The rate limits need the peer's address on every request of the connection.
        let service =
            TowerToHyperService::new(app.clone().map_request(move |mut r: Request<Incoming>| {
                r.extensions_mut().insert(PeerAddr(peer));
                r
            }));
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(
                    TokioIo::new(Draining::new(stream, limits.write_timeout)),
                    service,
                );
            let mut connection = pin!(connection);
            let shutting_down = async {
                // The guard `wait_for` returns must not be held across the await below.
                let _ = closing.wait_for(|closing| *closing).await.map(|_| ());
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutting_down => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(closing_rx);
    let _ = closing.send(true);
    if tokio::time::timeout(DRAIN, closing.closed()).await.is_err() {
        tracing::warn!("some connections were still open after {DRAIN:?}; closing them");
    }
}

/// A connection whose writes must make progress: a write the kernel cannot take (the client's
/// window is shut) starts a clock, any write taken stops it, and a write still waiting when it
/// runs out fails, which ends the connection and drops what it was answering.
struct Draining {
    stream: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Draining {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            stalled: None,
        }
    }

    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let timeout = self.timeout;
        let clock = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Draining {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Draining {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A socket has nothing of its own to flush: the writes are what wait.
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

//! Connections: accepting them, bounding how many stay open and how long one may sit idle,
//! and closing them all gracefully at shutdown.
//!
//! * A connection that has not sent a whole request head within the header timeout is
//!   closed: a client trickling its headers, and a keep-alive connection left idle, alike.
//! * Past the connection limit (by default a little under the process's limit of open
//!   files), the oldest idle connections are asked to close to make room; when none is idle,
//!   the new connection is closed at once. Either way the server keeps answering, where
//!   running out of file descriptors would have stopped it accepting anything.
//! * At shutdown the listener closes, every connection finishes the request it is serving and
//!   closes, and what is still running after the drain timeout is cut.
//!
//! The body of a request and the request as a whole have their own deadlines
//! ([`super::limits::Limits`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How connections are bounded.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// How long a connection may take to send a request head, counted from when it opens or
    /// last answered: it bounds slow headers and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// How long shutdown waits for the requests in flight before it cuts them.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The most connections by default: the process's limit of open files, less room for the
/// database, the policy file and logs; at most 10,000.
pub fn default_max_connections() -> usize {
    const RESERVED: usize = 128;
    let open_files = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
        let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse::<usize>().ok()
    });
    open_files.map_or(10_000, |files| files.saturating_sub(RESERVED).clamp(16, 10_000))
}

/// One open connection, as the accept loop sees it.
struct Open {
    /// Requests it is serving now.
    busy: AtomicUsize,
    /// Set once it has been asked to close.
    closing: AtomicBool,
    /// Wakes it to close.
    close: Notify,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    open: Mutex<BTreeMap<u64, Arc<Open>>>,
    /// How many of them were asked to close.
    closing: AtomicUsize,
    next: AtomicUsize,
}

impl Registry {
    fn add(&self) -> (u64, Arc<Open>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) as u64;
        let open = Arc::new(Open {
            busy: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        if let Ok(mut connections) = self.open.lock() {
            connections.insert(id, open.clone());
        }
        crate::metrics::connections(1);
        (id, open)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut connections) = self.open.lock()
            && let Some(gone) = connections.remove(&id)
            && gone.closing.load(Ordering::Relaxed)
        {
            self.closing.fetch_sub(1, Ordering::Relaxed);
        }
        crate::metrics::connections(-1);
    }

    /// Makes room for one more connection under `max`: asks the oldest idle connections to
    /// close (an eighth of the limit at a time, so a flood does not take this path on every
    /// accept). Whether there is room once those have closed.
    fn make_room(&self, max: usize) -> bool {
        let Ok(connections) = self.open.lock() else { return false };
        if connections.len().saturating_sub(self.closing.load(Ordering::Relaxed)) < max {
            return true;
        }
        let wanted = (max / 8).max(1);
        let mut asked = 0;
        for open in connections.values() {
            if asked == wanted {
                break;
            }
            if open.busy.load(Ordering::Relaxed) == 0 && !open.closing.swap(true, Ordering::Relaxed)
            {
                self.closing.fetch_add(1, Ordering::Relaxed);
                open.close.notify_one();
                asked += 1;
            }
        }
        if asked > 0 {
            tracing::warn!(
                open = connections.len(),
                max,
                closed = asked,
                "connection limit reached: closing the oldest idle connections"
            );
        }
        asked > 0
    }
}

/// Counts a request as in flight on its connection while it is served.
struct Serving(Arc<Open>);

impl Serving {
    fn start(open: &Arc<Open>) -> Self {
        open.busy.fetch_add(1, Ordering::Relaxed);
        Self(open.clone())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish within the drain timeout, and returns. `draining` is set as soon
/// as shutdown begins (readiness reports it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    draining: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors, most likely: free some, then try again.
                    tracing::warn!(%error, "cannot accept a connection");
                    registry.make_room(limits.max_connections);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !registry.make_room(limits.max_connections) {
            tracing::warn!(
                max = limits.max_connections,
                "connection limit reached and none idle: closing a new connection"
            );
            drop(stream);
            continue;
        }
        let (id, open) = registry.add();
        let (registry, router, closed) = (registry.clone(), router.clone(), closed.clone());
        let timeout = limits.header_read_timeout;
        connections.spawn(async move {
            connection(stream, router, &open, closed, timeout).await;
            registry.remove(id);
        });
    }
    draining.store(true, Ordering::Relaxed);
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            cut = connections.len(),
            "drain timeout: cutting the connections still serving"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until the client closes it, it times out, or it is asked to close
/// (shutdown, or room for newer connections); then finishes the request in flight and closes.
async fn connection(
    stream: TcpStream,
    router: Router,
    open: &Arc<Open>,
    mut closed: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let tower = TowerToHyperService::new(router);
    let on_this = open.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let serving = Serving::start(&on_this);
        let response = tower.call(request);
        async move {
            let response = response.await;
            drop(serving);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let served = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    let mut served = std::pin::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended");
            }
            return;
        }
        _ = closed.wait_for(|closed| *closed) => {}
        () = open.close.notified() => {}
    }
    served.as_mut().graceful_shutdown();
    if let Err(error) = served.await {
        tracing::debug!(%error, "connection ended while closing");
    }
}

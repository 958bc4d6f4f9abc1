//! `mcp-gateway serve`: one listener, and one single-threaded runtime per CPU ("workers").
//!
//! The acceptor hands each new connection to a worker in turn. A worker serves its connections
//! and keeps its own pool of upstream connections, so a request, its upstream exchange and its
//! response are driven by one thread from start to end: no hand-offs between threads, no
//! thread wake-ups per request (a work-stealing runtime spent a fifth of the gateway's CPU on
//! those; see docs/benchmarks.md). Everything else (keys, policy, audit, metrics, health) is
//! shared. A slow request ties up only what it waits on: workers are asynchronous like before,
//! only never moved between threads.
//!
//! A worker serves HTTP/1.1 with hyper directly. MCP requests (`/mcp/{backend}/mcp`) go
//! straight to [`crate::request::serve`]; everything else (`/healthz`, `/readyz`, `/metrics`,
//! unknown paths) through the axum router of [`crate::app`], which also routes MCP requests to
//! the same function (tests drive it with `oneshot`). The shortcut saves the router's path
//! matching, extension maps and boxed services on every proxied request. Each connection
//! carries an [`crate::auth::ConnAuth`] memo of the key it last accepted. A client has
//! [`HEADER_READ_TIMEOUT`] to send a request's headers (slow clients do not hold connections).
//!
//! On SIGTERM/SIGINT new requests get 503 (and `/readyz` 503) while the requests in flight
//! finish, for up to `limits.shutdown_grace`; then the workers stop, the audit stream is
//! flushed, and the process exits.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;
use tower::util::Oneshot;

use crate::app::{Gateway, app};
use crate::audit::AuditSink;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::Metrics;

/// How long a worker waits for its connections to close after the drain, before it stops.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long a client may take to send the headers of a request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads the config and serves until SIGTERM/SIGINT, then drains and flushes the audit stream.
pub fn run(config_path: &std::path::Path) -> Result<()> {
    let (config, report) = Config::load(config_path)?;
    for w in &report.warnings {
        tracing::warn!(config = %config_path.display(), "{w}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("mcp-gateway-main")
        .build()
        .map_err(|e| mcp_common::Error::Serve(std::io::Error::other(e)))?;
    let metrics = Metrics::new();
    let audit = AuditSink::stdout(metrics.clone());
    let result = runtime.block_on(serve(config, audit.clone(), metrics));
    audit.close();
    runtime.block_on(mcp_common::traces::shutdown_global());
    result
}

/// How many workers serve: `limits.workers`, or one per CPU this process may use (the
/// cgroup's CPU quota counts, so a pod limited to 2 CPUs gets 2).
pub fn worker_count(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

async fn serve(config: Config, audit: AuditSink, metrics: Metrics) -> Result<()> {
    let listen = config.listen;
    let workers = worker_count(config.limits.workers);
    let gw = Gateway::new(config, audit, metrics);
    let _watch = gw.keys.watch(Duration::from_secs(30))?;
    let listener = mcp_common::server::bind(listen).await?;
    serve_listener(listener, gw, workers, mcp_common::server::shutdown_signal()).await
}

/// Serves `gw` on `listener` with `workers` serving threads until `shutdown` resolves, then
/// drains (new requests get 503 while the ones in flight finish, for up to
/// `limits.shutdown_grace`) and stops the workers. `mcp-gateway serve` runs this until
/// SIGTERM; tests run it in-process, so they go through the same serving path.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    gw: Arc<Gateway>,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let grace = gw.config.limits.shutdown_grace;
    let workers = workers.max(1);
    let local = listener.local_addr().map_err(mcp_common::Error::Serve)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut pool = Vec::with_capacity(workers);
    for i in 0..workers {
        pool.push(Worker::start(i, &gw, stop_rx.clone())?);
    }
    tracing::info!(
        listen = %local,
        workers,
        backends = gw.config.backends.len(),
        roles = gw.config.roles.len(),
        keys = gw.keys.current().len(),
        "mcp-gateway serving"
    );
    let failed = {
        let mut accepting = std::pin::pin!(accept_loop(&listener, &pool));
        let signalled = tokio::select! {
            e = &mut accepting => Err(e),
            () = shutdown => Ok(()),
        };
        if signalled.is_ok() {
            // New connections are still accepted while draining: their requests get a clean
            // 503 rather than a reset.
            tokio::select! {
                e = &mut accepting => tracing::error!(error = %e, "stopped accepting while draining"),
                () = drain(&gw, grace) => {}
            }
        }
        signalled.err()
    };
    if let Some(e) = failed {
        let _ = stop_tx.send(true);
        drop(pool);
        return Err(mcp_common::Error::Serve(e).into());
    }
    drop(listener);
    let _ = stop_tx.send(true);
    for w in pool {
        w.join().await;
    }
    Ok(())
}

/// Answers new requests 503 while the requests in flight finish, for up to `grace`.
async fn drain(gw: &Gateway, grace: Duration) {
    gw.health.start_shutdown();
    let started = tokio::time::Instant::now();
    tracing::info!(
        in_flight = gw.metrics.in_flight.get(),
        grace_s = grace.as_secs_f64(),
        "draining: new requests get 503"
    );
    while gw.metrics.in_flight.get() > 0 && started.elapsed() < grace {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let left = gw.metrics.in_flight.get();
    if left > 0 {
        tracing::warn!(in_flight = left, "grace period over; closing open streams");
    } else {
        tracing::info!(drained_ms = started.elapsed().as_millis() as u64, "drained");
    }
}

/// Accepts connections and deals them to the workers in turn. Returns only when a worker is
/// gone (it cannot serve any more: the process should stop rather than limp on).
async fn accept_loop(listener: &tokio::net::TcpListener, pool: &[Worker]) -> std::io::Error {
    let mut next = 0usize;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                accept_error(e).await;
                continue;
            }
        };
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "dropping a connection that could not be handed over");
                continue;
            }
        };
        let worker = &pool[next % pool.len()];
        next = next.wrapping_add(1);
        if worker.conns.send((stream, peer)).is_err() {
            return std::io::Error::other(format!("worker {} stopped", worker.index));
        }
    }
}

/// Connection errors (the client gave up while queued) are routine; anything else (out of file
/// descriptors...) is logged and waited out briefly, so a full table does not spin the CPU.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One serving thread: a current-thread runtime serving the connections it is given.
struct Worker {
    index: usize,
    conns: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    fn start(index: usize, gw: &Gateway, mut stop: watch::Receiver<bool>) -> Result<Self> {
        let (conns, mut rx) = mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr)>();
        let gw = gw.for_worker();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| mcp_common::Error::Serve(std::io::Error::other(e)))?;
        let thread = std::thread::Builder::new()
            .name(format!("mcp-gateway-w{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    // A timer always due within a second: a request's first-byte timeout
                    // (minutes away) then never becomes the earliest deadline on this thread,
                    // which would make tokio wake its own driver (an eventfd write and an
                    // extra epoll round) on every request. It also closes idle upstream
                    // connections.
                    let sweeper = gw.clone();
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_secs(1));
                        loop {
                            tick.tick().await;
                            sweeper.upstream.sweep();
                        }
                    });
                    let router = app(gw.clone());
                    let mut http = hyper::server::conn::http1::Builder::new();
                    http.timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .keep_alive(true);
                    let graceful = GracefulShutdown::new();
                    loop {
                        let (stream, peer) = tokio::select! {
                            c = rx.recv() => match c {
                                Some(c) => c,
                                // The acceptor is gone: nothing more comes.
                                None => break,
                            },
                            _ = stop.wait_for(|s| *s) => break,
                        };
                        let tcp = match TcpStream::from_std(stream) {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::warn!(peer = %peer, error = %e, "dropping a connection the worker could not register");
                                continue;
                            }
                        };
                        let _ = tcp.set_nodelay(true);
                        let (gw, router) = (gw.clone(), router.clone());
                        let auth = Arc::new(crate::auth::ConnAuth::default());
                        let svc = hyper::service::service_fn(move |req| {
                            route(req, &gw, &router, peer, &auth)
                        });
                        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), svc));
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(peer = %peer, error = %e, "client connection ended");
                            }
                        });
                    }
                    let _ = stop.wait_for(|s| *s).await;
                    // Idle keep-alive connections close at once; stragglers get a moment.
                    let _ = tokio::time::timeout(CLOSE_WAIT, graceful.shutdown()).await;
                });
            })
            .map_err(|e| mcp_common::Error::Serve(std::io::Error::other(e)))?;
        Ok(Self {
            index,
            conns,
            thread,
        })
    }

    /// Waits (without blocking the caller's runtime) until the worker's thread ended.
    async fn join(self) {
        let Self { conns, thread, .. } = self;
        drop(conns);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// One request of a client connection: MCP requests straight to [`crate::request::serve`],
/// the rest through the router. The future is not boxed: hyper keeps one slot per connection
/// for the request in flight, so a request allocates nothing for it (the boxed future was
/// 2.7 KB, beyond glibc's per-thread cache; see docs/benchmarks.md). `auth` is the
/// connection's memo of the key it last accepted.
fn route(
    req: http::Request<Incoming>,
    gw: &Arc<Gateway>,
    router: &Router,
    peer: SocketAddr,
    auth: &Arc<crate::auth::ConnAuth>,
) -> Either<impl Future<Output = ServeResult> + Send + use<>, Oneshot<Router, http::Request<Body>>>
{
    let mut req = req.map(Body::new);
    if crate::request::is_mcp_route(req.uri().path()) {
        let (gw, auth) = (gw.clone(), auth.clone());
        Either::Left(
            async move { Ok(crate::request::serve(gw, req, Some(peer), Some(auth)).await) },
        )
    } else {
        req.extensions_mut().insert(ConnectInfo(peer));
        Either::Right(router.clone().oneshot(req))
    }
}

type ServeResult = std::result::Result<Response, Infallible>;

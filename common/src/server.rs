//! Serving an rmcp handler over stateless streamable HTTP, with the endpoints every backend
//! shares: `/mcp`, `/healthz`, `/readyz`, `/metrics`; and graceful shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::args::ServerArgs;
use crate::error::{Error, Result};
use crate::metrics::{self, HttpLabels, ServerMetrics};
use crate::output::Limits;
use crate::tool::ToolContext;

type ReadyFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The name of the serving threads when there is more than one (`--threads` 0 or > 1), as
/// `top -H` and `/proc/PID/task/*/comm` show them. With one thread the main thread serves.
pub const WORKER_THREAD_NAME: &str = "mcp-worker";

/// Everything a backend binary's `main` does after parsing its arguments: telemetry, the
/// runtime (`threads` as in [`ServerArgs::threads`]: 1 a single-threaded runtime, 0 one worker
/// per CPU), and the exit code (1 with `<name>: <error>` on stderr when `run` fails).
pub fn main<F, E>(name: &str, threads: usize, run: F) -> std::process::ExitCode
where
    F: Future<Output = std::result::Result<(), E>>,
    E: std::fmt::Display,
{
    crate::telemetry::init();
    let runtime = match threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 1 {
                b.worker_threads(n);
            }
            b.thread_name(WORKER_THREAD_NAME).enable_all().build()
        }
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A backend's readiness check: can it reach its upstream? `/readyz` runs it (with a timeout)
/// on every probe.
#[derive(Clone)]
pub struct Readiness(Arc<dyn Fn() -> ReadyFuture + Send + Sync>);

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readiness(..)")
    }
}

impl Readiness {
    /// Ready as soon as the process serves.
    pub fn always() -> Self {
        Self::new(|| async { Ok(()) })
    }

    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(check())))
    }

    pub async fn check(&self) -> Result<(), String> {
        (self.0)().await
    }
}

/// How long `/readyz` waits for a backend's check before answering "not ready".
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// Shared state of the health endpoints.
#[derive(Debug, Clone)]
pub struct Health {
    readiness: Readiness,
    shutting_down: Arc<AtomicBool>,
}

impl Health {
    pub fn new(readiness: Readiness) -> Self {
        Self {
            readiness,
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// From now on `/readyz` answers 503 so load balancers stop sending traffic.
    pub fn start_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// `/healthz`: the process is alive and serving.
pub async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

/// `/readyz`: the process can do useful work (its upstream answers) and is not shutting down.
pub async fn readyz(State(health): State<Health>) -> Response {
    let verdict = if health.is_shutting_down() {
        Err("shutting down".to_owned())
    } else {
        match tokio::time::timeout(READY_TIMEOUT, health.readiness.check()).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "readiness check did not answer within {}s",
                READY_TIMEOUT.as_secs()
            )),
        }
    };
    match verdict {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "not_ready", "reason": reason})),
            )
                .into_response()
        }
    }
}

/// A backend server: the shared contract around one rmcp handler.
#[derive(Debug, Clone)]
pub struct BackendServer {
    pub name: &'static str,
    pub args: ServerArgs,
    pub metrics: ServerMetrics,
    pub health: Health,
    pub shutdown: CancellationToken,
}

impl BackendServer {
    pub fn new(name: &'static str, args: ServerArgs) -> Self {
        let metrics = ServerMetrics::new(name, &args.environment, args.access.as_str());
        Self {
            name,
            args,
            metrics,
            health: Health::new(Readiness::always()),
            shutdown: CancellationToken::new(),
        }
    }

    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.health = Health::new(readiness);
        self
    }

    /// The context the backend's tools share.
    pub fn tool_context(&self) -> ToolContext {
        ToolContext {
            backend: self.name,
            environment: self.args.environment.clone(),
            access: self.args.access,
            limits: Limits {
                max_output_bytes: self.args.max_output_bytes,
            },
            metrics: self.metrics.clone(),
        }
    }

    /// The whole HTTP service. `handler` is cloned for every request (stateless mode), so keep
    /// its expensive parts (tool router, clients, pools) behind `Arc`s.
    pub fn app<H>(&self, handler: H) -> Router
    where
        H: ServerHandler + Clone + Send + Sync + 'static,
    {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_allowed_hosts(self.args.host_allow_list())
            .with_cancellation_token(self.shutdown.child_token());
        let mcp: StreamableHttpService<H, LocalSessionManager> = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let mut mcp = Router::new().nest_service("/mcp", mcp);
        // Traces off: no layer at all.
        if let Some(traces) = crate::traces::global() {
            let info = crate::traces::BackendSpanInfo {
                traces: traces.clone(),
                backend: self.name,
                access: self.args.access.as_str(),
                environment: self.args.environment.clone(),
            };
            mcp = mcp.layer(middleware::from_fn_with_state(
                Arc::new(info),
                crate::traces::backend_request,
            ));
        }
        let mcp = mcp.layer(middleware::from_fn_with_state(
            self.metrics.clone(),
            count_http,
        ));
        let metrics = self.metrics.clone();
        Router::new()
            .merge(mcp)
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz).with_state(self.health.clone()))
            .route(
                "/metrics",
                get(move || {
                    let metrics = metrics.clone();
                    async move {
                        (
                            [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
                            metrics.render(),
                        )
                    }
                }),
            )
    }

    /// Binds `--listen` and serves until SIGTERM/SIGINT, then drains (see [`serve_router`]).
    pub async fn serve<H>(self, handler: H) -> Result<()>
    where
        H: ServerHandler + Clone + Send + Sync + 'static,
    {
        let router = self.app(handler);
        let listener = bind(self.args.listen).await?;
        tracing::info!(
            backend = self.name,
            env = %self.args.environment,
            access = %self.args.access,
            listen = %self.args.listen,
            allowed_hosts = ?self.args.host_allow_list(),
            "serving MCP"
        );
        let health = self.health.clone();
        let served = serve_router(
            listener,
            router,
            self.args.shutdown_grace,
            shutdown_signal(),
            move || health.start_shutdown(),
            self.shutdown,
        )
        .await;
        crate::traces::shutdown_global().await;
        served
    }
}

async fn count_http(State(metrics): State<ServerMetrics>, req: Request, next: Next) -> Response {
    metrics.http_in_flight.inc();
    let response = next.run(req).await;
    metrics.http_in_flight.dec();
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Binds a TCP listener with a clear error.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// Serves `router` until `signal` resolves; then stops accepting connections, lets in-flight
/// requests finish for up to `grace`, and finally cancels `cancel` (ending streams that are still
/// open) and returns.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    grace: Duration,
    signal: impl Future<Output = ()> + Send + 'static,
    on_signal: impl FnOnce() + Send + 'static,
    cancel: CancellationToken,
) -> Result<()> {
    let draining = CancellationToken::new();
    let server = {
        let draining = draining.clone();
        axum::serve(listener, router).with_graceful_shutdown(async move {
            signal.await;
            on_signal();
            draining.cancel();
        })
    };
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => return r.map_err(Error::Serve),
        () = draining.cancelled() => {}
    }
    let started = Instant::now();
    tracing::info!(grace_s = grace.as_secs_f64(), "draining in-flight requests");
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => {
            tracing::info!(
                drained_ms = started.elapsed().as_millis() as u64,
                "drained, exiting"
            );
            cancel.cancel();
            r.map_err(Error::Serve)
        }
        Err(_) => {
            tracing::warn!("grace period over, cancelling open requests");
            cancel.cancel();
            Ok(())
        }
    }
}

//! The gateway service: state and routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use mcp_common::server::{Health, Readiness, healthz, readyz};

use crate::audit::AuditSink;
use crate::config::Config;
use crate::keys::KeyStore;
use crate::metrics::{BackendSeries, Metrics};
use crate::request;
use crate::upstream::Upstreams;

/// Everything a request needs, shared by all of them.
#[derive(Debug)]
pub struct Gateway {
    pub config: Arc<Config>,
    pub keys: KeyStore,
    /// Connections to the backends; each serving thread has its own ([`Gateway::for_worker`]).
    pub upstream: Upstreams,
    pub audit: AuditSink,
    pub metrics: Metrics,
    /// Each backend's request series, by [`crate::config::Backend::index`].
    pub series: Arc<[Arc<BackendSeries>]>,
    /// The series of requests for backends that are not configured.
    pub unknown_series: Arc<BackendSeries>,
    pub health: Health,
    /// OpenTelemetry traces; `None` when off (no OTLP endpoint configured).
    pub traces: Option<mcp_common::traces::Traces>,
}

impl Gateway {
    /// Builds the gateway and loads the keys file once (see [`KeyStore::open`]). Traces follow
    /// the process environment ([`mcp_common::traces::global`]).
    pub fn new(config: Config, audit: AuditSink, metrics: Metrics) -> Arc<Self> {
        Self::with_traces(
            config,
            audit,
            metrics,
            mcp_common::traces::global().cloned(),
        )
    }

    /// Like [`Gateway::new`], with an explicit trace pipeline (or none).
    pub fn with_traces(
        config: Config,
        audit: AuditSink,
        metrics: Metrics,
        traces: Option<mcp_common::traces::Traces>,
    ) -> Arc<Self> {
        let keys = KeyStore::open(&config.keys_file, metrics.clone());
        let ready_keys = keys.clone();
        let readiness = Readiness::new(move || {
            let keys = ready_keys.clone();
            async move {
                if keys.current().is_empty() {
                    Err(format!("no keys loaded from {}", keys.path().display()))
                } else {
                    Ok(())
                }
            }
        });
        let series = config
            .backends
            .keys()
            .map(|name| metrics.backend_series(Some(name)))
            .collect();
        Arc::new(Self {
            upstream: Upstreams::new(config.backends.values(), config.limits.connect_timeout),
            config: Arc::new(config),
            keys,
            audit,
            series,
            unknown_series: metrics.backend_series(None),
            metrics,
            health: Health::new(readiness),
            traces,
        })
    }
}

impl Gateway {
    /// A copy for one serving thread ([`crate::server`]): its own upstream connection pool,
    /// everything else (config, keys, audit, metrics, health, traces) shared.
    pub fn for_worker(&self) -> Arc<Self> {
        Arc::new(Self {
            config: self.config.clone(),
            keys: self.keys.clone(),
            upstream: Upstreams::new(
                self.config.backends.values(),
                self.config.limits.connect_timeout,
            ),
            audit: self.audit.clone(),
            metrics: self.metrics.clone(),
            series: self.series.clone(),
            unknown_series: self.unknown_series.clone(),
            health: self.health.clone(),
            traces: self.traces.clone(),
        })
    }
}

/// The HTTP service: `/mcp/{backend}/mcp`, `/healthz`, `/readyz`, `/metrics`.
pub fn app(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/mcp/{backend}/mcp", any(request::handle))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(gw.health.clone()))
        .route("/metrics", get(metrics))
        .fallback(request::unknown_route)
        .with_state(gw)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, mcp_common::metrics::CONTENT_TYPE)],
        gw.metrics.render(),
    )
}

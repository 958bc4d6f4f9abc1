//! Prometheus metrics shared by every backend, rendered in the text format at `/metrics`.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolNameLabels {
    pub tool: &'static str,
}

/// The metrics of one backend process. Cloning shares the same series.
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    registry: Arc<Mutex<Registry>>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_in_flight: Gauge,
    pub tool_calls: Family<ToolLabels, Counter>,
    pub tool_duration: Family<ToolNameLabels, Histogram>,
}

/// Latency buckets from 1 ms to ~65 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl ServerMetrics {
    pub fn new(backend: &str, environment: &str, access: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "mcp_server",
            [
                ("backend".into(), backend.to_owned().into()),
                ("env".into(), environment.to_owned().into()),
                ("access".into(), access.to_owned().into()),
            ]
            .into_iter(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_in_flight = Gauge::default();
        let tool_calls = Family::<ToolLabels, Counter>::default();
        let tool_duration = Family::<ToolNameLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests to /mcp by status",
            http_requests.clone(),
        );
        registry.register(
            "http_in_flight",
            "HTTP requests to /mcp in flight",
            http_in_flight.clone(),
        );
        registry.register(
            "tool_calls",
            "Tool calls by tool and outcome (ok, tool_error)",
            tool_calls.clone(),
        );
        registry.register(
            "tool_duration_seconds",
            "Tool call duration",
            tool_duration.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            http_requests,
            http_in_flight,
            tool_calls,
            tool_duration,
        }
    }

    /// Lets a backend register metrics of its own (upstream errors, cache hits, ...).
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut registry)
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

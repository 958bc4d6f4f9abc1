//! The gateway's Prometheus metrics.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use mcp_common::metrics::latency_histogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub backend: String,
    /// `mcp_tool_call` or `mcp_request`.
    pub kind: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub backend: String,
    pub tool: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    pub backend: String,
    /// `connect`, `timeout`, `stream`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    pub key_id: String,
    pub role: String,
}

/// Distinct tool label values kept per process; further names are counted as `_other` so an
/// agent calling made-up tool names cannot grow the series without bound.
const MAX_TOOL_LABELS: usize = 1024;

/// The tool names with a label of their own (read on every call, written once per new name).
#[derive(Debug, Default)]
struct ToolNames {
    by_backend: HashMap<String, HashSet<String>>,
    count: usize,
}

/// All gateway metrics. Cloning shares the series.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    pub requests: Family<RequestLabels, Counter>,
    pub tool_calls: Family<ToolLabels, Counter>,
    pub duration: Family<BackendLabels, Histogram>,
    pub in_flight: Gauge,
    pub keys_loaded: Gauge,
    pub key_reloads: Counter,
    pub key_reload_errors: Counter,
    pub key_requests: Family<KeyLabels, Counter>,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub audit_lines: Counter,
    pub audit_write_errors: Counter,
    pub client_disconnects: Family<BackendLabels, Counter>,
    /// backend -> tool names given their own label so far (at most [`MAX_TOOL_LABELS`] in all).
    tool_names: Arc<RwLock<ToolNames>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("mcp_gateway");
        let m = Self {
            registry: Arc::default(),
            requests: Family::default(),
            tool_calls: Family::default(),
            duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            in_flight: Gauge::default(),
            keys_loaded: Gauge::default(),
            key_reloads: Counter::default(),
            key_reload_errors: Counter::default(),
            key_requests: Family::default(),
            upstream_errors: Family::default(),
            audit_lines: Counter::default(),
            audit_write_errors: Counter::default(),
            client_disconnects: Family::default(),
            tool_names: Arc::default(),
        };
        r.register(
            "requests",
            "MCP requests by backend, kind and outcome",
            m.requests.clone(),
        );
        r.register(
            "tool_calls",
            "tools/call requests by backend, tool and outcome",
            m.tool_calls.clone(),
        );
        r.register(
            "request_duration_seconds",
            "MCP request duration to the end of the response stream",
            m.duration.clone(),
        );
        r.register(
            "in_flight_requests",
            "MCP requests in flight",
            m.in_flight.clone(),
        );
        r.register(
            "keys_loaded",
            "Keys in the current key set",
            m.keys_loaded.clone(),
        );
        r.register(
            "key_reloads",
            "Successful key file reloads",
            m.key_reloads.clone(),
        );
        r.register(
            "key_reload_errors",
            "Key file reloads rejected (last good set kept)",
            m.key_reload_errors.clone(),
        );
        r.register(
            "key_requests",
            "Authenticated requests by key id",
            m.key_requests.clone(),
        );
        r.register(
            "upstream_errors",
            "Failures reaching a backend, by kind",
            m.upstream_errors.clone(),
        );
        r.register("audit_lines", "Audit lines written", m.audit_lines.clone());
        r.register(
            "client_disconnects",
            "Requests whose client went away before the response ended",
            m.client_disconnects.clone(),
        );
        r.register(
            "audit_write_errors",
            "Audit lines that could not be written to stdout (they go to stderr)",
            m.audit_write_errors.clone(),
        );
        *m.registry.lock().unwrap_or_else(|p| p.into_inner()) = r;
        m
    }

    /// Keeps one `key_requests_total` series per loaded key, starting at 0, so keys nobody
    /// uses show up as 0 before they are revoked; series of keys that left the file go away.
    pub fn sync_key_series(&self, old: &crate::keys::KeySet, new: &crate::keys::KeySet) {
        let labels = |id: &crate::keys::Identity| KeyLabels {
            key_id: id.key_id.to_string(),
            role: id.role.to_string(),
        };
        let keep: HashSet<KeyLabels> = new.identities().map(|id| labels(id)).collect();
        for id in old.identities() {
            let l = labels(id);
            if !keep.contains(&l) {
                self.key_requests.remove(&l);
            }
        }
        for l in &keep {
            let _ = self.key_requests.get_or_create(l);
        }
    }

    /// The tool label for a call: the name itself while the set of names seen stays small.
    pub fn tool_label(&self, backend: &str, tool: &str) -> String {
        let known = |t: &ToolNames| t.by_backend.get(backend).is_some_and(|s| s.contains(tool));
        if known(&self.tool_names.read().unwrap_or_else(|p| p.into_inner())) {
            return tool.to_owned();
        }
        let mut names = self.tool_names.write().unwrap_or_else(|p| p.into_inner());
        if known(&names) {
            return tool.to_owned();
        }
        if names.count < MAX_TOOL_LABELS {
            names.count += 1;
            names
                .by_backend
                .entry(backend.to_owned())
                .or_default()
                .insert(tool.to_owned());
            return tool.to_owned();
        }
        OTHER_TOOL.to_owned()
    }

    /// The per-request series of one backend (`None`: a name that is not a configured
    /// backend, counted as `_unknown`), resolved on first use and then updated without label
    /// lookups.
    pub fn backend_series(&self, backend: Option<&str>) -> Arc<BackendSeries> {
        Arc::new(BackendSeries {
            metrics: self.clone(),
            backend: backend.unwrap_or(UNKNOWN_BACKEND).to_owned(),
            requests: Default::default(),
            duration: OnceLock::new(),
            disconnects: OnceLock::new(),
            tools: RwLock::default(),
            other_tool: ToolSeries::new(OTHER_TOOL),
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The backend label of requests for a backend that is not configured.
pub const UNKNOWN_BACKEND: &str = "_unknown";
/// The tool label once [`MAX_TOOL_LABELS`] names have their own.
const OTHER_TOOL: &str = "_other";

/// The outcomes, in the order of [`BackendSeries`]' slots.
const OUTCOMES: [&str; 5] = [
    crate::audit::outcome::OK,
    crate::audit::outcome::TOOL_ERROR,
    crate::audit::outcome::DENIED,
    crate::audit::outcome::UNAUTHENTICATED,
    crate::audit::outcome::UPSTREAM_ERROR,
];

fn outcome_slot(outcome: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0)
}

/// The series one backend's requests update, each looked up in its family once (on first
/// use, so series nobody used are not exposed) and then held: a request updates counters
/// instead of hashing label sets and cloning label strings.
#[derive(Debug)]
pub struct BackendSeries {
    metrics: Metrics,
    backend: String,
    /// `requests_total` by kind (tool call, other) and outcome.
    requests: [[OnceLock<Counter>; OUTCOMES.len()]; 2],
    duration: OnceLock<Histogram>,
    disconnects: OnceLock<Counter>,
    /// Tool name -> its series, for the names given a label of their own.
    tools: RwLock<HashMap<String, Arc<ToolSeries>>>,
    other_tool: Arc<ToolSeries>,
}

/// `tool_calls_total` of one tool label, by outcome.
#[derive(Debug)]
pub struct ToolSeries {
    pub label: String,
    calls: [OnceLock<Counter>; OUTCOMES.len()],
}

impl ToolSeries {
    fn new(label: &str) -> Arc<Self> {
        Arc::new(Self {
            label: label.to_owned(),
            calls: Default::default(),
        })
    }
}

impl BackendSeries {
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Counts a finished request.
    pub fn request(&self, kind: &'static str, outcome: &'static str) {
        let k = usize::from(kind == crate::audit::KIND_TOOL_CALL);
        self.requests[k][outcome_slot(outcome)]
            .get_or_init(|| {
                self.metrics
                    .requests
                    .get_or_create(&RequestLabels {
                        backend: self.backend.clone(),
                        kind,
                        outcome: OUTCOMES[outcome_slot(outcome)],
                    })
                    .clone()
            })
            .inc();
    }

    pub fn observe_duration(&self, seconds: f64) {
        self.duration
            .get_or_init(|| {
                self.metrics
                    .duration
                    .get_or_create(&BackendLabels {
                        backend: self.backend.clone(),
                    })
                    .clone()
            })
            .observe(seconds);
    }

    pub fn client_disconnect(&self) {
        self.disconnects
            .get_or_init(|| {
                self.metrics
                    .client_disconnects
                    .get_or_create(&BackendLabels {
                        backend: self.backend.clone(),
                    })
                    .clone()
            })
            .inc();
    }

    /// The series of `tool` (its own label while fewer than [`MAX_TOOL_LABELS`] names have
    /// one, else `_other`).
    pub fn tool(&self, tool: &str) -> Arc<ToolSeries> {
        if let Some(t) = self
            .tools
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tool)
        {
            return t.clone();
        }
        let label = self.metrics.tool_label(&self.backend, tool);
        if label == OTHER_TOOL {
            return self.other_tool.clone();
        }
        self.tools
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tool.to_owned())
            .or_insert_with(|| ToolSeries::new(&label))
            .clone()
    }

    /// Counts a finished call of the tool `t`.
    pub fn tool_call(&self, t: &ToolSeries, outcome: &'static str) {
        t.calls[outcome_slot(outcome)]
            .get_or_init(|| {
                self.metrics
                    .tool_calls
                    .get_or_create(&ToolLabels {
                        backend: self.backend.clone(),
                        tool: t.label.clone(),
                        outcome: OUTCOMES[outcome_slot(outcome)],
                    })
                    .clone()
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_series_count_like_the_families() {
        let m = Metrics::new();
        let s = m.backend_series(Some("eks-ro"));
        s.request(crate::audit::KIND_TOOL_CALL, "ok");
        s.request(crate::audit::KIND_TOOL_CALL, "ok");
        s.request(crate::audit::KIND_REQUEST, "denied");
        let t = s.tool("eks_get_pods");
        s.tool_call(&t, "tool_error");
        s.observe_duration(0.25);
        s.client_disconnect();
        m.backend_series(None)
            .request(crate::audit::KIND_REQUEST, "unauthenticated");
        let text = m.render();
        for line in [
            r#"mcp_gateway_requests_total{backend="eks-ro",kind="mcp_tool_call",outcome="ok"} 2"#,
            r#"mcp_gateway_requests_total{backend="eks-ro",kind="mcp_request",outcome="denied"} 1"#,
            r#"mcp_gateway_requests_total{backend="_unknown",kind="mcp_request",outcome="unauthenticated"} 1"#,
            r#"mcp_gateway_tool_calls_total{backend="eks-ro",tool="eks_get_pods",outcome="tool_error"} 1"#,
            r#"mcp_gateway_request_duration_seconds_count{backend="eks-ro"} 1"#,
            r#"mcp_gateway_client_disconnects_total{backend="eks-ro"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // Series nobody used are not exposed.
        assert!(!text.contains(r#"outcome="upstream_error""#), "{text}");
    }

    #[test]
    fn tool_labels_stay_bounded_through_the_series_cache() {
        let m = Metrics::new();
        let s = m.backend_series(Some("eks-ro"));
        for i in 0..MAX_TOOL_LABELS + 50 {
            let t = s.tool(&format!("made_up_{i}"));
            s.tool_call(&t, "tool_error");
        }
        assert!(s.tools.read().unwrap().len() <= MAX_TOOL_LABELS);
        assert!(
            m.render()
                .contains(r#"tool="_other",outcome="tool_error"} 50"#)
        );
    }

    /// Every `mcp_gateway_*` name in the committed Grafana dashboard is a series this registry
    /// exposes (a counter as `_total`, a histogram as `_bucket` / `_sum` / `_count`).
    #[test]
    fn the_grafana_dashboard_uses_real_metric_names() {
        let m = Metrics::new();
        // Families without a series are not rendered: give each one a series.
        let backend = || "eks-ro".to_owned();
        m.requests
            .get_or_create(&RequestLabels {
                backend: backend(),
                kind: "mcp_tool_call",
                outcome: "ok",
            })
            .inc();
        m.tool_calls
            .get_or_create(&ToolLabels {
                backend: backend(),
                tool: "eks_get_pods".into(),
                outcome: "ok",
            })
            .inc();
        m.duration
            .get_or_create(&BackendLabels { backend: backend() })
            .observe(0.1);
        m.key_requests
            .get_or_create(&KeyLabels {
                key_id: "3f9a12bc".into(),
                role: "dev-readonly".into(),
            })
            .inc();
        m.upstream_errors
            .get_or_create(&UpstreamErrorLabels {
                backend: backend(),
                kind: "connect",
            })
            .inc();
        m.client_disconnects
            .get_or_create(&BackendLabels { backend: backend() })
            .inc();
        let text = m.render();
        let mut exposed = HashSet::new();
        for line in text.lines() {
            let mut words = line.strip_prefix("# TYPE ").unwrap_or_default().split(' ');
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            exposed.insert(name.to_owned());
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[],
            };
            exposed.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        }
        let dashboard = include_str!("../../docs/grafana/mcp-gateway.json");
        let json: serde_json::Value = serde_json::from_str(dashboard).expect("dashboard is JSON");
        assert_eq!(json["uid"], "mcp-gateway");
        let mut used = 0;
        for (i, _) in dashboard.match_indices("mcp_gateway_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            assert!(
                exposed.contains(&name),
                "docs/grafana/mcp-gateway.json uses `{name}`, which the gateway does not expose"
            );
            used += 1;
        }
        assert!(used > 10, "the dashboard queries the gateway's metrics");
    }
}

//! The tool router: every tool is read-only. Each tool names the permission it needs upstream
//! (`PERMISSION_*`: the Amazon Managed Prometheus IAM action; plain Prometheus has none, a
//! proxy in front of it may have its own).

use std::collections::HashMap;
use std::sync::Arc;

use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use prometheus_http_query::response::{Alert, MetricMetadata, PromqlResult, Targets};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::catalog::{self, MetadataList, Names, SeriesList};
use crate::query::{self, Caps, QueryResult};
use crate::status::{self, AlertsList, RuleGroups, RulesList, TargetsSummary};
use crate::timeparse::{self, format_duration};
use crate::upstream::Upstream;

const PERMISSION_QUERY: &str =
    "aps:QueryMetrics (Amazon Managed Prometheus) or query access to Prometheus";
const PERMISSION_SERIES: &str =
    "aps:GetSeries (Amazon Managed Prometheus) or read access to Prometheus";
const PERMISSION_LABELS: &str =
    "aps:GetLabels (Amazon Managed Prometheus) or read access to Prometheus";
const PERMISSION_METADATA: &str =
    "aps:GetMetricMetadata (Amazon Managed Prometheus) or read access to Prometheus";
const PERMISSION_RULES: &str =
    "aps:ListRules (Amazon Managed Prometheus) or read access to Prometheus";
const PERMISSION_ALERTS: &str =
    "aps:ListAlerts (Amazon Managed Prometheus) or read access to Prometheus";
const PERMISSION_TARGETS: &str =
    "read access to Prometheus's targets API (Amazon Managed Prometheus has none)";

/// Default window of the discovery tools (series, label names and values).
const DEFAULT_LOOKBACK: &str = "now-1h";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// PromQL expression, e.g. `container_memory_usage_bytes{pod=~"payment-service.*"}`.
    pub query: String,
    /// Evaluation time: `now` (default), `now-1h`, RFC 3339 or Unix seconds.
    #[serde(default)]
    pub time: Option<String>,
    /// Most series to return (capped by the server's maximum).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryRangeArgs {
    /// PromQL expression.
    pub query: String,
    /// Range start: `now-1h` (default), RFC 3339 or Unix seconds.
    #[serde(default)]
    pub start: Option<String>,
    /// Range end: `now` (default), RFC 3339 or Unix seconds.
    #[serde(default)]
    pub end: Option<String>,
    /// Resolution: `30s`, `5m`, `1h` or seconds. Default: about 120 points. A step that would
    /// give more points per series than the server's cap is widened (see `notes`).
    #[serde(default)]
    pub step: Option<String>,
    /// Refuse a step over the points cap instead of widening it.
    #[serde(default)]
    pub strict_step: bool,
    /// Most series to return (capped by the server's maximum).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SeriesArgs {
    /// Series selectors (Prometheus's `match[]`), e.g. `["up{job=\"api\"}"]`; at least one.
    #[serde(rename = "match")]
    pub matchers: Vec<String>,
    /// Default `now-1h`.
    #[serde(default)]
    pub start: Option<String>,
    /// Default `now`.
    #[serde(default)]
    pub end: Option<String>,
    /// Most series to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelNamesArgs {
    /// Only labels of series matching these selectors.
    #[serde(default, rename = "match")]
    pub matchers: Vec<String>,
    /// Default `now-1h`.
    #[serde(default)]
    pub start: Option<String>,
    /// Default `now`.
    #[serde(default)]
    pub end: Option<String>,
    /// Most names to return (default 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelValuesArgs {
    /// Label name, e.g. `pod`, `job`, or `__name__` for metric names.
    pub label: String,
    /// Only values on series matching these selectors, e.g. `["container_memory_usage_bytes"]`.
    #[serde(default, rename = "match")]
    pub matchers: Vec<String>,
    /// Default `now-1h`.
    #[serde(default)]
    pub start: Option<String>,
    /// Default `now`.
    #[serde(default)]
    pub end: Option<String>,
    /// Most values to return (default 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetadataArgs {
    /// Only this metric (exact name); default all.
    #[serde(default)]
    pub metric: Option<String>,
    /// Most metrics to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TargetsArgs {
    /// Only this job.
    #[serde(default)]
    pub job: Option<String>,
    /// Only targets in this health: `up`, `down` or `unknown`.
    #[serde(default)]
    pub health: Option<String>,
    /// Most targets to list (default 100; the per-job counts cover all).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AlertsArgs {
    /// Only `firing` or `pending` alerts; default both.
    #[serde(default)]
    pub state: Option<String>,
    /// Most alerts to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RulesArgs {
    /// Only `alert` (alerting) or `record` (recording) rules.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Only this rule group.
    #[serde(default)]
    pub group: Option<String>,
    /// Most rules to return (default 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The Prometheus backend. Cloned per request; the client and router are shared.
#[derive(Debug, Clone)]
pub struct Prometheus {
    ctx: ToolContext,
    upstream: Upstream,
    caps: Caps,
    tool_router: Arc<ToolRouter<Self>>,
}

fn arg_time(name: &str, value: Option<&str>, default: &str, now: f64) -> Result<f64, ToolError> {
    timeparse::parse_time(value.unwrap_or(default), now)
        .map_err(|e| ToolError::invalid_argument(name, e))
}

fn ts(t: f64) -> String {
    format!("{t:.3}")
}

fn one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ToolError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ToolError::invalid_argument(
            name,
            format!("`{v}`: use one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

impl Prometheus {
    pub fn new(ctx: ToolContext, upstream: Upstream, caps: Caps) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            upstream,
            caps,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }

    fn series_limit(&self, asked: Option<usize>) -> usize {
        asked
            .unwrap_or(self.caps.max_series)
            .clamp(1, self.caps.max_series)
    }

    /// The common `start`/`end`/`match[]` parameters of the discovery endpoints.
    fn window(
        &self,
        matchers: &[String],
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, ToolError> {
        let now = timeparse::now();
        let start = arg_time("start", start, DEFAULT_LOOKBACK, now)?;
        let end = arg_time("end", end, "now", now)?;
        if end < start {
            return Err(ToolError::invalid_argument("end", "end is before start"));
        }
        let mut params = vec![("start", ts(start)), ("end", ts(end))];
        for m in matchers {
            if m.trim().is_empty() {
                return Err(ToolError::invalid_argument("match", "empty selector"));
            }
            params.push(("match[]", m.clone()));
        }
        Ok(params)
    }
}

fn borrowed<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tool_router(router = read_tools)]
impl Prometheus {
    #[tool(
        description = "Evaluate a PromQL expression at one instant (default now), e.g. `container_memory_usage_bytes{pod=~\"payment-service.*\"}`. Returns each series' labels and value as numbers, bounded (series cap, `truncated`). An empty result says so and suggests existing metric names or label values close to the ones in the query. Bad PromQL returns Prometheus's own error. Needs aps:QueryMetrics on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_query(
        &self,
        Parameters(a): Parameters<QueryArgs>,
    ) -> Result<Json<QueryResult>, ToolError> {
        self.ctx
            .run("prometheus_query", async {
                if a.query.trim().is_empty() {
                    return Err(ToolError::invalid_argument(
                        "query",
                        "empty PromQL expression",
                    ));
                }
                let now = timeparse::now();
                let time = arg_time("time", a.time.as_deref(), "now", now)?;
                let time_s = ts(time);
                let timeout = self.upstream.query_timeout();
                let answer = self
                    .upstream
                    .get::<PromqlResult>(
                        "api/v1/query",
                        &[
                            ("query", &a.query),
                            ("time", &time_s),
                            ("timeout", &timeout),
                        ],
                    )
                    .await
                    .map_err(|e| e.into_tool_error("instant query", PERMISSION_QUERY))?;
                let mut out = query::shape(
                    &a.query,
                    answer.data,
                    answer.warnings,
                    self.series_limit(a.limit),
                    self.caps.max_points,
                    self.max_bytes(),
                );
                if out.result_type != "scalar" {
                    out.time = Some(time);
                }
                if out.empty {
                    query::explain_empty(&self.upstream, &a.query, &mut out).await;
                }
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "Evaluate a PromQL expression over a time range (start default now-1h, end default now, step default ~120 points). Returns series with [unix_seconds, value] points, bounded: a step that would exceed the points-per-series cap is widened (or refused with strict_step), series beyond the cap are cut (`truncated`); `notes` says which. Empty results suggest near metric names. Needs aps:QueryMetrics on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_query_range(
        &self,
        Parameters(a): Parameters<QueryRangeArgs>,
    ) -> Result<Json<QueryResult>, ToolError> {
        self.ctx
            .run("prometheus_query_range", async {
                if a.query.trim().is_empty() {
                    return Err(ToolError::invalid_argument("query", "empty PromQL expression"));
                }
                let now = timeparse::now();
                let start = arg_time("start", a.start.as_deref(), "now-1h", now)?;
                let end = arg_time("end", a.end.as_deref(), "now", now)?;
                let requested = a
                    .step
                    .as_deref()
                    .map(timeparse::parse_duration)
                    .transpose()
                    .map_err(|e| ToolError::invalid_argument("step", e))?;
                let plan = query::plan_step(start, end, requested, self.caps.max_points, a.strict_step)
                    .map_err(|e| ToolError::invalid_argument(if e.starts_with("end") { "end" } else { "step" }, e))?;
                let (start_s, end_s, step_s) = (ts(start), ts(end), plan.step.to_string());
                let timeout = self.upstream.query_timeout();
                let answer = self
                    .upstream
                    .get::<PromqlResult>(
                        "api/v1/query_range",
                        &[
                            ("query", &a.query),
                            ("start", &start_s),
                            ("end", &end_s),
                            ("step", &step_s),
                            ("timeout", &timeout),
                        ],
                    )
                    .await
                    .map_err(|e| e.into_tool_error("range query", PERMISSION_QUERY))?;
                let mut out = query::shape(
                    &a.query,
                    answer.data,
                    answer.warnings,
                    self.series_limit(a.limit),
                    self.caps.max_points,
                    self.max_bytes(),
                );
                out.start = Some(start);
                out.end = Some(end);
                out.step_seconds = Some(plan.step);
                if let Some(asked) = plan.widened_from {
                    out.notes.insert(
                        0,
                        format!(
                            "step widened from {} to {} to stay within {} points per series ({} points)",
                            format_duration(asked),
                            format_duration(plan.step),
                            self.caps.max_points,
                            plan.points
                        ),
                    );
                }
                if out.empty {
                    query::explain_empty(&self.upstream, &a.query, &mut out).await;
                }
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "List the series (label sets) matching selectors (`match`, e.g. [\"up{job=\\\"api\\\"}\"]) in a window (default the last hour). Bounded (`limit`, `truncated`). Needs aps:GetSeries on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_series(
        &self,
        Parameters(a): Parameters<SeriesArgs>,
    ) -> Result<Json<SeriesList>, ToolError> {
        self.ctx
            .run("prometheus_series", async {
                if a.matchers.is_empty() {
                    return Err(ToolError::invalid_argument(
                        "match",
                        "give at least one series selector, e.g. [\"up\"]",
                    ));
                }
                let params = self.window(&a.matchers, a.start.as_deref(), a.end.as_deref())?;
                let answer = self
                    .upstream
                    .get::<Vec<HashMap<String, String>>>("api/v1/series", &borrowed(&params))
                    .await
                    .map_err(|e| e.into_tool_error("series lookup", PERMISSION_SERIES))?;
                Ok(Json(catalog::series_list(
                    answer.data,
                    a.limit.unwrap_or(100).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "List label names, optionally only those of series matching `match` selectors, in a window (default the last hour). Needs aps:GetLabels on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_label_names(
        &self,
        Parameters(a): Parameters<LabelNamesArgs>,
    ) -> Result<Json<Names>, ToolError> {
        self.ctx
            .run("prometheus_label_names", async {
                let params = self.window(&a.matchers, a.start.as_deref(), a.end.as_deref())?;
                let answer = self
                    .upstream
                    .get::<Vec<String>>("api/v1/labels", &borrowed(&params))
                    .await
                    .map_err(|e| e.into_tool_error("label names lookup", PERMISSION_LABELS))?;
                Ok(Json(catalog::names(
                    answer.data,
                    a.limit.unwrap_or(500).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "List the values of one label (e.g. `pod`, `job`; `__name__` lists metric names), optionally only on series matching `match` selectors, in a window (default the last hour). Bounded (`limit`, `truncated`). Needs aps:GetLabels on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_label_values(
        &self,
        Parameters(a): Parameters<LabelValuesArgs>,
    ) -> Result<Json<Names>, ToolError> {
        self.ctx
            .run("prometheus_label_values", async {
                if !catalog::valid_label_name(&a.label) {
                    return Err(ToolError::invalid_argument(
                        "label",
                        format!("`{}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", a.label),
                    ));
                }
                let params = self.window(&a.matchers, a.start.as_deref(), a.end.as_deref())?;
                let answer = self
                    .upstream
                    .get::<Vec<String>>(
                        &format!("api/v1/label/{}/values", a.label),
                        &borrowed(&params),
                    )
                    .await
                    .map_err(|e| e.into_tool_error("label values lookup", PERMISSION_LABELS))?;
                Ok(Json(catalog::names(
                    answer.data,
                    a.limit.unwrap_or(500).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "Metric metadata: type (counter, gauge, histogram, ...), help text and unit, for one metric or all. Metadata comes from scrapes, so metrics that are only recorded or imported may have none. Needs aps:GetMetricMetadata on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_metric_metadata(
        &self,
        Parameters(a): Parameters<MetadataArgs>,
    ) -> Result<Json<MetadataList>, ToolError> {
        self.ctx
            .run("prometheus_metric_metadata", async {
                let limit = a.limit.unwrap_or(100).max(1);
                // One more than shown, so `truncated` is honest.
                let limit_s = (limit + 1).to_string();
                let mut params: Vec<(&str, &str)> = Vec::new();
                if let Some(m) = a.metric.as_deref().filter(|m| !m.is_empty()) {
                    params.push(("metric", m));
                } else {
                    params.push(("limit", &limit_s));
                }
                let answer = self
                    .upstream
                    .get::<HashMap<String, Vec<MetricMetadata>>>("api/v1/metadata", &params)
                    .await
                    .map_err(|e| e.into_tool_error("metadata lookup", PERMISSION_METADATA))?;
                Ok(Json(catalog::metadata(
                    answer.data,
                    limit,
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "Scrape target health: up/down/unknown counts per job, and the targets (down first) with their last error and last scrape time. Not available on Amazon Managed Prometheus (it does not scrape).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_targets(
        &self,
        Parameters(a): Parameters<TargetsArgs>,
    ) -> Result<Json<TargetsSummary>, ToolError> {
        self.ctx
            .run("prometheus_targets", async {
                one_of("health", a.health.as_deref(), &["up", "down", "unknown"])?;
                let answer = self
                    .upstream
                    .get::<Targets>("api/v1/targets", &[("state", "active")])
                    .await
                    .map_err(|e| e.into_tool_error("targets lookup", PERMISSION_TARGETS))?;
                Ok(Json(status::targets(
                    answer.data,
                    a.job.as_deref(),
                    a.health.as_deref(),
                    a.limit.unwrap_or(100).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "Active alerts (firing first, then pending) with labels, annotations, since when they are active (active_at) and their value. Needs aps:ListAlerts on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_alerts(
        &self,
        Parameters(a): Parameters<AlertsArgs>,
    ) -> Result<Json<AlertsList>, ToolError> {
        self.ctx
            .run("prometheus_alerts", async {
                one_of("state", a.state.as_deref(), &["firing", "pending"])?;
                #[derive(Deserialize)]
                struct AlertsData {
                    alerts: Vec<Alert>,
                }
                let answer = self
                    .upstream
                    .get::<AlertsData>("api/v1/alerts", &[])
                    .await
                    .map_err(|e| e.into_tool_error("alerts lookup", PERMISSION_ALERTS))?;
                Ok(Json(status::alerts(
                    answer.data.alerts,
                    a.state.as_deref(),
                    timeparse::now(),
                    a.limit.unwrap_or(100).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }

    #[tool(
        description = "Alerting and recording rules with their PromQL, health and last error (failing rules first), alert state and `for` duration. Filter by `type` (alert|record) or `group`. Needs aps:ListRules on Amazon Managed Prometheus.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn prometheus_rules(
        &self,
        Parameters(a): Parameters<RulesArgs>,
    ) -> Result<Json<RulesList>, ToolError> {
        self.ctx
            .run("prometheus_rules", async {
                one_of("type", a.kind.as_deref(), &["alert", "record"])?;
                let mut params: Vec<(&str, &str)> = Vec::new();
                if let Some(k) = a.kind.as_deref() {
                    params.push(("type", k));
                }
                let answer = self
                    .upstream
                    .get::<RuleGroups>("api/v1/rules", &params)
                    .await
                    .map_err(|e| e.into_tool_error("rules lookup", PERMISSION_RULES))?;
                Ok(Json(status::rules(
                    answer.data,
                    a.group.as_deref(),
                    a.limit.unwrap_or(200).max(1),
                    self.max_bytes().saturating_sub(256),
                )))
            })
            .await
    }
}

/// No write tools: Prometheus is read-only here, in RO and RW deployments alike.
#[tool_router(router = write_tools, allow_empty)]
impl Prometheus {}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Prometheus {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-prometheus",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "Prometheus for environment {} (read-only). Start with prometheus_alerts or prometheus_query; prometheus_label_values with label __name__ lists metric names. Times accept now, now-1h, RFC 3339 or Unix seconds. Results are capped: {} series, {} points per series.",
                self.ctx.environment, self.caps.max_series, self.caps.max_points
            ))
    }
}

//! `costs_get_anomalies`: the anomalies Cost Anomaly Detection found, largest impact first, with
//! their root causes; paged with Cost Explorer's token.

use aws_sdk_costexplorer::types::{
    AnomalyDateInterval, AnomalyFeedbackType, NumericOperator, TotalImpactFilter,
};
use mcp_common::ToolError;
use mcp_common::output::{PageCursor, bound_page};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cache::CacheInfo;
use crate::ce::{self, Explorer};
use crate::dates::{self, Period};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Anomalies asked of Cost Explorer per page, whatever `limit` is: pages stay the same
/// between calls, so a cursor inside a page reads the cached page.
const UPSTREAM_PAGE: i32 = 100;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnomaliesArgs {
    /// First day (inclusive) an anomaly was seen. Default: today-30d.
    #[serde(default)]
    pub start: Option<String>,
    /// Last day (inclusive). Default: today.
    #[serde(default)]
    pub end: Option<String>,
    /// Only anomalies of this monitor (its ARN).
    #[serde(default)]
    pub monitor_arn: Option<String>,
    /// Only anomalies with this feedback: YES, NO or PLANNED_ACTIVITY.
    #[serde(default)]
    pub feedback: Option<String>,
    /// Only anomalies whose total impact (extra spend, in the billing currency) is at least this.
    #[serde(default)]
    pub min_total_impact: Option<f64>,
    /// Anomalies per page (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (same other arguments).
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RootCause {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_account_name: Option<String>,
    /// This cause's share of the impact, in the billing currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribution: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Anomaly {
    pub anomaly_id: String,
    pub start_date: Option<String>,
    /// Absent while the anomaly is still going on.
    pub end_date: Option<String>,
    /// What the monitor watches that went up, e.g. the service name.
    pub dimension_value: Option<String>,
    /// Extra spend over the expected: total and the largest daily.
    pub total_impact: f64,
    pub max_impact: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_impact_percentage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_actual_spend: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_expected_spend: Option<f64>,
    /// Anomaly score, now and at its highest.
    pub current_score: Option<f64>,
    pub max_score: Option<f64>,
    pub root_causes: Vec<RootCause>,
    pub monitor_arn: String,
    /// Feedback given: YES, NO or PLANNED_ACTIVITY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AnomalyList {
    pub start: String,
    pub end: String,
    /// Largest total impact first (within each Cost Explorer page).
    pub anomalies: Vec<Anomaly>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub cache: CacheInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct AnomaliesRequest<'a> {
    period: (&'a str, &'a str),
    monitor_arn: Option<&'a str>,
    feedback: Option<&'a str>,
    min_total_impact: Option<f64>,
    token: Option<&'a str>,
}

fn feedback(s: Option<&str>) -> Result<Option<AnomalyFeedbackType>, ToolError> {
    match s.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") => Ok(None),
        Some("YES") => Ok(Some(AnomalyFeedbackType::Yes)),
        Some("NO") => Ok(Some(AnomalyFeedbackType::No)),
        Some("PLANNED_ACTIVITY") => Ok(Some(AnomalyFeedbackType::PlannedActivity)),
        Some(other) => Err(ToolError::invalid_argument(
            "feedback",
            format!("`{other}`: use YES, NO or PLANNED_ACTIVITY"),
        )),
    }
}

fn summarize(a: &aws_sdk_costexplorer::types::Anomaly) -> Anomaly {
    let impact = a.impact();
    Anomaly {
        anomaly_id: a.anomaly_id().to_owned(),
        start_date: a.anomaly_start_date().map(str::to_owned),
        end_date: a.anomaly_end_date().map(str::to_owned),
        dimension_value: a.dimension_value().map(str::to_owned),
        total_impact: impact
            .map(|i| ce::tidy(i.total_impact()))
            .unwrap_or_default(),
        max_impact: impact.map(|i| ce::tidy(i.max_impact())).unwrap_or_default(),
        total_impact_percentage: impact.and_then(|i| i.total_impact_percentage()),
        total_actual_spend: impact.and_then(|i| i.total_actual_spend()),
        total_expected_spend: impact.and_then(|i| i.total_expected_spend()),
        current_score: a.anomaly_score().map(|s| s.current_score()),
        max_score: a.anomaly_score().map(|s| s.max_score()),
        root_causes: a
            .root_causes()
            .iter()
            .map(|r| RootCause {
                service: r.service().map(str::to_owned),
                region: r.region().map(str::to_owned),
                usage_type: r.usage_type().map(str::to_owned),
                linked_account: r.linked_account().map(str::to_owned),
                linked_account_name: r.linked_account_name().map(str::to_owned),
                contribution: r.impact().map(|i| i.contribution()),
            })
            .collect(),
        monitor_arn: a.monitor_arn().to_owned(),
        feedback: a.feedback().map(|f| f.as_str().to_owned()),
    }
}

pub async fn get_anomalies(
    x: &Explorer,
    a: AnomaliesArgs,
    max_bytes: usize,
) -> Result<AnomalyList, ToolError> {
    let Period { start, end } =
        dates::anomalies(a.start.as_deref(), a.end.as_deref(), dates::today())?;
    let monitor_arn = a
        .monitor_arn
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(arn) = monitor_arn
        && !(arn.starts_with("arn:") && arn.contains(":anomalymonitor/"))
    {
        return Err(ToolError::invalid_argument(
            "monitor_arn",
            format!(
                "`{arn}` is not an anomaly monitor ARN (arn:aws:ce::ACCOUNT:anomalymonitor/ID)"
            ),
        ));
    }
    let feedback = feedback(a.feedback.as_deref())?;
    if let Some(v) = a.min_total_impact
        && !(v.is_finite() && v >= 0.0)
    {
        return Err(ToolError::invalid_argument(
            "min_total_impact",
            "a non-negative amount",
        ));
    }
    let limit = ce::limit(a.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = PageCursor::parse(a.cursor.as_deref())
        .map_err(|r| ToolError::invalid_argument("cursor", r))?;
    let request = AnomaliesRequest {
        period: (&start, &end),
        monitor_arn,
        feedback: feedback.as_ref().map(AnomalyFeedbackType::as_str),
        min_total_impact: a.min_total_impact,
        token: cursor.token.as_deref(),
    };
    let (out, cache) = x
        .cache
        .get_or_fetch("GetAnomalies", &request, || {
            let interval = AnomalyDateInterval::builder()
                .start_date(&start)
                .end_date(&end)
                .build();
            let impact = a.min_total_impact.map(|v| {
                TotalImpactFilter::builder()
                    .numeric_operator(NumericOperator::GreaterThanOrEqual)
                    .start_value(v)
                    .build()
            });
            async {
                let interval =
                    interval.map_err(|e| ToolError::new(format!("date interval: {e}")))?;
                let impact = impact
                    .transpose()
                    .map_err(|e| ToolError::new(format!("impact filter: {e}")))?;
                x.client
                    .get_anomalies()
                    .date_interval(interval)
                    .set_monitor_arn(monitor_arn.map(str::to_owned))
                    .set_feedback(feedback.clone())
                    .set_total_impact(impact)
                    .max_results(UPSTREAM_PAGE)
                    .set_next_page_token(cursor.token.clone())
                    .send()
                    .await
                    .map_err(ce::failure("GetAnomalies", "ce:GetAnomalies"))
            }
        })
        .await?;
    let mut anomalies: Vec<Anomaly> = out.anomalies().iter().map(summarize).collect();
    anomalies.sort_by(|a, b| {
        b.total_impact
            .total_cmp(&a.total_impact)
            .then_with(|| a.anomaly_id.cmp(&b.anomaly_id))
    });
    let page = bound_page(
        anomalies,
        &cursor,
        limit,
        max_bytes.saturating_sub(2048),
        out.next_page_token().map(str::to_owned),
    );
    let mut notes: Vec<String> = page.note.into_iter().collect();
    if page.items.is_empty() && cursor == PageCursor::default() {
        notes.push(
            "no anomalies in this period: Cost Anomaly Detection reports only for the monitors set up in this account (AWS creates a services monitor by default)".into(),
        );
    }
    Ok(AnomalyList {
        start,
        end,
        anomalies: page.items,
        truncated: page.truncated,
        next_cursor: page.next_cursor,
        cache,
        notes,
    })
}

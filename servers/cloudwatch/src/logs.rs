//! CloudWatch Logs: log groups, `FilterLogEvents`, and Logs Insights (start a query, poll until
//! it completes or the timeout passes; then the agent continues with the query id).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::QueryStatus;
use mcp_common::output::{cut_str, fit_items};
use mcp_common::redact::redact_text;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, sdk};
use crate::timeparse::{self, rfc3339_ms};

/// Longest message kept per log event or result field.
const MAX_MESSAGE_BYTES: usize = 4096;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeLogGroupsArgs {
    /// Only groups whose name starts with this, e.g. `/aws/eks/`, `/ecs/payment`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Most groups to return (default 50, at most 50 per page).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogGroup {
    pub name: String,
    /// RFC 3339.
    pub created: Option<String>,
    /// None: kept forever.
    pub retention_days: Option<i32>,
    pub stored_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogGroupList {
    pub log_groups: Vec<LogGroup>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub async fn describe_log_groups(
    logs: &aws_sdk_cloudwatchlogs::Client,
    a: DescribeLogGroupsArgs,
    max_bytes: usize,
) -> Result<LogGroupList> {
    let limit = match a.limit {
        Some(0) => return Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => n.min(50),
        None => 50,
    };
    let out = logs
        .describe_log_groups()
        .set_log_group_name_prefix(a.prefix.filter(|p| !p.is_empty()))
        .limit(limit as i32)
        .set_next_token(a.cursor.filter(|c| !c.is_empty()))
        .send()
        .await
        .map_err(sdk("DescribeLogGroups", "logs:DescribeLogGroups"))?;
    let groups = out
        .log_groups()
        .iter()
        .map(|g| LogGroup {
            name: g.log_group_name().unwrap_or_default().to_owned(),
            created: g.creation_time().map(rfc3339_ms),
            retention_days: g.retention_in_days(),
            stored_bytes: g.stored_bytes(),
            class: g.log_group_class().map(|c| c.as_str().to_owned()),
        })
        .collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let page = fit_items(groups, limit, max_bytes.saturating_sub(512));
    Ok(LogGroupList {
        truncated: page.truncated || next.is_some(),
        next_cursor: if page.truncated { None } else { next },
        log_groups: page.items,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FilterLogEventsArgs {
    /// Log group name, e.g. `/aws/eks/prod/application`.
    pub log_group_name: String,
    /// CloudWatch Logs filter pattern, e.g. `ERROR`, `"connection refused"`, `{ $.level = "error" }`.
    /// Default: every event.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Only these log streams.
    #[serde(default)]
    pub log_stream_names: Vec<String>,
    /// Range start: `now-15m` (default), RFC 3339 or Unix seconds.
    #[serde(default)]
    pub start: Option<String>,
    /// Range end: `now` (default).
    #[serde(default)]
    pub end: Option<String>,
    /// Most events to return (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogEvent {
    /// RFC 3339.
    pub timestamp: Option<String>,
    pub log_stream: Option<String>,
    /// The message; credentials in it are redacted, long messages cut.
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogEvents {
    pub log_group_name: String,
    pub events: Vec<LogEvent>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn clean(message: &str) -> String {
    let (kept, cut) = cut_str(message.trim_end(), MAX_MESSAGE_BYTES);
    let mut m = redact_text(kept).unwrap_or_else(|| kept.to_owned());
    if cut {
        m.push_str("…[cut]");
    }
    m
}

pub async fn filter_log_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    a: FilterLogEventsArgs,
    max_bytes: usize,
) -> Result<LogEvents> {
    if a.log_group_name.trim().is_empty() {
        return Err(Error::invalid(
            "log_group_name",
            "required; list groups with cloudwatch_describe_log_groups",
        ));
    }
    let limit = match a.limit {
        Some(0) => return Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => n.min(1000),
        None => 100,
    };
    let (start, end) = timeparse::range(a.start.as_deref(), a.end.as_deref(), "now-15m")?;
    let out = logs
        .filter_log_events()
        .log_group_name(&a.log_group_name)
        .set_filter_pattern(a.pattern.filter(|p| !p.is_empty()))
        .set_log_stream_names((!a.log_stream_names.is_empty()).then_some(a.log_stream_names))
        .start_time(start * 1000)
        .end_time(end * 1000)
        .limit(limit as i32)
        .set_next_token(a.cursor.filter(|c| !c.is_empty()))
        .send()
        .await
        .map_err(sdk("FilterLogEvents", "logs:FilterLogEvents"))?;
    let events: Vec<LogEvent> = out
        .events()
        .iter()
        .map(|e| LogEvent {
            timestamp: e.timestamp().map(rfc3339_ms),
            log_stream: e.log_stream_name().map(str::to_owned),
            message: clean(e.message().unwrap_or_default()),
        })
        .collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let page = fit_items(events, limit, max_bytes.saturating_sub(1024));
    let note = if page.truncated {
        Some(format!(
            "output cap: {} of {} events shown; narrow the time range or the pattern",
            page.items.len(),
            page.total.unwrap_or(0)
        ))
    } else if page.items.is_empty() && next.is_some() {
        Some("no match in the part searched so far; continue with next_cursor".into())
    } else {
        None
    };
    Ok(LogEvents {
        log_group_name: a.log_group_name,
        truncated: page.truncated || next.is_some(),
        next_cursor: if page.truncated { None } else { next },
        events: page.items,
        note,
    })
}

/// Default and largest time a Logs Insights call waits for its query.
pub const DEFAULT_WAIT_S: u64 = 20;
pub const MAX_WAIT_S: u64 = 60;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct InsightsQueryArgs {
    /// Log groups to query (1 to 20).
    pub log_group_names: Vec<String>,
    /// Logs Insights query, e.g. `fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 50`.
    pub query: String,
    /// Range start: `now-1h` (default), RFC 3339 or Unix seconds.
    #[serde(default)]
    pub start: Option<String>,
    /// Range end: `now` (default).
    #[serde(default)]
    pub end: Option<String>,
    /// Most result rows (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Seconds to wait for the query (default 20, at most 60). If it is still running then,
    /// the answer carries the `query_id` for cloudwatch_get_query_results.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryResultsArgs {
    /// `query_id` from cloudwatch_logs_insights_query.
    pub query_id: String,
    /// Most result rows (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryStats {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResults {
    pub query_id: String,
    /// `Scheduled`, `Running`, `Complete`, `Failed`, `Cancelled`, `Timeout`.
    pub status: String,
    /// True when the results are final.
    pub complete: bool,
    /// One object per row: field -> value (`@ptr` left out).
    pub rows: Vec<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<QueryStats>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn row_limit(limit: Option<usize>) -> Result<usize> {
    match limit {
        Some(0) => Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => Ok(n.min(1000)),
        None => Ok(100),
    }
}

async fn fetch_results(
    logs: &aws_sdk_cloudwatchlogs::Client,
    query_id: &str,
    limit: usize,
    max_bytes: usize,
) -> Result<QueryResults> {
    let out = logs
        .get_query_results()
        .query_id(query_id)
        .send()
        .await
        .map_err(sdk("GetQueryResults", "logs:GetQueryResults"))?;
    let status = out
        .status()
        .cloned()
        .unwrap_or_else(|| QueryStatus::from("Unknown"));
    let complete = matches!(status, QueryStatus::Complete);
    let rows: Vec<BTreeMap<String, String>> = out
        .results()
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|f| Some((f.field()?.to_owned(), clean(f.value().unwrap_or_default()))))
                .filter(|(k, _)| k != "@ptr")
                .collect()
        })
        .collect();
    let page = fit_items(rows, limit, max_bytes.saturating_sub(1024));
    let note = match &status {
        QueryStatus::Complete if page.truncated => Some(format!(
            "{} of {} rows shown (row or output cap); add `| limit N` or narrow the query",
            page.items.len(),
            page.total.unwrap_or(0)
        )),
        QueryStatus::Complete => None,
        QueryStatus::Scheduled | QueryStatus::Running => Some(format!(
            "still running: call cloudwatch_get_query_results with query_id {query_id} in a few seconds"
        )),
        other => Some(format!(
            "the query ended as {}: check its syntax and time range",
            other.as_str()
        )),
    };
    Ok(QueryResults {
        query_id: query_id.to_owned(),
        status: status.as_str().to_owned(),
        complete,
        statistics: out.statistics().map(|s| QueryStats {
            records_matched: s.records_matched(),
            records_scanned: s.records_scanned(),
            bytes_scanned: s.bytes_scanned(),
        }),
        truncated: page.truncated,
        rows: page.items,
        note,
    })
}

pub async fn insights_query(
    logs: &aws_sdk_cloudwatchlogs::Client,
    a: InsightsQueryArgs,
    max_bytes: usize,
) -> Result<QueryResults> {
    if a.log_group_names.is_empty() || a.log_group_names.len() > 20 {
        return Err(Error::invalid("log_group_names", "give 1 to 20 log groups"));
    }
    if a.query.trim().is_empty() {
        return Err(Error::invalid("query", "empty"));
    }
    let limit = row_limit(a.limit)?;
    let wait = Duration::from_secs(a.timeout_seconds.unwrap_or(DEFAULT_WAIT_S).min(MAX_WAIT_S));
    let (start, end) = timeparse::range(a.start.as_deref(), a.end.as_deref(), "now-1h")?;
    let started = Instant::now();
    let out = logs
        .start_query()
        .set_log_group_names(Some(a.log_group_names))
        .query_string(&a.query)
        .start_time(start)
        .end_time(end)
        .limit(limit as i32)
        .send()
        .await
        .map_err(sdk("StartQuery", "logs:StartQuery"))?;
    let query_id = out
        .query_id()
        .ok_or_else(|| Error::invalid("query", "CloudWatch Logs returned no query id"))?
        .to_owned();
    let mut delay = Duration::from_millis(250);
    loop {
        let r = fetch_results(logs, &query_id, limit, max_bytes).await?;
        let pending = matches!(r.status.as_str(), "Scheduled" | "Running");
        if !pending || started.elapsed() + delay > wait {
            return Ok(r);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

pub async fn get_query_results(
    logs: &aws_sdk_cloudwatchlogs::Client,
    a: QueryResultsArgs,
    max_bytes: usize,
) -> Result<QueryResults> {
    if a.query_id.trim().is_empty() {
        return Err(Error::invalid("query_id", "empty"));
    }
    let limit = row_limit(a.limit)?;
    fetch_results(logs, a.query_id.trim(), limit, max_bytes).await
}

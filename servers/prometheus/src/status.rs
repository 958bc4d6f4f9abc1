//! Prometheus's own state: scrape targets, alerts and rules.

use std::collections::{BTreeMap, HashMap};

use prometheus_http_query::response::{Alert, Targets};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::timeparse::rfc3339;
use mcp_common::output::fit_items;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobHealth {
    pub job: String,
    pub up: usize,
    pub down: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Target {
    pub job: String,
    pub instance: String,
    /// up, down or unknown.
    pub health: String,
    /// The last scrape's error (absent when it succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_scrape: String,
    pub last_scrape_duration_seconds: f64,
    pub scrape_url: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetsSummary {
    /// Health counts per job (scrape pool), all targets.
    pub jobs: Vec<JobHealth>,
    /// Targets, down ones first.
    pub targets: Vec<Target>,
    pub total: usize,
    pub down: usize,
    pub truncated: bool,
}

pub fn targets(
    data: Targets,
    job: Option<&str>,
    health: Option<&str>,
    limit: usize,
    max_bytes: usize,
) -> TargetsSummary {
    let mut jobs: BTreeMap<String, JobHealth> = BTreeMap::new();
    let mut list = Vec::new();
    for t in data.active() {
        let job_name = t.scrape_pool().to_owned();
        let h = t.health().to_string();
        let entry = jobs.entry(job_name.clone()).or_insert_with(|| JobHealth {
            job: job_name.clone(),
            up: 0,
            down: 0,
            unknown: 0,
        });
        match h.as_str() {
            "up" => entry.up += 1,
            "down" => entry.down += 1,
            _ => entry.unknown += 1,
        }
        if job.is_some_and(|j| j != job_name && t.labels().get("job").is_none_or(|l| l != j)) {
            continue;
        }
        if health.is_some_and(|w| w != h) {
            continue;
        }
        list.push(Target {
            job: t.labels().get("job").cloned().unwrap_or(job_name),
            instance: t.labels().get("instance").cloned().unwrap_or_default(),
            health: h,
            last_error: (!t.last_error().is_empty()).then(|| t.last_error().to_owned()),
            last_scrape: t
                .last_scrape()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            last_scrape_duration_seconds: t.last_scrape_duration(),
            scrape_url: t.scrape_url().to_string(),
        });
    }
    let rank = |h: &str| match h {
        "down" => 0,
        "unknown" => 1,
        _ => 2,
    };
    list.sort_by(|a, b| {
        rank(&a.health)
            .cmp(&rank(&b.health))
            .then_with(|| a.job.cmp(&b.job))
            .then_with(|| a.instance.cmp(&b.instance))
    });
    let down = list.iter().filter(|t| t.health == "down").count();
    let jobs: Vec<JobHealth> = jobs.into_values().collect();
    let page = fit_items(
        list,
        limit,
        max_bytes.saturating_sub(serde_json::to_vec(&jobs).map_or(0, |v| v.len()) + 256),
    );
    TargetsSummary {
        jobs,
        total: page.total.unwrap_or_default(),
        down,
        truncated: page.truncated,
        targets: page.items,
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AlertInfo {
    /// The `alertname` label.
    pub name: String,
    /// firing or pending.
    pub state: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Since when the alert is active (pending, then firing), RFC 3339.
    pub active_at: String,
    /// How long it has been active, seconds.
    pub active_for_seconds: f64,
    /// The value of the alert expression when last evaluated (null for NaN/±Inf).
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AlertsList {
    /// Firing alerts first, then pending; oldest first within each.
    pub alerts: Vec<AlertInfo>,
    pub firing: usize,
    pub pending: usize,
    pub total: usize,
    pub truncated: bool,
}

fn sorted(m: &HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn alerts(
    data: Vec<Alert>,
    state: Option<&str>,
    now: f64,
    limit: usize,
    max_bytes: usize,
) -> AlertsList {
    let mut list: Vec<AlertInfo> = data
        .iter()
        .filter(|a| a.state().to_string() != "inactive")
        .filter(|a| state.is_none_or(|s| s == a.state().to_string()))
        .map(|a| {
            let since = a.active_at().unix_timestamp_nanos() as f64 / 1e9;
            let mut labels = sorted(a.labels());
            let name = labels.remove("alertname").unwrap_or_default();
            AlertInfo {
                name,
                state: a.state().to_string(),
                labels,
                annotations: sorted(a.annotations()),
                active_at: rfc3339(since),
                active_for_seconds: ((now - since).max(0.0) * 1000.0).round() / 1000.0,
                value: a.value().is_finite().then_some(a.value()),
            }
        })
        .collect();
    list.sort_by(|a, b| {
        (a.state != "firing")
            .cmp(&(b.state != "firing"))
            .then_with(|| a.active_at.cmp(&b.active_at))
            .then_with(|| a.name.cmp(&b.name))
    });
    let firing = list.iter().filter(|a| a.state == "firing").count();
    let pending = list.iter().filter(|a| a.state == "pending").count();
    let page = fit_items(list, limit, max_bytes);
    AlertsList {
        firing,
        pending,
        total: page.total.unwrap_or_default(),
        truncated: page.truncated,
        alerts: page.items,
    }
}

/// `/api/v1/rules`, read leniently: Prometheus-compatible services (Thanos, Mimir, Amazon
/// Managed Prometheus) differ in the fields they send, and the crate's model requires fields
/// (`limit`, `keepFiringFor`) and drops others (`state`, `lastError`) that matter here.
#[derive(Debug, Deserialize)]
pub struct RuleGroups {
    pub groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RawGroup {
    pub name: String,
    #[serde(default)]
    pub file: String,
    #[serde(default)]
    pub interval: f64,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
pub struct RawRule {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub health: String,
    #[serde(rename = "lastError", default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub alerts: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleInfo {
    pub group: String,
    pub file: String,
    pub name: String,
    /// alerting or recording.
    #[serde(rename = "type")]
    pub kind: String,
    pub query: String,
    /// ok, err or unknown.
    pub health: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Alerting rules: firing, pending or inactive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Alerting rules: the `for` duration, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<f64>,
    /// Alerting rules: active alerts (firing or pending) of this rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_alerts: Option<usize>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RulesList {
    /// Rules with errors first, then in file order.
    pub rules: Vec<RuleInfo>,
    pub groups: usize,
    pub total: usize,
    /// Rules whose last evaluation failed.
    pub unhealthy: usize,
    pub truncated: bool,
}

pub fn rules(data: RuleGroups, group: Option<&str>, limit: usize, max_bytes: usize) -> RulesList {
    let groups = data.groups.len();
    let mut list: Vec<RuleInfo> = Vec::new();
    for g in data.groups {
        if group.is_some_and(|want| want != g.name) {
            continue;
        }
        for r in g.rules {
            let alerting = r.kind == "alerting";
            list.push(RuleInfo {
                group: g.name.clone(),
                file: g.file.clone(),
                name: r.name,
                kind: r.kind,
                query: r.query,
                health: r.health,
                last_error: r.last_error.filter(|e| !e.is_empty()),
                state: r.state,
                for_seconds: if alerting { r.duration } else { None },
                active_alerts: alerting.then_some(r.alerts.len()),
                labels: r.labels.unwrap_or_default(),
                annotations: r.annotations.unwrap_or_default(),
            });
        }
    }
    // Stable: errors first, file order otherwise.
    list.sort_by_key(|r| r.health != "err");
    let unhealthy = list.iter().filter(|r| r.health == "err").count();
    let page = fit_items(list, limit, max_bytes);
    RulesList {
        groups,
        total: page.total.unwrap_or_default(),
        unhealthy,
        truncated: page.truncated,
        rules: page.items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_leniently() {
        // A minimal Cortex/AMP-style answer without limit, keepFiringFor, lastError or state.
        let data: RuleGroups = serde_json::from_value(serde_json::json!({"groups": [{
            "name": "g", "file": "f", "rules": [
                {"type": "alerting", "name": "A", "query": "up == 0", "duration": 60, "health": "ok", "alerts": [{}]},
                {"type": "recording", "name": "r:x", "query": "sum(x)", "health": "err", "lastError": "boom"},
            ]}]}))
        .unwrap();
        let out = rules(data, None, 10, 65536);
        assert_eq!(out.total, 2);
        assert_eq!(out.unhealthy, 1);
        assert_eq!(out.rules[0].name, "r:x");
        assert_eq!(out.rules[0].last_error.as_deref(), Some("boom"));
        assert_eq!(out.rules[1].active_alerts, Some(1));
        assert_eq!(out.rules[1].for_seconds, Some(60.0));
    }
}

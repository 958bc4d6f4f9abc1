//! Argo CD's objects, cut down to what an agent needs and bounded. Inputs are kept as
//! `serde_json::Value` so fields Argo CD adds or omits across versions never fail a call.

use mcp_common::output::{Page, fit_items};
use mcp_common::redact::redact_json;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

fn s(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One application in a list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AppSummary {
    pub name: String,
    /// The namespace the Application object lives in (normally `argocd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_namespace: Option<String>,
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_namespace: Option<String>,
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub sync_status: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    pub health_status: String,
    /// The revision (commit) the application is synced to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Phase of the last or running operation (`Running`, `Succeeded`, `Failed`, `Error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_phase: Option<String>,
}

pub fn summary(app: &Value) -> AppSummary {
    // Multi-source applications have `sources`; show the first.
    let src = if app.pointer("/spec/source").is_some() {
        "/spec/source"
    } else {
        "/spec/sources/0"
    };
    AppSummary {
        name: s(app, "/metadata/name").unwrap_or_default(),
        app_namespace: s(app, "/metadata/namespace"),
        project: s(app, "/spec/project").unwrap_or_else(|| "default".into()),
        repo_url: s(app, &format!("{src}/repoURL")),
        path: s(app, &format!("{src}/path")),
        chart: s(app, &format!("{src}/chart")),
        target_revision: s(app, &format!("{src}/targetRevision")),
        destination_server: s(app, "/spec/destination/server")
            .or_else(|| s(app, "/spec/destination/name")),
        destination_namespace: s(app, "/spec/destination/namespace"),
        sync_status: s(app, "/status/sync/status").unwrap_or_else(|| "Unknown".into()),
        health_status: s(app, "/status/health/status").unwrap_or_else(|| "Unknown".into()),
        revision: s(app, "/status/sync/revision").or_else(|| s(app, "/status/sync/revisions/0")),
        operation_phase: s(app, "/status/operationState/phase"),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationState {
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<String>,
}

/// A managed resource that is out of sync or not healthy.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceStatus {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_message: Option<String>,
}

/// One application in detail.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AppDetail {
    #[serde(flatten)]
    pub summary: AppSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_message: Option<String>,
    /// Container images the application runs (Argo CD's `status.summary.images`).
    pub images: Vec<String>,
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// Number of resources Argo CD manages for the application.
    pub resources_total: usize,
    /// Managed resources that are out of sync or not healthy (bounded).
    pub problem_resources: Page<ResourceStatus>,
}

pub fn detail(app: &Value, max_bytes: usize) -> AppDetail {
    let strings = |p: &str| -> Vec<String> {
        app.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let list = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let conditions = list("/status/conditions")
        .iter()
        .map(|c| Condition {
            kind: s(c, "/type").unwrap_or_default(),
            message: s(c, "/message").unwrap_or_default(),
            last_transition_time: s(c, "/lastTransitionTime"),
        })
        .take(20)
        .collect();
    let operation = app
        .pointer("/status/operationState")
        .map(|o| OperationState {
            phase: s(o, "/phase").unwrap_or_default(),
            message: s(o, "/message"),
            started_at: s(o, "/startedAt"),
            finished_at: s(o, "/finishedAt"),
            sync_revision: s(o, "/syncResult/revision"),
            initiated_by: s(o, "/operation/initiatedBy/username").or_else(|| {
                app.pointer("/status/operationState/operation/initiatedBy/automated")
                    .and_then(Value::as_bool)
                    .filter(|a| *a)
                    .map(|_| "automated".to_owned())
            }),
        });
    let resources = list("/status/resources");
    let problems: Vec<ResourceStatus> = resources
        .iter()
        .filter(|r| {
            s(r, "/status").is_some_and(|x| x != "Synced")
                || s(r, "/health/status").is_some_and(|x| x != "Healthy")
        })
        .map(|r| ResourceStatus {
            kind: s(r, "/kind").unwrap_or_default(),
            namespace: s(r, "/namespace"),
            name: s(r, "/name").unwrap_or_default(),
            sync_status: s(r, "/status"),
            health_status: s(r, "/health/status"),
            health_message: s(r, "/health/message"),
        })
        .collect();
    let mut images = strings("/status/summary/images");
    images.truncate(50);
    AppDetail {
        summary: summary(app),
        health_message: s(app, "/status/health/message"),
        images,
        conditions,
        operation,
        reconciled_at: s(app, "/status/reconciledAt"),
        resources_total: resources.len(),
        problem_resources: fit_items(problems, 50, max_bytes / 2),
    }
}

/// One node of the resource tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TreeNode {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_message: Option<String>,
    /// `Kind/name` of the owner (a ReplicaSet's Deployment, a Pod's ReplicaSet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Argo CD's extra facts (pod phase, restarts, node).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceTree {
    pub application: String,
    /// Nodes not `Healthy` (with a health status) in the whole tree.
    pub unhealthy: usize,
    /// Nodes, unhealthy first, bounded.
    pub nodes: Page<TreeNode>,
}

fn health_rank(h: Option<&str>) -> u8 {
    match h {
        Some("Degraded") | Some("Missing") => 0,
        Some("Progressing") | Some("Suspended") | Some("Unknown") => 1,
        None => 2,
        Some(_) => 3,
    }
}

pub fn tree(
    application: &str,
    tree: &Value,
    kind: Option<&str>,
    unhealthy_only: bool,
    limit: usize,
    max_bytes: usize,
) -> ResourceTree {
    let mut nodes: Vec<TreeNode> = tree
        .pointer("/nodes")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|n| TreeNode {
            kind: s(n, "/kind").unwrap_or_default(),
            group: s(n, "/group"),
            namespace: s(n, "/namespace"),
            name: s(n, "/name").unwrap_or_default(),
            health: s(n, "/health/status"),
            health_message: s(n, "/health/message"),
            parent: n.pointer("/parentRefs/0").map(|p| {
                format!(
                    "{}/{}",
                    s(p, "/kind").unwrap_or_default(),
                    s(p, "/name").unwrap_or_default()
                )
            }),
            images: n
                .pointer("/images")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            info: n
                .pointer("/info")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|i| {
                            format!(
                                "{}: {}",
                                s(i, "/name").unwrap_or_default(),
                                s(i, "/value").unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let is_unhealthy = |n: &TreeNode| n.health.as_deref().is_some_and(|h| h != "Healthy");
    let unhealthy = nodes.iter().filter(|n| is_unhealthy(n)).count();
    nodes.retain(|n| {
        kind.is_none_or(|k| n.kind.eq_ignore_ascii_case(k)) && (!unhealthy_only || is_unhealthy(n))
    });
    nodes.sort_by(|a, b| {
        health_rank(a.health.as_deref())
            .cmp(&health_rank(b.health.as_deref()))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.name.cmp(&b.name))
    });
    ResourceTree {
        application: application.to_owned(),
        unhealthy,
        nodes: fit_items(nodes, limit, max_bytes),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HistoryEntry {
    /// Pass as `id` to argo_rollback_application.
    pub id: i64,
    pub revision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct History {
    pub application: String,
    /// The revision deployed now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    /// Deployments, newest first, bounded.
    pub history: Page<HistoryEntry>,
}

pub fn history(app: &Value, limit: usize, max_bytes: usize) -> History {
    let mut entries: Vec<HistoryEntry> = app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|h| HistoryEntry {
            id: h.pointer("/id").and_then(Value::as_i64).unwrap_or_default(),
            revision: s(h, "/revision")
                .or_else(|| s(h, "/revisions/0"))
                .unwrap_or_default(),
            deployed_at: s(h, "/deployedAt"),
            deploy_started_at: s(h, "/deployStartedAt"),
            initiated_by: s(h, "/initiatedBy/username").or_else(|| {
                h.pointer("/initiatedBy/automated")
                    .and_then(Value::as_bool)
                    .filter(|a| *a)
                    .map(|_| "automated".to_owned())
            }),
            repo_url: s(h, "/source/repoURL"),
            target_revision: s(h, "/source/targetRevision"),
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.id));
    History {
        application: s(app, "/metadata/name").unwrap_or_default(),
        current_revision: summary(app).revision,
        history: fit_items(entries, limit, max_bytes),
    }
}

/// One field that differs between the live object and the desired one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Change {
    /// JSON path, e.g. `spec.template.spec.containers[0].resources.limits.memory`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceDiff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// True when live differs from desired.
    pub modified: bool,
    /// Live exists but nothing desires it (pruned on a sync with prune).
    pub extra: bool,
    /// Desired but not live (created on the next sync).
    pub missing: bool,
    /// The differing fields, bounded (`changes_truncated`). Credential-looking values are
    /// redacted; Secret data is already masked by Argo CD.
    pub changes: Vec<Change>,
    pub changes_truncated: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ManagedResources {
    pub application: String,
    pub total: usize,
    pub modified: usize,
    pub resources: Page<ResourceDiff>,
}

/// Fields that always differ and say nothing about drift.
const IGNORED: &[&str] = &[
    "status",
    "metadata.managedFields",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.uid",
    "metadata.creationTimestamp",
    "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
    "metadata.annotations.deployment.kubernetes.io/revision",
];

fn parse_state(r: &Value, key: &str) -> Option<Value> {
    let text = r.get(key)?.as_str()?;
    if text.is_empty() || text == "null" {
        return None;
    }
    let mut v: Value = serde_json::from_str(text).ok()?;
    redact_json(&mut v);
    Some(v)
}

fn diff(
    path: &str,
    live: Option<&Value>,
    desired: Option<&Value>,
    out: &mut Vec<Change>,
    max: usize,
) -> bool {
    if IGNORED.contains(&path) {
        return false;
    }
    if out.len() >= max {
        return live != desired;
    }
    match (live, desired) {
        (Some(Value::Object(l)), Some(Value::Object(d))) => {
            let mut keys: Vec<&String> = l.keys().chain(d.keys()).collect();
            keys.sort();
            keys.dedup();
            let mut cut = false;
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                cut |= diff(&p, l.get(k), d.get(k), out, max);
            }
            cut
        }
        (Some(Value::Array(l)), Some(Value::Array(d))) if l.len() == d.len() => {
            let mut cut = false;
            for (i, (a, b)) in l.iter().zip(d).enumerate() {
                cut |= diff(&format!("{path}[{i}]"), Some(a), Some(b), out, max);
            }
            cut
        }
        (l, d) if l != d => {
            if out.len() >= max {
                return true;
            }
            let small =
                |v: Option<&Value>| v.map(|v| mcp_common::output::bound_json(v.clone(), 512).0);
            out.push(Change {
                path: path.to_owned(),
                live: small(l),
                desired: small(d),
            });
            false
        }
        _ => false,
    }
}

pub fn managed(
    application: &str,
    items: &[Value],
    out_of_sync_only: bool,
    limit: usize,
    max_bytes: usize,
) -> ManagedResources {
    let mut diffs: Vec<ResourceDiff> = items
        .iter()
        .map(|r| {
            let live =
                parse_state(r, "normalizedLiveState").or_else(|| parse_state(r, "liveState"));
            let desired =
                parse_state(r, "predictedLiveState").or_else(|| parse_state(r, "targetState"));
            let mut changes = Vec::new();
            let changes_truncated = match (&live, &desired) {
                (Some(_), Some(_)) => diff("", live.as_ref(), desired.as_ref(), &mut changes, 30),
                _ => false,
            };
            let modified = r.get("modified").and_then(Value::as_bool).unwrap_or(false)
                || !changes.is_empty()
                || live.is_none() != desired.is_none();
            ResourceDiff {
                group: s(r, "/group"),
                kind: s(r, "/kind").unwrap_or_default(),
                namespace: s(r, "/namespace"),
                name: s(r, "/name").unwrap_or_default(),
                modified,
                extra: live.is_some() && desired.is_none(),
                missing: live.is_none() && desired.is_some(),
                changes,
                changes_truncated,
            }
        })
        .collect();
    let total = diffs.len();
    let modified = diffs.iter().filter(|d| d.modified).count();
    if out_of_sync_only {
        diffs.retain(|d| d.modified);
    }
    diffs.sort_by_key(|d| !d.modified);
    ManagedResources {
        application: application.to_owned(),
        total,
        modified,
        resources: fit_items(diffs, limit, max_bytes),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Event {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
    /// `Kind/name` the event is about.
    pub object: String,
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Events {
    pub application: String,
    pub warnings: usize,
    /// Newest first, bounded.
    pub events: Page<Event>,
}

pub fn events(
    application: &str,
    list: &Value,
    warnings_only: bool,
    limit: usize,
    max_bytes: usize,
) -> Events {
    let mut events: Vec<Event> = list
        .pointer("/items")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let (message, _) = mcp_common::output::cut_str(
                e.get("message").and_then(Value::as_str).unwrap_or_default(),
                1024,
            );
            Event {
                kind: s(e, "/type").unwrap_or_else(|| "Normal".into()),
                reason: s(e, "/reason").unwrap_or_default(),
                message: mcp_common::redact::redact_text(message)
                    .unwrap_or_else(|| message.to_owned()),
                object: format!(
                    "{}/{}",
                    s(e, "/involvedObject/kind").unwrap_or_default(),
                    s(e, "/involvedObject/name").unwrap_or_default()
                ),
                count: e.get("count").and_then(Value::as_i64).unwrap_or(1),
                first_seen: s(e, "/firstTimestamp").or_else(|| s(e, "/eventTime")),
                last_seen: s(e, "/lastTimestamp")
                    .or_else(|| s(e, "/eventTime"))
                    .or_else(|| s(e, "/metadata/creationTimestamp")),
                source: s(e, "/source/component").or_else(|| s(e, "/reportingComponent")),
            }
        })
        .collect();
    let warnings = events.iter().filter(|e| e.kind == "Warning").count();
    if warnings_only {
        events.retain(|e| e.kind == "Warning");
    }
    // RFC 3339 timestamps in UTC sort as strings.
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    Events {
        application: application.to_owned(),
        warnings,
        events: fit_items(events, limit, max_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_only() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"replicas": 2, "template": {"c": [{"mem": "256Mi"}]}}});
        let desired = json!({"metadata": {"name": "a", "resourceVersion": "9"}, "spec": {"replicas": 3, "template": {"c": [{"mem": "512Mi"}]}}});
        let mut out = Vec::new();
        assert!(!diff("", Some(&live), Some(&desired), &mut out, 10));
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["spec.replicas", "spec.template.c[0].mem"]);
        let mut out = Vec::new();
        assert!(diff("", Some(&live), Some(&desired), &mut out, 1));
        assert_eq!(out.len(), 1);
    }
}

//! The tool router. Read tools in every deployment; write tools (`eks_delete_pod`,
//! `eks_restart_deployment`, `eks_scale_deployment`, `eks_patch_resource`) only with
//! `--access rw`. The Kubernetes permissions each tool needs are declared in [`crate::rbac`].

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use mcp_common::output::{bound_json, cut_str_tail, fit_items};
use mcp_common::redact::redact_text;
use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::diff::{Change, diff};
use crate::error::{Error, KubeResultExt, Op};
use crate::events::{self, EventSummary};
use crate::kinds::{self, ResolvedKind};
use crate::listed;
use crate::pods::{self, PodSummary};
use crate::sanitize::{sanitize_object, secret_keys_only};

/// Rows a list tool returns by default, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;
/// Events read from the API server before sorting newest first.
const EVENTS_FETCH: u32 = 2000;
/// Default and largest `tail_lines` of `eks_get_pod_logs`.
const DEFAULT_TAIL: i64 = 200;
const MAX_TAIL: i64 = 5000;
/// Room left in the byte cap for the fields around a list or a log.
const ENVELOPE_BYTES: usize = 2048;
const FIELD_MANAGER: &str = "mcp-eks";

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListNamespacesArgs {
    /// Only namespaces with these labels, e.g. `team=payments`.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Most namespaces to return (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetPodsArgs {
    /// Namespace to look in, e.g. `production` (required; `eks_list_namespaces` lists them).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Label selector, e.g. `app=payment-service`.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Field selector, e.g. `status.phase!=Running` or `spec.nodeName=ip-10-0-1-12`.
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Most pods to return (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetEventsArgs {
    /// Namespace to look in (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only events about objects of this kind, e.g. `Pod`, `Deployment`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Only events about the object with this name, e.g. `payment-service-abc`.
    #[serde(default)]
    pub name: Option<String>,
    /// Only `Warning` or `Normal` events.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Most events to return, newest first (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetResourceArgs {
    /// Kind, plural or short name: `Deployment`, `pods`, `cm`, or a CRD's kind such as `Rollout`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Object name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace (required for namespaced kinds).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Pin the API version, e.g. `apps/v1` or `argoproj.io/v1alpha1` (default: the preferred one).
    #[serde(default)]
    pub api_version: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListResourcesArgs {
    /// Kind, plural or short name: `Deployment`, `services`, `cm`, or a CRD's kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Pin the API version, e.g. `apps/v1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Namespace; omit for cluster-scoped kinds or to list across all namespaces.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Most objects to return (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (Kubernetes' continue token).
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetPodLogsArgs {
    /// Namespace (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Pod name (required).
    #[serde(default)]
    pub pod: Option<String>,
    /// Container; default like kubectl: the `kubectl.kubernetes.io/default-container`
    /// annotation, else the first container.
    #[serde(default)]
    pub container: Option<String>,
    /// Last lines to return (default 200, at most 5000).
    #[serde(default)]
    pub tail_lines: Option<i64>,
    /// Logs of the previous (crashed) container instance: what it printed before it was killed.
    #[serde(default)]
    pub previous: bool,
    /// Only lines newer than this many seconds.
    #[serde(default)]
    pub since_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetPodMetricsArgs {
    /// Namespace (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only this pod.
    #[serde(default)]
    pub pod: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeletePodArgs {
    /// Namespace (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Pod name (required).
    #[serde(default)]
    pub pod: Option<String>,
    /// Seconds the pod gets to shut down (default: the pod's own terminationGracePeriodSeconds).
    #[serde(default)]
    pub grace_period_seconds: Option<u32>,
    /// Validate on the server (`dryRun=All`) without deleting.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RestartDeploymentArgs {
    /// Namespace (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Deployment name (required).
    #[serde(default)]
    pub name: Option<String>,
    /// Validate on the server (`dryRun=All`) and show the change without applying it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScaleDeploymentArgs {
    /// Namespace (required).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Deployment name (required).
    #[serde(default)]
    pub name: Option<String>,
    /// Desired replicas (0 to 1000; required).
    #[serde(default)]
    pub replicas: Option<i32>,
    /// Validate on the server (`dryRun=All`) without scaling.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PatchResourceArgs {
    /// Kind, plural or short name, e.g. `Deployment`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Namespace (required for namespaced kinds).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Object name (required).
    #[serde(default)]
    pub name: Option<String>,
    /// The patch, a JSON object, e.g.
    /// `{"spec":{"template":{"spec":{"containers":[{"name":"app","resources":{"limits":{"memory":"1Gi"}}}]}}}}`.
    #[serde(default)]
    pub patch: Option<Value>,
    /// `strategic` (default for built-in kinds; lists of containers merge by name) or `merge`
    /// (JSON merge patch, RFC 7386; the default for custom resources).
    #[serde(default)]
    pub patch_type: Option<String>,
    /// Validate on the server (`dryRun=All`) and show what would change without applying it.
    #[serde(default)]
    pub dry_run: bool,
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NamespaceSummary {
    pub name: String,
    /// `Active` or `Terminating`.
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NamespaceList {
    pub namespaces: Vec<NamespaceSummary>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodList {
    pub namespace: String,
    pub pods: Vec<PodSummary>,
    /// True when pods were left out (row or byte cap); page on with `next_cursor`.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventList {
    pub namespace: String,
    /// Newest first.
    pub events: Vec<EventSummary>,
    /// Events that matched, before the cap.
    pub total: usize,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceResult {
    pub kind: String,
    pub api_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// The object as the API server returns it, without `managedFields`, Secret values
    /// (key names only) and credential-looking values.
    pub object: Value,
    /// True when long strings were cut (or the object replaced by a preview) to fit the cap.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceItem {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceList {
    pub kind: String,
    pub api_version: String,
    pub items: Vec<ResourceItem>,
    pub truncated: bool,
    /// Pass back as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodLogs {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub previous: bool,
    /// The log tail, newest line last; credential-looking values redacted.
    pub text: String,
    pub lines: usize,
    /// True when older lines were cut to fit `tail_lines` or the byte cap.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ContainerUsage {
    pub name: String,
    /// CPU as Kubernetes reports it, e.g. `250m` or `1200000n`.
    pub cpu: String,
    /// Memory, e.g. `498Mi` or `510123Ki`.
    pub memory: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodUsage {
    pub pod: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    pub containers: Vec<ContainerUsage>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodMetrics {
    pub namespace: String,
    pub pods: Vec<PodUsage>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeleteResult {
    pub namespace: String,
    pub pod: String,
    pub dry_run: bool,
    /// What happened (or would happen, with dry_run).
    pub message: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WriteResult {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub dry_run: bool,
    pub message: String,
    /// What changed (or would change): paths with the value before and after.
    pub changes: Vec<Change>,
    pub truncated: bool,
}

// ---------------------------------------------------------------------------------------------
// Argument checks

/// A DNS-1123 name (namespaces, pods, most objects): it also keeps names out of URL paths.
fn check_name(arg: &'static str, value: &str) -> Result<(), ToolError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' || c == ':'
        })
        && !value.starts_with(['-', '.'])
        && value != "."
        && value != "..";
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(
            arg,
            format!(
                "`{value}` is not a Kubernetes object name (lower-case letters, digits, `-`, `.`)"
            ),
        ))
    }
}

fn required(arg: &'static str, value: Option<String>, example: &str) -> Result<String, ToolError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) => {
            check_name(arg, &v)?;
            Ok(v)
        }
        None => Err(ToolError::invalid_argument(
            arg,
            format!("required, e.g. `{example}`"),
        )),
    }
}

fn namespace(value: Option<String>) -> Result<String, ToolError> {
    required("namespace", value, "production").map_err(|e| {
        if e.message.contains("required") {
            e.with_hint("eks_list_namespaces lists the namespaces")
        } else {
            e
        }
    })
}

fn optional_name(arg: &'static str, value: Option<String>) -> Result<Option<String>, ToolError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) => {
            check_name(arg, &v)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn limit(asked: Option<u32>) -> u32 {
    asked.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

fn list_params(
    label_selector: Option<String>,
    field_selector: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
) -> ListParams {
    ListParams {
        label_selector: label_selector.filter(|s| !s.trim().is_empty()),
        field_selector: field_selector.filter(|s| !s.trim().is_empty()),
        limit,
        continue_token: cursor.filter(|s| !s.trim().is_empty()),
        ..Default::default()
    }
}

fn next_cursor(meta_continue: Option<String>) -> Option<String> {
    meta_continue.filter(|c| !c.is_empty())
}

/// The byte budget for a list of items inside an envelope.
fn items_budget(max: usize) -> usize {
    max.saturating_sub(ENVELOPE_BYTES).max(1024)
}

fn patch_params(dry_run: bool) -> PatchParams {
    PatchParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    }
}

/// Objects compared for a write's `changes`: sanitized, without bookkeeping fields.
fn comparable(mut v: Value) -> Value {
    sanitize_object(&mut v);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "generation",
            "managedFields",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(k);
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    v
}

fn bounded_changes(changes: Vec<Change>, max: usize) -> (Vec<Change>, bool) {
    let page = fit_items(changes, 200, items_budget(max));
    (page.items, page.truncated)
}

// ---------------------------------------------------------------------------------------------
// The server

/// The Kubernetes backend. Cloned per request; the cluster client and router are shared.
#[derive(Debug, Clone)]
pub struct Eks {
    ctx: ToolContext,
    cluster: Cluster,
    tool_router: Arc<ToolRouter<Self>>,
}

impl Eks {
    pub fn new(ctx: ToolContext, cluster: Cluster) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            cluster,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }

    async fn client(&self) -> Result<kube::Client, ToolError> {
        self.cluster.client().await.map_err(Error::into_tool_error)
    }

    async fn resolve(
        &self,
        kind: Option<String>,
        api_version: Option<&str>,
    ) -> Result<ResolvedKind, ToolError> {
        let kind = kind.filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            ToolError::invalid_argument(
                "kind",
                "required, e.g. `Deployment`, `Pod`, `ConfigMap` or a CRD's kind",
            )
        })?;
        if !kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(ToolError::invalid_argument(
                "kind",
                format!("`{kind}` is not a kind name"),
            ));
        }
        let client = self.client().await?;
        Ok(kinds::resolve(&client, &kind, api_version.filter(|a| !a.trim().is_empty())).await?)
    }

    fn dynamic_api(
        client: kube::Client,
        kind: &ResolvedKind,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, ToolError> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Ok(Api::namespaced_with(client, ns, &kind.ar)),
            (true, None) => Err(ToolError::invalid_argument(
                "namespace",
                format!(
                    "{} is namespaced: pass `namespace` (eks_list_namespaces lists them)",
                    kind.ar.kind
                ),
            )),
            (false, _) => Ok(Api::all_with(client, &kind.ar)),
        }
    }
}

#[tool_router(router = read_tools)]
impl Eks {
    #[tool(
        description = "List namespaces with their phase and age. Bounded (`limit`, default 100); page on with `cursor` = `next_cursor`. Needs list namespaces.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_list_namespaces(
        &self,
        Parameters(a): Parameters<ListNamespacesArgs>,
    ) -> Result<Json<NamespaceList>, ToolError> {
        self.ctx
            .run("eks_list_namespaces", async {
                let client = self.client().await?;
                let api: Api<Namespace> = Api::all(client);
                let list = api
                    .list(&list_params(
                        a.label_selector,
                        None,
                        Some(limit(a.limit)),
                        a.cursor,
                    ))
                    .await
                    .op(Op::new("list", "", "namespaces"))?;
                let now = Timestamp::now();
                let items: Vec<NamespaceSummary> = list
                    .items
                    .iter()
                    .map(|n| NamespaceSummary {
                        name: n.metadata.name.clone().unwrap_or_default(),
                        phase: n
                            .status
                            .as_ref()
                            .and_then(|s| s.phase.clone())
                            .unwrap_or_else(|| "Active".into()),
                        age: n
                            .metadata
                            .creation_timestamp
                            .as_ref()
                            .map(|t| pods::age_since(&t.0, now)),
                    })
                    .collect();
                let page = fit_items(items, MAX_LIMIT as usize, items_budget(self.max_bytes()));
                Ok(Json(NamespaceList {
                    namespaces: page.items,
                    truncated: page.truncated
                        || list
                            .metadata
                            .continue_
                            .as_deref()
                            .is_some_and(|c| !c.is_empty()),
                    next_cursor: next_cursor(list.metadata.continue_),
                }))
            })
            .await
    }

    #[tool(
        description = "Pods of a namespace as an SRE reads them: phase, kubectl-style status (CrashLoopBackOff, ...), ready containers, restarts, the last termination (reason such as OOMKilled, exit code, time), node and age. Filter with `label_selector` (e.g. app=payment-service) and `field_selector`. Bounded (`limit`, `next_cursor`). Needs list pods.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_get_pods(
        &self,
        Parameters(a): Parameters<GetPodsArgs>,
    ) -> Result<Json<PodList>, ToolError> {
        self.ctx
            .run("eks_get_pods", async {
                let ns = namespace(a.namespace)?;
                let client = self.client().await?;
                let list: listed::List<listed::Pod> = listed::list(
                    &client,
                    Pod::url_path(&(), Some(&ns)),
                    &list_params(
                        a.label_selector,
                        a.field_selector,
                        Some(limit(a.limit)),
                        a.cursor,
                    ),
                )
                .await
                .op(Op::new("list", "", "pods").ns(Some(&ns)))?;
                let now = Timestamp::now();
                let summaries: Vec<PodSummary> =
                    list.items.iter().map(|p| pods::summarize(p, now)).collect();
                let page = fit_items(
                    summaries,
                    MAX_LIMIT as usize,
                    items_budget(self.max_bytes()),
                );
                let mut pods = page.items;
                for p in &mut pods {
                    if let Some(t) = &mut p.last_termination
                        && let Some(m) = &t.message
                    {
                        t.message = Some(redact_text(m).unwrap_or_else(|| m.clone()));
                    }
                }
                Ok(Json(PodList {
                    namespace: ns,
                    pods,
                    truncated: page.truncated || list.more().is_some(),
                    next_cursor: list.more().map(str::to_owned),
                }))
            })
            .await
    }

    #[tool(
        description = "Events of a namespace, newest first: type, reason (OOMKilled, BackOff, FailedScheduling, Unhealthy, ...), message, object, count, first/last seen. Filter by involved object `kind` and `name`, and `type` (Warning or Normal). Bounded (`limit`, default 100). Needs list events.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_get_events(
        &self,
        Parameters(a): Parameters<GetEventsArgs>,
    ) -> Result<Json<EventList>, ToolError> {
        self.ctx
            .run("eks_get_events", async {
                let ns = namespace(a.namespace)?;
                let kind = a.kind.filter(|k| !k.trim().is_empty());
                if let Some(k) = &kind
                    && !k.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err(ToolError::invalid_argument(
                        "kind",
                        format!("`{k}` is not a kind, e.g. Pod"),
                    ));
                }
                let name = optional_name("name", a.name)?;
                let event_type = match a.event_type.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(t) if t.eq_ignore_ascii_case("warning") => Some("Warning"),
                    Some(t) if t.eq_ignore_ascii_case("normal") => Some("Normal"),
                    Some(t) => {
                        return Err(ToolError::invalid_argument(
                            "type",
                            format!("`{t}`: use Warning or Normal"),
                        ));
                    }
                };
                let client = self.client().await?;
                let fs = events::field_selector(kind.as_deref(), name.as_deref(), event_type);
                let list: listed::List<listed::Event> = listed::list(
                    &client,
                    Event::url_path(&(), Some(&ns)),
                    &list_params(None, fs, Some(EVENTS_FETCH), None),
                )
                .await
                .op(Op::new("list", "", "events").ns(Some(&ns)))?;
                let more = list.more().is_some();
                let mut items = list.items;
                events::newest_first(&mut items);
                let mut summaries: Vec<EventSummary> =
                    items.iter().map(events::summarize).collect();
                for s in &mut summaries {
                    if let Some(m) = redact_text(&s.message) {
                        s.message = m;
                    }
                }
                let total = summaries.len();
                let page = fit_items(
                    summaries,
                    limit(a.limit) as usize,
                    items_budget(self.max_bytes()),
                );
                Ok(Json(EventList {
                    namespace: ns,
                    events: page.items,
                    total,
                    truncated: page.truncated || more,
                }))
            })
            .await
    }

    #[tool(
        description = "Get one object of any kind, built-in or custom (CRD), found through API discovery: e.g. kind=Deployment name=payment-service namespace=production shows spec.template.spec.containers[].resources.limits.memory. `managedFields` are dropped, Secret values never leave the server (key names only), credential-looking env values are redacted. Needs get on that resource.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_get_resource(
        &self,
        Parameters(a): Parameters<GetResourceArgs>,
    ) -> Result<Json<ResourceResult>, ToolError> {
        self.ctx
            .run("eks_get_resource", async {
                let name = required("name", a.name, "payment-service")?;
                let ns = optional_name("namespace", a.namespace)?;
                let kind = self.resolve(a.kind, a.api_version.as_deref()).await?;
                let api = Self::dynamic_api(self.client().await?, &kind, ns.as_deref())?;
                let obj =
                    api.get(&name)
                        .await
                        .op(Op::new("get", &kind.ar.group, &kind.ar.plural)
                            .ns(ns.as_deref().filter(|_| kind.namespaced))
                            .name(&name))?;
                let mut v = serde_json::to_value(&obj)
                    .map_err(|e| ToolError::upstream("decode the object", e))?;
                if kind.is_secret() {
                    secret_keys_only(&mut v);
                }
                sanitize_object(&mut v);
                let (object, truncated) = bound_json(v, self.max_bytes().saturating_sub(512));
                Ok(Json(ResourceResult {
                    kind: kind.ar.kind.clone(),
                    api_version: kind.ar.api_version.clone(),
                    namespace: ns.filter(|_| kind.namespaced),
                    name,
                    object,
                    truncated,
                }))
            })
            .await
    }

    #[tool(
        description = "List objects of any kind (built-in or CRD, found through API discovery): name, namespace, age, labels. Filter with `label_selector` / `field_selector`; omit `namespace` to list across namespaces. Bounded (`limit`, default 100); page on with `cursor` = `next_cursor` (Kubernetes' continue token). Use eks_get_resource for one object in full. Needs list on that resource.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_list_resources(
        &self,
        Parameters(a): Parameters<ListResourcesArgs>,
    ) -> Result<Json<ResourceList>, ToolError> {
        self.ctx
            .run("eks_list_resources", async {
                let ns = optional_name("namespace", a.namespace)?;
                let kind = self.resolve(a.kind, a.api_version.as_deref()).await?;
                let client = self.client().await?;
                let api: Api<DynamicObject> = match (&ns, kind.namespaced) {
                    (Some(ns), true) => Api::namespaced_with(client, ns, &kind.ar),
                    _ => Api::all_with(client, &kind.ar),
                };
                let list = api
                    .list(&list_params(
                        a.label_selector,
                        a.field_selector,
                        Some(limit(a.limit)),
                        a.cursor,
                    ))
                    .await
                    .op(Op::new("list", &kind.ar.group, &kind.ar.plural)
                        .ns(ns.as_deref().filter(|_| kind.namespaced)))?;
                let now = Timestamp::now();
                let items: Vec<ResourceItem> = list
                    .items
                    .iter()
                    .map(|o| ResourceItem {
                        name: o.metadata.name.clone().unwrap_or_default(),
                        namespace: o.metadata.namespace.clone(),
                        age: o
                            .metadata
                            .creation_timestamp
                            .as_ref()
                            .map(|t| pods::age_since(&t.0, now)),
                        labels: o.metadata.labels.clone().filter(|l| !l.is_empty()),
                    })
                    .collect();
                let page = fit_items(items, MAX_LIMIT as usize, items_budget(self.max_bytes()));
                Ok(Json(ResourceList {
                    kind: kind.ar.kind.clone(),
                    api_version: kind.ar.api_version.clone(),
                    items: page.items,
                    truncated: page.truncated
                        || list
                            .metadata
                            .continue_
                            .as_deref()
                            .is_some_and(|c| !c.is_empty()),
                    next_cursor: next_cursor(list.metadata.continue_),
                }))
            })
            .await
    }

    #[tool(
        description = "Tail of a pod's logs (default the last 200 lines). `previous: true` reads the previous, crashed container instance: what it printed before it was OOMKilled or exited. The container defaults like kubectl (default-container annotation, else the first). `since_seconds` narrows the window. Bounded by bytes (older lines cut, `truncated`); credential-looking values redacted. Needs get pods and get pods/log.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_get_pod_logs(
        &self,
        Parameters(a): Parameters<GetPodLogsArgs>,
    ) -> Result<Json<PodLogs>, ToolError> {
        self.ctx
            .run("eks_get_pod_logs", async {
                let ns = namespace(a.namespace)?;
                let pod_name = required("pod", a.pod, "payment-service-abc")?;
                let tail = a.tail_lines.unwrap_or(DEFAULT_TAIL);
                if !(1..=MAX_TAIL).contains(&tail) {
                    return Err(ToolError::invalid_argument("tail_lines", format!("{tail}: use 1 to {MAX_TAIL}")));
                }
                if a.since_seconds.is_some_and(|s| s <= 0) {
                    return Err(ToolError::invalid_argument("since_seconds", "must be positive"));
                }
                let client = self.client().await?;
                let api: Api<Pod> = Api::namespaced(client, &ns);
                let pod = api.get(&pod_name).await.op(Op::new("get", "", "pods").ns(Some(&ns)).name(&pod_name))?;
                let (container, note) = pods::default_container(&pod, a.container.as_deref())
                    .map_err(|e| ToolError::invalid_argument("container", e))?;
                let lp = LogParams {
                    container: Some(container.clone()),
                    previous: a.previous,
                    tail_lines: Some(tail),
                    since_seconds: a.since_seconds,
                    ..Default::default()
                };
                let text = api.logs(&pod_name, &lp).await.op(Op::new("get", "", "pods/log").ns(Some(&ns)).name(&pod_name))
                    .map_err(|e| {
                        let code = e.status_code();
                        let mut t = e.into_tool_error();
                        if code == Some(400) {
                            t = t.with_hint(if a.previous {
                                "there is no previous instance of this container (it has not restarted); call again without `previous`"
                            } else {
                                "the container has not started yet or has no logs; check eks_get_pods and eks_get_events"
                            });
                        }
                        t
                    })?;
                let mut notes: Vec<String> = note.into_iter().collect();
                let clean = redact_text(&text).unwrap_or(text);
                let budget = self.max_bytes().saturating_sub(ENVELOPE_BYTES).max(1024);
                let (kept, cut) = cut_str_tail(&clean, budget);
                let returned_lines = kept.lines().count();
                let truncated = cut || returned_lines as i64 >= tail;
                if cut {
                    notes.push(format!("older lines cut to stay within {budget} bytes; lower tail_lines or use since_seconds"));
                }
                if kept.is_empty() {
                    notes.push("the container printed nothing in this window".into());
                }
                Ok(Json(PodLogs {
                    namespace: ns,
                    pod: pod_name,
                    container,
                    previous: a.previous,
                    lines: returned_lines,
                    text: kept.to_owned(),
                    truncated,
                    notes,
                }))
            })
            .await
    }

    #[tool(
        description = "Current CPU and memory use of a namespace's pods per container, from metrics.k8s.io (metrics-server). When the cluster serves no metrics.k8s.io the error says so; use the Prometheus backend then. Needs list pods in apiGroup metrics.k8s.io.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_get_pod_metrics(
        &self,
        Parameters(a): Parameters<GetPodMetricsArgs>,
    ) -> Result<Json<PodMetrics>, ToolError> {
        self.ctx
            .run("eks_get_pod_metrics", async {
                let ns = namespace(a.namespace)?;
                let pod = optional_name("pod", a.pod)?;
                let client = self.client().await?;
                let ar = ApiResource {
                    group: "metrics.k8s.io".into(),
                    version: "v1beta1".into(),
                    api_version: "metrics.k8s.io/v1beta1".into(),
                    kind: "PodMetrics".into(),
                    plural: "pods".into(),
                };
                let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &ar);
                let op = Op::new("list", "metrics.k8s.io", "pods").ns(Some(&ns));
                let items: Vec<DynamicObject> = match &pod {
                    Some(p) => vec![
                        api.get(p)
                            .await
                            .op(op.clone().name(p))
                            .map_err(|e| metrics_error(e, true))?,
                    ],
                    None => {
                        api.list(&list_params(a.label_selector, None, Some(MAX_LIMIT), None))
                            .await
                            .op(op.clone())
                            .map_err(|e| metrics_error(e, false))?
                            .items
                    }
                };
                let usage: Vec<PodUsage> = items.into_iter().map(pod_usage).collect();
                let page = fit_items(usage, MAX_LIMIT as usize, items_budget(self.max_bytes()));
                Ok(Json(PodMetrics {
                    namespace: ns,
                    pods: page.items,
                    truncated: page.truncated,
                }))
            })
            .await
    }
}

/// metrics.k8s.io answers 404 (or 503 from a broken APIService) when metrics-server is absent.
fn metrics_error(e: Error, one_pod: bool) -> ToolError {
    match e.status_code() {
        Some(404) if !one_pod => metrics_absent(),
        Some(503) => metrics_absent(),
        Some(404) => {
            let t = e.into_tool_error();
            if t.message.contains("could not find the requested resource")
                || t.message.contains("the server could not find")
            {
                metrics_absent()
            } else {
                t.with_hint("no metrics for this pod yet (metrics-server scrapes every ~15 s), or metrics-server is not installed")
            }
        }
        _ => e.into_tool_error(),
    }
}

fn metrics_absent() -> ToolError {
    ToolError::new("pod metrics are not available: this cluster does not serve the metrics.k8s.io API (metrics-server is not installed or not ready)")
        .with_hint("use the Prometheus backend (container_memory_working_set_bytes, container_cpu_usage_seconds_total) or ask an operator to install metrics-server")
}

fn pod_usage(o: DynamicObject) -> PodUsage {
    let d = &o.data;
    let containers = d["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| ContainerUsage {
                    name: c["name"].as_str().unwrap_or_default().to_owned(),
                    cpu: c["usage"]["cpu"].as_str().unwrap_or_default().to_owned(),
                    memory: c["usage"]["memory"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    PodUsage {
        pod: o.metadata.name.clone().unwrap_or_default(),
        timestamp: d["timestamp"].as_str().map(str::to_owned),
        window: d["window"].as_str().map(str::to_owned),
        containers,
    }
}

#[tool_router(router = write_tools)]
impl Eks {
    #[tool(
        description = "Delete one pod (its controller, e.g. the Deployment's ReplicaSet, creates a replacement). `dry_run: true` asks the API server to validate the delete (`dryRun=All`) without deleting. Needs delete pods.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn eks_delete_pod(
        &self,
        Parameters(a): Parameters<DeletePodArgs>,
    ) -> Result<Json<DeleteResult>, ToolError> {
        self.ctx
            .run("eks_delete_pod", async {
                let ns = namespace(a.namespace)?;
                let pod = required("pod", a.pod, "payment-service-abc")?;
                let client = self.client().await?;
                let api: Api<Pod> = Api::namespaced(client, &ns);
                let dp = DeleteParams {
                    dry_run: a.dry_run,
                    grace_period_seconds: a.grace_period_seconds,
                    ..Default::default()
                };
                api.delete(&pod, &dp)
                    .await
                    .op(Op::new("delete", "", "pods").ns(Some(&ns)).name(&pod))?;
                let message = if a.dry_run {
                    format!("dry run: the API server accepted deleting pod {pod} in {ns}; nothing was deleted")
                } else {
                    format!("pod {pod} in {ns} is being deleted; its controller (if any) creates a replacement")
                };
                Ok(Json(DeleteResult { namespace: ns, pod, dry_run: a.dry_run, message }))
            })
            .await
    }

    #[tool(
        description = "Rolling restart of a Deployment, as `kubectl rollout restart`: sets the `kubectl.kubernetes.io/restartedAt` annotation on the pod template, so pods are replaced one by one under the Deployment's rollout strategy. Returns what changed. `dry_run: true` validates on the server (`dryRun=All`) without restarting. Needs get and patch deployments.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn eks_restart_deployment(
        &self,
        Parameters(a): Parameters<RestartDeploymentArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("eks_restart_deployment", async {
                let ns = namespace(a.namespace)?;
                let name = required("name", a.name, "payment-service")?;
                let client = self.client().await?;
                let api: Api<Deployment> = Api::namespaced(client, &ns);
                let before = api.get(&name).await.op(Op::new("get", "apps", "deployments").ns(Some(&ns)).name(&name))?;
                let now = Timestamp::now().to_string();
                let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
                    "kubectl.kubernetes.io/restartedAt": now
                }}}}});
                let after = api
                    .patch(&name, &patch_params(a.dry_run), &Patch::Strategic(&patch))
                    .await
                    .op(Op::new("patch", "apps", "deployments").ns(Some(&ns)).name(&name))?;
                let changes = diff(
                    &comparable(serde_json::to_value(&before).unwrap_or_default()),
                    &comparable(serde_json::to_value(&after).unwrap_or_default()),
                );
                let (changes, truncated) = bounded_changes(changes, self.max_bytes());
                Ok(Json(WriteResult {
                    kind: "Deployment".into(),
                    namespace: Some(ns.clone()),
                    name: name.clone(),
                    dry_run: a.dry_run,
                    message: if a.dry_run {
                        format!("dry run: the API server accepted restarting deployment {name} in {ns}; nothing changed")
                    } else {
                        format!("deployment {name} in {ns} is restarting (restartedAt {now}); watch with eks_get_pods")
                    },
                    changes,
                    truncated,
                }))
            })
            .await
    }

    #[tool(
        description = "Set a Deployment's replicas through its scale subresource. Returns the replicas before and after. `dry_run: true` validates on the server (`dryRun=All`) without scaling. Needs get and patch deployments/scale.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_scale_deployment(
        &self,
        Parameters(a): Parameters<ScaleDeploymentArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("eks_scale_deployment", async {
                let ns = namespace(a.namespace)?;
                let name = required("name", a.name, "payment-service")?;
                let replicas = a.replicas.ok_or_else(|| ToolError::invalid_argument("replicas", "required, e.g. 3"))?;
                if !(0..=1000).contains(&replicas) {
                    return Err(ToolError::invalid_argument("replicas", format!("{replicas}: use 0 to 1000")));
                }
                let client = self.client().await?;
                let api: Api<Deployment> = Api::namespaced(client, &ns);
                let before = api
                    .get_scale(&name)
                    .await
                    .op(Op::new("get", "apps", "deployments/scale").ns(Some(&ns)).name(&name))?;
                let patch = serde_json::json!({"spec": {"replicas": replicas}});
                let after = api
                    .patch_scale(&name, &patch_params(a.dry_run), &Patch::Merge(&patch))
                    .await
                    .op(Op::new("patch", "apps", "deployments/scale").ns(Some(&ns)).name(&name))?;
                let was = before.spec.as_ref().and_then(|s| s.replicas).unwrap_or_default();
                let now = after.spec.as_ref().and_then(|s| s.replicas).unwrap_or(replicas);
                let changes = if was == now {
                    Vec::new()
                } else {
                    vec![Change { path: "spec.replicas".into(), before: Some(was.into()), after: Some(now.into()) }]
                };
                Ok(Json(WriteResult {
                    kind: "Deployment".into(),
                    namespace: Some(ns.clone()),
                    name: name.clone(),
                    dry_run: a.dry_run,
                    message: match (a.dry_run, was == now) {
                        (_, true) => format!("deployment {name} in {ns} already has {now} replicas; nothing to change"),
                        (true, false) => format!("dry run: the API server accepted scaling deployment {name} in {ns} from {was} to {now}; nothing changed"),
                        (false, false) => format!("deployment {name} in {ns} scaled from {was} to {now} replicas"),
                    },
                    changes,
                    truncated: false,
                }))
            })
            .await
    }

    #[tool(
        description = "Patch an object of any kind: `patch_type` `strategic` (default for built-in kinds; container lists merge by name) or `merge` (JSON merge patch; default for custom resources). E.g. raise a memory limit: kind=Deployment, patch={\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}}]}}}}. Returns the changed paths with before/after values. `dry_run: true` validates on the server (`dryRun=All`) and shows what would change. Needs get and patch on that resource.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn eks_patch_resource(
        &self,
        Parameters(a): Parameters<PatchResourceArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("eks_patch_resource", async {
                let name = required("name", a.name, "payment-service")?;
                let ns = optional_name("namespace", a.namespace)?;
                let patch = match a.patch {
                    Some(Value::Object(m)) if !m.is_empty() => Value::Object(m),
                    Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => return Err(ToolError::invalid_argument("patch", "must be a JSON object")),
                    },
                    _ => return Err(ToolError::invalid_argument("patch", "required: a non-empty JSON object, e.g. {\"spec\":{\"replicas\":3}}")),
                };
                let kind = self.resolve(a.kind, a.api_version.as_deref()).await?;
                if kind.is_secret() {
                    return Err(ToolError::invalid_argument("kind", "Secrets cannot be patched through this server (their values never pass through it)"));
                }
                let builtin = kinds::builtin(&kind.ar.kind, Some(&kind.ar.api_version)).is_some();
                let patch_type = match a.patch_type.as_deref().map(str::trim) {
                    None | Some("") => if builtin { "strategic" } else { "merge" },
                    Some("strategic") => "strategic",
                    Some("merge") => "merge",
                    Some(t) => return Err(ToolError::invalid_argument("patch_type", format!("`{t}`: use strategic or merge"))),
                };
                let api = Self::dynamic_api(self.client().await?, &kind, ns.as_deref())?;
                let op = |verb| Op::new(verb, &kind.ar.group, &kind.ar.plural).ns(ns.as_deref().filter(|_| kind.namespaced)).name(&name);
                let before = api.get(&name).await.op(op("get"))?;
                let p = if patch_type == "strategic" { Patch::Strategic(&patch) } else { Patch::Merge(&patch) };
                let after = api.patch(&name, &patch_params(a.dry_run), &p).await.op(op("patch")).map_err(|e| {
                    let code = e.status_code();
                    let t = e.into_tool_error();
                    if code == Some(415) {
                        t.with_hint("this kind does not support strategic merge patches (custom resources do not); use patch_type merge")
                    } else {
                        t
                    }
                })?;
                let changes = diff(
                    &comparable(serde_json::to_value(&before).unwrap_or_default()),
                    &comparable(serde_json::to_value(&after).unwrap_or_default()),
                );
                let (changes, truncated) = bounded_changes(changes, self.max_bytes());
                let message = match (a.dry_run, changes.is_empty()) {
                    (_, true) => format!("the {patch_type} patch changes nothing on {} {name}", kind.ar.kind),
                    (true, false) => format!("dry run: the API server accepted the {patch_type} patch of {} {name}; {} field(s) would change; nothing was changed", kind.ar.kind, changes.len()),
                    (false, false) => format!("{} {name} patched ({patch_type}); {} field(s) changed", kind.ar.kind, changes.len()),
                };
                Ok(Json(WriteResult {
                    kind: kind.ar.kind.clone(),
                    namespace: ns.filter(|_| kind.namespaced),
                    name,
                    dry_run: a.dry_run,
                    message,
                    changes,
                    truncated,
                }))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Eks {
    fn get_info(&self) -> ServerConfig {
        let access = if self.ctx.access.is_rw() {
            "read-write: eks_delete_pod, eks_restart_deployment, eks_scale_deployment and eks_patch_resource are available, each with dry_run"
        } else {
            "read-only"
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-eks", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Kubernetes for environment {} ({access}). For a crash-looping service start with eks_get_pods (restarts, last termination such as OOMKilled), then eks_get_events, eks_get_resource on its Deployment (resources.limits), and eks_get_pod_logs with previous=true. Secret values never leave this server.",
                self.ctx.environment
            ))
    }
}

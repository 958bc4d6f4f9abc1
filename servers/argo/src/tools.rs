//! The tool router. View tools need the Argo CD RBAC permission `applications, get`; sync
//! tools (`--access rw` only) need `applications, sync` (policies/argocd/).

use std::sync::Arc;

use mcp_common::output::fit_items;
use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::shape::{self, AppDetail, AppSummary, Events, History, ManagedResources, ResourceTree};
use crate::upstream::Upstream;

const PERMISSION_GET: &str = "applications, get";
const PERMISSION_SYNC: &str = "applications, sync";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Only applications of these Argo CD projects.
    #[serde(default)]
    pub project: Vec<String>,
    /// Kubernetes label selector on the Application objects, e.g. `team=payments`.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Only applications deploying into this destination namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only `Synced`, `OutOfSync` or `Unknown` applications.
    #[serde(default)]
    pub sync_status: Option<String>,
    /// Only `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown` ones.
    #[serde(default)]
    pub health_status: Option<String>,
    /// Only applications whose name contains this text.
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Most applications to return (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AppArgs {
    /// Application name.
    pub name: String,
    /// Namespace of the Application object when it is not in Argo CD's own namespace
    /// (apps in any namespace).
    #[serde(default)]
    pub app_namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TreeArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Only nodes of this kind (`Pod`, `Deployment`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Only nodes whose health is not `Healthy`.
    #[serde(default)]
    pub unhealthy_only: bool,
    /// Most nodes (default 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Most entries (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ManagedArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Include resources that match their desired state too (default: only drifted ones).
    #[serde(default)]
    pub include_synced: bool,
    /// Most resources (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventsArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Events of one managed resource instead of the Application object: its name ...
    #[serde(default)]
    pub resource_name: Option<String>,
    /// ... its namespace ...
    #[serde(default)]
    pub resource_namespace: Option<String>,
    /// ... and its UID (from argo_get_resource_tree is not needed; Argo CD accepts name and namespace).
    #[serde(default)]
    pub resource_uid: Option<String>,
    /// Only `Warning` events.
    #[serde(default)]
    pub warnings_only: bool,
    /// Most events (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SyncArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Revision (commit, tag, branch) to sync to; default the application's target revision.
    #[serde(default)]
    pub revision: Option<String>,
    /// Delete live resources that are no longer in Git.
    #[serde(default)]
    pub prune: bool,
    /// Ask Argo CD for a dry run (nothing is applied) and list the drifted resources the sync
    /// would change.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RollbackArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// History id to roll back to (`id` from argo_get_application_history).
    pub id: i64,
    /// Delete resources that the old revision did not have.
    #[serde(default)]
    pub prune: bool,
    /// Ask Argo CD for a dry run: nothing is applied.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefreshArgs {
    /// Application name.
    pub name: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Hard refresh: also invalidate the manifest cache (regenerate from Git).
    #[serde(default)]
    pub hard: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AppList {
    pub applications: mcp_common::output::Page<AppSummary>,
    /// Counts over all matching applications.
    pub out_of_sync: usize,
    pub degraded: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OperationResult {
    pub application: String,
    /// `sync`, `rollback` or `refresh`.
    pub operation: String,
    pub dry_run: bool,
    /// What was asked of Argo CD.
    pub request: Value,
    /// The application as Argo CD answered (status right after the request; the operation
    /// runs asynchronously: follow with argo_get_application).
    pub status: AppSummary,
    /// Resources the sync would change (dry run of a sync).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_change: Option<ManagedResources>,
    pub message: String,
}

/// The Argo CD backend. Cloned per request; the client and router are shared.
#[derive(Debug, Clone)]
pub struct Argo {
    ctx: ToolContext,
    upstream: Upstream,
    tool_router: Arc<ToolRouter<Self>>,
}

/// Kubernetes object names: DNS subdomain characters only (so a name can never reach another
/// API path).
fn check_name(arg: &str, v: &str) -> Result<(), ToolError> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(
            arg,
            format!("`{v}` is not a Kubernetes name (lowercase letters, digits, `-`, `.`)"),
        ))
    }
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

fn target(name: &str, app_namespace: Option<&str>) -> Result<String, ToolError> {
    check_name("name", name)?;
    if let Some(ns) = app_namespace {
        check_name("app_namespace", ns)?;
        return Ok(format!("{ns}/{name}"));
    }
    Ok(name.to_owned())
}

impl Argo {
    pub fn new(ctx: ToolContext, upstream: Upstream) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            upstream,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes.saturating_sub(512)
    }

    async fn application(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        refresh: Option<&str>,
    ) -> Result<Value, ToolError> {
        let what = format!("get application {}", target(name, app_namespace)?);
        let mut query = Vec::new();
        if let Some(ns) = app_namespace {
            query.push(("appNamespace", ns));
        }
        if let Some(r) = refresh {
            query.push(("refresh", r));
        }
        self.upstream
            .get(&["applications", name], &query)
            .await
            .map_err(|e| e.into_tool_error(&what, PERMISSION_GET))
    }

    async fn managed_resources(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        include_synced: bool,
        limit: usize,
    ) -> Result<ManagedResources, ToolError> {
        let what = format!("get managed resources of {}", target(name, app_namespace)?);
        let query: Vec<(&str, &str)> = app_namespace
            .map(|ns| ("appNamespace", ns))
            .into_iter()
            .collect();
        let list: Value = self
            .upstream
            .get(&["applications", name, "managed-resources"], &query)
            .await
            .map_err(|e| e.into_tool_error(&what, PERMISSION_GET))?;
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .map(|a| a.as_slice())
            .unwrap_or_default();
        Ok(shape::managed(
            name,
            items,
            !include_synced,
            limit,
            self.max_bytes(),
        ))
    }
}

#[tool_router(router = read_tools)]
impl Argo {
    #[tool(
        description = "List Argo CD applications with sync status (Synced/OutOfSync), health (Healthy/Degraded/...), source, target revision and destination. Filters: project, label_selector, namespace (destination), sync_status, health_status, name_contains. Bounded (`limit`, `truncated`, `next_cursor`). Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_list_applications(
        &self,
        Parameters(a): Parameters<ListArgs>,
    ) -> Result<Json<AppList>, ToolError> {
        self.ctx
            .run("argo_list_applications", async {
                one_of(
                    "sync_status",
                    a.sync_status.as_deref(),
                    &["Synced", "OutOfSync", "Unknown"],
                )?;
                one_of(
                    "health_status",
                    a.health_status.as_deref(),
                    &[
                        "Healthy",
                        "Progressing",
                        "Degraded",
                        "Suspended",
                        "Missing",
                        "Unknown",
                    ],
                )?;
                let offset: usize = match a.cursor.as_deref() {
                    None | Some("") => 0,
                    Some(c) => c.parse().map_err(|_| {
                        ToolError::invalid_argument(
                            "cursor",
                            "pass back the `next_cursor` of the previous page",
                        )
                    })?,
                };
                let limit = a.limit.unwrap_or(100).clamp(1, 500);
                let mut query: Vec<(&str, &str)> =
                    a.project.iter().map(|p| ("projects", p.as_str())).collect();
                if let Some(sel) = a.label_selector.as_deref().filter(|s| !s.is_empty()) {
                    query.push(("selector", sel));
                }
                let list: Value = self
                    .upstream
                    .get(&["applications"], &query)
                    .await
                    .map_err(|e| e.into_tool_error("list applications", PERMISSION_GET))?;
                let mut apps: Vec<AppSummary> = list
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(shape::summary)
                    .filter(|s| {
                        a.namespace
                            .as_deref()
                            .is_none_or(|ns| s.destination_namespace.as_deref() == Some(ns))
                    })
                    .filter(|s| a.sync_status.as_deref().is_none_or(|x| s.sync_status == x))
                    .filter(|s| {
                        a.health_status
                            .as_deref()
                            .is_none_or(|x| s.health_status == x)
                    })
                    .filter(|s| {
                        a.name_contains
                            .as_deref()
                            .is_none_or(|x| s.name.contains(x))
                    })
                    .collect();
                apps.sort_by(|x, y| x.name.cmp(&y.name));
                let out_of_sync = apps.iter().filter(|s| s.sync_status == "OutOfSync").count();
                let degraded = apps
                    .iter()
                    .filter(|s| s.health_status == "Degraded")
                    .count();
                let total = apps.len();
                let rest: Vec<AppSummary> = apps.into_iter().skip(offset).collect();
                let mut page = fit_items(rest, limit, self.max_bytes());
                if page.truncated {
                    page.next_cursor = Some((offset + page.items.len()).to_string());
                }
                page.total = Some(total);
                Ok(Json(AppList {
                    applications: page,
                    out_of_sync,
                    degraded,
                }))
            })
            .await
    }

    #[tool(
        description = "One Argo CD application: sync status and revision, health and its message, source and target revision, container images, conditions (errors and warnings), the last operation (phase, message, who started it) and the managed resources that are out of sync or unhealthy. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_get_application(
        &self,
        Parameters(a): Parameters<AppArgs>,
    ) -> Result<Json<AppDetail>, ToolError> {
        self.ctx
            .run("argo_get_application", async {
                let app = self
                    .application(&a.name, a.app_namespace.as_deref(), None)
                    .await?;
                Ok(Json(shape::detail(&app, self.max_bytes())))
            })
            .await
    }

    #[tool(
        description = "The resource tree of an Argo CD application: every Kubernetes object it owns down to ReplicaSets and Pods, with health, owner, images and Argo CD's info (pod phase, restarts). Unhealthy nodes first; filter by `kind` or `unhealthy_only`. Bounded. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_get_resource_tree(
        &self,
        Parameters(a): Parameters<TreeArgs>,
    ) -> Result<Json<ResourceTree>, ToolError> {
        self.ctx
            .run("argo_get_resource_tree", async {
                let what = format!(
                    "get resource tree of {}",
                    target(&a.name, a.app_namespace.as_deref())?
                );
                let query: Vec<(&str, &str)> = a
                    .app_namespace
                    .as_deref()
                    .map(|ns| ("appNamespace", ns))
                    .into_iter()
                    .collect();
                let tree: Value = self
                    .upstream
                    .get(&["applications", &a.name, "resource-tree"], &query)
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_GET))?;
                Ok(Json(shape::tree(
                    &a.name,
                    &tree,
                    a.kind.as_deref(),
                    a.unhealthy_only,
                    a.limit.unwrap_or(200).clamp(1, 1000),
                    self.max_bytes(),
                )))
            })
            .await
    }

    #[tool(
        description = "Deployment history of an Argo CD application, newest first: history id (for argo_rollback_application), revision, when it was deployed and by whom. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_get_application_history(
        &self,
        Parameters(a): Parameters<HistoryArgs>,
    ) -> Result<Json<History>, ToolError> {
        self.ctx
            .run("argo_get_application_history", async {
                let app = self
                    .application(&a.name, a.app_namespace.as_deref(), None)
                    .await?;
                Ok(Json(shape::history(
                    &app,
                    a.limit.unwrap_or(20).clamp(1, 200),
                    self.max_bytes(),
                )))
            })
            .await
    }

    #[tool(
        description = "Drift of an Argo CD application: for each managed resource whose live state differs from the desired state in Git, the differing fields (path, live value, desired value), plus resources that are missing or extra. Only drifted resources unless include_synced. Credential-looking values are redacted. Bounded. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_get_managed_resources(
        &self,
        Parameters(a): Parameters<ManagedArgs>,
    ) -> Result<Json<ManagedResources>, ToolError> {
        self.ctx
            .run("argo_get_managed_resources", async {
                Ok(Json(
                    self.managed_resources(
                        &a.name,
                        a.app_namespace.as_deref(),
                        a.include_synced,
                        a.limit.unwrap_or(50).clamp(1, 500),
                    )
                    .await?,
                ))
            })
            .await
    }

    #[tool(
        description = "Kubernetes events of an Argo CD application (sync started/succeeded/failed, health changes), or of one of its managed resources (resource_name, resource_namespace). Newest first; `warnings_only`. Bounded. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_get_application_events(
        &self,
        Parameters(a): Parameters<EventsArgs>,
    ) -> Result<Json<Events>, ToolError> {
        self.ctx
            .run("argo_get_application_events", async {
                let what = format!(
                    "get events of {}",
                    target(&a.name, a.app_namespace.as_deref())?
                );
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(ns) = a.app_namespace.as_deref() {
                    query.push(("appNamespace", ns));
                }
                if let Some(n) = a.resource_name.as_deref() {
                    check_name("resource_name", n)?;
                    query.push(("resourceName", n));
                }
                if let Some(n) = a.resource_namespace.as_deref() {
                    check_name("resource_namespace", n)?;
                    query.push(("resourceNamespace", n));
                }
                if let Some(u) = a.resource_uid.as_deref() {
                    query.push(("resourceUID", u));
                }
                let list: Value = self
                    .upstream
                    .get(&["applications", &a.name, "events"], &query)
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_GET))?;
                Ok(Json(shape::events(
                    &a.name,
                    &list,
                    a.warnings_only,
                    a.limit.unwrap_or(50).clamp(1, 500),
                    self.max_bytes(),
                )))
            })
            .await
    }
}

#[tool_router(router = write_tools)]
impl Argo {
    #[tool(
        description = "Sync an Argo CD application to Git (or to `revision`), optionally pruning resources no longer in Git. dry_run asks Argo CD for a dry run (nothing applied) and lists the drifted resources the sync would change. The operation runs asynchronously: follow it with argo_get_application. Needs Argo CD RBAC `applications, sync`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn argo_sync_application(
        &self,
        Parameters(a): Parameters<SyncArgs>,
    ) -> Result<Json<OperationResult>, ToolError> {
        self.ctx
            .run("argo_sync_application", async {
                let t = target(&a.name, a.app_namespace.as_deref())?;
                let mut body = json!({"name": a.name, "prune": a.prune, "dryRun": a.dry_run});
                if let Some(r) = a.revision.as_deref().filter(|r| !r.is_empty()) {
                    body["revision"] = json!(r);
                }
                if let Some(ns) = a.app_namespace.as_deref() {
                    body["appNamespace"] = json!(ns);
                }
                let app: Value = self
                    .upstream
                    .post(&["applications", &a.name, "sync"], &body)
                    .await
                    .map_err(|e| e.into_tool_error(&format!("sync application {t}"), PERMISSION_SYNC))?;
                let would_change = if a.dry_run {
                    Some(self.managed_resources(&a.name, a.app_namespace.as_deref(), false, 50).await?)
                } else {
                    None
                };
                let message = if a.dry_run {
                    format!("dry run of a sync of {t} requested: nothing is applied; `would_change` lists the drifted resources")
                } else {
                    format!("sync of {t} started; follow it with argo_get_application")
                };
                Ok(Json(OperationResult {
                    application: t,
                    operation: "sync".into(),
                    dry_run: a.dry_run,
                    request: body,
                    status: shape::summary(&app),
                    would_change,
                    message,
                }))
            })
            .await
    }

    #[tool(
        description = "Roll an Argo CD application back to a previous deployment (`id` from argo_get_application_history). Argo CD refuses while automated sync is enabled. dry_run asks Argo CD for a dry run: nothing applied. Needs Argo CD RBAC `applications, sync`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn argo_rollback_application(
        &self,
        Parameters(a): Parameters<RollbackArgs>,
    ) -> Result<Json<OperationResult>, ToolError> {
        self.ctx
            .run("argo_rollback_application", async {
                let t = target(&a.name, a.app_namespace.as_deref())?;
                if a.id < 0 {
                    return Err(ToolError::invalid_argument("id", "use an `id` from argo_get_application_history"));
                }
                let mut body = json!({"name": a.name, "id": a.id, "prune": a.prune, "dryRun": a.dry_run});
                if let Some(ns) = a.app_namespace.as_deref() {
                    body["appNamespace"] = json!(ns);
                }
                let app: Value = self
                    .upstream
                    .post(&["applications", &a.name, "rollback"], &body)
                    .await
                    .map_err(|e| e.into_tool_error(&format!("roll back application {t} to history id {}", a.id), PERMISSION_SYNC))?;
                let message = if a.dry_run {
                    format!("dry run of a rollback of {t} to history id {} requested: nothing is applied", a.id)
                } else {
                    format!("rollback of {t} to history id {} started; follow it with argo_get_application", a.id)
                };
                Ok(Json(OperationResult {
                    application: t,
                    operation: "rollback".into(),
                    dry_run: a.dry_run,
                    request: body,
                    status: shape::summary(&app),
                    would_change: None,
                    message,
                }))
            })
            .await
    }

    #[tool(
        description = "Refresh an Argo CD application: compare the cluster with Git again now instead of at the next reconcile (`hard` also regenerates manifests). Changes nothing in the cluster. Needs Argo CD RBAC `applications, get`.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn argo_refresh_application(
        &self,
        Parameters(a): Parameters<RefreshArgs>,
    ) -> Result<Json<OperationResult>, ToolError> {
        self.ctx
            .run("argo_refresh_application", async {
                let t = target(&a.name, a.app_namespace.as_deref())?;
                let kind = if a.hard { "hard" } else { "normal" };
                let app = self
                    .application(&a.name, a.app_namespace.as_deref(), Some(kind))
                    .await?;
                Ok(Json(OperationResult {
                    application: t.clone(),
                    operation: "refresh".into(),
                    dry_run: false,
                    request: json!({"refresh": kind}),
                    status: shape::summary(&app),
                    would_change: None,
                    message: format!("{kind} refresh of {t} requested"),
                }))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Argo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-argo", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Argo CD for environment {} ({}). Start with argo_list_applications (health_status=Degraded, sync_status=OutOfSync), then argo_get_application, argo_get_resource_tree and argo_get_managed_resources for drift.{}",
                self.ctx.environment,
                self.ctx.access,
                if self.ctx.access.is_rw() {
                    " Sync and rollback accept dry_run; try it first."
                } else {
                    ""
                }
            ))
    }
}

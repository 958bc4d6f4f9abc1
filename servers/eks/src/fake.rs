//! An HTTP fake of the Kubernetes API for end-to-end tests (no real API server runs here).
//!
//! It serves the seed's incident (`payment-service` in `production`: a Deployment with
//! `limits.memory: 512Mi`, pods crash-looping with 47 restarts after OOMKills, the events, logs
//! ending in "DB connection pool exhausted", a Secret) over the real API paths, with discovery
//! (`/api`, `/apis`, group versions, a CRD group), list paging (`limit` + `continue`), label and
//! field selectors, `dryRun=All`, merge and strategic-merge patches, the scale subresource and
//! pod logs. It authenticates bearer tokens and **authorizes every request with the shipped
//! ClusterRoles** ([`crate::rbac`]): [`VIEWER_TOKEN`] acts as a ServiceAccount bound to
//! `mcp-viewer`, [`EDITOR_TOKEN`] to `mcp-editor`, [`ADMIN_TOKEN`] to cluster-admin; a refusal is
//! the API server's own 403 `Status`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::rbac::ClusterRole;

pub const VIEWER_TOKEN: &str = "fake-token-mcp-viewer";
pub const EDITOR_TOKEN: &str = "fake-token-mcp-editor";
pub const ADMIN_TOKEN: &str = "fake-token-cluster-admin";

/// One resource type the fake serves.
#[derive(Debug, Clone)]
struct ResourceType {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
}

const fn rt(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        subresources,
    }
}

const TYPES: &[ResourceType] = &[
    rt("", "v1", "namespaces", "Namespace", false, &["ns"], &[]),
    rt("", "v1", "pods", "Pod", true, &["po"], &["log"]),
    rt("", "v1", "events", "Event", true, &["ev"], &[]),
    rt("", "v1", "secrets", "Secret", true, &[], &[]),
    rt("", "v1", "configmaps", "ConfigMap", true, &["cm"], &[]),
    rt("", "v1", "services", "Service", true, &["svc"], &[]),
    rt("", "v1", "nodes", "Node", false, &["no"], &[]),
    rt(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        &["scale", "status"],
    ),
    rt(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        &["scale"],
    ),
    rt(
        "argoproj.io",
        "v1alpha1",
        "rollouts",
        "Rollout",
        true,
        &["ro"],
        &[],
    ),
];

const METRICS_TYPE: ResourceType = rt(
    "metrics.k8s.io",
    "v1beta1",
    "pods",
    "PodMetrics",
    true,
    &[],
    &[],
);

/// An object of the store.
#[derive(Debug, Clone)]
struct Stored {
    group: String,
    plural: String,
    namespace: Option<String>,
    name: String,
    value: Value,
}

#[derive(Debug, Default)]
struct Store {
    objects: Vec<Stored>,
    /// (namespace, pod, container, previous) -> log text
    logs: BTreeMap<(String, String, String, bool), String>,
    resource_version: u64,
    metrics: bool,
    /// The latest requests: `METHOD path?query` (tests assert on writes, e.g. `dryRun=All`).
    requests: RequestLog,
}

/// The most recent [`RequestLog::CAP`] requests, oldest first: bounded, since a fake started by
/// hand (`mcp-bench fake-kube`) may serve for hours.
#[derive(Debug, Default)]
struct RequestLog(std::collections::VecDeque<String>);

impl RequestLog {
    const CAP: usize = 10_000;

    fn push(&mut self, line: String) {
        if self.0.len() == Self::CAP {
            self.0.pop_front();
        }
        self.0.push_back(line);
    }

    fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// A running fake API server. Dropping it stops it.
#[derive(Debug)]
pub struct FakeApiServer {
    pub addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct AppState {
    store: Arc<Mutex<Store>>,
    roles: Arc<Vec<(&'static str, &'static str, ClusterRole)>>,
}

impl FakeApiServer {
    /// Starts on a free loopback port with the incident's objects.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(false).await
    }

    /// `metrics`: also serve metrics.k8s.io (as if metrics-server were installed).
    pub async fn start_with(metrics: bool) -> std::io::Result<Self> {
        let mut store = Store {
            metrics,
            resource_version: 1000,
            ..Default::default()
        };
        seed(&mut store);
        let store = Arc::new(Mutex::new(store));
        let state = AppState {
            store: store.clone(),
            roles: Arc::new(vec![
                (VIEWER_TOKEN, "mcp-viewer", ClusterRole::viewer()),
                (EDITOR_TOKEN, "mcp-editor", ClusterRole::editor()),
                (ADMIN_TOKEN, "cluster-admin", ClusterRole::cluster_admin()),
            ]),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, store, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server authenticating with `token`.
    pub fn client(&self, token: &str) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("loopback url"));
        config.default_namespace = "default".into();
        config.auth_info.token = Some(secrecy::SecretString::from(token.to_owned()));
        kube::Client::try_from(config).expect("kube client for the fake")
    }

    /// A kubeconfig file content pointing at this server with `token`.
    pub fn kubeconfig(&self, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: sa\n    namespace: production\ncurrent-context: fake\n",
            self.url()
        )
    }

    /// The stored object, if present.
    pub fn object(
        &self,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let s = self.store.lock().expect("store");
        s.objects
            .iter()
            .find(|o| {
                o.group == group
                    && o.plural == plural
                    && o.namespace.as_deref() == namespace
                    && o.name == name
            })
            .map(|o| o.value.clone())
    }

    /// Requests served so far, `METHOD path?query`, oldest first (the latest
    /// `RequestLog::CAP`, 10,000).
    pub fn requests(&self) -> Vec<String> {
        self.store.lock().expect("store").requests.to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// The incident

fn seed(s: &mut Store) {
    let ts = "2026-11-27T18:00:00Z";
    for ns in ["production", "staging", "kube-system", "default"] {
        put(
            s,
            "",
            "namespaces",
            None,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "creationTimestamp": "2026-01-10T09:00:00Z", "labels": {"kubernetes.io/metadata.name": ns}},
            "status": {"phase": "Active"}}),
        );
    }
    let env = json!([
        {"name": "DB_HOST", "value": "payments-db.production.svc.cluster.local"},
        {"name": "DB_POOL_SIZE", "value": "50"},
        {"name": "DB_PASSWORD", "value": "hunter2-prod"},
        {"name": "DATABASE_URL", "value": "postgres://payments:s3cr3t-url@payments-db:5432/payments"},
        {"name": "STRIPE_API_KEY", "valueFrom": {"secretKeyRef": {"name": "payment-secrets", "key": "stripe-api-key"}}}
    ]);
    put(
        s,
        "apps",
        "deployments",
        Some("production"),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "payment-service", "namespace": "production", "uid": "d-1", "generation": 12,
                "creationTimestamp": "2026-09-01T10:00:00Z", "labels": {"app": "payment-service"},
                "annotations": {"deployment.kubernetes.io/revision": "12",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"env\":[{\"name\":\"DB_PASSWORD\",\"value\":\"hunter2-prod\"}]}]}}}}"},
                "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1"}]},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "payment-service"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {"app": "payment-service"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example.com/payment-service:1.4.2",
                        "ports": [{"containerPort": 8080}], "env": env,
                        "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}, "requests": {"memory": "256Mi", "cpu": "250m"}}}]}}},
            "status": {"replicas": 3, "readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 2, "observedGeneration": 12}
        }),
    );
    let pods = [
        ("payment-service-abc", 47, false, "ip-10-0-1-12"),
        ("payment-service-def", 45, false, "ip-10-0-2-7"),
        ("payment-service-ghi", 2, true, "ip-10-0-3-3"),
    ];
    for (name, restarts, ready, node) in pods {
        let state = if ready {
            json!({"running": {"startedAt": "2026-11-27T19:40:00Z"}})
        } else {
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=app"}})
        };
        put(
            s,
            "",
            "pods",
            Some("production"),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "production", "uid": format!("p-{name}"), "creationTimestamp": ts,
                    "labels": {"app": "payment-service", "pod-template-hash": "7d9f"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payment-service-7d9f", "uid": "rs-1", "controller": true}],
                    "managedFields": [{"manager": "kubelet", "operation": "Update"}]},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example.com/payment-service:1.4.2", "env": env,
                    "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}}}]},
                "status": {"phase": "Running", "podIP": "10.0.1.23", "startTime": ts,
                    "containerStatuses": [{"name": "app", "ready": ready, "restartCount": restarts, "image": "registry.example.com/payment-service:1.4.2", "imageID": "",
                        "state": state,
                        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                            "startedAt": "2026-11-27T19:58:00Z", "finishedAt": "2026-11-27T19:59:30Z"}}}]}
            }),
        );
        let current = "2026-11-27T20:00:01Z INFO starting payment-service 1.4.2\n2026-11-27T20:00:02Z INFO connecting to postgres://payments:s3cr3t-url@payments-db:5432/payments\n2026-11-27T20:00:03Z INFO DB pool: 50 connections\n2026-11-27T20:00:40Z WARN DB connection pool at 100% (50/50), 212 waiting\n2026-11-27T20:00:41Z ERROR DB connection pool exhausted\n";
        let previous = "2026-11-27T19:58:01Z INFO starting payment-service 1.4.2\n2026-11-27T19:58:30Z WARN heap at 480Mi of 512Mi\n2026-11-27T19:59:10Z WARN DB connection pool at 100% (50/50), 340 waiting\n2026-11-27T19:59:29Z ERROR DB connection pool exhausted\n";
        s.logs.insert(
            ("production".into(), name.into(), "app".into(), false),
            current.into(),
        );
        if restarts > 0 {
            s.logs.insert(
                ("production".into(), name.into(), "app".into(), true),
                previous.into(),
            );
        }
    }
    let events = [
        (
            "payment-service-abc.oom",
            "Warning",
            "OOMKilled",
            47,
            "payment-service-abc",
            "Container app in pod payment-service-abc was OOMKilled: memory limit 512Mi reached",
            "2026-11-27T19:59:30Z",
        ),
        (
            "payment-service-abc.backoff",
            "Warning",
            "BackOff",
            212,
            "payment-service-abc",
            "Back-off restarting failed container app in pod payment-service-abc",
            "2026-11-27T19:59:50Z",
        ),
        (
            "payment-service-def.oom",
            "Warning",
            "OOMKilled",
            45,
            "payment-service-def",
            "Container app in pod payment-service-def was OOMKilled: memory limit 512Mi reached",
            "2026-11-27T19:57:00Z",
        ),
        (
            "payment-service-abc.pulled",
            "Normal",
            "Pulled",
            47,
            "payment-service-abc",
            "Container image \"registry.example.com/payment-service:1.4.2\" already present on machine",
            "2026-11-27T19:58:00Z",
        ),
    ];
    for (id, ty, reason, count, pod, msg, last) in events {
        put(
            s,
            "",
            "events",
            Some("production"),
            json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": id, "namespace": "production", "creationTimestamp": "2026-11-27T18:05:00Z"},
                "involvedObject": {"kind": "Pod", "name": pod, "namespace": "production", "apiVersion": "v1"},
                "type": ty, "reason": reason, "message": msg, "count": count,
                "source": {"component": "kubelet", "host": "ip-10-0-1-12"},
                "firstTimestamp": "2026-11-27T18:05:00Z", "lastTimestamp": last
            }),
        );
    }
    put(
        s,
        "",
        "secrets",
        Some("production"),
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "payment-secrets", "namespace": "production", "creationTimestamp": "2026-09-01T10:00:00Z"},
            "data": {"stripe-api-key": "c2tfbGl2ZV9zZWNyZXRfdmFsdWU=", "db-password": "aHVudGVyMi1wcm9k"}
        }),
    );
    put(
        s,
        "",
        "configmaps",
        Some("production"),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "payment-config", "namespace": "production", "creationTimestamp": "2026-09-01T10:00:00Z"},
            "data": {"DB_POOL_SIZE": "50", "LOG_LEVEL": "info"}
        }),
    );
    put(
        s,
        "argoproj.io",
        "rollouts",
        Some("production"),
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "payment-service-canary", "namespace": "production", "creationTimestamp": "2026-10-01T10:00:00Z"},
            "spec": {"replicas": 1, "strategy": {"canary": {"steps": [{"setWeight": 10}]}}}
        }),
    );
    for (name, mem) in [
        ("payment-service-abc", "509Mi"),
        ("payment-service-def", "498Mi"),
        ("payment-service-ghi", "311Mi"),
    ] {
        put(
            s,
            "metrics.k8s.io",
            "pods",
            Some("production"),
            json!({
                "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                "metadata": {"name": name, "namespace": "production", "creationTimestamp": "2026-11-27T20:00:00Z"},
                "timestamp": "2026-11-27T20:00:00Z", "window": "15s",
                "containers": [{"name": "app", "usage": {"cpu": "412m", "memory": mem}}]
            }),
        );
    }
}

fn put(s: &mut Store, group: &str, plural: &str, namespace: Option<&str>, mut value: Value) {
    s.resource_version += 1;
    value["metadata"]["resourceVersion"] = json!(s.resource_version.to_string());
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    s.objects.push(Stored {
        group: group.into(),
        plural: plural.into(),
        namespace: namespace.map(str::to_owned),
        name,
        value,
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn status(code: StatusCode, reason: &str, message: String, details: Option<Value>) -> Response {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    if let Some(d) = details {
        body["details"] = d;
    }
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn not_found_path() -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource".into(),
        None,
    )
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn types(store_metrics: bool) -> Vec<ResourceType> {
    let mut t = TYPES.to_vec();
    if store_metrics {
        t.push(METRICS_TYPE);
    }
    t
}

fn resource_list(group_version: &str, types: &[ResourceType]) -> Value {
    let mut resources = Vec::new();
    for t in types {
        let verbs = if t.group == "metrics.k8s.io" {
            json!(["get", "list"])
        } else {
            json!([
                "create", "delete", "get", "list", "patch", "update", "watch"
            ])
        };
        resources.push(json!({"name": t.plural, "singularName": t.kind.to_lowercase(), "namespaced": t.namespaced,
            "kind": t.kind, "verbs": verbs, "shortNames": t.short}));
        for sub in t.subresources {
            let kind = if *sub == "scale" { "Scale" } else { t.kind };
            resources.push(json!({"name": format!("{}/{sub}", t.plural), "singularName": "", "namespaced": t.namespaced,
                "kind": kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // DeleteOptions travel in the body (kube sends `{"dryRun":["All"]}` there).
    let body_dry_run = method == Method::DELETE
        && serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|b| b.get("dryRun").cloned())
            .is_some_and(|d| d.as_array().is_some_and(|a| a.iter().any(|x| x == "All")));
    {
        let mut s = state.store.lock().expect("store");
        let line = format!(
            "{method} {}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        s.requests.push(if body_dry_run {
            format!("{line} (body dryRun=All)")
        } else {
            line
        });
    }
    // Authentication: a known bearer token.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some((_, role_name, role)) = state.roles.iter().find(|(t, _, _)| *t == token) else {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized".into(),
            None,
        );
    };
    let user = format!("system:serviceaccount:mcp:{role_name}");
    let metrics = state.store.lock().expect("store").metrics;
    let all_types = types(metrics);
    let segs: Vec<&str> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();

    // Discovery (every authenticated user may read it, as with system:discovery).
    match segs.as_slice() {
        ["version"] => {
            return ok_json(
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "platform": "linux/amd64"}),
            );
        }
        ["api"] => {
            return ok_json(
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        ["apis"] => {
            let mut groups: Vec<(&str, &str)> = all_types
                .iter()
                .filter(|t| !t.group.is_empty())
                .map(|t| (t.group, t.version))
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(g, v)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            return ok_json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}));
        }
        ["api", "v1"] => {
            let core: Vec<ResourceType> = all_types
                .iter()
                .filter(|t| t.group.is_empty())
                .cloned()
                .collect();
            return ok_json(resource_list("v1", &core));
        }
        ["apis", g, v] => {
            let ts: Vec<ResourceType> = all_types
                .iter()
                .filter(|t| t.group == *g && t.version == *v)
                .cloned()
                .collect();
            if ts.is_empty() {
                return not_found_path();
            }
            return ok_json(resource_list(&format!("{g}/{v}"), &ts));
        }
        _ => {}
    }

    // Resource requests.
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return not_found_path(),
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] => (
            Some(*ns),
            *plural,
            tail.first().copied(),
            tail.get(1).copied(),
        ),
        [plural, tail @ ..] => (None, *plural, tail.first().copied(), tail.get(1).copied()),
        [] => return not_found_path(),
    };
    let Some(ty) = all_types
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
    else {
        return not_found_path();
    };
    if let Some(sb) = sub
        && !ty.subresources.contains(&sb)
    {
        return not_found_path();
    }
    let q = query_map(&uri);
    let verb = match (&method, name) {
        (&Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        (&Method::PATCH, _) => "patch",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        _ => {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "method not allowed".into(),
                None,
            );
        }
    };
    let rbac_resource = match sub {
        Some(sb) => format!("{plural}/{sb}"),
        None => plural.to_owned(),
    };
    // Authorization by the shipped ClusterRole.
    if !role.allows(verb, group, &rbac_resource, name) {
        let subject = match name {
            Some(n) => format!("{plural} \"{n}\" is forbidden"),
            None => format!("{plural} is forbidden"),
        };
        let scope = match namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".into(),
        };
        let mut details = json!({"kind": plural});
        if let Some(n) = name {
            details["name"] = json!(n);
        }
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "{subject}: User \"{user}\" cannot {verb} resource \"{rbac_resource}\" in API group \"{group}\"{scope}"
            ),
            Some(details),
        );
    }
    if ty.namespaced && namespace.is_none() && name.is_some() {
        return not_found_path();
    }
    let dry_run = body_dry_run || q.get("dryRun").is_some_and(|d| d == "All");
    let mut s = state.store.lock().expect("store");
    match verb {
        "list" => list(&s, ty, namespace, &q),
        "get" => {
            let name = name.expect("get has a name");
            if sub == Some("log") {
                return logs(&s, namespace.unwrap_or_default(), name, &q);
            }
            match find(&s, ty, namespace, name) {
                Some(i) => {
                    let v = s.objects[i].value.clone();
                    if sub == Some("scale") {
                        ok_json(scale_of(&v))
                    } else {
                        ok_json(v)
                    }
                }
                None => not_found(ty, name),
            }
        }
        "delete" => {
            let name = name.expect("delete has a name");
            match find(&s, ty, namespace, name) {
                Some(i) => {
                    let v = s.objects[i].value.clone();
                    if !dry_run {
                        s.objects.remove(i);
                    }
                    ok_json(v)
                }
                None => not_found(ty, name),
            }
        }
        "patch" => {
            let Some(name) = name else {
                return not_found_path();
            };
            let Some(i) = find(&s, ty, namespace, name) else {
                return not_found(ty, name);
            };
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let strategic = ct.starts_with("application/strategic-merge-patch+json");
            if strategic && ty.group == "argoproj.io" {
                return status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (content type {ct})"
                    ),
                    None,
                );
            }
            if !strategic && !ct.starts_with("application/merge-patch+json") {
                return status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!("unsupported patch type {ct}"),
                    None,
                );
            }
            let patch: Value = match serde_json::from_slice(&body) {
                Ok(p @ Value::Object(_)) => p,
                _ => {
                    return status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "the patch is not a JSON object".into(),
                        None,
                    );
                }
            };
            let mut v = s.objects[i].value.clone();
            if sub == Some("scale") {
                match patch.pointer("/spec/replicas").and_then(Value::as_i64) {
                    Some(r) if r >= 0 => v["spec"]["replicas"] = json!(r),
                    _ => {
                        return status(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Invalid",
                            "spec.replicas: Invalid value: must be a non-negative integer".into(),
                            None,
                        );
                    }
                }
            } else {
                merge(&mut v, &patch, strategic);
            }
            if v["spec"]["replicas"].as_i64().is_some_and(|r| r < 0) {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "spec.replicas: Invalid value: must be greater than or equal to 0".into(),
                    None,
                );
            }
            if v != s.objects[i].value {
                s.resource_version += 1;
                v["metadata"]["resourceVersion"] = json!(s.resource_version.to_string());
                if sub.is_none() && v.get("spec") != s.objects[i].value.get("spec") {
                    let g = v["metadata"]["generation"].as_i64().unwrap_or(1);
                    v["metadata"]["generation"] = json!(g + 1);
                }
            }
            if !dry_run {
                s.objects[i].value = v.clone();
            }
            if sub == Some("scale") {
                ok_json(scale_of(&v))
            } else {
                ok_json(v)
            }
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{verb} is not implemented by the fake"),
            None,
        ),
    }
}

fn find(s: &Store, ty: &ResourceType, namespace: Option<&str>, name: &str) -> Option<usize> {
    s.objects.iter().position(|o| {
        o.group == ty.group
            && o.plural == ty.plural
            && o.name == name
            && (!ty.namespaced || o.namespace.as_deref() == namespace)
    })
}

fn not_found(ty: &ResourceType, name: &str) -> Response {
    let res = if ty.group.is_empty() {
        ty.plural.to_owned()
    } else {
        format!("{}.{}", ty.plural, ty.group)
    };
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{res} \"{name}\" not found"),
        Some(json!({"name": name, "kind": ty.plural})),
    )
}

fn scale_of(v: &Value) -> Value {
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": v["metadata"]["name"], "namespace": v["metadata"]["namespace"], "resourceVersion": v["metadata"]["resourceVersion"]},
        "spec": {"replicas": v["spec"]["replicas"]},
        "status": {"replicas": v["status"]["replicas"], "selector": "app=payment-service"}})
}

fn field(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn selector_matches(v: &Value, selector: &str, labels: bool) -> bool {
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|term| {
            let term = term.trim();
            let (key, want, negate) = if let Some((k, w)) = term.split_once("!=") {
                (k, Some(w), true)
            } else if let Some((k, w)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (k, Some(w), false)
            } else {
                (term, None, false)
            };
            let have = if labels {
                v["metadata"]["labels"][key.trim()]
                    .as_str()
                    .map(str::to_owned)
            } else {
                field(v, key.trim())
            };
            match want {
                None => have.is_some(),
                Some(w) => (have.as_deref() == Some(w.trim())) != negate,
            }
        })
}

fn list(
    s: &Store,
    ty: &ResourceType,
    namespace: Option<&str>,
    q: &BTreeMap<String, String>,
) -> Response {
    let mut items: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| {
            o.group == ty.group
                && o.plural == ty.plural
                && (namespace.is_none() || o.namespace.as_deref() == namespace)
        })
        .map(|o| o.value.clone())
        .filter(|v| {
            q.get("labelSelector")
                .is_none_or(|sel| selector_matches(v, sel, true))
        })
        .filter(|v| {
            q.get("fieldSelector")
                .is_none_or(|sel| selector_matches(v, sel, false))
        })
        .collect();
    let start: usize = match q.get("continue") {
        Some(c) if !c.is_empty() => match c
            .strip_prefix("fake-continue-")
            .and_then(|n| n.parse().ok())
        {
            Some(n) => n,
            None => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "continue key is not valid".into(),
                    None,
                );
            }
        },
        _ => 0,
    };
    let total = items.len();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    items = items.into_iter().skip(start).take(limit).collect();
    let end = start + items.len();
    let mut metadata = json!({"resourceVersion": s.resource_version.to_string()});
    if end < total {
        metadata["continue"] = json!(format!("fake-continue-{end}"));
        metadata["remainingItemCount"] = json!(total - end);
    }
    let api_version = if ty.group.is_empty() {
        ty.version.to_owned()
    } else {
        format!("{}/{}", ty.group, ty.version)
    };
    ok_json(
        json!({"kind": format!("{}List", ty.kind), "apiVersion": api_version, "metadata": metadata, "items": items}),
    )
}

fn logs(s: &Store, namespace: &str, pod: &str, q: &BTreeMap<String, String>) -> Response {
    let Some(p) = s.objects.iter().find(|o| {
        o.plural == "pods"
            && o.group.is_empty()
            && o.namespace.as_deref() == Some(namespace)
            && o.name == pod
    }) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("pods \"{pod}\" not found"),
            None,
        );
    };
    let containers: Vec<String> = p.value["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    containers.join(" ")
                ),
                None,
            );
        }
    };
    if !containers.contains(&container) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("container {container} is not valid for pod {pod}"),
            None,
        );
    }
    let previous = q.get("previous").is_some_and(|p| p == "true");
    let Some(text) = s.logs.get(&(
        namespace.to_owned(),
        pod.to_owned(),
        container.clone(),
        previous,
    )) else {
        let msg = if previous {
            format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")
        } else {
            format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
            )
        };
        return status(StatusCode::BAD_REQUEST, "BadRequest", msg, None);
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail: usize = q
        .get("tailLines")
        .and_then(|t| t.parse().ok())
        .unwrap_or(lines.len());
    let kept = &lines[lines.len().saturating_sub(tail)..];
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], out).into_response()
}

/// JSON merge patch (RFC 7386); `strategic` also merges lists of objects by their `name`, as
/// strategic merge does for containers, env and ports.
fn merge(target: &mut Value, patch: &Value, strategic: bool) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, pv) in p {
                if pv.is_null() {
                    t.remove(k);
                    continue;
                }
                match t.get_mut(k) {
                    Some(tv) => merge(tv, pv, strategic),
                    None => {
                        let mut fresh = Value::Null;
                        merge(&mut fresh, pv, strategic);
                        t.insert(k.clone(), fresh);
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if strategic
                && p.iter().all(|x| x.get("name").is_some())
                && t.iter().all(|x| x.get("name").is_some()) =>
        {
            for pv in p {
                match t.iter_mut().find(|x| x.get("name") == pv.get("name")) {
                    Some(tv) => merge(tv, pv, strategic),
                    None => t.push(pv.clone()),
                }
            }
        }
        (t, p) => {
            if let Value::Object(pm) = p {
                let mut obj = Value::Object(serde_json::Map::new());
                for (k, v) in pm {
                    if !v.is_null() {
                        let mut fresh = Value::Null;
                        merge(&mut fresh, v, strategic);
                        obj[k] = fresh;
                    }
                }
                *t = obj;
            } else {
                *t = p.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RequestLog;

    #[test]
    fn the_request_log_keeps_the_latest_requests_in_order() {
        let mut log = RequestLog::default();
        for i in 0..RequestLog::CAP + 5 {
            log.push(format!("GET /{i}"));
        }
        let v = log.to_vec();
        assert_eq!(v.len(), RequestLog::CAP);
        assert_eq!(v[0], "GET /5");
        assert_eq!(
            v[RequestLog::CAP - 1],
            format!("GET /{}", RequestLog::CAP + 4)
        );
    }
}

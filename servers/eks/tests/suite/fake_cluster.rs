//! End to end over MCP streamable HTTP (rmcp client) against the project's fake Kubernetes API
//! (`mcp_eks::fake`), which serves the seed's incident and enforces the shipped ClusterRoles by
//! bearer token.

use std::net::SocketAddr;

use clap::Parser;
use mcp_eks::fake::{ADMIN_TOKEN, EDITOR_TOKEN, FakeApiServer, VIEWER_TOKEN};
use mcp_test_support::{Client, client, tool_names};
use serde_json::{Value, json};

async fn backend(fake: &FakeApiServer, token: &str, access: &str) -> SocketAddr {
    mcp_common::telemetry::init();
    let args = mcp_eks::Args::parse_from([
        "mcp-eks",
        "--env",
        "test",
        "--allowed-host",
        "*",
        "--access",
        access,
    ]);
    let cluster = mcp_eks::Cluster::from_client(fake.client(token));
    let (server, handler) = mcp_eks::build_with(args.server, cluster);
    let app = server.app(handler);
    mcp_test_support::serve(app).await
}

async fn setup(token: &str, access: &str) -> (FakeApiServer, Client) {
    let fake = FakeApiServer::start().await.unwrap();
    let addr = backend(&fake, token, access).await;
    (fake, client(addr).await)
}

async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, "").await
}

async fn err(c: &Client, tool: &str, args: Value) -> String {
    mcp_test_support::error_text(c, tool, args, "").await
}

fn catalog(k: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(include_str!("../../../../policies/tools.json")).unwrap();
    let mut l: Vec<String> = v["eks"][k]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    l.sort();
    l
}

#[tokio::test]
async fn tools_list_matches_the_catalog_and_ro_has_no_write_tool() {
    let (fake, ro) = setup(VIEWER_TOKEN, "ro").await;
    assert_eq!(tool_names(&ro).await, catalog("read"));
    let rw = client(backend(&fake, EDITOR_TOKEN, "rw").await).await;
    let mut all = [catalog("read"), catalog("write")].concat();
    all.sort();
    assert_eq!(tool_names(&rw).await, all);
    for t in rw.list_all_tools().await.unwrap() {
        let a = t
            .annotations
            .clone()
            .unwrap_or_else(|| panic!("{} has no annotations", t.name));
        assert!(
            a.read_only_hint.is_some()
                && a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{}",
            t.name
        );
        assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
        let write = catalog("write").contains(&t.name.to_string());
        assert_eq!(a.read_only_hint, Some(!write), "{}", t.name);
    }
}

#[tokio::test]
async fn the_incident_flow_with_the_viewer_role() {
    let (fake, c) = setup(VIEWER_TOKEN, "ro").await;

    let pods = ok(
        &c,
        "eks_get_pods",
        json!({"namespace": "production", "label_selector": "app=payment-service"}),
    )
    .await;
    let abc = pods["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "payment-service-abc")
        .expect("pod abc");
    assert_eq!(abc["restarts"], 47);
    assert_eq!(abc["status"], "CrashLoopBackOff");
    assert_eq!(abc["ready"], "0/1");
    assert_eq!(abc["last_termination"]["reason"], "OOMKilled");
    assert_eq!(abc["last_termination"]["exit_code"], 137);
    assert_eq!(abc["node"], "ip-10-0-1-12");
    assert!(!pods.to_string().contains("hunter2"), "{pods}");

    let events = ok(&c, "eks_get_events", json!({"namespace": "production", "kind": "Pod", "name": "payment-service-abc", "type": "Warning"})).await;
    let ev = events["events"].as_array().unwrap();
    assert_eq!(ev.len(), 2, "{events}");
    assert_eq!(ev[0]["reason"], "BackOff", "newest first: {events}");
    assert_eq!(ev[1]["reason"], "OOMKilled");
    assert_eq!(ev[1]["count"], 47);
    let q = fake
        .requests()
        .into_iter()
        .find(|r| r.contains("/events"))
        .unwrap();
    assert!(q.contains("fieldSelector=involvedObject.kind%3DPod%2CinvolvedObject.name%3Dpayment-service-abc%2Ctype%3DWarning"), "{q}");

    let dep = ok(
        &c,
        "eks_get_resource",
        json!({"kind": "Deployment", "name": "payment-service", "namespace": "production"}),
    )
    .await;
    assert_eq!(dep["api_version"], "apps/v1");
    let container = &dep["object"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
    let text = dep.to_string();
    assert!(!text.contains("managedFields"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("s3cr3t-url"), "{text}");
    let env = container["env"].as_array().unwrap();
    assert_eq!(
        env.iter().find(|e| e["name"] == "DB_PASSWORD").unwrap()["value"],
        "[REDACTED]"
    );
    assert_eq!(
        env.iter().find(|e| e["name"] == "DB_HOST").unwrap()["value"],
        "payments-db.production.svc.cluster.local"
    );

    let logs = ok(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-abc", "previous": true}),
    )
    .await;
    assert_eq!(logs["container"], "app");
    assert!(
        logs["text"]
            .as_str()
            .unwrap()
            .trim_end()
            .ends_with("DB connection pool exhausted"),
        "{logs}"
    );
    let current = ok(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-abc", "tail_lines": 2}),
    )
    .await;
    assert_eq!(current["lines"], 2);
    assert!(current["truncated"].as_bool().unwrap());
    let all = ok(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-abc"}),
    )
    .await;
    assert!(
        !all["text"].as_str().unwrap().contains("s3cr3t-url"),
        "{all}"
    );
}

#[tokio::test]
async fn secrets_are_refused_to_the_viewer_and_key_names_only_otherwise() {
    let (fake, viewer) = setup(VIEWER_TOKEN, "ro").await;
    let e = err(
        &viewer,
        "eks_get_resource",
        json!({"kind": "Secret", "name": "payment-secrets", "namespace": "production"}),
    )
    .await;
    assert!(
        e.contains("permission denied: get secrets in namespace production"),
        "{e}"
    );
    let admin = client(backend(&fake, ADMIN_TOKEN, "ro").await).await;
    let s = ok(
        &admin,
        "eks_get_resource",
        json!({"kind": "secret", "name": "payment-secrets", "namespace": "production"}),
    )
    .await;
    assert_eq!(
        s["object"]["data"],
        json!(["db-password", "stripe-api-key"])
    );
    let text = s.to_string();
    assert!(
        !text.contains("aHVudGVyMi1wcm9k") && !text.contains("c2tfbGl2ZV9"),
        "{text}"
    );
}

#[tokio::test]
async fn layer_two_on_its_own_rw_binary_with_the_viewer_token_cannot_delete() {
    let (fake, c) = setup(VIEWER_TOKEN, "rw").await;
    let e = err(
        &c,
        "eks_delete_pod",
        json!({"namespace": "production", "pod": "payment-service-abc"}),
    )
    .await;
    assert!(
        e.contains("permission denied: delete pods in namespace production"),
        "{e}"
    );
    assert!(e.contains("lacks `delete` on `pods`"), "{e}");
    assert!(e.contains("403"), "{e}");
    assert!(
        fake.object("", "pods", Some("production"), "payment-service-abc")
            .is_some(),
        "the pod is still there"
    );
    let e = err(
        &c,
        "eks_scale_deployment",
        json!({"namespace": "production", "name": "payment-service", "replicas": 5}),
    )
    .await;
    assert!(
        e.contains("permission denied: patch deployments/scale"),
        "{e}"
    );
}

#[tokio::test]
async fn writes_with_the_editor_role_and_dry_run() {
    let (fake, c) = setup(EDITOR_TOKEN, "rw").await;
    // dry run: the server validates, nothing changes
    let r = ok(
        &c,
        "eks_delete_pod",
        json!({"namespace": "production", "pod": "payment-service-abc", "dry_run": true}),
    )
    .await;
    assert_eq!(r["dry_run"], true);
    assert!(
        fake.object("", "pods", Some("production"), "payment-service-abc")
            .is_some()
    );
    assert!(
        fake.requests().iter().any(|r| r
            .starts_with("DELETE /api/v1/namespaces/production/pods/payment-service-abc")
            && r.ends_with("(body dryRun=All)")),
        "{:?}",
        fake.requests()
    );
    ok(
        &c,
        "eks_delete_pod",
        json!({"namespace": "production", "pod": "payment-service-abc"}),
    )
    .await;
    assert!(
        fake.object("", "pods", Some("production"), "payment-service-abc")
            .is_none()
    );

    let r = ok(
        &c,
        "eks_restart_deployment",
        json!({"namespace": "production", "name": "payment-service", "dry_run": true}),
    )
    .await;
    assert_eq!(
        r["changes"][0]["path"], "spec.template.metadata.annotations",
        "{r}"
    );
    let stored = fake
        .object("apps", "deployments", Some("production"), "payment-service")
        .unwrap();
    assert!(
        stored["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none(),
        "dry run changed nothing"
    );
    ok(
        &c,
        "eks_restart_deployment",
        json!({"namespace": "production", "name": "payment-service"}),
    )
    .await;
    let stored = fake
        .object("apps", "deployments", Some("production"), "payment-service")
        .unwrap();
    assert!(
        stored["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );

    let r = ok(
        &c,
        "eks_scale_deployment",
        json!({"namespace": "production", "name": "payment-service", "replicas": 5}),
    )
    .await;
    assert_eq!(
        r["changes"][0],
        json!({"path": "spec.replicas", "before": 3, "after": 5})
    );
    assert_eq!(
        fake.object("apps", "deployments", Some("production"), "payment-service")
            .unwrap()["spec"]["replicas"],
        5
    );

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}}}});
    let r = ok(&c, "eks_patch_resource", json!({"kind": "Deployment", "namespace": "production", "name": "payment-service", "patch": patch, "dry_run": true})).await;
    let ch = r["changes"].as_array().unwrap();
    assert!(
        ch.iter().any(
            |c| c["path"] == "spec.template.spec.containers[0].resources.limits.memory"
                && c["before"] == "512Mi"
                && c["after"] == "1Gi"
        ),
        "{r}"
    );
    let stored = fake
        .object("apps", "deployments", Some("production"), "payment-service")
        .unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/payment-service:1.4.2"
    );
    ok(&c, "eks_patch_resource", json!({"kind": "deploy", "namespace": "production", "name": "payment-service", "patch": patch})).await;
    let stored = fake
        .object("apps", "deployments", Some("production"), "payment-service")
        .unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "1Gi"
    );
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "strategic merge kept the env"
    );
    let r = ok(&c, "eks_patch_resource", json!({"kind": "ConfigMap", "namespace": "production", "name": "payment-config", "patch": {"data": {"LOG_LEVEL": "debug"}}, "patch_type": "merge"})).await;
    assert_eq!(
        r["changes"],
        json!([{"path": "data.LOG_LEVEL", "before": "info", "after": "debug"}])
    );
    let e = err(&c, "eks_patch_resource", json!({"kind": "Secret", "namespace": "production", "name": "payment-secrets", "patch": {"data": {"x": "eQ=="}}})).await;
    assert!(e.contains("Secrets cannot be patched"), "{e}");
    // writes outside mcp-editor's rules are refused by Kubernetes, naming the verb
    let e = err(&c, "eks_patch_resource", json!({"kind": "Rollout", "namespace": "production", "name": "payment-service-canary", "patch": {"spec": {"replicas": 2}}})).await;
    assert!(
        e.contains("permission denied: get rollouts")
            || e.contains("permission denied: patch rollouts"),
        "{e}"
    );
}

#[tokio::test]
async fn pods_page_on_with_the_api_servers_continue_token() {
    let (_fake, c) = setup(ADMIN_TOKEN, "ro").await;
    let p1 = ok(
        &c,
        "eks_get_pods",
        json!({"namespace": "production", "limit": 2}),
    )
    .await;
    assert_eq!(p1["pods"].as_array().unwrap().len(), 2);
    assert_eq!(p1["truncated"], true);
    let cursor = p1["next_cursor"].as_str().unwrap().to_owned();
    let p2 = ok(
        &c,
        "eks_get_pods",
        json!({"namespace": "production", "limit": 2, "cursor": cursor}),
    )
    .await;
    assert_eq!(p2["pods"].as_array().unwrap().len(), 1);
    assert_eq!(p2["truncated"], false);
    assert!(p2.get("next_cursor").is_none());
}

#[tokio::test]
async fn listing_any_kind_with_paging_and_crds_through_discovery() {
    let (fake, c) = setup(ADMIN_TOKEN, "ro").await;
    let p1 = ok(
        &c,
        "eks_list_resources",
        json!({"kind": "pods", "namespace": "production", "limit": 2}),
    )
    .await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    assert_eq!(p1["truncated"], true);
    let cursor = p1["next_cursor"].as_str().unwrap().to_owned();
    let p2 = ok(
        &c,
        "eks_list_resources",
        json!({"kind": "pods", "namespace": "production", "limit": 2, "cursor": cursor}),
    )
    .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert!(p2.get("next_cursor").is_none());

    let ro = ok(
        &c,
        "eks_get_resource",
        json!({"kind": "Rollout", "name": "payment-service-canary", "namespace": "production"}),
    )
    .await;
    assert_eq!(ro["api_version"], "argoproj.io/v1alpha1");
    assert!(
        fake.requests().iter().any(|r| r == "GET /apis"),
        "discovery ran"
    );

    let ns = ok(&c, "eks_list_namespaces", json!({})).await;
    assert_eq!(ns["namespaces"].as_array().unwrap().len(), 4);

    let e = err(
        &c,
        "eks_get_pod_metrics",
        json!({"namespace": "production"}),
    )
    .await;
    assert!(e.contains("does not serve the metrics.k8s.io API"), "{e}");

    // a CRD instance is not readable by the viewer: the error names verb and resource
    let v = client(backend(&fake, VIEWER_TOKEN, "ro").await).await;
    let e = err(
        &v,
        "eks_get_resource",
        json!({"kind": "Rollout", "name": "payment-service-canary", "namespace": "production"}),
    )
    .await;
    assert!(
        e.contains("permission denied: get rollouts in namespace production"),
        "{e}"
    );
}

#[tokio::test]
async fn pod_metrics_when_metrics_server_is_installed() {
    let fake = FakeApiServer::start_with(true).await.unwrap();
    let c = client(backend(&fake, VIEWER_TOKEN, "ro").await).await;
    let m = ok(
        &c,
        "eks_get_pod_metrics",
        json!({"namespace": "production"}),
    )
    .await;
    let abc = m["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pod"] == "payment-service-abc")
        .unwrap();
    assert_eq!(abc["containers"][0]["memory"], "509Mi");
}

#[tokio::test]
async fn bad_input_is_a_tool_error_an_agent_can_act_on() {
    let (_fake, c) = setup(VIEWER_TOKEN, "ro").await;
    let e = err(&c, "eks_get_pods", json!({})).await;
    assert!(
        e.contains("invalid argument `namespace`: required") && e.contains("eks_list_namespaces"),
        "{e}"
    );
    let e = err(
        &c,
        "eks_get_resource",
        json!({"kind": "Frobnicator", "name": "x", "namespace": "production"}),
    )
    .await;
    assert!(e.contains("no kind `Frobnicator`"), "{e}");
    let e = err(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-nope"}),
    )
    .await;
    assert!(
        e.contains("not found: pods `payment-service-nope` in namespace production"),
        "{e}"
    );
    let e = err(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-abc", "container": "sidecar"}),
    )
    .await;
    assert!(
        e.contains("no container `sidecar`") && e.contains("app"),
        "{e}"
    );
    let e = err(
        &c,
        "eks_get_resource",
        json!({"kind": "Deployment", "name": "../../etc", "namespace": "production"}),
    )
    .await;
    assert!(e.contains("invalid argument `name`"), "{e}");
    let e = err(
        &c,
        "eks_get_resource",
        json!({"kind": "Deployment", "name": "payment-service"}),
    )
    .await;
    assert!(e.contains("pass `namespace`"), "{e}");
}

#[tokio::test]
async fn the_binary_with_a_kubeconfig_and_readiness() {
    let fake = FakeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, fake.kubeconfig(VIEWER_TOKEN)).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-eks"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--access",
            "rw",
            "--env",
            "test",
        ])
        .env("KUBECONFIG", &kc)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    mcp_common::telemetry::install_crypto_provider();
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "mcp-eks became ready against the fake API server");
    let c = client(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let e = err(
        &c,
        "eks_delete_pod",
        json!({"namespace": "production", "pod": "payment-service-abc"}),
    )
    .await;
    assert!(
        e.contains("permission denied: delete pods in namespace production"),
        "{e}"
    );
    assert!(
        fake.object("", "pods", Some("production"), "payment-service-abc")
            .is_some()
    );
    drop(c);
    child.kill().await.unwrap();
    drop(fake);
    let r = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await;
    assert!(r.is_err(), "stopped");
}

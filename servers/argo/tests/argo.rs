//! mcp-argo against a wiremock Argo CD answering with recorded-shape JSON: every tool over MCP
//! streamable HTTP with an rmcp client, the exact requests sent (method, path, query, bearer
//! token, body), bounds, and Argo CD's errors as actionable tool errors.

use std::net::SocketAddr;

use clap::Parser;
use mcp_test_support::{Client, client};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.test-argocd-token-do-not-leak";
const AUTH: &str = "Bearer eyJhbGciOiJIUzI1NiJ9.test-argocd-token-do-not-leak";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// Serves the backend in-process on a loopback port against `argo`.
async fn backend(argo: &MockServer, access: &str, extra: &[&str]) -> SocketAddr {
    mcp_common::telemetry::init();
    let uri = argo.uri();
    let mut argv = vec![
        "mcp-argo",
        "--argocd-url",
        uri.as_str(),
        "--argocd-auth-token",
        TOKEN,
        "--access",
        access,
        "--env",
        "test",
        "--allowed-host",
        "*",
        "--argocd-timeout",
        "5s",
    ];
    argv.extend_from_slice(extra);
    let args = mcp_argo::Args::parse_from(argv);
    let (server, handler) = mcp_argo::build(args).expect("build");
    let app = server.app(handler);
    mcp_test_support::serve(app).await
}

async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, TOKEN).await
}

async fn error_text(c: &Client, tool: &str, args: Value) -> String {
    mcp_test_support::error_text(c, tool, args, TOKEN).await
}

fn get(p: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", AUTH))
}

/// The query strings Argo CD received for `p`, in order.
async fn queries(argo: &MockServer, p: &str) -> Vec<String> {
    argo.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect()
}

async fn names(c: &Client) -> Vec<String> {
    let tools = c.list_all_tools().await.unwrap();
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert!(
            a.read_only_hint.is_some() && a.destructive_hint.is_some(),
            "{}",
            t.name
        );
        assert!(
            a.idempotent_hint.is_some() && a.open_world_hint.is_some(),
            "{}",
            t.name
        );
        assert!(t.output_schema.is_some(), "{}", t.name);
        let rw =
            t.name.contains("sync") || t.name.contains("rollback") || t.name.contains("refresh");
        assert_eq!(a.read_only_hint, Some(!rw), "{}", t.name);
    }
    let mut n: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_matches_the_catalog_in_ro_and_rw() {
    let argo = MockServer::start().await;
    let catalog: Value =
        serde_json::from_str(include_str!("../../../policies/tools.json")).unwrap();
    let read = catalog["argo"]["read"].clone();
    let write = catalog["argo"]["write"].clone();

    let ro = client(backend(&argo, "ro", &[]).await).await;
    assert_eq!(json!(names(&ro).await), read);
    assert_eq!(read.as_array().unwrap().len(), 6);

    let rw = client(backend(&argo, "rw", &[]).await).await;
    let mut all: Vec<Value> = read.as_array().unwrap().clone();
    all.extend(write.as_array().unwrap().iter().cloned());
    let mut all: Vec<String> = all.iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    all.sort();
    assert_eq!(names(&rw).await, all);
    assert_eq!(write.as_array().unwrap().len(), 3);

    // An RO pod refuses a write tool outright.
    let r = ro
        .call_tool(
            CallToolRequestParams::new("argo_sync_application").with_arguments(
                json!({"name": "payment-service"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true));
    assert!(argo.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_tools_send_exact_requests_and_shape_answers() {
    let argo = MockServer::start().await;
    get("/api/v1/applications")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("applications.json")))
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("application.json")))
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service/resource-tree")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("resource-tree.json")))
        .expect(2)
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service/managed-resources")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("managed-resources.json")))
        .expect(1)
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service/events")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("events.json")))
        .expect(1)
        .mount(&argo)
        .await;
    get("/api/v1/session/userinfo")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"loggedIn": true, "username": "mcp-view", "iss": "argocd"})),
        )
        .mount(&argo)
        .await;
    let addr = backend(&argo, "ro", &[]).await;
    let status = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let c = client(addr).await;

    // List: filters, counts, bounds and the cursor.
    let r = ok(
        &c,
        "argo_list_applications",
        json!({"project": ["payments", "shop"], "label_selector": "team=payments"}),
    )
    .await;
    assert_eq!(r["applications"]["total"], 3);
    assert_eq!(r["out_of_sync"], 1);
    assert_eq!(r["degraded"], 1);
    let apps = r["applications"]["items"].as_array().unwrap();
    assert_eq!(apps[0]["name"], "billing-worker");
    let pay = &apps[2];
    assert_eq!(pay["name"], "payment-service");
    assert_eq!(pay["sync_status"], "OutOfSync");
    assert_eq!(pay["health_status"], "Degraded");
    assert_eq!(pay["project"], "payments");
    assert_eq!(pay["destination_namespace"], "production");
    assert_eq!(pay["revision"], "9f2c1e7b4a6d8e0f1a2b3c4d5e6f708192a3b4c5");
    assert_eq!(
        queries(&argo, "/api/v1/applications").await,
        ["projects=payments&projects=shop&selector=team%3Dpayments"]
    );
    let r = ok(&c, "argo_list_applications", json!({"limit": 1})).await;
    assert_eq!(r["applications"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(r["applications"]["truncated"], true);
    assert_eq!(r["applications"]["next_cursor"], "1");
    let r = ok(
        &c,
        "argo_list_applications",
        json!({"limit": 5, "cursor": "2"}),
    )
    .await;
    assert_eq!(r["applications"]["items"][0]["name"], "payment-service");
    assert_eq!(r["applications"]["truncated"], false);
    let r = ok(
        &c,
        "argo_list_applications",
        json!({"health_status": "Degraded", "namespace": "production"}),
    )
    .await;
    assert_eq!(r["applications"]["total"], 1);
    let e = error_text(
        &c,
        "argo_list_applications",
        json!({"health_status": "Broken"}),
    )
    .await;
    assert!(e.contains("invalid argument `health_status`"), "{e}");

    // One application.
    let r = ok(
        &c,
        "argo_get_application",
        json!({"name": "payment-service"}),
    )
    .await;
    assert_eq!(r["health_status"], "Degraded");
    assert_eq!(
        r["health_message"],
        "Deployment \"payment-service\" exceeded its progress deadline"
    );
    assert_eq!(
        r["images"],
        json!(["123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-service:2.14.0"])
    );
    assert_eq!(r["conditions"][0]["type"], "SyncError");
    assert_eq!(r["operation"]["phase"], "Succeeded");
    assert_eq!(r["operation"]["initiated_by"], "automated");
    assert_eq!(r["resources_total"], 3);
    assert_eq!(r["problem_resources"]["items"][0]["kind"], "Deployment");
    assert_eq!(r["problem_resources"]["items"].as_array().unwrap().len(), 1);

    // History, newest first, with ids for rollback.
    let r = ok(
        &c,
        "argo_get_application_history",
        json!({"name": "payment-service", "app_namespace": "argocd"}),
    )
    .await;
    assert_eq!(r["history"]["items"][0]["id"], 12);
    assert_eq!(r["history"]["items"][0]["initiated_by"], "automated");
    assert_eq!(
        r["history"]["items"][1]["initiated_by"],
        "alice@acme.example"
    );
    assert_eq!(
        r["current_revision"],
        "9f2c1e7b4a6d8e0f1a2b3c4d5e6f708192a3b4c5"
    );
    let q = queries(&argo, "/api/v1/applications/payment-service").await;
    assert_eq!(q, ["", "appNamespace=argocd"]);

    // Resource tree: unhealthy first, filters, bounds.
    let r = ok(
        &c,
        "argo_get_resource_tree",
        json!({"name": "payment-service"}),
    )
    .await;
    assert_eq!(r["unhealthy"], 3);
    let nodes = r["nodes"]["items"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    assert_eq!(nodes[0]["health"], "Degraded");
    let pod = nodes
        .iter()
        .find(|n| n["name"] == "payment-service-7d9f8b6c5d-x2k4p")
        .unwrap();
    assert_eq!(pod["parent"], "ReplicaSet/payment-service-7d9f8b6c5d");
    assert!(
        pod["info"]
            .as_array()
            .unwrap()
            .contains(&json!("Restart Count: 14"))
    );
    let r = ok(
        &c,
        "argo_get_resource_tree",
        json!({"name": "payment-service", "kind": "Pod", "limit": 1}),
    )
    .await;
    assert_eq!(r["nodes"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(r["nodes"]["truncated"], true);
    assert_eq!(r["nodes"]["total"], 2);

    // Drift: changed fields only, credentials redacted, extra resources flagged.
    let r = ok(
        &c,
        "argo_get_managed_resources",
        json!({"name": "payment-service"}),
    )
    .await;
    assert_eq!(r["total"], 3);
    assert_eq!(r["modified"], 2);
    let items = r["resources"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let dep = items.iter().find(|i| i["kind"] == "Deployment").unwrap();
    let paths: Vec<&str> = dep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"spec.template.spec.containers[0].resources.limits.memory"),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("status") || p.contains("resourceVersion")),
        "{paths:?}"
    );
    let mem = dep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"].as_str().unwrap().ends_with("memory"))
        .unwrap();
    assert_eq!(mem["live"], "256Mi");
    assert_eq!(mem["desired"], "512Mi");
    assert!(!r.to_string().contains("hunter2"), "secret leaked: {r}");
    let cm = items.iter().find(|i| i["kind"] == "ConfigMap").unwrap();
    assert_eq!(cm["extra"], true);

    // Events: newest first, warnings counted.
    let r = ok(
        &c,
        "argo_get_application_events",
        json!({"name": "payment-service", "warnings_only": true}),
    )
    .await;
    assert_eq!(r["warnings"], 1);
    assert_eq!(r["events"]["items"][0]["reason"], "ResourceUpdated");
    assert_eq!(r["events"]["items"][0]["count"], 3);
    assert_eq!(
        r["events"]["items"][0]["object"],
        "Application/payment-service"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_managed_resource_pass_its_name() {
    let argo = MockServer::start().await;
    get("/api/v1/applications/payment-service/events")
        .and(query_param(
            "resourceName",
            "payment-service-7d9f8b6c5d-x2k4p",
        ))
        .and(query_param("resourceNamespace", "production"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"metadata": {}, "items": []})),
        )
        .expect(1)
        .mount(&argo)
        .await;
    let c = client(backend(&argo, "ro", &[]).await).await;
    let r = ok(
        &c,
        "argo_get_application_events",
        json!({"name": "payment-service", "resource_name": "payment-service-7d9f8b6c5d-x2k4p", "resource_namespace": "production"}),
    )
    .await;
    assert_eq!(r["events"]["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_rollback_and_refresh_send_exact_requests() {
    let argo = MockServer::start().await;
    let app = fixture("application.json");
    Mock::given(method("POST"))
        .and(path("/api/v1/applications/payment-service/sync"))
        .and(header("authorization", AUTH))
        .and(body_json(json!({"name": "payment-service", "prune": false, "dryRun": true, "revision": "abc1234"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(app.clone()))
        .expect(1)
        .mount(&argo)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/applications/payment-service/sync"))
        .and(header("authorization", AUTH))
        .and(body_json(
            json!({"name": "payment-service", "prune": true, "dryRun": false}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(app.clone()))
        .expect(1)
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service/managed-resources")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("managed-resources.json")))
        .expect(1)
        .mount(&argo)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/applications/payment-service/rollback"))
        .and(header("authorization", AUTH))
        .and(body_json(json!({"name": "payment-service", "id": 11, "prune": false, "dryRun": true, "appNamespace": "argocd"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(app.clone()))
        .expect(1)
        .mount(&argo)
        .await;
    get("/api/v1/applications/payment-service")
        .and(query_param("refresh", "hard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(app.clone()))
        .expect(1)
        .mount(&argo)
        .await;
    let c = client(backend(&argo, "rw", &[]).await).await;

    let r = ok(
        &c,
        "argo_sync_application",
        json!({"name": "payment-service", "revision": "abc1234", "dry_run": true}),
    )
    .await;
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["would_change"]["modified"], 2);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("nothing is applied")
    );
    let r = ok(
        &c,
        "argo_sync_application",
        json!({"name": "payment-service", "prune": true}),
    )
    .await;
    assert_eq!(r["dry_run"], false);
    assert!(r.get("would_change").is_none());
    assert_eq!(r["status"]["name"], "payment-service");

    let r = ok(
        &c,
        "argo_rollback_application",
        json!({"name": "payment-service", "app_namespace": "argocd", "id": 11, "dry_run": true}),
    )
    .await;
    assert_eq!(r["operation"], "rollback");
    assert_eq!(r["application"], "argocd/payment-service");

    let r = ok(
        &c,
        "argo_refresh_application",
        json!({"name": "payment-service", "hard": true}),
    )
    .await;
    assert_eq!(r["request"]["refresh"], "hard");

    let e = error_text(
        &c,
        "argo_rollback_application",
        json!({"name": "payment-service", "id": -1}),
    )
    .await;
    assert!(e.contains("invalid argument `id`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_are_actionable_tool_errors() {
    let argo = MockServer::start().await;
    let grpc = |code: u8, msg: &str| json!({"error": msg, "code": code, "message": msg});
    get("/api/v1/applications/expired")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(grpc(16, "invalid session: token is expired")),
        )
        .mount(&argo)
        .await;
    get("/api/v1/applications/secret-app")
        .respond_with(ResponseTemplate::new(403).set_body_json(grpc(7, "permission denied")))
        .mount(&argo)
        .await;
    get("/api/v1/applications/gone")
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(grpc(5, "applications.argoproj.io \"gone\" not found")),
        )
        .mount(&argo)
        .await;
    get("/api/v1/applications/busy")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_string("Too Many Requests"),
        )
        .mount(&argo)
        .await;
    get("/api/v1/applications/broken")
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html><body>503 Service Temporarily Unavailable</body></html>"),
        )
        .mount(&argo)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/applications/payment-service/sync"))
        .respond_with(ResponseTemplate::new(403).set_body_json(grpc(7, "permission denied: applications, sync, payments/payment-service, sub: mcp-view, iat: 2026-11-01T00:00:00Z")))
        .mount(&argo)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/applications/checkout/sync"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(grpc(9, "another operation is already in progress")),
        )
        .mount(&argo)
        .await;
    let c = client(backend(&argo, "rw", &[]).await).await;
    let app = |n: &str| json!({"name": n});

    let e = error_text(&c, "argo_get_application", app("expired")).await;
    assert!(
        e.contains("HTTP 401") && e.contains("token is expired") && e.contains("ARGOCD_AUTH_TOKEN"),
        "{e}"
    );
    let e = error_text(&c, "argo_get_application", app("secret-app")).await;
    assert!(
        e.starts_with("permission denied: get application secret-app"),
        "{e}"
    );
    assert!(e.contains("`applications, get`"), "{e}");
    let e = error_text(&c, "argo_get_application", app("gone")).await;
    assert!(
        e.contains("HTTP 404") && e.contains("not found") && e.contains("argo_list_applications"),
        "{e}"
    );
    let e = error_text(&c, "argo_get_application", app("busy")).await;
    assert!(e.contains("HTTP 429") && e.contains("retry in 7 s"), "{e}");
    let e = error_text(&c, "argo_get_application", app("broken")).await;
    assert!(
        e.contains("HTTP 503")
            && e.contains("Service Temporarily Unavailable")
            && e.contains("retry"),
        "{e}"
    );
    let e = error_text(&c, "argo_sync_application", app("payment-service")).await;
    assert!(
        e.contains("permission denied: sync application payment-service"),
        "{e}"
    );
    assert!(e.contains("`applications, sync`"), "{e}");
    let e = error_text(&c, "argo_sync_application", app("checkout")).await;
    assert!(
        e.contains("HTTP 400") && e.contains("another operation is already in progress"),
        "{e}"
    );

    // Bad names never reach Argo CD.
    let before = argo.received_requests().await.unwrap().len();
    let e = error_text(&c, "argo_get_application", app("../../session")).await;
    assert!(e.contains("invalid argument `name`"), "{e}");
    let e = error_text(
        &c,
        "argo_get_resource_tree",
        json!({"name": "a", "app_namespace": "Bad NS"}),
    )
    .await;
    assert!(e.contains("invalid argument `app_namespace`"), "{e}");
    assert_eq!(argo.received_requests().await.unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_argo_is_a_tool_error_and_not_ready() {
    // A port nobody listens on: bind, read the port, drop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = {
        mcp_common::telemetry::init();
        let url = format!("http://127.0.0.1:{port}");
        let args = mcp_argo::Args::parse_from([
            "mcp-argo",
            "--argocd-url",
            &url,
            "--allowed-host",
            "*",
            "--argocd-timeout",
            "2s",
        ]);
        let (server, handler) = mcp_argo::build(args).unwrap();
        let app = server.app(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    };
    let status = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 503);
    let c = client(addr).await;
    let e = error_text(&c, "argo_list_applications", json!({})).await;
    assert!(
        e.contains("cannot reach Argo CD") && e.contains("unreachable"),
        "{e}"
    );
}

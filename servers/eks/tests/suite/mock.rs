//! Unit-level tests with kube's `tower-test` mock: each tool call sends exactly the expected
//! requests (method, path and query) and shapes the answer; a 403 becomes a tool error naming
//! the missing verb.

use std::net::SocketAddr;

use clap::Parser;
use http::{Request, Response};
use kube::client::Body;
use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};
use tower_test::mock;

type Client = RunningService<RoleClient, ()>;

/// One expected request and the answer to it.
struct Exchange {
    method: &'static str,
    path_and_query: String,
    status: u16,
    body: Value,
    /// Substring the request body must contain (writes).
    body_contains: Option<&'static str>,
}

fn ex(method: &'static str, pq: &str, status: u16, body: Value) -> Exchange {
    Exchange {
        method,
        path_and_query: pq.to_owned(),
        status,
        body,
        body_contains: None,
    }
}

/// Serves the backend on a mock client; the returned task asserts the exchanges in order.
async fn backend(
    access: &str,
    exchanges: Vec<Exchange>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    mcp_common::telemetry::init();
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let verifier = tokio::spawn(async move {
        for e in exchanges {
            let (request, send) = handle
                .next_request()
                .await
                .expect("the expected request was sent");
            assert_eq!(
                request.method().as_str(),
                e.method,
                "method of {}",
                e.path_and_query
            );
            assert_eq!(
                request.uri().path_and_query().unwrap().as_str(),
                e.path_and_query
            );
            if let Some(needle) = e.body_contains {
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(text.contains(needle), "body {text} lacks {needle}");
            }
            let text = if let Value::String(s) = &e.body {
                s.clone()
            } else {
                e.body.to_string()
            };
            send.send_response(
                Response::builder()
                    .status(e.status)
                    .body(Body::from(text.into_bytes()))
                    .unwrap(),
            );
        }
    });
    let client = kube::Client::new(service, "default");
    let args = mcp_eks::Args::parse_from([
        "mcp-eks",
        "--env",
        "test",
        "--allowed-host",
        "*",
        "--access",
        access,
    ]);
    let (server, handler) = mcp_eks::build_with(args.server, mcp_eks::Cluster::from_client(client));
    let app = server.app(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, verifier)
}

async fn connect(addr: SocketAddr) -> Client {
    ().serve(StreamableHttpClientTransport::from_uri(format!(
        "http://{addr}/mcp"
    )))
    .await
    .expect("connect")
}

async fn call(c: &Client, tool: &str, args: Value) -> CallToolResult {
    c.call_tool(
        CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().cloned().unwrap()),
    )
    .await
    .unwrap()
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn oom_pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "production", "creationTimestamp": "2026-11-27T18:00:00Z"},
        "spec": {"nodeName": "ip-10-0-1-12", "containers": [{"name": "app", "image": "payment:1.4.2",
            "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 47,
            "image": "payment:1.4.2", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-27T19:59:30Z"}}}]}})
}

#[tokio::test]
async fn get_pods_sends_one_list_with_selectors_and_reports_the_oom_kill() {
    let (addr, verify) = backend("ro", vec![ex(
        "GET",
        "/api/v1/namespaces/production/pods?&labelSelector=app%3Dpayment-service&limit=100",
        200,
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [oom_pod("payment-service-abc")]}),
    )])
    .await;
    let c = connect(addr).await;
    let r = call(
        &c,
        "eks_get_pods",
        json!({"namespace": "production", "label_selector": "app=payment-service"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{r:?}");
    let v = r.structured_content.unwrap();
    assert_eq!(v["pods"][0]["restarts"], 47);
    assert_eq!(v["pods"][0]["last_termination"]["reason"], "OOMKilled");
    assert_eq!(v["pods"][0]["last_termination"]["exit_code"], 137);
    verify.await.unwrap();
}

#[tokio::test]
async fn get_events_filters_on_the_server_and_sorts_newest_first() {
    let (addr, verify) = backend("ro", vec![ex(
        "GET",
        "/api/v1/namespaces/production/events?&fieldSelector=involvedObject.name%3Dpayment-service-abc&limit=2000",
        200,
        json!({"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": [
            {"metadata": {"name": "a"}, "involvedObject": {"kind": "Pod", "name": "payment-service-abc"}, "type": "Normal", "reason": "Pulled", "lastTimestamp": "2026-11-27T19:00:00Z"},
            {"metadata": {"name": "b"}, "involvedObject": {"kind": "Pod", "name": "payment-service-abc"}, "type": "Warning", "reason": "OOMKilled", "count": 47, "lastTimestamp": "2026-11-27T19:59:30Z"}
        ]}),
    )])
    .await;
    let c = connect(addr).await;
    let r = call(
        &c,
        "eks_get_events",
        json!({"namespace": "production", "name": "payment-service-abc"}),
    )
    .await;
    let v = r.structured_content.expect("ok");
    assert_eq!(v["events"][0]["reason"], "OOMKilled");
    assert_eq!(v["events"][0]["count"], 47);
    verify.await.unwrap();
}

#[tokio::test]
async fn get_resource_of_a_deployment_drops_managed_fields_and_redacts_env() {
    let (addr, verify) = backend("ro", vec![ex(
        "GET",
        "/apis/apps/v1/namespaces/production/deployments/payment-service",
        200,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "payment-service", "namespace": "production", "managedFields": [{"manager": "kubectl"}]},
            "spec": {"template": {"spec": {"containers": [{"name": "app",
                "env": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "DB_HOST", "value": "db"}],
                "resources": {"limits": {"memory": "512Mi"}}}]}}}}),
    )])
    .await;
    let c = connect(addr).await;
    let r = call(
        &c,
        "eks_get_resource",
        json!({"kind": "Deployment", "name": "payment-service", "namespace": "production"}),
    )
    .await;
    let v = r.structured_content.expect("ok");
    let container = &v["object"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(container["env"][0]["value"], "[REDACTED]");
    assert_eq!(container["env"][1]["value"], "db");
    assert!(v["object"]["metadata"].get("managedFields").is_none());
    verify.await.unwrap();
}

#[tokio::test]
async fn get_pod_logs_reads_the_pod_then_the_previous_container_tail() {
    let (addr, verify) = backend("ro", vec![
        ex("GET", "/api/v1/namespaces/production/pods/payment-service-abc", 200, oom_pod("payment-service-abc")),
        ex("GET", "/api/v1/namespaces/production/pods/payment-service-abc/log?&container=app&previous=true&tailLines=200", 200,
            Value::String("INFO start\nWARN password=hunter2 rejected\nERROR DB connection pool exhausted\n".into())),
    ])
    .await;
    let c = connect(addr).await;
    let r = call(
        &c,
        "eks_get_pod_logs",
        json!({"namespace": "production", "pod": "payment-service-abc", "previous": true}),
    )
    .await;
    let v = r.structured_content.expect("ok");
    let t = v["text"].as_str().unwrap();
    assert!(
        t.trim_end().ends_with("DB connection pool exhausted"),
        "{t}"
    );
    assert!(!t.contains("hunter2"), "{t}");
    assert_eq!(v["container"], "app");
    verify.await.unwrap();
}

#[tokio::test]
async fn a_403_names_the_missing_verb() {
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": "pods \"payment-service-abc\" is forbidden: User \"system:serviceaccount:mcp:mcp-eks-ro\" cannot delete resource \"pods\" in API group \"\" in the namespace \"production\""});
    let mut delete = ex(
        "DELETE",
        "/api/v1/namespaces/production/pods/payment-service-abc?",
        403,
        forbidden,
    );
    delete.body_contains = Some("\"dryRun\":[\"All\"]");
    let (addr, verify) = backend("rw", vec![delete]).await;
    let c = connect(addr).await;
    let r = call(
        &c,
        "eks_delete_pod",
        json!({"namespace": "production", "pod": "payment-service-abc", "dry_run": true}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.starts_with("permission denied: delete pods in namespace production; the ServiceAccount's ClusterRole lacks `delete` on `pods`"), "{t}");
    verify.await.unwrap();
}

#[tokio::test]
async fn scale_reads_then_patches_the_scale_subresource_with_dry_run() {
    let scale = |n: i32| json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "payment-service", "namespace": "production"}, "spec": {"replicas": n}});
    let mut patch = ex(
        "PATCH",
        "/apis/apps/v1/namespaces/production/deployments/payment-service/scale?&dryRun=All&fieldManager=mcp-eks",
        200,
        scale(5),
    );
    patch.body_contains = Some("{\"spec\":{\"replicas\":5}}");
    let (addr, verify) = backend(
        "rw",
        vec![
            ex(
                "GET",
                "/apis/apps/v1/namespaces/production/deployments/payment-service/scale",
                200,
                scale(3),
            ),
            patch,
        ],
    )
    .await;
    let c = connect(addr).await;
    let r = call(&c, "eks_scale_deployment", json!({"namespace": "production", "name": "payment-service", "replicas": 5, "dry_run": true})).await;
    let v = r.structured_content.expect("ok");
    assert_eq!(
        v["changes"][0],
        json!({"path": "spec.replicas", "before": 3, "after": 5})
    );
    verify.await.unwrap();
}

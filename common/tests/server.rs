//! The shared backend service driven without a socket (`tower::ServiceExt::oneshot`): health,
//! readiness, metrics, and the Host allow-list on `/mcp`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use clap::Parser;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use mcp_common::{BackendServer, Readiness, ServerArgs};
use rmcp::ServerHandler;
use rmcp::model::{ServerCapabilities, ServerConfig};
use tower::ServiceExt;

#[derive(Clone, Debug)]
struct Empty;

impl ServerHandler for Empty {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

fn server(args: &[&str]) -> BackendServer {
    let mut all = vec!["x"];
    all.extend_from_slice(args);
    BackendServer::new("test", Cli::parse_from(all).server)
}

async fn get(app: axum::Router, uri: &str) -> (StatusCode, String) {
    let r = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn initialize(host: &str) -> Request<Body> {
    Request::post("/mcp")
        .header("host", host)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        ))
        .unwrap()
}

#[tokio::test]
async fn readiness_follows_the_backend_check_and_shutdown() {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let s = server(&[]).with_readiness(Readiness::new(move || {
        let up = flag.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err("database unreachable".into())
            }
        }
    }));
    let app = s.app(Empty);
    assert_eq!(get(app.clone(), "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK);
    up.store(false, Ordering::SeqCst);
    let (status, body) = get(app.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database unreachable"), "{body}");
    up.store(true, Ordering::SeqCst);
    s.health.start_shutdown();
    let (status, body) = get(app.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("shutting down"));
    assert_eq!(
        get(app, "/healthz").await.0,
        StatusCode::OK,
        "alive while draining"
    );
}

#[tokio::test]
async fn host_allow_list_and_metrics() {
    let s = server(&[
        "--allowed-host",
        "mcp-test-ro,mcp-test-ro.mcp.svc",
        "--env",
        "prod",
    ]);
    let app = s.app(Empty);
    for host in ["localhost:8080", "mcp-test-ro:8080", "mcp-test-ro.mcp.svc"] {
        let r = app.clone().oneshot(initialize(host)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
    let r = app
        .clone()
        .oneshot(initialize("evil.example.com"))
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "foreign Host refused: {}",
        r.status()
    );
    let (_, metrics) = get(app, "/metrics").await;
    assert!(
        metrics.contains(r#"mcp_server_http_requests_total{backend="test",env="prod",access="ro",status="200"} 3"#),
        "{metrics}"
    );
}

//! What every module shares: the server under test, the MCP client and request helpers.

use std::net::SocketAddr;

use clap::Parser;
use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

pub(crate) const TOKEN: &str = "github_pat_11TEST0000000000000000_doNotLeakThisTokenValue";

/// mcp-github on a free loopback port with exactly these arguments (after the program name).
pub(crate) async fn serve(args: &[&str]) -> SocketAddr {
    mcp_common::telemetry::init();
    let mut argv = vec!["mcp-github", "--env", "test", "--allowed-host", "*"];
    argv.extend_from_slice(args);
    let (server, handler) = mcp_github::build(mcp_github::Args::parse_from(argv)).expect("build");
    let app = server.app(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// mcp-github against `gh` with the test token and `extra` arguments.
pub(crate) async fn backend(gh: &MockServer, extra: &[&str]) -> SocketAddr {
    let uri = gh.uri();
    let mut argv = vec!["--github-api-url", uri.as_str(), "--github-token", TOKEN];
    argv.extend_from_slice(extra);
    serve(&argv).await
}

pub(crate) async fn client(addr: SocketAddr) -> RunningService<RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    ().serve(transport).await.expect("connect")
}

pub(crate) async fn call(
    c: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    c.call_tool(CallToolRequestParams::new(tool).with_arguments(args.as_object().cloned().unwrap()))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The structured content of a successful call (which never carries the token).
pub(crate) async fn ok(
    c: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> Value {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(false), "{tool}: {r:?}");
    let v = r.structured_content.expect("structured content");
    assert!(!v.to_string().contains(TOKEN), "token in output");
    v
}

/// The text of a failed call (an `isError: true` result, never carrying the token).
pub(crate) async fn error_text(
    c: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> String {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(true), "{tool}: {r:?}");
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains(TOKEN), "token in error: {text}");
    text
}

pub(crate) fn get(p: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(p.to_owned()))
}

pub(crate) fn post(p: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path(p.to_owned()))
}

/// The query strings of the requests `gh` received for path `p`, in order.
pub(crate) async fn queries(gh: &MockServer, p: &str) -> Vec<String> {
    gh.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect()
}

/// `METHOD path` of every request `gh` received, in order.
pub(crate) async fn sequence(gh: &MockServer) -> Vec<String> {
    gh.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

//! What every backend server's test suite does the same way: serve the server's router on a
//! free loopback port, connect the official rmcp client over streamable HTTP, and call tools,
//! asserting success or failure and that a credential never appears in what comes back.

use std::net::SocketAddr;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

/// A connected MCP client.
pub type Client = RunningService<RoleClient, ()>;

/// Serves `app` on a free loopback port until the test's runtime ends.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// An rmcp client connected (initialized) to the server at `http://{addr}/mcp`.
pub async fn client(addr: SocketAddr) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    ().serve(transport).await.expect("connect")
}

/// Calls `tool` with the JSON object `args`; panics if the call itself fails (not the tool).
pub async fn call(c: &Client, tool: &str, args: Value) -> CallToolResult {
    c.call_tool(
        CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().cloned().expect("arguments are an object")),
    )
    .await
    .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The structured content of a successful call; `secret` (when not empty) must not be in it.
pub async fn ok(c: &Client, tool: &str, args: Value, secret: &str) -> Value {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(false), "{tool}: {r:?}");
    let v = r.structured_content.expect("structured content");
    assert!(
        secret.is_empty() || !v.to_string().contains(secret),
        "{tool}: credential in the output"
    );
    v
}

/// The text of a failed call (`isError: true`); `secret` (when not empty) must not be in it.
pub async fn error_text(c: &Client, tool: &str, args: Value, secret: &str) -> String {
    let r = call(c, tool, args).await;
    let text = failure_text(&r);
    assert!(
        secret.is_empty() || !text.contains(secret),
        "{tool}: credential in the error: {text}"
    );
    text
}

/// The text blocks of a result that must be an error, joined by newlines.
pub fn failure_text(r: &CallToolResult) -> String {
    assert_eq!(r.is_error, Some(true), "expected a tool error: {r:?}");
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names of the tools the server lists, sorted.
pub async fn tool_names(c: &Client) -> Vec<String> {
    let mut names: Vec<String> = c
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

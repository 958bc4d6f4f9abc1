//! What every module shares: the server under test, the MCP client and request helpers.

use std::net::SocketAddr;

use clap::Parser;
use mcp_test_support::Client;
pub(crate) use mcp_test_support::client;
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
    mcp_test_support::serve(server.app(handler)).await
}

/// mcp-github against `gh` with the test token and `extra` arguments.
pub(crate) async fn backend(gh: &MockServer, extra: &[&str]) -> SocketAddr {
    let uri = gh.uri();
    let mut argv = vec!["--github-api-url", uri.as_str(), "--github-token", TOKEN];
    argv.extend_from_slice(extra);
    serve(&argv).await
}

/// The structured content of a successful call (which never carries the token).
pub(crate) async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, TOKEN).await
}

/// The text of a failed call (an `isError: true` result, never carrying the token).
pub(crate) async fn error_text(c: &Client, tool: &str, args: Value) -> String {
    mcp_test_support::error_text(c, tool, args, TOKEN).await
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

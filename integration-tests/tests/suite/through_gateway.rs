//! An rmcp client through the gateway to rmcp backends on loopback, run once per supported MCP
//! protocol version: the gateway must carry every version unchanged, apply the policy to calls
//! and to lists, stream SSE without buffering, and audit each request.

use std::time::Duration;

use integration_tests::harness::{Stack, TestClient};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, ClientRequest, ProtocolVersion, Request};
use rmcp::service::{PeerRequestOptions, RunningService};
use serde_json::{Value, json};

fn args(v: Value) -> rmcp::model::JsonObject {
    v.as_object().cloned().expect("object")
}

async fn tool_names(c: &RunningService<RoleClient, TestClient>) -> Vec<String> {
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

async fn call_and_list(v: &ProtocolVersion) {
    let stack = Stack::start().await;
    let c = stack
        .client("reader", "example-ro", v)
        .await
        .expect("connect");
    assert_eq!(
        tool_names(&c).await,
        [
            "example_echo",
            "example_fail",
            "example_headers",
            "example_progress"
        ],
        "an RO backend registers no write tool"
    );
    let r = c
        .call_tool(
            CallToolRequestParams::new("example_echo")
                .with_arguments(args(json!({"message": "hi", "password": "hunter2"}))),
        )
        .await
        .expect("call");
    assert_eq!(r.is_error, Some(false));
    assert_eq!(
        r.structured_content,
        Some(json!({"message": "hi", "env": "test"}))
    );

    // The audit line, field by field.
    let line = stack
        .audit_line(|l| l["type"] == "mcp_tool_call" && l["tool_name"] == "example_echo")
        .await
        .expect("a tools/call audit line");
    assert_eq!(line["user"], "reader");
    assert_eq!(line["role"], "reader");
    assert_eq!(line["backend"], "example-ro");
    assert_eq!(line["method"], "tools/call");
    assert_eq!(line["tool_name"], "example_echo");
    assert_eq!(
        line["tool_args"],
        json!({"message": "hi", "password": "[REDACTED]"})
    );
    assert_eq!(line["http_method"], "POST");
    assert_eq!(line["http_status"], 200);
    assert_eq!(line["outcome"], "ok");
    assert!(line["duration_ms"].is_u64());
    assert_eq!(line["key_id"].as_str().map(str::len), Some(8));
    assert_eq!(line["request_id"].as_str().map(str::len), Some(36));
    assert!(line["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    if v.has_initialize() {
        assert!(
            stack
                .audit_line(|l| l["method"] == "initialize" && l["type"] == "mcp_request")
                .await
                .is_some(),
            "the handshake is audited too: {:#?}",
            stack.audit.lines()
        );
    }
    c.cancel().await.ok();
}

async fn rw_and_narrowed(v: &ProtocolVersion) {
    let stack = Stack::start().await;
    let w = stack
        .client("writer", "example-rw", v)
        .await
        .expect("connect writer");
    assert!(tool_names(&w).await.contains(&"example_write".to_owned()));
    let r = w
        .call_tool(
            CallToolRequestParams::new("example_write")
                .with_arguments(args(json!({"name": "x", "dry_run": true}))),
        )
        .await
        .expect("write");
    assert_eq!(
        r.structured_content,
        Some(json!({"name": "x", "dry_run": true, "written": false}))
    );

    let n = stack
        .client("narrow", "example-rw", v)
        .await
        .expect("connect narrow");
    assert_eq!(
        tool_names(&n).await,
        ["example_echo", "example_fail", "example_progress"],
        "tools/list is filtered to the role's tools"
    );
    let denied = n
        .call_tool(
            CallToolRequestParams::new("example_write").with_arguments(args(json!({"name": "x"}))),
        )
        .await;
    assert!(
        denied.is_err(),
        "a tool outside the role's list is refused: {denied:?}"
    );
    let line = stack
        .audit_line(|l| {
            l["type"] == "mcp_tool_call"
                && l["user"] == "narrow"
                && l["tool_name"] == "example_write"
        })
        .await
        .expect("the denial is audited");
    assert_eq!(line["outcome"], "denied");
    assert_eq!(line["http_status"], 403);
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("may not call tool `example_write`")
    );
    // Denied calls never reach the backend: its counter shows no example_write call.
    let w_calls = stack.metrics.render();
    assert!(
        w_calls.contains("tool=\"example_write\",outcome=\"denied\"} 1"),
        "{w_calls}"
    );

    // A role that does not reach the backend at all.
    let err = stack.client("reader", "example-rw", v).await;
    assert!(err.is_err(), "reader may not reach example-rw");
    n.cancel().await.ok();
    w.cancel().await.ok();
}

async fn tool_errors_are_audited(v: &ProtocolVersion) {
    let stack = Stack::start().await;
    let c = stack
        .client("reader", "example-ro", v)
        .await
        .expect("connect");
    let r = c
        .call_tool(
            CallToolRequestParams::new("example_fail")
                .with_arguments(args(json!({"reason": "delete pods"}))),
        )
        .await
        .expect("a tool error is a result, not a protocol error");
    assert_eq!(r.is_error, Some(true));
    let line = stack
        .audit_line(|l| l["type"] == "mcp_tool_call" && l["tool_name"] == "example_fail")
        .await
        .expect("audited");
    assert_eq!(line["outcome"], "tool_error");
    assert_eq!(line["error"], "permission denied: delete pods");
    c.cancel().await.ok();
}

async fn progress_streams_before_the_result(v: &ProtocolVersion) {
    let stack = Stack::start().await;
    let c = stack
        .client("reader", "example-ro", v)
        .await
        .expect("connect");
    let handle = c
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(
                CallToolRequestParams::new("example_progress")
                    .with_arguments(args(json!({"steps": 2}))),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("send");
    // The tool blocks after its first notification until the gate opens; the gate opens only
    // once that notification reached this client through the gateway. A buffering proxy would
    // deadlock here.
    let seen = c.service().progress_seen.clone();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if !c.service().progress.lock().unwrap().is_empty() {
                break;
            }
            let wait = seen.notified();
            if !c.service().progress.lock().unwrap().is_empty() {
                break;
            }
            wait.await;
        }
    })
    .await;
    assert!(
        first.is_ok(),
        "the progress notification did not arrive while the tool was running"
    );
    stack.gate.notify_one();
    let resp = tokio::time::timeout(Duration::from_secs(10), handle.await_response())
        .await
        .expect("result in time")
        .expect("result");
    let rmcp::model::ServerResult::CallToolResult(r) = resp else {
        panic!("unexpected answer {resp:?}")
    };
    assert_eq!(r.structured_content, Some(json!({"steps": 2})));
    let progress = c.service().progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0].1.progress, 1.0);
    // duration_ms runs to the end of the stream.
    let line = stack
        .audit_line(|l| l["type"] == "mcp_tool_call" && l["tool_name"] == "example_progress")
        .await
        .expect("audited");
    assert_eq!(line["outcome"], "ok");
    c.cancel().await.ok();
}

async fn credentials_stay_at_the_gateway(v: &ProtocolVersion) {
    let stack = Stack::start().await;
    let c = stack
        .client("reader", "example-ro", v)
        .await
        .expect("connect");
    let r = c
        .call_tool(CallToolRequestParams::new("example_headers"))
        .await
        .expect("call");
    let headers = &r.structured_content.expect("structured")["headers"];
    assert!(headers.get("authorization").is_none(), "{headers}");
    assert!(headers.get("cookie").is_none(), "{headers}");
    assert_eq!(
        headers["host"][0],
        stack.ro_addr.to_string(),
        "Host is the backend's"
    );
    let request_id = headers["x-request-id"][0]
        .as_str()
        .expect("x-request-id")
        .to_owned();
    assert!(
        stack
            .audit_line(|l| l["request_id"] == request_id.as_str())
            .await
            .is_some(),
        "the backend sees the audit's request id"
    );
    if !v.has_initialize() {
        assert_eq!(headers["mcp-method"][0], "tools/call");
        assert_eq!(headers["mcp-name"][0], "example_headers");
    }
    assert_eq!(headers["mcp-protocol-version"][0], v.as_str());
    c.cancel().await.ok();
}

macro_rules! per_version {
    ($($module:ident => $version:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            const V: ProtocolVersion = $version;
            #[tokio::test]
            async fn call_and_list() { super::call_and_list(&V).await }
            #[tokio::test]
            async fn rw_and_narrowed() { super::rw_and_narrowed(&V).await }
            #[tokio::test]
            async fn tool_errors_are_audited() { super::tool_errors_are_audited(&V).await }
            #[tokio::test]
            async fn progress_streams_before_the_result() { super::progress_streams_before_the_result(&V).await }
            #[tokio::test]
            async fn credentials_stay_at_the_gateway() { super::credentials_stay_at_the_gateway(&V).await }
        }
    )*};
}

per_version!(
    mcp_2025_06_18 => ProtocolVersion::V_2025_06_18,
    mcp_2025_11_25 => ProtocolVersion::V_2025_11_25,
    mcp_2026_07_28 => ProtocolVersion::V_2026_07_28,
);

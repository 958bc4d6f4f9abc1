//! Faults around the gateway: clients that go away, backends that break mid-stream or send
//! huge answers, keys files swapped the way Kubernetes does it. The gateway stays healthy,
//! audits each request, and counts each fault in `/metrics`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use integration_tests::harness::{self, Stack};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const ACCEPT: &str = "application/json, text/event-stream";

fn post(stack: &Stack, backend: &str, user: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .post(stack.url(backend))
        .bearer_auth(stack.token(user))
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .body(body.to_string())
}

async fn healthy(stack: &Stack) {
    let r = reqwest::get(format!("http://{}/healthz", stack.gateway_addr))
        .await
        .unwrap();
    assert!(r.status().is_success());
    let ping = json!({"jsonrpc":"2.0","id":99,"method":"ping"});
    let r = post(stack, "example-ro", "reader", &ping)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the gateway still serves");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_backend_call() {
    let stack = Stack::start().await;
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"example_progress","arguments":{"steps":2},"_meta":{"progressToken":"p"}}});
    let mut resp = post(&stack, "example-ro", "reader", &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The first progress event arrives; the tool now waits on its gate, which never opens.
    let first = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_some_and(|c| String::from_utf8_lossy(&c).contains("notifications/progress")));
    assert_eq!(stack.ro.cancelled.load(Ordering::SeqCst), 0);
    drop(resp);
    let deadline = Instant::now() + Duration::from_secs(10);
    while stack.ro.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the backend's call was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = stack.audit_lines(1).await;
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("client closed"),
        "{lines:#?}"
    );
    healthy(&stack).await;
}

/// A backend that answers with an SSE stream, sends one event, then drops the connection.
async fn resetting_backend(ct: CancellationToken) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = tokio::select! {
                c = l.accept() => c.unwrap(),
                () = ct.cancelled() => return,
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let event = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p\",\"progress\":1}}\n\n";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
                    event.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                // Gone without finishing the chunked body.
                drop(s);
            });
        }
    });
    a
}

#[tokio::test]
async fn a_backend_that_breaks_mid_stream_is_an_upstream_error() {
    let ct = CancellationToken::new();
    let addr = resetting_backend(ct.clone()).await;
    let stack = Stack::start_with(|t| {
        *t = t
            .replace(
                "backends:\n",
                &format!("backends:\n  example-broken: http://{addr}/mcp\n"),
            )
            .replace("  reader: [", "  reader: [example-broken, ");
    })
    .await;
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_x","arguments":{}}});
    let resp = post(&stack, "example-broken", "reader", &call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "headers came through");
    let body = resp.text().await;
    assert!(
        body.is_err(),
        "the client sees the stream break, not a clean end: {body:?}"
    );
    let lines = stack.audit_lines(1).await;
    assert_eq!(lines[0]["outcome"], "upstream_error", "{lines:#?}");
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .contains("response stream failed")
    );
    let m = stack.metrics.render();
    assert!(
        m.contains(
            r#"mcp_gateway_upstream_errors_total{backend="example-broken",kind="stream"} 1"#
        ),
        "{m}"
    );
    healthy(&stack).await;
    ct.cancel();
}

#[tokio::test]
async fn a_100_mib_answer_streams_through() {
    const MIB: usize = 1024 * 1024;
    let ct = CancellationToken::new();
    let router = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|| async {
            let chunks = futures_util::stream::iter(
                (0..100).map(|_| Ok::<_, std::io::Error>(bytes_of(MIB))),
            );
            (
                [("content-type", "application/json")],
                axum::body::Body::from_stream(chunks),
            )
        }),
    );
    let addr = harness::serve(router, ct.clone()).await;
    let stack = Stack::start_with(|t| {
        *t = t
            .replace(
                "backends:\n",
                &format!("backends:\n  example-huge: http://{addr}/mcp\n"),
            )
            .replace("  reader: [", "  reader: [example-huge, ");
    })
    .await;
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_x","arguments":{}}});
    let mut resp = post(&stack, "example-huge", "reader", &call)
        .send()
        .await
        .unwrap();
    let mut total = 0usize;
    while let Some(c) = resp.chunk().await.unwrap() {
        total += c.len();
    }
    assert_eq!(total, 100 * MIB);
    let lines = stack.audit_lines(1).await;
    assert_eq!(lines[0]["response_bytes"], 100 * MIB);
    assert_eq!(lines[0]["http_status"], 200);
    healthy(&stack).await;
    ct.cancel();
}

fn bytes_of(n: usize) -> Vec<u8> {
    vec![b' '; n]
}

#[tokio::test]
async fn a_symlink_swapped_secret_is_reloaded() {
    // The layout a Kubernetes Secret volume has: keys.json -> ..data/keys.json, ..data -> ..v1.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let stack = Stack::start_with(|t| {
        let start = t.find("keys_file: ").unwrap() + "keys_file: ".len();
        let end = start + t[start..].find('\n').unwrap();
        let original = t[start..end].to_owned();
        std::fs::create_dir(d.join("..v1")).unwrap();
        std::fs::copy(&original, d.join("..v1/keys.json")).unwrap();
        std::os::unix::fs::symlink("..v1", d.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/keys.json", d.join("keys.json")).unwrap();
        t.replace_range(start..end, d.join("keys.json").to_str().unwrap());
    })
    .await;
    let _watch = stack.gateway.keys.watch(Duration::from_secs(3600)).unwrap();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    assert_eq!(
        post(&stack, "example-ro", "reader", &ping)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A new version without `reader`, swapped in atomically.
    let mut keys: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(d.join("..v1/keys.json")).unwrap()).unwrap();
    keys.remove("/mcp-gateway/keys/reader");
    std::fs::create_dir(d.join("..v2")).unwrap();
    std::fs::write(d.join("..v2/keys.json"), serde_json::to_vec(&keys).unwrap()).unwrap();
    std::os::unix::fs::symlink("..v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..v1")).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = post(&stack, "example-ro", "reader", &ping)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the swap was not picked up (watch only, no polling)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        post(&stack, "example-ro", "writer", &ping)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        stack.metrics.key_reload_errors.get(),
        0,
        "a swap is never seen half-done"
    );
}

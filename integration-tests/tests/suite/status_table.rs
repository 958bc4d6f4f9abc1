//! Every row of the gateway's status table, over real sockets, with the audit line each
//! request leaves; plus key reload, health, metrics, SSE list filtering and session binding.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use integration_tests::harness::{self, Stack};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ACCEPT: &str = "application/json, text/event-stream";

fn call(tool: &str, id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"message": "x"}}})
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn send(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    extra: &[(&str, &str)],
) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client
        .request(method, url)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request");
    Answer {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

async fn post(stack: &Stack, backend: &str, user: Option<&str>, body: &Value) -> Answer {
    let token = user.map(|u| stack.token(u).to_owned());
    send(
        reqwest::Method::POST,
        &stack.url(backend),
        token.as_deref(),
        Some(body.to_string().into_bytes()),
        &[],
    )
    .await
}

/// Sends a POST with `path` exactly as given (no client-side normalization) and returns the
/// status code.
async fn raw_status(stack: &Stack, path: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = call("example_echo", 1).to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: {ACCEPT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        stack.gateway_addr,
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(stack.gateway_addr)
        .await
        .unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The last audit line, once `n` lines exist.
async fn last_line(stack: &Stack, n: usize) -> Value {
    let lines = stack.audit_lines(n).await;
    assert!(lines.len() >= n, "expected {n} audit lines, got {lines:#?}");
    lines[n - 1].clone()
}

#[tokio::test]
async fn unauthenticated_requests_get_401_and_are_audited() {
    let stack = Stack::start().await;
    let unknown = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no Authorization header"),
        (Some("Basic dXNlcjpwdw==".into()), "scheme is not Bearer"),
        (Some("Bearer !!!not-base64".into()), "not base64"),
        (Some(format!("Bearer {unknown}")), "unknown key"),
        (Some(format!("Bearer {}", "A".repeat(2000))), "not base64"),
    ];
    for (i, (auth, why)) in cases.iter().enumerate() {
        let extra: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let a = send(
            reqwest::Method::POST,
            &stack.url("example-ro"),
            None,
            Some(call("example_echo", 1).to_string().into_bytes()),
            &extra,
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(
            a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(a.json()["error"]["code"], -32001);
        let line = last_line(&stack, i + 1).await;
        assert_eq!(line["outcome"], "unauthenticated", "{why}");
        assert_eq!(line["http_status"], 401);
        assert_eq!(line["user"], Value::Null);
        assert!(
            line["error"].as_str().unwrap().contains(why),
            "{why}: {line}"
        );
    }
}

#[tokio::test]
async fn routing_and_policy_rows() {
    let stack = Stack::start().await;
    // Unknown backend: 404, audited with the name as asked.
    let a = post(&stack, "nope", Some("reader"), &call("example_echo", 1)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let line = last_line(&stack, 1).await;
    assert_eq!(
        (line["outcome"].as_str(), line["backend"].as_str()),
        (Some("denied"), Some("nope"))
    );
    // Encoded, traversing, case-varied or empty names are simply unknown (sent raw: an HTTP
    // client library would normalize some of these paths before they leave).
    for path in [
        "/mcp/example-ro%2F..%2Fexample-rw/mcp",
        "/mcp/../mcp/example-ro/mcp",
        "/mcp/example-ro/../example-ro/mcp",
        "/mcp/%65xample-ro/mcp",
        "/mcp/EXAMPLE-RO/mcp",
        "/mcp//mcp",
        "/mcp/example-ro//mcp",
        "/mcp/example%E2%80%90ro/mcp",
    ] {
        let status = raw_status(&stack, path, stack.token("reader")).await;
        assert_eq!(status, 404, "{path}");
    }
    // Role may not reach the backend: 403 with the request id.
    let a = post(
        &stack,
        "example-rw",
        Some("reader"),
        &call("example_echo", 41),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["id"], 41);
    assert_eq!(a.json()["error"]["code"], -32003);
    // Tool not allowed for the role: 403 with the id; the backend never sees it.
    let a = post(
        &stack,
        "example-rw",
        Some("narrow"),
        &call("example_write", 42),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["id"], 42);
    let lines = stack.audit_lines(11).await;
    let denied = lines
        .iter()
        .find(|l| l["jsonrpc_id"] == 42)
        .expect("audited");
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(denied["tool_name"], "example_write");
    assert_eq!(denied["role"], "narrow");
    // Method not allowed.
    let a = send(
        reqwest::Method::PUT,
        &stack.url("example-ro"),
        Some(stack.token("reader")),
        Some(b"{}".to_vec()),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "GET, POST, DELETE");
}

#[tokio::test]
async fn bad_bodies_are_refused_before_the_backend() {
    let stack = Stack::start().await;
    let token = stack.token("reader").to_owned();
    let url = stack.url("example-ro");
    // Over the limit, declared.
    let big = vec![b' '; 70_000];
    let a = send(reqwest::Method::POST, &url, Some(&token), Some(big), &[]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Over the limit, chunked (no Content-Length).
    let chunks =
        futures_util::stream::iter((0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let resp = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Not JSON, a batch, a duplicate member, a non-string tool name.
    for (body, code) in [
        ("nope", -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_echo"}}]"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_echo","name":"example_write"}}"#,
            -32700,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}}"#,
            -32602,
        ),
    ] {
        let a = send(
            reqwest::Method::POST,
            &url,
            Some(&token),
            Some(body.as_bytes().to_vec()),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.json()["error"]["code"], code, "{body}");
    }
    let lines = stack.audit_lines(6).await;
    assert_eq!(lines.len(), 6, "one line per refused request");
    assert!(lines.iter().all(|l| l["outcome"] == "denied"));
    // A 2026-07-28 header that disagrees with the body.
    let a = send(
        reqwest::Method::POST,
        &url,
        Some(&token),
        Some(call("example_echo", 5).to_string().into_bytes()),
        &[("mcp-method", "tools/call"), ("mcp-name", "example_write")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"]["code"], -32020);
    assert_eq!(a.json()["id"], 5);
}

#[tokio::test]
async fn unreachable_backends_are_502_and_504() {
    let stack = Stack::start().await;
    let a = post(
        &stack,
        "example-down",
        Some("reader"),
        &call("example_echo", 1),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert_eq!(a.json()["id"], 1);
    let a = post(
        &stack,
        "example-hang",
        Some("reader"),
        &call("example_echo", 2),
    )
    .await;
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
    let lines = stack.audit_lines(2).await;
    assert!(
        lines.iter().all(|l| l["outcome"] == "upstream_error"),
        "{lines:#?}"
    );
    let m = stack.metrics.render();
    assert!(
        m.contains(
            "mcp_gateway_upstream_errors_total{backend=\"example-down\",kind=\"connect\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "mcp_gateway_upstream_errors_total{backend=\"example-hang\",kind=\"timeout\"} 1"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn backend_answers_pass_through_unchanged() {
    let stack = Stack::start().await;
    let direct = format!("http://{}/mcp", stack.ro_addr);
    let token = stack.token("reader").to_owned();
    // Each of these makes the backend itself answer with an error status.
    type Case = (
        reqwest::Method,
        Vec<(&'static str, &'static str)>,
        Option<Vec<u8>>,
    );
    let cases: Vec<Case> = vec![
        (
            reqwest::Method::POST,
            vec![("accept", "text/plain")],
            Some(call("example_echo", 1).to_string().into_bytes()),
        ),
        (
            reqwest::Method::POST,
            vec![("content-type", "text/plain")],
            Some(call("example_echo", 1).to_string().into_bytes()),
        ),
        (
            reqwest::Method::POST,
            vec![("mcp-protocol-version", "1999-01-01")],
            Some(call("example_echo", 1).to_string().into_bytes()),
        ),
        (reqwest::Method::GET, vec![], None),
        (reqwest::Method::DELETE, vec![], None),
        (
            reqwest::Method::POST,
            vec![],
            Some(
                json!({"jsonrpc":"2.0","method":"notifications/initialized"})
                    .to_string()
                    .into_bytes(),
            ),
        ),
    ];
    for (method, headers, body) in cases {
        let d = send(method.clone(), &direct, None, body.clone(), &headers).await;
        let g = send(
            method.clone(),
            &stack.url("example-ro"),
            Some(&token),
            body,
            &headers,
        )
        .await;
        assert_eq!(g.status, d.status, "{method} {headers:?}");
        assert_eq!(g.body, d.body, "{method} {headers:?}");
        assert_eq!(g.headers.get("content-type"), d.headers.get("content-type"));
    }
}

#[tokio::test]
async fn key_file_reloads_without_restart() {
    let stack = Stack::start().await;
    let _watch = stack
        .gateway
        .keys
        .watch(Duration::from_millis(200))
        .expect("watch");
    let (raw, token) = harness::new_key();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    let try_new = || async {
        send(
            reqwest::Method::POST,
            &stack.url("example-ro"),
            Some(&token),
            Some(ping.to_string().into_bytes()),
            &[],
        )
        .await
        .status
    };
    assert_eq!(try_new().await, StatusCode::UNAUTHORIZED);

    // Add a key the way Kubernetes updates a Secret: new file, renamed over the old one.
    let mut keys: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&stack.keys_file).unwrap()).unwrap();
    keys.insert(
        "/mcp-gateway/keys/new".into(),
        format!("{}:reader/new-agent", mcp_gateway::keys::hash_hex(&raw)).into(),
    );
    let tmp = stack.dir.path().join("keys.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&keys).unwrap()).unwrap();
    std::fs::rename(&tmp, &stack.keys_file).unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if try_new().await == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "a key added to the file works without a restart");

    // A corrupt, half-written file keeps the last good set.
    std::fs::write(&stack.keys_file, b"{\"/mcp-gateway/keys/new\": \"abc").unwrap();
    let errors_before = stack.metrics.key_reload_errors.get();
    for _ in 0..100 {
        if stack.metrics.key_reload_errors.get() > errors_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        stack.metrics.key_reload_errors.get() > errors_before,
        "the bad file was seen and counted"
    );
    assert_eq!(try_new().await, StatusCode::OK, "old keys keep working");
    let reader = post(&stack, "example-ro", Some("reader"), &ping).await;
    assert_eq!(reader.status, StatusCode::OK);

    // Revocation: a good file without the key.
    keys.remove("/mcp-gateway/keys/new");
    std::fs::write(&tmp, serde_json::to_vec(&keys).unwrap()).unwrap();
    std::fs::rename(&tmp, &stack.keys_file).unwrap();
    let mut revoked = false;
    for _ in 0..100 {
        if try_new().await == StatusCode::UNAUTHORIZED {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked, "a key left out of a new file stops working");
    let m = stack.metrics.render();
    assert!(m.contains("mcp_gateway_keys_loaded 3"), "{m}");
}

/// One HTTP/1.1 connection kept open across requests (reqwest's pool would not promise that):
/// hyper's connection API, which fails a request rather than open another connection.
struct KeptAlive {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    host: String,
}

impl KeptAlive {
    async fn open(stack: &Stack) -> Self {
        let tcp = tokio::net::TcpStream::connect(stack.gateway_addr)
            .await
            .expect("connect");
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        Self {
            sender,
            host: stack.gateway_addr.to_string(),
        }
    }

    /// POSTs a ping to `backend` with `token`; the status, after reading the whole answer.
    async fn ping(&mut self, backend: &str, token: &str) -> u16 {
        self.post(
            backend,
            token,
            json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await
        .0
    }

    /// POSTs `body` to `backend` with `token`; the status and the whole answer.
    async fn post(&mut self, backend: &str, token: &str, body: Value) -> (u16, bytes::Bytes) {
        use http_body_util::BodyExt;
        let body = body.to_string();
        let req = http::Request::post(format!("/mcp/{backend}/mcp"))
            .header("host", &self.host)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        self.sender
            .ready()
            .await
            .expect("the connection is still open");
        let resp = self.sender.send_request(req).await.expect("an answer");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("the whole body");
        (status, body.to_bytes())
    }
}

/// A TCP relay on loopback in front of `to` that counts the connections it accepts.
async fn counting_relay(to: String, ct: CancellationToken) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let mut client = tokio::select! {
                r = listener.accept() => match r {
                    Ok((c, _)) => c,
                    Err(_) => return,
                },
                () = ct.cancelled() => return,
            };
            count.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, accepted)
}

/// A notification's answer is a 202 without a body, complete with its headers: it is audited
/// as answered (not as a client that left), counts no client disconnect, and the upstream
/// connection it used serves the next request.
#[tokio::test]
async fn notifications_are_audited_as_answered_and_keep_their_upstream_connection() {
    let ct = CancellationToken::new();
    let backend = harness::example_backend("ro", None, ct.clone()).await;
    let (relay, accepted) = counting_relay(backend.to_string(), ct.clone()).await;
    let stack = Stack::start_with(|text| {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("example-ro:"))
            .expect("the RO backend's line")
            .to_owned();
        *text = text.replace(&line, &format!("  example-ro: http://{relay}/mcp"));
    })
    .await;
    let reader = stack.token("reader").to_owned();
    let mut conn = KeptAlive::open(&stack).await;
    for i in 0..3 {
        let (status, body) = conn
            .post(
                "example-ro",
                &reader,
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!((status, body.len()), (202, 0), "notification {i}");
        let (status, body) = conn
            .post(
                "example-ro",
                &reader,
                json!({"jsonrpc": "2.0", "id": i, "method": "ping"}),
            )
            .await;
        assert_eq!(status, 200, "ping {i}: {body:?}");
    }
    let lines = stack.audit_lines(6).await;
    let notes: Vec<&Value> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/initialized")
        .collect();
    assert_eq!(notes.len(), 3, "{lines:#?}");
    for l in notes {
        assert_eq!(l["http_status"], 202, "{l}");
        assert_eq!(l["outcome"], "ok", "{l}");
        assert!(
            l.get("error").is_none(),
            "no error on an answered notification: {l}"
        );
    }
    let m = stack.metrics.render();
    for l in m.lines() {
        if l.starts_with("mcp_gateway_client_disconnects_total{") {
            assert!(l.ends_with(" 0"), "no client left: {l}");
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one upstream connection for all six requests"
    );
    ct.cancel();
}

/// The gateway remembers the key a connection authenticated with (auth::ConnAuth); on one
/// kept-alive connection a change of key, a revocation and an expiry still take effect at once.
#[tokio::test]
async fn one_connection_follows_key_changes_revocation_and_expiry() {
    let stack = Stack::start().await;
    let mut conn = KeptAlive::open(&stack).await;
    let (reader, writer) = (
        stack.token("reader").to_owned(),
        stack.token("writer").to_owned(),
    );
    assert_eq!(conn.ping("example-ro", &reader).await, 200);
    assert_eq!(
        conn.ping("example-rw", &reader).await,
        403,
        "reader may not use rw"
    );
    assert_eq!(
        conn.ping("example-rw", &writer).await,
        200,
        "another key, same connection"
    );
    assert_eq!(conn.ping("example-rw", &reader).await, 403, "and back");
    assert_eq!(
        conn.ping("example-ro", "bm90IGEga2V5IGF0IGFsbCwgbm8=")
            .await,
        401
    );

    // Revocation: a new file without the reader's key.
    let mut keys: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&stack.keys_file).unwrap()).unwrap();
    keys.remove("/mcp-gateway/keys/reader");
    // And a key that expires in a moment.
    let (raw, temp) = harness::new_key();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let exp = now() + 2;
    keys.insert(
        "/mcp-gateway/keys/temp".into(),
        mcp_gateway::keys::format_entry(&raw, "reader", "temp", Some(exp)).into(),
    );
    std::fs::write(&stack.keys_file, serde_json::to_vec(&keys).unwrap()).unwrap();
    stack.gateway.keys.reload().expect("reload");
    assert_eq!(
        conn.ping("example-ro", &reader).await,
        401,
        "revoked on the same connection"
    );
    assert_eq!(conn.ping("example-rw", &writer).await, 200);
    assert_eq!(conn.ping("example-ro", &temp).await, 200);
    assert_eq!(conn.ping("example-ro", &temp).await, 200);
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        conn.ping("example-ro", &temp).await,
        401,
        "expired on the same connection"
    );
    let expired = stack
        .audit_line(|l| l["error"] == "key expired")
        .await
        .expect("the expiry is audited");
    assert_eq!(expired["http_status"], 401, "{expired}");
    assert!(
        stack
            .audit_line(|l| l["error"] == "unknown key")
            .await
            .is_some(),
        "the revocation is audited"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let stack = Stack::start().await;
    let base = format!("http://{}", stack.gateway_addr);
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let _ = post(
        &stack,
        "example-ro",
        Some("reader"),
        &call("example_echo", 1),
    )
    .await;
    let _ = post(
        &stack,
        "example-rw",
        Some("narrow"),
        &call("example_write", 2),
    )
    .await;
    let _ = post(&stack, "example-ro", None, &call("example_echo", 3)).await;
    stack.audit_lines(3).await;
    let m = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "mcp_gateway_requests_total{backend=\"example-ro\",kind=\"mcp_tool_call\",outcome=\"ok\"} 1",
        "mcp_gateway_requests_total{backend=\"example-rw\",kind=\"mcp_tool_call\",outcome=\"denied\"} 1",
        "mcp_gateway_requests_total{backend=\"_unknown\",kind=\"mcp_request\",outcome=\"unauthenticated\"} 1",
        "mcp_gateway_tool_calls_total{backend=\"example-ro\",tool=\"example_echo\",outcome=\"ok\"} 1",
        "mcp_gateway_request_duration_seconds_count{backend=\"example-ro\"} 1",
        "mcp_gateway_keys_loaded 3",
        "mcp_gateway_key_reload_errors_total 0",
        "mcp_gateway_key_requests_total{key_id=",
        "mcp_gateway_audit_lines_total 3",
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}

#[tokio::test]
async fn no_keys_means_not_ready() {
    let stack = Stack::start_with(|t| *t = t.replace("keys.json", "absent.json")).await;
    let base = format!("http://{}", stack.gateway_addr);
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("no keys loaded"));
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// A backend that answers tools/list as an SSE stream: a priming event, then the result.
async fn sse_backend(ct: CancellationToken) -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|body: axum::body::Bytes| async move {
            let req: Value = serde_json::from_slice(&body).unwrap();
            let result = json!({"jsonrpc":"2.0","id":req["id"],"result":{"tools":[
                {"name":"example_echo","inputSchema":{"type":"object"}},
                {"name":"example_write","inputSchema":{"type":"object"}},
                {"name":"example_secret","inputSchema":{"type":"object"}}
            ]}});
            let text =
                format!("id: 0\nretry: 3000\ndata: \n\nevent: message\nid: 1\ndata: {result}\n\n");
            ([("content-type", "text/event-stream")], text)
        }),
    );
    harness::serve(router, ct).await
}

#[tokio::test]
async fn sse_tools_list_is_filtered_for_a_narrowed_role() {
    let ct = CancellationToken::new();
    let addr = sse_backend(ct.clone()).await;
    let stack = Stack::start_with(|t| {
        *t = t
            .replace(
                "backends:\n",
                &format!("backends:\n  example-sse: http://{addr}/mcp\n"),
            )
            .replace(
                "  narrow:\n",
                "  narrow:\n    - backend: example-sse\n      tools: [example_echo]\n",
            )
            .replace("  writer: [", "  writer: [example-sse, ");
    })
    .await;
    let list = json!({"jsonrpc":"2.0","id":7,"method":"tools/list"});
    let a = post(&stack, "example-sse", Some("narrow"), &list).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "text/event-stream");
    assert_eq!(a.headers["x-accel-buffering"], "no");
    let data: Vec<&str> = a
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(data.len(), 1, "{}", a.body);
    let v: Value = serde_json::from_str(data[0]).unwrap();
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["example_echo"]);
    assert!(
        a.body.contains("retry: 3000"),
        "other events pass unchanged: {}",
        a.body
    );
    // A role with full access sees the stream byte for byte.
    let full = post(&stack, "example-sse", Some("writer"), &list).await;
    assert!(full.body.contains("example_secret"));
    ct.cancel();
}

#[tokio::test]
async fn sessions_are_bound_to_the_key_that_opened_them() {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };

    let ct = CancellationToken::new();
    // A stateful backend (sessions on), as a third-party server might be.
    let ctx = mcp_common::BackendServer::new("example", clap_args()).tool_context();
    let handler = integration_tests::example::Example::new(ctx);
    let service: StreamableHttpService<integration_tests::example::Example, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default()
                .disable_allowed_hosts()
                .with_cancellation_token(ct.child_token()),
        );
    let addr = harness::serve(
        axum::Router::new().nest_service("/mcp", service),
        ct.clone(),
    )
    .await;
    let stack = Stack::start_with(|t| {
        *t = t
            .replace(
                "backends:\n",
                &format!("backends:\n  example-stateful: http://{addr}/mcp\n"),
            )
            .replace("  reader: [", "  reader: [example-stateful, ")
            .replace("  writer: [", "  writer: [example-stateful, ");
    })
    .await;

    // The rmcp client works through the gateway with sessions (the id it holds is the bound one).
    let c = stack
        .client(
            "reader",
            "example-stateful",
            &rmcp::model::ProtocolVersion::V_2025_11_25,
        )
        .await
        .expect("connect");
    assert!(!c.list_all_tools().await.expect("list").is_empty());
    c.cancel().await.ok();

    // Open a session by hand to hold its id.
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let a = post(&stack, "example-stateful", Some("reader"), &init).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let sid = a.headers["mcp-session-id"].to_str().unwrap().to_owned();
    assert!(sid.contains('.'), "the client sees the bound id: {sid}");
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    let with_sid = |user: &'static str, body: Value| {
        let token = stack.token(user).to_owned();
        let url = stack.url("example-stateful");
        let sid = sid.clone();
        async move {
            send(
                reqwest::Method::POST,
                &url,
                Some(&token),
                Some(body.to_string().into_bytes()),
                &[("mcp-session-id", sid.as_str())],
            )
            .await
        }
    };
    assert_eq!(
        with_sid("reader", initialized).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        with_sid("reader", list.clone()).await.status,
        StatusCode::OK
    );
    // Another key replaying the session id: 404, as if the session did not exist.
    let stolen = with_sid("writer", list).await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    // The upstream id alone (without the gateway's tag) is refused too.
    let raw_id = sid.rsplit_once('.').unwrap().0.to_owned();
    let a = send(
        reqwest::Method::POST,
        &stack.url("example-stateful"),
        Some(stack.token("reader")),
        Some(
            json!({"jsonrpc":"2.0","id":3,"method":"tools/list"})
                .to_string()
                .into_bytes(),
        ),
        &[("mcp-session-id", raw_id.as_str())],
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    ct.cancel();
}

fn clap_args() -> mcp_common::ServerArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        s: mcp_common::ServerArgs,
    }
    A::parse_from(["x", "--env", "test"]).s
}

#[tokio::test]
async fn browsers_and_rebound_names_are_refused() {
    let stack = Stack::start_with(|t| t.push_str("allowed_hosts: [127.0.0.1, localhost]\n")).await;
    let token = stack.token("reader").to_owned();
    let body = Some(call("example_echo", 1).to_string().into_bytes());
    let url = stack.url("example-ro");
    let ok = send(reqwest::Method::POST, &url, Some(&token), body.clone(), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    let same_origin = format!("http://{}", stack.gateway_addr);
    let ok = send(
        reqwest::Method::POST,
        &url,
        Some(&token),
        body.clone(),
        &[("origin", same_origin.as_str())],
    )
    .await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "a page served from an allowed host may call"
    );
    for extra in [
        vec![("host", "evil.example.com")],
        vec![("origin", "http://evil.example.com")],
        vec![
            ("host", "evil.example.com"),
            ("origin", "http://evil.example.com"),
        ],
    ] {
        let a = send(
            reqwest::Method::POST,
            &url,
            Some(&token),
            body.clone(),
            &extra,
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{extra:?}");
    }
    // Without allowed_hosts, any Host is served but no browser Origin is.
    let open = Stack::start().await;
    let a = send(
        reqwest::Method::POST,
        &open.url("example-ro"),
        Some(open.token("reader")),
        body.clone(),
        &[("origin", "http://localhost")],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let line = last_line(&open, 1).await;
    assert_eq!(line["outcome"], "denied");
    assert!(line["error"].as_str().unwrap().contains("Origin"));
}

#[tokio::test]
async fn a_live_stream_outlives_the_first_byte_timeout() {
    // first_byte_timeout is 1 s in the test stack; this stream runs ~1.6 s after its headers.
    let stack = Stack::start().await;
    stack.gate.notify_one();
    let started = std::time::Instant::now();
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"example_progress","arguments":{"steps":3,"delay_ms":800},"_meta":{"progressToken":"p1"}}});
    let a = post(&stack, "example-ro", Some("reader"), &body).await;
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the stream must outlast the timeout for this test to mean anything"
    );
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "text/event-stream");
    assert_eq!(
        a.body.matches("notifications/progress").count(),
        3,
        "{}",
        a.body
    );
    assert!(a.body.contains(r#""steps":3"#), "{}", a.body);
    let line = last_line(&stack, 1).await;
    assert_eq!(line["outcome"], "ok");
    assert!(
        line["duration_ms"].as_u64().unwrap() >= 1000,
        "duration runs to the end of the stream: {line}"
    );
}

/// Writes `request` on a fresh connection, half-closes it, and returns the status code of the
/// answer (0 when there is none).
async fn raw_exchange(stack: &Stack, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(stack.gateway_addr)
        .await
        .unwrap();
    s.write_all(request).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn malformed_http_and_header_tricks() {
    let stack = Stack::start().await;
    let token = stack.token("reader").to_owned();
    let host = stack.gateway_addr;
    // A body shorter than its Content-Length: refused and audited.
    let truncated = format!(
        "POST /mcp/example-ro/mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: {ACCEPT}\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
    );
    assert_eq!(raw_exchange(&stack, truncated.as_bytes()).await, 400);
    let line = last_line(&stack, 1).await;
    assert_eq!(
        (line["outcome"].as_str(), line["http_status"].as_u64()),
        (Some("denied"), Some(400))
    );
    // CR inside a header value: the HTTP parser refuses it before any handler (nothing to audit).
    let crlf = format!(
        "POST /mcp/example-ro/mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nX-Evil: a\rInjected: b\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    assert_eq!(raw_exchange(&stack, crlf.as_bytes()).await, 400);

    // Client headers that try to steer the upstream or pose as the gateway change nothing.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_headers","arguments":{}}});
    let a = send(
        reqwest::Method::POST,
        &stack.url("example-ro"),
        Some(&token),
        Some(body.to_string().into_bytes()),
        &[
            ("host", "example-rw.internal"),
            ("x-forwarded-host", "example-rw"),
            ("x-forwarded-for", "10.0.0.1"),
            ("forwarded", "for=10.0.0.1;host=example-rw"),
            ("x-original-url", "/mcp/example-rw/mcp"),
            ("x-rewrite-url", "/mcp/example-rw/mcp"),
            ("cookie", "session=abc"),
            ("proxy-authorization", "Basic abc"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let headers = &a.json()["result"]["structuredContent"]["headers"];
    let names: Vec<&str> = headers
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for forbidden in [
        "x-forwarded-host",
        "x-forwarded-for",
        "forwarded",
        "x-original-url",
        "x-rewrite-url",
        "cookie",
        "proxy-authorization",
        "authorization",
    ] {
        assert!(
            !names.contains(&forbidden),
            "{forbidden} reached the backend: {names:?}"
        );
    }
    assert_eq!(headers["host"][0], stack.ro_addr.to_string());

    // A forbidden tool is refused even as a notification (no id).
    let a = post(
        &stack,
        "example-rw",
        Some("narrow"),
        &json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"example_write","arguments":{"name":"x"}}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

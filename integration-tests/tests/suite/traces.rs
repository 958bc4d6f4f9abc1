//! OpenTelemetry traces end to end: a real OTLP/HTTP receiver on loopback decodes what the
//! gateway (in-process, with its own trace pipeline) and an example backend (a process, traced
//! through the standard `OTEL_*` variables alone) export; a tools/call through the gateway
//! leaves one trace: the gateway's span, the backend's request span under it, the tool span
//! under that. Denied and unauthenticated calls leave a gateway span; a client's trace headers
//! are linked (or continued, when configured), never passed on; nothing is exported, and no
//! exporter thread runs, when no OTLP endpoint is configured.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use integration_tests::harness;
use mcp_common::traces::{ClientContext, Traces, TracesConfig};
use mcp_gateway::Gateway;
use mcp_gateway::audit::AuditSink;
use mcp_gateway::config::Config;
use mcp_gateway::metrics::Metrics;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtelStatus;
use prost::Message;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const EXAMPLE: &str = env!("CARGO_BIN_EXE_mcp-example");
const ACCEPT: &str = "application/json, text/event-stream";

/// The client's own trace context, as an agent runtime would send it.
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// Trace headers of every other convention, plus credentials: none of them may reach a backend.
const CLIENT_HEADERS: &[(&str, &str)] = &[
    (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("tracestate", "agent=t61rcWkgMzE"),
    ("baggage", "user.id=someone-else,tenant=other"),
    ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
    ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ("x-b3-spanid", "00f067aa0ba902b7"),
    ("x-b3-sampled", "1"),
    (
        "uber-trace-id",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
    ),
    (
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    ),
    (
        "x-cloud-trace-context",
        "105445aa7843bc8bf206b12000100000/1;o=1",
    ),
    ("grpc-trace-bin", "AAAAAA"),
    ("sw8", "1-abc"),
    ("cookie", "session=secret"),
];

/// One exported span and the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    span: Span,
}

impl Got {
    fn attr(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                AnyValue::StringValue(s) => s.clone(),
                AnyValue::IntValue(i) => i.to_string(),
                AnyValue::BoolValue(b) => b.to_string(),
                AnyValue::DoubleValue(d) => d.to_string(),
                other => format!("{other:?}"),
            })
    }

    fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    fn status_is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == OtelStatus::Error as i32)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A loopback OTLP/HTTP receiver. Counts every request it gets, on any path.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Got>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(ct: CancellationToken) -> (Self, SocketAddr) {
        let r = Receiver::default();
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(ingest))
            .fallback(
                |State(r): State<Receiver>, req: axum::extract::Request| async move {
                    let got = format!("{} {}", req.method(), req.uri().path());
                    r.requests.lock().unwrap().push(got);
                    axum::http::StatusCode::NOT_FOUND
                },
            )
            .with_state(r.clone());
        let addr = harness::serve(app, ct).await;
        (r, addr)
    }

    fn spans(&self) -> Vec<Got> {
        self.spans.lock().unwrap().clone()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn ingest(
    State(r): State<Receiver>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    r.requests
        .lock()
        .unwrap()
        .push(format!("/v1/traces {content_type}"));
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            [("content-type", "text/plain")],
            b"not an ExportTraceServiceRequest".to_vec(),
        );
    };
    let mut spans = r.spans.lock().unwrap();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|res| res.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                spans.push(Got {
                    service: service.clone(),
                    span,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: full success.
    (
        axum::http::StatusCode::OK,
        [("content-type", "application/x-protobuf")],
        Vec::new(),
    )
}

/// The example backend as a process; killed on drop if the test did not stop it.
struct Backend {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Backend {
    /// Starts `mcp-example` with `env` on top of an environment cleared of `OTEL_*` variables.
    async fn start(env: &[(&str, String)]) -> Backend {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut cmd = Command::new(EXAMPLE);
        cmd.args([
            "--listen",
            &addr.to_string(),
            "--access",
            "ro",
            "--env",
            "test",
            "--allowed-host",
            "*",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("OTEL_") || k.starts_with("MCP_TRACES_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn mcp-example");
        let backend = Backend {
            pid: child.id(),
            child: Some(child),
            addr,
        };
        let c = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "backend did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        backend
    }

    /// Threads of the process whose name starts with `prefix` (Linux: /proc/PID/task/*/comm).
    fn threads_named(&self, prefix: &str) -> usize {
        let dir = format!("/proc/{}/task", self.pid);
        std::fs::read_dir(dir)
            .expect("/proc is readable")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count()
    }

    /// SIGTERM, then waits for a clean exit (the backend flushes its last spans on the way).
    async fn stop(mut self) {
        assert!(
            Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        let mut child = self.child.take().expect("running");
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "backend exit: {status:?}");
    }
}

/// A gateway in front of `backend` with an explicit trace pipeline (or none). Users: `reader`
/// (reaches example-ro) and `narrow` (example-ro, only `example_echo`).
struct Front {
    gateway: Arc<Gateway>,
    audit: AuditSink,
    addr: SocketAddr,
    tokens: HashMap<&'static str, String>,
    _dir: tempfile::TempDir,
}

impl Front {
    async fn start(backend: SocketAddr, traces: Option<Traces>, ct: CancellationToken) -> Front {
        let dir = tempfile::tempdir().unwrap();
        let keys_file = dir.path().join("keys.json");
        let mut tokens = HashMap::new();
        let mut entries = serde_json::Map::new();
        for user in ["reader", "narrow"] {
            let (raw, token) = harness::new_key();
            entries.insert(
                format!("/mcp-gateway/keys/{user}"),
                format!("{}:{user}/{user}", mcp_gateway::keys::hash_hex(&raw)).into(),
            );
            tokens.insert(user, token);
        }
        std::fs::write(&keys_file, serde_json::to_vec(&entries).unwrap()).unwrap();
        let text = format!(
            "listen: 127.0.0.1:0\nkeys_file: {}\nbackends:\n  example-ro: http://{backend}/mcp\nroleMapping:\n  reader: [example-ro]\n  narrow:\n    - backend: example-ro\n      tools: [example_echo]\n",
            keys_file.display()
        );
        let (config, _) = Config::parse(&text).expect("valid config");
        let metrics = Metrics::new();
        let audit = AuditSink::memory(metrics.clone());
        let gateway = Gateway::with_traces(config, audit.clone(), metrics, traces);
        let addr = harness::serve_gateway(gateway.clone(), ct).await;
        Front {
            gateway,
            audit,
            addr,
            tokens,
            _dir: dir,
        }
    }

    /// A tools/call with JSON-RPC id `id` as `user` (`None`: a key the gateway does not know),
    /// with the client's trace headers.
    async fn call(&self, user: Option<&str>, id: u64, tool: &str, args: Value) -> (u16, Value) {
        let token = user.map_or_else(|| harness::new_key().1, |u| self.tokens[u].clone());
        let mut req = reqwest::Client::new()
            .post(format!("http://{}/mcp/example-ro/mcp", self.addr))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25");
        for (k, v) in CLIENT_HEADERS {
            req = req.header(*k, *v);
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": args}});
        let resp = req.body(body.to_string()).send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Exports the gateway's finished spans now.
    async fn flush(&self) {
        let traces = self.gateway.traces.clone().expect("traces on");
        tokio::task::spawn_blocking(move || traces.force_flush())
            .await
            .unwrap()
            .expect("flush");
    }
}

/// The headers `example_headers` reports the backend received.
fn received_headers(answer: &Value) -> HashMap<String, Vec<String>> {
    serde_json::from_value(answer["result"]["structuredContent"]["headers"].clone())
        .unwrap_or_else(|e| panic!("example_headers result ({e}): {answer}"))
}

fn assert_no_foreign_headers(h: &HashMap<String, Vec<String>>) {
    for (name, _) in CLIENT_HEADERS {
        if matches!(*name, "traceparent" | "tracestate") {
            continue;
        }
        assert!(
            !h.contains_key(*name),
            "`{name}` reached the backend: {h:?}"
        );
    }
    assert!(!h.contains_key("authorization"), "{h:?}");
}

/// Waits until `pred` holds for the receiver's spans.
async fn wait_spans(r: &Receiver, what: &str, pred: impl Fn(&[Got]) -> bool) -> Vec<Got> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans = r.spans();
        if pred(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: spans received so far: {:#?}",
            spans
                .iter()
                .map(|g| (&g.service, &g.span.name, g.trace_id()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn gateway_span(spans: &[Got], jsonrpc_id: u64) -> &Got {
    spans
        .iter()
        .find(|g| {
            g.service == "mcp-gateway"
                && g.attr("jsonrpc.request.id").as_deref() == Some(&jsonrpc_id.to_string())
        })
        .unwrap_or_else(|| panic!("no gateway span for JSON-RPC id {jsonrpc_id}"))
}

fn audit_line(lines: &[Value], jsonrpc_id: u64) -> &Value {
    lines
        .iter()
        .find(|l| l["jsonrpc_id"] == json!(jsonrpc_id))
        .unwrap_or_else(|| panic!("no audit line for JSON-RPC id {jsonrpc_id}: {lines:?}"))
}

#[tokio::test]
async fn a_tool_call_is_one_trace_across_gateway_and_backend() {
    mcp_common::telemetry::install_crypto_provider();
    let ct = CancellationToken::new();
    let _stop = ct.clone().drop_guard();
    let (receiver, otlp) = Receiver::start(ct.clone()).await;
    // The backend is configured the way an operator would: environment variables only. Its
    // batch delay is long, so its spans arrive only through the flush on SIGTERM.
    let backend = Backend::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")),
        ("OTEL_SERVICE_NAME", "mcp-example".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".into()),
    ])
    .await;
    #[cfg(target_os = "linux")]
    assert_eq!(
        backend.threads_named("OpenTelemetry"),
        1,
        "a traced backend runs the batch span processor's thread"
    );
    let endpoint = format!("http://{otlp}/v1/traces");
    let linked = Front::start(
        backend.addr,
        Some(Traces::start(&TracesConfig::new(&endpoint, "mcp-gateway")).unwrap()),
        ct.clone(),
    )
    .await;
    let continued = Front::start(
        backend.addr,
        Some(
            Traces::start(
                &TracesConfig::new(&endpoint, "mcp-gateway")
                    .with_client_context(ClientContext::Continue),
            )
            .unwrap(),
        ),
        ct.clone(),
    )
    .await;

    let (status, _) = linked
        .call(
            Some("reader"),
            101,
            "example_echo",
            json!({"message": "hi"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, headers_answer) = linked
        .call(Some("reader"), 102, "example_headers", json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, failed) = linked
        .call(Some("reader"), 103, "example_fail", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    let (status, _) = linked
        .call(Some("narrow"), 104, "example_fail", json!({}))
        .await;
    assert_eq!(status, 403, "outside the role's tools");
    let (status, _) = linked
        .call(None, 105, "example_echo", json!({"message": "hi"}))
        .await;
    assert_eq!(status, 401);
    let (status, continued_headers) = continued
        .call(Some("reader"), 201, "example_headers", json!({}))
        .await;
    assert_eq!(status, 200);

    let audit = linked.audit.wait_for(5, Duration::from_secs(10)).await;
    assert_eq!(audit.len(), 5, "{audit:?}");
    let continued_audit = continued.audit.wait_for(1, Duration::from_secs(10)).await;
    linked.flush().await;
    continued.flush().await;
    backend.stop().await;

    // Four backend calls, two spans each: the request span and the tool span.
    let spans = wait_spans(&receiver, "gateway and backend spans", |s| {
        s.iter().filter(|g| g.service == "mcp-gateway").count() >= 6
            && s.iter().filter(|g| g.service == "mcp-example").count() >= 8
    })
    .await;
    let backend_spans: Vec<&Got> = spans
        .iter()
        .filter(|g| g.service == "mcp-example")
        .collect();
    let children_of = |parent: &Got| -> Vec<&Got> {
        backend_spans
            .iter()
            .copied()
            .filter(|g| g.trace_id() == parent.trace_id() && g.parent_id() == parent.span_id())
            .collect()
    };

    // 101: ok. The gateway's span is a root linked to the client's span; the backend's request
    // span is its child, the tool span the request span's child.
    let gw = gateway_span(&spans, 101);
    assert_eq!(gw.span.name, "tools/call example_echo");
    assert_eq!(gw.span.kind, SpanKind::Server as i32);
    assert_eq!(
        gw.parent_id(),
        "",
        "a new trace: the client does not choose it"
    );
    assert_ne!(gw.trace_id(), CLIENT_TRACE);
    assert_eq!(gw.span.links.len(), 1, "the client's span is linked");
    assert_eq!(hex(&gw.span.links[0].trace_id), CLIENT_TRACE);
    assert_eq!(hex(&gw.span.links[0].span_id), CLIENT_SPAN);
    for (k, v) in [
        ("user.id", "reader"),
        ("mcp_gateway.role", "reader"),
        ("mcp_gateway.backend", "example-ro"),
        ("gen_ai.tool.name", "example_echo"),
        ("gen_ai.operation.name", "execute_tool"),
        ("mcp.method.name", "tools/call"),
        ("mcp_gateway.outcome", "ok"),
        ("http.response.status_code", "200"),
        ("http.request.method", "POST"),
        ("mcp.protocol.version", "2025-11-25"),
    ] {
        assert_eq!(gw.attr(k).as_deref(), Some(v), "{k}");
    }
    assert!(!gw.status_is_error());
    let line = audit_line(&audit, 101);
    assert_eq!(
        line["trace_id"],
        json!(gw.trace_id()),
        "audit line names the trace"
    );
    assert_eq!(
        gw.attr("mcp_gateway.request_id").as_deref(),
        line["request_id"].as_str()
    );
    let audited_ms = line["duration_ms"].as_u64().unwrap();
    assert_eq!(
        gw.attr("mcp_gateway.duration_ms"),
        Some(audited_ms.to_string())
    );
    let span_ms = (gw.span.end_time_unix_nano - gw.span.start_time_unix_nano) / 1_000_000;
    assert!(
        span_ms.abs_diff(audited_ms) <= 5,
        "span {span_ms} ms vs audit {audited_ms} ms"
    );
    let requests = children_of(gw);
    assert_eq!(
        requests.len(),
        1,
        "one backend request span under the gateway's"
    );
    let request = requests[0];
    assert_eq!(request.span.name, "POST /mcp");
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    assert_eq!(request.attr("mcp_server.name").as_deref(), Some("example"));
    assert_eq!(request.attr("mcp_server.access").as_deref(), Some("ro"));
    assert_eq!(
        request.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        request.attr("mcp_gateway.request_id"),
        gw.attr("mcp_gateway.request_id"),
        "the backend span carries the audit request id"
    );
    let tools = children_of(request);
    assert_eq!(tools.len(), 1, "one tool span under the request span");
    let tool = tools[0];
    assert_eq!(tool.span.name, "execute_tool example_echo");
    assert_eq!(
        tool.attr("gen_ai.tool.name").as_deref(),
        Some("example_echo")
    );
    assert_eq!(tool.attr("mcp_server.outcome").as_deref(), Some("ok"));
    assert!(!tool.status_is_error());
    assert!(
        tool.span.start_time_unix_nano >= gw.span.start_time_unix_nano
            && tool.span.end_time_unix_nano <= gw.span.end_time_unix_nano,
        "the tool ran inside the gateway's span"
    );

    // 102: the backend received the gateway's traceparent, nothing of the client's.
    let gw = gateway_span(&spans, 102);
    let h = received_headers(&headers_answer);
    assert_eq!(
        h.get("traceparent"),
        Some(&vec![format!("00-{}-{}-01", gw.trace_id(), gw.span_id())]),
        "{h:?}"
    );
    assert!(
        !h.contains_key("tracestate"),
        "client's tracestate dropped: {h:?}"
    );
    assert_no_foreign_headers(&h);
    assert_eq!(children_of(gw).len(), 1);

    // 103: the tool failed; both sides say so.
    let gw = gateway_span(&spans, 103);
    assert_eq!(
        gw.attr("mcp_gateway.outcome").as_deref(),
        Some("tool_error")
    );
    assert_eq!(gw.attr("error.type").as_deref(), Some("tool_error"));
    assert!(gw.status_is_error());
    let request = children_of(gw);
    assert_eq!(request.len(), 1);
    let tool = children_of(request[0]);
    assert_eq!(tool.len(), 1);
    assert_eq!(tool[0].span.name, "execute_tool example_fail");
    assert_eq!(
        tool[0].attr("mcp_server.outcome").as_deref(),
        Some("tool_error")
    );
    assert_eq!(tool[0].attr("error.type").as_deref(), Some("tool_error"));
    assert!(tool[0].status_is_error());
    assert!(
        tool[0]
            .span
            .status
            .as_ref()
            .is_some_and(|s| s.message.contains("permission denied")),
        "{:?}",
        tool[0].span.status
    );

    // 104: denied by the gateway: a span with the outcome, and nothing at the backend.
    let gw = gateway_span(&spans, 104);
    assert_eq!(gw.span.name, "tools/call example_fail");
    for (k, v) in [
        ("user.id", "narrow"),
        ("mcp_gateway.role", "narrow"),
        ("mcp_gateway.backend", "example-ro"),
        ("gen_ai.tool.name", "example_fail"),
        ("mcp_gateway.outcome", "denied"),
        ("error.type", "denied"),
        ("http.response.status_code", "403"),
    ] {
        assert_eq!(gw.attr(k).as_deref(), Some(v), "{k}");
    }
    assert!(gw.status_is_error());
    assert!(
        !backend_spans.iter().any(|b| b.trace_id() == gw.trace_id()),
        "a denied call never reaches the backend"
    );
    assert_eq!(audit_line(&audit, 104)["trace_id"], json!(gw.trace_id()));

    // 105: unauthenticated (refused before the body is read): a span, without a user.
    let gw = spans
        .iter()
        .find(|g| g.attr("mcp_gateway.outcome").as_deref() == Some("unauthenticated"))
        .expect("a span for the unauthenticated call");
    assert_eq!(gw.span.name, "mcp POST");
    assert_eq!(
        gw.attr("mcp_gateway.outcome").as_deref(),
        Some("unauthenticated")
    );
    assert_eq!(gw.attr("http.response.status_code").as_deref(), Some("401"));
    assert_eq!(gw.attr("user.id"), None);
    assert!(!backend_spans.iter().any(|b| b.trace_id() == gw.trace_id()));

    // 201, continue mode: the gateway's span joins the client's trace as its child, and the
    // backend's spans follow.
    let gw = gateway_span(&spans, 201);
    assert_eq!(gw.trace_id(), CLIENT_TRACE);
    assert_eq!(gw.parent_id(), CLIENT_SPAN);
    assert!(gw.span.links.is_empty());
    assert_eq!(
        audit_line(&continued_audit, 201)["trace_id"],
        json!(CLIENT_TRACE)
    );
    let h = received_headers(&continued_headers);
    assert_eq!(
        h.get("traceparent"),
        Some(&vec![format!("00-{CLIENT_TRACE}-{}-01", gw.span_id())])
    );
    assert_eq!(
        h.get("tracestate"),
        Some(&vec!["agent=t61rcWkgMzE".to_owned()]),
        "continue mode keeps the client's tracestate"
    );
    assert_no_foreign_headers(&h);
    assert_eq!(children_of(gw).len(), 1);

    // Everything the exporter sent arrived as OTLP/HTTP protobuf on the traces path. The
    // exporter only POSTs: a GET is another test's poller that found this receiver on a port
    // its own server had freed (seen once in CI: `GET /metrics`).
    let requests = receiver.requests();
    let exported: Vec<&String> = requests.iter().filter(|p| !p.starts_with("GET ")).collect();
    assert!(!exported.is_empty(), "{requests:?}");
    assert!(
        exported
            .iter()
            .all(|p| *p == "/v1/traces application/x-protobuf"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn without_an_otlp_endpoint_nothing_is_exported() {
    mcp_common::telemetry::install_crypto_provider();
    let ct = CancellationToken::new();
    let _stop = ct.clone().drop_guard();
    let (receiver, otlp) = Receiver::start(ct.clone()).await;
    // Everything but a traces endpoint: the other signals' endpoints point at the receiver, so
    // an exporter that ignored the rules would be seen.
    let backend = Backend::start(&[
        ("OTEL_SERVICE_NAME", "mcp-example".into()),
        ("OTEL_TRACES_SAMPLER", "always_on".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "10".into()),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("http://{otlp}/v1/metrics"),
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("http://{otlp}/v1/logs"),
        ),
    ])
    .await;
    let front = Front::start(backend.addr, None, ct.clone()).await;
    let (status, _) = front
        .call(Some("reader"), 1, "example_echo", json!({"message": "hi"}))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = front
        .call(Some("reader"), 2, "example_headers", json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = front
        .call(Some("narrow"), 3, "example_fail", json!({}))
        .await;
    assert_eq!(status, 403);

    #[cfg(target_os = "linux")]
    assert_eq!(
        backend.threads_named("OpenTelemetry"),
        0,
        "no exporter thread without an endpoint"
    );
    // Traces off at the gateway: the client's W3C headers pass as the proxy allow-list says
    // (a mesh or the backend may still use them), nothing else does.
    let h = received_headers(&answer);
    assert_eq!(
        h.get("traceparent"),
        Some(&vec![CLIENT_HEADERS[0].1.to_owned()])
    );
    assert_eq!(
        h.get("tracestate"),
        Some(&vec![CLIENT_HEADERS[1].1.to_owned()])
    );
    assert_no_foreign_headers(&h);
    let audit = front.audit.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(audit.len(), 3);
    assert!(
        audit.iter().all(|l| l.get("trace_id").is_none()),
        "no trace id in the audit without traces: {audit:?}"
    );

    backend.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // (A GET is another test's poller on a reused port, as above: the exporter only POSTs.)
    assert!(
        receiver.requests().iter().all(|p| p.starts_with("GET ")),
        "nothing exported: {:?}",
        receiver.requests()
    );
    assert!(receiver.spans().is_empty());
}

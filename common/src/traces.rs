//! OpenTelemetry traces, exported over OTLP/HTTP with protobuf bodies (what every OTLP collector,
//! Jaeger, Tempo and Langfuse accept).
//!
//! **Off unless an OTLP endpoint is configured** (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`). Off means no tracer provider, no exporter and no background
//! thread: the gateway and the backends check one `Option` per request and do nothing else.
//!
//! On, the process keeps one batch span processor (one thread, plus the blocking HTTP client's
//! own) that exports every `OTEL_BSP_SCHEDULE_DELAY` (default 5 s). The standard variables are
//! honoured: `OTEL_SERVICE_NAME` (default: the executable's name), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_EXPORTER_OTLP_HEADERS` (and
//! `_TRACES_HEADERS`), `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`, `OTEL_SDK_DISABLED`.
//! `OTEL_EXPORTER_OTLP_PROTOCOL` may only be `http/protobuf`: gRPC and JSON are not built in.
//! A configuration that cannot work is logged as an error and the process serves without
//! traces; telemetry never stops a server from starting.
//!
//! Who adds which span:
//! - the gateway: one SERVER span per MCP request (its own module `trace` in the gateway);
//! - every backend, through [`crate::server::BackendServer::app`]: a SERVER span per request to
//!   `/mcp`, continuing the `traceparent` the gateway sent, and through
//!   [`crate::tool::routes_for`] a child span per tool call with the tool's name and outcome.
//!
//! Backends continue any valid `traceparent` they receive: only the gateway calls them, and it
//! replaces the client's trace headers with its own (see `docs/observability.md`). Trace context
//! inside the MCP message (`params._meta.traceparent`) is never read: it is client-controlled
//! and the gateway forwards the body unchanged.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// Gateway only: what to do with a client's `traceparent` (`link`, the default, or `continue`).
pub const CLIENT_CONTEXT_VAR: &str = "MCP_TRACES_CLIENT_CONTEXT";

/// Longest `tracestate` taken from a request; longer ones are ignored (W3C Trace Context lets a
/// vendor drop a list over 512 characters).
const MAX_TRACESTATE: usize = 512;

/// How the gateway treats trace context sent by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientContext {
    /// The gateway starts a new trace for every request and records the client's span, if any,
    /// as a link. A client can neither choose the gateway's trace id nor its sampling decision.
    #[default]
    Link,
    /// The gateway's span is a child of the client's: agent, gateway and backend share one
    /// trace. For agents the operator trusts (their own agent runtime sending to Langfuse).
    Continue,
}

impl ClientContext {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientContext::Link => "link",
            ClientContext::Continue => "continue",
        }
    }
}

/// Where and as whom to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracesConfig {
    /// The full traces URL (`…/v1/traces`).
    pub endpoint: String,
    /// `service.name` of the resource.
    pub service_name: String,
    pub client_context: ClientContext,
}

impl TracesConfig {
    pub fn new(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            service_name: service_name.into(),
            client_context: ClientContext::default(),
        }
    }

    pub fn with_client_context(mut self, c: ClientContext) -> Self {
        self.client_context = c;
        self
    }

    /// Reads the process environment. `Ok(None)`: traces are off.
    pub fn from_env(default_service: &str) -> Result<Option<Self>, String> {
        Self::from_vars(|k| std::env::var(k).ok(), default_service)
    }

    /// Like [`TracesConfig::from_env`], over any variable lookup (tests).
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
        default_service: &str,
    ) -> Result<Option<Self>, String> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        match var("OTEL_TRACES_EXPORTER").as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER={other} is not supported (use otlp, or none)"
                ));
            }
        }
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            // The signal-specific URL is used as given; the base URL gets the signal path.
            (Some(url), _) => url,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        match endpoint.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => {
                return Err(format!(
                    "OTLP traces endpoint `{endpoint}` is not an http(s) URL"
                ));
            }
        }
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
            return Err(format!(
                "OTLP protocol `{p}` is not supported: this build exports http/protobuf only \
                 (every OTLP collector, Jaeger, Tempo and Langfuse accept it)"
            ));
        }
        let service_name = var("OTEL_SERVICE_NAME")
            .or_else(|| {
                var("OTEL_RESOURCE_ATTRIBUTES").and_then(|attrs| {
                    attrs.split(',').find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        (k.trim() == "service.name" && !v.trim().is_empty())
                            .then(|| v.trim().to_owned())
                    })
                })
            })
            .unwrap_or_else(|| default_service.to_owned());
        let client_context = match var(CLIENT_CONTEXT_VAR).as_deref() {
            None | Some("link") => ClientContext::Link,
            Some("continue") => ClientContext::Continue,
            Some(other) => {
                return Err(format!(
                    "{CLIENT_CONTEXT_VAR}={other}: use `link` (default) or `continue`"
                ));
            }
        };
        Ok(Some(Self {
            endpoint,
            service_name,
            client_context,
        }))
    }
}

/// A running trace pipeline: provider, batch exporter, tracer. Cloning shares it.
#[derive(Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    client_context: ClientContext,
    endpoint: String,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces")
            .field("endpoint", &self.endpoint)
            .field("client_context", &self.client_context)
            .finish_non_exhaustive()
    }
}

impl Traces {
    /// Builds the exporter and starts the batch span processor's thread. Needs a rustls crypto
    /// provider for https endpoints ([`crate::telemetry::install_crypto_provider`]).
    pub fn start(config: &TracesConfig) -> Result<Self, String> {
        use opentelemetry_otlp::{Protocol, WithExportConfig};
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .build()
            .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("mcp-gateway");
        Ok(Self {
            provider,
            tracer,
            client_context: config.client_context,
            endpoint: config.endpoint.clone(),
        })
    }

    pub fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    pub fn client_context(&self) -> ClientContext {
        self.client_context
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports every finished span now. Blocks (up to 5 s): call it off the async threads.
    pub fn force_flush(&self) -> Result<(), String> {
        self.provider.force_flush().map_err(|e| e.to_string())
    }

    /// Exports what is left and stops the exporter. Blocks (up to 5 s).
    pub fn shutdown(&self) -> Result<(), String> {
        self.provider.shutdown().map_err(|e| e.to_string())
    }
}

static GLOBAL: OnceLock<Option<Traces>> = OnceLock::new();

/// The process's trace pipeline, configured from the environment on first use; `None` when
/// traces are off (or their configuration is broken, which is logged once as an error).
pub fn global() -> Option<&'static Traces> {
    GLOBAL
        .get_or_init(|| {
            let default_service = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "mcp".to_owned());
            let config = match TracesConfig::from_env(&default_service) {
                Ok(Some(c)) => c,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(error = %e, "OpenTelemetry traces are off: bad configuration");
                    return None;
                }
            };
            match Traces::start(&config) {
                Ok(t) => {
                    tracing::info!(
                        endpoint = %config.endpoint,
                        service = %config.service_name,
                        client_context = config.client_context.as_str(),
                        "exporting OpenTelemetry traces"
                    );
                    Some(t)
                }
                Err(e) => {
                    tracing::error!(error = %e, "OpenTelemetry traces are off");
                    None
                }
            }
        })
        .as_ref()
}

/// Flushes and stops the process's trace pipeline, if one was started. Call once, at exit.
pub async fn shutdown_global() {
    let Some(Some(traces)) = GLOBAL.get() else {
        return;
    };
    let traces = traces.clone();
    match tokio::task::spawn_blocking(move || traces.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not flush the last traces"),
        Err(e) => tracing::warn!(error = %e, "could not flush the last traces"),
    }
}

/// Reads `traceparent` (and a `tracestate` of reasonable size) from request headers.
struct RequestHeaders<'a>(&'a HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let v = self.0.get(key)?.to_str().ok()?;
        (key != "tracestate" || v.len() <= MAX_TRACESTATE).then_some(v)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes trace headers, skipping empty values (an empty `tracestate`).
struct ResponseHeaders<'a>(&'a mut HeaderMap);

impl Injector for ResponseHeaders<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The W3C trace context a request carries, if its `traceparent` is valid. Anything malformed
/// is ignored, never an error.
pub fn extract(headers: &HeaderMap) -> Option<SpanContext> {
    let cx = TraceContextPropagator::new().extract(&RequestHeaders(headers));
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// Replaces `traceparent` / `tracestate` in `headers` with `sc`.
pub fn inject(sc: &SpanContext, headers: &mut HeaderMap) {
    headers.remove("traceparent");
    headers.remove("tracestate");
    let cx = Context::new().with_remote_span_context(sc.clone());
    TraceContextPropagator::new().inject_context(&cx, &mut ResponseHeaders(headers));
}

/// The trace id as 32 hex digits, when the span is sampled (an unsampled trace is never
/// exported, so pointing at it would mislead).
pub fn sampled_trace_id(sc: &SpanContext) -> Option<String> {
    (sc.is_valid() && sc.is_sampled()).then(|| sc.trace_id().to_string())
}

/// The `error.type` / status pair for an outcome that is not `ok`.
pub fn error_status(error_type: &str, description: Option<&str>) -> (KeyValue, Status) {
    (
        KeyValue::new("error.type", error_type.to_owned()),
        Status::error(description.unwrap_or(error_type).to_owned()),
    )
}

/// What the backend `/mcp` middleware leaves in the request's extensions: the request span (in
/// `cx`) that tool spans hang under. rmcp hands the HTTP request parts to every tool call.
#[derive(Clone, Debug)]
pub struct RequestTrace {
    tracer: SdkTracer,
    cx: Context,
}

impl RequestTrace {
    /// Starts a child span of the request span.
    pub fn child(
        &self,
        name: String,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> opentelemetry_sdk::trace::Span {
        self.tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &self.cx)
    }
}

/// Labels every backend request span carries.
#[derive(Clone, Debug)]
pub(crate) struct BackendSpanInfo {
    pub(crate) traces: Traces,
    pub(crate) backend: &'static str,
    pub(crate) access: &'static str,
    pub(crate) environment: String,
}

/// Backend middleware on `/mcp`: a SERVER span per request, child of the caller's
/// `traceparent` (the gateway's span), ended when the response body ends or is dropped.
pub(crate) async fn backend_request(
    State(info): State<std::sync::Arc<BackendSpanInfo>>,
    mut req: Request,
    next: Next,
) -> Response {
    let tracer = info.traces.tracer().clone();
    let parent = extract(req.headers())
        .map(|sc| Context::new().with_remote_span_context(sc))
        .unwrap_or_default();
    let method = req.method().as_str().to_owned();
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.clone()),
        KeyValue::new("url.path", req.uri().path().to_owned()),
        KeyValue::new("mcp_server.name", info.backend),
        KeyValue::new("mcp_server.access", info.access),
        KeyValue::new("mcp_server.environment", info.environment.clone()),
    ];
    // The gateway's audit request id joins this span to the audit line.
    for (header, key) in [
        ("x-request-id", "mcp_gateway.request_id"),
        ("mcp-method", "mcp.method.name"),
        ("mcp-protocol-version", "mcp.protocol.version"),
    ] {
        if let Some(v) = req
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 128)
        {
            attributes.push(KeyValue::new(key, v.to_owned()));
        }
    }
    let span = tracer
        .span_builder(format!("{method} /mcp"))
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    let cx = parent.with_span(span);
    req.extensions_mut().insert(RequestTrace {
        tracer,
        cx: cx.clone(),
    });
    let response = next.run(req).await;
    let status = response.status();
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        let (kv, st) = error_status(status.as_str(), None);
        span.set_attribute(kv);
        span.set_status(st);
    }
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        axum::body::Body::new(EndSpanBody {
            inner: body,
            cx: Some(cx),
        }),
    )
}

/// A response body that ends its request span when the body ends, fails or is dropped, so
/// the span covers the whole answer (SSE included).
struct EndSpanBody {
    inner: axum::body::Body,
    cx: Option<Context>,
}

impl EndSpanBody {
    fn end(&mut self) {
        if let Some(cx) = self.cx.take() {
            cx.span().end();
        }
    }
}

impl Drop for EndSpanBody {
    fn drop(&mut self) {
        self.end();
    }
}

impl http_body::Body for EndSpanBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(None) => self.end(),
            std::task::Poll::Ready(Some(Err(e))) => {
                if let Some(c) = &self.cx {
                    let (kv, st) = error_status("stream", Some(&e.to_string()));
                    c.span().set_attribute(kv);
                    c.span().set_status(st);
                }
                self.end();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One tool call's span, under the request span the middleware started (when traces are on).
#[derive(Debug)]
pub struct ToolSpan {
    span: opentelemetry_sdk::trace::Span,
    started: Instant,
}

impl ToolSpan {
    /// Starts `execute_tool {name}` if the request carries a [`RequestTrace`].
    pub fn start(extensions: &rmcp::model::Extensions, tool: &str) -> Option<Self> {
        let trace = extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<RequestTrace>())
            .or_else(|| extensions.get::<RequestTrace>())?;
        let span = trace.child(
            format!("execute_tool {tool}"),
            SpanKind::Internal,
            vec![
                KeyValue::new("gen_ai.operation.name", "execute_tool"),
                KeyValue::new("gen_ai.tool.name", tool.to_owned()),
                KeyValue::new("mcp.method.name", "tools/call"),
            ],
        );
        Some(Self {
            span,
            started: Instant::now(),
        })
    }

    /// Ends the span with `outcome` (`ok`, `tool_error`, `error`, `cancelled`) and, when not
    /// ok, why.
    pub fn finish(mut self, outcome: &'static str, error: Option<&str>) {
        use opentelemetry::trace::Span as _;
        self.span
            .set_attribute(KeyValue::new("mcp_server.outcome", outcome));
        self.span.set_attribute(KeyValue::new(
            "mcp_server.duration_ms",
            i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
        ));
        if outcome != "ok" {
            let (kv, st) = error_status(outcome, error);
            self.span.set_attribute(kv);
            self.span.set_status(st);
        }
        self.span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Option<TracesConfig>, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TracesConfig::from_vars(|k| m.get(k).cloned(), "mcp-test")
    }

    #[test]
    fn off_without_an_endpoint() {
        assert_eq!(cfg(&[]), Ok(None));
        // Other signals' endpoints, a service name or a sampler do not turn traces on.
        assert_eq!(
            cfg(&[
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "http://c:4318/v1/metrics"
                ),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs"),
                ("OTEL_SERVICE_NAME", "x"),
                ("OTEL_TRACES_SAMPLER", "always_on"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "  "),
            ]),
            Ok(None)
        );
        assert_eq!(
            cfg(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ]),
            Ok(None)
        );
        assert_eq!(
            cfg(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ]),
            Ok(None)
        );
    }

    #[test]
    fn endpoints_follow_the_spec() {
        let c = cfg(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.service_name, "mcp-test");
        assert_eq!(c.client_context, ClientContext::Link);
        let c = cfg(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://cloud.langfuse.com/api/public/otel",
            ),
            ("OTEL_SERVICE_NAME", "mcp-gateway-prod"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            c.endpoint,
            "https://cloud.langfuse.com/api/public/otel/v1/traces"
        );
        assert_eq!(c.service_name, "mcp-gateway-prod");
        // The signal-specific variable wins and is used as given.
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/otlp/traces",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod, service.name=gw",
            ),
            (CLIENT_CONTEXT_VAR, "continue"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://tempo:4318/otlp/traces");
        assert_eq!(c.service_name, "gw");
        assert_eq!(c.client_context, ClientContext::Continue);
    }

    #[test]
    fn configurations_that_cannot_work_are_errors() {
        for vars in [
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ][..],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_EXPORTER", "zipkin"),
            ],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                (CLIENT_CONTEXT_VAR, "trust"),
            ],
        ] {
            assert!(cfg(vars).is_err(), "{vars:?}");
        }
        let ok = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert!(matches!(ok, Ok(Some(_))));
    }

    #[test]
    fn extract_ignores_what_is_malformed() {
        let mut h = HeaderMap::new();
        assert!(extract(&h).is_none());
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            h.insert("traceparent", bad.parse().unwrap());
            assert!(extract(&h).is_none(), "{bad}");
        }
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        h.insert("tracestate", "rojo=00f067aa0ba902b7".parse().unwrap());
        let sc = extract(&h).unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_state().header(), "rojo=00f067aa0ba902b7");
        // An oversized tracestate is dropped, the traceparent still counts.
        let long = format!("a={}", "b".repeat(MAX_TRACESTATE));
        h.insert("tracestate", long.parse().unwrap());
        let sc = extract(&h).unwrap();
        assert_eq!(sc.trace_state().header(), "");
    }

    #[test]
    fn inject_replaces_trace_headers() {
        let mut from = HeaderMap::new();
        from.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
                .parse()
                .unwrap(),
        );
        let sc = extract(&from).unwrap();
        assert_eq!(sampled_trace_id(&sc), None, "not sampled");
        let mut to = HeaderMap::new();
        to.insert("traceparent", "client".parse().unwrap());
        to.insert("tracestate", "client=1".parse().unwrap());
        inject(&sc, &mut to);
        assert_eq!(
            to.get("traceparent").unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
        assert!(to.get("tracestate").is_none(), "empty tracestate not sent");
    }
}

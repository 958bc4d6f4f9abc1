//! The gateway's OpenTelemetry span: one SERVER span per MCP request, from the first check to
//! the end of the response stream (the audit line's `duration_ms`), with the audit line's facts
//! as attributes. Only built when traces are on (`mcp_common::traces`); the backend receives
//! this span's `traceparent`, so its spans are children of it.
//!
//! A client's own `traceparent` is linked (default) or continued
//! (`MCP_TRACES_CLIENT_CONTEXT=continue`); its other trace headers (`tracestate` in link mode,
//! `baggage`, B3, ...) never reach a backend.

use mcp_common::traces::{self, ClientContext, Traces};
use opentelemetry::trace::{Link, Span as _, SpanContext, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::audit::{Record, outcome};

/// MCP methods named as such in span names; anything else a client sends is `mcp other`, so
/// made-up method names cannot multiply span names (the attribute keeps the real one).
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "response",
];

/// `tools/call {tool}`, the MCP method, `mcp other` for a method the gateway does not know, or
/// `mcp {HTTP method}` without a message (GET streams, DELETE, refused before the body).
fn span_name(r: &Record, tool_label: Option<&str>) -> String {
    match (r.method.as_deref(), tool_label) {
        (Some("tools/call"), Some(tool)) => format!("tools/call {tool}"),
        (Some(m), _) if KNOWN_METHODS.contains(&m) => m.to_owned(),
        (Some(_), _) => "mcp other".to_owned(),
        (None, _) => format!("mcp {}", r.http_method),
    }
}

/// One request's span.
#[derive(Debug)]
pub(crate) struct RequestSpan {
    span: opentelemetry_sdk::trace::Span,
}

impl RequestSpan {
    /// Starts the span. In `link` mode the gateway's span is a trace root and a valid client
    /// `traceparent` becomes a link; in `continue` mode it becomes the parent.
    pub(crate) fn start(t: &Traces, parts: &http::request::Parts) -> Self {
        let tracer = t.tracer();
        let client = traces::extract(&parts.headers);
        let mut builder = tracer
            .span_builder(format!("mcp {}", parts.method))
            .with_kind(SpanKind::Server);
        let parent = match (t.client_context(), client) {
            (ClientContext::Continue, Some(sc)) => Context::new().with_remote_span_context(sc),
            (ClientContext::Link, Some(sc)) => {
                builder = builder.with_links(vec![Link::with_context(sc)]);
                Context::new()
            }
            (_, None) => Context::new(),
        };
        Self {
            span: builder.start_with_context(tracer, &parent),
        }
    }

    pub(crate) fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// Sets the upstream request's `traceparent` (and `tracestate`, when the span has one) to
    /// this span, replacing whatever the client sent.
    pub(crate) fn inject(&self, headers: &mut http::HeaderMap) {
        traces::inject(self.span.span_context(), headers);
    }

    /// Names the span after the request and records the audit line's facts, then ends it.
    /// `tool_label` is the tool name as the metrics count it (bounded).
    pub(crate) fn end(mut self, r: &Record, tool_label: Option<&str>) {
        let method = r.method.as_deref();
        self.span.update_name(span_name(r, tool_label));
        let mut attrs = vec![
            KeyValue::new("mcp_gateway.request_id", r.request_id.clone()),
            KeyValue::new("mcp_gateway.backend", r.backend.clone()),
            KeyValue::new("mcp_gateway.outcome", r.outcome),
            KeyValue::new(
                "mcp_gateway.duration_ms",
                i64::try_from(r.duration_ms).unwrap_or(i64::MAX),
            ),
            KeyValue::new(
                "mcp_gateway.response_bytes",
                i64::try_from(r.response_bytes).unwrap_or(i64::MAX),
            ),
            KeyValue::new("http.request.method", r.http_method.to_string()),
            KeyValue::new("http.response.status_code", i64::from(r.http_status)),
        ];
        let mut opt = |key: &'static str, v: Option<&str>| {
            if let Some(v) = v {
                attrs.push(KeyValue::new(key, v.to_owned()));
            }
        };
        opt("user.id", r.who.user());
        opt("mcp_gateway.role", r.who.role());
        opt("mcp_gateway.key_id", r.who.key_id());
        opt("mcp.protocol.version", r.protocol_version.as_deref());
        if let Some(m) = method {
            attrs.push(KeyValue::new(
                "mcp.method.name",
                mcp_common::output::cut_str(m, 128).0.to_owned(),
            ));
        }
        if let Some(tool) = &r.tool_name {
            attrs.push(KeyValue::new("gen_ai.tool.name", tool.clone()));
            attrs.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        if let Some(id) = &r.jsonrpc_id {
            let id = match id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            attrs.push(KeyValue::new(
                "jsonrpc.request.id",
                mcp_common::output::cut_str(&id, 128).0.to_owned(),
            ));
        }
        if let Some(addr) = r.client_addr {
            attrs.push(KeyValue::new("client.address", addr.ip().to_string()));
            attrs.push(KeyValue::new("client.port", i64::from(addr.port())));
        }
        if r.outcome != outcome::OK {
            let (kv, status) = traces::error_status(r.outcome, r.error.as_deref());
            attrs.push(kv);
            self.span.set_status(status);
        }
        self.span.set_attributes(attrs);
        self.span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_stay_few() {
        let rec = |method: Option<&str>, http: &str| Record {
            method: method.map(str::to_owned),
            http_method: http.to_owned().into(),
            ..Default::default()
        };
        assert_eq!(
            span_name(&rec(Some("tools/call"), "POST"), Some("eks_get_pods")),
            "tools/call eks_get_pods"
        );
        assert_eq!(
            span_name(&rec(Some("tools/list"), "POST"), None),
            "tools/list"
        );
        assert_eq!(
            span_name(&rec(Some("made/up-7f3a"), "POST"), None),
            "mcp other"
        );
        assert_eq!(span_name(&rec(None, "GET"), None), "mcp GET");
    }
}

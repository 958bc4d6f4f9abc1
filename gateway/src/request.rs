//! One MCP request through the gateway, top to bottom:
//! check Host/Origin and the key -> find the backend -> read the message -> authorize -> proxy
//! -> audit.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};

use crate::app::Gateway;
use crate::audit::{self, Record, outcome};
use crate::auth;
use crate::config::Backend;
use crate::config::ToolAccess;
use crate::jsonrpc::{self, Kind, Message, Reject, code};
use crate::keys::Identity;
use crate::metrics::BackendSeries;
use crate::origin;
use crate::policy;
use crate::proxy::{self, OutcomeObserver, Tap, Tapped};
use crate::sessions;

/// Largest `tools/call` answer inspected for its outcome; larger answers pass untouched and
/// count as `ok` unless the status says otherwise.
const MAX_OBSERVED_BYTES: usize = 4 * 1024 * 1024;
/// Longest backend segment copied into an audit line.
const MAX_AUDITED_BACKEND: usize = 128;

/// The checks every request under `/mcp` passes first: Host/Origin (browsers and rebound DNS
/// names stop here), then the key. On refusal the guard holds the answer.
fn admit(
    gw: &Gateway,
    parts: &http::request::Parts,
    conn: Option<&auth::ConnAuth>,
    guard: &mut AuditGuard,
) -> Result<Arc<Identity>, ()> {
    if let Err(why) = origin::check(
        &gw.config,
        &parts.headers,
        parts.uri.authority().map(|a| a.as_str()),
    ) {
        guard.refuse(
            Reject::new(StatusCode::FORBIDDEN, code::FORBIDDEN, why.clone()),
            outcome::DENIED,
            why,
        );
        return Err(());
    }
    let keys = gw.keys.current();
    let authenticated = match conn {
        Some(memo) => memo.authenticate(&parts.headers, &keys),
        None => auth::authenticate(&parts.headers, &keys),
    };
    drop(keys);
    let identity = match authenticated {
        Ok(id) => id,
        Err(e) => {
            guard.refuse(
                Reject::new(
                    StatusCode::UNAUTHORIZED,
                    code::UNAUTHORIZED,
                    "missing or invalid API key",
                ),
                outcome::UNAUTHENTICATED,
                e.reason().to_owned(),
            );
            return Err(());
        }
    };
    guard.identify(&identity);
    identity.count_request(&gw.metrics);
    Ok(identity)
}

/// `POST|GET|DELETE /mcp/{backend}/mcp`, as an axum handler.
pub async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let client = client_addr(req.extensions());
    serve(gw, req, client, None).await
}

/// The client's address, as the router's `ConnectInfo` carries it.
fn client_addr(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}

/// Whether `path` is `/mcp/{backend}/mcp` with a non-empty single segment: the route
/// [`handle`] serves ([`crate::server`] sends these here without the router).
pub fn is_mcp_route(path: &str) -> bool {
    backend_segment(path).is_some_and(|s| !s.is_empty() && !s.contains('/'))
}

/// One MCP request, from the client at `client`, on a connection with the authentication memo
/// `conn` (see [`auth::ConnAuth`]; `None` authenticates from scratch).
///
/// Not an `async fn`: an async function's future keeps each argument twice (as passed, and as
/// the local it is moved into), and this future is held for every request in flight (hyper
/// keeps a slot of its size per connection). `serve_parts`'s block uses the request's parts
/// as captured, and nothing that is only handed on is kept in a local across an `.await`.
pub fn serve(
    gw: Arc<Gateway>,
    req: Request,
    client: Option<std::net::SocketAddr>,
    conn: Option<Arc<auth::ConnAuth>>,
) -> impl Future<Output = Response> + Send {
    let (parts, body) = req.into_parts();
    serve_parts(gw, parts, body, client, conn)
}

#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold every argument twice (see serve)"
)]
fn serve_parts(
    gw: Arc<Gateway>,
    parts: http::request::Parts,
    body: Body,
    client: Option<std::net::SocketAddr>,
    conn: Option<Arc<auth::ConnAuth>>,
) -> impl Future<Output = Response> + Send {
    async move {
        let segment = backend_segment(parts.uri.path()).unwrap_or_default();
        let mut guard = AuditGuard::start(&gw, segment, &parts, client);
        if gw.health.is_shutting_down() {
            let mut r = guard.reject(
                Reject::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code::UNAVAILABLE,
                    "the gateway is shutting down; retry",
                ),
                outcome::UPSTREAM_ERROR,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }

        let identity = match admit(&gw, &parts, conn.as_deref(), &mut guard) {
            Ok(id) => id,
            Err(()) => return guard.into_response(),
        };

        // Find the backend.
        let Some(backend) = gw.config.backends.get(segment) else {
            let msg = format!("unknown backend `{}`", guard.backend());
            return guard.reject(
                Reject::new(StatusCode::NOT_FOUND, code::NOT_FOUND, msg),
                outcome::DENIED,
            );
        };
        guard.known_backend(backend);
        if !matches!(parts.method, Method::POST | Method::GET | Method::DELETE) {
            let mut r = guard.reject(
                Reject::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    code::METHOD_NOT_ALLOWED,
                    "use POST, GET or DELETE",
                ),
                outcome::DENIED,
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
            return r;
        }

        // Read the message (POST carries one; GET and DELETE carry none).
        let (body, message) = if parts.method == Method::POST {
            let bytes = match read_body(&parts.headers, body, gw.config.limits.max_body_bytes).await
            {
                Ok(b) => b,
                Err(r) => return guard.reject(r, outcome::DENIED),
            };
            match jsonrpc::inspect(&bytes) {
                Ok(mut m) => {
                    guard.message(&mut m, gw.config.audit.max_args_bytes, bytes.len());
                    (bytes, Some(m))
                }
                Err(r) => return guard.reject(r, outcome::DENIED),
            }
        } else {
            (Bytes::new(), None)
        };
        let id = message.as_ref().and_then(|m| m.id.clone());

        // Authorize: the role must reach the backend, and the tool.
        let Some(access) = policy::access(&gw.config, &identity.role, segment) else {
            return guard.reject(
                Reject::new(
                    StatusCode::FORBIDDEN,
                    code::FORBIDDEN,
                    format!("role `{}` may not use backend `{segment}`", identity.role),
                )
                .with_id(id),
                outcome::DENIED,
            );
        };
        if let Some(tool) = message.as_ref().and_then(Message::tool_name)
            && !access.allows(tool)
        {
            return guard.reject(
                Reject::new(
                    StatusCode::FORBIDDEN,
                    code::FORBIDDEN,
                    format!(
                        "role `{}` may not call tool `{tool}` on backend `{segment}`",
                        identity.role
                    ),
                )
                .with_id(id),
                outcome::DENIED,
            );
        }
        if let Some(m) = &message
            && let Err(r) = jsonrpc::check_headers(&parts.headers, m)
        {
            return guard.reject(r, outcome::DENIED);
        }
        let upstream_session = match parts.headers.get("mcp-session-id") {
            None => None,
            Some(v) => match v
                .to_str()
                .ok()
                .and_then(|s| sessions::unbind(&identity.hash, segment, s))
            {
                Some(s) => Some(s),
                None => {
                    return guard.reject(
                        Reject::new(
                            StatusCode::NOT_FOUND,
                            code::NOT_FOUND,
                            "session not found; initialize a new session",
                        )
                        .with_id(id),
                        outcome::DENIED,
                    );
                }
            },
        };

        // Proxy.
        // Built in the call, not kept in a local: a local would stay in this future's state
        // while the backend answers.
        let first_byte = gw.config.limits.first_byte_timeout;
        let send = gw.upstream.send(
            backend.index,
            upstream_request(&parts, body, backend, &guard, upstream_session),
        );
        let (response, lease) = match tokio::time::timeout(first_byte, send).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let failure = proxy::classify(&e);
                return upstream_failure(&gw, guard, segment, failure, proxy::error_chain(&e), id);
            }
            Err(_) => {
                let why = format!("no response headers within {}s", first_byte.as_secs_f64());
                return upstream_failure(
                    &gw,
                    guard,
                    segment,
                    proxy::UpstreamFailure::Timeout,
                    why,
                    id,
                );
            }
        };

        // Answer: pass through, observed; filtered for a narrowed role's tools/list.
        let (mut rparts, rbody) = response.into_parts();
        proxy::clean_response_headers(&mut rparts.headers);
        proxy::mark_unbuffered(&mut rparts.headers);
        if let Some(sid) = rparts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            let bound = sessions::bind(&identity.hash, segment, sid);
            match HeaderValue::from_str(&bound) {
                Ok(v) => {
                    rparts.headers.insert("mcp-session-id", v);
                }
                Err(_) => {
                    rparts.headers.remove("mcp-session-id");
                }
            }
        }
        let status = rparts.status.as_u16();
        guard.status(status);
        let method = message.as_ref().and_then(|m| m.method.as_deref());
        let narrowed_list =
            access.is_narrowed() && method == Some("tools/list") && rparts.status.is_success();
        if narrowed_list && !proxy::is_event_stream(&rparts.headers) {
            // Boxed: a rare path, kept out of the future every request holds.
            return Box::pin(filtered_json_list(
                &gw, guard, rparts, rbody, lease, access, id,
            ))
            .await;
        }
        let tap = if narrowed_list {
            Tap::FilterSse {
                parser: crate::sse::Parser::new(gw.config.limits.max_list_bytes),
                access: Arc::new(access.clone()),
            }
        } else if method == Some("tools/call") {
            Tap::ToolOutcome(OutcomeObserver::new(
                proxy::is_event_stream(&rparts.headers),
                id,
                MAX_OBSERVED_BYTES,
            ))
        } else {
            Tap::None
        };
        if narrowed_list {
            rparts.headers.remove(header::CONTENT_LENGTH);
        }
        Response::from_parts(
            rparts,
            Body::new(Tapped::new(rbody, tap, guard, status).with_lease(lease)),
        )
    }
}

/// The request a backend receives: the client's method, body and allowed headers, the backend
/// URL's path, trace headers, the backend's own session id and the request id.
fn upstream_request(
    parts: &http::request::Parts,
    body: Bytes,
    backend: &Backend,
    guard: &AuditGuard,
    upstream_session: Option<String>,
) -> http::Request<Full<Bytes>> {
    let mut upstream = http::Request::new(Full::new(body));
    *upstream.method_mut() = parts.method.clone();
    *upstream.uri_mut() = crate::upstream::origin_form(&backend.url, parts.uri.query());
    proxy::forward_request_headers(&parts.headers, upstream.headers_mut());
    guard.propagate(upstream.headers_mut());
    if let Some(sid) = upstream_session
        && let Ok(v) = HeaderValue::from_str(&sid)
    {
        upstream.headers_mut().insert("mcp-session-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(guard.request_id()) {
        upstream.headers_mut().insert("x-request-id", v);
    }
    upstream
}

/// Any other path under `/mcp`: 401 for an unauthenticated caller, else 404; audited either way.
pub async fn unknown_route(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let path = parts.uri.path();
    if !(path == "/mcp" || path.starts_with("/mcp/")) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response_plain();
    }
    let mut guard = AuditGuard::start(&gw, "", &parts, client_addr(&parts.extensions));
    if admit(&gw, &parts, None, &mut guard).is_err() {
        return guard.into_response();
    }
    guard.reject(
        Reject::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            "no such route; use /mcp/<backend>/mcp",
        ),
        outcome::DENIED,
    )
}

trait PlainResponse {
    fn into_response_plain(self) -> Response;
}

impl PlainResponse for (StatusCode, &'static str) {
    fn into_response_plain(self) -> Response {
        let mut r = Response::new(Body::from(self.1));
        *r.status_mut() = self.0;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    }
}

/// The `{backend}` segment of `/mcp/{backend}/mcp`, exactly as sent (not percent-decoded: a
/// valid backend name never needs encoding, so an encoded one is simply unknown).
fn backend_segment(path: &str) -> Option<&str> {
    path.strip_prefix("/mcp/")?.strip_suffix("/mcp")
}

async fn read_body(headers: &http::HeaderMap, body: Body, max: usize) -> Result<Bytes, Reject> {
    let too_large = || {
        Reject::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::TOO_LARGE,
            format!("request body larger than {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(e) => Err(Reject::new(
            StatusCode::BAD_REQUEST,
            code::PARSE_ERROR,
            format!("could not read the request body: {e}"),
        )),
    }
}

fn upstream_failure(
    gw: &Gateway,
    guard: AuditGuard,
    backend: &str,
    failure: proxy::UpstreamFailure,
    why: String,
    id: Option<serde_json::Value>,
) -> Response {
    gw.metrics
        .upstream_errors
        .get_or_create(&crate::metrics::UpstreamErrorLabels {
            backend: backend.to_owned(),
            kind: failure.metric_kind(),
        })
        .inc();
    tracing::warn!(backend, error = %why, "backend unavailable");
    let (status, code, msg) = match failure {
        proxy::UpstreamFailure::Unreachable => (
            StatusCode::BAD_GATEWAY,
            code::BAD_GATEWAY,
            format!("backend `{backend}` is unreachable"),
        ),
        proxy::UpstreamFailure::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            code::GATEWAY_TIMEOUT,
            format!("backend `{backend}` did not answer in time"),
        ),
    };
    guard.reject_with_reason(
        Reject::new(status, code, msg).with_id(id),
        outcome::UPSTREAM_ERROR,
        why,
    )
}

async fn filtered_json_list(
    gw: &Gateway,
    mut guard: AuditGuard,
    mut parts: http::response::Parts,
    body: hyper::body::Incoming,
    lease: crate::upstream::Lease,
    access: &ToolAccess,
    id: Option<serde_json::Value>,
) -> Response {
    let max = gw.config.limits.max_list_bytes;
    let bytes = match Limited::new(body, max).collect().await {
        Ok(c) => {
            lease.release();
            c.to_bytes()
        }
        Err(e) => {
            let why = format!("could not read tools/list answer (limit {max} bytes): {e}");
            return guard.reject_with_reason(
                Reject::new(
                    StatusCode::BAD_GATEWAY,
                    code::BAD_GATEWAY,
                    "backend's tools/list answer could not be filtered",
                )
                .with_id(id),
                outcome::UPSTREAM_ERROR,
                why,
            );
        }
    };
    let filtered = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut v| policy::filter_tools_list(&mut v, access).then(|| v.to_string()));
    let Some(filtered) = filtered else {
        // Fail closed: an answer the gateway cannot read does not reach a narrowed role.
        return guard.reject_with_reason(
            Reject::new(
                StatusCode::BAD_GATEWAY,
                code::BAD_GATEWAY,
                "backend's tools/list answer could not be filtered",
            )
            .with_id(id),
            outcome::UPSTREAM_ERROR,
            "tools/list answer was not a JSON-RPC tools result".into(),
        );
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let status = parts.status.as_u16();
    guard.status(status);
    Response::from_parts(
        parts,
        Body::new(Tapped::new(
            Full::new(Bytes::from(filtered)),
            Tap::None,
            guard,
            status,
        )),
    )
}

/// Collects the audit record of one request and writes it exactly once: when the response
/// stream ends, fails, or is dropped (client gone).
#[derive(Debug)]
pub struct AuditGuard {
    pending: Option<Box<Pending>>,
    answer: Option<Response>,
}

#[derive(Debug)]
struct Pending {
    record: Record,
    started: Instant,
    gw: Arc<Gateway>,
    /// The backend's metric series (`_unknown` until the backend is known).
    series: Arc<BackendSeries>,
    /// The request's span, when traces are on.
    span: Option<crate::trace::RequestSpan>,
    /// A tool call's arguments as sent, redacted and bounded into the record when it is
    /// completed (off the request's path), with the cap in bytes.
    args: Option<(serde_json::Value, usize)>,
    /// About what `args` holds: the size of the message they came in.
    held: usize,
    /// How the outcome is known, and how long the request took: set when the answer is
    /// decided ([`AuditGuard::settle`]), with the status in `record`.
    verdict: Verdict,
    elapsed: std::time::Duration,
}

impl AuditGuard {
    fn start(
        gw: &Arc<Gateway>,
        backend: &str,
        parts: &http::request::Parts,
        client: Option<std::net::SocketAddr>,
    ) -> Self {
        gw.metrics.in_flight.inc();
        let (backend, _) = mcp_common::output::cut_str(backend, MAX_AUDITED_BACKEND);
        let record = Record {
            kind: audit::KIND_REQUEST,
            ts: audit::Timestamp::now(),
            request_id: uuid::Uuid::new_v4()
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .to_owned(),
            backend: backend.to_owned(),
            http_method: audit::method_name(&parts.method),
            protocol_version: parts
                .headers
                .get("mcp-protocol-version")
                .and_then(|v| v.to_str().ok())
                .map(|v| mcp_common::output::cut_str(v, 32).0.to_owned()),
            client_addr: client,
            outcome: outcome::OK,
            ..Default::default()
        };
        let span = gw
            .traces
            .as_ref()
            .map(|t| crate::trace::RequestSpan::start(t, parts));
        Self {
            pending: Some(Box::new(Pending {
                record,
                started: Instant::now(),
                gw: gw.clone(),
                series: gw.unknown_series.clone(),
                span,
                args: None,
                held: 0,
                verdict: Verdict::Known(outcome::OK, None),
                elapsed: std::time::Duration::ZERO,
            })),
            answer: None,
        }
    }

    fn request_id(&self) -> &str {
        self.pending
            .as_ref()
            .map_or("", |p| p.record.request_id.as_str())
    }

    /// Points the upstream request's trace headers at this request's span. With traces off the
    /// client's `traceparent` / `tracestate` pass as they came (the proxy's allow-list).
    fn propagate(&self, headers: &mut http::HeaderMap) {
        if let Some(span) = self.pending.as_ref().and_then(|p| p.span.as_ref()) {
            span.inject(headers);
        }
    }

    fn backend(&self) -> &str {
        self.pending
            .as_ref()
            .map_or("", |p| p.record.backend.as_str())
    }

    fn identify(&mut self, id: &Arc<Identity>) {
        if let Some(p) = &mut self.pending {
            p.record.who = audit::Who(Some(id.clone()));
        }
    }

    fn known_backend(&mut self, backend: &Backend) {
        if let Some(p) = &mut self.pending
            && let Some(s) = p.gw.series.get(backend.index)
        {
            p.series = s.clone();
        }
    }

    /// Takes what the audit line needs from the message; a tool call's arguments move into
    /// the record (nothing after this reads them).
    fn message(&mut self, m: &mut Message, max_args: usize, message_bytes: usize) {
        let Some(p) = &mut self.pending else { return };
        p.record.method = m
            .method
            .clone()
            .or_else(|| (m.kind == Kind::Response).then(|| "response".to_owned()));
        p.record.jsonrpc_id = m.id.clone();
        if let Some(tool) = m.tool_name() {
            p.record.kind = audit::KIND_TOOL_CALL;
            p.record.tool_name = Some(mcp_common::output::cut_str(tool, 256).0.to_owned());
            let args = m.take_tool_args().unwrap_or(serde_json::Value::Null);
            p.args = Some((args, max_args));
            p.held = message_bytes;
        }
    }

    fn status(&mut self, status: u16) {
        if let Some(p) = &mut self.pending {
            p.record.http_status = status;
        }
    }

    /// Records an outcome learned while streaming, in case the stream never ends cleanly.
    pub(crate) fn observed(&mut self, outcome: &'static str, error: Option<String>) {
        if let Some(p) = &mut self.pending {
            p.record.outcome = outcome;
            p.record.error = error;
        }
    }

    /// Counts a response stream that broke mid-way.
    pub(crate) fn stream_failed(&self) {
        if let Some(p) = &self.pending {
            p.gw.metrics
                .upstream_errors
                .get_or_create(&crate::metrics::UpstreamErrorLabels {
                    backend: p.series.backend().to_owned(),
                    kind: "stream",
                })
                .inc();
        }
    }

    pub(crate) fn add_bytes(&mut self, n: usize) {
        if let Some(p) = &mut self.pending {
            p.record.response_bytes += n as u64;
        }
    }

    /// Finishes the audit with a refusal and keeps the answer for [`AuditGuard::into_response`].
    fn refuse(&mut self, r: Reject, outcome: &'static str, reason: String) {
        let body = jsonrpc::error_body(r.id.as_ref(), r.code, &r.message);
        self.add_bytes(body.len());
        self.finish(r.status.as_u16(), outcome, Some(reason));
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = r.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if r.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mcp-gateway\""),
            );
        }
        self.answer = Some(resp);
    }

    /// The answer [`AuditGuard::refuse`] prepared.
    fn into_response(mut self) -> Response {
        self.answer.take().unwrap_or_else(|| {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }

    fn reject(self, r: Reject, outcome: &'static str) -> Response {
        let reason = r.message.clone();
        self.reject_with_reason(r, outcome, reason)
    }

    fn reject_with_reason(mut self, r: Reject, outcome: &'static str, reason: String) -> Response {
        let body = jsonrpc::error_body(r.id.as_ref(), r.code, &r.message);
        self.add_bytes(body.len());
        self.finish(r.status.as_u16(), outcome, Some(reason));
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = r.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }

    /// Decides the request's outcome: the audit line and the metrics follow once the answer
    /// has gone out ([`Settle`]). Later calls do nothing.
    pub(crate) fn finish(&mut self, status: u16, outcome: &'static str, error: Option<String>) {
        self.settle(status, Verdict::Known(outcome, error));
    }

    /// Like [`AuditGuard::finish`] for a `tools/call` answer read to the end: the observer's
    /// buffered answer is read for the tool's outcome after the answer has gone out.
    pub(crate) fn finish_observed(&mut self, status: u16, observer: OutcomeObserver) {
        self.settle(status, Verdict::Observe(observer));
    }

    /// The answer is decided: the request leaves the in-flight gauge, and its record is
    /// completed off the request's path (see [`Pending::finish`]).
    fn settle(&mut self, status: u16, verdict: Verdict) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        pending.gw.metrics.in_flight.dec();
        let held = pending.held + verdict.held();
        pending.record.http_status = status;
        pending.verdict = verdict;
        pending.elapsed = pending.started.elapsed();
        // A traced request's span ends when its record is completed: at its answer, not at the
        // writer's next poll.
        if pending.span.is_none() {
            let audit = pending.gw.audit.clone();
            match audit.write_later(pending, held) {
                Ok(()) => return,
                Err(p) => pending = p,
            }
        }
        Settle(Some(pending)).defer();
    }
}

/// How a request's outcome is known.
#[derive(Debug)]
enum Verdict {
    Known(&'static str, Option<String>),
    /// A `tools/call` answer that ended normally: what its observer read (or the status says).
    Observe(OutcomeObserver),
}

impl Verdict {
    /// What is buffered in it, in bytes.
    fn held(&self) -> usize {
        match self {
            Verdict::Known(..) => 0,
            Verdict::Observe(o) => o.held(),
        }
    }
}

/// A request whose record is left to complete on its serving thread, after the connection's
/// task has written the answer and yielded (the audit writer could not take it: see
/// [`AuditSink::write_later`]). It completes exactly once: when that task runs, or, if the
/// task never runs (the runtime is shutting down), when it is dropped.
#[derive(Debug)]
struct Settle(Option<Box<Pending>>);

impl Settle {
    fn defer(self) {
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { drop(self) });
            }
            Err(_) => drop(self),
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let (record, gw) = p.finish();
            gw.audit.write(record);
        }
    }
}

/// Normally the audit writer thread completes a request's record, just before it serializes
/// the line: what is left after the answer (reading the tool's outcome from the buffered
/// answer, bounding and redacting the arguments, the request's metrics) then runs neither on
/// the request's path nor on its serving thread, where it would hold back the next request
/// (or, on a machine shared with the client, the client reading its answer).
impl audit::Completion for Pending {
    fn complete(self: Box<Self>) -> Record {
        self.finish().0
    }
}

impl Pending {
    /// Fills in the record's last fields and counts the request.
    fn finish(self: Box<Self>) -> (Record, Arc<Gateway>) {
        let Pending {
            mut record,
            started: _,
            gw,
            series,
            span,
            args,
            held: _,
            verdict,
            elapsed,
        } = *self;
        let status = record.http_status;
        let (outcome, error) = match verdict {
            Verdict::Known(o, e) => (o, e),
            Verdict::Observe(observer) => proxy::observed_outcome(status, observer),
        };
        record.outcome = outcome;
        if let Some((mut args, max)) = args {
            mcp_common::redact::redact_json(&mut args);
            record.tool_args = Some(mcp_common::output::bound_json(args, max).0);
        }
        // Error texts can echo what a backend or client sent: redact them like tool_args.
        record.error = error.map(|e| mcp_common::redact::redact_text(&e).unwrap_or(e));
        record.duration_ms = elapsed.as_millis() as u64;
        series.request(record.kind, outcome);
        let tool = record.tool_name.as_deref().map(|t| series.tool(t));
        if let Some(t) = &tool {
            series.tool_call(t, outcome);
        }
        series.observe_duration(elapsed.as_secs_f64());
        if let Some(span) = span {
            record.trace_id = mcp_common::traces::sampled_trace_id(span.span_context());
            span.end(&record, tool.as_ref().map(|t| t.label.as_str()));
        }
        (record, gw)
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        if let Some(p) = &self.pending {
            // 499: the client closed the request (nginx's convention) before any answer.
            let status = match p.record.http_status {
                0 => 499,
                s => s,
            };
            p.series.client_disconnect();
            let (outcome, error) = match (p.record.outcome, &p.record.error) {
                (o, Some(e)) => (
                    o,
                    format!("{e}; client closed the connection before the response ended"),
                ),
                (o, None) => (
                    o,
                    "client closed the connection before the response ended".to_owned(),
                ),
            };
            self.finish(status, outcome, Some(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditSink;
    use crate::config::Config;
    use crate::metrics::Metrics;

    fn gateway() -> Arc<Gateway> {
        let text = "listen: 127.0.0.1:0\nkeys_file: /nonexistent/mcp-gateway-keys.json\nbackends:\n  b: http://127.0.0.1:9/mcp\nroleMapping:\n  reader: [b]\n";
        let (config, _) = Config::parse(text).expect("test config");
        let metrics = Metrics::new();
        Gateway::new(config, AuditSink::memory(metrics.clone()), metrics)
    }

    fn guard(gw: &Arc<Gateway>) -> AuditGuard {
        let (parts, ()) = http::Request::post("/mcp/b/mcp")
            .body(())
            .unwrap()
            .into_parts();
        AuditGuard::start(gw, "b", &parts, None)
    }

    #[test]
    fn the_audit_writer_completes_a_tool_call_handed_to_it() {
        let text = "listen: 127.0.0.1:0\nkeys_file: /nonexistent/mcp-gateway-keys.json\nbackends:\n  b: http://127.0.0.1:9/mcp\nroleMapping:\n  reader: [b]\n";
        let (config, _) = Config::parse(text).expect("test config");
        let metrics = Metrics::new();
        let out = audit::Shared::default();
        let gw = Gateway::new(
            config,
            AuditSink::to_writer(Box::new(out.clone()), metrics.clone()),
            metrics.clone(),
        );
        let mut g = guard(&gw);
        g.known_backend(&gw.config.backends["b"]);
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b_x","arguments":{"password":"hunter2","n":1}}}"#;
        let mut m = jsonrpc::inspect(body).unwrap();
        g.message(&mut m, 4096, body.len());
        g.finish(
            200,
            outcome::TOOL_ERROR,
            Some("login failed for postgres://u:hunter2@db/x".into()),
        );
        // Out of flight at once; the line and the counters follow from the writer.
        assert_eq!(gw.metrics.in_flight.get(), 0);
        drop(g);
        gw.audit.close();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let l = &lines[0];
        assert_eq!(l["type"], "mcp_tool_call");
        assert_eq!(l["tool_name"], "b_x");
        assert_eq!(l["outcome"], "tool_error");
        assert_eq!(l["http_status"], 200);
        assert_eq!(l["tool_args"]["password"], "[REDACTED]");
        assert_eq!(l["tool_args"]["n"], 1);
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(l["ts"].as_str().map(str::len), Some(24));
        let m = metrics.render();
        assert!(
            m.contains(
                r#"mcp_gateway_tool_calls_total{backend="b",tool="b_x",outcome="tool_error"} 1"#
            ),
            "{m}"
        );
    }

    #[test]
    fn a_request_is_audited_once_after_its_answer_also_when_the_runtime_stops_first() {
        let gw = gateway();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut g = guard(&gw);
            g.finish(200, outcome::OK, None);
            g.finish(500, outcome::UPSTREAM_ERROR, None);
            // Not yet: the line follows once this task yields (the answer has been written);
            // the request is no longer in flight.
            assert!(gw.audit.lines().is_empty());
            assert_eq!(gw.metrics.in_flight.get(), 0);
            drop(g);
            tokio::task::yield_now().await;
            let lines = gw.audit.lines();
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert_eq!(lines[0]["http_status"], 200);
            assert_eq!(lines[0]["outcome"], "ok");
            assert_eq!(gw.metrics.in_flight.get(), 0);
        });
        // A runtime that stops before the settling task ran: written when the task is dropped.
        rt.block_on(async {
            let mut g = guard(&gw);
            g.finish(
                502,
                outcome::UPSTREAM_ERROR,
                Some("backend went away".into()),
            );
        });
        assert_eq!(gw.audit.lines().len(), 1);
        drop(rt);
        let lines = gw.audit.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[1]["http_status"], 502);
        assert_eq!(lines[1]["outcome"], "upstream_error");
        assert_eq!(lines[1]["error"], "backend went away");
        // Outside a runtime: written at once.
        let mut g = guard(&gw);
        g.finish(200, outcome::OK, None);
        assert_eq!(gw.audit.lines().len(), 3);
        // A guard dropped without an answer (the client left): one line, 499.
        drop(guard(&gw));
        let lines = gw.audit.lines();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[3]["http_status"], 499);
        assert_eq!(gw.metrics.in_flight.get(), 0);
    }
}

//! Forwarding to a backend: the upstream client, header rules, and the response body that is
//! streamed through (observed, and for narrowed roles filtered) without buffering.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;

use crate::audit::outcome;
use crate::config::ToolAccess;
use crate::policy;
use crate::request::AuditGuard;
use crate::sse;
use crate::upstream::{Lease, UpstreamError};

/// Request headers a backend receives; everything else (Authorization, Cookie, X-Forwarded-*,
/// Host, hop-by-hop headers, ...) is dropped.
const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "mcp-protocol-version",
    "mcp-session-id",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "traceparent",
    "tracestate",
];
const FORWARDED_REQUEST_PREFIX: &str = "mcp-param-";

/// Copies the allow-listed request headers.
pub fn forward_request_headers(src: &HeaderMap, dst: &mut HeaderMap) {
    for (name, value) in src {
        let n = name.as_str();
        if FORWARDED_REQUEST_HEADERS.contains(&n) || n.starts_with(FORWARDED_REQUEST_PREFIX) {
            dst.append(name.clone(), value.clone());
        }
    }
}

/// Response headers that never pass (hop-by-hop per RFC 9110 §7.6.1, and cookies: the gateway,
/// not the backend, is the client's origin).
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
];

/// Strips hop-by-hop headers (including those a `Connection` header names) from a response.
pub fn clean_response_headers(headers: &mut HeaderMap) {
    // Usually there is nothing to strip: look first (one pass over a few names) and only then
    // remove, since every removal by name re-parses and re-hashes it.
    let has_connection = headers.contains_key(header::CONNECTION);
    if !has_connection
        && !headers
            .keys()
            .any(|n| DROPPED_RESPONSE_HEADERS.contains(&n.as_str()))
    {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in DROPPED_RESPONSE_HEADERS {
        headers.remove(*n);
    }
}

pub fn is_event_stream(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("text/event-stream"))
}

pub fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
}

fn media_type(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or(v).trim())
}

/// Why a backend could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// Refused, unresolvable, reset before an answer: 502.
    Unreachable,
    /// No connection or no response headers in time: 504.
    Timeout,
}

impl UpstreamFailure {
    pub fn metric_kind(self) -> &'static str {
        match self {
            UpstreamFailure::Unreachable => "connect",
            UpstreamFailure::Timeout => "timeout",
        }
    }
}

/// Classifies an upstream error: a connect timeout is a timeout, anything else unreachable.
pub fn classify(e: &UpstreamError) -> UpstreamFailure {
    if e.is_timeout() {
        UpstreamFailure::Timeout
    } else {
        UpstreamFailure::Unreachable
    }
}

/// The full error chain as one line, for logs and the audit `error` field.
pub use mcp_common::error::error_chain;

/// Sets `X-Accel-Buffering: no` on event streams, so an nginx in front does not hold events.
pub fn mark_unbuffered(headers: &mut HeaderMap) {
    if is_event_stream(headers) {
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
}

/// What the response body does besides passing bytes through.
#[derive(Debug)]
pub enum Tap {
    /// Pass through; the outcome comes from the HTTP status.
    None,
    /// A `tools/call` answer: watch for the JSON-RPC response to learn the tool's outcome.
    ToolOutcome(OutcomeObserver),
    /// A `tools/list` answer streamed as SSE for a narrowed role: rewrite each event.
    FilterSse {
        parser: sse::Parser,
        access: Arc<ToolAccess>,
    },
}

/// Watches a `tools/call` response for the JSON-RPC result.
#[derive(Debug)]
pub struct OutcomeObserver {
    sse: Option<sse::Parser>,
    json: Vec<u8>,
    cap: usize,
    overflow: bool,
    id: Option<Value>,
    pub verdict: Option<(&'static str, Option<String>)>,
}

impl OutcomeObserver {
    pub fn new(event_stream: bool, id: Option<Value>, cap: usize) -> Self {
        Self {
            sse: event_stream.then(|| sse::Parser::new(cap)),
            json: Vec::new(),
            cap,
            overflow: false,
            id,
            verdict: None,
        }
    }

    /// What it buffers, in bytes.
    pub fn held(&self) -> usize {
        self.json.capacity() + self.sse.as_ref().map_or(0, sse::Parser::pending)
    }

    fn feed(&mut self, data: &[u8]) {
        if self.verdict.is_some() {
            return;
        }
        match &mut self.sse {
            Some(parser) => {
                for ev in parser.push(data) {
                    if let Some(d) = ev.data {
                        self.check(d.as_bytes());
                    }
                }
            }
            None if !self.overflow => {
                if self.json.len() + data.len() > self.cap {
                    self.overflow = true;
                    self.json = Vec::new();
                } else {
                    self.json.extend_from_slice(data);
                }
            }
            None => {}
        }
    }

    fn finish(&mut self) {
        if self.verdict.is_none() && self.sse.is_none() && !self.overflow {
            let json = std::mem::take(&mut self.json);
            self.check(&json);
        }
    }

    fn check(&mut self, data: &[u8]) {
        self.verdict = policy::response_outcome(data, self.id.as_ref());
    }
}

pin_project_lite::pin_project! {
    /// The response body as the client receives it: frames pass through as they arrive; the
    /// audit line is written when the stream ends, fails, or the client goes away.
    pub struct Tapped<B> {
        #[pin]
        inner: B,
        tap: Tap,
        guard: AuditGuard,
        status: u16,
        ended: bool,
        // The upstream connection: back to its pool when the body ended cleanly, closed
        // when it did not.
        lease: Option<Lease>,
    }
}

impl<B: Body> Tapped<B> {
    pub fn new(inner: B, tap: Tap, guard: AuditGuard, status: u16) -> Self {
        let mut tapped = Self {
            inner,
            tap,
            guard,
            status,
            ended: false,
            lease: None,
        };
        // An answer that is complete with its headers (a notification's 202, a 204) has no
        // body to poll, and the server does not poll it: hyper drops such a body unread once
        // the head says there is none. Settled here, or its drop would read as a client that
        // left (499 and a client disconnect) and close a reusable upstream connection.
        if tapped.inner.is_end_stream() {
            tapped.ended = true;
            end_of_stream(&mut tapped.tap, &mut tapped.guard, status);
        }
        tapped
    }

    /// Returns `lease` to its pool once this body has been read to the end (at once when it
    /// already is).
    pub fn with_lease(mut self, lease: Lease) -> Self {
        if self.ended {
            lease.release();
        } else {
            self.lease = Some(lease);
        }
        self
    }
}

/// Error type of the body handed to axum.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for Tapped<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        loop {
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Some(data) = frame.data_ref() else {
                        return Poll::Ready(Some(Ok(frame)));
                    };
                    let frame = match this.tap {
                        Tap::None => {
                            this.guard.add_bytes(data.len());
                            frame
                        }
                        Tap::ToolOutcome(obs) => {
                            obs.feed(data);
                            if let Some((verdict, error)) = &obs.verdict {
                                // Known now: kept even if the client leaves before the end.
                                this.guard.observed(verdict, error.clone());
                            }
                            this.guard.add_bytes(data.len());
                            frame
                        }
                        Tap::FilterSse { parser, access } => {
                            let events = parser.push(data);
                            if parser.overflowed() {
                                // Fail closed: never pass an answer the policy could not read.
                                *this.ended = true;
                                this.guard.finish(
                                    *this.status,
                                    outcome::UPSTREAM_ERROR,
                                    Some("tools/list event too large to filter; stream cut".into()),
                                );
                                return Poll::Ready(Some(Err(
                                    "tools/list event too large to filter".into(),
                                )));
                            }
                            if events.is_empty() {
                                if this.inner.is_end_stream() {
                                    *this.ended = true;
                                    release(this.lease);
                                    end_of_stream(this.tap, this.guard, *this.status);
                                    return Poll::Ready(None);
                                }
                                continue;
                            }
                            let out = filter_events(events, access);
                            this.guard.add_bytes(out.len());
                            Frame::data(out)
                        }
                    };
                    // With a known length the server may never poll again after the last byte:
                    // finish the audit now rather than on drop.
                    if this.inner.is_end_stream() {
                        *this.ended = true;
                        release(this.lease);
                        end_of_stream(this.tap, this.guard, *this.status);
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Some(Err(e)) => {
                    *this.ended = true;
                    let e: BoxError = e.into();
                    this.guard.stream_failed();
                    this.guard.finish(
                        *this.status,
                        outcome::UPSTREAM_ERROR,
                        Some(format!(
                            "response stream failed: {}",
                            error_chain(e.as_ref())
                        )),
                    );
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    *this.ended = true;
                    release(this.lease);
                    end_of_stream(this.tap, this.guard, *this.status);
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match self.tap {
            Tap::FilterSse { .. } => SizeHint::default(),
            _ => self.inner.size_hint(),
        }
    }
}

fn release(lease: &mut Option<Lease>) {
    if let Some(l) = lease.take() {
        l.release();
    }
}

/// The response ended normally: the outcome is what the observer saw (or the status says),
/// read once the answer has gone out (see `request::Pending::finish`).
fn end_of_stream(tap: &mut Tap, guard: &mut AuditGuard, status: u16) {
    match std::mem::replace(tap, Tap::None) {
        Tap::ToolOutcome(obs) => guard.finish_observed(status, obs),
        Tap::FilterSse { mut parser, .. } => {
            let rest = parser.take_rest();
            if !rest.is_empty() {
                // Filtered mode cannot read an unterminated event, so it is not passed on.
                tracing::warn!(
                    bytes = rest.len(),
                    "dropping an unterminated SSE event from a filtered tools/list"
                );
            }
            guard.finish(status, by_status(status, outcome::OK), None);
        }
        Tap::None => guard.finish(status, by_status(status, outcome::OK), None),
    }
}

/// The outcome of a `tools/call` answer that ended normally: what `obs` read in it, unless the
/// status says otherwise.
pub(crate) fn observed_outcome(
    status: u16,
    mut obs: OutcomeObserver,
) -> (&'static str, Option<String>) {
    obs.finish();
    let (verdict, error) = obs.verdict.take().unwrap_or((outcome::OK, None));
    (by_status(status, verdict), error)
}

/// An answer's status overrides what its body said: 5xx is the backend's failure; 4xx is the
/// backend refusing the request itself (bad parameters, unsupported version...): the caller's
/// error, not an unhealthy backend.
fn by_status(status: u16, verdict: &'static str) -> &'static str {
    match status {
        500.. => outcome::UPSTREAM_ERROR,
        400..500 => outcome::TOOL_ERROR,
        _ => verdict,
    }
}

fn filter_events(events: Vec<sse::Event>, access: &ToolAccess) -> Bytes {
    let mut out = Vec::new();
    for ev in events {
        match ev.data.as_deref() {
            None | Some("") => out.extend_from_slice(&ev.raw),
            Some(d) => match serde_json::from_str::<Value>(d) {
                // Re-rendered from the parsed value, so the client reads exactly what was
                // filtered.
                Ok(mut v) => {
                    if policy::filter_tools_list(&mut v, access) {
                        out.extend_from_slice(&sse::render(&ev, &v.to_string()));
                    } else {
                        out.extend_from_slice(&ev.raw);
                    }
                }
                Err(e) => {
                    // Fail closed: what the gateway cannot read, it does not pass to a
                    // narrowed role.
                    tracing::warn!(error = %e, "dropping an unparseable SSE event from a filtered tools/list");
                }
            },
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_cookies_are_stripped() {
        let mut h = map(&[
            ("content-type", "application/json"),
            ("connection", "keep-alive, x-internal"),
            ("keep-alive", "timeout=5"),
            ("x-internal", "1"),
            ("set-cookie", "a=b"),
            ("transfer-encoding", "chunked"),
            ("mcp-session-id", "s"),
        ]);
        clean_response_headers(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "mcp-session-id"]);
    }

    #[test]
    fn clean_headers_are_left_alone() {
        let before = map(&[
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("mcp-session-id", "s"),
        ]);
        let mut h = before.clone();
        clean_response_headers(&mut h);
        assert_eq!(h, before);
    }
}

//! Tool results an agent can act on, and the bookkeeping every tool call shares.
//!
//! A failure of the upstream system is a tool result with `isError: true` whose text says what
//! failed and what to do about it (which permission is missing, which argument is wrong) — never
//! a protocol error and never a panic.

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde::Serialize;

use crate::args::Access;
use crate::metrics::{ServerMetrics, ToolLabels, ToolNameLabels};
use crate::output::Limits;
use crate::redact::redact_text;

/// A tool failure, rendered as an `isError: true` result. The message is redacted before it
/// leaves the pod (upstream errors sometimes echo connection strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub message: String,
    pub hint: Option<String>,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    /// `what` failed upstream, with the upstream's own error text.
    pub fn upstream(what: impl Display, error: impl Display) -> Self {
        Self::new(format!("{what} failed: {error}"))
    }

    /// The pod's credentials do not allow `action`; says which permission is missing.
    pub fn permission_denied(action: impl Display, missing: impl Display) -> Self {
        Self::new(format!("permission denied: {action}"))
            .with_hint(format!("this deployment's credentials lack {missing}; use a backend with that access or ask an operator to grant it"))
    }

    /// An argument the agent sent is wrong; `reason` says how to fix it.
    pub fn invalid_argument(name: &str, reason: impl Display) -> Self {
        Self::new(format!("invalid argument `{name}`: {reason}"))
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The text an agent reads.
    pub fn text(&self) -> String {
        let text = match &self.hint {
            Some(h) => format!("{}\nhint: {h}", self.message),
            None => self.message.clone(),
        };
        redact_text(&text).unwrap_or(text)
    }
}

impl Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for ToolError {}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.text())]).into())
    }
}

/// A tool's structured result: `structuredContent` plus the same JSON as a text block, as
/// rmcp's own `Json` wrapper produces (same name, so `#[tool]` still derives `outputSchema`
/// from `T`).
///
/// The difference is cost: rmcp renders the text block with `Value`'s `Display`, which goes
/// through `fmt::Write` one token at a time (a few hundred thousand `write_str` calls for a
/// 500-pod listing); this writes the same bytes straight into a `Vec` (compact, keys in the
/// same sorted order). See docs/benchmarks.md.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: schemars::JsonSchema> schemars::JsonSchema for Json<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: Serialize + schemars::JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let failed = |e: serde_json::Error| {
            rmcp::ErrorData::internal_error(
                format!("failed to serialize structured content: {e}"),
                None,
            )
        };
        let value = serde_json::to_value(&self.0).map_err(failed)?;
        let text = serde_json::to_string(&value).map_err(failed)?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result.into())
    }
}

/// The tool router a deployment serves: read tools always, write tools only with `--access rw`.
///
/// Backends declare their tools in two `#[tool_router(router = read_tools)]` /
/// `#[tool_router(router = write_tools)]` impl blocks and keep the result of this function in
/// an `Arc`, with `#[tool_handler(router = self.tool_router)]` on the `ServerHandler` impl.
/// (rmcp's default, `Self::tool_router()`, would rebuild the full router on every call and
/// ignore the access level.)
pub fn routes_for<S: Send + Sync + 'static>(
    access: Access,
    read: rmcp::handler::server::router::tool::ToolRouter<S>,
    write: rmcp::handler::server::router::tool::ToolRouter<S>,
) -> std::sync::Arc<rmcp::handler::server::router::tool::ToolRouter<S>> {
    let mut router = read;
    if access.is_rw() {
        router.merge(write);
    }
    let mut cancellable = rmcp::handler::server::router::tool::ToolRouter::new();
    for route in router {
        cancellable.add_route(cancel_with_client(route));
    }
    std::sync::Arc::new(cancellable)
}

/// Wraps a tool so that its call is dropped when the request is cancelled (the client sent
/// `notifications/cancelled`, or went away: rmcp fires the request's token when the response
/// stream of a stateless request is dropped). Dropping the future cancels whatever the tool was
/// waiting on upstream, instead of letting abandoned work run to completion.
fn cancel_with_client<S: Send + Sync + 'static>(
    route: rmcp::handler::server::router::tool::ToolRoute<S>,
) -> rmcp::handler::server::router::tool::ToolRoute<S> {
    use rmcp::handler::server::tool::ToolCallContext;
    let inner = route.call.clone();
    let name = route.attr.name.clone();
    rmcp::handler::server::router::tool::ToolRoute::new_dyn(
        route.attr,
        move |ctx: ToolCallContext<'_, S>| -> futures_util::future::BoxFuture<'_, Result<CallToolResponse, rmcp::ErrorData>> {
            let ct = ctx.request_context.ct.clone();
            // With traces on, the call gets a span under the request's (see crate::traces).
            let span = crate::traces::ToolSpan::start(&ctx.request_context.extensions, &name);
            let call = inner(ctx);
            let name = name.clone();
            Box::pin(async move {
                let (result, cancelled) = tokio::select! {
                    r = call => (r, false),
                    () = ct.cancelled() => {
                        tracing::info!(tool = %name, "tool call cancelled: the client went away or cancelled it");
                        (Err(rmcp::ErrorData::new(rmcp::model::ErrorCode::INTERNAL_ERROR, "request cancelled", None)), true)
                    }
                };
                if let Some(span) = span {
                    finish_span(span, &result, cancelled);
                }
                result
            })
        },
    )
}

/// Ends a tool call's span with the call's outcome: `ok`, `tool_error` (`isError: true`),
/// `error` (a protocol error) or `cancelled`.
fn finish_span(
    span: crate::traces::ToolSpan,
    result: &Result<CallToolResponse, rmcp::ErrorData>,
    cancelled: bool,
) {
    match result {
        _ if cancelled => span.finish(
            "cancelled",
            Some("the client went away or cancelled the call"),
        ),
        Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
            let text = r
                .content
                .iter()
                .find_map(|c| c.as_text().map(|t| t.text.as_str()));
            let text = text.map(|t| crate::output::cut_str(t, 256).0);
            span.finish("tool_error", text);
        }
        Ok(_) => span.finish("ok", None),
        Err(e) => span.finish("error", Some(&e.message)),
    }
}

/// What every tool of a backend shares: caps, identity and metrics.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub backend: &'static str,
    pub environment: String,
    pub access: Access,
    pub limits: Limits,
    pub metrics: ServerMetrics,
}

impl ToolContext {
    /// Runs one tool call: times it, counts it by outcome, and logs failures at `warn` (they are
    /// the agent's or the upstream's problem, not the server's).
    pub async fn run<T, F>(&self, tool: &'static str, call: F) -> Result<T, ToolError>
    where
        F: Future<Output = Result<T, ToolError>>,
    {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        let outcome = if result.is_ok() { "ok" } else { "tool_error" };
        self.metrics
            .tool_calls
            .get_or_create(&ToolLabels { tool, outcome })
            .inc();
        self.metrics
            .tool_duration
            .get_or_create(&ToolNameLabels { tool })
            .observe(elapsed.as_secs_f64());
        match &result {
            Ok(_) => tracing::info!(tool, duration_ms = elapsed.as_millis() as u64, "tool call"),
            Err(e) => {
                tracing::warn!(tool, duration_ms = elapsed.as_millis() as u64, error = %e, "tool call failed")
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_actionable_and_redacted() {
        let e = ToolError::upstream("connect to postgres://app:pw@db/app", "refused")
            .with_hint("check DATABASE_URL");
        let text = e.text();
        assert!(text.contains("postgres://app:[REDACTED]@db/app failed: refused"));
        assert!(text.contains("hint: check DATABASE_URL"));
        let r = e.into_call_tool_result().unwrap();
        let CallToolResponse::Complete(r) = r else {
            panic!("expected a complete result")
        };
        assert_eq!(r.is_error, Some(true));
    }

    #[derive(Serialize, schemars::JsonSchema)]
    struct Listing {
        zeta: String,
        alpha: Vec<Option<u32>>,
        nested: std::collections::HashMap<String, f64>,
        text: String,
    }

    fn listing() -> Listing {
        Listing {
            zeta: "last field first".into(),
            alpha: vec![Some(1), None, Some(u32::MAX)],
            nested: [("b", 1.5), ("a", -0.0), ("c", 1e300), ("é", 0.1)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            text: "quotes \" and \\ and \n and \u{1F600} and \u{7} and </script>".into(),
        }
    }

    #[test]
    fn json_result_is_what_rmcps_json_gives() {
        let ours = Json(listing()).into_call_tool_result().unwrap();
        let theirs = rmcp::handler::server::wrapper::Json(listing())
            .into_call_tool_result()
            .unwrap();
        let (CallToolResponse::Complete(ours), CallToolResponse::Complete(theirs)) = (ours, theirs)
        else {
            panic!("expected complete results")
        };
        assert_eq!(ours.content.len(), 1);
        let text = &ours.content[0].as_text().unwrap().text;
        assert_eq!(text, &theirs.content[0].as_text().unwrap().text);
        // Keys sorted, compact: the same bytes an agent read before.
        assert!(
            text.starts_with(r#"{"alpha":[1,null,4294967295],"nested":{"a":-0.0,"#),
            "{text}"
        );
        assert_eq!(ours.structured_content, theirs.structured_content);
        assert_eq!(ours.is_error, theirs.is_error);
        assert_eq!(ours.result_type, theirs.result_type);
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&theirs).unwrap()
        );
        // `#[tool]` derives the outputSchema of `Json<T>` from `T`, as with rmcp's wrapper.
        use rmcp::handler::server::tool::schema_for_output;
        assert_eq!(
            schema_for_output::<Json<Listing>>(),
            schema_for_output::<Listing>()
        );
    }

    #[tokio::test]
    async fn run_counts_outcomes() {
        let metrics = ServerMetrics::new("test", "dev", "ro");
        let ctx = ToolContext {
            backend: "test",
            environment: "dev".into(),
            access: Access::Ro,
            limits: Limits::default(),
            metrics: metrics.clone(),
        };
        assert_eq!(
            ctx.run("t_ok", async { Ok::<_, ToolError>(1) }).await,
            Ok(1)
        );
        let err = ctx
            .run("t_fail", async { Err::<u8, _>(ToolError::new("boom")) })
            .await;
        assert!(err.is_err());
        let text = metrics.render();
        assert!(text.contains(r#"tool="t_ok",outcome="ok"} 1"#), "{text}");
        assert!(
            text.contains(r#"tool="t_fail",outcome="tool_error"} 1"#),
            "{text}"
        );
    }
}

/// How one HTTP API's error statuses read to an agent (the texts differ per API; the mapping
/// does not). See [`http_status_error`].
#[derive(Debug, Clone, Copy)]
pub struct HttpApiText {
    /// The API's name as an operator says it: `Argo CD`, `Cloudflare`.
    pub api: &'static str,
    /// What a 401 refused: `the token`, `the API token`.
    pub credential: &'static str,
    pub unauthorized_hint: &'static str,
    /// What a 403 lacks, before the permission: `the Argo CD RBAC permission`.
    pub permission_kind: &'static str,
    /// The 403 hint; `{permission}` is replaced by the permission the call needs.
    pub forbidden_hint: &'static str,
    pub not_found_hint: &'static str,
    /// The 429 wait without `Retry-After`: `a few seconds`.
    pub retry_default: &'static str,
    /// Appended to the 429 hint (the API's published limit), or empty.
    pub retry_note: &'static str,
    pub server_error_hint: &'static str,
    pub rejected_hint: &'static str,
}

/// The tool error for an HTTP error `status` of an API described by `t`: `what` names the call,
/// `permission` what the credential needs for it, `message` the API's own error text,
/// `retry_after` a 429's `Retry-After` in seconds.
pub fn http_status_error(
    t: &HttpApiText,
    what: &str,
    permission: &str,
    status: u16,
    message: &str,
    retry_after: Option<u64>,
) -> ToolError {
    let api = t.api;
    match status {
        401 => ToolError::new(format!(
            "{api} refused {} for {what} (HTTP 401): {message}",
            t.credential
        ))
        .with_hint(t.unauthorized_hint),
        403 => {
            let mut e =
                ToolError::permission_denied(what, format!("{} `{permission}`", t.permission_kind));
            e.message = format!("permission denied: {what} ({api} answered HTTP 403: {message})");
            e.hint = Some(t.forbidden_hint.replace("{permission}", permission));
            e
        }
        404 => ToolError::new(format!(
            "{api} found nothing for {what} (HTTP 404): {message}"
        ))
        .with_hint(t.not_found_hint),
        429 => ToolError::new(format!("{api} rate-limited {what} (HTTP 429): {message}"))
            .with_hint(match retry_after {
                Some(s) => format!("retry in {s} s{}", t.retry_note),
                None => format!("retry in {}{}", t.retry_default, t.retry_note),
            }),
        s if s >= 500 => ToolError::new(format!("{api} failed {what} (HTTP {status}): {message}"))
            .with_hint(t.server_error_hint),
        _ => ToolError::new(format!("{api} rejected {what} (HTTP {status}): {message}"))
            .with_hint(t.rejected_hint),
    }
}

#[cfg(test)]
mod http_status_tests {
    use super::{HttpApiText, http_status_error};

    const T: HttpApiText = HttpApiText {
        api: "Thing",
        credential: "the token",
        unauthorized_hint: "new token",
        permission_kind: "the permission",
        forbidden_hint: "lacks `{permission}`",
        not_found_hint: "check the name",
        retry_default: "a minute",
        retry_note: " (limit)",
        server_error_hint: "retry later",
        rejected_hint: "fix the arguments",
    };

    #[test]
    fn each_status_class_reads_as_its_own_error() {
        let e = http_status_error(&T, "get x", "x:read", 403, "no", None);
        assert_eq!(
            e.message,
            "permission denied: get x (Thing answered HTTP 403: no)"
        );
        assert_eq!(e.hint.as_deref(), Some("lacks `x:read`"));
        let e = http_status_error(&T, "get x", "x:read", 401, "bad", None);
        assert_eq!(
            e.message,
            "Thing refused the token for get x (HTTP 401): bad"
        );
        let e = http_status_error(&T, "get x", "", 429, "slow", Some(7));
        assert_eq!(e.hint.as_deref(), Some("retry in 7 s (limit)"));
        let e = http_status_error(&T, "get x", "", 429, "slow", None);
        assert_eq!(e.hint.as_deref(), Some("retry in a minute (limit)"));
        let e = http_status_error(&T, "get x", "", 404, "gone", None);
        assert_eq!(e.hint.as_deref(), Some("check the name"));
        let e = http_status_error(&T, "get x", "", 502, "down", None);
        assert_eq!(e.message, "Thing failed get x (HTTP 502): down");
        let e = http_status_error(&T, "get x", "", 422, "bad field", None);
        assert_eq!(e.message, "Thing rejected get x (HTTP 422): bad field");
        assert_eq!(e.hint.as_deref(), Some("fix the arguments"));
    }
}

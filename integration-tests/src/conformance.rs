//! An "everything" MCP server for the `@modelcontextprotocol/conformance` server suite.
//!
//! It implements every tool, resource, prompt and capability the suite's server scenarios call,
//! under the exact names the suite requires: conformance 0.1.16 (protocol 2025-06-18 and
//! 2025-11-25, `--suite all`) and 0.2.0-alpha.12 at 2026-07-28 (stateless requests,
//! `server/discover`, `subscriptions/listen`, multi round-trip requests with `input_required`
//! results, `Mcp-Param-*` headers, caching hints). `tests/conformance.rs` runs the suite against
//! this server directly and through the gateway and compares the outcomes.
//!
//! Stateful mode (rmcp's legacy sessions) is what the 2025 scenarios that send requests to the
//! client need (sampling, elicitation): a stateless server cannot route the client's answer back.
//! Requests at 2026-07-28 carry their own metadata and are served without a session either way.
//! The server keeps rmcp's default Host allow-list (loopback names only), so the suite's
//! DNS-rebinding scenario passes when the server is hit directly.
//!
//! Sampling, roots and logging are deprecated by SEP-2577 but still part of the 2025 protocol
//! versions the suite tests, hence the `deprecated` allowance below.
#![allow(deprecated)]

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::handler::server::common::Extension;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientJsonRpcMessage, ClientRequest, CompleteRequestParams,
    CompleteResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, InputRequests, InputRequiredResult, JsonObject, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, LoggingLevel, PaginatedRequestParams,
    ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, RequestId, ServerCapabilities, ServerConfig, ServerJsonRpcMessage,
    ServerRequest, SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV file with two samples of silence.
const WAV: &str = "UklGRigAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQQAAAAAAAAA";

/// The conformance server as an axum router with its MCP endpoint at `/mcp`.
///
/// `stateful` selects rmcp's legacy session mode (`Mcp-Session-Id`, server-to-client requests,
/// SSE resumption); otherwise every request is served on its own. `ct` ends open streams and
/// sessions when cancelled.
pub fn service(stateful: bool, ct: CancellationToken) -> axum::Router {
    let sessions = Arc::new(Sessions::default());
    let shared = Arc::new(Shared {
        tool_router: Conformance::tools(),
        changes: broadcast::channel(64).0,
        states: Mutex::default(),
        sessions: stateful.then(|| sessions.clone()),
    });
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(stateful)
        .with_cancellation_token(ct);
    let mcp: StreamableHttpService<Conformance, Sessions> = StreamableHttpService::new(
        move || Ok(Conformance::new(shared.clone())),
        sessions,
        config,
    );
    axum::Router::new().nest_service("/mcp", mcp)
}

/// A list change a `subscriptions/listen` stream may report.
#[derive(Debug, Clone)]
enum Change {
    Tools,
    Prompts,
}

/// State shared by all sessions.
#[derive(Debug)]
struct Shared {
    tool_router: ToolRouter<Conformance>,
    /// List changes, fanned out to open `subscriptions/listen` streams.
    changes: broadcast::Sender<Change>,
    /// Multi round-trip request state: the `requestState` handed to the client is an
    /// unguessable handle into this map, used once. A forged or altered handle is not found.
    states: Mutex<HashMap<String, Value>>,
    /// The session manager (stateful mode), for `test_reconnection`.
    sessions: Option<Arc<Sessions>>,
}

/// The server handler. rmcp creates one per session (stateful) or per request (stateless).
#[derive(Debug, Clone)]
pub struct Conformance {
    shared: Arc<Shared>,
    /// Minimum level set with `logging/setLevel` (2025 sessions).
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
}

impl Conformance {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            log_level: Arc::default(),
        }
    }

    /// Sends a log notification if the client asked for this level: at 2026-07-28 only when the
    /// request's `_meta` carries a `logLevel`, on a 2025 session unless `logging/setLevel` set a
    /// higher one.
    async fn log(&self, cx: &RequestContext<RoleServer>, level: LoggingLevel, message: &str) {
        let min = if is_2026(cx) {
            match cx.meta.log_level() {
                Some(l) => l,
                None => return,
            }
        } else {
            lock(&self.log_level).unwrap_or(LoggingLevel::Debug)
        };
        if severity(level) < severity(min) {
            return;
        }
        let _ = cx
            .peer
            .notify_logging_message(from_json(json!({
                "level": level,
                "logger": "conformance",
                "data": message,
            })))
            .await;
    }

    /// Stores multi round-trip state; returns its handle for `requestState`.
    fn save_state(&self, state: Value) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let random = std::collections::hash_map::RandomState::new().hash_one(n);
        let handle = format!("state-{n}-{random:016x}");
        let mut states = lock(&self.shared.states);
        // Rounds a client never finishes are dropped in bulk; a test server needs no more.
        if states.len() >= 10_000 {
            states.clear();
        }
        states.insert(handle.clone(), state);
        handle
    }

    /// Takes the state behind an echoed `requestState`. Anything this server did not hand out
    /// (or already consumed) is refused, as SEP-2322 requires for state that fails verification.
    fn take_state(&self, handle: Option<&str>) -> Result<Value, McpError> {
        let handle = handle.ok_or_else(|| {
            McpError::invalid_params("requestState is missing; start the request again", None)
        })?;
        lock(&self.shared.states).remove(handle).ok_or_else(|| {
            McpError::invalid_params(
                "requestState failed verification: unknown, altered or already used",
                Some(json!({"requestState": handle})),
            )
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the client's model.
    prompt: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ElicitationArgs {
    /// The message to show the user.
    message: String,
}

#[tool_router(router = tools)]
impl Conformance {
    #[tool(description = "Returns a simple text response.")]
    async fn test_simple_text(&self) -> CallToolResult {
        text("This is a simple text response for testing.")
    }

    #[tool(description = "Returns an image (PNG).")]
    async fn test_image_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::image(PNG, "image/png")])
    }

    #[tool(description = "Returns audio (WAV).")]
    async fn test_audio_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::audio(WAV, "audio/wav")])
    }

    #[tool(description = "Returns an embedded text resource.")]
    async fn test_embedded_resource(&self) -> CallToolResult {
        result(json!({"content": [{"type": "resource", "resource": {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content.",
        }}]}))
    }

    #[tool(description = "Returns text, an image and an embedded resource.")]
    async fn test_multiple_content_types(&self) -> CallToolResult {
        result(json!({"content": [
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "resource", "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": "{\"test\":\"data\",\"value\":123}",
            }},
        ]}))
    }

    #[tool(description = "Sends three log messages while it runs.")]
    async fn test_tool_with_logging(&self, cx: RequestContext<RoleServer>) -> CallToolResult {
        for (i, message) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.log(&cx, LoggingLevel::Info, message).await;
        }
        text("Logging test completed")
    }

    #[tool(description = "Reports progress 0, 50 and 100 of 100 when given a progress token.")]
    async fn test_tool_with_progress(&self, cx: RequestContext<RoleServer>) -> CallToolResult {
        let token = cx.meta.get_progress_token();
        for step in [0u32, 50, 100] {
            if let Some(token) = &token {
                let _ = cx
                    .peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), f64::from(step))
                            .with_total(100.0)
                            .with_message(format!("{step}%")),
                    )
                    .await;
            }
            if step < 100 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        text("Progress test completed")
    }

    #[tool(description = "Always fails with a tool error (isError), not a protocol error.")]
    async fn test_error_handling(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )])
    }

    #[tool(
        description = "Asks the client's model (sampling/createMessage) and returns its answer."
    )]
    async fn test_sampling(
        &self,
        cx: RequestContext<RoleServer>,
        Parameters(a): Parameters<SamplingArgs>,
    ) -> Result<CallToolResult, McpError> {
        let answer = ask(
            &cx,
            json!({"method": "sampling/createMessage", "params": {
                "messages": [{"role": "user", "content": {"type": "text", "text": a.prompt}}],
                "maxTokens": 100,
            }}),
        )
        .await?;
        let said = answer["content"]["text"].as_str().unwrap_or("(no text)");
        Ok(text(format!("LLM response: {said}")))
    }

    #[tool(description = "Asks the user for a username and an email (elicitation/create).")]
    async fn test_elicitation(
        &self,
        cx: RequestContext<RoleServer>,
        Parameters(a): Parameters<ElicitationArgs>,
    ) -> Result<CallToolResult, McpError> {
        let answer = elicit(
            &cx,
            &a.message,
            json!({"type": "object", "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            }, "required": ["username", "email"]}),
        )
        .await?;
        Ok(text(format!("User response: {answer}")))
    }

    #[tool(description = "Elicitation whose fields all have defaults (SEP-1034).")]
    async fn test_elicitation_sep1034_defaults(
        &self,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let answer = elicit(
            &cx,
            "Please review these values (all have defaults)",
            json!({"type": "object", "properties": {
                "name": {"type": "string", "description": "User's name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User's age", "default": 30},
                "score": {"type": "number", "description": "User's score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User's status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verified?", "default": true},
            }}),
        )
        .await?;
        Ok(text(format!("Elicitation completed: {answer}")))
    }

    #[tool(description = "Elicitation with every enum schema form (SEP-1330).")]
    async fn test_elicitation_sep1330_enums(
        &self,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let answer = elicit(
            &cx,
            "Please pick some options",
            json!({"type": "object", "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                ]},
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {"type": "array", "items": {"anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                ]}},
            }}),
        )
        .await?;
        Ok(text(format!("Elicitation completed: {answer}")))
    }

    #[tool(
        description = "Tool with JSON Schema 2020-12 features",
        input_schema = schema(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }},
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"},
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {
                "properties": {"contactMethod": {"const": "phone"}},
                "required": ["contactMethod"],
            },
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": false,
        }))
    )]
    async fn json_schema_2020_12_tool(&self) -> CallToolResult {
        text("JSON Schema 2020-12 tool called")
    }

    /// Closes its POST SSE stream mid-call and answers once the client has resumed the stream
    /// with `Last-Event-ID` (SEP-1699).
    #[tool(description = "Closes its SSE stream mid-call; answers after a Last-Event-ID resume.")]
    async fn test_reconnection(
        &self,
        cx: RequestContext<RoleServer>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> CallToolResult {
        let session = parts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok());
        let (Some(sessions), Some(session)) = (&self.shared.sessions, session) else {
            return text("No session: the stream was not closed");
        };
        let resumed = sessions.disconnect(&session.into(), &cx.id).await;
        text(if resumed {
            "Reconnection test completed after the client resumed the stream"
        } else {
            "Reconnection test completed (the client did not resume the stream)"
        })
    }

    // --- 2026-07-28 (SEP-2575) diagnostic tools ---

    #[tool(description = "Needs the client's sampling capability; refuses with -32021 without it.")]
    async fn test_missing_capability(
        &self,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        require_capability(&cx, "sampling")?;
        Ok(text("The client declared sampling"))
    }

    /// Needs the elicitation capability; sends a progress notification, then asks for input
    /// through an `input_required` result, never through a request on the response stream.
    #[tool(description = "Streams progress, then asks for input (input_required).")]
    async fn test_streaming_elicitation(
        &self,
        cx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        require_capability(&cx, "elicitation")?;
        if let Some(token) = cx.meta.get_progress_token() {
            let _ = cx
                .peer
                .notify_progress(ProgressNotificationParam::new(token, 0.0).with_total(1.0))
                .await;
        }
        if !is_2026(&cx) {
            let answer = elicit(&cx, "What is your name?", name_schema("name")).await?;
            return Ok(text(format!("User response: {answer}")).into());
        }
        match accepted(responses.as_ref(), "user_name")? {
            Some(content) => Ok(text(format!("Hello, {}!", field(&content, "name"))).into()),
            None => Ok(input_required(
                json!({"user_name": elicitation("What is your name?", name_schema("name"))}),
                None,
            )
            .into()),
        }
    }

    /// Logs one message, only when the request asks for logs (`_meta` `logLevel` at 2026-07-28).
    #[tool(description = "Logs one message, only when the request asks for logs.")]
    async fn test_logging_tool(&self, cx: RequestContext<RoleServer>) -> CallToolResult {
        self.log(&cx, LoggingLevel::Info, "test_logging_tool ran")
            .await;
        text("Logging tool completed")
    }

    #[tool(description = "Announces a tool list change to subscriptions/listen streams.")]
    async fn test_trigger_tool_change(&self) -> CallToolResult {
        self.announce(Change::Tools);
        text("Tool list change announced")
    }

    #[tool(description = "Announces a prompt list change to subscriptions/listen streams.")]
    async fn test_trigger_prompt_change(&self) -> CallToolResult {
        self.announce(Change::Prompts);
        text("Prompt list change announced")
    }

    #[tool(
        description = "Echoes its region argument, mirrored into Mcp-Param-Region (SEP-2243).",
        input_schema = schema(json!({
            "type": "object",
            "properties": {
                "region": {
                    "type": "string",
                    "description": "A region name",
                    "x-mcp-header": "Region",
                },
            },
            "required": ["region"],
        }))
    )]
    async fn test_custom_header(&self, object: JsonObject) -> CallToolResult {
        let region = object.get("region").and_then(Value::as_str).unwrap_or("");
        text(format!("Region: {region}"))
    }

    // --- 2026-07-28 multi round-trip requests (SEP-2322) ---

    #[tool(description = "Asks for the user's name through an input_required result.")]
    async fn test_input_required_result_elicitation(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        match accepted(responses.as_ref(), "user_name")? {
            Some(content) => Ok(text(format!("Hello, {}!", field(&content, "name"))).into()),
            None => Ok(input_required(
                json!({"user_name": elicitation("What is your name?", name_schema("name"))}),
                None,
            )
            .into()),
        }
    }

    #[tool(description = "Asks the client's model a question through an input_required result.")]
    async fn test_input_required_result_sampling(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        match response(responses.as_ref(), "capital_question")? {
            Some(answer) => Ok(text(format!(
                "The model answered: {}",
                answer["content"]["text"].as_str().unwrap_or("(no text)")
            ))
            .into()),
            None => Ok(input_required(
                json!({"capital_question": sampling("What is the capital of France?", 100)}),
                None,
            )
            .into()),
        }
    }

    #[tool(description = "Asks for the client's roots through an input_required result.")]
    async fn test_input_required_result_list_roots(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        match response(responses.as_ref(), "client_roots")? {
            Some(roots) => Ok(text(format!("Client roots: {}", roots_of(&roots)?)).into()),
            None => Ok(input_required(json!({"client_roots": roots()}), None).into()),
        }
    }

    #[tool(description = "Round-trips requestState; answers state-ok once it checked out.")]
    async fn test_input_required_result_request_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, McpError> {
        let confirm = json!({"confirm": elicitation(
            "Please confirm",
            ok_schema(),
        )});
        if responses.is_none() {
            let state = self.save_state(json!({"tool": "request_state"}));
            return Ok(input_required(confirm, Some(state)).into());
        }
        let saved = self.take_state(state.as_deref())?;
        if saved["tool"] != "request_state" {
            return Err(McpError::invalid_params(
                "requestState belongs to another request",
                None,
            ));
        }
        match accepted(responses.as_ref(), "confirm")? {
            Some(content) => Ok(text(format!(
                "state-ok: confirmed={}",
                content.get("ok").unwrap_or(&Value::Null)
            ))
            .into()),
            None => {
                let state = self.save_state(saved);
                Ok(input_required(confirm, Some(state)).into())
            }
        }
    }

    #[tool(description = "Asks for elicitation, sampling and roots at once.")]
    async fn test_input_required_result_multiple_inputs(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, McpError> {
        let requests = json!({
            "user_name": elicitation("What is your name?", name_schema("name")),
            "greeting": sampling("Generate a greeting", 50),
            "client_roots": roots(),
        });
        if responses.is_none() {
            let state = self.save_state(json!({"tool": "multiple_inputs"}));
            return Ok(input_required(requests, Some(state)).into());
        }
        let saved = self.take_state(state.as_deref())?;
        let name = accepted(responses.as_ref(), "user_name")?;
        let greeting = response(responses.as_ref(), "greeting")?;
        let client_roots = response(responses.as_ref(), "client_roots")?;
        match (name, greeting, client_roots) {
            (Some(name), Some(greeting), Some(client_roots)) => Ok(text(format!(
                "{} {}! Roots: {}",
                greeting["content"]["text"].as_str().unwrap_or("Hello"),
                field(&name, "name"),
                roots_of(&client_roots)?
            ))
            .into()),
            _ => {
                let state = self.save_state(saved);
                Ok(input_required(requests, Some(state)).into())
            }
        }
    }

    #[tool(description = "Asks two questions in two rounds, with new requestState each round.")]
    async fn test_input_required_result_multi_round(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, McpError> {
        let step1 =
            || json!({"step1": elicitation("Step 1: What is your name?", name_schema("name"))});
        let step2 = || {
            json!({"step2": elicitation(
                "Step 2: What is your favorite color?",
                name_schema("color"),
            )})
        };
        if responses.is_none() {
            let state = self.save_state(json!({"tool": "multi_round", "round": 1}));
            return Ok(input_required(step1(), Some(state)).into());
        }
        let saved = self.take_state(state.as_deref())?;
        if saved["tool"] != "multi_round" {
            return Err(McpError::invalid_params(
                "requestState belongs to another request",
                None,
            ));
        }
        if saved["round"] == 1 {
            return Ok(match accepted(responses.as_ref(), "step1")? {
                Some(content) => {
                    let state = self.save_state(json!({
                        "tool": "multi_round", "round": 2, "name": field(&content, "name"),
                    }));
                    input_required(step2(), Some(state)).into()
                }
                None => input_required(step1(), Some(self.save_state(saved))).into(),
            });
        }
        Ok(match accepted(responses.as_ref(), "step2")? {
            Some(content) => text(format!(
                "{} likes {}",
                saved["name"].as_str().unwrap_or("?"),
                field(&content, "color")
            ))
            .into(),
            None => input_required(step2(), Some(self.save_state(saved))).into(),
        })
    }

    #[tool(description = "Refuses a requestState it did not issue (integrity check).")]
    async fn test_input_required_result_tampered_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, McpError> {
        let confirm = json!({"confirm": elicitation(
            "Please confirm",
            ok_schema(),
        )});
        if responses.is_none() && state.is_none() {
            let state = self.save_state(json!({"tool": "tampered_state"}));
            return Ok(input_required(confirm, Some(state)).into());
        }
        let saved = self.take_state(state.as_deref())?;
        match accepted(responses.as_ref(), "confirm")? {
            Some(_) => Ok(text("state-ok").into()),
            None => Ok(input_required(confirm, Some(self.save_state(saved))).into()),
        }
    }

    #[tool(description = "Only asks for input the client declared it can give.")]
    async fn test_input_required_result_capabilities(
        &self,
        cx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        let caps = cx
            .client_capabilities()
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .unwrap_or_default();
        let mut requests = serde_json::Map::new();
        if caps.get("elicitation").is_some() {
            requests.insert(
                "user_name".into(),
                elicitation("What is your name?", name_schema("name")),
            );
        }
        if caps.get("sampling").is_some() {
            requests.insert("greeting".into(), sampling("Generate a greeting", 50));
        }
        if caps.get("roots").is_some() {
            requests.insert("client_roots".into(), roots());
        }
        if requests.is_empty() {
            return Ok(text("The client declared no capability to ask with").into());
        }
        let answered = responses
            .as_ref()
            .is_some_and(|r| requests.keys().all(|k| r.contains_key(k)));
        if answered {
            Ok(text("All inputs received").into())
        } else {
            Ok(input_required(Value::Object(requests), None).into())
        }
    }
}

impl Conformance {
    /// Tells open `subscriptions/listen` streams about a change. Sent once more shortly after,
    /// so that a listener whose stream was acknowledged a moment ago but is still subscribing
    /// sees it too.
    fn announce(&self, change: Change) {
        let _ = self.shared.changes.send(change.clone());
        let changes = self.shared.changes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = changes.send(change);
        });
    }
}

#[tool_handler(router = self.shared.tool_router)]
impl ServerHandler for Conformance {
    fn get_info(&self) -> ServerConfig {
        let capabilities: ServerCapabilities = from_json(json!({
            "tools": {"listChanged": true},
            "prompts": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
            "logging": {},
            "completions": {},
        }));
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "mcp-conformance-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Everything server for the MCP conformance suite.")
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *lock(&self.log_level) = Some(request.level);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let typed = request.argument.value.as_str();
        let values: Vec<&str> = ["test", "testValue1", "testValue2"]
            .into_iter()
            .filter(|v| v.starts_with(typed))
            .collect();
        Ok(result(json!({"completion": {
            "values": values,
            "total": values.len(),
            "hasMore": false,
        }})))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(result(json!({"resources": [
            {"uri": "test://static-text", "name": "static-text",
             "description": "A static text resource", "mimeType": "text/plain"},
            {"uri": "test://static-binary", "name": "static-binary",
             "description": "A static binary resource (PNG)", "mimeType": "image/png"},
            {"uri": "test://watched-resource", "name": "watched-resource",
             "description": "A resource clients may subscribe to", "mimeType": "text/plain"},
        ]})))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(result(json!({"resourceTemplates": [{
            "uriTemplate": "test://template/{id}/data",
            "name": "template",
            "description": "Data for an id",
            "mimeType": "application/json",
        }]})))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.to_string();
        let contents = match uri.as_str() {
            "test://static-text" => json!({"uri": uri, "mimeType": "text/plain",
                "text": "This is the content of the static text resource."}),
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => json!({"uri": uri, "mimeType": "text/plain",
                "text": "The watched resource."}),
            u => match u
                .strip_prefix("test://template/")
                .and_then(|rest| rest.strip_suffix("/data"))
            {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    json!({"uri": uri, "mimeType": "application/json", "text": json!({
                        "id": id, "templateTest": true, "data": format!("Data for ID: {id}"),
                    }).to_string()})
                }
                _ => {
                    return Err(McpError::resource_not_found(
                        format!("Resource not found: {uri}"),
                        Some(json!({"uri": uri})),
                    ));
                }
            },
        };
        Ok(result::<ReadResourceResult>(json!({"contents": [contents]})).into())
    }

    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.shared.changes.subscribe();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    // The sink drops what the client did not ask for.
                    Ok(Change::Tools) => {
                        let _ = context.sink().notify_tool_list_changed().await;
                    }
                    Ok(Change::Prompts) => {
                        let _ = context.sink().notify_prompt_list_changed().await;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(result(json!({"prompts": [
            {"name": "test_simple_prompt", "description": "A prompt without arguments"},
            {"name": "test_prompt_with_arguments", "description": "A prompt with two arguments",
             "arguments": [
                {"name": "arg1", "description": "First argument", "required": true},
                {"name": "arg2", "description": "Second argument", "required": true},
             ]},
            {"name": "test_prompt_with_embedded_resource",
             "description": "A prompt that embeds a resource",
             "arguments": [
                {"name": "resourceUri", "description": "URI to embed", "required": true},
             ]},
            {"name": "test_prompt_with_image", "description": "A prompt with an image"},
            {"name": "test_input_required_result_prompt",
             "description": "A prompt that asks for context first (input_required)"},
        ]})))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let user = |content: Value| json!({"role": "user", "content": content});
        let messages = match request.name.as_ref() {
            "test_simple_prompt" => json!([user(json!({"type": "text",
                "text": "This is a simple prompt for testing."}))]),
            "test_prompt_with_arguments" => json!([user(json!({"type": "text", "text": format!(
                "Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2")
            )}))]),
            "test_prompt_with_embedded_resource" => json!([
                user(
                    json!({"type": "resource", "resource": {"uri": arg("resourceUri"),
                    "mimeType": "text/plain", "text": "Embedded resource content for testing."}})
                ),
                user(
                    json!({"type": "text", "text": "Please process the embedded resource above."})
                ),
            ]),
            "test_prompt_with_image" => json!([
                user(json!({"type": "image", "data": PNG, "mimeType": "image/png"})),
                user(json!({"type": "text", "text": "Please analyze the image above."})),
            ]),
            "test_input_required_result_prompt" => {
                match accepted(request.input_responses.as_ref(), "user_context")? {
                    Some(content) => json!([user(json!({"type": "text", "text": format!(
                        "Use this context: {}", field(&content, "context")
                    )}))]),
                    None => {
                        return Ok(input_required(
                            json!({"user_context": elicitation(
                                "What context should the prompt use?",
                                name_schema("context"),
                            )}),
                            None,
                        )
                        .into());
                    }
                }
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("unknown prompt {other}"),
                    None,
                ));
            }
        };
        Ok(result::<GetPromptResult>(json!({"messages": messages})).into())
    }
}

// --- helpers ---

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds an rmcp type from a JSON literal of this file (a bad literal is a bug here).
fn from_json<T: DeserializeOwned>(v: Value) -> T {
    match serde_json::from_value(v) {
        Ok(t) => t,
        Err(e) => panic!("conformance server literal does not parse: {e}"),
    }
}

/// A result from JSON, with the `resultType` discriminator rmcp's own constructors set (rmcp
/// strips it for 2025 peers).
fn result<T: DeserializeOwned>(mut v: Value) -> T {
    if let Some(o) = v.as_object_mut() {
        o.insert("resultType".into(), json!("complete"));
    }
    from_json(v)
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(o) => Arc::new(o),
        _ => panic!("a tool input schema must be an object"),
    }
}

fn text(t: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(t)])
}

fn is_2026(cx: &RequestContext<RoleServer>) -> bool {
    cx.protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// Fails with -32021 (MissingRequiredClientCapability) unless the client declared `capability`.
fn require_capability(cx: &RequestContext<RoleServer>, capability: &str) -> Result<(), McpError> {
    let declared = cx
        .client_capabilities()
        .and_then(|c| serde_json::to_value(c).ok())
        .is_some_and(|c| c.get(capability).is_some());
    if declared {
        Ok(())
    } else {
        Err(McpError::missing_required_client_capability(from_json(
            json!({ capability: {} }),
        )))
    }
}

/// Sends a request to the client on a 2025 session and returns its result as JSON.
async fn ask(cx: &RequestContext<RoleServer>, request: Value) -> Result<Value, McpError> {
    let request: ServerRequest = from_json(request);
    let answer = cx.peer.send_request(request).await.map_err(|e| {
        McpError::internal_error(format!("request to the client failed: {e}"), None)
    })?;
    serde_json::to_value(answer).map_err(|e| McpError::internal_error(e.to_string(), None))
}

/// Asks the user (elicitation/create) on a 2025 session; returns the answer as JSON text.
async fn elicit(
    cx: &RequestContext<RoleServer>,
    message: &str,
    requested_schema: Value,
) -> Result<String, McpError> {
    let answer = ask(
        cx,
        json!({"method": "elicitation/create", "params": {
            "mode": "form",
            "message": message,
            "requestedSchema": requested_schema,
        }}),
    )
    .await?;
    Ok(answer.to_string())
}

/// `{type: object, properties: {ok: boolean}, required: [ok]}`.
fn ok_schema() -> Value {
    json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})
}

/// `{type: object, properties: {<name>: string}, required: [<name>]}`.
fn name_schema(name: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string"}}, "required": [name]})
}

fn elicitation(message: &str, requested_schema: Value) -> Value {
    json!({"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": requested_schema,
    }})
}

fn sampling(prompt: &str, max_tokens: u32) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": max_tokens,
    }})
}

fn roots() -> Value {
    json!({"method": "roots/list", "params": {}})
}

fn input_required(requests: Value, state: Option<String>) -> InputRequiredResult {
    let requests: InputRequests = from_json(requests);
    InputRequiredResult::new(Some(requests), state)
}

/// The client's response under `key`, if it gave one; a response that is not an object is an
/// invalid request.
fn response(
    responses: Option<&rmcp::model::InputResponses>,
    key: &str,
) -> Result<Option<Value>, McpError> {
    match responses.and_then(|r| r.get(key)) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(McpError::invalid_params(
            format!("inputResponses.{key} must be an object, got {other}"),
            None,
        )),
    }
}

/// The content of an accepted elicitation under `key`; `None` when it is missing (ask again)
/// or was declined or cancelled.
fn accepted(
    responses: Option<&rmcp::model::InputResponses>,
    key: &str,
) -> Result<Option<Value>, McpError> {
    let Some(answer) = response(responses, key)? else {
        return Ok(None);
    };
    match answer.get("action").and_then(Value::as_str) {
        Some("accept") => Ok(Some(answer.get("content").cloned().unwrap_or(json!({})))),
        Some("decline" | "cancel") => Ok(None),
        _ => Err(McpError::invalid_params(
            format!("inputResponses.{key} is not an elicitation result (no valid action)"),
            None,
        )),
    }
}

fn field(content: &Value, name: &str) -> String {
    match content.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(none)".into(),
    }
}

fn roots_of(answer: &Value) -> Result<String, McpError> {
    let roots = answer
        .get("roots")
        .and_then(Value::as_array)
        .ok_or_else(|| McpError::invalid_params("the roots/list result has no roots", None))?;
    Ok(roots
        .iter()
        .filter_map(|r| r.get("uri").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(", "))
}

// --- sessions ---

/// rmcp's in-memory session manager, plus what `test_reconnection` needs: which HTTP stream
/// carries its call (so it can close that stream), and a signal when a client resumes a stream.
#[derive(Debug)]
struct Sessions {
    inner: LocalSessionManager,
    /// (session, JSON-RPC id of a `test_reconnection` call) -> rmcp's HTTP stream id.
    reconnect: Mutex<HashMap<(SessionId, RequestId), u64>>,
    /// Sessions whose client resumed a stream with `Last-Event-ID`.
    resumed: broadcast::Sender<SessionId>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            inner: LocalSessionManager::default(),
            reconnect: Mutex::default(),
            resumed: broadcast::channel(16).0,
        }
    }
}

impl Sessions {
    /// Closes the POST stream of the `test_reconnection` call `request` (after a priming event
    /// with a retry interval) and waits up to 5 s for the client to resume it. True when it did.
    async fn disconnect(&self, session: &SessionId, request: &RequestId) -> bool {
        let stream = lock(&self.reconnect).remove(&(session.clone(), request.clone()));
        let handle = self.inner.sessions.read().await.get(session).cloned();
        let (Some(stream), Some(handle)) = (stream, handle) else {
            return false;
        };
        let mut resumed = self.resumed.subscribe();
        if handle
            .close_sse_stream(stream, Some(Duration::from_millis(200)))
            .await
            .is_err()
        {
            return false;
        }
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match resumed.recv().await {
                    Ok(s) if s == *session => return true,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        })
        .await
        .unwrap_or(false)
    }
}

/// An mpsc receiver as a stream (what `LocalSessionManager` returns, without tokio-stream).
struct Rx(tokio::sync::mpsc::Receiver<ServerSseMessage>);

impl futures_util::Stream for Rx {
    type Item = ServerSseMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

fn is_reconnection_call(message: &ClientJsonRpcMessage) -> Option<RequestId> {
    match message {
        ClientJsonRpcMessage::Request(r) => match &r.request {
            ClientRequest::CallToolRequest(call) if call.params.name == "test_reconnection" => {
                Some(r.id.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        lock(&self.reconnect).retain(|(s, _), _| s != id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        // As LocalSessionManager::create_stream, remembering the stream of a test_reconnection
        // call before the call can start.
        let handle = self
            .inner
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| LocalSessionManagerError::SessionNotFound(id.clone()))?;
        let receiver = handle.establish_request_wise_channel().await?;
        if let (Some(stream), Some(request)) =
            (receiver.http_request_id, is_reconnection_call(&message))
        {
            lock(&self.reconnect).insert((id.clone(), request), stream);
        }
        handle
            .push_message(message, receiver.http_request_id)
            .await?;
        Ok(Rx(receiver.inner))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        let stream = self.inner.resume(id, last_event_id).await?;
        let _ = self.resumed.send(id.clone());
        Ok(stream)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_parse() {
        let _: InputRequests = from_json(json!({
            "a": elicitation("q", name_schema("name")),
            "b": sampling("q", 10),
            "c": roots(),
        }));
        let _: ServerRequest = from_json(json!({"method": "elicitation/create", "params": {
            "mode": "form", "message": "m", "requestedSchema": name_schema("x"),
        }}));
        let _: ServerRequest = from_json(sampling("q", 10));
        let _ = Conformance::tools();
    }
}

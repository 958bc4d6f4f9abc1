//! `mcp-example`: a small backend built on `mcp-common` exactly as the real servers are. It
//! gives the gateway's tests and the demo an upstream with read tools, a write tool (RW only),
//! a failing tool, a streaming tool that reports progress, and a tool that shows the request
//! headers it received.

use std::sync::Arc;
use std::time::Duration;

use mcp_common::tool::Json;
use mcp_common::{BackendServer, ServerArgs, ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ProgressNotificationParam, RequestMetaObject, ServerCapabilities, ServerConfig,
};
use rmcp::{Peer, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-example",
    about = "Example MCP backend for tests and the demo"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoArgs {
    /// Text to send back.
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EchoResult {
    pub message: String,
    pub env: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProgressArgs {
    /// Progress notifications to send before answering.
    #[serde(default = "default_steps")]
    pub steps: u32,
    /// Pause after each notification, in milliseconds (when no test gate is set).
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_steps() -> u32 {
    3
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProgressResult {
    pub steps: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HeadersResult {
    /// Request headers as the backend received them (name -> values).
    pub headers: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteArgs {
    pub name: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteResult {
    pub name: String,
    pub dry_run: bool,
    pub written: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FailArgs {
    #[serde(default)]
    pub reason: Option<String>,
}

/// The example handler. Cloned per request; shared parts are behind `Arc`s.
#[derive(Debug, Clone)]
pub struct Example {
    ctx: ToolContext,
    tool_router: Arc<ToolRouter<Self>>,
    /// When set, `example_progress` waits on it after its first notification instead of
    /// sleeping: a test releases it once it has seen the notification arrive.
    pub gate: Option<Arc<Notify>>,
    /// `example_progress` calls that were cancelled before they finished (the client went
    /// away and the transport dropped the call).
    pub cancelled: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a call as cancelled if it is dropped before `done`.
struct CancelWatch {
    counter: Arc<std::sync::atomic::AtomicUsize>,
    done: bool,
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if !self.done {
            self.counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl Example {
    pub fn new(ctx: ToolContext) -> Self {
        // An RO deployment does not even register write tools.
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            tool_router,
            gate: None,
            cancelled: Arc::default(),
        }
    }
}

#[tool_router(router = read_tools)]
impl Example {
    #[tool(
        description = "Echo a message back, with the environment label.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn example_echo(
        &self,
        Parameters(a): Parameters<EchoArgs>,
    ) -> Result<Json<EchoResult>, ToolError> {
        self.ctx
            .run("example_echo", async {
                Ok(Json(EchoResult {
                    message: a.message,
                    env: self.ctx.environment.clone(),
                }))
            })
            .await
    }

    #[tool(
        description = "Report progress a few times, then answer. Exercises streaming through proxies.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn example_progress(
        &self,
        Parameters(a): Parameters<ProgressArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> Result<Json<ProgressResult>, ToolError> {
        self.ctx
            .run("example_progress", async {
                let mut watch = CancelWatch {
                    counter: self.cancelled.clone(),
                    done: false,
                };
                let steps = a.steps.min(100);
                let token = meta.get_progress_token();
                for step in 0..steps {
                    if let Some(token) = &token {
                        let _ = peer
                            .notify_progress(
                                ProgressNotificationParam::new(token.clone(), f64::from(step + 1))
                                    .with_total(f64::from(steps))
                                    .with_message(format!("step {} of {steps}", step + 1)),
                            )
                            .await;
                    }
                    match (&self.gate, step) {
                        (Some(gate), 0) => gate.notified().await,
                        _ => {
                            tokio::time::sleep(Duration::from_millis(a.delay_ms.min(10_000))).await
                        }
                    }
                }
                watch.done = true;
                Ok(Json(ProgressResult { steps }))
            })
            .await
    }

    #[tool(
        description = "Show the HTTP request headers this backend received.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn example_headers(
        &self,
        rmcp::handler::server::common::Extension(parts): rmcp::handler::server::common::Extension<
            http::request::Parts,
        >,
    ) -> Result<Json<HeadersResult>, ToolError> {
        self.ctx
            .run("example_headers", async {
                let mut headers = std::collections::BTreeMap::<String, Vec<String>>::new();
                for (k, v) in &parts.headers {
                    headers
                        .entry(k.as_str().to_owned())
                        .or_default()
                        .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
                }
                Ok(Json(HeadersResult { headers }))
            })
            .await
    }

    #[tool(
        description = "Always fails with an actionable tool error.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn example_fail(
        &self,
        Parameters(a): Parameters<FailArgs>,
    ) -> Result<Json<EchoResult>, ToolError> {
        self.ctx
            .run("example_fail", async {
                Err(ToolError::permission_denied(
                    a.reason.unwrap_or_else(|| "example action".into()),
                    "example:Write",
                ))
            })
            .await
    }
}

#[tool_router(router = write_tools)]
impl Example {
    #[tool(
        description = "Pretend to write something (RW deployments only). Honours dry_run.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn example_write(
        &self,
        Parameters(a): Parameters<WriteArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("example_write", async {
                Ok(Json(WriteResult {
                    name: a.name,
                    dry_run: a.dry_run,
                    written: !a.dry_run,
                }))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Example {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-example",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "Example backend ({} access, env {}).",
                self.ctx.access, self.ctx.environment
            ))
    }
}

/// Serves the example backend until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let server = BackendServer::new("example", args.server);
    let handler = Example::new(server.tool_context());
    server.serve(handler).await
}

//! `mcp-argo`: Argo CD applications for agents: status, resource trees, history, drift and
//! events (view), and sync, rollback and refresh (`--access rw`).
//!
//! - [`upstream`]: where Argo CD is, the bearer token, and the one request path every tool uses;
//! - [`shape`]: Argo CD's objects cut down to what an agent needs, bounded;
//! - [`tools`]: the MCP tools.

pub mod error;
pub mod shape;
pub mod tools;
pub mod upstream;

pub use error::{Error, Result};
pub use tools::Argo;

use mcp_common::{BackendServer, Readiness, ServerArgs};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-argo",
    about = "MCP backend: Argo CD applications (status, resource tree, history, diff, events; sync, rollback and refresh with --access rw)"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub upstream: upstream::UpstreamArgs,
}

/// The server for `args` with its readiness check (Argo CD accepts the token).
pub fn build(args: Args) -> Result<(BackendServer, Argo)> {
    let upstream = upstream::Upstream::from_args(&args.upstream)?;
    if !upstream.has_token() {
        tracing::warn!("no ARGOCD_AUTH_TOKEN: requests to Argo CD are anonymous");
    }
    let check = upstream.clone();
    let server =
        BackendServer::new("argo", args.server).with_readiness(Readiness::new(move || {
            let upstream = check.clone();
            async move { upstream.check().await.map_err(|e| e.to_string()) }
        }));
    tracing::info!(url = %upstream.base_url(), "argocd upstream");
    let handler = Argo::new(server.tool_context(), upstream);
    Ok((server, handler))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args)?;
    server.serve(handler).await
}

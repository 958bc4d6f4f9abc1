//! `mcp-cloudflare`: Cloudflare zones, DNS records, zone settings and traffic analytics for
//! agents (read), and DNS record changes and cache purges with `dry_run` (`--access rw`).
//!
//! - [`upstream`]: the API base URL, the scoped API token, and the one request path every tool
//!   uses (Cloudflare's `{success, errors, result, result_info}` envelope);
//! - [`tools`]: the MCP tools.

pub mod error;
pub mod tools;
pub mod upstream;

pub use error::{Error, Result};
pub use tools::Cloudflare;

use mcp_common::{BackendServer, Readiness, ServerArgs};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-cloudflare",
    about = "MCP backend: Cloudflare zones, DNS records, settings and analytics; DNS edits and cache purges with --access rw"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub upstream: upstream::UpstreamArgs,
}

/// The server for `args` with its readiness check (the token verifies).
pub fn build(args: Args) -> Result<(BackendServer, Cloudflare)> {
    let upstream = upstream::Upstream::from_args(&args.upstream)?;
    let check = upstream.clone();
    let server =
        BackendServer::new("cloudflare", args.server).with_readiness(Readiness::new(move || {
            let upstream = check.clone();
            async move { upstream.check().await.map_err(|e| e.to_string()) }
        }));
    tracing::info!(url = %upstream.base_url(), "cloudflare upstream");
    let handler = Cloudflare::new(server.tool_context(), upstream);
    Ok((server, handler))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args)?;
    server.serve(handler).await
}

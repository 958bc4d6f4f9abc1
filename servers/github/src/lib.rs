//! `mcp-github`: repositories, issues, pull requests, commits, files and workflow runs for
//! agents; issues and comments with `--access rw` (docs/github.md lists what is still to come).
//!
//! - [`upstream`]: the octocrab client (token auth, `--github-api-url`) and the `--repos`
//!   allow-list;
//! - [`tools`]: the MCP tools.

pub mod error;
pub mod tools;
pub mod upstream;

pub use error::{Error, Result};
pub use tools::GitHub;

use mcp_common::{BackendServer, Readiness, ServerArgs};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-github",
    about = "MCP backend: GitHub repositories, issues, pull requests, commits, files and Actions runs"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub upstream: upstream::UpstreamArgs,
}

/// The server for `args` with its readiness check (GitHub answers `/rate_limit`).
pub fn build(args: Args) -> Result<(BackendServer, GitHub)> {
    let upstream = upstream::Upstream::from_args(&args.upstream)?;
    let check = upstream.clone();
    let server =
        BackendServer::new("github", args.server).with_readiness(Readiness::new(move || {
            let upstream = check.clone();
            async move { upstream.check().await.map_err(|e| e.to_string()) }
        }));
    tracing::info!(url = %upstream.api_url(), repos = ?upstream.allow_list(), "github upstream");
    let handler = GitHub::new(server.tool_context(), upstream);
    Ok((server, handler))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args)?;
    server.serve(handler).await
}

//! `mcp-github`: repositories, issues, pull requests, commits, files and workflow runs for
//! agents; with `--access rw` issues, comments and proposed changes (branch + commit + pull
//! request).
//!
//! - [`upstream`]: the octocrab client (token or GitHub App installation auth,
//!   `--github-api-url`) and the `--repos` allow-list;
//! - [`tools`]: the MCP tools;
//! - [`propose`]: `github_propose_change` through the Git Data API.

pub mod error;
pub mod propose;
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
    tracing::info!(url = %upstream.api_url(), auth = upstream.auth_kind(), repos = ?upstream.allow_list(), "github upstream");
    let handler = GitHub::new(server.tool_context(), upstream);
    Ok((server, handler))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args)?;
    server.serve(handler).await
}

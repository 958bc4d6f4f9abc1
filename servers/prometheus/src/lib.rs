//! `mcp-prometheus`: PromQL and Prometheus's state for agents, read-only and bounded.
//!
//! - [`upstream`]: where Prometheus is, how to authenticate (bearer, basic, headers, CA, SigV4),
//!   and the one request path every tool uses;
//! - [`sigv4`]: signing for Amazon Managed Prometheus with the pod's AWS credentials;
//! - [`query`]: step planning, result caps and the explanation of empty results;
//! - [`suggest`]: selectors in PromQL and the nearest existing names;
//! - [`catalog`]: series, labels, metadata; [`status`]: targets, alerts, rules;
//! - [`tools`]: the MCP tools.

pub mod catalog;
pub mod error;
pub mod query;
pub mod sigv4;
pub mod status;
pub mod suggest;
pub mod timeparse;
pub mod tools;
pub mod upstream;

pub use error::{Error, Result};
pub use tools::Prometheus;

use mcp_common::{BackendServer, Readiness, ServerArgs};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-prometheus",
    about = "MCP backend: PromQL queries, series, labels, metadata, targets, alerts and rules of one Prometheus"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub upstream: upstream::UpstreamArgs,
    #[command(flatten)]
    pub caps: query::Caps,
}

/// The server for `args` with its readiness check (Prometheus answers a query).
pub async fn build(args: Args) -> Result<(BackendServer, Prometheus)> {
    let upstream = upstream::Upstream::from_args(&args.upstream).await?;
    let check = upstream.clone();
    let server =
        BackendServer::new("prometheus", args.server).with_readiness(Readiness::new(move || {
            let upstream = check.clone();
            async move { upstream.check().await.map_err(|e| e.to_string()) }
        }));
    tracing::info!(
        url = %upstream.base_url(),
        auth = upstream.auth_kind(),
        max_series = args.caps.max_series,
        max_points = args.caps.max_points,
        "prometheus upstream"
    );
    let handler = Prometheus::new(server.tool_context(), upstream, args.caps);
    Ok((server, handler))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args).await?;
    server.serve(handler).await
}

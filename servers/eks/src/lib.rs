//! `mcp-eks`: Kubernetes for incident response, over MCP.
//!
//! - [`cluster`]: in-cluster config, `KUBECONFIG`, or `--eks-cluster` with a token from the
//!   pod's IRSA credentials ([`token`]);
//! - [`kinds`]: any kind, built-in or CRD, through API discovery;
//! - [`pods`], [`events`]: what an SRE reads first, from [`listed`] slim list types;
//!   [`sanitize`]: what may leave the pod;
//! - [`diff`]: what a write changed; [`rbac`]: the shipped ClusterRoles and each tool's needs;
//! - [`fake`]: an HTTP fake of the Kubernetes API for end-to-end tests, enforcing those roles;
//! - [`tools`]: the MCP tools. Write tools are registered only with `--access rw`.

pub mod cluster;
pub mod diff;
pub mod error;
pub mod events;
pub mod fake;
pub mod kinds;
pub mod listed;
pub mod pods;
pub mod rbac;
pub mod sanitize;
pub mod token;
pub mod tools;

pub use cluster::{Cluster, ClusterArgs};
pub use error::{Error, Result};
pub use tools::Eks;

use mcp_common::{BackendServer, Readiness, ServerArgs};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-eks",
    about = "MCP backend for Kubernetes (EKS): pods, events, logs, any resource; restarts, scaling and patches with --access rw"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The server for a given cluster, with its readiness check (the API server answers).
pub fn build_with(server_args: ServerArgs, cluster: Cluster) -> (BackendServer, Eks) {
    let check = cluster.clone();
    let server = BackendServer::new("eks", server_args).with_readiness(Readiness::new(move || {
        let cluster = check.clone();
        async move { cluster.check().await }
    }));
    let handler = Eks::new(server.tool_context(), cluster);
    (server, handler)
}

/// The server for `args`.
pub async fn build(args: Args) -> Result<(BackendServer, Eks)> {
    let cluster = Cluster::from_args(&args.cluster).await?;
    tracing::info!(cluster = ?cluster, "kubernetes client");
    Ok(build_with(args.server, cluster))
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args).await?;
    server.serve(handler).await
}

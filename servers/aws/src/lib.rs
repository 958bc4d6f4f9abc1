//! `mcp-aws`: EC2 for agents.
//!
//! - [`ec2`]: the describe calls (bounded pages, the fields an operator looks at) and the
//!   instance state changes with `dry_run` (EC2 `DryRun`);
//! - [`identity`]: `aws_get_caller_identity` (STS);
//! - [`iam`]: the IAM actions each tool calls (checked against `policies/iam/aws-*.json`);
//! - [`tools`]: the MCP tools; write tools only with `--access rw`.
//!
//! Credentials: the usual AWS chain (IRSA in the cluster), optionally `--role-arn` to assume a
//! role in another account (see [`mcp_common::aws_error::AwsArgs`]).

pub mod ec2;
pub mod error;
pub mod iam;
pub mod identity;
pub mod tools;

use aws_config::{ConfigLoader, SdkConfig};
use mcp_common::aws_error::AwsArgs;
use mcp_common::{BackendServer, Readiness, ServerArgs};

pub use error::{Error, Result};
pub use tools::Aws;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-aws",
    about = "MCP backend for EC2: instances, security groups, VPCs, subnets; start/stop/reboot/terminate in rw deployments"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Builds the server from the usual AWS configuration chain.
pub async fn build(args: Args) -> Result<(BackendServer, Aws)> {
    build_with(args, mcp_common::aws::loader()).await
}

/// As [`build`], on top of `loader` (tests pass static credentials and the emulator endpoint).
pub async fn build_with(args: Args, loader: ConfigLoader) -> Result<(BackendServer, Aws)> {
    let session = format!("mcp-aws-{}", args.server.environment);
    let conf = args
        .aws
        .load_with(loader, &session)
        .await
        .map_err(Error::Config)?;
    Ok(from_config(args.server, &conf))
}

/// The server for an SDK configuration; readiness is a cheap authenticated EC2 call
/// (DescribeInstances, 5 results).
pub fn from_config(server: ServerArgs, conf: &SdkConfig) -> (BackendServer, Aws) {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let sts = aws_sdk_sts::Client::new(conf);
    let ready = ec2.clone();
    let server = BackendServer::new("aws", server).with_readiness(Readiness::new(move || {
        let ec2 = ready.clone();
        async move {
            ec2.describe_instances()
                .max_results(5)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    mcp_common::aws_error::AwsFailure::from_sdk(
                        "DescribeInstances",
                        "ec2:DescribeInstances",
                        &e,
                    )
                    .to_string()
                })
        }
    }));
    tracing::info!(
        region = conf.region().map(|r| r.as_ref()).unwrap_or("?"),
        "aws upstream"
    );
    let handler = Aws::new(server.tool_context(), ec2, sts);
    (server, handler)
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args).await.map_err(|e| mcp_common::Error::Setting {
        name: "AWS configuration",
        reason: e.to_string(),
    })?;
    server.serve(handler).await
}

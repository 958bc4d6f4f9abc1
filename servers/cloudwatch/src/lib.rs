//! `mcp-cloudwatch`: CloudWatch metrics and alarms, and CloudWatch Logs, for agents. Read-only:
//! no tool writes, whatever `--access` says.
//!
//! - [`metrics`]: `GetMetricData` with a point cap, `ListMetrics`;
//! - [`alarms`]: `DescribeAlarms` with a state filter;
//! - [`logs`]: log groups, `FilterLogEvents`, Logs Insights (start, poll up to a timeout, or
//!   hand back the query id);
//! - [`iam`]: the IAM actions each tool calls (checked against `policies/iam/cloudwatch.json`).

pub mod alarms;
pub mod error;
pub mod iam;
pub mod logs;
pub mod metrics;
pub mod timeparse;
pub mod tools;

use aws_config::{ConfigLoader, SdkConfig};
use mcp_common::aws_error::AwsArgs;
use mcp_common::{BackendServer, Readiness, ServerArgs};

pub use error::{Error, Result};
pub use tools::CloudWatch;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-cloudwatch",
    about = "MCP backend for CloudWatch: metrics, alarms, log groups, log events and Logs Insights (read-only)"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Builds the server from the usual AWS configuration chain.
pub async fn build(args: Args) -> Result<(BackendServer, CloudWatch)> {
    build_with(args, mcp_common::aws::loader()).await
}

/// As [`build`], on top of `loader` (tests pass static credentials and the emulator endpoint).
pub async fn build_with(args: Args, loader: ConfigLoader) -> Result<(BackendServer, CloudWatch)> {
    let session = format!("mcp-cloudwatch-{}", args.server.environment);
    let conf = args
        .aws
        .load_with(loader, &session)
        .await
        .map_err(Error::Config)?;
    Ok(from_config(args.server, &conf))
}

/// The server for an SDK configuration; readiness is a cheap authenticated call
/// (DescribeAlarms, 1 record).
pub fn from_config(server: ServerArgs, conf: &SdkConfig) -> (BackendServer, CloudWatch) {
    let cw = aws_sdk_cloudwatch::Client::new(conf);
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    let ready = cw.clone();
    let server =
        BackendServer::new("cloudwatch", server).with_readiness(Readiness::new(move || {
            let cw = ready.clone();
            async move {
                cw.describe_alarms()
                    .max_records(1)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        mcp_common::aws_error::AwsFailure::from_sdk(
                            "DescribeAlarms",
                            "cloudwatch:DescribeAlarms",
                            &e,
                        )
                        .to_string()
                    })
            }
        }));
    tracing::info!(
        region = conf.region().map(|r| r.as_ref()).unwrap_or("?"),
        "cloudwatch upstream"
    );
    let handler = CloudWatch::new(server.tool_context(), cw, logs);
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

//! `mcp-costs`: AWS Cost Explorer for agents. Read-only: no tool writes, whatever `--access`
//! says.
//!
//! - [`usage`]: GetCostAndUsage as rows with numbers, grouping, filters, page totals;
//! - [`forecast`]: GetCostForecast; [`anomalies`]: GetAnomalies; [`dimensions`]:
//!   GetDimensionValues;
//! - [`dates`], [`expr`]: arguments checked before any request (Cost Explorer bills each one);
//! - [`cache`]: identical requests within `--cache-ttl` are answered from memory;
//! - [`iam`]: the IAM actions each tool calls (checked against `policies/iam/costs.json`).
//!
//! Credentials: the usual AWS chain (IRSA in the cluster), optionally `--role-arn` to assume a
//! role in another account (see [`mcp_common::aws_error::AwsArgs`]). Cost Explorer has one
//! endpoint per partition (`ce.us-east-1.amazonaws.com` for the `aws` partition), so the
//! region defaults to `us-east-1`.

pub mod anomalies;
pub mod cache;
pub mod ce;
pub mod dates;
pub mod dimensions;
pub mod expr;
pub mod forecast;
pub mod iam;
pub mod tools;
pub mod usage;

use std::time::Duration;

use aws_config::{ConfigLoader, SdkConfig};
use mcp_common::aws_error::AwsArgs;
use mcp_common::{BackendServer, Readiness, ServerArgs};

pub use cache::Cache;
pub use tools::Costs;

/// Region used when neither `--region` nor `AWS_REGION` is set: Cost Explorer's endpoint for
/// the `aws` partition.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-costs",
    about = "MCP backend for AWS Cost Explorer: cost and usage, forecasts, anomalies, dimension values (read-only, cached)"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub aws: AwsArgs,

    /// How long an identical Cost Explorer request is answered from memory (each request is
    /// billed $0.01; the data changes a few times a day). `0` turns the cache off.
    #[arg(long, env = "MCP_COSTS_CACHE_TTL", default_value = "5m", value_parser = mcp_common::args::parse_duration)]
    pub cache_ttl: Duration,

    /// Most answers the cache keeps (the oldest make room).
    #[arg(long, env = "MCP_COSTS_CACHE_ENTRIES", default_value_t = 256)]
    pub cache_entries: usize,
}

/// Builds the server from the usual AWS configuration chain.
pub async fn build(args: Args) -> Result<(BackendServer, Costs), String> {
    build_with(args, mcp_common::aws::loader()).await
}

/// As [`build`], on top of `loader` (tests pass static credentials and the emulator endpoint).
pub async fn build_with(
    mut args: Args,
    loader: ConfigLoader,
) -> Result<(BackendServer, Costs), String> {
    if args
        .aws
        .region
        .as_deref()
        .is_none_or(|r| r.trim().is_empty())
    {
        args.aws.region = Some(DEFAULT_REGION.to_owned());
    }
    let session = format!("mcp-costs-{}", args.server.environment);
    let conf = args.aws.load_with(loader, &session).await?;
    Ok(from_config(
        args.server,
        &conf,
        Cache::new(args.cache_ttl, args.cache_entries),
    ))
}

/// The server for an SDK configuration. Readiness checks the credentials with STS
/// GetCallerIdentity: free, where every Cost Explorer request is billed (a probe every 10 s
/// would cost about $86 a day).
pub fn from_config(server: ServerArgs, conf: &SdkConfig, cache: Cache) -> (BackendServer, Costs) {
    let ce = aws_sdk_costexplorer::Client::new(conf);
    let sts = aws_sdk_sts::Client::new(conf);
    let server = BackendServer::new("costs", server).with_readiness(Readiness::new(move || {
        let sts = sts.clone();
        async move {
            sts.get_caller_identity()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    mcp_common::aws_error::AwsFailure::from_sdk(
                        "GetCallerIdentity",
                        "sts:GetCallerIdentity",
                        &e,
                    )
                    .to_string()
                })
        }
    }));
    server.metrics.with_registry(|r| cache.register(r));
    tracing::info!(
        region = conf.region().map(|r| r.as_ref()).unwrap_or("?"),
        cache_ttl_s = cache.ttl().as_secs(),
        "cost explorer upstream"
    );
    let handler = Costs::new(server.tool_context(), ce::Explorer { client: ce, cache });
    (server, handler)
}

/// Serves until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args)
        .await
        .map_err(|reason| mcp_common::Error::Setting {
            name: "AWS configuration",
            reason,
        })?;
    server.serve(handler).await
}

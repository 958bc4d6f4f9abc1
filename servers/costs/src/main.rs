//! `mcp-costs`: AWS Cost Explorer over MCP (cost and usage, forecasts, anomalies, dimension
//! values), read-only, with a TTL cache because every Cost Explorer request is billed.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_costs::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_costs::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-costs: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

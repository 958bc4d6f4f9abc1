//! `mcp-costs`: AWS Cost Explorer over MCP (cost and usage, forecasts, anomalies, dimension
//! values), read-only, with a TTL cache because every Cost Explorer request is billed.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_costs::Args::parse();
    mcp_common::server::main("mcp-costs", args.server.threads, mcp_costs::run(args))
}

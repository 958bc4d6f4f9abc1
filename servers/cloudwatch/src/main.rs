//! `mcp-cloudwatch`: CloudWatch metrics, alarms and Logs over MCP (read-only).
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_cloudwatch::Args::parse();
    mcp_common::server::main(
        "mcp-cloudwatch",
        args.server.threads,
        mcp_cloudwatch::run(args),
    )
}

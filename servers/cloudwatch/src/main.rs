//! `mcp-cloudwatch`: CloudWatch metrics, alarms and Logs over MCP (read-only).
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_cloudwatch::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_cloudwatch::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-cloudwatch: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

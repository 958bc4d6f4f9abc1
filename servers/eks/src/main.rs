//! `mcp-eks`: Kubernetes for incident response over MCP.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_eks::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_eks::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-eks: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

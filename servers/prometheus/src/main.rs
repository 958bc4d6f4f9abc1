//! The Prometheus backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_prometheus::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_prometheus::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-prometheus: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

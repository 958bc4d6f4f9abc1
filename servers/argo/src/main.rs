//! The Argo CD backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_argo::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_argo::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-argo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

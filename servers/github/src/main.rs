//! The GitHub backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_github::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_github::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-github: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

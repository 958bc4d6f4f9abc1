//! The Cloudflare backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_cloudflare::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_cloudflare::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-cloudflare: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

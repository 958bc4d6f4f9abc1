//! The example backend: the gateway's test and demo upstream.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = integration_tests::example::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(integration_tests::example::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-example: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

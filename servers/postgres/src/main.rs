//! `mcp-postgres`: PostgreSQL diagnostics and safe SQL over MCP.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_postgres::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_postgres::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-postgres: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! `mcp-postgres`: PostgreSQL diagnostics and safe SQL over MCP.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_postgres::Args::parse();
    mcp_common::server::main("mcp-postgres", args.server.threads, mcp_postgres::run(args))
}

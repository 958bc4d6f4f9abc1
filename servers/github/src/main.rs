//! The GitHub backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_github::Args::parse();
    mcp_common::server::main("mcp-github", args.server.threads, mcp_github::run(args))
}

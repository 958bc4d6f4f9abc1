//! The Argo CD backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_argo::Args::parse();
    mcp_common::server::main("mcp-argo", args.server.threads, mcp_argo::run(args))
}

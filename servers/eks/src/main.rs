//! `mcp-eks`: Kubernetes for incident response over MCP.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_eks::Args::parse();
    mcp_common::server::main("mcp-eks", args.server.threads, mcp_eks::run(args))
}

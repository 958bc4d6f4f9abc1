//! The Prometheus backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_prometheus::Args::parse();
    mcp_common::server::main(
        "mcp-prometheus",
        args.server.threads,
        mcp_prometheus::run(args),
    )
}

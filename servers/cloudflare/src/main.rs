//! The Cloudflare backend.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_cloudflare::Args::parse();
    mcp_common::server::main(
        "mcp-cloudflare",
        args.server.threads,
        mcp_cloudflare::run(args),
    )
}

//! The example backend: the gateway's test and demo upstream.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = integration_tests::example::Args::parse();
    mcp_common::server::main(
        "mcp-example",
        args.server.threads,
        integration_tests::example::run(args),
    )
}

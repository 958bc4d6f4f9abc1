//! `mcp-aws`: EC2 over MCP (describe instances, security groups, VPCs, subnets; start, stop,
//! reboot, terminate in `rw` deployments).
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_aws::Args::parse();
    mcp_common::server::main("mcp-aws", args.server.threads, mcp_aws::run(args))
}

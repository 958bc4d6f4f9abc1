//! `mcp-aws`: EC2 over MCP (describe instances, security groups, VPCs, subnets; start, stop,
//! reboot, terminate in `rw` deployments).
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mcp_aws::Args::parse();
    mcp_common::telemetry::init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(mcp_aws::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-aws: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! The "everything" server for the MCP conformance suite, for running the suite by hand:
//!
//! ```text
//! mcp-conformance-server --listen 127.0.0.1:3000
//! $MCP_CONFORMANCE_DIR/stable/node_modules/node/bin/node \
//!   $MCP_CONFORMANCE_DIR/stable/node_modules/@modelcontextprotocol/conformance/dist/index.js \
//!   server --url http://127.0.0.1:3000/mcp --suite all
//! ```
use std::net::SocketAddr;

use clap::Parser;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-conformance-server",
    about = "Everything server for the @modelcontextprotocol/conformance server suite (endpoint /mcp)"
)]
struct Args {
    /// Address to serve on. Keep it on loopback: the server accepts only loopback Host names.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Serve every request on its own, without sessions (the 2025 scenarios that send requests
    /// to the client then fail: a stateless server cannot receive the answer).
    #[arg(long)]
    stateless: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    mcp_common::server::main("mcp-conformance-server", 0, run(args))
}

async fn run(args: Args) -> std::io::Result<()> {
    let ct = CancellationToken::new();
    let router = integration_tests::conformance::service(!args.stateless, ct.clone());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!(
        "mcp-conformance-server: {} on http://{}/mcp",
        if args.stateless {
            "stateless"
        } else {
            "sessions"
        },
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            mcp_common::server::shutdown_signal().await;
            ct.cancel();
        })
        .await
}

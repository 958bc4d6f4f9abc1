//! The `mcp-gateway` command line: `serve`, `check`, `keys`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use clap::{Parser, Subcommand};

use crate::app::{Gateway, app};
use crate::audit::AuditSink;
use crate::config::Config;
use crate::error::Result;
use crate::keys;
use crate::metrics::Metrics;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-gateway",
    version,
    about = "MCP gateway: authenticate, authorize, proxy, audit"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway.
    Serve {
        /// Config file (YAML).
        #[arg(long, env = "MCP_GATEWAY_CONFIG")]
        config: PathBuf,
    },
    /// Validate a config file; print every problem with its line. Exit 1 if any.
    Check {
        #[arg(long, env = "MCP_GATEWAY_CONFIG")]
        config: PathBuf,
    },
    /// Agent keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key locally: print the bearer token on stdout (once) and, with `--keys-file`,
    /// add `<hash>:<role>/<user>` to a local keys file (written atomically). For local stacks
    /// and tests; production keys live in SSM.
    Generate {
        #[arg(long)]
        role: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        keys_file: Option<PathBuf>,
    },
}

/// Runs the command line; the binary's `main` is this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_common::telemetry::init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Keys(KeysCommand::Generate {
            role,
            user,
            keys_file,
        }) => generate_key(&role, &user, keys_file.as_deref()),
        Command::Serve { config } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("mcp-gateway: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(&config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "mcp-gateway stopped");
                    eprintln!("mcp-gateway: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Serves until SIGTERM/SIGINT, then drains and flushes the audit stream.
pub async fn serve(config_path: &std::path::Path) -> Result<()> {
    let (config, report) = Config::load(config_path)?;
    for w in &report.warnings {
        tracing::warn!(config = %config_path.display(), "{w}");
    }
    let metrics = Metrics::new();
    let audit = AuditSink::stdout(metrics.clone());
    let listen = config.listen;
    let grace = config.limits.shutdown_grace;
    let gw = Gateway::new(config, audit.clone(), metrics);
    let _watch = gw.keys.watch(Duration::from_secs(30))?;
    let listener = mcp_common::server::bind(listen).await?;
    tracing::info!(
        listen = %listen,
        backends = gw.config.backends.len(),
        roles = gw.config.roles.len(),
        keys = gw.keys.current().len(),
        "mcp-gateway serving"
    );
    let health = gw.health.clone();
    let router = app(gw.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = serve_with_connect_info(listener, router, grace, health).await;
    audit.close();
    result
}

async fn serve_with_connect_info(
    listener: tokio::net::TcpListener,
    make: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<
        axum::Router,
        std::net::SocketAddr,
    >,
    grace: Duration,
    health: mcp_common::server::Health,
) -> Result<()> {
    let drain = tokio_util::sync::CancellationToken::new();
    let server = {
        let drain = drain.clone();
        axum::serve(listener, make).with_graceful_shutdown(async move {
            mcp_common::server::shutdown_signal().await;
            health.start_shutdown();
            drain.cancel();
        })
    };
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => return r.map_err(|e| mcp_common::Error::Serve(e).into()),
        () = drain.cancelled() => {}
    }
    tracing::info!(grace_s = grace.as_secs_f64(), "draining in-flight requests");
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => r.map_err(|e| mcp_common::Error::Serve(e).into()),
        Err(_) => {
            tracing::warn!("grace period over; closing open streams");
            Ok(())
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok((config, report)) => {
            for w in &report.warnings {
                println!("{}: warning: {w}", path.display());
            }
            println!(
                "{}: ok ({} backends, {} roles)",
                path.display(),
                config.backends.len(),
                config.roles.len()
            );
            ExitCode::SUCCESS
        }
        Err(crate::Error::Config { path, problems }) => {
            for p in &problems {
                println!("{}: {p}", path.display());
            }
            println!("{}: {} problem(s)", path.display(), problems.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn generate_key(role: &str, user: &str, keys_file: Option<&std::path::Path>) -> ExitCode {
    let mut raw = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut raw) {
        eprintln!("mcp-gateway: no randomness from the OS: {e}");
        return ExitCode::FAILURE;
    }
    let entry = format!("{}:{role}/{user}", keys::hash_hex(&raw));
    if let Err(e) = keys::parse_entry(&entry) {
        eprintln!("mcp-gateway: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = keys_file
        && let Err(e) = add_to_keys_file(path, user, &entry)
    {
        eprintln!("mcp-gateway: cannot update {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let token = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{token}").is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Adds or replaces `user`'s entry, writing a temporary file and renaming it over the old one,
/// so the gateway never reads a half-written file.
fn add_to_keys_file(path: &std::path::Path, user: &str, entry: &str) -> std::io::Result<()> {
    let mut map = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(e),
    };
    map.insert(
        format!("/mcp-gateway/keys/{user}"),
        serde_json::Value::String(entry.to_owned()),
    );
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&map)?)?;
    std::fs::rename(&tmp, path)
}

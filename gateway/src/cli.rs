//! The `mcp-gateway` command line: `serve`, `check`, `keys`, `can-i`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::Result;
use crate::keys;

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
    /// Explain whether ROLE may call TOOL on BACKEND, layer by layer (gateway, pod, credential).
    /// Exit 0 allowed, 1 denied, 2 bad input, 3 not decidable offline.
    CanI(crate::can_i::CanIArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key in SSM for a user and print its bearer token (once, on stdout).
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        user: String,
        /// The key stops working after this long (e.g. 90d, 12h).
        #[arg(long, value_parser = mcp_common::args::parse_duration)]
        expires_in: Option<Duration>,
        /// KMS key for the SecureString (default: the account's aws/ssm key).
        #[arg(long, env = "MCP_KEYS_KMS_KEY_ID")]
        kms_key_id: Option<String>,
        /// Replace the user's existing key instead of refusing.
        #[arg(long)]
        rotate: bool,
        /// Check the role against this gateway config's roleMapping.
        #[arg(long, env = "MCP_GATEWAY_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace a user's key (same role); print the new token. The old key stops working when
    /// the gateway's Secret refreshes.
    Rotate {
        #[arg(long)]
        user: String,
        #[arg(long, value_parser = mcp_common::args::parse_duration)]
        expires_in: Option<Duration>,
        #[arg(long, env = "MCP_KEYS_KMS_KEY_ID")]
        kms_key_id: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a user's key.
    Revoke {
        #[arg(long)]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys: user, role, key id, created, expiry (never a hash in full).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write the aggregated keys JSON exactly as External Secrets does (local runs, tests).
    Export {
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
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

/// Where keys live in SSM.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Parameter prefix; one parameter per user below it.
    #[arg(long, env = "MCP_KEYS_PREFIX", default_value = crate::ssm::DEFAULT_PREFIX)]
    pub prefix: String,
}

/// Runs the command line; the binary's `main` is this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_common::telemetry::init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::CanI(args) => crate::can_i::run(&args),
        Command::Keys(KeysCommand::Generate {
            role,
            user,
            keys_file,
        }) => generate_key(&role, &user, keys_file.as_deref()),
        Command::Keys(cmd) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("mcp-gateway: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(keys_ssm(cmd)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mcp-gateway keys: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config } => match crate::server::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "mcp-gateway stopped");
                eprintln!("mcp-gateway: {e}");
                ExitCode::FAILURE
            }
        },
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

/// The SSM-backed `keys` subcommands. Only `create`/`rotate` write to stdout: the token.
async fn keys_ssm(cmd: KeysCommand) -> Result<()> {
    use crate::ssm::{KeyAdmin, Mode, client_from_env};
    let admin = |store: &StoreArgs, kms: Option<String>| {
        let prefix = store.prefix.clone();
        async move { KeyAdmin::new(client_from_env().await?, &prefix, kms) }
    };
    match cmd {
        KeysCommand::Create {
            role,
            user,
            expires_in,
            kms_key_id,
            rotate,
            config,
            store,
        } => {
            if let Some(path) = config {
                let (config, _) = Config::load(&path)?;
                if !config.roles.contains_key(&role) {
                    let known: Vec<&str> = config.roles.keys().map(String::as_str).collect();
                    return Err(crate::Error::KeyAdmin(format!(
                        "role `{role}` is not in {}'s roleMapping (known: {})",
                        path.display(),
                        known.join(", ")
                    )));
                }
            }
            let mode = if rotate { Mode::NewOrRotate } else { Mode::New };
            let created = admin(&store, kms_key_id)
                .await?
                .create(&role, &user, expires_in, mode)
                .await?;
            print_created(&created, &role, &user)
        }
        KeysCommand::Rotate {
            user,
            expires_in,
            kms_key_id,
            store,
        } => {
            let admin = admin(&store, kms_key_id).await?;
            let role = admin.role_of(&user).await?;
            let created = admin.create(&role, &user, expires_in, Mode::Rotate).await?;
            print_created(&created, &role, &user)
        }
        KeysCommand::Revoke { user, store } => {
            admin(&store, None).await?.revoke(&user).await?;
            eprintln!(
                "revoked the key of {user}; it stops working when the gateway's keys Secret refreshes"
            );
            Ok(())
        }
        KeysCommand::List { json, store } => {
            let rows = admin(&store, None).await?.list().await?;
            let mut out = std::io::stdout().lock();
            let io = |e: std::io::Error| crate::Error::KeyAdmin(format!("cannot write: {e}"));
            if json {
                for r in &rows {
                    writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())
                        .map_err(io)?;
                }
            } else {
                writeln!(
                    out,
                    "{:<32} {:<20} {:<9} {:<21} EXPIRES",
                    "USER", "ROLE", "KEY ID", "CREATED"
                )
                .map_err(io)?;
                for r in &rows {
                    let expires = match (&r.expires, r.expired) {
                        (Some(t), true) => format!("{t} (expired)"),
                        (Some(t), false) => t.clone(),
                        (None, _) => "never".into(),
                    };
                    writeln!(
                        out,
                        "{:<32} {:<20} {:<9} {:<21} {expires}",
                        r.user,
                        r.role,
                        r.key_id,
                        r.created.as_deref().unwrap_or("-")
                    )
                    .map_err(io)?;
                }
            }
            Ok(())
        }
        KeysCommand::Export { out, store } => {
            let map = admin(&store, None).await?.export().await?;
            let text = serde_json::to_string_pretty(&map).unwrap_or_default();
            if let Err(e) = crate::keys::KeySet::parse(&text) {
                eprintln!("warning: the gateway would reject this file: {e}");
            }
            write_atomically(&out, text.as_bytes()).map_err(|e| {
                crate::Error::KeyAdmin(format!("cannot write {}: {e}", out.display()))
            })?;
            eprintln!("wrote {} key(s) to {}", map.len(), out.display());
            Ok(())
        }
        KeysCommand::Generate { .. } => Ok(()),
    }
}

fn print_created(c: &crate::ssm::Created, role: &str, user: &str) -> Result<()> {
    let expiry = c
        .expires_at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| format!(", expires {}", crate::audit::rfc3339_seconds(t)))
        .unwrap_or_default();
    eprintln!(
        "{} key {} for {user} ({role}) in {}{expiry}. The token below is shown once.",
        if c.rotated { "rotated:" } else { "created" },
        c.key_id,
        c.parameter
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", c.token)
        .map_err(|e| crate::Error::KeyAdmin(format!("cannot write the token: {e}")))
}

/// Writes a temporary file beside `path` and renames it over `path`, so readers never see a
/// half-written file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn generate_key(role: &str, user: &str, keys_file: Option<&std::path::Path>) -> ExitCode {
    let mut raw = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut raw) {
        eprintln!("mcp-gateway: no randomness from the OS: {e}");
        return ExitCode::FAILURE;
    }
    let entry = keys::format_entry(&raw, role, user, None);
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
    write_atomically(path, &serde_json::to_vec_pretty(&map)?)
}

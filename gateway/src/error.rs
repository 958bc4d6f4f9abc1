use std::path::PathBuf;

/// Errors of the gateway crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems in a config file, each with the line it is on.
    #[error("{path}: invalid configuration:\n{}", .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Config {
        path: PathBuf,
        problems: Vec<crate::config::Problem>,
    },
    #[error("invalid keys file {path}: {reason}")]
    Keys { path: PathBuf, reason: String },
    #[error("cannot watch {path}: {source}")]
    Watch {
        path: PathBuf,
        #[source]
        source: Box<notify::Error>,
    },
    #[error("{0}")]
    KeyAdmin(String),
    #[error("{action} on {target} failed: {reason}")]
    Ssm {
        action: &'static str,
        target: String,
        reason: String,
    },
    /// A policy file under `policies/` (or `--policies DIR`) that cannot be used.
    #[error("policy {file}: {reason}")]
    Policy { file: String, reason: String },
    /// A `can-i` question that cannot be answered as asked (unknown role, backend, tool, ...).
    #[error("{0}")]
    CanI(String),
    #[error(transparent)]
    Common(#[from] mcp_common::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

use std::net::SocketAddr;

/// Errors of the shared plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot start the MCP service: {0}")]
    Service(#[source] std::io::Error),
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Process start-up: logging and the TLS crypto provider. (OpenTelemetry traces start on first
//! use, see [`crate::traces`].)
//!
//! Logs go to stderr as JSON lines (one object per event), so that stdout stays free for data
//! that must not mix with logs (the gateway's audit stream). `RUST_LOG` sets the filter
//! (default `info,rmcp=warn`: the SDK logs every stateless request at info); `LOG_FORMAT=text` switches to human-readable lines for local runs.

use std::sync::Once;

use tracing_subscriber::{EnvFilter, fmt};

static INIT: Once = Once::new();

/// Installs the global tracing subscriber once; later calls are no-ops (tests call it freely).
pub fn init_logging() {
    INIT.call_once(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
        let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
        let result = if text {
            fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_target(false)
                .try_init()
        } else {
            fmt()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init()
        };
        // Another subscriber may already be set (a test harness); that one keeps working.
        drop(result);
    });
}

/// Installs `ring` as the process-wide rustls provider. rustls panics at first use when more
/// than one provider is compiled in (the AWS SDK brings aws-lc-rs) and none was chosen, so every
/// `main` calls this before anything opens a TLS connection. Idempotent.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Everything a binary does before its own work: crypto provider, then logging.
pub fn init() {
    install_crypto_provider();
    init_logging();
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_is_idempotent() {
        super::init();
        super::init();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}

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

/// An error with its causes on one line (`error sending request: ... Connection refused`):
/// HTTP clients' own messages alone often do not say what went wrong. A cause whose text the
/// line already holds is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod chain_tests {
    use super::error_chain;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_are_joined_once() {
        let e = E(
            "error sending request",
            Some(Box::new(E(
                "client error (Connect)",
                Some(Box::new(E("Connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "error sending request: client error (Connect): Connection refused"
        );
        let dup = E(
            "connect: Connection refused",
            Some(Box::new(E("Connection refused", None))),
        );
        assert_eq!(error_chain(&dup), "connect: Connection refused");
    }
}

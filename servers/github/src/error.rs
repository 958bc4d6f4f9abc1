//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;

/// Everything that can go wrong between a tool and GitHub.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },

    #[error("cannot build the GitHub client: {0}")]
    Client(#[source] octocrab::Error),

    /// GitHub answered with an error status; `message` is its own text.
    #[error("GitHub answered HTTP {status}: {message}")]
    Api { status: u16, message: String },

    /// The request did not get an answer (connection, TLS, timeout) or the answer did not parse.
    #[error("GitHub request failed: {0}")]
    Transport(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<octocrab::Error> for Error {
    fn from(e: octocrab::Error) -> Self {
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let mut message = source.message.clone();
                if let Some(errors) = &source.errors
                    && !errors.is_empty()
                {
                    message.push_str(&format!(" ({})", serde_json::Value::Array(errors.clone())));
                }
                Error::Api {
                    status: source.status_code.as_u16(),
                    message,
                }
            }
            other => {
                let mut text = other.to_string();
                let mut src = std::error::Error::source(&other);
                while let Some(s) = src {
                    let t = s.to_string();
                    if !text.contains(&t) {
                        text.push_str(": ");
                        text.push_str(&t);
                    }
                    src = s.source();
                }
                Error::Transport(text)
            }
        }
    }
}

impl Error {
    /// The tool error for a failed call: `what` names the call, `permission` the token
    /// permission it needs (fine-grained token / GitHub App permission).
    pub fn into_tool_error(self, what: &str, permission: &str) -> ToolError {
        match self {
            Error::Api { status: 401, message } => ToolError::new(format!(
                "GitHub refused the credentials for {what} (HTTP 401): {message}"
            ))
            .with_hint("the deployment's GITHUB_TOKEN is wrong, expired or revoked; ask an operator for a new one"),
            Error::Api { status: 403 | 429, message }
                if message.to_ascii_lowercase().contains("rate limit") =>
            {
                ToolError::new(format!("GitHub rate-limited {what}: {message}"))
                    .with_hint("wait for the rate limit window to reset (up to an hour for the primary limit, a minute for secondary limits) and retry")
            }
            Error::Api { status: 403, message } => {
                let mut e = ToolError::permission_denied(what, format!("the GitHub permission `{permission}`"));
                e.message = format!("permission denied: {what} (GitHub answered HTTP 403: {message})");
                e
            }
            Error::Api { status: 404, message } => ToolError::new(format!(
                "GitHub found nothing for {what} (HTTP 404): {message}"
            ))
            .with_hint(format!("check the repository, number or path; GitHub also answers 404 when the token cannot see a private repository (it needs `{permission}` on it)")),
            Error::Api { status: 429, message } => ToolError::new(format!(
                "GitHub rate-limited {what} (HTTP 429): {message}"
            ))
            .with_hint("retry in a minute"),
            Error::Api { status, message } if status >= 500 => ToolError::new(format!(
                "GitHub failed {what} (HTTP {status}): {message}"
            ))
            .with_hint("GitHub is having trouble; retry in a moment"),
            Error::Api { status, message } => ToolError::new(format!(
                "GitHub rejected {what} (HTTP {status}): {message}"
            ))
            .with_hint("the text above is GitHub's own error; fix the arguments"),
            e @ Error::Transport(_) => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("GitHub is unreachable from this pod or answered something unexpected; retry later"),
            e => ToolError::upstream(format!("GitHub {what}"), e),
        }
    }
}

impl From<Error> for mcp_common::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Setting { name, reason } => mcp_common::Error::Setting { name, reason },
            other => mcp_common::Error::Setting {
                name: "github",
                reason: other.to_string(),
            },
        }
    }
}

//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;

/// Everything that can go wrong between a tool and GitHub.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },

    #[error("cannot build the GitHub client: {0}")]
    Client(#[source] octocrab::Error),

    /// GitHub answered with an error status; `message` is its own text, `rate_limit` what
    /// its rate-limit headers said.
    #[error("GitHub answered HTTP {status}: {message}")]
    Api {
        status: u16,
        message: String,
        rate_limit: Option<RateLimit>,
    },

    /// The GitHub App installation could not be found or used.
    #[error("{0}")]
    Auth(String),

    /// The request did not get an answer (connection, TLS, timeout) or the answer did not parse.
    #[error("GitHub request failed: {0}")]
    Transport(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What GitHub's rate-limit headers said about an error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `x-ratelimit-remaining: 0`: the primary limit of the credentials is used up.
    pub exhausted: bool,
    /// `x-ratelimit-reset`: when the primary limit's window resets (Unix seconds).
    pub reset: Option<u64>,
    /// `retry-after` (secondary limits, and 429): seconds to wait.
    pub retry_after: Option<u64>,
}

impl RateLimit {
    /// The rate-limit facts of an error answer; `None` when its headers say nothing about a
    /// limit being hit.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let r = RateLimit {
            exhausted: num("x-ratelimit-remaining") == Some(0),
            reset: num("x-ratelimit-reset"),
            retry_after: num("retry-after"),
        };
        (r.exhausted || r.retry_after.is_some()).then_some(r)
    }

    /// When to retry, for an agent: an absolute UTC time and the seconds until then.
    pub fn when(&self, now: u64) -> Option<String> {
        let (at, why) = match (self.retry_after, self.exhausted, self.reset) {
            (Some(s), _, _) => (now + s, "GitHub's retry-after"),
            (None, true, Some(reset)) => (reset.max(now), "when the primary rate limit resets"),
            _ => return None,
        };
        let stamp = time::OffsetDateTime::from_unix_timestamp(at as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| format!("unix time {at}"));
        Some(format!("retry after {stamp} (in {} s, {why})", at - now))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

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
                    rate_limit: source.headers.as_ref().and_then(RateLimit::from_headers),
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
            Error::Api { status: 401, message, .. } => ToolError::new(format!(
                "GitHub refused the credentials for {what} (HTTP 401): {message}"
            ))
            .with_hint("the deployment's GitHub credentials (GITHUB_TOKEN or GitHub App) are wrong, expired or revoked; ask an operator to renew them"),
            Error::Api { status: status @ (403 | 429), message, rate_limit }
                if status == 429
                    || rate_limit.is_some()
                    || message.to_ascii_lowercase().contains("rate limit") =>
            {
                let when = rate_limit.as_ref().and_then(|r| r.when(unix_now()));
                let secondary = rate_limit.as_ref().is_some_and(|r| r.retry_after.is_some())
                    || message.to_ascii_lowercase().contains("secondary");
                let mut text = format!("GitHub rate-limited {what} (HTTP {status}): {message}");
                if let Some(w) = &when {
                    text.push_str(&format!("; {w}"));
                }
                let hint = match (when, secondary) {
                    (Some(w), true) => format!("GitHub's secondary rate limit (too many requests in a short time): {w}; then send fewer requests at once"),
                    (Some(w), false) => format!("the primary rate limit of this deployment's GitHub credentials is used up: {w}; calls before then fail the same way"),
                    (None, true) => "GitHub's secondary rate limit: wait at least a minute, then send fewer requests at once".to_owned(),
                    (None, false) => "wait for the rate limit window to reset (up to an hour for the primary limit, a minute for secondary limits) and retry".to_owned(),
                };
                ToolError::new(text).with_hint(hint)
            }
            Error::Api { status: 403, message, .. } => {
                let mut e = ToolError::permission_denied(what, format!("the GitHub permission `{permission}`"));
                e.message = format!("permission denied: {what} (GitHub answered HTTP 403: {message})");
                e
            }
            Error::Api { status: 404, message, .. } => ToolError::new(format!(
                "GitHub found nothing for {what} (HTTP 404): {message}"
            ))
            .with_hint(format!("check the repository, number or path; GitHub also answers 404 when the token cannot see a private repository (it needs `{permission}` on it)")),
            Error::Api { status, message, .. } if status >= 500 => ToolError::new(format!(
                "GitHub failed {what} (HTTP {status}): {message}"
            ))
            .with_hint("GitHub is having trouble; retry in a moment"),
            Error::Api { status, message, .. } => ToolError::new(format!(
                "GitHub rejected {what} (HTTP {status}): {message}"
            ))
            .with_hint("the text above is GitHub's own error; fix the arguments"),
            e @ Error::Transport(_) => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("GitHub is unreachable from this pod or answered something unexpected; retry later"),
            Error::Auth(m) => ToolError::new(format!("{what} failed: {m}"))
                .with_hint("the deployment's GitHub App setup is wrong; ask an operator (the App's installation and --installation-id)"),
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

//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;
use prometheus_http_query::error::{PrometheusError, PrometheusErrorType};

/// Everything that can go wrong between a tool and Prometheus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },

    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),

    #[error("cannot read {what} from {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot reach Prometheus at {url}: {}", chain(source))]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("Prometheus answered HTTP {status}: {body}")]
    Status { status: u16, body: String },

    /// Prometheus's own error (bad PromQL, query timeout, ...), verbatim.
    #[error("Prometheus: {0}")]
    Prometheus(#[source] PrometheusError),

    #[error("the answer to {path} is larger than {limit} bytes")]
    TooLarge { path: String, limit: usize },

    #[error("cannot parse Prometheus's answer to {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("SigV4: {0}")]
    SigV4(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use mcp_common::error::error_chain as chain;

impl Error {
    /// The tool error for a failed call: `what` names the call (e.g. "instant query"),
    /// `permission` what the deployment's credentials need for it.
    pub fn into_tool_error(self, what: &str, permission: &str) -> ToolError {
        match self {
            Error::Prometheus(e) => match e.error_type() {
                PrometheusErrorType::BadData => {
                    ToolError::new(format!("Prometheus rejected the {what}: {}", e.message()))
                        .with_hint("fix the PromQL or the arguments; the text above is Prometheus's own error")
                }
                PrometheusErrorType::Timeout | PrometheusErrorType::Canceled => ToolError::new(
                    format!("Prometheus gave up on the {what}: {}", e.message()),
                )
                .with_hint("narrow the query: fewer series (more label matchers, aggregate with sum by (...)), a shorter range or a larger step"),
                PrometheusErrorType::Execution => ToolError::new(format!(
                    "Prometheus could not execute the {what}: {}",
                    e.message()
                ))
                .with_hint("the query is valid but failed while running (often too many samples or series); narrow it"),
                _ => ToolError::upstream(format!("Prometheus {what}"), e),
            },
            Error::Status { status: 401, body } => ToolError::new(format!(
                "Prometheus refused the credentials for the {what} (HTTP 401): {body}"
            ))
            .with_hint("the deployment's bearer token, basic auth or AWS credentials are wrong or expired; ask an operator"),
            Error::Status { status: 403, body } => {
                let mut e = ToolError::permission_denied(
                    format!("{what} (HTTP 403: {body})"),
                    permission,
                );
                e.message = format!("permission denied: {what}: Prometheus answered HTTP 403: {body}");
                e
            }
            Error::Status { status: 404, body } => ToolError::new(format!(
                "Prometheus has no such endpoint for the {what} (HTTP 404): {body}"
            ))
            .with_hint("this Prometheus-compatible service may not offer this API (Amazon Managed Prometheus has no targets API, for example), or --prometheus-url points at the wrong path"),
            Error::Status { status, body } if status >= 500 => ToolError::new(format!(
                "Prometheus failed the {what} (HTTP {status}): {body}"
            ))
            .with_hint("Prometheus or a proxy in front of it is in trouble; retry in a moment"),
            e @ Error::Connect { .. } => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("Prometheus is down or unreachable from this pod; retry later or check another environment's backend"),
            e @ Error::TooLarge { .. } => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("narrow the query: add label matchers, aggregate (sum by (...)), shorten the range or raise the step"),
            e => ToolError::upstream(format!("Prometheus {what}"), e),
        }
    }

    pub(crate) fn setting(name: &'static str, reason: impl Into<String>) -> Self {
        Error::Setting {
            name,
            reason: reason.into(),
        }
    }
}

impl From<Error> for mcp_common::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Setting { name, reason } => mcp_common::Error::Setting { name, reason },
            other => mcp_common::Error::Setting {
                name: "prometheus",
                reason: other.to_string(),
            },
        }
    }
}

//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;
use mcp_common::tool::{HttpApiText, http_status_error};

/// Everything that can go wrong between a tool and the Cloudflare API.
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

    #[error("cannot reach the Cloudflare API at {url}: {}", chain(source))]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// Cloudflare answered with an error status or `success: false`; `message` is its own
    /// `errors[]` text (`code: message`), or the start of whatever a proxy sent.
    #[error("Cloudflare answered HTTP {status}: {message}")]
    Api {
        status: u16,
        message: String,
        /// `Retry-After` of a 429, in seconds.
        retry_after: Option<u64>,
    },

    #[error("the answer to {path} is larger than {limit} bytes")]
    TooLarge { path: String, limit: usize },

    #[error("cannot parse Cloudflare's answer to {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use mcp_common::error::error_chain as chain;

/// How the Cloudflare API's error statuses read to an agent.
const TEXT: HttpApiText = HttpApiText {
    api: "Cloudflare",
    credential: "the API token",
    unauthorized_hint: "the deployment's CLOUDFLARE_API_TOKEN is wrong, expired or revoked; ask an operator for a new token (policies/cloudflare/)",
    permission_kind: "the API token permission",
    forbidden_hint: "this deployment's API token lacks `{permission}` for this zone (policies/cloudflare/token-scopes.md), or the zone is not among the token's zone resources; use a backend with that access or ask an operator to grant it",
    not_found_hint: "check the zone with cloudflare_list_zones and the record id with cloudflare_list_dns_records; a token without access to a zone may also see 404",
    retry_default: "a minute",
    retry_note: " (the API allows 1200 requests per 5 minutes per user)",
    server_error_hint: "the Cloudflare API is having trouble; retry in a moment",
    rejected_hint: "the text above is Cloudflare's own error; fix the arguments (try dry_run first)",
};

impl Error {
    /// The tool error for a failed call: `what` names the call, `permission` the API token
    /// permission it needs (`Zone > DNS > Edit`).
    pub fn into_tool_error(self, what: &str, permission: &str) -> ToolError {
        match self {
            Error::Api {
                status,
                message,
                retry_after,
            } => http_status_error(&TEXT, what, permission, status, &message, retry_after),
            e @ Error::Connect { .. } => ToolError::new(format!("{what} failed: {e}")).with_hint(
                "the Cloudflare API is unreachable from this pod (egress, proxy, DNS); retry later",
            ),
            e => ToolError::upstream(format!("Cloudflare {what}"), e),
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
                name: "cloudflare",
                reason: other.to_string(),
            },
        }
    }
}

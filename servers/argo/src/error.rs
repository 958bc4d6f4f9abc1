//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;
use mcp_common::tool::{HttpApiText, http_status_error};

/// Everything that can go wrong between a tool and Argo CD.
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

    #[error("cannot reach Argo CD at {url}: {}", chain(source))]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// Argo CD answered with an error status; `message` is its own error text (its JSON error
    /// body's `message`, or the start of whatever a proxy sent).
    #[error("Argo CD answered HTTP {status}: {message}")]
    Api {
        status: u16,
        message: String,
        /// `Retry-After` of a 429, in seconds.
        retry_after: Option<u64>,
    },

    #[error("the answer to {path} is larger than {limit} bytes")]
    TooLarge { path: String, limit: usize },

    #[error("cannot parse Argo CD's answer to {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use mcp_common::error::error_chain as chain;

/// How Argo CD's error statuses read to an agent.
const TEXT: HttpApiText = HttpApiText {
    api: "Argo CD",
    credential: "the token",
    unauthorized_hint: "the deployment's ARGOCD_AUTH_TOKEN is wrong, expired or its account is disabled; ask an operator to issue a new token (argocd account generate-token)",
    permission_kind: "the Argo CD RBAC permission",
    forbidden_hint: "this deployment's Argo CD account lacks `{permission}` (policies/argocd/argocd-rbac-cm.yaml), or the application does not exist: Argo CD answers 403 for applications an account may not see; check the name with argo_list_applications, use a backend with that access or ask an operator to grant it",
    not_found_hint: "check the application name (and app_namespace for applications outside argocd) with argo_list_applications",
    retry_default: "a few seconds",
    retry_note: "",
    server_error_hint: "the Argo CD API server or a proxy in front of it is in trouble; retry in a moment",
    rejected_hint: "the text above is Argo CD's own error; fix the arguments (another sync may be running, or the revision or history id may not exist)",
};

impl Error {
    /// The tool error for a failed call: `what` names the call (e.g. "get application
    /// guestbook"), `permission` the Argo CD RBAC permission it needs
    /// (`applications, get, <project>/<app>`).
    pub fn into_tool_error(self, what: &str, permission: &str) -> ToolError {
        match self {
            Error::Api {
                status,
                message,
                retry_after,
            } => http_status_error(&TEXT, what, permission, status, &message, retry_after),
            e @ Error::Connect { .. } => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("Argo CD is down or unreachable from this pod; retry later or check another environment's backend"),
            e @ Error::TooLarge { .. } => ToolError::new(format!("{what} failed: {e}"))
                .with_hint("narrow the request (filters, a project, a label selector)"),
            e => ToolError::upstream(format!("Argo CD {what}"), e),
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
                name: "argocd",
                reason: other.to_string(),
            },
        }
    }
}

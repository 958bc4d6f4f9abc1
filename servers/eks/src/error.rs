//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;

/// What a request to the API server tried to do: used to say which permission was missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub verb: &'static str,
    /// API group, `""` for the core group.
    pub group: String,
    /// Plural resource, with `/subresource` when there is one.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Op {
    pub fn new(verb: &'static str, group: &str, resource: &str) -> Self {
        Self {
            verb,
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: None,
            name: None,
        }
    }

    pub fn ns(mut self, namespace: Option<&str>) -> Self {
        self.namespace = namespace.map(str::to_owned);
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    fn place(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "cluster-wide".to_owned(),
        }
    }

    fn group_label(&self) -> &str {
        if self.group.is_empty() {
            "core"
        } else {
            &self.group
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in {ns}"),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong between a tool and the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },

    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),

    #[error("{op}: {}", describe(source))]
    Kube {
        op: Op,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },

    #[error("EKS: {0}")]
    Eks(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its causes: kube's own message alone often hides what went wrong.
fn describe(e: &kube::Error) -> String {
    if let kube::Error::Api(s) = e {
        return format!("Kubernetes answered {} {}: {}", s.code, s.reason, s.message);
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
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

/// Extension to attach an [`Op`] to a kube result.
pub trait KubeResultExt<T> {
    fn op(self, op: Op) -> Result<T>;
}

impl<T> KubeResultExt<T> for std::result::Result<T, kube::Error> {
    fn op(self, op: Op) -> Result<T> {
        self.map_err(|source| Error::Kube {
            op,
            source: Box::new(source),
        })
    }
}

impl Error {
    /// The HTTP status the API server answered, if it answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Kube { source, .. } => match source.as_ref() {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn into_tool_error(self) -> ToolError {
        let api_status = match &self {
            Error::Kube { op, source } => match source.as_ref() {
                kube::Error::Api(status) => Some((op.clone(), status.clone())),
                _ => None,
            },
            _ => None,
        };
        if let Some((op, status)) = api_status {
            {
                let k8s = format!(
                    "Kubernetes answered {} {}: {}",
                    status.code, status.reason, status.message
                );
                match status.code {
                    403 => ToolError::new(format!(
                        "permission denied: {} {} {}; the ServiceAccount's ClusterRole lacks `{}` on `{}` (apiGroup {}) ({k8s})",
                        op.verb,
                        op.resource,
                        op.place(),
                        op.verb,
                        op.resource,
                        op.group_label(),
                    ))
                    .with_hint(format!(
                        "Kubernetes refused `{}`; this deployment's RBAC does not allow it. Use a backend with that access (eks-rw runs with mcp-editor) or ask an operator to grant `{}` on `{}`",
                        op.verb, op.verb, op.resource
                    )),
                    401 => ToolError::new(format!("Kubernetes refused this pod's credentials for {op} ({k8s})"))
                        .with_hint("the ServiceAccount token or EKS token is invalid or expired; an operator must fix the deployment"),
                    404 => {
                        let what = match &op.name {
                            Some(n) => format!("{} `{n}`", op.resource),
                            None => op.resource.clone(),
                        };
                        ToolError::new(format!("not found: {what} {} ({k8s})", op.place()))
                            .with_hint("check the name and namespace (eks_list_namespaces, eks_get_pods, eks_list_resources)")
                    }
                    400 | 422 => ToolError::new(format!("Kubernetes rejected {op}: {}", status.message))
                        .with_hint("fix the arguments; the text above is the API server's own"),
                    409 => ToolError::new(format!("conflict on {op}: {}", status.message))
                        .with_hint("the object changed meanwhile; read it again and retry"),
                    429 | 500..=599 => ToolError::new(format!("{op} failed: {k8s}"))
                        .with_hint("the API server is overloaded or failing; retry in a moment"),
                    _ => ToolError::upstream(op, k8s),
                }
            }
        } else {
            self.into_other_tool_error()
        }
    }

    fn into_other_tool_error(self) -> ToolError {
        match self {
            e @ Error::Kube { .. } => ToolError::new(format!("{e}")).with_hint(
                "the Kubernetes API server is unreachable from this pod or answered something unexpected; retry later or use another environment's backend",
            ),
            Error::InvalidArgument { name, reason } => ToolError::invalid_argument(name, reason),
            e => ToolError::new(e.to_string()),
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
                name: "kubernetes",
                reason: other.to_string(),
            },
        }
    }
}

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        e.into_tool_error()
    }
}

//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;
use mcp_common::aws_error::AwsFailure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// AWS answered with an error, or did not answer.
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// The request cannot be sent as given.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// The settings are wrong (no region, bad role ARN).
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        match e {
            Error::Aws(f) => f.into_tool_error(),
            Error::InvalidArgument { name, reason } => ToolError::invalid_argument(name, reason),
            Error::Config(m) => ToolError::new(format!("configuration: {m}")),
        }
    }
}

/// An SDK error of `api` as this crate's error; `action` is the IAM action it needs. (The
/// CloudWatch and Logs crates share the SDK's error types.)
pub(crate) fn sdk<E>(
    api: &'static str,
    action: &'static str,
) -> impl FnOnce(
    aws_sdk_cloudwatch::error::SdkError<E, aws_sdk_cloudwatch::config::http::HttpResponse>,
) -> Error
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| Error::Aws(AwsFailure::from_sdk(api, action, &e))
}

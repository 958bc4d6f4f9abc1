//! What the AWS backends (`mcp-aws`, `mcp-cloudwatch`, `mcp-costs`) share beyond
//! [`crate::aws::loader`]:
//!
//! - [`AwsFailure`]: an SDK error read the way an operator reads it (which API, which IAM action,
//!   denied / throttled / rejected / unreachable), turned into a [`ToolError`] that names the
//!   API and the missing permission. Emulators (moto with IAM enforcement) answer denials with
//!   an XML 403 body the JSON protocols cannot parse: the code and message are read from it.
//! - [`AwsArgs`]: `--region`, `--endpoint-url`, `--role-arn` (STS AssumeRole into another
//!   account, on top of the usual credential chain, IRSA included).

use std::fmt;

use aws_config::{ConfigLoader, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ToolError;

/// How an AWS call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The credentials are not allowed to call the API (IAM), or are not valid at all.
    AccessDenied,
    /// AWS throttled the caller, and the SDK's retries did not get through.
    Throttled,
    /// AWS rejected the request as given (unknown id, bad filter, bad parameter).
    Rejected,
    /// No answer: endpoint unreachable, timeout, or the request could not be built (no
    /// credentials, no region).
    Unreachable,
    /// Anything else (5xx, unparseable answer).
    Other,
}

/// One failed AWS call, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    /// API operation, e.g. `TerminateInstances`.
    pub api: String,
    /// IAM action the call needs, e.g. `ec2:TerminateInstances`.
    pub action: String,
    pub kind: FailureKind,
    /// AWS error code (`UnauthorizedOperation`, `InvalidInstanceID.NotFound`, ...).
    pub code: Option<String>,
    pub message: String,
    /// HTTP status of the answer, when there was one.
    pub status: Option<u16>,
}

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "NotAuthorized",
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
];

const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "LimitExceededException",
    "SlowDown",
];

/// Picks `<Tag>value</Tag>` out of an XML error body.
fn xml_tag(body: &str, tag: &str) -> Option<String> {
    body.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|r| r.split(&format!("</{tag}>")).next())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Picks `"field": "value"` out of a JSON error body (`__type`, `message`, `Message`).
fn json_field(body: &str, fields: &[&str]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    fields.iter().find_map(|f| {
        v.get(*f)
            .and_then(|s| s.as_str())
            .map(|s| s.rsplit('#').next().unwrap_or(s).to_owned())
    })
}

impl AwsFailure {
    /// Reads an SDK error of `api` (which needs IAM `action`).
    pub fn from_sdk<E>(api: &str, action: &str, e: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let body = e
            .raw_response()
            .and_then(|r| r.body().bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let mut code = e.code().map(str::to_owned);
        let mut message = e.message().map(str::to_owned);
        if code.is_none() && !body.is_empty() {
            code = xml_tag(&body, "Code").or_else(|| json_field(&body, &["__type", "code"]));
        }
        if message.is_none() && !body.is_empty() {
            message =
                xml_tag(&body, "Message").or_else(|| json_field(&body, &["message", "Message"]));
        }
        let kind = match e {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ConstructionFailure(_) => FailureKind::Unreachable,
            _ => match (code.as_deref(), status) {
                (Some(c), _) if DENIED_CODES.contains(&c) => FailureKind::AccessDenied,
                (Some(c), _) if THROTTLE_CODES.contains(&c) => FailureKind::Throttled,
                (_, Some(403)) => FailureKind::AccessDenied,
                (_, Some(429)) => FailureKind::Throttled,
                (_, Some(s)) if (400..500).contains(&s) => FailureKind::Rejected,
                (Some(_), None) => FailureKind::Rejected,
                _ => FailureKind::Other,
            },
        };
        let message = match (kind, message) {
            (FailureKind::Unreachable, _) | (_, None) => DisplayErrorContext(e).to_string(),
            (_, Some(m)) => m,
        };
        Self {
            api: api.to_owned(),
            action: action.to_owned(),
            kind,
            code,
            message,
            status,
        }
    }

    /// The failure as an `isError: true` tool result an agent can act on.
    pub fn into_tool_error(self) -> ToolError {
        let code = self.code.as_deref().unwrap_or("no error code");
        match self.kind {
            FailureKind::AccessDenied => ToolError::permission_denied(
                format!(
                    "AWS refused {} ({code}): {}",
                    self.api, self.message
                ),
                format!("the IAM permission {}", self.action),
            ),
            FailureKind::Throttled => ToolError::upstream(
                format!("{} ({})", self.api, self.action),
                format!("throttled by AWS ({code}): {}", self.message),
            )
            .with_hint("AWS rate-limited this account and the retries did not get through; wait a few seconds, then retry with a narrower request"),
            FailureKind::Rejected => ToolError::upstream(
                format!("{} ({})", self.api, self.action),
                format!("AWS rejected the request ({code}): {}", self.message),
            )
            .with_hint("check the ids, filters and parameters of the call"),
            FailureKind::Unreachable => ToolError::upstream(
                format!("{} ({})", self.api, self.action),
                &self.message,
            )
            .with_hint("AWS did not answer or the request could not be signed; check the region, AWS_ENDPOINT_URL, the network and the pod's credentials (IRSA / --role-arn)"),
            FailureKind::Other => ToolError::upstream(
                format!("{} ({})", self.api, self.action),
                format!("{code}: {}", self.message),
            ),
        }
    }
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{} ({}): {c}: {}", self.api, self.action, self.message),
            None => write!(f, "{} ({}): {}", self.api, self.action, self.message),
        }
    }
}

impl std::error::Error for AwsFailure {}

/// Shorthand: an SDK error of `api` (IAM `action`) as a tool error.
pub fn tool_error<E>(api: &str, action: &str, e: &SdkError<E, HttpResponse>) -> ToolError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    AwsFailure::from_sdk(api, action, e).into_tool_error()
}

/// Where and as whom an AWS backend calls AWS (`#[command(flatten)]` into the backend's `Args`).
/// Credentials come from the usual chain (environment, profile, IRSA web identity, container
/// and instance metadata); `--role-arn` assumes a role on top of them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region, e.g. `eu-west-1` (default: `AWS_REGION`, then the profile).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,

    /// Endpoint override for every AWS service (emulators, VPC endpoints).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Role to assume (STS AssumeRole) with the pod's credentials, e.g. a read-only role in
    /// another account: `arn:aws:iam::123456789012:role/mcp-readonly`.
    #[arg(long, env = "MCP_AWS_ROLE_ARN")]
    pub role_arn: Option<String>,

    /// Session name of the assumed role (shows in CloudTrail). Default: `mcp-<backend>-<env>`.
    #[arg(long, env = "MCP_AWS_ROLE_SESSION_NAME")]
    pub role_session_name: Option<String>,

    /// External id the role's trust policy requires, if any.
    #[arg(long, env = "MCP_AWS_EXTERNAL_ID", hide_env_values = true)]
    pub external_id: Option<String>,
}

impl AwsArgs {
    /// The SDK configuration: [`crate::aws::loader`] plus these settings.
    pub async fn load(&self, default_session_name: &str) -> Result<SdkConfig, String> {
        self.load_with(crate::aws::loader(), default_session_name)
            .await
    }

    /// As [`Self::load`], on top of a caller-supplied loader (tests pass static credentials).
    pub async fn load_with(
        &self,
        mut loader: ConfigLoader,
        default_session_name: &str,
    ) -> Result<SdkConfig, String> {
        if let Some(region) = self.region.as_deref().filter(|r| !r.is_empty()) {
            loader = loader.region(Region::new(region.to_owned()));
        }
        if let Some(url) = self.endpoint_url.as_deref().filter(|u| !u.is_empty()) {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        if base.region().is_none() {
            return Err("no AWS region: set --region or AWS_REGION".into());
        }
        let Some(role_arn) = self.role_arn.as_deref().filter(|r| !r.is_empty()) else {
            return Ok(base);
        };
        if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
            return Err(format!(
                "--role-arn `{role_arn}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            ));
        }
        let session = self
            .role_session_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default_session_name.to_owned());
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(session)
            .configure(&base);
        if let Some(id) = self.external_id.as_deref().filter(|s| !s.is_empty()) {
            builder = builder.external_id(id);
        }
        let provider = builder.build().await;
        tracing::info!(role_arn, "credentials: assuming role");
        Ok(base
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_json_bodies() {
        let xml = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: x is not authorized to perform: ec2:TerminateInstances</Message></Error></ErrorResponse>";
        assert_eq!(xml_tag(xml, "Code").as_deref(), Some("AccessDenied"));
        assert!(
            xml_tag(xml, "Message")
                .unwrap()
                .contains("ec2:TerminateInstances")
        );
        let json = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"no"}"#;
        assert_eq!(
            json_field(json, &["__type"]).as_deref(),
            Some("AccessDeniedException")
        );
    }

    #[test]
    fn denial_names_api_and_action() {
        let f = AwsFailure {
            api: "TerminateInstances".into(),
            action: "ec2:TerminateInstances".into(),
            kind: FailureKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
            status: Some(403),
        };
        let t = f.into_tool_error().text();
        assert!(
            t.contains("permission denied: AWS refused TerminateInstances (AccessDenied)"),
            "{t}"
        );
        assert!(
            t.contains("the IAM permission ec2:TerminateInstances"),
            "{t}"
        );
    }
}

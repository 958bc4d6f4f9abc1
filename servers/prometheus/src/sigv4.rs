//! AWS SigV4 signing for Amazon Managed Prometheus: credentials from the pod's environment (IRSA
//! web identity, EKS Pod Identity, static keys, instance profile) through aws-config, signed with
//! aws-sigv4. aws-config gets an HTTP client on rustls + ring (for STS), so aws-lc-rs is not
//! built.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Mutex;
use url::Url;

use crate::error::{Error, Result};

/// Credentials are refreshed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Signs requests for one region and service with refreshed credentials.
pub struct SigV4Signer {
    region: String,
    service: String,
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for SigV4Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigV4Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl SigV4Signer {
    pub fn new(
        region: impl Into<String>,
        service: impl Into<String>,
        provider: SharedCredentialsProvider,
    ) -> Self {
        Self {
            region: region.into(),
            service: service.into(),
            provider,
            cached: Mutex::new(None),
        }
    }

    /// The default AWS credential chain and region of the environment (`AWS_REGION`,
    /// `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` from IRSA, ...).
    pub async fn from_environment(region: Option<String>, service: String) -> Result<Self> {
        let mut loader = mcp_common::aws::loader();
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::setting(
                "--prometheus-sigv4-region",
                "no AWS region: set AWS_REGION or --prometheus-sigv4-region",
            )
        })?;
        let provider = config.credentials_provider().ok_or_else(|| {
            Error::setting("--prometheus-sigv4", "no AWS credential provider available")
        })?;
        Ok(Self::new(region, service, provider))
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn credentials(&self) -> Result<Credentials> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expiry()
                .is_none_or(|exp| exp > SystemTime::now() + REFRESH_BEFORE_EXPIRY);
            if fresh {
                return Ok(c.clone());
            }
        }
        let creds = self.provider.provide_credentials().await.map_err(|e| {
            Error::SigV4(format!(
                "no AWS credentials: {} (IRSA: check the ServiceAccount's eks.amazonaws.com/role-arn annotation and the role's trust policy)",
                crate::error::chain(&e)
            ))
        })?;
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// The headers that sign `method url` with `headers` and `body` now.
    pub async fn sign(
        &self,
        method: &str,
        url: &Url,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let creds = self.credentials().await?;
        sign_request(
            &creds,
            &self.region,
            &self.service,
            SystemTime::now(),
            method,
            url.as_str(),
            headers,
            body,
        )
    }
}

/// Signs one request (pure: the time is given), returning the headers to add: `authorization`,
/// `x-amz-date` and, for temporary credentials, `x-amz-security-token`.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Error::SigV4(e.to_string()))?
        .into();
    let header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        method,
        url,
        header_pairs.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| Error::SigV4(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| Error::SigV4(e.to_string()))?
        .into_parts();
    let (signed, _params) = instructions.into_parts();
    signed
        .iter()
        .map(|h| {
            let name = HeaderName::try_from(h.name()).map_err(|e| Error::SigV4(e.to_string()))?;
            let mut value =
                HeaderValue::try_from(h.value()).map_err(|e| Error::SigV4(e.to_string()))?;
            value.set_sensitive(h.sensitive() || name == http::header::AUTHORIZATION);
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        let t =
            time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
                .unwrap();
        SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp() as u64)
    }

    fn example_creds(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_owned),
            None,
            "test",
        )
    }

    fn header<'a>(signed: &'a [(HeaderName, HeaderValue)], name: &str) -> &'a str {
        signed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} in {signed:?}"))
    }

    /// AWS SigV4 test suite, `get-vanilla-query-order-key-case` (aws-sigv4's
    /// aws-signing-test-suite/v4): query parameters in any order sign the same.
    #[test]
    fn aws_test_vector_get_vanilla_query_order() {
        let signed = sign_request(
            &example_creds(None),
            "us-east-1",
            "service",
            at("2015-08-30T12:36:00Z"),
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert_eq!(
            header(&signed, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
        assert_eq!(header(&signed, "x-amz-date"), "20150830T123600Z");
        assert!(signed.iter().all(|(n, _)| n != "x-amz-security-token"));
    }

    /// AWS SigV4 test suite, `get-vanilla`: the smallest request.
    #[test]
    fn aws_test_vector_get_vanilla() {
        let signed = sign_request(
            &example_creds(None),
            "us-east-1",
            "service",
            at("2015-08-30T12:36:00Z"),
            "GET",
            "https://example.amazonaws.com/",
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert!(
            header(&signed, "authorization").ends_with(
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            ),
            "{signed:?}"
        );
    }

    #[test]
    fn temporary_credentials_add_the_session_token() {
        let signed = sign_request(
            &example_creds(Some("session-token-from-sts")),
            "eu-west-1",
            "aps",
            at("2026-01-02T15:04:05Z"),
            "GET",
            "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/query?query=up",
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert_eq!(
            header(&signed, "x-amz-security-token"),
            "session-token-from-sts"
        );
        let auth = header(&signed, "authorization");
        assert!(
            auth.contains("Credential=AKIDEXAMPLE/20260102/eu-west-1/aps/aws4_request"),
            "{auth}"
        );
        assert!(auth.contains("x-amz-security-token"), "{auth}");
    }
}

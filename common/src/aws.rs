//! AWS SDK configuration shared by every crate that talks to AWS.
//!
//! The SDK's `default-https-client` builds aws-lc-rs next to the ring provider the rest of the
//! process uses (two providers in one binary, a longer build, and rustls' "no default
//! provider" trap). Instead every AWS client here gets an HTTP client on rustls + ring.

use std::time::Duration;

/// The usual AWS configuration chain (environment, profile, IRSA web identity, container and
/// instance credentials; `AWS_ENDPOINT_URL` for emulators), with an HTTPS client on rustls +
/// ring, a 3 s connect timeout, a 10 s per-attempt timeout and at most 2 attempts, so an
/// unreachable endpoint fails in seconds rather than minutes.
pub fn loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
}

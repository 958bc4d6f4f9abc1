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

/// Checks a server's declared IAM actions per tool (its `iam.rs` `TOOL_ACTIONS`) against what
/// `policies/permissions.json` records for `family` (what `mcp-gateway can-i` evaluates without
/// depending on the server crates). Each AWS server's unit tests call this so the two cannot
/// drift; the error names the difference.
pub fn check_declared_actions(
    permissions_json: &str,
    family: &str,
    declared: &[(&str, &[&str])],
) -> Result<(), String> {
    use std::collections::BTreeMap;
    let v: serde_json::Value =
        serde_json::from_str(permissions_json).map_err(|e| format!("permissions.json: {e}"))?;
    let recorded: BTreeMap<String, Vec<String>> =
        serde_json::from_value(v[family]["tools"].clone())
            .map_err(|e| format!("permissions.json `{family}.tools`: {e}"))?;
    let mut mine: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (tool, actions) in declared {
        let prev = mine.insert(
            (*tool).to_owned(),
            actions.iter().map(|a| (*a).to_owned()).collect(),
        );
        if prev.is_some() {
            return Err(format!("{tool} is declared twice"));
        }
    }
    if mine == recorded {
        return Ok(());
    }
    let mut diff = Vec::new();
    for (t, a) in &mine {
        match recorded.get(t) {
            None => diff.push(format!("{t}: declared {a:?}, not in permissions.json")),
            Some(r) if r != a => diff.push(format!("{t}: declared {a:?}, permissions.json {r:?}")),
            Some(_) => {}
        }
    }
    for t in recorded.keys().filter(|t| !mine.contains_key(*t)) {
        diff.push(format!("{t}: in permissions.json, not declared"));
    }
    Err(format!("{family}: {}", diff.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::check_declared_actions;

    #[test]
    fn declared_actions_are_compared_both_ways() {
        let json = r#"{"x": {"tools": {"x_a": ["svc:A"], "x_b": ["svc:B", "svc:C"]}}}"#;
        assert_eq!(
            check_declared_actions(
                json,
                "x",
                &[("x_a", &["svc:A"]), ("x_b", &["svc:B", "svc:C"])]
            ),
            Ok(())
        );
        let e = check_declared_actions(json, "x", &[("x_a", &["svc:Z"])]).unwrap_err();
        assert!(
            e.contains("x_a") && e.contains("x_b: in permissions.json"),
            "{e}"
        );
        let e = check_declared_actions(json, "x", &[("x_a", &["svc:A"]), ("x_a", &["svc:A"])])
            .unwrap_err();
        assert!(e.contains("twice"), "{e}");
        assert!(check_declared_actions("{", "x", &[]).is_err());
        assert!(check_declared_actions(json, "missing", &[]).is_err());
    }
}

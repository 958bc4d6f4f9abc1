//! Upstream options against a local stand-in that records what it receives: bearer token (read
//! from its file on every request), basic auth, extra headers, option conflicts, and SigV4
//! signatures checked by an independent implementation of the signing spec.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use axum::http::{HeaderMap, StatusCode, Uri};
use clap::Parser;
use hmac::{Hmac, KeyInit, Mac};
use mcp_prometheus::sigv4::SigV4Signer;
use mcp_prometheus::upstream::{Upstream, UpstreamArgs};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    upstream: UpstreamArgs,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: Uri,
    headers: HeaderMap,
}

const SCALAR: &str =
    r#"{"status":"success","data":{"resultType":"scalar","result":[1767366245,"1"]}}"#;

/// A stand-in Prometheus: records every request; with `secret`, answers 403 (as AWS does) unless
/// the SigV4 signature verifies.
async fn stand_in(secret: Option<&'static str>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: Uri, headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    uri: uri.clone(),
                    headers: headers.clone(),
                });
                if let Some(secret) = secret
                    && let Err(why) = verify_sigv4(method.as_str(), &uri, &headers, secret)
                {
                    return (
                        StatusCode::FORBIDDEN,
                        [("content-type", "application/json")],
                        format!(r#"{{"message":"{why}"}}"#),
                    );
                }
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    SCALAR.to_owned(),
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// SigV4 verification written from the spec (canonical request -> string to sign -> derived
/// key), independent of aws-sigv4.
fn verify_sigv4(method: &str, uri: &Uri, headers: &HeaderMap, secret: &str) -> Result<(), String> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("missing {n}"))
    };
    let auth = header("authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut credential = "";
    let mut signed_headers = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope_parts: Vec<&str> = credential.splitn(2, '/').collect();
    let scope = scope_parts.get(1).ok_or("no scope")?;
    let s: Vec<&str> = scope.split('/').collect();
    let [date, region, service, "aws4_request"] = s[..] else {
        return Err(format!("bad scope {scope}"));
    };
    let amz_date = header("x-amz-date")?;
    if !amz_date.starts_with(date) {
        return Err("date mismatch".into());
    }
    let mut pairs: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    pairs.sort();
    let canonical_query = pairs.join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        canonical_headers.push_str(&format!("{name}:{}\n", header(name)?.trim()));
    }
    let payload = hex::encode(Sha256::digest(b""));
    let creq = format!(
        "{method}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload}",
        uri.path()
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let expected = hex::encode(hmac(&key, &sts));
    if expected == signature {
        Ok(())
    } else {
        Err("The request signature we calculated does not match the signature you provided".into())
    }
}

fn parse(args: &[&str]) -> UpstreamArgs {
    let mut argv = vec!["x"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).expect("args").upstream
}

#[tokio::test]
async fn bearer_token_file_is_read_on_every_request_with_extra_headers() {
    let (url, seen) = stand_in(None).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();
    let up = Upstream::from_args(&parse(&[
        "--prometheus-url",
        &url,
        "--prometheus-bearer-token-file",
        token.to_str().unwrap(),
        "--prometheus-header",
        "X-Scope-OrgID: team-a",
    ]))
    .await
    .unwrap();
    up.check().await.unwrap();
    std::fs::write(&token, "tok-2").unwrap();
    up.check().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["authorization"], "Bearer tok-1");
    assert_eq!(seen[1].headers["authorization"], "Bearer tok-2");
    assert_eq!(seen[0].headers["x-scope-orgid"], "team-a");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].uri.path(), "/api/v1/query");
    assert_eq!(seen[0].uri.query(), Some("query=1"));
}

#[tokio::test]
async fn basic_auth_and_a_base_path() {
    let (url, seen) = stand_in(None).await;
    let up = Upstream::from_args(&parse(&[
        "--prometheus-url",
        &format!("{url}/prometheus"),
        "--prometheus-basic-auth-user",
        "agent",
        "--prometheus-basic-auth-password",
        "s3cret",
    ]))
    .await
    .unwrap();
    up.check().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    // base64("agent:s3cret")
    assert_eq!(seen[0].headers["authorization"], "Basic YWdlbnQ6czNjcmV0");
    assert_eq!(seen[0].uri.path(), "/prometheus/api/v1/query");
}

#[tokio::test]
async fn conflicting_or_broken_options_are_refused() {
    let both = Upstream::from_args(&parse(&[
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--prometheus-bearer-token",
        "t",
        "--prometheus-basic-auth-user",
        "u",
        "--prometheus-basic-auth-password",
        "p",
    ]))
    .await;
    assert!(both.unwrap_err().to_string().contains("choose one"));
    let no_password = Upstream::from_args(&parse(&[
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--prometheus-basic-auth-user",
        "u",
    ]))
    .await;
    assert!(no_password.is_err());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let bad_ca = Upstream::from_args(&parse(&[
        "--prometheus-url",
        "https://127.0.0.1:9",
        "--prometheus-ca-file",
        ca.to_str().unwrap(),
    ]))
    .await;
    assert!(
        bad_ca
            .unwrap_err()
            .to_string()
            .contains("--prometheus-ca-file")
    );
}

fn signer(secret: &str) -> SigV4Signer {
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        secret,
        Some("token-from-sts".into()),
        None,
        "test",
    );
    SigV4Signer::new("eu-west-1", "aps", SharedCredentialsProvider::new(creds))
}

#[tokio::test]
async fn sigv4_signatures_verify_independently() {
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let (url, seen) = stand_in(Some(SECRET)).await;
    let base = url::Url::parse(&format!("{url}/workspaces/ws-0123/")).unwrap();
    let up = Upstream::with_sigv4(base.clone(), signer(SECRET), Duration::from_secs(5)).unwrap();
    up.check()
        .await
        .expect("a correctly signed request is accepted");
    // A query with characters that need encoding signs too.
    let r: mcp_prometheus::upstream::Answer<serde_json::Value> = up
        .get(
            "api/v1/query",
            &[
                ("query", "sum by (pod) (rate(x{a=~\"b.*\"}[5m])) > 0"),
                ("time", "1767366245.000"),
            ],
        )
        .await
        .expect("signed query");
    assert_eq!(r.data["resultType"], "scalar");
    {
        let seen = seen.lock().unwrap();
        let h = &seen[1].headers;
        assert_eq!(h["x-amz-security-token"], "token-from-sts");
        let auth = h["authorization"].to_str().unwrap();
        assert!(auth.contains("/eu-west-1/aps/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
    }

    // Wrong credentials: AWS's 403 becomes a permission error naming the IAM action.
    let wrong = Upstream::with_sigv4(base, signer("wrong-secret"), Duration::from_secs(5)).unwrap();
    let err = wrong
        .get::<serde_json::Value>("api/v1/query", &[("query", "up")])
        .await
        .unwrap_err();
    let text = err
        .into_tool_error("instant query", "aps:QueryMetrics")
        .text();
    assert!(text.contains("HTTP 403"), "{text}");
    assert!(text.contains("signature"), "{text}");
    assert!(text.contains("aps:QueryMetrics"), "{text}");
}

#[tokio::test]
async fn sigv4_from_the_environment_needs_no_network_to_start() {
    // Credentials are resolved on the first request, not at start-up (IRSA tokens may appear
    // a moment after the container starts).
    let s = SigV4Signer::from_environment(Some("eu-west-1".into()), "aps".into())
        .await
        .expect("the default chain builds");
    assert_eq!(s.region(), "eu-west-1");
}

//! What the costs suites share: an in-process mcp-costs, a loopback stub of Cost Explorer's
//! JSON 1.1 protocol (and of STS AssumeRole) that records what the backend sent, dates relative
//! to today, and seeding moto's Cost Explorer results.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use clap::Parser;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Serves mcp-costs in-process against `endpoint` with `creds` (region us-east-1, nothing
/// from the developer's environment); stops when `ct` is cancelled.
pub(crate) async fn backend(
    endpoint: &str,
    creds: (&str, &str),
    extra: &[&str],
    ct: &CancellationToken,
) -> SocketAddr {
    mcp_common::telemetry::install_crypto_provider();
    let mut argv = vec![
        "mcp-costs",
        "--allowed-host",
        "*",
        "--env",
        "test",
        "--region",
        common::REGION,
    ];
    argv.extend_from_slice(extra);
    let args = mcp_costs::Args::parse_from(argv);
    let (server, handler) = mcp_costs::build_with(args, common::loader(endpoint, creds))
        .await
        .expect("build");
    common::serve_router(server.app(handler), ct.clone()).await
}

/// `/metrics` of a backend.
pub(crate) async fn metrics(addr: SocketAddr) -> String {
    mcp_common::telemetry::install_crypto_provider();
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A day relative to today (UTC), as `YYYY-MM-DD`.
pub(crate) fn day(offset_days: i64) -> String {
    mcp_costs::dates::day(mcp_costs::dates::today() + time::Duration::days(offset_days))
}

/// The first day of the month `n` months from this one.
pub(crate) fn month(n: i32) -> String {
    mcp_costs::dates::day(mcp_costs::dates::month_start(mcp_costs::dates::today(), n).unwrap())
}

/// One request the stub received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `GetCostAndUsage`, ..., or `sts:AssumeRole`.
    pub(crate) op: String,
    /// The JSON body (for STS: the form fields).
    pub(crate) body: Value,
    pub(crate) headers: BTreeMap<String, String>,
}

type Respond = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

/// A loopback Cost Explorer: routes on `X-Amz-Target: AWSInsightsIndexService.<Op>`, answers
/// what `respond(op, body)` says (status, JSON), and records every request. It also answers
/// STS AssumeRole (Query protocol) with fixed temporary credentials, so `--role-arn` can be
/// followed end to end.
#[derive(Clone)]
pub(crate) struct Stub {
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Temporary credentials the stub's AssumeRole hands out.
pub(crate) const ROLE_KEY: &str = "ASIASTUBROLEKEY00001";
pub(crate) const ROLE_TOKEN: &str = "stub-session-token";

impl Stub {
    pub(crate) async fn start(
        ct: &CancellationToken,
        respond: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Stub {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let respond: Arc<Respond> = Arc::new(respond);
        let log = seen.clone();
        let router = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let log = log.clone();
                let respond = respond.clone();
                async move {
                    let headers: BTreeMap<String, String> = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let target = headers.get("x-amz-target").cloned().unwrap_or_default();
                    if let Some(op) = target.strip_prefix("AWSInsightsIndexService.") {
                        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        log.lock().unwrap().push(Seen {
                            op: op.to_owned(),
                            body: body.clone(),
                            headers,
                        });
                        let (status, answer) = respond(op, &body);
                        return (
                            axum::http::StatusCode::from_u16(status).unwrap(),
                            [("content-type", "application/x-amz-json-1.1")],
                            answer.to_string(),
                        );
                    }
                    // STS, Query protocol (form fields).
                    let form: serde_json::Map<String, Value> = text
                        .split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), json!(urldecode(v))))
                        .collect();
                    let action = form.get("Action").and_then(Value::as_str).unwrap_or("?");
                    let op = format!("sts:{action}");
                    let session = form
                        .get("RoleSessionName")
                        .and_then(Value::as_str)
                        .unwrap_or("session")
                        .to_owned();
                    log.lock().unwrap().push(Seen {
                        op: op.clone(),
                        body: Value::Object(form),
                        headers,
                    });
                    let xml = match op.as_str() {
                        "sts:AssumeRole" => format!(
                            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>{ROLE_KEY}</AccessKeyId><SecretAccessKey>stub-secret</SecretAccessKey><SessionToken>{ROLE_TOKEN}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROASTUB:{session}</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/mcp-costs-readonly/{session}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>stub-1</RequestId></ResponseMetadata></AssumeRoleResponse>"#
                        ),
                        _ => r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/stub</Arn><UserId>AIDASTUB</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stub-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#.to_owned(),
                    };
                    (
                        axum::http::StatusCode::OK,
                        [("content-type", "text/xml")],
                        xml,
                    )
                }
            },
        );
        let addr = common::serve_router(router, ct.clone()).await;
        Stub { addr, seen }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every Cost Explorer request of `op` so far, oldest first.
    pub(crate) fn requests(&self, op: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.op == op)
            .cloned()
            .collect()
    }

    /// Cost Explorer requests so far (STS not counted).
    pub(crate) fn ce_count(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !s.op.starts_with("sts:"))
            .count()
    }
}

fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Cost Explorer error answer as the JSON 1.1 protocol sends it.
pub(crate) fn ce_error(code: &str, message: &str) -> (u16, Value) {
    (
        400,
        json!({"__type": format!("com.amazonaws.awsinsightsindexservice#{code}"), "Message": message}),
    )
}

/// One GetCostAndUsage period grouped by SERVICE, realistic in shape (AWS API reference).
pub(crate) fn period_by_service(
    start: &str,
    end: &str,
    groups: &[(&str, &str)],
    estimated: bool,
) -> Value {
    json!({
        "TimePeriod": {"Start": start, "End": end},
        "Total": {},
        "Groups": groups.iter().map(|(service, amount)| json!({
            "Keys": [service],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}
        })).collect::<Vec<_>>(),
        "Estimated": estimated
    })
}

/// Serializes moto's Cost Explorer tests: moto hands its seeded results out in order to each
/// new request body, so two tests seeding at once would take each other's.
pub(crate) static MOTO_CE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Queues GetCostAndUsage answers in moto (`/moto-api/static/ce/cost-and-usage-results`): each
/// new distinct request takes the next one; a repeated request gets the same answer again.
pub(crate) async fn seed_moto(endpoint: &str, results: Vec<Value>) {
    mcp_common::telemetry::install_crypto_provider();
    let r = reqwest::Client::new()
        .post(format!(
            "{endpoint}/moto-api/static/ce/cost-and-usage-results"
        ))
        .header("content-type", "application/json")
        .body(json!({ "results": results }).to_string())
        .send()
        .await
        .expect("seed moto");
    assert_eq!(
        r.status().as_u16(),
        201,
        "seeding moto's Cost Explorer results"
    );
}

pub(crate) fn names(v: &[rmcp::model::Tool]) -> Vec<String> {
    let mut n: Vec<String> = v.iter().map(|t| t.name.to_string()).collect();
    n.sort();
    n
}

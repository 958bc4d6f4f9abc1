//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, Node 22) against the
//! conformance "everything" server, once directly and once through the gateway: the gateway must
//! not change any scenario's result.
//!
//! - 2025-06-18 / 2025-11-25: conformance 0.1.16, `--suite all`;
//! - 2026-07-28: conformance 0.2.0-alpha.12, `--suite all --spec-version 2026-07-28`.
//!
//! The suite cannot send an `Authorization` header, so the gateway run goes through a loopback
//! shim that forwards each request unchanged (method, path and query, headers including `Host`
//! and `Origin`, body streamed both ways) and adds only the bearer token. The gateway is
//! configured with `allowed_hosts: [localhost, 127.0.0.1, "[::1]"]`, as a local deployment would
//! be, so its own Host/Origin check answers the DNS-rebinding scenario.
//!
//! The suite is installed by `scripts/install-conformance` into `$MCP_CONFORMANCE_DIR` (default
//! `${MCP_TEST_CACHE:-$HOME/.cache/mcp-gateway-tests}/conformance`); `scripts/test` does both.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use integration_tests::conformance;
use integration_tests::harness::{self, Stack};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Which suite a test runs.
#[derive(Debug, Clone, Copy)]
struct Suite {
    /// Folder under `$MCP_CONFORMANCE_DIR`.
    folder: &'static str,
    /// Arguments after `server --url URL -o DIR`.
    args: &'static [&'static str],
    /// Scenarios allowed to fail when the server is hit directly, with the reason. Anything
    /// else that fails directly is a bug of the conformance server (or of rmcp) to fix first:
    /// the comparison with the gateway only means something against a passing baseline.
    expected_direct_failures: &'static [(&'static str, &'static str)],
}

const STABLE: Suite = Suite {
    folder: "stable",
    args: &["--suite", "all"],
    expected_direct_failures: &[],
};

const ALPHA_2026: Suite = Suite {
    folder: "alpha",
    args: &[
        "--suite",
        "all",
        "--spec-version",
        "2026-07-28",
        "--timeout",
        "10000",
    ],
    expected_direct_failures: &[],
};

/// Wall-clock cap on one run of the suite (a healthy run takes a few seconds; a hung
/// server-to-client request costs the 0.1.16 client 60 s per scenario).
const RUN_LIMIT: Duration = Duration::from_secs(50);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node 22 and the conformance suite: scripts/install-conformance (scripts/test runs it)"]
async fn suite_2025_same_through_gateway() {
    compare(STABLE).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node 22 and the conformance suite: scripts/install-conformance (scripts/test runs it)"]
async fn suite_2026_07_28_same_through_gateway() {
    compare(ALPHA_2026).await;
}

async fn compare(suite: Suite) {
    let install = Install::locate(suite.folder);
    let ct = CancellationToken::new();
    let _stop = ct.clone().drop_guard();
    let backend = harness::serve(conformance::service(true, ct.clone()), ct.clone()).await;
    let stack = Stack::start_with(|cfg| {
        *cfg = cfg
            .replace(
                "backends:\n",
                &format!("backends:\n  conformance: http://{backend}/mcp\n"),
            )
            .replace("  writer: [", "  writer: [conformance, ")
            // Production-like: the 1 s of the status-table tests would cut slow first bytes.
            .replace("first_byte_timeout: 1s", "first_byte_timeout: 30s");
        cfg.push_str("allowed_hosts: [localhost, 127.0.0.1, \"[::1]\"]\n");
    })
    .await;
    let shim = shim(
        stack.gateway_addr,
        stack.token("writer").to_owned(),
        ct.clone(),
    )
    .await;
    let out = tempfile::tempdir().expect("tempdir");

    let direct_url = format!("http://{backend}/mcp");
    let gateway_url = format!("http://{shim}/mcp/conformance/mcp");
    let direct = install
        .run(suite, &direct_url, &out.path().join("direct"))
        .await;
    let gateway = install
        .run(suite, &gateway_url, &out.path().join("gateway"))
        .await;

    let report = Report::new(&direct, &gateway);
    println!(
        "\nMCP conformance {} ({}), direct: {direct_url}, through the gateway: {gateway_url}\n",
        install.version,
        suite.args.join(" ")
    );
    println!("{}", report.table());
    println!("direct:  {}", direct.total);
    println!("gateway: {}", gateway.total);

    // The gateway run really went through the gateway: it audited the suite's requests.
    // Many scenarios send deliberately invalid requests; list how the gateway audited those.
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_ok = Vec::new();
    for line in stack.audit.lines() {
        let s = |k: &str| line[k].as_str().unwrap_or("-").to_owned();
        let key = format!("{} {}", s("type"), s("outcome"));
        *outcomes.entry(key).or_default() += 1;
        if line["outcome"] != "ok" {
            not_ok.push(format!(
                "  {} {} {} {}: HTTP {} {} {}",
                s("http_method"),
                s("method"),
                s("tool_name"),
                s("protocol_version"),
                line["http_status"],
                s("outcome"),
                s("error")
            ));
        }
    }
    println!("gateway audit lines by type and outcome: {outcomes:?}");
    if !not_ok.is_empty() {
        println!("gateway audit lines not ok:\n{}", not_ok.join("\n"));
    }

    let mut problems = Vec::new();
    if outcomes.get("mcp_tool_call ok").copied().unwrap_or(0) == 0 {
        problems
            .push("the gateway audited no successful tool call: did the suite reach it?".into());
    }
    for run in [&direct, &gateway] {
        if let Some(why) = &run.incomplete {
            problems.push(format!("{} run: {why}\n{}", run.name, run.stdout));
        }
    }
    problems.extend(baseline_problems(suite, &direct));
    if !report.mismatches.is_empty() {
        problems.push(format!(
            "the gateway changed the result of {} scenario(s):\n{}",
            report.mismatches.len(),
            report.mismatches.join("\n")
        ));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

/// Failures of the direct run not in the suite's expected list, and expected ones that pass.
fn baseline_problems(suite: Suite, direct: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    for (scenario, checks) in &direct.scenarios {
        let failed: Vec<&Check> = checks.iter().filter(|c| c.status == "FAILURE").collect();
        let expected = suite
            .expected_direct_failures
            .iter()
            .any(|(s, _)| s == scenario);
        if !failed.is_empty() && !expected {
            problems.push(format!(
                "direct run: scenario {scenario} fails against the conformance server itself:\n{}",
                failed
                    .iter()
                    .map(|c| format!("  {} FAILURE: {}", c.id, c.error))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if failed.is_empty() && expected {
            problems.push(format!(
                "direct run: scenario {scenario} is listed as an expected failure but passes; remove it"
            ));
        }
    }
    problems
}

// --- running the suite ---

#[derive(Debug)]
struct Install {
    node: PathBuf,
    cli: PathBuf,
    version: String,
}

impl Install {
    fn locate(folder: &str) -> Install {
        let dir = std::env::var_os("MCP_CONFORMANCE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let cache = std::env::var_os("MCP_TEST_CACHE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                            .join(".cache/mcp-gateway-tests")
                    });
                cache.join("conformance")
            });
        let node = dir.join("stable/node_modules/node/bin/node");
        let package = dir
            .join(folder)
            .join("node_modules/@modelcontextprotocol/conformance");
        let cli = package.join("dist/index.js");
        assert!(
            node.is_file() && cli.is_file(),
            "the conformance suite is not installed in {} (looked for {} and {}): run scripts/install-conformance",
            dir.display(),
            node.display(),
            cli.display()
        );
        let version = std::fs::read_to_string(package.join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "(unknown version)".into());
        Install { node, cli, version }
    }

    /// Runs the server suite against `url`, writing checks into `out`.
    async fn run(&self, suite: Suite, url: &str, out: &Path) -> Run {
        let mut cmd = Command::new(&self.node);
        cmd.arg(&self.cli)
            .args(["server", "--url", url, "-o"])
            .arg(out)
            .args(suite.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = out
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (stdout, incomplete) = tokio::task::spawn_blocking(move || run_bounded(cmd))
            .await
            .expect("suite runner");
        let scenarios = read_checks(out);
        let total = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("Total:"))
            .unwrap_or("(no total printed)")
            .to_owned();
        Run {
            name,
            scenarios,
            total,
            stdout,
            incomplete,
        }
    }
}

/// Runs `cmd` for at most [`RUN_LIMIT`]; returns its stdout (ANSI colours removed) and why the
/// run is incomplete, if it is. The exit status itself is not used: failing checks exit 1.
fn run_bounded(mut cmd: Command) -> (String, Option<String>) {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (String::new(), Some(format!("cannot start node: {e}"))),
    };
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let started = Instant::now();
    let mut incomplete = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.code().is_none_or(|c| c > 1) {
                    incomplete = Some(format!("the suite exited with {status}"));
                }
                break;
            }
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                incomplete = Some(format!(
                    "the suite did not finish within {}s and was stopped",
                    RUN_LIMIT.as_secs()
                ));
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                incomplete = Some(format!("waiting for the suite: {e}"));
                break;
            }
        }
    }
    let mut text = strip_ansi(&out.join().unwrap_or_default());
    let err = err.join().unwrap_or_default();
    if !err.trim().is_empty() {
        text.push_str("\n--- stderr ---\n");
        text.push_str(&strip_ansi(&err));
    }
    if incomplete.is_none() && !text.contains("=== SUMMARY ===") {
        incomplete = Some("the suite printed no summary".into());
    }
    (text, incomplete)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One check of a scenario, from `checks.json`.
#[derive(Debug, Clone)]
struct Check {
    id: String,
    status: String,
    error: String,
}

/// One run of the suite.
#[derive(Debug)]
struct Run {
    name: String,
    /// Scenario -> its checks in order.
    scenarios: BTreeMap<String, Vec<Check>>,
    total: String,
    stdout: String,
    incomplete: Option<String>,
}

/// Reads `<out>/server-<scenario>-<timestamp>/checks.json`.
fn read_checks(out: &Path) -> BTreeMap<String, Vec<Check>> {
    let mut scenarios = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(out) else {
        return scenarios;
    };
    for entry in entries.flatten() {
        let dir = entry.file_name().to_string_lossy().into_owned();
        let Some(scenario) = scenario_of(&dir) else {
            continue;
        };
        let path = entry.path().join("checks.json");
        let checks: Vec<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| panic!("{} is not a JSON array of checks", path.display()));
        let checks = checks
            .iter()
            .map(|c| Check {
                id: c["id"].as_str().unwrap_or("?").to_owned(),
                status: c["status"].as_str().unwrap_or("?").to_owned(),
                error: c["errorMessage"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(400)
                    .collect(),
            })
            .collect();
        assert!(
            scenarios.insert(scenario.clone(), checks).is_none(),
            "scenario {scenario} ran twice in {}",
            out.display()
        );
    }
    scenarios
}

/// `server-tools-list-2026-11-27T22-03-55-570Z` -> `tools-list`.
fn scenario_of(dir: &str) -> Option<String> {
    const STAMP: &str = "0000-00-00T00-00-00-000Z";
    let rest = dir.strip_prefix("server-")?;
    let cut = rest.len().checked_sub(STAMP.len() + 1)?;
    let (name, stamp) = rest.split_at(cut);
    let stamp = stamp.strip_prefix('-')?;
    let shape_ok = stamp
        .chars()
        .zip(STAMP.chars())
        .all(|(c, p)| if p == '0' { c.is_ascii_digit() } else { c == p });
    shape_ok.then(|| name.to_owned())
}

// --- comparing ---

/// Check id -> statuses (a scenario may report the same id several times, e.g. one INFO per
/// SSE event).
fn outcome(checks: &[Check]) -> BTreeMap<&str, Vec<&str>> {
    let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in checks {
        m.entry(&c.id).or_default().push(&c.status);
    }
    for statuses in m.values_mut() {
        statuses.sort_unstable();
    }
    m
}

fn counts(checks: &[Check]) -> String {
    let n = |s: &str| checks.iter().filter(|c| c.status == s).count();
    let mut parts = vec![format!("{} ok", n("SUCCESS"))];
    for (status, label) in [
        ("FAILURE", "FAILED"),
        ("WARNING", "warn"),
        ("SKIPPED", "skip"),
    ] {
        if n(status) > 0 {
            parts.push(format!("{} {label}", n(status)));
        }
    }
    parts.join(", ")
}

struct Report<'a> {
    rows: Vec<(&'a str, String, String, bool)>,
    mismatches: Vec<String>,
}

impl<'a> Report<'a> {
    fn new(direct: &'a Run, gateway: &'a Run) -> Report<'a> {
        let names: BTreeSet<&str> = direct
            .scenarios
            .keys()
            .chain(gateway.scenarios.keys())
            .map(String::as_str)
            .collect();
        let mut rows = Vec::new();
        let mut mismatches = Vec::new();
        for name in names {
            let d = direct.scenarios.get(name);
            let g = gateway.scenarios.get(name);
            let show =
                |c: Option<&Vec<Check>>| c.map_or_else(|| "(not run)".to_owned(), |c| counts(c));
            let same = match (d, g) {
                (Some(d), Some(g)) => {
                    let diff = diff_checks(d, g);
                    if !diff.is_empty() {
                        mismatches.push(format!("- {name}:\n{}", diff.join("\n")));
                    }
                    diff.is_empty()
                }
                _ => {
                    mismatches.push(format!(
                        "- {name}: ran {} only",
                        if d.is_some() {
                            "directly"
                        } else {
                            "through the gateway"
                        }
                    ));
                    false
                }
            };
            rows.push((name, show(d), show(g), same));
        }
        Report { rows, mismatches }
    }

    fn table(&self) -> String {
        let w = self
            .rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut t = format!(
            "{:w$}  {:24}  {:24}  same\n{}\n",
            "scenario",
            "direct",
            "through the gateway",
            "-".repeat(w + 56)
        );
        for (name, d, g, same) in &self.rows {
            t.push_str(&format!(
                "{name:w$}  {d:24}  {g:24}  {}\n",
                if *same { "yes" } else { "NO" }
            ));
        }
        t
    }
}

/// The checks whose statuses differ, one line each, with the failure messages.
fn diff_checks(direct: &[Check], gateway: &[Check]) -> Vec<String> {
    let (d, g) = (outcome(direct), outcome(gateway));
    let ids: BTreeSet<&str> = d.keys().chain(g.keys()).copied().collect();
    let message = |checks: &[Check], id: &str| {
        checks
            .iter()
            .filter(|c| c.id == id && !c.error.is_empty())
            .map(|c| format!(" ({}: {})", c.status, c.error))
            .collect::<String>()
    };
    ids.into_iter()
        .filter(|id| d.get(id) != g.get(id))
        .map(|id| {
            format!(
                "    {id}: direct {:?}{} / gateway {:?}{}",
                d.get(id).cloned().unwrap_or_default(),
                message(direct, id),
                g.get(id).cloned().unwrap_or_default(),
                message(gateway, id),
            )
        })
        .collect()
}

// --- the shim ---

/// Headers that belong to one connection, not to the request (RFC 9110 7.6.1).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A loopback proxy that forwards every request to `target` as it came (method, path and
/// query, all end-to-end headers including `Host` and `Origin`, body streamed both ways), and
/// adds `Authorization: Bearer <token>`: the conformance suite cannot send one itself.
async fn shim(target: SocketAddr, token: String, ct: CancellationToken) -> SocketAddr {
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .set_host(false)
        .build_http();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).expect("token is ASCII");
    let app = axum::Router::new().fallback(move |req: Request| {
        let client = client.clone();
        let bearer = bearer.clone();
        async move { forward(&client, target, bearer, req).await }
    });
    harness::serve(app, ct).await
}

async fn forward(
    client: &Client<HttpConnector, Body>,
    target: SocketAddr,
    bearer: HeaderValue,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match format!("http://{target}{path}").parse() {
        Ok(u) => u,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("shim: {e}")).into_response(),
    };
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.insert(header::AUTHORIZATION, bearer);
    match client.request(http::Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("shim: {e}")).into_response(),
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
}

#[test]
fn scenario_names_from_output_folders() {
    assert_eq!(
        scenario_of("server-tools-list-2026-11-27T22-03-55-570Z").as_deref(),
        Some("tools-list")
    );
    assert_eq!(
        scenario_of("server-input-required-result-multi-round-2026-11-27T22-03-55-570Z").as_deref(),
        Some("input-required-result-multi-round")
    );
    assert_eq!(scenario_of("server-x-2026-11-27"), None);
    assert_eq!(scenario_of("client-x-2026-11-27T22-03-55-570Z"), None);
    assert_eq!(strip_ansi("\u{1b}[32m✓ ok\u{1b}[0m"), "✓ ok");
}

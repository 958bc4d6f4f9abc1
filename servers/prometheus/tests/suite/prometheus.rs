//! Against a real Prometheus (Debian's package, started by scripts/start-prometheus with the
//! backfilled seed): every tool over MCP streamable HTTP with an rmcp client, the caps, empty
//! results with suggestions, bad PromQL, and Prometheus going down and coming back.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use mcp_test_support::{Client, call, client, failure_text as error_text};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Prometheus started by scripts/start-prometheus. Dropping it stops it.
#[derive(Debug)]
struct Prom {
    url: String,
    dir: PathBuf,
    port: u16,
    owned: bool,
}

fn start_prometheus(dir: Option<&Path>, port: Option<u16>) -> Prom {
    let mut cmd = Command::new(repo_root().join("scripts/start-prometheus"));
    if let Some(d) = dir {
        cmd.arg(d);
    }
    if let Some(p) = port {
        cmd.env("PROMETHEUS_PORT", p.to_string());
    }
    cmd.env("PROMETHEUS_STOP_WITH_PID", std::process::id().to_string());
    let out = cmd.output().expect("run scripts/start-prometheus");
    assert!(
        out.status.success(),
        "scripts/start-prometheus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_owned()
    };
    let url = get("PROMETHEUS_URL");
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    Prom {
        url,
        dir: PathBuf::from(get("PROMETHEUS_DIR")),
        port,
        owned: dir.is_some(),
    }
}

impl Prom {
    fn stop(&self) {
        let status = Command::new(repo_root().join("scripts/stop-prometheus"))
            .arg(&self.dir)
            .status()
            .expect("run scripts/stop-prometheus");
        assert!(status.success());
    }
}

impl Drop for Prom {
    fn drop(&mut self) {
        if self.owned {
            self.stop();
        }
    }
}

/// One Prometheus for the read-only tests of this binary (it stops when the binary exits).
fn shared() -> &'static Prom {
    static SHARED: OnceLock<Prom> = OnceLock::new();
    SHARED.get_or_init(|| start_prometheus(None, None))
}

/// Serves the backend in-process on a loopback port.
async fn backend(url: &str, extra: &[&str]) -> SocketAddr {
    mcp_common::telemetry::init();
    let mut argv = vec![
        "mcp-prometheus",
        "--prometheus-url",
        url,
        "--env",
        "test",
        "--allowed-host",
        "*",
        "--prometheus-timeout",
        "5s",
    ];
    argv.extend_from_slice(extra);
    let args = mcp_prometheus::Args::parse_from(argv);
    let (server, handler) = mcp_prometheus::build(args).await.expect("build");
    let app = server.app(handler);
    mcp_test_support::serve(app).await
}

async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, "").await
}

async fn readyz(addr: SocketAddr) -> u16 {
    reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_over_mcp() {
    let prom = shared();
    let addr = backend(&prom.url, &["--max-series", "50", "--max-points", "200"]).await;
    assert_eq!(readyz(addr).await, 200);
    let c = client(addr).await;

    // tools/list: exactly the tools, all read-only, with output schemas.
    let tools = c.list_all_tools().await.unwrap();
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "prometheus_alerts",
            "prometheus_label_names",
            "prometheus_label_values",
            "prometheus_metric_metadata",
            "prometheus_query",
            "prometheus_query_range",
            "prometheus_rules",
            "prometheus_series",
            "prometheus_targets",
        ]
    );
    let catalog: serde_json::Value =
        serde_json::from_str(include_str!("../../../../policies/tools.json")).unwrap();
    assert_eq!(
        catalog["prometheus"]["read"],
        serde_json::json!(names),
        "policies/tools.json lists these"
    );
    assert_eq!(catalog["prometheus"]["write"], serde_json::json!([]));
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
        assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
        assert!(t.output_schema.is_some(), "{}", t.name);
    }

    // The incident's query: payment-service memory near 500 MB, as numbers.
    let r = ok(
        &c,
        "prometheus_query",
        json!({"query": "container_memory_usage_bytes{pod=~\"payment-service.*\"}"}),
    )
    .await;
    assert_eq!(r["result_type"], "vector");
    assert_eq!(r["empty"], false);
    let series = r["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{r}");
    for s in series {
        let v = s["value"].as_f64().expect("value is a number");
        assert!((480e6..520e6).contains(&v), "{v}");
        assert!(
            s["metric"]["pod"]
                .as_str()
                .unwrap()
                .starts_with("payment-service")
        );
        assert!(s["timestamp"].is_number());
    }

    // Series cap: 150 seeded series, 50 allowed.
    let r = ok(&c, "prometheus_query", json!({"query": "test_many_series"})).await;
    assert_eq!(r["series"].as_array().unwrap().len(), 50);
    assert_eq!(r["series_total"], 150);
    assert_eq!(r["truncated"], true);
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .contains("showing 50 of 150"),
        "{r}"
    );
    let r = ok(
        &c,
        "prometheus_query",
        json!({"query": "test_many_series", "limit": 5}),
    )
    .await;
    assert_eq!(r["series"].as_array().unwrap().len(), 5);

    // A scalar.
    let r = ok(&c, "prometheus_query", json!({"query": "1 + 1"})).await;
    assert_eq!(r["result_type"], "scalar");
    assert_eq!(r["scalar"], 2.0);
    assert_eq!(r["empty"], false);

    // Range query: default window and step.
    let r = ok(
        &c,
        "prometheus_query_range",
        json!({"query": "sum by (pod) (container_memory_usage_bytes{namespace=\"production\"})"}),
    )
    .await;
    assert_eq!(r["result_type"], "matrix");
    assert_eq!(r["series"].as_array().unwrap().len(), 3);
    let points = r["series"][0]["points"].as_array().unwrap();
    assert!(points.len() > 50 && points.len() <= 200, "{}", points.len());
    assert!(points[0][0].is_number() && points[0][1].is_number());
    assert_eq!(r["step_seconds"], 60.0);

    // Points cap: 6 h at 15 s is 1441 points per series; the step is widened and said so.
    let r = ok(
        &c,
        "prometheus_query_range",
        json!({"query": "container_memory_usage_bytes{pod=\"checkout-5f6d8e-xyz99\"}", "start": "now-6h", "step": "15s"}),
    )
    .await;
    let step = r["step_seconds"].as_f64().unwrap();
    assert!(step >= 6.0 * 3600.0 / 199.0, "{step}");
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("step widened from 15s"),
        "{r}"
    );
    assert!(r["series"][0]["points"].as_array().unwrap().len() <= 200);
    // ... or refused with strict_step.
    let r = call(
        &c,
        "prometheus_query_range",
        json!({"query": "up", "start": "now-6h", "step": "15s", "strict_step": true}),
    )
    .await;
    let text = error_text(&r);
    assert!(text.contains("more than the cap of 200"), "{text}");

    // Empty result: the wrong metric name gets the nearest real ones.
    let r = ok(
        &c,
        "prometheus_query",
        json!({"query": "container_mem_usage_bytes{pod=~\"payment-service.*\"}"}),
    )
    .await;
    assert_eq!(r["empty"], true);
    assert_eq!(r["suggestions"][0], "container_memory_usage_bytes", "{r}");
    assert!(
        r["notes"][0].as_str().unwrap().contains("does not exist"),
        "{r}"
    );
    // ... and a wrong label value gets the nearest existing values.
    let r = ok(
        &c,
        "prometheus_query",
        json!({"query": "container_memory_usage_bytes{pod=\"payment-service\"}"}),
    )
    .await;
    assert_eq!(r["empty"], true);
    let note = r["notes"][0].as_str().unwrap();
    assert!(note.contains("payment-service-7d4b9c-abc12"), "{note}");

    // Bad PromQL: Prometheus's own parse error, as a tool error.
    let r = call(
        &c,
        "prometheus_query",
        json!({"query": "sum(rate(http_requests_total[5m]"}),
    )
    .await;
    let text = error_text(&r);
    assert!(text.contains("parse error"), "{text}");
    assert!(
        text.contains("Prometheus rejected the instant query"),
        "{text}"
    );
    // Bad arguments are the agent's to fix.
    let r = call(
        &c,
        "prometheus_query",
        json!({"query": "up", "time": "yesterday"}),
    )
    .await;
    assert!(error_text(&r).contains("invalid argument `time`"));

    // Series.
    let r = ok(
        &c,
        "prometheus_series",
        json!({"match": ["container_memory_usage_bytes"], "start": "now-2h"}),
    )
    .await;
    assert_eq!(r["total"], 3);
    assert_eq!(r["series"][0]["__name__"], "container_memory_usage_bytes");
    let r = ok(
        &c,
        "prometheus_series",
        json!({"match": ["test_many_series"], "limit": 10}),
    )
    .await;
    assert_eq!(r["series"].as_array().unwrap().len(), 10);
    assert_eq!(r["truncated"], true);
    assert!(
        error_text(&call(&c, "prometheus_series", json!({"match": []})).await).contains("match")
    );

    // Labels.
    let r = ok(
        &c,
        "prometheus_label_names",
        json!({"match": ["container_memory_usage_bytes"]}),
    )
    .await;
    let names: Vec<&str> = r["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"pod") && names.contains(&"namespace"),
        "{names:?}"
    );
    let r = ok(
        &c,
        "prometheus_label_values",
        json!({"label": "pod", "match": ["container_memory_usage_bytes"]}),
    )
    .await;
    assert_eq!(
        r["values"],
        json!([
            "checkout-5f6d8e-xyz99",
            "payment-service-7d4b9c-abc12",
            "payment-service-7d4b9c-def34"
        ])
    );
    let r = ok(
        &c,
        "prometheus_label_values",
        json!({"label": "__name__", "limit": 3}),
    )
    .await;
    assert_eq!(r["values"].as_array().unwrap().len(), 3);
    assert_eq!(r["truncated"], true);
    assert!(
        error_text(&call(&c, "prometheus_label_values", json!({"label": "../x"})).await)
            .contains("not a label name")
    );

    // Metadata (from the self-scrape).
    let r = ok(
        &c,
        "prometheus_metric_metadata",
        json!({"metric": "prometheus_http_requests_total"}),
    )
    .await;
    assert_eq!(r["metrics"][0]["type"], "counter", "{r}");
    assert!(!r["metrics"][0]["help"].as_str().unwrap().is_empty());
    let r = ok(&c, "prometheus_metric_metadata", json!({"limit": 5})).await;
    assert!(r["metrics"].as_array().unwrap().len() <= 5);

    // Targets: the down target first, with its error.
    let r = ok(&c, "prometheus_targets", json!({})).await;
    assert_eq!(r["down"], 1, "{r}");
    assert_eq!(r["targets"][0]["job"], "payment-exporter");
    assert_eq!(r["targets"][0]["health"], "down");
    assert!(
        r["targets"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{r}"
    );
    let jobs = r["jobs"].as_array().unwrap();
    assert!(
        jobs.iter()
            .any(|j| j["job"] == "prometheus" && j["up"] == 1)
    );
    let r = ok(&c, "prometheus_targets", json!({"health": "up"})).await;
    assert_eq!(r["targets"].as_array().unwrap().len(), 1);

    // Alerts: firing first, with since when.
    let r = ok(&c, "prometheus_alerts", json!({})).await;
    assert!(r["firing"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(r["pending"], 2, "{r}");
    assert_eq!(r["alerts"][0]["state"], "firing");
    let high = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "PaymentServiceMemoryHigh")
        .expect("the seeded alert fires");
    assert!(high["active_at"].as_str().unwrap().ends_with('Z'));
    assert!(high["value"].as_f64().unwrap() > 0.9);
    assert_eq!(high["labels"]["severity"], "warning");
    let r = ok(&c, "prometheus_alerts", json!({"state": "pending"})).await;
    assert!(
        r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "pending")
    );

    // Rules.
    let r = ok(&c, "prometheus_rules", json!({})).await;
    assert_eq!(r["total"], 4, "{r}");
    assert_eq!(r["groups"], 2);
    let r = ok(&c, "prometheus_rules", json!({"type": "record"})).await;
    assert_eq!(r["total"], 1);
    assert_eq!(r["rules"][0]["type"], "recording");
    let r = ok(
        &c,
        "prometheus_rules",
        json!({"type": "alert", "group": "targets"}),
    )
    .await;
    assert_eq!(r["rules"][0]["name"], "TargetDown");
    assert_eq!(r["rules"][0]["state"], "firing");

    c.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_cap_truncates_query_results() {
    let prom = shared();
    let addr = backend(&prom.url, &["--max-output-bytes", "6000"]).await;
    let c = client(addr).await;
    let r = call(&c, "prometheus_query", json!({"query": "test_many_series"})).await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["truncated"], true);
    assert!(v["series"].as_array().unwrap().len() < 100);
    assert!(serde_json::to_vec(&v).unwrap().len() <= 6000);
    c.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_down_then_back() {
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(Some(dir.path()), None);
    let addr = backend(&prom.url, &[]).await;
    let c = client(addr).await;
    assert_eq!(readyz(addr).await, 200);
    ok(&c, "prometheus_query", json!({"query": "up"})).await;

    prom.stop();
    let r = call(&c, "prometheus_query", json!({"query": "up"})).await;
    let text = error_text(&r);
    assert!(text.contains("cannot reach Prometheus"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(readyz(addr).await, 503);

    // Back on the same port with the same data: the same backend recovers by itself.
    let again = start_prometheus(Some(dir.path()), Some(prom.port));
    assert_eq!(again.url, prom.url);
    let mut ready = 0;
    for _ in 0..50 {
        ready = readyz(addr).await;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200);
    let r = ok(
        &c,
        "prometheus_query",
        json!({"query": "container_memory_usage_bytes{pod=~\"payment-service.*\"}"}),
    )
    .await;
    assert_eq!(r["series"].as_array().unwrap().len(), 2);
    c.cancel().await.ok();
    drop(again);
}

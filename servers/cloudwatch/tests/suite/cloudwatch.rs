//! mcp-cloudwatch against the moto AWS emulator: metrics, alarms, log groups, log events and
//! Logs Insights over MCP; a Logs Insights query still running at the timeout (a stub speaking
//! the Logs JSON protocol); bad input; and the IAM denial of a tool the credentials lack.

use crate::common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic,
};
use clap::Parser;
use common::{ADMIN, Moto, catalog, client, err, loader, ok, readyz, serve_router, shared};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn backend(
    endpoint: &str,
    creds: (&str, &str),
    extra: &[&str],
    ct: &CancellationToken,
) -> std::net::SocketAddr {
    mcp_common::telemetry::install_crypto_provider();
    let mut argv = vec!["mcp-cloudwatch", "--allowed-host", "*", "--env", "test"];
    argv.extend_from_slice(extra);
    let args = mcp_cloudwatch::Args::parse_from(argv);
    let (server, handler) = mcp_cloudwatch::build_with(args, loader(endpoint, creds))
        .await
        .expect("build");
    serve_router(server.app(handler), ct.clone()).await
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_read_only_in_every_deployment() {
    let moto = shared();
    let ct = CancellationToken::new();
    let (read, write) = catalog("cloudwatch");
    assert!(write.is_empty());
    for access in ["ro", "rw"] {
        let addr = backend(&moto.endpoint, ADMIN, &["--access", access], &ct).await;
        assert_eq!(readyz(addr).await, 200);
        let c = client(addr).await;
        let tools = c.list_all_tools().await.unwrap();
        let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        assert_eq!(names, read, "{access}: exactly the catalog's tools");
        for t in &tools {
            let a = t.annotations.as_ref().expect("annotations");
            assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
            assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
            assert!(t.output_schema.is_some(), "{}", t.name);
        }
    }
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_alarms() {
    let moto = shared();
    let ct = CancellationToken::new();
    let cw = aws_sdk_cloudwatch::Client::new(&loader(&moto.endpoint, ADMIN).load().await);
    let now = now_s() / 60 * 60;
    let dim = Dimension::builder()
        .name("Service")
        .value("payments")
        .build();
    for i in 0..10i64 {
        cw.put_metric_data()
            .namespace("MCP/Test")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Latency")
                    .dimensions(dim.clone())
                    .timestamp(DateTime::from_secs(now - 600 + i * 60))
                    .value(100.0 + i as f64 * 10.0)
                    .build(),
            )
            .send()
            .await
            .expect("put metric data");
    }
    for (name, threshold) in [
        ("payments-latency-high", 150.0),
        ("payments-latency-extreme", 1e6),
    ] {
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("MCP/Test")
            .metric_name("Latency")
            .dimensions(dim.clone())
            .statistic(Statistic::Maximum)
            .period(60)
            .evaluation_periods(3)
            .threshold(threshold)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("put alarm");
    }
    cw.set_alarm_state()
        .alarm_name("payments-latency-high")
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 3 datapoints were greater than 150")
        .send()
        .await
        .expect("set alarm state");

    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;

    let r = ok(
        &c,
        "cloudwatch_list_metrics",
        json!({"namespace": "MCP/Test"}),
    )
    .await;
    assert_eq!(r["metrics"][0]["metric_name"], "Latency", "{r}");
    assert_eq!(r["metrics"][0]["dimensions"]["Service"], "payments");

    let r = ok(
        &c,
        "cloudwatch_get_metric_data",
        json!({
            "namespace": "MCP/Test", "metric_name": "Latency",
            "dimensions": {"Service": "payments"}, "statistic": "Maximum",
            "period": 60, "start": "now-30m"
        }),
    )
    .await;
    assert_eq!(r["period"], 60);
    let points = r["points"].as_array().unwrap();
    assert_eq!(points.len(), 10, "{r}");
    assert!(
        points[0]["timestamp"].as_str().unwrap() < points[9]["timestamp"].as_str().unwrap(),
        "oldest first"
    );
    assert_eq!(r["summary"]["max"], 190.0);
    assert_eq!(r["summary"]["min"], 100.0);
    assert_eq!(r["summary"]["latest"], 190.0);
    assert_eq!(r["truncated"], false);

    // The point cap keeps the newest.
    let r = ok(
        &c,
        "cloudwatch_get_metric_data",
        json!({
            "namespace": "MCP/Test", "metric_name": "Latency",
            "dimensions": {"Service": "payments"}, "statistic": "Maximum",
            "period": 60, "start": "now-30m", "max_points": 3
        }),
    )
    .await;
    assert_eq!(r["points"].as_array().unwrap().len(), 3);
    assert_eq!(r["truncated"], true);
    assert_eq!(r["summary"]["latest"], 190.0);
    assert!(!r["notes"].as_array().unwrap().is_empty(), "{r}");

    // No data: an explanation, not an error.
    let r = ok(
        &c,
        "cloudwatch_get_metric_data",
        json!({"namespace": "MCP/Test", "metric_name": "Latency", "dimensions": {"Service": "nope"}}),
    )
    .await;
    assert_eq!(r["points"], json!([]));
    assert!(r["notes"].to_string().contains("cloudwatch_list_metrics"));

    let r = ok(
        &c,
        "cloudwatch_describe_alarms",
        json!({"state": "ALARM", "name_prefix": "payments-"}),
    )
    .await;
    let alarms = r["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 1, "{r}");
    assert_eq!(alarms[0]["name"], "payments-latency-high");
    assert_eq!(alarms[0]["state"], "ALARM");
    assert!(
        alarms[0]["state_reason"]
            .as_str()
            .unwrap()
            .contains("Threshold Crossed")
    );
    assert_eq!(
        alarms[0]["condition"],
        "Maximum GreaterThanThreshold 150 for 3 x 60s"
    );
    assert_eq!(r["in_alarm"], 1);
    let r = ok(
        &c,
        "cloudwatch_describe_alarms",
        json!({"name_prefix": "payments-"}),
    )
    .await;
    assert_eq!(r["alarms"].as_array().unwrap().len(), 2);
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filter_and_insights() {
    let moto = shared();
    let ct = CancellationToken::new();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&loader(&moto.endpoint, ADMIN).load().await);
    let group = "/mcp/test/payment-service";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(group)
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("pod-1")
        .send()
        .await
        .unwrap();
    let now_ms = now_s() * 1000;
    let messages = [
        "INFO started",
        "ERROR connection refused to postgres://app:hunter2@db:5432/app",
        "INFO request ok",
        "ERROR OOMKilled: memory limit 512Mi",
    ];
    let mut put = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name("pod-1");
    for (i, m) in messages.iter().enumerate() {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now_ms - 60_000 + i as i64 * 1000)
                .message(*m)
                .build()
                .unwrap(),
        );
    }
    put.send().await.expect("put log events");

    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;

    let r = ok(
        &c,
        "cloudwatch_describe_log_groups",
        json!({"prefix": "/mcp/test/"}),
    )
    .await;
    assert_eq!(r["log_groups"][0]["name"], group, "{r}");
    assert_eq!(r["log_groups"][0]["retention_days"], 7);

    let r = ok(
        &c,
        "cloudwatch_filter_log_events",
        json!({"log_group_name": group, "pattern": "ERROR", "start": "now-10m"}),
    )
    .await;
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{r}");
    let text = r.to_string();
    assert!(text.contains("OOMKilled"));
    assert!(
        !text.contains("hunter2"),
        "credentials in log lines are redacted: {text}"
    );
    assert_eq!(events[0]["log_stream"], "pod-1");

    let r = ok(
        &c,
        "cloudwatch_filter_log_events",
        json!({"log_group_name": group, "start": "now-10m", "limit": 2}),
    )
    .await;
    assert_eq!(r["events"].as_array().unwrap().len(), 2);
    assert_eq!(r["truncated"], true, "{r}");
    let cursor = r["next_cursor"].as_str().expect("next_cursor").to_owned();
    let r = ok(
        &c,
        "cloudwatch_filter_log_events",
        json!({"log_group_name": group, "start": "now-10m", "limit": 2, "cursor": cursor}),
    )
    .await;
    assert_eq!(r["events"].as_array().unwrap().len(), 2, "{r}");
    assert!(r.to_string().contains("OOMKilled"));

    let r = ok(
        &c,
        "cloudwatch_logs_insights_query",
        json!({
            "log_group_names": [group],
            "query": "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 10",
            "start": "now-10m"
        }),
    )
    .await;
    assert_eq!(r["status"], "Complete", "{r}");
    assert_eq!(r["complete"], true);
    let qid = r["query_id"].as_str().unwrap().to_owned();
    // (moto evaluates only part of the Insights language: it returns every event here.)
    let rows = r["rows"].as_array().unwrap();
    assert!(rows.len() >= 2, "{r}");
    assert!(
        rows.iter()
            .any(|row| row["@message"].as_str().unwrap().contains("OOMKilled"))
    );
    assert!(rows[0]["@timestamp"].is_string() && rows[0].get("@ptr").is_none());
    assert!(!r.to_string().contains("hunter2"), "redacted: {r}");

    // The row cap applies to what CloudWatch returns.
    let r = ok(
        &c,
        "cloudwatch_logs_insights_query",
        json!({"log_group_names": [group], "query": "fields @message", "start": "now-10m", "limit": 1}),
    )
    .await;
    assert_eq!(r["rows"].as_array().unwrap().len(), 1);
    assert_eq!(r["truncated"], true, "{r}");

    let r = ok(&c, "cloudwatch_get_query_results", json!({"query_id": qid})).await;
    assert_eq!(r["status"], "Complete");
    assert!(r["rows"].as_array().unwrap().len() >= 2);
    ct.cancel();
}

/// A Logs Insights query that is still running at the timeout: the answer carries the query
/// id and says how to continue. The stub speaks the Logs JSON 1.1 protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_query_still_running_returns_the_query_id() {
    let ct = CancellationToken::new();
    let stub = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = match target.as_str() {
            "Logs_20140328.StartQuery" => json!({"queryId": "q-stub-1"}),
            "Logs_20140328.GetQueryResults" => json!({
                "status": "Running",
                "results": [],
                "statistics": {"recordsMatched": 0.0, "recordsScanned": 1000.0, "bytesScanned": 1.0e6}
            }),
            _ => json!({}),
        };
        (
            [("content-type", "application/x-amz-json-1.1")],
            body.to_string(),
        )
    });
    let stub = serve_router(stub, ct.clone()).await;
    let addr = backend(&format!("http://{stub}"), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let started = Instant::now();
    let r = ok(
        &c,
        "cloudwatch_logs_insights_query",
        json!({"log_group_names": ["/big"], "query": "stats count(*) by bin(5m)", "timeout_seconds": 2}),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(r["query_id"], "q-stub-1");
    assert_eq!(r["complete"], false);
    assert_eq!(r["status"], "Running");
    assert!(
        r["note"]
            .as_str()
            .unwrap()
            .contains("cloudwatch_get_query_results"),
        "{r}"
    );
    assert_eq!(r["statistics"]["records_scanned"], 1000.0);

    let r = ok(
        &c,
        "cloudwatch_get_query_results",
        json!({"query_id": "q-stub-1"}),
    )
    .await;
    assert_eq!(r["complete"], false);
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_tool_error() {
    let moto = shared();
    let ct = CancellationToken::new();
    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;

    let t = err(
        &c,
        "cloudwatch_filter_log_events",
        json!({"log_group_name": "/no/such/group"}),
    )
    .await;
    assert!(t.contains("FilterLogEvents (logs:FilterLogEvents)"), "{t}");
    assert!(t.contains("ResourceNotFoundException"), "{t}");

    let t = err(
        &c,
        "cloudwatch_get_metric_data",
        json!({"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "statistic": "Median"}),
    )
    .await;
    assert!(t.contains("invalid argument `statistic`"), "{t}");

    let t = err(&c, "cloudwatch_get_metric_data", json!({"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "start": "now", "end": "now-1h"})).await;
    assert!(t.contains("before"), "{t}");

    let t = err(
        &c,
        "cloudwatch_get_metric_data",
        json!({"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "period": 90}),
    )
    .await;
    assert!(t.contains("period"), "{t}");

    let t = err(&c, "cloudwatch_describe_alarms", json!({"state": "RED"})).await;
    assert!(t.contains("ALARM, OK or INSUFFICIENT_DATA"), "{t}");

    let t = err(
        &c,
        "cloudwatch_logs_insights_query",
        json!({"log_group_names": [], "query": "fields @message"}),
    )
    .await;
    assert!(t.contains("log_group_names"), "{t}");

    let t = err(
        &c,
        "cloudwatch_filter_log_events",
        json!({"log_group_name": "/x", "start": "yesterday"}),
    )
    .await;
    assert!(t.contains("invalid argument `start`"), "{t}");
    ct.cancel();
}

/// Layer 3: credentials holding the EC2 read-only policy cannot read CloudWatch; the agent
/// reads which permission is missing. Credentials holding cloudwatch.json can read Logs.
/// (moto checks CloudWatch metrics/alarms calls against `monitoring:*`, not the real IAM prefix
/// `cloudwatch:*`, so the allowed side is shown with Logs only.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_denial_names_the_permission() {
    let moto = Moto::start();
    let wrong = moto.iam_user("ec2-reader", "policies/iam/aws-ro.json");
    let right = moto.iam_user("cw-reader", "policies/iam/cloudwatch.json");
    moto.enforce_iam().await;
    let ct = CancellationToken::new();

    let addr = backend(&moto.endpoint, (&wrong.0, &wrong.1), &[], &ct).await;
    let c = client(addr).await;
    let t = err(&c, "cloudwatch_describe_alarms", json!({})).await;
    assert!(t.contains("permission denied"), "{t}");
    assert!(t.contains("cloudwatch:DescribeAlarms"), "{t}");
    let t = err(&c, "cloudwatch_describe_log_groups", json!({})).await;
    assert!(t.contains("logs:DescribeLogGroups"), "{t}");
    assert_eq!(readyz(addr).await, 503);

    let addr = backend(&moto.endpoint, (&right.0, &right.1), &[], &ct).await;
    let c = client(addr).await;
    ok(&c, "cloudwatch_describe_log_groups", json!({})).await;
    ct.cancel();
}

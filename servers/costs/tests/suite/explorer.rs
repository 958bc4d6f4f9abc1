//! What moto cannot show, against a loopback stub of Cost Explorer's JSON 1.1 protocol that
//! answers in the shapes of the AWS API reference and records what the backend sent:
//! GetCostForecast, GetAnomalies, GetDimensionValues; paging and truncation; the cache (hits,
//! misses, TTL expiry, off); bad input refused before any (billed) request; throttling and
//! other Cost Explorer errors; `--role-arn`.

use crate::common;
use crate::support::{
    ROLE_KEY, ROLE_TOKEN, Stub, backend, ce_error, day, metrics, month, period_by_service,
};

use std::time::Duration;

use common::{ADMIN, client, err, ok};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_forecast() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |op, body| {
        assert_eq!(op, "GetCostForecast");
        let start = body["TimePeriod"]["Start"].as_str().unwrap().to_owned();
        let end = body["TimePeriod"]["End"].as_str().unwrap().to_owned();
        let answer = if body["Granularity"] == "DAILY" {
            json!({
                "Total": {"Amount": "98.7654321", "Unit": "USD"},
                "ForecastResultsByTime": [
                    {"TimePeriod": {"Start": start, "End": "x1"}, "MeanValue": "48.1", "PredictionIntervalLowerBound": "40.5", "PredictionIntervalUpperBound": "55.75"},
                    {"TimePeriod": {"Start": "x1", "End": end}, "MeanValue": "50.6654321", "PredictionIntervalLowerBound": "41", "PredictionIntervalUpperBound": "60"}
                ]
            })
        } else {
            json!({
                "Total": {"Amount": "1523.4507", "Unit": "USD"},
                "ForecastResultsByTime": [
                    {"TimePeriod": {"Start": start, "End": end}, "MeanValue": "1523.4507", "PredictionIntervalLowerBound": "1401.12", "PredictionIntervalUpperBound": "1645.78"}
                ]
            })
        };
        (200, answer)
    })
    .await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;

    // Defaults: the rest of this month, MONTHLY, UnblendedCost, 80 %.
    let r = ok(
        &c,
        "costs_get_cost_forecast",
        json!({"filter": {"dimensions": {"SERVICE": ["Amazon Relational Database Service"]}}}),
    )
    .await;
    assert_eq!(r["start"], day(0).as_str());
    assert_eq!(r["end"], month(1).as_str());
    assert_eq!(r["granularity"], "MONTHLY");
    assert_eq!(r["metric"], "UnblendedCost");
    assert_eq!(r["total"], json!({"amount": 1523.4507, "unit": "USD"}));
    assert_eq!(r["periods"][0]["mean"], 1523.4507);
    assert_eq!(r["periods"][0]["lower"], 1401.12);
    assert_eq!(r["periods"][0]["upper"], 1645.78);
    assert_eq!(r["prediction_interval_level"], 80);
    assert_eq!(r["cache"]["from_cache"], false);
    let sent = &stub.requests("GetCostForecast")[0].body;
    assert_eq!(
        sent["TimePeriod"],
        json!({"Start": day(0), "End": month(1)})
    );
    assert_eq!(sent["Metric"], "UNBLENDED_COST");
    assert_eq!(sent["Granularity"], "MONTHLY");
    assert_eq!(sent["PredictionIntervalLevel"], 80);
    assert_eq!(
        sent["Filter"],
        json!({"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Relational Database Service"]}})
    );

    // DAILY, another metric and level.
    let r = ok(
        &c,
        "costs_get_cost_forecast",
        json!({"granularity": "DAILY", "end": "today+2d", "metric": "AMORTIZED_COST", "prediction_interval_level": 95}),
    )
    .await;
    assert_eq!(r["periods"].as_array().unwrap().len(), 2);
    assert_eq!(r["periods"][1]["lower"], 41.0);
    assert_eq!(r["total"]["amount"], 98.7654321);
    let sent = &stub.requests("GetCostForecast")[1].body;
    assert_eq!(sent["Metric"], "AMORTIZED_COST");
    assert_eq!(sent["Granularity"], "DAILY");
    assert_eq!(sent["PredictionIntervalLevel"], 95);
    assert_eq!(sent["TimePeriod"]["End"], day(2).as_str());
    assert!(sent.get("Filter").is_none());
    ct.cancel();
}

fn anomaly(id: &str, impact: f64, service: &str) -> Value {
    json!({
        "AnomalyId": id,
        "AnomalyStartDate": day(-6),
        "AnomalyEndDate": day(-4),
        "DimensionValue": service,
        "RootCauses": [{
            "Service": service,
            "Region": "eu-west-1",
            "LinkedAccount": "111122223333",
            "LinkedAccountName": "payments-prod",
            "UsageType": "EUW1-NatGateway-Bytes",
            "Impact": {"Contribution": impact * 0.9}
        }],
        "AnomalyScore": {"MaxScore": 0.92, "CurrentScore": 0.41},
        "Impact": {
            "MaxImpact": impact / 2.0,
            "TotalImpact": impact,
            "TotalActualSpend": impact + 100.0,
            "TotalExpectedSpend": 100.0,
            "TotalImpactPercentage": impact
        },
        "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/0f8a2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
        "Feedback": "NO"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomalies_with_filters_and_paging() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |op, body| {
        assert_eq!(op, "GetAnomalies");
        match body.get("NextPageToken").and_then(Value::as_str) {
            None => (
                200,
                json!({
                    "Anomalies": [
                        anomaly("a-small", 120.5, "Amazon Virtual Private Cloud"),
                        anomaly("a-large", 2450.75, "Amazon Elastic Compute Cloud - Compute"),
                        anomaly("a-medium", 640.0, "AWS Lambda"),
                    ],
                    "NextPageToken": "anomalies-page-2"
                }),
            ),
            Some("anomalies-page-2") => (
                200,
                json!({"Anomalies": [anomaly("a-next", 90.0, "Amazon DynamoDB")]}),
            ),
            Some(other) => ce_error("InvalidNextTokenException", &format!("bad token {other}")),
        }
    })
    .await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let monitor = "arn:aws:ce::123456789012:anomalymonitor/0f8a2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c";
    let args =
        json!({"limit": 2, "min_total_impact": 50, "feedback": "no", "monitor_arn": monitor});
    let r = ok(&c, "costs_get_anomalies", args.clone()).await;
    let a = r["anomalies"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["anomaly_id"], "a-large", "largest impact first");
    assert_eq!(a[1]["anomaly_id"], "a-medium");
    assert_eq!(a[0]["total_impact"], 2450.75);
    assert_eq!(a[0]["total_expected_spend"], 100.0);
    assert_eq!(a[0]["max_score"], 0.92);
    assert_eq!(
        a[0]["dimension_value"],
        "Amazon Elastic Compute Cloud - Compute"
    );
    assert_eq!(
        a[0]["root_causes"][0]["usage_type"],
        "EUW1-NatGateway-Bytes"
    );
    assert_eq!(
        a[0]["root_causes"][0]["linked_account_name"],
        "payments-prod"
    );
    assert_eq!(a[0]["feedback"], "NO");
    assert_eq!(a[0]["monitor_arn"], monitor);
    assert_eq!(r["truncated"], true);
    assert_eq!(r["next_cursor"], "2:");
    assert_eq!(r["start"], day(-30).as_str());
    assert_eq!(r["end"], day(0).as_str());
    let sent = &stub.requests("GetAnomalies")[0].body;
    assert_eq!(
        sent["DateInterval"],
        json!({"StartDate": day(-30), "EndDate": day(0)})
    );
    assert_eq!(
        sent["TotalImpact"]["NumericOperator"],
        "GREATER_THAN_OR_EQUAL"
    );
    assert_eq!(sent["TotalImpact"]["StartValue"].as_f64(), Some(50.0));
    assert!(sent["TotalImpact"].get("EndValue").is_none(), "{sent}");
    assert_eq!(sent["Feedback"], "NO");
    assert_eq!(sent["MonitorArn"], monitor);
    assert_eq!(sent["MaxResults"], 100);

    // The rest of the first Cost Explorer page comes from the cache.
    let mut next = args.clone();
    next["cursor"] = r["next_cursor"].clone();
    let r = ok(&c, "costs_get_anomalies", next).await;
    assert_eq!(r["anomalies"][0]["anomaly_id"], "a-small");
    assert_eq!(r["cache"]["from_cache"], true);
    assert_eq!(r["next_cursor"], "0:anomalies-page-2");
    assert_eq!(stub.ce_count(), 1, "no new request inside a cached page");

    // Then Cost Explorer's next page, with its token.
    let mut next = args.clone();
    next["cursor"] = r["next_cursor"].clone();
    let r = ok(&c, "costs_get_anomalies", next).await;
    assert_eq!(r["anomalies"][0]["anomaly_id"], "a-next");
    assert_eq!(r["truncated"], false);
    assert!(r.get("next_cursor").is_none());
    let sent = &stub.requests("GetAnomalies")[1].body;
    assert_eq!(sent["NextPageToken"], "anomalies-page-2");

    // A token Cost Explorer no longer knows: the hint says to start over.
    let mut stale = args;
    stale["cursor"] = json!("0:expired");
    let t = err(&c, "costs_get_anomalies", stale).await;
    assert!(t.contains("InvalidNextTokenException"), "{t}");
    assert!(t.contains("without `cursor`"), "{t}");
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dimension_values() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |op, _| {
        assert_eq!(op, "GetDimensionValues");
        (
            200,
            json!({
                "DimensionValues": [
                    {"Value": "111122223333", "Attributes": {"description": "payments-prod"}},
                    {"Value": "444455556666", "Attributes": {"description": "search-prod"}},
                    {"Value": "777788889999", "Attributes": {"description": "data-prod"}}
                ],
                "ReturnSize": 3,
                "TotalSize": 3
            }),
        )
    })
    .await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let r = ok(
        &c,
        "costs_get_dimension_values",
        json!({"dimension": "linked_account", "search_string": "prod", "limit": 2,
               "filter": {"dimensions": {"SERVICE": ["Amazon Simple Storage Service"]}}}),
    )
    .await;
    assert_eq!(r["dimension"], "LINKED_ACCOUNT");
    assert_eq!(
        r["values"][0],
        json!({"value": "111122223333", "attributes": {"description": "payments-prod"}})
    );
    assert_eq!(r["values"].as_array().unwrap().len(), 2);
    assert_eq!(r["total_size"], 3);
    assert_eq!(r["truncated"], true);
    assert_eq!(r["start"], day(-30).as_str());
    let sent = &stub.requests("GetDimensionValues")[0].body;
    assert_eq!(sent["Dimension"], "LINKED_ACCOUNT");
    assert_eq!(sent["Context"], "COST_AND_USAGE");
    assert_eq!(sent["SearchString"], "prod");
    assert_eq!(
        sent["TimePeriod"],
        json!({"Start": day(-30), "End": day(0)})
    );
    assert_eq!(sent["Filter"]["Dimensions"]["Key"], "SERVICE");

    let r = ok(
        &c,
        "costs_get_dimension_values",
        json!({"dimension": "linked_account", "search_string": "prod", "limit": 2,
               "filter": {"dimensions": {"SERVICE": ["Amazon Simple Storage Service"]}},
               "cursor": r["next_cursor"]}),
    )
    .await;
    assert_eq!(
        r["values"],
        json!([{"value": "777788889999", "attributes": {"description": "data-prod"}}])
    );
    assert_eq!(r["truncated"], false);
    assert_eq!(r["cache"]["from_cache"], true);
    assert_eq!(stub.ce_count(), 1);
    ct.cancel();
}

/// GetCostAndUsage pages: 6 rows then 2 (two Cost Explorer pages); four rows a page.
fn paged_usage(body: &Value) -> (u16, Value) {
    let (d1, d2, d3, d4, d5) = (day(-5), day(-4), day(-3), day(-2), day(-1));
    let groups = [
        ("Amazon Elastic Compute Cloud - Compute", "10.5"),
        ("Amazon Simple Storage Service", "0.25"),
    ];
    match body.get("NextPageToken").and_then(Value::as_str) {
        None => (
            200,
            json!({
                "ResultsByTime": [
                    period_by_service(&d1, &d2, &groups, false),
                    period_by_service(&d2, &d3, &groups, false),
                    period_by_service(&d3, &d4, &groups, false),
                ],
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                "DimensionValueAttributes": [],
                "NextPageToken": "cau-page-2"
            }),
        ),
        Some(_) => (
            200,
            json!({
                "ResultsByTime": [period_by_service(&d4, &d5, &groups, true)],
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                "DimensionValueAttributes": []
            }),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_and_usage_pages_and_truncation() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |op, body| {
        assert_eq!(op, "GetCostAndUsage");
        paged_usage(body)
    })
    .await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let base = json!({
        "start": day(-5), "end": day(-1), "group_by": ["service"], "limit": 4,
        "filter": {"tags": {"team": ["payments"], "owner": []}, "exclude": {"dimensions": {"RECORD_TYPE": ["Credit"]}}}
    });
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    for _ in 0..5 {
        let mut args = base.clone();
        if let Some(cur) = &cursor {
            args["cursor"] = json!(cur);
        }
        let r = ok(&c, "costs_get_cost_and_usage", args).await;
        let rows = r["rows"].as_array().unwrap();
        assert!(rows.len() <= 4);
        seen.extend(
            rows.iter()
                .map(|row| format!("{}|{}", row["start"], row["keys"][0])),
        );
        cursor = r["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(r["truncated"], cursor.is_some(), "{r}");
        pages.push((
            rows.len(),
            r["cache"]["from_cache"].as_bool().unwrap(),
            cursor.clone(),
        ));
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        pages,
        [
            (4, false, Some("4:".to_owned())),
            (2, true, Some("0:cau-page-2".to_owned())),
            (2, false, None),
        ],
        "4 rows, the rest of Cost Explorer's page from the cache, then its next page"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "every row once: {seen:?}");
    assert_eq!(seen.len(), 8);

    let sent = stub.requests("GetCostAndUsage");
    assert_eq!(sent.len(), 2);
    let first = &sent[0].body;
    assert_eq!(
        first["TimePeriod"],
        json!({"Start": day(-5), "End": day(-1)})
    );
    assert_eq!(first["Granularity"], "DAILY");
    assert_eq!(first["Metrics"], json!(["UnblendedCost"]));
    assert_eq!(
        first["GroupBy"],
        json!([{"Type": "DIMENSION", "Key": "SERVICE"}])
    );
    assert!(first.get("NextPageToken").is_none());
    let and = first["Filter"]["And"].as_array().expect("And");
    assert!(
        and.contains(&json!({"Tags": {"Key": "team", "Values": ["payments"]}})),
        "{and:?}"
    );
    assert!(
        and.contains(&json!({"Tags": {"Key": "owner", "MatchOptions": ["ABSENT"]}})),
        "{and:?}"
    );
    assert!(
        and.contains(&json!({"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit"]}}})),
        "{and:?}"
    );
    assert_eq!(sent[1].body["NextPageToken"], "cau-page-2");
    assert_eq!(
        sent[1].body["Filter"], first["Filter"],
        "the same request, next page"
    );

    // The byte cap ends a page early, says so, and the cursor continues after it.
    let small = backend(
        &stub.endpoint(),
        ADMIN,
        &["--max-output-bytes", "1000"],
        &ct,
    )
    .await;
    let c = client(small).await;
    let mut args = base.clone();
    args["limit"] = json!(100);
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    let n = r["rows"].as_array().unwrap().len();
    assert!((1..6).contains(&n), "{n} rows under the byte cap");
    assert_eq!(r["truncated"], true);
    assert!(r["notes"].to_string().contains("output cap"), "{r}");
    assert_eq!(r["next_cursor"], format!("{n}:"));
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.len() <= 1000, "{} bytes", text.len());
    args["cursor"] = r["next_cursor"].clone();
    let r2 = ok(&c, "costs_get_cost_and_usage", args).await;
    assert_ne!(r2["rows"][0], r["rows"][0]);
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_requests_come_from_the_cache_until_the_ttl() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |_, body| paged_usage(body)).await;
    let args = json!({"start": day(-5), "end": day(-1), "group_by": ["SERVICE"]});

    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["cache"]["from_cache"], false);
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["cache"]["from_cache"], true);
    assert_eq!(
        stub.ce_count(),
        1,
        "the second identical call did not reach Cost Explorer"
    );
    // Different arguments are a different request.
    let mut other = args.clone();
    other["metrics"] = json!(["AmortizedCost"]);
    let r = ok(&c, "costs_get_cost_and_usage", other).await;
    assert_eq!(r["cache"]["from_cache"], false);
    assert_eq!(stub.ce_count(), 2);
    // Spelling does not matter: the request is normalized before the lookup.
    let mut respelled = args.clone();
    respelled["group_by"] = json!(["service"]);
    respelled["granularity"] = json!("daily");
    respelled["metrics"] = json!(["unblended_cost"]);
    let r = ok(&c, "costs_get_cost_and_usage", respelled).await;
    assert_eq!(r["cache"]["from_cache"], true);
    assert_eq!(stub.ce_count(), 2);
    let m = metrics(addr).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("mcp_server_costs_cache_lookups_total")
                && l.ends_with(r#"operation="GetCostAndUsage",result="hit"} 2"#)),
        "{m}"
    );
    assert!(
        m.lines().any(
            |l| l.starts_with("mcp_server_costs_upstream_requests_total")
                && l.ends_with(r#"operation="GetCostAndUsage"} 2"#)
        ),
        "{m}"
    );

    // A short TTL: the answer expires.
    let short = backend(&stub.endpoint(), ADMIN, &["--cache-ttl", "1s"], &ct).await;
    let c = client(short).await;
    let before = stub.ce_count();
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["cache"]["ttl_seconds"], 1);
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["cache"]["from_cache"], true);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["cache"]["from_cache"], false, "expired after the TTL");
    assert_eq!(stub.ce_count(), before + 2);

    // TTL 0: no cache at all.
    let off = backend(&stub.endpoint(), ADMIN, &["--cache-ttl", "0"], &ct).await;
    let c = client(off).await;
    let before = stub.ce_count();
    for _ in 0..2 {
        let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
        assert_eq!(r["cache"]["from_cache"], false);
    }
    assert_eq!(stub.ce_count(), before + 2);
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_request() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |_, _| (200, json!({}))).await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let usage = "costs_get_cost_and_usage";
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            usage,
            json!({"start": day(-1), "end": day(-5)}),
            &[
                "invalid argument `end`",
                "must be after the start",
                "exclusive",
            ],
        ),
        (
            usage,
            json!({"start": day(-1), "end": day(-1)}),
            &["must be after the start"],
        ),
        (
            usage,
            json!({"granularity": "WEEKLY"}),
            &["invalid argument `granularity`", "DAILY, MONTHLY or HOURLY"],
        ),
        (
            usage,
            json!({"granularity": "HOURLY", "start": day(-20), "end": day(-19)}),
            &["HOURLY data covers only the last 14 days", "use DAILY"],
        ),
        (
            usage,
            json!({"end": month(2)}),
            &["first day of next month"],
        ),
        (
            usage,
            json!({"start": "2001-01-01", "end": day(0), "granularity": "MONTHLY"}),
            &["38 months"],
        ),
        (
            usage,
            json!({"start": "last tuesday"}),
            &["invalid argument `start`", "YYYY-MM-DD"],
        ),
        (
            usage,
            json!({"group_by": ["COLOR"]}),
            &[
                "invalid argument `group_by`",
                "cannot group by `COLOR`",
                "SERVICE",
            ],
        ),
        (
            usage,
            json!({"group_by": ["SERVICE", "REGION", "tag:team"]}),
            &["at most two"],
        ),
        (
            usage,
            json!({"metrics": ["Dollars"]}),
            &["invalid argument `metrics`", "UnblendedCost"],
        ),
        (
            usage,
            json!({"filter": {"dimensions": {"COLOUR": ["red"]}}}),
            &["unknown dimension `COLOUR`"],
        ),
        (
            usage,
            json!({"filter": {"dimensions": {"SERVICE": []}}}),
            &["has no values", "costs_get_dimension_values"],
        ),
        (usage, json!({"limit": 0}), &["invalid argument `limit`"]),
        (
            usage,
            json!({"cursor": "not-ours"}),
            &["invalid argument `cursor`"],
        ),
        (
            "costs_get_cost_forecast",
            json!({"granularity": "HOURLY"}),
            &["DAILY or MONTHLY"],
        ),
        (
            "costs_get_cost_forecast",
            json!({"start": day(-1)}),
            &["starts today", "costs_get_cost_and_usage"],
        ),
        (
            "costs_get_cost_forecast",
            json!({"granularity": "DAILY", "end": "today+4m"}),
            &["3 months ahead", "MONTHLY"],
        ),
        (
            "costs_get_cost_forecast",
            json!({"metric": "UsageQuantity"}),
            &["invalid argument `metric`"],
        ),
        (
            "costs_get_cost_forecast",
            json!({"prediction_interval_level": 100}),
            &["51 to 99"],
        ),
        (
            "costs_get_anomalies",
            json!({"start": day(-1), "end": day(-3)}),
            &["must not be before the start"],
        ),
        (
            "costs_get_anomalies",
            json!({"feedback": "maybe"}),
            &["YES, NO or PLANNED_ACTIVITY"],
        ),
        (
            "costs_get_anomalies",
            json!({"monitor_arn": "monitor-1"}),
            &["not an anomaly monitor ARN"],
        ),
        (
            "costs_get_anomalies",
            json!({"min_total_impact": -5}),
            &["non-negative"],
        ),
        (
            "costs_get_dimension_values",
            json!({"dimension": "FLAVOR"}),
            &["unknown dimension `FLAVOR`", "LINKED_ACCOUNT"],
        ),
    ];
    for (tool, args, wants) in cases {
        let t = err(&c, tool, args.clone()).await;
        for w in wants {
            assert!(t.contains(w), "{tool} {args}: `{w}` not in: {t}");
        }
    }
    // Misspelled argument names are refused, not ignored (an ignored filter would be a wrong total).
    let r = c
        .call_tool(
            rmcp::model::CallToolRequestParams::new("costs_get_cost_and_usage").with_arguments(
                json!({"groupby": ["SERVICE"]})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await;
    match r {
        Err(e) => assert!(e.to_string().contains("groupby"), "{e}"),
        Ok(r) => assert_eq!(r.is_error, Some(true), "{r:?}"),
    }
    assert_eq!(
        stub.ce_count(),
        0,
        "nothing was sent to (and billed by) Cost Explorer"
    );
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_explorer_errors_are_actionable() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |op, _| match op {
        "GetCostAndUsage" => ce_error("LimitExceededException", "Rate exceeded"),
        "GetCostForecast" => ce_error(
            "DataUnavailableException",
            "Insufficient amount of historical data to generate forecast.",
        ),
        "GetDimensionValues" => (
            400,
            json!({"__type": "AccessDeniedException", "Message": "User not enabled for cost explorer access"}),
        ),
        "GetAnomalies" => (
            400,
            json!({"__type": "AccessDeniedException", "Message": "User: arn:aws:iam::123456789012:user/mcp-costs is not authorized to perform: ce:GetAnomalies on resource: arn:aws:ce:us-east-1:123456789012:/GetAnomalies"}),
        ),
        _ => (500, json!({})),
    })
    .await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    let c = client(addr).await;

    // Throttling: the SDK retries, then the agent is told to wait and retry.
    let t = err(&c, "costs_get_cost_and_usage", json!({})).await;
    assert!(
        t.contains("GetCostAndUsage (ce:GetCostAndUsage) failed"),
        "{t}"
    );
    assert!(t.contains("throttled"), "{t}");
    assert!(
        t.contains("LimitExceededException") && t.contains("Rate exceeded"),
        "{t}"
    );
    assert!(t.contains("wait a few seconds, then retry"), "{t}");
    let tries = stub.requests("GetCostAndUsage").len();
    assert!(tries >= 2, "the SDK retried ({tries})");
    // Failures are not cached: the next call asks again.
    err(&c, "costs_get_cost_and_usage", json!({})).await;
    assert!(stub.requests("GetCostAndUsage").len() > tries);

    let t = err(&c, "costs_get_cost_forecast", json!({})).await;
    assert!(t.contains("DataUnavailableException"), "{t}");
    assert!(t.contains("hint: Cost Explorer has no data"), "{t}");

    let t = err(
        &c,
        "costs_get_dimension_values",
        json!({"dimension": "SERVICE"}),
    )
    .await;
    assert!(
        t.contains("Cost Explorer is not enabled for this account"),
        "{t}"
    );

    let t = err(&c, "costs_get_anomalies", json!({})).await;
    assert!(
        t.contains("permission denied: AWS refused GetAnomalies (AccessDeniedException)"),
        "{t}"
    );
    assert!(t.contains("the IAM permission ce:GetAnomalies"), "{t}");
    ct.cancel();
}

/// `--role-arn`: the backend assumes the role (STS AssumeRole with the pod's credentials) and
/// signs its Cost Explorer requests with the role's temporary credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_arn_signs_with_the_assumed_role() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |_, _| {
        (
            200,
            json!({"DimensionValues": [], "ReturnSize": 0, "TotalSize": 0}),
        )
    })
    .await;
    let role = "arn:aws:iam::123456789012:role/mcp-costs-readonly";
    let addr = backend(
        &stub.endpoint(),
        ADMIN,
        &[
            "--role-arn",
            role,
            "--role-session-name",
            "incident-42",
            "--external-id",
            "ext-7",
        ],
        &ct,
    )
    .await;
    let c = client(addr).await;
    let r = ok(
        &c,
        "costs_get_dimension_values",
        json!({"dimension": "SERVICE"}),
    )
    .await;
    assert_eq!(r["values"], json!([]));
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .contains("no SERVICE values"),
        "{r}"
    );
    let assumed = stub.requests("sts:AssumeRole");
    assert_eq!(assumed.len(), 1, "one AssumeRole");
    assert_eq!(assumed[0].body["RoleArn"], role);
    assert_eq!(assumed[0].body["RoleSessionName"], "incident-42");
    assert_eq!(assumed[0].body["ExternalId"], "ext-7");
    assert!(
        assumed[0].headers["authorization"].contains(&format!("Credential={}/", ADMIN.0)),
        "AssumeRole is signed with the pod's own credentials"
    );
    let call = &stub.requests("GetDimensionValues")[0];
    assert!(
        call.headers["authorization"].contains(&format!("Credential={ROLE_KEY}/")),
        "{:?}",
        call.headers
    );
    assert_eq!(call.headers["x-amz-security-token"], ROLE_TOKEN);
    assert!(call.headers["authorization"].contains("/us-east-1/ce/aws4_request"));
    ct.cancel();
}

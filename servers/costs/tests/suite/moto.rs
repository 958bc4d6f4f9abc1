//! costs_get_cost_and_usage against moto's Cost Explorer (moto 5.2.5 implements only
//! GetCostAndUsage; answers are seeded through `/moto-api/static/ce/cost-and-usage-results`):
//! grouping by a dimension, by two keys (an account and a tag), filters, several metrics,
//! numbers out of Cost Explorer's strings, and the cache flag.

use crate::common;
use crate::support::{MOTO_CE, backend, day, month, period_by_service, seed_moto};

use common::{ADMIN, client, ok, shared};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_and_usage_grouped_by_service_with_a_filter() {
    let moto = shared();
    let _one_at_a_time = MOTO_CE.lock().await;
    let ct = CancellationToken::new();
    let (d1, d2, d3) = (day(-3), day(-2), day(-1));
    seed_moto(
        &moto.endpoint,
        vec![json!({
            "ResultsByTime": [
                period_by_service(&d1, &d2, &[("Amazon Elastic Compute Cloud - Compute", "120.4411"), ("Amazon Simple Storage Service", "3.0101516483")], false),
                period_by_service(&d2, &d3, &[("Amazon Elastic Compute Cloud - Compute", "131.5589"), ("Amazon Simple Storage Service", "2.9898483517")], true),
            ],
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "DimensionValueAttributes": []
        })],
    )
    .await;
    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let args = json!({
        "start": d1, "end": d3, "granularity": "daily",
        "group_by": ["SERVICE"],
        "filter": {
            "dimensions": {"REGION": ["eu-west-1"]},
            "exclude": {"dimensions": {"RECORD_TYPE": ["Credit", "Refund"]}}
        }
    });
    let r = ok(&c, "costs_get_cost_and_usage", args.clone()).await;
    assert_eq!(r["start"], d1.as_str());
    assert_eq!(r["end"], d3.as_str());
    assert_eq!(r["granularity"], "DAILY");
    assert_eq!(r["metrics"], json!(["UnblendedCost"]));
    assert_eq!(r["group_by"], json!(["SERVICE"]));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{r}");
    assert_eq!(rows[0]["start"], d1.as_str());
    assert_eq!(
        rows[0]["keys"],
        json!(["Amazon Elastic Compute Cloud - Compute"])
    );
    assert_eq!(
        rows[0]["metrics"]["UnblendedCost"],
        json!({"amount": 120.4411, "unit": "USD"}),
        "amounts are numbers"
    );
    assert_eq!(rows[1]["metrics"]["UnblendedCost"]["amount"], 3.0101516483);
    assert_eq!(rows[2]["estimated"], true);
    assert!(rows[0].get("estimated").is_none());
    assert_eq!(r["estimated"], true);
    assert_eq!(
        r["page_totals"]["UnblendedCost"],
        json!({"amount": 258.0, "unit": "USD"})
    );
    assert_eq!(
        r["top_groups"][0],
        json!({"keys": ["Amazon Elastic Compute Cloud - Compute"], "amount": 252.0, "unit": "USD"})
    );
    assert_eq!(r["top_groups"][1]["amount"], 6.0);
    assert_eq!(r["truncated"], false);
    assert!(r.get("next_cursor").is_none());
    assert_eq!(r["cache"]["from_cache"], false);
    assert_eq!(r["cache"]["ttl_seconds"], 300);

    // The same question again: from memory, the same answer.
    let again = ok(&c, "costs_get_cost_and_usage", args).await;
    assert_eq!(again["cache"]["from_cache"], true);
    assert_eq!(again["rows"], r["rows"]);
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_and_usage_by_account_and_tag_and_ungrouped_months() {
    let moto = shared();
    let _one_at_a_time = MOTO_CE.lock().await;
    let ct = CancellationToken::new();
    let (m0, m1, m2) = (month(-2), month(-1), month(0));
    seed_moto(
        &moto.endpoint,
        vec![
            json!({
                "ResultsByTime": [{
                    "TimePeriod": {"Start": m1, "End": m2},
                    "Total": {},
                    "Groups": [
                        {"Keys": ["111122223333", "team$payments"], "Metrics": {
                            "AmortizedCost": {"Amount": "812.25", "Unit": "USD"},
                            "UsageQuantity": {"Amount": "1440", "Unit": "N/A"}}},
                        {"Keys": ["111122223333", "team$"], "Metrics": {
                            "AmortizedCost": {"Amount": "97.5", "Unit": "USD"},
                            "UsageQuantity": {"Amount": "12.5", "Unit": "N/A"}}},
                        {"Keys": ["444455556666", "team$search"], "Metrics": {
                            "AmortizedCost": {"Amount": "1203.1", "Unit": "USD"},
                            "UsageQuantity": {"Amount": "3000", "Unit": "N/A"}}}
                    ],
                    "Estimated": false
                }],
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": "team"}],
                "DimensionValueAttributes": [
                    {"Value": "111122223333", "Attributes": {"description": "payments-prod"}},
                    {"Value": "444455556666", "Attributes": {"description": "search-prod"}}
                ]
            }),
            json!({
                "ResultsByTime": [
                    {"TimePeriod": {"Start": m0, "End": m1}, "Total": {"UnblendedCost": {"Amount": "2010.334", "Unit": "USD"}}, "Groups": [], "Estimated": false},
                    {"TimePeriod": {"Start": m1, "End": m2}, "Total": {"UnblendedCost": {"Amount": "2112.85", "Unit": "USD"}}, "Groups": [], "Estimated": false}
                ],
                "DimensionValueAttributes": []
            }),
        ],
    )
    .await;
    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;

    let r = ok(
        &c,
        "costs_get_cost_and_usage",
        json!({
            "start": m1, "end": m2, "granularity": "MONTHLY",
            "metrics": ["amortized_cost", "USAGE_QUANTITY"],
            "group_by": ["LINKED_ACCOUNT", "tag:team"],
            "filter": {"tags": {"env": ["prod"]}}
        }),
    )
    .await;
    assert_eq!(r["metrics"], json!(["AmortizedCost", "UsageQuantity"]));
    assert_eq!(r["group_by"], json!(["LINKED_ACCOUNT", "tag:team"]));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{r}");
    assert_eq!(
        rows[0]["keys"],
        json!(["111122223333", "payments"]),
        "tag key$ prefix dropped"
    );
    assert_eq!(rows[1]["keys"], json!(["111122223333", ""]));
    assert_eq!(rows[0]["metrics"]["AmortizedCost"]["amount"], 812.25);
    assert_eq!(rows[0]["metrics"]["UsageQuantity"]["amount"], 1440.0);
    assert_eq!(
        r["key_attributes"]["111122223333"]["description"],
        "payments-prod"
    );
    assert_eq!(
        r["top_groups"][0]["keys"],
        json!(["444455556666", "search"])
    );
    assert_eq!(r["page_totals"]["AmortizedCost"]["amount"], 2112.85);
    let notes = r["notes"].to_string();
    assert!(notes.contains("costs without that tag"), "{notes}");
    assert!(
        notes.contains("UsageQuantity adds usage of every unit"),
        "{notes}"
    );

    // Ungrouped: one row per month, the totals.
    let r = ok(
        &c,
        "costs_get_cost_and_usage",
        json!({"start": "month-start-2m", "end": "month-start", "granularity": "MONTHLY"}),
    )
    .await;
    assert_eq!(r["start"], m0.as_str());
    assert_eq!(r["end"], m2.as_str());
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    assert!(rows[0].get("keys").is_none());
    assert_eq!(rows[0]["metrics"]["UnblendedCost"]["amount"], 2010.334);
    assert_eq!(r["page_totals"]["UnblendedCost"]["amount"], 4123.184);
    assert!(r.get("top_groups").is_none());
    ct.cancel();
}

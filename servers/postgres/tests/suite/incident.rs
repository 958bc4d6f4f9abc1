//! The seed's incident, recreated on a cluster of its own (this test binary starts one):
//! `max_connections = 100` with 98 connections active, and a slow `SELECT ... JOIN ...` that
//! pg_stat_statements reports. `postgres_diagnostics` must say "98 active of 100" and name the
//! statement with its `mean_ms`.
//!
//! How the numbers come out: max_connections = 100 and superuser_reserved_connections = 3, so
//! non-superusers get at most 97 slots. The backend connects as `mcp_ro` first (pool of one,
//! warmed by a readiness check), then 97 superuser sessions run `pg_sleep` (superusers may use
//! the reserved slots). While the diagnostics run, the tool's own session is active too:
//! 97 + 1 = 98 active client connections of 100.

use crate::common;

use std::time::Duration;

use common::{client, fresh_db_on, incident_cluster, serve};
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

const SLOW_JOIN: &str = "SELECT i.name, sum(o.qty) AS sold
     FROM items i JOIN orders o ON o.item_id = i.id CROSS JOIN pg_sleep(0.3)
     GROUP BY i.name";

#[tokio::test]
async fn diagnostics_report_the_seed_incident() {
    let c = incident_cluster();
    let name = fresh_db_on(c, "incident").await;
    let served = serve(
        &c.url_as("mcp_ro", &name),
        &["--pool-size", "1", "--env", "production"],
    )
    .await;
    // The backend's one connection is open before the slots run out.
    served.handler.db().ping().await.expect("backend connects");

    let mut admin = c.admin(&name).await;
    admin
        .execute("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset statistics");
    for _ in 0..3 {
        admin.execute(SLOW_JOIN).await.expect("slow join");
    }
    admin.close().await.ok();

    // 97 sessions running a long query.
    let mut sleepers = Vec::new();
    for _ in 0..97 {
        let url = c.url(&name);
        sleepers.push(tokio::spawn(async move {
            let mut s = PgConnection::connect(&url).await.expect("sleeper connects");
            let _ = s
                .execute("SELECT pg_sleep(600) /* incident sleeper */")
                .await;
        }));
    }
    let mut watcher = c.admin("postgres").await;
    let mut ready = false;
    for _ in 0..300 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%incident sleeper%' AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("count");
        if n == 97 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "97 sleepers running");
    // The watcher leaves, so only the sleepers and the backend's session remain.
    watcher.close().await.ok();

    let cl = client(served.addr).await;
    let r = cl
        .call_tool(
            CallToolRequestParams::new("postgres_diagnostics")
                .with_arguments(json!({}).as_object().cloned().unwrap()),
        )
        .await
        .expect("call");
    assert_eq!(r.is_error, Some(false), "{:?}", r.content);
    let d = r.structured_content.expect("structured");
    assert_eq!(d["active_connections"], 98, "{d:#}");
    assert_eq!(d["max_connections"], 100);
    assert_eq!(d["connections"]["total"], 98);
    assert_eq!(d["connections"]["used_pct"], 98.0);
    assert_eq!(d["connections"]["superuser_reserved_connections"], 3);
    let slow = d["slow_queries"].as_array().expect("slow_queries");
    let join = slow
        .iter()
        .find(|q| {
            let t = q["query"].as_str().unwrap_or("");
            t.contains("JOIN orders") && t.contains("pg_sleep")
        })
        .unwrap_or_else(|| panic!("the slow join is reported: {slow:#?}"));
    assert_eq!(join["calls"], 3);
    let mean = join["mean_ms"].as_f64().unwrap();
    assert!((300.0..2000.0).contains(&mean), "mean_ms {mean}");
    assert_eq!(
        slow[0]["query"], join["query"],
        "the slowest statement comes first"
    );
    let findings = d["findings"].to_string();
    assert!(findings.contains("98 of 100"), "{findings}");
    cl.cancel().await.ok();

    // Clean up the sleepers.
    let mut admin = c.admin("postgres").await;
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%incident sleeper%' AND pid <> pg_backend_pid()")
        .await
        .expect("terminate sleepers");
    for s in sleepers {
        let _ = s.await;
    }
    admin.close().await.ok();
}

//! A short load run through the gateway to two backends: no errors, and every request audited
//! exactly once. The long run (1k req/s for 60 s, memory watched) is `mcp-load`; see
//! docs/testing.md.

use std::time::Duration;

use integration_tests::harness::Stack;
use integration_tests::load::{LoadPlan, run};

#[tokio::test(flavor = "multi_thread")]
async fn every_request_succeeds_and_is_audited_once() {
    let stack = Stack::start().await;
    let plan = LoadPlan {
        gateway: format!("http://{}", stack.gateway_addr),
        backends: vec!["example-ro".into(), "example-rw".into()],
        token: stack.token("writer").to_owned(),
        rate: 400,
        duration: Duration::from_secs(3),
        concurrency: 64,
    };
    let report = run(&plan).await;
    assert_eq!(report.errors, 0, "first error: {:?}", report.first_error);
    assert_eq!(report.ok, 1200);
    let lines = stack.audit.wait_for(1200, Duration::from_secs(20)).await;
    assert_eq!(
        lines.len(),
        1200,
        "one audit line per request, no more, no less"
    );
    let mut ids: Vec<u64> = lines
        .iter()
        .map(|l| l["jsonrpc_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1200, "each request exactly once");
    assert!(
        lines
            .iter()
            .all(|l| l["outcome"] == "ok" && l["tool_name"] == "example_echo")
    );
    let ro = lines
        .iter()
        .filter(|l| l["backend"] == "example-ro")
        .count();
    assert_eq!(ro, 600, "spread over both backends");
}

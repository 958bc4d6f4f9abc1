//! The seed's incident end to end on the local stack of `scripts/demo` (real PostgreSQL, real
//! Prometheus, moto, the Kubernetes API fakes, every backend as a process, the gateway): the
//! scripted agent's findings, the proposed fix as a dry run, where the agent's access ends, the
//! same flow with the official Python MCP SDK, and the audit line of every call.

use std::collections::BTreeMap;
use std::process::Command;

use integration_tests::agent::{self, Investigation, Setup};
use integration_tests::stack::{self, LocalStack, Options};
use serde_json::Value;

fn setup(s: &LocalStack) -> Setup {
    Setup {
        gateway: s.gateway_url.clone(),
        agent_key: s.agent_key.clone(),
        agent_user: stack::AGENT_USER.into(),
        operator_key: s.operator_key.clone(),
        operator_user: stack::OPERATOR_USER.into(),
        gitops_repo: stack::GITOPS_REPO.into(),
        gitops_path: stack::GITOPS_MANIFEST.into(),
    }
}

/// (user, backend, tool) -> how many tools/call lines the audit holds.
fn tool_calls(lines: &[Value]) -> BTreeMap<(String, String, String), usize> {
    let mut m = BTreeMap::new();
    for l in lines.iter().filter(|l| l["type"] == "mcp_tool_call") {
        let k = (
            l["user"].as_str().unwrap_or("").to_owned(),
            l["backend"].as_str().unwrap_or("").to_owned(),
            l["tool_name"].as_str().unwrap_or("").to_owned(),
        );
        *m.entry(k).or_default() += 1;
    }
    m
}

fn check_findings(inv: &Investigation) {
    assert_eq!(inv.namespace, "production");
    assert_eq!(inv.app, "payment-service");
    assert_eq!(inv.restarts, 47, "{inv:#?}");
    assert!(inv.oom_killed_events >= 47, "{}", inv.oom_killed_events);
    assert!(
        (450e6..=520e6).contains(&inv.memory_usage_bytes),
        "~500 MB: {}",
        inv.memory_usage_bytes
    );
    assert_eq!(inv.memory_limit, "512Mi");
    assert_eq!(inv.replicas, 3);
    assert_eq!(inv.db_pool_size, 50);
    assert!(
        inv.pool_exhausted_lines
            .iter()
            .any(|l| l.contains("DB connection pool exhausted")),
        "{:?}",
        inv.pool_exhausted_lines
    );
    assert_eq!(inv.db_connections_in_use, 98);
    assert_eq!(inv.db_max_connections, 100);
    assert!(
        inv.slow_query.contains("JOIN customers"),
        "{}",
        inv.slow_query
    );
    assert!(
        (250.0..5000.0).contains(&inv.slow_query_mean_ms),
        "mean_ms {}",
        inv.slow_query_mean_ms
    );
    assert_eq!(inv.root_cause.len(), 2, "{:#?}", inv.root_cause);
    // Found through Argo CD, not configured.
    assert_eq!(inv.gitops_repo, stack::GITOPS_REPO);
    assert_eq!(inv.gitops_path, stack::GITOPS_MANIFEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_flow_end_to_end() {
    let s = LocalStack::start(Options::default())
        .await
        .expect("the local stack starts");
    let setup = setup(&s);

    // The Rust agent.
    let inv = agent::investigate(&setup).await.expect("investigation");
    check_findings(&inv);

    // The fix: a dry run of github_propose_change with the operator's key; nothing written.
    let fix = inv.fix.as_ref().expect("a proposed fix");
    assert!(fix.dry_run);
    assert_eq!(fix.result["dry_run"], true, "{:#}", fix.result);
    let diff = fix.result.to_string();
    assert!(diff.contains("512Mi") && diff.contains("1Gi"), "{diff}");
    assert!(
        diff.contains("DB_POOL_SIZE") || diff.contains("\\\"30\\\""),
        "{diff}"
    );
    let writes: Vec<_> = s
        .github
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(writes.is_empty(), "a dry run writes nothing: {writes:?}");

    // Access: eks_delete_pod is not listed for the agent, refused at the gateway on eks-rw,
    // and refused by the RO pod on eks-ro-prod.
    assert_eq!(inv.access_checks.len(), 3, "{:#?}", inv.access_checks);
    assert!(
        inv.access_checks.iter().all(|a| a.refused),
        "{:#?}",
        inv.access_checks
    );
    assert_eq!(inv.access_checks[1].layer, "gateway");
    assert!(
        inv.access_checks[1].result.contains("403")
            || inv.access_checks[1].result.contains("Forbidden"),
        "{:#?}",
        inv.access_checks[1]
    );
    // The pod is still there (the production fake never saw a DELETE).
    assert!(
        !s.kube_prod
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE")),
        "{:?}",
        s.kube_prod.requests()
    );

    let report = inv.to_markdown();
    for needle in [
        "# Incident report: payment-service",
        "OOMKilled x",
        "512Mi",
        "DB connection pool exhausted",
        "98 of 100",
        "mean_ms",
        "Proposed fix (dry run, not applied)",
        "refused at the gateway layer",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }

    // The audit: one tools/call line per call the agent made, with the seed's fields.
    let lines = s.audit_lines().await.expect("audit");
    let mut expected = BTreeMap::new();
    for c in &inv.calls {
        *expected
            .entry((c.user.clone(), c.backend.clone(), c.tool.clone()))
            .or_insert(0usize) += 1;
    }
    assert_eq!(tool_calls(&lines), expected, "audit vs calls");
    for l in &lines {
        for field in [
            "type",
            "ts",
            "request_id",
            "user",
            "role",
            "key_id",
            "backend",
            "http_status",
            "outcome",
            "duration_ms",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
        let key_id = l["key_id"].as_str().unwrap_or("");
        assert!(
            key_id.len() == 8 && key_id.chars().all(|c| c.is_ascii_hexdigit()),
            "{l}"
        );
        let role = if l["user"] == stack::AGENT_USER {
            "dev-readonly"
        } else {
            "devops-full"
        };
        assert_eq!(l["role"], role, "{l}");
        if l["type"] == "mcp_tool_call" {
            assert!(
                l["tool_name"].is_string() && l["tool_args"].is_object(),
                "{l}"
            );
        }
    }
    let denial = lines
        .iter()
        .find(|l| l["backend"] == "eks-rw" && l["tool_name"] == "eks_delete_pod")
        .expect("the denial is audited");
    assert_eq!(denial["http_status"], 403);
    assert_eq!(denial["outcome"], "denied");
    assert_eq!(denial["user"], stack::AGENT_USER);
    let ro_prod_delete = lines
        .iter()
        .find(|l| l["backend"] == "eks-ro-prod" && l["tool_name"] == "eks_delete_pod")
        .expect("the pod-layer refusal is audited");
    assert_ne!(ro_prod_delete["outcome"], "ok", "{ro_prod_delete}");
    let proposal = lines
        .iter()
        .find(|l| l["tool_name"] == "github_propose_change")
        .expect("the proposal is audited");
    assert_eq!(proposal["user"], stack::OPERATOR_USER);
    assert_eq!(proposal["outcome"], "ok");
    assert_eq!(proposal["tool_args"]["dry_run"], true);

    // The same flow with the official Python MCP SDK.
    let before = lines.len();
    let venv = std::env::var("MCP_TEST_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/mcp-gateway-tests")
        })
        .join("mcp-python-venv/bin/python");
    if !venv.is_file() {
        let st = Command::new("bash")
            .arg(stack::repo_root().join("scripts/deps.d/60-python-mcp.sh"))
            .status()
            .expect("install the Python MCP SDK");
        assert!(st.success(), "scripts/deps.d/60-python-mcp.sh failed");
    }
    let out = tokio::task::spawn_blocking({
        let gw = s.gateway_url.clone();
        let key = s.agent_key.clone();
        move || {
            Command::new(venv)
                .arg(stack::repo_root().join("scripts/incident-agent.py"))
                .arg(gw)
                .env("MCP_AGENT_KEY", key)
                .output()
        }
    })
    .await
    .expect("join")
    .expect("run the Python agent");
    assert!(
        out.status.success(),
        "python agent: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let py: Value = serde_json::from_slice(&out.stdout).expect("python agent JSON");
    let f = &py["facts"];
    assert_eq!(f["restarts"], inv.restarts, "{py:#}");
    assert_eq!(f["last_termination_reason"], "OOMKilled");
    assert_eq!(f["oom_killed_events"], inv.oom_killed_events);
    assert_eq!(
        f["memory_usage_bytes"].as_f64(),
        Some(inv.memory_usage_bytes)
    );
    assert_eq!(f["memory_limit"], inv.memory_limit.as_str());
    assert_eq!(f["pool_exhausted"], true);
    assert_eq!(f["db_connections_in_use"], inv.db_connections_in_use);
    assert_eq!(f["db_max_connections"], inv.db_max_connections);
    assert_eq!(f["slow_query_has_join"], true);
    assert_eq!(f["delete_listed"], false);
    assert_eq!(f["delete_on_eks_rw_refused"], true);
    assert_eq!(f["delete_on_eks_ro_prod_refused"], true);

    let after = s.audit_lines().await.expect("audit");
    let py_calls = py["calls"].as_array().expect("calls");
    // The SDK opens a session first: on eks-rw its `initialize` is what the gateway refuses
    // (an `mcp_request` line), so that attempt never becomes a tools/call.
    let refused_at_initialize = py_calls
        .iter()
        .filter(|c| c["backend"] == "eks-rw" && c["outcome"] == "refused")
        .count();
    assert_eq!(refused_at_initialize, 1, "{py:#}");
    let new_lines = &after[before..];
    let new_tool_calls = new_lines
        .iter()
        .filter(|l| l["type"] == "mcp_tool_call")
        .count();
    assert_eq!(
        new_tool_calls,
        py_calls.len() - refused_at_initialize,
        "one audit line per Python tools/call"
    );
    assert!(
        new_lines.iter().any(|l| l["type"] == "mcp_request"
            && l["backend"] == "eks-rw"
            && l["http_status"] == 403
            && l["outcome"] == "denied"),
        "the refused initialize on eks-rw is audited"
    );
    assert!(
        after[before..]
            .iter()
            .all(|l| l["user"] == stack::AGENT_USER && l["role"] == "dev-readonly"),
        "the Python run is the agent's"
    );
}

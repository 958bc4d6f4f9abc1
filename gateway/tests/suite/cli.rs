//! The `mcp-gateway` binary: `check`, `keys generate`, and `serve` as a process (audit lines on
//! stdout, graceful exit on SIGTERM with every line flushed).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-gateway");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn check_accepts_a_good_config_and_reports_problems_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "keys_file: /k.json\nbackends:\n  eks-ro: http://mcp-eks-ro:8080/mcp\nroleMapping:\n  dev-readonly: [eks-ro]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 backends, 1 roles)"));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "keys_file: /k.json\nbackends:\n  eks-ro: http://mcp-eks-ro:8080/mcp\n  pg: postgres://db\nroleMapping:\n  dev-readonly:\n    - eks-ro\n    - eks-rw\n  ops:\n    - backend: eks-ro\n      tools: [eks_get_pods, postgres_query]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("line 4: backend `pg`: `postgres://db`: scheme `postgres` is not http"),
        "{text}"
    );
    assert!(
        text.contains("line 8: role `dev-readonly` names backend `eks-rw`"),
        "{text}"
    );
    assert!(
        text.contains("line 11: role `ops`, backend `eks-ro`: unknown tool `postgres_query`"),
        "{text}"
    );
    assert!(text.contains("3 problem(s)"), "{text}");

    let out = Command::new(BIN)
        .args(["check", "--config", "/nonexistent.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn keys_generate_writes_hashes_and_prints_the_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let out = Command::new(BIN)
        .args([
            "keys",
            "generate",
            "--role",
            "dev-readonly",
            "--user",
            "incident-agent-01",
            "--keys-file",
        ])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.trim();
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .unwrap();
    assert_eq!(raw.len(), 32);
    let text = std::fs::read_to_string(&keys).unwrap();
    assert!(!text.contains(token), "the file never holds the key");
    let set = mcp_gateway::keys::KeySet::parse(&text).unwrap();
    let id = set.lookup(&raw).unwrap();
    assert_eq!(
        (&*id.role, &*id.user),
        ("dev-readonly", "incident-agent-01")
    );
    // Bad role names are refused.
    let out = Command::new(BIN)
        .args(["keys", "generate", "--role", "a b", "--user", "u"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_audits_to_stdout_and_drains_on_sigterm() {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let token = Command::new(BIN)
        .args([
            "keys",
            "generate",
            "--role",
            "r",
            "--user",
            "u",
            "--keys-file",
        ])
        .arg(&keys)
        .output()
        .unwrap()
        .stdout;
    let token = String::from_utf8(token).unwrap().trim().to_owned();
    let port = free_port();
    let closed = free_port();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            // Three workers: each request below comes on a connection of its own, so they are
            // served by different workers and still audited once each, in order.
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n  b: http://127.0.0.1:{closed}/mcp\nroleMapping:\n  r: [b]\nlimits:\n  workers: 3\n",
            keys.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        loop {
            if let Ok(r) = c.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for id in 0..5 {
            let r = reqwest::Client::new()
                .post(format!("{base}/mcp/b/mcp"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"b_x","arguments":{{"password":"p"}}}}}}"#))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 502);
        }
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(&l.unwrap()).expect("every stdout line is an audit JSON object")
        })
        .collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert_eq!(lines.len(), 5, "{lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["type"], "mcp_tool_call");
        assert_eq!(l["jsonrpc_id"], i);
        assert_eq!(l["outcome"], "upstream_error");
        assert_eq!(l["http_status"], 502);
        assert_eq!(l["tool_args"]["password"], "[REDACTED]");
        assert!(l["client_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
}

#[test]
fn sigterm_finishes_in_flight_calls_and_refuses_new_ones_with_503() {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A backend whose answer takes 1.5 s.
    let backend = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        let router = axum::Router::new().route(
            "/mcp",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                (
                    [("content-type", "application/json")],
                    r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                )
            }),
        );
        tokio::spawn(async move { axum::serve(l, router).await });
        a
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let token = Command::new(BIN)
        .args([
            "keys",
            "generate",
            "--role",
            "r",
            "--user",
            "u",
            "--keys-file",
        ])
        .arg(&keys)
        .output()
        .unwrap()
        .stdout;
    let token = String::from_utf8(token).unwrap().trim().to_owned();
    let port = free_port();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n  b: http://{backend}/mcp\nroleMapping:\n  r: [b]\nlimits:\n  shutdown_grace: 10s\n",
            keys.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let pid = child.id().to_string();
    let (first, second) = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        let fresh = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        };
        while !fresh()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let call = |c: reqwest::Client| {
            let url = format!("{base}/mcp/b/mcp");
            let token = token.clone();
            async move {
                c.post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }
        };
        let in_flight = tokio::spawn(call(fresh()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let during = call(fresh())
            .await
            .expect("the listener stays open while draining");
        (
            in_flight.await.unwrap().expect("in-flight call answered"),
            during,
        )
    });
    assert_eq!(first, 200, "the in-flight call finished");
    assert_eq!(second, 503, "a new call during the drain is refused");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let statuses: Vec<u64> = lines
        .iter()
        .map(|l| l["http_status"].as_u64().unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
}

#[test]
fn no_secret_reaches_the_audit_or_the_logs() {
    mcp_common::telemetry::install_crypto_provider();
    const SECRETS: &[&str] = &[
        "hunter2-very-secret",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "ghp_SECRETTOKEN123",
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A backend whose results and errors are full of secrets.
    let backend = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        let router = axum::Router::new().route(
            "/mcp",
            axum::routing::post(|body: axum::body::Bytes| async move {
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let leak = "password=hunter2-very-secret key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY token=ghp_SECRETTOKEN123";
                let is_error = req["params"]["name"] == "b_fail";
                let text = if is_error {
                    "connect to postgres://app:hunter2-very-secret@db/x failed: password=hunter2-very-secret aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AKIAIOSFODNN7EXAMPLE".to_owned()
                } else {
                    leak.to_owned()
                };
                let answer = serde_json::json!({"jsonrpc":"2.0","id":req["id"],"result":{
                    "content":[{"type":"text","text":text}],"structuredContent":{"leak":leak},"isError":is_error}});
                ([("content-type", "application/json")], answer.to_string())
            }),
        );
        tokio::spawn(async move { axum::serve(l, router).await });
        a
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let token = Command::new(BIN)
        .args([
            "keys",
            "generate",
            "--role",
            "r",
            "--user",
            "u",
            "--keys-file",
        ])
        .arg(&keys)
        .output()
        .unwrap()
        .stdout;
    let token = String::from_utf8(token).unwrap().trim().to_owned();
    let port = free_port();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n  b: http://{backend}/mcp\nroleMapping:\n  r: [b]\n",
            keys.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    rt.block_on(async {
        let c = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = serde_json::json!({
            "password": "hunter2-very-secret",
            "dsn": "postgres://app:hunter2-very-secret@db/x",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "note": "the key is AKIAIOSFODNN7EXAMPLE",
            "headers": {"Authorization": "Bearer ghp_SECRETTOKEN123"},
            "env": [{"name": "GITHUB_TOKEN", "value": "ghp_SECRETTOKEN123"}],
        });
        for tool in ["b_ok", "b_fail"] {
            let body = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":args}});
            let r = c
                .post(format!("{base}/mcp/b/mcp"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            // The agent itself gets the backend's answer unchanged.
            assert!(r.text().await.unwrap().contains("hunter2-very-secret"));
        }
        // A wrong key and a denied backend are logged too.
        let r = c.post(format!("{base}/mcp/b/mcp")).bearer_auth("AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE").send().await.unwrap();
        assert_eq!(r.status(), 401);
        // The audit writer completes the records (and counts them) shortly after the answers.
        let want = [
            r#"mcp_gateway_tool_calls_total{backend="b",tool="b_ok",outcome="ok"} 1"#,
            r#"mcp_gateway_tool_calls_total{backend="b",tool="b_fail",outcome="tool_error"} 1"#,
            r#"mcp_gateway_requests_total{backend="b",kind="mcp_tool_call",outcome="tool_error"} 1"#,
        ];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
            if want.iter().all(|w| m.contains(w)) {
                break;
            }
            assert!(Instant::now() < deadline, "{want:?} not in {m}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains("[REDACTED]"), "{stdout}");
    assert!(stdout.contains("\"outcome\":\"tool_error\""), "{stdout}");
    for secret in SECRETS.iter().chain([&token.as_str()]) {
        assert!(!stdout.contains(secret), "audit leaks {secret}: {stdout}");
        assert!(!stderr.contains(secret), "logs leak {secret}: {stderr}");
    }
}

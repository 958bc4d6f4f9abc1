//! A backend binary as a process: serves, and on SIGTERM stops accepting while in-flight tool
//! calls finish, then exits cleanly; with one serving thread (the default), with `--threads 2`
//! and with `MCP_THREADS=0` (one per CPU).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-example");

/// The serving threads of a multi-threaded runtime carry this name; the single-threaded
/// runtime serves on the main thread and starts none.
fn worker_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == mcp_common::server::WORKER_THREAD_NAME)
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish() {
    sigterm_scenario(&[], None, |n| n == 0).await;
}

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish_on_two_threads() {
    sigterm_scenario(&["--threads", "2"], None, |n| n == 2).await;
}

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish_on_one_thread_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    sigterm_scenario(&[], Some(("MCP_THREADS", "0")), move |n| n == cpus).await;
}

async fn sigterm_scenario(
    extra: &[&str],
    env: Option<(&str, &str)>,
    workers_ok: impl Fn(usize) -> bool,
) {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--access", "ro"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .env_remove("MCP_THREADS")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "backend did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let workers = worker_threads(child.id());
    assert!(
        workers_ok(workers),
        "{extra:?} {env:?}: {workers} `mcp-worker` threads"
    );
    let call = tokio::spawn({
        let c = c.clone();
        let url = format!("{base}/mcp");
        async move {
            let r = c
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"example_progress","arguments":{"steps":3,"delay_ms":400}}}"#)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let (status, body) = call.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(r#""steps":3"#),
        "the in-flight call completed: {body}"
    );
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        c.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

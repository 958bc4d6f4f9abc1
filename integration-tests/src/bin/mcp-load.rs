//! `mcp-load`: the long load run of the reliability suite. Starts two example backends
//! in-process and the `mcp-gateway` binary as its own process, sends `--rate` tools/call
//! requests per second for `--duration`, counts the gateway's audit lines, and samples its RSS.
//! Fails (exit 1) on any error, any request not audited exactly once, or RSS growth beyond
//! `--max-rss-growth` after the first third of the run (warm-up).
//!
//!   cargo build --release -p mcp-gateway -p integration-tests
//!   target/release/mcp-load --rate 1000 --duration 60s

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use integration_tests::harness;
use integration_tests::load::{LoadPlan, rss_kib, run};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-load",
    about = "Fixed-rate load through the gateway binary"
)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    #[arg(long, default_value = "60s", value_parser = mcp_common::args::parse_duration)]
    duration: Duration,
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// The gateway binary (default: `mcp-gateway` beside this binary).
    #[arg(long)]
    gateway_bin: Option<std::path::PathBuf>,
    /// Largest allowed RSS growth from the early sample to the end, in percent.
    #[arg(long, default_value_t = 25.0)]
    max_rss_growth: f64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    match rt.block_on(load(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-load: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn load(args: Args) -> Result<(), String> {
    let bin = args.gateway_bin.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("mcp-gateway")))
            .unwrap_or_else(|| "mcp-gateway".into())
    });
    let ct = CancellationToken::new();
    let ro = harness::example_backend("ro", None, ct.clone()).await;
    let rw = harness::example_backend("rw", None, ct.clone()).await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let keys = dir.path().join("keys.json");
    let (raw, token) = harness::new_key();
    std::fs::write(
        &keys,
        serde_json::json!({"load": format!("{}:load/load-agent", mcp_gateway::keys::hash_hex(&raw))}).to_string(),
    )
    .map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n  example-ro: http://{ro}/mcp\n  example-rw: http://{rw}/mcp\nroleMapping:\n  load: [example-ro, example-rw]\n",
            keys.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let pid = child.id();
    let audited = Arc::new(AtomicU64::new(0));
    let stdout = child.stdout.take().expect("piped");
    let counter = audited.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with('{') {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    mcp_common::telemetry::install_crypto_provider();
    let probe = reqwest::Client::new();
    while !probe
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the gateway did not become ready".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Sample the gateway's RSS once a second while the load runs.
    let samples = Arc::new(std::sync::Mutex::new(Vec::<(f64, u64)>::new()));
    let sampler = {
        let samples = samples.clone();
        let ct = ct.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                if let Some(kib) = rss_kib(pid) {
                    samples
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((t0.elapsed().as_secs_f64(), kib));
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = ct.cancelled() => break,
                }
            }
        })
    };
    let plan = LoadPlan {
        gateway: base,
        backends: vec!["example-ro".into(), "example-rw".into()],
        token,
        rate: args.rate,
        duration: args.duration,
        concurrency: args.concurrency,
    };
    let report = run(&plan).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ct.cancel();
    let _ = sampler.await;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = reader.join();

    let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let audited = audited.load(Ordering::Relaxed);
    println!(
        "requests        {} ({} ok, {} errors, {} sent late)",
        report.sent, report.ok, report.errors, report.late
    );
    println!(
        "rate            {:.0} req/s over {:.1}s",
        report.achieved_rate(),
        report.elapsed.as_secs_f64()
    );
    println!(
        "latency         p50 {} us, p99 {} us",
        report.percentile_us(50.0),
        report.percentile_us(99.0)
    );
    println!("audit lines     {audited}");
    // Warm-up (connection pools, allocator arenas) is over by a third of the run: from there
    // on a gateway without leaks stays flat.
    let early = samples.get(samples.len() / 3).map(|s| s.1);
    let last = samples.last().map(|s| s.1);
    let max = samples.iter().map(|s| s.1).max();
    println!(
        "gateway RSS     after warm-up {early:?} KiB, max {max:?} KiB, last {last:?} KiB ({} samples)",
        samples.len()
    );

    if report.errors > 0 {
        return Err(format!(
            "{} errors; first: {:?}",
            report.errors, report.first_error
        ));
    }
    if audited != report.sent {
        return Err(format!(
            "{audited} audit lines for {} requests",
            report.sent
        ));
    }
    if let (Some(early), Some(max)) = (early, max) {
        let growth = (max as f64 - early as f64) / early as f64 * 100.0;
        println!(
            "RSS growth      {growth:.1}% (limit {}%)",
            args.max_rss_growth
        );
        if growth > args.max_rss_growth {
            return Err(format!("RSS grew {growth:.1}%"));
        }
    }
    println!("ok");
    Ok(())
}

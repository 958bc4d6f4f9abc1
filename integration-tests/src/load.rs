//! A fixed-rate load generator for the gateway: MCP `tools/call` requests over keep-alive
//! connections, spread over several backends, with every answer checked.
//!
//! The suite runs it briefly (`tests/load.rs`); `mcp-load` runs the long version against the
//! gateway binary and watches its memory (`docs/testing.md`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Gateway base URL, e.g. `http://127.0.0.1:8080`.
    pub gateway: String,
    /// Backends to spread the calls over (round robin).
    pub backends: Vec<String>,
    pub token: String,
    /// Requests per second.
    pub rate: u32,
    pub duration: Duration,
    /// Most requests in flight at once.
    pub concurrency: usize,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    /// Requests that could not be sent on time because `concurrency` were in flight.
    pub late: u64,
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl LoadReport {
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[i.min(v.len() - 1)]
    }

    pub fn achieved_rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `rate` requests per second for `duration` and waits for every answer.
pub async fn run(plan: &LoadPlan) -> LoadReport {
    mcp_common::telemetry::install_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.concurrency)
        .build()
        .expect("HTTP client");
    let slots = Arc::new(tokio::sync::Semaphore::new(plan.concurrency));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let total = u64::from(plan.rate) * plan.duration.as_secs().max(1);
    let interval = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let started = Instant::now();
    let mut late = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        // Open-loop schedule: request i is due at i * interval, whatever happened before.
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                late += 1;
                slots.clone().acquire_owned().await.expect("semaphore open")
            }
        };
        let backend = &plan.backends[(i as usize) % plan.backends.len()];
        let url = format!("{}/mcp/{backend}/mcp", plan.gateway);
        let body = json!({"jsonrpc":"2.0","id":i,"method":"tools/call",
            "params":{"name":"example_echo","arguments":{"message":format!("load {i}")}}})
        .to_string();
        let req = client
            .post(url)
            .bearer_auth(&plan.token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body);
        let (ok, errors, first_error, latencies) = (
            ok.clone(),
            errors.clone(),
            first_error.clone(),
            latencies.clone(),
        );
        tasks.spawn(async move {
            let t = Instant::now();
            let result = match req.send().await {
                Ok(r) if r.status().is_success() => match r.text().await {
                    Ok(text) if text.contains("\"isError\":false") => Ok(()),
                    Ok(text) => Err(format!("unexpected answer: {text}")),
                    Err(e) => Err(format!("body: {e}")),
                },
                Ok(r) => Err(format!("HTTP {}", r.status())),
                Err(e) => Err(format!("send: {e}")),
            };
            let us = t.elapsed().as_micros() as u64;
            match result {
                Ok(()) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    latencies.lock().unwrap_or_else(|p| p.into_inner()).push(us);
                }
                Err(e) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                }
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let latencies_us = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    let first_error = first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    LoadReport {
        sent: total,
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        late,
        latencies_us,
        elapsed,
        first_error,
    }
}

/// Resident set size of a process, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

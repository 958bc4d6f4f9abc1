//! A fixed-rate load generator for the gateway: MCP `tools/call` requests over keep-alive
//! connections, spread over several backends, with every answer checked.
//!
//! The suite runs it briefly (`tests/load.rs`); `mcp-load` runs the long version against the
//! gateway binary and watches its memory (`docs/testing.md`). The benchmark (`bench/`,
//! `docs/benchmarks.md`) drives any MCP endpoint with [`run_calls`]: at a fixed rate or at
//! saturation, direct to a backend, through the gateway or through another proxy.

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
    /// Requests never sent because the run's cut-off came first (the target fell behind).
    pub unsent: u64,
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

    /// Successful answers per second over the run.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One MCP endpoint that a load run calls.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The streamable-HTTP URL, e.g. `http://127.0.0.1:8080/mcp/example-ro/mcp`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// More request headers (e.g. `Mcp-Session-Id`).
    pub headers: Vec<(String, String)>,
}

impl Endpoint {
    pub fn new(url: impl Into<String>, bearer: Option<String>) -> Self {
        Self {
            url: url.into(),
            bearer,
            headers: Vec::new(),
        }
    }
}

/// How requests are paced.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Open loop: request i is due at i / rate seconds, whatever happened before; at most
    /// `concurrency` in flight.
    Rate { per_second: u32, concurrency: usize },
    /// Closed loop: `clients` clients, each sending its next request as soon as the previous
    /// answer is in (keep-alive connections from one pool): the target's throughput.
    Saturate { clients: usize },
}

/// The arguments of request `i`.
pub type ArgsFn = std::sync::Arc<dyn Fn(u64) -> serde_json::Value + Send + Sync>;

/// A `tools/call` load against any MCP endpoint(s).
#[derive(Clone)]
pub struct CallLoad {
    /// Spread round robin.
    pub endpoints: Vec<Endpoint>,
    pub tool: String,
    pub arguments: ArgsFn,
    /// `MCP-Protocol-Version` header.
    pub protocol_version: String,
    pub pace: Pace,
    pub duration: Duration,
    /// Fixed rate: measure latency from the scheduled send time (so time spent waiting for a
    /// free slot when the target falls behind counts, no coordinated omission) instead of
    /// from the actual send.
    pub from_schedule: bool,
    /// Fixed rate: stop sending once the run is this far past `duration`; the requests left
    /// count as [`LoadReport::unsent`]. `None`: send every request, however late.
    pub cutoff: Option<Duration>,
}

impl std::fmt::Debug for CallLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLoad")
            .field("endpoints", &self.endpoints)
            .field("tool", &self.tool)
            .field("protocol_version", &self.protocol_version)
            .field("pace", &self.pace)
            .field("duration", &self.duration)
            .field("from_schedule", &self.from_schedule)
            .field("cutoff", &self.cutoff)
            .finish_non_exhaustive()
    }
}

/// Whether an MCP `tools/call` answer (JSON, or an SSE stream of JSON-RPC messages) is a
/// successful result: a JSON-RPC `result` whose `isError` is not true.
pub fn check_tool_answer(body: &str) -> Result<(), String> {
    let trimmed = body.trim_start();
    let messages: Vec<&str> = if trimmed.starts_with('{') {
        vec![trimmed]
    } else {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| d.starts_with('{'))
            .collect()
    };
    for m in messages.iter().rev() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(m) else {
            continue;
        };
        if let Some(e) = v.get("error") {
            return Err(format!("JSON-RPC error: {e}"));
        }
        if let Some(r) = v.get("result") {
            return if r.get("isError").and_then(serde_json::Value::as_bool) == Some(true) {
                Err(format!("tool error: {}", cut(m, 300)))
            } else {
                Ok(())
            };
        }
    }
    Err(format!(
        "no JSON-RPC result in the answer: {}",
        cut(body, 300)
    ))
}

fn cut(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Counters shared by the requests of one run.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    latencies: std::sync::Mutex<Vec<u64>>,
}

impl Tally {
    fn record(&self, result: Result<(), String>, us: u64) {
        match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.latencies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(us);
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
            }
        }
    }
}

fn client(pool: usize) -> reqwest::Client {
    mcp_common::telemetry::install_crypto_provider();
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .build()
        .expect("HTTP client")
}

fn request(client: &reqwest::Client, load: &CallLoad, i: u64) -> reqwest::RequestBuilder {
    let ep = &load.endpoints[(i as usize) % load.endpoints.len()];
    let body = json!({"jsonrpc":"2.0","id":i,"method":"tools/call",
        "params":{"name":load.tool,"arguments":(load.arguments)(i)}})
    .to_string();
    let mut req = client
        .post(&ep.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", &load.protocol_version)
        .body(body);
    if let Some(t) = &ep.bearer {
        req = req.bearer_auth(t);
    }
    for (k, v) in &ep.headers {
        req = req.header(k, v);
    }
    req
}

async fn send(req: reqwest::RequestBuilder) -> Result<(), String> {
    match req.send().await {
        Ok(r) if r.status().is_success() => match r.text().await {
            Ok(text) => check_tool_answer(&text),
            Err(e) => Err(format!("body: {e}")),
        },
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            Err(format!("HTTP {status}: {}", cut(&text, 300)))
        }
        Err(e) => Err(format!("send: {e}")),
    }
}

/// Runs a `tools/call` load and waits for every answer.
pub async fn run_calls(load: &CallLoad) -> LoadReport {
    match load.pace {
        Pace::Rate {
            per_second,
            concurrency,
        } => run_rate(load, per_second, concurrency).await,
        Pace::Saturate { clients } => run_saturate(load, clients).await,
    }
}

async fn run_rate(load: &CallLoad, rate: u32, concurrency: usize) -> LoadReport {
    let client = client(concurrency);
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tally = Arc::new(Tally::default());
    let total = (f64::from(rate) * load.duration.as_secs_f64())
        .round()
        .max(1.0) as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let started = Instant::now();
    let stop_at = load.cutoff.map(|c| started + load.duration + c);
    let mut late = 0u64;
    let mut sent = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                late += 1;
                let wait = slots.clone().acquire_owned();
                match stop_at {
                    Some(t) => match tokio::time::timeout_at(t.into(), wait).await {
                        Ok(p) => p.expect("semaphore open"),
                        Err(_) => break,
                    },
                    None => wait.await.expect("semaphore open"),
                }
            }
        };
        if stop_at.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        sent += 1;
        let req = request(&client, load, i);
        let tally = tally.clone();
        let t0 = if load.from_schedule {
            due
        } else {
            Instant::now()
        };
        tasks.spawn(async move {
            let result = send(req).await;
            tally.record(result, t0.elapsed().as_micros() as u64);
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    finish(&tally, sent, total - sent, late, started.elapsed())
}

async fn run_saturate(load: &CallLoad, clients: usize) -> LoadReport {
    let client = client(clients);
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + load.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (client, tally, next, load) =
            (client.clone(), tally.clone(), next.clone(), load.clone());
        tasks.spawn(async move {
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let result = send(request(&client, &load, i)).await;
                tally.record(result, t0.elapsed().as_micros() as u64);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let sent = next.load(Ordering::Relaxed);
    finish(&tally, sent, 0, 0, started.elapsed())
}

fn finish(tally: &Tally, sent: u64, unsent: u64, late: u64, elapsed: Duration) -> LoadReport {
    LoadReport {
        sent,
        ok: tally.ok.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        late,
        latencies_us: std::mem::take(
            &mut *tally.latencies.lock().unwrap_or_else(|p| p.into_inner()),
        ),
        elapsed,
        first_error: tally
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        unsent,
    }
}

/// Sends `rate` requests per second for `duration` and waits for every answer.
pub async fn run(plan: &LoadPlan) -> LoadReport {
    let load = CallLoad {
        endpoints: plan
            .backends
            .iter()
            .map(|b| {
                Endpoint::new(
                    format!("{}/mcp/{b}/mcp", plan.gateway),
                    Some(plan.token.clone()),
                )
            })
            .collect(),
        tool: "example_echo".into(),
        arguments: Arc::new(|i| json!({"message": format!("load {i}")})),
        protocol_version: "2025-11-25".into(),
        pace: Pace::Rate {
            per_second: plan.rate,
            concurrency: plan.concurrency,
        },
        // Whole seconds, as before.
        duration: Duration::from_secs(plan.duration.as_secs().max(1)),
        from_schedule: false,
        cutoff: None,
    };
    run_calls(&load).await
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

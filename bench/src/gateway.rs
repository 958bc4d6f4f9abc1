//! Part 1: what the gateway adds. One rmcp backend (`mcp-example`, tool `example_echo`) on
//! loopback, called with MCP `tools/call` by the project's load generator
//! (`integration_tests::load`): direct, through `mcp-gateway`, through nginx `proxy_pass`
//! (buffering off: the plain-proxy floor) and through IBM ContextForge (the peer gateway).
//! Each repeat runs every variant once, interleaved, first at the fixed rate (latency), then at
//! saturation (throughput); added latency and throughput ratios are paired per repeat.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use integration_tests::load::{CallLoad, Endpoint, LoadReport, Pace, run_calls};
use serde_json::json;

use crate::Ctx;
use crate::procs::{Proc, free_port, wait_http, wait_initialize};
use crate::report::{Row, diffs, ratios};

/// The variant name of `--gateway-baseline`.
const BASELINE: &str = "mcp-gateway (baseline build)";

const SECTION: &str = "1. gateway overhead (tools/call example_echo)";

/// A running `mcp-example`.
#[derive(Debug)]
pub struct Backend {
    pub url: String,
    pub proc: Proc,
}

pub async fn start_backend(ctx: &Ctx, name: &str) -> anyhow::Result<Backend> {
    let port = free_port()?;
    let mut cmd = Command::new(ctx.bin("mcp-example")?);
    cmd.args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--access", "ro", "--env", "bench", "--allowed-host", "*"])
        // One thread per CPU, not the backends' default of one: the direct baseline is the
        // backend's best throughput on this machine, so the gateway's share of it is not flattered.
        .args(["--threads", "0"])
        .env("RUST_LOG", "warn");
    let mut proc = Proc::spawn(name, &mut cmd, &ctx.dir.path().join(format!("{name}.log")))?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    wait_initialize(&ctx.http, &url, None, &mut proc, Duration::from_secs(30)).await?;
    Ok(Backend { url, proc })
}

/// Where the gateway's audit lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// A pipe that this process reads line by line, as a log collector would.
    Collected,
    /// /dev/null: the gateway still builds, serializes and writes every line (it has no switch
    /// to stop auditing, by design), but nothing reads them.
    DevNull,
}

/// A running `mcp-gateway serve` in front of one backend named `example`.
#[derive(Debug)]
pub struct Gateway {
    pub proc: Proc,
    pub base: String,
    pub token: String,
    /// Audit lines read so far ([`Audit::Collected`] only).
    pub audited: Arc<AtomicU64>,
    /// From exec until `/readyz` answered 200 and an `initialize` went through.
    pub ready_after: Duration,
    pub keys: usize,
}

impl Gateway {
    pub fn url(&self) -> String {
        format!("{}/mcp/example/mcp", self.base)
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.url(), Some(self.token.clone()))
    }
}

/// Writes a keys file with `n` keys (one of them usable) and starts the gateway binary.
pub async fn start_gateway(
    ctx: &Ctx,
    name: &str,
    backend_url: &str,
    keys: usize,
    audit: Audit,
) -> anyhow::Result<Gateway> {
    start_gateway_bin(
        ctx,
        &ctx.bin("mcp-gateway")?,
        name,
        backend_url,
        keys,
        audit,
    )
    .await
}

/// [`start_gateway`] with the binary at `bin`.
pub async fn start_gateway_bin(
    ctx: &Ctx,
    bin: &std::path::Path,
    name: &str,
    backend_url: &str,
    keys: usize,
    audit: Audit,
) -> anyhow::Result<Gateway> {
    let dir = ctx.dir.path().join(name);
    std::fs::create_dir_all(&dir)?;
    let (raw, token) = integration_tests::harness::new_key();
    let mut entries = serde_json::Map::with_capacity(keys);
    entries.insert(
        "/mcp-gateway/keys/bench-agent".into(),
        format!("{}:bench/bench-agent", mcp_gateway::keys::hash_hex(&raw)).into(),
    );
    for i in 1..keys {
        let fake = format!("bench-key-{name}-{i}");
        entries.insert(
            format!("/mcp-gateway/keys/user-{i}"),
            format!(
                "{}:bench/user-{i}",
                mcp_gateway::keys::hash_hex(fake.as_bytes())
            )
            .into(),
        );
    }
    let keys_file = dir.join("keys.json");
    std::fs::write(&keys_file, serde_json::to_vec(&entries)?)?;
    let port = free_port()?;
    let config = dir.join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n  example: {backend_url}\nroleMapping:\n  bench: [example]\n",
            keys_file.display()
        ),
    )?;
    let log = dir.join("gateway.log");
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let audited = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut proc = match audit {
        Audit::DevNull => {
            let child = cmd
                .stdout(std::fs::File::create("/dev/null")?)
                .spawn()
                .context("start mcp-gateway")?;
            Proc::adopt(name, child, started, &log)
        }
        Audit::Collected => {
            let mut child = cmd
                .stdout(Stdio::piped())
                .spawn()
                .context("start mcp-gateway")?;
            let stdout = child.stdout.take().context("piped stdout")?;
            let counter = audited.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if line.starts_with('{') {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            Proc::adopt(name, child, started, &log)
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    wait_http(
        &ctx.http,
        &format!("{base}/readyz"),
        &mut proc,
        Duration::from_secs(120),
    )
    .await?;
    let url = format!("{base}/mcp/example/mcp");
    let ready = wait_initialize(
        &ctx.http,
        &url,
        Some(&token),
        &mut proc,
        Duration::from_secs(30),
    )
    .await?;
    Ok(Gateway {
        ready_after: ready - started,
        proc,
        base,
        token,
        audited,
        keys,
    })
}

/// A running nginx proxying to one backend.
#[derive(Debug)]
pub struct Nginx {
    pub proc: Proc,
    pub url: String,
}

pub async fn start_nginx(ctx: &Ctx, backend_port: u16) -> Result<Nginx, String> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .ok_or_else(|| {
            "nginx not installed (Debian package nginx-light): run scripts/bench-peers".to_owned()
        })?;
    let go = async {
        let dir = ctx.dir.path().join("nginx");
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let d = dir.display();
        // The plain-proxy floor: keep-alive to the upstream, no buffering either way, no
        // access log (the gateway's audit is its own figure in part 2).
        let conf = format!(
            "worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host 127.0.0.1:{backend_port};
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = Command::new(nginx);
        cmd.arg("-e")
            .arg(dir.join("error.log"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path);
        let mut proc = Proc::spawn("nginx", &mut cmd, &dir.join("stdout.log"))?;
        let url = format!("http://127.0.0.1:{port}/mcp");
        wait_initialize(&ctx.http, &url, None, &mut proc, Duration::from_secs(30)).await?;
        anyhow::Ok(Nginx { proc, url })
    };
    go.await.map_err(|e| format!("nginx did not start: {e:#}"))
}

/// One way to reach the backend.
#[derive(Debug)]
pub struct Variant {
    pub name: String,
    pub endpoint: Endpoint,
    pub tool: String,
}

fn echo_load(v: &Variant, pace: Pace, duration: Duration) -> CallLoad {
    CallLoad {
        endpoints: vec![v.endpoint.clone()],
        tool: v.tool.clone(),
        arguments: Arc::new(|i| json!({"message": format!("bench {i}")})),
        protocol_version: "2025-11-25".into(),
        pace,
        duration,
        from_schedule: false,
        // A variant that falls behind stops 5 s after the point's end; what it could not send
        // is counted as unsent (and shows in the achieved rate).
        cutoff: Some(Duration::from_secs(5)),
    }
}

/// The order the variants run in, in repeat `rep`: each pair of repeats runs one order and
/// then its reverse (so every variant runs both before and after every other, and as often
/// right before a given one as right after it), and the next pair starts one variant later
/// (so none always runs first or last). With a rotation alone the gateway ran right before
/// its baseline build in four repeats of five, and that slot measured 3.5-4.7% less at
/// saturation, whichever build was in it (docs/benchmarks.md, 2026-12-08 late).
fn run_order(rep: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).map(|i| (i + rep / 2) % n).collect();
    if rep % 2 == 1 {
        order.reverse();
    }
    order
}

/// Per-variant samples, one per repeat.
#[derive(Debug, Default, Clone)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
    rate: Vec<f64>,
    sat: Vec<f64>,
    sat_p50: Vec<f64>,
    errors: u64,
    unsent: u64,
    first_error: Option<String>,
}

fn absorb(s: &mut Samples, r: &LoadReport) {
    s.errors += r.errors;
    s.unsent += r.unsent;
    if s.first_error.is_none() {
        s.first_error.clone_from(&r.first_error);
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let st = &ctx.settings;
    let mut starting = vec!["mcp-example", "mcp-gateway"];
    if st.gateway_baseline.is_some() {
        starting.push(BASELINE);
    }
    starting.extend(
        [("nginx", "nginx"), ("contextforge", "ContextForge")]
            .into_iter()
            .filter(|(family, _)| ctx.wants(family))
            .map(|(_, name)| name),
    );
    ctx.say(&format!("part 1: starting {}", starting.join(", ")));
    let backend = start_backend(ctx, "example").await?;
    let backend_port: u16 = backend
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .parse()?;
    let gw = start_gateway(ctx, "gateway", &backend.url, 1, Audit::Collected).await?;
    let mut variants = vec![
        Variant {
            name: "direct".into(),
            endpoint: Endpoint::new(&backend.url, None),
            tool: "example_echo".into(),
        },
        Variant {
            name: "mcp-gateway".into(),
            endpoint: gw.endpoint(),
            tool: "example_echo".into(),
        },
    ];
    let mut skipped: Vec<(String, String)> = Vec::new();
    // An earlier build, for a change's before and after in one run (its audit collected the same
    // way, so the two differ only in their code).
    let baseline = match &st.gateway_baseline {
        Some(bin) => {
            let b = start_gateway_bin(
                ctx,
                bin,
                "gateway-baseline",
                &backend.url,
                1,
                Audit::Collected,
            )
            .await
            .with_context(|| format!("baseline gateway {}", bin.display()))?;
            variants.push(Variant {
                name: BASELINE.into(),
                endpoint: b.endpoint(),
                tool: "example_echo".into(),
            });
            Some(b)
        }
        None => None,
    };
    let nginx = if !ctx.wants("nginx") {
        None
    } else {
        match start_nginx(ctx, backend_port).await {
            Ok(n) => {
                variants.push(Variant {
                    name: "nginx".into(),
                    endpoint: Endpoint::new(&n.url, None),
                    tool: "example_echo".into(),
                });
                Some(n)
            }
            Err(reason) => {
                skipped.push(("nginx".into(), reason));
                None
            }
        }
    };
    let cf = if !ctx.wants("contextforge") {
        None
    } else {
        match crate::contextforge::start(ctx, &backend.url).await {
            Ok(cf) => {
                variants.push(Variant {
                    name: "ContextForge".into(),
                    endpoint: cf.endpoint.clone(),
                    tool: cf.tool.clone(),
                });
                Some(cf)
            }
            Err(reason) => {
                ctx.say(&format!("ContextForge skipped: {reason}"));
                skipped.push(("ContextForge".into(), reason));
                None
            }
        }
    };

    // Warm-up: connections, caches, a Python JIT-less interpreter's first calls.
    for v in &variants {
        ctx.say(&format!("warm-up {}", v.name));
        let r = run_calls(&echo_load(v, Pace::Saturate { clients: 8 }, st.warmup)).await;
        if r.ok == 0 {
            anyhow::bail!(
                "{}: no successful call during warm-up: {:?}",
                v.name,
                r.first_error
            );
        }
    }

    let mut samples: Vec<Samples> = vec![Samples::default(); variants.len()];
    let audited_before = gw.audited.load(Ordering::Relaxed);
    let mut gw_sent = 0u64;
    for rep in 0..st.repeats {
        let order = run_order(rep, variants.len());
        for &i in &order {
            let v = &variants[i];
            ctx.say(&format!(
                "repeat {}/{}: {} at {} req/s for {:?}",
                rep + 1,
                st.repeats,
                v.name,
                st.rate,
                st.duration
            ));
            let r = run_calls(&echo_load(
                v,
                Pace::Rate {
                    per_second: st.rate,
                    concurrency: st.concurrency,
                },
                st.duration,
            ))
            .await;
            let s = &mut samples[i];
            s.p50.push(r.percentile_us(50.0) as f64);
            s.p99.push(r.percentile_us(99.0) as f64);
            s.rate.push(r.throughput());
            absorb(s, &r);
            if v.name == "mcp-gateway" {
                gw_sent += r.sent;
            }
        }
        for &i in &order {
            let v = &variants[i];
            ctx.say(&format!(
                "repeat {}/{}: {} saturated by {} clients for {:?}",
                rep + 1,
                st.repeats,
                v.name,
                st.clients,
                st.duration
            ));
            let r = run_calls(&echo_load(
                v,
                Pace::Saturate {
                    clients: st.clients,
                },
                st.duration,
            ))
            .await;
            let s = &mut samples[i];
            s.sat.push(r.throughput());
            s.sat_p50.push(r.percentile_us(50.0) as f64);
            absorb(s, &r);
            if v.name == "mcp-gateway" {
                gw_sent += r.sent;
            }
        }
    }
    // Every request through the gateway is audited exactly once (the line is written when the
    // response ends: give the writer a moment).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audited = gw.audited.load(Ordering::Relaxed) - audited_before;

    let direct = samples[0].clone();
    let mut rows = Vec::new();
    for (v, s) in variants.iter().zip(&samples) {
        let mut note = String::new();
        if s.errors > 0 {
            note = format!(
                "{} errors, first: {}",
                s.errors,
                s.first_error.as_deref().unwrap_or("?")
            );
        }
        if s.unsent > 0 {
            note.push_str(&format!(
                "{}{} requests not sent: fell behind the fixed rate",
                if note.is_empty() { "" } else { "; " },
                s.unsent
            ));
        }
        if v.name == "mcp-gateway" {
            note.push_str(&format!(
                "{}audit lines {audited} for {gw_sent} requests",
                if note.is_empty() { "" } else { "; " }
            ));
        }
        if v.name == "ContextForge"
            && let Some(cf) = &cf
        {
            note.push_str(&format!(
                "{}{}",
                if note.is_empty() { "" } else { "; " },
                cf.describe
            ));
        }
        rows.push(
            Row::new(
                SECTION,
                format!("{}: achieved rate at {} req/s", v.name, st.rate),
                "req/s",
            )
            .samples(s.rate.clone())
            .note(&note),
        );
        rows.push(
            Row::new(
                SECTION,
                format!("{}: p50 at {} req/s", v.name, st.rate),
                "us",
            )
            .samples(s.p50.clone()),
        );
        rows.push(
            Row::new(
                SECTION,
                format!("{}: p99 at {} req/s", v.name, st.rate),
                "us",
            )
            .samples(s.p99.clone()),
        );
        rows.push(
            Row::new(
                SECTION,
                format!("{}: saturation throughput", v.name),
                "req/s",
            )
            .samples(s.sat.clone()),
        );
        if v.name == "direct" {
            continue;
        }
        let mut added50 = Row::new(
            SECTION,
            format!("{}: added p50 at {} req/s", v.name, st.rate),
            "us",
        )
        .samples(diffs(&s.p50, &direct.p50))
        .against("direct p50", &direct.p50, ratios(&s.p50, &direct.p50));
        let mut added99 = Row::new(
            SECTION,
            format!("{}: added p99 at {} req/s", v.name, st.rate),
            "us",
        )
        .samples(diffs(&s.p99, &direct.p99))
        .against("direct p99", &direct.p99, ratios(&s.p99, &direct.p99));
        let mut sat = Row::new(
            SECTION,
            format!("{}: saturation throughput / direct", v.name),
            "req/s",
        )
        .samples(s.sat.clone())
        .against("direct", &direct.sat, ratios(&s.sat, &direct.sat));
        if v.name == "mcp-gateway" {
            added50 = added50.goal("<= 100 us", |v, _| v.map(|v| v <= 100.0));
            added99 = added99.goal("<= 500 us", |v, _| v.map(|v| v <= 500.0));
            sat = sat.goal(">= 0.6", |_, r| r.map(|r| r >= 0.6));
        }
        rows.extend([added50, added99, sat]);
    }
    // The gateway against the other proxies (and its baseline build), paired per repeat.
    let gi = 1;
    for (other, goal) in [
        ("nginx", Some((">= 0.8", 0.8))),
        ("ContextForge", Some((">= 50x", 50.0))),
        (BASELINE, None),
    ] {
        if let Some(oi) = variants.iter().position(|v| v.name == other) {
            let g = &samples[gi];
            let o = &samples[oi];
            let mut sat = Row::new(
                SECTION,
                format!("mcp-gateway / {other}: saturation throughput"),
                "req/s",
            )
            .samples(g.sat.clone())
            .against(other, &o.sat, ratios(&g.sat, &o.sat));
            if let Some((goal, min)) = goal {
                sat = sat.goal(goal, move |_, r| r.map(|r| r >= min));
            }
            rows.push(sat);
            if other == BASELINE {
                let (ga, oa) = (diffs(&g.p50, &direct.p50), diffs(&o.p50, &direct.p50));
                rows.push(
                    Row::new(
                        SECTION,
                        format!("mcp-gateway / {other}: added p50 at {} req/s", st.rate),
                        "us",
                    )
                    .samples(ga.clone())
                    .against(other, &oa, ratios(&ga, &oa)),
                );
            }
            rows.push(
                Row::new(
                    SECTION,
                    format!("mcp-gateway / {other}: p50 at {} req/s", st.rate),
                    "us",
                )
                .samples(g.p50.clone())
                .against(other, &o.p50, ratios(&g.p50, &o.p50)),
            );
        }
    }
    for (name, reason) in &skipped {
        rows.push(Row::skipped(
            SECTION,
            format!("{name}: all figures"),
            reason,
        ));
    }
    // Process sizes after the run, for orientation (part 2 measures the gateway properly).
    let mut sizes = vec![
        ("mcp-example", backend.proc.rss_mib()),
        ("mcp-gateway", gw.proc.rss_mib()),
    ];
    if let Some(n) = &nginx {
        sizes.push(("nginx (master + workers)", n.proc.rss_mib()));
    }
    if let Some(cf) = &cf {
        sizes.push(("ContextForge (all processes)", cf.proc.rss_mib()));
    }
    if let Some(b) = &baseline {
        sizes.push((BASELINE, b.proc.rss_mib()));
    }
    for (name, mib) in sizes {
        rows.push(
            Row::new(SECTION, format!("{name}: RSS after the run"), "MiB")
                .samples(mib.into_iter().collect()),
        );
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::run_order;

    #[test]
    fn every_variant_runs_before_and_after_every_other() {
        for n in 2..=5 {
            for reps in [2, 3, 5] {
                let orders: Vec<Vec<usize>> = (0..reps).map(|r| run_order(r, n)).collect();
                for o in &orders {
                    let mut sorted = o.clone();
                    sorted.sort_unstable();
                    assert_eq!(
                        sorted,
                        (0..n).collect::<Vec<_>>(),
                        "each variant once: {o:?}"
                    );
                }
                for a in 0..n {
                    for b in (0..n).filter(|&b| b != a) {
                        let before = |o: &&Vec<usize>| {
                            o.iter().position(|&x| x == a) < o.iter().position(|&x| x == b)
                        };
                        assert!(
                            orders.iter().any(|o| before(&o)),
                            "{a} never runs before {b} (n={n}, {reps} repeats): {orders:?}"
                        );
                    }
                }
            }
        }
        // Over three pairs of repeats, three different variants run first.
        let firsts: std::collections::BTreeSet<usize> =
            (0..6).step_by(2).map(|r| run_order(r, 4)[0]).collect();
        assert_eq!(firsts.len(), 3);
    }
}

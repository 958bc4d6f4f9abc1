//! `mcp-bench`: the gateway and the backends measured side by side with their peers, every
//! figure as a ratio against a baseline measured in the same run, interleaved (A B A B ...),
//! medians over repeats. See `docs/benchmarks.md` for what each part measures and how to read
//! the ratios.
//!
//! Speed and memory are goals here, never assertions in tests: the exit code is 0 whether or not
//! a goal is met (1 only when the run itself failed).

pub mod backends;
pub mod contextforge;
pub mod gateway;
pub mod mcp;
pub mod memory;
pub mod procs;
pub mod report;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use report::Row;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-bench",
    about = "Benchmark the gateway and the backends against their peers (docs/benchmarks.md)"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub part: Part,
}

#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Part {
    /// Part 1: added latency and throughput: direct, mcp-gateway, nginx, ContextForge.
    Gateway,
    /// Part 2: gateway RSS idle and at the fixed rate; 1k vs 100k keys; audit on vs off.
    Memory,
    /// Part 3: our backends against their peers on the same upstream.
    Backends,
    /// All three parts.
    All,
    /// For profiling a backend by hand: serve the Kubernetes API fake of part 3 on loopback,
    /// write a kubeconfig for it (viewer token) to `--kubeconfig`, and wait for Ctrl-C.
    #[command(hide = true)]
    FakeKube {
        #[arg(long)]
        kubeconfig: PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Length of each measured point (one load run, one variant).
    #[arg(long, global = true, default_value = "10s", value_parser = mcp_common::args::parse_duration)]
    pub duration: Duration,
    /// Fixed request rate of the latency points, per second.
    #[arg(long, global = true, default_value_t = 1000)]
    pub rate: u32,
    /// Repeats of every point; figures are medians over them, ratios medians of the per-repeat
    /// ratios.
    #[arg(long, global = true, default_value_t = 3)]
    pub repeats: usize,
    /// Concurrent clients (keep-alive connections) of the saturation points.
    #[arg(long, global = true, default_value_t = 64)]
    pub clients: usize,
    /// Most requests in flight during a fixed-rate point.
    #[arg(long, global = true, default_value_t = 256)]
    pub concurrency: usize,
    /// Sequential calls per tool and repeat in part 3.
    #[arg(long, global = true, default_value_t = 30)]
    pub calls: usize,
    /// Warm-up before each variant's first point.
    #[arg(long, global = true, default_value = "2s", value_parser = mcp_common::args::parse_duration)]
    pub warmup: Duration,
    /// Keys in the large keys file of part 2.
    #[arg(long, global = true, default_value_t = 100_000)]
    pub many_keys: usize,
    /// ContextForge workers: 1 runs its own `mcpgateway` command (uvicorn), more run gunicorn
    /// with that many uvicorn workers.
    #[arg(long, global = true, default_value_t = 1)]
    pub contextforge_workers: usize,
    /// What to run, comma-separated; default all. Part 1: the peers besides direct and
    /// mcp-gateway (nginx, contextforge); part 3: the families (postgres, prometheus,
    /// kubernetes, every-backend).
    #[arg(long, global = true, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Part 1: also measure this `mcp-gateway` binary (an earlier build), interleaved with the
    /// current one in the same run, so a change's before and after share the machine's state.
    #[arg(long, global = true)]
    pub gateway_baseline: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Where the workspace's release binaries are (default: beside this binary).
    #[arg(long, global = true, env = "MCP_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Where scripts/bench-peers installed the peers.
    #[arg(long, global = true, env = "MCP_BENCH_CACHE")]
    pub peers_dir: Option<PathBuf>,
}

/// What every part needs.
#[derive(Debug)]
pub struct Ctx {
    pub settings: Settings,
    pub bin: PathBuf,
    pub peers: PathBuf,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Ctx {
    /// A workspace binary, or why it is missing.
    pub fn bin(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.bin.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            anyhow::bail!(
                "{} not found: cargo build --release -p mcp-gateway -p integration-tests -p mcp-postgres -p mcp-prometheus -p mcp-eks --bins",
                p.display()
            )
        }
    }

    /// A peer's file under the peers cache, or the reason it is not there (from
    /// scripts/bench-peers' status file when it wrote one).
    pub fn peer(&self, name: &str, rel: &str) -> Result<PathBuf, String> {
        let p = self.peers.join(name).join(rel);
        if p.exists() {
            return Ok(p);
        }
        let status = std::fs::read_to_string(self.peers.join("status").join(name))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        if let Some(reason) = status.strip_prefix("failed: ") {
            Err(format!("{name} could not be installed: {reason}"))
        } else {
            Err(format!(
                "{name} not installed ({} missing): run scripts/bench-peers",
                p.display()
            ))
        }
    }

    /// Whether part 1's peer or part 3's family `family` is selected (`--only`).
    pub fn wants(&self, family: &str) -> bool {
        self.settings.only.is_empty() || self.settings.only.iter().any(|f| f == family)
    }

    pub fn say(&self, m: &str) {
        eprintln!("[mcp-bench {}] {m}", now_hms());
    }
}

fn now_hms() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// Facts about the machine, for the record.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|s| s.trim_start_matches([' ', '\t', ':']).to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|s| s.trim().to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .ok();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory": mem,
        "kernel": kernel,
    })
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Part::FakeKube { kubeconfig } = &cli.part {
        return match fake_kube(kubeconfig) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mcp-bench fake-kube: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-bench: runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-bench: FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The Kubernetes API fake of part 3 as a process of its own, as an API server is (part 3
/// starts it so; by hand for profiling): one thread, serving until SIGTERM or Ctrl-C. The
/// kubeconfig (viewer token) appears at `kubeconfig` once it accepts connections.
fn fake_kube(kubeconfig: &std::path::Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let fake = mcp_eks::fake::FakeApiServer::start().await?;
        let partial = kubeconfig.with_extension("partial");
        std::fs::write(&partial, fake.kubeconfig(mcp_eks::fake::VIEWER_TOKEN))?;
        std::fs::rename(&partial, kubeconfig)?;
        eprintln!(
            "Kubernetes API fake serving at {}; kubeconfig in {}",
            fake.url(),
            kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    mcp_common::telemetry::install_crypto_provider();
    let bin = match &cli.settings.bin_dir {
        Some(d) => d.clone(),
        None => integration_tests::stack::bin_dir()?,
    };
    let peers = cli.settings.peers_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/root".into())
            .join(".cache/mcp-gateway-bench")
    });
    let ctx = Ctx {
        settings: cli.settings.clone(),
        bin,
        peers,
        dir: tempfile::Builder::new().prefix("mcp-bench.").tempdir()?,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .build()?,
    };
    let started = time::OffsetDateTime::now_utc();
    let load_before = loadavg();
    let s = &ctx.settings;
    ctx.say(&format!(
        "settings: {:?} per point, {} repeats, {} req/s fixed rate, {} saturation clients; load average {load_before}",
        s.duration, s.repeats, s.rate, s.clients
    ));
    let mut rows: Vec<Row> = Vec::new();
    let parts = match cli.part {
        Part::All => vec![Part::Gateway, Part::Memory, Part::Backends],
        p => vec![p],
    };
    for part in parts {
        let result = match part {
            Part::Gateway => gateway::run(&ctx).await,
            Part::Memory => memory::run(&ctx).await,
            Part::Backends => backends::run(&ctx).await,
            Part::All | Part::FakeKube { .. } => Ok(Vec::new()),
        };
        match result {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                // A part that could not run at all is reported, and the others still run.
                ctx.say(&format!("{part:?} failed: {e:#}"));
                rows.push(
                    Row::new(part_name(part), "part failed", "").note(format!("error: {e:#}")),
                );
            }
        }
    }
    let load_after = loadavg();
    let date = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!(
        "mcp-bench {date}; machine {}; load average {load_before} before, {load_after} after",
        machine()
    );
    println!(
        "settings: {:?} per point, {} repeats (interleaved), fixed rate {} req/s (at most {} in flight), saturation {} clients, {} calls per tool",
        s.duration, s.repeats, s.rate, s.concurrency, s.clients, s.calls
    );
    print!("{}", report::table(&rows));
    if let Some(path) = &s.json {
        let doc = serde_json::json!({
            "date": date,
            "machine": machine(),
            "load_average": {"before": load_before, "after": load_after},
            "settings": {
                "duration_s": s.duration.as_secs_f64(),
                "rate": s.rate,
                "repeats": s.repeats,
                "clients": s.clients,
                "concurrency": s.concurrency,
                "calls": s.calls,
                "warmup_s": s.warmup.as_secs_f64(),
                "many_keys": s.many_keys,
                "contextforge_workers": s.contextforge_workers,
            },
            "rows": rows,
            "markdown": report::markdown(&rows),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
        ctx.say(&format!("wrote {}", path.display()));
    }
    Ok(())
}

pub fn part_name(p: Part) -> &'static str {
    match p {
        Part::Gateway => "1. gateway overhead",
        Part::Memory => "2. gateway memory",
        Part::Backends => "3. backends vs peers",
        Part::All | Part::FakeKube { .. } => "all",
    }
}

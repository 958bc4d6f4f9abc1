//! Part 3: our backends against the peer servers users would otherwise run, on the same
//! upstream with the same credentials: a throwaway PostgreSQL 15 (scripts/start-postgres),
//! Debian's Prometheus (scripts/start-prometheus), and the Kubernetes API fake
//! (`mcp_eks::fake::FakeApiServer`). Per repeat, ours and the peer start fresh, interleaved
//! (the order alternates): time from exec until MCP `initialize` answers, RSS after 1 s idle,
//! then each tool `--calls` times in a row (median latency) through the same MCP client, and
//! RSS after the calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};

use crate::Ctx;
use crate::mcp::Session;
use crate::procs::{Proc, free_port, log_tail};
use crate::report::{Row, median, ratios};

const SECTION: &str = "3. backends vs peers (same upstream)";

/// How a server is reached.
#[derive(Debug, Clone)]
enum Transport {
    /// Streamable HTTP at this URL.
    Http(String),
    /// Legacy HTTP+SSE: the `/sse` URL.
    Sse(String),
}

/// How to start one server.
#[derive(Debug, Clone)]
struct Server {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    transport: Transport,
    /// Sent as `Authorization: Bearer` on MCP requests.
    bearer: Option<String>,
    note: String,
}

/// One tool compared: ours and the peer's, with arguments, and a string every correct answer
/// holds (a wrong answer must not count as fast).
#[derive(Debug, Clone)]
struct ToolPair {
    label: &'static str,
    ours: (&'static str, Value),
    peer: (&'static str, Value),
    expect: &'static str,
    /// Pause between calls (a peer's client-side rate limiter would otherwise be measured).
    pace: Duration,
    note: &'static str,
    /// The upstream request behind the tool (GET URL, bearer token), timed alone with the same
    /// pacing: the share of both servers' latency that is the upstream's own.
    upstream: Option<(String, Option<String>)>,
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    ours: Server,
    peer: Result<Server, String>,
    tools: Vec<ToolPair>,
}

/// Samples of one server over the repeats.
#[derive(Debug, Default, Clone)]
struct Figures {
    ready_ms: Vec<f64>,
    idle_mib: Vec<f64>,
    after_mib: Vec<f64>,
    /// tool label -> median latency per repeat, ms
    tools: BTreeMap<&'static str, Vec<f64>>,
    errors: Vec<String>,
}

impl Figures {
    /// `N errors, first: ...` (repeats of the same error counted once), or empty.
    fn error_note(&self) -> String {
        let mut e = self.errors.clone();
        e.dedup();
        e.first()
            .map(|first| format!("{} errors, first: {first}", e.len()))
            .unwrap_or_default()
    }
}

async fn wait_ready(ctx: &Ctx, s: &Server, proc: &mut Proc) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(60);
    match &s.transport {
        Transport::Http(url) => {
            crate::procs::wait_initialize(
                &ctx.http,
                url,
                s.bearer.as_deref(),
                proc,
                Duration::from_secs(60),
            )
            .await
        }
        Transport::Sse(url) => loop {
            if let Ok(Ok(_session)) =
                tokio::time::timeout(Duration::from_secs(5), Session::connect_sse(&ctx.http, url))
                    .await
            {
                return Ok(Instant::now());
            }
            proc.check_alive()?;
            if Instant::now() > deadline {
                bail!("{} did not answer initialize over SSE within 60 s", s.name);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        },
    }
}

async fn session(ctx: &Ctx, s: &Server) -> anyhow::Result<Session> {
    match &s.transport {
        Transport::Http(url) => Session::connect(&ctx.http, url, s.bearer.as_deref()).await,
        Transport::Sse(url) => Session::connect_sse(&ctx.http, url).await,
    }
}

fn spawn(ctx: &Ctx, s: &Server, rep: usize) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(&s.program);
    cmd.args(&s.args)
        .env_remove("KUBECONFIG")
        .env_remove("DATABASE_URL");
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    let log = ctx
        .dir
        .path()
        .join(format!("{}-{rep}.log", s.name.replace(['/', ' '], "_")));
    Proc::spawn(&s.name, &mut cmd, &log)
}

/// With a fresh port for this start.
fn with_port(s: &Server, port: u16) -> Server {
    let mut s = s.clone();
    let p = port.to_string();
    let fix = |x: &str| x.replace("{port}", &p);
    s.args = s.args.iter().map(|a| fix(a)).collect();
    s.env = s.env.iter().map(|(k, v)| (k.clone(), fix(v))).collect();
    s.transport = match &s.transport {
        Transport::Http(u) => Transport::Http(fix(u)),
        Transport::Sse(u) => Transport::Sse(fix(u)),
    };
    s
}

/// Starts one server, measures readiness and idle RSS; returns the running process.
async fn start_measured(
    ctx: &Ctx,
    s: &Server,
    rep: usize,
    f: &mut Figures,
) -> anyhow::Result<(Proc, Server)> {
    let s = with_port(s, free_port()?);
    let mut proc = spawn(ctx, &s, rep)?;
    let ready = wait_ready(ctx, &s, &mut proc)
        .await
        .with_context(|| format!("{}: {}", s.name, log_tail(&proc.log, 10)))?;
    f.ready_ms
        .push((ready - proc.started).as_secs_f64() * 1000.0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Some(m) = proc.rss_mib() {
        f.idle_mib.push(m);
    }
    Ok((proc, s))
}

async fn call_series(
    ctx: &Ctx,
    s: &Server,
    tool: &str,
    args: &Value,
    expect: &str,
    pace: Duration,
) -> anyhow::Result<f64> {
    let mut sess = session(ctx, s).await?;
    // Warm-up: first calls load code and open upstream connections.
    for _ in 0..3 {
        sess.call(tool, args).await?;
        tokio::time::sleep(pace).await;
    }
    let mut lat = Vec::with_capacity(ctx.settings.calls);
    for _ in 0..ctx.settings.calls.max(1) {
        let t = Instant::now();
        let r = sess
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        let text = r.to_string();
        if !expect.is_empty() && !text.contains(expect) {
            bail!(
                "{} {tool}: the answer lacks {expect:?}: {}",
                s.name,
                text.chars().take(300).collect::<String>()
            );
        }
        tokio::time::sleep(pace).await;
    }
    median(&lat).context("no calls")
}

/// Median latency of `--calls` GETs of `url` (after three warm-ups), `pace` apart, on one
/// keep-alive connection of the benchmark's HTTP client.
async fn upstream_series(
    ctx: &Ctx,
    url: &str,
    bearer: Option<&str>,
    pace: Duration,
) -> anyhow::Result<f64> {
    let get = || {
        let mut r = ctx.http.get(url);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        async move {
            let resp = r.send().await?.error_for_status()?;
            resp.bytes().await?;
            anyhow::Ok(())
        }
    };
    for _ in 0..3 {
        get().await?;
        tokio::time::sleep(pace).await;
    }
    let mut lat = Vec::with_capacity(ctx.settings.calls);
    for _ in 0..ctx.settings.calls.max(1) {
        let t = Instant::now();
        get().await.with_context(|| format!("GET {url}"))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(pace).await;
    }
    median(&lat).context("no calls")
}

async fn run_family(ctx: &Ctx, fam: &Family) -> Vec<Row> {
    let st = &ctx.settings;
    let mut ours = Figures::default();
    let mut peer = Figures::default();
    let mut floor: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let peer_server = fam.peer.as_ref().ok();
    for rep in 0..st.repeats {
        ctx.say(&format!(
            "part 3 {}: repeat {}/{}",
            fam.name,
            rep + 1,
            st.repeats
        ));
        let mut order: Vec<(bool, &Server)> = vec![(true, &fam.ours)];
        if let Some(p) = peer_server {
            order.push((false, p));
        }
        if rep % 2 == 1 {
            order.reverse();
        }
        let mut running: Vec<(bool, Proc, Server)> = Vec::new();
        for (is_ours, s) in &order {
            let f = if *is_ours { &mut ours } else { &mut peer };
            match start_measured(ctx, s, rep, f).await {
                Ok((p, s)) => running.push((*is_ours, p, s)),
                Err(e) => f.errors.push(format!("{e:#}")),
            }
        }
        for t in &fam.tools {
            for (is_ours, _, s) in &running {
                let (tool, args) = if *is_ours { &t.ours } else { &t.peer };
                let f = if *is_ours { &mut ours } else { &mut peer };
                match call_series(ctx, s, tool, args, t.expect, t.pace).await {
                    Ok(ms) => f.tools.entry(t.label).or_default().push(ms),
                    Err(e) => f.errors.push(format!("{tool}: {e:#}")),
                }
            }
        }
        for t in &fam.tools {
            if let Some((url, bearer)) = &t.upstream {
                match upstream_series(ctx, url, bearer.as_deref(), t.pace).await {
                    Ok(ms) => floor.entry(t.label).or_default().push(ms),
                    Err(e) => ours.errors.push(format!("upstream alone: {e:#}")),
                }
            }
        }
        for (is_ours, p, _) in &mut running {
            let f = if *is_ours { &mut ours } else { &mut peer };
            if let Some(m) = p.rss_mib() {
                f.after_mib.push(m);
            }
            p.stop();
        }
    }

    let mut rows = Vec::new();
    let peer_name = peer_server.map(|p| p.name.clone());
    let ours_name = &fam.ours.name;
    let paired = |figure: String, unit: &'static str, a: &[f64], b: &[f64]| -> Row {
        let r = Row::new(SECTION, figure, unit).samples(a.to_vec());
        match &peer_name {
            Some(pn) if !b.is_empty() => r.against(pn.clone(), b, ratios(a, b)),
            _ => r,
        }
    };
    rows.push(
        paired(
            format!("{ours_name}: ready after exec (answers initialize)"),
            "ms",
            &ours.ready_ms,
            &peer.ready_ms,
        )
        .goal("<= 20 ms", |v, _| v.map(|v| v <= 20.0))
        .note(ours.error_note())
        .note(&fam.ours.note),
    );
    rows.push(
        paired(
            format!("{ours_name}: idle RSS"),
            "MiB",
            &ours.idle_mib,
            &peer.idle_mib,
        )
        .goal("<= 15 MiB", |v, _| v.map(|v| v <= 15.0)),
    );
    for t in &fam.tools {
        let a = ours.tools.get(t.label).cloned().unwrap_or_default();
        let b = peer.tools.get(t.label).cloned().unwrap_or_default();
        let mut row = paired(
            format!(
                "{ours_name}: {} ({} vs {}), median of {} calls",
                t.label, t.ours.0, t.peer.0, st.calls
            ),
            "ms",
            &a,
            &b,
        )
        .note(t.note);
        if peer_name.is_some() {
            row = row.goal("ratio <= 0.25x", |_, r| r.map(|r| r <= 0.25));
        }
        rows.push(row);
        if let Some(u) = floor.get(t.label) {
            rows.push(
                Row::new(
                    SECTION,
                    format!("{}: {}, the upstream alone", fam.name, t.label),
                    "ms",
                )
                .samples(u.clone())
                .note("the same request straight to the upstream, same pacing: part of both servers' figures"),
            );
        }
    }
    rows.push(paired(
        format!("{ours_name}: RSS after the calls"),
        "MiB",
        &ours.after_mib,
        &peer.after_mib,
    ));
    match (&fam.peer, peer_server) {
        (Err(reason), _) => rows.push(Row::skipped(SECTION, format!("{}: peer", fam.name), reason)),
        (Ok(p), _) => {
            let mut r = Row::new(SECTION, format!("{}: peer measured alone", p.name), "ms")
                .samples(peer.ready_ms.clone())
                .note(format!(
                    "ready after exec; idle RSS {:.1} MiB",
                    median(&peer.idle_mib).unwrap_or(f64::NAN)
                ))
                .note(peer.error_note())
                .note(&p.note);
            r.figure = format!("{}: ready after exec", p.name);
            rows.push(r);
        }
    }
    rows
}

/// PostgreSQL with a small schema and statement statistics both servers can report.
async fn postgres(ctx: &Ctx) -> anyhow::Result<(String, Vec<String>)> {
    let repo = integration_tests::stack::repo_root();
    let out = Command::new(repo.join("scripts/start-postgres"))
        .args(["--watch-pid", &std::process::id().to_string()])
        .output()
        .context("scripts/start-postgres")?;
    if !out.status.success() {
        bail!(
            "scripts/start-postgres: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vars = parse_vars(&out.stdout);
    let url = vars.get("DATABASE_URL").context("DATABASE_URL")?.clone();
    let stop = vars
        .get("PG_STOP")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut c = PgConnection::connect(&url).await?;
    sqlx::raw_sql(
        "CREATE TABLE bench_customers (id serial PRIMARY KEY, email text NOT NULL, region text NOT NULL);
         CREATE TABLE bench_orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES bench_customers(id), amount numeric(10,2) NOT NULL);
         INSERT INTO bench_customers (email, region)
             SELECT 'c' || g || '@example.com', (ARRAY['eu','us','apac'])[1 + g % 3] FROM generate_series(1, 2000) g;
         INSERT INTO bench_orders (customer_id, amount)
             SELECT 1 + g % 2000, (g % 500) + 0.99 FROM generate_series(1, 20000) g;
         ANALYZE;",
    )
    .execute(&mut c)
    .await?;
    for _ in 0..3 {
        c.execute("SELECT c.region, sum(o.amount) FROM bench_orders o JOIN bench_customers c ON c.id = o.customer_id CROSS JOIN pg_sleep(0.05) GROUP BY c.region")
            .await?;
    }
    c.close().await.ok();
    ctx.say("PostgreSQL up (scripts/start-postgres)");
    Ok((url, stop))
}

fn parse_vars(out: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

async fn prometheus() -> anyhow::Result<(String, String)> {
    let repo = integration_tests::stack::repo_root();
    let out = Command::new(repo.join("scripts/start-prometheus"))
        .env("PROMETHEUS_STOP_WITH_PID", std::process::id().to_string())
        .output()
        .context("scripts/start-prometheus")?;
    if !out.status.success() {
        bail!(
            "scripts/start-prometheus: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vars = parse_vars(&out.stdout);
    Ok((
        vars.get("PROMETHEUS_URL")
            .context("PROMETHEUS_URL")?
            .clone(),
        vars.get("PROMETHEUS_PID").cloned().unwrap_or_default(),
    ))
}

fn python_of(venv_bin: &Path) -> String {
    Command::new(venv_bin.join("python"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn installed(ctx: &Ctx, peer: &str) -> String {
    std::fs::read_to_string(ctx.peers.join(peer).join(".installed"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The upstreams part 3 starts, shared by the families and the every-backend section.
struct Upstreams {
    database_url: Option<String>,
    prometheus_url: Option<String>,
    kubeconfig: String,
    /// Stop commands, run at the end.
    stops: Vec<Vec<String>>,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut up = Upstreams {
        database_url: None,
        prometheus_url: None,
        kubeconfig: String::new(),
        stops: Vec::new(),
    };
    let every = ctx.wants("every-backend");

    if ctx.wants("postgres") || every {
        match postgres(ctx).await {
            Ok((url, stop)) => {
                up.database_url = Some(url);
                up.stops.push(stop);
            }
            Err(e) => rows.push(Row::skipped(
                SECTION,
                "postgres: all figures",
                &format!("PostgreSQL did not start: {e:#}"),
            )),
        }
    }
    if ctx.wants("prometheus") || every {
        match prometheus().await {
            Ok((url, pid)) => {
                ctx.say("Prometheus up (scripts/start-prometheus)");
                up.prometheus_url = Some(url);
                if !pid.is_empty() {
                    up.stops.push(vec!["kill".into(), pid]);
                }
            }
            Err(e) => rows.push(Row::skipped(
                SECTION,
                "prometheus: all figures",
                &format!("Prometheus did not start: {e:#}"),
            )),
        }
    }
    // Kubernetes: the fake API server, in a process of its own (this binary's `fake-kube`), as
    // an API server is: its serving never shares threads with the client that measures.
    let kubeconfig = ctx.dir.path().join("kubeconfig");
    let fake = start_fake_kube(ctx, &kubeconfig).await?;
    up.kubeconfig = kubeconfig.display().to_string();

    if ctx.wants("postgres")
        && let Some(url) = &up.database_url
    {
        rows.extend(run_family(ctx, &postgres_family(ctx, url)?).await);
    }
    if ctx.wants("prometheus")
        && let Some(url) = &up.prometheus_url
    {
        rows.extend(run_family(ctx, &prometheus_family(ctx, url)?).await);
    }
    if ctx.wants("kubernetes") {
        rows.extend(run_family(ctx, &kubernetes_family(ctx, &up.kubeconfig)?).await);
    }
    if every {
        rows.extend(every_backend(ctx, &up).await);
    }
    drop(fake);
    for stop in &up.stops {
        if let Some((prog, args)) = stop.split_first() {
            let _ = Command::new(prog).args(args).output();
        }
    }
    Ok(rows)
}

/// Starts `mcp-bench fake-kube` and waits until its kubeconfig appears (it is written once the
/// fake accepts connections).
async fn start_fake_kube(ctx: &Ctx, kubeconfig: &Path) -> anyhow::Result<Proc> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("fake-kube").arg("--kubeconfig").arg(kubeconfig);
    let mut fake = Proc::spawn(
        "Kubernetes API fake",
        &mut cmd,
        &ctx.dir.path().join("fake-kube.log"),
    )?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kubeconfig.exists() {
        fake.check_alive()?;
        if Instant::now() > deadline {
            bail!("the Kubernetes API fake did not start within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(fake)
}

/// One of our backends on `{port}`, with its upstream setting and warnings-only logs.
fn our_server(
    ctx: &Ctx,
    bin: &str,
    extra_args: &[&str],
    (key, value): (&str, &str),
) -> anyhow::Result<Server> {
    let mut args = vec!["--listen".to_owned(), "127.0.0.1:{port}".to_owned()];
    args.extend(extra_args.iter().map(|a| (*a).to_owned()));
    Ok(Server {
        name: bin.into(),
        program: ctx.bin(bin)?,
        args,
        env: vec![
            (key.into(), value.into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        transport: Transport::Http("http://127.0.0.1:{port}/mcp".into()),
        bearer: None,
        note: String::new(),
    })
}

/// `mcp-postgres` against postgres-mcp.
fn postgres_family(ctx: &Ctx, url: &str) -> anyhow::Result<Family> {
    let url = url.to_owned();
    let peer = ctx.peer("postgres-mcp", "bin/postgres-mcp").map(|bin| {
        let v = installed(ctx, "postgres-mcp");
        Server {
            name: "postgres-mcp".into(),
            program: bin.clone(),
            args: vec![
                "--access-mode".into(),
                "restricted".into(),
                "--transport".into(),
                "sse".into(),
                "--sse-host".into(),
                "127.0.0.1".into(),
                "--sse-port".into(),
                "{port}".into(),
            ],
            env: vec![("DATABASE_URI".into(), url.clone())],
            transport: Transport::Sse("http://127.0.0.1:{port}/sse".into()),
            bearer: None,
            note: format!(
                "postgres-mcp {v} on {}, restricted (read-only) mode, SSE transport (its only HTTP one)",
                python_of(bin.parent().unwrap_or(Path::new(".")))
            ),
        }
    });
    let fam = Family {
        name: "postgres",
        ours: our_server(
            ctx,
            "mcp-postgres",
            &["--access", "ro"],
            ("DATABASE_URL", &url),
        )?,
        peer,
        tools: vec![
            ToolPair {
                label: "SELECT",
                ours: (
                    "postgres_query",
                    json!({"sql": "SELECT region, count(*) AS n FROM bench_customers GROUP BY region ORDER BY region"}),
                ),
                peer: (
                    "execute_sql",
                    json!({"sql": "SELECT region, count(*) AS n FROM bench_customers GROUP BY region ORDER BY region"}),
                ),
                expect: "apac",
                pace: Duration::ZERO,
                note: "",
                upstream: None,
            },
            ToolPair {
                label: "diagnostics / top queries",
                ours: ("postgres_diagnostics", json!({})),
                peer: (
                    "get_top_queries",
                    json!({"sort_by": "mean_time", "limit": 10}),
                ),
                expect: "bench_orders",
                pace: Duration::ZERO,
                note: "ours also reports connections, blocking, long transactions, cache hit ratio, size and replication in the same call",
                upstream: None,
            },
        ],
    };
    Ok(fam)
}

/// `mcp-prometheus` against prometheus-mcp-server.
fn prometheus_family(ctx: &Ctx, url: &str) -> anyhow::Result<Family> {
    let url = url.to_owned();
    let peer = ctx
        .peer("prometheus-mcp-server", "bin/prometheus-mcp-server")
        .map(|bin| Server {
            name: "prometheus-mcp-server".into(),
            program: bin.clone(),
            args: vec![],
            env: vec![
                ("PROMETHEUS_URL".into(), url.clone()),
                ("PROMETHEUS_MCP_SERVER_TRANSPORT".into(), "http".into()),
                ("PROMETHEUS_MCP_BIND_HOST".into(), "127.0.0.1".into()),
                ("PROMETHEUS_MCP_BIND_PORT".into(), "{port}".into()),
                ("PROMETHEUS_MCP_STATELESS_HTTP".into(), "true".into()),
            ],
            transport: Transport::Http("http://127.0.0.1:{port}/mcp".into()),
            bearer: None,
            note: format!(
                "prometheus-mcp-server {} on {}, streamable HTTP, stateless",
                installed(ctx, "prometheus-mcp-server"),
                python_of(bin.parent().unwrap_or(Path::new(".")))
            ),
        });
    let fam = Family {
        name: "prometheus",
        ours: our_server(ctx, "mcp-prometheus", &[], ("PROMETHEUS_URL", &url))?,
        peer,
        tools: vec![
            ToolPair {
                label: "instant query up",
                ours: ("prometheus_query", json!({"query": "up"})),
                peer: ("execute_query", json!({"query": "up"})),
                expect: "payment-exporter",
                pace: Duration::ZERO,
                note: "",
                upstream: Some((format!("{url}/api/v1/query?query=up"), None)),
            },
            ToolPair {
                label: "instant query sum by namespace",
                ours: (
                    "prometheus_query",
                    json!({"query": "sum by (namespace) (container_memory_usage_bytes)"}),
                ),
                peer: (
                    "execute_query",
                    json!({"query": "sum by (namespace) (container_memory_usage_bytes)"}),
                ),
                expect: "production",
                pace: Duration::ZERO,
                note: "",
                upstream: Some((
                    format!(
                        "{url}/api/v1/query?query=sum%20by%20(namespace)%20(container_memory_usage_bytes)"
                    ),
                    None,
                )),
            },
        ],
    };
    Ok(fam)
}

/// `mcp-eks` against kubernetes-mcp-server, on the fake API server.
fn kubernetes_family(ctx: &Ctx, kc: &str) -> anyhow::Result<Family> {
    let kc = kc.to_owned();
    let api = std::fs::read_to_string(&kc)?
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("server:")
                .map(|u| u.trim().to_owned())
        })
        .context("the fake's kubeconfig names no server")?;
    let peer = ctx
        .peer("kubernetes-mcp-server", "kubernetes-mcp-server")
        .map(|bin| Server {
            name: "kubernetes-mcp-server".into(),
            program: bin,
            args: vec![
                "--port".into(),
                "{port}".into(),
                "--bind-address".into(),
                "127.0.0.1".into(),
                "--kubeconfig".into(),
                kc.clone(),
                "--read-only".into(),
                "--stateless".into(),
                "--disable-multi-cluster".into(),
                // Its default table output asks the API for server-side Table rendering,
                // which the fake does not serve; YAML lists the same objects.
                "--list-output".into(),
                "yaml".into(),
            ],
            env: vec![],
            transport: Transport::Http("http://127.0.0.1:{port}/mcp".into()),
            // It does not send the kubeconfig's token to a plain-HTTP API server; the same
            // viewer token reaches it per request instead (its documented token passthrough).
            bearer: Some(mcp_eks::fake::VIEWER_TOKEN.into()),
            note: format!(
                "kubernetes-mcp-server {} (the upstream Go binary from npm: the PyPI wrapper downloads it from GitHub at first run, which is unreachable here), read-only, stateless, --list-output yaml; it sent no kubeconfig token to the plain-HTTP fake, so the same viewer token is passed in each MCP request's Authorization header (its token passthrough)",
                installed(ctx, "kubernetes-mcp-server")
            ),
        });
    // client-go's default client-side limiter (5 QPS, burst 10) would dominate back-to-back
    // calls of the peer; both servers are paced below it, so neither waits on a limiter.
    let paced = Duration::from_millis(210);
    let fam = Family {
        name: "kubernetes",
        ours: our_server(ctx, "mcp-eks", &[], ("KUBECONFIG", &kc))?,
        peer,
        tools: vec![
            ToolPair {
                label: "pods of a namespace",
                ours: ("eks_get_pods", json!({"namespace": "production"})),
                peer: ("pods_list_in_namespace", json!({"namespace": "production"})),
                expect: "payment-service",
                pace: paced,
                note: "calls paced 210 ms apart (client-go's limiter)",
                upstream: Some((
                    format!("{api}/api/v1/namespaces/production/pods"),
                    Some(mcp_eks::fake::VIEWER_TOKEN.into()),
                )),
            },
            ToolPair {
                label: "events of a namespace",
                ours: ("eks_get_events", json!({"namespace": "production"})),
                peer: ("events_list", json!({"namespace": "production"})),
                expect: "payment-service",
                pace: paced,
                note: "calls paced 210 ms apart (client-go's limiter)",
                upstream: Some((
                    format!("{api}/api/v1/namespaces/production/events"),
                    Some(mcp_eks::fake::VIEWER_TOKEN.into()),
                )),
            },
        ],
    };
    Ok(fam)
}

const EVERY_SECTION: &str = "3b. every backend: start and idle memory";

/// Every backend binary, started fresh per repeat (the order rotating): time from exec until
/// MCP `initialize` answers, RSS 1 s later, and RSS after a `tools/list` (the answer must name
/// one of its tools). Upstreams: the PostgreSQL, Prometheus and Kubernetes API fake of this
/// run; the AWS, GitHub, Argo CD and Cloudflare servers get a loopback address with nothing
/// listening (none of them calls its upstream before a tool call) and static test credentials.
async fn every_backend(ctx: &Ctx, up: &Upstreams) -> Vec<Row> {
    let nowhere = match free_port() {
        Ok(p) => format!("http://127.0.0.1:{p}"),
        Err(e) => {
            return vec![Row::skipped(
                EVERY_SECTION,
                "all figures",
                &format!("no free port: {e}"),
            )];
        }
    };
    let aws = || -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), nowhere.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "eu-west-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    };
    // (binary, environment, a tool its tools/list must name)
    type Spec = (&'static str, Vec<(String, String)>, &'static str);
    let mut specs: Vec<Spec> = vec![
        (
            "mcp-eks",
            vec![("KUBECONFIG".into(), up.kubeconfig.clone())],
            "eks_get_pods",
        ),
        ("mcp-aws", aws(), "aws_describe_instances"),
        ("mcp-cloudwatch", aws(), "cloudwatch_"),
        ("mcp-costs", aws(), "costs_"),
        (
            "mcp-github",
            vec![
                ("GITHUB_API_URL".into(), nowhere.clone()),
                ("GITHUB_TOKEN".into(), "ghp_bench_not_a_real_token".into()),
                ("GITHUB_REPOS".into(), "acme/*".into()),
            ],
            "github_",
        ),
        (
            "mcp-argo",
            vec![
                ("ARGOCD_URL".into(), nowhere.clone()),
                ("ARGOCD_AUTH_TOKEN".into(), "bench-token".into()),
            ],
            "argo_",
        ),
        (
            "mcp-cloudflare",
            vec![
                ("CLOUDFLARE_API_URL".into(), format!("{nowhere}/client/v4")),
                ("CLOUDFLARE_API_TOKEN".into(), "bench-token".into()),
            ],
            "cloudflare_",
        ),
    ];
    if let Some(url) = &up.database_url {
        specs.push((
            "mcp-postgres",
            vec![("DATABASE_URL".into(), url.clone())],
            "postgres_query",
        ));
    }
    if let Some(url) = &up.prometheus_url {
        specs.push((
            "mcp-prometheus",
            vec![("PROMETHEUS_URL".into(), url.clone())],
            "prometheus_query",
        ));
    }
    let mut servers = Vec::new();
    let mut rows = Vec::new();
    for (bin, mut env, tool) in specs {
        let program = match ctx.bin(bin) {
            Ok(p) => p,
            Err(e) => {
                rows.push(Row::skipped(EVERY_SECTION, bin, &format!("{e:#}")));
                continue;
            }
        };
        env.push(("RUST_LOG".into(), "warn".into()));
        servers.push((
            Server {
                name: bin.to_owned(),
                program,
                args: vec![
                    "--listen".into(),
                    "127.0.0.1:{port}".into(),
                    "--access".into(),
                    "ro".into(),
                ],
                env,
                transport: Transport::Http("http://127.0.0.1:{port}/mcp".into()),
                bearer: None,
                note: String::new(),
            },
            tool,
        ));
    }
    let mut figures: Vec<Figures> = vec![Figures::default(); servers.len()];
    let n = servers.len().max(1);
    for rep in 0..ctx.settings.repeats {
        ctx.say(&format!(
            "part 3b: every backend, repeat {}/{}",
            rep + 1,
            ctx.settings.repeats
        ));
        for k in 0..servers.len() {
            let i = (k + rep) % n;
            let (s, tool) = &servers[i];
            let f = &mut figures[i];
            let (mut proc, s) = match start_measured(ctx, s, rep, f).await {
                Ok(x) => x,
                Err(e) => {
                    f.errors.push(format!("{e:#}"));
                    continue;
                }
            };
            match session(ctx, &s).await {
                Ok(mut sess) => match sess.request("tools/list", json!({})).await {
                    Ok(v) if v.to_string().contains(tool) => {}
                    Ok(v) => f.errors.push(format!(
                        "tools/list lacks {tool}: {}",
                        v.to_string().chars().take(200).collect::<String>()
                    )),
                    Err(e) => f.errors.push(format!("tools/list: {e:#}")),
                },
                Err(e) => f.errors.push(format!("session: {e:#}")),
            }
            if let Some(m) = proc.rss_mib() {
                f.after_mib.push(m);
            }
            proc.stop();
        }
    }
    for ((s, _), f) in servers.iter().zip(&figures) {
        let note = f.error_note();
        rows.push(
            Row::new(
                EVERY_SECTION,
                format!("{}: ready after exec (answers initialize)", s.name),
                "ms",
            )
            .samples(f.ready_ms.clone())
            .goal("<= 20 ms", |v, _| v.map(|v| v <= 20.0))
            .note(note),
        );
        rows.push(
            Row::new(EVERY_SECTION, format!("{}: idle RSS", s.name), "MiB")
                .samples(f.idle_mib.clone())
                .goal("<= 15 MiB", |v, _| v.map(|v| v <= 15.0)),
        );
        rows.push(
            Row::new(
                EVERY_SECTION,
                format!("{}: RSS after tools/list", s.name),
                "MiB",
            )
            .samples(f.after_mib.clone()),
        );
    }
    rows
}

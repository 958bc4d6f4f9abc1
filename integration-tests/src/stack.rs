//! The local stack of `scripts/demo` and of the incident test: a real PostgreSQL, a real
//! Prometheus, the moto AWS emulator, two fake Kubernetes API servers (a dev and a production
//! cluster, both enforcing the shipped ClusterRoles), a GitOps repository behind a GitHub API
//! fake, every backend binary as its own process in its RO/RW instances with its own
//! credentials, and the gateway with the seed's roleMapping and two keys.
//!
//! Everything listens on loopback (free ports) and stops when the [`LocalStack`] drops; the
//! helper scripts also watch this process, so nothing outlives it even when it is killed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use mcp_eks::fake::{EDITOR_TOKEN, FakeApiServer, VIEWER_TOKEN};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The user of the incident agent's key (role `dev-readonly`).
pub const AGENT_USER: &str = "incident-agent-01";
/// The operator's user (role `devops-full`).
pub const OPERATOR_USER: &str = "oncall-operator";
/// The GitOps repository (Argo CD's source) that holds the payment-service manifest.
pub const GITOPS_REPO: &str = "acme/gitops";
/// The manifest of payment-service in [`GITOPS_REPO`].
pub const GITOPS_MANIFEST: &str = "apps/payment-service/deployment.yaml";

/// Passwords this stack gives the roles of policies/postgres/roles.sql.
const PG_RO_PASSWORD: &str = "demo-ro-pw";
const PG_RW_PASSWORD: &str = "demo-rw-pw";
/// The application database of the incident.
const PG_DB: &str = "payments";
/// The statement that pg_stat_statements reports as slow.
pub const SLOW_JOIN: &str = "SELECT c.region, count(*) AS orders, sum(o.amount) AS revenue \
     FROM orders o JOIN customers c ON c.id = o.customer_id CROSS JOIN pg_sleep(0.25) \
     GROUP BY c.region";

/// The seed's roleMapping (the chart's default values), reduced to the backends this stack runs.
const SEED_ROLES: &[(&str, &[&str])] = &[
    (
        "devops-full",
        &[
            "eks-rw",
            "eks-ro-prod",
            "aws-rw",
            "costs",
            "cloudwatch",
            "postgres-rw",
            "prometheus-dev",
            "prometheus-prod",
            "cloudflare-edit",
            "argo-sync",
            "github-rw",
        ],
    ),
    (
        "dev-readonly",
        &[
            "eks-ro",
            "eks-ro-prod",
            "aws-ro",
            "costs",
            "cloudwatch",
            "postgres-ro",
            "prometheus-dev",
            "prometheus-prod",
            "cloudflare-ro",
            "argo-view",
            "github-ro",
        ],
    ),
];

/// How to start one backend: name, server family, access, environment, env vars, extra flags.
type Spec<'a> = (
    &'a str,
    &'static str,
    &'static str,
    &'a str,
    Vec<(String, String)>,
    Vec<String>,
);

/// One backend process of the stack.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    /// The binary's family: `eks`, `postgres`, ...
    pub server: &'static str,
    pub access: &'static str,
    pub url: String,
    pub log: PathBuf,
}

/// Options of [`LocalStack::start`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Progress lines ("starting PostgreSQL ...") on stderr.
    pub verbose: bool,
    /// Where the binaries are; default: next to the running executable (the cargo target dir).
    pub bin_dir: Option<PathBuf>,
}

/// The running stack. Dropping it stops every process it started.
#[derive(Debug)]
pub struct LocalStack {
    pub dir: tempfile::TempDir,
    pub gateway_url: String,
    pub agent_key: String,
    pub operator_key: String,
    /// The gateway's stdout: one audit line per MCP request.
    pub audit_file: PathBuf,
    pub config_file: PathBuf,
    pub backends: Vec<Backend>,
    pub prometheus_url: String,
    pub moto_url: String,
    /// Superuser URL of the PostgreSQL cluster (the `postgres` database).
    pub database_url: String,
    pub github: MockServer,
    /// The Argo CD API fake (the production Argo CD, syncing from [`GITOPS_REPO`]).
    pub argocd: MockServer,
    /// The Cloudflare API fake.
    pub cloudflare: MockServer,
    pub kube_prod: FakeApiServer,
    pub kube_dev: FakeApiServer,
    /// How many sessions hold the database's connection slots (the incident).
    pub sleepers: usize,
    verbose: bool,
    children: Vec<(String, Child)>,
    cleanups: Vec<Vec<String>>,
    sleeper_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalStack {
    /// Brings the whole stack up and recreates the incident. Takes a few seconds (PostgreSQL,
    /// Prometheus and moto start in parallel with nothing else to wait for).
    pub async fn start(opts: Options) -> anyhow::Result<LocalStack> {
        mcp_common::telemetry::install_crypto_provider();
        let bin = match &opts.bin_dir {
            Some(d) => d.clone(),
            None => bin_dir()?,
        };
        for b in [
            "mcp-gateway",
            "mcp-eks",
            "mcp-postgres",
            "mcp-prometheus",
            "mcp-aws",
            "mcp-cloudwatch",
            "mcp-github",
            "mcp-argo",
            "mcp-cloudflare",
        ] {
            if !bin.join(b).is_file() {
                bail!(
                    "{} not found: build the binaries first (cargo build --bins)",
                    bin.join(b).display()
                );
            }
        }
        let dir = tempfile::Builder::new().prefix("mcp-demo.").tempdir()?;
        let repo = repo_root();
        let me = std::process::id().to_string();
        let say = |m: &str| {
            if opts.verbose {
                eprintln!("==> {m}");
            }
        };

        say("starting PostgreSQL, Prometheus and the moto AWS emulator");
        let pg_args = ["--watch-pid", me.as_str()];
        let prom_env = [("PROMETHEUS_STOP_WITH_PID", me.as_str())];
        let moto_env = [("MOTO_STOP_WITH_PID", me.as_str())];
        let (pg, prom, moto) = tokio::try_join!(
            script(repo.join("scripts/start-postgres"), &pg_args, &[]),
            script(repo.join("scripts/start-prometheus"), &[], &prom_env),
            script(repo.join("scripts/start-moto"), &[], &moto_env),
        )?;
        let mut cleanups = Vec::new();
        if let Some(stop) = pg.get("PG_STOP") {
            cleanups.push(stop.split_whitespace().map(str::to_owned).collect());
        }
        if let Some(pid) = prom.get("PROMETHEUS_PID") {
            cleanups.push(vec!["kill".into(), pid.clone()]);
        }
        if let Some(pid) = moto.get("MOTO_PID") {
            cleanups.push(vec!["kill".into(), pid.clone()]);
        }
        let database_url = need(&pg, "DATABASE_URL")?;
        let prometheus_url = need(&prom, "PROMETHEUS_URL")?;
        let moto_url = need(&moto, "AWS_ENDPOINT_URL")?;

        say("creating the payments database, the policy's roles and the application's tables");
        setup_database(&repo, &database_url).await?;
        say("adding the payment-service nodes to EC2 (moto)");
        seed_ec2(&moto_url).await?;

        say(
            "starting the Kubernetes API fakes (dev and production clusters) and the GitHub API fake",
        );
        let kube_prod = FakeApiServer::start_with(true).await?;
        let kube_dev = FakeApiServer::start().await?;
        let github = github_fake().await;
        let argocd = argocd_fake().await;
        let cloudflare = cloudflare_fake().await;

        let mut stack = LocalStack {
            gateway_url: String::new(),
            agent_key: String::new(),
            operator_key: String::new(),
            audit_file: dir.path().join("audit.jsonl"),
            config_file: dir.path().join("gateway.yaml"),
            backends: Vec::new(),
            prometheus_url,
            moto_url,
            database_url,
            github,
            argocd,
            cloudflare,
            kube_prod,
            kube_dev,
            sleepers: 0,
            verbose: opts.verbose,
            children: Vec::new(),
            cleanups,
            sleeper_tasks: Vec::new(),
            dir,
        };

        say("starting the backends, each a process with its own credentials");
        stack.start_backends(&bin).await?;

        say("issuing keys: incident-agent-01 (dev-readonly), oncall-operator (devops-full)");
        let keys_file = stack.dir.path().join("keys.json");
        stack.agent_key = issue_key(&bin, &keys_file, "dev-readonly", AGENT_USER)?;
        stack.operator_key = issue_key(&bin, &keys_file, "devops-full", OPERATOR_USER)?;

        say("starting the gateway with the seed's roleMapping");
        let port = free_port()?;
        let mut config = format!(
            "listen: 127.0.0.1:{port}\nkeys_file: {}\nbackends:\n",
            keys_file.display()
        );
        for b in &stack.backends {
            let _ = writeln!(config, "  {}: {}", b.name, b.url);
        }
        config.push_str("roleMapping:\n");
        for (role, names) in SEED_ROLES {
            let _ = writeln!(config, "  {role}:");
            for n in names.iter().filter(|n| stack.has(n)) {
                let _ = writeln!(config, "    - {n}");
            }
        }
        std::fs::write(&stack.config_file, &config)?;
        let check = Command::new(bin.join("mcp-gateway"))
            .args(["check", "--config"])
            .arg(&stack.config_file)
            .output()?;
        if !check.status.success() {
            bail!(
                "mcp-gateway check refused the generated config:\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let audit = std::fs::File::create(&stack.audit_file)?;
        let log = std::fs::File::create(stack.dir.path().join("gateway.log"))?;
        let child = Command::new(bin.join("mcp-gateway"))
            .args(["serve", "--config"])
            .arg(&stack.config_file)
            .env("LOG_FORMAT", "json")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(audit)
            .stderr(log)
            .spawn()
            .context("start mcp-gateway")?;
        stack.adopt("gateway", child);
        stack.gateway_url = format!("http://127.0.0.1:{port}");
        wait_ready(
            &format!("{}/readyz", stack.gateway_url),
            Duration::from_secs(30),
        )
        .await
        .context("the gateway did not become ready")?;

        say("recreating the incident: the slow JOIN, then sessions holding the connection slots");
        stack.recreate_db_incident().await?;
        Ok(stack)
    }

    /// Whether the stack runs backend `name`.
    pub fn has(&self, name: &str) -> bool {
        self.backends.iter().any(|b| b.name == name)
    }

    /// The gateway URL of backend `name`.
    pub fn url(&self, backend: &str) -> String {
        format!("{}/mcp/{backend}/mcp", self.gateway_url)
    }

    /// The audit lines written so far (waits until the count is stable for 300 ms: the
    /// gateway writes a line when the response stream ends).
    pub async fn audit_lines(&self) -> anyhow::Result<Vec<Value>> {
        let mut last = usize::MAX;
        let mut stable_since = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.audit_file)?;
            let n = text.lines().count();
            if n != last {
                last = n;
                stable_since = Instant::now();
            } else if stable_since.elapsed() > Duration::from_millis(300)
                || Instant::now() > deadline
            {
                return text
                    .lines()
                    .map(|l| serde_json::from_str(l).with_context(|| format!("audit line: {l}")))
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn adopt(&mut self, name: &str, child: Child) {
        // A watcher ends the child if this process dies without running Drop (SIGKILL).
        let _ = Command::new("setsid")
            .args([
                "bash",
                "-c",
                "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill \"$2\" 2>/dev/null",
                "_",
                &std::process::id().to_string(),
                &child.id().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        self.children.push((name.to_owned(), child));
    }

    async fn start_backends(&mut self, bin: &Path) -> anyhow::Result<()> {
        let d = self.dir.path().to_owned();
        let kube = |f: &FakeApiServer, token: &str, name: &str| -> anyhow::Result<PathBuf> {
            let p = d.join(format!("kubeconfig-{name}"));
            std::fs::write(&p, f.kubeconfig(token))?;
            Ok(p)
        };
        let pg_port = url::Url::parse(&self.database_url)?
            .port()
            .context("port in DATABASE_URL")?;
        let pg_as =
            |user: &str, pw: &str| format!("postgres://{user}:{pw}@127.0.0.1:{pg_port}/{PG_DB}");
        let aws_env: Vec<(String, String)> = vec![
            ("AWS_ENDPOINT_URL".into(), self.moto_url.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "eu-west-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        let gh_env: Vec<(String, String)> = vec![
            ("GITHUB_API_URL".into(), self.github.uri()),
            ("GITHUB_REPOS".into(), "acme/*".into()),
        ];
        let env = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        };

        let specs: Vec<Spec<'_>> = vec![
            (
                "eks-ro",
                "eks",
                "ro",
                "dev",
                env(&[(
                    "KUBECONFIG",
                    kube(&self.kube_dev, VIEWER_TOKEN, "eks-ro")?
                        .display()
                        .to_string(),
                )]),
                vec![],
            ),
            (
                "eks-rw",
                "eks",
                "rw",
                "dev",
                env(&[(
                    "KUBECONFIG",
                    kube(&self.kube_dev, EDITOR_TOKEN, "eks-rw")?
                        .display()
                        .to_string(),
                )]),
                vec![],
            ),
            (
                "eks-ro-prod",
                "eks",
                "ro",
                "production",
                env(&[(
                    "KUBECONFIG",
                    kube(&self.kube_prod, VIEWER_TOKEN, "eks-ro-prod")?
                        .display()
                        .to_string(),
                )]),
                vec![],
            ),
            (
                "postgres-ro",
                "postgres",
                "ro",
                "production",
                env(&[("DATABASE_URL", pg_as("mcp_ro", PG_RO_PASSWORD))]),
                vec!["--pool-size".into(), "1".into()],
            ),
            (
                "postgres-rw",
                "postgres",
                "rw",
                "production",
                env(&[("DATABASE_URL", pg_as("mcp_rw", PG_RW_PASSWORD))]),
                vec!["--pool-size".into(), "1".into()],
            ),
            (
                "prometheus-dev",
                "prometheus",
                "ro",
                "dev",
                env(&[("PROMETHEUS_URL", self.prometheus_url.clone())]),
                vec![],
            ),
            (
                "prometheus-prod",
                "prometheus",
                "ro",
                "production",
                env(&[("PROMETHEUS_URL", self.prometheus_url.clone())]),
                vec![],
            ),
            ("aws-ro", "aws", "ro", "production", aws_env.clone(), vec![]),
            ("aws-rw", "aws", "rw", "production", aws_env.clone(), vec![]),
            (
                "cloudwatch",
                "cloudwatch",
                "ro",
                "production",
                aws_env.clone(),
                vec![],
            ),
            (
                "github-ro",
                "github",
                "ro",
                "production",
                [
                    gh_env.clone(),
                    env(&[("GITHUB_TOKEN", "ghp_demo_read_only_token".into())]),
                ]
                .concat(),
                vec![],
            ),
            (
                "github-rw",
                "github",
                "rw",
                "production",
                [
                    gh_env.clone(),
                    env(&[("GITHUB_TOKEN", "ghp_demo_read_write_token".into())]),
                ]
                .concat(),
                vec![],
            ),
            (
                "argo-view",
                "argo",
                "ro",
                "production",
                env(&[
                    ("ARGOCD_URL", self.argocd.uri()),
                    ("ARGOCD_AUTH_TOKEN", "argocd-demo-view-token".into()),
                ]),
                vec![],
            ),
            (
                "argo-sync",
                "argo",
                "rw",
                "production",
                env(&[
                    ("ARGOCD_URL", self.argocd.uri()),
                    ("ARGOCD_AUTH_TOKEN", "argocd-demo-sync-token".into()),
                ]),
                vec![],
            ),
            (
                "cloudflare-ro",
                "cloudflare",
                "ro",
                "production",
                env(&[
                    (
                        "CLOUDFLARE_API_URL",
                        format!("{}/client/v4", self.cloudflare.uri()),
                    ),
                    ("CLOUDFLARE_API_TOKEN", "cf-demo-read-token".into()),
                ]),
                vec![],
            ),
            (
                "cloudflare-edit",
                "cloudflare",
                "rw",
                "production",
                env(&[
                    (
                        "CLOUDFLARE_API_URL",
                        format!("{}/client/v4", self.cloudflare.uri()),
                    ),
                    ("CLOUDFLARE_API_TOKEN", "cf-demo-edit-token".into()),
                ]),
                vec![],
            ),
        ];
        let mut costs = specs;
        if bin.join("mcp-costs").is_file() && costs_is_implemented(bin) {
            costs.push((
                "costs",
                "costs",
                "ro",
                "production",
                aws_env.clone(),
                vec![],
            ));
        }
        for (name, server, access, environment, envs, extra) in costs {
            let port = free_port()?;
            let log_path = d.join(format!("{name}.log"));
            let log = std::fs::File::create(&log_path)?;
            let mut cmd = Command::new(bin.join(format!("mcp-{server}")));
            cmd.args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--access", access, "--env", environment])
                .args(&extra)
                .env_remove("KUBECONFIG")
                .env_remove("DATABASE_URL")
                .env("LOG_FORMAT", "json")
                .env(
                    "RUST_LOG",
                    std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .envs(envs)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            let child = cmd
                .spawn()
                .with_context(|| format!("start mcp-{server} as {name}"))?;
            self.adopt(name, child);
            self.backends.push(Backend {
                name: name.to_owned(),
                server,
                access,
                url: format!("http://127.0.0.1:{port}/mcp"),
                log: log_path,
            });
        }
        for b in self.backends.clone() {
            let ready = b.url.replace("/mcp", "/readyz");
            if let Err(e) = wait_ready(&ready, Duration::from_secs(60)).await {
                let log = std::fs::read_to_string(&b.log).unwrap_or_default();
                bail!("{} did not become ready: {e:#}\n{}", b.name, tail(&log, 20));
            }
        }
        Ok(())
    }

    /// The statement statistics and the connection slots of the seed: the slow JOIN three
    /// times (pg_stat_statements), then superuser sessions that keep queries running until 98
    /// of the 100 connections are in use while the agent looks.
    async fn recreate_db_incident(&mut self) -> anyhow::Result<()> {
        let db_url = db_url(&self.database_url, PG_DB)?;
        let mut admin = PgConnection::connect(&db_url).await?;
        admin.execute("SELECT pg_stat_statements_reset()").await?;
        for _ in 0..3 {
            admin.execute(SLOW_JOIN).await?;
        }
        // Client connections now open besides this one (the backends' pools).
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await?;
        admin.close().await.ok();
        let sleepers = usize::try_from(98 - open).context("too many connections already")?;
        for _ in 0..sleepers {
            let url = db_url.clone();
            self.sleeper_tasks.push(tokio::spawn(async move {
                if let Ok(mut s) = PgConnection::connect(&url).await {
                    let _ = s
                        .execute("SELECT pg_sleep(3600) /* payment-service worker */")
                        .await;
                }
            }));
        }
        let mut watcher = PgConnection::connect(&db_url).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%payment-service worker%' AND state = 'active' AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut watcher)
            .await?;
            if usize::try_from(n).unwrap_or(0) >= sleepers {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {n} of {sleepers} sessions started");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        watcher.close().await.ok();
        self.sleepers = sleepers;
        Ok(())
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for t in &self.sleeper_tasks {
            t.abort();
        }
        // The gateway first (it flushes its audit on SIGTERM), then the backends.
        for (_, c) in self.children.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (name, c) in &mut self.children {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        if self.verbose {
                            eprintln!("{name} did not stop on SIGTERM; killing it");
                        }
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        for cmd in &self.cleanups {
            if let Some((prog, args)) = cmd.split_first() {
                let _ = Command::new(prog)
                    .args(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// The repository root (the scripts and policies).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the workspace's binaries are: `MCP_BIN_DIR`, else the directory of the running
/// executable (`target/debug`, or its parent when running from `target/debug/deps`).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(d) = std::env::var("MCP_BIN_DIR") {
        return Ok(PathBuf::from(d));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable directory")?.to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

fn costs_is_implemented(bin: &Path) -> bool {
    // A build of mcp-costs that serves its tools answers --help with its own flags.
    Command::new(bin.join("mcp-costs"))
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--cache-ttl"))
        .unwrap_or(false)
}

fn need(m: &BTreeMap<String, String>, k: &str) -> anyhow::Result<String> {
    m.get(k).cloned().with_context(|| format!("{k} missing"))
}

/// Runs a start script and parses its `KEY=VALUE` lines.
async fn script(
    path: PathBuf,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut cmd = Command::new(&path);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .with_context(|| format!("run {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

fn db_url(superuser_url: &str, db: &str) -> anyhow::Result<String> {
    let mut u = url::Url::parse(superuser_url)?;
    u.set_path(db);
    Ok(u.to_string())
}

/// The policy's roles (policies/postgres/roles.sql) and the application's schema: customers,
/// orders (20k rows), the grants the policy expects.
async fn setup_database(repo: &Path, superuser_url: &str) -> anyhow::Result<()> {
    let roles = std::fs::read_to_string(repo.join("policies/postgres/roles.sql"))?;
    let mut c = PgConnection::connect(superuser_url).await?;
    sqlx::raw_sql(AssertSqlSafe(roles)).execute(&mut c).await?;
    c.execute(AssertSqlSafe(format!(
        "ALTER ROLE mcp_ro PASSWORD '{PG_RO_PASSWORD}'; ALTER ROLE mcp_rw PASSWORD '{PG_RW_PASSWORD}'"
    )))
    .await?;
    c.execute(AssertSqlSafe(format!("CREATE DATABASE {PG_DB}")))
        .await?;
    c.close().await.ok();
    let mut db = PgConnection::connect(&db_url(superuser_url, PG_DB)?).await?;
    sqlx::raw_sql(
        "CREATE TABLE customers (
             id serial PRIMARY KEY,
             email text NOT NULL UNIQUE,
             region text NOT NULL
         );
         CREATE TABLE orders (
             id bigserial PRIMARY KEY,
             customer_id int NOT NULL REFERENCES customers(id),
             amount numeric(10,2) NOT NULL,
             created timestamptz NOT NULL DEFAULT now()
         );
         INSERT INTO customers (email, region)
             SELECT 'customer' || g || '@example.com', (ARRAY['eu','us','apac'])[1 + g % 3]
             FROM generate_series(1, 2000) g;
         INSERT INTO orders (customer_id, amount)
             SELECT 1 + g % 2000, (g % 500) + 0.99 FROM generate_series(1, 20000) g;
         ANALYZE;",
    )
    .execute(&mut db)
    .await?;
    db.close().await.ok();
    Ok(())
}

/// Three worker nodes of the production cluster, as EC2 instances in moto (RunInstances over
/// moto's query API; moto does not check signatures without IAM enforcement).
async fn seed_ec2(moto: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for (i, ip) in ["10.0.1.12", "10.0.2.7", "10.0.3.3"].iter().enumerate() {
        let name = format!("ip-{}", ip.replace('.', "-"));
        let form = [
            ("Action", "RunInstances"),
            ("Version", "2016-11-15"),
            ("ImageId", "ami-12c6146b"),
            ("InstanceType", "m6i.large"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("PrivateIpAddress", ip),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", &name),
            ("TagSpecification.1.Tag.2.Key", "eks:cluster-name"),
            ("TagSpecification.1.Tag.2.Value", "production"),
        ];
        let r = http
            .post(format!("{moto}/"))
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20261128/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature={i:064}"
                ),
            )
            .form(&form)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("RunInstances in moto: {} {}", r.status(), r.text().await?);
        }
    }
    Ok(())
}

/// The GitOps repository's manifest of payment-service (what Argo CD syncs to production).
pub fn gitops_manifest() -> String {
    "apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
  namespace: production
  labels:
    app: payment-service
spec:
  replicas: 3
  selector:
    matchLabels:
      app: payment-service
  template:
    metadata:
      labels:
        app: payment-service
    spec:
      containers:
        - name: app
          image: registry.example.com/payment-service:1.4.2
          env:
            - name: DB_POOL_SIZE
              value: \"50\"
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: 512Mi
"
    .to_owned()
}

const TREE_ROOT: &str = "9c7a3bd9c9f2e4b0e0f3e1d2c4b5a6978877665a";
const TREE_APPS: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const TREE_PAYMENT: &str = "0155eb4229851634a0f03eb265b69f5a2d56f341";

/// A GitHub API fake (wiremock) serving the GitOps repository with realistic JSON.
async fn github_fake() -> MockServer {
    let server = MockServer::start().await;
    let base = server.uri();
    let (owner, name) = GITOPS_REPO.split_once('/').expect("owner/name");
    let head = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let manifest = gitops_manifest();
    let blob_sha = "3d21ec53a331a6f037a91c368710b99387d012c1";
    let repo = json!({
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name,
        "full_name": GITOPS_REPO, "private": true,
        "owner": {"login": owner, "id": 1, "type": "Organization", "url": format!("{base}/users/{owner}"),
            "html_url": format!("https://github.com/{owner}"), "avatar_url": "", "gravatar_id": "", "node_id": "MDEyOk9yZ2FuaXphdGlvbjE=",
            "followers_url": "", "following_url": "", "gists_url": "", "starred_url": "", "subscriptions_url": "",
            "organizations_url": "", "repos_url": "", "events_url": "", "received_events_url": "", "site_admin": false},
        "html_url": format!("https://github.com/{GITOPS_REPO}"),
        "description": "Argo CD applications of the production cluster",
        "fork": false, "url": format!("{base}/repos/{GITOPS_REPO}"),
        "default_branch": "main", "visibility": "private", "archived": false, "disabled": false,
        "open_issues_count": 2, "stargazers_count": 0, "watchers_count": 0, "forks_count": 0, "size": 120,
        "pushed_at": "2026-11-27T18:02:11Z", "created_at": "2024-03-01T09:00:00Z", "updated_at": "2026-11-27T18:02:11Z",
        "topics": ["gitops", "argocd"], "language": null,
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true}
    });
    Mock::given(method("GET"))
        .and(path(format!("/repos/{GITOPS_REPO}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo))
        .mount(&server)
        .await;
    let content = json!({
        "type": "file", "encoding": "base64", "size": manifest.len(),
        "name": "deployment.yaml", "path": GITOPS_MANIFEST,
        "content": base64::engine::general_purpose::STANDARD.encode(&manifest),
        "sha": blob_sha,
        "url": format!("{base}/repos/{GITOPS_REPO}/contents/{GITOPS_MANIFEST}?ref=main"),
        "git_url": format!("{base}/repos/{GITOPS_REPO}/git/blobs/{blob_sha}"),
        "html_url": format!("https://github.com/{GITOPS_REPO}/blob/main/{GITOPS_MANIFEST}"),
        "download_url": format!("{base}/raw/{GITOPS_REPO}/main/{GITOPS_MANIFEST}"),
        "_links": {"self": format!("{base}/repos/{GITOPS_REPO}/contents/{GITOPS_MANIFEST}?ref=main"),
            "git": format!("{base}/repos/{GITOPS_REPO}/git/blobs/{blob_sha}"),
            "html": format!("https://github.com/{GITOPS_REPO}/blob/main/{GITOPS_MANIFEST}")}
    });
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/{GITOPS_REPO}/contents/{GITOPS_MANIFEST}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(content))
        .mount(&server)
        .await;
    let git_ref = json!({
        "ref": "refs/heads/main", "node_id": "MDM6UmVmcmVmcy9oZWFkcy9tYWlu",
        "url": format!("{base}/repos/{GITOPS_REPO}/git/refs/heads/main"),
        "object": {"type": "commit", "sha": head, "url": format!("{base}/repos/{GITOPS_REPO}/git/commits/{head}")}
    });
    for p in ["git/ref/heads/main", "git/refs/heads/main"] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{GITOPS_REPO}/{p}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(git_ref.clone()))
            .mount(&server)
            .await;
    }
    let branch = json!({
        "name": "main", "protected": true,
        "commit": {"sha": head, "url": format!("{base}/repos/{GITOPS_REPO}/commits/{head}")},
        "_links": {"self": format!("{base}/repos/{GITOPS_REPO}/branches/main"), "html": format!("https://github.com/{GITOPS_REPO}/tree/main")}
    });
    Mock::given(method("GET"))
        .and(path(format!("/repos/{GITOPS_REPO}/branches/main")))
        .respond_with(ResponseTemplate::new(200).set_body_json(branch))
        .mount(&server)
        .await;
    // The Git Data API view of the same commit (what github_propose_change reads).
    let commit = json!({
        "sha": head, "node_id": "C_kwDOAAABc9oAKDZkY2IwOWI1",
        "url": format!("{base}/repos/{GITOPS_REPO}/git/commits/{head}"),
        "html_url": format!("https://github.com/{GITOPS_REPO}/commit/{head}"),
        "author": {"name": "Platform Bot", "email": "platform-bot@example.com", "date": "2026-11-27T18:02:11Z"},
        "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2026-11-27T18:02:11Z"},
        "message": "payment-service: release 1.4.2",
        "tree": {"sha": TREE_ROOT, "url": format!("{base}/repos/{GITOPS_REPO}/git/trees/{TREE_ROOT}")},
        "parents": [{"sha": "7638417db6d59f3c431d3e1f261cc637155684cd",
            "url": format!("{base}/repos/{GITOPS_REPO}/git/commits/7638417db6d59f3c431d3e1f261cc637155684cd")}],
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null}
    });
    Mock::given(method("GET"))
        .and(path(format!("/repos/{GITOPS_REPO}/git/commits/{head}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(commit))
        .mount(&server)
        .await;
    let entry = |p: &str, kind: &str, sha: &str, size: Option<usize>| {
        let mut e = json!({"path": p, "mode": if kind == "tree" { "040000" } else { "100644" },
            "type": kind, "sha": sha, "url": format!("{base}/repos/{GITOPS_REPO}/git/{kind}s/{sha}")});
        if let Some(n) = size {
            e["size"] = json!(n);
        }
        e
    };
    let trees = [
        (
            TREE_ROOT,
            vec![
                entry(
                    "README.md",
                    "blob",
                    "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
                    Some(0),
                ),
                entry("apps", "tree", TREE_APPS, None),
            ],
        ),
        (
            TREE_APPS,
            vec![
                entry(
                    "checkout",
                    "tree",
                    "1f7a7a472abf3dd9643fd615f6da379c4acb3e3a",
                    None,
                ),
                entry("payment-service", "tree", TREE_PAYMENT, None),
            ],
        ),
        (
            TREE_PAYMENT,
            vec![entry(
                "deployment.yaml",
                "blob",
                blob_sha,
                Some(manifest.len()),
            )],
        ),
    ];
    for (sha, entries) in trees {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{GITOPS_REPO}/git/trees/{sha}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "sha": sha, "url": format!("{base}/repos/{GITOPS_REPO}/git/trees/{sha}"),
                "tree": entries, "truncated": false
            })))
            .mount(&server)
            .await;
    }
    // GitHub wraps base64 blob content at 60 characters.
    let encoded = base64::engine::general_purpose::STANDARD.encode(&manifest);
    let wrapped = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    Mock::given(method("GET"))
        .and(path(format!("/repos/{GITOPS_REPO}/git/blobs/{blob_sha}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": blob_sha, "node_id": "B_kwDOAAABc9oAKDNkMjFlYzUz", "size": manifest.len(),
            "url": format!("{base}/repos/{GITOPS_REPO}/git/blobs/{blob_sha}"),
            "content": wrapped, "encoding": "base64"
        })))
        .mount(&server)
        .await;
    // The backends' readiness check.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let core = json!({"limit": 5000, "used": 12, "remaining": 4988, "reset": now + 3600});
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resources": {"core": core, "search": {"limit": 30, "used": 0, "remaining": 30, "reset": now + 60},
                "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": now + 3600}},
            "rate": core
        })))
        .mount(&server)
        .await;
    // Anything else of the repository does not exist (a new branch, another file), as on GitHub.
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/.*"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404"
        })))
        .mount(&server)
        .await;
    server
}

/// The Argo CD Application of payment-service, syncing [`GITOPS_MANIFEST`]'s directory of
/// [`GITOPS_REPO`] into production; degraded, as during the incident.
fn argocd_application() -> Value {
    json!({
        "metadata": {"name": "payment-service", "namespace": "argocd", "uid": "b6f1c2f4-2c5e-4a57-9d0e-2f1a3b4c5d6e",
            "resourceVersion": "918273", "generation": 41, "creationTimestamp": "2026-09-01T10:00:00Z",
            "labels": {"team": "payments"}},
        "spec": {
            "project": "production",
            "source": {"repoURL": format!("https://github.com/{GITOPS_REPO}.git"),
                "path": GITOPS_MANIFEST.rsplit_once('/').map(|(d, _)| d).unwrap_or(""),
                "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "production"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=false"]}
        },
        "status": {
            "sync": {"status": "Synced", "revision": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                "comparedTo": {"source": {"repoURL": format!("https://github.com/{GITOPS_REPO}.git"),
                    "path": "apps/payment-service", "targetRevision": "main"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "production"}}},
            "health": {"status": "Degraded", "message": "Deployment \"payment-service\" exceeded its progress deadline"},
            "history": [{"id": 12, "revision": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                "deployedAt": "2026-11-27T18:05:40Z", "deployStartedAt": "2026-11-27T18:05:31Z",
                "source": {"repoURL": format!("https://github.com/{GITOPS_REPO}.git"), "path": "apps/payment-service", "targetRevision": "main"}}],
            "reconciledAt": "2026-11-27T20:00:12Z",
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "production", "name": "payment-service",
                    "status": "Synced", "health": {"status": "Degraded", "message": "Deployment \"payment-service\" exceeded its progress deadline"}},
                {"version": "v1", "kind": "Service", "namespace": "production", "name": "payment-service",
                    "status": "Synced", "health": {"status": "Healthy"}}
            ],
            "summary": {"images": ["registry.example.com/payment-service:1.4.2"]},
            "sourceType": "Directory",
            "conditions": [],
            "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": "2026-11-27T18:05:31Z", "finishedAt": "2026-11-27T18:05:40Z",
                "operation": {"sync": {"revision": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}, "initiatedBy": {"automated": true}},
                "syncResult": {"revision": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}},
            "controllerNamespace": "argocd"
        }
    })
}

/// An Argo CD API fake (wiremock): the session check and payment-service's Application.
async fn argocd_fake() -> MockServer {
    let server = MockServer::start().await;
    let app = argocd_application();
    Mock::given(method("GET"))
        .and(path("/api/v1/session/userinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "loggedIn": true, "username": "mcp-argo", "iss": "argocd", "groups": []
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/applications/payment-service"))
        .respond_with(ResponseTemplate::new(200).set_body_json(app.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/applications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "metadata": {"resourceVersion": "918273"}, "items": [app]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v1/applications/.*"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": "applications.argoproj.io not found", "code": 5,
            "message": "applications.argoproj.io not found"
        })))
        .mount(&server)
        .await;
    server
}

/// A Cloudflare API v4 fake (wiremock): the token check and the zone of the payment API.
async fn cloudflare_fake() -> MockServer {
    let server = MockServer::start().await;
    let env =
        |result: Value| json!({"success": true, "errors": [], "messages": [], "result": result});
    Mock::given(method("GET"))
        .and(path("/client/v4/user/tokens/verify"))
        .respond_with(ResponseTemplate::new(200).set_body_json(env(json!({
            "id": "ed17574386854bf78a67040be0a770b0", "status": "active"
        }))))
        .mount(&server)
        .await;
    let zone = json!({
        "id": "023e105f4ecef8ad9ca31a8372d0c353", "name": "acme-payments.example", "status": "active",
        "paused": false, "type": "full", "development_mode": 0,
        "name_servers": ["ns1.example-dns.net", "ns2.example-dns.net"],
        "created_on": "2024-03-01T09:00:00.000000Z", "modified_on": "2026-11-20T12:00:00.000000Z",
        "activated_on": "2024-03-01T09:10:00.000000Z",
        "account": {"id": "01a7362d577a6c3019a474fd6f485823", "name": "Acme"},
        "plan": {"id": "94f3b7b768b0458b56d2cac4fe5ec0f9", "name": "Enterprise Website", "price": 0, "currency": "USD", "frequency": "", "is_subscribed": true, "can_subscribe": false}
    });
    let mut page = env(json!([zone]));
    page["result_info"] =
        json!({"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1});
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    server
}

fn issue_key(bin: &Path, keys_file: &Path, role: &str, user: &str) -> anyhow::Result<String> {
    let out = Command::new(bin.join("mcp-gateway"))
        .args([
            "keys",
            "generate",
            "--role",
            role,
            "--user",
            user,
            "--keys-file",
        ])
        .arg(keys_file)
        .output()?;
    if !out.status.success() {
        bail!(
            "keys generate for {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_ready(url: &str, limit: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    let mut last;
    loop {
        match http.get(url).timeout(Duration::from_secs(2)).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        if Instant::now() > deadline {
            bail!("{url}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

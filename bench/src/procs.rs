//! Processes under test: start, readiness (until MCP `initialize` answers), RSS of the process
//! tree from `/proc`, and stop. Every process listens on loopback only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use integration_tests::load::rss_kib;

/// A child process that is stopped (SIGTERM, then SIGKILL after 5 s) when dropped.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    /// When `spawn` returned (just after exec).
    pub started: Instant,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdin closed and stderr (and stdout unless set) to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> anyhow::Result<Proc> {
        let file = std::fs::File::create(log)?;
        cmd.stdin(Stdio::null()).stderr(file.try_clone()?);
        let started = Instant::now();
        let child = cmd
            .stdout(file)
            .spawn()
            .with_context(|| format!("start {name} ({:?})", cmd.get_program()))?;
        Ok(Self::adopt(name, child, started, log))
    }

    /// Takes over a child started elsewhere (e.g. with its stdout piped).
    pub fn adopt(name: &str, child: Child, started: Instant, log: &Path) -> Proc {
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
        Proc {
            name: name.to_owned(),
            child,
            started,
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// RSS of the process and all its descendants, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        rss_tree_kib(self.pid()).map(|k| k as f64 / 1024.0)
    }

    /// Fails with the log's tail if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}): {}",
                self.name,
                log_tail(&self.log, 15)
            );
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sum of VmRSS over `pid` and its descendants (a Python server's workers, a wrapper's child).
pub fn rss_tree_kib(pid: u32) -> Option<u64> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat"))
            && let Some((_, rest)) = stat.rsplit_once(") ")
            && let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok())
        {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    let mut total = rss_kib(pid)?;
    for p in &tree[1..] {
        total += rss_kib(*p).unwrap_or(0);
    }
    Some(total)
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    integration_tests::stack::free_port()
}

/// The MCP `initialize` request body.
pub fn initialize_body(id: u64) -> String {
    serde_json::json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":"mcp-bench","version":env!("CARGO_PKG_VERSION")}}})
    .to_string()
}

/// Polls `url` with MCP `initialize` until it answers with a result; returns when it did.
/// Measures "ready after exec" when called right after [`Proc::spawn`].
pub async fn wait_initialize(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    proc: &mut Proc,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    let mut last;
    loop {
        let mut req = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(5))
            .body(initialize_body(0));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                let text = r.text().await.unwrap_or_default();
                if text.contains("\"result\"") {
                    return Ok(Instant::now());
                }
                last = format!("answer without result: {text}");
            }
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        proc.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "{} did not answer initialize within {limit:?}: {last}",
                proc.name
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Polls a plain HTTP URL until it answers 2xx.
pub async fn wait_http(
    http: &reqwest::Client,
    url: &str,
    proc: &mut Proc,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        proc.check_alive()?;
        if Instant::now() > deadline {
            bail!("{} did not answer {url} within {limit:?}", proc.name);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Samples a process tree's RSS every `every` until `stop` fires; returns the samples in MiB.
pub fn sample_rss(
    pid: u32,
    every: Duration,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<Vec<f64>> {
    tokio::spawn(async move {
        let mut stop = stop;
        let mut out = Vec::new();
        loop {
            if let Some(k) = rss_tree_kib(pid) {
                out.push(k as f64 / 1024.0);
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = &mut stop => break,
            }
        }
        out
    })
}

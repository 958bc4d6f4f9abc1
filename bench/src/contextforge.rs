//! IBM ContextForge (PyPI `mcp-contextforge-gateway`), the peer gateway of part 1, installed by
//! scripts/bench-peers. Started in its best setup for throughput that keeps it a gateway:
//! authentication on (JWT bearer), rate limiting and the per-request database/logging extras
//! off, in-memory cache, stateless streamable HTTP with JSON answers. The benchmark's backend is
//! registered as a ContextForge gateway, its tool put on a virtual server, and the load goes to
//! that server's MCP endpoint.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use integration_tests::load::Endpoint;
use serde_json::{Value, json};

use crate::Ctx;
use crate::procs::{Proc, free_port, wait_http, wait_initialize};

#[derive(Debug)]
pub struct ContextForge {
    pub proc: Proc,
    pub endpoint: Endpoint,
    /// The backend's tool under ContextForge's name.
    pub tool: String,
    /// Version and setup, for the notes.
    pub describe: String,
}

fn secret() -> String {
    use std::fmt::Write;
    let (raw, _) = integration_tests::harness::new_key();
    let (raw2, _) = integration_tests::harness::new_key();
    raw.iter().chain(&raw2).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Starts ContextForge in front of `backend_url`, or says why it cannot run here.
pub async fn start(ctx: &Ctx, backend_url: &str) -> Result<ContextForge, String> {
    let venv = ctx
        .peer("contextforge", "bin/mcpgateway")?
        .parent()
        .and_then(|p| p.parent())
        .map(std::path::Path::to_path_buf)
        .ok_or("contextforge venv path")?;
    start_in(ctx, &venv, backend_url)
        .await
        .map_err(|e| format!("ContextForge did not run: {e:#}"))
}

async fn start_in(
    ctx: &Ctx,
    venv: &std::path::Path,
    backend_url: &str,
) -> anyhow::Result<ContextForge> {
    let version = std::fs::read_to_string(venv.join(".installed"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let dir = ctx.dir.path().join("contextforge");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let jwt = secret();
    let admin_password = format!("Bench-{}-pw!", &secret()[..16]);
    let workers = ctx.settings.contextforge_workers.max(1);
    let env: Vec<(&str, String)> = vec![
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        (
            "DATABASE_URL",
            format!("sqlite:///{}/mcp.db", dir.display()),
        ),
        ("JWT_SECRET_KEY", jwt.clone()),
        ("AUTH_ENCRYPTION_SECRET", secret()),
        ("BASIC_AUTH_PASSWORD", secret()),
        ("PLATFORM_ADMIN_EMAIL", "admin@example.com".into()),
        ("PLATFORM_ADMIN_PASSWORD", admin_password),
        (
            "DEFAULT_USER_PASSWORD",
            format!("Bench-{}-user!", &secret()[..16]),
        ),
        ("AUTH_REQUIRED", "true".into()),
        ("MCP_CLIENT_AUTH_ENABLED", "true".into()),
        ("MCPGATEWAY_UI_ENABLED", "false".into()),
        ("MCPGATEWAY_ADMIN_API_ENABLED", "false".into()),
        ("SSRF_ALLOW_LOCALHOST", "true".into()),
        ("LOG_LEVEL", "ERROR".into()),
        ("CACHE_TYPE", "memory".into()),
        ("USE_STATEFUL_SESSIONS", "false".into()),
        ("JSON_RESPONSE_ENABLED", "true".into()),
        // Its defaults throttle MCP calls to 100/min: a policy, not a speed.
        ("RATE_LIMITING_ENABLED", "false".into()),
        ("TOOL_RATE_LIMIT", "1000000".into()),
        ("TOOL_CONCURRENT_LIMIT", "10000".into()),
        // Per-request extras that cost throughput and that a benchmark setup turns off.
        ("STRUCTURED_LOGGING_ENABLED", "false".into()),
        ("PERFORMANCE_TRACKING_ENABLED", "false".into()),
        ("TOKEN_USAGE_LOGGING_ENABLED", "false".into()),
        ("METRICS_AGGREGATION_ENABLED", "false".into()),
        ("DB_METRICS_RECORDING_ENABLED", "false".into()),
        ("OBSERVABILITY_ENABLED", "false".into()),
        ("COMPRESSION_ENABLED", "false".into()),
        ("PLUGINS_ENABLED", "false".into()),
        ("LLMCHAT_ENABLED", "false".into()),
        ("REDIS_URL", String::new()),
    ];
    let mut cmd = if workers <= 1 {
        let mut c = Command::new(venv.join("bin/mcpgateway"));
        c.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        c
    } else {
        let mut c = Command::new(venv.join("bin/gunicorn"));
        c.args([
            "mcpgateway.main:app",
            "-k",
            "uvicorn.workers.UvicornWorker",
            "-w",
            &workers.to_string(),
            "-b",
            &format!("127.0.0.1:{port}"),
        ]);
        c
    };
    cmd.current_dir(&dir);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut proc = Proc::spawn("contextforge", &mut cmd, &dir.join("contextforge.log"))?;
    let base = format!("http://127.0.0.1:{port}");
    // First start runs its database migrations: slow.
    wait_http(
        &ctx.http,
        &format!("{base}/health"),
        &mut proc,
        Duration::from_secs(300),
    )
    .await?;

    let mut tok = Command::new(venv.join("bin/python"));
    tok.args([
        "-m",
        "mcpgateway.utils.create_jwt_token",
        "--username",
        "admin@example.com",
        "--exp",
        "600",
        "--secret",
        &jwt,
    ])
    .current_dir(&dir);
    for (k, v) in &env {
        tok.env(k, v);
    }
    let out = tok.output().context("create_jwt_token")?;
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find(|l| l.trim().split('.').count() == 3)
        .map(|l| l.trim().to_owned())
        .with_context(|| {
            format!(
                "create_jwt_token printed no token: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;

    let api = |method: reqwest::Method, path: &str| {
        ctx.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(60))
    };
    let r = api(reqwest::Method::POST, "/gateways")
        .json(&json!({"name": "bench-example", "url": backend_url, "transport": "STREAMABLEHTTP"}))
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("registering the backend: HTTP {status}: {text}");
    }
    let tools: Value = api(reqwest::Method::GET, "/tools")
        .send()
        .await?
        .json()
        .await?;
    let list = tools
        .as_array()
        .or_else(|| tools["tools"].as_array())
        .or_else(|| tools["items"].as_array())
        .cloned()
        .unwrap_or_default();
    let tool = list
        .iter()
        .find(|t| {
            ["originalName", "original_name", "name"]
                .iter()
                .any(|k| t[*k].as_str().is_some_and(|n| n == "example_echo"))
                || t["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("example-echo") || n.ends_with("example_echo"))
        })
        .with_context(|| format!("example_echo not among ContextForge's tools: {tools}"))?;
    let tool_id = tool["id"].as_str().context("tool id")?.to_owned();
    let tool_name = tool["name"].as_str().context("tool name")?.to_owned();
    let r = api(reqwest::Method::POST, "/servers")
        .json(&json!({"server": {"name": "bench", "description": "mcp-bench", "associated_tools": [tool_id]}, "visibility": "public"}))
        .send()
        .await?;
    let status = r.status();
    let server: Value = r.json().await?;
    if !status.is_success() {
        bail!("creating the virtual server: HTTP {status}: {server}");
    }
    let server_id = server["id"].as_str().context("server id")?;
    let url = format!("{base}/servers/{server_id}/mcp");
    wait_initialize(
        &ctx.http,
        &url,
        Some(&token),
        &mut proc,
        Duration::from_secs(60),
    )
    .await?;
    let python = Command::new(venv.join("bin/python"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    Ok(ContextForge {
        proc,
        endpoint: Endpoint::new(url, Some(token)),
        tool: tool_name,
        describe: format!(
            "ContextForge {version} on {python}, {}, SQLite, auth on, rate limits and per-request logging/metrics off",
            if workers <= 1 {
                "its mcpgateway command (1 uvicorn worker)".to_owned()
            } else {
                format!("gunicorn with {workers} uvicorn workers")
            }
        ),
    })
}

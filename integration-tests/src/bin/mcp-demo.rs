//! `scripts/demo`: brings up the local stack (see `integration_tests::stack`), works the seed's
//! incident through the gateway as `incident-agent-01`, prints the report, and summarizes the
//! audit trail. `--keep` leaves the stack running until Ctrl-C; Ctrl-C at any time stops
//! everything the demo started.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use integration_tests::agent::{self, Setup};
use integration_tests::stack::{self, LocalStack, Options};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-demo",
    about = "The incident-response flow on a local stack"
)]
struct Cli {
    /// Leave the stack running after the report (until Ctrl-C).
    #[arg(long)]
    keep: bool,
    /// Also write the report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the investigation as JSON (calls, findings, access checks) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tokio::select! {
        r = run(&cli) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: stopping everything the demo started");
            Ok(())
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let stack = LocalStack::start(Options {
        verbose: true,
        bin_dir: None,
    })
    .await?;
    eprintln!("==> the stack is up: gateway {}", stack.gateway_url);
    for b in &stack.backends {
        eprintln!(
            "    {:<16} mcp-{:<11} --access {}  {}",
            b.name, b.server, b.access, b.url
        );
    }
    eprintln!("==> investigating: {}", agent::ALERT);
    let setup = Setup {
        gateway: stack.gateway_url.clone(),
        agent_key: stack.agent_key.clone(),
        agent_user: stack::AGENT_USER.into(),
        operator_key: stack.operator_key.clone(),
        operator_user: stack::OPERATOR_USER.into(),
        gitops_repo: stack::GITOPS_REPO.into(),
        gitops_path: stack::GITOPS_MANIFEST.into(),
    };
    let inv = agent::investigate(&setup).await?;
    let report = inv.to_markdown();
    println!("{report}");
    if let Some(p) = &cli.report {
        std::fs::write(p, &report).with_context(|| format!("write {}", p.display()))?;
    }
    if let Some(p) = &cli.json {
        std::fs::write(p, serde_json::to_vec_pretty(&inv)?)
            .with_context(|| format!("write {}", p.display()))?;
    }

    let lines = stack.audit_lines().await?;
    let mut by_outcome = std::collections::BTreeMap::<String, usize>::new();
    for l in &lines {
        *by_outcome
            .entry(l["outcome"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    eprintln!(
        "==> audit: {} lines ({}) in {}",
        lines.len(),
        by_outcome
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        stack.audit_file.display()
    );
    for l in lines.iter().filter(|l| l["type"] == "mcp_tool_call") {
        eprintln!(
            "    {} {:<18} {:<13} {:<16} {:<24} {} {}",
            l["ts"].as_str().unwrap_or(""),
            l["user"].as_str().unwrap_or("-"),
            l["role"].as_str().unwrap_or("-"),
            l["backend"].as_str().unwrap_or("-"),
            l["tool_name"].as_str().unwrap_or("-"),
            l["http_status"],
            l["outcome"].as_str().unwrap_or("")
        );
    }
    if cli.keep {
        eprintln!("\n==> the stack stays up until Ctrl-C");
        eprintln!("    gateway: {}", stack.gateway_url);
        eprintln!("    {} key: {}", stack::AGENT_USER, stack.agent_key);
        eprintln!("    {} key: {}", stack::OPERATOR_USER, stack.operator_key);
        eprintln!(
            "    e.g. curl -s {} -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}' -H 'MCP-Protocol-Version: 2025-06-18'",
            stack.url("eks-ro-prod"),
            stack.agent_key
        );
        eprintln!("    audit: tail -f {}", stack.audit_file.display());
        std::future::pending::<()>().await;
    }
    Ok(())
}

//! The scripted incident agent (no LLM): it works the seed's alert the way an agent would, one
//! tool call at a time through the gateway, reading each tool's structured result to decide
//! what it knows and what to look at next. It writes a Markdown report with the findings and
//! their evidence, and, with the operator's key, shows the proposed fix as a
//! `github_propose_change` dry run. It also checks where its own access ends.
//!
//! Nothing here reads fixtures: every number in the report comes from a tool result.

use std::fmt::Write as _;

use anyhow::{Context, anyhow, bail};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{RunningService, ServiceError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::harness::{TestClient, connect};

/// The alert that starts the investigation (the seed's).
pub const ALERT: &str = "PodCrashLooping: payment-service in production (47 restarts)";

/// What the agent found, with the evidence for each finding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Investigation {
    pub alert: String,
    pub namespace: String,
    pub app: String,
    /// Every call the agent made, in order.
    pub calls: Vec<CallRecord>,
    pub findings: Vec<Finding>,
    pub root_cause: Vec<String>,
    pub fix: Option<ProposedFix>,
    pub access_checks: Vec<AccessCheck>,
    // The facts the findings rest on (also what tests assert).
    pub restarts: i64,
    pub oom_killed_events: i64,
    pub memory_usage_bytes: f64,
    pub memory_limit: String,
    pub memory_limit_bytes: f64,
    pub replicas: i64,
    pub db_pool_size: i64,
    pub pool_exhausted_lines: Vec<String>,
    pub db_connections_in_use: i64,
    pub db_max_connections: i64,
    pub slow_query: String,
    pub slow_query_mean_ms: f64,
    /// The repository and file Argo CD deploys the app from.
    pub gitops_repo: String,
    pub gitops_path: String,
}

/// One tool call (or refused call) of the run.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub user: String,
    pub backend: String,
    pub tool: String,
    pub arguments: Value,
    /// `ok`, `tool_error` or `refused` (the gateway or the backend said no).
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub title: String,
    pub evidence: String,
    /// `backend/tool` the evidence came from.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposedFix {
    pub repo: String,
    pub path: String,
    pub summary: String,
    pub dry_run: bool,
    /// What `github_propose_change` answered.
    pub result: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessCheck {
    pub attempt: String,
    pub layer: String,
    pub result: String,
    pub refused: bool,
}

/// Where and as whom the agent works.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `http://127.0.0.1:PORT` of the gateway.
    pub gateway: String,
    pub agent_key: String,
    pub agent_user: String,
    pub operator_key: String,
    pub operator_user: String,
    /// The GitOps repository and the manifest of the alerting app.
    pub gitops_repo: String,
    pub gitops_path: String,
}

type Session = RunningService<RoleClient, TestClient>;

struct Caller<'a> {
    setup: &'a Setup,
    inv: &'a mut Investigation,
}

enum Answer {
    Ok(Value),
    ToolError(String),
    Refused(String),
}

impl Caller<'_> {
    async fn session(&self, backend: &str, key: &str) -> anyhow::Result<Session> {
        connect(
            &format!("{}/mcp/{backend}/mcp", self.setup.gateway),
            Some(key),
            &ProtocolVersion::V_2025_11_25,
        )
        .await
        .with_context(|| format!("connect to {backend} through the gateway"))
    }

    /// Calls `tool` on `backend` as the agent (or the operator) and records the call.
    async fn call(
        &mut self,
        operator: bool,
        backend: &str,
        tool: &str,
        args: Value,
    ) -> anyhow::Result<Answer> {
        let (key, user) = if operator {
            (&self.setup.operator_key, &self.setup.operator_user)
        } else {
            (&self.setup.agent_key, &self.setup.agent_user)
        };
        let answer = match self.session(backend, key).await {
            Err(e) => Answer::Refused(format!("{e:#}")),
            Ok(s) => {
                let r = s
                    .call_tool(
                        CallToolRequestParams::new(tool.to_owned())
                            .with_arguments(args.as_object().cloned().unwrap_or_default()),
                    )
                    .await;
                let _ = s.cancel().await;
                match r {
                    Ok(r) if r.is_error == Some(true) => Answer::ToolError(text_of(&r)),
                    Ok(r) => {
                        let text = text_of(&r);
                        Answer::Ok(
                            r.structured_content
                                .unwrap_or_else(|| json!({"text": text})),
                        )
                    }
                    Err(ServiceError::McpError(e)) => Answer::Refused(e.message.to_string()),
                    Err(e) => Answer::Refused(e.to_string()),
                }
            }
        };
        let (outcome, detail) = match &answer {
            Answer::Ok(_) => ("ok", String::new()),
            Answer::ToolError(m) => ("tool_error", m.clone()),
            Answer::Refused(m) => ("refused", m.clone()),
        };
        self.inv.calls.push(CallRecord {
            user: user.clone(),
            backend: backend.to_owned(),
            tool: tool.to_owned(),
            arguments: args,
            outcome: outcome.to_owned(),
            detail: cut(&detail, 300),
        });
        Ok(answer)
    }

    /// One `tools/call` POST as the agent without an MCP session first (stateless servers take
    /// it as is); reports the gateway's HTTP status and JSON-RPC error when it refuses.
    async fn raw_call(&mut self, backend: &str, tool: &str, args: Value) -> anyhow::Result<Answer> {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/mcp/{backend}/mcp", self.setup.gateway))
            .bearer_auth(&self.setup.agent_key)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", "2025-11-25")
            .body(serde_json::to_vec(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}),
            )?)
            .send()
            .await?;
        let status = r.status();
        let body: Value = serde_json::from_slice(&r.bytes().await?).unwrap_or(Value::Null);
        let answer = if status.is_success() && body.get("error").is_none() {
            if body["result"]["isError"] == true {
                Answer::ToolError(body["result"]["content"].to_string())
            } else {
                Answer::Ok(body["result"]["structuredContent"].clone())
            }
        } else {
            Answer::Refused(format!(
                "HTTP {}: {}",
                status.as_u16(),
                body["error"]["message"].as_str().unwrap_or("")
            ))
        };
        let (outcome, detail) = match &answer {
            Answer::Ok(_) => ("ok", String::new()),
            Answer::ToolError(m) => ("tool_error", m.clone()),
            Answer::Refused(m) => ("refused", m.clone()),
        };
        self.inv.calls.push(CallRecord {
            user: self.setup.agent_user.clone(),
            backend: backend.to_owned(),
            tool: tool.to_owned(),
            arguments: args,
            outcome: outcome.to_owned(),
            detail: cut(&detail, 300),
        });
        Ok(answer)
    }

    /// Like [`Self::call`], but a tool error or refusal ends the investigation.
    async fn must(&mut self, backend: &str, tool: &str, args: Value) -> anyhow::Result<Value> {
        match self.call(false, backend, tool, args).await? {
            Answer::Ok(v) => Ok(v),
            Answer::ToolError(m) => bail!("{backend}/{tool} failed: {m}"),
            Answer::Refused(m) => bail!("{backend}/{tool} refused: {m}"),
        }
    }

    /// The tool names the key sees on `backend` (`tools/list`, filtered by the gateway).
    async fn list_tools(&mut self, backend: &str, operator: bool) -> anyhow::Result<Vec<String>> {
        let key = if operator {
            &self.setup.operator_key
        } else {
            &self.setup.agent_key
        };
        let s = self.session(backend, key).await?;
        let tools = s.list_all_tools().await?;
        let _ = s.cancel().await;
        Ok(tools.into_iter().map(|t| t.name.to_string()).collect())
    }
}

/// Works the alert end to end; see the module docs.
pub async fn investigate(setup: &Setup) -> anyhow::Result<Investigation> {
    let mut inv = Investigation {
        alert: ALERT.to_owned(),
        ..Default::default()
    };
    // "PodCrashLooping: <app> in <namespace> (...)"
    let subject = ALERT
        .split_once(": ")
        .map(|(_, s)| s)
        .context("alert subject")?;
    let (app, rest) = subject.split_once(" in ").context("app in namespace")?;
    inv.app = app.to_owned();
    inv.namespace = rest
        .split_whitespace()
        .next()
        .context("namespace")?
        .to_owned();
    let (ns, app) = (inv.namespace.clone(), inv.app.clone());
    let mut c = Caller {
        setup,
        inv: &mut inv,
    };
    // Production lives behind eks-ro-prod / prometheus-prod / postgres-ro.
    let (eks, prom, pg) = ("eks-ro-prod", "prometheus-prod", "postgres-ro");

    // 1. The pods: restarts and why the last container died.
    let pods = c
        .must(
            eks,
            "eks_get_pods",
            json!({"namespace": ns, "label_selector": format!("app={app}")}),
        )
        .await?;
    let pods = pods["pods"].as_array().cloned().unwrap_or_default();
    if pods.is_empty() {
        bail!("no pods of {app} in {ns}");
    }
    let worst = pods
        .iter()
        .max_by_key(|p| p["restarts"].as_i64().unwrap_or(0))
        .cloned()
        .context("a pod")?;
    let worst_pod = worst["name"].as_str().unwrap_or_default().to_owned();
    c.inv.restarts = worst["restarts"].as_i64().unwrap_or(0);
    let term = &worst["last_termination"];
    let reason = term["reason"].as_str().unwrap_or("unknown").to_owned();
    c.inv.findings.push(Finding {
        title: format!(
            "{worst_pod} restarted {} times; the last container ended with {reason} (exit code {})",
            c.inv.restarts, term["exit_code"]
        ),
        evidence: pods
            .iter()
            .map(|p| {
                format!(
                    "{} restarts={} last={} node={}",
                    p["name"].as_str().unwrap_or("?"),
                    p["restarts"],
                    p["last_termination"]["reason"].as_str().unwrap_or("-"),
                    p["node"].as_str().unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        source: format!("{eks}/eks_get_pods"),
    });

    // 2. Events: how often was it OOMKilled?
    let events = c
        .must(eks, "eks_get_events", json!({"namespace": ns}))
        .await?;
    let events = events["events"].as_array().cloned().unwrap_or_default();
    let ooms: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["reason"].as_str() == Some("OOMKilled")
                && e["object"].as_str().unwrap_or("").contains(&app)
        })
        .collect();
    c.inv.oom_killed_events = ooms.iter().map(|e| e["count"].as_i64().unwrap_or(1)).sum();
    if let Some(e) = ooms.first() {
        c.inv.findings.push(Finding {
            title: format!(
                "OOMKilled x{} across the {app} pods",
                c.inv.oom_killed_events
            ),
            evidence: format!(
                "{} (x{}, last seen {})",
                e["message"].as_str().unwrap_or(""),
                e["count"],
                e["last_seen"].as_str().unwrap_or("?")
            ),
            source: format!("{eks}/eks_get_events"),
        });
    }

    // 3. Memory in use, from Prometheus.
    let q = format!("container_memory_usage_bytes{{pod=~'{app}.*'}}");
    let mem = c
        .must(prom, "prometheus_query", json!({"query": q}))
        .await?;
    let series = mem["series"].as_array().cloned().unwrap_or_default();
    c.inv.memory_usage_bytes = series
        .iter()
        .filter_map(|s| s["value"].as_f64())
        .fold(0.0, f64::max);

    // 4. The Deployment: the limit, replicas and the pool size it configures.
    let dep = c
        .must(
            eks,
            "eks_get_resource",
            json!({"kind": "Deployment", "name": app, "namespace": ns}),
        )
        .await?;
    let obj = if dep.get("object").is_some() {
        &dep["object"]
    } else {
        &dep
    };
    c.inv.replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let container = obj["spec"]["template"]["spec"]["containers"][0].clone();
    c.inv.memory_limit = container["resources"]["limits"]["memory"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    c.inv.memory_limit_bytes = quantity_bytes(&c.inv.memory_limit).unwrap_or(0.0);
    c.inv.db_pool_size = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "DB_POOL_SIZE")
        .and_then(|e| e["value"].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if c.inv.memory_limit_bytes > 0.0 && c.inv.memory_usage_bytes > 0.0 {
        let pct = 100.0 * c.inv.memory_usage_bytes / c.inv.memory_limit_bytes;
        c.inv.findings.push(Finding {
            title: format!(
                "memory use is {} against a limit of {} ({pct:.0}% of the limit)",
                mb(c.inv.memory_usage_bytes),
                c.inv.memory_limit
            ),
            evidence: format!(
                "{q} -> max {:.0} bytes over {} series; Deployment {app}: limits.memory {}",
                c.inv.memory_usage_bytes,
                series.len(),
                c.inv.memory_limit
            ),
            source: format!("{prom}/prometheus_query, {eks}/eks_get_resource"),
        });
    }

    // 5. The logs of the pod that restarted most.
    let logs = c
        .must(
            eks,
            "eks_get_pod_logs",
            json!({"namespace": ns, "pod": worst_pod, "tail_lines": 200}),
        )
        .await?;
    let text = logs["text"].as_str().unwrap_or("");
    c.inv.pool_exhausted_lines = text
        .lines()
        .filter(|l| l.contains("pool"))
        .map(str::to_owned)
        .collect();
    if text.contains("DB connection pool exhausted") {
        c.inv.findings.push(Finding {
            title: "the application reports \"DB connection pool exhausted\"".into(),
            evidence: c.inv.pool_exhausted_lines.join("\n"),
            source: format!("{eks}/eks_get_pod_logs"),
        });
    }

    // 6. The database side.
    let diag = c.must(pg, "postgres_diagnostics", json!({})).await?;
    c.inv.db_connections_in_use = diag["connections"]["total"].as_i64().unwrap_or(0);
    c.inv.db_max_connections = diag["max_connections"].as_i64().unwrap_or(0);
    let slow = diag["slow_queries"].as_array().cloned().unwrap_or_default();
    if let Some(top) = slow.first() {
        c.inv.slow_query = top["query"].as_str().unwrap_or("").to_owned();
        c.inv.slow_query_mean_ms = top["mean_ms"].as_f64().unwrap_or(0.0);
    }
    c.inv.findings.push(Finding {
        title: format!(
            "the database has {} of {} connections in use",
            c.inv.db_connections_in_use, c.inv.db_max_connections
        ),
        evidence: diag["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        source: format!("{pg}/postgres_diagnostics"),
    });
    if !c.inv.slow_query.is_empty() {
        c.inv.findings.push(Finding {
            title: format!(
                "the slowest statement takes {:.0} ms on average",
                c.inv.slow_query_mean_ms
            ),
            evidence: format!(
                "{} (calls {}, mean_ms {:.1})",
                cut(
                    &c.inv
                        .slow_query
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    200
                ),
                slow[0]["calls"],
                c.inv.slow_query_mean_ms
            ),
            source: format!("{pg}/postgres_diagnostics"),
        });
    }

    // Reasoning: what the numbers say together.
    if c.inv.memory_limit_bytes > 0.0 && c.inv.memory_usage_bytes > 0.9 * c.inv.memory_limit_bytes {
        c.inv.root_cause.push(format!(
            "The container runs at {} of its {} limit and is OOMKilled ({} times): the limit is too low for its working set.",
            mb(c.inv.memory_usage_bytes),
            c.inv.memory_limit,
            c.inv.oom_killed_events
        ));
    }
    let wanted = c.inv.replicas * c.inv.db_pool_size;
    if c.inv.db_max_connections > 0 && wanted >= c.inv.db_max_connections {
        c.inv.root_cause.push(format!(
            "{} replicas x DB_POOL_SIZE {} = {wanted} connections wanted, but the database allows {} ({} in use): pools starve, requests queue, memory grows while they wait; the slow JOIN ({:.0} ms) holds connections longer.",
            c.inv.replicas, c.inv.db_pool_size, c.inv.db_max_connections, c.inv.db_connections_in_use, c.inv.slow_query_mean_ms
        ));
    }

    // 7. Where the agent's access ends (it must not be able to act on its own).
    let listed = c.list_tools(eks, false).await?;
    let has_delete = listed.iter().any(|t| t == "eks_delete_pod");
    c.inv.access_checks.push(AccessCheck {
        attempt: format!("tools/list on {eks} as {}", setup.agent_user),
        layer: "pod".into(),
        result: format!(
            "{} tools, eks_delete_pod {}",
            listed.len(),
            if has_delete { "LISTED" } else { "not listed" }
        ),
        refused: !has_delete,
    });
    for backend in ["eks-rw", eks] {
        let args = json!({"namespace": ns, "name": worst_pod});
        let answer = if backend == eks {
            c.call(false, backend, "eks_delete_pod", args).await?
        } else {
            // Straight to tools/call, without a session: the gateway decides on the call itself.
            c.raw_call(backend, "eks_delete_pod", args).await?
        };
        let (layer, result, refused) = match answer {
            Answer::Refused(m) => (if backend == eks { "pod" } else { "gateway" }, m, true),
            Answer::ToolError(m) => ("pod", m, true),
            Answer::Ok(v) => ("none", v.to_string(), false),
        };
        c.inv.access_checks.push(AccessCheck {
            attempt: format!(
                "eks_delete_pod {worst_pod} on {backend} as {}",
                setup.agent_user
            ),
            layer: layer.into(),
            result: cut(&result, 200),
            refused,
        });
    }

    // 8. Where the Deployment comes from: Argo CD syncs it from Git (with self-heal a direct
    //    patch would be reverted), so the fix is a change to that repository.
    let (gitops_repo, gitops_path) = match c
        .call(
            false,
            "argo-view",
            "argo_get_application",
            json!({"name": app}),
        )
        .await?
    {
        Answer::Ok(a) => {
            let repo = a["repo_url"]
                .as_str()
                .and_then(github_repo)
                .unwrap_or_else(|| setup.gitops_repo.clone());
            let dir = a["path"].as_str().unwrap_or("").trim_matches('/');
            let path = if dir.is_empty() {
                setup.gitops_path.clone()
            } else {
                format!("{dir}/deployment.yaml")
            };
            c.inv.findings.push(Finding {
                title: format!(
                    "Argo CD deploys {app} from {repo} ({}), sync {}, health {}",
                    a["path"].as_str().unwrap_or("/"),
                    a["sync_status"].as_str().unwrap_or("?"),
                    a["health_status"].as_str().unwrap_or("?")
                ),
                evidence: format!(
                    "revision {}, target {}; {}",
                    a["revision"].as_str().unwrap_or("?"),
                    a["target_revision"].as_str().unwrap_or("?"),
                    a["health_message"].as_str().unwrap_or("")
                ),
                source: "argo-view/argo_get_application".into(),
            });
            (repo, path)
        }
        _ => (setup.gitops_repo.clone(), setup.gitops_path.clone()),
    };
    c.inv.gitops_repo = gitops_repo.clone();
    c.inv.gitops_path = gitops_path.clone();

    // 9. The fix, proposed as a change to the GitOps repository (read with the agent's key,
    //    proposed as a dry run with the operator's).
    let file = c
        .must(
            "github-ro",
            "github_get_file",
            json!({"repo": gitops_repo, "path": gitops_path}),
        )
        .await?;
    let current = file["data"]["content"]
        .as_str()
        .or_else(|| file["content"].as_str())
        .context("file content")?
        .to_owned();
    let new_limit = raise_limit(&c.inv.memory_limit);
    // Fit every replica's pool under the slots non-superusers get (max - 3 reserved), keeping
    // room for the tools' own sessions.
    let budget = (c.inv.db_max_connections - 3 - 7).max(c.inv.replicas);
    let new_pool = (budget / c.inv.replicas.max(1)).max(1);
    let changed = current
        .replace(
            &format!("memory: {}", c.inv.memory_limit),
            &format!("memory: {new_limit}"),
        )
        .replace(
            &format!("value: \"{}\"", c.inv.db_pool_size),
            &format!("value: \"{new_pool}\""),
        );
    if changed == current {
        bail!(
            "the manifest in {} does not contain the values the cluster runs",
            gitops_path
        );
    }
    let summary = format!(
        "payment-service: limits.memory {} -> {new_limit}, DB_POOL_SIZE {} -> {new_pool}",
        c.inv.memory_limit, c.inv.db_pool_size
    );
    let body = format!(
        "Alert: {ALERT}\n\n{}\n\nProposed by the incident agent; see the incident report.",
        c.inv.root_cause.join("\n\n")
    );
    let proposal = c
        .call(
            true,
            "github-rw",
            "github_propose_change",
            json!({
                "repo": gitops_repo,
                "title": summary,
                "body": body,
                "commit_message": summary,
                "changes": [{"path": gitops_path, "content": changed}],
                "dry_run": true
            }),
        )
        .await?;
    match proposal {
        Answer::Ok(v) => {
            c.inv.fix = Some(ProposedFix {
                repo: gitops_repo.clone(),
                path: gitops_path.clone(),
                summary,
                dry_run: true,
                result: v,
            });
        }
        Answer::ToolError(m) | Answer::Refused(m) => {
            return Err(anyhow!("github_propose_change (dry run) failed: {m}"));
        }
    }
    Ok(inv)
}

impl Investigation {
    /// The incident report in Markdown.
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# Incident report: {}\n", self.app);
        let _ = writeln!(m, "**Alert:** {}\n", self.alert);
        let _ = writeln!(m, "## Root cause\n");
        for r in &self.root_cause {
            let _ = writeln!(m, "- {r}");
        }
        let _ = writeln!(m, "\n## Findings\n");
        for (i, f) in self.findings.iter().enumerate() {
            let _ = writeln!(m, "{}. **{}**  ", i + 1, f.title);
            let _ = writeln!(m, "   source: `{}`  ", f.source);
            for line in f.evidence.lines() {
                let _ = writeln!(m, "   > {line}");
            }
        }
        if let Some(fix) = &self.fix {
            let _ = writeln!(m, "\n## Proposed fix (dry run, not applied)\n");
            let _ = writeln!(m, "{} in `{}` `{}`\n", fix.summary, fix.repo, fix.path);
            let diff = fix.result["files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["diff"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            if !diff.is_empty() {
                let _ = writeln!(m, "```diff\n{}\n```", diff.trim_end());
            } else {
                let _ = writeln!(
                    m,
                    "```json\n{}\n```",
                    serde_json::to_string_pretty(&fix.result).unwrap_or_default()
                );
            }
        }
        let _ = writeln!(m, "\n## Access checks\n");
        for a in &self.access_checks {
            let _ = writeln!(
                m,
                "- {}: {} at the {} layer ({})",
                a.attempt,
                if a.refused { "refused" } else { "ALLOWED" },
                a.layer,
                a.result
            );
        }
        let _ = writeln!(m, "\n## Calls\n");
        let _ = writeln!(m, "| # | user | backend | tool | outcome |");
        let _ = writeln!(m, "|---|---|---|---|---|");
        for (i, c) in self.calls.iter().enumerate() {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} |",
                i + 1,
                c.user,
                c.backend,
                c.tool,
                c.outcome
            );
        }
        m
    }
}

fn text_of(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

/// `owner/name` of a GitHub repository URL (`https://github.com/acme/gitops.git`,
/// `git@github.com:acme/gitops.git`).
fn github_repo(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("git@github.com:"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = rest.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| format!("{owner}/{name}"))
}

fn mb(bytes: f64) -> String {
    format!("{:.0} MB", bytes / 1e6)
}

/// Bytes of a Kubernetes memory quantity (`512Mi`, `1Gi`, `500M`, `1000000`).
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let units: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (u, f) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<f64>().ok().map(|n| n * f);
        }
    }
    q.parse().ok()
}

/// Doubles a memory limit, in the unit it was written in (`512Mi` -> `1Gi`).
fn raise_limit(limit: &str) -> String {
    match quantity_bytes(limit) {
        Some(b) => {
            let mi = (2.0 * b / (1024.0 * 1024.0)).round() as i64;
            if mi % 1024 == 0 {
                format!("{}Gi", mi / 1024)
            } else {
                format!("{mi}Mi")
            }
        }
        None => limit.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("512Mi"), Some(536_870_912.0));
        assert_eq!(quantity_bytes("1Gi"), Some(1_073_741_824.0));
        assert_eq!(quantity_bytes("500M"), Some(500e6));
        assert_eq!(quantity_bytes("12"), Some(12.0));
        assert_eq!(quantity_bytes("x"), None);
        assert_eq!(raise_limit("512Mi"), "1Gi");
        assert_eq!(raise_limit("384Mi"), "768Mi");
        assert_eq!(
            github_repo("https://github.com/acme/gitops.git").as_deref(),
            Some("acme/gitops")
        );
        assert_eq!(
            github_repo("git@github.com:acme/gitops").as_deref(),
            Some("acme/gitops")
        );
        assert_eq!(github_repo("https://gitlab.com/acme/gitops"), None);
    }
}

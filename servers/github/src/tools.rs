//! The tool router (read tools). Each tool names the fine-grained token / GitHub App
//! permission it needs; the `--repos` allow-list is checked before any request.

use std::sync::Arc;

use mcp_common::output::{Page, cut_str, fit_items, tail_lines};
use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::upstream::{Upstream, valid_part};

const PERMISSION_METADATA: &str = "Metadata: read";
const PERMISSION_ISSUES: &str = "Issues: read";
const PERMISSION_PULLS: &str = "Pull requests: read";
const PERMISSION_CONTENTS: &str = "Contents: read";
const PERMISSION_ACTIONS: &str = "Actions: read";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RepoArgs {
    /// Repository as `owner/name`.
    pub repo: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListIssuesArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// `open` (default), `closed` or `all`.
    #[serde(default)]
    pub state: Option<String>,
    /// Comma-separated label names.
    #[serde(default)]
    pub labels: Option<String>,
    /// Most issues (default 30, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// GitHub search syntax, e.g. `is:open label:incident OOMKilled`.
    pub query: String,
    /// Limit the search to this repository (`owner/name`); required when the pod has a
    /// `--repos` allow-list.
    #[serde(default)]
    pub repo: Option<String>,
    /// Most results (default 30, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NumberArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Issue or pull request number.
    pub number: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListPullsArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// `open` (default), `closed` or `all`.
    #[serde(default)]
    pub state: Option<String>,
    /// Only pull requests into this base branch.
    #[serde(default)]
    pub base: Option<String>,
    /// Most pull requests (default 30, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListCommitsArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Branch, tag or SHA to start from (default the default branch).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// Only commits touching this path.
    #[serde(default)]
    pub path: Option<String>,
    /// Only commits after this time (ISO 8601).
    #[serde(default)]
    pub since: Option<String>,
    /// Most commits (default 30, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FileArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// File path in the repository, e.g. `apps/payment-service/values.yaml`.
    pub path: String,
    /// Branch, tag or SHA (default the default branch).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunsArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Only runs of this branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// `completed`, `in_progress`, `queued`, `success`, `failure`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Most runs (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Workflow run id (from github_list_workflow_runs).
    pub run_id: u64,
    /// Lines of log to keep from the end of the first failed job (default 50, at most 200).
    #[serde(default)]
    pub tail_lines: Option<usize>,
}

/// A list of GitHub objects, cut down to the fields an agent needs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Listing {
    pub repo: Option<String>,
    pub items: Page<Value>,
}

/// One GitHub object, cut down to the fields an agent needs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Object {
    pub repo: String,
    pub data: Value,
}

/// The fields at `paths` (JSON pointers without the leading `/`, `a/b` named `a_b`).
fn pick(v: &Value, paths: &[&str]) -> Value {
    let mut out = Map::new();
    for p in paths {
        if let Some(x) = v.pointer(&format!("/{p}"))
            && !x.is_null()
        {
            out.insert(p.replace('/', "_"), x.clone());
        }
    }
    Value::Object(out)
}

fn cut_body(v: &mut Value, key: &str, max: usize) {
    if let Some(Value::String(s)) = v.get_mut(key) {
        // Bodies, comments and patches are free text: credentials pasted into them stay here.
        if let Some(r) = mcp_common::redact::redact_text(s) {
            *s = r;
        }
        let (kept, was_cut) = cut_str(s, max);
        if was_cut {
            *s = format!("{kept}…[cut]");
        }
    }
}

const ISSUE_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "user/login",
    "labels",
    "assignees",
    "comments",
    "created_at",
    "updated_at",
    "closed_at",
    "html_url",
    "body",
    "pull_request/url",
];
const PULL_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "draft",
    "user/login",
    "head/ref",
    "head/sha",
    "base/ref",
    "merged",
    "mergeable",
    "merged_at",
    "created_at",
    "updated_at",
    "html_url",
    "additions",
    "deletions",
    "changed_files",
    "commits",
    "body",
];

fn labels_to_names(v: &mut Value) {
    for key in ["labels", "assignees"] {
        if let Some(Value::Array(a)) = v.get_mut(key) {
            let names: Vec<Value> = a
                .iter()
                .filter_map(|x| x.get("name").or_else(|| x.get("login")).cloned())
                .collect();
            *a = names;
        }
    }
}

fn page_of(cursor: Option<&str>) -> Result<u32, ToolError> {
    match cursor {
        None | Some("") => Ok(1),
        Some(c) => c.parse::<u32>().ok().filter(|p| *p >= 1).ok_or_else(|| {
            ToolError::invalid_argument(
                "cursor",
                "pass back the `next_cursor` of the previous page",
            )
        }),
    }
}

fn one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ToolError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ToolError::invalid_argument(
            name,
            format!("`{v}`: use one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Path segments of a file path, each percent-encoded; refuses `..`.
fn encode_path(path: &str) -> Result<String, ToolError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if path.trim().is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(ToolError::invalid_argument(
            "path",
            "give a file path inside the repository, without `..`",
        ));
    }
    Ok(parts
        .iter()
        .map(|p| {
            url::form_urlencoded::byte_serialize(p.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/"))
}

/// The GitHub backend. Cloned per request; the client and router are shared.
#[derive(Debug, Clone)]
pub struct GitHub {
    ctx: ToolContext,
    upstream: Upstream,
    tool_router: Arc<ToolRouter<Self>>,
}

impl GitHub {
    pub fn new(ctx: ToolContext, upstream: Upstream) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            upstream,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes.saturating_sub(512)
    }

    /// Checks `owner/name` and the allow-list; returns it normalized.
    fn repo(&self, repo: &str) -> Result<String, ToolError> {
        let repo = repo.trim();
        let ok = repo
            .split_once('/')
            .is_some_and(|(o, n)| valid_part(o) && valid_part(n));
        if !ok {
            return Err(ToolError::invalid_argument(
                "repo",
                format!("`{repo}` is not `owner/name`"),
            ));
        }
        if !self.upstream.allowed(repo) {
            return Err(ToolError::new(format!(
                "permission denied: {repo} is not on this deployment's repository allow-list ({})",
                self.upstream.allow_list().join(", ")
            ))
            .with_hint(
                "use one of the allowed repositories, or ask an operator to add it to --repos",
            ));
        }
        Ok(repo.to_owned())
    }

    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        repo: &str,
        route: String,
        mut params: Vec<(&'static str, String)>,
        limit: Option<u32>,
        default: u32,
        cursor: Option<&str>,
        what: &str,
        permission: &str,
        shape: impl Fn(&Value) -> Value,
    ) -> Result<Listing, ToolError> {
        let page = page_of(cursor)?;
        let per_page = limit.unwrap_or(default).clamp(1, 100);
        params.push(("per_page", per_page.to_string()));
        params.push(("page", page.to_string()));
        let v = self
            .upstream
            .get(&route, &params)
            .await
            .map_err(|e| e.into_tool_error(&format!("{what} of {repo}"), permission))?;
        let arr = v
            .as_array()
            .or_else(|| v.get("workflow_runs").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        let full = arr.len() as u32 >= per_page;
        let items: Vec<Value> = arr.iter().map(shape).collect();
        let mut p = fit_items(items, per_page as usize, self.max_bytes());
        if !p.truncated && full {
            p.next_cursor = Some((page + 1).to_string());
            p.truncated = true;
        }
        Ok(Listing {
            repo: Some(repo.to_owned()),
            items: p,
        })
    }
}

#[tool_router(router = read_tools)]
impl GitHub {
    #[tool(
        description = "A GitHub repository: description, default branch, visibility, open issue count, last push, topics. Needs Metadata: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_get_repo(
        &self,
        Parameters(a): Parameters<RepoArgs>,
    ) -> Result<Json<Object>, ToolError> {
        self.ctx
            .run("github_get_repo", async {
                let repo = self.repo(&a.repo)?;
                let v = self
                    .upstream
                    .get(&format!("/repos/{repo}"), &[])
                    .await
                    .map_err(|e| {
                        e.into_tool_error(&format!("get repository {repo}"), PERMISSION_METADATA)
                    })?;
                let data = pick(
                    &v,
                    &[
                        "full_name",
                        "description",
                        "default_branch",
                        "visibility",
                        "private",
                        "archived",
                        "open_issues_count",
                        "pushed_at",
                        "updated_at",
                        "html_url",
                        "topics",
                        "language",
                    ],
                );
                Ok(Json(Object { repo, data }))
            })
            .await
    }

    #[tool(
        description = "List issues of a repository (pull requests excluded): number, title, state, labels, assignees, dates; `state`, `labels`; paged. Needs Issues: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_list_issues(
        &self,
        Parameters(a): Parameters<ListIssuesArgs>,
    ) -> Result<Json<Listing>, ToolError> {
        self.ctx
            .run("github_list_issues", async {
                let repo = self.repo(&a.repo)?;
                one_of("state", a.state.as_deref(), &["open", "closed", "all"])?;
                let mut params = vec![("state", a.state.clone().unwrap_or_else(|| "open".into()))];
                if let Some(l) = a.labels.clone().filter(|l| !l.is_empty()) {
                    params.push(("labels", l));
                }
                let mut out = self
                    .list(
                        &repo,
                        format!("/repos/{repo}/issues"),
                        params,
                        a.limit,
                        30,
                        a.cursor.as_deref(),
                        "list issues",
                        PERMISSION_ISSUES,
                        |i| {
                            let mut v = pick(i, ISSUE_FIELDS);
                            labels_to_names(&mut v);
                            if let Some(m) = v.as_object_mut() {
                                m.remove("body");
                            }
                            v
                        },
                    )
                    .await?;
                out.items
                    .items
                    .retain(|i| i.get("pull_request_url").is_none());
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "Search issues and pull requests with GitHub search syntax (`is:open label:incident OOMKilled`), optionally in one repository (required with a --repos allow-list). Needs Issues: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_search_issues(
        &self,
        Parameters(a): Parameters<SearchArgs>,
    ) -> Result<Json<Listing>, ToolError> {
        self.ctx
            .run("github_search_issues", async {
                if a.query.trim().is_empty() {
                    return Err(ToolError::invalid_argument("query", "empty search"));
                }
                if a.query.contains("repo:") || a.query.contains("org:") || a.query.contains("user:") {
                    return Err(ToolError::invalid_argument("query", "give the repository as `repo`, not as a qualifier"));
                }
                let repo = match a.repo.as_deref() {
                    Some(r) => Some(self.repo(r)?),
                    None if !self.upstream.allow_list().is_empty() => {
                        return Err(ToolError::invalid_argument("repo", "this deployment has a repository allow-list: name the repository to search"));
                    }
                    None => None,
                };
                let q = match &repo {
                    Some(r) => format!("{} repo:{r}", a.query.trim()),
                    None => a.query.trim().to_owned(),
                };
                let per_page = a.limit.unwrap_or(30).clamp(1, 100);
                let v = self
                    .upstream
                    .get("/search/issues", &[("q", q), ("per_page", per_page.to_string())])
                    .await
                    .map_err(|e| e.into_tool_error("search issues", PERMISSION_ISSUES))?;
                let items: Vec<Value> = v
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|i| {
                        let mut x = pick(i, ISSUE_FIELDS);
                        labels_to_names(&mut x);
                        if let Some(m) = x.as_object_mut() {
                            m.remove("body");
                            if let Some(u) = i.get("repository_url").and_then(Value::as_str) {
                                m.insert("repo".into(), Value::String(u.rsplitn(3, '/').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("/")));
                            }
                        }
                        x
                    })
                    .collect();
                let total = v.get("total_count").and_then(Value::as_u64).unwrap_or(0) as usize;
                let mut p = fit_items(items, per_page as usize, self.max_bytes());
                p.truncated |= total > p.items.len();
                p.total = Some(total);
                Ok(Json(Listing { repo, items: p }))
            })
            .await
    }

    #[tool(
        description = "One issue (or pull request) with its body (bounded) and the last 20 comments. Needs Issues: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_get_issue(
        &self,
        Parameters(a): Parameters<NumberArgs>,
    ) -> Result<Json<Object>, ToolError> {
        self.ctx
            .run("github_get_issue", async {
                let repo = self.repo(&a.repo)?;
                let what = format!("get issue {repo}#{}", a.number);
                let v = self
                    .upstream
                    .get(&format!("/repos/{repo}/issues/{}", a.number), &[])
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_ISSUES))?;
                let mut data = pick(&v, ISSUE_FIELDS);
                labels_to_names(&mut data);
                cut_body(&mut data, "body", 8 * 1024);
                let comments = self
                    .upstream
                    .get(
                        &format!("/repos/{repo}/issues/{}/comments", a.number),
                        &[("per_page", "100".into())],
                    )
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_ISSUES))?;
                let all = comments.as_array().cloned().unwrap_or_default();
                let skip = all.len().saturating_sub(20);
                let list: Vec<Value> = all[skip..]
                    .iter()
                    .map(|c| {
                        let mut x = pick(c, &["user/login", "created_at", "body"]);
                        cut_body(&mut x, "body", 2048);
                        x
                    })
                    .collect();
                let page = fit_items(list, 20, self.max_bytes() / 2);
                data["comments_shown"] = serde_json::to_value(&page).unwrap_or_default();
                Ok(Json(Object { repo, data }))
            })
            .await
    }

    #[tool(
        description = "List pull requests of a repository: number, title, state, author, head and base branches, dates; `state`, `base`; paged. Needs Pull requests: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_list_pulls(
        &self,
        Parameters(a): Parameters<ListPullsArgs>,
    ) -> Result<Json<Listing>, ToolError> {
        self.ctx
            .run("github_list_pulls", async {
                let repo = self.repo(&a.repo)?;
                one_of("state", a.state.as_deref(), &["open", "closed", "all"])?;
                let mut params = vec![("state", a.state.clone().unwrap_or_else(|| "open".into()))];
                if let Some(b) = a.base.clone().filter(|b| !b.is_empty()) {
                    params.push(("base", b));
                }
                let out = self
                    .list(
                        &repo,
                        format!("/repos/{repo}/pulls"),
                        params,
                        a.limit,
                        30,
                        a.cursor.as_deref(),
                        "list pull requests",
                        PERMISSION_PULLS,
                        |p| {
                            let mut v = pick(p, PULL_FIELDS);
                            if let Some(m) = v.as_object_mut() {
                                m.remove("body");
                            }
                            v
                        },
                    )
                    .await?;
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "One pull request: state, mergeability, head/base, diff stat (additions, deletions, changed files) and the changed files with bounded patches. Needs Pull requests: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_get_pull(
        &self,
        Parameters(a): Parameters<NumberArgs>,
    ) -> Result<Json<Object>, ToolError> {
        self.ctx
            .run("github_get_pull", async {
                let repo = self.repo(&a.repo)?;
                let what = format!("get pull request {repo}#{}", a.number);
                let v = self
                    .upstream
                    .get(&format!("/repos/{repo}/pulls/{}", a.number), &[])
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_PULLS))?;
                let mut data = pick(&v, PULL_FIELDS);
                cut_body(&mut data, "body", 8 * 1024);
                let files = self
                    .upstream
                    .get(
                        &format!("/repos/{repo}/pulls/{}/files", a.number),
                        &[("per_page", "100".into())],
                    )
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_PULLS))?;
                let list: Vec<Value> = files
                    .as_array()
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|f| {
                        let mut x = pick(
                            f,
                            &[
                                "filename",
                                "status",
                                "additions",
                                "deletions",
                                "changes",
                                "patch",
                            ],
                        );
                        cut_body(&mut x, "patch", 4096);
                        x
                    })
                    .collect();
                let page = fit_items(list, 100, self.max_bytes() / 2);
                data["files"] = serde_json::to_value(&page).unwrap_or_default();
                Ok(Json(Object { repo, data }))
            })
            .await
    }

    #[tool(
        description = "List commits of a repository (newest first): sha, author, date, first line of the message; `ref`, `path`, `since`; paged. Needs Contents: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_list_commits(
        &self,
        Parameters(a): Parameters<ListCommitsArgs>,
    ) -> Result<Json<Listing>, ToolError> {
        self.ctx
            .run("github_list_commits", async {
                let repo = self.repo(&a.repo)?;
                let mut params = Vec::new();
                if let Some(r) = a.git_ref.clone().filter(|s| !s.is_empty()) {
                    params.push(("sha", r));
                }
                if let Some(p) = a.path.clone().filter(|s| !s.is_empty()) {
                    params.push(("path", p));
                }
                if let Some(s) = a.since.clone().filter(|s| !s.is_empty()) {
                    params.push(("since", s));
                }
                let out = self
                    .list(
                        &repo,
                        format!("/repos/{repo}/commits"),
                        params,
                        a.limit,
                        30,
                        a.cursor.as_deref(),
                        "list commits",
                        PERMISSION_CONTENTS,
                        |c| {
                            let mut v = pick(
                                c,
                                &[
                                    "sha",
                                    "commit/author/name",
                                    "commit/author/date",
                                    "author/login",
                                    "html_url",
                                ],
                            );
                            let msg = c
                                .pointer("/commit/message")
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            v["message"] =
                                Value::String(msg.lines().next().unwrap_or_default().to_owned());
                            v
                        },
                    )
                    .await?;
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "The content of one file at a ref (default branch by default), as text, bounded (`truncated`). Credential-looking values are redacted. Needs Contents: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_get_file(
        &self,
        Parameters(a): Parameters<FileArgs>,
    ) -> Result<Json<Object>, ToolError> {
        self.ctx
            .run("github_get_file", async {
                use base64::Engine;
                let repo = self.repo(&a.repo)?;
                let path = encode_path(&a.path)?;
                let mut params = Vec::new();
                if let Some(r) = a.git_ref.clone().filter(|s| !s.is_empty()) {
                    params.push(("ref", r));
                }
                let v = self
                    .upstream
                    .get(&format!("/repos/{repo}/contents/{path}"), &params)
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("get file {} in {repo}", a.path),
                            PERMISSION_CONTENTS,
                        )
                    })?;
                if v.is_array() || v.get("type").and_then(Value::as_str) != Some("file") {
                    return Err(ToolError::invalid_argument(
                        "path",
                        format!("`{}` is not a file (a directory or a submodule)", a.path),
                    ));
                }
                let raw = v
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .replace('\n', "");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .map_err(|e| ToolError::upstream("decode the file content", e))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    ToolError::invalid_argument("path", "the file is binary, not text")
                })?;
                let text = mcp_common::redact::redact_text(&text).unwrap_or(text);
                let (kept, truncated) = cut_str(&text, self.max_bytes().saturating_sub(1024));
                let mut data = pick(&v, &["path", "sha", "size", "html_url"]);
                data["content"] = Value::String(kept.to_owned());
                data["truncated"] = Value::Bool(truncated);
                Ok(Json(Object { repo, data }))
            })
            .await
    }

    #[tool(
        description = "List GitHub Actions workflow runs: id, workflow name, branch, event, status, conclusion, head sha, dates; `branch`, `status`; paged. Needs Actions: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_list_workflow_runs(
        &self,
        Parameters(a): Parameters<RunsArgs>,
    ) -> Result<Json<Listing>, ToolError> {
        self.ctx
            .run("github_list_workflow_runs", async {
                let repo = self.repo(&a.repo)?;
                let mut params = Vec::new();
                if let Some(b) = a.branch.clone().filter(|s| !s.is_empty()) {
                    params.push(("branch", b));
                }
                if let Some(s) = a.status.clone().filter(|s| !s.is_empty()) {
                    params.push(("status", s));
                }
                let out = self
                    .list(
                        &repo,
                        format!("/repos/{repo}/actions/runs"),
                        params,
                        a.limit,
                        20,
                        a.cursor.as_deref(),
                        "list workflow runs",
                        PERMISSION_ACTIONS,
                        |r| {
                            pick(
                                r,
                                &[
                                    "id",
                                    "name",
                                    "head_branch",
                                    "head_sha",
                                    "event",
                                    "status",
                                    "conclusion",
                                    "run_number",
                                    "run_attempt",
                                    "created_at",
                                    "updated_at",
                                    "html_url",
                                ],
                            )
                        },
                    )
                    .await?;
                Ok(Json(out))
            })
            .await
    }

    #[tool(
        description = "One workflow run: status and conclusion, its jobs with the failed steps, and the tail of the first failed job's log (bounded, `tail_lines`). Needs Actions: read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn github_get_workflow_run(
        &self,
        Parameters(a): Parameters<RunArgs>,
    ) -> Result<Json<Object>, ToolError> {
        self.ctx
            .run("github_get_workflow_run", async {
                let repo = self.repo(&a.repo)?;
                let what = format!("get workflow run {} of {repo}", a.run_id);
                let run = self
                    .upstream
                    .get(&format!("/repos/{repo}/actions/runs/{}", a.run_id), &[])
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_ACTIONS))?;
                let mut data = pick(&run, &["id", "name", "head_branch", "head_sha", "event", "status", "conclusion", "run_attempt", "created_at", "updated_at", "html_url"]);
                let jobs = self
                    .upstream
                    .get(&format!("/repos/{repo}/actions/runs/{}/jobs", a.run_id), &[("per_page", "100".into())])
                    .await
                    .map_err(|e| e.into_tool_error(&what, PERMISSION_ACTIONS))?;
                let jobs = jobs.get("jobs").and_then(Value::as_array).cloned().unwrap_or_default();
                let mut first_failed: Option<u64> = None;
                let shaped: Vec<Value> = jobs
                    .iter()
                    .map(|j| {
                        let mut x = pick(j, &["id", "name", "status", "conclusion", "started_at", "completed_at"]);
                        let failed: Vec<Value> = j
                            .get("steps")
                            .and_then(Value::as_array)
                            .map(|a| a.as_slice())
                            .unwrap_or_default()
                            .iter()
                            .filter(|s| s.get("conclusion").and_then(Value::as_str) == Some("failure"))
                            .map(|s| pick(s, &["number", "name"]))
                            .collect();
                        if j.get("conclusion").and_then(Value::as_str) == Some("failure") && first_failed.is_none() {
                            first_failed = j.get("id").and_then(Value::as_u64);
                        }
                        x["failed_steps"] = Value::Array(failed);
                        x
                    })
                    .collect();
                data["jobs"] = serde_json::to_value(fit_items(shaped, 100, self.max_bytes() / 2)).unwrap_or_default();
                if let Some(job) = first_failed {
                    let n = a.tail_lines.unwrap_or(50).clamp(1, 200);
                    match self.upstream.get_text(&format!("/repos/{repo}/actions/jobs/{job}/logs")).await {
                        Ok(log) => {
                            let (lines, cut) = tail_lines(&log, n);
                            let text = lines.join("\n");
                            let (text, cut2) = mcp_common::output::cut_str_tail(&text, 8 * 1024);
                            let text = mcp_common::redact::redact_text(text).unwrap_or_else(|| text.to_owned());
                            data["failed_job_log"] = serde_json::json!({"job_id": job, "tail": text, "truncated": cut || cut2});
                        }
                        Err(e) => {
                            data["failed_job_log"] = serde_json::json!({"job_id": job, "error": e.into_tool_error("get the job log", PERMISSION_ACTIONS).text()});
                        }
                    }
                }
                Ok(Json(Object { repo, data }))
            })
            .await
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateIssueArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    pub title: String,
    /// Markdown body.
    #[serde(default)]
    pub body: Option<String>,
    /// Label names (must exist in the repository).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Show the issue that would be created, without creating it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CommentArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Issue or pull request number.
    pub number: u64,
    /// Markdown comment.
    pub body: String,
    /// Show the comment that would be posted, without posting it.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a write tool did (or, with `dry_run`, would do).
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteResult {
    pub repo: String,
    pub dry_run: bool,
    /// The request body that was (or would be) sent.
    pub request: Value,
    /// GitHub's answer, cut down (number, html_url); absent on a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Value>,
    pub message: String,
}

const PERMISSION_ISSUES_WRITE: &str = "Issues: read and write";

/// Write tools, registered only with `--access rw`.
#[tool_router(router = write_tools)]
impl GitHub {
    #[tool(
        description = "Propose a change as a pull request, in one call: creates a new branch from `base` (default: the default branch), one commit with the given file changes (`{path, content}` with the complete new text, or `{path, delete: true}`; at most 20 files of 256 KiB) and a pull request. dry_run defaults to TRUE: it reads the base and returns each file's unified diff without writing anything; call again with dry_run false to create it. Refuses an existing branch, paths outside the repository and no-op changes. Lines shown as [REDACTED] by github_get_file may be sent back unchanged. Needs Contents: read and write, Pull requests: read and write.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn github_propose_change(
        &self,
        Parameters(a): Parameters<crate::propose::ProposeChangeArgs>,
    ) -> Result<Json<crate::propose::Proposal>, ToolError> {
        self.ctx
            .run("github_propose_change", async {
                let repo = self.repo(&a.repo)?;
                crate::propose::propose(&self.upstream, repo, a, self.max_bytes())
                    .await
                    .map(Json)
            })
            .await
    }

    #[tool(
        description = "Create an issue in a repository (title, body, labels). Credential-looking text in the body is redacted before it is sent. dry_run shows the issue without creating it. Needs Issues: read and write.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn github_create_issue(
        &self,
        Parameters(a): Parameters<CreateIssueArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("github_create_issue", async {
                let repo = self.repo(&a.repo)?;
                if a.title.trim().is_empty() || a.title.len() > 256 {
                    return Err(ToolError::invalid_argument(
                        "title",
                        "give a title of 1 to 256 characters",
                    ));
                }
                let body = a.body.as_deref().unwrap_or_default();
                if body.len() > 65536 {
                    return Err(ToolError::invalid_argument("body", "at most 65536 bytes"));
                }
                let body = mcp_common::redact::redact_text(body).unwrap_or_else(|| body.to_owned());
                let request =
                    serde_json::json!({"title": a.title.trim(), "body": body, "labels": a.labels});
                if a.dry_run {
                    return Ok(Json(WriteResult {
                        repo,
                        dry_run: true,
                        request,
                        created: None,
                        message: "dry run: nothing was created".into(),
                    }));
                }
                let v = self
                    .upstream
                    .post(&format!("/repos/{repo}/issues"), &request)
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("create an issue in {repo}"),
                            PERMISSION_ISSUES_WRITE,
                        )
                    })?;
                let created = pick(&v, &["number", "html_url"]);
                Ok(Json(WriteResult {
                    repo,
                    dry_run: false,
                    request,
                    message: format!("created issue #{}", created["number"]),
                    created: Some(created),
                }))
            })
            .await
    }

    #[tool(
        description = "Comment on an issue or pull request. Credential-looking text is redacted before it is sent. dry_run shows the comment without posting it. Needs Issues: read and write (Pull requests: read and write for pull requests).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn github_comment(
        &self,
        Parameters(a): Parameters<CommentArgs>,
    ) -> Result<Json<WriteResult>, ToolError> {
        self.ctx
            .run("github_comment", async {
                let repo = self.repo(&a.repo)?;
                if a.body.trim().is_empty() || a.body.len() > 65536 {
                    return Err(ToolError::invalid_argument(
                        "body",
                        "give a comment of 1 to 65536 bytes",
                    ));
                }
                let body =
                    mcp_common::redact::redact_text(&a.body).unwrap_or_else(|| a.body.clone());
                let request = serde_json::json!({"body": body});
                if a.dry_run {
                    return Ok(Json(WriteResult {
                        repo,
                        dry_run: true,
                        request,
                        created: None,
                        message: "dry run: nothing was posted".into(),
                    }));
                }
                let v = self
                    .upstream
                    .post(
                        &format!("/repos/{repo}/issues/{}/comments", a.number),
                        &request,
                    )
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("comment on {repo}#{}", a.number),
                            PERMISSION_ISSUES_WRITE,
                        )
                    })?;
                let created = pick(&v, &["id", "html_url"]);
                Ok(Json(WriteResult {
                    repo,
                    dry_run: false,
                    request,
                    created: Some(created),
                    message: format!("commented on #{}", a.number),
                }))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for GitHub {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-github", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "GitHub for environment {} ({}). Repositories are `owner/name`{}.",
                self.ctx.environment,
                self.ctx.access,
                if self.upstream.allow_list().is_empty() {
                    String::new()
                } else {
                    format!("; allowed: {}", self.upstream.allow_list().join(", "))
                }
            ))
    }
}

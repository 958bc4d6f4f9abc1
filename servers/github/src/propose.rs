//! `github_propose_change`: a branch, one commit of file edits and a pull request in one call,
//! through the Git Data API. A dry run (the default) only reads the base and answers with the
//! unified diff of every file.
//!
//! Real run, in this order: `GET /repos/{repo}` (only without `base`), `GET git/ref/heads/{base}`,
//! `GET git/ref/heads/{branch}` (must be 404), `GET git/commits/{base_sha}`, `GET git/trees/..`
//! down to each changed path, `GET git/blobs/{sha}` for each existing file, then
//! `POST git/blobs` (one per written file), `POST git/trees` (with `base_tree`),
//! `POST git/commits`, `POST git/refs` and `POST pulls`. The dry run stops before the first
//! POST.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mcp_common::ToolError;
use mcp_common::output::cut_str;
use mcp_common::redact::{REDACTED, redact_text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::upstream::Upstream;

/// Most files one proposal may touch.
pub const MAX_FILES: usize = 20;
/// Largest new content of one file.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Largest existing file that may be edited (it is read and diffed).
pub const MAX_BASE_BYTES: u64 = 1024 * 1024;
/// Longest path.
const MAX_PATH_BYTES: usize = 1024;

const PERMISSION_READ: &str = "Contents: read";
const PERMISSION_WRITE: &str = "Contents: read and write";
const PERMISSION_PULLS_WRITE: &str = "Pull requests: read and write";

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProposeChangeArgs {
    /// Repository as `owner/name`.
    pub repo: String,
    /// Pull request title, 1 to 256 characters; also the commit message unless
    /// `commit_message` is given.
    pub title: String,
    /// Pull request description (Markdown). Credential-looking text is redacted before it is
    /// sent.
    #[serde(default)]
    pub body: Option<String>,
    /// Commit message (default: the title).
    #[serde(default)]
    pub commit_message: Option<String>,
    /// Branch the pull request goes into (default: the repository's default branch).
    #[serde(default)]
    pub base: Option<String>,
    /// New branch to create; it must not exist. Default `mcp/<title as slug>-<7 hex digits of
    /// the change>`, the same for a dry run and the real run of the same change.
    #[serde(default)]
    pub branch: Option<String>,
    /// 1 to 20 file changes: `{path, content}` with the complete new text of the file, or
    /// `{path, delete: true}`.
    pub changes: Vec<FileChange>,
    /// Open the pull request as a draft.
    #[serde(default)]
    pub draft: bool,
    /// Default true: read the base and return the diffs without writing anything. Pass false
    /// to create the branch, the commit and the pull request.
    #[serde(default = "yes")]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FileChange {
    /// Path in the repository, relative, without `..`, e.g.
    /// `apps/payment-service/deployment.yaml`.
    pub path: String,
    /// The complete new content (UTF-8 text, at most 256 KiB). Lines that github_get_file
    /// showed with `[REDACTED]` may be sent back as shown: unchanged lines keep their real
    /// value.
    #[serde(default)]
    pub content: Option<String>,
    /// Delete the file (instead of `content`).
    #[serde(default)]
    pub delete: bool,
}

/// One file of a proposal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileDiff {
    pub path: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub additions: usize,
    pub deletions: usize,
    /// Unified diff against the base (credential-looking text redacted).
    pub diff: String,
    /// True when the diff was cut to fit the output cap.
    pub truncated: bool,
}

/// The pull request that was opened.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PullRequestRef {
    pub number: u64,
    pub html_url: String,
}

/// What `github_propose_change` did or, on a dry run, would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Proposal {
    pub repo: String,
    pub dry_run: bool,
    pub base: String,
    /// The base branch's commit the change is made on.
    pub base_sha: String,
    pub branch: String,
    pub title: String,
    pub commit_message: String,
    pub files: Vec<FileDiff>,
    /// The new commit on `branch` (absent on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// The pull request (absent on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestRef>,
    pub message: String,
}

/// A change that passed the argument checks.
#[derive(Debug)]
struct Checked {
    path: String,
    content: Option<String>,
}

/// A change resolved against the base tree.
#[derive(Debug)]
struct Resolved {
    path: String,
    action: &'static str,
    /// Tree entry mode to write (`100644`, or the existing file's `100755`).
    mode: String,
    old: String,
    /// The content to commit; `None` deletes.
    new: Option<String>,
    /// False for a binary or large file being deleted.
    text_diff: bool,
}

/// A path inside the repository: relative, no `.`/`..`/empty segments, no `.git`, no control
/// characters or backslashes.
fn check_path(path: &str) -> Result<String, ToolError> {
    let bad = |why: &str| {
        Err(ToolError::invalid_argument(
            "changes.path",
            format!("`{path}`: {why}"),
        ))
    };
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return bad("give a path of 1 to 1024 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute paths are refused; give the path relative to the repository root");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return bad("backslashes and control characters are refused");
    }
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return bad("a path inside the repository, without `.`, `..` or empty segments");
        }
        if seg.eq_ignore_ascii_case(".git") {
            return bad("paths inside `.git` are refused");
        }
    }
    Ok(path.to_owned())
}

/// A branch name Git and GitHub accept (`git check-ref-format`), limited to a plain character
/// set so that it goes into a URL path as is.
fn check_branch(name: &str, field: &str) -> Result<(), ToolError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'+'))
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains("//")
        && !name
            .split('/')
            .any(|s| s.starts_with('.') || s.starts_with('-'));
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(
            field,
            format!(
                "`{name}` is not a branch name this tool accepts: letters, digits, `-`, `_`, `.`, `+` and `/` separators, no `..`, no segment starting with `.` or `-`, not ending in `.lock`"
            ),
        ))
    }
}

fn check_args(a: &ProposeChangeArgs) -> Result<Vec<Checked>, ToolError> {
    let title = a.title.trim();
    if title.is_empty() || title.chars().count() > 256 {
        return Err(ToolError::invalid_argument(
            "title",
            "give a title of 1 to 256 characters",
        ));
    }
    if a.body.as_deref().is_some_and(|b| b.len() > 65536) {
        return Err(ToolError::invalid_argument("body", "at most 65536 bytes"));
    }
    if let Some(m) = &a.commit_message
        && (m.trim().is_empty() || m.len() > 65536)
    {
        return Err(ToolError::invalid_argument(
            "commit_message",
            "give a message of 1 to 65536 bytes, or leave it out to use the title",
        ));
    }
    if let Some(b) = &a.base {
        check_branch(b, "base")?;
    }
    if let Some(b) = &a.branch {
        check_branch(b, "branch")?;
    }
    if a.changes.is_empty() || a.changes.len() > MAX_FILES {
        return Err(ToolError::invalid_argument(
            "changes",
            format!("give 1 to {MAX_FILES} file changes"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(a.changes.len());
    for c in &a.changes {
        let path = check_path(&c.path)?;
        if !seen.insert(path.clone()) {
            return Err(ToolError::invalid_argument(
                "changes",
                format!("`{path}` appears twice; give one change per file"),
            ));
        }
        let content = match (&c.content, c.delete) {
            (Some(_), true) => {
                return Err(ToolError::invalid_argument(
                    "changes",
                    format!("`{path}`: give either `content` or `delete: true`, not both"),
                ));
            }
            (None, false) => {
                return Err(ToolError::invalid_argument(
                    "changes",
                    format!(
                        "`{path}`: empty change; give the complete new `content`, or `delete: true`"
                    ),
                ));
            }
            (None, true) => None,
            (Some(t), false) if t.is_empty() => {
                return Err(ToolError::invalid_argument(
                    "changes",
                    format!(
                        "`{path}`: the new content is empty; give the complete new text of the file (or `delete: true` to remove it)"
                    ),
                ));
            }
            (Some(t), false) if t.len() > MAX_FILE_BYTES => {
                return Err(ToolError::invalid_argument(
                    "changes",
                    format!(
                        "`{path}`: {} bytes of content; at most {MAX_FILE_BYTES} bytes per file",
                        t.len()
                    ),
                ));
            }
            (Some(t), false) => Some(t.clone()),
        };
        out.push(Checked { path, content });
    }
    Ok(out)
}

/// The default branch name: `mcp/<slug of the title>-<7 hex digits>` where the digits hash
/// the repository, the base commit and the changes, so a dry run names the branch the real
/// run creates, and repeating a proposal that was made already is refused (the branch exists)
/// instead of opening a second pull request.
fn default_branch(repo: &str, base_sha: &str, title: &str, changes: &[Checked]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [repo, base_sha, title] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for c in changes {
        h.update(c.path.as_bytes());
        h.update([0]);
        match &c.content {
            Some(t) => {
                h.update(b"c");
                h.update(t.as_bytes());
            }
            None => h.update(b"d"),
        }
        h.update([0]);
    }
    let id = hex::encode(h.finalize());
    let mut slug = String::new();
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    // At most 40 characters, cut between words when the cut falls inside one.
    if slug.len() > 40 {
        let mid_word = slug.as_bytes()[40] != b'-';
        slug.truncate(40);
        if mid_word && let Some(i) = slug.rfind('-') {
            slug.truncate(i);
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "change" } else { slug };
    format!("mcp/{slug}-{}", &id[..7])
}

/// Splits text into (line without terminator, terminator) pairs.
fn lines(s: &str) -> Vec<(&str, &str)> {
    s.split_inclusive('\n')
        .map(|l| match l.strip_suffix("\r\n") {
            Some(body) => (body, "\r\n"),
            None => match l.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (l, ""),
            },
        })
        .collect()
}

/// Puts the real value back into lines that the agent saw redacted (github_get_file redacts
/// credential-looking values) and sent back unchanged: the new content is aligned with the base
/// as the agent saw it, and every line equal to a redacted base line becomes that base line.
/// Lines that still carry the placeholder are refused: committing `[REDACTED]` would destroy
/// the value.
fn restore_redacted(path: &str, old: &str, new: &str) -> Result<String, ToolError> {
    if !new.contains(REDACTED) {
        return Ok(new.to_owned());
    }
    let old_lines = lines(old);
    let shown: Vec<String> = old_lines
        .iter()
        .map(|(l, _)| redact_text(l).unwrap_or_else(|| (*l).to_owned()))
        .collect();
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    let new_lines = lines(new);
    let new_bodies: Vec<&str> = new_lines.iter().map(|(l, _)| *l).collect();
    let ops = similar::capture_diff_slices_deadline(
        similar::Algorithm::Myers,
        &shown,
        &new_bodies,
        Some(Instant::now() + Duration::from_secs(2)),
    );
    let mut out = String::with_capacity(new.len());
    for op in ops {
        match op {
            similar::DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for i in 0..len {
                    out.push_str(old_lines[old_index + i].0);
                    out.push_str(new_lines[new_index + i].1);
                }
            }
            similar::DiffOp::Delete { .. } => {}
            similar::DiffOp::Insert {
                new_index, new_len, ..
            }
            | similar::DiffOp::Replace {
                new_index, new_len, ..
            } => {
                for (i, (body, end)) in new_lines[new_index..new_index + new_len].iter().enumerate()
                {
                    if body.contains(REDACTED) {
                        return Err(ToolError::invalid_argument(
                            "changes",
                            format!(
                                "`{path}` line {}: `{REDACTED}` is a placeholder from redacted output, not a value, and this line is not an unchanged line of the base",
                                new_index + i + 1
                            ),
                        )
                        .with_hint("send unchanged lines exactly as github_get_file showed them (they keep their real value), and write real values into changed lines"));
                    }
                    out.push_str(body);
                    out.push_str(end);
                }
            }
        }
    }
    Ok(out)
}

/// Unified diff of one file, redacted, and its line counts.
fn diff(path: &str, action: &str, old: &str, new: &str) -> (String, usize, usize) {
    let d = similar::TextDiff::configure()
        .timeout(Duration::from_secs(2))
        .diff_lines(old, new);
    let (mut add, mut del) = (0, 0);
    for c in d.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => add += 1,
            similar::ChangeTag::Delete => del += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let a = if action == "create" {
        "/dev/null".to_owned()
    } else {
        format!("a/{path}")
    };
    let b = if action == "delete" {
        "/dev/null".to_owned()
    } else {
        format!("b/{path}")
    };
    let text = d
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    let text = redact_text(&text).unwrap_or(text);
    (text, add, del)
}

/// A tree entry of the base.
#[derive(Debug, Clone)]
struct Entry {
    mode: String,
    kind: String,
    sha: String,
    size: Option<u64>,
}

/// Reads the base: trees (cached by sha) and blobs.
struct Base<'a> {
    up: &'a Upstream,
    repo: &'a str,
    trees: HashMap<String, HashMap<String, Entry>>,
}

impl Base<'_> {
    async fn tree(&mut self, sha: &str) -> Result<&HashMap<String, Entry>, ToolError> {
        if !self.trees.contains_key(sha) {
            let v = self
                .up
                .get(&format!("/repos/{}/git/trees/{sha}", self.repo), &[])
                .await
                .map_err(|e| {
                    e.into_tool_error(
                        &format!("read tree {sha} of {}", self.repo),
                        PERMISSION_READ,
                    )
                })?;
            let mut entries = HashMap::new();
            for e in v
                .get("tree")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |k: &str| {
                    e.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                entries.insert(
                    s("path"),
                    Entry {
                        mode: s("mode"),
                        kind: s("type"),
                        sha: s("sha"),
                        size: e.get("size").and_then(Value::as_u64),
                    },
                );
            }
            if v.get("truncated").and_then(Value::as_bool) == Some(true) {
                return Err(ToolError::new(format!(
                    "a directory of {} is too large for GitHub to list (tree {sha} truncated)",
                    self.repo
                ))
                .with_hint("propose this change by hand"));
            }
            self.trees.insert(sha.to_owned(), entries);
        }
        Ok(&self.trees[sha])
    }

    /// The entry at `path` under the root tree, or `None` when it does not exist.
    async fn entry(&mut self, root: &str, path: &str) -> Result<Option<Entry>, ToolError> {
        let segs: Vec<&str> = path.split('/').collect();
        let mut tree = root.to_owned();
        for (i, seg) in segs.iter().enumerate() {
            let Some(e) = self.tree(&tree).await?.get(*seg).cloned() else {
                return Ok(None);
            };
            if i + 1 == segs.len() {
                return Ok(Some(e));
            }
            if e.kind != "tree" {
                return Err(ToolError::invalid_argument(
                    "changes.path",
                    format!(
                        "`{path}`: `{}` is a file at the base, not a directory",
                        segs[..=i].join("/")
                    ),
                ));
            }
            tree = e.sha;
        }
        Ok(None)
    }

    async fn blob_text(&self, path: &str, sha: &str) -> Result<Option<String>, ToolError> {
        use base64::Engine;
        let v = self
            .up
            .get(&format!("/repos/{}/git/blobs/{sha}", self.repo), &[])
            .await
            .map_err(|e| {
                e.into_tool_error(&format!("read {path} in {}", self.repo), PERMISSION_READ)
            })?;
        let raw = v.get("content").and_then(Value::as_str).unwrap_or_default();
        let bytes = match v.get("encoding").and_then(Value::as_str) {
            Some("utf-8") => raw.as_bytes().to_vec(),
            _ => base64::engine::general_purpose::STANDARD
                .decode(raw.replace(['\n', '\r'], ""))
                .map_err(|e| ToolError::upstream(format!("decode {path}"), e))?,
        };
        Ok(String::from_utf8(bytes).ok())
    }
}

/// A failed step of the real run, after the branch was created: say what exists now.
fn after_branch(e: ToolError, branch: &str, commit: &str) -> ToolError {
    let hint = format!(
        "{}open the pull request from `{branch}` by hand, or ask an operator to delete the branch before proposing again",
        e.hint.map(|h| format!("{h}; then ")).unwrap_or_default()
    );
    ToolError::new(format!(
        "{}; the branch `{branch}` with commit {commit} was created and is left in place",
        e.message
    ))
    .with_hint(hint)
}

/// Reads a ref; `None` when the branch does not exist.
async fn branch_sha(up: &Upstream, repo: &str, branch: &str) -> Result<Option<String>, ToolError> {
    match up
        .get(&format!("/repos/{repo}/git/ref/heads/{branch}"), &[])
        .await
    {
        Ok(v) => Ok(v
            .pointer("/object/sha")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        Err(Error::Api { status: 404, .. }) => Ok(None),
        Err(e) => {
            Err(e.into_tool_error(&format!("read branch {branch} of {repo}"), PERMISSION_READ))
        }
    }
}

fn sha_of(v: &Value, what: &str) -> Result<String, ToolError> {
    v.get("sha")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ToolError::new(format!("GitHub answered {what} without a sha")))
}

/// The whole tool; `repo` is checked against the allow-list already.
pub async fn propose(
    up: &Upstream,
    repo: String,
    a: ProposeChangeArgs,
    max_bytes: usize,
) -> Result<Proposal, ToolError> {
    let changes = check_args(&a)?;
    if a.branch.is_some() && a.branch == a.base {
        return Err(ToolError::invalid_argument(
            "branch",
            "the new branch must differ from the base branch",
        ));
    }
    let title = a.title.trim().to_owned();
    let commit_message = a
        .commit_message
        .as_deref()
        .map(str::trim)
        .unwrap_or(&title)
        .to_owned();
    let commit_message = redact_text(&commit_message).unwrap_or(commit_message);
    let body = a.body.clone().unwrap_or_default();
    let body = redact_text(&body).unwrap_or(body);

    let base = match &a.base {
        Some(b) => b.clone(),
        None => {
            let v = up.get(&format!("/repos/{repo}"), &[]).await.map_err(|e| {
                e.into_tool_error(&format!("get repository {repo}"), "Metadata: read")
            })?;
            let b = v
                .get("default_branch")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ToolError::new(format!(
                        "{repo} has no default branch (an empty repository)"
                    ))
                    .with_hint("give `base`")
                })?;
            check_branch(&b, "base").map_err(|e| {
                e.with_hint(format!("the default branch of {repo} has a name this tool does not put into a URL; give another `base`"))
            })?;
            b
        }
    };
    let base_sha = branch_sha(up, &repo, &base).await?.ok_or_else(|| {
        ToolError::invalid_argument(
            "base",
            format!("the branch `{base}` does not exist in {repo}"),
        )
    })?;
    let branch = match &a.branch {
        Some(b) => b.clone(),
        None => default_branch(&repo, &base_sha, &title, &changes),
    };
    if branch == base {
        return Err(ToolError::invalid_argument(
            "branch",
            "the new branch must differ from the base branch",
        ));
    }
    if let Some(sha) = branch_sha(up, &repo, &branch).await? {
        return Err(ToolError::new(format!(
            "refused: the branch `{branch}` already exists in {repo} (at {sha})"
        ))
        .with_hint("a previous call may have proposed this change already (see github_list_pulls); otherwise give another `branch`"));
    }
    let commit = up
        .get(&format!("/repos/{repo}/git/commits/{base_sha}"), &[])
        .await
        .map_err(|e| {
            e.into_tool_error(
                &format!("read commit {base_sha} of {repo}"),
                PERMISSION_READ,
            )
        })?;
    let base_tree = commit
        .pointer("/tree/sha")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ToolError::new(format!("GitHub answered commit {base_sha} without a tree"))
        })?;

    let mut reader = Base {
        up,
        repo: &repo,
        trees: HashMap::new(),
    };
    let mut resolved = Vec::with_capacity(changes.len());
    for c in &changes {
        let path = &c.path;
        let entry = reader.entry(&base_tree, path).await?;
        let (action, mode, old) = match (&entry, &c.content) {
            (None, None) => {
                return Err(ToolError::invalid_argument(
                    "changes",
                    format!("`{path}` does not exist at {base}; nothing to delete"),
                ));
            }
            (None, Some(_)) => ("create", "100644".to_owned(), Some(String::new())),
            (Some(e), _) => {
                match (e.kind.as_str(), e.mode.as_str()) {
                    ("blob", "100644" | "100755") => {}
                    ("tree", _) => {
                        return Err(ToolError::invalid_argument(
                            "changes",
                            format!("`{path}` is a directory at {base}; changes name files"),
                        ));
                    }
                    ("blob", "120000") => {
                        return Err(ToolError::invalid_argument(
                            "changes",
                            format!("`{path}` is a symbolic link; change the file it points to"),
                        ));
                    }
                    _ => {
                        return Err(ToolError::invalid_argument(
                            "changes",
                            format!(
                                "`{path}` is a submodule or special entry; this tool changes files"
                            ),
                        ));
                    }
                }
                let action = if c.content.is_some() {
                    "update"
                } else {
                    "delete"
                };
                let size = e.size.unwrap_or(0);
                let old = if size > MAX_BASE_BYTES {
                    None
                } else {
                    reader.blob_text(path, &e.sha).await?
                };
                match (old, action) {
                    (Some(t), _) => (action, e.mode.clone(), Some(t)),
                    (None, "delete") => (action, e.mode.clone(), None),
                    (None, _) => {
                        return Err(ToolError::invalid_argument(
                            "changes",
                            format!(
                                "`{path}` is binary or larger than {MAX_BASE_BYTES} bytes at {base}; this tool edits text files"
                            ),
                        ));
                    }
                }
            }
        };
        // `None`: a binary or large file being deleted; there is no text to diff.
        let text_diff = old.is_some();
        let old = old.unwrap_or_default();
        let new = match &c.content {
            Some(t) => {
                let t = restore_redacted(path, &old, t)?;
                if action == "update" && t == old {
                    return Err(ToolError::invalid_argument(
                        "changes",
                        format!(
                            "`{path}` already has this content at {base}: a no-op change; leave it out"
                        ),
                    ));
                }
                Some(t)
            }
            None => None,
        };
        resolved.push(Resolved {
            path: path.clone(),
            action,
            mode,
            old,
            new,
            text_diff,
        });
    }

    // Diffs share the output cap evenly.
    let per_file = (max_bytes.saturating_sub(2048) / resolved.len()).max(512);
    let files: Vec<FileDiff> = resolved
        .iter()
        .map(|r| {
            let (text, additions, deletions) = if r.text_diff {
                diff(&r.path, r.action, &r.old, r.new.as_deref().unwrap_or(""))
            } else {
                let note = format!(
                    "{} is deleted (binary, or larger than {MAX_BASE_BYTES} bytes: no text diff)\n",
                    r.path
                );
                (note, 0, 0)
            };
            let (kept, truncated) = cut_str(&text, per_file);
            FileDiff {
                path: r.path.clone(),
                action: r.action.to_owned(),
                additions,
                deletions,
                diff: kept.to_owned(),
                truncated,
            }
        })
        .collect();

    let mut out = Proposal {
        repo: repo.clone(),
        dry_run: a.dry_run,
        base: base.clone(),
        base_sha: base_sha.clone(),
        branch: branch.clone(),
        title: title.clone(),
        commit_message: commit_message.clone(),
        files,
        commit_sha: None,
        pull_request: None,
        message: String::new(),
    };
    if a.dry_run {
        out.message = format!(
            "dry run: nothing was written. With dry_run false: branch `{branch}` from {base} at {}, one commit changing {} file(s), and a pull request into {base}",
            &base_sha[..base_sha.len().min(12)],
            out.files.len()
        );
        return Ok(out);
    }

    let write_err = |what: String| move |e: Error| e.into_tool_error(&what, PERMISSION_WRITE);
    let mut tree = Vec::with_capacity(resolved.len());
    for r in &resolved {
        let sha = match &r.new {
            Some(content) => {
                let v = up
                    .post(
                        &format!("/repos/{repo}/git/blobs"),
                        &json!({"content": content, "encoding": "utf-8"}),
                    )
                    .await
                    .map_err(write_err(format!("create a blob for {} in {repo}", r.path)))?;
                Value::String(sha_of(&v, "the blob")?)
            }
            None => Value::Null,
        };
        tree.push(json!({"path": r.path, "mode": r.mode, "type": "blob", "sha": sha}));
    }
    let v = up
        .post(
            &format!("/repos/{repo}/git/trees"),
            &json!({"base_tree": base_tree, "tree": tree}),
        )
        .await
        .map_err(write_err(format!("create a tree in {repo}")))?;
    let new_tree = sha_of(&v, "the tree")?;
    let v = up
        .post(
            &format!("/repos/{repo}/git/commits"),
            &json!({"message": commit_message, "tree": new_tree, "parents": [base_sha]}),
        )
        .await
        .map_err(write_err(format!("create a commit in {repo}")))?;
    let commit_sha = sha_of(&v, "the commit")?;
    match up
        .post(
            &format!("/repos/{repo}/git/refs"),
            &json!({"ref": format!("refs/heads/{branch}"), "sha": commit_sha}),
        )
        .await
    {
        Ok(_) => {}
        Err(Error::Api {
            status: 422,
            message,
            ..
        }) if message.to_ascii_lowercase().contains("already exists") => {
            return Err(ToolError::new(format!(
                "refused: the branch `{branch}` was created in {repo} by someone else meanwhile (GitHub answered 422: {message})"
            ))
            .with_hint("give another `branch`"));
        }
        Err(e) => {
            return Err(e.into_tool_error(
                &format!("create the branch {branch} in {repo}"),
                PERMISSION_WRITE,
            ));
        }
    }
    let v = up
        .post(
            &format!("/repos/{repo}/pulls"),
            &json!({"title": title, "head": branch, "base": base, "body": body, "draft": a.draft}),
        )
        .await
        .map_err(|e| {
            after_branch(
                e.into_tool_error(
                    &format!("open a pull request from {branch} into {base} in {repo}"),
                    PERMISSION_PULLS_WRITE,
                ),
                &branch,
                &commit_sha,
            )
        })?;
    let number = v.get("number").and_then(Value::as_u64).unwrap_or_default();
    let html_url = v
        .get("html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    out.message = format!(
        "opened pull request #{number} from `{branch}` into {base} ({} file(s), commit {})",
        out.files.len(),
        &commit_sha[..commit_sha.len().min(12)]
    );
    out.commit_sha = Some(commit_sha);
    out.pull_request = Some(PullRequestRef { number, html_url });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_repository_are_refused() {
        for p in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a/",
            ".git/config",
            "a/.GIT/hooks/pre-commit",
            "a\\b",
            "a\nb",
        ] {
            assert!(check_path(p).is_err(), "{p:?}");
        }
        assert_eq!(
            check_path("apps/payment-service/deployment.yaml").unwrap(),
            "apps/payment-service/deployment.yaml"
        );
        assert!(check_path(".github/workflows/ci.yaml").is_ok());
    }

    #[test]
    fn branch_names_follow_git_rules() {
        for b in [
            "main",
            "mcp/raise-memory-1a2b3c4",
            "release/1.2",
            "feature_x+y",
        ] {
            assert!(check_branch(b, "branch").is_ok(), "{b}");
        }
        for b in [
            "", "/x", "x/", "a..b", "a//b", "x.lock", ".hidden", "a/.b", "-x", "a b", "a~1", "a^",
            "a:b", "a?", "a*", "a[", "a@{1}", "x.",
        ] {
            assert!(check_branch(b, "branch").is_err(), "{b}");
        }
    }

    #[test]
    fn default_branch_is_a_stable_slug() {
        let changes = vec![Checked {
            path: "a.yaml".into(),
            content: Some("x: 1\n".into()),
        }];
        let b = default_branch(
            "acme/deploy",
            "abc",
            "payment-service: raise memory to 1Gi!",
            &changes,
        );
        assert!(
            b.starts_with("mcp/payment-service-raise-memory-to-1gi-"),
            "{b}"
        );
        assert_eq!(
            b.len(),
            "mcp/payment-service-raise-memory-to-1gi-".len() + 7
        );
        // Long titles are cut between words.
        let long = default_branch(
            "a/b",
            "s",
            "payment-service: raise memory limit to 1Gi",
            &changes,
        );
        assert!(
            long.starts_with("mcp/payment-service-raise-memory-limit-to-"),
            "{long}"
        );
        assert_eq!(
            long.len(),
            "mcp/payment-service-raise-memory-limit-to-".len() + 7
        );
        assert!(check_branch(&b, "branch").is_ok());
        assert_eq!(
            b,
            default_branch(
                "acme/deploy",
                "abc",
                "payment-service: raise memory to 1Gi!",
                &changes
            )
        );
        assert_ne!(
            b,
            default_branch(
                "acme/deploy",
                "abd",
                "payment-service: raise memory to 1Gi!",
                &changes
            )
        );
        assert!(default_branch("a/b", "s", "???", &changes).starts_with("mcp/change-"));
    }

    #[test]
    fn redacted_lines_keep_their_value_and_new_placeholders_are_refused() {
        let old = "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        key: db-password\nmemory: 512Mi\n";
        // What github_get_file showed, with the memory raised.
        let shown = redact_text(old).unwrap().replace("512Mi", "1Gi");
        assert!(shown.contains("key: [REDACTED]"), "{shown}");
        let restored = restore_redacted("d.yaml", old, &shown).unwrap();
        assert_eq!(restored, old.replace("512Mi", "1Gi"));
        // CRLF line endings survive.
        let old_crlf = old.replace('\n', "\r\n");
        let shown_crlf = shown.replace('\n', "\r\n");
        assert_eq!(
            restore_redacted("d.yaml", &old_crlf, &shown_crlf).unwrap(),
            old_crlf.replace("512Mi", "1Gi")
        );
        // A placeholder on a changed line is refused.
        let moved = shown.replace("key: [REDACTED]", "key: [REDACTED]-v2");
        let e = restore_redacted("d.yaml", old, &moved).unwrap_err();
        assert!(e.text().contains("line 5"), "{}", e.text());
        // Content without placeholders is taken as is.
        assert_eq!(restore_redacted("d.yaml", old, "x\n").unwrap(), "x\n");
    }

    #[test]
    fn diffs_are_unified_and_counted() {
        let (d, add, del) = diff("a.yaml", "update", "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!((add, del), (1, 1));
        assert!(
            d.starts_with("--- a/a.yaml\n+++ b/a.yaml\n@@ -1,3 +1,3 @@\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"), "{d}");
        let (d, add, del) = diff("n.yaml", "create", "", "x\ny\n");
        assert_eq!((add, del), (2, 0));
        assert!(d.starts_with("--- /dev/null\n+++ b/n.yaml\n"), "{d}");
        let (d, _, _) = diff("s.env", "update", "a\n", "a\npassword=hunter2\n");
        assert!(!d.contains("hunter2"), "{d}");
    }
}

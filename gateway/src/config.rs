//! The gateway's YAML configuration: parsing, and the validation `mcp-gateway check` runs.
//!
//! Every problem is reported with the line it is on, all at once, so an operator fixes a config
//! in one pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::catalog;
use crate::error::{Error, Result};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub keys_file: PathBuf,
    pub backends: BTreeMap<String, Backend>,
    /// role -> backend -> which tools.
    pub roles: BTreeMap<String, BTreeMap<String, ToolAccess>>,
    pub limits: Limits,
    pub audit: AuditSettings,
    /// Host header allow-list (`host` or `host:port`); empty accepts any Host.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call (`scheme://host[:port]`), besides the origins of
    /// `allowed_hosts`. A request carrying any other `Origin` is refused.
    pub allowed_origins: Vec<String>,
}

/// One upstream MCP endpoint.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub url: http::Uri,
    /// The server family (`eks`, `postgres`, ...): the tool-name prefix.
    pub server: String,
    /// Position in `backends` (name order): the index of its connection pool.
    pub index: usize,
}

/// Which tools of a backend a role may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolAccess {
    All,
    Only(BTreeSet<String>),
}

impl ToolAccess {
    pub fn allows(&self, tool: &str) -> bool {
        match self {
            ToolAccess::All => true,
            ToolAccess::Only(tools) => tools.contains(tool),
        }
    }

    pub fn is_narrowed(&self) -> bool {
        matches!(self, ToolAccess::Only(_))
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// TCP connect timeout to a backend.
    #[serde(with = "duration_str")]
    pub connect_timeout: Duration,
    /// Time from sending a request to the backend's response headers. A live SSE stream has no
    /// overall timeout once headers arrived.
    #[serde(with = "duration_str")]
    pub first_byte_timeout: Duration,
    /// Largest `tools/list` answer the gateway rewrites for a narrowed role, in bytes.
    pub max_list_bytes: usize,
    /// How long in-flight requests may run after SIGTERM.
    #[serde(with = "duration_str")]
    pub shutdown_grace: Duration,
    /// Serving threads; 0 (the default) is one per CPU the process may use.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(120),
            max_list_bytes: 8 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(25),
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Cap on the audited `tool_args`, serialized, in bytes.
    pub max_args_bytes: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            max_args_bytes: 4096,
        }
    }
}

mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        mcp_common::args::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    keys_file: PathBuf,
    backends: BTreeMap<String, RawBackend>,
    #[serde(rename = "roleMapping")]
    role_mapping: BTreeMap<String, Vec<RawRoleEntry>>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    audit: AuditSettings,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawBackend {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        server: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoleEntry {
    Backend(String),
    Narrowed { backend: String, tools: Vec<String> },
}

/// A problem found in a config file, with the line it is on (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Warnings that do not stop the gateway (printed by `check`, logged by `serve`).
#[derive(Debug, Default)]
pub struct Report {
    pub warnings: Vec<Problem>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<(Config, Report)> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|problems| Error::Config {
            path: path.to_owned(),
            problems,
        })
    }

    /// Parses and validates config text; every problem found, each with its line.
    pub fn parse(text: &str) -> Result<(Config, Report), Vec<Problem>> {
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            vec![Problem {
                line: e.location().map_or(0, |l| l.line()),
                message: e.to_string(),
            }]
        })?;
        validate(raw, &Lines::new(text))
    }
}

fn validate(raw: RawConfig, lines: &Lines<'_>) -> Result<(Config, Report), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut report = Report::default();
    let backends_at = lines.key_line("backends", 0);
    let roles_at = lines.key_line("roleMapping", 0);

    let mut backends = BTreeMap::new();
    for (name, spec) in raw.backends {
        let at = lines.key_line(&name, backends_at);
        let (url, server) = match spec {
            RawBackend::Url(u) => (u, None),
            RawBackend::Full { url, server } => (url, server),
        };
        if !valid_name(&name) {
            problems.push(Problem {
                line: at,
                message: format!(
                    "backend name `{name}` must be lower-case letters, digits and '-', starting with a letter or digit"
                ),
            });
        }
        let server = server.unwrap_or_else(|| name.split('-').next().unwrap_or(&name).to_owned());
        match parse_upstream(&url) {
            Ok(url) => {
                backends.insert(
                    name.clone(),
                    Backend {
                        name,
                        url,
                        server,
                        index: 0,
                    },
                );
            }
            Err(reason) => problems.push(Problem {
                line: lines.token_line(&url, at).max(at),
                message: format!("backend `{name}`: {reason}"),
            }),
        }
    }

    let mut roles = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (role, entries) in raw.role_mapping {
        let role_at = lines.key_line(&role, roles_at);
        if role.is_empty() || role.contains(['/', ':']) || role.chars().any(char::is_whitespace) {
            problems.push(Problem {
                line: role_at,
                message: format!("role name `{role}` may not be empty or contain '/', ':' or spaces (keys are stored as hash:role/user)"),
            });
        }
        let mut reach: BTreeMap<String, ToolAccess> = BTreeMap::new();
        for entry in entries {
            let (backend, tools) = match entry {
                RawRoleEntry::Backend(b) => (b, None),
                RawRoleEntry::Narrowed { backend, tools } => (backend, Some(tools)),
            };
            let at = lines.token_line(&backend, role_at).max(role_at);
            let Some(known) = backends.get(&backend) else {
                problems.push(Problem {
                    line: at,
                    message: format!(
                        "role `{role}` names backend `{backend}`, which is not defined under `backends`"
                    ),
                });
                continue;
            };
            if reach.contains_key(&backend) {
                problems.push(Problem {
                    line: at,
                    message: format!("role `{role}` lists backend `{backend}` twice"),
                });
                continue;
            }
            used.insert(backend.clone());
            let access = match tools {
                None => ToolAccess::All,
                Some(tools) if tools.is_empty() => {
                    problems.push(Problem {
                        line: at,
                        message: format!(
                            "role `{role}`: `tools: []` for backend `{backend}` allows nothing; remove the entry instead"
                        ),
                    });
                    continue;
                }
                Some(tools) => {
                    for tool in &tools {
                        if let Err(reason) = catalog::check_tool(&known.server, tool) {
                            problems.push(Problem {
                                line: lines.token_line(tool, at).max(at),
                                message: format!("role `{role}`, backend `{backend}`: {reason}"),
                            });
                        }
                    }
                    ToolAccess::Only(tools.into_iter().collect())
                }
            };
            reach.insert(backend, access);
        }
        roles.insert(role, reach);
    }

    for (i, b) in backends.values_mut().enumerate() {
        b.index = i;
    }
    for name in backends.keys() {
        if !used.contains(name) {
            report.warnings.push(Problem {
                line: lines.key_line(name, backends_at),
                message: format!("backend `{name}` is not reachable by any role"),
            });
        }
    }
    let l = raw.limits;
    if l.max_body_bytes == 0 || l.max_list_bytes == 0 {
        problems.push(Problem {
            line: lines.key_line("limits", 0),
            message: "limits: byte limits must be greater than zero".into(),
        });
    }
    if l.connect_timeout.is_zero() || l.first_byte_timeout.is_zero() {
        problems.push(Problem {
            line: lines.key_line("limits", 0),
            message: "limits: timeouts must be greater than zero".into(),
        });
    }

    for h in &raw.allowed_hosts {
        if h.is_empty() || h.contains(['/', ' ']) {
            problems.push(Problem {
                line: lines.token_line(h, lines.key_line("allowed_hosts", 0)),
                message: format!("allowed_hosts: `{h}` is not a host or host:port"),
            });
        }
    }
    for o in &raw.allowed_origins {
        if !(o.starts_with("http://") || o.starts_with("https://"))
            || o.trim_end_matches('/').matches('/').count() != 2
        {
            problems.push(Problem {
                line: lines.token_line(o, lines.key_line("allowed_origins", 0)),
                message: format!("allowed_origins: `{o}` is not an origin (scheme://host[:port])"),
            });
        }
    }

    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }
    Ok((
        Config {
            listen: raw.listen,
            keys_file: raw.keys_file,
            backends,
            roles,
            limits: raw.limits,
            audit: raw.audit,
            allowed_hosts: raw
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allowed_origins: raw
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        },
        report,
    ))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 63
}

fn parse_upstream(raw: &str) -> Result<http::Uri, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(format!(
                "`{raw}`: https upstreams are not supported yet; reach backends over the cluster network (a service mesh adds mTLS)"
            ));
        }
        other => return Err(format!("`{raw}`: scheme `{other}` is not http")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{raw}`: credentials in backend URLs are not allowed"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{raw}`: a backend URL may not carry a query or fragment"
        ));
    }
    url.as_str()
        .parse::<http::Uri>()
        .map_err(|e| format!("`{raw}` is not a valid URI: {e}"))
}

/// Finds the lines of keys and values in block-style YAML, for error messages.
struct Lines<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().collect(),
        }
    }

    /// The first line at or after `after` (1-based) that defines `key:` (or `- key:`).
    fn key_line(&self, key: &str, after: usize) -> usize {
        let start = after.saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            let t = line.trim_start().trim_start_matches("- ");
            let t = t.trim_matches(|c| c == '"' || c == '\'');
            if let Some(rest) = t.strip_prefix(key) {
                let rest = rest.trim_start_matches(['"', '\'']);
                if rest.starts_with(':') {
                    return i + 1;
                }
            }
        }
        0
    }

    /// The first line at or after `after` where `token` stands as a whole word.
    fn token_line(&self, token: &str, after: usize) -> usize {
        if token.is_empty() {
            return 0;
        }
        let start = after.saturating_sub(1);
        let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            let code = line.split(" #").next().unwrap_or(line);
            let mut from = 0;
            while let Some(pos) = code[from..].find(token) {
                let s = from + pos;
                let e = s + token.len();
                let before = code[..s].chars().next_back();
                let after_c = code[e..].chars().next();
                if !before.is_some_and(is_word) && !after_c.is_some_and(is_word) {
                    return i + 1;
                }
                from = e;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen: 127.0.0.1:8080
keys_file: /etc/mcp-gateway/keys/keys.json
backends:
  eks-ro: http://mcp-eks-ro:8080/mcp
  postgres-rw:
    url: http://mcp-postgres-rw:8080/mcp
roleMapping:
  dev-readonly: [eks-ro]
  devops-full:
    - eks-ro
    - backend: postgres-rw
      tools: [postgres_query, postgres_diagnostics]
limits:
  max_body_bytes: 2048
  first_byte_timeout: 30s
"#;

    #[test]
    fn parses_the_seed_form() {
        let (c, report) = Config::parse(GOOD).unwrap();
        assert!(report.warnings.is_empty());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.backends["eks-ro"].url.to_string(),
            "http://mcp-eks-ro:8080/mcp"
        );
        assert_eq!(c.backends["postgres-rw"].server, "postgres");
        assert_eq!(c.roles["dev-readonly"]["eks-ro"], ToolAccess::All);
        let pg = &c.roles["devops-full"]["postgres-rw"];
        assert!(pg.allows("postgres_query"));
        assert!(!pg.allows("postgres_execute"));
        assert_eq!(c.limits.max_body_bytes, 2048);
        assert_eq!(c.limits.first_byte_timeout, Duration::from_secs(30));
        assert_eq!(c.limits.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn reports_every_problem_with_its_line() {
        let bad = r#"keys_file: /k.json
backends:
  eks-ro: http://mcp-eks-ro:8080/mcp
  pg: "not a url"
roleMapping:
  dev-readonly:
    - eks-ro
    - eks-rw
  ops:
    - backend: eks-ro
      tools: [postgres_query]
"#;
        let problems = Config::parse(bad).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{text:#?}");
        assert_eq!(problems[0].line, 4, "{text:#?}");
        assert!(text[0].contains("not a valid URL"));
        assert_eq!(problems[1].line, 8);
        assert!(text[1].contains("backend `eks-rw`, which is not defined"));
        assert_eq!(problems[2].line, 11);
        assert!(text[2].contains("postgres_query"), "{}", text[2]);
    }

    #[test]
    fn syntax_errors_and_unknown_fields_have_lines() {
        let problems =
            Config::parse("keys_file: /k\nbackends: {}\nroleMapping: {}\nlisten_addr: x\n")
                .unwrap_err();
        assert_eq!(problems[0].line, 4, "{problems:?}");
        assert!(problems[0].message.contains("listen_addr"));
        let problems = Config::parse("keys_file: [\n").unwrap_err();
        assert!(problems[0].line > 0);
    }

    #[test]
    fn rejects_unsafe_upstreams_and_names() {
        for (url, why) in [
            ("https://x/mcp", "https"),
            ("ftp://x/mcp", "scheme"),
            ("http://u:p@x/mcp", "credentials"),
            ("http://x/mcp?a=b", "query"),
        ] {
            let text = format!("keys_file: /k\nbackends:\n  b: {url}\nroleMapping:\n  r: [b]\n");
            let problems = Config::parse(&text).unwrap_err();
            assert!(problems[0].message.contains(why), "{url}: {problems:?}");
            assert_eq!(problems[0].line, 3);
        }
        let text =
            "keys_file: /k\nbackends:\n  Bad_Name: http://x/mcp\nroleMapping:\n  r: [Bad_Name]\n";
        assert!(
            Config::parse(text).unwrap_err()[0]
                .message
                .contains("lower-case")
        );
        let text = "keys_file: /k\nbackends:\n  b: http://x/mcp\nroleMapping:\n  a/b: [b]\n";
        assert!(
            Config::parse(text).unwrap_err()[0]
                .message
                .contains("role name")
        );
    }

    #[test]
    fn unused_backends_are_warnings() {
        let text = "keys_file: /k\nbackends:\n  b: http://x/mcp\n  c: http://y/mcp\nroleMapping:\n  r: [b]\n";
        let (_, report) = Config::parse(text).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].line, 4);
    }
}

//! `mcp-gateway can-i`: explains one decision across the three independent layers.
//!
//! 1. **gateway**: does the role reach the backend, and the tool there ([`crate::policy`], the
//!    same code that decides a live request);
//! 2. **pod**: is the tool registered at the backend's access level (`policies/tools.json`: a
//!    write tool only with `--access rw`);
//! 3. **credential**: does the shipped policy for the backend's family and access level grant
//!    what the tool needs (`policies/permissions.json`, evaluated against the ClusterRole, IAM
//!    policy, `roles.sql`, Argo CD `policy.csv`, or the documented token scopes).
//!
//! The verdict is "allowed" only when all three allow. A layer that cannot be decided offline
//! says so ("unverified") instead of claiming success. docs/gateway.md, section `can-i`.

pub mod argocd;
pub mod iam;
pub mod postgres;
pub mod rbac;
pub mod requirements;
pub mod token_docs;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::catalog::{self, Family};
use crate::config::{Config, ToolAccess};
use crate::error::{Error, Result};
use requirements::{Kind, Need, Requirements, Source};

/// `mcp-gateway can-i` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CanIArgs {
    /// Gateway config (YAML); its roleMapping is the gateway layer.
    #[arg(long, env = "MCP_GATEWAY_CONFIG")]
    pub config: PathBuf,
    /// The role (as in roleMapping).
    #[arg(long)]
    pub role: String,
    /// The backend (as under backends).
    #[arg(long)]
    pub backend: String,
    /// The tool.
    #[arg(long)]
    pub tool: String,
    /// The backend's server family (eks, aws, postgres, ...). Default: from --values, else the
    /// gateway config (`server:` of the backend, or its name up to the first '-').
    #[arg(long)]
    pub server: Option<String>,
    /// The backend's access level. Default: from --values, else the backend's name (`-ro`,
    /// `-view` are ro; `-rw`, `-edit`, `-sync` are rw), else ro (the servers' default).
    #[arg(long, value_enum)]
    pub access: Option<Access>,
    /// A Helm values file whose `backends.<name>` declare `server` and `access` (the chart's
    /// values.yaml, or the full values of a release).
    #[arg(long)]
    pub values: Option<PathBuf>,
    /// Read tools.json, permissions.json and the policy files from this `policies/` directory
    /// instead of the copy compiled into this binary.
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Ro,
    Rw,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Ro => "ro",
            Access::Rw => "rw",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// One layer's (or one requirement's) answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
    /// Cannot be decided offline.
    Unverified,
}

impl Decision {
    fn label(self) -> &'static str {
        match self {
            Decision::Allow => "ALLOW",
            Decision::Deny => "DENY",
            Decision::Unverified => "UNVERIFIED",
        }
    }
}

/// An evaluator's answer with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub decision: Decision,
    pub detail: String,
}

impl Check {
    pub fn allow(detail: String) -> Check {
        Check {
            decision: Decision::Allow,
            detail,
        }
    }
    pub fn deny(detail: String) -> Check {
        Check {
            decision: Decision::Deny,
            detail,
        }
    }
    pub fn unverified(detail: String) -> Check {
        Check {
            decision: Decision::Unverified,
            detail,
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced {
    pub value: String,
    pub source: String,
}

/// One requirement of the tool and the policy's answer.
#[derive(Debug, Clone, Serialize)]
pub struct NeedCheck {
    pub need: String,
    pub decision: Decision,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub decision: Decision,
    pub reason: String,
    /// The policy file evaluated (credential layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Who in it (ClusterRole, database role, account, token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// What the check does not see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<NeedCheck>,
}

impl Layer {
    fn new(decision: Decision, reason: String) -> Layer {
        Layer {
            decision,
            reason,
            policy: None,
            principal: None,
            caveat: None,
            needs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Layers {
    pub gateway: Layer,
    pub pod: Layer,
    pub credential: Layer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// All three layers allow.
    Allowed,
    /// At least one layer denies.
    Denied,
    /// No layer denies, but at least one cannot be decided offline.
    Unverified,
}

/// The answer to one `can-i` question.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub role: String,
    pub backend: String,
    pub tool: String,
    pub server: Sourced,
    pub access: Sourced,
    /// Where the policy files were read from.
    pub policies: String,
    pub layers: Layers,
    pub verdict: Verdict,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// 0 allowed, 1 denied, 3 unverified (2 is bad input, see [`run`]).
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Allowed => 0,
            Verdict::Denied => 1,
            Verdict::Unverified => 3,
        }
    }

    /// The human-readable form: one line per layer.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "can-i: role {} -> backend {} -> tool {}",
            self.role, self.backend, self.tool
        );
        let _ = writeln!(
            s,
            "backend {}: server {} ({}), access {} ({}); policies {}",
            self.backend,
            self.server.value,
            self.server.source,
            self.access.value,
            self.access.source,
            self.policies
        );
        for (name, layer) in [
            ("gateway", &self.layers.gateway),
            ("pod", &self.layers.pod),
            ("credential", &self.layers.credential),
        ] {
            let _ = writeln!(
                s,
                "{name:<11} {:<11} {}",
                layer.decision.label(),
                layer.reason
            );
            for n in &layer.needs {
                let _ = writeln!(
                    s,
                    "{:<11}   {:<11} {}: {}",
                    "",
                    n.decision.label(),
                    n.need,
                    n.detail
                );
            }
            if let Some(c) = &layer.caveat {
                let _ = writeln!(s, "{:<11}   note: {c}", "");
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let verdict = match self.verdict {
            Verdict::Allowed => "ALLOWED (all three layers allow)".to_owned(),
            Verdict::Denied => {
                let denying: Vec<&str> = self
                    .layer_list()
                    .into_iter()
                    .filter(|(_, l)| l.decision == Decision::Deny)
                    .map(|(n, _)| n)
                    .collect();
                format!("DENIED (by {})", denying.join(", "))
            }
            Verdict::Unverified => {
                let open: Vec<&str> = self
                    .layer_list()
                    .into_iter()
                    .filter(|(_, l)| l.decision == Decision::Unverified)
                    .map(|(n, _)| n)
                    .collect();
                format!(
                    "UNVERIFIED (no layer denies; not decidable offline: {})",
                    open.join(", ")
                )
            }
        };
        let _ = writeln!(s, "{:<11} {verdict}", "verdict");
        s
    }

    fn layer_list(&self) -> [(&'static str, &Layer); 3] {
        [
            ("gateway", &self.layers.gateway),
            ("pod", &self.layers.pod),
            ("credential", &self.layers.credential),
        ]
    }
}

/// Runs `can-i`: prints the report on stdout; bad input goes to stderr with exit code 2.
pub fn run(args: &CanIArgs) -> ExitCode {
    match explain(args) {
        Ok(report) => {
            let out = match args.output {
                Output::Text => report.to_text(),
                Output::Json => {
                    let mut j = serde_json::to_string_pretty(&report).unwrap_or_default();
                    j.push('\n');
                    j
                }
            };
            print!("{out}");
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("mcp-gateway can-i: {e}");
            ExitCode::from(2)
        }
    }
}

/// What the Helm values say about a backend.
#[derive(Debug, Default)]
struct ValuesEntry {
    server: Option<String>,
    access: Option<Access>,
    enabled: bool,
}

fn values_entry(path: &Path, backend: &str) -> Result<ValuesEntry> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |msg: String| Error::CanI(format!("{}: {msg}", path.display()));
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let entry = v
        .get("backends")
        .and_then(|b| b.get(backend))
        .filter(|e| !e.is_null())
        .ok_or_else(|| bad(format!("no entry `backends.{backend}`")))?;
    let access = match entry.get("access").and_then(|a| a.as_str()) {
        None => None,
        Some("ro") => Some(Access::Ro),
        Some("rw") => Some(Access::Rw),
        Some(other) => {
            return Err(bad(format!(
                "backends.{backend}.access is `{other}`, not ro or rw"
            )));
        }
    };
    Ok(ValuesEntry {
        server: entry
            .get("server")
            .and_then(|s| s.as_str())
            .map(str::to_owned),
        access,
        enabled: entry
            .get("enabled")
            .and_then(serde_yaml_ng::Value::as_bool)
            .unwrap_or(true),
    })
}

/// The access level a backend name suggests, by the seed's conventions, with the marker.
fn access_from_name(name: &str) -> Option<(Access, &str)> {
    name.split('-').find_map(|seg| match seg {
        "ro" | "readonly" | "read" | "view" | "viewer" => Some((Access::Ro, seg)),
        "rw" | "readwrite" | "write" | "edit" | "editor" | "sync" | "admin" | "full" => {
            Some((Access::Rw, seg))
        }
        _ => None,
    })
}

fn family_of<'a>(catalog: &'a BTreeMap<String, Family>, tool: &str) -> Option<&'a str> {
    catalog
        .iter()
        .find(|(_, f)| f.read.iter().chain(&f.write).any(|t| t == tool))
        .map(|(k, _)| k.as_str())
}

/// Answers one question; errors are bad input (exit 2).
pub fn explain(args: &CanIArgs) -> Result<Report> {
    let source = match &args.policies {
        Some(dir) => Source::Dir(dir.clone()),
        None => Source::Embedded,
    };
    let (config, _) = Config::load(&args.config)?;
    let (role, backend_name, tool) = (&args.role, &args.backend, &args.tool);
    let cfg = args.config.display();
    let Some(reach) = config.roles.get(role) else {
        let known: Vec<&str> = config.roles.keys().map(String::as_str).collect();
        return Err(Error::CanI(format!(
            "unknown role `{role}`: {cfg}'s roleMapping has {}",
            known.join(", ")
        )));
    };
    let Some(backend) = config.backends.get(backend_name) else {
        let known: Vec<&str> = config.backends.keys().map(String::as_str).collect();
        return Err(Error::CanI(format!(
            "unknown backend `{backend_name}`: {cfg} defines {}",
            known.join(", ")
        )));
    };
    let catalog = catalog::parse(&source.read("tools.json")?).map_err(|reason| Error::Policy {
        file: source.display("tools.json"),
        reason,
    })?;
    let reqs = Requirements::load(&source)?;
    let values = match &args.values {
        Some(path) => Some((path, values_entry(path, backend_name)?)),
        None => None,
    };
    let mut notes = Vec::new();

    // The server family.
    let server = if let Some(s) = &args.server {
        Sourced {
            value: s.clone(),
            source: "--server".into(),
        }
    } else if let Some((
        path,
        ValuesEntry {
            server: Some(s), ..
        },
    )) = &values
    {
        Sourced {
            value: s.clone(),
            source: format!("values {}", path.display()),
        }
    } else {
        Sourced {
            value: backend.server.clone(),
            source: "gateway config".into(),
        }
    };
    if server.value != backend.server {
        notes.push(format!(
            "the gateway config names the family of {backend_name} `{}`; {} says `{}`",
            backend.server, server.source, server.value
        ));
    }
    let family = server.value.as_str();

    // The tool must be one the backend can have.
    let pending = reqs.pending.get(tool);
    let tool_family = family_of(&catalog, tool).or_else(|| {
        pending.and_then(|_| {
            reqs.families
                .iter()
                .find(|(_, f)| f.tools.contains_key(tool))
                .map(|(k, _)| k.as_str())
        })
    });
    match (catalog.get(family), tool_family) {
        (_, Some(tf)) if tf == family => {}
        (_, Some(tf)) => {
            return Err(Error::CanI(format!(
                "tool `{tool}` is a tool of `{tf}`, but backend {backend_name} runs `{family}` ({}); pass --server if that is wrong",
                server.source
            )));
        }
        (Some(f), None) => {
            return Err(Error::CanI(format!(
                "unknown tool `{tool}`; `{family}` ({backend_name}) has: {}",
                f.read
                    .iter()
                    .chain(&f.write)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        (None, None) => {
            catalog::check_tool(family, tool).map_err(Error::CanI)?;
        }
    }

    // The access level.
    let family_writes = catalog.get(family).map(|f| !f.write.is_empty());
    let access = if let Some(a) = args.access {
        (a, "--access".to_owned())
    } else if let Some((
        path,
        ValuesEntry {
            access: Some(a), ..
        },
    )) = &values
    {
        (*a, format!("values {}", path.display()))
    } else if let Some((a, marker)) = access_from_name(backend_name) {
        (a, format!("backend name: `-{marker}`"))
    } else if family_writes == Some(false) {
        (
            Access::Ro,
            format!(
                "no access marker in the name; `{family}` has no write tools, so it changes nothing"
            ),
        )
    } else {
        notes.push(format!(
            "the access level of {backend_name} is a guess: pass --access, or --values with the chart values"
        ));
        (
            Access::Ro,
            "default: no access marker (-ro, -rw, -view, -edit, -sync) in the name, and the servers start read-only".to_owned(),
        )
    };
    let rw = access.0 == Access::Rw;

    // Layer 1: the gateway.
    let gateway = match crate::policy::access(&config, role, backend_name) {
        None => Layer::new(
            Decision::Deny,
            format!(
                "role {role} does not reach {backend_name} (it reaches: {})",
                reach.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(a) => {
            let scope = match a {
                ToolAccess::All => "with all its tools".to_owned(),
                ToolAccess::Only(tools) => format!(
                    "narrowed to: {}",
                    tools.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            if a.allows(tool) {
                Layer::new(
                    Decision::Allow,
                    format!("role {role} reaches {backend_name} {scope}"),
                )
            } else {
                Layer::new(
                    Decision::Deny,
                    format!(
                        "role {role} reaches {backend_name}, but {tool} is outside its narrowing ({scope})"
                    ),
                )
            }
        }
    };

    // Layer 2: the pod.
    let server_bin = format!("mcp-{family}");
    let pod = if let Some((path, ValuesEntry { enabled: false, .. })) = &values {
        Layer::new(
            Decision::Deny,
            format!(
                "{backend_name} has `enabled: false` in {}: no pod runs it",
                path.display()
            ),
        )
    } else {
        match catalog.get(family) {
            None => Layer::new(
                Decision::Unverified,
                format!(
                    "`{family}` is not one of the project's server families ({}): which tools it registers is not known offline",
                    source.display("tools.json")
                ),
            ),
            Some(f) if f.read.contains(tool) => Layer::new(
                Decision::Allow,
                format!("{tool} is a read tool: {server_bin} registers it at every access level"),
            ),
            Some(f) if f.write.contains(tool) && rw => Layer::new(
                Decision::Allow,
                format!(
                    "{tool} is a write tool, registered because {backend_name} runs with --access rw"
                ),
            ),
            Some(f) if f.write.contains(tool) => Layer::new(
                Decision::Deny,
                format!(
                    "{tool} is a write tool; {backend_name} runs with --access ro, which does not register it"
                ),
            ),
            Some(_) => Layer::new(
                Decision::Deny,
                format!(
                    "{tool} is not in {} (pending in permissions.json: {}): no {server_bin} registers it yet",
                    source.display("tools.json"),
                    pending.map_or("", String::as_str)
                ),
            ),
        }
    };

    // Layer 3: the credential.
    let credential = credential_layer(&source, &reqs, family, tool, rw)?;

    let layers = Layers {
        gateway,
        pod,
        credential,
    };
    let decisions = [
        layers.gateway.decision,
        layers.pod.decision,
        layers.credential.decision,
    ];
    let verdict = if decisions.contains(&Decision::Deny) {
        Verdict::Denied
    } else if decisions.contains(&Decision::Unverified) {
        Verdict::Unverified
    } else {
        Verdict::Allowed
    };
    Ok(Report {
        role: role.clone(),
        backend: backend_name.clone(),
        tool: tool.clone(),
        server,
        access: Sourced {
            value: access.0.as_str().to_owned(),
            source: access.1,
        },
        policies: source.describe(),
        layers,
        verdict,
        allowed: verdict == Verdict::Allowed,
        notes,
    })
}

/// The shipped policy, parsed for its kind.
enum Evaluator {
    Kube(Vec<rbac::Rule>),
    Iam(iam::Policy),
    Postgres(postgres::Roles),
    Argo(argocd::Rbac),
    Doc(token_docs::TokenDoc),
}

fn credential_layer(
    source: &Source,
    reqs: &Requirements,
    family: &str,
    tool: &str,
    rw: bool,
) -> Result<Layer> {
    let Some(fam) = reqs.families.get(family) else {
        return Ok(Layer::new(
            Decision::Unverified,
            format!(
                "{} has no requirements for server family `{family}`",
                source.display("permissions.json")
            ),
        ));
    };
    let Some(needs) = fam.tools.get(tool) else {
        return Ok(Layer::new(
            Decision::Unverified,
            format!(
                "{} lists no requirements for {tool}",
                source.display("permissions.json")
            ),
        ));
    };
    let cred = &fam.credential;
    let Some(policy) = cred.policy(rw) else {
        let mut layer = Layer::new(
            Decision::Unverified,
            format!(
                "no shipped {} policy for `{family}` ({}) to check against",
                kind_name(cred.kind),
                if rw { "rw" } else { "ro" }
            ),
        );
        layer.caveat = cred.note.clone();
        layer.needs = needs
            .iter()
            .map(|n| NeedCheck {
                need: n.to_string(),
                decision: Decision::Unverified,
                detail: "no policy to check".into(),
            })
            .collect();
        return Ok(layer);
    };
    let file = source.display(&policy.file);
    let text = source.read(&policy.file)?;
    let principal = policy.principal.clone().unwrap_or_default();
    let bad = |reason: String| Error::Policy {
        file: file.clone(),
        reason,
    };
    let need_principal = || {
        if principal.is_empty() {
            Err(bad("permissions.json names no principal for it".into()))
        } else {
            Ok(())
        }
    };
    let (evaluator, who, caveat) = match cred.kind {
        Kind::Kubernetes => {
            need_principal()?;
            (
                Evaluator::Kube(rbac::load_role(&text, &principal).map_err(bad)?),
                format!("ClusterRole {principal}"),
                "the ClusterRole as shipped (the chart installs it verbatim and binds it: ro -> mcp-viewer, rw -> mcp-editor); bindings and other roles in a live cluster are not seen".to_owned(),
            )
        }
        Kind::Iam => (
            Evaluator::Iam(iam::Policy::parse(&text).map_err(bad)?),
            "IAM policy".to_owned(),
            "the identity policy for the backend's IRSA role; SCPs, permission boundaries, session and resource policies are not seen".to_owned(),
        ),
        Kind::Postgres => {
            need_principal()?;
            let roles = postgres::Roles::parse(&text);
            if !roles.knows(&principal) {
                return Err(bad(format!("it defines no role `{principal}`")));
            }
            (
                Evaluator::Postgres(roles),
                format!("database role {principal}"),
                "the roles as roles.sql defines them (run in each application database); the live database is not consulted".to_owned(),
            )
        }
        Kind::Argocd => {
            need_principal()?;
            let rbac = argocd::Rbac::parse_configmap(&text).map_err(bad)?;
            if !rbac.knows(&principal) {
                return Err(bad(format!("no policy line names account `{principal}`")));
            }
            (
                Evaluator::Argo(rbac),
                format!("Argo CD account {principal}"),
                "policy.csv as shipped, merged into argocd-rbac-cm; the live ConfigMap and its policy.default are not seen".to_owned(),
            )
        }
        Kind::Github | Kind::Cloudflare => {
            need_principal()?;
            let doc = token_docs::TokenDoc::parse(&text);
            if !doc.knows(&principal) {
                return Err(bad(format!("no section for `{principal}`")));
            }
            let what = if cred.kind == Kind::Github {
                "GitHub token"
            } else {
                "Cloudflare API token"
            };
            (
                Evaluator::Doc(doc),
                format!("{what} {principal} as documented"),
                "the documented scope; the token itself is created by hand and is not seen offline".to_owned(),
            )
        }
    };
    let checks: Vec<NeedCheck> = needs
        .iter()
        .map(|n| {
            let c = check_need(&evaluator, &principal, n);
            NeedCheck {
                need: n.to_string(),
                decision: c.decision,
                detail: c.detail,
            }
        })
        .collect();
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| c.decision == Decision::Deny)
        .map(|c| c.need.as_str())
        .collect();
    let open: Vec<&str> = checks
        .iter()
        .filter(|c| c.decision == Decision::Unverified)
        .map(|c| c.need.as_str())
        .collect();
    let (decision, reason) = if !missing.is_empty() {
        (
            Decision::Deny,
            format!("{who} ({file}) does not grant: {}", missing.join("; ")),
        )
    } else if !open.is_empty() {
        (
            Decision::Unverified,
            format!(
                "{who} ({file}) grants {} only under conditions not decidable offline",
                open.join("; ")
            ),
        )
    } else if checks.is_empty() {
        (
            Decision::Allow,
            format!("{tool} needs no permission from {who} ({file})"),
        )
    } else {
        (
            Decision::Allow,
            format!(
                "{who} ({file}) grants everything {tool} needs ({} permission{})",
                checks.len(),
                if checks.len() == 1 { "" } else { "s" }
            ),
        )
    };
    let mut layer = Layer::new(decision, reason);
    layer.policy = Some(file.clone());
    layer.principal = (!principal.is_empty()).then(|| principal.clone());
    layer.caveat = Some(caveat);
    layer.needs = checks;
    Ok(layer)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Kubernetes => "Kubernetes RBAC",
        Kind::Iam => "IAM",
        Kind::Postgres => "PostgreSQL",
        Kind::Argocd => "Argo CD RBAC",
        Kind::Github => "GitHub token",
        Kind::Cloudflare => "Cloudflare token",
    }
}

fn check_need(evaluator: &Evaluator, principal: &str, need: &Need) -> Check {
    match (evaluator, need) {
        (Evaluator::Kube(rules), Need::Kube(k)) => rbac::check(rules, k),
        (Evaluator::Iam(p), Need::Iam(a)) => p.check(a),
        (Evaluator::Postgres(r), Need::PgRole(of)) => r.check_membership(principal, of),
        (Evaluator::Postgres(r), Need::PgPrivilege { privilege, object }) => {
            r.check_privilege(principal, privilege, object)
        }
        (Evaluator::Postgres(r), Need::PgSetting { name, value }) => {
            r.check_setting(principal, name, value)
        }
        (Evaluator::Argo(r), Need::Argo { resource, action }) => {
            r.check(principal, resource, action)
        }
        (Evaluator::Doc(d), Need::Github { permission, level }) => {
            d.check_github(principal, permission, *level)
        }
        (Evaluator::Doc(d), Need::Cloudflare { group, level }) => {
            d.check_cloudflare(principal, group, level)
        }
        // Requirements are parsed for their family's kind, so this is a broken invariant;
        // answer honestly rather than guess.
        (_, other) => Check::unverified(format!(
            "`{other}` is not a requirement this policy kind can answer"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layer 3 on its own, for every family with a shipped policy: the RO policy grants every
    /// read tool and the RW policy every tool; the RO policy grants no write tool, except the
    /// ones listed here (whose only protection in RO deployments is layer 2).
    #[test]
    fn shipped_policies_grant_what_the_tools_need() {
        // argo_refresh_application only re-compares with Git; Argo CD checks it as
        // `applications, get`, which the view account must have (policies/argocd).
        const RO_GRANTS_WRITE: &[&str] = &["argo_refresh_application"];
        let source = Source::Embedded;
        let reqs = Requirements::load(&source).unwrap();
        let catalog = catalog::parse(&source.read("tools.json").unwrap()).unwrap();
        let mut checked = 0;
        for (family, f) in &catalog {
            let cred = &reqs.families[family].credential;
            if cred.ro.is_none() {
                continue;
            }
            for tool in f.read.iter().chain(&f.write) {
                for rw in [false, true] {
                    let layer = credential_layer(&source, &reqs, family, tool, rw).unwrap();
                    let is_write = f.write.contains(tool);
                    let want = if !rw && is_write && !RO_GRANTS_WRITE.contains(&tool.as_str()) {
                        Decision::Deny
                    } else {
                        Decision::Allow
                    };
                    assert_eq!(
                        layer.decision,
                        want,
                        "{tool} ({}): {}\n{:#?}",
                        if rw { "rw" } else { "ro" },
                        layer.reason,
                        layer.needs
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn families_without_a_policy_are_unverified() {
        let source = Source::Embedded;
        let reqs = Requirements::load(&source).unwrap();
        let l = credential_layer(&source, &reqs, "prometheus", "prometheus_query", false).unwrap();
        assert_eq!(l.decision, Decision::Unverified);
        assert!(l.caveat.unwrap().contains("Amazon Managed Prometheus"));
        assert_eq!(l.needs[0].need, "aps:QueryMetrics");
        let l = credential_layer(&source, &reqs, "everything", "everything_echo", false).unwrap();
        assert_eq!(l.decision, Decision::Unverified);
    }

    #[test]
    fn access_from_backend_names() {
        for (name, want) in [
            ("eks-ro", Some(Access::Ro)),
            ("eks-ro-prod", Some(Access::Ro)),
            ("eks-rw", Some(Access::Rw)),
            ("argo-view", Some(Access::Ro)),
            ("argo-sync", Some(Access::Rw)),
            ("cloudflare-edit", Some(Access::Rw)),
            ("postgres-readonly", Some(Access::Ro)),
            ("prometheus-prod", None),
            ("costs", None),
            ("robot-x", None),
        ] {
            assert_eq!(access_from_name(name).map(|(a, _)| a), want, "{name}");
        }
    }
}

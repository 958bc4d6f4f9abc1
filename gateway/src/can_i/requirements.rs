//! `policies/permissions.json`: what each tool needs from its backend's credentials, and which
//! shipped policy file grants it per access level; and where the policy files are read from
//! (compiled in, or another checkout's `policies/` directory).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The policy files `can-i` reads, compiled in so that the binary answers without a checkout.
/// Every file `permissions.json` names must be here (tested).
const EMBEDDED: &[(&str, &str)] = &[
    ("tools.json", include_str!("../../../policies/tools.json")),
    (
        "permissions.json",
        include_str!("../../../policies/permissions.json"),
    ),
    (
        "kubernetes/mcp-viewer.yaml",
        include_str!("../../../policies/kubernetes/mcp-viewer.yaml"),
    ),
    (
        "kubernetes/mcp-editor.yaml",
        include_str!("../../../policies/kubernetes/mcp-editor.yaml"),
    ),
    (
        "iam/aws-ro.json",
        include_str!("../../../policies/iam/aws-ro.json"),
    ),
    (
        "iam/aws-rw.json",
        include_str!("../../../policies/iam/aws-rw.json"),
    ),
    (
        "iam/cloudwatch.json",
        include_str!("../../../policies/iam/cloudwatch.json"),
    ),
    (
        "iam/costs.json",
        include_str!("../../../policies/iam/costs.json"),
    ),
    (
        "postgres/roles.sql",
        include_str!("../../../policies/postgres/roles.sql"),
    ),
    (
        "argocd/argocd-rbac-cm.yaml",
        include_str!("../../../policies/argocd/argocd-rbac-cm.yaml"),
    ),
    (
        "github/token-permissions.md",
        include_str!("../../../policies/github/token-permissions.md"),
    ),
    (
        "cloudflare/token-scopes.md",
        include_str!("../../../policies/cloudflare/token-scopes.md"),
    ),
];

/// Where policy files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The files compiled into this binary.
    Embedded,
    /// A `policies/` directory (`--policies DIR`).
    Dir(PathBuf),
}

impl Source {
    /// Reads `rel` (a path relative to `policies/`, as `permissions.json` names them).
    pub fn read(&self, rel: &str) -> Result<String> {
        let safe = !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(Error::Policy {
                file: rel.to_owned(),
                reason: "policy files are named by a relative path inside policies/".into(),
            });
        }
        match self {
            Source::Embedded => EMBEDDED
                .iter()
                .find(|(name, _)| *name == rel)
                .map(|(_, text)| (*text).to_owned())
                .ok_or_else(|| Error::Policy {
                    file: rel.to_owned(),
                    reason: "not compiled into this binary; pass --policies DIR".into(),
                }),
            Source::Dir(dir) => {
                let path = dir.join(rel);
                std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })
            }
        }
    }

    /// How to name `rel` in output: `policies/<rel>` (compiled in) or the path read.
    pub fn display(&self, rel: &str) -> String {
        match self {
            Source::Embedded => format!("policies/{rel}"),
            Source::Dir(dir) => dir.join(rel).display().to_string(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Embedded => "compiled in".into(),
            Source::Dir(dir) => dir.display().to_string(),
        }
    }
}

/// The kind of credential a server family's pods hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A ServiceAccount bound to a ClusterRole.
    Kubernetes,
    /// An IAM role (IRSA) with a policy document.
    Iam,
    /// A PostgreSQL role (`roles.sql`).
    Postgres,
    /// An Argo CD local account (`policy.csv`).
    Argocd,
    /// A GitHub fine-grained token (documented scopes).
    Github,
    /// A Cloudflare API token (documented permission groups).
    Cloudflare,
}

/// A shipped policy: the file, and who in it (ClusterRole, database role, account, token).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    pub file: String,
    #[serde(default)]
    pub principal: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub kind: Kind,
    #[serde(default)]
    pub ro: Option<PolicyRef>,
    #[serde(default)]
    pub rw: Option<PolicyRef>,
    /// Why there is no shipped policy (or what else to know).
    #[serde(default)]
    pub note: Option<String>,
}

impl Credential {
    pub fn policy(&self, rw: bool) -> Option<&PolicyRef> {
        if rw {
            self.rw.as_ref()
        } else {
            self.ro.as_ref()
        }
    }
}

/// A Kubernetes permission: the request attributes the authorizer sees.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeNeed {
    pub verb: String,
    /// `""` for the core group.
    pub api_group: String,
    /// Plural resource, `/subresource` included (`pods/log`).
    pub resource: String,
}

/// Levels of a GitHub repository permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GithubLevel {
    Read,
    Write,
    Admin,
}

impl GithubLevel {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        if s.contains("admin") {
            Some(Self::Admin)
        } else if s.contains("write") {
            Some(Self::Write)
        } else if s.contains("read") {
            Some(Self::Read)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// One thing a tool needs from its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Kube(KubeNeed),
    /// `service:Action`.
    Iam(String),
    /// Membership in a role (`pg_read_all_data`).
    PgRole(String),
    /// A privilege on a kind of object (`CONNECT` on `DATABASE`).
    PgPrivilege {
        privilege: String,
        object: String,
    },
    /// A role setting that must have this value (`default_transaction_read_only=off`).
    PgSetting {
        name: String,
        value: String,
    },
    /// `resource, action` in Argo CD's `policy.csv`.
    Argo {
        resource: String,
        action: String,
    },
    /// A fine-grained token permission (`contents`) at a level.
    Github {
        permission: String,
        level: GithubLevel,
    },
    /// A permission group (`Zone > DNS`) at a level (`Read`, `Edit`, `Purge`).
    Cloudflare {
        group: String,
        level: String,
    },
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Need::Kube(k) if k.api_group.is_empty() => write!(f, "{} {}", k.verb, k.resource),
            Need::Kube(k) => write!(f, "{} {} in {}", k.verb, k.resource, k.api_group),
            Need::Iam(a) => f.write_str(a),
            Need::PgRole(r) => write!(f, "membership in {r}"),
            Need::PgPrivilege { privilege, object } => write!(f, "{privilege} ON {object}"),
            Need::PgSetting { name, value } => write!(f, "role setting {name}={value}"),
            Need::Argo { resource, action } => write!(f, "{resource}, {action}"),
            Need::Github { permission, level } => write!(f, "{permission}:{}", level.as_str()),
            Need::Cloudflare { group, level } => write!(f, "{group} > {level}"),
        }
    }
}

impl Need {
    fn parse(kind: Kind, raw: &serde_json::Value) -> std::result::Result<Need, String> {
        let text = || {
            raw.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("`{raw}` is not a non-empty string"))
        };
        match kind {
            Kind::Kubernetes => serde_json::from_value::<KubeNeed>(raw.clone())
                .map(Need::Kube)
                .map_err(|e| format!("`{raw}` is not {{verb, apiGroup, resource}}: {e}")),
            Kind::Iam => {
                let a = text()?;
                match a.split_once(':') {
                    Some((svc, act))
                        if !svc.is_empty() && !act.is_empty() && !a.contains(['*', '?', ' ']) =>
                    {
                        Ok(Need::Iam(a.to_owned()))
                    }
                    _ => Err(format!("`{a}` is not an IAM action `service:Action`")),
                }
            }
            Kind::Postgres => {
                let s = text()?;
                if let Some(setting) = s.strip_prefix("setting ") {
                    let (name, value) = setting
                        .split_once('=')
                        .ok_or_else(|| format!("`{s}`: a setting is `setting name=value`"))?;
                    return Ok(Need::PgSetting {
                        name: name.trim().to_ascii_lowercase(),
                        value: value.trim().to_ascii_lowercase(),
                    });
                }
                let upper = s.to_ascii_uppercase();
                if let Some((privilege, object)) = upper.split_once(" ON ") {
                    return Ok(Need::PgPrivilege {
                        privilege: privilege.trim().to_owned(),
                        object: object.trim().to_owned(),
                    });
                }
                if s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    Ok(Need::PgRole(s.to_owned()))
                } else {
                    Err(format!(
                        "`{s}` is neither a role name, `PRIVILEGE ON OBJECT` nor `setting name=value`"
                    ))
                }
            }
            Kind::Argocd => {
                let s = text()?;
                match s.split_once(',') {
                    Some((r, a)) if !r.trim().is_empty() && !a.trim().is_empty() => {
                        Ok(Need::Argo {
                            resource: r.trim().to_owned(),
                            action: a.trim().to_owned(),
                        })
                    }
                    _ => Err(format!("`{s}` is not `resource, action`")),
                }
            }
            Kind::Github => {
                let s = text()?;
                let (permission, level) = s
                    .split_once(':')
                    .ok_or_else(|| format!("`{s}` is not `permission:read|write`"))?;
                let level = GithubLevel::parse(level)
                    .ok_or_else(|| format!("`{s}`: the level is read, write or admin"))?;
                Ok(Need::Github {
                    permission: permission.trim().to_owned(),
                    level,
                })
            }
            Kind::Cloudflare => {
                let s = text()?;
                let (group, level) = s
                    .rsplit_once(" > ")
                    .ok_or_else(|| format!("`{s}` is not `Group > Permission > Level`"))?;
                Ok(Need::Cloudflare {
                    group: group.trim().to_owned(),
                    level: level.trim().to_owned(),
                })
            }
        }
    }
}

/// One server family's entry.
#[derive(Debug, Clone)]
pub struct FamilyNeeds {
    pub credential: Credential,
    pub tools: BTreeMap<String, Vec<Need>>,
}

/// The parsed `permissions.json`.
#[derive(Debug, Clone)]
pub struct Requirements {
    pub families: BTreeMap<String, FamilyNeeds>,
    /// Tools listed here before the catalog (`tools.json`) has them, with the reason.
    pub pending: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamily {
    credential: Credential,
    tools: BTreeMap<String, Vec<serde_json::Value>>,
}

impl Requirements {
    pub fn parse(text: &str) -> std::result::Result<Requirements, String> {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
        let mut families = BTreeMap::new();
        let mut pending = BTreeMap::new();
        for (key, value) in raw {
            if key == "_pending" {
                pending = serde_json::from_value(value)
                    .map_err(|e| format!("`_pending` maps tool names to reasons: {e}"))?;
                continue;
            }
            if key.starts_with('_') {
                continue;
            }
            let fam: RawFamily =
                serde_json::from_value(value).map_err(|e| format!("family `{key}`: {e}"))?;
            let mut tools = BTreeMap::new();
            for (tool, needs) in fam.tools {
                if !tool.starts_with(&format!("{key}_")) {
                    return Err(format!(
                        "family `{key}`: tool `{tool}` does not start with `{key}_`"
                    ));
                }
                let needs = needs
                    .iter()
                    .map(|n| Need::parse(fam.credential.kind, n))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| format!("{key}.{tool}: {e}"))?;
                tools.insert(tool, needs);
            }
            families.insert(
                key,
                FamilyNeeds {
                    credential: fam.credential,
                    tools,
                },
            );
        }
        Ok(Requirements { families, pending })
    }

    pub fn load(source: &Source) -> Result<Requirements> {
        let text = source.read("permissions.json")?;
        Requirements::parse(&text).map_err(|reason| Error::Policy {
            file: source.display("permissions.json"),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn shipped() -> Requirements {
        Requirements::load(&Source::Embedded).expect("policies/permissions.json parses")
    }

    /// Every tool of `tools.json` has requirements, and every tool with requirements is in
    /// `tools.json` or marked pending.
    #[test]
    fn requirements_and_catalog_list_the_same_tools() {
        let req = shipped();
        let catalog = crate::catalog::parse(&Source::Embedded.read("tools.json").unwrap()).unwrap();
        assert_eq!(
            req.families.keys().collect::<Vec<_>>(),
            catalog.keys().collect::<Vec<_>>(),
            "permissions.json and tools.json must list the same server families"
        );
        for (family, tools) in &catalog {
            let needs = &req.families[family].tools;
            for t in tools.read.iter().chain(&tools.write) {
                assert!(
                    needs.contains_key(t),
                    "{t} (tools.json) has no entry in permissions.json"
                );
            }
            for t in needs.keys() {
                let listed = tools.read.contains(t) || tools.write.contains(t);
                assert!(
                    listed || req.pending.contains_key(t),
                    "{t} is in permissions.json but not in tools.json (nor under _pending)"
                );
            }
        }
        for t in req.pending.keys() {
            assert!(
                req.families.values().any(|f| f.tools.contains_key(t)),
                "_pending names {t}, which has no requirements"
            );
        }
    }

    #[test]
    fn every_named_policy_file_is_compiled_in_and_every_family_has_needs() {
        let req = shipped();
        for (family, f) in &req.families {
            for rw in [false, true] {
                if let Some(p) = f.credential.policy(rw) {
                    Source::Embedded.read(&p.file).unwrap_or_else(|e| {
                        panic!("{family}: {e}");
                    });
                }
            }
            if f.credential.ro.is_none() || f.credential.rw.is_none() {
                assert!(
                    f.credential.note.is_some(),
                    "{family} lacks a shipped policy for an access level and does not say why"
                );
            }
            // Only a family without a shipped policy may have tools that need nothing.
            if f.credential.ro.is_some() {
                for (tool, needs) in &f.tools {
                    assert!(!needs.is_empty(), "{tool} declares no requirement");
                }
            }
        }
        let names: BTreeSet<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names.len(),
            EMBEDDED.len(),
            "an embedded file is listed twice"
        );
    }

    #[test]
    fn parses_each_requirement_form() {
        let kube = Need::parse(
            Kind::Kubernetes,
            &serde_json::json!({"verb":"get","apiGroup":"","resource":"pods/log"}),
        )
        .unwrap();
        assert_eq!(kube.to_string(), "get pods/log");
        let s = |v: &str| serde_json::Value::String(v.into());
        assert_eq!(
            Need::parse(Kind::Postgres, &s("CONNECT ON DATABASE")).unwrap(),
            Need::PgPrivilege {
                privilege: "CONNECT".into(),
                object: "DATABASE".into()
            }
        );
        assert_eq!(
            Need::parse(
                Kind::Postgres,
                &s("setting default_transaction_read_only=off")
            )
            .unwrap(),
            Need::PgSetting {
                name: "default_transaction_read_only".into(),
                value: "off".into()
            }
        );
        assert_eq!(
            Need::parse(Kind::Github, &s("pull_requests:write")).unwrap(),
            Need::Github {
                permission: "pull_requests".into(),
                level: GithubLevel::Write
            }
        );
        assert_eq!(
            Need::parse(Kind::Cloudflare, &s("Zone > Cache Purge > Purge"))
                .unwrap()
                .to_string(),
            "Zone > Cache Purge > Purge"
        );
        assert!(Need::parse(Kind::Iam, &s("ec2:Describe*")).is_err());
        assert!(Need::parse(Kind::Iam, &s("DescribeInstances")).is_err());
        assert!(Need::parse(Kind::Argocd, &s("applications")).is_err());
        assert!(Need::parse(Kind::Github, &s("contents:maybe")).is_err());
        assert!(Need::parse(Kind::Kubernetes, &s("list pods")).is_err());
    }

    #[test]
    fn rejects_paths_outside_the_policies_dir() {
        let dir = Source::Dir(PathBuf::from("/tmp"));
        for bad in ["../etc/passwd", "/etc/passwd", "", "a/../../b"] {
            assert!(dir.read(bad).is_err(), "{bad}");
        }
        assert!(Source::Embedded.read("iam/nonexistent.json").is_err());
    }
}

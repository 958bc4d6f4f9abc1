//! Argo CD RBAC: the `policy.csv` (and `policy.*.csv`, `policy.default`) of an
//! `argocd-rbac-cm` ConfigMap, and whether an account may do `resource, action`.
//!
//! Lines are `p, subject, resource, action, object[, effect]` and `g, subject, role`. A subject
//! is the account, a role it is assigned to (transitively), or the `policy.default` role that
//! every authenticated caller has. Resources and actions match exactly or by glob (`*`,
//! `action/*`); a matching `deny` wins over any `allow`, as in Argo CD. The object
//! (`project/application`) is reported, not matched: the tool names the application at call
//! time. A deny limited to some applications is reported as an exception.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Check;
use super::iam::action_matches as glob;

#[derive(Debug, Clone)]
struct Line {
    subject: String,
    resource: String,
    action: String,
    object: String,
    allow: bool,
    text: String,
}

/// The parsed RBAC policy.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    lines: Vec<Line>,
    /// subject -> roles (`g` lines).
    groups: BTreeMap<String, BTreeSet<String>>,
    default_role: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ConfigMap {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

impl Rbac {
    /// Parses an `argocd-rbac-cm` ConfigMap manifest.
    pub fn parse_configmap(yaml: &str) -> Result<Rbac, String> {
        let cm: ConfigMap =
            serde_yaml_ng::from_str(yaml).map_err(|e| format!("not a ConfigMap: {e}"))?;
        let mut csv = String::new();
        for (key, value) in &cm.data {
            if key == "policy.csv" || (key.starts_with("policy.") && key.ends_with(".csv")) {
                csv.push_str(value);
                csv.push('\n');
            }
        }
        if csv.trim().is_empty() {
            return Err("no policy.csv in its data".into());
        }
        let mut rbac = Rbac::parse_csv(&csv)?;
        rbac.default_role = cm
            .data
            .get("policy.default")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(rbac)
    }

    pub fn parse_csv(csv: &str) -> Result<Rbac, String> {
        let mut rbac = Rbac::default();
        for (n, raw) in csv.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            match f.as_slice() {
                ["p", subject, resource, action, object, rest @ ..] if rest.len() <= 1 => {
                    let allow = match rest.first().copied().unwrap_or("allow") {
                        "allow" => true,
                        "deny" => false,
                        other => {
                            return Err(format!(
                                "policy line {}: effect `{other}` is not allow or deny",
                                n + 1
                            ));
                        }
                    };
                    rbac.lines.push(Line {
                        subject: (*subject).to_owned(),
                        resource: (*resource).to_owned(),
                        action: (*action).to_owned(),
                        object: (*object).to_owned(),
                        allow,
                        text: line.to_owned(),
                    });
                }
                ["g", subject, role] => {
                    rbac.groups
                        .entry((*subject).to_owned())
                        .or_default()
                        .insert((*role).to_owned());
                }
                _ => {
                    return Err(format!(
                        "policy line {}: `{line}` is neither `p, subject, resource, action, object[, effect]` nor `g, subject, role`",
                        n + 1
                    ));
                }
            }
        }
        Ok(rbac)
    }

    /// The subjects whose lines apply to `account`, with how (for explanations).
    fn subjects(&self, account: &str) -> BTreeMap<String, String> {
        let mut seen = BTreeMap::new();
        seen.insert(account.to_owned(), String::new());
        if let Some(d) = &self.default_role {
            seen.insert(d.clone(), "policy.default".to_owned());
        }
        let mut queue: Vec<String> = seen.keys().cloned().collect();
        while let Some(s) = queue.pop() {
            for role in self.groups.get(&s).into_iter().flatten() {
                if !seen.contains_key(role) {
                    seen.insert(role.clone(), format!("g, {s}, {role}"));
                    queue.push(role.clone());
                }
            }
        }
        seen
    }

    /// Whether any line mentions `account` (as subject or in a `g` line).
    pub fn knows(&self, account: &str) -> bool {
        self.groups.contains_key(account) || self.lines.iter().any(|l| l.subject == account)
    }

    /// Whether `account` may do `action` on `resource`.
    pub fn check(&self, account: &str, resource: &str, action: &str) -> Check {
        let subjects = self.subjects(account);
        let matching: Vec<(&Line, &String)> = self
            .lines
            .iter()
            .filter(|l| {
                (l.resource == "*" || glob(&l.resource, resource)) && glob(&l.action, action)
            })
            .filter_map(|l| subjects.get(&l.subject).map(|how| (l, how)))
            .collect();
        let everywhere = |o: &str| o == "*" || o == "*/*" || o == "*/*/*";
        let show = |l: &Line, how: &String| {
            if how.is_empty() {
                format!("`{}`", l.text)
            } else {
                format!("`{}` (via {how})", l.text)
            }
        };
        if let Some((l, how)) = matching
            .iter()
            .find(|(l, _)| !l.allow && everywhere(&l.object))
        {
            return Check::deny(format!("denied by {}", show(l, how)));
        }
        let allows: Vec<&(&Line, &String)> = matching.iter().filter(|(l, _)| l.allow).collect();
        let Some((first, how)) = allows
            .iter()
            .find(|(l, _)| everywhere(&l.object))
            .or_else(|| allows.first())
        else {
            return Check::deny(format!(
                "no policy line allows it for {account} (subjects: {})",
                subjects.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let mut detail = show(first, how);
        if !allows.iter().any(|(l, _)| everywhere(&l.object)) {
            let objects: Vec<&str> = allows.iter().map(|(l, _)| l.object.as_str()).collect();
            detail.push_str(&format!(
                "; only for applications matching {}",
                objects.join(", ")
            ));
        }
        let denied: Vec<&str> = matching
            .iter()
            .filter(|(l, _)| !l.allow)
            .map(|(l, _)| l.object.as_str())
            .collect();
        if !denied.is_empty() {
            detail.push_str(&format!(
                "; except applications matching {}",
                denied.join(", ")
            ));
        }
        Check::allow(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decision;
    use super::*;

    #[test]
    fn the_shipped_accounts() {
        let rbac =
            Rbac::parse_configmap(include_str!("../../../policies/argocd/argocd-rbac-cm.yaml"))
                .unwrap();
        assert!(rbac.knows("mcp-view") && rbac.knows("mcp-sync"));
        let c = rbac.check("mcp-view", "applications", "get");
        assert_eq!(c.decision, Decision::Allow);
        assert!(
            c.detail.contains("via g, mcp-view, role:mcp-view"),
            "{}",
            c.detail
        );
        assert_eq!(
            rbac.check("mcp-view", "applications", "sync").decision,
            Decision::Deny
        );
        assert_eq!(
            rbac.check("mcp-sync", "applications", "sync").decision,
            Decision::Allow
        );
        assert_eq!(
            rbac.check("mcp-sync", "applications", "action/apps/Deployment/restart")
                .decision,
            Decision::Allow,
            "action/* is a glob"
        );
        assert_eq!(
            rbac.check("mcp-sync", "applications", "delete").decision,
            Decision::Deny
        );
        assert_eq!(
            rbac.check("someone", "applications", "get").decision,
            Decision::Deny
        );
    }

    #[test]
    fn deny_wins_default_role_and_scoped_objects() {
        let yaml = r#"
kind: ConfigMap
data:
  policy.default: role:readonly
  policy.csv: |
    p, role:readonly, applications, get, */*, allow
    p, role:ops, applications, sync, team-a/*, allow
    p, role:ops, applications, *, */*, allow
    p, role:ops, applications, delete, */*, deny
    p, role:ops, applications, sync, team-a/payments, deny
    g, bot, role:ops
  policy.overlay.csv: |
    p, role:ops, clusters, get, *, allow
"#;
        let rbac = Rbac::parse_configmap(yaml).unwrap();
        let c = rbac.check("anyone", "applications", "get");
        assert_eq!(c.decision, Decision::Allow);
        assert!(c.detail.contains("policy.default"), "{}", c.detail);
        let c = rbac.check("bot", "applications", "delete");
        assert_eq!(c.decision, Decision::Deny);
        assert!(c.detail.contains("denied by"), "{}", c.detail);
        let c = rbac.check("bot", "applications", "sync");
        assert_eq!(c.decision, Decision::Allow);
        assert!(
            c.detail
                .contains("except applications matching team-a/payments")
        );
        assert_eq!(
            rbac.check("bot", "clusters", "get").decision,
            Decision::Allow,
            "policy.*.csv keys are read too"
        );
        let scoped = Rbac::parse_csv("p, a, applications, sync, team-a/*\n").unwrap();
        let c = scoped.check("a", "applications", "sync");
        assert_eq!(c.decision, Decision::Allow);
        assert!(c.detail.contains("only for applications matching team-a/*"));
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(Rbac::parse_csv("p, a, applications, get\n").is_err());
        assert!(Rbac::parse_csv("p, a, applications, get, */*, maybe\n").is_err());
        assert!(Rbac::parse_csv("x, a, b\n").is_err());
        assert!(Rbac::parse_configmap("kind: ConfigMap\ndata: {}\n").is_err());
    }
}

//! Kubernetes RBAC as shipped policy: the ClusterRoles in `policies/kubernetes/`, a small
//! evaluator of their rules, and the permissions every tool declares.
//!
//! The same evaluator decides the fake API server's answers (`crate::fake`), so the end-to-end
//! tests see exactly what the shipped roles allow; the unit tests check that every read tool is
//! granted by `mcp-viewer`, every write tool by `mcp-editor`, and that the viewer has no write
//! verb and no Secrets. The permissions are also recorded in `policies/permissions.json`, which
//! `mcp-gateway can-i` evaluates; a test keeps the two equal.

use serde::Deserialize;

/// The shipped ClusterRole for read-only deployments.
pub const VIEWER_YAML: &str = include_str!("../../../policies/kubernetes/mcp-viewer.yaml");
/// The shipped ClusterRole for read-write deployments.
pub const EDITOR_YAML: &str = include_str!("../../../policies/kubernetes/mcp-editor.yaml");

/// Verbs that change the cluster.
pub const WRITE_VERBS: &[&str] = &[
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
    "approve",
    "sign",
];

pub use mcp_common::rbac::PolicyRule;

#[derive(Debug, Clone, Deserialize)]
struct Meta {
    name: String,
}

/// A ClusterRole (only what authorization needs).
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterRole {
    kind: String,
    metadata: Meta,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
}

/// A request attribute set, as the authorizer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Plural resource, with `/subresource` when there is one (`pods/log`).
    pub resource: &'static str,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (apiGroup \"{}\")",
            self.verb, self.resource, self.group
        )
    }
}

const fn p(verb: &'static str, group: &'static str, resource: &'static str) -> Permission {
    Permission {
        verb,
        group,
        resource,
    }
}

impl ClusterRole {
    /// Parses a ClusterRole manifest.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let role: ClusterRole =
            serde_yaml_ng::from_str(yaml).map_err(|e| format!("not a ClusterRole: {e}"))?;
        if role.kind != "ClusterRole" && role.kind != "Role" {
            return Err(format!("kind is {}, not ClusterRole", role.kind));
        }
        Ok(role)
    }

    pub fn viewer() -> Self {
        Self::parse(VIEWER_YAML).expect("policies/kubernetes/mcp-viewer.yaml parses")
    }

    pub fn editor() -> Self {
        Self::parse(EDITOR_YAML).expect("policies/kubernetes/mcp-editor.yaml parses")
    }

    /// A role allowing everything (the fake API's cluster-admin).
    pub fn cluster_admin() -> Self {
        let all = vec!["*".to_owned()];
        Self {
            kind: "ClusterRole".into(),
            metadata: Meta {
                name: "cluster-admin".into(),
            },
            rules: vec![PolicyRule {
                api_groups: all.clone(),
                resources: all.clone(),
                verbs: all,
                ..Default::default()
            }],
        }
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn allows(&self, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
        self.rules
            .iter()
            .any(|r| r.allows(verb, group, resource, name))
    }

    pub fn grants(&self, perm: &Permission) -> bool {
        self.allows(perm.verb, perm.group, perm.resource, None)
    }
}

/// The kinds the generic read tools (`eks_get_resource`, `eks_list_resources`) are expected to
/// read with the shipped roles: every one of them must be granted by `mcp-viewer`.
const GENERIC_READ: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "services"),
    ("", "configmaps"),
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumeclaims"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("networking.k8s.io", "ingresses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
];

/// The Kubernetes permissions each tool needs.
pub fn tool_permissions(tool: &str) -> Vec<Permission> {
    match tool {
        "eks_list_namespaces" => vec![p("list", "", "namespaces")],
        "eks_get_pods" => vec![p("list", "", "pods")],
        "eks_get_events" => vec![p("list", "", "events")],
        "eks_get_resource" => GENERIC_READ.iter().map(|(g, r)| p("get", g, r)).collect(),
        "eks_list_resources" => GENERIC_READ.iter().map(|(g, r)| p("list", g, r)).collect(),
        "eks_get_pod_logs" => vec![p("get", "", "pods"), p("get", "", "pods/log")],
        "eks_get_pod_metrics" => vec![p("list", "metrics.k8s.io", "pods")],
        "eks_delete_pod" => vec![p("delete", "", "pods")],
        "eks_restart_deployment" => vec![
            p("get", "apps", "deployments"),
            p("patch", "apps", "deployments"),
        ],
        "eks_scale_deployment" => vec![
            p("get", "apps", "deployments/scale"),
            p("patch", "apps", "deployments/scale"),
        ],
        "eks_patch_resource" => vec![
            p("get", "apps", "deployments"),
            p("patch", "apps", "deployments"),
            p("patch", "apps", "statefulsets"),
            p("patch", "apps", "daemonsets"),
            p("patch", "", "configmaps"),
            p("patch", "", "services"),
            p("patch", "autoscaling", "horizontalpodautoscalers"),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> (Vec<String>, Vec<String>) {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../policies/tools.json")).unwrap();
        let list = |k: &str| -> Vec<String> {
            v["eks"][k]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        (list("read"), list("write"))
    }

    /// `policies/permissions.json` records the same permissions per tool (it is what
    /// `mcp-gateway can-i` evaluates, without depending on this crate): the two must not drift.
    #[test]
    fn declarations_equal_policies_permissions_json() {
        use std::collections::BTreeSet;
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../policies/permissions.json")).unwrap();
        let recorded = v["eks"]["tools"].as_object().unwrap();
        let (read, write) = catalog();
        let mut tools: Vec<&String> = read.iter().chain(&write).collect();
        tools.sort();
        assert_eq!(recorded.keys().collect::<Vec<_>>(), tools);
        for (tool, needs) in recorded {
            let needs = needs.as_array().unwrap();
            let want: BTreeSet<(&str, &str, &str)> = needs
                .iter()
                .map(|n| {
                    let f = |k: &str| n[k].as_str().unwrap();
                    (f("verb"), f("apiGroup"), f("resource"))
                })
                .collect();
            let declared = tool_permissions(tool);
            let have: BTreeSet<(&str, &str, &str)> = declared
                .iter()
                .map(|p| (p.verb, p.group, p.resource))
                .collect();
            assert_eq!(
                have, want,
                "{tool}: rbac.rs and policies/permissions.json differ"
            );
            assert_eq!(declared.len(), needs.len(), "{tool}: a duplicate");
        }
    }

    #[test]
    fn shipped_roles_parse() {
        assert_eq!(ClusterRole::viewer().name(), "mcp-viewer");
        assert_eq!(ClusterRole::editor().name(), "mcp-editor");
    }

    #[test]
    fn every_read_tool_is_granted_by_the_viewer() {
        let viewer = ClusterRole::viewer();
        let (read, _) = catalog();
        for tool in &read {
            let perms = tool_permissions(tool);
            assert!(!perms.is_empty(), "{tool} declares no permission");
            for perm in perms {
                assert!(viewer.grants(&perm), "mcp-viewer lacks {perm} for {tool}");
            }
        }
    }

    #[test]
    fn every_tool_is_granted_by_the_editor() {
        let editor = ClusterRole::editor();
        let (read, write) = catalog();
        for tool in read.iter().chain(&write) {
            let perms = tool_permissions(tool);
            assert!(!perms.is_empty(), "{tool} declares no permission");
            for perm in perms {
                assert!(editor.grants(&perm), "mcp-editor lacks {perm} for {tool}");
            }
        }
    }

    #[test]
    fn viewer_grants_no_write_verb_and_no_secrets() {
        let viewer = ClusterRole::viewer();
        for rule in &viewer.rules {
            for verb in &rule.verbs {
                assert!(
                    verb != "*" && !WRITE_VERBS.contains(&verb.as_str()),
                    "mcp-viewer grants {verb}"
                );
            }
            assert!(!rule.resources.iter().any(|r| r == "*" || r == "secrets"));
        }
        for verb in ["get", "list", "watch"] {
            assert!(!viewer.allows(verb, "", "secrets", None));
        }
        let editor = ClusterRole::editor();
        assert!(!editor.allows("get", "", "secrets", None));
        assert!(!editor.allows("create", "", "pods", None));
        assert!(!editor.allows("deletecollection", "", "pods", None));
    }

    #[test]
    fn write_tools_need_a_write_verb_the_viewer_lacks() {
        let viewer = ClusterRole::viewer();
        let (_, write) = catalog();
        for tool in &write {
            assert!(
                tool_permissions(tool).iter().any(|p| !viewer.grants(p)),
                "the viewer could run {tool}"
            );
        }
    }

    #[test]
    fn rule_matching() {
        let r = PolicyRule {
            api_groups: vec!["apps".into()],
            resources: vec!["*/scale".into()],
            verbs: vec!["patch".into()],
            ..Default::default()
        };
        assert!(r.allows("patch", "apps", "deployments/scale", None));
        assert!(!r.allows("patch", "apps", "deployments", None));
        let named = PolicyRule {
            api_groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            verbs: vec!["get".into()],
            resource_names: vec!["a".into()],
            ..Default::default()
        };
        assert!(named.allows("get", "", "configmaps", Some("a")));
        assert!(!named.allows("get", "", "configmaps", Some("b")));
        assert!(!named.allows("list", "", "configmaps", None));
    }
}

//! Kubernetes RBAC: the rules of a ClusterRole (or Role) manifest, and whether they grant a
//! request, explained. The matching itself is [`mcp_common::rbac`], the same the eks server's
//! fake API server enforces.

use serde::Deserialize;

use super::Check;
use super::requirements::KubeNeed;

/// One rule of a ClusterRole.
pub use mcp_common::rbac::PolicyRule as Rule;

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(default)]
    kind: String,
    metadata: Option<Meta>,
    #[serde(default)]
    rules: Vec<Rule>,
}

/// The rules of the ClusterRole (or Role) named `name` in a YAML file of one or more documents.
pub fn load_role(yaml: &str, name: &str) -> Result<Vec<Rule>, String> {
    let mut kinds = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if value.is_null() {
            continue;
        }
        let m: Manifest = serde_yaml_ng::from_value(value).map_err(|e| e.to_string())?;
        let doc_name = m.metadata.as_ref().map_or("", |m| m.name.as_str());
        if (m.kind == "ClusterRole" || m.kind == "Role") && doc_name == name {
            return Ok(m.rules);
        }
        kinds.push(format!("{} {doc_name}", m.kind));
    }
    Err(format!(
        "no ClusterRole named `{name}` in it (found: {})",
        if kinds.is_empty() {
            "nothing".to_owned()
        } else {
            kinds.join(", ")
        }
    ))
}

/// Whether `rules` grant `need` for any object (tools act on objects the agent names, so a
/// rule limited by `resourceNames` does not count).
pub fn check(rules: &[Rule], need: &KubeNeed) -> Check {
    let (verb, group, resource) = (&need.verb, &need.api_group, &need.resource);
    if let Some(i) = rules
        .iter()
        .position(|r| r.allows(verb, group, resource, None))
    {
        let r = &rules[i];
        let pattern = r.resource_pattern(resource).unwrap_or(resource);
        return Check::allow(format!(
            "rule {}: verbs [{}] on {pattern} (apiGroups {:?})",
            i + 1,
            r.verbs.join(", "),
            r.api_groups
        ));
    }
    if let Some(i) = rules.iter().position(|r| r.covers(verb, group, resource)) {
        return Check::deny(format!(
            "rule {} grants it only for the objects named {:?} (resourceNames)",
            i + 1,
            rules[i].resource_names
        ));
    }
    let parent = resource.split_once('/').map(|(p, _)| p);
    if let Some(p) = parent
        && rules.iter().any(|r| r.covers(verb, group, p))
    {
        return Check::deny(format!(
            "no rule grants it (`{p}` is granted, but a subresource needs its own rule)"
        ));
    }
    Check::deny("no rule grants it".to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::Decision;
    use super::*;

    fn need(verb: &str, group: &str, resource: &str) -> KubeNeed {
        KubeNeed {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
        }
    }

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Rule {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Rule {
            api_groups: v(groups),
            resources: v(resources),
            verbs: v(verbs),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards() {
        let any_verb = vec![rule(&[""], &["pods"], &["*"])];
        assert_eq!(
            check(&any_verb, &need("delete", "", "pods")).decision,
            Decision::Allow
        );
        assert_eq!(
            check(&any_verb, &need("get", "apps", "pods")).decision,
            Decision::Deny,
            "the group must match too"
        );
        let admin = vec![rule(&["*"], &["*"], &["*"])];
        for (v, g, r) in [
            ("get", "", "secrets"),
            ("patch", "apps", "deployments/scale"),
            ("get", "", "pods/log"),
        ] {
            assert_eq!(check(&admin, &need(v, g, r)).decision, Decision::Allow);
        }
        let scale = vec![rule(&["apps"], &["*/scale"], &["patch"])];
        assert_eq!(
            check(&scale, &need("patch", "apps", "statefulsets/scale")).decision,
            Decision::Allow
        );
        assert_eq!(
            check(&scale, &need("patch", "apps", "statefulsets")).decision,
            Decision::Deny
        );
    }

    #[test]
    fn subresources_need_their_own_rule() {
        let pods = vec![rule(&[""], &["pods"], &["get", "list"])];
        let c = check(&pods, &need("get", "", "pods/log"));
        assert_eq!(c.decision, Decision::Deny);
        assert!(c.detail.contains("subresource"), "{}", c.detail);
        let with_log = vec![rule(&[""], &["pods", "pods/log"], &["get"])];
        assert_eq!(
            check(&with_log, &need("get", "", "pods/log")).decision,
            Decision::Allow
        );
        // And a subresource does not grant its parent.
        let only_log = vec![rule(&[""], &["pods/log"], &["get"])];
        assert_eq!(
            check(&only_log, &need("get", "", "pods")).decision,
            Decision::Deny
        );
    }

    #[test]
    fn resource_names_limit_a_rule_to_those_objects() {
        let mut r = rule(&[""], &["configmaps"], &["get", "patch"]);
        r.resource_names = vec!["app-config".into()];
        assert!(r.allows("get", "", "configmaps", Some("app-config")));
        assert!(!r.allows("get", "", "configmaps", Some("other")));
        assert!(!r.allows("list", "", "configmaps", None));
        let c = check(&[r], &need("patch", "", "configmaps"));
        assert_eq!(c.decision, Decision::Deny);
        assert!(c.detail.contains("resourceNames"), "{}", c.detail);
    }

    #[test]
    fn loads_the_named_role_from_multi_document_yaml() {
        let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n---\n\
                    kind: ClusterRole\nmetadata: {name: a}\nrules:\n- apiGroups: ['']\n  resources: [pods]\n  verbs: [get]\n---\n\
                    kind: ClusterRole\nmetadata: {name: b}\nrules: []\n";
        assert_eq!(load_role(yaml, "a").unwrap().len(), 1);
        assert!(load_role(yaml, "b").unwrap().is_empty());
        let e = load_role(yaml, "c").unwrap_err();
        assert!(e.contains("ServiceAccount x"), "{e}");
        assert!(load_role("kind: [", "a").is_err());
    }

    #[test]
    fn the_shipped_viewer_reads_logs_but_deletes_nothing() {
        let viewer = load_role(
            include_str!("../../../policies/kubernetes/mcp-viewer.yaml"),
            "mcp-viewer",
        )
        .unwrap();
        assert_eq!(
            check(&viewer, &need("get", "", "pods/log")).decision,
            Decision::Allow
        );
        assert_eq!(
            check(&viewer, &need("delete", "", "pods")).decision,
            Decision::Deny
        );
        assert_eq!(
            check(&viewer, &need("get", "", "secrets")).decision,
            Decision::Deny
        );
        let editor = load_role(
            include_str!("../../../policies/kubernetes/mcp-editor.yaml"),
            "mcp-editor",
        )
        .unwrap();
        assert_eq!(
            check(&editor, &need("delete", "", "pods")).decision,
            Decision::Allow
        );
        assert_eq!(
            check(&editor, &need("deletecollection", "", "pods")).decision,
            Decision::Deny
        );
    }
}

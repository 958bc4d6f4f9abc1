//! Kubernetes RBAC rule matching, shared by the eks server (its fake API server enforces the
//! shipped ClusterRoles) and `mcp-gateway can-i` (which explains them offline). Same semantics
//! as the API server's RBAC authorizer for resource requests: `*` matches any verb, API group
//! or resource; `*/sub` any resource's subresource `sub`; a resource does not include its
//! subresources (`pods` does not grant `pods/log`); a rule with `resourceNames` grants only
//! requests for those named objects (never `list` of a collection).

use serde::Deserialize;

/// One rule of a ClusterRole (or Role).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// Whether the rule grants `verb` on `group`/`resource` (with `/subresource` when there is
    /// one), for the object `name` when the request names one (`get`, `patch`, `delete` of one
    /// object; not `list`).
    pub fn allows(&self, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
        self.covers(verb, group, resource)
            && (self.resource_names.is_empty()
                || name.is_some_and(|n| self.resource_names.iter().any(|x| x == n)))
    }

    /// Like [`PolicyRule::allows`], ignoring `resourceNames`.
    pub fn covers(&self, verb: &str, group: &str, resource: &str) -> bool {
        matches(&self.verbs, verb)
            && matches(&self.api_groups, group)
            && self.resource_pattern(resource).is_some()
    }

    /// The entry of `resources` that matches `resource`, if any.
    pub fn resource_pattern(&self, resource: &str) -> Option<&str> {
        self.resources
            .iter()
            .find(|r| {
                if *r == "*" || *r == resource {
                    return true;
                }
                // `*/scale` grants the scale subresource of every resource.
                match (r.strip_prefix("*/"), resource.split_once('/')) {
                    (Some(sub), Some((_, rsub))) => sub == rsub,
                    _ => false,
                }
            })
            .map(String::as_str)
    }
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            api_groups: v(groups),
            resources: v(resources),
            verbs: v(verbs),
            resource_names: v(names),
            ..Default::default()
        }
    }

    #[test]
    fn authorizer_semantics() {
        let pods = rule(&[""], &["pods"], &["get", "list"], &[]);
        assert!(pods.allows("list", "", "pods", None));
        assert!(!pods.allows("delete", "", "pods", Some("a")));
        assert!(!pods.allows("get", "apps", "pods", None));
        // A resource does not include its subresources.
        assert!(!pods.allows("get", "", "pods/log", None));
        let star = rule(&["*"], &["*"], &["*"], &[]);
        assert!(star.allows("delete", "apps", "deployments/scale", Some("x")));
        let scale = rule(&["apps"], &["*/scale"], &["patch"], &[]);
        assert!(scale.allows("patch", "apps", "deployments/scale", None));
        assert!(!scale.allows("patch", "apps", "deployments", None));
        assert_eq!(
            scale.resource_pattern("statefulsets/scale"),
            Some("*/scale")
        );
        // resourceNames: only the named object, never a collection.
        let named = rule(&[""], &["configmaps"], &["get"], &["app-config"]);
        assert!(named.allows("get", "", "configmaps", Some("app-config")));
        assert!(!named.allows("get", "", "configmaps", Some("other")));
        assert!(!named.allows("get", "", "configmaps", None));
        assert!(named.covers("get", "", "configmaps"));
    }
}

//! Finding the API resource of a kind: a table of the built-in kinds agents ask for most (no
//! discovery round trip), then API discovery for everything else, CRDs included.

use kube::Client;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

use crate::error::{Error, KubeResultExt, Op, Result};

/// A resolved kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKind {
    pub ar: ApiResource,
    pub namespaced: bool,
}

impl ResolvedKind {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Self {
            ar: ApiResource {
                group: group.into(),
                version: version.into(),
                api_version,
                kind: kind.into(),
                plural: plural.into(),
            },
            namespaced,
        }
    }

    pub fn is_secret(&self) -> bool {
        self.ar.group.is_empty() && self.ar.kind == "Secret"
    }
}

/// (group, version, kind, plural, namespaced, short names)
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

const BUILTIN: &[Builtin] = &[
    ("", "v1", "Pod", "pods", true, &["po"]),
    ("", "v1", "Service", "services", true, &["svc"]),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    ("", "v1", "Secret", "secrets", true, &[]),
    ("", "v1", "Event", "events", true, &["ev"]),
    ("", "v1", "Namespace", "namespaces", false, &["ns"]),
    ("", "v1", "Node", "nodes", false, &["no"]),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
    ),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    (
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
        &["rc"],
    ),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
    ),
    ("", "v1", "LimitRange", "limitranges", true, &["limits"]),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"]),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    ("batch", "v1", "Job", "jobs", true, &[]),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    ),
];

/// `group/version` or `version` (core) split into (group, version).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn names_match(input: &str, kind: &str, plural: &str) -> bool {
    let i = input.to_ascii_lowercase();
    i == kind.to_ascii_lowercase() || i == plural || i == format!("{}s", kind.to_ascii_lowercase())
}

/// Looks `kind` up among the built-in kinds (kind, plural or short name, any case).
pub fn builtin(kind: &str, api_version: Option<&str>) -> Option<ResolvedKind> {
    let (want_group, want_version) = match api_version {
        Some(av) => {
            let (g, v) = split_api_version(av);
            (Some(g), Some(v))
        }
        None => (None, None),
    };
    BUILTIN
        .iter()
        .find(|(g, v, k, p, _, short)| {
            (names_match(kind, k, p) || short.iter().any(|s| s.eq_ignore_ascii_case(kind)))
                && want_group.is_none_or(|wg| wg == *g)
                && want_version.is_none_or(|wv| wv == *v)
        })
        .map(|(g, v, k, p, ns, _)| ResolvedKind::new(g, v, k, p, *ns))
}

fn from_discovered(ar: ApiResource, caps: &ApiCapabilities) -> ResolvedKind {
    ResolvedKind {
        ar,
        namespaced: caps.scope == Scope::Namespaced,
    }
}

/// Resolves `kind` (optionally pinned to `api_version`) to its API resource.
pub async fn resolve(
    client: &Client,
    kind: &str,
    api_version: Option<&str>,
) -> Result<ResolvedKind> {
    let kind = kind.trim();
    if kind.is_empty() {
        return Err(Error::InvalidArgument {
            name: "kind",
            reason: "empty; use a kind such as Deployment, Pod, ConfigMap or a CRD's kind".into(),
        });
    }
    if let Some(k) = builtin(kind, api_version) {
        return Ok(k);
    }
    let discovery = Op::new("get", "", "API discovery (/api, /apis)");
    let found = if let Some(av) = api_version.filter(|s| !s.trim().is_empty()) {
        let (group, version) = split_api_version(av.trim());
        let gv = kube::core::GroupVersion::gv(group, version);
        let g = kube::discovery::oneshot::pinned_group(client, &gv)
            .await
            .op(discovery)?;
        g.versioned_resources(version)
            .into_iter()
            .find(|(ar, _)| names_match(kind, &ar.kind, &ar.plural))
            .map(|(ar, caps)| from_discovered(ar, &caps))
    } else {
        let d = Discovery::new(client.clone()).run().await.op(discovery)?;
        d.groups()
            .flat_map(|g| g.recommended_resources())
            .find(|(ar, _)| names_match(kind, &ar.kind, &ar.plural))
            .map(|(ar, caps)| from_discovered(ar, &caps))
    };
    found.ok_or_else(|| Error::InvalidArgument {
        name: "kind",
        reason: format!(
            "no kind `{kind}`{} in this cluster's API discovery; use a kind such as Pod, Deployment, ConfigMap, or a CRD's kind (with `api_version` like `argoproj.io/v1alpha1` to pin it)",
            api_version.map(|a| format!(" in {a}")).unwrap_or_default()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_by_kind_plural_and_short_name() {
        for input in ["Deployment", "deployment", "deployments", "deploy"] {
            let k = builtin(input, None).unwrap();
            assert_eq!(k.ar.api_version, "apps/v1");
            assert_eq!(k.ar.plural, "deployments");
            assert!(k.namespaced);
        }
        assert_eq!(builtin("ns", None).unwrap().ar.kind, "Namespace");
        assert!(!builtin("Namespace", None).unwrap().namespaced);
        assert_eq!(builtin("Pod", Some("v1")).unwrap().ar.api_version, "v1");
        assert!(builtin("Deployment", Some("apps/v1beta1")).is_none());
        assert!(builtin("Rollout", None).is_none());
    }
}

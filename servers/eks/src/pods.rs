//! Pods as an SRE reads them: phase, readiness, restarts, the last termination (OOMKilled, exit
//! code, when), node and age; container defaulting for logs the way kubectl does it.

use crate::listed::{self, ContainerStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

/// How a container last ended.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Termination {
    pub container: String,
    /// `OOMKilled`, `Error`, `Completed`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ContainerSummary {
    pub name: String,
    pub ready: bool,
    pub restarts: i32,
    /// `running`, `waiting: CrashLoopBackOff`, `terminated: OOMKilled`, ...
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodSummary {
    pub name: String,
    pub namespace: String,
    /// Pending, Running, Succeeded, Failed, Unknown.
    pub phase: String,
    /// What kubectl shows in STATUS when it says more than the phase (`CrashLoopBackOff`,
    /// `OOMKilled`, `Terminating`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Ready containers / containers, e.g. `0/1`.
    pub ready: String,
    /// Restarts of all containers.
    pub restarts: i32,
    /// The most recent termination of any container (the reason a pod is crash-looping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Time since creation, e.g. `3h12m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    pub containers: Vec<ContainerSummary>,
}

/// `3d4h`, `3h12m`, `12m5s`, `40s`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

pub fn age_since(t: &Timestamp, now: Timestamp) -> String {
    human_age(now.as_second() - t.as_second())
}

fn termination(c: &ContainerStatus) -> Option<Termination> {
    let t = c.last_state.as_ref()?.terminated.as_ref()?;
    Some(Termination {
        container: c.name.clone(),
        reason: t.reason.clone(),
        exit_code: t.exit_code,
        signal: t.signal,
        started_at: t.started_at.as_ref().map(|t| t.0.to_string()),
        finished_at: t.finished_at.as_ref().map(|t| t.0.to_string()),
        message: t.message.clone(),
    })
}

fn state(c: &ContainerStatus) -> String {
    match &c.state {
        Some(s) if s.running.is_some() => "running".into(),
        Some(s) if s.waiting.is_some() => {
            let w = s.waiting.as_ref().expect("checked");
            format!("waiting: {}", w.reason.as_deref().unwrap_or("unknown"))
        }
        Some(s) if s.terminated.is_some() => {
            let t = s.terminated.as_ref().expect("checked");
            format!(
                "terminated: {} (exit {})",
                t.reason.as_deref().unwrap_or("unknown"),
                t.exit_code
            )
        }
        _ => "unknown".into(),
    }
}

pub fn summarize(pod: &listed::Pod, now: Timestamp) -> PodSummary {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let statuses: &[ContainerStatus] = status.map_or(&[], |s| &s.container_statuses);
    let containers: Vec<ContainerSummary> = statuses
        .iter()
        .map(|c| ContainerSummary {
            name: c.name.clone(),
            ready: c.ready,
            restarts: c.restart_count,
            state: state(c),
            last_termination: termination(c),
            image: Some(c.image.clone()),
        })
        .collect();
    let spec_count = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let total = spec_count.max(containers.len());
    let ready = containers.iter().filter(|c| c.ready).count();
    let last_termination = containers
        .iter()
        .filter_map(|c| c.last_termination.clone())
        .max_by(|a, b| a.finished_at.cmp(&b.finished_at));
    // kubectl's STATUS: a waiting/terminated reason wins over the phase.
    let mut shown = statuses.iter().find_map(|c| {
        let s = c.state.as_ref()?;
        s.waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| s.terminated.as_ref().and_then(|t| t.reason.clone()))
    });
    if meta.deletion_timestamp.is_some() {
        shown = Some("Terminating".into());
    }
    if shown.is_none() {
        shown = status.and_then(|s| s.reason.clone());
    }
    PodSummary {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
        status: shown,
        ready: format!("{ready}/{total}"),
        restarts: containers.iter().map(|c| c.restarts).sum(),
        last_termination,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        created_at: meta.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        age: meta
            .creation_timestamp
            .as_ref()
            .map(|t| age_since(&t.0, now)),
        containers,
    }
}

/// The container `kubectl logs` picks: the one asked for (it must exist), else the
/// `kubectl.kubernetes.io/default-container` annotation, else the first one. Returns the
/// container and, when it was a guess among several, a note saying so.
pub fn default_container(
    pod: &Pod,
    asked: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let names: Vec<String> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let init: Vec<String> = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map(|v| v.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    if let Some(c) = asked.filter(|c| !c.trim().is_empty()) {
        if names.iter().chain(&init).any(|n| n == c) {
            return Ok((c.to_owned(), None));
        }
        return Err(format!(
            "pod has no container `{c}`; its containers are: {}",
            names.join(", ")
        ));
    }
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
        .filter(|c| names.contains(c))
        .cloned();
    let chosen = annotated
        .clone()
        .or_else(|| names.first().cloned())
        .ok_or_else(|| "pod has no containers".to_owned())?;
    let note = (names.len() > 1 && annotated.is_none()).then(|| {
        format!(
            "pod has {} containers ({}); showing `{chosen}`, pass `container` for another",
            names.len(),
            names.join(", ")
        )
    });
    Ok((chosen, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oom_pod() -> listed::Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "payment-service-abc", "namespace": "production",
                "creationTimestamp": "2026-11-27T18:00:00Z"},
            "spec": {"nodeName": "ip-10-0-1-12", "containers": [{"name": "app", "image": "payment:1.4.2"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 47, "image": "payment:1.4.2", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                    "startedAt": "2026-11-27T19:58:00Z", "finishedAt": "2026-11-27T19:59:30Z"}}
            }]}
        }))
        .unwrap()
    }

    #[test]
    fn summary_shows_the_oom_kill() {
        let now: Timestamp = "2026-11-27T20:00:00Z".parse().unwrap();
        let s = summarize(&oom_pod(), now);
        assert_eq!(s.restarts, 47);
        assert_eq!(s.ready, "0/1");
        assert_eq!(s.status.as_deref(), Some("CrashLoopBackOff"));
        let t = s.last_termination.unwrap();
        assert_eq!(t.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(t.exit_code, 137);
        assert_eq!(t.finished_at.as_deref(), Some("2026-11-27T19:59:30Z"));
        assert_eq!(s.age.as_deref(), Some("2h0m"));
        assert_eq!(s.node.as_deref(), Some("ip-10-0-1-12"));
    }

    #[test]
    fn container_defaulting_like_kubectl() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "payment-service-abc"},
            "spec": {"containers": [{"name": "app", "image": "payment:1.4.2"}]}
        }))
        .unwrap();
        assert_eq!(default_container(&pod, None).unwrap(), ("app".into(), None));
        assert!(
            default_container(&pod, Some("nope"))
                .unwrap_err()
                .contains("app")
        );
        let two: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "annotations": {"kubectl.kubernetes.io/default-container": "b"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]}
        }))
        .unwrap();
        assert_eq!(default_container(&two, None).unwrap(), ("b".into(), None));
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(40), "40s");
        assert_eq!(human_age(725), "12m5s");
        assert_eq!(human_age(3 * 86400 + 4 * 3600), "3d4h");
    }
}

//! Lists parsed into the fields the summaries read, and nothing else.
//!
//! A pod as the API server lists it carries its whole spec (volumes, env, probes, security
//! contexts), `managedFields` and the status of every condition; an event its full object
//! reference and series. The k8s-openapi types parse all of it into owned trees, with a
//! generated visitor per type: most of a list call's parsing time, for fields no summary shows.
//! The types here keep what [`crate::pods::summarize`] and [`crate::events::summarize`] read and
//! skip the rest while parsing (serde's `IgnoredAny`: no allocation, one small loop). They are
//! tolerant readers: every field is optional or defaults, and `null` reads as absent, so a
//! server that leaves something out (or a future field) never fails a list.
//!
//! Only lists use them; a single object (`eks_get_resource`, the pod for `eks_get_pod_logs`)
//! is still read whole.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, MicroTime, Time};
use kube::api::ListParams;
use kube::core::Request;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};

/// `null` reads as the default (Kubernetes sends `null` for some empty lists).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list response: its `metadata` (the `continue` token) and the items.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct List<T> {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ListMeta,
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
    pub items: Vec<T>,
}

impl<T> List<T> {
    /// The `continue` token when there is a next page.
    pub fn more(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|c| !c.is_empty())
    }
}

/// GETs the collection at `url_path` (as `kube::Resource::url_path` builds it) with the list
/// parameters, like `Api::list`, into the slim item type.
pub async fn list<T: DeserializeOwned>(
    client: &kube::Client,
    url_path: String,
    lp: &ListParams,
) -> kube::Result<List<T>> {
    let mut req = Request::new(url_path)
        .list(lp)
        .map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("list");
    client.request::<List<T>>(req).await
}

/// The object metadata a summary shows.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub creation_timestamp: Option<Time>,
    pub deletion_timestamp: Option<Time>,
}

// ---------------------------------------------------------------------------------------------
// Pods

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    #[serde(deserialize_with = "nullable")]
    pub metadata: Meta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// Only counted (the `ready` column's total).
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<IgnoredAny>,
    pub node_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    pub reason: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub ready: bool,
    #[serde(deserialize_with = "nullable")]
    pub restart_count: i32,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    pub state: Option<ContainerState>,
    pub last_state: Option<ContainerState>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    /// Only whether it is there.
    pub running: Option<IgnoredAny>,
    pub waiting: Option<Waiting>,
    pub terminated: Option<Terminated>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Waiting {
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Terminated {
    pub reason: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Event {
    #[serde(deserialize_with = "nullable")]
    pub metadata: Meta,
    #[serde(deserialize_with = "nullable")]
    pub involved_object: ObjectRef,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub count: Option<i32>,
    pub series: Option<EventSeries>,
    pub reporting_component: Option<String>,
    pub source: Option<EventSource>,
    pub first_timestamp: Option<Time>,
    pub last_timestamp: Option<Time>,
    pub event_time: Option<MicroTime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ObjectRef {
    pub kind: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventSeries {
    pub count: Option<i32>,
    pub last_observed_time: Option<MicroTime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventSource {
    pub component: Option<String>,
    pub host: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_what_no_summary_reads_and_reads_null_as_absent() {
        let list: List<Pod> = serde_json::from_value(json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "12", "continue": "abc"},
            "items": [{
                "metadata": {"name": "p", "namespace": "production", "labels": {"app": "x"},
                    "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                    "creationTimestamp": "2026-11-27T18:00:00Z", "deletionTimestamp": null},
                "spec": {"containers": [{"name": "app", "image": "x:1", "env": [{"name": "A", "value": "b"}]}],
                    "volumes": [{"name": "v", "emptyDir": {}}], "nodeName": "n1"},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": true, "restartCount": 3,
                        "image": "x:1", "imageID": "sha", "state": {"running": {"startedAt": "2026-11-27T18:01:00Z"}},
                        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}
            }, {
                "metadata": {"name": "q"}, "spec": {"containers": null}, "status": {"containerStatuses": null}
            }]
        }))
        .unwrap();
        assert_eq!(list.more(), Some("abc"));
        assert_eq!(list.items.len(), 2);
        let p = &list.items[0];
        assert_eq!(p.metadata.name.as_deref(), Some("p"));
        assert!(p.metadata.deletion_timestamp.is_none());
        assert_eq!(p.spec.as_ref().unwrap().containers.len(), 1);
        let c = &p.status.as_ref().unwrap().container_statuses[0];
        assert!(c.ready && c.restart_count == 3);
        assert!(c.state.as_ref().unwrap().running.is_some());
        let t = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((t.reason.as_deref(), t.exit_code), (Some("OOMKilled"), 137));
        assert!(list.items[1].spec.as_ref().unwrap().containers.is_empty());

        let empty: List<Event> =
            serde_json::from_value(json!({"metadata": {}, "items": null})).unwrap();
        assert!(empty.items.is_empty() && empty.more().is_none());
    }
}

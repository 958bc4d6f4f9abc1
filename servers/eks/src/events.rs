//! Events, newest first: what happened to which object, how often, when.

use crate::listed::Event;
use k8s_openapi::jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventSummary {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `OOMKilled`, `BackOff`, `FailedScheduling`, `Unhealthy`, ...
    pub reason: String,
    pub message: String,
    /// The object it is about: `Pod/payment-service-abc`.
    pub object: String,
    /// How many times it happened (events are deduplicated by the API server).
    pub count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Reporting component, e.g. `kubelet` (with the node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The newest time an event carries.
fn last_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

pub fn summarize(e: &Event) -> EventSummary {
    let o = &e.involved_object;
    let count = e
        .series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .unwrap_or(1);
    let source = e
        .reporting_component
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
        .map(|c| match e.source.as_ref().and_then(|s| s.host.clone()) {
            Some(h) => format!("{c} on {h}"),
            None => c,
        });
    EventSummary {
        event_type: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            o.kind.as_deref().unwrap_or("?"),
            o.name.as_deref().unwrap_or("?")
        ),
        count,
        first_seen: e
            .first_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string())),
        last_seen: last_time(e).map(|t| t.to_string()),
        source,
    }
}

/// Sorts events newest first.
pub fn newest_first(events: &mut [Event]) {
    events.sort_by_key(|e| std::cmp::Reverse(last_time(e)));
}

/// The field selector for the optional filters (values are checked by the caller).
pub fn field_selector(
    kind: Option<&str>,
    name: Option<&str>,
    event_type: Option<&str>,
) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(k) = kind {
        parts.push(format!("involvedObject.kind={k}"));
    }
    if let Some(n) = name {
        parts.push(format!("involvedObject.name={n}"));
    }
    if let Some(t) = event_type {
        parts.push(format!("type={t}"));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn newest_first_and_summarized() {
        let mut events: Vec<Event> = vec![
            serde_json::from_value(json!({"metadata": {"name": "a"}, "involvedObject": {"kind": "Pod", "name": "p"},
                "reason": "Scheduled", "type": "Normal", "lastTimestamp": "2026-11-27T10:00:00Z"})).unwrap(),
            serde_json::from_value(json!({"metadata": {"name": "b"}, "involvedObject": {"kind": "Pod", "name": "p"},
                "reason": "OOMKilled", "type": "Warning", "count": 47, "message": "Container app exceeded its memory limit",
                "source": {"component": "kubelet", "host": "ip-10-0-1-12"},
                "firstTimestamp": "2026-11-27T12:00:00Z", "lastTimestamp": "2026-11-27T19:59:30Z"})).unwrap(),
        ];
        newest_first(&mut events);
        let s = summarize(&events[0]);
        assert_eq!(s.reason, "OOMKilled");
        assert_eq!(s.count, 47);
        assert_eq!(s.object, "Pod/p");
        assert_eq!(s.source.as_deref(), Some("kubelet on ip-10-0-1-12"));
        assert_eq!(
            field_selector(Some("Pod"), None, Some("Warning")).unwrap(),
            "involvedObject.kind=Pod,type=Warning"
        );
    }
}

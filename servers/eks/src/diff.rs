//! What a write changed: the paths whose values differ between two versions of an object.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Change {
    /// Dotted path, list indexes in brackets: `spec.template.spec.containers[0].resources.limits.memory`.
    pub path: String,
    /// Absent when the field was added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Absent when the field was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Leaf-level differences between `before` and `after`.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&join(path, k), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                walk(&format!("{path}[{i}]"), Some(p), Some(q), out);
            }
        }
        (a, b) if a != b => out.push(Change {
            path: path.to_owned(),
            before: a.cloned(),
            after: b.cloned(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_changes() {
        let a = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "512Mi"}}}]}}}});
        let b = json!({"spec": {"replicas": 2, "template": {"metadata": {"annotations": {"x": "1"}}, "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}}}});
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].path, "spec.template.metadata");
        assert_eq!(d[0].before, None);
        assert_eq!(
            d[1].path,
            "spec.template.spec.containers[0].resources.limits.memory"
        );
        assert_eq!(d[1].before, Some(json!("512Mi")));
        assert_eq!(d[1].after, Some(json!("1Gi")));
    }
}

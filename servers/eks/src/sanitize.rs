//! What leaves the pod: Secret values never (key names only), credential-looking env values and
//! strings redacted, `managedFields` and `last-applied-configuration` dropped.

use mcp_common::redact::{REDACTED, is_sensitive_key, redact_text};
use serde_json::{Map, Value};

/// The annotation `kubectl apply` writes: a full copy of the object, Secret data included.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Cleans one Kubernetes object (or a `*List` of them) in place.
pub fn sanitize_object(obj: &mut Value) {
    if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            sanitize_object(item);
        }
    }
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret")
        || (obj.get("type").is_some()
            && obj.get("data").is_some_and(Value::is_object)
            && looks_like_secret(obj));
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut)
            && ann.contains_key(LAST_APPLIED)
        {
            ann.insert(
                LAST_APPLIED.to_owned(),
                Value::String("[dropped: a copy of the object that may hold secret values]".into()),
            );
        }
    }
    if is_secret {
        secret_keys_only(obj);
    }
    redact_value(obj);
}

fn looks_like_secret(obj: &Value) -> bool {
    obj.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "Opaque" || t.starts_with("kubernetes.io/") || t.contains("secret"))
}

/// Secret `data` and `stringData` become the sorted list of their key names.
pub fn secret_keys_only(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if map.get("data").is_some_and(Value::is_array) && !map.contains_key("stringData") {
        return; // already reduced to key names
    }
    let mut keys: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = map.remove(field) {
            keys.extend(m.keys().cloned());
        }
    }
    keys.sort();
    keys.dedup();
    map.insert(
        "data".into(),
        Value::Array(keys.into_iter().map(Value::String).collect()),
    );
    map.insert(
        "note".into(),
        Value::String(
            "Secret values never leave the MCP server: `data` lists key names only".into(),
        ),
    );
}

/// Redacts credential-looking values anywhere: env vars by name (`DB_PASSWORD`), string members
/// by name (`password: ...`), and credential shapes in every string.
pub fn redact_value(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => redact_map(map),
        Value::Array(items) => items.iter_mut().map(redact_value).sum(),
        Value::String(s) => match redact_text(s) {
            Some(clean) => {
                *s = clean;
                1
            }
            None => 0,
        },
        _ => 0,
    }
}

fn redact_map(map: &mut Map<String, Value>) -> usize {
    let mut n = 0;
    // An env var / name-value pair: `{name: DB_PASSWORD, value: ...}`.
    let env_like = map
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(is_sensitive_key);
    for (k, v) in map.iter_mut() {
        let sensitive = (k == "value" && env_like) || is_sensitive_key(k);
        if sensitive && v.is_string() {
            if v.as_str() != Some(REDACTED) && v.as_str() != Some("") {
                *v = Value::String(REDACTED.to_owned());
                n += 1;
            }
        } else {
            n += redact_value(v);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_keep_key_names_only() {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "db", "managedFields": [{"manager": "kubectl"}],
                "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg==", "username": "YXBw"},
            "stringData": {"extra": "plain"}
        });
        sanitize_object(&mut s);
        let text = s.to_string();
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(!text.contains("plain"), "{text}");
        assert_eq!(s["data"], json!(["extra", "password", "username"]));
        assert!(s["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn env_values_that_look_like_credentials_are_redacted() {
        let mut pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{
            "name": "app",
            "env": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "DATABASE_URL", "value": "postgres://app:s3cret@db:5432/app"},
                {"name": "DB_HOST", "value": "db.internal"},
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                {"name": "LOG_LEVEL", "value": "info"}
            ]
        }]}});
        sanitize_object(&mut pod);
        let env = &pod["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], REDACTED);
        assert_eq!(env[1]["value"], REDACTED);
        assert_eq!(env[2]["value"], "db.internal");
        assert_eq!(env[3]["valueFrom"]["secretKeyRef"]["name"], "api");
        assert_eq!(env[4]["value"], "info");
        assert!(!pod.to_string().contains("hunter2"));
        assert!(!pod.to_string().contains("s3cret"));
    }

    #[test]
    fn lists_are_cleaned_item_by_item() {
        let mut list = json!({"kind": "SecretList", "items": [
            {"kind": "Secret", "type": "Opaque", "metadata": {"name": "a"}, "data": {"k": "dg=="}}
        ]});
        sanitize_object(&mut list);
        assert_eq!(list["items"][0]["data"], json!(["k"]));
    }
}

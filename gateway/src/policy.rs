//! Authorization: which backends a role reaches and which tools it may call there. The same
//! [`ToolAccess`] decides a `tools/call` and filters a `tools/list` answer, so what an agent
//! sees and what it may call cannot drift apart.

use serde_json::Value;

use crate::audit::outcome;
use crate::config::{Config, ToolAccess};

/// The access a role has to a backend, or `None` when it may not reach it.
pub fn access<'a>(config: &'a Config, role: &str, backend: &str) -> Option<&'a ToolAccess> {
    config.roles.get(role)?.get(backend)
}

/// If `response` is a JSON-RPC response carrying a `tools/list` result, removes the tools the
/// role may not call and returns true (the caller re-serializes); otherwise false.
pub fn filter_tools_list(response: &mut Value, access: &ToolAccess) -> bool {
    let Some(tools) = response
        .get_mut("result")
        .and_then(|r| r.get_mut("tools"))
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    tools.retain(|t| {
        t.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| access.allows(n))
    });
    true
}

/// The outcome of a `tools/call` from its JSON-RPC response: a JSON-RPC error or a result with
/// `isError: true` is a `tool_error`, with the first line of its message.
pub fn tool_outcome(response: &Value) -> (&'static str, Option<String>) {
    if let Some(err) = response.get("error") {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("JSON-RPC error");
        return (outcome::TOOL_ERROR, Some(short(msg)));
    }
    let result = response.get("result");
    if result
        .and_then(|r| r.get("isError"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        let text = result
            .and_then(|r| r.get("content"))
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find_map(|b| b.get("text").and_then(Value::as_str)))
            .unwrap_or("tool returned isError");
        return (outcome::TOOL_ERROR, Some(short(text)));
    }
    (outcome::OK, None)
}

fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    let (cut, was_cut) = mcp_common::output::cut_str(line, 300);
    if was_cut {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_list_answers() {
        let access = ToolAccess::Only(["a_read".to_owned()].into());
        let mut v = json!({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a_read"},{"name":"a_write"},{"nameless":true}],"nextCursor":"x"}});
        assert!(filter_tools_list(&mut v, &access));
        assert_eq!(v["result"]["tools"], json!([{"name":"a_read"}]));
        assert_eq!(v["result"]["nextCursor"], "x");
        let mut other = json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}});
        assert!(!filter_tools_list(&mut other, &access));
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            tool_outcome(&json!({"result":{"content":[]}})),
            ("ok", None)
        );
        assert_eq!(
            tool_outcome(
                &json!({"result":{"isError":true,"content":[{"type":"text","text":"permission denied: delete pods\nhint"}]}})
            ),
            ("tool_error", Some("permission denied: delete pods".into()))
        );
        assert_eq!(
            tool_outcome(&json!({"error":{"code":-32602,"message":"unknown tool"}})),
            ("tool_error", Some("unknown tool".into()))
        );
    }
}

//! Authorization: which backends a role reaches and which tools it may call there. The same
//! [`ToolAccess`] decides a `tools/call` and filters a `tools/list` answer, so what an agent
//! sees and what it may call cannot drift apart.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// The outcome of a `tools/call` from the bytes of one JSON-RPC message, or `None` when they
/// are not a response (no `result` / `error` member) to the request with `id` (when given).
///
/// Same answer as [`tool_outcome`] on the parsed value, but a successful answer is only
/// scanned: the result (which can be megabytes of tool output) is never built as a tree.
pub fn response_outcome(
    bytes: &[u8],
    id: Option<&Value>,
) -> Option<(&'static str, Option<String>)> {
    let head: ResponseHead = serde_json::from_slice(bytes).ok()?;
    if !(head.result || head.error) {
        return None;
    }
    if id.is_some() && head.id.as_ref() != id {
        return None;
    }
    if !(head.error || head.is_error) {
        return Some((outcome::OK, None));
    }
    // An error: rare, and its text is wanted, so the whole message is read.
    let v: Value = serde_json::from_slice(bytes).ok()?;
    Some(tool_outcome(&v))
}

/// The members of a JSON-RPC response that decide a tool call's outcome. Members repeat as a
/// parsed [`Value`] would: the last `id` and the last `result` count.
#[derive(Debug, Default)]
struct ResponseHead {
    id: Option<Value>,
    result: bool,
    error: bool,
    /// `result.isError` is `true`.
    is_error: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Member {
    Id,
    Result,
    Error,
    IsError,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for ResponseHead {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Head;
        impl<'de> Visitor<'de> for Head {
            type Value = ResponseHead;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC response object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResponseHead, A::Error> {
                let mut head = ResponseHead::default();
                while let Some(member) = map.next_key::<Member>()? {
                    match member {
                        Member::Id => head.id = Some(map.next_value()?),
                        Member::Result => {
                            head.result = true;
                            head.is_error = map.next_value::<IsErrorFlag>()?.0;
                        }
                        Member::Error => {
                            head.error = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        Member::IsError | Member::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(Head)
    }
}

/// Whether a `result` value is an object whose `isError` is `true`; any other value is false.
struct IsErrorFlag(bool);

impl<'de> Deserialize<'de> for IsErrorFlag {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Flag;
        impl<'de> Visitor<'de> for Flag {
            type Value = IsErrorFlag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsErrorFlag, A::Error> {
                let mut flag = false;
                while let Some(member) = map.next_key::<Member>()? {
                    if matches!(member, Member::IsError) {
                        flag = map.next_value::<Value>()?.as_bool() == Some(true);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IsErrorFlag(flag))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IsErrorFlag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IsErrorFlag(false))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IsErrorFlag, E> {
                Ok(IsErrorFlag(false))
            }
        }
        d.deserialize_any(Flag)
    }
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

    /// The scan agrees with the parsed-value reading on every shape, including odd ones.
    #[test]
    fn response_outcome_matches_tool_outcome() {
        let id = json!(7);
        let cases = [
            json!({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x"}]}}),
            json!({"jsonrpc":"2.0","id":7,"result":{"isError":true,"content":[{"type":"text","text":"denied\nmore"}]}}),
            json!({"jsonrpc":"2.0","id":7,"result":{"isError":"true","content":[]}}),
            json!({"jsonrpc":"2.0","id":7,"result":{"isError":false}}),
            json!({"jsonrpc":"2.0","id":7,"result":{"isError":true}}),
            json!({"jsonrpc":"2.0","id":7,"result":null}),
            json!({"jsonrpc":"2.0","id":7,"result":[1,{"isError":true}]}),
            json!({"jsonrpc":"2.0","id":7,"result":"text"}),
            json!({"jsonrpc":"2.0","id":7,"result":{"nested":{"isError":true}}}),
            json!({"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool"}}),
            json!({"jsonrpc":"2.0","id":7,"error":null}),
            json!({"jsonrpc":"2.0","id":7,"error":{"code":1}}),
        ];
        for v in cases {
            let bytes = v.to_string();
            assert_eq!(
                response_outcome(bytes.as_bytes(), Some(&id)),
                Some(tool_outcome(&v)),
                "{bytes}"
            );
            assert_eq!(
                response_outcome(bytes.as_bytes(), None),
                Some(tool_outcome(&v)),
                "{bytes}"
            );
            // Another request's answer is not this one's.
            assert_eq!(response_outcome(bytes.as_bytes(), Some(&json!(8))), None);
        }
        for not_a_response in [
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
            r#"[{"result":{}}]"#,
            r#"{"result":{}"#,
            "",
            "null",
        ] {
            assert_eq!(response_outcome(not_a_response.as_bytes(), None), None);
        }
        // A null id answers a request whose id was null, as the parsed value compares.
        assert_eq!(
            response_outcome(br#"{"id":null,"result":{}}"#, Some(&Value::Null)),
            Some(("ok", None))
        );
    }
}

//! Reading the MCP message in a request body: what the policy decides on.
//!
//! The body is parsed strictly: a JSON object with a member named twice is refused, because
//! parsers disagree on which duplicate wins, and the backend must act on exactly the message the
//! gateway authorized. The original bytes are forwarded unchanged.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// JSON-RPC error codes the gateway answers with (documented in docs/gateway.md).
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const INVALID_PARAMS: i64 = -32602;
    /// A standard MCP header disagrees with the body (MCP 2026-07-28).
    pub const HEADER_MISMATCH: i64 = -32020;
    pub const UNAUTHORIZED: i64 = -32001;
    pub const FORBIDDEN: i64 = -32003;
    pub const NOT_FOUND: i64 = -32004;
    pub const METHOD_NOT_ALLOWED: i64 = -32005;
    pub const TOO_LARGE: i64 = -32013;
    pub const BAD_GATEWAY: i64 = -32002;
    pub const GATEWAY_TIMEOUT: i64 = -32006;
    pub const UNAVAILABLE: i64 = -32007;
}

/// What kind of JSON-RPC message a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
}

/// The parts of a message the gateway looks at.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: Kind,
    pub id: Option<Value>,
    pub method: Option<String>,
    pub params: Option<Value>,
}

impl Message {
    /// For `tools/call`: the tool name (validated to be a string by [`inspect`]).
    pub fn tool_name(&self) -> Option<&str> {
        (self.method.as_deref() == Some("tools/call"))
            .then(|| self.params.as_ref()?.get("name")?.as_str())
            .flatten()
    }

    pub fn tool_args(&self) -> Option<&Value> {
        (self.method.as_deref() == Some("tools/call"))
            .then(|| self.params.as_ref()?.get("arguments"))
            .flatten()
    }

    /// Like [`Message::tool_args`], moving the arguments out of the message.
    pub fn take_tool_args(&mut self) -> Option<Value> {
        if self.method.as_deref() != Some("tools/call") {
            return None;
        }
        self.params.as_mut()?.as_object_mut()?.remove("arguments")
    }

    /// The value MCP 2026-07-28 mirrors in the `Mcp-Name` header for this method.
    pub fn header_name(&self) -> Option<&str> {
        let key = match self.method.as_deref()? {
            "tools/call" | "prompts/get" => "name",
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
            "tasks/get" | "tasks/update" | "tasks/cancel" => "taskId",
            _ => return None,
        };
        self.params.as_ref()?.get(key)?.as_str()
    }
}

/// A request the gateway refuses before it reaches a backend.
#[derive(Debug, Clone)]
pub struct Reject {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub id: Option<Value>,
}

impl Reject {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            id: None,
        }
    }

    pub fn with_id(mut self, id: Option<Value>) -> Self {
        self.id = id;
        self
    }
}

/// Parses and checks one JSON-RPC message.
pub fn inspect(body: &[u8]) -> Result<Message, Reject> {
    let top = parse_envelope(body).map_err(|e| {
        Reject::new(
            StatusCode::BAD_REQUEST,
            code::PARSE_ERROR,
            format!("parse error: {e}"),
        )
    })?;
    let mut obj = match top {
        Top::Object(env) => env,
        Top::Array => {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                "JSON-RPC batches are not supported (MCP 2025-06-18 and later send one message per request)",
            ));
        }
        Top::Other => {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                "the body must be a JSON-RPC message object",
            ));
        }
    };
    let id = obj.id.take();
    let invalid = |msg: &str, id: &Option<Value>| {
        Reject::new(StatusCode::BAD_REQUEST, code::INVALID_REQUEST, msg).with_id(id.clone())
    };
    if let Some(ref v) = id
        && !(v.is_string()
            || v.is_i64()
            || v.is_u64()
            || v.as_f64().is_some_and(|f| f.fract() == 0.0))
    {
        return Err(invalid("`id` must be a string or an integer", &None));
    }
    if !obj.jsonrpc_2 {
        return Err(invalid("`jsonrpc` must be \"2.0\"", &id));
    }
    let method = match obj.method.take() {
        None => None,
        Some(Value::String(m)) => Some(m),
        Some(_) => return Err(invalid("`method` must be a string", &id)),
    };
    let params = obj.params.take();
    if let Some(ref p) = params
        && !(p.is_object() || p.is_array())
    {
        return Err(invalid("`params` must be an object or an array", &id));
    }
    let kind = match (&method, &id) {
        (Some(_), Some(_)) => Kind::Request,
        (Some(_), None) => Kind::Notification,
        (None, _) if obj.result_or_error => Kind::Response,
        (None, _) => {
            return Err(invalid(
                "a message needs `method`, `result` or `error`",
                &id,
            ));
        }
    };
    let msg = Message {
        kind,
        id,
        method,
        params,
    };
    if msg.method.as_deref() == Some("tools/call") {
        let name = msg.params.as_ref().and_then(|p| p.get("name"));
        if !name.is_some_and(Value::is_string) {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_PARAMS,
                "tools/call needs `params.name` as a string",
            )
            .with_id(msg.id.clone()));
        }
    }
    Ok(msg)
}

/// Checks the MCP 2026-07-28 standard headers against the body. A header may be absent (the
/// backend enforces presence for the versions that require it); a present one must agree, so
/// nothing downstream can route or authorize on a value the gateway did not check.
pub fn check_headers(headers: &http::HeaderMap, msg: &Message) -> Result<(), Reject> {
    let mismatch = |m: String| {
        Reject::new(StatusCode::BAD_REQUEST, code::HEADER_MISMATCH, m).with_id(msg.id.clone())
    };
    if let Some(h) = single_header(headers, "mcp-method").map_err(mismatch)? {
        match msg.method.as_deref() {
            Some(m) if m == h => {}
            Some(m) => {
                return Err(mismatch(format!(
                    "Mcp-Method header `{h}` does not match body method `{m}`"
                )));
            }
            None => {
                return Err(mismatch(format!(
                    "Mcp-Method header `{h}` on a message without a method"
                )));
            }
        }
    }
    if let Some(raw) = single_header(headers, "mcp-name").map_err(mismatch)? {
        let decoded = decode_header_value(raw)
            .ok_or_else(|| mismatch("Mcp-Name header is not valid base64".into()))?;
        match msg.header_name() {
            Some(expected) if expected == decoded => {}
            Some(expected) => {
                return Err(mismatch(format!(
                    "Mcp-Name header `{decoded}` does not match body value `{expected}`"
                )));
            }
            None => {
                return Err(mismatch(
                    "Mcp-Name header on a message that names nothing".into(),
                ));
            }
        }
    }
    Ok(())
}

fn single_header<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut all = headers.get_all(name).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(format!("duplicate {name} header"));
    }
    v.to_str()
        .map(Some)
        .map_err(|_| format!("{name} header has invalid characters"))
}

/// MCP's header value encoding: `=?base64?...?=` wraps values that are not plain ASCII.
fn decode_header_value(v: &str) -> Option<String> {
    use base64::Engine;
    match v
        .strip_prefix("=?base64?")
        .and_then(|x| x.strip_suffix("?="))
    {
        Some(inner) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(v.to_owned()),
    }
}

/// A JSON-RPC error response body.
pub fn error_body(id: Option<&Value>, code: i64, message: &str) -> Bytes {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    });
    Bytes::from(body.to_string())
}

/// The top level of a body. An object's members the gateway reads are parsed with
/// [`StrictValue`] (the rest is checked as strictly and dropped), without building a map for the
/// envelope itself.
enum Top {
    Object(Envelope),
    Array,
    Other,
}

#[derive(Default)]
struct Envelope {
    /// `jsonrpc` is the string `2.0` (read without copying it).
    jsonrpc_2: bool,
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Value>,
    result_or_error: bool,
}

/// Parses a body strictly (a member named twice at any depth, or trailing characters, is an
/// error), taking the envelope's members out as [`inspect`] reads them.
fn parse_envelope(bytes: &[u8]) -> Result<Top, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = if bytes.trim_ascii_start().first() == Some(&b'{') {
        Top::Object((&mut de).deserialize_map(EnvelopeVisitor)?)
    } else {
        // Anything else is refused; a malformed batch or value is still a parse error.
        match StrictValue.deserialize(&mut de)? {
            Value::Array(_) => Top::Array,
            _ => Top::Other,
        }
    };
    de.end()?;
    Ok(top)
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut env = Envelope::default();
        // The envelope's own members by bit; any other name in a list (rare: allocated only
        // when one comes).
        const JSONRPC: u8 = 1;
        const ID: u8 = 2;
        const METHOD: u8 = 4;
        const PARAMS: u8 = 8;
        const RESULT: u8 = 16;
        const ERROR: u8 = 32;
        let mut seen_known = 0u8;
        let mut seen_other: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let bit = match &*key {
                "jsonrpc" => JSONRPC,
                "id" => ID,
                "method" => METHOD,
                "params" => PARAMS,
                "result" => RESULT,
                "error" => ERROR,
                _ => 0,
            };
            let again = if bit == 0 {
                seen_other.contains(&key)
            } else {
                seen_known & bit != 0
            };
            if again {
                return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
            }
            seen_known |= bit;
            match bit {
                JSONRPC => env.jsonrpc_2 = map.next_value_seed(Version)?,
                ID => env.id = Some(map.next_value_seed(StrictValue)?),
                METHOD => env.method = Some(map.next_value_seed(StrictValue)?),
                PARAMS => env.params = Some(map.next_value_seed(StrictValue)?),
                RESULT | ERROR => {
                    map.next_value_seed(StrictValue)?;
                    env.result_or_error = true;
                }
                _ => {
                    map.next_value_seed(StrictValue)?;
                    seen_other.push(key);
                }
            }
        }
        Ok(env)
    }
}

/// Whether a value is the string `2.0`; any other value is still read as strictly as
/// [`StrictValue`] reads it.
struct Version;

impl<'de> DeserializeSeed<'de> for Version {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Version {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == "2.0")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        StrictVisitor.visit_seq(seq).map(|_| false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        StrictVisitor.visit_map(map).map(|_| false)
    }
}

/// A member name, borrowed from the body unless it holds escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
            }
            let v = map.next_value_seed(StrictValue)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_tool_call() {
        let mut m = inspect(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"eks_get_pods","arguments":{"namespace":"production"}}}"#).unwrap();
        assert_eq!(m.kind, Kind::Request);
        assert_eq!(m.id, Some(json!(7)));
        assert_eq!(m.tool_name(), Some("eks_get_pods"));
        assert_eq!(m.tool_args(), Some(&json!({"namespace": "production"})));
        // Taken for the audit record: the name (policy, `Mcp-Name`) stays.
        assert_eq!(m.take_tool_args(), Some(json!({"namespace": "production"})));
        assert_eq!(m.tool_args(), None);
        assert_eq!(m.tool_name(), Some("eks_get_pods"));
        assert_eq!(m.header_name(), Some("eks_get_pods"));
        // Only a tool call has tool arguments.
        let mut other = inspect(
            br#"{"jsonrpc":"2.0","id":8,"method":"prompts/get","params":{"name":"p","arguments":{"a":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(other.take_tool_args(), None);
        assert!(other.params.unwrap().get("arguments").is_some());
    }

    #[test]
    fn reads_members_spelled_with_escapes() {
        let m = inspect(
            br#"{"jsonrpc":"2.0","\u0069d":3,"\u006dethod":"tools/call","params":{"name":"a"}}"#,
        )
        .unwrap();
        assert_eq!(m.id, Some(json!(3)));
        assert_eq!(m.tool_name(), Some("a"));
        // Members the gateway does not read are checked and dropped.
        let m =
            inspect(br#"{"jsonrpc":"2.0","id":1,"method":"ping","_meta":{"k":[1,2]}}"#).unwrap();
        assert_eq!(m.kind, Kind::Request);
        // Whitespace before the object.
        let m = inspect(b" \r\n\t{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n").unwrap();
        assert_eq!(m.id, Some(json!(2)));
    }

    #[test]
    fn kinds() {
        let n = inspect(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(n.kind, Kind::Notification);
        let r = inspect(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert_eq!(r.kind, Kind::Response);
        // The version spelled with an escape is the same string.
        let e = inspect(br#"{"jsonrpc":"2\u002e0","id":1,"method":"ping","x":1,"y":2}"#).unwrap();
        assert_eq!(e.method.as_deref(), Some("ping"));
    }

    #[test]
    fn refuses_what_could_slip_past_the_policy() {
        let cases: &[(&[u8], i64)] = &[
            (b"not json", code::PARSE_ERROR),
            (b"{\"jsonrpc\":\"2.0\"", code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}"#, code::PARSE_ERROR),
            // A name spelled with escapes is the same name.
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping","\u006dethod":"tools/call"}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping","x":{"a":1,"\u0061":2}}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping"} {}"#, code::PARSE_ERROR),
            (br#"[{"a":1,"a":2}]"#, code::PARSE_ERROR),
            (br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}]"#, code::INVALID_REQUEST),
            (br#""hello""#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":["2.0"],"id":1,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":{"a":1,"a":2},"id":1,"method":"ping"}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping","x":1,"\u0078":2}"#, code::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"result":{},"result":{}}"#, code::PARSE_ERROR),
            (br#"{"id":1,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1,"method":5}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1}"#, code::INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#, code::INVALID_PARAMS),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#, code::INVALID_PARAMS),
            (br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":["x"]}}"#, code::INVALID_PARAMS),
        ];
        for (body, want) in cases {
            let r = inspect(body).expect_err(std::str::from_utf8(body).unwrap());
            assert_eq!(r.code, *want, "{}", String::from_utf8_lossy(body));
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        // The id is carried into the error where the body parsed.
        let r =
            inspect(br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}}"#).unwrap_err();
        assert_eq!(r.id, Some(json!(9)));
    }

    #[test]
    fn header_checks() {
        let m = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"eks_get_pods"}}"#,
        )
        .unwrap();
        let mut h = http::HeaderMap::new();
        assert!(check_headers(&h, &m).is_ok());
        h.insert("mcp-method", "tools/call".parse().unwrap());
        h.insert("mcp-name", "eks_get_pods".parse().unwrap());
        assert!(check_headers(&h, &m).is_ok());
        h.insert("mcp-name", "=?base64?ZWtzX2dldF9wb2Rz?=".parse().unwrap());
        assert!(check_headers(&h, &m).is_ok());
        h.insert("mcp-name", "eks_delete_pod".parse().unwrap());
        let r = check_headers(&h, &m).unwrap_err();
        assert_eq!(r.code, code::HEADER_MISMATCH);
        assert_eq!(r.id, Some(json!(1)));
        h.insert("mcp-name", "eks_get_pods".parse().unwrap());
        h.insert("mcp-method", "tools/list".parse().unwrap());
        assert_eq!(
            check_headers(&h, &m).unwrap_err().code,
            code::HEADER_MISMATCH
        );
        h.insert("mcp-method", "tools/call".parse().unwrap());
        h.append("mcp-method", "tools/call".parse().unwrap());
        assert_eq!(
            check_headers(&h, &m).unwrap_err().code,
            code::HEADER_MISMATCH
        );
    }

    #[test]
    fn error_bodies_carry_the_id() {
        let b = error_body(Some(&json!("abc")), code::FORBIDDEN, "no");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc":"2.0","id":"abc","error":{"code":-32003,"message":"no"}})
        );
    }
}

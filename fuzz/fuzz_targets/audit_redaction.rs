#![no_main]
//! Audit redaction: never panics, idempotent, and sensitive members are always replaced.
use libfuzzer_sys::fuzz_target;
use mcp_common::redact::{REDACTED, redact_json, redact_text};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let once = redact_text(&text).unwrap_or_else(|| text.clone());
    assert!(redact_text(&once).is_none(), "not idempotent");
    let mut v = serde_json::json!({"password": text, "args": text});
    redact_json(&mut v);
    assert_eq!(v["password"], REDACTED);
    if let Ok(mut any) = serde_json::from_slice::<serde_json::Value>(data) {
        redact_json(&mut any);
    }
});

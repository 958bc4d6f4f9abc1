#![no_main]
//! The gateway's request parsing: body inspection and the MCP header checks.
use libfuzzer_sys::fuzz_target;
use mcp_gateway::jsonrpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = jsonrpc::inspect(data) {
        if m.method.as_deref() == Some("tools/call") {
            let plain: serde_json::Value = serde_json::from_slice(data).expect("accepted bodies parse");
            assert_eq!(plain["params"]["name"].as_str(), m.tool_name());
        }
        let mut h = http::HeaderMap::new();
        h.insert("mcp-method", http::HeaderValue::from_static("tools/call"));
        let _ = jsonrpc::check_headers(&h, &m);
    }
});

#![no_main]
//! The policy decision: a config and a message; a tool call is allowed only if the role's
//! access allows exactly that name, and a filtered tools/list keeps only allowed tools.
use libfuzzer_sys::fuzz_target;
use mcp_gateway::{config::Config, jsonrpc, policy};

const CONFIG: &str = "keys_file: /k\nbackends:\n  b: http://x/mcp\nroleMapping:\n  r:\n    - backend: b\n      tools: [b_read]\n";

fuzz_target!(|data: &[u8]| {
    let (config, _) = Config::parse(CONFIG).expect("fixed config");
    let access = policy::access(&config, "r", "b").expect("r reaches b");
    if let Ok(m) = jsonrpc::inspect(data) {
        if let Some(tool) = m.tool_name() {
            assert_eq!(access.allows(tool), tool == "b_read");
        }
    }
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) {
        if policy::filter_tools_list(&mut v, access) {
            for t in v["result"]["tools"].as_array().expect("filtered list") {
                assert_eq!(t["name"], "b_read");
            }
        }
    }
});

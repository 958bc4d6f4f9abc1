#![no_main]
//! The SSE parser: never panics, never loses or invents a byte, whatever the chunking.
use libfuzzer_sys::fuzz_target;
use mcp_gateway::sse::Parser;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(1, |b| usize::from(*b % 16) + 1);
    let mut p = Parser::new(1 << 20);
    let mut out = Vec::new();
    for chunk in data.chunks(split) {
        for e in p.push(chunk) {
            out.extend_from_slice(&e.raw);
        }
    }
    out.extend_from_slice(&p.take_rest());
    assert_eq!(out, data);
});

//! Randomized robustness of everything that reads untrusted input: the JSON-RPC inspection, the
//! header checks, the SSE parser, the keys file, the config, the redaction. Inputs are valid
//! samples mutated at random (a fixed-seed generator, so a failure reproduces); each function
//! must return an answer, never panic, and keep its invariants. The same targets run under
//! libFuzzer with `cargo +nightly fuzz` (see fuzz/README.md).

use mcp_gateway::{jsonrpc, keys, sse};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"1e999",
    b"-0",
    b"\r\n",
    b"\n\n",
    b"\r",
    b"data: ",
    b"id: ",
    b"\xff",
    b"\xc3",
    b"tools/call",
    b"name",
    b"\"name\":\"x\"",
    b"=?base64?",
    b"?=",
    b";exp=",
    b":",
    b"/",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, piece.iter().copied());
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(8)).min(v.len());
                v.drain(i..j);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let j = rng.below(v.len() + 1);
                let (a, b) = (i.min(j), i.max(j));
                let dup = v[a..b].to_vec();
                v.splice(b..b, dup);
            }
        }
    }
    v
}

const ITERATIONS: usize = 20_000;

#[test]
fn jsonrpc_inspection_never_panics_and_refuses_what_it_cannot_read() {
    let seeds: &[&[u8]] = &[
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"eks_get_pods","arguments":{"namespace":"production"}}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        br#"{"jsonrpc":"2.0","id":"a","result":{}}"#,
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
    ];
    let mut rng = Rng(0x5eed_0001);
    let mut headers = http::HeaderMap::new();
    headers.insert("mcp-method", "tools/call".parse().unwrap());
    headers.insert("mcp-name", "eks_get_pods".parse().unwrap());
    for i in 0..ITERATIONS {
        let input = mutate(&mut rng, seeds[i % seeds.len()]);
        match jsonrpc::inspect(&input) {
            Ok(m) => {
                // Whatever was accepted names its tool as a string, and the body parses the same
                // way with a plain parser (no duplicate members slipped through).
                if m.method.as_deref() == Some("tools/call") {
                    let plain: serde_json::Value = serde_json::from_slice(&input).unwrap();
                    assert_eq!(
                        plain["params"]["name"].as_str(),
                        m.tool_name(),
                        "{}",
                        String::from_utf8_lossy(&input)
                    );
                }
                let _ = jsonrpc::check_headers(&headers, &m);
            }
            Err(r) => {
                assert!(r.status.is_client_error());
                let body = jsonrpc::error_body(r.id.as_ref(), r.code, &r.message);
                let v: serde_json::Value =
                    serde_json::from_slice(&body).expect("error bodies are JSON");
                assert_eq!(v["jsonrpc"], "2.0");
            }
        }
    }
}

#[test]
fn sse_parser_never_panics_and_keeps_every_byte() {
    let seed: &[u8] = b"event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\n\n: ping\n\ndata: a\r\ndata: b\r\n\r\n";
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..ITERATIONS {
        let input = mutate(&mut rng, seed);
        let mut p = sse::Parser::new(1 << 16);
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let n = 1 + rng.below(16);
            let chunk = &input[i..(i + n).min(input.len())];
            for e in p.push(chunk) {
                out.extend_from_slice(&e.raw);
            }
            i += n;
        }
        out.extend_from_slice(&p.take_rest());
        assert_eq!(out, input, "the parser loses or invents bytes");
    }
}

#[test]
fn keys_files_are_all_or_nothing() {
    let k1 = keys::format_entry(&[1u8; 32], "dev-readonly", "agent-1", None);
    let k2 = keys::format_entry(&[2u8; 32], "devops-full", "ops", Some(1_900_000_000));
    let seed = serde_json::json!({"a": k1, "b": k2}).to_string();
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..ITERATIONS {
        let input = mutate(&mut rng, seed.as_bytes());
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        if let Ok(set) = keys::KeySet::parse(text) {
            assert!(!set.is_empty(), "an accepted file is never empty");
            for id in set.identities() {
                keys::validate_role(&id.role).unwrap();
                keys::validate_user(&id.user).unwrap();
            }
        }
    }
}

#[test]
fn config_parsing_never_panics() {
    let seed = "listen: 127.0.0.1:8080\nkeys_file: /k.json\nbackends:\n  eks-ro: http://mcp-eks-ro:8080/mcp\n  postgres-rw:\n    url: http://pg:8080/mcp\nroleMapping:\n  dev-readonly: [eks-ro]\n  ops:\n    - backend: postgres-rw\n      tools: [postgres_query]\nallowed_hosts: [localhost]\nlimits:\n  first_byte_timeout: 30s\n";
    let mut rng = Rng(0x5eed_0004);
    for _ in 0..ITERATIONS / 4 {
        let input = mutate(&mut rng, seed.as_bytes());
        if let Ok(text) = std::str::from_utf8(&input) {
            let _ = mcp_gateway::config::Config::parse(text);
        }
    }
}

#[test]
fn redaction_never_panics_and_is_idempotent() {
    let seeds = [
        "postgres://app:s3cr3t@db:5432/app?sslmode=require password=x token: 'y' Authorization: Bearer abc.def AKIAIOSFODNN7EXAMPLE ghp_abcdefghij123456",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- redis://:pw@h/0",
        "é Bearer  ü Basic é token=é pässword: 'ö' ASIA1234567890ABCDEFé xoxb-ééé ghp_é",
    ];
    let mut rng = Rng(0x5eed_0005);
    for i in 0..ITERATIONS {
        let input = mutate(&mut rng, seeds[i % seeds.len()].as_bytes());
        let text = String::from_utf8_lossy(&input).into_owned();
        let once = mcp_common::redact::redact_text(&text).unwrap_or(text.clone());
        let twice = mcp_common::redact::redact_text(&once);
        assert!(
            twice.is_none(),
            "redaction is not idempotent:\n{once}\n{twice:?}"
        );
        let mut v = serde_json::json!({"args": text, "password": text, "nested": [{"name": "API_KEY", "value": text}]});
        mcp_common::redact::redact_json(&mut v);
        assert_eq!(v["password"], mcp_common::redact::REDACTED);
        assert_eq!(v["nested"][0]["value"], mcp_common::redact::REDACTED);
    }
}

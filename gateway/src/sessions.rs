//! Binding MCP sessions to the key that opened them, without shared state.
//!
//! For backends that use sessions (MCP 2025-06-18 / 2025-11-25), the gateway hands the client
//! `<upstream-session-id>.<tag>`, where the tag is a hash over the opening key's hash, the
//! backend and the upstream id. A request carrying a session id is forwarded only if the tag
//! matches the key it is made with; anything else is answered 404 ("session not found", so an
//! honest client re-initializes). No table to grow, and every gateway replica agrees.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const TAG_HEX: usize = 32;

fn tag(key_hash: &[u8; 32], backend: &str, upstream_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"mcp-gateway session v1\0");
    h.update(key_hash);
    h.update(backend.as_bytes());
    h.update([0]);
    h.update(upstream_id.as_bytes());
    let mut out = hex::encode(h.finalize());
    out.truncate(TAG_HEX);
    out
}

/// The session id the client sees.
pub fn bind(key_hash: &[u8; 32], backend: &str, upstream_id: &str) -> String {
    format!("{upstream_id}.{}", tag(key_hash, backend, upstream_id))
}

/// The upstream session id, if `client_id` was bound to this key and backend.
pub fn unbind(key_hash: &[u8; 32], backend: &str, client_id: &str) -> Option<String> {
    let (upstream, given) = client_id.rsplit_once('.')?;
    let want = tag(key_hash, backend, upstream);
    bool::from(want.as_bytes().ct_eq(given.as_bytes())).then(|| upstream.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_sessions_only_work_for_their_key_and_backend() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let sid = bind(&k1, "eks-ro", "abc-123");
        assert!(sid.starts_with("abc-123."));
        assert_eq!(unbind(&k1, "eks-ro", &sid).as_deref(), Some("abc-123"));
        assert_eq!(unbind(&k2, "eks-ro", &sid), None);
        assert_eq!(unbind(&k1, "eks-rw", &sid), None);
        assert_eq!(unbind(&k1, "eks-ro", "abc-123"), None);
        assert_eq!(unbind(&k1, "eks-ro", "abc-123.0000"), None);
        // Upstream ids containing dots survive.
        let dotted = bind(&k1, "b", "a.b.c");
        assert_eq!(unbind(&k1, "b", &dotted).as_deref(), Some("a.b.c"));
    }
}

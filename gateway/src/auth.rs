//! Authentication: `Authorization: Bearer <base64 of the raw key>` -> identity.

use std::sync::{Arc, Mutex, Weak};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::keys::{Identity, KeySet};

/// Longest bearer token considered; anything longer is malformed (keys are 32 bytes).
const MAX_TOKEN_LEN: usize = 512;

/// Why a request was not authenticated. The client only ever sees 401; the reason goes to the
/// audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    NotBearer,
    Malformed,
    UnknownKey,
    Expired,
}

impl AuthError {
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "no Authorization header",
            AuthError::NotBearer => "Authorization scheme is not Bearer",
            AuthError::Malformed => "bearer token is not base64 of a key",
            AuthError::UnknownKey => "unknown key",
            AuthError::Expired => "key expired",
        }
    }
}

/// Extracts and decodes the bearer key. Accepts standard and URL-safe base64, padded or not.
pub fn bearer_key(headers: &HeaderMap) -> Result<Vec<u8>, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::Missing)?;
    if values.next().is_some() {
        return Err(AuthError::Malformed);
    }
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let engine = if token.contains(['-', '_']) {
        &URL_SAFE_PAD_INDIFFERENT
    } else {
        &STANDARD_PAD_INDIFFERENT
    };
    let raw = engine.decode(token).map_err(|_| AuthError::Malformed)?;
    if raw.len() < 16 {
        return Err(AuthError::Malformed);
    }
    Ok(raw)
}

/// Authenticates a request against the current key set.
pub fn authenticate(headers: &HeaderMap, keys: &KeySet) -> Result<Arc<Identity>, AuthError> {
    lookup(headers, keys, now_unix())
}

fn lookup(headers: &HeaderMap, keys: &KeySet, now: i64) -> Result<Arc<Identity>, AuthError> {
    let raw = bearer_key(headers)?;
    let id = keys.lookup(&raw).ok_or(AuthError::UnknownKey)?;
    unexpired(id, now)
}

fn unexpired(id: Arc<Identity>, now: i64) -> Result<Arc<Identity>, AuthError> {
    if id.is_expired(now) {
        return Err(AuthError::Expired);
    }
    Ok(id)
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// What one client connection last authenticated with.
///
/// The requests of a keep-alive connection nearly always carry the same `Authorization`
/// header. When a request's single header is byte for byte the one that last succeeded on this
/// connection (compared in constant time) and the key set is still the one that accepted it,
/// the identity is reused: no base64 decoding, no hashing, no map lookup (about 6% of the
/// gateway's instructions per proxied request). Anything else goes the full way and, on success,
/// replaces the memo. A reloaded key set (a revocation, a rotation) is a different set, so the
/// memo no longer applies; expiry is checked on every request either way.
#[derive(Debug, Default)]
pub struct ConnAuth(Mutex<Option<Memo>>);

#[derive(Debug)]
struct Memo {
    header: Box<[u8]>,
    /// The set that accepted the key. Weak: an idle connection must not keep a replaced set
    /// (which can hold 100k keys) alive; the allocation it pins cannot be reused by a new set,
    /// so comparing addresses is sound.
    keys: Weak<KeySet>,
    identity: Arc<Identity>,
}

impl ConnAuth {
    /// [`authenticate`], through this connection's memo.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        keys: &Arc<KeySet>,
    ) -> Result<Arc<Identity>, AuthError> {
        self.authenticate_at(headers, keys, now_unix())
    }

    fn authenticate_at(
        &self,
        headers: &HeaderMap,
        keys: &Arc<KeySet>,
        now: i64,
    ) -> Result<Arc<Identity>, AuthError> {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return lookup(headers, keys, now);
        };
        let Ok(mut memo) = self.0.lock() else {
            return lookup(headers, keys, now);
        };
        if let Some(m) = memo.as_ref()
            && std::ptr::eq(m.keys.as_ptr(), Arc::as_ptr(keys))
            && bool::from(m.header.ct_eq(value.as_bytes()))
        {
            return unexpired(m.identity.clone(), now);
        }
        let id = lookup(headers, keys, now)?;
        *memo = Some(Memo {
            header: value.as_bytes().into(),
            keys: Arc::downgrade(keys),
            identity: id.clone(),
        });
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::hash_hex;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn decodes_every_base64_flavour() {
        let key: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(250))
            .collect();
        let std = STANDARD.encode(&key);
        let url = URL_SAFE_NO_PAD.encode(&key);
        assert!(
            std.contains('+') || std.contains('/'),
            "test key should need the alphabets to differ"
        );
        for token in [std.clone(), std.trim_end_matches('=').to_owned(), url] {
            assert_eq!(
                bearer_key(&headers(&format!("Bearer {token}"))).unwrap(),
                key,
                "{token}"
            );
        }
        assert_eq!(bearer_key(&headers(&format!("bearer {std}"))).unwrap(), key);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(bearer_key(&HeaderMap::new()), Err(AuthError::Missing));
        assert_eq!(bearer_key(&headers("Basic abc")), Err(AuthError::NotBearer));
        assert_eq!(bearer_key(&headers("Bearer")), Err(AuthError::NotBearer));
        assert_eq!(bearer_key(&headers("Bearer ")), Err(AuthError::Malformed));
        assert_eq!(
            bearer_key(&headers("Bearer !!!notbase64")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            bearer_key(&headers("Bearer YWJj")),
            Err(AuthError::Malformed),
            "too short"
        );
        let long = "A".repeat(600);
        assert_eq!(
            bearer_key(&headers(&format!("Bearer {long}"))),
            Err(AuthError::Malformed)
        );
        let mut two = headers("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        two.append(http::header::AUTHORIZATION, "Bearer BBBB".parse().unwrap());
        assert_eq!(bearer_key(&two), Err(AuthError::Malformed));
    }

    #[test]
    fn authenticates_known_keys_only() {
        let key = [7u8; 32];
        let text =
            serde_json::json!({"a": format!("{}:dev-readonly/agent", hash_hex(&key))}).to_string();
        let set = KeySet::parse(&text).unwrap();
        let id = authenticate(&headers(&format!("Bearer {}", STANDARD.encode(key))), &set).unwrap();
        assert_eq!(&*id.user, "agent");
        let other = authenticate(
            &headers(&format!("Bearer {}", STANDARD.encode([8u8; 32]))),
            &set,
        );
        assert_eq!(other, Err(AuthError::UnknownKey));
    }

    fn set(entries: &[([u8; 32], &str)]) -> Arc<KeySet> {
        let map: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, who))| (format!("k{i}"), format!("{}:{who}", hash_hex(k)).into()))
            .collect();
        Arc::new(KeySet::parse(&serde_json::Value::Object(map).to_string()).unwrap())
    }

    #[test]
    fn a_connection_memo_follows_the_header_and_the_key_set() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let bearer = |k: &[u8; 32]| headers(&format!("Bearer {}", STANDARD.encode(k)));
        let keys = set(&[(a, "r/alice"), (b, "r/bob")]);
        let memo = ConnAuth::default();
        let first = memo.authenticate(&bearer(&a), &keys).unwrap();
        let again = memo.authenticate(&bearer(&a), &keys).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the memo answered");
        assert_eq!(&*again.user, "alice");
        // Another key on the same connection is looked up, and becomes the memo.
        assert_eq!(&*memo.authenticate(&bearer(&b), &keys).unwrap().user, "bob");
        assert_eq!(
            &*memo.authenticate(&bearer(&a), &keys).unwrap().user,
            "alice"
        );
        // Failures never come from or go into the memo.
        assert_eq!(
            memo.authenticate(&bearer(&[3u8; 32]), &keys),
            Err(AuthError::UnknownKey)
        );
        assert_eq!(
            memo.authenticate(&HeaderMap::new(), &keys),
            Err(AuthError::Missing)
        );
        let mut two = bearer(&a);
        two.append(http::header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(memo.authenticate(&two, &keys), Err(AuthError::Malformed));
        assert_eq!(
            &*memo.authenticate(&bearer(&a), &keys).unwrap().user,
            "alice"
        );
        // A reloaded set without the key (revocation): the memo no longer counts.
        let reloaded = set(&[(b, "r/bob")]);
        assert_eq!(
            memo.authenticate(&bearer(&a), &reloaded),
            Err(AuthError::UnknownKey)
        );
        // The replaced set is freed even though the memo pointed at it.
        let weak = Arc::downgrade(&keys);
        drop(keys);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn a_memo_still_checks_expiry() {
        let key = [9u8; 32];
        let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let entry = crate::keys::format_entry(&key, "r", "temp", Some(soon));
        let keys = Arc::new(KeySet::parse(&serde_json::json!({ "k": entry }).to_string()).unwrap());
        let memo = ConnAuth::default();
        let h = headers(&format!("Bearer {}", STANDARD.encode(key)));
        let id = memo.authenticate_at(&h, &keys, soon - 1).unwrap();
        assert!(memo.0.lock().unwrap().is_some(), "remembered");
        assert!(Arc::ptr_eq(
            &id,
            &memo.authenticate_at(&h, &keys, soon - 1).unwrap()
        ));
        // The same connection, the same header, once the key has expired.
        assert_eq!(
            memo.authenticate_at(&h, &keys, soon),
            Err(AuthError::Expired)
        );
        assert_eq!(
            memo.authenticate(&h, &keys).map(|i| i.user.clone()),
            Ok("temp".into())
        );
    }
}

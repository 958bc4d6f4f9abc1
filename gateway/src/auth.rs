//! Authentication: `Authorization: Bearer <base64 of the raw key>` -> identity.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use http::HeaderMap;

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
    let raw = bearer_key(headers)?;
    let id = keys.lookup(&raw).ok_or(AuthError::UnknownKey)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if id.is_expired(now) {
        return Err(AuthError::Expired);
    }
    Ok(id)
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
}

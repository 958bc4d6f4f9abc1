//! Redaction: secrets never leave a pod, and never reach an audit line.
//!
//! Two complementary rules:
//! - by name: a JSON member whose key looks like a credential (`password`, `secret`, `token`,
//!   `api_key`, `credential`, `private_key`, `authorization`, ...) has its value replaced;
//! - by shape: inside free text, credentials embedded in connection strings
//!   (`postgres://user:pw@host`), `password=...` pairs, `Authorization: Bearer ...`, AWS access
//!   key ids and PEM private keys are replaced.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde_json::Value;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Words that mark a key name as sensitive (matched on the lower-cased name with `-`, `.` and
/// spaces folded to `_`).
const SENSITIVE_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "private_key",
    "privatekey",
    "api_key",
    "apikey",
    "access_key",
    "accesskey",
    "auth",
    "cookie",
    "session_key",
    "signature",
    "passphrase",
    "dsn",
    "connection_string",
    "database_url",
];

/// Exact names that are sensitive although they contain none of the words above.
const SENSITIVE_EXACT: &[&str] = &["key", "pass", "pw", "jwt", "bearer"];

/// Names that contain a sensitive word but are not secrets themselves (`token_count`,
/// `max_tokens`, `author`, a Kubernetes `secretName` reference...).
const NOT_SENSITIVE: &[&str] = &[
    "author",
    "authors",
    "authority",
    "max_tokens",
    "token_count",
    "tokens",
    "secret_name",
    "secretname",
    "key_id",
    "keyid",
    "key_name",
    "keyname",
    "keys",
    "primary_key",
    "foreign_key",
    "sort_key",
    "partition_key",
    "auth_type",
    "authentication_type",
];

fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        match c {
            '-' | '.' | ' ' => out.push('_'),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// True when a member or variable named `name` is likely to hold a credential.
pub fn is_sensitive_key(name: &str) -> bool {
    let n = normalize(name);
    if NOT_SENSITIVE.contains(&n.as_str()) {
        return false;
    }
    if SENSITIVE_EXACT.contains(&n.as_str()) {
        return true;
    }
    if n.ends_with("_key") || n.ends_with("_keys") {
        return !NOT_SENSITIVE.iter().any(|ok| n.ends_with(ok));
    }
    SENSITIVE_WORDS_IN_NAME.is_match(&n)
}

/// [`SENSITIVE_WORDS`] as one automaton: a name is scanned once, not once per word.
static SENSITIVE_WORDS_IN_NAME: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(SENSITIVE_WORDS).expect("constant patterns build an automaton")
});

/// Every literal that some credential shape of [`redact_text`] starts with or contains
/// (`:` and `=` cover `name=value` / `name: value` pairs, `://` URLs). A string holding none of
/// them has nothing to redact: one scan instead of a search per rule, and no copy. The scan
/// also tells which literals occur ([`Triggers`]), so only the rules that can match run.
static TEXT_TRIGGERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let mut triggers = vec![":", "=", "://", "-----BEGIN "];
    triggers.extend(AUTH_SCHEMES);
    triggers.extend(AWS_KEY_ID_PREFIXES);
    triggers.extend(TOKEN_PREFIXES);
    AhoCorasick::new(triggers).expect("constant patterns build an automaton")
});

/// Which of [`TEXT_TRIGGERS`] occur in a string: bit `i` for pattern `i`.
#[derive(Debug, Clone, Copy)]
struct Triggers(u64);

impl Triggers {
    const PAIR_COLON: usize = 0;
    const PAIR_EQUALS: usize = 1;
    const URL: usize = 2;
    const PEM: usize = 3;
    const AUTH: usize = 4;
    const AWS: usize = Self::AUTH + AUTH_SCHEMES.len();
    const TOKEN: usize = Self::AWS + AWS_KEY_ID_PREFIXES.len();

    fn of(s: &str) -> Self {
        let mut bits = 0u64;
        for m in TEXT_TRIGGERS.find_overlapping_iter(s) {
            bits |= 1 << m.pattern().as_usize();
        }
        Self(bits)
    }

    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Whether any of the `n` patterns from `first` occurs.
    fn any(self, first: usize, n: usize) -> bool {
        self.0 & (((1u64 << n) - 1) << first) != 0
    }
}

// Every pattern of TEXT_TRIGGERS has a bit.
const _: () = assert!(Triggers::TOKEN + TOKEN_PREFIXES.len() <= 64);

/// Authorization schemes whose credential follows them in free text.
const AUTH_SCHEMES: [&str; 4] = ["Bearer ", "bearer ", "Basic ", "basic "];
const AWS_KEY_ID_PREFIXES: [&str; 2] = ["AKIA", "ASIA"];
/// Prefixes of tokens recognizable by their shape: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`,
/// `ghr_`, `github_pat_`), Slack (`xoxb-`, `xoxp-`, ...), GitLab (`glpat-`).
const TOKEN_PREFIXES: &[&str] = &[
    "github_pat_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "glpat-",
];

/// Redacts a JSON value in place: sensitive members by name, and credential shapes in every
/// string. Returns how many values were redacted.
pub fn redact_json(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut n = 0;
            // `{"name": "DB_PASSWORD", "value": "..."}`: Kubernetes env vars, tags, headers.
            let named_secret = ["name", "key", "Name", "Key"].iter().any(|k| {
                map.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(is_sensitive_key)
            });
            if named_secret {
                for field in ["value", "Value"] {
                    if let Some(v) = map.get_mut(field)
                        && !v.is_null()
                    {
                        *v = Value::String(REDACTED.to_owned());
                        n += 1;
                    }
                }
            }
            // In a name/value pair, `name`/`key` is a label, not a secret.
            let pair = map.contains_key("value") || map.contains_key("Value");
            for (k, v) in map.iter_mut() {
                if named_secret && (k == "value" || k == "Value") {
                    continue;
                }
                if pair && matches!(k.as_str(), "name" | "key" | "Name" | "Key") && v.is_string() {
                    n += redact_json(v);
                    continue;
                }
                if is_sensitive_key(k) && !v.is_null() && !matches!(v, Value::Bool(_)) {
                    *v = Value::String(REDACTED.to_owned());
                    n += 1;
                } else {
                    n += redact_json(v);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(redact_json).sum(),
        Value::String(s) => match redact_text(s) {
            Some(clean) => {
                *s = clean;
                1
            }
            None => 0,
        },
        _ => 0,
    }
}

/// Redacts credential shapes inside free text. Returns `None` when nothing was found, so the
/// common case allocates nothing.
pub fn redact_text(s: &str) -> Option<String> {
    let found = Triggers::of(s);
    if found.0 == 0 {
        return None;
    }
    let mut out = s.to_owned();
    let mut changed = false;
    // One rule's replacement can complete another's pattern (a key id followed by a token):
    // repeat until nothing changes, so redacting twice changes nothing. A replacement never
    // brings in a trigger the input did not hold (`[REDACTED]` contains none, and none spans
    // its brackets), so the rules the first scan ruled out stay ruled out.
    for _ in 0..8 {
        let mut pass = false;
        if found.has(Triggers::PEM) {
            pass |= redact_pem(&mut out);
        }
        if found.has(Triggers::URL) {
            pass |= redact_url_userinfo(&mut out);
        }
        if found.any(Triggers::AUTH, AUTH_SCHEMES.len()) {
            pass |= redact_bearer(&mut out, found);
        }
        if found.has(Triggers::PAIR_COLON) || found.has(Triggers::PAIR_EQUALS) {
            pass |= redact_pairs(&mut out);
        }
        if found.any(Triggers::AWS, AWS_KEY_ID_PREFIXES.len()) {
            pass |= redact_aws_key_ids(&mut out, found);
        }
        if found.any(Triggers::TOKEN, TOKEN_PREFIXES.len()) {
            pass |= redact_token_prefixes(&mut out, found);
        }
        if !pass {
            break;
        }
        changed = true;
    }
    changed.then_some(out)
}

/// `scheme://user:password@host` -> `scheme://user:[REDACTED]@host`.
fn redact_url_userinfo(s: &mut String) -> bool {
    let mut changed = false;
    let mut from = 0;
    while let Some(pos) = s[from..].find("://") {
        let start = from + pos + 3;
        let rest = &s[start..];
        let end_of_authority = rest
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(rest.len());
        let authority = &rest[..end_of_authority];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let pw_start = start + colon + 1;
            let pw_end = start + at;
            if &s[pw_start..pw_end] != REDACTED {
                s.replace_range(pw_start..pw_end, REDACTED);
                changed = true;
            }
        }
        from = start.min(s.len());
        if from >= s.len() {
            break;
        }
    }
    changed
}

/// `password=xyz`, `password: xyz`, `PGPASSWORD=xyz`, `token="xyz"` in free text.
fn redact_pairs(s: &mut String) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < s.len() {
        let Some(rel) = s[i..].find(['=', ':']) else {
            break;
        };
        let sep = i + rel;
        // The name is the run of word characters just before the separator.
        let name_start = s[..sep]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let name = &s[name_start..sep];
        let mut val_start = sep + 1;
        // `://` is a URL, handled elsewhere.
        if s[sep..].starts_with("://") || name.is_empty() || !is_sensitive_key(name) {
            i = sep + 1;
            continue;
        }
        while s[val_start..].starts_with(' ') {
            val_start += 1;
        }
        let quote = s[val_start..]
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'');
        let (v_start, v_end) = match quote {
            Some(q) => {
                let inner = val_start + 1;
                let end = s[inner..].find(q).map_or(s.len(), |p| inner + p);
                (inner, end)
            }
            None => {
                // `Authorization: Bearer xyz`: the value is the scheme and its credential.
                let scheme_len = AUTH_SCHEMES
                    .iter()
                    .find(|p| s[val_start..].starts_with(**p))
                    .map_or(0, |p| p.len());
                let val_start = val_start + scheme_len;
                let end = s[val_start..]
                    .find(|c: char| c.is_whitespace() || c == '&' || c == ';' || c == ',')
                    .map_or(s.len(), |p| val_start + p);
                (val_start - scheme_len, end)
            }
        };
        if v_end > v_start && &s[v_start..v_end] != REDACTED {
            s.replace_range(v_start..v_end, REDACTED);
            changed = true;
            i = v_start + REDACTED.len();
        } else {
            i = sep + 1;
        }
    }
    changed
}

/// `Bearer <token>` and `Basic <b64>`.
fn redact_bearer(s: &mut String, found: Triggers) -> bool {
    let mut changed = false;
    for (i, scheme) in AUTH_SCHEMES.iter().enumerate() {
        if !found.has(Triggers::AUTH + i) {
            continue;
        }
        let mut from = 0;
        while let Some(pos) = s[from..].find(scheme) {
            let start = from + pos + scheme.len();
            let end = s[start..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .map_or(s.len(), |p| start + p);
            if end > start && &s[start..end] != REDACTED {
                s.replace_range(start..end, REDACTED);
                changed = true;
                from = start + REDACTED.len();
            } else {
                from = start;
            }
        }
    }
    changed
}

/// AWS access key ids (`AKIA`/`ASIA` + 16 upper-case alphanumerics).
fn redact_aws_key_ids(s: &mut String, found: Triggers) -> bool {
    let mut changed = false;
    for (i, prefix) in AWS_KEY_ID_PREFIXES.iter().enumerate() {
        if !found.has(Triggers::AWS + i) {
            continue;
        }
        let mut from = 0;
        while let Some(pos) = s[from..].find(prefix) {
            let start = from + pos;
            let end = start + 20;
            let b = s.as_bytes();
            let ok = end <= b.len()
                && b[start + 4..end]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && !b.get(end).is_some_and(u8::is_ascii_alphanumeric);
            if ok {
                s.replace_range(start..end, REDACTED);
                changed = true;
                from = start + REDACTED.len();
            } else {
                from = start + prefix.len();
            }
        }
    }
    changed
}

/// Tokens recognizable by their prefix ([`TOKEN_PREFIXES`]).
fn redact_token_prefixes(s: &mut String, found: Triggers) -> bool {
    let mut changed = false;
    for (i, prefix) in TOKEN_PREFIXES.iter().enumerate() {
        if !found.has(Triggers::TOKEN + i) {
            continue;
        }
        let mut from = 0;
        while let Some(pos) = s[from..].find(prefix) {
            let start = from + pos;
            let boundary = start == 0
                || !s[..start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            let end = s[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .map_or(s.len(), |p| start + p);
            if boundary && end - start >= prefix.len() + 8 {
                s.replace_range(start..end, REDACTED);
                changed = true;
                from = start + REDACTED.len();
            } else {
                from = start + prefix.len();
            }
        }
    }
    changed
}

/// PEM private key blocks.
fn redact_pem(s: &mut String) -> bool {
    let mut changed = false;
    while let Some(start) = s
        .find("-----BEGIN ")
        .filter(|&p| s[p..].contains("PRIVATE KEY-----"))
    {
        let end = s[start..]
            .find("-----END ")
            .and_then(|p| s[start + p..].find("KEY-----").map(|q| start + p + q + 8))
            .unwrap_or(s.len());
        s.replace_range(start..end, REDACTED);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_bits_name_the_literals_of_their_rules() {
        // The index constants follow the order TEXT_TRIGGERS is built in.
        let cases: Vec<(&str, usize)> = [
            (":", Triggers::PAIR_COLON),
            ("=", Triggers::PAIR_EQUALS),
            ("://", Triggers::URL),
            ("-----BEGIN ", Triggers::PEM),
        ]
        .into_iter()
        .chain(
            AUTH_SCHEMES
                .iter()
                .enumerate()
                .map(|(i, p)| (*p, Triggers::AUTH + i)),
        )
        .chain(
            AWS_KEY_ID_PREFIXES
                .iter()
                .enumerate()
                .map(|(i, p)| (*p, Triggers::AWS + i)),
        )
        .chain(
            TOKEN_PREFIXES
                .iter()
                .enumerate()
                .map(|(i, p)| (*p, Triggers::TOKEN + i)),
        )
        .collect();
        for (literal, bit) in cases {
            assert!(Triggers::of(literal).has(bit), "{literal:?} sets bit {bit}");
        }
        assert_eq!(Triggers::of("no credential shapes here").0, 0);
    }

    #[test]
    fn sensitive_names() {
        for k in [
            "password",
            "DB_PASSWORD",
            "PGPASSWORD",
            "apiKey",
            "api-key",
            "client_secret",
            "GITHUB_TOKEN",
            "access_token",
            "aws_secret_access_key",
            "Authorization",
            "credentials",
            "key",
            "private_key",
            "DATABASE_URL",
            "ssh_key",
        ] {
            assert!(is_sensitive_key(k), "{k} should be sensitive");
        }
        for k in [
            "namespace",
            "name",
            "author",
            "max_tokens",
            "secretName",
            "key_id",
            "primary_key",
            "query",
            "monkey",
            "keys",
        ] {
            assert!(!is_sensitive_key(k), "{k} should not be sensitive");
        }
    }

    #[test]
    fn json_by_name_and_shape() {
        let mut v = json!({
            "namespace": "production",
            "password": "hunter2",
            "nested": {"apiToken": "abc", "list": [{"client_secret": "s"}]},
            "dsn_hint": null,
            "sql": "SELECT 1",
            "url": "postgres://app:s3cr3t@db:5432/app",
        });
        let n = redact_json(&mut v);
        assert_eq!(n, 4);
        assert_eq!(v["namespace"], "production");
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["nested"]["apiToken"], REDACTED);
        assert_eq!(v["nested"]["list"][0]["client_secret"], REDACTED);
        assert_eq!(v["sql"], "SELECT 1");
        assert_eq!(v["url"], "postgres://app:[REDACTED]@db:5432/app");
    }

    #[test]
    fn multi_byte_text_around_secrets() {
        // Found by gateway/tests/robustness.rs: a multi-byte character before a separator.
        assert_eq!(redact_text("p\u{FFFD}ssword=x"), None);
        assert_eq!(
            redact_text("é password=x").unwrap(),
            "é password=[REDACTED]"
        );
        assert_eq!(redact_text("AKIAIOSFODNN7EX\u{FFFD}").as_deref(), None);
        assert_eq!(redact_text("AKIAIOSFODNN7EXAMPLEé").unwrap(), "[REDACTED]é");
    }

    #[test]
    fn name_value_pairs() {
        let mut v = json!({"env": [
            {"name": "GITHUB_TOKEN", "value": "abc"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"Key": "db_password", "Value": "p"}
        ]});
        assert_eq!(redact_json(&mut v), 2);
        assert_eq!(v["env"][0]["value"], REDACTED);
        assert_eq!(v["env"][1]["value"], "debug");
        assert_eq!(v["env"][2]["Value"], REDACTED);
        assert_eq!(v["env"][0]["name"], "GITHUB_TOKEN");
    }

    #[test]
    fn text_shapes() {
        assert_eq!(redact_text("nothing here"), None);
        assert_eq!(
            redact_text("host=db user=app password=s3cr3t dbname=x").unwrap(),
            "host=db user=app password=[REDACTED] dbname=x"
        );
        assert_eq!(
            redact_text("export PGPASSWORD='p w'").unwrap(),
            "export PGPASSWORD='[REDACTED]'"
        );
        assert_eq!(
            redact_text("Authorization: Bearer abc.def.ghi").unwrap(),
            "Authorization: [REDACTED]"
        );
        assert_eq!(
            redact_text("curl -H 'x: Bearer abc.def'").unwrap(),
            "curl -H 'x: Bearer [REDACTED]'"
        );
        assert_eq!(
            redact_text("key AKIAIOSFODNN7EXAMPLE used").unwrap(),
            "key [REDACTED] used"
        );
        assert_eq!(
            redact_text("redis://:pw@cache:6379/0").unwrap(),
            "redis://:[REDACTED]@cache:6379/0"
        );
        assert_eq!(
            redact_text("a -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- b")
                .unwrap(),
            "a [REDACTED] b"
        );
        assert_eq!(
            redact_text("token ghp_abcdefghijklmnop1234 and xoxb-123-456-abcdef").unwrap(),
            "token [REDACTED] and [REDACTED]"
        );
        // A URL without credentials is left alone.
        assert_eq!(redact_text("see https://example.com/a:b@c"), None);
        // Idempotent.
        let once = redact_text("password=x").unwrap();
        assert_eq!(redact_text(&once), None);
    }
}

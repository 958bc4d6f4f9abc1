//! Host and Origin checks against DNS rebinding and browser pages.
//!
//! Agents are not browsers: a request that carries an `Origin` header comes from a web page,
//! and is refused unless that origin is configured (`allowed_origins`, or the origin of one of
//! `allowed_hosts`). With `allowed_hosts` set, a request for any other Host is refused too, so
//! a DNS name rebound to the gateway's address gets nowhere even before authentication.

use std::borrow::Cow;

use http::HeaderMap;

use crate::config::Config;

/// Why a request was refused, or `Ok`.
pub fn check(
    config: &Config,
    headers: &HeaderMap,
    uri_authority: Option<&str>,
) -> Result<(), String> {
    let host = lowercase(
        headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or(uri_authority)
            .unwrap_or(""),
    );
    if !config.allowed_hosts.is_empty() && !host_allowed(&config.allowed_hosts, &host) {
        return Err(format!("Host `{host}` is not allowed"));
    }
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .map_err(|_| "Origin header is not ASCII".to_owned())?
        .trim_end_matches('/')
        .to_ascii_lowercase();
    if config.allowed_origins.contains(&origin) {
        return Ok(());
    }
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if !origin_host.is_empty() && host_allowed(&config.allowed_hosts, origin_host) {
        return Ok(());
    }
    Err(format!(
        "Origin `{origin}` is not allowed (browsers need allowed_origins)"
    ))
}

/// `s` in lower case, copied only when it has upper-case letters (a request's Host rarely
/// does).
fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `entry` with a port matches `host:port` exactly; without a port it matches the host part.
fn host_allowed(allowed: &[String], host: &str) -> bool {
    let bare = strip_port(host);
    allowed
        .iter()
        .any(|a| a == host || (strip_port(a) == a && a == bare))
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().map_or(h, |v6| &h[..v6.len() + 2]);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hosts: &[&str], origins: &[&str]) -> Config {
        let text = format!(
            "keys_file: /k\nbackends:\n  b: http://x/mcp\nroleMapping:\n  r: [b]\nallowed_hosts: {hosts:?}\nallowed_origins: {origins:?}\n"
        );
        Config::parse(&text).unwrap().0
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(http::header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts() {
        let c = config(
            &["localhost", "127.0.0.1", "[::1]", "gw.example.com:443"],
            &[],
        );
        assert!(check(&c, &headers("127.0.0.1:8080", None), None).is_ok());
        assert!(check(&c, &headers("LOCALHOST", None), None).is_ok());
        assert!(check(&c, &headers("[::1]:9", None), None).is_ok());
        assert!(check(&c, &headers("gw.example.com:443", None), None).is_ok());
        assert!(check(&c, &headers("gw.example.com:8443", None), None).is_err());
        assert!(check(&c, &headers("evil.example.com", None), None).is_err());
        assert!(check(&c, &headers("127.0.0.1.evil.com", None), None).is_err());
        let open = config(&[], &[]);
        assert!(check(&open, &headers("anything", None), None).is_ok());
    }

    #[test]
    fn origins() {
        let c = config(&["127.0.0.1"], &["https://console.example.com"]);
        assert!(
            check(
                &c,
                &headers("127.0.0.1:80", Some("http://127.0.0.1:80")),
                None
            )
            .is_ok()
        );
        assert!(
            check(
                &c,
                &headers("127.0.0.1:80", Some("https://console.example.com/")),
                None
            )
            .is_ok()
        );
        assert!(
            check(
                &c,
                &headers("127.0.0.1:80", Some("http://evil.example.com")),
                None
            )
            .is_err()
        );
        assert!(check(&c, &headers("127.0.0.1:80", Some("null")), None).is_err());
        // No configuration: no browser may call.
        let open = config(&[], &[]);
        assert!(check(&open, &headers("x", Some("http://x")), None).is_err());
        assert!(check(&open, &headers("x", None), None).is_ok());
    }
}

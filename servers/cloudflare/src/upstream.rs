//! The connection to the Cloudflare API v4: base URL, the scoped API token, and one request
//! path every tool uses (bounded body; Cloudflare's envelope and `errors[]` kept verbatim).

use std::path::PathBuf;
use std::time::Duration;

use http::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::error::{Error, Result};

/// Where the API is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    /// API base URL (tests point it at a local fake).
    #[arg(
        long,
        env = "CLOUDFLARE_API_URL",
        default_value = "https://api.cloudflare.com/client/v4"
    )]
    pub cloudflare_api_url: Url,

    /// Scoped API token (policies/cloudflare/); prefer the environment or the file.
    #[arg(long, env = "CLOUDFLARE_API_TOKEN", hide_env_values = true)]
    pub cloudflare_api_token: Option<String>,

    /// File holding the token; read on every request, so a rotated Secret is picked up.
    #[arg(long, env = "CLOUDFLARE_API_TOKEN_FILE")]
    pub cloudflare_api_token_file: Option<PathBuf>,

    /// Timeout of one API request.
    #[arg(long, env = "CLOUDFLARE_TIMEOUT", default_value = "30s", value_parser = mcp_common::args::parse_duration)]
    pub cloudflare_timeout: Duration,
}

#[derive(Clone)]
enum Token {
    Value(String),
    File(PathBuf),
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Value(_) => f.write_str("Token([REDACTED])"),
            Token::File(p) => write!(f, "Token(file {})", p.display()),
        }
    }
}

/// One answer: `result` and, for lists, `result_info` (page, per_page, count, total_count).
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: Value,
    pub result_info: Option<Value>,
}

const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: Url,
    token: Token,
}

impl Upstream {
    pub fn from_args(args: &UpstreamArgs) -> Result<Self> {
        let token = match (&args.cloudflare_api_token, &args.cloudflare_api_token_file) {
            (_, Some(f)) => Token::File(f.clone()),
            (Some(v), None) if !v.trim().is_empty() => Token::Value(v.trim().to_owned()),
            _ => {
                return Err(Error::setting(
                    "CLOUDFLARE_API_TOKEN",
                    "set CLOUDFLARE_API_TOKEN or CLOUDFLARE_API_TOKEN_FILE (a scoped API token)",
                ));
            }
        };
        Self::new(
            args.cloudflare_api_url.clone(),
            token,
            args.cloudflare_timeout,
        )
    }

    fn new(mut base: Url, token: Token, timeout: Duration) -> Result<Self> {
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::setting(
                "--cloudflare-api-url",
                format!("`{base}` is not an http(s) URL"),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::setting(
                "--cloudflare-api-url",
                "put the credential in CLOUDFLARE_API_TOKEN, not in the URL",
            ));
        }
        base.set_query(None);
        mcp_common::telemetry::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("mcp-cloudflare/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::HttpClient)?;
        Ok(Self { http, base, token })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `{base}/{segments...}?{query}`; each segment is percent-encoded.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("http(s) URLs have path segments");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Answer> {
        self.send(reqwest::Method::GET, segments, query, None).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let url = self.url(segments, query);
        let path = url.path().to_owned();
        let token = self.token().await?;
        let mut auth = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            Error::setting(
                "CLOUDFLARE_API_TOKEN",
                "the token is not a valid header value",
            )
        })?;
        auth.set_sensitive(true);
        let mut request = self.http.request(method, url).header(AUTHORIZATION, auth);
        if let Some(b) = body {
            request = request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let response = request.send().await.map_err(|source| Error::Connect {
            url: self.base.to_string(),
            source: source.without_url(),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let bytes = read_body(&path, response).await?;
        let parsed = serde_json::from_slice::<Value>(&bytes);
        let success = parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("success"))
            .and_then(Value::as_bool);
        if !(200..300).contains(&status) || success == Some(false) {
            let message = match &parsed {
                Ok(v) => {
                    errors_text(v).unwrap_or_else(|| snippet(&String::from_utf8_lossy(&bytes)))
                }
                Err(_) => snippet(&String::from_utf8_lossy(&bytes)),
            };
            return Err(Error::Api {
                status,
                message,
                retry_after,
            });
        }
        let mut v = parsed.map_err(|source| Error::Decode { path, source })?;
        // REST answers carry `result`; the GraphQL endpoint answers `{data, errors}`, kept whole.
        if v.get("result").is_none() {
            return Ok(Answer {
                result: v,
                result_info: None,
            });
        }
        Ok(Answer {
            result: v.get_mut("result").map(Value::take).unwrap_or(Value::Null),
            result_info: v.get_mut("result_info").map(Value::take),
        })
    }

    /// Readiness: the token verifies (`GET /user/tokens/verify`, allowed for every token).
    pub async fn check(&self) -> Result<()> {
        let a = self.get(&["user", "tokens", "verify"], &[]).await?;
        match a.result.get("status").and_then(Value::as_str) {
            Some("active") | None => Ok(()),
            Some(other) => Err(Error::Api {
                status: 401,
                message: format!("the API token is {other}"),
                retry_after: None,
            }),
        }
    }

    async fn token(&self) -> Result<String> {
        match &self.token {
            Token::Value(v) => Ok(v.clone()),
            Token::File(p) => tokio::fs::read_to_string(p)
                .await
                .map(|s| s.trim().to_owned())
                .map_err(|source| Error::ReadFile {
                    what: "the Cloudflare API token",
                    path: p.display().to_string(),
                    source,
                }),
        }
    }
}

async fn read_body(path: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
    let too_large = || Error::TooLarge {
        path: path.to_owned(),
        limit: MAX_RESPONSE_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|source| Error::Connect {
        url: path.to_owned(),
        source: source.without_url(),
    })? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Cloudflare's `errors: [{code, message, error_chain: [...]}]` as `code: message; ...`.
fn errors_text(v: &Value) -> Option<String> {
    let errors = v.get("errors")?.as_array()?;
    let mut parts = Vec::new();
    for e in errors {
        let code = e.get("code").map(|c| c.to_string()).unwrap_or_default();
        let msg = e.get("message").and_then(Value::as_str).unwrap_or_default();
        parts.push(format!("{code}: {msg}"));
        for c in e
            .get("error_chain")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let code = c.get("code").map(|c| c.to_string()).unwrap_or_default();
            let msg = c.get("message").and_then(Value::as_str).unwrap_or_default();
            parts.push(format!("{code}: {msg}"));
        }
    }
    (!parts.is_empty()).then(|| snippet(&parts.join("; ")))
}

fn snippet(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (cut, was_cut) = mcp_common::output::cut_str(&text, 400);
    if was_cut {
        format!("{cut}…")
    } else if cut.is_empty() {
        "(empty body)".into()
    } else {
        cut.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_cloudflare_codes() {
        let v = serde_json::json!({"success": false, "errors": [{"code": 6003, "message": "Invalid request headers", "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}], "messages": [], "result": null});
        assert_eq!(
            errors_text(&v).unwrap(),
            "6003: Invalid request headers; 6111: Invalid format for Authorization header"
        );
    }

    #[test]
    fn urls_encode_segments() {
        let u = Upstream::new(
            Url::parse("https://api.cloudflare.com/client/v4").unwrap(),
            Token::Value("t".into()),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            u.url(&["zones", "a/b", "dns_records"], &[("name", "x y")])
                .as_str(),
            "https://api.cloudflare.com/client/v4/zones/a%2Fb/dns_records?name=x+y"
        );
        assert!(format!("{u:?}").contains("REDACTED"));
    }
}

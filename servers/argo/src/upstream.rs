//! The connection to the Argo CD API server: where it is, the bearer token, and one request
//! path every tool uses (bounded body, Argo CD's JSON error body kept verbatim).

use std::path::PathBuf;
use std::time::Duration;

use http::header::{AUTHORIZATION, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result};

/// Where Argo CD is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    /// Argo CD API server base URL, e.g. `https://argocd-server.argocd.svc` (the part before `/api/v1`).
    #[arg(long, env = "ARGOCD_URL")]
    pub argocd_url: Url,

    /// Bearer token of the deployment's Argo CD account (`mcp-view` or `mcp-sync`); prefer the
    /// environment or the file over the command line.
    #[arg(long, env = "ARGOCD_AUTH_TOKEN", hide_env_values = true)]
    pub argocd_auth_token: Option<String>,

    /// File holding the token; read on every request, so a rotated Secret is picked up.
    #[arg(long, env = "ARGOCD_AUTH_TOKEN_FILE")]
    pub argocd_auth_token_file: Option<PathBuf>,

    /// Timeout of one request to Argo CD.
    #[arg(long, env = "ARGOCD_TIMEOUT", default_value = "30s", value_parser = mcp_common::args::parse_duration)]
    pub argocd_timeout: Duration,

    /// Largest answer read from Argo CD, in bytes (the tool result itself is capped by
    /// --max-output-bytes).
    #[arg(long, env = "ARGOCD_MAX_RESPONSE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub argocd_max_response_bytes: usize,
}

/// The token, given directly or read from a file on each use. Never printed.
#[derive(Clone)]
enum Token {
    None,
    Value(String),
    File(PathBuf),
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::None => f.write_str("Token(none)"),
            Token::Value(_) => f.write_str("Token([REDACTED])"),
            Token::File(p) => write!(f, "Token(file {})", p.display()),
        }
    }
}

/// The Argo CD API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: Url,
    token: Token,
    max_response_bytes: usize,
}

impl Upstream {
    pub fn from_args(args: &UpstreamArgs) -> Result<Self> {
        let token = match (&args.argocd_auth_token, &args.argocd_auth_token_file) {
            (_, Some(f)) => Token::File(f.clone()),
            (Some(v), None) if !v.trim().is_empty() => Token::Value(v.trim().to_owned()),
            _ => Token::None,
        };
        Self::new(
            args.argocd_url.clone(),
            token,
            args.argocd_timeout,
            args.argocd_max_response_bytes,
        )
    }

    /// A client with a fixed token (tests).
    pub fn with_token(base: Url, token: &str, timeout: Duration) -> Result<Self> {
        Self::new(
            base,
            Token::Value(token.to_owned()),
            timeout,
            32 * 1024 * 1024,
        )
    }

    fn new(
        mut base: Url,
        token: Token,
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Result<Self> {
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::setting(
                "--argocd-url",
                format!("`{base}` is not an http(s) URL"),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::setting(
                "--argocd-url",
                "put the credential in ARGOCD_AUTH_TOKEN, not in the URL",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        mcp_common::telemetry::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("mcp-argo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::HttpClient)?;
        Ok(Self {
            http,
            base,
            token,
            max_response_bytes,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn has_token(&self) -> bool {
        !matches!(self.token, Token::None)
    }

    /// `{base}api/v1/{segments...}?{query}`; each segment is percent-encoded.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("http(s) URLs have path segments");
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T> {
        self.send(reqwest::Method::GET, segments, query, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &serde_json::Value,
    ) -> Result<T> {
        self.send(reqwest::Method::POST, segments, &[], Some(body))
            .await
    }

    /// Readiness: the API answers and the token is accepted (`/api/v1/session/userinfo`).
    pub async fn check(&self) -> Result<()> {
        let info: serde_json::Value = self.get(&["session", "userinfo"], &[]).await?;
        if info.get("loggedIn").and_then(serde_json::Value::as_bool) == Some(false) {
            return Err(Error::Api {
                status: 401,
                message: "the token is not logged in".into(),
                retry_after: None,
            });
        }
        Ok(())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let url = self.url(segments, query);
        let path = url.path().to_owned();
        let mut request = self.http.request(method, url);
        if let Some(token) = self.token().await? {
            let mut v = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
                Error::setting("ARGOCD_AUTH_TOKEN", "the token is not a valid header value")
            })?;
            v.set_sensitive(true);
            request = request.header(AUTHORIZATION, v);
        }
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
        let bytes = self.read_body(&path, response).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Api {
                status,
                message: error_message(&bytes),
                retry_after,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { path, source })
    }

    async fn token(&self) -> Result<Option<String>> {
        match &self.token {
            Token::None => Ok(None),
            Token::Value(v) => Ok(Some(v.clone())),
            Token::File(p) => tokio::fs::read_to_string(p)
                .await
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|source| Error::ReadFile {
                    what: "the Argo CD token",
                    path: p.display().to_string(),
                    source,
                }),
        }
    }

    async fn read_body(&self, path: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let too_large = || Error::TooLarge {
            path: path.to_owned(),
            limit: self.max_response_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_response_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|source| Error::Connect {
            url: self.base.to_string(),
            source: source.without_url(),
        })? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Argo CD's error body is `{"error": "...", "code": 7, "message": "..."}` (grpc-gateway);
/// anything else (a proxy's page) is shown as the start of the body, on one line.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error"] {
            if let Some(m) = v.get(key).and_then(serde_json::Value::as_str)
                && !m.is_empty()
            {
                return snippet(m);
            }
        }
    }
    snippet(&String::from_utf8_lossy(body))
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
    fn urls_encode_segments() {
        let u = Upstream::with_token(
            Url::parse("https://argocd.example/prefix").unwrap(),
            "t",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            u.url(&["applications", "a/b"], &[("appNamespace", "x y")])
                .as_str(),
            "https://argocd.example/prefix/api/v1/applications/a%2Fb?appNamespace=x+y"
        );
        assert!(format!("{u:?}").contains("REDACTED"));
        assert!(
            Upstream::with_token(
                Url::parse("http://u:p@x/").unwrap(),
                "t",
                Duration::from_secs(1)
            )
            .is_err()
        );
    }

    #[test]
    fn error_bodies_keep_argo_text() {
        assert_eq!(
            error_message(br#"{"error":"x","code":7,"message":"permission denied: applications, sync, default/guestbook, sub: mcp-view"}"#),
            "permission denied: applications, sync, default/guestbook, sub: mcp-view"
        );
        assert_eq!(
            error_message(b"<html>\n bad gateway </html>"),
            "<html> bad gateway </html>"
        );
        assert_eq!(error_message(b""), "(empty body)");
    }
}

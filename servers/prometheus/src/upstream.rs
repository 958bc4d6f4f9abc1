//! The connection to Prometheus: where it is, how to authenticate, and one request path that
//! every tool uses (bounded body, Prometheus's JSON envelope, its errors kept verbatim).
//!
//! `prometheus-http-query` provides the API model (query results, targets, alerts, metadata and
//! Prometheus's error type). Requests are sent here rather than through its `Client` because
//! that client has no per-request hook, and SigV4 signs each request (method, URL, time, body).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use prometheus_http_query::error::PrometheusError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result};
use crate::sigv4::SigV4Signer;

/// Where Prometheus is and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    /// Prometheus base URL (the part before `/api/v1`), e.g. `http://prometheus:9090` or an
    /// Amazon Managed Prometheus workspace URL `https://aps-workspaces.REGION.amazonaws.com/workspaces/ws-ID`.
    #[arg(long, env = "PROMETHEUS_URL")]
    pub prometheus_url: Url,

    /// Bearer token (prefer the file or the environment over the command line).
    #[arg(long, env = "PROMETHEUS_BEARER_TOKEN", hide_env_values = true)]
    pub prometheus_bearer_token: Option<String>,

    /// File holding a bearer token; read on every request, so a rotated token is picked up.
    #[arg(long, env = "PROMETHEUS_BEARER_TOKEN_FILE")]
    pub prometheus_bearer_token_file: Option<PathBuf>,

    /// Basic auth user name.
    #[arg(long, env = "PROMETHEUS_BASIC_AUTH_USER")]
    pub prometheus_basic_auth_user: Option<String>,

    /// Basic auth password.
    #[arg(long, env = "PROMETHEUS_BASIC_AUTH_PASSWORD", hide_env_values = true)]
    pub prometheus_basic_auth_password: Option<String>,

    /// File holding the basic auth password; read on every request.
    #[arg(long, env = "PROMETHEUS_BASIC_AUTH_PASSWORD_FILE")]
    pub prometheus_basic_auth_password_file: Option<PathBuf>,

    /// Extra request header `Name: value` (repeat, or comma-separate in the environment), e.g.
    /// `X-Scope-OrgID: team-a` for Mimir, Cortex or Thanos tenants.
    #[arg(
        long = "prometheus-header",
        env = "PROMETHEUS_HEADERS",
        value_delimiter = ','
    )]
    pub prometheus_headers: Vec<String>,

    /// PEM file of CA certificates to trust in addition to the system's (private CAs).
    #[arg(long, env = "PROMETHEUS_CA_FILE")]
    pub prometheus_ca_file: Option<PathBuf>,

    /// Sign requests with AWS SigV4 (Amazon Managed Prometheus), using the pod's AWS
    /// credentials (IRSA, EKS Pod Identity, environment, instance profile).
    #[arg(long, env = "PROMETHEUS_SIGV4")]
    pub prometheus_sigv4: bool,

    /// Region for SigV4 (default: `AWS_REGION` / the AWS config).
    #[arg(long, env = "PROMETHEUS_SIGV4_REGION")]
    pub prometheus_sigv4_region: Option<String>,

    /// Service name for SigV4.
    #[arg(long, env = "PROMETHEUS_SIGV4_SERVICE", default_value = "aps")]
    pub prometheus_sigv4_service: String,

    /// Timeout of one request to Prometheus; also sent as the query `timeout`, so Prometheus
    /// stops evaluating when nobody waits for the answer any more.
    #[arg(long, env = "PROMETHEUS_TIMEOUT", default_value = "30s", value_parser = mcp_common::args::parse_duration)]
    pub prometheus_timeout: Duration,

    /// Largest answer read from Prometheus, in bytes; larger answers fail with a hint to narrow
    /// the query (the tool result itself is capped by --max-output-bytes).
    #[arg(long, env = "PROMETHEUS_MAX_RESPONSE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub prometheus_max_response_bytes: usize,
}

/// A secret given directly or read from a file on each use (mounted Secrets rotate in place).
#[derive(Clone)]
enum Secret {
    Value(String),
    File(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Value(_) => f.write_str("Secret([REDACTED])"),
            Secret::File(p) => write!(f, "Secret(file {})", p.display()),
        }
    }
}

impl Secret {
    fn pick(value: Option<String>, file: Option<PathBuf>) -> Option<Self> {
        match (value, file) {
            (_, Some(f)) => Some(Secret::File(f)),
            (Some(v), None) => Some(Secret::Value(v)),
            (None, None) => None,
        }
    }

    async fn get(&self, what: &'static str) -> Result<String> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::File(p) => tokio::fs::read_to_string(p)
                .await
                .map(|s| s.trim().to_owned())
                .map_err(|source| Error::ReadFile {
                    what,
                    path: p.display().to_string(),
                    source,
                }),
        }
    }
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Bearer(Secret),
    Basic { user: String, password: Secret },
    SigV4(Arc<SigV4Signer>),
}

impl Auth {
    fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer(_) => "bearer",
            Auth::Basic { .. } => "basic",
            Auth::SigV4(_) => "sigv4",
        }
    }
}

/// Prometheus's answer envelope: `{"status":"success","data":...,"warnings":[...]}` or
/// `{"status":"error","errorType":"bad_data","error":"..."}`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// A successful answer: the data and Prometheus's warnings (which the tools pass on).
#[derive(Debug)]
pub struct Answer<T> {
    pub data: T,
    pub warnings: Vec<String>,
}

/// The configured Prometheus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    headers: HeaderMap,
    timeout: Duration,
    max_response_bytes: usize,
}

/// URL query encoding with `%20` for spaces and everything but RFC 3986 unreserved characters
/// escaped: what SigV4's canonical form expects, and what every HTTP server decodes.
pub(crate) fn encode_query(params: &[(&str, &str)]) -> String {
    fn enc(out: &mut String, s: &str) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(&mut out, k);
        out.push('=');
        enc(&mut out, v);
    }
    out
}

fn parse_header(h: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = h.split_once(':').ok_or_else(|| {
        Error::setting("--prometheus-header", format!("`{h}` is not `Name: value`"))
    })?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|e| Error::setting("--prometheus-header", format!("`{name}`: {e}")))?;
    if name == AUTHORIZATION || name == http::header::HOST {
        return Err(Error::setting(
            "--prometheus-header",
            format!("set `{name}` through the auth options, not as an extra header"),
        ));
    }
    let mut value = HeaderValue::try_from(value.trim())
        .map_err(|e| Error::setting("--prometheus-header", format!("`{name}`: {e}")))?;
    value.set_sensitive(true);
    Ok((name, value))
}

impl Upstream {
    /// Builds the client from the flags. SigV4 resolves the AWS credential chain here (no
    /// network call yet: credentials are fetched on the first request).
    pub async fn from_args(args: &UpstreamArgs) -> Result<Self> {
        let auth_count = [
            args.prometheus_bearer_token.is_some() || args.prometheus_bearer_token_file.is_some(),
            args.prometheus_basic_auth_user.is_some(),
            args.prometheus_sigv4,
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if auth_count > 1 {
            return Err(Error::setting(
                "prometheus auth",
                "choose one of bearer token, basic auth or SigV4",
            ));
        }
        let auth = if args.prometheus_sigv4 {
            Auth::SigV4(Arc::new(
                SigV4Signer::from_environment(
                    args.prometheus_sigv4_region.clone(),
                    args.prometheus_sigv4_service.clone(),
                )
                .await?,
            ))
        } else if let Some(user) = &args.prometheus_basic_auth_user {
            let password = Secret::pick(
                args.prometheus_basic_auth_password.clone(),
                args.prometheus_basic_auth_password_file.clone(),
            )
            .ok_or_else(|| {
                Error::setting(
                    "--prometheus-basic-auth-password",
                    "a basic auth user needs a password (or a password file)",
                )
            })?;
            Auth::Basic {
                user: user.clone(),
                password,
            }
        } else if let Some(token) = Secret::pick(
            args.prometheus_bearer_token.clone(),
            args.prometheus_bearer_token_file.clone(),
        ) {
            Auth::Bearer(token)
        } else {
            Auth::None
        };
        let mut headers = HeaderMap::new();
        for h in &args.prometheus_headers {
            if h.trim().is_empty() {
                continue;
            }
            let (name, value) = parse_header(h)?;
            headers.append(name, value);
        }
        let mut ca = Vec::new();
        if let Some(path) = &args.prometheus_ca_file {
            let pem = std::fs::read(path).map_err(|source| Error::ReadFile {
                what: "the CA certificates",
                path: path.display().to_string(),
                source,
            })?;
            ca = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::setting("--prometheus-ca-file", format!("{}: {e}", path.display()))
            })?;
            if ca.is_empty() {
                return Err(Error::setting(
                    "--prometheus-ca-file",
                    format!("{}: no PEM certificate found", path.display()),
                ));
            }
        }
        Self::new(
            args.prometheus_url.clone(),
            auth,
            headers,
            ca,
            args.prometheus_timeout,
            args.prometheus_max_response_bytes,
        )
    }

    fn new(
        mut base: Url,
        auth: Auth,
        headers: HeaderMap,
        ca: Vec<reqwest::Certificate>,
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Result<Self> {
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::setting(
                "--prometheus-url",
                format!("`{base}` is not an http(s) URL"),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::setting(
                "--prometheus-url",
                "put credentials in the basic auth options, not in the URL",
            ));
        }
        // `join` replaces the last path segment unless the base ends with a slash.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        // reqwest is built without a crypto provider of its own; make sure ring is the
        // process default before the first TLS handshake (idempotent).
        mcp_common::telemetry::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout + Duration::from_secs(5))
            .user_agent(concat!("mcp-prometheus/", env!("CARGO_PKG_VERSION")));
        if !ca.is_empty() {
            builder = builder.tls_certs_merge(ca);
        }
        let http = builder.build().map_err(Error::HttpClient)?;
        Ok(Self {
            http,
            base,
            auth,
            headers,
            timeout,
            max_response_bytes,
        })
    }

    /// A plain client for tests and tools that need no auth.
    pub fn plain(base: Url, timeout: Duration) -> Result<Self> {
        Self::new(
            base,
            Auth::None,
            HeaderMap::new(),
            Vec::new(),
            timeout,
            32 * 1024 * 1024,
        )
    }

    /// A client that signs with `signer` (tests use static credentials).
    pub fn with_sigv4(base: Url, signer: SigV4Signer, timeout: Duration) -> Result<Self> {
        Self::new(
            base,
            Auth::SigV4(Arc::new(signer)),
            HeaderMap::new(),
            Vec::new(),
            timeout,
            32 * 1024 * 1024,
        )
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The query timeout sent to Prometheus (`timeout=` parameter), in Prometheus's format.
    pub fn query_timeout(&self) -> String {
        crate::timeparse::format_duration(self.timeout.as_secs_f64().max(1.0).floor())
    }

    pub fn auth_kind(&self) -> &'static str {
        self.auth.kind()
    }

    /// `GET {base}{path}?{params}`, decoded from Prometheus's envelope.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Answer<T>> {
        let mut url = self.base.join(path).map_err(|e| {
            Error::setting("--prometheus-url", format!("cannot join `{path}`: {e}"))
        })?;
        let query = encode_query(params);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        let headers = self.request_headers(&url).await?;
        let response = self
            .http
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|source| Error::Connect {
                url: self.base.to_string(),
                source: source.without_url(),
            })?;
        let status = response.status();
        let body = self.read_body(path, response).await?;
        decode(path, status.as_u16(), &body)
    }

    /// Readiness: Prometheus evaluates a constant. Works on Prometheus, Thanos, Mimir and
    /// Amazon Managed Prometheus alike (not all of them have `/-/ready`), and proves the
    /// credentials too.
    pub async fn check(&self) -> Result<()> {
        let _: Answer<serde_json::Value> = self.get("api/v1/query", &[("query", "1")]).await?;
        Ok(())
    }

    async fn request_headers(&self, url: &Url) -> Result<HeaderMap> {
        let mut headers = self.headers.clone();
        let authorization = match &self.auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {}", token.get("the bearer token").await?)),
            Auth::Basic { user, password } => {
                let password = password.get("the basic auth password").await?;
                let raw = format!("{user}:{password}");
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Auth::SigV4(signer) => {
                for (name, value) in signer.sign("GET", url, &headers, b"").await? {
                    headers.insert(name, value);
                }
                None
            }
        };
        if let Some(a) = authorization {
            let mut v = HeaderValue::try_from(a).map_err(|_| {
                Error::setting(
                    "prometheus auth",
                    "the credential is not a valid header value",
                )
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        Ok(headers)
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

/// Decodes Prometheus's envelope; keeps Prometheus's own error; anything else (a proxy's
/// HTML or text page) becomes an HTTP status error with the start of the body.
fn decode<T: DeserializeOwned>(path: &str, status: u16, body: &[u8]) -> Result<Answer<T>> {
    match serde_json::from_slice::<Envelope<T>>(body) {
        Ok(env) if env.status == "success" => match env.data {
            Some(data) => Ok(Answer {
                data,
                warnings: env.warnings,
            }),
            None => Err(Error::Status {
                status,
                body: "success without data".into(),
            }),
        },
        Ok(env) if env.status == "error" => {
            let error = serde_json::json!({
                "errorType": env.error_type.unwrap_or_else(|| "internal".into()),
                "error": env.error.unwrap_or_default(),
            });
            match serde_json::from_value::<PrometheusError>(error) {
                Ok(e) => Err(Error::Prometheus(e)),
                Err(_) => Err(Error::Status {
                    status,
                    body: snippet(body),
                }),
            }
        }
        Ok(_) => Err(Error::Status {
            status,
            body: snippet(body),
        }),
        Err(_) if !(200..300).contains(&status) => Err(Error::Status {
            status,
            body: snippet(body),
        }),
        Err(source) => Err(Error::Decode {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The start of a body, on one line, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (cut, was_cut) = mcp_common::output::cut_str(&text, 300);
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
    fn query_encoding_is_canonical() {
        assert_eq!(
            encode_query(&[("query", "rate(x{a=~\"b.*\"}[5m]) > 0"), ("time", "1.5")]),
            "query=rate%28x%7Ba%3D~%22b.%2A%22%7D%5B5m%5D%29%20%3E%200&time=1.5"
        );
        assert_eq!(encode_query(&[]), "");
    }

    #[test]
    fn envelope_errors_keep_prometheus_text() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \")\""}"#;
        let e = decode::<serde_json::Value>("api/v1/query", 400, body).unwrap_err();
        let Error::Prometheus(p) = &e else {
            panic!("{e:?}")
        };
        assert!(p.is_bad_data());
        assert!(e.to_string().contains("parse error"), "{e}");
        let e = decode::<serde_json::Value>("api/v1/query", 403, b"<html>Forbidden</html>")
            .unwrap_err();
        assert!(matches!(e, Error::Status { status: 403, .. }), "{e:?}");
        let e = decode::<serde_json::Value>("api/v1/query", 200, b"not json").unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        let ok = decode::<Vec<u8>>(
            "x",
            200,
            br#"{"status":"success","data":[1,2],"warnings":["w"]}"#,
        )
        .unwrap();
        assert_eq!(ok.data, [1, 2]);
        assert_eq!(ok.warnings, ["w"]);
    }

    #[test]
    fn headers_parse_and_refuse_credentials() {
        let (n, v) = parse_header("X-Scope-OrgID: team-a").unwrap();
        assert_eq!(n, "x-scope-orgid");
        assert_eq!(v, "team-a");
        assert!(parse_header("Authorization: Bearer x").is_err());
        assert!(parse_header("no colon").is_err());
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        let u = Upstream::plain(
            Url::parse("https://aps.example/workspaces/ws-1").unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            u.base_url().join("api/v1/query").unwrap().as_str(),
            "https://aps.example/workspaces/ws-1/api/v1/query"
        );
        assert!(Upstream::plain(Url::parse("ftp://x/").unwrap(), Duration::from_secs(1)).is_err());
        assert!(
            Upstream::plain(Url::parse("http://u:p@x/").unwrap(), Duration::from_secs(1)).is_err()
        );
    }
}

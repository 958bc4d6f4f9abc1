//! The GitHub client (octocrab on rustls + ring), its credentials and the `--repos` allow-list.

use serde_json::Value;

use crate::error::{Error, Result};

/// Where GitHub is, how to authenticate, and which repositories the pod may touch.
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    /// REST API base URL; `https://HOST/api/v3` for GitHub Enterprise Server.
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,

    /// Token (fine-grained personal access token or installation token); never logged.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,

    /// Repositories the pod may touch: `org/repo` or `org/*` (repeat or comma-separate).
    /// Empty: every repository the token can see.
    #[arg(long = "repos", env = "GITHUB_REPOS", value_delimiter = ',')]
    pub repos: Vec<String>,
}

/// The GitHub client. Cheap to clone.
#[derive(Clone)]
pub struct Upstream {
    client: octocrab::Octocrab,
    api_url: String,
    allow: Vec<String>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("api_url", &self.api_url)
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub fn from_args(args: &UpstreamArgs) -> Result<Self> {
        mcp_common::telemetry::install_crypto_provider();
        let url = url::Url::parse(&args.github_api_url).map_err(|e| Error::Setting {
            name: "--github-api-url",
            reason: format!("`{}`: {e}", args.github_api_url),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Setting {
                name: "--github-api-url",
                reason: "use an http(s) URL".into(),
            });
        }
        let mut allow = Vec::new();
        for r in &args.repos {
            let r = r.trim();
            if r.is_empty() {
                continue;
            }
            let ok = r
                .split_once('/')
                .is_some_and(|(o, n)| valid_part(o) && (n == "*" || valid_part(n)));
            if !ok {
                return Err(Error::Setting {
                    name: "--repos",
                    reason: format!("`{r}` is not `org/repo` or `org/*`"),
                });
            }
            allow.push(r.to_ascii_lowercase());
        }
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(url.as_str())
            .map_err(Error::Client)?;
        if let Some(t) = args
            .github_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            builder = builder.personal_token(t.trim().to_owned());
        }
        let client = builder.build().map_err(Error::Client)?;
        Ok(Self {
            client,
            api_url: url.to_string(),
            allow,
        })
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    pub fn allow_list(&self) -> &[String] {
        &self.allow
    }

    /// Whether `owner/name` is on the allow-list (always, when the list is empty).
    pub fn allowed(&self, repo: &str) -> bool {
        let repo = repo.to_ascii_lowercase();
        self.allow.is_empty()
            || self.allow.iter().any(|a| match a.strip_suffix("/*") {
                Some(org) => repo.split_once('/').is_some_and(|(o, _)| o == org),
                None => *a == repo,
            })
    }

    /// `GET {route}` with query `params`, as JSON.
    pub async fn get(&self, route: &str, params: &[(&str, String)]) -> Result<Value> {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v: Value = if params.is_empty() {
            self.client.get(route, None::<&()>).await?
        } else {
            self.client.get(route, Some(&params)).await?
        };
        Ok(v)
    }

    /// `POST {route}` with a JSON body, as JSON.
    pub async fn post(&self, route: &str, body: &Value) -> Result<Value> {
        let v: Value = self.client.post(route, Some(body)).await?;
        Ok(v)
    }

    /// `GET {route}` as text (job logs; GitHub redirects to blob storage, which is followed).
    pub async fn get_text(&self, route: &str) -> Result<String> {
        let response = self.client._get(route).await?;
        let status = response.status().as_u16();
        let response = octocrab::map_github_error(response).await?;
        let text = self.client.body_to_string(response).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Api {
                status,
                message: text,
            });
        }
        Ok(text)
    }

    /// Readiness: GitHub answers `/rate_limit` (free: it does not count against the limit).
    pub async fn check(&self) -> Result<()> {
        self.get("/rate_limit", &[]).await.map(|_| ())
    }
}

/// GitHub owner and repository names: letters, digits, `-`, `_`, `.`.
pub fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

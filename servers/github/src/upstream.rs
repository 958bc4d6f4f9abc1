//! The GitHub client (octocrab on rustls + ring), its credentials (token or GitHub App
//! installation) and the `--repos` allow-list.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};

/// Where GitHub is, how to authenticate, and which repositories the pod may touch.
///
/// Two ways to authenticate, exactly one of them (or none, for public repositories):
/// - a token: `GITHUB_TOKEN` / `--github-token`, or `--token-file` (a fine-grained personal
///   access token);
/// - a GitHub App installation (the production choice): `--app-id` plus the App's private key
///   (`--app-private-key-file`, or the PEM itself in `GITHUB_APP_PRIVATE_KEY`) and
///   `--installation-id`, or without it the installation of the one owner named in `--repos`,
///   looked up through the API. Installation tokens are minted on first use and renewed before
///   they expire (octocrab).
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    /// REST API base URL; `https://HOST/api/v3` for GitHub Enterprise Server.
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,

    /// Token (fine-grained personal access token or installation token); never logged.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,

    /// File holding the token (a mounted Secret); read once at startup.
    #[arg(long, env = "GITHUB_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,

    /// GitHub App id: authenticate as an installation of this App instead of with a token.
    #[arg(long, env = "GITHUB_APP_ID")]
    pub app_id: Option<u64>,

    /// The GitHub App's private key (PEM file, as downloaded from the App's settings).
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY_FILE")]
    pub app_private_key_file: Option<std::path::PathBuf>,

    /// The GitHub App's private key itself (PEM); meant for the environment
    /// (`GITHUB_APP_PRIVATE_KEY` from a Secret), never logged.
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY", hide_env_values = true)]
    pub app_private_key: Option<String>,

    /// Installation id of the App. Default: the App's installation on the one owner named in
    /// `--repos`, looked up on first use.
    #[arg(long, env = "GITHUB_APP_INSTALLATION_ID")]
    pub installation_id: Option<u64>,

    /// Repositories the pod may touch: `org/repo` or `org/*` (repeat or comma-separate).
    /// Empty: every repository the token can see.
    #[arg(long = "repos", env = "GITHUB_REPOS", value_delimiter = ',')]
    pub repos: Vec<String>,
}

/// How requests are authenticated.
#[derive(Clone)]
enum Auth {
    /// A token (`kind` "token"), or nothing ("none"): the client is ready.
    Ready {
        client: octocrab::Octocrab,
        kind: &'static str,
    },
    /// A GitHub App: `app` signs JWTs; the installation client is built on first use (after
    /// looking the installation up when no id was given) and mints its own tokens.
    App {
        app: octocrab::Octocrab,
        installation: Option<u64>,
        /// Repository names the installation token is limited to (all entries of `--repos`
        /// when they name single repositories of one owner).
        scope: Option<Vec<String>>,
        client: Arc<tokio::sync::OnceCell<octocrab::Octocrab>>,
    },
}

/// The GitHub client. Cheap to clone.
#[derive(Clone)]
pub struct Upstream {
    auth: Auth,
    api_url: String,
    allow: Vec<String>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("api_url", &self.api_url)
            .field("auth", &self.auth_kind())
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

fn setting(name: &'static str, reason: impl Into<String>) -> Error {
    Error::Setting {
        name,
        reason: reason.into(),
    }
}

fn read_secret_file(name: &'static str, path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| setting(name, format!("{}: {e}", path.display())))
}

impl Upstream {
    pub fn from_args(args: &UpstreamArgs) -> Result<Self> {
        mcp_common::telemetry::install_crypto_provider();
        let url = url::Url::parse(&args.github_api_url).map_err(|e| {
            setting(
                "--github-api-url",
                format!("`{}`: {e}", args.github_api_url),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(setting("--github-api-url", "use an http(s) URL"));
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
                return Err(setting(
                    "--repos",
                    format!("`{r}` is not `org/repo` or `org/*`"),
                ));
            }
            allow.push(r.to_ascii_lowercase());
        }
        let builder = || {
            octocrab::Octocrab::builder()
                .base_uri(url.as_str())
                .map_err(Error::Client)
        };

        let token = match (&args.github_token, &args.token_file) {
            (Some(t), Some(_)) if !t.trim().is_empty() => {
                return Err(setting(
                    "--token-file",
                    "give the token either in GITHUB_TOKEN or in a file, not both",
                ));
            }
            (_, Some(path)) => {
                let t = read_secret_file("--token-file", path)?;
                if t.trim().is_empty() {
                    return Err(setting(
                        "--token-file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Some(t.trim().to_owned())
            }
            (Some(t), None) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
            (None, None) => None,
        };
        let key = match (&args.app_private_key_file, &args.app_private_key) {
            (Some(_), Some(k)) if !k.trim().is_empty() => {
                return Err(setting(
                    "--app-private-key-file",
                    "give the App's private key either as a file or in GITHUB_APP_PRIVATE_KEY, not both",
                ));
            }
            (Some(path), _) => Some(read_secret_file("--app-private-key-file", path)?),
            (None, Some(k)) => Some(k.clone()).filter(|k| !k.trim().is_empty()),
            (None, None) => None,
        };

        let auth = match (args.app_id, key) {
            (None, None) => {
                if args.installation_id.is_some() {
                    return Err(setting(
                        "--installation-id",
                        "an installation id needs --app-id and the App's private key",
                    ));
                }
                let mut b = builder()?;
                let kind = if token.is_some() { "token" } else { "none" };
                if let Some(t) = token {
                    b = b.personal_token(t);
                }
                Auth::Ready {
                    client: b.build().map_err(Error::Client)?,
                    kind,
                }
            }
            (Some(_), None) => {
                return Err(setting(
                    "--app-private-key-file",
                    "--app-id needs the App's private key (--app-private-key-file or GITHUB_APP_PRIVATE_KEY)",
                ));
            }
            (None, Some(_)) => {
                return Err(setting("--app-id", "the App's private key needs --app-id"));
            }
            (Some(app_id), Some(pem)) => {
                if token.is_some() {
                    return Err(setting(
                        "--app-id",
                        "choose one credential: a token (GITHUB_TOKEN / --token-file) or a GitHub App, not both",
                    ));
                }
                let key = octocrab::auth::EncodingKey::from_rsa_pem(pem.trim().as_bytes())
                    .map_err(|e| {
                        setting(
                            "--app-private-key-file",
                            format!("not an RSA private key in PEM form: {e}"),
                        )
                    })?;
                let app = builder()?
                    .app(octocrab::models::AppId(app_id), key)
                    .build()
                    .map_err(Error::Client)?;
                let owners = owners(&allow);
                if args.installation_id.is_none() && owners.len() != 1 {
                    return Err(setting(
                        "--installation-id",
                        "give the App's installation id, or a --repos allow-list naming exactly one owner (its installation is looked up)",
                    ));
                }
                // Defense in depth: a token that can only reach the allow-listed repositories.
                let scope =
                    (owners.len() == 1 && allow.iter().all(|a| !a.ends_with("/*"))).then(|| {
                        allow
                            .iter()
                            .filter_map(|a| a.split_once('/').map(|(_, n)| n.to_owned()))
                            .collect::<Vec<_>>()
                    });
                Auth::App {
                    app,
                    installation: args.installation_id,
                    scope,
                    client: Arc::new(tokio::sync::OnceCell::new()),
                }
            }
        };
        Ok(Self {
            auth,
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

    /// `token`, `github-app` or `none`, for the startup log.
    pub fn auth_kind(&self) -> &'static str {
        match &self.auth {
            Auth::Ready { kind, .. } => kind,
            Auth::App { .. } => "github-app",
        }
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

    /// The client requests go through: for a GitHub App, the installation client (looked up
    /// and built once). Borrowed, never cloned: a clone of an installation client would start
    /// with an empty token cache and mint a new token per request.
    async fn client(&self) -> Result<&octocrab::Octocrab> {
        match &self.auth {
            Auth::Ready { client, .. } => Ok(client),
            Auth::App {
                app,
                installation,
                scope,
                client,
            } => client
                .get_or_try_init(|| async {
                    let id = match installation {
                        Some(id) => *id,
                        None => self.find_installation(app).await?,
                    };
                    let mut b = app.installation_builder(octocrab::models::InstallationId(id));
                    if let Some(names) = scope {
                        b = b.repositories(names.clone());
                    }
                    let c = b.build().map_err(Error::Client)?;
                    tracing::info!(installation = id, scope = ?scope, "github app installation");
                    Ok(c)
                })
                .await,
        }
    }

    /// The App's installation on the one owner of the allow-list: the organization's, else
    /// the user's.
    async fn find_installation(&self, app: &octocrab::Octocrab) -> Result<u64> {
        let owner = owners(&self.allow).into_iter().next().unwrap_or_default();
        let mut last = None;
        for route in [
            format!("/orgs/{owner}/installation"),
            format!("/users/{owner}/installation"),
        ] {
            match app
                .get::<Value, _, ()>(&route, None)
                .await
                .map_err(Error::from)
            {
                Ok(v) => {
                    return v.get("id").and_then(Value::as_u64).ok_or_else(|| {
                        Error::Auth(format!(
                            "GitHub answered {route} without an installation id"
                        ))
                    });
                }
                Err(Error::Api { status: 404, .. }) => last = Some(route),
                Err(e) => {
                    return Err(Error::Auth(format!(
                        "looking up the GitHub App installation on {owner} failed: {e}"
                    )));
                }
            }
        }
        Err(Error::Auth(format!(
            "the GitHub App is not installed on {owner} (GitHub answered 404 for {}); install it there or set --installation-id",
            last.unwrap_or_default()
        )))
    }

    /// `GET {route}` with query `params`, as JSON.
    pub async fn get(&self, route: &str, params: &[(&str, String)]) -> Result<Value> {
        let client = self.client().await?;
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v: Value = if params.is_empty() {
            client.get(route, None::<&()>).await?
        } else {
            client.get(route, Some(&params)).await?
        };
        Ok(v)
    }

    /// `POST {route}` with a JSON body, as JSON.
    pub async fn post(&self, route: &str, body: &Value) -> Result<Value> {
        let v: Value = self.client().await?.post(route, Some(body)).await?;
        Ok(v)
    }

    /// `GET {route}` as text (job logs; GitHub redirects to blob storage, which is followed).
    pub async fn get_text(&self, route: &str) -> Result<String> {
        let client = self.client().await?;
        let response = client._get(route).await?;
        let response = octocrab::map_github_error(response).await?;
        Ok(client.body_to_string(response).await?)
    }

    /// Readiness: GitHub answers `/rate_limit` (free: it does not count against the limit).
    /// With a GitHub App this also mints the installation token.
    pub async fn check(&self) -> Result<()> {
        self.get("/rate_limit", &[]).await.map(|_| ())
    }
}

/// The distinct owners named in the allow-list.
fn owners(allow: &[String]) -> Vec<String> {
    let mut owners: Vec<String> = allow
        .iter()
        .filter_map(|a| a.split_once('/').map(|(o, _)| o.to_owned()))
        .collect();
    owners.sort();
    owners.dedup();
    owners
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

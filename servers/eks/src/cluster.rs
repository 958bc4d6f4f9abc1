//! Where the cluster is and how to authenticate: in-cluster config or `KUBECONFIG` (kube's
//! inference), or `--eks-cluster NAME --region R`: endpoint and CA from the EKS API, bearer
//! token from the pod's IRSA credentials (see [`crate::token`]), refreshed before it expires.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use base64::Engine;
use kube::{Client, Config};
use tokio::sync::Mutex;

use crate::error::{Error, KubeResultExt, Op, Result};
use crate::token;

/// Cluster access settings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Reach this EKS cluster (endpoint and CA from the EKS API, token from the pod's AWS
    /// credentials) instead of the in-cluster config / KUBECONFIG.
    #[arg(long, env = "MCP_EKS_CLUSTER")]
    pub eks_cluster: Option<String>,

    /// AWS region of `--eks-cluster` (default: AWS_REGION).
    #[arg(long, env = "MCP_EKS_REGION")]
    pub region: Option<String>,

    /// EKS API endpoint override (default: the regional endpoint; AWS_ENDPOINT_URL_EKS works too).
    #[arg(long, env = "AWS_ENDPOINT_URL_EKS", hide = true)]
    pub eks_api_url: Option<String>,

    /// Timeout of one request to the Kubernetes API.
    #[arg(long, env = "MCP_EKS_REQUEST_TIMEOUT", default_value = "15s", value_parser = mcp_common::args::parse_duration)]
    pub kube_timeout: Duration,
}

/// The Kubernetes API, with a client that is valid now.
#[derive(Clone)]
pub struct Cluster {
    source: Arc<Source>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.source {
            Source::Static(_) => f.write_str("Cluster(static)"),
            Source::Eks(e) => write!(f, "Cluster(eks {} in {})", e.cluster, e.region),
        }
    }
}

enum Source {
    Static(Client),
    Eks(Box<EksSource>),
}

struct EksSource {
    cluster: String,
    region: String,
    endpoint: http::Uri,
    ca_der: Vec<Vec<u8>>,
    timeout: Duration,
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Client, token::EksToken)>>,
}

impl Cluster {
    /// A fixed client (tests hand in a tower-test mock).
    pub fn from_client(client: Client) -> Self {
        Self {
            source: Arc::new(Source::Static(client)),
        }
    }

    /// From the settings: `--eks-cluster`, else in-cluster / KUBECONFIG.
    pub async fn from_args(args: &ClusterArgs) -> Result<Self> {
        if let Some(cluster) = &args.eks_cluster {
            return Self::eks(cluster, args).await;
        }
        let mut config = Config::infer().await.map_err(|e| {
            Error::Config(format!(
                "{e} (set KUBECONFIG, run in a pod with a ServiceAccount, or use --eks-cluster)"
            ))
        })?;
        config.read_timeout = Some(args.kube_timeout);
        config.connect_timeout = Some(Duration::from_secs(5));
        skip_os_roots_for_plain_http(&mut config);
        let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self::from_client(client))
    }

    async fn eks(cluster: &str, args: &ClusterArgs) -> Result<Self> {
        let mut loader = mcp_common::aws::loader();
        if let Some(r) = &args.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::setting("--region", "no AWS region: set --region or AWS_REGION")
        })?;
        let provider = config.credentials_provider().ok_or_else(|| {
            Error::setting("--eks-cluster", "no AWS credential provider available")
        })?;
        let api = args
            .eks_api_url
            .clone()
            .unwrap_or_else(|| format!("https://eks.{region}.amazonaws.com"));
        let creds = provider.provide_credentials().await.map_err(|e| {
            Error::Eks(format!("no AWS credentials: {e} (IRSA: check the ServiceAccount's eks.amazonaws.com/role-arn annotation)"))
        })?;
        let (endpoint, ca_pem) = describe_cluster(&api, &region, cluster, &creds).await?;
        let endpoint: http::Uri = endpoint
            .parse()
            .map_err(|e| Error::Eks(format!("cluster endpoint `{endpoint}`: {e}")))?;
        let ca_der = pem_to_der(&ca_pem)?;
        tracing::info!(cluster, %region, endpoint = %endpoint, "EKS cluster");
        Ok(Self {
            source: Arc::new(Source::Eks(Box::new(EksSource {
                cluster: cluster.to_owned(),
                region,
                endpoint,
                ca_der,
                timeout: args.kube_timeout,
                provider,
                cached: Mutex::new(None),
            }))),
        })
    }

    /// A client whose credentials are valid now.
    pub async fn client(&self) -> Result<Client> {
        match &*self.source {
            Source::Static(c) => Ok(c.clone()),
            Source::Eks(e) => e.client().await,
        }
    }

    /// Readiness: the API server answers `/version`.
    pub async fn check(&self) -> Result<(), String> {
        let client = self.client().await.map_err(|e| e.to_string())?;
        client
            .apiserver_version()
            .await
            .op(Op::new("get", "", "/version"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl EksSource {
    async fn client(&self) -> Result<Client> {
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some((client, t)) = cached.as_ref()
            && !t.needs_refresh(now)
        {
            return Ok(client.clone());
        }
        let creds = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Eks(format!("no AWS credentials for the EKS token: {e}")))?;
        let t = token::token(&creds, &self.region, &self.cluster, now)?;
        let mut config = Config::new(self.endpoint.clone());
        config.root_cert = Some(self.ca_der.clone());
        config.default_namespace = "default".into();
        config.read_timeout = Some(self.timeout);
        config.connect_timeout = Some(Duration::from_secs(5));
        config.auth_info.token = Some(secrecy::SecretString::from(t.token.clone()));
        let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        *cached = Some((client.clone(), t));
        Ok(client)
    }
}

/// A plain-HTTP API URL (`kubectl proxy`, a local fake) never negotiates TLS, yet kube builds
/// its TLS client anyway, and without a CA in the kubeconfig that means the OS trust store: every
/// system root read and parsed at start (about 19M instructions, and the heap they stay in). An
/// empty trust store is built instead. It would refuse any TLS peer, so it fails closed; a
/// proxy reached over HTTPS keeps the OS roots, since its TLS uses the same config.
fn skip_os_roots_for_plain_http(config: &mut Config) {
    let plain = config.cluster_url.scheme() == Some(&http::uri::Scheme::HTTP);
    let tls_proxy = config
        .proxy_url
        .as_ref()
        .is_some_and(|p| p.scheme() == Some(&http::uri::Scheme::HTTPS));
    if plain && !tls_proxy && config.root_cert.is_none() {
        config.root_cert = Some(Vec::new());
    }
}

/// PEM certificates -> DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            let der = base64::engine::general_purpose::STANDARD
                .decode(&body)
                .map_err(|e| Error::Eks(format!("cluster CA is not valid PEM: {e}")))?;
            out.push(der);
        } else if inside {
            body.push_str(line);
        }
    }
    if out.is_empty() {
        return Err(Error::Eks("the cluster's CA holds no certificate".into()));
    }
    Ok(out)
}

/// `DescribeCluster` over the EKS REST API: (endpoint, CA PEM).
pub async fn describe_cluster(
    api: &str,
    region: &str,
    cluster: &str,
    creds: &aws_credential_types::Credentials,
) -> Result<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let base: http::Uri = api
        .parse()
        .map_err(|e| Error::setting("--eks-api-url", format!("`{api}`: {e}")))?;
    let path = format!("/clusters/{cluster}");
    let url = format!("{}{path}", api.trim_end_matches('/'));
    let identity: aws_smithy_runtime_api::client::identity::Identity = creds.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("eks")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Error::Eks(e.to_string()))?
        .into();
    let signable = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(b""))
        .map_err(|e| Error::Eks(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| Error::Eks(e.to_string()))?
        .into_parts();
    let mut request = http::Request::get(&path)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| Error::Eks(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    // kube's client doubles as an HTTPS client (rustls + ring, OS roots) for this one call.
    let mut config = Config::new(base);
    config.read_timeout = Some(Duration::from_secs(10));
    config.connect_timeout = Some(Duration::from_secs(5));
    let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
    let text = client.request_text(request).await.map_err(|e| {
        Error::Eks(format!(
            "DescribeCluster {cluster} in {region} failed: {e} (the pod's IAM role needs eks:DescribeCluster)"
        ))
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Eks(format!("DescribeCluster answer is not JSON: {e}")))?;
    let endpoint = v["cluster"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ca_b64 = v["cluster"]["certificateAuthority"]["data"]
        .as_str()
        .unwrap_or_default();
    if endpoint.is_empty() || ca_b64.is_empty() {
        return Err(Error::Eks(format!(
            "DescribeCluster {cluster}: no endpoint or certificateAuthority in the answer (is the cluster ACTIVE?)"
        )));
    }
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca_b64)
        .map_err(|e| Error::Eks(format!("cluster CA is not base64: {e}")))?;
    Ok((endpoint, String::from_utf8_lossy(&ca).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_gets_an_empty_trust_store_and_https_keeps_the_os_one() {
        let mut plain = Config::new("http://127.0.0.1:8001".parse().unwrap());
        skip_os_roots_for_plain_http(&mut plain);
        assert_eq!(plain.root_cert, Some(Vec::new()));
        // The client still builds (TLS config from the empty store) and talks plain HTTP.
        Client::try_from(plain).unwrap();

        let mut tls = Config::new("https://10.0.0.1:443".parse().unwrap());
        skip_os_roots_for_plain_http(&mut tls);
        assert_eq!(tls.root_cert, None);

        let mut via_tls_proxy = Config::new("http://10.0.0.1:8080".parse().unwrap());
        via_tls_proxy.proxy_url = Some("https://proxy.internal:3128".parse().unwrap());
        skip_os_roots_for_plain_http(&mut via_tls_proxy);
        assert_eq!(via_tls_proxy.root_cert, None);

        let ca = vec![vec![1u8, 2, 3]];
        let mut with_ca = Config::new("http://127.0.0.1:8001".parse().unwrap());
        with_ca.root_cert = Some(ca.clone());
        skip_os_roots_for_plain_http(&mut with_ca);
        assert_eq!(with_ca.root_cert, Some(ca));
    }
}

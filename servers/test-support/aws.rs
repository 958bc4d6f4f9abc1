//! Shared by the aws and cloudwatch (and later costs) integration tests.
//! The moto AWS emulator (scripts/start-moto) for these tests, and helpers to run a backend
//! against it in-process with explicit credentials and endpoint (nothing from the developer's
//! environment).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const REGION: &str = "us-east-1";
/// moto accepts any credentials while IAM enforcement is off.
pub const ADMIN: (&str, &str) = ("testing", "testing");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the moto venv (boto3 is there), for IAM set-up.
pub fn venv_python() -> PathBuf {
    let cache = std::env::var_os("MCP_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/mcp-gateway-tests")
        });
    cache.join("moto-venv/bin/python")
}

/// One moto server; killed on drop (or, for the shared one, when this test process exits).
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
    pub pid: u32,
}

impl Moto {
    pub fn start() -> Moto {
        let out = Command::new(repo().join("scripts/start-moto"))
            .output()
            .expect("run scripts/start-moto");
        assert!(
            out.status.success(),
            "start-moto: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing in {text}"))
                .to_owned()
        };
        let endpoint = get("AWS_ENDPOINT_URL");
        assert!(endpoint.starts_with("http://127.0.0.1:"), "loopback only");
        Moto {
            endpoint,
            pid: get("MOTO_PID").parse().expect("pid"),
        }
    }

    /// Stops moto when this process exits (a shared server outlives every test).
    fn watch(&self) {
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {moto} 2>/dev/null",
            me = std::process::id(),
            moto = self.pid
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }

    /// Runs a Python snippet (boto3) with ENDPOINT bound; returns its stdout.
    pub fn python(&self, code: &str) -> String {
        let out = Command::new(venv_python())
            .arg("-c")
            .arg(code)
            .env("ENDPOINT", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ADMIN.0)
            .env("AWS_SECRET_ACCESS_KEY", ADMIN.1)
            .env("AWS_DEFAULT_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates an IAM user holding exactly the policy document at `policy` (a path under the
    /// repository) and returns its access key. 3 IAM calls.
    pub fn iam_user(&self, name: &str, policy: &str) -> (String, String) {
        let doc = std::fs::read_to_string(repo().join(policy)).expect("policy file");
        let code = format!(
            r#"
import boto3, json, os
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
iam.create_user(UserName={name:?})
iam.put_user_policy(UserName={name:?}, PolicyName={name:?} + "-policy", PolicyDocument={doc:?})
k = iam.create_access_key(UserName={name:?})["AccessKey"]
print(k["AccessKeyId"] + " " + k["SecretAccessKey"])
"#
        );
        let out = self.python(&code);
        let (a, s) = out.trim().split_once(' ').expect("key pair");
        (a.to_owned(), s.to_owned())
    }

    /// Turns IAM enforcement on from now on (`text/plain` body `0`: no more free calls).
    pub async fn enforce_iam(&self) {
        mcp_common::telemetry::install_crypto_provider();
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.endpoint))
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .await
            .expect("reset-auth");
        assert!(r.status().is_success(), "reset-auth: {}", r.status());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// The moto server shared by the tests of this binary (IAM enforcement off).
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let m = Moto::start();
        m.watch();
        m
    })
}

/// An AWS config loader for `endpoint` with static credentials.
pub fn loader(endpoint: &str, creds: (&str, &str)) -> aws_config::ConfigLoader {
    mcp_common::aws::loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            creds.0, creds.1, None, None, "test",
        ))
}

/// Serves `router` on a free loopback port until `ct` is cancelled.
pub async fn serve_router(router: axum::Router, ct: CancellationToken) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, router)
            .with_graceful_shutdown(async move { ct.cancelled_owned().await })
            .await;
    });
    a
}

pub async fn client(addr: SocketAddr) -> mcp_test_support::Client {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    mcp_test_support::client(addr).await
}

pub async fn ok(c: &mcp_test_support::Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, "").await
}

pub async fn err(c: &mcp_test_support::Client, tool: &str, args: Value) -> String {
    mcp_test_support::error_text(c, tool, args, "").await
}

pub async fn readyz(addr: SocketAddr) -> u16 {
    mcp_common::telemetry::install_crypto_provider();
    reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The tool catalog entry of `family` (policies/tools.json).
pub fn catalog(family: &str) -> (Vec<String>, Vec<String>) {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("policies/tools.json")).expect("tools.json"),
    )
    .expect("json");
    let list = |k: &str| -> Vec<String> {
        v[family][k]
            .as_array()
            .unwrap_or_else(|| panic!("{family}.{k} in tools.json"))
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    (list("read"), list("write"))
}

/// Actions an IAM policy document allows (Effect Allow), as written.
pub fn allowed_actions(policy: &str) -> Vec<String> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(policy)).expect("policy file"))
            .expect("policy json");
    let mut out = Vec::new();
    for st in v["Statement"].as_array().expect("Statement") {
        assert_eq!(st["Effect"], "Allow", "{policy}: only Allow statements");
        match &st["Action"] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().map(|s| s.as_str().unwrap().to_owned())),
            other => panic!("{policy}: Action {other}"),
        }
    }
    out
}

/// Does `allowed` (with `*` wildcards) cover `action`?
pub fn allows(allowed: &[String], action: &str) -> bool {
    allowed.iter().any(|a| {
        if let Some(prefix) = a.strip_suffix('*') {
            action.starts_with(prefix)
        } else {
            a.eq_ignore_ascii_case(action)
        }
    })
}

/// IAM verbs that only read.
pub fn is_read_only_action(action: &str) -> bool {
    let verb = action.split(':').nth(1).unwrap_or(action);
    !verb.contains('*')
        && [
            "Describe",
            "Get",
            "List",
            "Filter",
            "StartQuery",
            "StopQuery",
            "BatchGet",
            "Lookup",
        ]
        .iter()
        .any(|p| verb.starts_with(p))
}

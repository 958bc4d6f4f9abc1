//! The key lifecycle against the moto AWS emulator (SSM with KMS-backed SecureStrings):
//! `keys create/rotate/revoke/list/export` as a process, and a running gateway that picks up
//! each exported file without a restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mcp_gateway::audit::AuditSink;
use mcp_gateway::config::Config;
use mcp_gateway::metrics::Metrics;
use mcp_gateway::{Gateway, app};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-gateway");
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");

/// A moto server for one test, stopped on drop.
struct Moto {
    endpoint: String,
    pid: u32,
}

impl Moto {
    fn start(iam_after: Option<usize>) -> Moto {
        let mut cmd = Command::new(format!("{SCRIPTS}/start-moto"));
        if let Some(n) = iam_after {
            cmd.arg("--iam")
                .env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let out = cmd.output().expect("scripts/start-moto runs");
        assert!(
            out.status.success(),
            "start-moto: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing in {text}"))
                .to_owned()
        };
        Moto {
            endpoint: get("AWS_ENDPOINT_URL"),
            pid: get("MOTO_PID").parse().unwrap(),
        }
    }

    /// Runs `mcp-gateway ARGS` against this emulator with the given credentials.
    fn cli(&self, creds: (&str, &str), args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", creds.0)
            .env("AWS_SECRET_ACCESS_KEY", creds.1)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("mcp-gateway runs")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

const ADMIN: (&str, &str) = ("testing", "testing");

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `create`/`rotate` print the token alone on stdout.
fn token(out: &Output) -> String {
    let stdout = ok(out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout holds the token and nothing else: {stdout}"
    );
    lines[0].to_owned()
}

async fn stub_backend(ct: CancellationToken) -> SocketAddr {
    let router = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            )
        }),
    );
    serve(router, ct).await
}

async fn serve(router: axum::Router, ct: CancellationToken) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, router)
            .with_graceful_shutdown(async move { ct.cancelled_owned().await })
            .await;
    });
    a
}

struct RunningGateway {
    addr: SocketAddr,
    audit: AuditSink,
    _watch: mcp_gateway::keys::WatchGuard,
}

async fn gateway(keys_file: &Path, backend: SocketAddr, ct: CancellationToken) -> RunningGateway {
    let text = format!(
        "keys_file: {}\nbackends:\n  b: http://{backend}/mcp\nroleMapping:\n  dev-readonly: [b]\n  devops-full: [b]\n",
        keys_file.display()
    );
    let (config, _) = Config::parse(&text).unwrap();
    let metrics = Metrics::new();
    let audit = AuditSink::memory(metrics.clone());
    let gw = Gateway::new(config, audit.clone(), metrics);
    let watch = gw.keys.watch(Duration::from_millis(200)).unwrap();
    let addr = serve(app(gw), ct).await;
    RunningGateway {
        addr,
        audit,
        _watch: watch,
    }
}

async fn status(gw: &RunningGateway, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{}/mcp/b/mcp", gw.addr))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (up to 10 s) until `token` gets `want` from every gateway.
async fn eventually(gws: &[&RunningGateway], token: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = true;
        for gw in gws {
            all &= status(gw, token).await == want;
        }
        if all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "token did not reach {want} in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn export(moto: &Moto, file: &Path) {
    ok(&moto.cli(ADMIN, &["keys", "export", "--out", file.to_str().unwrap()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_export_reload_revoke_rotate_expire() {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    let moto = Moto::start(None);
    let dir = tempfile::tempdir().unwrap();
    let keys_file: PathBuf = dir.path().join("keys.json");
    let agent = token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "incident-agent-01",
        ],
    ));
    let ops = token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "devops-full",
            "--user",
            "oncall",
            "--expires-in",
            "90d",
        ],
    ));
    export(&moto, &keys_file);
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&keys_file).unwrap()).unwrap();
    assert_eq!(exported.as_object().unwrap().len(), 2);
    assert!(exported["oncall"].as_str().unwrap().contains(";exp="));
    assert!(
        !std::fs::read_to_string(&keys_file)
            .unwrap()
            .contains(&agent),
        "no raw key in the file"
    );

    let ct = CancellationToken::new();
    let backend = stub_backend(ct.clone()).await;
    let gw1 = gateway(&keys_file, backend, ct.clone()).await;
    let gw2 = gateway(&keys_file, backend, ct.clone()).await;
    eventually(&[&gw1, &gw2], &agent, 200).await;
    eventually(&[&gw1, &gw2], &ops, 200).await;

    // list: users, roles, key ids; never a full hash.
    let list = ok(&moto.cli(ADMIN, &["keys", "list"]));
    assert!(
        list.contains("incident-agent-01")
            && list.contains("dev-readonly")
            && list.contains("never"),
        "{list}"
    );
    let full_hash = exported["oncall"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(!list.contains(&full_hash), "{list}");
    assert!(list.contains(&full_hash[..8]));

    // Revoke: gone from SSM, refused by both gateways after the next export.
    ok(&moto.cli(ADMIN, &["keys", "revoke", "--user", "incident-agent-01"]));
    export(&moto, &keys_file);
    eventually(&[&gw1, &gw2], &agent, 401).await;
    eventually(&[&gw1, &gw2], &ops, 200).await;

    // Rotate: the old key stops, the new one works, the role stays.
    let ops2 = token(&moto.cli(ADMIN, &["keys", "rotate", "--user", "oncall"]));
    assert_ne!(ops, ops2);
    export(&moto, &keys_file);
    eventually(&[&gw1, &gw2], &ops2, 200).await;
    eventually(&[&gw1, &gw2], &ops, 401).await;
    let rows = ok(&moto.cli(ADMIN, &["keys", "list", "--json"]));
    let row: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(
        (row["user"].as_str(), row["role"].as_str()),
        (Some("oncall"), Some("devops-full"))
    );

    // Expiry: refused once passed, even though the file still holds the key.
    let short = token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "short-lived",
            "--expires-in",
            "2s",
        ],
    ));
    export(&moto, &keys_file);
    eventually(&[&gw1, &gw2], &short, 200).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    eventually(&[&gw1, &gw2], &short, 401).await;
    let lines = gw1.audit.lines();
    assert!(
        lines.iter().any(|l| l["error"] == "key expired"),
        "{lines:#?}"
    );
    ct.cancel();
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let moto = Moto::start(None);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        "keys_file: /k\nbackends:\n  b: http://x/mcp\nroleMapping:\n  dev-readonly: [b]\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let err = failed(&moto.cli(
        ADMIN,
        &[
            "keys", "create", "--role", "admin", "--user", "u1", "--config", cfg,
        ],
    ));
    assert!(
        err.contains("role `admin` is not in") && err.contains("dev-readonly"),
        "{err}"
    );
    for user in [
        "../etc/passwd",
        "a/b",
        "x y",
        "-lead",
        "user;exp=2099-01-01T00:00:00Z",
    ] {
        let arg = format!("--user={user}");
        let err = failed(&moto.cli(ADMIN, &["keys", "create", "--role", "dev-readonly", &arg]));
        assert!(err.contains("user `"), "{user}: {err}");
    }
    let err = failed(&moto.cli(ADMIN, &["keys", "create", "--role", "a/b", "--user", "u1"]));
    assert!(err.contains("role `a/b`"), "{err}");
    let err = failed(&moto.cli(ADMIN, &["keys", "rotate", "--user", "nobody"]));
    assert!(err.contains("no key"), "{err}");
    let err = failed(&moto.cli(ADMIN, &["keys", "revoke", "--user", "nobody"]));
    assert!(err.contains("no key"), "{err}");
    let list = ok(&moto.cli(ADMIN, &["keys", "list", "--json"]));
    assert!(list.trim().is_empty(), "nothing was written: {list}");

    // An existing user is refused unless --rotate.
    token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "u1",
            "--config",
            cfg,
        ],
    ));
    let err = failed(&moto.cli(
        ADMIN,
        &["keys", "create", "--role", "dev-readonly", "--user", "u1"],
    ));
    assert!(err.contains("already has a key"), "{err}");
    token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "u1",
            "--rotate",
        ],
    ));

    // SSM unreachable: a clear error, quickly.
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["keys", "list"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(err.contains("cannot reach SSM"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let out = Command::new(BIN)
        .args(["keys", "list"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(failed(&out).contains("no AWS region"));
}

#[test]
fn access_denied_is_named_and_leaves_nothing_behind() {
    // IAM enforcement starts after the 6 bootstrap calls (2 users x 3 calls).
    let moto = Moto::start(Some(6));
    let python = format!(
        "{}/moto-venv/bin/python",
        std::env::var("MCP_TEST_CACHE").unwrap_or_else(|_| format!(
            "{}/.cache/mcp-gateway-tests",
            std::env::var("HOME").unwrap()
        ))
    );
    let out = Command::new(python)
        .arg(format!("{SCRIPTS}/moto-iam-bootstrap.py"))
        .arg(&moto.endpoint)
        .arg(format!(
            "admin={}",
            policy_actions("key-admin.json").join(",")
        ))
        .arg("reader=ssm:GetParameter,ssm:GetParametersByPath")
        .output()
        .unwrap();
    let creds: serde_json::Value = serde_json::from_slice(&ok_bytes(&out)).unwrap();
    let c = |u: &str| {
        (
            creds[u]["AWS_ACCESS_KEY_ID"].as_str().unwrap().to_owned(),
            creds[u]["AWS_SECRET_ACCESS_KEY"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    let (ra, rs) = c("reader");
    let (aa, as_) = c("admin");
    let err = failed(&moto.cli(
        (&ra, &rs),
        &["keys", "create", "--role", "dev-readonly", "--user", "u1"],
    ));
    assert!(
        err.contains("access denied") && err.contains("ssm:PutParameter"),
        "{err}"
    );
    let list = ok(&moto.cli((&aa, &as_), &["keys", "list", "--json"]));
    assert!(list.trim().is_empty(), "nothing half-written: {list}");
    // The same caller may read: list works with the reader's policy.
    ok(&moto.cli((&ra, &rs), &["keys", "list"]));
    // The shipped key-admin policy is enough for the whole lifecycle.
    token(&moto.cli(
        (&aa, &as_),
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "u1",
            "--expires-in",
            "1d",
        ],
    ));
    token(&moto.cli((&aa, &as_), &["keys", "rotate", "--user", "u1"]));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys.json");
    ok(&moto.cli(
        (&aa, &as_),
        &["keys", "export", "--out", out.to_str().unwrap()],
    ));
    ok(&moto.cli((&aa, &as_), &["keys", "revoke", "--user", "u1"]));
}

/// Every action of a shipped IAM policy.
fn policy_actions(file: &str) -> Vec<String> {
    let path = format!("{}/../policies/iam/{file}", env!("CARGO_MANIFEST_DIR"));
    let policy: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut actions: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|st| match &st["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_owned()).collect()
            }
            _ => vec![],
        })
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

#[test]
fn the_external_secrets_policy_reads_what_the_secret_needs() {
    let actions = policy_actions("external-secrets-keys-read.json");
    for needed in ["ssm:GetParametersByPath", "kms:Decrypt"] {
        assert!(
            actions.iter().any(|a| a == needed),
            "{needed} missing: {actions:?}"
        );
    }
    assert!(
        !actions
            .iter()
            .any(|a| a.contains("Put") || a.contains("Delete")),
        "read only: {actions:?}"
    );
}

/// Runs Python (with boto3, from the moto venv) against the emulator; returns its stdout.
fn boto3(moto: &Moto, code: &str) -> String {
    let python = format!(
        "{}/moto-venv/bin/python",
        std::env::var("MCP_TEST_CACHE").unwrap_or_else(|_| format!(
            "{}/.cache/mcp-gateway-tests",
            std::env::var("HOME").unwrap()
        ))
    );
    let prelude = format!(
        "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n",
        moto.endpoint
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(prelude + code)
        .output()
        .unwrap();
    String::from_utf8(ok_bytes(&out)).unwrap().trim().to_owned()
}

#[test]
fn a_customer_managed_kms_key_encrypts_the_parameter() {
    let moto = Moto::start(None);
    let key_id = boto3(
        &moto,
        "print(boto3.client('kms', **kw).create_key()['KeyMetadata']['KeyId'])",
    );
    token(&moto.cli(
        ADMIN,
        &[
            "keys",
            "create",
            "--role",
            "dev-readonly",
            "--user",
            "kms-user",
            "--kms-key-id",
            &key_id,
        ],
    ));
    let described = boto3(
        &moto,
        "p = boto3.client('ssm', **kw).describe_parameters()['Parameters'][0]\nprint(json.dumps({'type': p['Type'], 'key': p.get('KeyId', '')}))",
    );
    let v: serde_json::Value = serde_json::from_str(&described).unwrap();
    assert_eq!(v["type"], "SecureString");
    assert!(v["key"].as_str().unwrap().contains(&key_id), "{described}");
    let tags = boto3(
        &moto,
        "t = boto3.client('ssm', **kw).list_tags_for_resource(ResourceType='Parameter', ResourceId='/mcp-gateway/keys/kms-user')['TagList']\nprint(json.dumps({x['Key']: x['Value'] for x in t}))",
    );
    let t: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(
        (t["role"].as_str(), t["user"].as_str()),
        (Some("dev-readonly"), Some("kms-user"))
    );
    assert!(t["created"].as_str().unwrap().ends_with('Z'));
    // The value decrypts to the hash entry, never the raw key.
    let list = ok(&moto.cli(ADMIN, &["keys", "list", "--json"]));
    assert!(list.contains("\"user\":\"kms-user\""), "{list}");
}

fn ok_bytes(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

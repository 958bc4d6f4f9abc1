//! Runs the gateway and example backends on loopback for a test, with real sockets.
//!
//! Everything binds `127.0.0.1:0` and is torn down when the [`Stack`] drops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use mcp_common::{BackendServer, Readiness, ServerArgs};
use mcp_gateway::Gateway;
use mcp_gateway::audit::AuditSink;
use mcp_gateway::config::Config;
use mcp_gateway::metrics::Metrics;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::example::Example;

/// The MCP protocol versions the project supports.
pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Roles of the test stack and what they reach.
pub const CONFIG_ROLES: &str = r#"
roleMapping:
  reader: [example-ro, example-down, example-hang]
  writer: [example-ro, example-rw]
  narrow:
    - backend: example-rw
      tools: [example_echo, example_progress, example_fail]
"#;

/// A gateway in front of an RO and an RW example backend, plus a backend that is down and one
/// that accepts connections but never answers.
#[derive(Debug)]
pub struct Stack {
    pub gateway_addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    pub audit: AuditSink,
    pub metrics: Metrics,
    pub keys_file: PathBuf,
    /// Bearer tokens by user: `reader`, `writer`, `narrow`.
    pub tokens: HashMap<&'static str, String>,
    pub gate: Arc<Notify>,
    pub ro_addr: SocketAddr,
    pub rw_addr: SocketAddr,
    /// The RO backend's handler (its `cancelled` counter).
    pub ro: Example,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A raw key and its bearer token.
pub fn new_key() -> (Vec<u8>, String) {
    let raw: Vec<u8> = (0..32).map(|_| rand_byte()).collect();
    let token = base64::engine::general_purpose::STANDARD.encode(&raw);
    (raw, token)
}

fn rand_byte() -> u8 {
    // Test keys need uniqueness, not secrecy: mix time and a counter.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let x = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 56) as u8
}

/// Serves a router on a fresh loopback port until `ct` is cancelled.
pub async fn serve(router: axum::Router, ct: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { ct.cancelled_owned().await })
        .await;
    });
    addr
}

/// Serves a gateway in-process the way `mcp-gateway serve` does (serving threads, the direct
/// MCP route, drain on shutdown) on a free loopback port, until `ct` is cancelled.
pub async fn serve_gateway(gw: Arc<Gateway>, ct: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        if let Err(e) =
            mcp_gateway::server::serve_listener(listener, gw, 2, ct.cancelled_owned()).await
        {
            tracing::error!(error = %e, "test gateway stopped");
        }
    });
    addr
}

/// Starts an example backend in-process; returns its address.
pub async fn example_backend(
    access: &str,
    gate: Option<Arc<Notify>>,
    ct: CancellationToken,
) -> SocketAddr {
    example_backend_with(access, gate, ct).await.0
}

/// Like [`example_backend`], also returning the handler (to observe cancelled calls).
pub async fn example_backend_with(
    access: &str,
    gate: Option<Arc<Notify>>,
    ct: CancellationToken,
) -> (SocketAddr, Example) {
    use clap::Parser;
    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        s: ServerArgs,
    }
    let args = A::parse_from([
        "x",
        "--access",
        access,
        "--env",
        "test",
        "--allowed-host",
        "*",
    ])
    .s;
    let server = BackendServer::new("example", args).with_readiness(Readiness::always());
    let mut handler = Example::new(server.tool_context());
    handler.gate = gate;
    let addr = serve(server.app(handler.clone()), ct).await;
    (addr, handler)
}

/// A port with nothing listening on it.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}

/// A listener that accepts connections and never answers.
pub async fn hanging_backend(ct: CancellationToken) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                c = l.accept() => if let Ok((s, _)) = c { held.push(s) },
                () = ct.cancelled() => break,
            }
        }
    });
    a
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(|_| {}).await
    }

    /// Starts the stack; `tweak` may edit the config text before the gateway reads it.
    pub async fn start_with(tweak: impl FnOnce(&mut String)) -> Stack {
        mcp_common::telemetry::init();
        let shutdown = CancellationToken::new();
        let gate = Arc::new(Notify::new());
        let (ro_addr, ro) = example_backend_with("ro", Some(gate.clone()), shutdown.clone()).await;
        let rw_addr = example_backend("rw", Some(gate.clone()), shutdown.clone()).await;
        let down = closed_port().await;
        let hang = hanging_backend(shutdown.clone()).await;

        let dir = tempfile::tempdir().expect("tempdir");
        let keys_file = dir.path().join("keys.json");
        let mut tokens = HashMap::new();
        let mut entries = serde_json::Map::new();
        for (user, role) in [
            ("reader", "reader"),
            ("writer", "writer"),
            ("narrow", "narrow"),
        ] {
            let (raw, token) = new_key();
            entries.insert(
                format!("/mcp-gateway/keys/{user}"),
                format!("{}:{role}/{user}", mcp_gateway::keys::hash_hex(&raw)).into(),
            );
            tokens.insert(user, token);
        }
        std::fs::write(&keys_file, serde_json::to_vec(&entries).expect("json"))
            .expect("write keys");

        let mut text = format!(
            "listen: 127.0.0.1:0\nkeys_file: {}\nbackends:\n  example-ro: http://{ro_addr}/mcp\n  example-rw: http://{rw_addr}/mcp\n  example-down: http://{down}/mcp\n  example-hang: http://{hang}/mcp\nlimits:\n  max_body_bytes: 65536\n  first_byte_timeout: 1s\n  connect_timeout: 1s\n{CONFIG_ROLES}",
            keys_file.display()
        );
        tweak(&mut text);
        let (config, _) = Config::parse(&text).expect("test config is valid");
        let metrics = Metrics::new();
        let audit = AuditSink::memory(metrics.clone());
        let gateway = Gateway::new(config, audit.clone(), metrics.clone());
        let gateway_addr = serve_gateway(gateway.clone(), shutdown.clone()).await;
        Stack {
            gateway_addr,
            gateway,
            audit,
            metrics,
            keys_file,
            tokens,
            gate,
            ro_addr,
            rw_addr,
            ro,
            dir,
            shutdown,
        }
    }

    pub fn url(&self, backend: &str) -> String {
        format!("http://{}/mcp/{backend}/mcp", self.gateway_addr)
    }

    pub fn token(&self, user: &str) -> &str {
        &self.tokens[user]
    }

    /// An rmcp client connected through the gateway at `version`.
    pub async fn client(
        &self,
        user: &str,
        backend: &str,
        version: &ProtocolVersion,
    ) -> anyhow::Result<RunningService<RoleClient, TestClient>> {
        connect(&self.url(backend), Some(self.token(user)), version).await
    }

    /// Waits until `n` audit lines were written.
    pub async fn audit_lines(&self, n: usize) -> Vec<serde_json::Value> {
        self.audit.wait_for(n, Duration::from_secs(10)).await
    }

    /// Waits (up to 10 s) for an audit line that satisfies `pred` and returns it. A request's
    /// line is written when the gateway has passed on the last byte of its answer, which can
    /// be just after the client has read that byte: wait for the line itself, not a count.
    pub async fn audit_line(
        &self,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        self.audit
            .wait_until(|lines| lines.iter().any(&pred), Duration::from_secs(10))
            .await
            .into_iter()
            .find(|l| pred(l))
    }
}

/// An MCP client that records progress notifications as they arrive.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub config: ClientConfig,
    pub progress: Arc<Mutex<Vec<(Instant, ProgressNotificationParam)>>>,
    pub progress_seen: Arc<Notify>,
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), params));
        self.progress_seen.notify_waiters();
        self.progress_seen.notify_one();
    }
}

/// Connects an rmcp client to `url` at `version` (initialize handshake for 2025 versions,
/// `server/discover` for 2026-07-28).
pub async fn connect(
    url: &str,
    token: Option<&str>,
    version: &ProtocolVersion,
) -> anyhow::Result<RunningService<RoleClient, TestClient>> {
    let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(t) = token {
        cfg = cfg.auth_header(t.to_owned());
    }
    let transport = StreamableHttpClientTransport::from_config(cfg);
    let client = TestClient {
        config: ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("gateway-e2e", "0.1.0"),
        )
        .with_protocol_version(version.clone()),
        progress: Arc::default(),
        progress_seen: Arc::new(Notify::new()),
    };
    let lifecycle = if version.has_initialize() {
        ClientLifecycleMode::Initialize
    } else {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version.clone()],
        }
    };
    Ok(client.serve_with_lifecycle(transport, lifecycle).await?)
}

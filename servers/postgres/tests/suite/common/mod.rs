//! A throwaway PostgreSQL 15 cluster per test binary (scripts/start-postgres), and helpers to
//! run mcp-postgres against it.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use mcp_postgres::{Args, Postgres};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio_util::sync::CancellationToken;

/// Passwords the tests give the roles of policies/postgres/roles.sql.
pub const RO_PASSWORD: &str = "ro-test-pw";
pub const RW_PASSWORD: &str = "rw-test-pw";

#[derive(Debug)]
pub struct Cluster {
    pub port: u16,
    /// Superuser password.
    pub password: String,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
/// The incident test fills every connection slot: it gets a cluster of its own.
static INCIDENT_CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared cluster, started once for this test binary; it stops when the process exits
/// (the script watches our pid).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start_cluster)
}

/// A second cluster for the incident test alone (it takes 97 of the 100 connections, which
/// would starve every other test of the shared one).
pub fn incident_cluster() -> &'static Cluster {
    INCIDENT_CLUSTER.get_or_init(start_cluster)
}

fn start_cluster() -> Cluster {
    {
        let out = Command::new(repo().join("scripts/start-postgres"))
            .arg("--watch-pid")
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/start-postgres");
        assert!(
            out.status.success(),
            "start-postgres failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing in: {text}"))
                .to_owned()
        };
        let url = get("DATABASE_URL");
        let port: u16 = get("PGPORT").parse().expect("port");
        let password = url
            .strip_prefix("postgres://postgres:")
            .and_then(|r| r.split_once('@'))
            .map(|(p, _)| p.to_owned())
            .expect("password in url");
        assert!(url.contains("@127.0.0.1:"), "loopback only: {url}");
        // Roles are cluster-wide: apply the policy once.
        let roles =
            std::fs::read_to_string(repo().join("policies/postgres/roles.sql")).expect("roles.sql");
        // On a thread of its own: the caller may be inside a runtime already.
        let url2 = url.clone();
        std::thread::spawn(move || {
            let url = url2;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async {
            let mut c = PgConnection::connect(&url).await.expect("connect");
            sqlx::raw_sql(AssertSqlSafe(roles))
                .execute(&mut c)
                .await
                .expect("apply roles.sql");
            c.execute(AssertSqlSafe(format!(
                "ALTER ROLE mcp_ro PASSWORD '{RO_PASSWORD}'; ALTER ROLE mcp_rw PASSWORD '{RW_PASSWORD}'"
            )))
            .await
            .expect("passwords");
            c.close().await.ok();
            })
        })
        .join()
        .expect("roles applied");
        Cluster { port, password }
    }
}

impl Cluster {
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    pub fn url_as(&self, user: &str, db: &str) -> String {
        let pw = match user {
            "mcp_ro" => RO_PASSWORD,
            "mcp_rw" => RW_PASSWORD,
            _ => &self.password,
        };
        format!("postgres://{user}:{pw}@127.0.0.1:{}/{db}", self.port)
    }

    /// A superuser connection to `db`.
    pub async fn admin(&self, db: &str) -> PgConnection {
        PgConnection::connect(&self.url(db))
            .await
            .expect("admin connect")
    }
}

/// A new database with the test schema: `items` (3 rows), `orders` referencing it, a sequence.
pub async fn fresh_db(prefix: &str) -> String {
    fresh_db_on(cluster(), prefix).await
}

/// [`fresh_db`] on cluster `c`.
pub async fn fresh_db_on(c: &Cluster, prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{prefix}_{}", N.fetch_add(1, Ordering::Relaxed));
    let mut admin = c.admin("postgres").await;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    admin.close().await.ok();
    let mut db = c.admin(&name).await;
    sqlx::raw_sql(
        "CREATE TABLE items (
             id serial PRIMARY KEY,
             name text NOT NULL UNIQUE,
             price numeric(10,2) NOT NULL CHECK (price >= 0),
             tags text[],
             created timestamptz NOT NULL DEFAULT '2026-01-02 03:04:05+00'
         );
         COMMENT ON TABLE items IS 'things we sell';
         INSERT INTO items (name, price, tags) VALUES
             ('apple', 1.50, '{fruit}'), ('pear', 2.25, NULL), ('plum', 0.99, '{fruit,stone}');
         CREATE TABLE orders (
             id bigserial PRIMARY KEY,
             item_id int NOT NULL REFERENCES items(id),
             qty int NOT NULL
         );
         CREATE INDEX orders_item_idx ON orders (item_id);
         INSERT INTO orders (item_id, qty) VALUES (1, 3), (2, 1);
         CREATE SEQUENCE counter;
         CREATE VIEW item_names AS SELECT name FROM items;
         ANALYZE;",
    )
    .execute(&mut db)
    .await
    .expect("seed schema");
    db.close().await.ok();
    name
}

/// Parses backend arguments the way the binary does.
pub fn args(url: &str, extra: &[&str]) -> Args {
    let mut argv = vec![
        "mcp-postgres",
        "--database-url",
        url,
        "--allowed-host",
        "*",
        "--listen",
        "127.0.0.1:0",
    ];
    if !extra.contains(&"--env") {
        argv.extend_from_slice(&["--env", "test"]);
    }
    argv.extend_from_slice(extra);
    Args::parse_from(argv)
}

/// A handler (no HTTP) for calling tool logic directly.
pub fn handler(url: &str, extra: &[&str]) -> Postgres {
    mcp_postgres::build(args(url, extra)).expect("build").1
}

/// A served backend on loopback; stops on drop.
pub struct Served {
    pub addr: SocketAddr,
    pub handler: Postgres,
    ct: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.ct.cancel();
    }
}

pub async fn serve(url: &str, extra: &[&str]) -> Served {
    mcp_common::telemetry::install_crypto_provider();
    let (server, handler) = mcp_postgres::build(args(url, extra)).expect("build");
    let router = server.app(handler.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ct = CancellationToken::new();
    let stop = ct.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled_owned().await })
            .await;
    });
    Served { addr, handler, ct }
}

/// An rmcp client connected over streamable HTTP.
pub async fn client(addr: SocketAddr) -> RunningService<RoleClient, ()> {
    // reqwest may be built without a crypto provider of its own (feature unification).
    mcp_common::telemetry::install_crypto_provider();
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    ().serve(transport).await.expect("connect client")
}

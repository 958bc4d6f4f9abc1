//! `mcp-postgres`: PostgreSQL diagnostics and safe SQL for agents.
//!
//! Read-only is enforced three independent ways: the database role (`policies/postgres/roles.sql`),
//! a `BEGIN READ ONLY ... ROLLBACK` around every read tool ([`db::Db::read_only`]), and one
//! statement per call over the extended protocol (a prepared statement cannot hold two).
//! Write tools (`postgres_execute`, `postgres_cancel_query`, `postgres_terminate_session`) are
//! registered only with `--access rw`.

pub mod activity;
pub mod admin;
pub mod catalog;
pub mod db;
pub mod diagnostics;
pub mod error;
pub mod query;
pub mod sql;
pub mod tools;
pub mod values;

use std::time::Duration;

use mcp_common::server::Readiness;
use mcp_common::{BackendServer, ServerArgs};

pub use db::{Db, DbSettings};
pub use error::PgError;
pub use tools::Postgres;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "mcp-postgres",
    about = "MCP backend for PostgreSQL: diagnostics and safe SQL"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub db: DbArgs,
}

/// Database settings (`DATABASE_URL` first, as the ecosystem does).
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Connection URL, e.g. `postgres://mcp_ro:...@db:5432/app?sslmode=verify-full&sslrootcert=/etc/rds/ca.pem`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Statement timeout applied to every statement a tool runs (`SET LOCAL statement_timeout`).
    #[arg(long, env = "MCP_POSTGRES_STATEMENT_TIMEOUT", default_value = "30s", value_parser = mcp_common::args::parse_duration)]
    pub statement_timeout: Duration,

    /// Largest number of rows `postgres_query` returns (an agent may ask for fewer with `limit`).
    #[arg(long, env = "MCP_POSTGRES_MAX_ROWS", default_value_t = 1000)]
    pub max_rows: usize,

    /// Connections this process keeps to the database at most.
    #[arg(long, env = "MCP_POSTGRES_POOL_SIZE", default_value_t = 4)]
    pub pool_size: u32,

    /// How long a tool waits for a free connection (or a new one) before failing.
    #[arg(long, env = "MCP_POSTGRES_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = mcp_common::args::parse_duration)]
    pub acquire_timeout: Duration,
}

impl DbArgs {
    pub fn settings(&self) -> DbSettings {
        DbSettings {
            statement_timeout: self.statement_timeout,
            max_rows: self.max_rows.max(1),
            pool_size: self.pool_size.max(1),
            acquire_timeout: self.acquire_timeout,
        }
    }
}

/// Builds the server (pool, readiness, handler) without serving it: tests use this.
pub fn build(args: Args) -> Result<(BackendServer, Postgres), PgError> {
    let db = Db::connect_lazy(&args.db.database_url, args.db.settings())?;
    let ready_db = db.clone();
    let server =
        BackendServer::new("postgres", args.server).with_readiness(Readiness::new(move || {
            let db = ready_db.clone();
            async move { db.ping().await.map_err(|e| e.to_string()) }
        }));
    let handler = Postgres::new(server.tool_context(), db);
    Ok((server, handler))
}

/// Serves the PostgreSQL backend until SIGTERM.
pub async fn run(args: Args) -> mcp_common::Result<()> {
    let (server, handler) = build(args).map_err(|e| mcp_common::Error::Setting {
        name: "DATABASE_URL",
        reason: e.to_string(),
    })?;
    server.serve(handler).await
}

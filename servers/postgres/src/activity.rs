//! `postgres_activity`: who is connected and what they are doing (`pg_stat_activity`).

use mcp_common::output::{Page, fit_items};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::db::Db;
use crate::error::PgError;

/// Columns of a session, shared with the diagnostics. `$1` is the query-text cut in characters.
pub const SESSION_COLUMNS: &str = "a.pid, a.usename::text AS usename, a.datname::text AS datname,
    a.application_name, a.client_addr::text AS client_addr, a.backend_type, a.state,
    a.wait_event_type, a.wait_event, left(a.query, $1) AS query,
    coalesce(length(a.query) > $1, false) AS query_cut,
    (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 AS query_ms,
    (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS xact_ms,
    (extract(epoch FROM clock_timestamp() - a.state_change) * 1000)::float8 AS state_ms,
    pg_blocking_pids(a.pid) AS blocked_by";

/// One backend of `pg_stat_activity`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Session {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    pub backend_type: Option<String>,
    /// active, idle, idle in transaction, idle in transaction (aborted), ...
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// Current or last query, cut to `query_max_chars`.
    pub query: Option<String>,
    pub query_cut: bool,
    /// Since the current (or last) query started.
    pub query_ms: Option<f64>,
    /// Since the transaction started; null outside a transaction.
    pub xact_ms: Option<f64>,
    /// Since the state last changed.
    pub state_ms: Option<f64>,
    /// Sessions this one waits for (`pg_blocking_pids`).
    pub blocked_by: Vec<i32>,
}

impl Session {
    pub fn from_row(r: &PgRow) -> Result<Self, sqlx::Error> {
        let round = |v: Option<f64>| v.map(|x| (x * 10.0).round() / 10.0);
        Ok(Self {
            pid: r.try_get("pid")?,
            user: r.try_get("usename")?,
            database: r.try_get("datname")?,
            application_name: r
                .try_get::<Option<String>, _>("application_name")?
                .filter(|s| !s.is_empty()),
            client_addr: r.try_get("client_addr")?,
            backend_type: r.try_get("backend_type")?,
            state: r.try_get("state")?,
            wait_event_type: r.try_get("wait_event_type")?,
            wait_event: r.try_get("wait_event")?,
            query: r
                .try_get::<Option<String>, _>("query")?
                .filter(|s| !s.is_empty()),
            query_cut: r.try_get("query_cut")?,
            query_ms: round(r.try_get("query_ms")?),
            xact_ms: round(r.try_get("xact_ms")?),
            state_ms: round(r.try_get("state_ms")?),
            blocked_by: r
                .try_get::<Option<Vec<i32>>, _>("blocked_by")?
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ActivityArgs {
    /// Only sessions in this state (`active`, `idle`, `idle in transaction`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// Include background processes (autovacuum, walsender, ...); default client sessions only.
    #[serde(default)]
    pub include_background: bool,
    /// Cut query texts to this many characters (default 500).
    #[serde(default)]
    pub query_max_chars: Option<u32>,
    /// Sessions to return at most (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActivityResult {
    /// Longest-running transactions first, then longest-running queries.
    pub sessions: Page<Session>,
}

pub async fn activity(
    db: &Db,
    args: ActivityArgs,
    max_bytes: usize,
) -> Result<ActivityResult, PgError> {
    let cut = args.query_max_chars.unwrap_or(500).clamp(16, 100_000) as i32;
    let limit = args.limit.unwrap_or(100).clamp(1, 10_000);
    let sessions = db
        .read_only(move |c| {
            Box::pin(async move {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM pg_stat_activity a
                     WHERE a.pid <> pg_backend_pid()
                       AND ($2 OR a.backend_type = 'client backend')
                       AND ($3::text IS NULL OR a.state = $3)
                     ORDER BY a.xact_start NULLS LAST, a.query_start NULLS LAST, a.pid"
                )))
                .bind(cut)
                .bind(args.include_background)
                .bind(args.state)
                .fetch_all(&mut *c)
                .await?;
                rows.iter()
                    .map(Session::from_row)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(PgError::from)
            })
        })
        .await?;
    Ok(ActivityResult {
        sessions: fit_items(sessions, limit, max_bytes.saturating_sub(256)),
    })
}

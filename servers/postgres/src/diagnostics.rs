//! `postgres_diagnostics`: the incident tool. One call answers "is the database the problem?":
//! connection use against `max_connections`, the slowest statements, locks, long transactions,
//! cache hit ratio, size and replication.

use mcp_common::output::fit_items;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{Acquire, Row};

use crate::activity::{SESSION_COLUMNS, Session};
use crate::catalog::human_bytes;
use crate::db::Db;
use crate::error::PgError;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DiagnosticsArgs {
    /// Slow statements to report (default 10).
    #[serde(default)]
    pub slow_query_limit: Option<u32>,
    /// A transaction open longer than this many seconds is reported (default 60).
    #[serde(default)]
    pub long_transaction_seconds: Option<u64>,
}

/// Client connections by state, against the server's limit. Counts every client backend of
/// the server (all databases), this tool's own session included.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Connections {
    pub max_connections: i32,
    /// Slots only superusers may use; other roles get at most `max_connections` minus these.
    pub superuser_reserved_connections: i32,
    pub total: i64,
    pub active: i64,
    pub idle: i64,
    pub idle_in_transaction: i64,
    pub idle_in_transaction_aborted: i64,
    /// Fastpath, disabled or unknown state.
    pub other: i64,
    /// `total / max_connections`, in percent.
    pub used_pct: f64,
    /// Open connections grouped by database, user and application, largest groups first.
    pub by_client: Vec<ConnectionGroup>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionGroup {
    pub database: Option<String>,
    pub user: Option<String>,
    pub application_name: Option<String>,
    pub state: Option<String>,
    pub count: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SlowQuery {
    /// Normalized statement text from pg_stat_statements (cut to 500 characters).
    pub query: String,
    pub calls: i64,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub total_ms: f64,
    pub rows: i64,
    /// Share of all statement time in this database, in percent.
    pub pct_total_time: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SlowQueries {
    /// Whether `pg_stat_statements` could be read.
    pub available: bool,
    /// Why not, and how to enable it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Slowest by mean execution time, in this database.
    pub statements: Vec<SlowQuery>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Replica {
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    pub state: Option<String>,
    pub sync_state: Option<String>,
    /// WAL the replica has not replayed yet.
    pub replay_lag_bytes: Option<i64>,
    pub replay_lag_ms: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Replication {
    /// `primary` or `replica` (in recovery).
    pub role: String,
    /// Replicas streaming from this server (primary only).
    pub replicas: Vec<Replica>,
    /// On a replica: time since the last replayed transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_delay_ms: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Diagnostics {
    pub database: String,
    pub server_version: String,
    /// Active client connections (the seed's `active_connections`).
    pub active_connections: i64,
    pub max_connections: i32,
    pub connections: Connections,
    /// The slowest statements (the seed's `slow_queries`).
    pub slow_queries: Vec<SlowQuery>,
    pub pg_stat_statements: SlowQueries,
    /// Sessions waiting on a lock, with the pids they wait for.
    pub blocked_sessions: Vec<Session>,
    /// Sessions holding locks others wait for.
    pub blocking_sessions: Vec<Session>,
    /// Transactions open longer than `long_transaction_seconds`, oldest first.
    pub long_transactions: Vec<Session>,
    /// Buffer cache hit ratio of this database since statistics reset (0..1); null before any read.
    pub cache_hit_ratio: Option<f64>,
    pub database_bytes: i64,
    pub database_size: String,
    pub replication: Replication,
    /// One line per thing worth a look, most urgent first.
    pub findings: Vec<String>,
    /// True when lists were cut to fit the output cap.
    pub truncated: bool,
}

type GroupRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);
type ReplicaRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<f64>,
);
type ConnRow = (i32, i32, i64, i64, i64, i64, i64);

async fn connections(c: &mut PgConnection) -> Result<Connections, PgError> {
    let (max, reserved, total, active, idle, iit, iita): ConnRow = sqlx::query_as(
        "SELECT current_setting('max_connections')::int4,
                current_setting('superuser_reserved_connections')::int4,
                count(*),
                count(*) FILTER (WHERE state = 'active'),
                count(*) FILTER (WHERE state = 'idle'),
                count(*) FILTER (WHERE state = 'idle in transaction'),
                count(*) FILTER (WHERE state = 'idle in transaction (aborted)')
         FROM pg_stat_activity WHERE backend_type = 'client backend'",
    )
    .fetch_one(&mut *c)
    .await?;
    let groups: Vec<GroupRow> = sqlx::query_as(
        "SELECT datname::text, usename::text, nullif(application_name, ''), state, count(*)
             FROM pg_stat_activity WHERE backend_type = 'client backend'
             GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT 20",
    )
    .fetch_all(&mut *c)
    .await?;
    let used_pct = if max > 0 {
        (total as f64 * 1000.0 / f64::from(max)).round() / 10.0
    } else {
        0.0
    };
    Ok(Connections {
        max_connections: max,
        superuser_reserved_connections: reserved,
        total,
        active,
        idle,
        idle_in_transaction: iit,
        idle_in_transaction_aborted: iita,
        other: total - active - idle - iit - iita,
        used_pct,
        by_client: groups
            .into_iter()
            .map(
                |(database, user, application_name, state, count)| ConnectionGroup {
                    database,
                    user,
                    application_name,
                    state,
                    count,
                },
            )
            .collect(),
    })
}

const ENABLE_PGSS: &str = "enable it: add pg_stat_statements to shared_preload_libraries (on RDS/Aurora: the DB parameter group; restart needed), then run CREATE EXTENSION pg_stat_statements in this database";

async fn slow_queries(c: &mut PgConnection, limit: i64) -> Result<SlowQueries, PgError> {
    let schema: Option<String> = sqlx::query_scalar(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'",
    )
    .fetch_optional(&mut *c)
    .await?;
    let Some(schema) = schema else {
        return Ok(SlowQueries {
            available: false,
            note: Some(format!(
                "the pg_stat_statements extension is not installed in this database; {ENABLE_PGSS}"
            )),
            statements: Vec::new(),
        });
    };
    // A savepoint: a failure here (library not preloaded, no privilege) must not abort the
    // rest of the diagnostics.
    let mut sp = c.begin().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT left(s.query, 500) AS query, s.calls::int8 AS calls,
                s.mean_exec_time::float8 AS mean_ms, s.max_exec_time::float8 AS max_ms,
                s.total_exec_time::float8 AS total_ms, s.rows::int8 AS rows,
                (100 * s.total_exec_time / nullif(sum(s.total_exec_time) OVER (), 0))::float8 AS pct
         FROM {schema}.pg_stat_statements s
         WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND s.query NOT ILIKE '%pg_stat_statements%'
         ORDER BY s.mean_exec_time DESC
         LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *sp)
    .await;
    match rows {
        Ok(rows) => {
            sp.rollback().await?;
            let round = |x: f64| (x * 100.0).round() / 100.0;
            let statements = rows
                .iter()
                .map(|r| {
                    Ok(SlowQuery {
                        query: r.try_get("query")?,
                        calls: r.try_get("calls")?,
                        mean_ms: round(r.try_get("mean_ms")?),
                        max_ms: round(r.try_get("max_ms")?),
                        total_ms: round(r.try_get("total_ms")?),
                        rows: r.try_get("rows")?,
                        pct_total_time: r.try_get::<Option<f64>, _>("pct")?.map(round),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok(SlowQueries {
                available: true,
                note: None,
                statements,
            })
        }
        Err(e) => {
            sp.rollback().await?;
            let e = PgError::from(e);
            let how = if e.code() == Some("42501") {
                "grant the deployment's role pg_read_all_stats (pg_monitor), see policies/postgres/roles.sql".to_owned()
            } else {
                ENABLE_PGSS.to_owned()
            };
            Ok(SlowQueries {
                available: false,
                note: Some(format!("pg_stat_statements cannot be read: {e}; {how}")),
                statements: Vec::new(),
            })
        }
    }
}

async fn sessions(c: &mut PgConnection, filter: &str, secs: f64) -> Result<Vec<Session>, PgError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND ({filter})
         ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 50"
    )))
    .bind(300i32)
    .bind(secs)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .iter()
        .map(Session::from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

async fn replication(c: &mut PgConnection) -> Result<Replication, PgError> {
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut *c)
        .await?;
    if in_recovery {
        let delay: Option<f64> = sqlx::query_scalar(
            "SELECT (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8",
        )
        .fetch_one(&mut *c)
        .await?;
        return Ok(Replication {
            role: "replica".into(),
            replicas: Vec::new(),
            replay_delay_ms: delay,
        });
    }
    let rows: Vec<ReplicaRow> = sqlx::query_as(
        "SELECT application_name, client_addr::text, state, sync_state,
                    pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8,
                    (extract(epoch FROM replay_lag) * 1000)::float8
             FROM pg_stat_replication ORDER BY application_name",
    )
    .fetch_all(&mut *c)
    .await?;
    Ok(Replication {
        role: "primary".into(),
        replicas: rows
            .into_iter()
            .map(
                |(
                    application_name,
                    client_addr,
                    state,
                    sync_state,
                    replay_lag_bytes,
                    replay_lag_ms,
                )| Replica {
                    application_name,
                    client_addr,
                    state,
                    sync_state,
                    replay_lag_bytes,
                    replay_lag_ms,
                },
            )
            .collect(),
        replay_delay_ms: None,
    })
}

pub async fn diagnostics(
    db: &Db,
    args: DiagnosticsArgs,
    max_bytes: usize,
) -> Result<Diagnostics, PgError> {
    let limit = i64::from(args.slow_query_limit.unwrap_or(10).clamp(1, 100));
    let long_secs = args.long_transaction_seconds.unwrap_or(60) as f64;
    let database = db.database.clone();
    let mut d = db
        .read_only(move |c| {
            Box::pin(async move {
                let connections = connections(c).await?;
                let pgss = slow_queries(c, limit).await?;
                let blocked = sessions(c, "cardinality(pg_blocking_pids(a.pid)) > 0 AND $2 >= 0", 0.0).await?;
                let blocking = sessions(
                    c,
                    "a.pid IN (SELECT unnest(pg_blocking_pids(b.pid)) FROM pg_stat_activity b) AND $2 >= 0",
                    0.0,
                )
                .await?;
                let long = sessions(
                    c,
                    "a.xact_start IS NOT NULL AND a.backend_type = 'client backend'
                     AND clock_timestamp() - a.xact_start > make_interval(secs => $2)",
                    long_secs,
                )
                .await?;
                let (version, hit, bytes): (String, Option<f64>, i64) = sqlx::query_as(
                    "SELECT current_setting('server_version'),
                            (SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0)
                             FROM pg_stat_database WHERE datname = current_database()),
                            pg_database_size(current_database())::int8",
                )
                .fetch_one(&mut *c)
                .await?;
                let replication = replication(c).await?;
                Ok(Diagnostics {
                    database,
                    server_version: version,
                    active_connections: connections.active,
                    max_connections: connections.max_connections,
                    slow_queries: pgss.statements.iter().map(|s| SlowQuery {
                        query: s.query.clone(),
                        calls: s.calls,
                        mean_ms: s.mean_ms,
                        max_ms: s.max_ms,
                        total_ms: s.total_ms,
                        rows: s.rows,
                        pct_total_time: s.pct_total_time,
                    }).collect(),
                    connections,
                    pg_stat_statements: SlowQueries {
                        available: pgss.available,
                        note: pgss.note,
                        statements: Vec::new(),
                    },
                    blocked_sessions: blocked,
                    blocking_sessions: blocking,
                    long_transactions: long,
                    cache_hit_ratio: hit.map(|h| (h * 10_000.0).round() / 10_000.0),
                    database_bytes: bytes,
                    database_size: human_bytes(bytes),
                    replication,
                    findings: Vec::new(),
                    truncated: false,
                })
            })
        })
        .await?;
    d.findings = findings(&d, long_secs);
    bound(&mut d, max_bytes);
    Ok(d)
}

fn findings(d: &Diagnostics, long_secs: f64) -> Vec<String> {
    let mut f = Vec::new();
    let c = &d.connections;
    if c.used_pct >= 80.0 {
        f.push(format!(
            "connections near the limit: {} of {} in use ({}%), {} active, {} idle in transaction; non-superusers are refused at {}",
            c.total,
            c.max_connections,
            c.used_pct,
            c.active,
            c.idle_in_transaction,
            c.max_connections - c.superuser_reserved_connections
        ));
    }
    if !d.blocked_sessions.is_empty() {
        f.push(format!(
            "{} session(s) waiting on locks held by pid(s) {:?}",
            d.blocked_sessions.len(),
            d.blocking_sessions
                .iter()
                .map(|s| s.pid)
                .collect::<Vec<_>>()
        ));
    }
    if let Some(s) = d.slow_queries.first() {
        f.push(format!(
            "slowest statement: mean {} ms over {} call(s): {}",
            s.mean_ms,
            s.calls,
            mcp_common::output::cut_str(&s.query, 200).0
        ));
    }
    if !d.long_transactions.is_empty() {
        f.push(format!(
            "{} transaction(s) open longer than {long_secs}s (oldest pid {})",
            d.long_transactions.len(),
            d.long_transactions[0].pid
        ));
    }
    if c.idle_in_transaction > 0 {
        f.push(format!(
            "{} session(s) idle in transaction (they hold locks and snapshots)",
            c.idle_in_transaction
        ));
    }
    if let Some(h) = d.cache_hit_ratio
        && h < 0.9
    {
        f.push(format!("cache hit ratio is low: {:.1}%", h * 100.0));
    }
    if let Some(n) = &d.pg_stat_statements.note {
        f.push(n.clone());
    }
    for r in &d.replication.replicas {
        if r.replay_lag_bytes.unwrap_or(0) > 100 * 1024 * 1024 {
            f.push(format!(
                "replica {} is {} behind",
                r.application_name.as_deref().unwrap_or("?"),
                human_bytes(r.replay_lag_bytes.unwrap_or(0))
            ));
        }
    }
    f
}

/// Cuts the lists until the whole result fits `max_bytes`.
fn bound(d: &mut Diagnostics, max_bytes: usize) {
    let size = |d: &Diagnostics| serde_json::to_vec(d).map_or(usize::MAX, |v| v.len());
    if size(d) <= max_bytes {
        return;
    }
    d.truncated = true;
    let share = max_bytes / 6;
    for list in [
        &mut d.blocked_sessions,
        &mut d.blocking_sessions,
        &mut d.long_transactions,
    ] {
        let page = fit_items(std::mem::take(list), 50, share);
        *list = page.items;
    }
    let page = fit_items(std::mem::take(&mut d.slow_queries), 100, share);
    d.slow_queries = page.items;
    let page = fit_items(std::mem::take(&mut d.connections.by_client), 20, share / 2);
    d.connections.by_client = page.items;
}

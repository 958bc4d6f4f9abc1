//! Write tools (`--access rw` only): run one statement, cancel a query, end a session.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

use crate::activity::{SESSION_COLUMNS, Session};
use crate::db::Db;
use crate::error::PgError;
use crate::sql;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExecuteArgs {
    /// One statement (INSERT, UPDATE, DELETE, DDL, ...). Runs in a transaction of its own.
    pub sql: String,
    /// Run it, report the rows affected, then roll back.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecuteResult {
    pub rows_affected: u64,
    pub dry_run: bool,
    /// True when the change was committed (false for a dry run).
    pub committed: bool,
}

pub async fn execute(db: &Db, sql_text: &str, dry_run: bool) -> Result<ExecuteResult, PgError> {
    let sql_text = sql::statement(sql_text)?.to_owned();
    if sql::is_transaction_control(&sql_text) {
        return Err(PgError::invalid(
            "sql",
            "transaction control is not allowed: each call already runs in a transaction of its own (use dry_run to roll back)",
        ));
    }
    if sql::is_copy(&sql_text) {
        return Err(PgError::invalid(
            "sql",
            "COPY is not supported; use INSERT ... SELECT or INSERT ... VALUES",
        ));
    }
    let rows_affected = db
        .write(dry_run, move |c| {
            Box::pin(async move {
                let r = sqlx::query(AssertSqlSafe(sql_text))
                    .persistent(false)
                    .execute(&mut *c)
                    .await?;
                Ok(r.rows_affected())
            })
        })
        .await?;
    Ok(ExecuteResult {
        rows_affected,
        dry_run,
        committed: !dry_run,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SignalArgs {
    /// Process id of the backend (`pid` from postgres_activity or postgres_diagnostics).
    pub pid: i32,
    /// Only show the session that would be affected.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SignalResult {
    pub pid: i32,
    pub dry_run: bool,
    /// True when PostgreSQL accepted the signal.
    pub signalled: bool,
    /// The session as it was just before.
    pub session: Session,
}

/// `pg_cancel_backend` (`terminate = false`) or `pg_terminate_backend`.
pub async fn signal(
    db: &Db,
    pid: i32,
    terminate: bool,
    dry_run: bool,
) -> Result<SignalResult, PgError> {
    let function = if terminate {
        "pg_terminate_backend"
    } else {
        "pg_cancel_backend"
    };
    db.write(dry_run, move |c| {
        Box::pin(async move {
            let own: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *c)
                .await?;
            if own == pid {
                return Err(PgError::invalid("pid", "that is this tool's own session"));
            }
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {SESSION_COLUMNS} FROM pg_stat_activity a WHERE a.pid = $2"
            )))
            .bind(500i32)
            .bind(pid)
            .fetch_optional(&mut *c)
            .await?;
            let Some(row) = row else {
                return Err(PgError::invalid(
                    "pid",
                    format!(
                        "no server process with pid {pid}; list sessions with postgres_activity"
                    ),
                ));
            };
            let session = Session::from_row(&row)?;
            let signalled = if dry_run {
                false
            } else {
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT {function}($1)")))
                    .bind(pid)
                    .fetch_one(&mut *c)
                    .await?
            };
            if !dry_run && !signalled {
                return Err(PgError::Database {
                    code: "XX000".into(),
                    message: format!(
                        "{function}({pid}) returned false: the process did not take the signal"
                    ),
                    detail: None,
                    hint: Some("it may have exited meanwhile; check postgres_activity".into()),
                });
            }
            Ok(SignalResult {
                pid,
                dry_run,
                signalled,
                session,
            })
        })
    })
    .await
}

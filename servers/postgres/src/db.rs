//! The connection pool and the transactions every tool runs in.
//!
//! Read tools run inside `BEGIN READ ONLY` and always end with `ROLLBACK`; their statement
//! goes through the extended protocol (a prepared statement), so it is exactly one statement.
//! Write tools run in a plain `BEGIN` (the role's `default_transaction_read_only` applies) on a
//! connection that is closed afterwards, so no session state they set reaches a later call.

use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::Acquire;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::error::PgError;

/// Limits every tool call observes.
#[derive(Debug, Clone, Copy)]
pub struct DbSettings {
    pub statement_timeout: Duration,
    pub max_rows: usize,
    pub pool_size: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbSettings {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(30),
            max_rows: 1000,
            pool_size: 4,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The database this deployment talks to.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: PgPool,
    pub settings: DbSettings,
    /// Database name from the URL, for server info and results.
    pub database: String,
}

/// Extra time a call may take beyond the statement timeout (connect, `BEGIN`, `ROLLBACK`)
/// before it is abandoned on the client side.
const CLIENT_SLACK: Duration = Duration::from_secs(5);

impl Db {
    /// Builds the pool without connecting: the server starts even while the database is down
    /// (`/readyz` says so) and connects on first use.
    pub fn connect_lazy(url: &str, settings: DbSettings) -> Result<Self, PgError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| PgError::Config(format!("DATABASE_URL: {e}")))?;
        let options = options.application_name("mcp-postgres");
        // Without a database in the URL, PostgreSQL uses the user name.
        let database = options
            .get_database()
            .unwrap_or(options.get_username())
            .to_owned();
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            settings,
            database,
        })
    }

    /// Readiness: the database answers `SELECT 1`.
    pub async fn ping(&self) -> Result<(), PgError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn timeout_ms(&self) -> String {
        format!("{}ms", self.settings.statement_timeout.as_millis().max(1))
    }

    async fn with_client_deadline<T>(
        &self,
        call: impl Future<Output = Result<T, PgError>>,
    ) -> Result<T, PgError> {
        let deadline =
            self.settings.statement_timeout + self.settings.acquire_timeout + CLIENT_SLACK;
        match tokio::time::timeout(deadline, call).await {
            Ok(r) => r,
            Err(_) => Err(PgError::Connection(format!(
                "no answer from the database within {}s",
                deadline.as_secs()
            ))),
        }
    }

    /// Runs `f` inside `BEGIN READ ONLY`, with the statement timeout set for the transaction,
    /// and rolls back whatever happened.
    pub async fn read_only<T, F>(&self, f: F) -> Result<T, PgError>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, PgError>> + Send,
    {
        self.with_client_deadline(async {
            let mut tx = self.pool.begin_with("BEGIN READ ONLY").await?;
            // A SELECT (not SET): it also takes the transaction's snapshot, after which
            // `SET TRANSACTION READ WRITE` is refused by the server.
            sqlx::query("SELECT set_config('statement_timeout', $1, true)")
                .bind(self.timeout_ms())
                .execute(&mut *tx)
                .await?;
            let result = f(&mut tx).await;
            let rolled_back = tx.rollback().await;
            let value = result?;
            rolled_back?;
            Ok(value)
        })
        .await
    }

    /// Runs `f` in a plain transaction on a connection of its own; commits, or rolls back
    /// when `dry_run`. The connection is closed afterwards.
    pub async fn write<T, F>(&self, dry_run: bool, f: F) -> Result<T, PgError>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, PgError>> + Send,
    {
        self.with_client_deadline(async {
            let mut conn = self.pool.acquire().await?;
            let result = async {
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT set_config('statement_timeout', $1, true)")
                    .bind(self.timeout_ms())
                    .execute(&mut *tx)
                    .await?;
                let value = f(&mut tx).await?;
                if dry_run {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(value)
            }
            .await;
            let _ = conn.close().await;
            result
        })
        .await
    }
}

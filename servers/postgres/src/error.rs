//! The crate's one error type, and how each failure becomes a tool error an agent can act on.

use mcp_common::ToolError;
use sqlx::postgres::PgDatabaseError;

/// What can go wrong between a tool and PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// PostgreSQL refused or failed the statement; carries its own message and SQLSTATE.
    #[error("{message} (SQLSTATE {code})")]
    Database {
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// No connection could be had within the acquire timeout.
    #[error("no database connection available: {0}")]
    PoolTimedOut(String),
    /// The connection failed or broke (network, server restart, session terminated).
    #[error("database connection failed: {0}")]
    Connection(String),
    /// The settings are wrong (bad `DATABASE_URL`, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The request cannot be run as given.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// Anything else the driver reports (decode errors, protocol surprises).
    #[error("{0}")]
    Driver(String),
}

impl PgError {
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }

    /// SQLSTATE of a database error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Database { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Renders the failure of `what` for an agent: Postgres's own message plus what to do next.
    pub fn into_tool_error(self, what: &str) -> ToolError {
        let hint = match &self {
            Self::Database {
                code, hint, detail, ..
            } => {
                let ours = match code.as_str() {
                    "25006" => Some(
                        "this deployment or its database role is read-only; writes need a postgres-rw backend whose role may write",
                    ),
                    "42501" => Some(
                        "the database role of this deployment lacks the privilege; see policies/postgres/roles.sql or ask an operator",
                    ),
                    "57014" => Some(
                        "the statement was cancelled (statement timeout or a cancel request); narrow the query, add a LIMIT or a WHERE on an indexed column",
                    ),
                    "42P01" => Some(
                        "list the tables with postgres_list_tables (schema-qualify the name if it is not in `public`)",
                    ),
                    "42601" => Some(
                        "one statement per call; postgres_query takes a query (SELECT, WITH ... SELECT, VALUES, TABLE) and runs it read-only",
                    ),
                    "57P01" | "57P02" | "57P03" => Some(
                        "the server ended the session; retry: a new connection is opened automatically",
                    ),
                    "53300" => Some(
                        "the server has no free connection slots; see postgres_diagnostics for who holds them",
                    ),
                    _ => None,
                };
                let mut parts = Vec::new();
                if let Some(d) = detail {
                    parts.push(format!("detail: {d}"));
                }
                if let Some(h) = hint {
                    parts.push(format!("postgres hint: {h}"));
                }
                if let Some(o) = ours {
                    parts.push(o.to_owned());
                }
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            Self::PoolTimedOut(_) | Self::Connection(_) => Some(
                "the database did not answer; check that it is up and reachable from this pod (readiness on /readyz says the same)".to_owned(),
            ),
            _ => None,
        };
        let error = match self {
            Self::InvalidArgument { name, reason } => {
                return ToolError::invalid_argument(name, reason);
            }
            e => ToolError::upstream(what, e),
        };
        match hint {
            Some(h) => error.with_hint(h),
            None => error,
        }
    }
}

impl From<sqlx::Error> for PgError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
                Some(pg) => Self::Database {
                    code: pg.code().to_owned(),
                    message: pg.message().to_owned(),
                    detail: pg.detail().map(str::to_owned),
                    hint: pg.hint().map(str::to_owned),
                },
                None => Self::Database {
                    code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
                    message: db.message().to_owned(),
                    detail: None,
                    hint: None,
                },
            },
            sqlx::Error::PoolTimedOut => {
                Self::PoolTimedOut("timed out waiting for a connection from the pool".to_owned())
            }
            sqlx::Error::PoolClosed => Self::Connection("the connection pool is closed".into()),
            sqlx::Error::Io(e) => Self::Connection(e.to_string()),
            sqlx::Error::Tls(e) => Self::Connection(format!("TLS: {e}")),
            sqlx::Error::Configuration(e) => Self::Config(e.to_string()),
            sqlx::Error::Protocol(p) => Self::Connection(format!("protocol: {p}")),
            other => Self::Driver(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_refusal_is_named() {
        let e = PgError::Database {
            code: "25006".into(),
            message: "cannot execute INSERT in a read-only transaction".into(),
            detail: None,
            hint: None,
        };
        let t = e.into_tool_error("postgres_execute").text();
        assert!(t.contains("cannot execute INSERT in a read-only transaction"));
        assert!(t.contains("SQLSTATE 25006"));
        assert!(t.contains("read-only"));
    }

    #[test]
    fn invalid_argument_is_not_an_upstream_failure() {
        let t = PgError::invalid("sql", "empty").into_tool_error("x").text();
        assert_eq!(t, "invalid argument `sql`: empty");
    }
}

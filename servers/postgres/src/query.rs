//! `postgres_query` and `postgres_explain`: one read-only statement per call.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Column, Executor, SqlSafeStr, Statement, TypeInfo};

use crate::db::Db;
use crate::error::PgError;
use crate::sql;
use crate::values::{self, ColumnInfo};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// One read-only query: `SELECT`, `WITH ... SELECT`, `VALUES` or `TABLE`. Runs inside
    /// `BEGIN READ ONLY ... ROLLBACK` with the server's statement timeout.
    pub sql: String,
    /// Rows to return at most (capped by the server's `--max-rows`).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResult {
    pub columns: Vec<ColumnInfo>,
    /// Rows as arrays in column order. `numeric` values are strings (exact), timestamps RFC 3339.
    pub rows: Vec<Vec<Value>>,
    pub row_count: usize,
    /// True when rows were left out (row cap or byte cap) or long values were cut.
    pub truncated: bool,
    /// Why the result was cut, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_reason: Option<String>,
    pub row_limit: usize,
    pub statement_timeout_ms: u64,
}

/// Values longer than this (serialized) are cut inside a row.
fn max_cell_bytes(max_output_bytes: usize) -> usize {
    (max_output_bytes / 8).max(256)
}

/// Runs one read query through a cursor, so the row cap is applied by the server.
pub async fn query(
    db: &Db,
    sql_text: &str,
    limit: Option<usize>,
    max_output_bytes: usize,
) -> Result<QueryResult, PgError> {
    let sql_text = sql::statement(sql_text)?.to_owned();
    if sql::is_known_non_query(&sql_text) {
        let kw = sql::first_keyword(&sql_text).unwrap_or_else(|| "?".into());
        return Err(PgError::invalid(
            "sql",
            format!(
                "postgres_query runs one read query (SELECT, WITH ... SELECT, VALUES, TABLE), not {kw}; \
                 use postgres_explain for plans, current_setting('name') instead of SHOW, and \
                 postgres_execute on a postgres-rw backend for changes"
            ),
        ));
    }
    let cap = limit
        .unwrap_or(db.settings.max_rows)
        .clamp(1, db.settings.max_rows);
    let (columns, rows, more) = db
        .read_only(move |c| {
            Box::pin(async move {
                sqlx::query(AssertSqlSafe(format!(
                    "DECLARE mcp_query NO SCROLL CURSOR FOR {sql_text}"
                )))
                .persistent(false)
                .execute(&mut *c)
                .await?;
                let mut rows = sqlx::query(AssertSqlSafe(format!(
                    "FETCH FORWARD {} FROM mcp_query",
                    cap + 1
                )))
                .persistent(false)
                .fetch_all(&mut *c)
                .await?;
                let more = rows.len() > cap;
                rows.truncate(cap);
                let columns = match rows.first() {
                    Some(r) => values::columns(r),
                    None => {
                        // No row to read the shape from: ask the server for it.
                        let st = (&mut *c)
                            .prepare(AssertSqlSafe(sql_text.clone()).into_sql_str())
                            .await?;
                        st.columns()
                            .iter()
                            .map(|col| ColumnInfo {
                                name: col.name().to_owned(),
                                type_name: col.type_info().name().to_ascii_lowercase(),
                            })
                            .collect()
                    }
                };
                let rows: Vec<Vec<Value>> = rows.iter().map(values::row_values).collect();
                Ok((columns, rows, more))
            })
        })
        .await?;

    let mut cells_cut = false;
    let cell_cap = max_cell_bytes(max_output_bytes);
    let rows: Vec<Vec<Value>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| {
                    let (v, cut) = mcp_common::output::bound_json(v, cell_cap);
                    cells_cut |= cut;
                    v
                })
                .collect()
        })
        .collect();
    let header = serde_json::to_vec(&columns).map_or(0, |v| v.len()) + 256;
    let page =
        mcp_common::output::fit_items(rows, cap, max_output_bytes.saturating_sub(header).max(64));
    let reason = if page.truncated {
        Some(format!(
            "output cap: {} bytes (--max-output-bytes); ask for fewer rows or columns",
            max_output_bytes
        ))
    } else if more {
        Some(format!(
            "row cap: {cap} rows; add a WHERE, an ORDER BY ... LIMIT, or aggregate"
        ))
    } else if cells_cut {
        Some(format!("values longer than {cell_cap} bytes were cut"))
    } else {
        None
    };
    Ok(QueryResult {
        row_count: page.items.len(),
        rows: page.items,
        columns,
        truncated: reason.is_some(),
        truncated_reason: reason,
        row_limit: cap,
        statement_timeout_ms: db.settings.statement_timeout.as_millis() as u64,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExplainArgs {
    /// The statement to explain (one statement).
    pub sql: String,
    /// Run it (`EXPLAIN ANALYZE, BUFFERS`) for actual times; only for a plain SELECT, and still
    /// inside a read-only transaction that is rolled back.
    #[serde(default)]
    pub analyze: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExplainResult {
    /// `EXPLAIN (FORMAT JSON)` output.
    pub plan: Value,
    pub analyzed: bool,
    /// Planner's total cost of the top node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,
    /// Planner's row estimate of the top node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_rows: Option<f64>,
    /// Actual execution time (ANALYZE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_ms: Option<f64>,
    /// True when the plan was cut to fit the output cap.
    pub truncated: bool,
}

pub async fn explain(
    db: &Db,
    sql_text: &str,
    analyze: bool,
    max_output_bytes: usize,
) -> Result<ExplainResult, PgError> {
    let sql_text = sql::statement(sql_text)?.to_owned();
    if analyze && !sql::is_plain_select(&sql_text) {
        return Err(PgError::invalid(
            "analyze",
            "EXPLAIN ANALYZE executes the statement, so it is allowed only for a plain SELECT; \
             explain without analyze",
        ));
    }
    let options = if analyze {
        "FORMAT JSON, ANALYZE, BUFFERS"
    } else {
        "FORMAT JSON"
    };
    let plan: Value = db
        .read_only(move |c| {
            Box::pin(async move {
                let row = sqlx::query(AssertSqlSafe(format!("EXPLAIN ({options}) {sql_text}")))
                    .persistent(false)
                    .fetch_one(&mut *c)
                    .await?;
                let v = values::row_values(&row)
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Null);
                // `json` arrives as JSON; be lenient if a text form ever does.
                Ok(match v {
                    Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                    v => v,
                })
            })
        })
        .await?;
    let top = &plan[0];
    let total_cost = top["Plan"]["Total Cost"].as_f64();
    let plan_rows = top["Plan"]["Plan Rows"].as_f64();
    let execution_ms = top["Execution Time"].as_f64();
    let (plan, truncated) =
        mcp_common::output::bound_json(plan, max_output_bytes.saturating_sub(512));
    Ok(ExplainResult {
        plan,
        analyzed: analyze,
        total_cost,
        plan_rows,
        execution_ms,
        truncated,
    })
}

//! The catalog tools: schemas, tables, and one table's shape.

use mcp_common::output::{Page, fit_items};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::postgres::types::Oid;

use crate::db::Db;
use crate::error::PgError;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSchemasArgs {
    /// Include `pg_catalog`, `information_schema` and the toast/temp schemas.
    #[serde(default)]
    pub include_system: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SchemaInfo {
    pub name: String,
    pub owner: String,
    pub tables: i64,
    pub views: i64,
    /// Total size of its tables, materialized views, indexes and toast, in bytes.
    pub total_bytes: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SchemaList {
    pub database: String,
    pub schemas: Page<SchemaInfo>,
}

pub async fn list_schemas(
    db: &Db,
    include_system: bool,
    max_bytes: usize,
) -> Result<SchemaList, PgError> {
    let rows: Vec<(String, String, i64, i64, i64)> = db
        .read_only(move |c| {
            Box::pin(async move {
                Ok(sqlx::query_as(
                    "SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text,
                            count(c.oid) FILTER (WHERE c.relkind IN ('r','p'))::int8,
                            count(c.oid) FILTER (WHERE c.relkind IN ('v','m'))::int8,
                            coalesce(sum(pg_total_relation_size(c.oid))
                                     FILTER (WHERE c.relkind IN ('r','p','m')), 0)::int8
                     FROM pg_namespace n
                     LEFT JOIN pg_class c ON c.relnamespace = n.oid
                     WHERE $1 OR (n.nspname NOT IN ('pg_catalog', 'information_schema')
                                  AND n.nspname NOT LIKE 'pg\\_toast%'
                                  AND n.nspname NOT LIKE 'pg\\_temp\\_%')
                     GROUP BY n.oid, n.nspname, n.nspowner
                     ORDER BY 1",
                )
                .bind(include_system)
                .fetch_all(&mut *c)
                .await?)
            })
        })
        .await?;
    let items = rows
        .into_iter()
        .map(|(name, owner, tables, views, total_bytes)| SchemaInfo {
            name,
            owner,
            tables,
            views,
            total_bytes,
        })
        .collect();
    Ok(SchemaList {
        database: db.database.clone(),
        schemas: fit_items(items, 10_000, max_bytes.saturating_sub(256)),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTablesArgs {
    /// Schema to list (default `public`). Exact name, not case-folded.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Tables per page (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

pub fn default_schema() -> String {
    "public".into()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TableInfo {
    pub name: String,
    /// table, partitioned table, view, materialized view, foreign table.
    pub kind: String,
    /// Planner's row estimate (`reltuples`); null when the table was never analyzed.
    pub row_estimate: Option<i64>,
    pub total_bytes: i64,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TableList {
    pub schema: String,
    pub tables: Page<TableInfo>,
}

type TableRow = (String, String, f64, i64, Option<String>);

pub async fn list_tables(
    db: &Db,
    args: ListTablesArgs,
    max_bytes: usize,
) -> Result<TableList, PgError> {
    let limit = args.limit.unwrap_or(200).clamp(1, 1000);
    let offset: usize = match args.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| PgError::invalid("cursor", "pass back a next_cursor unchanged"))?,
    };
    let schema = args.schema.clone();
    let rows: Vec<TableRow> = db
        .read_only(move |c| {
            Box::pin(async move {
                // Postgres's own error for a schema that does not exist.
                sqlx::query("SELECT quote_ident($1)::regnamespace")
                    .bind(&schema)
                    .execute(&mut *c)
                    .await?;
                Ok(sqlx::query_as(
                    "SELECT c.relname::text,
                            CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                                 WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                 ELSE 'foreign table' END,
                            c.reltuples::float8,
                            pg_total_relation_size(c.oid)::int8,
                            obj_description(c.oid, 'pg_class')
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                     ORDER BY c.relname
                     OFFSET $2 LIMIT $3",
                )
                .bind(&schema)
                .bind(offset as i64)
                .bind((limit + 1) as i64)
                .fetch_all(&mut *c)
                .await?)
            })
        })
        .await?;
    let more = rows.len() > limit;
    let items: Vec<TableInfo> = rows
        .into_iter()
        .take(limit)
        .map(|(name, kind, tuples, total_bytes, comment)| TableInfo {
            name,
            kind,
            row_estimate: (tuples >= 0.0).then_some(tuples as i64),
            total_bytes,
            comment,
        })
        .collect();
    let mut page = fit_items(items, limit, max_bytes.saturating_sub(256));
    if page.truncated || more {
        page.truncated = true;
        page.next_cursor = Some((offset + page.items.len()).to_string());
    }
    page.total = None;
    Ok(TableList {
        schema: args.schema,
        tables: page,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DescribeTableArgs {
    /// Schema of the table (default `public`).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Table (or view) name, exact.
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IndexDef {
    pub name: String,
    pub definition: String,
    pub primary: bool,
    pub unique: bool,
    pub valid: bool,
    pub bytes: i64,
    /// Index scans since statistics were reset.
    pub scans: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConstraintDef {
    pub name: String,
    /// primary key, foreign key, unique, check, exclusion, not null, trigger.
    pub kind: String,
    pub definition: String,
}

#[derive(Debug, Serialize, JsonSchema, Default)]
pub struct TableStats {
    pub live_rows: Option<i64>,
    pub dead_rows: Option<i64>,
    pub seq_scans: Option<i64>,
    pub index_scans: Option<i64>,
    pub last_vacuum: Option<String>,
    pub last_autovacuum: Option<String>,
    pub last_analyze: Option<String>,
    pub last_autoanalyze: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TableDescription {
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub comment: Option<String>,
    /// Planner's estimate; null when never analyzed.
    pub row_estimate: Option<i64>,
    pub total_bytes: i64,
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub total_size: String,
    pub columns: Page<ColumnDef>,
    pub indexes: Page<IndexDef>,
    pub constraints: Page<ConstraintDef>,
    pub stats: TableStats,
}

type ColRow = (String, String, bool, Option<String>, Option<String>);
type IdxRow = (String, String, bool, bool, bool, i64, Option<i64>);
type Head = (String, String, Option<String>, f64, i64, i64, i64, String);
type StatsRow = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub async fn describe_table(
    db: &Db,
    args: DescribeTableArgs,
    max_bytes: usize,
) -> Result<TableDescription, PgError> {
    let (schema, name) = (args.schema.clone(), args.name.clone());
    let (head, cols, idx, cons, stats) = db
        .read_only(move |c| {
            Box::pin(async move {
                // `::regclass` answers with Postgres's own "relation ... does not exist".
                let (oid,): (Oid,) =
                    sqlx::query_as("SELECT format('%I.%I', $1, $2)::regclass::oid")
                        .bind(&schema)
                        .bind(&name)
                        .fetch_one(&mut *c)
                        .await?;
                let head: Head = sqlx::query_as(
                    "SELECT n.nspname::text, c.relname::text, obj_description(c.oid, 'pg_class'),
                            c.reltuples::float8, pg_total_relation_size(c.oid)::int8,
                            pg_relation_size(c.oid)::int8, pg_indexes_size(c.oid)::int8,
                            CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                                 WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                 WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index'
                                 WHEN 'S' THEN 'sequence' ELSE c.relkind::text END
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = $1",
                )
                .bind(oid)
                .fetch_one(&mut *c)
                .await?;
                let cols: Vec<ColRow> = sqlx::query_as(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                                NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                                col_description(a.attrelid, a.attnum)
                         FROM pg_attribute a
                         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                         WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                         ORDER BY a.attnum",
                )
                .bind(oid)
                .fetch_all(&mut *c)
                .await?;
                let idx: Vec<IdxRow> = sqlx::query_as(
                    "SELECT ic.relname::text, pg_get_indexdef(i.indexrelid), i.indisprimary,
                                i.indisunique, i.indisvalid, pg_relation_size(i.indexrelid)::int8,
                                s.idx_scan::int8
                         FROM pg_index i
                         JOIN pg_class ic ON ic.oid = i.indexrelid
                         LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
                         WHERE i.indrelid = $1
                         ORDER BY ic.relname",
                )
                .bind(oid)
                .fetch_all(&mut *c)
                .await?;
                let cons: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT conname::text,
                            CASE contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                                 WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check'
                                 WHEN 'x' THEN 'exclusion' WHEN 'n' THEN 'not null'
                                 WHEN 't' THEN 'trigger' ELSE contype::text END,
                            pg_get_constraintdef(oid)
                     FROM pg_constraint WHERE conrelid = $1 ORDER BY conname",
                )
                .bind(oid)
                .fetch_all(&mut *c)
                .await?;
                let stats: Option<StatsRow> = sqlx::query_as(
                    "SELECT n_live_tup::int8, n_dead_tup::int8, seq_scan::int8, idx_scan::int8,
                            last_vacuum::text, last_autovacuum::text, last_analyze::text,
                            last_autoanalyze::text
                     FROM pg_stat_all_tables WHERE relid = $1",
                )
                .bind(oid)
                .fetch_optional(&mut *c)
                .await?;
                Ok((head, cols, idx, cons, stats))
            })
        })
        .await?;
    let (schema, name, comment, tuples, total_bytes, table_bytes, index_bytes, kind) = head;
    let budget = max_bytes.saturating_sub(1024);
    let columns = cols
        .into_iter()
        .map(|(name, type_name, nullable, default, comment)| ColumnDef {
            name,
            type_name,
            nullable,
            default,
            comment,
        })
        .collect();
    let indexes = idx
        .into_iter()
        .map(
            |(name, definition, primary, unique, valid, bytes, scans)| IndexDef {
                name,
                definition,
                primary,
                unique,
                valid,
                bytes,
                scans,
            },
        )
        .collect();
    let constraints = cons
        .into_iter()
        .map(|(name, kind, definition)| ConstraintDef {
            name,
            kind,
            definition,
        })
        .collect();
    let stats = stats
        .map(|(live, dead, seq, idx, vac, avac, an, aan)| TableStats {
            live_rows: live,
            dead_rows: dead,
            seq_scans: seq,
            index_scans: idx,
            last_vacuum: vac,
            last_autovacuum: avac,
            last_analyze: an,
            last_autoanalyze: aan,
        })
        .unwrap_or_default();
    Ok(TableDescription {
        schema,
        name,
        kind,
        comment,
        row_estimate: (tuples >= 0.0).then_some(tuples as i64),
        total_bytes,
        table_bytes,
        index_bytes,
        total_size: human_bytes(total_bytes),
        columns: fit_items(columns, 1600, budget / 2),
        indexes: fit_items(indexes, 1000, budget / 4),
        constraints: fit_items(constraints, 1000, budget / 4),
        stats,
    })
}

/// `1.5 MiB`-style sizes for people reading along.
pub fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v.abs() >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

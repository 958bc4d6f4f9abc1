//! mcp-postgres against a real PostgreSQL 15 (a throwaway cluster from scripts/start-postgres):
//! every tool, the read-only escapes, each read-only layer on its own, bad input, a dropped
//! connection, two instances, and the tools over MCP streamable HTTP.

use crate::common;

use std::time::Duration;

use common::{client, cluster, fresh_db, handler, serve};
use mcp_postgres::activity::{self, ActivityArgs};
use mcp_postgres::admin;
use mcp_postgres::catalog::{self, DescribeTableArgs, ListTablesArgs};
use mcp_postgres::diagnostics::{self, DiagnosticsArgs};
use mcp_postgres::query;
use mcp_postgres::{Db, DbSettings, PgError};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};

const MAX: usize = 65536;

fn db(url: &str) -> Db {
    Db::connect_lazy(url, DbSettings::default()).expect("db")
}

fn db_with(url: &str, f: impl FnOnce(&mut DbSettings)) -> Db {
    let mut s = DbSettings::default();
    f(&mut s);
    Db::connect_lazy(url, s).expect("db")
}

fn tool_text(e: PgError, tool: &str) -> String {
    e.into_tool_error(tool).text()
}

/// The data the escapes must not have changed.
async fn assert_intact(name: &str) {
    let mut c = cluster().admin(name).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut c)
        .await
        .expect("items still there");
    assert_eq!(n, 3, "items unchanged");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut c)
        .await
        .expect("orders still there");
    assert_eq!(n, 2);
    let called: bool = sqlx::query_scalar("SELECT is_called FROM counter")
        .fetch_one(&mut c)
        .await
        .expect("sequence");
    assert!(!called, "nextval never ran");
    c.close().await.ok();
}

/// The escapes of the issue. Each must be refused by postgres_query in an RO deployment.
const ESCAPES: &[&str] = &[
    "ROLLBACK; DROP TABLE items",
    "COMMIT; DELETE FROM items",
    "SET TRANSACTION READ WRITE",
    "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
    "SELECT nextval('counter')",
    "COPY items TO STDOUT",
    "COPY items FROM STDIN",
    "COPY (SELECT 1) TO '/tmp/mcp-escape'",
    "SELECT 1; DROP TABLE orders",
    "DROP TABLE orders",
    "UPDATE items SET price = 0",
];

#[tokio::test]
async fn query_returns_typed_rows() {
    let name = fresh_db("q").await;
    let db = db(&cluster().url(&name));
    let r = query::query(
        &db,
        "SELECT id, name, price, tags, created, price * 2 AS double, NULL::int AS nothing,
                '{\"a\": 1}'::jsonb AS doc, 'x'::\"char\" AS c, '10.0.0.1/8'::inet AS net,
                interval '1 day 2 hours' AS span, true AS yes
         FROM items ORDER BY id",
        None,
        MAX,
    )
    .await
    .expect("query");
    assert!(!r.truncated);
    assert_eq!(r.row_count, 3);
    let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id", "name", "price", "tags", "created", "double", "nothing", "doc", "c", "net",
            "span", "yes"
        ]
    );
    assert_eq!(r.columns[2].type_name, "numeric");
    assert_eq!(
        Value::Array(r.rows[0].clone()),
        json!([1, "apple", "1.50", ["fruit"], "2026-01-02T03:04:05Z", "3.00", null, {"a": 1}, "x", "10.0.0.1/8", "1 days 02:00:00", true])
    );
    assert_eq!(r.rows[1][3], Value::Null);

    // Row cap: the agent's limit, and the server's --max-rows.
    let r = query::query(&db, "SELECT * FROM items ORDER BY id", Some(2), MAX)
        .await
        .expect("query");
    assert_eq!(r.row_count, 2);
    assert!(r.truncated);
    assert!(r.truncated_reason.as_deref().unwrap().contains("row cap"));
    let capped = db_with(&cluster().url(&name), |s| s.max_rows = 1);
    let r = query::query(&capped, "SELECT generate_series(1, 100)", Some(50), MAX)
        .await
        .expect("query");
    assert_eq!((r.row_count, r.row_limit, r.truncated), (1, 1, true));

    // Byte cap.
    let r = query::query(
        &db,
        "SELECT repeat('x', 100) FROM generate_series(1, 1000)",
        None,
        4096,
    )
    .await
    .expect("query");
    assert!(r.truncated);
    assert!(r.row_count < 1000);
    assert!(serde_json::to_vec(&r).unwrap().len() <= 4096 + 512);

    // No rows: columns still described.
    let r = query::query(&db, "SELECT id, name FROM items WHERE false", None, MAX)
        .await
        .expect("query");
    assert_eq!(r.row_count, 0);
    assert_eq!(r.columns.len(), 2);
    assert_eq!(r.columns[0].type_name, "int4");
}

#[tokio::test]
async fn escapes_are_refused_in_ro_and_data_is_intact() {
    let name = fresh_db("esc").await;
    // Superuser credentials (layer 1 absent) and the RO role (all layers).
    for url in [cluster().url(&name), cluster().url_as("mcp_ro", &name)] {
        let h = handler(&url, &["--access", "ro"]);
        for sql in ESCAPES {
            let e = query::query(h.db(), sql, None, MAX).await.expect_err(sql);
            let text = tool_text(e, "postgres_query");
            assert!(!text.is_empty(), "{sql}");
        }
        // EXPLAIN ANALYZE of a write is refused; a plain EXPLAIN of one does not run it.
        assert!(
            query::explain(h.db(), "DELETE FROM items", true, MAX)
                .await
                .is_err()
        );
        // Planned (superuser) or refused for lack of privilege (mcp_ro); never run.
        let _ = query::explain(h.db(), "DELETE FROM items", false, MAX).await;
        assert!(
            query::explain(h.db(), "SELECT 1; DROP TABLE items", false, MAX)
                .await
                .is_err()
        );
        assert!(
            query::explain(
                h.db(),
                "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
                true,
                MAX
            )
            .await
            .is_err()
        );
    }
    assert_intact(&name).await;
}

/// Layer 1 alone: an RW deployment (write tools, no read-only transaction) with the mcp_ro
/// role's credentials cannot write.
#[tokio::test]
async fn layer1_role_alone_refuses_writes() {
    let name = fresh_db("l1").await;
    let h = handler(&cluster().url_as("mcp_ro", &name), &["--access", "rw"]);
    for sql in [
        "INSERT INTO items (name, price) VALUES ('x', 1)",
        "DELETE FROM items",
        "SELECT nextval('counter')",
        "DROP TABLE orders",
        "CREATE TABLE evil (id int)",
    ] {
        let e = admin::execute(h.db(), sql, false).await.expect_err(sql);
        let text = tool_text(e, "postgres_execute");
        // nextval checks the sequence privilege (pg_read_all_data has SELECT only) first.
        assert!(
            text.contains("read-only transaction")
                || (sql.contains("nextval") && text.contains("permission denied")),
            "{sql}: the refusal names read-only: {text}"
        );
    }
    // Even if a session turned read-only off, the role has no write privilege.
    let mut c = sqlx::PgConnection::connect(&cluster().url_as("mcp_ro", &name))
        .await
        .expect("connect as mcp_ro");
    c.execute("SET default_transaction_read_only = off")
        .await
        .expect("set");
    let e = c
        .execute("INSERT INTO items (name, price) VALUES ('x', 1)")
        .await
        .expect_err("no privilege");
    assert!(e.to_string().contains("permission denied"), "{e}");
    let e = c
        .execute("SELECT pg_terminate_backend(pg_backend_pid() + 100000)")
        .await;
    // Not a member of pg_signal_backend: a warning for an unknown pid at most, never a kill.
    drop(e);
    c.close().await.ok();
    assert_intact(&name).await;
}

/// Layer 2 alone: superuser credentials, statements run directly (no cursor, no lexical
/// check) inside the read-only transaction one at a time.
#[tokio::test]
async fn layer2_read_only_transaction_alone_refuses_writes() {
    let name = fresh_db("l2").await;
    let db = db(&cluster().url(&name));
    for sql in [
        "INSERT INTO items (name, price) VALUES ('x', 1)",
        "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
        "SELECT nextval('counter')",
        "SET TRANSACTION READ WRITE",
        "DROP TABLE orders",
        "COPY items FROM '/etc/hostname'",
        "TRUNCATE orders",
    ] {
        let e = db
            .read_only(move |c| {
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(sql)).execute(&mut *c).await?;
                    Ok(())
                })
            })
            .await
            .expect_err(sql);
        let text = tool_text(e, "postgres_query");
        assert!(
            text.contains("read-only transaction") || text.contains("must be set before any query"),
            "{sql}: {text}"
        );
    }
    assert_intact(&name).await;
}

/// Layer 3 alone: superuser credentials, no transaction at all: the extended protocol takes
/// one statement, so a second one can never run.
#[tokio::test]
async fn layer3_one_statement_alone_refuses_a_second_statement() {
    let name = fresh_db("l3").await;
    let mut c = cluster().admin(&name).await;
    for sql in [
        "ROLLBACK; DROP TABLE orders",
        "COMMIT; DELETE FROM items",
        "SELECT 1; DROP TABLE orders",
    ] {
        let e = sqlx::query(AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect_err(sql);
        assert!(
            e.to_string()
                .contains("cannot insert multiple commands into a prepared statement"),
            "{sql}: {e}"
        );
    }
    c.close().await.ok();
    assert_intact(&name).await;
}

#[tokio::test]
async fn bad_input_is_a_tool_error_with_postgres_message_and_the_pool_recovers() {
    let name = fresh_db("bad").await;
    let db = db_with(&cluster().url(&name), |s| {
        s.statement_timeout = Duration::from_millis(500);
        s.pool_size = 1;
    });
    let cases = [
        ("SELECT * FROM nope", "relation \"nope\" does not exist"),
        ("SELEC 1", "syntax error at or near"),
        (
            "SELECT pg_sleep(5)",
            "canceling statement due to statement timeout",
        ),
        ("SELECT 1/0", "division by zero"),
    ];
    for (sql, want) in cases {
        let text = tool_text(
            query::query(&db, sql, None, MAX).await.expect_err(sql),
            "postgres_query",
        );
        assert!(text.contains(want), "{sql}: {text}");
        assert!(text.starts_with("postgres_query failed:"), "{text}");
        // The pool (one connection) still serves.
        let r = query::query(&db, "SELECT count(*) FROM items", None, MAX)
            .await
            .expect("pool recovered");
        assert_eq!(r.rows[0][0], json!(3));
    }
    let text = tool_text(
        catalog::describe_table(
            &db,
            DescribeTableArgs {
                schema: "public".into(),
                name: "nope".into(),
            },
            MAX,
        )
        .await
        .expect_err("unknown table"),
        "postgres_describe_table",
    );
    assert!(
        text.contains("relation \"public.nope\" does not exist"),
        "{text}"
    );
    let text = tool_text(
        catalog::list_tables(
            &db,
            ListTablesArgs {
                schema: "nope".into(),
                limit: None,
                cursor: None,
            },
            MAX,
        )
        .await
        .expect_err("unknown schema"),
        "postgres_list_tables",
    );
    assert!(text.contains("schema \"nope\" does not exist"), "{text}");
    let e = query::query(&db, "  ", None, MAX).await.expect_err("empty");
    assert!(tool_text(e, "postgres_query").contains("invalid argument `sql`"));
}

#[tokio::test]
async fn a_dropped_connection_is_a_tool_error_and_the_pool_recovers() {
    let name = fresh_db("drop").await;
    let db = db_with(&cluster().url(&name), |s| s.pool_size = 1);
    let running = {
        let db = db.clone();
        tokio::spawn(async move {
            query::query(&db, "SELECT pg_sleep(30) AS mcp_drop_me", None, MAX).await
        })
    };
    let mut admin = cluster().admin(&name).await;
    let mut killed = false;
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'mcp-postgres' AND wait_event = 'PgSleep'",
        )
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        if n > 0 {
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(killed, "the query was seen running");
    let e = running.await.expect("join").expect_err("terminated");
    let text = tool_text(e, "postgres_query");
    assert!(
        text.contains("terminating connection due to administrator command"),
        "{text}"
    );
    let r = query::query(&db, "SELECT 42", None, MAX)
        .await
        .expect("the pool opened a new connection");
    assert_eq!(r.rows[0][0], json!(42));
    admin.close().await.ok();
}

#[tokio::test]
async fn two_instances_two_databases() {
    let a = fresh_db("env_a").await;
    let b = fresh_db("env_b").await;
    let mut c = cluster().admin(&b).await;
    c.execute("CREATE TABLE only_in_b (id int)").await.unwrap();
    c.close().await.ok();
    let sa = serve(&cluster().url_as("mcp_ro", &a), &["--env", "stage"]).await;
    let sb = serve(&cluster().url_as("mcp_ro", &b), &["--env", "prod"]).await;
    for (served, name, has_b) in [(&sa, &a, false), (&sb, &b, true)] {
        let cl = client(served.addr).await;
        let info = cl.peer_info().expect("server info");
        assert!(
            info.instructions
                .as_deref()
                .unwrap_or("")
                .contains(name.as_str()),
            "{info:?}"
        );
        let r = cl
            .call_tool(
                CallToolRequestParams::new("postgres_query").with_arguments(
                    json!({"sql": "SELECT current_database() AS db"})
                        .as_object()
                        .cloned()
                        .unwrap(),
                ),
            )
            .await
            .expect("call");
        assert_eq!(r.structured_content.unwrap()["rows"][0][0], json!(name));
        let r = cl
            .call_tool(CallToolRequestParams::new("postgres_list_tables"))
            .await
            .expect("call");
        let tables = r.structured_content.unwrap()["tables"]["items"].to_string();
        assert_eq!(tables.contains("only_in_b"), has_b, "{tables}");
        cl.cancel().await.ok();
    }
}

#[tokio::test]
async fn tools_over_mcp_http_ro_and_rw() {
    let name = fresh_db("http").await;
    let ro = serve(&cluster().url_as("mcp_ro", &name), &["--access", "ro"]).await;
    let rw = serve(&cluster().url_as("mcp_rw", &name), &["--access", "rw"]).await;

    let read_tools = [
        "postgres_activity",
        "postgres_describe_table",
        "postgres_diagnostics",
        "postgres_explain",
        "postgres_list_schemas",
        "postgres_list_tables",
        "postgres_query",
    ];
    let write_tools = [
        "postgres_cancel_query",
        "postgres_execute",
        "postgres_terminate_session",
    ];
    // The gateway's catalog (policies/tools.json) lists exactly these.
    let catalog: serde_json::Value =
        serde_json::from_str(include_str!("../../../../policies/tools.json")).unwrap();
    assert_eq!(catalog["postgres"]["read"], json!(read_tools));
    assert_eq!(catalog["postgres"]["write"], json!(write_tools));
    let c = client(ro.addr).await;
    let tools = c.list_all_tools().await.expect("list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, read_tools, "RO registers no write tool");
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.read_only_hint, Some(true));
        assert!(
            a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some()
        );
        assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
    }
    // A write tool is not callable in RO.
    let r = c
        .call_tool(
            CallToolRequestParams::new("postgres_execute").with_arguments(
                json!({"sql": "DELETE FROM items"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true));

    // Every read tool answers with structured content.
    for (tool, args) in [
        ("postgres_list_schemas", json!({})),
        ("postgres_list_tables", json!({"schema": "public"})),
        ("postgres_describe_table", json!({"name": "orders"})),
        (
            "postgres_query",
            json!({"sql": "SELECT name FROM items ORDER BY id", "limit": 2}),
        ),
        (
            "postgres_explain",
            json!({"sql": "SELECT * FROM items WHERE id = 1", "analyze": true}),
        ),
        ("postgres_activity", json!({})),
        ("postgres_diagnostics", json!({})),
    ] {
        let r = c
            .call_tool(
                CallToolRequestParams::new(tool).with_arguments(args.as_object().cloned().unwrap()),
            )
            .await
            .expect(tool);
        assert_eq!(r.is_error, Some(false), "{tool}: {:?}", r.content);
        assert!(r.structured_content.is_some(), "{tool}");
    }
    // A tool error: isError with Postgres's own message.
    let r = c
        .call_tool(
            CallToolRequestParams::new("postgres_query").with_arguments(
                json!({"sql": "SELECT * FROM missing_table"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .expect("call");
    assert_eq!(r.is_error, Some(true));
    let text = serde_json::to_string(&r.content).unwrap();
    assert!(
        text.contains("relation \\\"missing_table\\\" does not exist"),
        "{text}"
    );
    for sql in ESCAPES {
        let r = c
            .call_tool(
                CallToolRequestParams::new("postgres_query")
                    .with_arguments(json!({"sql": sql}).as_object().cloned().unwrap()),
            )
            .await
            .expect("call");
        assert_eq!(r.is_error, Some(true), "{sql}");
    }
    c.cancel().await.ok();

    let c = client(rw.addr).await;
    let mut names: Vec<String> = c
        .list_all_tools()
        .await
        .expect("list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    let mut all: Vec<&str> = read_tools
        .iter()
        .chain(write_tools.iter())
        .copied()
        .collect();
    all.sort();
    assert_eq!(names, all);
    let r = c
        .call_tool(
            CallToolRequestParams::new("postgres_execute").with_arguments(
                json!({"sql": "UPDATE items SET price = price + 1", "dry_run": true})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .expect("call");
    assert_eq!(
        r.structured_content,
        Some(json!({"rows_affected": 3, "dry_run": true, "committed": false}))
    );
    c.cancel().await.ok();
    assert_intact(&name).await;

    // Health endpoints.
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("http://{}/readyz", ro.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = http
        .get(format!("http://{}/metrics", ro.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("postgres_query"), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_without_database_and_errors_are_redacted() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://app:s3cr3t-pw@127.0.0.1:{port}/app");
    let s = serve(&url, &["--acquire-timeout", "1s"]).await;
    let ready = reqwest::get(format!("http://{}/readyz", s.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body = ready.text().await.unwrap();
    assert!(!body.contains("s3cr3t-pw"), "{body}");
    let c = client(s.addr).await;
    let r = c
        .call_tool(CallToolRequestParams::new("postgres_diagnostics"))
        .await
        .expect("call");
    assert_eq!(r.is_error, Some(true));
    let text = serde_json::to_string(&r.content).unwrap();
    assert!(!text.contains("s3cr3t-pw"), "{text}");
    assert!(text.contains("postgres_diagnostics failed"), "{text}");
    c.cancel().await.ok();
}

#[tokio::test]
async fn catalog_tools() {
    let name = fresh_db("cat").await;
    let db = db(&cluster().url_as("mcp_ro", &name));
    let s = catalog::list_schemas(&db, false, MAX)
        .await
        .expect("schemas");
    assert_eq!(s.database, name);
    let public = s
        .schemas
        .items
        .iter()
        .find(|x| x.name == "public")
        .expect("public");
    assert_eq!(public.tables, 2);
    // item_names, plus pg_stat_statements' two views (the extension lives in public).
    assert_eq!(public.views, 3);
    assert!(!s.schemas.items.iter().any(|x| x.name == "pg_catalog"));
    let all = catalog::list_schemas(&db, true, MAX)
        .await
        .expect("schemas");
    assert!(all.schemas.items.iter().any(|x| x.name == "pg_catalog"));

    let page = catalog::list_tables(
        &db,
        ListTablesArgs {
            schema: "public".into(),
            limit: Some(2),
            cursor: None,
        },
        MAX,
    )
    .await
    .expect("tables");
    let names: Vec<&str> = page.tables.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["item_names", "items"]);
    assert!(page.tables.truncated);
    assert_eq!(page.tables.items[1].row_estimate, Some(3));
    let next = catalog::list_tables(
        &db,
        ListTablesArgs {
            schema: "public".into(),
            limit: Some(2),
            cursor: page.tables.next_cursor.clone(),
        },
        MAX,
    )
    .await
    .expect("page 2");
    let names: Vec<&str> = next.tables.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["orders", "pg_stat_statements"]);
    assert_eq!(next.tables.next_cursor.as_deref(), Some("4"));

    let d = catalog::describe_table(
        &db,
        DescribeTableArgs {
            schema: "public".into(),
            name: "items".into(),
        },
        MAX,
    )
    .await
    .expect("describe");
    assert_eq!(d.kind, "table");
    assert_eq!(d.comment.as_deref(), Some("things we sell"));
    assert_eq!(d.row_estimate, Some(3));
    let cols: Vec<(&str, &str, bool)> = d
        .columns
        .items
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str(), c.nullable))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", "integer", false),
            ("name", "text", false),
            ("price", "numeric(10,2)", false),
            ("tags", "text[]", true),
            ("created", "timestamp with time zone", false)
        ]
    );
    assert!(
        d.columns.items[0]
            .default
            .as_deref()
            .unwrap()
            .contains("nextval")
    );
    assert!(
        d.indexes
            .items
            .iter()
            .any(|i| i.primary && i.name == "items_pkey")
    );
    assert!(
        d.indexes
            .items
            .iter()
            .any(|i| i.unique && i.name == "items_name_key")
    );
    assert!(
        d.constraints
            .items
            .iter()
            .any(|c| c.kind == "check" && c.definition.contains("price >="))
    );
    assert!(d.total_bytes > 0);
    let o = catalog::describe_table(
        &db,
        DescribeTableArgs {
            schema: "public".into(),
            name: "orders".into(),
        },
        MAX,
    )
    .await
    .expect("describe orders");
    assert!(
        o.constraints
            .items
            .iter()
            .any(|c| c.kind == "foreign key" && c.definition.contains("REFERENCES items(id)"))
    );
}

#[tokio::test]
async fn explain_plans() {
    let name = fresh_db("ex").await;
    let db = db(&cluster().url_as("mcp_ro", &name));
    let p = query::explain(
        &db,
        "SELECT * FROM items JOIN orders ON orders.item_id = items.id",
        false,
        MAX,
    )
    .await
    .expect("explain");
    assert!(p.plan[0]["Plan"]["Node Type"].is_string(), "{}", p.plan);
    assert!(p.total_cost.unwrap() > 0.0);
    assert!(p.execution_ms.is_none());
    let p = query::explain(&db, "SELECT count(*) FROM items", true, MAX)
        .await
        .expect("analyze");
    assert!(p.analyzed && p.execution_ms.is_some());
    let e = query::explain(&db, "UPDATE items SET price = 0", true, MAX)
        .await
        .expect_err("analyze of a write");
    assert!(tool_text(e, "postgres_explain").contains("only for a plain SELECT"));
}

#[tokio::test]
async fn activity_and_locks_and_write_tools() {
    let name = fresh_db("act").await;
    let url = cluster().url(&name);
    // Session 1 holds a row lock and sits idle in transaction; session 2 waits for it.
    let mut holder = cluster().admin(&name).await;
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute("UPDATE items SET price = 5 WHERE id = 1")
        .await
        .unwrap();
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    let waiter = tokio::spawn({
        let url = url.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let r = c
                .execute("UPDATE items SET price = 6 WHERE id = 1 /* mcp_waiter */")
                .await;
            (r.map(|_| ()).map_err(|e| e.to_string()), c)
        }
    });
    let ro = db(&cluster().url_as("mcp_ro", &name));
    let mut waiter_pid = None;
    for _ in 0..100 {
        let a = activity::activity(
            &ro,
            ActivityArgs {
                state: Some("active".into()),
                include_background: false,
                query_max_chars: None,
                limit: None,
            },
            MAX,
        )
        .await
        .expect("activity");
        if let Some(s) = a.sessions.items.iter().find(|s| {
            s.query.as_deref().unwrap_or("").contains("mcp_waiter") && !s.blocked_by.is_empty()
        }) {
            assert_eq!(s.blocked_by, [holder_pid]);
            assert_eq!(s.wait_event_type.as_deref(), Some("Lock"));
            waiter_pid = Some(s.pid);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiter_pid = waiter_pid.expect("the waiter shows as blocked");
    let d = diagnostics::diagnostics(
        &ro,
        DiagnosticsArgs {
            slow_query_limit: None,
            long_transaction_seconds: Some(0),
        },
        MAX,
    )
    .await
    .expect("diagnostics");
    assert!(d.blocked_sessions.iter().any(|s| s.pid == waiter_pid));
    assert!(d.blocking_sessions.iter().any(|s| s.pid == holder_pid));
    assert!(d.long_transactions.iter().any(|s| s.pid == holder_pid));
    assert!(d.connections.idle_in_transaction >= 1);
    assert!(
        d.findings.iter().any(|f| f.contains("waiting on locks")),
        "{:?}",
        d.findings
    );
    assert_eq!(d.replication.role, "primary");
    assert!(
        d.pg_stat_statements.available,
        "{:?}",
        d.pg_stat_statements.note
    );

    // Write tools as mcp_rw: cancel the waiter's query (dry run first), then end the holder.
    let rw = db(&cluster().url_as("mcp_rw", &name));
    let dry = admin::signal(&rw, waiter_pid, false, true)
        .await
        .expect("dry run");
    assert!(!dry.signalled);
    assert_eq!(dry.session.pid, waiter_pid);
    // The waiter is a superuser session: mcp_rw (pg_signal_backend) may not signal it.
    let e = admin::signal(&rw, waiter_pid, false, false)
        .await
        .expect_err("superuser session");
    let text = tool_text(e, "postgres_cancel_query");
    assert!(
        text.contains("superuser") && text.contains("SQLSTATE 42501"),
        "{text}"
    );
    let su = db(&url);
    let ok = admin::signal(&su, waiter_pid, false, false)
        .await
        .expect("cancel");
    assert!(ok.signalled);
    let (r, wc) = waiter.await.unwrap();
    assert!(
        r.unwrap_err()
            .contains("canceling statement due to user request")
    );
    wc.close().await.ok();
    let ok = admin::signal(&su, holder_pid, true, false)
        .await
        .expect("terminate");
    assert!(ok.signalled);
    assert!(
        holder.execute("SELECT 1").await.is_err(),
        "holder was terminated"
    );
    let e = admin::signal(&su, 999_999, true, false)
        .await
        .expect_err("no such pid");
    assert!(tool_text(e, "postgres_terminate_session").contains("no server process"));
    assert_intact(&name).await;

    // postgres_execute: dry run leaves data, a real run commits.
    let r = admin::execute(&rw, "UPDATE items SET price = 9 WHERE id = 2", true)
        .await
        .expect("dry run");
    assert_eq!((r.rows_affected, r.committed), (1, false));
    let price = query::query(&rw, "SELECT price FROM items WHERE id = 2", None, MAX)
        .await
        .unwrap();
    assert_eq!(price.rows[0][0], json!("2.25"));
    let r = admin::execute(&rw, "UPDATE items SET price = 9 WHERE id = 2", false)
        .await
        .expect("commit");
    assert_eq!((r.rows_affected, r.committed), (1, true));
    let price = query::query(&rw, "SELECT price FROM items WHERE id = 2", None, MAX)
        .await
        .unwrap();
    assert_eq!(price.rows[0][0], json!("9.00"));
    let e = admin::execute(&rw, "COMMIT", false)
        .await
        .expect_err("tx control");
    assert!(tool_text(e, "postgres_execute").contains("transaction control"));
}

#[tokio::test]
async fn diagnostics_says_how_to_enable_pg_stat_statements() {
    let name = format!("nopgss_{}", std::process::id());
    let mut c = cluster().admin("postgres").await;
    c.execute(AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE template0"
    )))
    .await
    .unwrap();
    c.close().await.ok();
    let d = diagnostics::diagnostics(
        &db(&cluster().url_as("mcp_ro", &name)),
        DiagnosticsArgs::default(),
        MAX,
    )
    .await
    .expect("diagnostics");
    assert!(!d.pg_stat_statements.available);
    let note = d.pg_stat_statements.note.unwrap();
    assert!(
        note.contains("shared_preload_libraries")
            && note.contains("CREATE EXTENSION pg_stat_statements"),
        "{note}"
    );
    assert!(d.slow_queries.is_empty());
    assert_eq!(d.max_connections, 100);
    assert!(d.database_bytes > 0);
}

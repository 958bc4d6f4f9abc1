//! The MCP surface: tool router and server handler.

use std::sync::Arc;

use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

use crate::activity::{self, ActivityArgs, ActivityResult};
use crate::admin::{self, ExecuteArgs, ExecuteResult, SignalArgs, SignalResult};
use crate::catalog::{
    self, DescribeTableArgs, ListSchemasArgs, ListTablesArgs, SchemaList, TableDescription,
    TableList,
};
use crate::db::Db;
use crate::diagnostics::{self, Diagnostics, DiagnosticsArgs};
use crate::query::{self, ExplainArgs, ExplainResult, QueryArgs, QueryResult};

/// The PostgreSQL handler. Cloned per request; the pool and router are shared.
#[derive(Debug, Clone)]
pub struct Postgres {
    ctx: ToolContext,
    db: Db,
    tool_router: Arc<ToolRouter<Self>>,
}

impl Postgres {
    pub fn new(ctx: ToolContext, db: Db) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            db,
            tool_router,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }
}

#[tool_router(router = read_tools)]
impl Postgres {
    #[tool(
        description = "Incident overview of the database server: client connections by state against max_connections (with percentage), the slowest statements from pg_stat_statements (calls, mean_ms, total time), blocked and blocking sessions, long-running transactions, cache hit ratio, database size and replication lag.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_diagnostics(
        &self,
        Parameters(a): Parameters<DiagnosticsArgs>,
    ) -> Result<Json<Diagnostics>, ToolError> {
        self.ctx
            .run("postgres_diagnostics", async {
                diagnostics::diagnostics(&self.db, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_diagnostics"))
            })
            .await
    }

    #[tool(
        description = "Run one read-only SQL query (SELECT, WITH ... SELECT, VALUES or TABLE) inside BEGIN READ ONLY ... ROLLBACK, with a statement timeout and a row cap. Returns columns and rows; `truncated` says when rows or values were cut.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_query(
        &self,
        Parameters(a): Parameters<QueryArgs>,
    ) -> Result<Json<QueryResult>, ToolError> {
        self.ctx
            .run("postgres_query", async {
                query::query(&self.db, &a.sql, a.limit, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_query"))
            })
            .await
    }

    #[tool(
        description = "Show the query plan of one statement (EXPLAIN (FORMAT JSON)). `analyze: true` runs it for actual timings, only for a plain SELECT, inside a read-only transaction.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_explain(
        &self,
        Parameters(a): Parameters<ExplainArgs>,
    ) -> Result<Json<ExplainResult>, ToolError> {
        self.ctx
            .run("postgres_explain", async {
                query::explain(&self.db, &a.sql, a.analyze, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_explain"))
            })
            .await
    }

    #[tool(
        description = "List the schemas of the database with their owner, table and view counts and total size.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_list_schemas(
        &self,
        Parameters(a): Parameters<ListSchemasArgs>,
    ) -> Result<Json<SchemaList>, ToolError> {
        self.ctx
            .run("postgres_list_schemas", async {
                catalog::list_schemas(&self.db, a.include_system, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_list_schemas"))
            })
            .await
    }

    #[tool(
        description = "List tables, views and materialized views of a schema (default public) with kind, row estimate and size. Pages with limit/cursor.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_list_tables(
        &self,
        Parameters(a): Parameters<ListTablesArgs>,
    ) -> Result<Json<TableList>, ToolError> {
        self.ctx
            .run("postgres_list_tables", async {
                catalog::list_tables(&self.db, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_list_tables"))
            })
            .await
    }

    #[tool(
        description = "Describe one table: columns and types, indexes (with size and scans), constraints, size, row estimate, vacuum/analyze statistics.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_describe_table(
        &self,
        Parameters(a): Parameters<DescribeTableArgs>,
    ) -> Result<Json<TableDescription>, ToolError> {
        self.ctx
            .run("postgres_describe_table", async {
                catalog::describe_table(&self.db, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_describe_table"))
            })
            .await
    }

    #[tool(
        description = "Current sessions (pg_stat_activity): state, wait events, query text (cut), durations of query and transaction, and the pids each session waits for.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_activity(
        &self,
        Parameters(a): Parameters<ActivityArgs>,
    ) -> Result<Json<ActivityResult>, ToolError> {
        self.ctx
            .run("postgres_activity", async {
                activity::activity(&self.db, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_activity"))
            })
            .await
    }
}

#[tool_router(router = write_tools)]
impl Postgres {
    #[tool(
        description = "Run one SQL statement that may write (INSERT, UPDATE, DELETE, DDL) in a transaction of its own and commit it. `dry_run: true` runs it, reports the rows affected, and rolls back.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn postgres_execute(
        &self,
        Parameters(a): Parameters<ExecuteArgs>,
    ) -> Result<Json<ExecuteResult>, ToolError> {
        self.ctx
            .run("postgres_execute", async {
                admin::execute(&self.db, &a.sql, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_execute"))
            })
            .await
    }

    #[tool(
        description = "Cancel the running query of a session (pg_cancel_backend); the session stays connected. `dry_run: true` only shows the session.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_cancel_query(
        &self,
        Parameters(a): Parameters<SignalArgs>,
    ) -> Result<Json<SignalResult>, ToolError> {
        self.ctx
            .run("postgres_cancel_query", async {
                admin::signal(&self.db, a.pid, false, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_cancel_query"))
            })
            .await
    }

    #[tool(
        description = "End a session (pg_terminate_backend): its transaction rolls back and its connection closes. `dry_run: true` only shows the session.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn postgres_terminate_session(
        &self,
        Parameters(a): Parameters<SignalArgs>,
    ) -> Result<Json<SignalResult>, ToolError> {
        self.ctx
            .run("postgres_terminate_session", async {
                admin::signal(&self.db, a.pid, true, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(|e| e.into_tool_error("postgres_terminate_session"))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Postgres {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-postgres",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "PostgreSQL database `{}` ({} access, env {}). Start an incident with postgres_diagnostics; \
                 postgres_query runs one read-only query per call.",
                self.db.database, self.ctx.access, self.ctx.environment
            ))
    }
}

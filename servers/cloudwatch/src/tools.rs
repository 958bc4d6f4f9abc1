//! The MCP surface: tool router and server handler. Every tool reads; the IAM actions each
//! calls are listed in [`crate::iam::TOOL_ACTIONS`].

use std::sync::Arc;

use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

use crate::alarms::{self, AlarmList, DescribeAlarmsArgs};
use crate::logs::{
    self, DescribeLogGroupsArgs, FilterLogEventsArgs, InsightsQueryArgs, LogEvents, LogGroupList,
    QueryResults, QueryResultsArgs,
};
use crate::metrics::{self, GetMetricDataArgs, ListMetricsArgs, MetricData, MetricList};

/// The CloudWatch backend. Cloned per request; the clients and router are shared.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    ctx: ToolContext,
    cw: aws_sdk_cloudwatch::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    tool_router: Arc<ToolRouter<Self>>,
}

impl CloudWatch {
    pub fn new(
        ctx: ToolContext,
        cw: aws_sdk_cloudwatch::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
    ) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            cw,
            logs,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }
}

#[tool_router(router = read_tools)]
impl CloudWatch {
    #[tool(
        description = "One CloudWatch metric over a time range: namespace, metric_name, dimensions, statistic (Average, Sum, Minimum, Maximum, SampleCount, p99), period and start/end (default the last 3 hours). Points are capped (max_points; the newest are kept) and summarized (min, max, avg, latest).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_get_metric_data(
        &self,
        Parameters(a): Parameters<GetMetricDataArgs>,
    ) -> Result<Json<MetricData>, ToolError> {
        self.ctx
            .run("cloudwatch_get_metric_data", async {
                metrics::get_metric_data(&self.cw, a)
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List metrics by namespace, metric name and dimensions (to find the exact dimensions cloudwatch_get_metric_data needs). Pages with limit/cursor.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_list_metrics(
        &self,
        Parameters(a): Parameters<ListMetricsArgs>,
    ) -> Result<Json<MetricList>, ToolError> {
        self.ctx
            .run("cloudwatch_list_metrics", async {
                metrics::list_metrics(&self.cw, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List CloudWatch alarms (metric and composite), optionally only those in state ALARM, OK or INSUFFICIENT_DATA or with a name prefix: state, reason, since when, metric and condition, actions.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_describe_alarms(
        &self,
        Parameters(a): Parameters<DescribeAlarmsArgs>,
    ) -> Result<Json<AlarmList>, ToolError> {
        self.ctx
            .run("cloudwatch_describe_alarms", async {
                alarms::describe_alarms(&self.cw, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List CloudWatch Logs log groups by name prefix: creation time, retention, stored bytes.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_describe_log_groups(
        &self,
        Parameters(a): Parameters<DescribeLogGroupsArgs>,
    ) -> Result<Json<LogGroupList>, ToolError> {
        self.ctx
            .run("cloudwatch_describe_log_groups", async {
                logs::describe_log_groups(&self.logs, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Search one log group for events matching a filter pattern in a time range (default the last 15 minutes): timestamp, stream, message (credentials redacted, long messages cut). Pages with limit/cursor.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_filter_log_events(
        &self,
        Parameters(a): Parameters<FilterLogEventsArgs>,
    ) -> Result<Json<LogEvents>, ToolError> {
        self.ctx
            .run("cloudwatch_filter_log_events", async {
                logs::filter_log_events(&self.logs, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Run a CloudWatch Logs Insights query over up to 20 log groups (default the last hour): starts it and waits up to timeout_seconds (default 20). Complete: the rows. Still running: `complete: false` and the query_id for cloudwatch_get_query_results.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_logs_insights_query(
        &self,
        Parameters(a): Parameters<InsightsQueryArgs>,
    ) -> Result<Json<QueryResults>, ToolError> {
        self.ctx
            .run("cloudwatch_logs_insights_query", async {
                logs::insights_query(&self.logs, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Status and rows of a Logs Insights query started by cloudwatch_logs_insights_query (by query_id).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudwatch_get_query_results(
        &self,
        Parameters(a): Parameters<QueryResultsArgs>,
    ) -> Result<Json<QueryResults>, ToolError> {
        self.ctx
            .run("cloudwatch_get_query_results", async {
                logs::get_query_results(&self.logs, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }
}

/// No write tools: CloudWatch is read-only here, in RO and RW deployments alike.
#[tool_router(router = write_tools, allow_empty)]
impl CloudWatch {}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CloudWatch {
    fn get_info(&self) -> ServerConfig {
        let region = self
            .cw
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "?".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-cloudwatch",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "CloudWatch and CloudWatch Logs in region {region} (read-only, env {}). Start with \
                 cloudwatch_describe_alarms (state ALARM); cloudwatch_list_metrics finds the exact dimensions \
                 for cloudwatch_get_metric_data. Times accept now, now-15m, RFC 3339 or Unix seconds.",
                self.ctx.environment
            ))
    }
}

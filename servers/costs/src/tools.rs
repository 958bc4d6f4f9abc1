//! The MCP surface: tool router and server handler. Every tool reads (in RO and RW deployments
//! alike); the IAM action each calls is listed in [`crate::iam::TOOL_ACTIONS`].

use std::sync::Arc;

use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

use crate::anomalies::{self, AnomaliesArgs, AnomalyList};
use crate::ce::Explorer;
use crate::dimensions::{self, DimensionValueList, DimensionValuesArgs};
use crate::forecast::{self, CostForecast, CostForecastArgs};
use crate::usage::{self, CostAndUsage, CostAndUsageArgs};

/// The Cost Explorer backend. Cloned per request; the client, cache and router are shared.
#[derive(Debug, Clone)]
pub struct Costs {
    ctx: ToolContext,
    explorer: Explorer,
    tool_router: Arc<ToolRouter<Self>>,
}

impl Costs {
    pub fn new(ctx: ToolContext, explorer: Explorer) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            explorer,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }
}

#[tool_router(router = read_tools)]
impl Costs {
    #[tool(
        description = "AWS costs and usage over a period (Cost Explorer GetCostAndUsage): granularity DAILY (default, last 14 days), MONTHLY or HOURLY; metrics (UnblendedCost default, AmortizedCost, UsageQuantity, ...); group_by up to two of a dimension (SERVICE, LINKED_ACCOUNT, USAGE_TYPE, REGION, ...), tag:KEY or cost_category:NAME; filter by dimensions, tags, cost categories, with exclude. Dates YYYY-MM-DD or today-30d, month-start, month-start-1m; the end is exclusive. Rows carry numbers; page_totals and top_groups summarize the page; limit/cursor page. Identical requests within the cache TTL are answered from memory (cache.from_cache): each Cost Explorer request costs $0.01.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn costs_get_cost_and_usage(
        &self,
        Parameters(a): Parameters<CostAndUsageArgs>,
    ) -> Result<Json<CostAndUsage>, ToolError> {
        self.ctx
            .run("costs_get_cost_and_usage", async {
                usage::get_cost_and_usage(&self.explorer, a, self.max_bytes())
                    .await
                    .map(Json)
            })
            .await
    }

    #[tool(
        description = "Forecast of AWS costs from today (Cost Explorer GetCostForecast): by default the rest of this month, MONTHLY; DAILY up to 3 months ahead, MONTHLY up to 18. One cost metric (UnblendedCost default), an optional filter (dimensions, tags, cost categories, exclude), and the prediction interval (prediction_interval_level 51-99, default 80). The total and each period's mean, lower and upper bounds are numbers.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn costs_get_cost_forecast(
        &self,
        Parameters(a): Parameters<CostForecastArgs>,
    ) -> Result<Json<CostForecast>, ToolError> {
        self.ctx
            .run("costs_get_cost_forecast", async {
                forecast::get_cost_forecast(&self.explorer, a, self.max_bytes())
                    .await
                    .map(Json)
            })
            .await
    }

    #[tool(
        description = "Cost anomalies found by AWS Cost Anomaly Detection (GetAnomalies) in a date range (default the last 30 days): impact (extra spend over expected, total and percentage), score, root causes (service, region, usage type, account), feedback. Filter by monitor_arn, feedback, min_total_impact; largest impact first; limit/cursor page.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn costs_get_anomalies(
        &self,
        Parameters(a): Parameters<AnomaliesArgs>,
    ) -> Result<Json<AnomalyList>, ToolError> {
        self.ctx
            .run("costs_get_anomalies", async {
                anomalies::get_anomalies(&self.explorer, a, self.max_bytes())
                    .await
                    .map(Json)
            })
            .await
    }

    #[tool(
        description = "The values a Cost Explorer dimension takes in a period (GetDimensionValues), spelled exactly as filters and group keys need them: SERVICE names, LINKED_ACCOUNT ids (with account names), REGION, USAGE_TYPE, INSTANCE_TYPE, RECORD_TYPE, ... search_string narrows; default the last 30 days; limit/cursor page.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn costs_get_dimension_values(
        &self,
        Parameters(a): Parameters<DimensionValuesArgs>,
    ) -> Result<Json<DimensionValueList>, ToolError> {
        self.ctx
            .run("costs_get_dimension_values", async {
                dimensions::get_dimension_values(&self.explorer, a, self.max_bytes())
                    .await
                    .map(Json)
            })
            .await
    }
}

/// No write tools: Cost Explorer is read-only here, in RO and RW deployments alike.
#[tool_router(router = write_tools, allow_empty)]
impl Costs {}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Costs {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-costs", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "AWS Cost Explorer (read-only, env {}). costs_get_cost_and_usage with group_by [\"SERVICE\"] shows \
                 where money goes; costs_get_dimension_values gives exact values for filters; costs_get_anomalies \
                 lists unexpected spend; costs_get_cost_forecast projects the month. Dates are UTC days, the end \
                 exclusive. Each Cost Explorer request is billed ($0.01): identical requests within {}s come from a cache.",
                self.ctx.environment,
                self.explorer.cache.ttl().as_secs()
            ))
    }
}

//! `costs_get_cost_forecast`: GetCostForecast with numbers: the total, and the mean and
//! prediction interval of each period.

use aws_sdk_costexplorer::types::DateInterval;
use mcp_common::ToolError;
use mcp_common::output::fit_items;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cache::CacheInfo;
use crate::ce::{self, Amount, Explorer};
use crate::dates::{self, Granularity, Period};
use crate::expr::{self, CheckedFilter, Filter};

pub const DEFAULT_LEVEL: i32 = 80;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostForecastArgs {
    /// First forecast day: today (default) or later (YYYY-MM-DD, tomorrow, month-start+1m ...).
    #[serde(default)]
    pub start: Option<String>,
    /// End, exclusive. Default: month-start+1m (the end of this month). At most 3 months ahead
    /// for DAILY, 18 for MONTHLY.
    #[serde(default)]
    pub end: Option<String>,
    /// MONTHLY (default) or DAILY.
    #[serde(default)]
    pub granularity: Option<String>,
    /// UnblendedCost (default), AmortizedCost, BlendedCost, NetUnblendedCost or
    /// NetAmortizedCost.
    #[serde(default)]
    pub metric: Option<String>,
    /// Which costs to forecast: dimensions, tags, cost categories, and `exclude`.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Confidence of the prediction interval, 51 to 99 (default 80).
    #[serde(default)]
    pub prediction_interval_level: Option<i32>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ForecastPeriod {
    pub start: String,
    pub end: String,
    pub mean: Option<f64>,
    /// Lower bound of the prediction interval.
    pub lower: Option<f64>,
    /// Upper bound of the prediction interval.
    pub upper: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CostForecast {
    pub start: String,
    pub end: String,
    pub granularity: String,
    pub metric: String,
    pub prediction_interval_level: i32,
    /// The forecast mean over the whole period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Amount>,
    pub periods: Vec<ForecastPeriod>,
    /// True when periods were left out to respect the byte cap.
    pub truncated: bool,
    pub cache: CacheInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ForecastRequest<'a> {
    period: (&'a str, &'a str),
    granularity: Granularity,
    metric: &'static str,
    filter: &'a CheckedFilter,
    level: i32,
}

pub async fn get_cost_forecast(
    x: &Explorer,
    a: CostForecastArgs,
    max_bytes: usize,
) -> Result<CostForecast, ToolError> {
    let granularity = Granularity::parse(a.granularity.as_deref(), Granularity::Monthly)?;
    let today = dates::today();
    let Period { start, end } =
        dates::forecast(a.start.as_deref(), a.end.as_deref(), granularity, today)?;
    let metric = expr::metric(
        a.metric.as_deref().unwrap_or("UnblendedCost"),
        expr::FORECAST_METRICS,
        "metric",
    )?;
    let level = a.prediction_interval_level.unwrap_or(DEFAULT_LEVEL);
    if !(51..=99).contains(&level) {
        return Err(ToolError::invalid_argument(
            "prediction_interval_level",
            "a confidence from 51 to 99 (percent)",
        ));
    }
    let filter = a.filter.unwrap_or_default().check()?;
    let request = ForecastRequest {
        period: (&start, &end),
        granularity,
        metric,
        filter: &filter,
        level,
    };
    let (out, cache) = x
        .cache
        .get_or_fetch("GetCostForecast", &request, || {
            let period = DateInterval::builder().start(&start).end(&end).build();
            async {
                let period = period.map_err(|e| ToolError::new(format!("time period: {e}")))?;
                x.client
                    .get_cost_forecast()
                    .time_period(period)
                    .granularity(granularity.sdk())
                    .metric(expr::forecast_metric(metric))
                    .set_filter(filter.expression())
                    .prediction_interval_level(level)
                    .send()
                    .await
                    .map_err(ce::failure("GetCostForecast", "ce:GetCostForecast"))
            }
        })
        .await?;
    let periods: Vec<ForecastPeriod> = out
        .forecast_results_by_time()
        .iter()
        .map(|r| ForecastPeriod {
            start: r
                .time_period()
                .map(|p| p.start().to_owned())
                .unwrap_or_default(),
            end: r
                .time_period()
                .map(|p| p.end().to_owned())
                .unwrap_or_default(),
            mean: ce::number(r.mean_value()),
            lower: ce::number(r.prediction_interval_lower_bound()),
            upper: ce::number(r.prediction_interval_upper_bound()),
        })
        .collect();
    let page = fit_items(periods, usize::MAX, max_bytes.saturating_sub(2048));
    let mut notes = vec![format!(
        "the forecast covers {start} to {end} (exclusive) only; costs so far this month come from costs_get_cost_and_usage"
    )];
    let total = out.total().and_then(|t| {
        let amount = ce::number(t.amount());
        if amount.is_none() {
            notes.push(format!(
                "total: Cost Explorer sent `{}`, not a number",
                t.amount().unwrap_or_default()
            ));
        }
        amount.map(|amount| Amount {
            amount,
            unit: t.unit().unwrap_or_default().to_owned(),
        })
    });
    if page.truncated {
        notes.push(format!(
            "output cap: {} of {} periods; use MONTHLY or a shorter period",
            page.items.len(),
            page.total.unwrap_or_default()
        ));
    }
    Ok(CostForecast {
        start,
        end,
        granularity: granularity.as_str().to_owned(),
        metric: metric.to_owned(),
        prediction_interval_level: level,
        total,
        periods: page.items,
        truncated: page.truncated,
        cache,
        notes,
    })
}

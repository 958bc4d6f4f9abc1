//! `costs_get_dimension_values`: the values a dimension takes in a period (services, accounts,
//! usage types, regions, ...): what filters and group keys are spelled like.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{Context, DateInterval, Dimension};
use mcp_common::ToolError;
use mcp_common::output::{PageCursor, bound_page};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cache::CacheInfo;
use crate::ce::{self, Explorer};
use crate::dates::{self, Granularity, Period};
use crate::expr::{self, CheckedFilter, Filter};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionValuesArgs {
    /// The dimension: SERVICE, LINKED_ACCOUNT, REGION, USAGE_TYPE, USAGE_TYPE_GROUP,
    /// INSTANCE_TYPE, OPERATION, RECORD_TYPE, AZ, PURCHASE_TYPE, ... (cost-and-usage context).
    pub dimension: String,
    /// Only values containing this text.
    #[serde(default)]
    pub search_string: Option<String>,
    /// First day, inclusive. Default: today-30d.
    #[serde(default)]
    pub start: Option<String>,
    /// End, exclusive (at most the first day of next month). Default: today.
    #[serde(default)]
    pub end: Option<String>,
    /// Only values of costs matching this filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Values per page (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (same other arguments).
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DimensionValue {
    pub value: String,
    /// E.g. LINKED_ACCOUNT: `description` (the account name); USAGE_TYPE: `unit`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DimensionValueList {
    pub dimension: String,
    pub start: String,
    pub end: String,
    pub values: Vec<DimensionValue>,
    /// Values Cost Explorer has for the request in all.
    pub total_size: i32,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub cache: CacheInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DimensionRequest<'a> {
    dimension: &'static str,
    search: Option<&'a str>,
    period: (&'a str, &'a str),
    filter: &'a CheckedFilter,
    token: Option<&'a str>,
}

pub async fn get_dimension_values(
    x: &Explorer,
    a: DimensionValuesArgs,
    max_bytes: usize,
) -> Result<DimensionValueList, ToolError> {
    let dimension = expr::dimension(&a.dimension, expr::DIMENSIONS, "dimension")?;
    let Period { start, end } = dates::history(
        a.start.as_deref(),
        a.end.as_deref(),
        "today-30d",
        Granularity::Daily,
        dates::today(),
    )?;
    let search = a
        .search_string
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let filter = a.filter.unwrap_or_default().check()?;
    let limit = ce::limit(a.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = PageCursor::parse(a.cursor.as_deref())
        .map_err(|r| ToolError::invalid_argument("cursor", r))?;
    let request = DimensionRequest {
        dimension,
        search,
        period: (&start, &end),
        filter: &filter,
        token: cursor.token.as_deref(),
    };
    let (out, cache) = x
        .cache
        .get_or_fetch("GetDimensionValues", &request, || {
            let period = DateInterval::builder().start(&start).end(&end).build();
            async {
                let period = period.map_err(|e| ToolError::new(format!("time period: {e}")))?;
                x.client
                    .get_dimension_values()
                    .dimension(Dimension::from(dimension))
                    .context(Context::CostAndUsage)
                    .time_period(period)
                    .set_search_string(search.map(str::to_owned))
                    .set_filter(filter.expression())
                    .set_next_page_token(cursor.token.clone())
                    .send()
                    .await
                    .map_err(ce::failure("GetDimensionValues", "ce:GetDimensionValues"))
            }
        })
        .await?;
    let values: Vec<DimensionValue> = out
        .dimension_values()
        .iter()
        .map(|v| DimensionValue {
            value: v.value().unwrap_or_default().to_owned(),
            attributes: v
                .attributes()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
        .collect();
    let page = bound_page(
        values,
        &cursor,
        limit,
        max_bytes.saturating_sub(1024),
        out.next_page_token().map(str::to_owned),
    );
    let mut notes: Vec<String> = page.note.into_iter().collect();
    if page.items.is_empty() && cursor == PageCursor::default() {
        notes.push(format!(
            "no {dimension} values with costs from {start} to {end}{}",
            search
                .map(|s| format!(" containing `{s}`"))
                .unwrap_or_default()
        ));
    }
    Ok(DimensionValueList {
        dimension: dimension.to_owned(),
        start,
        end,
        values: page.items,
        total_size: out.total_size(),
        truncated: page.truncated,
        next_cursor: page.next_cursor,
        cache,
        notes,
    })
}

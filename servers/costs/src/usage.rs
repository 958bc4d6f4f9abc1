//! `costs_get_cost_and_usage`: GetCostAndUsage as rows of (period, group keys, metrics), with
//! numbers, page totals and the largest groups; bounded by `limit` and the byte cap, paged
//! with Cost Explorer's token.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::DateInterval;
use mcp_common::ToolError;
use mcp_common::output::{PageCursor, bound_page};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cache::CacheInfo;
use crate::ce::{self, Amount, Explorer};
use crate::dates::{self, Granularity, Period};
use crate::expr::{self, CheckedFilter, Filter, GroupKey};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Groups listed in `top_groups`.
const TOP_GROUPS: usize = 10;
/// Bytes kept for everything but the rows.
const RESERVE: usize = 6 * 1024;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostAndUsageArgs {
    /// First day, inclusive (UTC): YYYY-MM-DD, today-30d, month-start, month-start-1m ...
    /// Default: today-14d (DAILY), month-start-2m (MONTHLY), yesterday (HOURLY).
    #[serde(default)]
    pub start: Option<String>,
    /// End, exclusive: at most the first day of next month (month-start+1m). Default: today
    /// (so up to and including yesterday).
    #[serde(default)]
    pub end: Option<String>,
    /// DAILY (default), MONTHLY, or HOURLY (last 14 days; needs hourly data enabled).
    #[serde(default)]
    pub granularity: Option<String>,
    /// Metrics (default `["UnblendedCost"]`): UnblendedCost, AmortizedCost, BlendedCost,
    /// NetUnblendedCost, NetAmortizedCost, UsageQuantity, NormalizedUsageAmount.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Up to two keys: a dimension (SERVICE, LINKED_ACCOUNT, USAGE_TYPE, REGION, AZ,
    /// INSTANCE_TYPE, OPERATION, RECORD_TYPE, ...), `tag:KEY` or `cost_category:NAME`.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Which costs to count: dimensions, tags, cost categories, and `exclude`.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Rows per page (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (same other arguments).
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One period, or one group in one period.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CostRow {
    pub start: String,
    pub end: String,
    /// The group's values, in `group_by` order (absent without `group_by`). For a tag or cost
    /// category, `""` means costs without it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Metric name -> amount.
    pub metrics: BTreeMap<String, Amount>,
    /// True while Cost Explorer still estimates the period (the current month, recent days).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupTotal {
    pub keys: Vec<String>,
    /// The first metric summed over this page's periods.
    pub amount: f64,
    pub unit: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CostAndUsage {
    pub start: String,
    pub end: String,
    pub granularity: String,
    pub metrics: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    pub rows: Vec<CostRow>,
    /// Each metric summed over the rows of this page (metrics whose rows share one unit).
    pub page_totals: BTreeMap<String, Amount>,
    /// With `group_by`: the groups of this page, largest first by the first metric (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_groups: Vec<GroupTotal>,
    /// What Cost Explorer says about group values on this page (LINKED_ACCOUNT: the account
    /// name as `description`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub key_attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// True when some period is still estimated.
    pub estimated: bool,
    /// True when rows were left out: continue with `next_cursor`.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub cache: CacheInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The normalized request: the cache key.
#[derive(Debug, Serialize)]
struct UsageRequest<'a> {
    period: (&'a str, &'a str),
    granularity: Granularity,
    metrics: &'a [&'static str],
    group_by: &'a [GroupKey],
    filter: &'a CheckedFilter,
    token: Option<&'a str>,
}

pub async fn get_cost_and_usage(
    x: &Explorer,
    a: CostAndUsageArgs,
    max_bytes: usize,
) -> Result<CostAndUsage, ToolError> {
    let granularity = Granularity::parse(a.granularity.as_deref(), Granularity::Daily)?;
    let default_start = match granularity {
        Granularity::Daily => "today-14d",
        Granularity::Monthly => "month-start-2m",
        Granularity::Hourly => "yesterday",
    };
    let Period { start, end } = dates::history(
        a.start.as_deref(),
        a.end.as_deref(),
        default_start,
        granularity,
        dates::today(),
    )?;
    let mut metrics = Vec::new();
    for m in &a.metrics {
        let m = expr::metric(m, expr::METRICS, "metrics")?;
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    if metrics.is_empty() {
        metrics.push("UnblendedCost");
    }
    let group_by = expr::group_by(&a.group_by)?;
    let filter = a.filter.unwrap_or_default().check()?;
    let limit = ce::limit(a.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = PageCursor::parse(a.cursor.as_deref())
        .map_err(|r| ToolError::invalid_argument("cursor", r))?;

    let request = UsageRequest {
        period: (&start, &end),
        granularity,
        metrics: &metrics,
        group_by: &group_by,
        filter: &filter,
        token: cursor.token.as_deref(),
    };
    let (out, cache) = x
        .cache
        .get_or_fetch("GetCostAndUsage", &request, || {
            let period = DateInterval::builder().start(&start).end(&end).build();
            async {
                let period = period.map_err(|e| ToolError::new(format!("time period: {e}")))?;
                x.client
                    .get_cost_and_usage()
                    .time_period(period)
                    .granularity(granularity.sdk())
                    .set_metrics(Some(metrics.iter().map(|m| (*m).to_owned()).collect()))
                    .set_group_by(
                        (!group_by.is_empty())
                            .then(|| group_by.iter().map(GroupKey::sdk).collect()),
                    )
                    .set_filter(filter.expression())
                    .set_next_page_token(cursor.token.clone())
                    .send()
                    .await
                    .map_err(ce::failure("GetCostAndUsage", "ce:GetCostAndUsage"))
            }
        })
        .await?;

    let mut notes = Vec::new();
    let mut rows = Vec::new();
    let mut estimated = false;
    for r in out.results_by_time() {
        let (s, e) = r
            .time_period()
            .map(|p| (p.start().to_owned(), p.end().to_owned()))
            .unwrap_or_default();
        estimated |= r.estimated();
        if group_by.is_empty() {
            rows.push(CostRow {
                start: s,
                end: e,
                keys: Vec::new(),
                metrics: ce::metrics(r.total(), &mut notes),
                estimated: r.estimated(),
            });
            continue;
        }
        for g in r.groups() {
            let keys = g
                .keys()
                .iter()
                .enumerate()
                .map(|(i, raw)| match group_by.get(i) {
                    Some(k) => k.value_of(raw).to_owned(),
                    None => raw.clone(),
                })
                .collect();
            rows.push(CostRow {
                start: s.clone(),
                end: e.clone(),
                keys,
                metrics: ce::metrics(g.metrics(), &mut notes),
                estimated: r.estimated(),
            });
        }
    }
    let page = bound_page(
        rows,
        &cursor,
        limit,
        max_bytes.saturating_sub(RESERVE).max(max_bytes / 2),
        out.next_page_token().map(str::to_owned),
    );
    notes.extend(page.note);
    let rows = page.items;

    let page_totals = totals(&rows, &metrics, &mut notes);
    let top_groups = if group_by.is_empty() {
        Vec::new()
    } else {
        top(&rows, metrics[0])
    };
    let mut key_attributes = BTreeMap::new();
    for d in out.dimension_value_attributes() {
        let (Some(value), Some(attrs)) = (d.value(), d.attributes()) else {
            continue;
        };
        if attrs.is_empty() || !rows.iter().any(|r| r.keys.iter().any(|k| k == value)) {
            continue;
        }
        if key_attributes.len() >= 100 {
            notes.push("key_attributes cut at 100 values".into());
            break;
        }
        key_attributes.insert(
            value.to_owned(),
            attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
    }
    for (i, k) in group_by.iter().enumerate() {
        let untagged = rows
            .iter()
            .any(|r| r.keys.get(i).is_some_and(String::is_empty));
        match k {
            GroupKey::Tag(t) if untagged => notes.push(format!(
                "keys \"\" under tag:{t} are costs without that tag (filter them with {{\"tags\": {{\"{t}\": []}}}})"
            )),
            GroupKey::CostCategory(c) if untagged => notes.push(format!(
                "keys \"\" under cost_category:{c} are costs outside the category"
            )),
            _ => {}
        }
    }
    if rows.is_empty() && !page.truncated && cursor == PageCursor::default() {
        notes.push(
            "no costs in this period for this filter (Cost Explorer data lags up to 24 hours; check filter values with costs_get_dimension_values)".into(),
        );
    }
    let one_unit = group_by.contains(&GroupKey::Dimension("USAGE_TYPE"))
        || filter.includes_dimension("USAGE_TYPE")
        || filter.includes_dimension("USAGE_TYPE_GROUP");
    if metrics.contains(&"UsageQuantity") && !one_unit {
        notes.push(
            "UsageQuantity adds usage of every unit together unless filtered to one USAGE_TYPE or grouped by USAGE_TYPE".into(),
        );
    }
    let mut result = CostAndUsage {
        start,
        end,
        granularity: granularity.as_str().to_owned(),
        metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
        group_by: group_by.iter().map(GroupKey::label).collect(),
        rows,
        page_totals,
        top_groups,
        key_attributes,
        estimated,
        truncated: page.truncated,
        next_cursor: page.next_cursor,
        cache,
        notes,
    };
    // The rows respect the cap; what goes around them is dropped if need be.
    let size = mcp_common::output::json_len::<CostAndUsage>;
    if size(&result) > max_bytes && !result.key_attributes.is_empty() {
        result.key_attributes.clear();
        result.notes.push(
            "output cap: key_attributes left out (costs_get_dimension_values lists them)".into(),
        );
    }
    if size(&result) > max_bytes && !result.top_groups.is_empty() {
        result.top_groups.clear();
        result.notes.push("output cap: top_groups left out".into());
    }
    // Still over: fewer rows; the cursor continues after the last one kept (all rows of a
    // page come from one Cost Explorer page).
    let before = result.rows.len();
    while size(&result) > max_bytes && result.rows.len() > 1 {
        result.rows.pop();
    }
    if result.rows.len() < before {
        result.page_totals = totals(&result.rows, &metrics, &mut Vec::new());
        result.truncated = true;
        result.next_cursor = Some(
            PageCursor {
                token: cursor.token.clone(),
                skip: cursor.skip + result.rows.len(),
            }
            .encode(),
        );
        result.notes.push(format!(
            "output cap: {} row(s) on this page; continue with next_cursor, or narrow the request",
            result.rows.len()
        ));
    }
    Ok(result)
}

/// Each metric summed over `rows`, when its rows share one unit.
fn totals(rows: &[CostRow], metrics: &[&str], notes: &mut Vec<String>) -> BTreeMap<String, Amount> {
    let mut out = BTreeMap::new();
    for m in metrics {
        let mut units: Vec<&str> = Vec::new();
        let mut sum = 0.0;
        for a in rows.iter().filter_map(|r| r.metrics.get(*m)) {
            if !units.contains(&a.unit.as_str()) {
                units.push(&a.unit);
            }
            sum += a.amount;
        }
        match units.as_slice() {
            [] => {}
            [unit] => {
                out.insert(
                    (*m).to_owned(),
                    Amount {
                        amount: ce::tidy(sum),
                        unit: (*unit).to_owned(),
                    },
                );
            }
            many => notes.push(format!(
                "{m} mixes units ({}): no page total",
                many.join(", ")
            )),
        }
    }
    out
}

/// The largest groups of `rows` by `metric`.
fn top(rows: &[CostRow], metric: &str) -> Vec<GroupTotal> {
    let mut by_keys: Vec<GroupTotal> = Vec::new();
    for r in rows {
        let Some(a) = r.metrics.get(metric) else {
            continue;
        };
        match by_keys
            .iter_mut()
            .find(|g| g.keys == r.keys && g.unit == a.unit)
        {
            Some(g) => g.amount += a.amount,
            None => by_keys.push(GroupTotal {
                keys: r.keys.clone(),
                amount: a.amount,
                unit: a.unit.clone(),
            }),
        }
    }
    for g in &mut by_keys {
        g.amount = ce::tidy(g.amount);
    }
    by_keys.sort_by(|a, b| b.amount.total_cmp(&a.amount));
    by_keys.truncate(TOP_GROUPS);
    by_keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(keys: &[&str], amount: f64, unit: &str) -> CostRow {
        CostRow {
            start: "2024-01-01".into(),
            end: "2024-01-02".into(),
            keys: keys.iter().map(|s| (*s).to_owned()).collect(),
            metrics: [(
                "UnblendedCost".to_owned(),
                Amount {
                    amount,
                    unit: unit.into(),
                },
            )]
            .into(),
            estimated: false,
        }
    }

    #[test]
    fn totals_and_top_groups() {
        let rows = vec![
            row(&["EC2"], 1.1, "USD"),
            row(&["S3"], 0.2, "USD"),
            row(&["EC2"], 2.2, "USD"),
        ];
        let mut notes = Vec::new();
        let t = totals(&rows, &["UnblendedCost"], &mut notes);
        assert_eq!(t["UnblendedCost"].amount, 3.5);
        let g = top(&rows, "UnblendedCost");
        assert_eq!(g[0].keys, ["EC2"]);
        assert_eq!(g[0].amount, 3.3);
        assert_eq!(g[1].amount, 0.2);
        let mixed = vec![row(&[], 1.0, "Hrs"), row(&[], 2.0, "GB")];
        let t = totals(&mixed, &["UnblendedCost"], &mut notes);
        assert!(t.is_empty());
        assert!(notes[0].contains("mixes units (Hrs, GB)"), "{notes:?}");
    }
}

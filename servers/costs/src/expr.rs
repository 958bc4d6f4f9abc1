//! What the tools take besides dates: metrics, group-by keys, dimensions and filters, checked
//! before any (billed) request and turned into Cost Explorer's types.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{
    CostCategoryValues, Dimension, DimensionValues, Expression, GroupDefinition,
    GroupDefinitionType, MatchOption, Metric, TagValues,
};
use mcp_common::ToolError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// GetCostAndUsage metrics.
pub const METRICS: &[&str] = &[
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "NormalizedUsageAmount",
    "UnblendedCost",
    "UsageQuantity",
];

/// GetCostForecast metrics (costs only).
pub const FORECAST_METRICS: &[&str] = &[
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "UnblendedCost",
];

/// The dimensions Cost Explorer documents for GetCostAndUsage's group-by (others of
/// [`DIMENSIONS`], such as REGION, are accepted by Cost Explorer too and are not refused here).
pub const GROUP_DIMENSIONS: &[&str] = &[
    "AZ",
    "INSTANCE_TYPE",
    "LEGAL_ENTITY_NAME",
    "INVOICING_ENTITY",
    "LINKED_ACCOUNT",
    "OPERATION",
    "PLATFORM",
    "PURCHASE_TYPE",
    "SERVICE",
    "TENANCY",
    "RECORD_TYPE",
    "USAGE_TYPE",
];

/// Dimensions of the COST_AND_USAGE context: filters and GetDimensionValues.
pub const DIMENSIONS: &[&str] = &[
    "AZ",
    "BILLING_ENTITY",
    "CACHE_ENGINE",
    "DATABASE_ENGINE",
    "DEPLOYMENT_OPTION",
    "INSTANCE_TYPE",
    "INSTANCE_TYPE_FAMILY",
    "INVOICING_ENTITY",
    "LEGAL_ENTITY_NAME",
    "LINKED_ACCOUNT",
    "OPERATING_SYSTEM",
    "OPERATION",
    "PLATFORM",
    "PURCHASE_TYPE",
    "RECORD_TYPE",
    "REGION",
    "RESERVATION_ID",
    "RESOURCE_ID",
    "SAVINGS_PLAN_ARN",
    "SAVINGS_PLANS_TYPE",
    "SERVICE",
    "TENANCY",
    "USAGE_TYPE",
    "USAGE_TYPE_GROUP",
];

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A metric name in any case or spelling (`unblended_cost`, `UNBLENDED_COST`,
/// `UnblendedCost`) as Cost Explorer's `UnblendedCost`, if it is one of `allowed`.
pub fn metric(name: &str, allowed: &[&'static str], arg: &str) -> Result<&'static str, ToolError> {
    let key = squash(name);
    allowed
        .iter()
        .find(|m| squash(m) == key)
        .copied()
        .ok_or_else(|| {
            ToolError::invalid_argument(
                arg,
                format!(
                    "`{name}` is not a metric here: use one of {}",
                    allowed.join(", ")
                ),
            )
        })
}

/// `UnblendedCost` as GetCostForecast's `UNBLENDED_COST`.
pub fn forecast_metric(name: &'static str) -> Metric {
    match name {
        "AmortizedCost" => Metric::AmortizedCost,
        "BlendedCost" => Metric::BlendedCost,
        "NetAmortizedCost" => Metric::NetAmortizedCost,
        "NetUnblendedCost" => Metric::NetUnblendedCost,
        _ => Metric::UnblendedCost,
    }
}

/// A dimension name (any case) if it is one of `allowed`.
pub fn dimension(
    name: &str,
    allowed: &[&'static str],
    arg: &str,
) -> Result<&'static str, ToolError> {
    let upper = name.trim().to_ascii_uppercase().replace(['-', ' '], "_");
    allowed
        .iter()
        .find(|d| **d == upper)
        .copied()
        .ok_or_else(|| {
            ToolError::invalid_argument(
                arg,
                format!(
                    "unknown dimension `{name}`: use one of {}",
                    allowed.join(", ")
                ),
            )
        })
}

/// One group-by key: a dimension, a tag key or a cost category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum GroupKey {
    Dimension(&'static str),
    Tag(String),
    CostCategory(String),
}

impl GroupKey {
    /// `SERVICE`, `tag:team`, `cost_category:Teams`.
    pub fn parse(s: &str) -> Result<Self, ToolError> {
        let s = s.trim();
        let (kind, key) = s.split_once(':').unwrap_or(("", s));
        let named = |k: &str| -> Result<String, ToolError> {
            if k.is_empty() {
                Err(ToolError::invalid_argument(
                    "group_by",
                    format!("`{s}` names no key: write tag:KEY or cost_category:NAME"),
                ))
            } else {
                Ok(k.to_owned())
            }
        };
        match kind.to_ascii_lowercase().as_str() {
            "" | "dimension" => dimension(key, DIMENSIONS, "group_by")
                .map(GroupKey::Dimension)
                .map_err(|_| {
                    ToolError::invalid_argument(
                        "group_by",
                        format!(
                            "cannot group by `{s}`: use a dimension (usually {}; any of {}), tag:KEY or cost_category:NAME",
                            GROUP_DIMENSIONS.join(", "),
                            DIMENSIONS.join(", ")
                        ),
                    )
                }),
            "tag" => named(key).map(GroupKey::Tag),
            "cost_category" | "costcategory" => named(key).map(GroupKey::CostCategory),
            _ => Err(ToolError::invalid_argument(
                "group_by",
                format!("`{s}`: use a dimension such as SERVICE, tag:KEY or cost_category:NAME"),
            )),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Dimension(d) => (*d).to_owned(),
            Self::Tag(k) => format!("tag:{k}"),
            Self::CostCategory(k) => format!("cost_category:{k}"),
        }
    }

    pub fn sdk(&self) -> GroupDefinition {
        let (t, k) = match self {
            Self::Dimension(d) => (GroupDefinitionType::Dimension, (*d).to_owned()),
            Self::Tag(k) => (GroupDefinitionType::Tag, k.clone()),
            Self::CostCategory(k) => (GroupDefinitionType::CostCategory, k.clone()),
        };
        GroupDefinition::builder().r#type(t).key(k).build()
    }

    /// A group key as Cost Explorer answers it (`team$payments`, `team$` for untagged) as the
    /// value alone.
    pub fn value_of<'a>(&self, raw: &'a str) -> &'a str {
        match self {
            Self::Dimension(_) => raw,
            Self::Tag(_) | Self::CostCategory(_) => raw.split_once('$').map_or(raw, |(_, v)| v),
        }
    }
}

/// At most two group-by keys, all different.
pub fn group_by(keys: &[String]) -> Result<Vec<GroupKey>, ToolError> {
    if keys.len() > 2 {
        return Err(ToolError::invalid_argument(
            "group_by",
            "Cost Explorer groups by at most two keys",
        ));
    }
    let out: Vec<GroupKey> = keys
        .iter()
        .map(|k| GroupKey::parse(k))
        .collect::<Result<_, _>>()?;
    if out.len() == 2 && out[0] == out[1] {
        return Err(ToolError::invalid_argument(
            "group_by",
            "the two keys are the same",
        ));
    }
    Ok(out)
}

/// Conditions on costs: every key must match (AND), any of a key's values may (OR).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterTerms {
    /// Dimension -> values, e.g. `{"SERVICE": ["Amazon Elastic Compute Cloud - Compute"],
    /// "REGION": ["eu-west-1"]}`. Exact values come from costs_get_dimension_values.
    #[serde(default)]
    pub dimensions: BTreeMap<String, Vec<String>>,
    /// Tag key -> values, e.g. `{"team": ["payments"]}`; an empty list matches costs that do
    /// not carry the tag.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
    /// Cost category name -> values; an empty list matches costs outside the category.
    #[serde(default)]
    pub cost_categories: BTreeMap<String, Vec<String>>,
}

/// Which costs to count.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Dimension -> values, e.g. `{"SERVICE": ["Amazon Elastic Compute Cloud - Compute"],
    /// "REGION": ["eu-west-1"]}`. Exact values come from costs_get_dimension_values.
    #[serde(default)]
    pub dimensions: BTreeMap<String, Vec<String>>,
    /// Tag key -> values, e.g. `{"team": ["payments"]}`; an empty list matches costs that do
    /// not carry the tag.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
    /// Cost category name -> values; an empty list matches costs outside the category.
    #[serde(default)]
    pub cost_categories: BTreeMap<String, Vec<String>>,
    /// Costs matching any of these conditions are left out, e.g.
    /// `{"dimensions": {"RECORD_TYPE": ["Credit", "Refund"]}}`.
    #[serde(default)]
    pub exclude: Option<FilterTerms>,
}

/// The checked, normalized form of a filter (dimension names upper case); it is part of the
/// cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Terms {
    dimensions: BTreeMap<&'static str, Vec<String>>,
    tags: BTreeMap<String, Vec<String>>,
    cost_categories: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckedFilter {
    include: Terms,
    exclude: Terms,
}

fn check_terms(
    dimensions: &BTreeMap<String, Vec<String>>,
    tags: &BTreeMap<String, Vec<String>>,
    cost_categories: &BTreeMap<String, Vec<String>>,
    prefix: &str,
) -> Result<Terms, ToolError> {
    let arg = format!("{prefix}dimensions");
    let mut out = Terms::default();
    for (name, values) in dimensions {
        let d = dimension(name, DIMENSIONS, &arg)?;
        let values: Vec<String> = values
            .iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(ToolError::invalid_argument(
                &arg,
                format!(
                    "`{d}` has no values: list at least one (costs_get_dimension_values lists them)"
                ),
            ));
        }
        if out.dimensions.insert(d, values).is_some() {
            return Err(ToolError::invalid_argument(
                &arg,
                format!("`{d}` is given twice"),
            ));
        }
    }
    for (what, from, to) in [
        ("tags", tags, &mut out.tags),
        ("cost_categories", cost_categories, &mut out.cost_categories),
    ] {
        for (key, values) in from {
            if key.trim().is_empty() {
                return Err(ToolError::invalid_argument(
                    &format!("{prefix}{what}"),
                    "a key is empty",
                ));
            }
            to.insert(key.clone(), values.clone());
        }
    }
    let n = out.dimensions.len() + out.tags.len() + out.cost_categories.len();
    if n > 20 {
        return Err(ToolError::invalid_argument(
            &format!("{prefix}filter"),
            "at most 20 conditions",
        ));
    }
    Ok(out)
}

impl Filter {
    pub fn check(&self) -> Result<CheckedFilter, ToolError> {
        let include = check_terms(
            &self.dimensions,
            &self.tags,
            &self.cost_categories,
            "filter.",
        )?;
        let exclude = match &self.exclude {
            Some(x) => check_terms(
                &x.dimensions,
                &x.tags,
                &x.cost_categories,
                "filter.exclude.",
            )?,
            None => Terms::default(),
        };
        Ok(CheckedFilter { include, exclude })
    }
}

fn leaves(t: &Terms) -> Vec<Expression> {
    let mut out = Vec::new();
    for (d, values) in &t.dimensions {
        out.push(
            Expression::builder()
                .dimensions(
                    DimensionValues::builder()
                        .key(Dimension::from(*d))
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
        );
    }
    for (k, values) in &t.tags {
        let mut b = TagValues::builder().key(k);
        b = if values.is_empty() {
            b.match_options(MatchOption::Absent)
        } else {
            b.set_values(Some(values.clone()))
        };
        out.push(Expression::builder().tags(b.build()).build());
    }
    for (k, values) in &t.cost_categories {
        let mut b = CostCategoryValues::builder().key(k);
        b = if values.is_empty() {
            b.match_options(MatchOption::Absent)
        } else {
            b.set_values(Some(values.clone()))
        };
        out.push(Expression::builder().cost_categories(b.build()).build());
    }
    out
}

impl CheckedFilter {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Does the filter keep only some values of dimension `d`?
    pub fn includes_dimension(&self, d: &str) -> bool {
        self.include.dimensions.contains_key(d)
    }

    /// Cost Explorer's expression: the conditions and the negated exclusions under one `And`
    /// (a single condition stands alone: `And` needs two operands).
    pub fn expression(&self) -> Option<Expression> {
        let mut all = leaves(&self.include);
        all.extend(
            leaves(&self.exclude)
                .into_iter()
                .map(|e| Expression::builder().not(e).build()),
        );
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Expression::builder().set_and(Some(all)).build()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_spellings() {
        assert_eq!(
            metric("unblended_cost", METRICS, "metrics").unwrap(),
            "UnblendedCost"
        );
        assert_eq!(
            metric("UNBLENDED_COST", METRICS, "metrics").unwrap(),
            "UnblendedCost"
        );
        assert_eq!(
            metric("UsageQuantity", METRICS, "metrics").unwrap(),
            "UsageQuantity"
        );
        let e = metric("UsageQuantity", FORECAST_METRICS, "metric")
            .unwrap_err()
            .text();
        assert!(e.contains("AmortizedCost, BlendedCost"), "{e}");
        assert!(metric("cost", METRICS, "metrics").is_err());
    }

    #[test]
    fn group_keys() {
        assert_eq!(
            group_by(&["service".into(), "tag:team".into()]).unwrap(),
            [GroupKey::Dimension("SERVICE"), GroupKey::Tag("team".into())]
        );
        assert_eq!(
            GroupKey::parse("cost_category:Teams").unwrap().label(),
            "cost_category:Teams"
        );
        assert_eq!(
            GroupKey::parse("region").unwrap(),
            GroupKey::Dimension("REGION")
        );
        let e = GroupKey::parse("COLOR").unwrap_err().text();
        assert!(e.contains("cannot group by `COLOR`"), "{e}");
        assert!(GroupKey::parse("tag:").is_err());
        assert!(group_by(&["SERVICE".into(), "AZ".into(), "tag:x".into()]).is_err());
        assert!(group_by(&["SERVICE".into(), "service".into()]).is_err());
        let t = GroupKey::Tag("team".into());
        assert_eq!(t.value_of("team$payments"), "payments");
        assert_eq!(t.value_of("team$"), "");
        assert_eq!(GroupKey::Dimension("SERVICE").value_of("a$b"), "a$b");
    }

    #[test]
    fn filters_become_expressions() {
        let f: Filter = serde_json::from_value(serde_json::json!({
            "dimensions": {"service": ["Amazon EC2"]},
        }))
        .unwrap();
        let e = f.check().unwrap().expression().unwrap();
        assert_eq!(e.dimensions().unwrap().key(), Some(&Dimension::Service));
        assert!(e.and().is_empty());

        let f: Filter = serde_json::from_value(serde_json::json!({
            "dimensions": {"REGION": ["eu-west-1"]},
            "tags": {"team": ["payments"], "owner": []},
            "exclude": {"dimensions": {"RECORD_TYPE": ["Credit", "Refund"]}}
        }))
        .unwrap();
        let e = f.check().unwrap().expression().unwrap();
        assert_eq!(e.and().len(), 4);
        let absent = e
            .and()
            .iter()
            .find(|x| x.tags().and_then(|t| t.key()) == Some("owner"))
            .unwrap();
        assert_eq!(
            absent.tags().unwrap().match_options(),
            [MatchOption::Absent]
        );
        let not = e.and().iter().find_map(|x| x.not()).unwrap();
        assert_eq!(not.dimensions().unwrap().values(), ["Credit", "Refund"]);

        assert!(Filter::default().check().unwrap().expression().is_none());
        let bad: Filter =
            serde_json::from_value(serde_json::json!({"dimensions": {"COLOR": ["red"]}})).unwrap();
        let e = bad.check().unwrap_err().text();
        assert!(
            e.contains("unknown dimension `COLOR`") && e.contains("SERVICE"),
            "{e}"
        );
        let empty: Filter =
            serde_json::from_value(serde_json::json!({"dimensions": {"SERVICE": []}})).unwrap();
        assert!(empty.check().unwrap_err().text().contains("has no values"));
        assert!(
            serde_json::from_value::<Filter>(serde_json::json!({"dimension": {}})).is_err(),
            "typos are refused, not ignored"
        );
    }
}

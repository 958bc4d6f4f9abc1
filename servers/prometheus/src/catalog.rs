//! What exists: series, label names and values, metric metadata.

use std::collections::{BTreeMap, HashMap};

use prometheus_http_query::response::MetricMetadata;
use schemars::JsonSchema;
use serde::Serialize;

use mcp_common::output::fit_items;

/// Label names are `[a-zA-Z_][a-zA-Z0-9_]*` (they go into a URL path).
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SeriesList {
    /// Label sets of the matching series.
    pub series: Vec<BTreeMap<String, String>>,
    /// Series Prometheus returned, before the cap.
    pub total: usize,
    pub truncated: bool,
}

pub fn series_list(
    data: Vec<HashMap<String, String>>,
    limit: usize,
    max_bytes: usize,
) -> SeriesList {
    let mut series: Vec<BTreeMap<String, String>> =
        data.into_iter().map(|m| m.into_iter().collect()).collect();
    series.sort();
    let page = fit_items(series, limit, max_bytes);
    SeriesList {
        total: page.total.unwrap_or_default(),
        truncated: page.truncated,
        series: page.items,
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Names {
    pub values: Vec<String>,
    /// Values Prometheus returned, before the cap.
    pub total: usize,
    pub truncated: bool,
}

pub fn names(mut data: Vec<String>, limit: usize, max_bytes: usize) -> Names {
    data.sort();
    let page = fit_items(data, limit, max_bytes);
    Names {
        total: page.total.unwrap_or_default(),
        truncated: page.truncated,
        values: page.items,
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Metadata {
    pub metric: String,
    /// counter, gauge, histogram, summary, info, stateset, gaugehistogram or unknown.
    #[serde(rename = "type")]
    pub metric_type: String,
    pub help: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MetadataList {
    pub metrics: Vec<Metadata>,
    pub total: usize,
    pub truncated: bool,
}

pub fn metadata(
    data: HashMap<String, Vec<MetricMetadata>>,
    limit: usize,
    max_bytes: usize,
) -> MetadataList {
    let mut metrics: Vec<Metadata> = data
        .into_iter()
        .flat_map(|(metric, entries)| {
            // Targets may disagree; keep each distinct description once.
            let mut seen: Vec<Metadata> = Vec::new();
            for m in entries {
                let item = Metadata {
                    metric: metric.clone(),
                    metric_type: m.metric_type().to_string(),
                    help: m.help().to_owned(),
                    unit: m.unit().to_owned(),
                };
                if !seen
                    .iter()
                    .any(|s| s.metric_type == item.metric_type && s.help == item.help)
                {
                    seen.push(item);
                }
            }
            seen
        })
        .collect();
    metrics.sort_by(|a, b| a.metric.cmp(&b.metric));
    let page = fit_items(metrics, limit, max_bytes);
    MetadataList {
        total: page.total.unwrap_or_default(),
        truncated: page.truncated,
        metrics: page.items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_checked() {
        assert!(valid_label_name("pod"));
        assert!(valid_label_name("__name__"));
        assert!(!valid_label_name("../admin"));
        assert!(!valid_label_name("1abc"));
        assert!(!valid_label_name(""));
    }

    #[test]
    fn names_are_sorted_and_capped() {
        let n = names(vec!["b".into(), "a".into(), "c".into()], 2, 1000);
        assert_eq!(n.values, ["a", "b"]);
        assert_eq!(n.total, 3);
        assert!(n.truncated);
    }
}

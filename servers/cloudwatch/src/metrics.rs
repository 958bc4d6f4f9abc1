//! Metrics: `GetMetricData` for one metric and statistic with a point cap, `ListMetrics`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, ScanBy,
};
use mcp_common::output::fit_items;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, sdk};
use crate::timeparse::{self, rfc3339};

/// Default and largest number of points returned.
pub const DEFAULT_POINTS: usize = 360;
pub const MAX_POINTS: usize = 1440;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMetricDataArgs {
    /// Namespace, e.g. `AWS/EC2`, `AWS/RDS`, `AWS/ApplicationELB`.
    pub namespace: String,
    /// Metric name, e.g. `CPUUtilization`.
    pub metric_name: String,
    /// Dimensions, name -> value, e.g. `{"InstanceId": "i-0abc"}`.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `Average` (default), `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile `p99`.
    #[serde(default)]
    pub statistic: Option<String>,
    /// Seconds per point (a multiple of 60, or 1/5/10/30 for high-resolution metrics). Default:
    /// the smallest multiple of 60 that keeps the range under the point cap.
    #[serde(default)]
    pub period: Option<i32>,
    /// Range start: `now-3h` (default), RFC 3339 or Unix seconds.
    #[serde(default)]
    pub start: Option<String>,
    /// Range end: `now` (default).
    #[serde(default)]
    pub end: Option<String>,
    /// Most points to return (default 360, at most 1440); the newest are kept.
    #[serde(default)]
    pub max_points: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Point {
    /// RFC 3339.
    pub timestamp: String,
    pub value: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    /// The newest point.
    pub latest: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricData {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period: i32,
    pub start: String,
    pub end: String,
    /// Oldest first.
    pub points: Vec<Point>,
    /// Over the returned points; absent without data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// `Complete`, or `PartialData` when CloudWatch had more than it returned.
    pub status: Option<String>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn check_statistic(s: &str) -> Result<()> {
    const STATS: &[&str] = &["Average", "Sum", "Minimum", "Maximum", "SampleCount"];
    let percentile = s
        .strip_prefix('p')
        .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)));
    if STATS.contains(&s) || percentile {
        Ok(())
    } else {
        Err(Error::invalid(
            "statistic",
            format!(
                "`{s}`: use Average, Sum, Minimum, Maximum, SampleCount or a percentile like p99"
            ),
        ))
    }
}

/// The smallest period (a multiple of 60) that gives at most `points` points over `range_s`.
pub fn default_period(range_s: i64, points: usize) -> i32 {
    let per = (range_s as f64 / points.max(1) as f64).ceil() as i64;
    let per = ((per + 59) / 60).max(1) * 60;
    per.min(i64::from(i32::MAX)) as i32
}

fn dimensions(d: &BTreeMap<String, String>) -> Vec<Dimension> {
    d.iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect()
}

pub async fn get_metric_data(
    cw: &aws_sdk_cloudwatch::Client,
    a: GetMetricDataArgs,
) -> Result<MetricData> {
    if a.namespace.trim().is_empty() || a.metric_name.trim().is_empty() {
        return Err(Error::invalid(
            "metric_name",
            "namespace and metric_name are required",
        ));
    }
    if a.dimensions.len() > 30 {
        return Err(Error::invalid("dimensions", "at most 30 dimensions"));
    }
    let statistic = a.statistic.clone().unwrap_or_else(|| "Average".into());
    check_statistic(&statistic)?;
    let (start, end) = timeparse::range(a.start.as_deref(), a.end.as_deref(), "now-3h")?;
    let max_points = match a.max_points {
        Some(0) => return Err(Error::invalid("max_points", "must be at least 1")),
        Some(n) => n.min(MAX_POINTS),
        None => DEFAULT_POINTS,
    };
    let mut notes = Vec::new();
    let period = match a.period {
        Some(p) if p <= 0 => return Err(Error::invalid("period", "must be positive seconds")),
        Some(p) if p >= 60 && p % 60 != 0 => {
            return Err(Error::invalid(
                "period",
                "use a multiple of 60 (or 1, 5, 10, 30)",
            ));
        }
        Some(p) if p < 60 && ![1, 5, 10, 30].contains(&p) => {
            return Err(Error::invalid(
                "period",
                "use a multiple of 60 (or 1, 5, 10, 30)",
            ));
        }
        Some(p) => {
            if (end - start) / i64::from(p) > max_points as i64 {
                notes.push(format!(
                    "{} points at period {p}s exceed the cap of {max_points}: the newest are kept; a period of {}s covers the whole range",
                    (end - start) / i64::from(p),
                    default_period(end - start, max_points)
                ));
            }
            p
        }
        None => default_period(end - start, max_points),
    };
    let query = MetricDataQuery::builder()
        .id("m0")
        .return_data(true)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(&a.namespace)
                        .metric_name(&a.metric_name)
                        .set_dimensions(Some(dimensions(&a.dimensions)))
                        .build(),
                )
                .period(period)
                .stat(&statistic)
                .build(),
        )
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampDescending)
        .max_datapoints(max_points as i32 + 1)
        .send()
        .await
        .map_err(sdk("GetMetricData", "cloudwatch:GetMetricData"))?;
    let result = out.metric_data_results().first();
    let mut points: Vec<Point> = result
        .map(|r| {
            r.timestamps()
                .iter()
                .zip(r.values())
                .map(|(t, v)| Point {
                    timestamp: rfc3339(t.secs()),
                    value: *v,
                })
                .collect()
        })
        .unwrap_or_default();
    // Newest first from CloudWatch: keep the newest `max_points`, then oldest first.
    points.sort_by(|x, y| y.timestamp.cmp(&x.timestamp));
    let truncated = points.len() > max_points || out.next_token().is_some();
    points.truncate(max_points);
    points.reverse();
    let status = result
        .and_then(|r| r.status_code())
        .map(|s| s.as_str().to_owned());
    for m in result.map(|r| r.messages()).unwrap_or_default() {
        if let Some(v) = m.value() {
            notes.push(v.to_owned());
        }
    }
    if points.is_empty() {
        notes.push(
            "no data points: check the namespace, metric name and exact dimensions with cloudwatch_list_metrics, and the time range".into(),
        );
    }
    let summary = (!points.is_empty()).then(|| {
        let vals: Vec<f64> = points.iter().map(|p| p.value).collect();
        Summary {
            min: vals.iter().copied().fold(f64::INFINITY, f64::min),
            max: vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            avg: vals.iter().sum::<f64>() / vals.len() as f64,
            latest: *vals.last().unwrap_or(&0.0),
        }
    });
    Ok(MetricData {
        namespace: a.namespace,
        metric_name: a.metric_name,
        dimensions: a.dimensions,
        statistic,
        period,
        start: rfc3339(start),
        end: rfc3339(end),
        points,
        summary,
        status,
        truncated,
        notes,
    })
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListMetricsArgs {
    /// Only this namespace, e.g. `AWS/EC2`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only this metric name.
    #[serde(default)]
    pub metric_name: Option<String>,
    /// Only metrics with these dimensions (name -> value; an empty value matches any value).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Only metrics with data in the last 3 hours.
    #[serde(default)]
    pub recently_active: bool,
    /// Most metrics to return (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricInfo {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricList {
    pub metrics: Vec<MetricInfo>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub async fn list_metrics(
    cw: &aws_sdk_cloudwatch::Client,
    a: ListMetricsArgs,
    max_bytes: usize,
) -> Result<MetricList> {
    let limit = match a.limit {
        Some(0) => return Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => n.min(500),
        None => 100,
    };
    let filters: Vec<DimensionFilter> = a
        .dimensions
        .iter()
        .map(|(k, v)| {
            DimensionFilter::builder()
                .name(k)
                .set_value((!v.is_empty()).then(|| v.clone()))
                .build()
        })
        .collect();
    let mut metrics = Vec::new();
    let mut token = a.cursor.filter(|c| !c.is_empty());
    // ListMetrics pages hold up to 500; follow at most 3 pages for one answer.
    for _ in 0..3 {
        let mut req = cw
            .list_metrics()
            .set_namespace(a.namespace.clone())
            .set_metric_name(a.metric_name.clone())
            .set_dimensions((!filters.is_empty()).then(|| filters.clone()))
            .set_next_token(token.take());
        if a.recently_active {
            req = req.recently_active(aws_sdk_cloudwatch::types::RecentlyActive::Pt3H);
        }
        let out = req
            .send()
            .await
            .map_err(sdk("ListMetrics", "cloudwatch:ListMetrics"))?;
        metrics.extend(out.metrics().iter().map(|m| {
            MetricInfo {
                namespace: m.namespace().map(str::to_owned),
                metric_name: m.metric_name().map(str::to_owned),
                dimensions: m
                    .dimensions()
                    .iter()
                    .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
                    .collect(),
            }
        }));
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() || metrics.len() >= limit {
            break;
        }
    }
    let over = metrics.len() > limit;
    let page = fit_items(metrics, limit, max_bytes.saturating_sub(512));
    // A cut inside a page cannot be resumed by CloudWatch's token: say so without a cursor.
    let cut_here = over || page.truncated;
    Ok(MetricList {
        metrics: page.items,
        truncated: cut_here || token.is_some(),
        next_cursor: if cut_here { None } else { token },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(default_period(3 * 3600, 360), 60);
        assert_eq!(default_period(24 * 3600, 360), 240);
        assert_eq!(default_period(60, 1000), 60);
        assert!(check_statistic("p99").is_ok());
        assert!(check_statistic("p99.9").is_ok());
        assert!(check_statistic("Median").is_err());
    }
}

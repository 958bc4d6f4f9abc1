//! PromQL queries: step planning under the points cap, result shaping under the series and byte
//! caps, and the explanation of an empty result.

use std::collections::{BTreeMap, HashMap};

use prometheus_http_query::response::{Data, InstantVector, PromqlResult, RangeVector, Sample};
use schemars::JsonSchema;
use serde::Serialize;

use crate::suggest;
use crate::timeparse::format_duration;
use crate::upstream::Upstream;

/// Caps on query results (the byte cap is the shared `--max-output-bytes`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Caps {
    /// Most series one query result returns (a tool's `limit` may ask for fewer).
    #[arg(long, env = "PROMETHEUS_MAX_SERIES", default_value_t = 100)]
    pub max_series: usize,

    /// Most points per series in a range result; a smaller `step` is widened (or refused with
    /// `strict_step`).
    #[arg(long, env = "PROMETHEUS_MAX_POINTS", default_value_t = 500)]
    pub max_points: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_series: 100,
            max_points: 500,
        }
    }
}

/// Steps a range query may be widened to: round numbers a human would pick.
const NICE_STEPS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0, 43200.0, 86400.0,
];

/// Points a range query without a `step` aims at: enough to see a shape, few enough to read.
const DEFAULT_POINTS: usize = 120;

fn points(range: f64, step: f64) -> usize {
    (range / step).floor() as usize + 1
}

/// The smallest round step that keeps `range` within `max_points`.
fn nice_step_for(range: f64, max_points: usize) -> f64 {
    let min = range / (max_points.max(2) - 1) as f64;
    NICE_STEPS
        .iter()
        .copied()
        .find(|s| *s >= min)
        .unwrap_or_else(|| (min / 86400.0).ceil() * 86400.0)
}

/// The step a range query runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub step: f64,
    pub points: usize,
    /// The step the caller asked for, when it was widened.
    pub widened_from: Option<f64>,
}

/// Picks the step for `[start, end]`: the requested one when it fits `max_points`, otherwise a
/// wider round one (or an error when `strict`); without a request, about
/// [`DEFAULT_POINTS`] points.
pub fn plan_step(
    start: f64,
    end: f64,
    requested: Option<f64>,
    max_points: usize,
    strict: bool,
) -> Result<StepPlan, String> {
    if end < start {
        return Err(format!("end ({end}) is before start ({start}); swap them"));
    }
    let range = end - start;
    let max_points = max_points.max(2);
    match requested {
        None => {
            let step = nice_step_for(range, DEFAULT_POINTS.min(max_points));
            Ok(StepPlan {
                step,
                points: points(range, step),
                widened_from: None,
            })
        }
        Some(step) if points(range, step) <= max_points => Ok(StepPlan {
            step,
            points: points(range, step),
            widened_from: None,
        }),
        Some(step) => {
            let wider = nice_step_for(range, max_points);
            if strict {
                return Err(format!(
                    "step {} over {} gives {} points per series, more than the cap of {max_points}; use step >= {} or a shorter range",
                    format_duration(step),
                    format_duration(range),
                    points(range, step),
                    format_duration(wider),
                ));
            }
            Ok(StepPlan {
                step: wider,
                points: points(range, wider),
                widened_from: Some(step),
            })
        }
    }
}

/// One point of a range result: `[unix_seconds, value]`; the value is null for NaN and ±Inf.
pub type Point = (f64, Option<f64>);

/// One series of a result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Series {
    /// The series' labels (`__name__` is the metric name, absent after most functions).
    pub metric: BTreeMap<String, String>,
    /// Instant results: the value (null when NaN or ±Inf, see `special`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Instant results: the sample's time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// `NaN`, `+Inf` or `-Inf` when the value is not a finite number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special: Option<String>,
    /// Range results: `[unix_seconds, value]` pairs, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<Point>>,
    /// Points before the cut, when the newest `max_points` were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points_total: Option<usize>,
}

/// The answer of `prometheus_query` and `prometheus_query_range`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueryResult {
    pub query: String,
    /// `vector` (instant), `matrix` (range, or an instant query of a range selector) or `scalar`.
    pub result_type: String,
    /// Instant query: evaluation time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    /// Range query: start, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// Range query: end, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// Range query: the step used, seconds (see `notes` when it was widened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_seconds: Option<f64>,
    /// Scalar results: the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scalar: Option<f64>,
    pub series: Vec<Series>,
    /// Series Prometheus returned, before the cap.
    pub series_total: usize,
    /// True when series or points were left out to respect the caps.
    pub truncated: bool,
    /// True when the query matched nothing; see `notes` and `suggestions`.
    pub empty: bool,
    /// What was adjusted or found: widened steps, cuts, why a result is empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// For an empty result: existing metric names close to the ones in the query.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// Prometheus's own warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn finite(v: f64) -> (Option<f64>, Option<String>) {
    if v.is_finite() {
        (Some(v), None)
    } else if v.is_nan() {
        (None, Some("NaN".into()))
    } else if v > 0.0 {
        (None, Some("+Inf".into()))
    } else {
        (None, Some("-Inf".into()))
    }
}

fn labels(metric: HashMap<String, String>) -> BTreeMap<String, String> {
    metric.into_iter().collect()
}

fn instant_series(v: InstantVector) -> Series {
    let (metric, sample) = v.into_inner();
    let (value, special) = finite(sample.value());
    Series {
        metric: labels(metric),
        value,
        timestamp: Some(sample.timestamp()),
        special,
        points: None,
        points_total: None,
    }
}

fn range_series(v: RangeVector, max_points: usize) -> (Series, bool) {
    let (metric, samples) = v.into_inner();
    let total = samples.len();
    let keep = total.min(max_points);
    // The newest points matter most when cutting.
    let points: Vec<Point> = samples[total - keep..]
        .iter()
        .map(|s: &Sample| (s.timestamp(), finite(s.value()).0))
        .collect();
    let cut = keep < total;
    (
        Series {
            metric: labels(metric),
            value: None,
            timestamp: None,
            special: None,
            points: Some(points),
            points_total: cut.then_some(total),
        },
        cut,
    )
}

/// Room left in the byte cap for the fields around `series`.
const ENVELOPE_BYTES: usize = 4096;

/// Shapes Prometheus's result into a bounded [`QueryResult`].
pub fn shape(
    query: &str,
    result: PromqlResult,
    warnings: Vec<String>,
    limit: usize,
    max_points: usize,
    max_bytes: usize,
) -> QueryResult {
    let (data, _stats) = result.into_inner();
    let mut out = QueryResult {
        query: query.to_owned(),
        result_type: String::new(),
        time: None,
        start: None,
        end: None,
        step_seconds: None,
        scalar: None,
        series: Vec::new(),
        series_total: 0,
        truncated: false,
        empty: false,
        notes: Vec::new(),
        suggestions: Vec::new(),
        warnings,
    };
    let mut points_cut = false;
    let series: Vec<Series> = match data {
        Data::Vector(v) => {
            out.result_type = "vector".into();
            v.into_iter().map(instant_series).collect()
        }
        Data::Matrix(m) => {
            out.result_type = "matrix".into();
            m.into_iter()
                .map(|r| {
                    let (s, cut) = range_series(r, max_points);
                    points_cut |= cut;
                    s
                })
                .collect()
        }
        Data::Scalar(s) => {
            out.result_type = "scalar".into();
            let (value, special) = finite(s.value());
            out.scalar = value;
            out.time = Some(s.timestamp());
            if let Some(special) = special {
                out.notes.push(format!("the scalar is {special}"));
            }
            Vec::new()
        }
    };
    out.series_total = series.len();
    let page = mcp_common::output::fit_items(
        series,
        limit,
        max_bytes.saturating_sub(ENVELOPE_BYTES).max(256),
    );
    out.series = page.items;
    out.truncated = page.truncated || points_cut;
    if page.truncated {
        out.notes.push(format!(
            "showing {} of {} series; add label matchers or aggregate (e.g. sum by (namespace) (...)) to see the rest",
            out.series.len(),
            out.series_total
        ));
    }
    if points_cut {
        out.notes.push(format!(
            "series were cut to their newest {max_points} points; use prometheus_query_range with a larger step"
        ));
    }
    out.empty = out.series_total == 0 && out.result_type != "scalar";
    out
}

/// How many selectors of an empty query are looked into (each costs a request or two).
const MAX_EXPLAINED_SELECTORS: usize = 3;

/// Explains an empty result: which metric does not exist (with the nearest existing names), or
/// which label matcher matches no series (with the nearest existing values).
pub async fn explain_empty(upstream: &Upstream, query: &str, out: &mut QueryResult) {
    let selectors = suggest::selectors_in(query);
    if selectors.is_empty() {
        out.notes.push("the query matched no series".into());
        return;
    }
    let names: Vec<String> = match upstream
        .get::<Vec<String>>("api/v1/label/__name__/values", &[])
        .await
    {
        Ok(a) => a.data,
        Err(e) => {
            out.notes.push(format!(
                "the query matched no series (metric names could not be listed for suggestions: {e})"
            ));
            return;
        }
    };
    let mut explained = false;
    for sel in selectors.iter().take(MAX_EXPLAINED_SELECTORS) {
        let Some(metric) = &sel.metric else { continue };
        if !names.iter().any(|n| n == metric) {
            let near = suggest::nearest(metric, &names, 5);
            out.notes.push(if near.is_empty() {
                format!("metric `{metric}` does not exist in this Prometheus")
            } else {
                format!(
                    "metric `{metric}` does not exist in this Prometheus; closest names: {}",
                    near.join(", ")
                )
            });
            for n in near {
                if !out.suggestions.contains(&n) {
                    out.suggestions.push(n);
                }
            }
            explained = true;
            continue;
        }
        for m in &sel.matchers {
            if !matches!(m.op.as_str(), "=" | "=~") || m.value.is_empty() {
                continue;
            }
            let path = format!("api/v1/label/{}/values", m.label);
            let Ok(values) = upstream
                .get::<Vec<String>>(&path, &[("match[]", metric)])
                .await
            else {
                continue;
            };
            let values = values.data;
            if values.is_empty() {
                out.notes.push(format!(
                    "metric `{metric}` has no label `{}`; see prometheus_label_names with match `{metric}`",
                    m.label
                ));
                explained = true;
            } else if m.op == "=" && !values.contains(&m.value) {
                let near = suggest::nearest(&m.value, &values, 5);
                out.notes.push(format!(
                    "no `{metric}` series has {}=\"{}\"; {}",
                    m.label,
                    m.value,
                    describe_values(&m.label, &near, &values)
                ));
                explained = true;
            } else if m.op == "=~" {
                let needle = suggest::literal_part(&m.value);
                let near = suggest::nearest(&needle, &values, 5);
                let anchored = format!("^(?:{})$", m.value);
                // Without a regex engine: a literal-looking pattern that no value contains is
                // most likely the mistake.
                if !needle.is_empty() && !values.iter().any(|v| v.contains(&needle)) {
                    out.notes.push(format!(
                        "no `{metric}` series has a {} matching {anchored}; {}",
                        m.label,
                        describe_values(&m.label, &near, &values)
                    ));
                    explained = true;
                }
            }
        }
    }
    if !explained {
        out.notes.push(
            "the metrics and label values exist, but no series matched at that time: try a wider range (prometheus_query_range) or check prometheus_series"
                .into(),
        );
    }
}

fn describe_values(label: &str, near: &[String], all: &[String]) -> String {
    if near.is_empty() {
        let sample: Vec<&str> = all.iter().take(10).map(String::as_str).collect();
        format!("existing {label} values include: {}", sample.join(", "))
    } else {
        format!("closest {label} values: {}", near.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_step_is_kept_when_it_fits() {
        let p = plan_step(0.0, 3600.0, Some(60.0), 500, false).unwrap();
        assert_eq!(
            p,
            StepPlan {
                step: 60.0,
                points: 61,
                widened_from: None
            }
        );
    }

    #[test]
    fn small_step_is_widened_or_refused() {
        // 6 h at 15 s is 1441 points.
        let p = plan_step(0.0, 6.0 * 3600.0, Some(15.0), 500, false).unwrap();
        assert_eq!(p.widened_from, Some(15.0));
        assert_eq!(p.step, 60.0);
        assert!(p.points <= 500);
        let e = plan_step(0.0, 6.0 * 3600.0, Some(15.0), 500, true).unwrap_err();
        assert!(e.contains("1441 points"), "{e}");
        assert!(e.contains("step >= 1m"), "{e}");
    }

    #[test]
    fn default_step_aims_at_a_readable_number_of_points() {
        let p = plan_step(0.0, 3600.0, None, 500, false).unwrap();
        // 3600 / 119 is just over 30 s: the next round step is 1 m.
        assert_eq!(p.step, 60.0);
        assert_eq!(p.points, 61);
        let p = plan_step(0.0, 30.0 * 86400.0, None, 500, false).unwrap();
        assert!(p.points <= 120, "{p:?}");
        assert!(plan_step(10.0, 0.0, None, 500, false).is_err());
    }

    #[test]
    fn shape_caps_series_and_points() {
        let json = serde_json::json!({
            "resultType": "matrix",
            "result": (0..5).map(|i| serde_json::json!({
                "metric": {"__name__": "m", "i": i.to_string()},
                "values": (0..10).map(|t| serde_json::json!([t, format!("{t}")])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let r: PromqlResult = serde_json::from_value(json).unwrap();
        let out = shape("m", r, vec![], 3, 4, 65536);
        assert_eq!(out.series.len(), 3);
        assert_eq!(out.series_total, 5);
        assert!(out.truncated);
        let pts = out.series[0].points.as_ref().unwrap();
        assert_eq!(pts.len(), 4);
        assert_eq!(pts[0], (6.0, Some(6.0)));
        assert_eq!(out.series[0].points_total, Some(10));
        assert_eq!(out.notes.len(), 2);
    }

    #[test]
    fn shape_marks_special_values_and_empty_results() {
        let json = serde_json::json!({
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1, "NaN"]}, {"metric": {}, "value": [1, "+Inf"]}],
        });
        let r: PromqlResult = serde_json::from_value(json).unwrap();
        let out = shape("x", r, vec![], 10, 10, 65536);
        assert_eq!(out.series[0].value, None);
        assert_eq!(out.series[0].special.as_deref(), Some("NaN"));
        assert_eq!(out.series[1].special.as_deref(), Some("+Inf"));
        let v = serde_json::to_value(&out).unwrap();
        assert!(v["series"][0]["value"].is_null());
        let empty: PromqlResult =
            serde_json::from_value(serde_json::json!({"resultType": "vector", "result": []}))
                .unwrap();
        assert!(shape("x", empty, vec![], 10, 10, 65536).empty);
    }

    #[test]
    fn shape_respects_the_byte_cap() {
        let json = serde_json::json!({
            "resultType": "vector",
            "result": (0..200).map(|i| serde_json::json!({
                "metric": {"__name__": "m", "pod": format!("pod-{i:04}-{}", "x".repeat(40))},
                "value": [1, "1"],
            })).collect::<Vec<_>>(),
        });
        let r: PromqlResult = serde_json::from_value(json).unwrap();
        let out = shape("m", r, vec![], 1000, 10, 8192);
        assert!(out.truncated);
        assert!(serde_json::to_vec(&out).unwrap().len() <= 8192);
    }
}

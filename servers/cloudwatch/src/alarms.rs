//! Alarms: `DescribeAlarms` (metric and composite alarms) with a state filter.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::StateValue;
use mcp_common::output::fit_items;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, sdk};
use crate::timeparse::rfc3339;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeAlarmsArgs {
    /// Only alarms in this state: `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    #[serde(default)]
    pub state: Option<String>,
    /// Only alarms whose name starts with this.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// Most alarms to return (default 50, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Alarm {
    pub name: String,
    /// `metric` or `composite`.
    pub kind: &'static str,
    pub state: Option<String>,
    pub state_reason: Option<String>,
    /// RFC 3339.
    pub state_updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
    /// e.g. `Average GreaterThanThreshold 80 for 3 x 300s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub actions_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AlarmList {
    pub alarms: Vec<Alarm>,
    /// Alarms in ALARM on this page.
    pub in_alarm: usize,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.map(|t| rfc3339(t.secs()))
}

pub async fn describe_alarms(
    cw: &aws_sdk_cloudwatch::Client,
    a: DescribeAlarmsArgs,
    max_bytes: usize,
) -> Result<AlarmList> {
    let wanted = a
        .state
        .as_deref()
        .map(str::to_ascii_uppercase)
        .filter(|s| !s.is_empty());
    let state = match a.state.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("") => None,
        Some("ALARM") => Some(StateValue::Alarm),
        Some("OK") => Some(StateValue::Ok),
        Some("INSUFFICIENT_DATA") => Some(StateValue::InsufficientData),
        Some(other) => {
            return Err(Error::invalid(
                "state",
                format!("`{other}`: use ALARM, OK or INSUFFICIENT_DATA"),
            ));
        }
    };
    let limit = match a.limit {
        Some(0) => return Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => n.min(100),
        None => 50,
    };
    let out = cw
        .describe_alarms()
        .set_state_value(state)
        .set_alarm_name_prefix(a.name_prefix.filter(|p| !p.is_empty()))
        .max_records(limit as i32)
        .set_next_token(a.cursor.filter(|c| !c.is_empty()))
        .send()
        .await
        .map_err(sdk("DescribeAlarms", "cloudwatch:DescribeAlarms"))?;
    let mut alarms: Vec<Alarm> = out
        .metric_alarms()
        .iter()
        .map(|m| Alarm {
            name: m.alarm_name().unwrap_or_default().to_owned(),
            kind: "metric",
            state: m.state_value().map(|s| s.as_str().to_owned()),
            state_reason: m.state_reason().map(str::to_owned),
            state_updated: time(m.state_updated_timestamp()),
            namespace: m.namespace().map(str::to_owned),
            metric_name: m.metric_name().map(str::to_owned),
            dimensions: m
                .dimensions()
                .iter()
                .map(|d| {
                    format!(
                        "{}={}",
                        d.name().unwrap_or_default(),
                        d.value().unwrap_or_default()
                    )
                })
                .collect(),
            condition: m.comparison_operator().map(|op| {
                let stat = m
                    .statistic()
                    .map(|s| s.as_str().to_owned())
                    .or_else(|| m.extended_statistic().map(str::to_owned))
                    .unwrap_or_else(|| "metric".into());
                format!(
                    "{stat} {} {} for {} x {}s",
                    op.as_str(),
                    m.threshold()
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "?".into()),
                    m.evaluation_periods().unwrap_or(1),
                    m.period().unwrap_or(0)
                )
            }),
            rule: None,
            actions_enabled: m.actions_enabled().unwrap_or(false),
            alarm_actions: m.alarm_actions().to_vec(),
        })
        .collect();
    alarms.extend(out.composite_alarms().iter().map(|c| Alarm {
        name: c.alarm_name().unwrap_or_default().to_owned(),
        kind: "composite",
        state: c.state_value().map(|s| s.as_str().to_owned()),
        state_reason: c.state_reason().map(str::to_owned),
        state_updated: time(c.state_updated_timestamp()),
        namespace: None,
        metric_name: None,
        dimensions: Vec::new(),
        condition: None,
        rule: c.alarm_rule().map(str::to_owned),
        actions_enabled: c.actions_enabled().unwrap_or(false),
        alarm_actions: c.alarm_actions().to_vec(),
    }));
    // The state filter again, locally: some endpoints (moto) drop it when a prefix is given.
    if let Some(w) = &wanted {
        alarms.retain(|a| a.state.as_deref() == Some(w.as_str()));
    }
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let page = fit_items(alarms, limit, max_bytes.saturating_sub(512));
    let in_alarm = page
        .items
        .iter()
        .filter(|a| a.state.as_deref() == Some("ALARM"))
        .count();
    Ok(AlarmList {
        in_alarm,
        truncated: page.truncated || next.is_some(),
        next_cursor: if page.truncated { None } else { next },
        alarms: page.items,
    })
}

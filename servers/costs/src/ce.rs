//! What the four tools share: Cost Explorer failures as tool errors an agent can act on, and
//! Cost Explorer's string amounts as numbers.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::config::http::HttpResponse;
use aws_sdk_costexplorer::error::{ProvideErrorMetadata, SdkError};
use mcp_common::ToolError;
use mcp_common::aws_error::{AwsFailure, FailureKind};
use schemars::JsonSchema;
use serde::Serialize;

/// The Cost Explorer client and the answer cache every tool goes through.
#[derive(Debug, Clone)]
pub struct Explorer {
    pub client: aws_sdk_costexplorer::Client,
    pub cache: crate::cache::Cache,
}

/// The hint for a Cost Explorer error code, when Cost Explorer has something specific to say.
fn hint(f: &AwsFailure) -> Option<String> {
    let code = f.code.as_deref().unwrap_or_default();
    let message = f.message.to_ascii_lowercase();
    Some(match code {
        _ if f.kind == FailureKind::AccessDenied && message.contains("not enabled for cost explorer") => {
            "Cost Explorer is not enabled for this account: enable it once in the Billing and Cost Management console (Cost Explorer); data appears within 24 hours".into()
        }
        "DataUnavailableException" => {
            "Cost Explorer has no data for this request: a new account, or Cost Explorer enabled less than 24 hours ago, has none yet; forecasts need enough history".into()
        }
        "BillExpirationException" => {
            "the period reaches into bills Cost Explorer no longer keeps: start within the last 14 months (38 with multi-year data enabled, then on the first of a month)".into()
        }
        "InvalidNextTokenException" | "RequestChangedException" => {
            "the cursor does not belong to this request (it expired, or the arguments changed): repeat the call without `cursor`".into()
        }
        "UnresolvableUsageUnitException" => {
            "UsageQuantity cannot add up usage in different units: filter on one USAGE_TYPE or USAGE_TYPE_GROUP, or group by USAGE_TYPE".into()
        }
        "ValidationException" => {
            "check the request: dates YYYY-MM-DD (HOURLY: YYYY-MM-DDThh:mm:ssZ, needs hourly data enabled, last 14 days), the end is exclusive and at most the first of next month, a start older than 14 months must be the first of a month; dimension values as costs_get_dimension_values lists them".into()
        }
        _ => return None,
    })
}

/// An SDK error of `api` (IAM `action`) as a tool error, with Cost Explorer's own hints.
pub(crate) fn failure<E>(
    api: &'static str,
    action: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> ToolError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| {
        let f = AwsFailure::from_sdk(api, action, &e);
        let hint = hint(&f);
        let err = f.into_tool_error();
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}

/// A page size: `default` when absent, at most `max`, at least 1.
pub fn limit(l: Option<usize>, default: usize, max: usize) -> Result<usize, ToolError> {
    match l {
        Some(0) => Err(ToolError::invalid_argument("limit", "must be at least 1")),
        Some(n) => Ok(n.min(max)),
        None => Ok(default),
    }
}

/// An amount with its unit (`USD`, `Hrs`, `GB`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Amount {
    pub amount: f64,
    pub unit: String,
}

/// Cost Explorer's decimal string as a number.
pub fn number(s: Option<&str>) -> Option<f64> {
    s.and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Rounds away binary noise from sums (`0.30000000000000004`), keeping 10 decimals.
pub fn tidy(v: f64) -> f64 {
    let r = (v * 1e10).round() / 1e10;
    if r == 0.0 { 0.0 } else { r }
}

/// A metrics map (`{"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}`) with numbers; an
/// amount that is not a number is left out and named in `notes`.
pub fn metrics(
    m: Option<&std::collections::HashMap<String, aws_sdk_costexplorer::types::MetricValue>>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, Amount> {
    let mut out = BTreeMap::new();
    for (name, v) in m.into_iter().flatten() {
        match number(v.amount()) {
            Some(amount) => {
                out.insert(
                    name.clone(),
                    Amount {
                        amount,
                        unit: v.unit().unwrap_or_default().to_owned(),
                    },
                );
            }
            None => {
                let note = format!(
                    "{name}: Cost Explorer sent `{}`, not a number; left out",
                    v.amount().unwrap_or_default()
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(number(Some("0.0101516483")), Some(0.0101516483));
        assert_eq!(number(Some("-12.5")), Some(-12.5));
        assert_eq!(number(Some("1E+2")), Some(100.0));
        assert_eq!(number(Some("N/A")), None);
        assert_eq!(number(Some("NaN")), None);
        assert_eq!(number(None), None);
        assert_eq!(tidy(0.1 + 0.2), 0.3);
        assert_eq!(tidy(-0.0), 0.0);
    }

    #[test]
    fn hints_by_code() {
        let f = |code: &str, kind, message: &str| AwsFailure {
            api: "GetCostAndUsage".into(),
            action: "ce:GetCostAndUsage".into(),
            kind,
            code: Some(code.into()),
            message: message.into(),
            status: Some(400),
        };
        assert!(
            hint(&f("DataUnavailableException", FailureKind::Rejected, ""))
                .unwrap()
                .contains("24 hours")
        );
        assert!(
            hint(&f(
                "AccessDeniedException",
                FailureKind::AccessDenied,
                "User not enabled for cost explorer access"
            ))
            .unwrap()
            .contains("not enabled")
        );
        assert!(hint(&f("AccessDeniedException", FailureKind::AccessDenied, "no")).is_none());
        assert!(
            hint(&f("InvalidNextTokenException", FailureKind::Rejected, ""))
                .unwrap()
                .contains("without `cursor`")
        );
    }
}

//! The IAM actions each tool calls. `policies/iam/costs.json` must allow exactly these and
//! nothing that mutates (tested in `tests/suite/policies.rs`, and under moto's IAM enforcement
//! in `tests/suite/layer3.rs`).

/// (tool, IAM actions it calls).
pub const TOOL_ACTIONS: &[(&str, &[&str])] = &[
    ("costs_get_cost_and_usage", &["ce:GetCostAndUsage"]),
    ("costs_get_cost_forecast", &["ce:GetCostForecast"]),
    ("costs_get_anomalies", &["ce:GetAnomalies"]),
    ("costs_get_dimension_values", &["ce:GetDimensionValues"]),
];

/// Actions outside any tool: the readiness check (STS GetCallerIdentity: free, unlike every
/// Cost Explorer request).
pub const READINESS_ACTIONS: &[&str] = &["sts:GetCallerIdentity"];

//! The IAM actions each tool calls. `policies/iam/costs.json` must allow exactly these and
//! nothing that mutates (tested in `tests/suite/policies.rs`, and under moto's IAM enforcement
//! in `tests/suite/layer3.rs`). The same list is in `policies/permissions.json`, which
//! `mcp-gateway can-i` evaluates (tested equal below).

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

#[cfg(test)]
mod tests {
    /// `policies/permissions.json` records the same actions per tool (it is what
    /// `mcp-gateway can-i` evaluates, without depending on this crate): the two must not drift.
    #[test]
    fn tool_actions_equal_policies_permissions_json() {
        mcp_common::aws::check_declared_actions(
            include_str!("../../../policies/permissions.json"),
            "costs",
            super::TOOL_ACTIONS,
        )
        .unwrap();
    }
}

//! The IAM actions each tool calls. `policies/iam/cloudwatch.json` must allow all of them and
//! nothing that mutates (tested in `tests/suite/policies.rs`). The same list is in
//! `policies/permissions.json`, which `mcp-gateway can-i` evaluates (tested equal below).

/// (tool, IAM actions it calls).
pub const TOOL_ACTIONS: &[(&str, &[&str])] = &[
    ("cloudwatch_get_metric_data", &["cloudwatch:GetMetricData"]),
    ("cloudwatch_list_metrics", &["cloudwatch:ListMetrics"]),
    ("cloudwatch_describe_alarms", &["cloudwatch:DescribeAlarms"]),
    (
        "cloudwatch_describe_log_groups",
        &["logs:DescribeLogGroups"],
    ),
    ("cloudwatch_filter_log_events", &["logs:FilterLogEvents"]),
    (
        "cloudwatch_logs_insights_query",
        &["logs:StartQuery", "logs:GetQueryResults"],
    ),
    ("cloudwatch_get_query_results", &["logs:GetQueryResults"]),
];

/// Actions outside any tool: the readiness check.
pub const READINESS_ACTIONS: &[&str] = &["cloudwatch:DescribeAlarms"];

#[cfg(test)]
mod tests {
    /// `policies/permissions.json` records the same actions per tool (it is what
    /// `mcp-gateway can-i` evaluates, without depending on this crate): the two must not drift.
    #[test]
    fn tool_actions_equal_policies_permissions_json() {
        mcp_common::aws::check_declared_actions(
            include_str!("../../../policies/permissions.json"),
            "cloudwatch",
            super::TOOL_ACTIONS,
        )
        .unwrap();
    }
}

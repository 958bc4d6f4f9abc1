//! Layer 3 on paper: the shipped policies/iam/costs.json allows exactly what the tools and the
//! readiness check call, and nothing that mutates.

use crate::common;

use common::{allowed_actions, allows, catalog, is_read_only_action};
use mcp_costs::iam::{READINESS_ACTIONS, TOOL_ACTIONS};

const POLICY: &str = "policies/iam/costs.json";

#[test]
fn every_tool_declares_its_actions() {
    let (read, write) = catalog("costs");
    assert!(write.is_empty(), "mcp-costs has no write tools");
    let declared: Vec<&str> = TOOL_ACTIONS.iter().map(|(t, _)| *t).collect();
    let mut sorted = declared.clone();
    sorted.sort();
    assert_eq!(sorted, read, "iam.rs names exactly the catalog's tools");
}

#[test]
fn policy_grants_exactly_what_the_tools_need_and_nothing_that_mutates() {
    let allowed = allowed_actions(POLICY);
    let mut needed: Vec<&str> = TOOL_ACTIONS
        .iter()
        .flat_map(|(_, a)| a.iter().copied())
        .chain(READINESS_ACTIONS.iter().copied())
        .collect();
    needed.sort();
    needed.dedup();
    for a in &needed {
        assert!(allows(&allowed, a), "costs.json lacks {a}");
    }
    for a in &allowed {
        assert!(!a.contains('*'), "costs.json allows a wildcard: {a}");
        assert!(is_read_only_action(a), "costs.json allows mutating {a}");
        assert!(
            needed.iter().any(|n| n.eq_ignore_ascii_case(a)),
            "costs.json allows {a}, which neither a tool nor readiness calls"
        );
    }
    // Cost Explorer's writes stay out (budgets, anomaly monitors, cost categories, settings).
    for mutating in [
        "ce:CreateAnomalyMonitor",
        "ce:DeleteAnomalyMonitor",
        "ce:UpdateAnomalySubscription",
        "ce:ProvideAnomalyFeedback",
        "ce:CreateCostCategoryDefinition",
        "ce:UpdateCostAllocationTagsStatus",
        "ce:UpdatePreferences",
        "ce:TagResource",
    ] {
        assert!(!allows(&allowed, mutating), "costs.json allows {mutating}");
    }
}

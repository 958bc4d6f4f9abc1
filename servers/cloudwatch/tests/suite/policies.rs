//! Layer 3 on paper: every tool's IAM actions are allowed by policies/iam/cloudwatch.json, and
//! the policy allows nothing that mutates.

use crate::common;

use common::{allowed_actions, allows, catalog, is_read_only_action};
use mcp_cloudwatch::iam::{READINESS_ACTIONS, TOOL_ACTIONS};

#[test]
fn every_tool_declares_its_actions() {
    let (read, write) = catalog("cloudwatch");
    let declared: Vec<&str> = TOOL_ACTIONS.iter().map(|(t, _)| *t).collect();
    for t in read.iter().chain(&write) {
        assert!(
            declared.contains(&t.as_str()),
            "{t} has no IAM actions in iam.rs"
        );
    }
    assert_eq!(declared.len(), read.len() + write.len());
}

#[test]
fn policy_allows_every_tool_and_nothing_that_mutates() {
    let (read, write) = catalog("cloudwatch");
    assert!(write.is_empty(), "mcp-cloudwatch has no write tools");
    let allowed = allowed_actions("policies/iam/cloudwatch.json");
    for (tool, actions) in TOOL_ACTIONS {
        assert!(read.iter().any(|t| t == tool), "{tool} is in tools.json");
        for a in *actions {
            assert!(allows(&allowed, a), "cloudwatch.json lacks {a} for {tool}");
        }
    }
    for a in READINESS_ACTIONS {
        assert!(allows(&allowed, a), "readiness needs {a}");
    }
    for a in &allowed {
        assert!(
            is_read_only_action(a),
            "cloudwatch.json allows mutating {a}"
        );
    }
}

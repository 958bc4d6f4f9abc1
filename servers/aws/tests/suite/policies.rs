//! Layer 3 on paper: every tool's IAM actions are allowed by the policy of its deployment, and
//! the read-only policy allows nothing that mutates.

use crate::common;

use common::{allowed_actions, allows, catalog, is_read_only_action};
use mcp_aws::iam::{READINESS_ACTIONS, TOOL_ACTIONS};

#[test]
fn every_tool_declares_its_actions() {
    let (read, write) = catalog("aws");
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
fn ro_policy_allows_read_tools_and_nothing_that_mutates() {
    let (read, write) = catalog("aws");
    let ro = allowed_actions("policies/iam/aws-ro.json");
    for (tool, actions) in TOOL_ACTIONS {
        for a in *actions {
            let is_read_tool = read.iter().any(|t| t == tool);
            assert_eq!(
                allows(&ro, a),
                is_read_tool,
                "aws-ro.json and {tool} ({a}): read tools allowed, write tools not"
            );
        }
    }
    for a in READINESS_ACTIONS {
        assert!(allows(&ro, a), "readiness needs {a}");
    }
    for a in &ro {
        assert!(is_read_only_action(a), "aws-ro.json allows mutating {a}");
    }
    assert!(!write.is_empty());
}

#[test]
fn rw_policy_allows_every_tool() {
    let rw = allowed_actions("policies/iam/aws-rw.json");
    for (tool, actions) in TOOL_ACTIONS {
        for a in *actions {
            assert!(allows(&rw, a), "aws-rw.json lacks {a} for {tool}");
        }
    }
    for a in READINESS_ACTIONS {
        assert!(allows(&rw, a));
    }
    // Nothing beyond what the tools call.
    for a in &rw {
        assert!(
            TOOL_ACTIONS
                .iter()
                .any(|(_, acts)| acts.contains(&a.as_str())),
            "aws-rw.json allows {a}, which no tool calls"
        );
    }
}

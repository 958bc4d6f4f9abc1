//! The IAM actions each tool calls. `policies/iam/aws-ro.json` must allow every read tool's
//! actions and nothing that mutates; `aws-rw.json` every tool's (tested in `tests/suite/policies.rs`).
//! The same list is in `policies/permissions.json`, which `mcp-gateway can-i` evaluates (tested
//! equal below).

/// (tool, IAM actions it calls).
pub const TOOL_ACTIONS: &[(&str, &[&str])] = &[
    ("aws_describe_instances", &["ec2:DescribeInstances"]),
    (
        "aws_describe_security_groups",
        &["ec2:DescribeSecurityGroups"],
    ),
    ("aws_describe_vpcs", &["ec2:DescribeVpcs"]),
    ("aws_describe_subnets", &["ec2:DescribeSubnets"]),
    ("aws_get_caller_identity", &["sts:GetCallerIdentity"]),
    ("aws_start_instances", &["ec2:StartInstances"]),
    ("aws_stop_instances", &["ec2:StopInstances"]),
    ("aws_reboot_instances", &["ec2:RebootInstances"]),
    ("aws_terminate_instances", &["ec2:TerminateInstances"]),
];

/// Actions outside any tool: the readiness check.
pub const READINESS_ACTIONS: &[&str] = &["ec2:DescribeInstances"];

#[cfg(test)]
mod tests {
    /// `policies/permissions.json` records the same actions per tool (it is what
    /// `mcp-gateway can-i` evaluates, without depending on this crate): the two must not drift.
    #[test]
    fn tool_actions_equal_policies_permissions_json() {
        mcp_common::aws::check_declared_actions(
            include_str!("../../../policies/permissions.json"),
            "aws",
            super::TOOL_ACTIONS,
        )
        .unwrap();
    }

    /// The IRSA trust policy template lets exactly one ServiceAccount assume the role (one role
    /// per backend and access level): web identity only, `sub` pinned with StringEquals (no
    /// wildcard), audience STS.
    #[test]
    fn irsa_trust_policy_template_pins_one_service_account() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../policies/iam/irsa-trust-policy.json"))
                .unwrap();
        let st = v["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 1);
        let s = &st[0];
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
        assert!(
            s["Principal"]["Federated"]
                .as_str()
                .unwrap()
                .contains(":oidc-provider/")
        );
        let eq = s["Condition"]["StringEquals"].as_object().unwrap();
        assert_eq!(
            eq["${OIDC_PROVIDER}:sub"],
            "system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}"
        );
        assert_eq!(eq["${OIDC_PROVIDER}:aud"], "sts.amazonaws.com");
        assert!(
            s["Condition"].get("StringLike").is_none(),
            "no wildcard subjects"
        );
    }
}

//! IAM identity policies: whether a policy document allows an action.
//!
//! Evaluation as AWS does it for one identity policy: an explicit `Deny` wins over any `Allow`;
//! without a matching `Allow` the action is implicitly denied. `Action` and `NotAction` patterns
//! match case-insensitively with `*` (any run of characters) and `?` (one character), so
//! `ec2:Describe*` allows `ec2:DescribeInstances`. A statement with a `Condition` cannot be
//! decided offline: when only such a statement decides, the answer is "unverified". Resources
//! are reported, not matched: tools act on resources the agent names at call time.

use serde_json::Value;

use super::Check;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
struct Statement {
    /// `Sid`, or `#n` (1-based position) without one.
    name: String,
    effect: Effect,
    /// `(patterns, negated)`: `Action` or `NotAction`.
    actions: (Vec<String>, bool),
    /// `Resource: [...]`, or `NotResource: [...]` as `all except ...`.
    resources: String,
    conditional: bool,
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{what} holds a non-string: {i}"))
            })
            .collect(),
        other => Err(format!("{what} is neither a string nor a list: {other}")),
    }
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let raw = match doc.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err("no `Statement` list".into()),
        };
        let mut statements = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            let name = s
                .get("Sid")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("#{}", i + 1), str::to_owned);
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => {
                    return Err(format!(
                        "statement {name}: Effect {other:?} is not \"Allow\" or \"Deny\""
                    ));
                }
            };
            let actions = match (s.get("Action"), s.get("NotAction")) {
                (Some(a), None) => (strings(a, "Action")?, false),
                (None, Some(a)) => (strings(a, "NotAction")?, true),
                _ => {
                    return Err(format!(
                        "statement {name}: needs exactly one of Action and NotAction"
                    ));
                }
            };
            let resources = match (s.get("Resource"), s.get("NotResource")) {
                (Some(r), _) => strings(r, "Resource")?.join(", "),
                (None, Some(r)) => format!("all except {}", strings(r, "NotResource")?.join(", ")),
                (None, None) => "(no Resource)".into(),
            };
            let conditional = s
                .get("Condition")
                .is_some_and(|c| c.as_object().is_none_or(|o| !o.is_empty()));
            statements.push(Statement {
                name,
                effect,
                actions,
                resources,
                conditional,
            });
        }
        Ok(Policy { statements })
    }

    /// Whether the policy allows `action` (`service:Action`).
    pub fn check(&self, action: &str) -> Check {
        let applies = |s: &Statement| {
            let hit = s.actions.0.iter().any(|p| action_matches(p, action));
            hit != s.actions.1
        };
        let mut conditional_deny = None;
        for s in self.statements.iter().filter(|s| s.effect == Effect::Deny) {
            if applies(s) {
                if s.conditional {
                    conditional_deny.get_or_insert(s);
                } else {
                    return Check::deny(format!(
                        "explicitly denied by statement {} (on {})",
                        s.name, s.resources
                    ));
                }
            }
        }
        let allows: Vec<&Statement> = self
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Allow && applies(s))
            .collect();
        if let Some(s) = allows.iter().find(|s| !s.conditional) {
            if let Some(d) = conditional_deny {
                return Check::unverified(format!(
                    "allowed by statement {}, but statement {} denies it under a condition",
                    s.name, d.name
                ));
            }
            return Check::allow(format!("statement {} (on {})", s.name, s.resources));
        }
        if let Some(s) = allows.first() {
            return Check::unverified(format!(
                "allowed by statement {} only under a condition",
                s.name
            ));
        }
        Check::deny("no statement allows it (implicit deny)".into())
    }
}

/// IAM action matching: case-insensitive, `*` any run, `?` one character.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let a: Vec<char> = action.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == a[ai]) {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ai));
            pi += 1;
        } else if let Some((sp, sa)) = star {
            pi = sp + 1;
            ai = sa + 1;
            star = Some((sp, sa + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::super::Decision;
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(action_matches("ec2:Describe*", "ec2:DescribeInstances"));
        assert!(action_matches("EC2:describe*", "ec2:DescribeInstances"));
        assert!(action_matches("*", "sts:GetCallerIdentity"));
        assert!(action_matches("ec2:*Instances", "ec2:StopInstances"));
        assert!(action_matches("ec2:St?pInstances", "ec2:StopInstances"));
        assert!(action_matches("ec2:*", "ec2:TerminateInstances"));
        assert!(!action_matches("ec2:Describe*", "ec2:StopInstances"));
        assert!(!action_matches("ec2:Describe*", "ecs:DescribeTasks"));
        assert!(!action_matches("ec2:StopInstance", "ec2:StopInstances"));
        assert!(!action_matches("ec2:St?Instances", "ec2:StopInstances"));
        assert!(action_matches("ec2:*Inst*s", "ec2:RebootInstances"));
    }

    #[test]
    fn wildcard_allow_and_explicit_deny() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Read","Effect":"Allow","Action":["ec2:Describe*","ec2:*Instances"],"Resource":"*"},
                {"Sid":"NoTerminate","Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}
            ]}"#,
        )
        .unwrap();
        let c = p.check("ec2:DescribeVpcs");
        assert_eq!(c.decision, Decision::Allow);
        assert!(c.detail.contains("Read"), "{}", c.detail);
        assert_eq!(p.check("ec2:StopInstances").decision, Decision::Allow);
        let c = p.check("ec2:TerminateInstances");
        assert_eq!(c.decision, Decision::Deny);
        assert!(
            c.detail
                .contains("explicitly denied by statement NoTerminate")
        );
        let c = p.check("s3:GetObject");
        assert_eq!(c.decision, Decision::Deny);
        assert!(c.detail.contains("implicit"), "{}", c.detail);
    }

    #[test]
    fn not_action_and_single_statement_object() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","NotAction":["iam:*","ec2:Terminate*"],"Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(p.check("ec2:StopInstances").decision, Decision::Allow);
        assert_eq!(p.check("ec2:TerminateInstances").decision, Decision::Deny);
        assert_eq!(p.check("iam:CreateUser").decision, Decision::Deny);
        let deny_all_but = Policy::parse(
            r#"{"Statement":[
                {"Effect":"Allow","Action":"*","Resource":"*"},
                {"Sid":"OnlyReads","Effect":"Deny","NotAction":["ec2:Describe*"],"Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(
            deny_all_but.check("ec2:DescribeSubnets").decision,
            Decision::Allow
        );
        assert_eq!(
            deny_all_but.check("ec2:StopInstances").decision,
            Decision::Deny
        );
    }

    #[test]
    fn conditions_are_not_decided_offline() {
        let p = Policy::parse(
            r#"{"Statement":[
                {"Sid":"Tagged","Effect":"Allow","Action":"ec2:StopInstances","Resource":"*",
                 "Condition":{"StringEquals":{"aws:ResourceTag/env":"dev"}}},
                {"Effect":"Allow","Action":"ec2:RebootInstances","Resource":"arn:aws:ec2:*:*:instance/*"},
                {"Sid":"MaybeDeny","Effect":"Deny","Action":"ec2:RebootInstances","Resource":"*",
                 "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        )
        .unwrap();
        let c = p.check("ec2:StopInstances");
        assert_eq!(c.decision, Decision::Unverified);
        assert!(c.detail.contains("Tagged"), "{}", c.detail);
        let c = p.check("ec2:RebootInstances");
        assert_eq!(c.decision, Decision::Unverified);
        assert!(c.detail.contains("MaybeDeny"), "{}", c.detail);
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "not json",
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Statement":[{"Effect":"Permit","Action":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","NotAction":"c:d"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":[1]}]}"#,
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shipped_aws_policies() {
        let ro = Policy::parse(include_str!("../../../policies/iam/aws-ro.json")).unwrap();
        assert_eq!(ro.check("ec2:DescribeInstances").decision, Decision::Allow);
        assert_eq!(ro.check("ec2:StopInstances").decision, Decision::Deny);
        let rw = Policy::parse(include_str!("../../../policies/iam/aws-rw.json")).unwrap();
        let c = rw.check("ec2:StopInstances");
        assert_eq!(c.decision, Decision::Allow);
        assert!(
            c.detail.contains("arn:aws:ec2:*:*:instance/*"),
            "{}",
            c.detail
        );
    }
}

//! `aws_get_caller_identity`: which account and principal this deployment acts as (after
//! `--role-arn`, the assumed role).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use mcp_common::aws_error::AwsFailure;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CallerIdentityArgs {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CallerIdentity {
    pub account: Option<String>,
    /// ARN of the principal: an IAM user, or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: Option<String>,
    pub user_id: Option<String>,
    /// The region this deployment calls.
    pub region: Option<String>,
}

pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<CallerIdentity> {
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        Error::Aws(AwsFailure::from_sdk(
            "GetCallerIdentity",
            "sts:GetCallerIdentity",
            &e,
        ))
    })?;
    Ok(CallerIdentity {
        account: out.account().map(str::to_owned),
        arn: out.arn().map(str::to_owned),
        user_id: out.user_id().map(str::to_owned),
        region: sts.config().region().map(|r| r.to_string()),
    })
}

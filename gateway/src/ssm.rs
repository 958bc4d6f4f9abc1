//! Agent keys in AWS SSM Parameter Store: what `mcp-gateway keys` does.
//!
//! One `SecureString` parameter per user under a prefix (default `/mcp-gateway/keys/`), holding
//! `<sha256-hex>:<role>/<user>[;exp=...]` and tagged with role, user, created and expiry. External
//! Secrets aggregates the prefix into the gateway's `keys.json`; `export` writes the same file
//! for local runs and tests. The raw key exists only in the output of `create`/`rotate`.

use std::time::Duration;

use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
use base64::Engine;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::keys::{self, parse_entry, validate_role, validate_user};

pub const DEFAULT_PREFIX: &str = "/mcp-gateway/keys/";

/// An SSM client from the usual AWS configuration (env, profile, IRSA web identity;
/// `AWS_ENDPOINT_URL` points it at an emulator), with short timeouts so an unreachable
/// endpoint fails in seconds.
pub async fn client_from_env() -> Result<aws_sdk_ssm::Client> {
    let conf = mcp_common::aws::loader().load().await;
    if conf.region().is_none() {
        return Err(Error::KeyAdmin(
            "no AWS region: set AWS_REGION (or a profile with a region)".into(),
        ));
    }
    Ok(aws_sdk_ssm::Client::new(&conf))
}

/// How `create` treats an existing parameter for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse if the user has a key.
    New,
    /// Create, or replace the user's key (`create --rotate`).
    NewOrRotate,
    /// Replace the user's key; refuse if there is none (`rotate`).
    Rotate,
}

/// What `create` and `rotate` return. `token` is the only copy of the key.
#[derive(Debug)]
pub struct Created {
    pub token: String,
    pub key_id: String,
    pub parameter: String,
    pub expires_at: Option<i64>,
    pub rotated: bool,
}

/// One row of `keys list`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listed {
    pub user: String,
    pub role: String,
    pub key_id: String,
    pub created: Option<String>,
    pub expires: Option<String>,
    pub expired: bool,
    pub parameter: String,
}

/// Key administration against one SSM prefix.
#[derive(Debug, Clone)]
pub struct KeyAdmin {
    client: aws_sdk_ssm::Client,
    prefix: String,
    kms_key_id: Option<String>,
}

impl KeyAdmin {
    pub fn new(
        client: aws_sdk_ssm::Client,
        prefix: &str,
        kms_key_id: Option<String>,
    ) -> Result<Self> {
        let ok = prefix.starts_with('/')
            && prefix.ends_with('/')
            && prefix.len() > 2
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
        if !ok {
            return Err(Error::KeyAdmin(format!(
                "prefix `{prefix}` must look like /path/to/keys/ (start and end with '/')"
            )));
        }
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            kms_key_id,
        })
    }

    pub fn parameter_name(&self, user: &str) -> String {
        format!("{}{user}", self.prefix)
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        match self.client.get_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(false)
            }
            Err(e) => Err(ssm_error("ssm:GetParameter", name, &e)),
        }
    }

    /// Creates (or rotates) the user's key. Nothing is written unless every check passed; the
    /// parameter is written in one call, so SSM never holds half a key.
    pub async fn create(
        &self,
        role: &str,
        user: &str,
        expires_in: Option<Duration>,
        mode: Mode,
    ) -> Result<Created> {
        validate_role(role).map_err(Error::KeyAdmin)?;
        validate_user(user).map_err(Error::KeyAdmin)?;
        let name = self.parameter_name(user);
        let exists = self.exists(&name).await?;
        match (mode, exists) {
            (Mode::New, true) => {
                return Err(Error::KeyAdmin(format!(
                    "user `{user}` already has a key ({name}); use `keys rotate --user {user}` or `create --rotate`"
                )));
            }
            (Mode::Rotate, false) => {
                return Err(Error::KeyAdmin(format!(
                    "user `{user}` has no key ({name}) to rotate"
                )));
            }
            _ => {}
        }
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)
            .map_err(|e| Error::KeyAdmin(format!("no randomness from the OS: {e}")))?;
        let now = time::OffsetDateTime::now_utc();
        let expires_at = expires_in.map(|d| now.unix_timestamp() + d.as_secs() as i64);
        let value = keys::format_entry(&raw, role, user, expires_at);
        let created = crate::audit::rfc3339_seconds(now);
        let mut tags = vec![
            tag("role", role),
            tag("user", user),
            tag("created", &created),
        ];
        if let Some(t) = expires_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        {
            tags.push(tag("expires", &crate::audit::rfc3339_seconds(t)));
        }
        let mut put = self
            .client
            .put_parameter()
            .name(&name)
            .value(&value)
            .r#type(ParameterType::SecureString)
            .description(format!("mcp-gateway key of {user} ({role})"));
        if let Some(k) = &self.kms_key_id {
            put = put.key_id(k);
        }
        if exists {
            // SSM refuses tags together with Overwrite; the value is what counts, the tags
            // follow in a second call.
            put.overwrite(true)
                .send()
                .await
                .map_err(|e| ssm_error("ssm:PutParameter", &name, &e))?;
            self.client
                .add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(&name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| ssm_error("ssm:AddTagsToResource", &name, &e))?;
        } else {
            put.overwrite(false)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| ssm_error("ssm:PutParameter", &name, &e))?;
        }
        Ok(Created {
            token: base64::engine::general_purpose::STANDARD.encode(raw),
            key_id: keys::hash_hex(&raw)[..8].to_owned(),
            parameter: name,
            expires_at,
            rotated: exists,
        })
    }

    /// The role the user's current key carries.
    pub async fn role_of(&self, user: &str) -> Result<String> {
        validate_user(user).map_err(Error::KeyAdmin)?;
        let name = self.parameter_name(user);
        let out = match self
            .client
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                return Err(Error::KeyAdmin(format!(
                    "user `{user}` has no key ({name}) to rotate"
                )));
            }
            Err(e) => return Err(ssm_error("ssm:GetParameter", &name, &e)),
        };
        let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
        let id = parse_entry(value)
            .map_err(|e| Error::KeyAdmin(format!("{name} holds no valid key: {e}")))?;
        Ok(id.role.to_string())
    }

    /// Deletes the user's key parameter. The key stops working when the gateway's Secret
    /// refreshes without it.
    pub async fn revoke(&self, user: &str) -> Result<()> {
        validate_user(user).map_err(Error::KeyAdmin)?;
        let name = self.parameter_name(user);
        match self.client.delete_parameter().name(&name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Err(Error::KeyAdmin(format!(
                    "user `{user}` has no key ({name})"
                )))
            }
            Err(e) => Err(ssm_error("ssm:DeleteParameter", &name, &e)),
        }
    }

    /// Every parameter under the prefix, decrypted: (name, value, last modified).
    async fn fetch_all(&self) -> Result<Vec<(String, String, Option<String>)>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(&self.prefix)
            .recursive(false)
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ssm_error("ssm:GetParametersByPath", &self.prefix, &e))?;
            for p in page.parameters() {
                let (Some(name), Some(value)) = (p.name(), p.value()) else {
                    continue;
                };
                let modified = p
                    .last_modified_date()
                    .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.secs()).ok())
                    .map(crate::audit::rfc3339_seconds);
                out.push((name.to_owned(), value.to_owned(), modified));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Users, roles, key ids, created and expiry: never a hash in full.
    pub async fn list(&self) -> Result<Vec<Listed>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut rows = Vec::new();
        for (name, value, modified) in self.fetch_all().await? {
            let row = match parse_entry(&value) {
                Ok(id) => Listed {
                    user: id.user.to_string(),
                    role: id.role.to_string(),
                    key_id: id.key_id.to_string(),
                    created: modified,
                    expires: id
                        .expires_at
                        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                        .map(crate::audit::rfc3339_seconds),
                    expired: id.is_expired(now),
                    parameter: name,
                },
                Err(e) => Listed {
                    user: name.strip_prefix(&self.prefix).unwrap_or(&name).to_owned(),
                    role: format!("(invalid: {e})"),
                    key_id: String::new(),
                    created: modified,
                    expires: None,
                    expired: false,
                    parameter: name,
                },
            };
            rows.push(row);
        }
        Ok(rows)
    }

    /// The aggregated keys JSON exactly as the chart's ExternalSecret writes it: member names
    /// are the parameter names without the prefix, values the parameter values.
    pub async fn export(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self
            .fetch_all()
            .await?
            .into_iter()
            .map(|(name, value, _)| {
                let key = name.strip_prefix(&self.prefix).unwrap_or(&name).to_owned();
                (key, serde_json::Value::String(value))
            })
            .collect())
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("key and value are set")
}

/// An SSM failure as an operator reads it: which action on what, and why.
fn ssm_error<E>(action: &'static str, target: &str, e: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let denied = |code: &str, msg: &str| {
        format!(
            "access denied ({code}): the caller's IAM policy must allow {action} on {target} (see policies/iam/key-admin.json): {msg}"
        )
    };
    let status = e.raw_response().map(|r| r.status().as_u16());
    let reason = match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "cannot reach SSM ({}); check AWS_REGION / AWS_ENDPOINT_URL and the network",
            crate::proxy::error_chain(e)
        ),
        _ => match e.code() {
            Some(code)
                if code.contains("AccessDenied")
                    || code.contains("NotAuthorized")
                    || code == "UnrecognizedClientException"
                    || code == "InvalidSignatureException" =>
            {
                denied(code, e.message().unwrap_or("no message"))
            }
            // A 403 whose body the SDK could not read (some emulators answer in XML).
            _ if status == Some(403) => {
                let body = e
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let pick = |tag: &str| {
                    body.split(&format!("<{tag}>"))
                        .nth(1)
                        .and_then(|r| r.split(&format!("</{tag}>")).next())
                        .map(str::to_owned)
                };
                denied(
                    &pick("Code").unwrap_or_else(|| "HTTP 403".into()),
                    &pick("Message").unwrap_or_else(|| "forbidden".into()),
                )
            }
            _ => DisplayErrorContext(e).to_string(),
        },
    };
    Error::Ssm {
        action,
        target: target.to_owned(),
        reason,
    }
}

//! The tool router. Each tool names the API token permission it needs (`PERMISSION_*`,
//! policies/cloudflare/token-scopes.md); write tools are registered with `--access rw` only and
//! each takes `dry_run`, which validates and shows the change without sending it.

use std::sync::Arc;

use mcp_common::output::{Page, fit_items};
use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::upstream::Upstream;

const PERMISSION_ZONE_READ: &str = "Zone > Zone > Read";
const PERMISSION_DNS_READ: &str = "Zone > DNS > Read";
const PERMISSION_SETTINGS_READ: &str = "Zone > Zone Settings > Read";
const PERMISSION_ANALYTICS_READ: &str = "Zone > Analytics > Read";
const PERMISSION_DNS_EDIT: &str = "Zone > DNS > Edit";
const PERMISSION_PURGE: &str = "Zone > Cache Purge > Purge";

const RECORD_TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "HTTPS", "SVCB",
];

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListZonesArgs {
    /// Only the zone with this domain name, e.g. `example.com`.
    #[serde(default)]
    pub name: Option<String>,
    /// Only zones in this status: `active`, `pending`, `initializing`, `moved`, `deleted`, `deactivated`.
    #[serde(default)]
    pub status: Option<String>,
    /// Zones per page (default 20, at most 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListRecordsArgs {
    /// Zone id (32 hex characters) or domain name.
    pub zone: String,
    /// Only records of this type (`A`, `CNAME`, `TXT`, ...).
    #[serde(default, rename = "type")]
    pub record_type: Option<String>,
    /// Only records with this exact name (FQDN), e.g. `api.example.com`.
    #[serde(default)]
    pub name: Option<String>,
    /// Only records with this exact content.
    #[serde(default)]
    pub content: Option<String>,
    /// Records per page (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ZoneSettingsArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Only these settings, e.g. `["ssl", "always_use_https", "min_tls_version"]`.
    #[serde(default)]
    pub settings: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnalyticsArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Hours back from now (default 24, at most 72), in hourly buckets.
    #[serde(default)]
    pub hours: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateRecordArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Record type: A, AAAA, CNAME, TXT, MX, NS, SRV, CAA, PTR, HTTPS, SVCB.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Record name (FQDN or `@` for the apex).
    pub name: String,
    /// Record content (an IPv4 address for A, IPv6 for AAAA, a host name for CNAME, ...).
    pub content: String,
    /// TTL in seconds, 60 to 86400, or 1 for automatic (default 1).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Proxy through Cloudflare (A, AAAA and CNAME only).
    #[serde(default)]
    pub proxied: Option<bool>,
    /// MX/SRV priority.
    #[serde(default)]
    pub priority: Option<u16>,
    /// Comment stored with the record.
    #[serde(default)]
    pub comment: Option<String>,
    /// Validate and show the record that would be created, without creating it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateRecordArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Record id (from cloudflare_list_dns_records).
    pub record_id: String,
    /// New type.
    #[serde(default, rename = "type")]
    pub record_type: Option<String>,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New content.
    #[serde(default)]
    pub content: Option<String>,
    /// New TTL (1 = automatic, or 60 to 86400).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Proxy through Cloudflare or not.
    #[serde(default)]
    pub proxied: Option<bool>,
    /// New MX/SRV priority.
    #[serde(default)]
    pub priority: Option<u16>,
    /// New comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Show the record before and after, without changing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteRecordArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Record id (from cloudflare_list_dns_records).
    pub record_id: String,
    /// Show the record that would be deleted, without deleting it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PurgeArgs {
    /// Zone id or domain name.
    pub zone: String,
    /// Purge everything cached for the zone (give exactly one of the purge kinds).
    #[serde(default)]
    pub purge_everything: bool,
    /// URLs to purge (at most 100).
    #[serde(default)]
    pub files: Vec<String>,
    /// Cache-Tag values to purge.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Host names to purge.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// URL prefixes to purge (`example.com/assets/`).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Validate and show what would be purged, without purging.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub status: String,
    pub paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub name_servers: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ZoneList {
    pub zones: Page<Zone>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Record {
    pub id: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub name: String,
    pub content: String,
    pub proxied: bool,
    /// Seconds; 1 means automatic.
    pub ttl: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordList {
    pub zone_id: String,
    pub records: Page<Record>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Setting {
    pub id: String,
    pub value: Value,
    pub editable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SettingList {
    pub zone_id: String,
    pub settings: Page<Setting>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Bucket {
    pub datetime: String,
    pub requests: u64,
    pub cached_requests: u64,
    pub bytes: u64,
    pub threats: u64,
    /// Requests answered with a 5xx status.
    pub errors_5xx: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Analytics {
    pub zone_id: String,
    pub since: String,
    pub until: String,
    pub requests: u64,
    pub cached_requests: u64,
    /// Cached share of requests, 0 to 1.
    pub cache_ratio: f64,
    pub bytes: u64,
    pub threats: u64,
    pub errors_5xx: u64,
    /// Requests by edge status code, over the window.
    pub status_codes: Vec<(u16, u64)>,
    /// Hourly buckets, oldest first, bounded.
    pub hourly: Page<Bucket>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Change {
    /// `create_dns_record`, `update_dns_record`, `delete_dns_record` or `purge_cache`.
    pub action: String,
    pub zone_id: String,
    pub dry_run: bool,
    /// True when the change was sent to Cloudflare (false on a dry run).
    pub sent: bool,
    /// The request body that was (or would be) sent.
    pub request: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Record>,
    pub message: String,
}

fn st(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn record(v: &Value) -> Record {
    Record {
        id: st(v, "id"),
        record_type: st(v, "type"),
        name: st(v, "name"),
        content: st(v, "content"),
        proxied: v.get("proxied").and_then(Value::as_bool).unwrap_or(false),
        ttl: v.get("ttl").and_then(Value::as_u64).unwrap_or(1),
        priority: v.get("priority").and_then(Value::as_u64),
        comment: v.get("comment").and_then(Value::as_str).map(str::to_owned),
        modified_on: v
            .get("modified_on")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn zone(v: &Value) -> Zone {
    Zone {
        id: st(v, "id"),
        name: st(v, "name"),
        status: st(v, "status"),
        paused: v.get("paused").and_then(Value::as_bool).unwrap_or(false),
        plan: v
            .pointer("/plan/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        account: v
            .pointer("/account/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        name_servers: v
            .get("name_servers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn page_arg(cursor: Option<&str>) -> Result<u64, ToolError> {
    match cursor {
        None | Some("") => Ok(1),
        Some(c) => c.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
            ToolError::invalid_argument(
                "cursor",
                "pass back the `next_cursor` of the previous page",
            )
        }),
    }
}

/// `next_cursor` from Cloudflare's `result_info` (page, total_pages).
fn next_page(info: Option<&Value>, page: u64) -> Option<String> {
    let total = info?.get("total_pages")?.as_u64()?;
    (page < total).then(|| (page + 1).to_string())
}

fn total_count(info: Option<&Value>) -> Option<usize> {
    info?.get("total_count")?.as_u64().map(|n| n as usize)
}

/// Validates one record's fields the way Cloudflare would, so a dry run catches what the real
/// call would reject.
fn validate_record(body: &Map<String, Value>) -> Result<(), ToolError> {
    let rtype = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if !RECORD_TYPES.contains(&rtype) {
        return Err(ToolError::invalid_argument(
            "type",
            format!("`{rtype}`: use one of {}", RECORD_TYPES.join(", ")),
        ));
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() || name.len() > 255 || name.contains(char::is_whitespace) {
        return Err(ToolError::invalid_argument(
            "name",
            "give a record name without spaces (FQDN, or `@` for the apex)",
        ));
    }
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match rtype {
        "A" if content.parse::<std::net::Ipv4Addr>().is_err() => {
            return Err(ToolError::invalid_argument(
                "content",
                format!("`{content}` is not an IPv4 address (an A record needs one)"),
            ));
        }
        "AAAA" if content.parse::<std::net::Ipv6Addr>().is_err() => {
            return Err(ToolError::invalid_argument(
                "content",
                format!("`{content}` is not an IPv6 address (an AAAA record needs one)"),
            ));
        }
        "CNAME" | "NS" | "MX" | "PTR"
            if content.is_empty() || content.contains(char::is_whitespace) =>
        {
            return Err(ToolError::invalid_argument(
                "content",
                format!("a {rtype} record needs a host name"),
            ));
        }
        _ if content.is_empty() => {
            return Err(ToolError::invalid_argument("content", "empty content"));
        }
        _ => {}
    }
    if let Some(ttl) = body.get("ttl").and_then(Value::as_u64)
        && ttl != 1
        && !(60..=86400).contains(&ttl)
    {
        return Err(ToolError::invalid_argument(
            "ttl",
            format!("{ttl}: use 1 (automatic) or 60 to 86400 seconds"),
        ));
    }
    if body.get("proxied").and_then(Value::as_bool) == Some(true)
        && !matches!(rtype, "A" | "AAAA" | "CNAME")
    {
        return Err(ToolError::invalid_argument(
            "proxied",
            format!("a {rtype} record cannot be proxied (only A, AAAA and CNAME)"),
        ));
    }
    if rtype == "MX" && body.get("priority").is_none() {
        return Err(ToolError::invalid_argument(
            "priority",
            "an MX record needs a priority",
        ));
    }
    Ok(())
}

fn put_opt<T: Serialize>(body: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        body.insert(key.to_owned(), json!(v));
    }
}

/// The Cloudflare backend. Cloned per request; the client and router are shared.
#[derive(Debug, Clone)]
pub struct Cloudflare {
    ctx: ToolContext,
    upstream: Upstream,
    tool_router: Arc<ToolRouter<Self>>,
}

impl Cloudflare {
    pub fn new(ctx: ToolContext, upstream: Upstream) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            upstream,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes.saturating_sub(512)
    }

    /// A zone id from an id or a domain name (looked up with `Zone > Zone > Read`).
    async fn zone_id(&self, zone: &str) -> Result<String, ToolError> {
        let zone = zone.trim();
        if is_id(zone) {
            return Ok(zone.to_ascii_lowercase());
        }
        if zone.is_empty() || zone.contains(['/', '?', '#', ' ']) {
            return Err(ToolError::invalid_argument(
                "zone",
                format!("`{zone}` is neither a zone id (32 hex characters) nor a domain name"),
            ));
        }
        let a = self
            .upstream
            .get(&["zones"], &[("name", zone)])
            .await
            .map_err(|e| {
                e.into_tool_error(&format!("look up zone {zone}"), PERMISSION_ZONE_READ)
            })?;
        a.result
            .as_array()
            .and_then(|z| z.first())
            .and_then(|z| z.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                ToolError::new(format!("no zone named `{zone}` is visible to this API token"))
                    .with_hint("list the zones with cloudflare_list_zones; the token's zone resources may not include this zone")
            })
    }

    async fn get_record(&self, zone_id: &str, record_id: &str) -> Result<Record, ToolError> {
        check_record_id(record_id)?;
        let a = self
            .upstream
            .get(&["zones", zone_id, "dns_records", record_id], &[])
            .await
            .map_err(|e| {
                e.into_tool_error(&format!("get DNS record {record_id}"), PERMISSION_DNS_READ)
            })?;
        Ok(record(&a.result))
    }
}

fn check_record_id(id: &str) -> Result<(), ToolError> {
    if is_id(id) {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(
            "record_id",
            format!(
                "`{id}` is not a record id (32 hex characters, from cloudflare_list_dns_records)"
            ),
        ))
    }
}

#[tool_router(router = read_tools)]
impl Cloudflare {
    #[tool(
        description = "List the Cloudflare zones (domains) this token can see: id, name, status, plan, name servers. Filter by `name` or `status`; paged (`limit`, `next_cursor`). Needs the token permission Zone > Zone > Read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_list_zones(
        &self,
        Parameters(a): Parameters<ListZonesArgs>,
    ) -> Result<Json<ZoneList>, ToolError> {
        self.ctx
            .run("cloudflare_list_zones", async {
                let page = page_arg(a.cursor.as_deref())?;
                let per_page = a.limit.unwrap_or(20).clamp(5, 50).to_string();
                let page_s = page.to_string();
                let mut query = vec![("page", page_s.as_str()), ("per_page", per_page.as_str())];
                if let Some(n) = a.name.as_deref().filter(|s| !s.is_empty()) {
                    query.push(("name", n));
                }
                if let Some(s) = a.status.as_deref().filter(|s| !s.is_empty()) {
                    query.push(("status", s));
                }
                let ans = self
                    .upstream
                    .get(&["zones"], &query)
                    .await
                    .map_err(|e| e.into_tool_error("list zones", PERMISSION_ZONE_READ))?;
                let zones: Vec<Zone> = ans
                    .result
                    .as_array()
                    .map(|a| a.iter().map(zone).collect())
                    .unwrap_or_default();
                let mut p = fit_items(zones, 50, self.max_bytes());
                if !p.truncated {
                    p.next_cursor = next_page(ans.result_info.as_ref(), page);
                }
                p.truncated |= p.next_cursor.is_some();
                p.total = total_count(ans.result_info.as_ref()).or(p.total);
                Ok(Json(ZoneList { zones: p }))
            })
            .await
    }

    #[tool(
        description = "List the DNS records of a zone (id or domain name): id, type, name, content, proxied, TTL, comment. Filter by `type`, exact `name` or `content`; paged (`limit`, `next_cursor`). Needs Zone > DNS > Read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_list_dns_records(
        &self,
        Parameters(a): Parameters<ListRecordsArgs>,
    ) -> Result<Json<RecordList>, ToolError> {
        self.ctx
            .run("cloudflare_list_dns_records", async {
                let page = page_arg(a.cursor.as_deref())?;
                if let Some(t) = a.record_type.as_deref()
                    && !RECORD_TYPES.contains(&t)
                {
                    return Err(ToolError::invalid_argument(
                        "type",
                        format!("`{t}`: use one of {}", RECORD_TYPES.join(", ")),
                    ));
                }
                let zone_id = self.zone_id(&a.zone).await?;
                let per_page = a.limit.unwrap_or(100).clamp(5, 500).to_string();
                let page_s = page.to_string();
                let mut query = vec![("page", page_s.as_str()), ("per_page", per_page.as_str())];
                if let Some(t) = a.record_type.as_deref() {
                    query.push(("type", t));
                }
                if let Some(n) = a.name.as_deref().filter(|s| !s.is_empty()) {
                    query.push(("name", n));
                }
                if let Some(c) = a.content.as_deref().filter(|s| !s.is_empty()) {
                    query.push(("content", c));
                }
                let ans = self
                    .upstream
                    .get(&["zones", &zone_id, "dns_records"], &query)
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("list DNS records of zone {zone_id}"),
                            PERMISSION_DNS_READ,
                        )
                    })?;
                let records: Vec<Record> = ans
                    .result
                    .as_array()
                    .map(|a| a.iter().map(record).collect())
                    .unwrap_or_default();
                let mut p = fit_items(records, 500, self.max_bytes());
                if !p.truncated {
                    p.next_cursor = next_page(ans.result_info.as_ref(), page);
                }
                p.truncated |= p.next_cursor.is_some();
                p.total = total_count(ans.result_info.as_ref()).or(p.total);
                Ok(Json(RecordList {
                    zone_id,
                    records: p,
                }))
            })
            .await
    }

    #[tool(
        description = "A zone's settings (ssl, min_tls_version, always_use_https, cache_level, security_level, ...): value, whether editable, last change. Optionally only the named `settings`. Needs Zone > Zone Settings > Read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_get_zone_settings(
        &self,
        Parameters(a): Parameters<ZoneSettingsArgs>,
    ) -> Result<Json<SettingList>, ToolError> {
        self.ctx
            .run("cloudflare_get_zone_settings", async {
                let zone_id = self.zone_id(&a.zone).await?;
                let ans = self
                    .upstream
                    .get(&["zones", &zone_id, "settings"], &[])
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("get settings of zone {zone_id}"),
                            PERMISSION_SETTINGS_READ,
                        )
                    })?;
                let mut settings: Vec<Setting> = ans
                    .result
                    .as_array()
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| Setting {
                        id: st(s, "id"),
                        value: s.get("value").cloned().unwrap_or(Value::Null),
                        editable: s.get("editable").and_then(Value::as_bool).unwrap_or(false),
                        modified_on: s
                            .get("modified_on")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                    .filter(|s| a.settings.is_empty() || a.settings.contains(&s.id))
                    .collect();
                for s in &mut settings {
                    mcp_common::redact::redact_json(&mut s.value);
                }
                Ok(Json(SettingList {
                    zone_id,
                    settings: fit_items(settings, 200, self.max_bytes()),
                }))
            })
            .await
    }

    #[tool(
        description = "A zone's HTTP traffic over the last `hours` (default 24, at most 72): requests, cached share, bytes, threats, 5xx count, requests by status code and hourly buckets (GraphQL Analytics API). Needs Zone > Analytics > Read.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_get_zone_analytics(
        &self,
        Parameters(a): Parameters<AnalyticsArgs>,
    ) -> Result<Json<Analytics>, ToolError> {
        self.ctx
            .run("cloudflare_get_zone_analytics", async {
                let hours = a.hours.unwrap_or(24);
                if !(1..=72).contains(&hours) {
                    return Err(ToolError::invalid_argument("hours", "use 1 to 72"));
                }
                let zone_id = self.zone_id(&a.zone).await?;
                let now = time::OffsetDateTime::now_utc()
                    .replace_nanosecond(0)
                    .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
                let fmt = |t: time::OffsetDateTime| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                };
                let (since, until) = (fmt(now - time::Duration::hours(hours.into())), fmt(now));
                let body = json!({
                    "query": "query ZoneTraffic($zoneTag: string, $since: Time, $until: Time) { viewer { zones(filter: {zoneTag: $zoneTag}) { httpRequests1hGroups(limit: 100, filter: {datetime_geq: $since, datetime_lt: $until}, orderBy: [datetime_ASC]) { dimensions { datetime } sum { requests cachedRequests bytes threats responseStatusMap { edgeResponseStatus requests } } } } } }",
                    "variables": {"zoneTag": zone_id, "since": since, "until": until},
                });
                let ans = self
                    .upstream
                    .send(reqwest::Method::POST, &["graphql"], &[], Some(&body))
                    .await
                    .map_err(|e| {
                        e.into_tool_error(&format!("get analytics of zone {zone_id}"), PERMISSION_ANALYTICS_READ)
                    })?;
                let doc = ans.result;
                if let Some(errors) = doc.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
                    let text: Vec<String> = errors.iter().map(|e| st(e, "message")).collect();
                    let text = text.join("; ");
                    if text.contains("permission") || text.contains("not authorized") {
                        let mut e = ToolError::permission_denied(
                            format!("get analytics of zone {zone_id}"),
                            format!("the API token permission `{PERMISSION_ANALYTICS_READ}`"),
                        );
                        e.message = format!("permission denied: get analytics of zone {zone_id} (Cloudflare GraphQL: {text})");
                        return Err(e);
                    }
                    return Err(ToolError::new(format!("Cloudflare GraphQL rejected the analytics query for zone {zone_id}: {text}")));
                }
                let groups = doc
                    .pointer("/data/viewer/zones/0/httpRequests1hGroups")
                    .and_then(Value::as_array)
                    .map(|a| a.as_slice())
                    .unwrap_or_default();
                let mut codes: std::collections::BTreeMap<u16, u64> = Default::default();
                let mut buckets = Vec::new();
                for g in groups {
                    let n = |k: &str| g.pointer(&format!("/sum/{k}")).and_then(Value::as_u64).unwrap_or(0);
                    let mut errors_5xx = 0;
                    for s in g.pointer("/sum/responseStatusMap").and_then(Value::as_array).into_iter().flatten() {
                        let code = s.get("edgeResponseStatus").and_then(Value::as_u64).unwrap_or(0) as u16;
                        let r = s.get("requests").and_then(Value::as_u64).unwrap_or(0);
                        *codes.entry(code).or_default() += r;
                        if code >= 500 {
                            errors_5xx += r;
                        }
                    }
                    buckets.push(Bucket {
                        datetime: g.pointer("/dimensions/datetime").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        requests: n("requests"),
                        cached_requests: n("cachedRequests"),
                        bytes: n("bytes"),
                        threats: n("threats"),
                        errors_5xx,
                    });
                }
                let sum = |f: fn(&Bucket) -> u64| buckets.iter().map(f).sum::<u64>();
                let requests = sum(|b| b.requests);
                let cached_requests = sum(|b| b.cached_requests);
                let mut status_codes: Vec<(u16, u64)> = codes.into_iter().collect();
                status_codes.sort_by_key(|(c, r)| (std::cmp::Reverse(*r), *c));
                status_codes.truncate(20);
                Ok(Json(Analytics {
                    zone_id,
                    since,
                    until,
                    requests,
                    cached_requests,
                    cache_ratio: if requests == 0 { 0.0 } else { cached_requests as f64 / requests as f64 },
                    bytes: sum(|b| b.bytes),
                    threats: sum(|b| b.threats),
                    errors_5xx: sum(|b| b.errors_5xx),
                    status_codes,
                    hourly: fit_items(buckets, 72, self.max_bytes() / 2),
                }))
            })
            .await
    }
}

#[tool_router(router = write_tools)]
impl Cloudflare {
    #[tool(
        description = "Create a DNS record in a zone. Validates type, content (IPv4 for A, IPv6 for AAAA, ...), TTL and proxied first; dry_run shows the record that would be created without creating it. Needs Zone > DNS > Edit.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn cloudflare_create_dns_record(
        &self,
        Parameters(a): Parameters<CreateRecordArgs>,
    ) -> Result<Json<Change>, ToolError> {
        self.ctx
            .run("cloudflare_create_dns_record", async {
                let mut body = Map::new();
                body.insert("type".into(), json!(a.record_type.to_ascii_uppercase()));
                body.insert("name".into(), json!(a.name));
                body.insert("content".into(), json!(a.content));
                body.insert("ttl".into(), json!(a.ttl.unwrap_or(1)));
                put_opt(&mut body, "proxied", a.proxied);
                put_opt(&mut body, "priority", a.priority);
                put_opt(&mut body, "comment", a.comment);
                validate_record(&body)?;
                let zone_id = self.zone_id(&a.zone).await?;
                let request = Value::Object(body);
                if a.dry_run {
                    let mut preview = request.clone();
                    preview["id"] = json!("(assigned on creation)");
                    return Ok(Json(Change {
                        action: "create_dns_record".into(),
                        zone_id,
                        dry_run: true,
                        sent: false,
                        request,
                        before: None,
                        after: Some(record(&preview)),
                        message: "dry run: the record is valid; nothing was created".into(),
                    }));
                }
                let ans = self
                    .upstream
                    .send(
                        reqwest::Method::POST,
                        &["zones", &zone_id, "dns_records"],
                        &[],
                        Some(&request),
                    )
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("create a DNS record in zone {zone_id}"),
                            PERMISSION_DNS_EDIT,
                        )
                    })?;
                let created = record(&ans.result);
                Ok(Json(Change {
                    action: "create_dns_record".into(),
                    zone_id,
                    dry_run: false,
                    sent: true,
                    request,
                    message: format!(
                        "created {} record {} ({})",
                        created.record_type, created.name, created.id
                    ),
                    before: None,
                    after: Some(created),
                }))
            })
            .await
    }

    #[tool(
        description = "Change fields of a DNS record (content, TTL, proxied, name, type, priority, comment); fields not given stay as they are. Reads the record first; dry_run shows it before and after without changing it. Needs Zone > DNS > Edit (and DNS Read).",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_update_dns_record(
        &self,
        Parameters(a): Parameters<UpdateRecordArgs>,
    ) -> Result<Json<Change>, ToolError> {
        self.ctx
            .run("cloudflare_update_dns_record", async {
                check_record_id(&a.record_id)?;
                let mut patch = Map::new();
                put_opt(
                    &mut patch,
                    "type",
                    a.record_type.map(|t| t.to_ascii_uppercase()),
                );
                put_opt(&mut patch, "name", a.name);
                put_opt(&mut patch, "content", a.content);
                put_opt(&mut patch, "ttl", a.ttl);
                put_opt(&mut patch, "proxied", a.proxied);
                put_opt(&mut patch, "priority", a.priority);
                put_opt(&mut patch, "comment", a.comment);
                if patch.is_empty() {
                    return Err(ToolError::invalid_argument(
                        "content",
                        "give at least one field to change",
                    ));
                }
                let zone_id = self.zone_id(&a.zone).await?;
                let before = self.get_record(&zone_id, &a.record_id).await?;
                // The record as it would be, validated as a whole.
                let mut merged = serde_json::to_value(&before).unwrap_or_default();
                for (k, v) in &patch {
                    merged[k] = v.clone();
                }
                if let Value::Object(m) = &merged {
                    validate_record(m)?;
                }
                let request = Value::Object(patch);
                if a.dry_run {
                    return Ok(Json(Change {
                        action: "update_dns_record".into(),
                        zone_id,
                        dry_run: true,
                        sent: false,
                        request,
                        before: Some(before),
                        after: Some(record(&merged)),
                        message: "dry run: the change is valid; nothing was changed".into(),
                    }));
                }
                let ans = self
                    .upstream
                    .send(
                        reqwest::Method::PATCH,
                        &["zones", &zone_id, "dns_records", &a.record_id],
                        &[],
                        Some(&request),
                    )
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("update DNS record {}", a.record_id),
                            PERMISSION_DNS_EDIT,
                        )
                    })?;
                Ok(Json(Change {
                    action: "update_dns_record".into(),
                    zone_id,
                    dry_run: false,
                    sent: true,
                    request,
                    before: Some(before),
                    after: Some(record(&ans.result)),
                    message: format!("updated record {}", a.record_id),
                }))
            })
            .await
    }

    #[tool(
        description = "Delete a DNS record. Reads it first; dry_run shows the record that would be deleted without deleting it. Needs Zone > DNS > Edit (and DNS Read).",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_delete_dns_record(
        &self,
        Parameters(a): Parameters<DeleteRecordArgs>,
    ) -> Result<Json<Change>, ToolError> {
        self.ctx
            .run("cloudflare_delete_dns_record", async {
                check_record_id(&a.record_id)?;
                let zone_id = self.zone_id(&a.zone).await?;
                let before = self.get_record(&zone_id, &a.record_id).await?;
                if a.dry_run {
                    return Ok(Json(Change {
                        action: "delete_dns_record".into(),
                        zone_id,
                        dry_run: true,
                        sent: false,
                        request: json!({}),
                        message: format!(
                            "dry run: would delete {} record {}; nothing was deleted",
                            before.record_type, before.name
                        ),
                        before: Some(before),
                        after: None,
                    }));
                }
                self.upstream
                    .send(
                        reqwest::Method::DELETE,
                        &["zones", &zone_id, "dns_records", &a.record_id],
                        &[],
                        None,
                    )
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("delete DNS record {}", a.record_id),
                            PERMISSION_DNS_EDIT,
                        )
                    })?;
                Ok(Json(Change {
                    action: "delete_dns_record".into(),
                    zone_id,
                    dry_run: false,
                    sent: true,
                    request: json!({}),
                    message: format!("deleted {} record {}", before.record_type, before.name),
                    before: Some(before),
                    after: None,
                }))
            })
            .await
    }

    #[tool(
        description = "Purge a zone's cache: exactly one of purge_everything, files (URLs, at most 100), tags, hosts or prefixes. dry_run validates and shows what would be purged without purging. Needs Zone > Cache Purge > Purge.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cloudflare_purge_cache(
        &self,
        Parameters(a): Parameters<PurgeArgs>,
    ) -> Result<Json<Change>, ToolError> {
        self.ctx
            .run("cloudflare_purge_cache", async {
                let kinds = [
                    ("files", &a.files),
                    ("tags", &a.tags),
                    ("hosts", &a.hosts),
                    ("prefixes", &a.prefixes),
                ];
                let given: Vec<&str> = kinds
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, _)| *k)
                    .collect();
                let request = match (a.purge_everything, given.as_slice()) {
                    (true, []) => json!({"purge_everything": true}),
                    (false, [k]) => {
                        let list = kinds
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| *v)
                            .cloned()
                            .unwrap_or_default();
                        if list.len() > 100 {
                            return Err(ToolError::invalid_argument(
                                k,
                                "at most 100 per purge; split the list",
                            ));
                        }
                        if list.iter().any(|x| x.trim().is_empty()) {
                            return Err(ToolError::invalid_argument(k, "empty entry"));
                        }
                        json!({ *k: list })
                    }
                    _ => {
                        return Err(ToolError::invalid_argument(
                            "purge_everything",
                            "give exactly one of purge_everything, files, tags, hosts or prefixes",
                        ));
                    }
                };
                let zone_id = self.zone_id(&a.zone).await?;
                if a.dry_run {
                    return Ok(Json(Change {
                        action: "purge_cache".into(),
                        zone_id,
                        dry_run: true,
                        sent: false,
                        request,
                        before: None,
                        after: None,
                        message: "dry run: the purge request is valid; nothing was purged".into(),
                    }));
                }
                self.upstream
                    .send(
                        reqwest::Method::POST,
                        &["zones", &zone_id, "purge_cache"],
                        &[],
                        Some(&request),
                    )
                    .await
                    .map_err(|e| {
                        e.into_tool_error(
                            &format!("purge the cache of zone {zone_id}"),
                            PERMISSION_PURGE,
                        )
                    })?;
                Ok(Json(Change {
                    action: "purge_cache".into(),
                    zone_id,
                    dry_run: false,
                    sent: true,
                    request,
                    before: None,
                    after: None,
                    message: "cache purge accepted".into(),
                }))
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Cloudflare {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-cloudflare",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "Cloudflare for environment {} ({}). Zones are given by id or domain name. Start with cloudflare_list_zones and cloudflare_list_dns_records.{}",
                self.ctx.environment,
                self.ctx.access,
                if self.ctx.access.is_rw() {
                    " Every edit accepts dry_run: use it first."
                } else {
                    ""
                }
            ))
    }
}

//! EC2 calls: bounded describe pages with the fields an operator looks at, and instance state
//! changes with `dry_run`.

use std::collections::BTreeMap;

use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ec2::types::{Filter, Instance, IpPermission, SecurityGroup, Subnet, Tag, Vpc};
use mcp_common::aws_error::AwsFailure;
use mcp_common::output::{BoundedPage, PageCursor, bound_page};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, sdk};

/// Default and largest page of the describe tools.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
/// Most ids (instances, groups, ...) one call accepts.
pub const MAX_IDS: usize = 100;
/// Most instances one state change touches.
pub const MAX_WRITE_IDS: usize = 20;
/// Most tags shown per resource.
const MAX_TAGS: usize = 20;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeInstancesArgs {
    /// Instance ids (`i-...`); default all instances matching the filters.
    #[serde(default)]
    pub instance_ids: Vec<String>,
    /// EC2 filters, name -> values, e.g. `{"instance-state-name": ["running"], "vpc-id": ["vpc-1"]}`.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Tag filters, key -> value (`tag:KEY=VALUE`), e.g. `{"app": "payments"}`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Most instances to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeSecurityGroupsArgs {
    /// Security group ids (`sg-...`).
    #[serde(default)]
    pub group_ids: Vec<String>,
    /// EC2 filters, name -> values, e.g. `{"vpc-id": ["vpc-1"], "group-name": ["web"]}`.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Tag filters, key -> value.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Most groups to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeVpcsArgs {
    /// VPC ids (`vpc-...`).
    #[serde(default)]
    pub vpc_ids: Vec<String>,
    /// EC2 filters, name -> values, e.g. `{"is-default": ["true"]}`.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Tag filters, key -> value.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Most VPCs to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeSubnetsArgs {
    /// Subnet ids (`subnet-...`).
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// EC2 filters, name -> values, e.g. `{"vpc-id": ["vpc-1"], "availability-zone": ["eu-west-1a"]}`.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Tag filters, key -> value.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Most subnets to return (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct InstanceIdsArgs {
    /// Instance ids (`i-...`), 1 to 20.
    pub instance_ids: Vec<String>,
    /// Ask EC2 whether the call would succeed (permissions included) without doing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StopInstancesArgs {
    /// Instance ids (`i-...`), 1 to 20.
    pub instance_ids: Vec<String>,
    /// Ask EC2 whether the call would succeed (permissions included) without doing it.
    #[serde(default)]
    pub dry_run: bool,
    /// Force the stop (no clean OS shutdown; last resort for a stuck instance).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceSummary {
    pub instance_id: String,
    /// Value of the `Name` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub instance_type: Option<String>,
    pub availability_zone: Option<String>,
    pub private_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub image_id: Option<String>,
    /// RFC 3339.
    pub launch_time: Option<String>,
    pub security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `spot` or `scheduled`; absent for on-demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceList {
    pub instances: Vec<InstanceSummary>,
    /// Instances by state, over this page.
    pub by_state: BTreeMap<String, usize>,
    pub truncated: bool,
    /// Pass back as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, or `all`.
    pub protocol: String,
    /// `22`, `8000-8080`, or `all`.
    pub ports: String,
    /// CIDRs, security group ids and prefix lists on the other side.
    pub peers: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecurityGroupSummary {
    pub group_id: String,
    pub group_name: Option<String>,
    pub description: Option<String>,
    pub vpc_id: Option<String>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// True when some ingress rule is open to the internet (0.0.0.0/0 or ::/0).
    pub open_to_world: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecurityGroupList {
    pub security_groups: Vec<SecurityGroupSummary>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VpcSummary {
    pub vpc_id: String,
    pub name: Option<String>,
    pub cidr_block: Option<String>,
    pub extra_cidr_blocks: Vec<String>,
    pub state: Option<String>,
    pub is_default: bool,
    pub owner_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VpcList {
    pub vpcs: Vec<VpcSummary>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SubnetSummary {
    pub subnet_id: String,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    pub cidr_block: Option<String>,
    pub availability_zone: Option<String>,
    pub available_ip_address_count: Option<i32>,
    pub map_public_ip_on_launch: bool,
    pub default_for_az: bool,
    pub state: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SubnetList {
    pub subnets: Vec<SubnetSummary>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StateChange {
    pub instance_id: String,
    pub previous_state: Option<String>,
    pub current_state: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StateChangeResult {
    /// The EC2 API that was called, e.g. `TerminateInstances`.
    pub action: String,
    pub dry_run: bool,
    /// With `dry_run`: EC2 says the call would have succeeded (the permission is there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_succeed: Option<bool>,
    pub instance_ids: Vec<String>,
    /// State transitions EC2 reported (none for a dry run or a reboot).
    pub changes: Vec<StateChange>,
    pub message: String,
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

/// Tags as a map, at most [`MAX_TAGS`], values of credential-looking keys redacted.
fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .take(MAX_TAGS)
        .map(|(k, v)| {
            if mcp_common::redact::is_sensitive_key(&k) {
                (k, mcp_common::redact::REDACTED.to_owned())
            } else {
                (k, v)
            }
        })
        .collect()
}

fn name_tag(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .map(str::to_owned)
}

fn limit(limit: Option<usize>) -> Result<usize> {
    match limit {
        Some(0) => Err(Error::invalid("limit", "must be at least 1")),
        Some(n) => Ok(n.min(MAX_LIMIT)),
        None => Ok(DEFAULT_LIMIT),
    }
}

fn check_ids(name: &'static str, ids: &[String], prefix: &str, max: usize) -> Result<()> {
    if ids.len() > max {
        return Err(Error::invalid(name, format!("at most {max} ids per call")));
    }
    if let Some(bad) = ids.iter().find(|id| !id.starts_with(prefix)) {
        return Err(Error::invalid(
            name,
            format!("`{bad}` is not an id of the form {prefix}..."),
        ));
    }
    Ok(())
}

/// EC2 filters from `filters` and `tags`.
fn filters(
    filters: &BTreeMap<String, Vec<String>>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<Vec<Filter>>> {
    let mut out = Vec::new();
    for (name, values) in filters {
        if name.trim().is_empty() {
            return Err(Error::invalid("filters", "a filter name is empty"));
        }
        if values.is_empty() {
            return Err(Error::invalid(
                "filters",
                format!("filter `{name}` has no values"),
            ));
        }
        out.push(
            Filter::builder()
                .name(name)
                .set_values(Some(values.clone()))
                .build(),
        );
    }
    for (k, v) in tags {
        out.push(Filter::builder().name(format!("tag:{k}")).values(v).build());
    }
    if out.len() > 50 {
        return Err(Error::invalid("filters", "at most 50 filters"));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Where a describe page starts: an EC2 `NextToken` and how many items of that EC2 page were
/// already returned (`SKIP:TOKEN`, shared with the other servers that page with opaque tokens).
/// The skip lets a page end anywhere: a `limit` under EC2's minimum of 5, the byte cap, an
/// endpoint that ignores `MaxResults`.
pub type Cursor = PageCursor;

fn parse_cursor(cursor: Option<&str>) -> Result<Cursor> {
    PageCursor::parse(cursor).map_err(|why| Error::invalid("cursor", why))
}

/// EC2's MaxResults (5..=1000) for a page of `limit` after the cursor's skip.
fn max_results(cursor: &Cursor, limit: usize) -> i32 {
    (limit + cursor.skip).clamp(5, 1000) as i32
}

/// Cuts one EC2 page (fetched at `cursor`) to `limit` items and the byte cap (less 1 KiB for
/// the envelope), and says where the next page starts.
fn bound<T: Serialize>(
    items: Vec<T>,
    cursor: &Cursor,
    limit: usize,
    max_bytes: usize,
    aws_next: Option<String>,
) -> BoundedPage<T> {
    bound_page(
        items,
        cursor,
        limit,
        max_bytes.saturating_sub(1024),
        aws_next,
    )
}

pub fn summarize_instance(i: &Instance) -> InstanceSummary {
    InstanceSummary {
        instance_id: i.instance_id().unwrap_or_default().to_owned(),
        name: name_tag(i.tags()),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned()),
        state_reason: i
            .state_reason()
            .and_then(|r| r.message())
            .map(str::to_owned)
            .or_else(|| {
                i.state_transition_reason()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            }),
        instance_type: i.instance_type().map(|t| t.as_str().to_owned()),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_owned),
        private_ip: i.private_ip_address().map(str::to_owned),
        public_ip: i.public_ip_address().map(str::to_owned),
        private_dns_name: i
            .private_dns_name()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        vpc_id: i.vpc_id().map(str::to_owned),
        subnet_id: i.subnet_id().map(str::to_owned),
        image_id: i.image_id().map(str::to_owned),
        launch_time: time(i.launch_time()),
        security_groups: i
            .security_groups()
            .iter()
            .map(|g| match (g.group_id(), g.group_name()) {
                (Some(id), Some(name)) => format!("{id} ({name})"),
                (Some(id), None) => id.to_owned(),
                (None, name) => name.unwrap_or_default().to_owned(),
            })
            .collect(),
        key_name: i.key_name().map(str::to_owned),
        iam_instance_profile: i
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_owned),
        platform: i.platform_details().map(str::to_owned),
        architecture: i.architecture().map(|a| a.as_str().to_owned()),
        lifecycle: i.instance_lifecycle().map(|l| l.as_str().to_owned()),
        tags: tag_map(i.tags()),
    }
}

pub async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    a: DescribeInstancesArgs,
    max_bytes: usize,
) -> Result<InstanceList> {
    check_ids("instance_ids", &a.instance_ids, "i-", MAX_IDS)?;
    let limit = limit(a.limit)?;
    let cursor = parse_cursor(a.cursor.as_deref())?;
    let mut req = ec2
        .describe_instances()
        .set_filters(filters(&a.filters, &a.tags)?)
        .set_next_token(cursor.token.clone());
    if a.instance_ids.is_empty() {
        req = req.max_results(max_results(&cursor, limit));
    } else {
        // EC2 refuses MaxResults together with InstanceIds.
        req = req.set_instance_ids(Some(a.instance_ids));
    }
    let out = req
        .send()
        .await
        .map_err(sdk("DescribeInstances", "ec2:DescribeInstances"))?;
    let instances: Vec<InstanceSummary> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(summarize_instance)
        .collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let BoundedPage {
        items: instances,
        truncated,
        next_cursor,
        note,
    } = bound(instances, &cursor, limit, max_bytes, next);
    let mut by_state = BTreeMap::new();
    for i in &instances {
        *by_state
            .entry(i.state.clone().unwrap_or_else(|| "unknown".into()))
            .or_insert(0) += 1;
    }
    Ok(InstanceList {
        instances,
        by_state,
        truncated,
        next_cursor,
        note,
    })
}

fn ports(p: &IpPermission) -> String {
    match (p.from_port(), p.to_port()) {
        (None, None) | (Some(-1), _) => "all".into(),
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}-{b}"),
        (Some(a), None) | (None, Some(a)) => a.to_string(),
    }
}

fn rules(perms: &[IpPermission]) -> Vec<Rule> {
    perms
        .iter()
        .map(|p| {
            let mut peers: Vec<String> = p
                .ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(str::to_owned))
                .collect();
            peers.extend(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(str::to_owned)),
            );
            peers.extend(
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_owned)),
            );
            peers.extend(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id().map(str::to_owned)),
            );
            let protocol = match p.ip_protocol() {
                Some("-1") | None => "all".to_owned(),
                Some(other) => other.to_owned(),
            };
            Rule {
                protocol,
                ports: ports(p),
                peers,
            }
        })
        .collect()
}

fn summarize_group(g: &SecurityGroup) -> SecurityGroupSummary {
    let ingress = rules(g.ip_permissions());
    let open_to_world = ingress
        .iter()
        .any(|r| r.peers.iter().any(|p| p == "0.0.0.0/0" || p == "::/0"));
    SecurityGroupSummary {
        group_id: g.group_id().unwrap_or_default().to_owned(),
        group_name: g.group_name().map(str::to_owned),
        description: g.description().map(str::to_owned),
        vpc_id: g.vpc_id().map(str::to_owned),
        ingress,
        egress: rules(g.ip_permissions_egress()),
        open_to_world,
        tags: tag_map(g.tags()),
    }
}

pub async fn describe_security_groups(
    ec2: &aws_sdk_ec2::Client,
    a: DescribeSecurityGroupsArgs,
    max_bytes: usize,
) -> Result<SecurityGroupList> {
    check_ids("group_ids", &a.group_ids, "sg-", MAX_IDS)?;
    let limit = limit(a.limit)?;
    let cursor = parse_cursor(a.cursor.as_deref())?;
    let mut req = ec2
        .describe_security_groups()
        .set_filters(filters(&a.filters, &a.tags)?)
        .set_next_token(cursor.token.clone());
    if a.group_ids.is_empty() {
        req = req.max_results(max_results(&cursor, limit));
    } else {
        req = req.set_group_ids(Some(a.group_ids));
    }
    let out = req
        .send()
        .await
        .map_err(sdk("DescribeSecurityGroups", "ec2:DescribeSecurityGroups"))?;
    let groups = out.security_groups().iter().map(summarize_group).collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let BoundedPage {
        items: security_groups,
        truncated,
        next_cursor,
        note,
    } = bound(groups, &cursor, limit, max_bytes, next);
    Ok(SecurityGroupList {
        security_groups,
        truncated,
        next_cursor,
        note,
    })
}

fn summarize_vpc(v: &Vpc) -> VpcSummary {
    let primary = v.cidr_block().map(str::to_owned);
    VpcSummary {
        vpc_id: v.vpc_id().unwrap_or_default().to_owned(),
        name: name_tag(v.tags()),
        extra_cidr_blocks: v
            .cidr_block_association_set()
            .iter()
            .filter_map(|c| c.cidr_block())
            .filter(|c| Some(*c) != primary.as_deref())
            .map(str::to_owned)
            .collect(),
        cidr_block: primary,
        state: v.state().map(|s| s.as_str().to_owned()),
        is_default: v.is_default().unwrap_or(false),
        owner_id: v.owner_id().map(str::to_owned),
        tags: tag_map(v.tags()),
    }
}

pub async fn describe_vpcs(
    ec2: &aws_sdk_ec2::Client,
    a: DescribeVpcsArgs,
    max_bytes: usize,
) -> Result<VpcList> {
    check_ids("vpc_ids", &a.vpc_ids, "vpc-", MAX_IDS)?;
    let limit = limit(a.limit)?;
    let cursor = parse_cursor(a.cursor.as_deref())?;
    let mut req = ec2
        .describe_vpcs()
        .set_filters(filters(&a.filters, &a.tags)?)
        .set_next_token(cursor.token.clone());
    if a.vpc_ids.is_empty() {
        req = req.max_results(max_results(&cursor, limit));
    } else {
        req = req.set_vpc_ids(Some(a.vpc_ids));
    }
    let out = req
        .send()
        .await
        .map_err(sdk("DescribeVpcs", "ec2:DescribeVpcs"))?;
    let vpcs = out.vpcs().iter().map(summarize_vpc).collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let BoundedPage {
        items: vpcs,
        truncated,
        next_cursor,
        note,
    } = bound(vpcs, &cursor, limit, max_bytes, next);
    Ok(VpcList {
        vpcs,
        truncated,
        next_cursor,
        note,
    })
}

fn summarize_subnet(s: &Subnet) -> SubnetSummary {
    SubnetSummary {
        subnet_id: s.subnet_id().unwrap_or_default().to_owned(),
        name: name_tag(s.tags()),
        vpc_id: s.vpc_id().map(str::to_owned),
        cidr_block: s.cidr_block().map(str::to_owned),
        availability_zone: s.availability_zone().map(str::to_owned),
        available_ip_address_count: s.available_ip_address_count(),
        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
        default_for_az: s.default_for_az().unwrap_or(false),
        state: s.state().map(|x| x.as_str().to_owned()),
        tags: tag_map(s.tags()),
    }
}

pub async fn describe_subnets(
    ec2: &aws_sdk_ec2::Client,
    a: DescribeSubnetsArgs,
    max_bytes: usize,
) -> Result<SubnetList> {
    check_ids("subnet_ids", &a.subnet_ids, "subnet-", MAX_IDS)?;
    let limit = limit(a.limit)?;
    let cursor = parse_cursor(a.cursor.as_deref())?;
    let mut req = ec2
        .describe_subnets()
        .set_filters(filters(&a.filters, &a.tags)?)
        .set_next_token(cursor.token.clone());
    if a.subnet_ids.is_empty() {
        req = req.max_results(max_results(&cursor, limit));
    } else {
        req = req.set_subnet_ids(Some(a.subnet_ids));
    }
    let out = req
        .send()
        .await
        .map_err(sdk("DescribeSubnets", "ec2:DescribeSubnets"))?;
    let subnets = out.subnets().iter().map(summarize_subnet).collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let BoundedPage {
        items: subnets,
        truncated,
        next_cursor,
        note,
    } = bound(subnets, &cursor, limit, max_bytes, next);
    Ok(SubnetList {
        subnets,
        truncated,
        next_cursor,
        note,
    })
}

/// The instance state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Start,
    Stop { force: bool },
    Reboot,
    Terminate,
}

impl Change {
    pub fn api(self) -> &'static str {
        match self {
            Change::Start => "StartInstances",
            Change::Stop { .. } => "StopInstances",
            Change::Reboot => "RebootInstances",
            Change::Terminate => "TerminateInstances",
        }
    }

    pub fn action(self) -> &'static str {
        match self {
            Change::Start => "ec2:StartInstances",
            Change::Stop { .. } => "ec2:StopInstances",
            Change::Reboot => "ec2:RebootInstances",
            Change::Terminate => "ec2:TerminateInstances",
        }
    }
}

fn changes(list: &[aws_sdk_ec2::types::InstanceStateChange]) -> Vec<StateChange> {
    list.iter()
        .map(|c| StateChange {
            instance_id: c.instance_id().unwrap_or_default().to_owned(),
            previous_state: c
                .previous_state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned()),
            current_state: c
                .current_state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned()),
        })
        .collect()
}

/// Starts, stops, reboots or terminates instances. With `dry_run`, EC2 checks permissions and
/// parameters and answers `DryRunOperation` instead of acting: that is a success here.
pub async fn change_state(
    ec2: &aws_sdk_ec2::Client,
    change: Change,
    instance_ids: Vec<String>,
    dry_run: bool,
) -> Result<StateChangeResult> {
    if instance_ids.is_empty() {
        return Err(Error::invalid(
            "instance_ids",
            "give at least one instance id",
        ));
    }
    check_ids("instance_ids", &instance_ids, "i-", MAX_WRITE_IDS)?;
    let ids = Some(instance_ids.clone());
    let (api, action) = (change.api(), change.action());
    let result = match change {
        Change::Start => ec2
            .start_instances()
            .set_instance_ids(ids)
            .dry_run(dry_run)
            .send()
            .await
            .map(|o| changes(o.starting_instances()))
            .map_err(|e| AwsFailure::from_sdk(api, action, &e)),
        Change::Stop { force } => ec2
            .stop_instances()
            .set_instance_ids(ids)
            .force(force)
            .dry_run(dry_run)
            .send()
            .await
            .map(|o| changes(o.stopping_instances()))
            .map_err(|e| AwsFailure::from_sdk(api, action, &e)),
        Change::Reboot => ec2
            .reboot_instances()
            .set_instance_ids(ids)
            .dry_run(dry_run)
            .send()
            .await
            .map(|_| Vec::new())
            .map_err(|e| AwsFailure::from_sdk(api, action, &e)),
        Change::Terminate => ec2
            .terminate_instances()
            .set_instance_ids(ids)
            .dry_run(dry_run)
            .send()
            .await
            .map(|o| changes(o.terminating_instances()))
            .map_err(|e| AwsFailure::from_sdk(api, action, &e)),
    };
    match result {
        Ok(changes) => {
            let message = if dry_run {
                // EC2 should have answered DryRunOperation; it acted as if not (an emulator
                // that ignores DryRun would have changed state).
                format!("{api} answered without DryRunOperation although dry_run was set")
            } else if changes.is_empty() {
                format!("{api} accepted for {} instance(s)", instance_ids.len())
            } else {
                format!("{api}: {} instance(s) changing state", changes.len())
            };
            Ok(StateChangeResult {
                action: api.to_owned(),
                dry_run,
                would_succeed: dry_run.then_some(true),
                instance_ids,
                changes,
                message,
            })
        }
        Err(f) if dry_run && f.code.as_deref() == Some("DryRunOperation") => {
            Ok(StateChangeResult {
                action: api.to_owned(),
                dry_run: true,
                would_succeed: Some(true),
                instance_ids,
                changes: Vec::new(),
                message: format!(
                    "dry run: {api} would have succeeded ({}); nothing was changed",
                    f.message
                ),
            })
        }
        Err(f) => Err(Error::Aws(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_args() {
        let mut f = BTreeMap::new();
        f.insert("instance-state-name".to_owned(), vec!["running".to_owned()]);
        let mut t = BTreeMap::new();
        t.insert("app".to_owned(), "payments".to_owned());
        let out = filters(&f, &t).unwrap().unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].name(), Some("tag:app"));
        f.insert("vpc-id".to_owned(), vec![]);
        assert!(filters(&f, &t).is_err());
        assert!(
            filters(&BTreeMap::new(), &BTreeMap::new())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn cursors_resume_inside_and_after_an_ec2_page() {
        assert_eq!(Cursor::parse(None).unwrap(), Cursor::default());
        assert!(Cursor::parse(Some("garbage")).is_err());
        let first = bound(
            (0..7).collect::<Vec<u32>>(),
            &Cursor::default(),
            5,
            65536,
            None,
        );
        assert_eq!(first.items, [0, 1, 2, 3, 4]);
        assert!(first.truncated);
        let c = Cursor::parse(first.next_cursor.as_deref()).unwrap();
        assert_eq!(
            c,
            Cursor {
                token: None,
                skip: 5
            }
        );
        let second = bound(
            (0..7).collect::<Vec<u32>>(),
            &c,
            5,
            65536,
            Some("t2".into()),
        );
        assert_eq!(second.items, [5, 6]);
        assert_eq!(second.next_cursor.as_deref(), Some("0:t2"));
        let last = bound(vec![1u32], &Cursor::default(), 5, 65536, None);
        assert!(!last.truncated && last.next_cursor.is_none());
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_ids("instance_ids", &["i-123".into()], "i-", 5).is_ok());
        assert!(check_ids("instance_ids", &["sg-123".into()], "i-", 5).is_err());
        let many: Vec<String> = (0..30).map(|n| format!("i-{n}")).collect();
        assert!(check_ids("instance_ids", &many, "i-", MAX_WRITE_IDS).is_err());
    }

    #[test]
    fn secret_tags_are_redacted() {
        let tags = [
            Tag::builder().key("Name").value("web-1").build(),
            Tag::builder().key("db_password").value("hunter2").build(),
        ];
        let m = tag_map(&tags);
        assert_eq!(m["Name"], "web-1");
        assert_eq!(m["db_password"], mcp_common::redact::REDACTED);
    }
}

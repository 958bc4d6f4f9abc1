//! The MCP surface: tool router and server handler. Read tools in every deployment; the
//! instance state changes only with `--access rw`. The IAM action each tool calls is listed in
//! [`crate::iam::TOOL_ACTIONS`].

use std::sync::Arc;

use mcp_common::tool::Json;
use mcp_common::{ToolContext, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

use crate::ec2::{
    self, Change, DescribeInstancesArgs, DescribeSecurityGroupsArgs, DescribeSubnetsArgs,
    DescribeVpcsArgs, InstanceIdsArgs, InstanceList, SecurityGroupList, StateChangeResult,
    StopInstancesArgs, SubnetList, VpcList,
};
use crate::identity::{self, CallerIdentity, CallerIdentityArgs};

/// The EC2 backend. Cloned per request; the clients and router are shared.
#[derive(Debug, Clone)]
pub struct Aws {
    ctx: ToolContext,
    ec2: aws_sdk_ec2::Client,
    sts: aws_sdk_sts::Client,
    tool_router: Arc<ToolRouter<Self>>,
}

impl Aws {
    pub fn new(ctx: ToolContext, ec2: aws_sdk_ec2::Client, sts: aws_sdk_sts::Client) -> Self {
        let tool_router =
            mcp_common::tool::routes_for(ctx.access, Self::read_tools(), Self::write_tools());
        Self {
            ctx,
            ec2,
            sts,
            tool_router,
        }
    }

    fn max_bytes(&self) -> usize {
        self.ctx.limits.max_output_bytes
    }
}

#[tool_router(router = read_tools)]
impl Aws {
    #[tool(
        description = "List EC2 instances (by ids, EC2 filters such as instance-state-name or vpc-id, and tags) with the fields an operator looks at: state and reason, type, AZ, private/public IP, VPC, subnet, AMI, launch time, security groups, instance profile, lifecycle, tags. Pages with limit/cursor; `by_state` counts the page.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_describe_instances(
        &self,
        Parameters(a): Parameters<DescribeInstancesArgs>,
    ) -> Result<Json<InstanceList>, ToolError> {
        self.ctx
            .run("aws_describe_instances", async {
                ec2::describe_instances(&self.ec2, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List security groups (by ids, filters, tags) with ingress and egress rules summarized as protocol, ports and peers (CIDRs, groups, prefix lists); `open_to_world` flags ingress from 0.0.0.0/0 or ::/0.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_describe_security_groups(
        &self,
        Parameters(a): Parameters<DescribeSecurityGroupsArgs>,
    ) -> Result<Json<SecurityGroupList>, ToolError> {
        self.ctx
            .run("aws_describe_security_groups", async {
                ec2::describe_security_groups(&self.ec2, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List VPCs (by ids, filters, tags): CIDR blocks, state, default flag, owner, Name and other tags.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_describe_vpcs(
        &self,
        Parameters(a): Parameters<DescribeVpcsArgs>,
    ) -> Result<Json<VpcList>, ToolError> {
        self.ctx
            .run("aws_describe_vpcs", async {
                ec2::describe_vpcs(&self.ec2, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "List subnets (by ids, filters such as vpc-id or availability-zone, tags): CIDR, AZ, free IP addresses, public-IP-on-launch, state, tags.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_describe_subnets(
        &self,
        Parameters(a): Parameters<DescribeSubnetsArgs>,
    ) -> Result<Json<SubnetList>, ToolError> {
        self.ctx
            .run("aws_describe_subnets", async {
                ec2::describe_subnets(&self.ec2, a, self.max_bytes())
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Which AWS account and principal (user, or assumed role and session) this deployment acts as, and the region it calls.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_get_caller_identity(
        &self,
        Parameters(_a): Parameters<CallerIdentityArgs>,
    ) -> Result<Json<CallerIdentity>, ToolError> {
        self.ctx
            .run("aws_get_caller_identity", async {
                identity::caller_identity(&self.sts)
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }
}

#[tool_router(router = write_tools)]
impl Aws {
    #[tool(
        description = "Start stopped EC2 instances (1 to 20 ids). `dry_run: true` asks EC2 whether the call would succeed, permissions included, without starting anything.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_start_instances(
        &self,
        Parameters(a): Parameters<InstanceIdsArgs>,
    ) -> Result<Json<StateChangeResult>, ToolError> {
        self.ctx
            .run("aws_start_instances", async {
                ec2::change_state(&self.ec2, Change::Start, a.instance_ids, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Stop running EC2 instances (1 to 20 ids); `force` skips the clean OS shutdown. Instance-store data is lost. `dry_run: true` only checks that the call would succeed.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_stop_instances(
        &self,
        Parameters(a): Parameters<StopInstancesArgs>,
    ) -> Result<Json<StateChangeResult>, ToolError> {
        self.ctx
            .run("aws_stop_instances", async {
                ec2::change_state(
                    &self.ec2,
                    Change::Stop { force: a.force },
                    a.instance_ids,
                    a.dry_run,
                )
                .await
                .map(Json)
                .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Reboot EC2 instances (1 to 20 ids). `dry_run: true` only checks that the call would succeed.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn aws_reboot_instances(
        &self,
        Parameters(a): Parameters<InstanceIdsArgs>,
    ) -> Result<Json<StateChangeResult>, ToolError> {
        self.ctx
            .run("aws_reboot_instances", async {
                ec2::change_state(&self.ec2, Change::Reboot, a.instance_ids, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }

    #[tool(
        description = "Terminate EC2 instances (1 to 20 ids): irreversible, their EBS volumes marked delete-on-termination are deleted. Run with `dry_run: true` first: EC2 then checks permissions and parameters without terminating anything.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn aws_terminate_instances(
        &self,
        Parameters(a): Parameters<InstanceIdsArgs>,
    ) -> Result<Json<StateChangeResult>, ToolError> {
        self.ctx
            .run("aws_terminate_instances", async {
                ec2::change_state(&self.ec2, Change::Terminate, a.instance_ids, a.dry_run)
                    .await
                    .map(Json)
                    .map_err(ToolError::from)
            })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Aws {
    fn get_info(&self) -> ServerConfig {
        let region = self
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "?".into());
        let writes = if self.ctx.access.is_rw() {
            " Write tools (start/stop/reboot/terminate) take `dry_run: true`: use it first."
        } else {
            ""
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-aws", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "EC2 in region {region} ({} access, env {}). aws_get_caller_identity says which account this is; \
                 aws_describe_instances with filters (instance-state-name, vpc-id, tag:...) finds instances.{writes}",
                self.ctx.access, self.ctx.environment
            ))
    }
}

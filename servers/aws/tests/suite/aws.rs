//! mcp-aws against the moto AWS emulator: every tool over MCP, paging, dry runs, bad input,
//! throttling, an unreachable endpoint, `--role-arn`, and layer 3 alone (an RW deployment with
//! the read-only IAM policy's credentials, under moto's IAM enforcement).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use common::{ADMIN, Moto, catalog, client, err, loader, ok, readyz, serve_router, shared};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Serves mcp-aws in-process against `endpoint` with `creds`; stops when the token is cancelled.
async fn backend(
    endpoint: &str,
    creds: (&str, &str),
    extra: &[&str],
    ct: &CancellationToken,
) -> std::net::SocketAddr {
    mcp_common::telemetry::install_crypto_provider();
    let mut argv = vec!["mcp-aws", "--allowed-host", "*", "--env", "test"];
    argv.extend_from_slice(extra);
    let args = mcp_aws::Args::parse_from(argv);
    let (server, handler) = mcp_aws::build_with(args, loader(endpoint, creds))
        .await
        .expect("build");
    serve_router(server.app(handler), ct.clone()).await
}

async fn ec2(endpoint: &str, creds: (&str, &str)) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&loader(endpoint, creds).load().await)
}

/// Runs `n` instances tagged `suite=<tag>`; returns their ids.
async fn run_instances(ec2: &aws_sdk_ec2::Client, tag: &str, n: i32) -> Vec<String> {
    let out = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(n)
        .max_count(n)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("suite")
                        .value(tag)
                        .build(),
                )
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value(format!("{tag}-web"))
                        .build(),
                )
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("db_password")
                        .value("hunter2")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("run instances");
    out.instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect()
}

async fn state_of(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("describe");
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_owned()
}

fn names(v: &[rmcp::model::Tool]) -> Vec<String> {
    let mut n: Vec<String> = v.iter().map(|t| t.name.to_string()).collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_follows_access_and_catalog() {
    let moto = shared();
    let ct = CancellationToken::new();
    let (read, write) = catalog("aws");

    let ro = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    assert_eq!(readyz(ro).await, 200, "readiness: DescribeInstances works");
    let c = client(ro).await;
    let tools = c.list_all_tools().await.unwrap();
    assert_eq!(names(&tools), read, "RO registers exactly the read tools");
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
        assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
        assert!(a.idempotent_hint.is_some() && a.open_world_hint.is_some());
        assert!(t.output_schema.is_some(), "{}", t.name);
    }
    // A write tool is not even there in RO.
    let r = c
        .call_tool(
            rmcp::model::CallToolRequestParams::new("aws_terminate_instances").with_arguments(
                json!({"instance_ids": ["i-1"]})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true));

    let rw = backend(&moto.endpoint, ADMIN, &["--access", "rw"], &ct).await;
    let c = client(rw).await;
    let tools = c.list_all_tools().await.unwrap();
    let mut all: Vec<String> = read.iter().chain(&write).cloned().collect();
    all.sort();
    assert_eq!(names(&tools), all, "RW adds the write tools");
    for t in tools.iter().filter(|t| write.contains(&t.name.to_string())) {
        let a = t.annotations.as_ref().unwrap();
        assert_eq!(a.read_only_hint, Some(false), "{}", t.name);
        let schema = serde_json::to_value(&t.input_schema).unwrap();
        assert!(
            schema["properties"]["dry_run"].is_object(),
            "{} takes dry_run",
            t.name
        );
    }
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_instances_filters_tags_and_pages() {
    let moto = shared();
    let ct = CancellationToken::new();
    let admin = ec2(&moto.endpoint, ADMIN).await;
    let ids = run_instances(&admin, "paging", 7).await;
    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;

    // By ids: every field an operator looks at.
    let r = ok(
        &c,
        "aws_describe_instances",
        json!({"instance_ids": [ids[0]]}),
    )
    .await;
    let i = &r["instances"][0];
    assert_eq!(i["instance_id"], ids[0].as_str());
    assert_eq!(i["state"], "running");
    assert_eq!(i["name"], "paging-web");
    assert_eq!(i["instance_type"], "t3.micro");
    assert!(i["private_ip"].is_string() && i["availability_zone"].is_string());
    assert!(i["launch_time"].as_str().unwrap().contains('T'));
    assert_eq!(i["tags"]["suite"], "paging");
    assert_eq!(
        i["tags"]["db_password"], "[REDACTED]",
        "secret-looking tags are redacted"
    );
    assert_eq!(r["by_state"]["running"], 1);

    // By tag, five at a time, then two at a time (under EC2's minimum MaxResults of 5).
    for size in [5usize, 2] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..10 {
            let mut args = json!({"tags": {"suite": "paging"}, "limit": size});
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let r = ok(&c, "aws_describe_instances", args).await;
            let got: Vec<String> = r["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["instance_id"].as_str().unwrap().to_owned())
                .collect();
            assert!(got.len() <= size);
            seen.extend(got);
            cursor = r["next_cursor"].as_str().map(str::to_owned);
            assert_eq!(r["truncated"], cursor.is_some(), "page {page}: {r}");
            if cursor.is_none() {
                break;
            }
        }
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(seen, want, "paging by {size} covers every instance once");
    }

    // EC2 filters.
    let r = ok(
        &c,
        "aws_describe_instances",
        json!({"filters": {"instance-state-name": ["stopped"]}, "tags": {"suite": "paging"}}),
    )
    .await;
    assert_eq!(r["instances"], json!([]));
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_network() {
    let moto = shared();
    let ct = CancellationToken::new();
    let admin = ec2(&moto.endpoint, ADMIN).await;
    let vpc = admin
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("incident-vpc")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = admin
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.42.1.0/24")
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let sg = admin
        .create_security_group()
        .group_name("web-open")
        .description("ssh from anywhere")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    let sg_id = sg.group_id().unwrap().to_owned();
    admin
        .authorize_security_group_ingress()
        .group_id(&sg_id)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();

    let addr = backend(&moto.endpoint, ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let r = ok(&c, "aws_describe_vpcs", json!({"vpc_ids": [vpc_id]})).await;
    assert_eq!(r["vpcs"][0]["cidr_block"], "10.42.0.0/16");
    assert_eq!(r["vpcs"][0]["name"], "incident-vpc");
    assert_eq!(r["vpcs"][0]["is_default"], false);

    let r = ok(
        &c,
        "aws_describe_subnets",
        json!({"filters": {"vpc-id": [vpc_id]}}),
    )
    .await;
    assert_eq!(r["subnets"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["subnets"][0]["subnet_id"], subnet_id.as_str());
    assert_eq!(r["subnets"][0]["cidr_block"], "10.42.1.0/24");
    assert!(
        r["subnets"][0]["available_ip_address_count"]
            .as_i64()
            .unwrap()
            > 200
    );

    let r = ok(
        &c,
        "aws_describe_security_groups",
        json!({"group_ids": [sg_id]}),
    )
    .await;
    let g = &r["security_groups"][0];
    assert_eq!(g["group_name"], "web-open");
    assert_eq!(g["open_to_world"], true);
    assert_eq!(
        g["ingress"][0],
        json!({"protocol": "tcp", "ports": "22", "peers": ["0.0.0.0/0"]})
    );

    let r = ok(&c, "aws_get_caller_identity", json!({})).await;
    assert_eq!(r["account"], "123456789012");
    assert_eq!(r["region"], "us-east-1");
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_tools_with_and_without_dry_run() {
    let moto = shared();
    let ct = CancellationToken::new();
    let admin = ec2(&moto.endpoint, ADMIN).await;
    let ids = run_instances(&admin, "writes", 1).await;
    let id = ids[0].as_str();
    let addr = backend(&moto.endpoint, ADMIN, &["--access", "rw"], &ct).await;
    let c = client(addr).await;

    for tool in [
        "aws_stop_instances",
        "aws_reboot_instances",
        "aws_terminate_instances",
    ] {
        let r = ok(&c, tool, json!({"instance_ids": [id], "dry_run": true})).await;
        assert_eq!(r["dry_run"], true, "{tool}: {r}");
        assert_eq!(r["would_succeed"], true, "{tool}: {r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("would have succeeded"),
            "{r}"
        );
        assert_eq!(
            state_of(&admin, id).await,
            "running",
            "{tool} dry run changed nothing"
        );
    }

    let r = ok(&c, "aws_stop_instances", json!({"instance_ids": [id]})).await;
    assert_eq!(r["changes"][0]["instance_id"], id);
    assert_eq!(r["changes"][0]["previous_state"], "running");
    assert_eq!(state_of(&admin, id).await, "stopped");

    let r = ok(&c, "aws_start_instances", json!({"instance_ids": [id]})).await;
    assert_eq!(r["changes"][0]["previous_state"], "stopped");
    assert_eq!(state_of(&admin, id).await, "running");

    let r = ok(&c, "aws_reboot_instances", json!({"instance_ids": [id]})).await;
    assert_eq!(r["changes"], json!([]));
    assert!(r["message"].as_str().unwrap().contains("RebootInstances"));

    let r = ok(&c, "aws_terminate_instances", json!({"instance_ids": [id]})).await;
    assert_eq!(r["action"], "TerminateInstances");
    assert_eq!(r["changes"][0]["previous_state"], "running");
    assert_eq!(state_of(&admin, id).await, "terminated");
    ct.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_tool_error() {
    let moto = shared();
    let ct = CancellationToken::new();
    let addr = backend(&moto.endpoint, ADMIN, &["--access", "rw"], &ct).await;
    let c = client(addr).await;

    let t = err(
        &c,
        "aws_describe_instances",
        json!({"instance_ids": ["i-0123456789abcdef0"]}),
    )
    .await;
    assert!(t.contains("DescribeInstances"), "{t}");
    assert!(t.contains("InvalidInstanceID.NotFound"), "{t}");

    let t = err(
        &c,
        "aws_terminate_instances",
        json!({"instance_ids": ["i-0123456789abcdef0"]}),
    )
    .await;
    assert!(t.contains("TerminateInstances"), "{t}");
    assert!(t.contains("InvalidInstanceID.NotFound"), "{t}");

    let t = err(
        &c,
        "aws_describe_instances",
        json!({"instance_ids": ["web-1"]}),
    )
    .await;
    assert!(t.contains("invalid argument `instance_ids`"), "{t}");

    let t = err(&c, "aws_stop_instances", json!({"instance_ids": []})).await;
    assert!(t.contains("at least one"), "{t}");

    let t = err(
        &c,
        "aws_describe_instances",
        json!({"filters": {"no-such-filter": ["x"]}}),
    )
    .await;
    assert!(t.contains("DescribeInstances"), "{t}");

    let t = err(&c, "aws_describe_vpcs", json!({"filters": {"vpc-id": []}})).await;
    assert!(t.contains("has no values"), "{t}");

    let t = err(&c, "aws_describe_subnets", json!({"limit": 0})).await;
    assert!(t.contains("limit"), "{t}");

    let t = err(&c, "aws_describe_vpcs", json!({"cursor": "not-ours"})).await;
    assert!(t.contains("invalid argument `cursor`"), "{t}");
    ct.cancel();
}

/// EC2 answers RequestLimitExceeded (503) to every call: the SDK retries, then the tool
/// reports the throttling, and the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_unreachable_are_tool_errors() {
    let ct = CancellationToken::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let stub = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "text/xml")],
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>",
            )
        }
    });
    let stub = serve_router(stub, ct.clone()).await;
    let addr = backend(&format!("http://{stub}"), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let t = err(&c, "aws_describe_instances", json!({})).await;
    assert!(t.contains("throttled"), "{t}");
    assert!(t.contains("RequestLimitExceeded"), "{t}");
    assert!(hits.load(Ordering::SeqCst) >= 2, "the SDK retried");
    assert_eq!(readyz(addr).await, 503, "not ready while EC2 refuses");

    // Nothing listens: a quick tool error, not a hang.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let addr = backend(&format!("http://{dead}"), ADMIN, &[], &ct).await;
    let c = client(addr).await;
    let started = std::time::Instant::now();
    let t = err(&c, "aws_describe_vpcs", json!({})).await;
    assert!(
        t.contains("DescribeVpcs") && t.contains("ec2:DescribeVpcs"),
        "{t}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    ct.cancel();
}

/// `--role-arn`: every call runs as the assumed role (STS AssumeRole through moto).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_arn_assumes_the_role() {
    let moto = shared();
    let ct = CancellationToken::new();
    let role = "arn:aws:iam::123456789012:role/mcp-aws-readonly";
    let addr = backend(
        &moto.endpoint,
        ADMIN,
        &["--role-arn", role, "--role-session-name", "incident-42"],
        &ct,
    )
    .await;
    let c = client(addr).await;
    let r = ok(&c, "aws_get_caller_identity", json!({})).await;
    let arn = r["arn"].as_str().unwrap();
    assert!(
        arn.contains("assumed-role/mcp-aws-readonly/incident-42"),
        "{r}"
    );
    ok(&c, "aws_describe_vpcs", json!({})).await;

    // A malformed role ARN is a start-up error.
    let args = mcp_aws::Args::parse_from(["mcp-aws", "--role-arn", "mcp-aws-readonly"]);
    let e = mcp_aws::build_with(args, common::loader(&moto.endpoint, ADMIN))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("not a role ARN"), "{e}");
    ct.cancel();
}

/// Layer 3 alone: an RW deployment (write tools registered) whose credentials hold exactly
/// policies/iam/aws-ro.json. Describe works; terminate is refused by IAM, the agent reads which
/// permission is missing, and the instance keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer3_ro_policy_refuses_terminate_in_an_rw_deployment() {
    let moto = Moto::start();
    let ro = moto.iam_user("mcp-aws-ro", "policies/iam/aws-ro.json");
    let admin_key = moto.iam_user("admin", "policies/iam/aws-rw.json");
    let admin = ec2(&moto.endpoint, ADMIN).await;
    let ids = run_instances(&admin, "layer3", 1).await;
    let id = ids[0].as_str();
    moto.enforce_iam().await;

    let ct = CancellationToken::new();
    let addr = backend(&moto.endpoint, (&ro.0, &ro.1), &["--access", "rw"], &ct).await;
    let c = client(addr).await;
    let tools = c.list_all_tools().await.unwrap();
    assert!(
        tools.iter().any(|t| t.name == "aws_terminate_instances"),
        "RW registers it"
    );

    let r = ok(&c, "aws_describe_instances", json!({"instance_ids": [id]})).await;
    assert_eq!(r["instances"][0]["state"], "running");
    let who = ok(&c, "aws_get_caller_identity", json!({})).await;
    assert!(
        who["arn"].as_str().unwrap().ends_with("user/mcp-aws-ro"),
        "{who}"
    );

    for dry_run in [true, false] {
        let t = err(
            &c,
            "aws_terminate_instances",
            json!({"instance_ids": [id], "dry_run": dry_run}),
        )
        .await;
        assert!(t.contains("permission denied"), "{t}");
        assert!(t.contains("TerminateInstances"), "{t}");
        assert!(
            t.contains("the IAM permission ec2:TerminateInstances"),
            "{t}"
        );
    }
    let t = err(&c, "aws_stop_instances", json!({"instance_ids": [id]})).await;
    assert!(t.contains("ec2:StopInstances"), "{t}");

    // Still running, seen with credentials that may look.
    let checker = ec2(&moto.endpoint, (&admin_key.0, &admin_key.1)).await;
    assert_eq!(state_of(&checker, id).await, "running");
    // And the enforcement is real: unknown credentials are refused too.
    let stranger = backend(&moto.endpoint, ("AKIAIOSFODNN7EXAMPLE", "x"), &[], &ct).await;
    let c = client(stranger).await;
    let t = err(&c, "aws_describe_instances", json!({})).await;
    assert!(t.contains("ec2:DescribeInstances"), "{t}");
    ct.cancel();
}

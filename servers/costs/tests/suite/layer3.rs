//! Layer 3 alone, under moto's IAM enforcement: credentials holding exactly the shipped
//! policies/iam/costs.json are ready and get past IAM on every tool, and cannot change anything
//! in Cost Explorer; credentials of a policy without Cost Explorer (the CloudWatch one, as a
//! mis-wired IRSA role would be) get a permission-denied tool error naming the missing action.

use crate::common;
use crate::support::{backend, day, period_by_service, seed_moto};

use common::{Moto, client, err, ok, readyz};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer3_shipped_policy_under_iam_enforcement() {
    let moto = Moto::start();
    let costs = moto.iam_user("mcp-costs", "policies/iam/costs.json");
    let other = moto.iam_user("mcp-cloudwatch", "policies/iam/cloudwatch.json");
    let (d1, d2) = (day(-2), day(-1));
    seed_moto(
        &moto.endpoint,
        vec![json!({
            "ResultsByTime": [period_by_service(&d1, &d2, &[("AWS Lambda", "4.2")], false)],
            "DimensionValueAttributes": []
        })],
    )
    .await;
    moto.enforce_iam().await;
    let ct = CancellationToken::new();

    // The shipped policy: ready, and the tools get past IAM.
    let addr = backend(&moto.endpoint, (&costs.0, &costs.1), &[], &ct).await;
    assert_eq!(readyz(addr).await, 200, "sts:GetCallerIdentity is allowed");
    let c = client(addr).await;
    let r = ok(
        &c,
        "costs_get_cost_and_usage",
        json!({"start": d1, "end": d2, "group_by": ["SERVICE"]}),
    )
    .await;
    assert_eq!(r["rows"][0]["keys"], json!(["AWS Lambda"]));
    assert_eq!(r["rows"][0]["metrics"]["UnblendedCost"]["amount"], 4.2);
    // moto implements only GetCostAndUsage: the others pass IAM and then fail inside moto,
    // never with a denial.
    for (tool, args) in [
        ("costs_get_cost_forecast", json!({})),
        ("costs_get_anomalies", json!({})),
        (
            "costs_get_dimension_values",
            json!({"dimension": "SERVICE"}),
        ),
    ] {
        let t = err(&c, tool, args).await;
        assert!(!t.contains("permission denied"), "{tool}: {t}");
    }

    // Nothing that mutates: the same credentials may not create a cost category (which moto
    // implements), nor tag one.
    let out = moto.python(&format!(
        r#"
import boto3, os, botocore
ce = boto3.client("ce", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id={key:?}, aws_secret_access_key={secret:?})
for call in (
    lambda: ce.create_cost_category_definition(Name="teams", RuleVersion="CostCategoryExpression.v1",
        Rules=[{{"Value": "payments", "Rule": {{"Tags": {{"Key": "team", "Values": ["payments"]}}}}}}]),
    lambda: ce.tag_resource(ResourceArn="arn:aws:ce::123456789012:costcategory/x", ResourceTags=[{{"Key": "a", "Value": "b"}}]),
):
    try:
        call()
        print("allowed")
    except botocore.exceptions.ClientError as e:
        # moto answers the JSON protocol's denial in XML: boto3 reports the status as the code.
        print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], str(e).replace("\n", " "))
"#,
        key = costs.0,
        secret = costs.1
    ));
    let answers: Vec<&str> = out.lines().collect();
    assert_eq!(answers.len(), 2, "{out}");
    for (a, action) in answers
        .iter()
        .zip(["ce:CreateCostCategoryDefinition", "ce:TagResource"])
    {
        assert_ne!(*a, "allowed", "the shipped policy allowed {action}: {out}");
        assert!(a.starts_with("403 403"), "{out}");
        assert!(
            a.contains("AccessDenied")
                && a.contains(&format!("not authorized to perform: {action}")),
            "{out}"
        );
    }

    // A role without Cost Explorer: every tool names the IAM action it lacks.
    let denied = backend(&moto.endpoint, (&other.0, &other.1), &[], &ct).await;
    let c = client(denied).await;
    for (tool, action, args) in [
        ("costs_get_cost_and_usage", "ce:GetCostAndUsage", json!({})),
        ("costs_get_cost_forecast", "ce:GetCostForecast", json!({})),
        ("costs_get_anomalies", "ce:GetAnomalies", json!({})),
        (
            "costs_get_dimension_values",
            "ce:GetDimensionValues",
            json!({"dimension": "SERVICE"}),
        ),
    ] {
        let t = err(&c, tool, args).await;
        assert!(t.contains("permission denied: AWS refused"), "{tool}: {t}");
        assert!(
            t.contains(&format!("the IAM permission {action}")),
            "{tool}: {t}"
        );
    }
    ct.cancel();
}

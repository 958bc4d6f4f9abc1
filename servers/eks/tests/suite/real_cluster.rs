//! Against a real cluster (kind or k3d): `servers/eks/scripts/kind-e2e` creates one, applies the
//! shipped ClusterRoles and a crash-looping workload, writes a kubeconfig per role and runs
//! this suite. Skipped unless `KUBECONFIG` is set (and run nowhere in CI here: no API server can
//! run on these machines). `MCP_EKS_E2E_VIEWER_KUBECONFIG` points at the viewer's kubeconfig.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams};

fn kubeconfig(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

async fn client_from(path: &str) -> kube::Client {
    mcp_common::telemetry::install_crypto_provider();
    let kc = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
#[ignore = "needs a cluster: KUBECONFIG"]
async fn the_api_server_answers_and_namespaces_list() {
    let Some(path) = kubeconfig("KUBECONFIG") else {
        return;
    };
    let client = client_from(&path).await;
    client.apiserver_version().await.expect("version");
    let ns: Api<Namespace> = Api::all(client);
    let list = ns
        .list(&ListParams::default())
        .await
        .expect("list namespaces");
    assert!(
        list.items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("kube-system"))
    );
}

#[tokio::test]
#[ignore = "needs a cluster: KUBECONFIG"]
async fn the_viewer_role_may_not_delete_pods() {
    let Some(path) = kubeconfig("MCP_EKS_E2E_VIEWER_KUBECONFIG") else {
        return;
    };
    let client = client_from(&path).await;
    let pods: Api<Pod> = Api::namespaced(client, "production");
    let list = pods
        .list(&ListParams::default().labels("app=payment-service"))
        .await
        .expect("viewer lists pods");
    let name = list.items[0].metadata.name.clone().unwrap();
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    match pods.delete(&name, &dp).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("the viewer deleted a pod: {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a cluster: KUBECONFIG"]
async fn the_incident_tools_end_to_end() {
    use clap::Parser;
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    let Some(path) = kubeconfig("MCP_EKS_E2E_VIEWER_KUBECONFIG") else {
        return;
    };
    let client = client_from(&path).await;
    let args = mcp_eks::Args::parse_from(["mcp-eks", "--access", "rw", "--allowed-host", "*"]);
    let (server, handler) = mcp_eks::build_with(args.server, mcp_eks::Cluster::from_client(client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server.app(handler);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let c = ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
            format!("http://{addr}/mcp"),
        ))
        .await
        .unwrap();
    let args =
        serde_json::json!({"namespace": "production", "label_selector": "app=payment-service"});
    let r = c
        .call_tool(
            CallToolRequestParams::new("eks_get_pods")
                .with_arguments(args.as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(false), "{r:?}");
    let pod = r.structured_content.unwrap()["pods"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let args = serde_json::json!({"namespace": "production", "pod": pod});
    let r = c
        .call_tool(
            CallToolRequestParams::new("eks_delete_pod")
                .with_arguments(args.as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    let text = format!("{:?}", r.content);
    assert!(text.contains("permission denied: delete pods"), "{text}");
}

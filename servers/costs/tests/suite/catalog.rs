//! tools/list is the catalog's (policies/tools.json) in RO and RW deployments alike, every
//! tool annotated read-only with an output schema; readiness is a free STS call.

use crate::common;
use crate::support::{Stub, backend, names};

use common::{ADMIN, catalog, client, readyz, shared};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_equals_the_catalog_in_every_deployment() {
    let moto = shared();
    let ct = CancellationToken::new();
    let (read, write) = catalog("costs");
    assert!(write.is_empty());
    assert_eq!(read.len(), 4);
    for access in ["ro", "rw"] {
        let addr = backend(&moto.endpoint, ADMIN, &["--access", access], &ct).await;
        assert_eq!(
            readyz(addr).await,
            200,
            "{access}: STS GetCallerIdentity works"
        );
        let c = client(addr).await;
        let tools = c.list_all_tools().await.unwrap();
        assert_eq!(names(&tools), read, "{access}: exactly the catalog's tools");
        for t in &tools {
            let a = t.annotations.as_ref().expect("annotations");
            assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
            assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
            assert_eq!(a.idempotent_hint, Some(true), "{}", t.name);
            assert_eq!(a.open_world_hint, Some(true), "{}", t.name);
            let out =
                serde_json::to_value(t.output_schema.as_ref().expect("output schema")).unwrap();
            assert!(
                out["properties"]["cache"].is_object(),
                "{}: results say whether they came from the cache",
                t.name
            );
        }
        let info = c.peer_info().expect("server info");
        assert!(
            info.instructions
                .as_deref()
                .unwrap_or_default()
                .contains("$0.01"),
            "{info:?}"
        );
    }
    ct.cancel();
}

/// Readiness never calls Cost Explorer (each request is billed): only STS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_free() {
    let ct = CancellationToken::new();
    let stub = Stub::start(&ct, |_, _| (200, serde_json::json!({}))).await;
    let addr = backend(&stub.endpoint(), ADMIN, &[], &ct).await;
    for _ in 0..3 {
        assert_eq!(readyz(addr).await, 200);
    }
    assert_eq!(stub.ce_count(), 0, "no Cost Explorer request for readiness");
    assert_eq!(stub.requests("sts:GetCallerIdentity").len(), 3);
    ct.cancel();
}

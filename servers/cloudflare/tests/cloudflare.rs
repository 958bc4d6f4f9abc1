//! mcp-cloudflare against a wiremock API v4 answering with recorded-shape JSON: every tool over
//! MCP streamable HTTP with an rmcp client, the exact requests (method, path, query, bearer
//! token, body), paging, dry runs that send nothing, and API errors as actionable tool errors.

use std::net::SocketAddr;

use clap::Parser;
use mcp_test_support::{Client, client};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "cf-test-token-Y2xvdWRmbGFyZS1kby1ub3QtbGVhaw";
const AUTH: &str = "Bearer cf-test-token-Y2xvdWRmbGFyZS1kby1ub3QtbGVhaw";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const RECORD: &str = "372e67954025e0ba6aaa6d586b9e0b59";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn envelope(result: Value) -> Value {
    json!({"result": result, "success": true, "errors": [], "messages": []})
}

fn cf_error(code: u32, message: &str) -> Value {
    json!({"result": null, "success": false, "errors": [{"code": code, "message": message}], "messages": []})
}

async fn backend(cf: &MockServer, access: &str) -> SocketAddr {
    mcp_common::telemetry::init();
    let url = format!("{}/client/v4", cf.uri());
    let args = mcp_cloudflare::Args::parse_from([
        "mcp-cloudflare",
        "--cloudflare-api-url",
        url.as_str(),
        "--cloudflare-api-token",
        TOKEN,
        "--access",
        access,
        "--env",
        "test",
        "--allowed-host",
        "*",
        "--cloudflare-timeout",
        "5s",
    ]);
    let (server, handler) = mcp_cloudflare::build(args).expect("build");
    let app = server.app(handler);
    mcp_test_support::serve(app).await
}

async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    mcp_test_support::ok(c, tool, args, TOKEN).await
}

async fn error_text(c: &Client, tool: &str, args: Value) -> String {
    mcp_test_support::error_text(c, tool, args, TOKEN).await
}

fn get(p: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/client/v4{p}")))
        .and(header("authorization", AUTH))
}

async fn queries(cf: &MockServer, p: &str) -> Vec<String> {
    let p = format!("/client/v4{p}");
    cf.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect()
}

async fn names(c: &Client) -> Vec<String> {
    let tools = c.list_all_tools().await.unwrap();
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert!(
            a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{}",
            t.name
        );
        let write = !t.name.contains("_list_") && !t.name.contains("_get_");
        assert_eq!(a.read_only_hint, Some(!write), "{}", t.name);
        assert!(t.output_schema.is_some(), "{}", t.name);
        let schema = serde_json::to_value(&t.input_schema).unwrap();
        if write {
            assert!(
                schema["properties"]["dry_run"].is_object(),
                "{} takes dry_run",
                t.name
            );
        }
    }
    let mut n: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_matches_the_catalog_in_ro_and_rw() {
    let cf = MockServer::start().await;
    let catalog: Value =
        serde_json::from_str(include_str!("../../../policies/tools.json")).unwrap();
    let read = catalog["cloudflare"]["read"].clone();
    let write = catalog["cloudflare"]["write"].clone();
    let ro = client(backend(&cf, "ro").await).await;
    assert_eq!(json!(names(&ro).await), read);
    let rw = client(backend(&cf, "rw").await).await;
    let mut all: Vec<String> = read
        .as_array()
        .unwrap()
        .iter()
        .chain(write.as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    all.sort();
    assert_eq!(names(&rw).await, all);
    assert_eq!(write.as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_tools_send_exact_requests() {
    let cf = MockServer::start().await;
    get("/zones")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("zones.json")))
        .mount(&cf)
        .await;
    get(&format!("/zones/{ZONE}/dns_records"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dns_records.json")))
        .mount(&cf)
        .await;
    get(&format!("/zones/{ZONE}/settings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("settings.json")))
        .expect(1)
        .mount(&cf)
        .await;
    Mock::given(method("POST"))
        .and(path("/client/v4/graphql"))
        .and(header("authorization", AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("graphql.json")))
        .expect(1)
        .mount(&cf)
        .await;
    get("/user/tokens/verify")
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(
            json!({"id": "ed17574386854bf78a67040be0a770b0", "status": "active"}),
        )))
        .mount(&cf)
        .await;
    let addr = backend(&cf, "ro").await;
    assert_eq!(
        reqwest::get(format!("http://{addr}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let c = client(addr).await;

    let r = ok(&c, "cloudflare_list_zones", json!({"status": "active"})).await;
    let z = &r["zones"]["items"][0];
    assert_eq!(z["id"], ZONE);
    assert_eq!(z["plan"], "Enterprise Website");
    assert_eq!(z["name_servers"][0], "bob.ns.cloudflare.com");
    assert_eq!(r["zones"]["total"], 21);
    assert_eq!(r["zones"]["next_cursor"], "2");
    assert_eq!(r["zones"]["truncated"], true);
    ok(
        &c,
        "cloudflare_list_zones",
        json!({"cursor": "2", "limit": 10}),
    )
    .await;
    assert_eq!(
        queries(&cf, "/zones").await,
        ["page=1&per_page=20&status=active", "page=2&per_page=10"]
    );

    // By name: the zone is looked up first.
    let r = ok(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": "acme.example", "type": "A", "name": "api.acme.example"}),
    )
    .await;
    assert_eq!(r["zone_id"], ZONE);
    let rec = &r["records"]["items"][0];
    assert_eq!(rec["id"], RECORD);
    assert_eq!(rec["content"], "198.51.100.4");
    assert_eq!(rec["proxied"], true);
    assert_eq!(r["records"]["truncated"], false);
    assert_eq!(queries(&cf, "/zones").await[2], "name=acme.example");
    assert_eq!(
        queries(&cf, &format!("/zones/{ZONE}/dns_records")).await,
        ["page=1&per_page=100&type=A&name=api.acme.example"]
    );

    let r = ok(
        &c,
        "cloudflare_get_zone_settings",
        json!({"zone": ZONE, "settings": ["ssl", "min_tls_version"]}),
    )
    .await;
    let ids: Vec<&str> = r["settings"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["min_tls_version", "ssl"]);
    assert_eq!(r["settings"]["items"][1]["value"], "strict");

    let r = ok(
        &c,
        "cloudflare_get_zone_analytics",
        json!({"zone": ZONE, "hours": 2}),
    )
    .await;
    assert_eq!(r["requests"], 200000);
    assert_eq!(r["cached_requests"], 140000);
    assert_eq!(r["errors_5xx"], 10500);
    assert_eq!(r["status_codes"][0], json!([200, 188000]));
    assert_eq!(r["hourly"]["items"].as_array().unwrap().len(), 2);
    let gql = cf
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/client/v4/graphql")
        .unwrap();
    let body: Value = serde_json::from_slice(&gql.body).unwrap();
    assert_eq!(body["variables"]["zoneTag"], ZONE);
    assert!(
        body["query"]
            .as_str()
            .unwrap()
            .contains("httpRequests1hGroups")
    );

    let e = error_text(
        &c,
        "cloudflare_get_zone_analytics",
        json!({"zone": ZONE, "hours": 500}),
    )
    .await;
    assert!(e.contains("invalid argument `hours`"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": "../../user"}),
    )
    .await;
    assert!(e.contains("invalid argument `zone`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_send_exact_requests_and_dry_runs_send_nothing() {
    let cf = MockServer::start().await;
    let current = fixture("dns_records.json")["result"][0].clone();
    get(&format!("/zones/{ZONE}/dns_records/{RECORD}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(current.clone())))
        .mount(&cf)
        .await;
    let mut created = current.clone();
    created["id"] = json!("0b5e8e4f4a2d4c8e9f1a2b3c4d5e6f70");
    created["name"] = json!("status.acme.example");
    created["content"] = json!("203.0.113.7");
    Mock::given(method("POST"))
        .and(path(format!("/client/v4/zones/{ZONE}/dns_records")))
        .and(header("authorization", AUTH))
        .and(body_json(json!({"type": "A", "name": "status.acme.example", "content": "203.0.113.7", "ttl": 300, "proxied": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(created)))
        .expect(1)
        .mount(&cf)
        .await;
    let mut updated = current.clone();
    updated["content"] = json!("198.51.100.9");
    Mock::given(method("PATCH"))
        .and(path(format!(
            "/client/v4/zones/{ZONE}/dns_records/{RECORD}"
        )))
        .and(header("authorization", AUTH))
        .and(body_json(json!({"content": "198.51.100.9"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(updated)))
        .expect(1)
        .mount(&cf)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/client/v4/zones/{ZONE}/dns_records/{RECORD}"
        )))
        .and(header("authorization", AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({"id": RECORD}))))
        .expect(1)
        .mount(&cf)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/client/v4/zones/{ZONE}/purge_cache")))
        .and(header("authorization", AUTH))
        .and(body_json(json!({"files": ["https://acme.example/app.js"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({"id": ZONE}))))
        .expect(1)
        .mount(&cf)
        .await;
    let c = client(backend(&cf, "rw").await).await;

    // Dry runs: validated, shown, not sent.
    let r = ok(&c, "cloudflare_create_dns_record", json!({"zone": ZONE, "type": "A", "name": "status.acme.example", "content": "203.0.113.7", "ttl": 300, "proxied": false, "dry_run": true})).await;
    assert_eq!(r["sent"], false);
    assert_eq!(r["after"]["content"], "203.0.113.7");
    let r = ok(
        &c,
        "cloudflare_update_dns_record",
        json!({"zone": ZONE, "record_id": RECORD, "content": "198.51.100.9", "dry_run": true}),
    )
    .await;
    assert_eq!(r["before"]["content"], "198.51.100.4");
    assert_eq!(r["after"]["content"], "198.51.100.9");
    assert_eq!(r["after"]["proxied"], true);
    let r = ok(
        &c,
        "cloudflare_delete_dns_record",
        json!({"zone": ZONE, "record_id": RECORD, "dry_run": true}),
    )
    .await;
    assert_eq!(r["before"]["name"], "api.acme.example");
    let r = ok(
        &c,
        "cloudflare_purge_cache",
        json!({"zone": ZONE, "purge_everything": true, "dry_run": true}),
    )
    .await;
    assert_eq!(r["request"], json!({"purge_everything": true}));
    assert_eq!(writes(&cf).await, 0, "a dry run sent a change");

    // Validation fails before anything is sent.
    let e = error_text(&c, "cloudflare_create_dns_record", json!({"zone": ZONE, "type": "A", "name": "x.acme.example", "content": "not-an-ip", "dry_run": true})).await;
    assert!(
        e.contains("invalid argument `content`") && e.contains("IPv4"),
        "{e}"
    );
    let e = error_text(&c, "cloudflare_create_dns_record", json!({"zone": ZONE, "type": "TXT", "name": "x.acme.example", "content": "v=spf1 -all", "proxied": true})).await;
    assert!(e.contains("invalid argument `proxied`"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_update_dns_record",
        json!({"zone": ZONE, "record_id": RECORD, "ttl": 5}),
    )
    .await;
    assert!(e.contains("invalid argument `ttl`"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_purge_cache",
        json!({"zone": ZONE, "purge_everything": true, "tags": ["a"]}),
    )
    .await;
    assert!(e.contains("exactly one"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_delete_dns_record",
        json!({"zone": ZONE, "record_id": "../settings"}),
    )
    .await;
    assert!(e.contains("invalid argument `record_id`"), "{e}");
    assert_eq!(writes(&cf).await, 0);

    // The real calls.
    let r = ok(&c, "cloudflare_create_dns_record", json!({"zone": ZONE, "type": "a", "name": "status.acme.example", "content": "203.0.113.7", "ttl": 300, "proxied": false})).await;
    assert_eq!(r["sent"], true);
    assert_eq!(r["after"]["id"], "0b5e8e4f4a2d4c8e9f1a2b3c4d5e6f70");
    let r = ok(
        &c,
        "cloudflare_update_dns_record",
        json!({"zone": ZONE, "record_id": RECORD, "content": "198.51.100.9"}),
    )
    .await;
    assert_eq!(r["after"]["content"], "198.51.100.9");
    ok(
        &c,
        "cloudflare_delete_dns_record",
        json!({"zone": ZONE, "record_id": RECORD}),
    )
    .await;
    ok(
        &c,
        "cloudflare_purge_cache",
        json!({"zone": ZONE, "files": ["https://acme.example/app.js"]}),
    )
    .await;
    assert_eq!(writes(&cf).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_name_the_missing_permission() {
    let cf = MockServer::start().await;
    let base = |p: &str| format!("/client/v4/zones/{ZONE}{p}");
    Mock::given(method("GET"))
        .and(path(base("/dns_records")))
        .and(query_param("type", "TXT"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"success": false, "errors": [{"code": 10001, "message": "Unable to authenticate request"}], "messages": [], "result": null})))
        .mount(&cf)
        .await;
    Mock::given(method("GET"))
        .and(path(base("/dns_records")))
        .and(query_param("type", "MX"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(cf_error(
                    10013,
                    "Rate limited. Please wait and consider throttling your request speed",
                )),
        )
        .mount(&cf)
        .await;
    Mock::given(method("GET"))
        .and(path(base("/dns_records")))
        .and(query_param("type", "NS"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string("<html><head><title>502 Bad Gateway</title></head></html>"),
        )
        .mount(&cf)
        .await;
    Mock::given(method("GET"))
        .and(path(base("/settings")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(cf_error(10000, "Authentication error")),
        )
        .mount(&cf)
        .await;
    Mock::given(method("GET"))
        .and(path(base("/dns_records/5e1a9e0c5d5b4a1b8f3e2d1c0b9a8f7e")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(cf_error(81044, "Record does not exist.")),
        )
        .mount(&cf)
        .await;
    Mock::given(method("POST"))
        .and(path(base("/purge_cache")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(cf_error(10000, "Authentication error")),
        )
        .mount(&cf)
        .await;
    Mock::given(method("POST"))
        .and(path(base("/dns_records")))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(cf_error(81057, "An identical record already exists.")),
        )
        .mount(&cf)
        .await;
    Mock::given(method("POST"))
        .and(path("/client/v4/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": null, "errors": [{"message": "zone '023e105f4ecef8ad9ca31a8372d0c353' does not have permission to access analytics", "path": ["viewer", "zones"], "extensions": {"code": "authz"}}]})))
        .mount(&cf)
        .await;
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .and(query_param("name", "other.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": [], "result_info": {"page": 1, "per_page": 20, "count": 0, "total_count": 0, "total_pages": 0}, "success": true, "errors": [], "messages": []})))
        .mount(&cf)
        .await;
    let c = client(backend(&cf, "rw").await).await;

    let e = error_text(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": ZONE, "type": "TXT"}),
    )
    .await;
    assert!(
        e.contains("HTTP 401")
            && e.contains("10001: Unable to authenticate request")
            && e.contains("CLOUDFLARE_API_TOKEN"),
        "{e}"
    );
    let e = error_text(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": ZONE, "type": "MX"}),
    )
    .await;
    assert!(e.contains("HTTP 429") && e.contains("retry in 30 s"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": ZONE, "type": "NS"}),
    )
    .await;
    assert!(
        e.contains("HTTP 502") && e.contains("502 Bad Gateway") && e.contains("retry"),
        "{e}"
    );
    let e = error_text(&c, "cloudflare_get_zone_settings", json!({"zone": ZONE})).await;
    assert!(
        e.starts_with("permission denied: get settings of zone"),
        "{e}"
    );
    assert!(e.contains("`Zone > Zone Settings > Read`"), "{e}");
    let e = error_text(
        &c,
        "cloudflare_delete_dns_record",
        json!({"zone": ZONE, "record_id": "5e1a9e0c5d5b4a1b8f3e2d1c0b9a8f7e", "dry_run": true}),
    )
    .await;
    assert!(
        e.contains("HTTP 404") && e.contains("Record does not exist"),
        "{e}"
    );
    let e = error_text(
        &c,
        "cloudflare_purge_cache",
        json!({"zone": ZONE, "hosts": ["acme.example"]}),
    )
    .await;
    assert!(
        e.contains("permission denied") && e.contains("`Zone > Cache Purge > Purge`"),
        "{e}"
    );
    let e = error_text(&c, "cloudflare_create_dns_record", json!({"zone": ZONE, "type": "CNAME", "name": "www.acme.example", "content": "acme.example"})).await;
    assert!(
        e.contains("HTTP 400") && e.contains("81057: An identical record already exists."),
        "{e}"
    );
    let e = error_text(&c, "cloudflare_get_zone_analytics", json!({"zone": ZONE})).await;
    assert!(
        e.contains("permission denied") && e.contains("`Zone > Analytics > Read`"),
        "{e}"
    );
    let e = error_text(
        &c,
        "cloudflare_list_dns_records",
        json!({"zone": "other.example"}),
    )
    .await;
    assert!(e.contains("no zone named `other.example`"), "{e}");
}

/// Requests that could change something (anything but GET).
async fn writes(cf: &MockServer) -> usize {
    cf.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .count()
}

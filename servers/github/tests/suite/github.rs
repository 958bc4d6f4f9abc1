//! mcp-github against a wiremock GitHub REST API answering with recorded-shape JSON: every
//! tool over MCP streamable HTTP with an rmcp client, exact requests (method, path, query,
//! token), bounds, the --repos allow-list, and API errors as actionable tool errors.

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TOKEN, backend, client, error_text, get, ok, queries};

fn issue(number: u64, title: &str, pr: bool) -> Value {
    let mut v = json!({
        "url": format!("https://api.github.com/repos/acme/deploy/issues/{number}"),
        "repository_url": "https://api.github.com/repos/acme/deploy",
        "html_url": format!("https://github.com/acme/deploy/issues/{number}"),
        "id": 1000 + number, "node_id": "I_kwDOAbc", "number": number, "title": title,
        "user": {"login": "alice", "id": 1, "type": "User"},
        "labels": [{"id": 1, "name": "incident", "color": "d73a4a", "default": false}],
        "state": "open", "locked": false, "assignees": [{"login": "bob", "id": 2}],
        "comments": 2, "created_at": "2026-11-27T19:00:00Z", "updated_at": "2026-11-27T20:00:00Z",
        "closed_at": null, "author_association": "MEMBER", "body": "payment-service OOMKilled since 19:58"
    });
    if pr {
        v["pull_request"] = json!({"url": "https://api.github.com/repos/acme/deploy/pulls/7"});
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_matches_the_catalog() {
    let gh = MockServer::start().await;
    let catalog: Value =
        serde_json::from_str(include_str!("../../../../policies/tools.json")).unwrap();
    let read: Vec<String> = serde_json::from_value(catalog["github"]["read"].clone()).unwrap();
    let write: Vec<String> = serde_json::from_value(catalog["github"]["write"].clone()).unwrap();
    for access in ["ro", "rw"] {
        let c = client(backend(&gh, &["--access", access]).await).await;
        let tools = c.list_all_tools().await.unwrap();
        let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        let mut expected = read.clone();
        if access == "rw" {
            expected.extend(write.iter().cloned());
        }
        expected.sort();
        assert_eq!(names, expected, "{access}");
        for t in &tools {
            let a = t.annotations.as_ref().expect("annotations");
            let w = write.contains(&t.name.to_string());
            assert_eq!(a.read_only_hint, Some(!w), "{}", t.name);
            assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
            assert!(
                a.idempotent_hint.is_some() && a.open_world_hint.is_some(),
                "{}",
                t.name
            );
            assert!(t.output_schema.is_some(), "{}", t.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_tools_send_exact_bodies_and_dry_runs_send_nothing() {
    let gh = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/deploy/issues"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(wiremock::matchers::body_json(json!({"title": "payment-service OOMKilled", "body": "limit 256Mi is too low", "labels": ["incident"]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue(13, "payment-service OOMKilled", false)))
        .expect(1)
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/deploy/issues/13/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 99, "html_url": "https://github.com/acme/deploy/issues/13#issuecomment-99", "body": "x"})))
        .expect(1)
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &["--access", "rw", "--repos", "acme/*"]).await).await;
    let r = ok(&c, "github_create_issue", json!({"repo": "acme/deploy", "title": "payment-service OOMKilled", "body": "limit 256Mi is too low", "labels": ["incident"], "dry_run": true})).await;
    assert_eq!(r["dry_run"], true);
    assert!(
        gh.received_requests().await.unwrap().is_empty(),
        "a dry run sent a request"
    );
    let r = ok(&c, "github_create_issue", json!({"repo": "acme/deploy", "title": "payment-service OOMKilled", "body": "limit 256Mi is too low", "labels": ["incident"]})).await;
    assert_eq!(r["created"]["number"], 13);
    let r = ok(&c, "github_comment", json!({"repo": "acme/deploy", "number": 13, "body": "rollback started; DB_PASSWORD=hunter2 rotated"})).await;
    assert_eq!(r["created"]["id"], 99);
    let sent = gh.received_requests().await.unwrap();
    let comment: Value = serde_json::from_slice(&sent.last().unwrap().body).unwrap();
    assert!(
        !comment["body"].as_str().unwrap().contains("hunter2"),
        "{comment}"
    );
    let e = error_text(
        &c,
        "github_comment",
        json!({"repo": "other/deploy", "number": 1, "body": "x"}),
    )
    .await;
    assert!(e.contains("allow-list"), "{e}");
    let e = error_text(
        &c,
        "github_create_issue",
        json!({"repo": "acme/deploy", "title": " "}),
    )
    .await;
    assert!(e.contains("invalid argument `title`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_tools_send_exact_requests() {
    let gh = MockServer::start().await;
    let auth = || header("authorization", format!("Bearer {TOKEN}").as_str());
    get("/repos/acme/deploy")
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1, "full_name": "acme/deploy", "private": true, "visibility": "private", "default_branch": "main", "description": "Argo CD manifests", "open_issues_count": 4, "pushed_at": "2026-11-27T19:57:00Z", "updated_at": "2026-11-27T19:57:00Z", "html_url": "https://github.com/acme/deploy", "topics": ["gitops"], "archived": false, "language": null, "owner": {"login": "acme"}})))
        .expect(1)
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/issues")
        .and(auth())
        .respond_with(ResponseTemplate::new(200).insert_header("Link", "<https://api.github.com/repositories/1/issues?state=open&per_page=2&page=2>; rel=\"next\"").set_body_json(json!([issue(12, "payment-service OOM", false), issue(7, "Raise memory", true)])))
        .mount(&gh)
        .await;
    get("/search/issues")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_count": 41, "incomplete_results": false, "items": [issue(12, "payment-service OOM", false)]})))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/issues/12")
        .respond_with(ResponseTemplate::new(200).set_body_json(issue(
            12,
            "payment-service OOM",
            false,
        )))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/issues/12/comments")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "user": {"login": "carol"}, "created_at": "2026-11-27T19:59:00Z", "body": "DB_PASSWORD=hunter2 was in the env dump"}])))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/pulls/7")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"number": 7, "title": "payment-service: memory 512Mi", "state": "open", "draft": false, "user": {"login": "incident-agent"}, "head": {"ref": "mcp/raise-memory", "sha": "abc123"}, "base": {"ref": "main", "sha": "def456"}, "merged": false, "mergeable": true, "additions": 1, "deletions": 1, "changed_files": 1, "commits": 1, "created_at": "2026-11-27T20:05:00Z", "updated_at": "2026-11-27T20:05:00Z", "html_url": "https://github.com/acme/deploy/pull/7", "body": "raise limit"})))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/pulls/7/files")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"sha": "f1", "filename": "apps/payment-service/values.yaml", "status": "modified", "additions": 1, "deletions": 1, "changes": 2, "patch": format!("@@ -10,1 +10,1 @@\n-    memory: 256Mi\n+    memory: 512Mi\n{}", "x".repeat(10_000))}])))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/commits")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"sha": "9f2c1e7", "commit": {"author": {"name": "Alice", "date": "2026-11-27T19:57:00Z"}, "message": "payment-service 2.14.0\n\nbody"}, "author": {"login": "alice"}, "html_url": "https://github.com/acme/deploy/commit/9f2c1e7"}])))
        .mount(&gh)
        .await;
    let content = base64::engine::general_purpose::STANDARD
        .encode("resources:\n  limits:\n    memory: 256Mi\n");
    get("/repos/acme/deploy/contents/apps/payment-service/values.yaml")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"type": "file", "encoding": "base64", "size": 38, "name": "values.yaml", "path": "apps/payment-service/values.yaml", "sha": "3d21ec5", "html_url": "https://github.com/acme/deploy/blob/main/apps/payment-service/values.yaml", "content": format!("{}\n", content)})))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/actions/runs")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_count": 1, "workflow_runs": [{"id": 30433642, "name": "Build", "head_branch": "main", "head_sha": "9f2c1e7", "event": "push", "status": "completed", "conclusion": "failure", "run_number": 562, "run_attempt": 1, "created_at": "2026-11-27T19:50:00Z", "updated_at": "2026-11-27T19:55:00Z", "html_url": "https://github.com/acme/deploy/actions/runs/30433642"}]})))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/actions/runs/30433642")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 30433642, "name": "Build", "head_branch": "main", "head_sha": "9f2c1e7", "event": "push", "status": "completed", "conclusion": "failure", "run_attempt": 1})))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/actions/runs/30433642/jobs")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_count": 2, "jobs": [
            {"id": 399444496, "run_id": 30433642, "name": "lint", "status": "completed", "conclusion": "success", "steps": [{"name": "Run lint", "status": "completed", "conclusion": "success", "number": 1}]},
            {"id": 399444497, "run_id": 30433642, "name": "test", "status": "completed", "conclusion": "failure", "started_at": "2026-11-27T19:51:00Z", "completed_at": "2026-11-27T19:54:00Z", "steps": [{"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1}, {"name": "cargo test", "status": "completed", "conclusion": "failure", "number": 2}]}
        ]})))
        .mount(&gh)
        .await;
    let log: String = (1..=300)
        .map(|i| format!("2026-11-27T19:53:{:02}Z line {i}\n", i % 60))
        .collect::<String>()
        + "error: test failed, token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n";
    get("/repos/acme/deploy/actions/jobs/399444497/logs")
        .respond_with(ResponseTemplate::new(200).set_body_string(log))
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &["--repos", "acme/deploy,infra/*"]).await).await;

    let r = ok(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
    assert_eq!(r["data"]["default_branch"], "main");

    let r = ok(
        &c,
        "github_list_issues",
        json!({"repo": "acme/deploy", "limit": 2, "labels": "incident"}),
    )
    .await;
    let items = r["items"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "pull requests are left out: {r}");
    assert_eq!(items[0]["labels"], json!(["incident"]));
    assert_eq!(items[0]["user_login"], "alice");
    assert_eq!(r["items"]["next_cursor"], "2");
    assert_eq!(
        queries(&gh, "/repos/acme/deploy/issues").await,
        ["state=open&labels=incident&per_page=2&page=1"]
    );

    let r = ok(
        &c,
        "github_search_issues",
        json!({"query": "is:open OOMKilled", "repo": "acme/deploy", "limit": 5}),
    )
    .await;
    assert_eq!(r["items"]["total"], 41);
    assert_eq!(r["items"]["truncated"], true);
    assert_eq!(r["items"]["items"][0]["repo"], "acme/deploy");
    assert_eq!(
        queries(&gh, "/search/issues").await,
        ["q=is%3Aopen+OOMKilled+repo%3Aacme%2Fdeploy&per_page=5"]
    );

    let r = ok(
        &c,
        "github_get_issue",
        json!({"repo": "acme/deploy", "number": 12}),
    )
    .await;
    assert_eq!(r["data"]["body"], "payment-service OOMKilled since 19:58");
    assert_eq!(
        r["data"]["comments_shown"]["items"][0]["user_login"],
        "carol"
    );
    assert!(!r.to_string().contains("hunter2"), "{r}");

    let r = ok(
        &c,
        "github_get_pull",
        json!({"repo": "acme/deploy", "number": 7}),
    )
    .await;
    assert_eq!(r["data"]["head_ref"], "mcp/raise-memory");
    let patch = r["data"]["files"]["items"][0]["patch"].as_str().unwrap();
    assert!(
        patch.contains("+    memory: 512Mi") && patch.ends_with("…[cut]") && patch.len() < 5000
    );

    let r = ok(
        &c,
        "github_list_commits",
        json!({"repo": "acme/deploy", "path": "apps/payment-service", "limit": 10}),
    )
    .await;
    assert_eq!(r["items"]["items"][0]["message"], "payment-service 2.14.0");
    assert_eq!(r["items"]["truncated"], false);
    assert_eq!(
        queries(&gh, "/repos/acme/deploy/commits").await,
        ["path=apps%2Fpayment-service&per_page=10&page=1"]
    );

    let r = ok(
        &c,
        "github_get_file",
        json!({"repo": "acme/deploy", "path": "apps/payment-service/values.yaml"}),
    )
    .await;
    assert_eq!(
        r["data"]["content"],
        "resources:\n  limits:\n    memory: 256Mi\n"
    );
    assert_eq!(r["data"]["truncated"], false);

    let r = ok(
        &c,
        "github_list_workflow_runs",
        json!({"repo": "acme/deploy", "status": "failure"}),
    )
    .await;
    assert_eq!(r["items"]["items"][0]["id"], 30433642);
    assert_eq!(
        queries(&gh, "/repos/acme/deploy/actions/runs").await,
        ["status=failure&per_page=20&page=1"]
    );

    let r = ok(
        &c,
        "github_get_workflow_run",
        json!({"repo": "acme/deploy", "run_id": 30433642, "tail_lines": 20}),
    )
    .await;
    let jobs = r["data"]["jobs"]["items"].as_array().unwrap();
    assert_eq!(
        jobs[1]["failed_steps"],
        json!([{"number": 2, "name": "cargo test"}])
    );
    let log = &r["data"]["failed_job_log"];
    assert_eq!(log["job_id"], 399444497);
    assert_eq!(log["truncated"], true);
    let tail = log["tail"].as_str().unwrap();
    assert_eq!(tail.lines().count(), 20);
    assert!(
        tail.contains("error: test failed") && !tail.contains("ghp_abcdefghij"),
        "{tail}"
    );

    // The allow-list: nothing is sent for other repositories.
    let before = gh.received_requests().await.unwrap().len();
    let e = error_text(&c, "github_get_repo", json!({"repo": "other/secret"})).await;
    assert!(
        e.contains("not on this deployment's repository allow-list"),
        "{e}"
    );
    let e = error_text(&c, "github_search_issues", json!({"query": "OOM"})).await;
    assert!(e.contains("invalid argument `repo`"), "{e}");
    let e = error_text(
        &c,
        "github_get_file",
        json!({"repo": "acme/deploy", "path": "../../etc"}),
    )
    .await;
    assert!(e.contains("invalid argument `path`"), "{e}");
    let e = error_text(&c, "github_get_repo", json!({"repo": "acme"})).await;
    assert!(e.contains("invalid argument `repo`"), "{e}");
    assert_eq!(gh.received_requests().await.unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_actionable() {
    let gh = MockServer::start().await;
    let doc = "https://docs.github.com/rest";
    let err = |m: &str| json!({"message": m, "documentation_url": doc, "status": "x"});
    get("/repos/acme/expired")
        .respond_with(ResponseTemplate::new(401).set_body_json(err("Bad credentials")))
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/actions/runs")
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(err("Resource not accessible by personal access token")),
        )
        .mount(&gh)
        .await;
    get("/repos/acme/deploy/issues")
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .set_body_json(err("API rate limit exceeded for user ID 1.")),
        )
        .mount(&gh)
        .await;
    get("/repos/acme/gone")
        .respond_with(ResponseTemplate::new(404).set_body_json(err("Not Found")))
        .mount(&gh)
        .await;
    get("/repos/acme/broken")
        .respond_with(ResponseTemplate::new(503).set_body_json(err("Service Unavailable")))
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &[]).await).await;

    let e = error_text(&c, "github_get_repo", json!({"repo": "acme/expired"})).await;
    assert!(
        e.contains("HTTP 401") && e.contains("Bad credentials") && e.contains("GITHUB_TOKEN"),
        "{e}"
    );
    let e = error_text(
        &c,
        "github_list_workflow_runs",
        json!({"repo": "acme/deploy"}),
    )
    .await;
    assert!(
        e.starts_with("permission denied: list workflow runs of acme/deploy"),
        "{e}"
    );
    assert!(e.contains("`Actions: read`"), "{e}");
    let e = error_text(&c, "github_list_issues", json!({"repo": "acme/deploy"})).await;
    assert!(
        e.contains("rate-limited") && e.contains("rate limit"),
        "{e}"
    );
    let e = error_text(&c, "github_get_repo", json!({"repo": "acme/gone"})).await;
    assert!(
        e.contains("HTTP 404") && e.contains("`Metadata: read`"),
        "{e}"
    );
    let e = error_text(&c, "github_get_repo", json!({"repo": "acme/broken"})).await;
    assert!(e.contains("HTTP 503") && e.contains("retry"), "{e}");
}

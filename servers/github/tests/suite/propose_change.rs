//! `github_propose_change` against a wiremock GitOps repository (Argo CD manifests): the
//! incident demo's dry run raising `resources.limits.memory` from 512Mi to 1Gi (diffs, and not
//! one write request), the real run (the exact Git Data API sequence and bodies), refusals,
//! and API errors.

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string_contains, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{backend, client, error_text, get, ok, post, sequence};

const BASE_SHA: &str = "aa218f56b14c9653891f9e74264a383fa43fefbd";
const ROOT_TREE: &str = "691272480426f78a0138979dd3ce63b77f706feb";
const APPS_TREE: &str = "7c258a9869f33c1e1e1f74fbb32f07c86cb5a75b";
const SVC_TREE: &str = "f484d249c660418515fb01c2b9662073663c242e";
const DEPLOY_BLOB: &str = "95b966ae1c166bd92f8ae7d1c313e738c731dfc3";
const SMOKE_BLOB: &str = "3d21ec53a331a6f037a91c368710b99387d012c1";
const LOGO_BLOB: &str = "8b137891791fe96927ad78e64b0aad7bded08bdc";
/// Not UTF-8: the start of a PNG.
const LOGO: &[u8] = &[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe];
const NEW_BLOB_1: &str = "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15";
const NEW_BLOB_2: &str = "5c3a1d1e8d2b0e1f4a7b6c9d8e7f6a5b4c3d2e1f";
const NEW_TREE: &str = "cd8274d15fa3ae2ab983129fb037999f264ba9a7";
const NEW_COMMIT: &str = "7638417db6d59f3c431d3e1f261cc637155684cd";

/// The payment-service Deployment in the GitOps repository, as committed.
const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
  namespace: production
spec:
  replicas: 3
  selector:
    matchLabels:
      app: payment-service
  template:
    metadata:
      labels:
        app: payment-service
    spec:
      containers:
        - name: payment-service
          image: ghcr.io/acme/payment-service:2.14.0
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: payment-db
                  key: password
          resources:
            requests:
              cpu: 250m
              memory: 384Mi
            limits:
              memory: 512Mi
";

const SMOKE: &str = "#!/bin/sh\ncurl -fsS http://payment-service/healthz\n";

/// What an agent sends after reading the file with github_get_file (which shows the
/// secretKeyRef `key:` line redacted) and raising the limit.
fn edited_as_the_agent_saw_it() -> String {
    let shown = mcp_common::redact::redact_text(DEPLOYMENT).expect("get_file redacts a line");
    assert!(shown.contains("key: [REDACTED]"), "{shown}");
    shown.replace("              memory: 512Mi", "              memory: 1Gi")
}

fn not_found(doc: &str) -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({"message": "Not Found", "documentation_url": doc, "status": "404"}))
}

fn blob(sha: &str, text: impl AsRef<[u8]>) -> Value {
    let text = text.as_ref();
    // GitHub wraps base64 content at 60 characters.
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    let wrapped: Vec<String> = b64
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    json!({"sha": sha, "node_id": "B_kwDOAbc", "size": text.len(), "url": format!("https://api.github.com/repos/acme/deploy/git/blobs/{sha}"), "content": wrapped.join("\n") + "\n", "encoding": "base64"})
}

fn tree(sha: &str, entries: Value) -> Value {
    json!({"sha": sha, "url": format!("https://api.github.com/repos/acme/deploy/git/trees/{sha}"), "tree": entries, "truncated": false})
}

fn entry(p: &str, mode: &str, kind: &str, sha: &str, size: Option<usize>) -> Value {
    let mut e = json!({"path": p, "mode": mode, "type": kind, "sha": sha, "url": format!("https://api.github.com/repos/acme/deploy/git/{kind}s/{sha}")});
    if let Some(s) = size {
        e["size"] = json!(s);
    }
    e
}

/// The read side of `repo` (`acme/<name>`): repository, main at BASE_SHA, the base commit,
/// the trees down to apps/payment-service and its two files; every other branch is 404.
async fn mount_base(gh: &MockServer, repo: &str) {
    let r = format!("/repos/{repo}");
    get(&r)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1296269, "full_name": repo, "private": true, "default_branch": "main", "owner": {"login": "acme"}, "html_url": format!("https://github.com/{repo}")})))
        .mount(gh)
        .await;
    get(&format!("{r}/git/ref/heads/main"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ref": "refs/heads/main", "node_id": "MDM6UmVmcmVmcy9oZWFkcy9tYWlu", "url": format!("https://api.github.com{r}/git/refs/heads/main"), "object": {"type": "commit", "sha": BASE_SHA, "url": format!("https://api.github.com{r}/git/commits/{BASE_SHA}")}})))
        .mount(gh)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{r}/git/ref/heads/.+$")))
        .respond_with(not_found(
            "https://docs.github.com/rest/git/refs#get-a-reference",
        ))
        .with_priority(10)
        .mount(gh)
        .await;
    get(&format!("{r}/git/commits/{BASE_SHA}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": BASE_SHA, "node_id": "C_kwDOAbc", "url": format!("https://api.github.com{r}/git/commits/{BASE_SHA}"),
            "html_url": format!("https://github.com/{repo}/commit/{BASE_SHA}"),
            "author": {"date": "2026-11-27T19:57:00Z", "name": "Alice", "email": "alice@acme.example"},
            "committer": {"date": "2026-11-27T19:57:00Z", "name": "GitHub", "email": "noreply@github.com"},
            "message": "payment-service 2.14.0",
            "tree": {"url": format!("https://api.github.com{r}/git/trees/{ROOT_TREE}"), "sha": ROOT_TREE},
            "parents": [{"url": "https://api.github.com/x", "sha": "9f2c1e7aa218f56b14c9653891f9e74264a383fa", "html_url": "https://github.com/x"}],
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
        })))
        .mount(gh)
        .await;
    get(&format!("{r}/git/trees/{ROOT_TREE}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tree(
            ROOT_TREE,
            json!([
                entry(
                    "README.md",
                    "100644",
                    "blob",
                    "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
                    Some(30)
                ),
                entry("apps", "040000", "tree", APPS_TREE, None),
            ]),
        )))
        .mount(gh)
        .await;
    get(&format!("{r}/git/trees/{APPS_TREE}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tree(
            APPS_TREE,
            json!([entry("payment-service", "040000", "tree", SVC_TREE, None)]),
        )))
        .mount(gh)
        .await;
    get(&format!("{r}/git/trees/{SVC_TREE}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tree(
            SVC_TREE,
            json!([
                entry(
                    "deployment.yaml",
                    "100644",
                    "blob",
                    DEPLOY_BLOB,
                    Some(DEPLOYMENT.len())
                ),
                entry(
                    "smoke-test.sh",
                    "100755",
                    "blob",
                    SMOKE_BLOB,
                    Some(SMOKE.len())
                ),
                entry(
                    "current",
                    "120000",
                    "blob",
                    "1111111111111111111111111111111111111111",
                    Some(15)
                ),
                entry("logo.png", "100644", "blob", LOGO_BLOB, Some(LOGO.len())),
            ]),
        )))
        .mount(gh)
        .await;
    get(&format!("{r}/git/blobs/{DEPLOY_BLOB}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(blob(DEPLOY_BLOB, DEPLOYMENT)))
        .mount(gh)
        .await;
    get(&format!("{r}/git/blobs/{SMOKE_BLOB}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(blob(SMOKE_BLOB, SMOKE)))
        .mount(gh)
        .await;
    get(&format!("{r}/git/blobs/{LOGO_BLOB}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(blob(LOGO_BLOB, LOGO)))
        .mount(gh)
        .await;
}

/// Any write request: the dry run and refusals must not send one.
async fn no_writes(gh: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("no write request")
        .mount(gh)
        .await;
}

const TITLE: &str = "payment-service: raise memory limit to 1Gi";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_returns_diffs_and_writes_nothing() {
    let gh = MockServer::start().await;
    mount_base(&gh, "acme/deploy").await;
    no_writes(&gh).await;
    let c = client(backend(&gh, &["--access", "rw", "--repos", "acme/deploy"]).await).await;
    // The incident demo's call: no `dry_run` (it defaults to true), no base, no branch.
    let args = json!({
        "repo": "acme/deploy",
        "title": TITLE,
        "body": "payment-service was OOMKilled at 512Mi (incident 2026-11-27).",
        "changes": [
            {"path": "apps/payment-service/deployment.yaml", "content": edited_as_the_agent_saw_it()},
            {"path": "apps/payment-service/NOTES.md", "content": "Memory limit raised to 1Gi after OOMKills.\n"}
        ]
    });
    let r = ok(&c, "github_propose_change", args.clone()).await;
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["base"], "main");
    assert_eq!(r["base_sha"], BASE_SHA);
    let branch = r["branch"].as_str().unwrap().to_owned();
    assert!(
        branch.starts_with("mcp/payment-service-raise-memory-limit-to-")
            && branch.len() == "mcp/payment-service-raise-memory-limit-to-".len() + 7,
        "{branch}"
    );
    assert_eq!(r["commit_message"], TITLE);
    assert!(r.get("pull_request").is_none() && r.get("commit_sha").is_none());
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("dry run: nothing was written"),
        "{r}"
    );

    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], "apps/payment-service/deployment.yaml");
    assert_eq!(files[0]["action"], "update");
    assert_eq!(
        (
            files[0]["additions"].as_u64(),
            files[0]["deletions"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(files[0]["truncated"], false);
    let expected = [
        "--- a/apps/payment-service/deployment.yaml",
        "+++ b/apps/payment-service/deployment.yaml",
        "@@ -27,4 +27,4 @@",
        "               cpu: 250m",
        "               memory: 384Mi",
        "             limits:",
        "-              memory: 512Mi",
        "+              memory: 1Gi",
        "",
    ];
    assert_eq!(files[0]["diff"], expected.join("\n"));
    assert_eq!(files[1]["action"], "create");
    assert_eq!(
        files[1]["diff"],
        "--- /dev/null\n+++ b/apps/payment-service/NOTES.md\n@@ -0,0 +1 @@\n+Memory limit raised to 1Gi after OOMKills.\n"
    );

    // Only reads, in this order (the trees are read once).
    assert_eq!(
        sequence(&gh).await,
        [
            "GET /repos/acme/deploy".to_owned(),
            "GET /repos/acme/deploy/git/ref/heads/main".to_owned(),
            format!("GET /repos/acme/deploy/git/ref/heads/{branch}"),
            format!("GET /repos/acme/deploy/git/commits/{BASE_SHA}"),
            format!("GET /repos/acme/deploy/git/trees/{ROOT_TREE}"),
            format!("GET /repos/acme/deploy/git/trees/{APPS_TREE}"),
            format!("GET /repos/acme/deploy/git/trees/{SVC_TREE}"),
            format!("GET /repos/acme/deploy/git/blobs/{DEPLOY_BLOB}"),
        ]
    );
    // The same change names the same branch (so the real run matches the dry run).
    let again = ok(&c, "github_propose_change", args).await;
    assert_eq!(again["branch"], branch.as_str());
    gh.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_run_creates_branch_commit_and_pull_request() {
    let gh = MockServer::start().await;
    mount_base(&gh, "acme/deploy").await;
    let r = "/repos/acme/deploy";
    // The committed deployment keeps the real secretKeyRef key, not the placeholder.
    let committed = DEPLOYMENT.replace("              memory: 512Mi", "              memory: 1Gi");
    post(&format!("{r}/git/blobs"))
        .and(body_json(json!({"content": committed, "encoding": "utf-8"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"url": format!("https://api.github.com{r}/git/blobs/{NEW_BLOB_1}"), "sha": NEW_BLOB_1})))
        .expect(1)
        .mount(&gh)
        .await;
    post(&format!("{r}/git/blobs"))
        .and(body_string_contains("OOMKills"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"url": format!("https://api.github.com{r}/git/blobs/{NEW_BLOB_2}"), "sha": NEW_BLOB_2})))
        .expect(1)
        .mount(&gh)
        .await;
    post(&format!("{r}/git/trees"))
        .respond_with(ResponseTemplate::new(201).set_body_json(tree(NEW_TREE, json!([]))))
        .expect(1)
        .mount(&gh)
        .await;
    post(&format!("{r}/git/commits"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sha": NEW_COMMIT, "node_id": "C_kwDOAbd", "url": format!("https://api.github.com{r}/git/commits/{NEW_COMMIT}"), "html_url": format!("https://github.com/acme/deploy/commit/{NEW_COMMIT}"), "message": TITLE, "tree": {"sha": NEW_TREE, "url": "https://api.github.com/x"}, "parents": [{"sha": BASE_SHA, "url": "https://api.github.com/x", "html_url": "https://github.com/x"}], "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}})))
        .expect(1)
        .mount(&gh)
        .await;
    post(&format!("{r}/git/refs"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"ref": "refs/heads/x", "node_id": "MDM6UmVm", "url": "https://api.github.com/x", "object": {"type": "commit", "sha": NEW_COMMIT, "url": "https://api.github.com/x"}})))
        .expect(1)
        .mount(&gh)
        .await;
    post(&format!("{r}/pulls"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "url": "https://api.github.com/repos/acme/deploy/pulls/42", "id": 1, "node_id": "PR_kwDOAbc",
            "html_url": "https://github.com/acme/deploy/pull/42", "number": 42, "state": "open", "locked": false,
            "title": TITLE, "user": {"login": "mcp-gateway[bot]", "type": "Bot"}, "body": "x",
            "head": {"ref": "x", "sha": NEW_COMMIT}, "base": {"ref": "main", "sha": BASE_SHA},
            "draft": true, "merged": false, "mergeable": null, "created_at": "2026-11-27T20:05:00Z"
        })))
        .expect(1)
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &["--access", "rw", "--repos", "acme/*"]).await).await;
    let out = ok(
        &c,
        "github_propose_change",
        json!({
            "repo": "acme/deploy",
            "base": "main",
            "title": TITLE,
            "body": "OOMKilled at 512Mi; token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 must not reach GitHub",
            "commit_message": "payment-service: memory limit 512Mi -> 1Gi\n\nOOMKilled during the 2026-11-27 incident.",
            "changes": [
                {"path": "apps/payment-service/deployment.yaml", "content": edited_as_the_agent_saw_it()},
                {"path": "apps/payment-service/smoke-test.sh", "delete": true},
                {"path": "apps/payment-service/NOTES.md", "content": "Memory limit raised to 1Gi after OOMKills.\n"}
            ],
            "draft": true,
            "dry_run": false
        }),
    )
    .await;
    let branch = out["branch"].as_str().unwrap().to_owned();
    assert!(
        branch.starts_with("mcp/payment-service-raise-memory-limit-to-"),
        "{branch}"
    );
    assert_eq!(out["dry_run"], false);
    assert_eq!(out["commit_sha"], NEW_COMMIT);
    assert_eq!(
        out["pull_request"],
        json!({"number": 42, "html_url": "https://github.com/acme/deploy/pull/42"})
    );
    let actions: Vec<&str> = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update", "delete", "create"]);
    assert!(
        out["files"][1]["diff"]
            .as_str()
            .unwrap()
            .contains("-curl -fsS"),
        "{out}"
    );

    // The exact sequence: reads (no GET /repos: the base was given), then the Git Data writes.
    let sent = gh.received_requests().await.unwrap();
    let seq: Vec<String> = sent
        .iter()
        .map(|q| format!("{} {}", q.method, q.url.path()))
        .collect();
    assert_eq!(
        seq,
        [
            format!("GET {r}/git/ref/heads/main"),
            format!("GET {r}/git/ref/heads/{branch}"),
            format!("GET {r}/git/commits/{BASE_SHA}"),
            format!("GET {r}/git/trees/{ROOT_TREE}"),
            format!("GET {r}/git/trees/{APPS_TREE}"),
            format!("GET {r}/git/trees/{SVC_TREE}"),
            format!("GET {r}/git/blobs/{DEPLOY_BLOB}"),
            format!("GET {r}/git/blobs/{SMOKE_BLOB}"),
            format!("POST {r}/git/blobs"),
            format!("POST {r}/git/blobs"),
            format!("POST {r}/git/trees"),
            format!("POST {r}/git/commits"),
            format!("POST {r}/git/refs"),
            format!("POST {r}/pulls"),
        ]
    );
    let body = |i: usize| -> Value { serde_json::from_slice(&sent[i].body).unwrap() };
    assert_eq!(
        body(9),
        json!({"content": "Memory limit raised to 1Gi after OOMKills.\n", "encoding": "utf-8"})
    );
    // The deleted script keeps its mode (100755) in the delete entry; sha null deletes.
    assert_eq!(
        body(10),
        json!({"base_tree": ROOT_TREE, "tree": [
            {"path": "apps/payment-service/deployment.yaml", "mode": "100644", "type": "blob", "sha": NEW_BLOB_1},
            {"path": "apps/payment-service/smoke-test.sh", "mode": "100755", "type": "blob", "sha": null},
            {"path": "apps/payment-service/NOTES.md", "mode": "100644", "type": "blob", "sha": NEW_BLOB_2}
        ]})
    );
    assert_eq!(
        body(11),
        json!({"message": "payment-service: memory limit 512Mi -> 1Gi\n\nOOMKilled during the 2026-11-27 incident.", "tree": NEW_TREE, "parents": [BASE_SHA]})
    );
    assert_eq!(
        body(12),
        json!({"ref": format!("refs/heads/{branch}"), "sha": NEW_COMMIT})
    );
    let pr = body(13);
    assert_eq!(pr["title"], TITLE);
    assert_eq!(pr["head"], branch.as_str());
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["draft"], true);
    let pr_body = pr["body"].as_str().unwrap();
    assert!(
        pr_body.starts_with("OOMKilled at 512Mi") && !pr_body.contains("ghp_abcdef"),
        "{pr_body}"
    );
    gh.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_write_nothing() {
    let gh = MockServer::start().await;
    mount_base(&gh, "acme/deploy").await;
    get("/repos/acme/deploy/git/ref/heads/mcp/already-there")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ref": "refs/heads/mcp/already-there", "node_id": "x", "url": "https://api.github.com/x", "object": {"type": "commit", "sha": "0123456789abcdef0123456789abcdef01234567", "url": "https://api.github.com/x"}})))
        .mount(&gh)
        .await;
    no_writes(&gh).await;
    let c = client(backend(&gh, &["--access", "rw", "--repos", "acme/deploy"]).await).await;
    let deploy = "apps/payment-service/deployment.yaml";
    let raised = DEPLOYMENT.replace("memory: 512Mi", "memory: 1Gi");
    let call = |changes: Value| json!({"repo": "acme/deploy", "base": "main", "title": TITLE, "changes": changes, "dry_run": false});

    // Refused before any request.
    let before = gh.received_requests().await.unwrap().len();
    for (changes, expect) in [
        (
            json!([{"path": "../secrets.yaml", "content": "x"}]),
            "without `.`, `..`",
        ),
        (
            json!([{"path": "/etc/passwd", "content": "x"}]),
            "absolute paths are refused",
        ),
        (
            json!([{"path": "apps/../../x", "content": "x"}]),
            "without `.`, `..`",
        ),
        (
            json!([{"path": ".git/hooks/pre-commit", "content": "x"}]),
            "`.git`",
        ),
        (json!([]), "give 1 to 20 file changes"),
        (json!([{"path": deploy}]), "empty change"),
        (
            json!([{"path": deploy, "content": ""}]),
            "the new content is empty",
        ),
        (
            json!([{"path": deploy, "content": "x", "delete": true}]),
            "not both",
        ),
        (
            json!([{"path": deploy, "content": "a"}, {"path": deploy, "content": "b"}]),
            "appears twice",
        ),
        (
            json!([{"path": deploy, "content": "x".repeat(256 * 1024 + 1)}]),
            "at most 262144 bytes per file",
        ),
        (
            Value::Array(
                (0..21)
                    .map(|i| json!({"path": format!("f{i}.yaml"), "content": "x"}))
                    .collect(),
            ),
            "give 1 to 20 file changes",
        ),
    ] {
        let e = error_text(&c, "github_propose_change", call(changes.clone())).await;
        assert!(
            e.contains("invalid argument") && e.contains(expect),
            "{changes}: {e}"
        );
    }
    let e = error_text(&c, "github_propose_change", json!({"repo": "other/deploy", "title": TITLE, "changes": [{"path": deploy, "content": raised}]})).await;
    assert!(e.contains("allow-list"), "{e}");
    let e = error_text(&c, "github_propose_change", json!({"repo": "acme/deploy", "title": TITLE, "branch": "bad..name", "changes": [{"path": deploy, "content": raised}]})).await;
    assert!(e.contains("invalid argument `branch`"), "{e}");
    let e = error_text(&c, "github_propose_change", json!({"repo": "acme/deploy", "title": TITLE, "base": "main", "branch": "main", "changes": [{"path": deploy, "content": raised}]})).await;
    assert!(e.contains("must differ from the base"), "{e}");
    assert_eq!(gh.received_requests().await.unwrap().len(), before);

    // Refused after reading the base.
    let e = error_text(&c, "github_propose_change", json!({"repo": "acme/deploy", "title": TITLE, "branch": "mcp/already-there", "changes": [{"path": deploy, "content": raised}], "dry_run": false})).await;
    assert!(
        e.contains("refused: the branch `mcp/already-there` already exists"),
        "{e}"
    );
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": deploy, "content": DEPLOYMENT}])),
    )
    .await;
    assert!(e.contains("no-op"), "{e}");
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": "apps/payment-service/hpa.yaml", "delete": true}])),
    )
    .await;
    assert!(e.contains("does not exist at main"), "{e}");
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": "apps/payment-service", "content": "x"}])),
    )
    .await;
    assert!(e.contains("is a directory"), "{e}");
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": "apps/payment-service/current", "content": "x"}])),
    )
    .await;
    assert!(e.contains("symbolic link"), "{e}");
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": "apps/payment-service/logo.png", "content": "x"}])),
    )
    .await;
    assert!(
        e.contains("is binary") && e.contains("edits text files"),
        "{e}"
    );
    // A binary file can be deleted (a dry run: the answer says there is no text diff).
    let r = ok(
        &c,
        "github_propose_change",
        json!({"repo": "acme/deploy", "base": "main", "title": "drop the logo",
               "changes": [{"path": "apps/payment-service/logo.png", "delete": true}]}),
    )
    .await;
    assert_eq!(r["files"][0]["action"], "delete");
    assert_eq!(
        r["files"][0]["diff"],
        "apps/payment-service/logo.png is deleted (binary, or larger than 1048576 bytes: no text diff)\n"
    );
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": "README.md/x", "content": "x"}])),
    )
    .await;
    assert!(e.contains("`README.md` is a file"), "{e}");
    let e = error_text(&c, "github_propose_change", json!({"repo": "acme/deploy", "title": TITLE, "base": "release", "changes": [{"path": deploy, "content": raised}]})).await;
    assert!(
        e.contains("invalid argument `base`") && e.contains("does not exist"),
        "{e}"
    );
    // A placeholder on a changed line would destroy the real value.
    let placeholder = edited_as_the_agent_saw_it().replace("key: [REDACTED]", "key: [REDACTED]2");
    let e = error_text(
        &c,
        "github_propose_change",
        call(json!([{"path": deploy, "content": placeholder}])),
    )
    .await;
    assert!(e.contains("[REDACTED]") && e.contains("line 24"), "{e}");
    gh.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_tool_only_in_rw() {
    let gh = MockServer::start().await;
    for (access, registered) in [("ro", false), ("rw", true)] {
        let c = client(backend(&gh, &["--access", access]).await).await;
        let tools = c.list_all_tools().await.unwrap();
        assert_eq!(
            tools.iter().any(|t| t.name == "github_propose_change"),
            registered,
            "{access}"
        );
        if registered {
            let t = tools
                .iter()
                .find(|t| t.name == "github_propose_change")
                .unwrap();
            let props = &t.input_schema["properties"];
            for p in [
                "repo",
                "title",
                "body",
                "commit_message",
                "base",
                "branch",
                "changes",
                "draft",
                "dry_run",
            ] {
                assert!(props.get(p).is_some(), "{p}: {props}");
            }
            assert_eq!(props["dry_run"]["default"], true);
        } else {
            let e = c
                .call_tool(
                    rmcp::model::CallToolRequestParams::new("github_propose_change")
                        .with_arguments(
                            json!({"repo": "acme/deploy", "title": "x", "changes": []})
                                .as_object()
                                .cloned()
                                .unwrap(),
                        ),
                )
                .await;
            assert!(
                e.is_err() || e.as_ref().unwrap().is_error == Some(true),
                "ro must not run github_propose_change: {e:?}"
            );
        }
    }
    assert!(gh.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_actionable() {
    let gh = MockServer::start().await;
    for repo in ["acme/no-contents", "acme/race", "acme/no-pulls"] {
        mount_base(&gh, repo).await;
    }
    let gh_err = |status: u16, msg: &str, doc: &str| {
        ResponseTemplate::new(status).set_body_json(
            json!({"message": msg, "documentation_url": doc, "status": status.to_string()}),
        )
    };
    // A read-only token: GitHub answers 403 to the first write.
    post("/repos/acme/no-contents/git/blobs")
        .respond_with(gh_err(
            403,
            "Resource not accessible by personal access token",
            "https://docs.github.com/rest/git/blobs#create-a-blob",
        ))
        .mount(&gh)
        .await;
    // Someone created the branch between the check and the write.
    for repo in ["acme/race", "acme/no-pulls"] {
        post(&format!("/repos/{repo}/git/blobs"))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"sha": NEW_BLOB_1, "url": "https://api.github.com/x"})),
            )
            .mount(&gh)
            .await;
        post(&format!("/repos/{repo}/git/trees"))
            .respond_with(ResponseTemplate::new(201).set_body_json(tree(NEW_TREE, json!([]))))
            .mount(&gh)
            .await;
        post(&format!("/repos/{repo}/git/commits"))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"sha": NEW_COMMIT, "tree": {"sha": NEW_TREE}})),
            )
            .mount(&gh)
            .await;
    }
    post("/repos/acme/race/git/refs")
        .respond_with(gh_err(
            422,
            "Reference already exists",
            "https://docs.github.com/rest/git/refs#create-a-reference",
        ))
        .mount(&gh)
        .await;
    post("/repos/acme/no-pulls/git/refs")
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"ref": "refs/heads/x", "object": {"sha": NEW_COMMIT, "type": "commit"}}),
        ))
        .mount(&gh)
        .await;
    post("/repos/acme/no-pulls/pulls")
        .respond_with(gh_err(
            403,
            "Resource not accessible by integration",
            "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        ))
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &["--access", "rw", "--repos", "acme/*"]).await).await;
    let call = |repo: &str| {
        json!({"repo": repo, "title": TITLE, "branch": "mcp/raise-memory", "dry_run": false,
               "changes": [{"path": "apps/payment-service/deployment.yaml", "content": DEPLOYMENT.replace("512Mi", "1Gi")}]})
    };
    let e = error_text(&c, "github_propose_change", call("acme/no-contents")).await;
    assert!(
        e.starts_with("permission denied: create a blob for apps/payment-service/deployment.yaml in acme/no-contents")
            && e.contains("`Contents: read and write`"),
        "{e}"
    );
    let e = error_text(&c, "github_propose_change", call("acme/race")).await;
    assert!(
        e.contains("refused: the branch `mcp/raise-memory` was created")
            && e.contains("give another `branch`"),
        "{e}"
    );
    let e = error_text(&c, "github_propose_change", call("acme/no-pulls")).await;
    assert!(
        e.starts_with("permission denied: open a pull request from mcp/raise-memory into main in acme/no-pulls")
            && e.contains("`Pull requests: read and write`")
            && e.contains(&format!("the branch `mcp/raise-memory` with commit {NEW_COMMIT} was created")),
        "{e}"
    );
}

//! GitHub App installation auth: the App's JWT (RS256, `iss` = App id, signed with a key made
//! at test time) mints an installation token at `/app/installations/{id}/access_tokens`, API
//! calls carry that token, it is cached until shortly before it expires and then renewed, and
//! without `--installation-id` the installation of the allow-listed owner is looked up.

use std::sync::OnceLock;

use clap::Parser;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header};
use wiremock::{MockServer, Request, ResponseTemplate};

use crate::support::{client, get, ok, post, serve};

const APP_ID: u64 = 123456;
const INSTALLATION_TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

/// A throwaway 2048-bit RSA key (private PEM in PKCS#1 form, as GitHub hands it out; public
/// PEM to verify), made once per test run. Test-only: it signs nothing but these tests.
fn test_key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key");
        let private = key.to_pkcs1_pem(LineEnding::LF).expect("pem").to_string();
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("public pem");
        (private, public)
    })
}

fn key_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &test_key().0).unwrap();
    f
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Verifies the bearer token of `r` as the App's JWT: RS256, signed by the test key,
/// `iss` = the App id, issued in the past, expiring within GitHub's 10 minutes.
fn assert_app_jwt(r: &Request) {
    let auth = r
        .headers
        .get("authorization")
        .expect("authorization header")
        .to_str()
        .unwrap();
    let jwt = auth.strip_prefix("Bearer ").expect("bearer");
    let h = jsonwebtoken::decode_header(jwt).expect("JWT header");
    assert_eq!(h.alg, jsonwebtoken::Algorithm::RS256);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(test_key().1.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    // `iss` is the App id as a number (GitHub accepts it), which jsonwebtoken's own issuer
    // check (strings only) cannot see: it is compared below.
    v.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("a valid RS256 JWT signed with the App key")
        .claims;
    assert_eq!(claims["iss"], json!(APP_ID), "{claims}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(iat <= now() && exp > now() && exp - iat <= 600, "{claims}");
}

fn access_token(expires_at: time::OffsetDateTime) -> Value {
    json!({
        "token": INSTALLATION_TOKEN,
        "expires_at": expires_at.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "permissions": {"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "write"},
        "repository_selection": "selected"
    })
}

fn repo_json() -> Value {
    json!({"id": 1296269, "name": "deploy", "full_name": "acme/deploy", "private": true, "visibility": "private", "default_branch": "main", "owner": {"login": "acme", "type": "Organization"}, "html_url": "https://github.com/acme/deploy"})
}

fn installation(id: u64, login: &str, kind: &str) -> Value {
    json!({
        "id": id,
        "account": {"login": login, "id": 1, "type": kind},
        "access_tokens_url": format!("https://api.github.com/app/installations/{id}/access_tokens"),
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": format!("https://github.com/organizations/{login}/settings/installations/{id}"),
        "app_id": APP_ID, "target_id": 1, "target_type": kind,
        "permissions": {"contents": "write", "metadata": "read", "pull_requests": "write"},
        "events": [], "repository_selection": "selected", "app_slug": "mcp-gateway",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installation_token_is_minted_with_the_app_jwt_and_used() {
    let gh = MockServer::start().await;
    // The token is limited to the allow-listed repositories.
    post("/app/installations/4242/access_tokens")
        .and(body_json(json!({"repositories": ["deploy"]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(access_token(
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        )))
        .expect(1)
        .mount(&gh)
        .await;
    get("/repos/acme/deploy")
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json()))
        .expect(2)
        .mount(&gh)
        .await;
    let key = key_file();
    let uri = gh.uri();
    let app_id = APP_ID.to_string();
    let c = client(
        serve(&[
            "--github-api-url",
            &uri,
            "--app-id",
            &app_id,
            "--app-private-key-file",
            key.path().to_str().unwrap(),
            "--installation-id",
            "4242",
            "--repos",
            "acme/deploy",
        ])
        .await,
    )
    .await;
    for _ in 0..2 {
        let r = ok(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
        assert_eq!(r["data"]["default_branch"], "main");
        assert!(!r.to_string().contains(INSTALLATION_TOKEN));
    }
    let sent = gh.received_requests().await.unwrap();
    let paths: Vec<String> = sent
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    // One token for both calls: it is cached until shortly before it expires.
    assert_eq!(
        paths,
        [
            "POST /app/installations/4242/access_tokens",
            "GET /repos/acme/deploy",
            "GET /repos/acme/deploy"
        ]
    );
    assert_app_jwt(&sent[0]);
    gh.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_installation_token_is_renewed() {
    let gh = MockServer::start().await;
    // Expires in 10 s: within octocrab's 30 s renewal margin, so every call mints a new one.
    post("/app/installations/7/access_tokens")
        .respond_with(ResponseTemplate::new(201).set_body_json(access_token(
            time::OffsetDateTime::now_utc() + time::Duration::seconds(10),
        )))
        .expect(2)
        .mount(&gh)
        .await;
    get("/repos/acme/deploy")
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json()))
        .expect(2)
        .mount(&gh)
        .await;
    let uri = gh.uri();
    let app_id = APP_ID.to_string();
    // The key in the environment variable's form (GITHUB_APP_PRIVATE_KEY from a Secret).
    // (`=`: the PEM starts with dashes.)
    let key_arg = format!("--app-private-key={}", test_key().0);
    let c = client(
        serve(&[
            "--github-api-url",
            &uri,
            "--app-id",
            &app_id,
            &key_arg,
            "--installation-id",
            "7",
            "--repos",
            "acme/*",
        ])
        .await,
    )
    .await;
    ok(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
    ok(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
    let sent = gh.received_requests().await.unwrap();
    // `acme/*`: the token is not limited to named repositories.
    assert_eq!(sent[0].body, b"{}");
    for r in sent.iter().filter(|r| r.url.path().starts_with("/app/")) {
        assert_app_jwt(r);
    }
    gh.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installation_of_the_allowed_owner_is_looked_up() {
    // An organization.
    let gh = MockServer::start().await;
    get("/orgs/acme/installation")
        .respond_with(ResponseTemplate::new(200).set_body_json(installation(
            31,
            "acme",
            "Organization",
        )))
        .expect(1)
        .mount(&gh)
        .await;
    post("/app/installations/31/access_tokens")
        .respond_with(ResponseTemplate::new(201).set_body_json(access_token(
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        )))
        .expect(1)
        .mount(&gh)
        .await;
    get("/repos/acme/deploy")
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json()))
        .expect(1)
        .mount(&gh)
        .await;
    let key = key_file();
    let uri = gh.uri();
    let app_id = APP_ID.to_string();
    let key_path = key.path().to_str().unwrap().to_owned();
    let args = |repos: &'static str| {
        vec![
            "--github-api-url".to_owned(),
            uri.clone(),
            "--app-id".to_owned(),
            app_id.clone(),
            "--app-private-key-file".to_owned(),
            key_path.clone(),
            "--repos".to_owned(),
            repos.to_owned(),
        ]
    };
    let a = args("acme/*");
    let c = client(serve(&a.iter().map(String::as_str).collect::<Vec<_>>()).await).await;
    ok(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
    let sent = gh.received_requests().await.unwrap();
    assert_eq!(sent[0].url.path(), "/orgs/acme/installation");
    assert_app_jwt(&sent[0]);
    gh.verify().await;

    // A user account: the organization lookup answers 404, the user lookup finds it.
    let gh = MockServer::start().await;
    get("/orgs/alice/installation")
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/apps/apps#get-an-organization-installation-for-the-authenticated-app", "status": "404"})))
        .expect(1)
        .mount(&gh)
        .await;
    get("/users/alice/installation")
        .respond_with(ResponseTemplate::new(200).set_body_json(installation(32, "alice", "User")))
        .expect(1)
        .mount(&gh)
        .await;
    post("/app/installations/32/access_tokens")
        .and(body_json(json!({"repositories": ["dotfiles"]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(access_token(
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        )))
        .expect(1)
        .mount(&gh)
        .await;
    get("/repos/alice/dotfiles")
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 2, "full_name": "alice/dotfiles", "default_branch": "main"}),
        ))
        .expect(1)
        .mount(&gh)
        .await;
    let uri = gh.uri();
    let mut a = args("alice/dotfiles");
    a[1] = uri;
    let c = client(serve(&a.iter().map(String::as_str).collect::<Vec<_>>()).await).await;
    ok(&c, "github_get_repo", json!({"repo": "alice/dotfiles"})).await;
    gh.verify().await;

    // Not installed at all: an error that tells the operator what to do, no panic.
    let gh = MockServer::start().await;
    let nf = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"});
    get("/orgs/acme/installation")
        .respond_with(ResponseTemplate::new(404).set_body_json(nf.clone()))
        .mount(&gh)
        .await;
    get("/users/acme/installation")
        .respond_with(ResponseTemplate::new(404).set_body_json(nf))
        .mount(&gh)
        .await;
    let mut a = args("acme/*");
    a[1] = gh.uri();
    let c = client(serve(&a.iter().map(String::as_str).collect::<Vec<_>>()).await).await;
    let e = crate::support::error_text(&c, "github_get_repo", json!({"repo": "acme/deploy"})).await;
    assert!(
        e.contains("not installed on acme") && e.contains("--installation-id"),
        "{e}"
    );
}

// A runtime: building octocrab's client spawns its request buffer.
#[tokio::test]
async fn app_settings_are_checked_at_startup() {
    let key = key_file();
    let key_path = key.path().to_str().unwrap();
    let build = |extra: &[&str]| {
        let mut argv = vec!["mcp-github", "--github-api-url", "http://127.0.0.1:9"];
        argv.extend_from_slice(extra);
        mcp_github::build(mcp_github::Args::parse_from(argv))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let e = build(&["--app-id", "1", "--installation-id", "2"]).unwrap_err();
    assert!(e.contains("private key"), "{e}");
    let e = build(&["--app-private-key-file", key_path]).unwrap_err();
    assert!(e.contains("--app-id"), "{e}");
    let e = build(&[
        "--app-id",
        "1",
        "--app-private-key-file",
        key_path,
        "--installation-id",
        "2",
        "--github-token",
        "x",
    ])
    .unwrap_err();
    assert!(e.contains("choose one credential"), "{e}");
    let e = build(&[
        "--app-id",
        "1",
        "--app-private-key=-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n",
        "--installation-id",
        "2",
    ])
    .unwrap_err();
    assert!(e.contains("not an RSA private key"), "{e}");
    // No installation id and no single owner to look it up for.
    let e = build(&["--app-id", "1", "--app-private-key-file", key_path]).unwrap_err();
    assert!(e.contains("--installation-id"), "{e}");
    let e = build(&[
        "--app-id",
        "1",
        "--app-private-key-file",
        key_path,
        "--repos",
        "acme/*,other/x",
    ])
    .unwrap_err();
    assert!(e.contains("exactly one owner"), "{e}");
    let e = build(&["--installation-id", "2"]).unwrap_err();
    assert!(e.contains("--app-id"), "{e}");
    assert!(
        build(&[
            "--app-id",
            "1",
            "--app-private-key-file",
            key_path,
            "--repos",
            "acme/*"
        ])
        .is_ok()
    );
    // The token file form of token auth.
    let tf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tf.path(), "github_pat_x\n").unwrap();
    assert!(build(&["--token-file", tf.path().to_str().unwrap()]).is_ok());
    std::fs::write(tf.path(), "\n").unwrap();
    let e = build(&["--token-file", tf.path().to_str().unwrap()]).unwrap_err();
    assert!(e.contains("is empty"), "{e}");
}

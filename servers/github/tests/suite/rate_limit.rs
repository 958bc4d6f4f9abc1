//! Rate limits: a 403/429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`, or with a
//! secondary limit's `retry-after`, becomes a tool error that says when to retry.

use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::support::{backend, client, error_text, get};

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The `(in N s` of an error text.
fn seconds(e: &str) -> u64 {
    let at = e.find("(in ").expect("(in N s") + 4;
    e[at..].split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_say_when_to_retry() {
    let gh = MockServer::start().await;
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    // Primary limit used up (GitHub's documented answer for an installation).
    get("/repos/acme/deploy/issues")
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", "5000")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .insert_header("x-ratelimit-resource", "core")
                .set_body_json(json!({
                    "message": "API rate limit exceeded for installation ID 4242. If you reach out to GitHub Support for help, please include the request ID 1234:5678:9ABC.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": "403"
                })),
        )
        .mount(&gh)
        .await;
    // Secondary limit, with retry-after.
    get("/repos/acme/deploy/pulls")
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "60")
                .insert_header("x-ratelimit-remaining", "4987")
                .set_body_json(json!({
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 1234:5678:9ABD.",
                    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "403"
                })),
        )
        .mount(&gh)
        .await;
    // 429 with retry-after.
    get("/repos/acme/deploy/commits")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "30")
                .set_body_json(json!({"message": "Too many requests", "status": "429"})),
        )
        .mount(&gh)
        .await;
    let c = client(backend(&gh, &[]).await).await;

    let e = error_text(&c, "github_list_issues", json!({"repo": "acme/deploy"})).await;
    assert!(
        e.starts_with("GitHub rate-limited list issues of acme/deploy (HTTP 403)"),
        "{e}"
    );
    assert!(
        e.contains(&format!("retry after {}", rfc3339(reset))),
        "{e}"
    );
    assert!(e.contains("primary rate limit"), "{e}");
    let s = seconds(&e);
    assert!((590..=600).contains(&s), "{e}");

    let e = error_text(&c, "github_list_pulls", json!({"repo": "acme/deploy"})).await;
    assert!(e.contains("secondary rate limit"), "{e}");
    assert_eq!(seconds(&e), 60, "{e}");
    assert!(e.contains("retry after 20"), "an absolute UTC time: {e}");

    let e = error_text(&c, "github_list_commits", json!({"repo": "acme/deploy"})).await;
    assert!(
        e.contains("HTTP 429") && e.contains("Too many requests"),
        "{e}"
    );
    assert_eq!(seconds(&e), 30, "{e}");
}

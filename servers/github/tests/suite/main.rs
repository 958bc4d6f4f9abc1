//! One test binary for mcp-github (one link instead of one per file). Run one part with
//! `cargo test -p mcp-github --test suite <module>::`.
//!
//! Every module runs mcp-github in-process against a wiremock GitHub REST API answering with
//! JSON in the shapes of GitHub's REST documentation, through an rmcp client over streamable
//! HTTP.

mod app_auth;
mod github;
mod propose_change;
mod rate_limit;
mod support;

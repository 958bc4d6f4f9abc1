//! One test binary for mcp-costs (one link instead of one per file). Run one part with
//! `cargo test -p mcp-costs --test suite <module>::`.
//!
//! - `catalog`: tools/list against policies/tools.json, readiness;
//! - `moto`: costs_get_cost_and_usage against moto's Cost Explorer (seeded results);
//! - `explorer`: the tools moto does not implement, paging, the cache, bad input and upstream
//!   errors, against a loopback stub of the Cost Explorer JSON 1.1 protocol;
//! - `layer3`: the shipped IAM policy under moto's IAM enforcement;
//! - `policies`: the shipped IAM policy against the tools' declared actions.

#[path = "../../../test-support/aws.rs"]
mod common;

mod catalog;
mod explorer;
mod layer3;
mod moto;
mod policies;
mod support;

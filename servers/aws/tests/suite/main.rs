//! One test binary for mcp-aws (one link instead of one per file; each module is what
//! used to be its own `tests/*.rs`). Run one part with `cargo test -p <crate> --test suite <module>::`.

#[path = "../../../test-support/aws.rs"]
mod common;

mod aws;
mod policies;

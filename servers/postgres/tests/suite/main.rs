//! One test binary for mcp-postgres (one link instead of one per file; each module is what
//! used to be its own `tests/*.rs`). Run one part with `cargo test -p <crate> --test suite <module>::`.

mod common;

mod incident;
mod postgres;

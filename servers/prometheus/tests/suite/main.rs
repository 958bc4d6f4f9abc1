//! One test binary for mcp-prometheus (one link instead of one per file; each module is what
//! used to be its own `tests/*.rs`). Run one part with `cargo test -p <crate> --test suite <module>::`.

mod prometheus;
mod upstream_auth;

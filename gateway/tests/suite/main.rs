//! One test binary for the mcp-gateway binary and library (one link instead of one per file; each module is what
//! used to be its own `tests/*.rs`). Run one part with `cargo test -p <crate> --test suite <module>::`.

mod can_i;
mod cli;
mod keys_ssm;
mod robustness;
mod upstream;

//! One test binary for every test of the gateway stack over real sockets (one link instead of one per file; each module is what
//! used to be its own `tests/*.rs`). Run one part with `cargo test -p <crate> --test suite <module>::`.

mod backend_process;
mod binaries;
mod conformance;
mod faults;
mod incident;
mod load;
mod status_table;
mod through_gateway;
mod traces;

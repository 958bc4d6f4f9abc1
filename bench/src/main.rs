//! `mcp-bench`: see `docs/benchmarks.md`.
fn main() -> std::process::ExitCode {
    mcp_bench::main()
}

//! Build script shared by every package that ships a binary (the gateway, the backends, the
//! test and bench tools): `build = "../common/build-bins.rs"` in their Cargo.toml.
//!
//! On Linux with glibc it links the binaries with packed relative relocations
//! (`-z pack-relative-relocs`, DT_RELR). A position-independent Rust binary carries one 24-byte
//! `R_X86_64_RELATIVE` entry per pointer in its read-only data (vtables, string tables): about
//! 0.9 MB in every backend here, all of it read by the dynamic loader at each start and kept
//! resident. DT_RELR stores the same relocations as bitmaps in a few kilobytes; the binary stays
//! position-independent (ASLR unchanged). It needs binutils >= 2.38 (or lld >= 15) to link and
//! glibc >= 2.36 to run: Debian 12, the build and runtime images of the Dockerfile, have both.
//! `MCP_LINK_RELR=0` at build time turns it off (for an older glibc at run time).
//!
//! A package with a `hot-symbols.txt` next to its Cargo.toml (the gateway) also has its
//! binaries linked with that file as lld's `--symbol-ordering-file`: the functions a request
//! runs, listed by `scripts/hot-symbols`, are laid out next to each other instead of across
//! the whole `.text`, so a request touches about a third of the code pages it otherwise would
//! (docs/benchmarks.md, 2026-12-08 late). Names the binary does not have (the list is older
//! than the code, or from another profile) are skipped without a warning. This is on only for
//! x86_64-unknown-linux-gnu with Rust's default linker (lld, since Rust 1.90): with a linker
//! configured for the target (`RUSTC_LINKER`), or `MCP_LINK_ORDER=0` at build time, the file
//! is not used, since GNU ld does not know the option.
//!
//! Only the package's binaries get the flags (`rustc-link-arg-bins`): its library and test
//! targets link as before, and no dependency is rebuilt.

fn main() {
    println!("cargo::rerun-if-env-changed=MCP_LINK_RELR");
    println!("cargo::rerun-if-env-changed=MCP_LINK_ORDER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let (os, env) = (var("CARGO_CFG_TARGET_OS"), var("CARGO_CFG_TARGET_ENV"));
    if os == "linux" && env == "gnu" && var("MCP_LINK_RELR") != "0" {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }

    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
    // A file cargo is told to watch but that is missing would rerun this script at every
    // build; without the file, the package directory is watched, so creating it counts.
    let watch = if order.is_file() {
        order.as_path()
    } else {
        order.parent().unwrap_or(&order)
    };
    println!("cargo::rerun-if-changed={}", watch.display());
    let default_linker = var("TARGET") == "x86_64-unknown-linux-gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("linker");
    if order.is_file() && default_linker && var("MCP_LINK_ORDER") != "0" {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            order.display()
        );
    }
}

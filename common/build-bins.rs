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
//! Only the package's binaries get the flag (`rustc-link-arg-bins`): its library and test
//! targets link as before, and no dependency is rebuilt.

fn main() {
    println!("cargo::rerun-if-env-changed=MCP_LINK_RELR");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let off = std::env::var("MCP_LINK_RELR").is_ok_and(|v| v == "0");
    if os == "linux" && env == "gnu" && !off {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

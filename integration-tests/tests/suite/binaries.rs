//! The shipped binaries are linked with packed relative relocations (`common/build-bins.rs`):
//! each has an SHT_RELR section. Without it a backend keeps about 0.9 MB more resident
//! (docs/benchmarks.md, 2026-12-03). Read from the ELF section headers directly.

/// The binaries the Dockerfile ships.
const SHIPPED: [&str; 10] = [
    "mcp-gateway",
    "mcp-eks",
    "mcp-aws",
    "mcp-cloudwatch",
    "mcp-costs",
    "mcp-postgres",
    "mcp-prometheus",
    "mcp-github",
    "mcp-argo",
    "mcp-cloudflare",
];

const SHT_RELR: u32 = 19;

/// The `sh_type` of every section of a little-endian ELF64 file.
fn section_types(elf: &[u8]) -> Vec<u32> {
    assert!(
        elf.starts_with(b"\x7fELF\x02\x01"),
        "not a little-endian ELF64 file"
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().expect("4 bytes"));
    let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().expect("8 bytes")) as usize;
    let (entsize, count) = (u16_at(0x3a), u16_at(0x3c));
    (0..count)
        .map(|i| u32_at(shoff + i * entsize + 4))
        .collect()
}

#[test]
fn shipped_binaries_use_packed_relocations() {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var("MCP_LINK_RELR").is_ok_and(|v| v == "0")
    {
        return;
    }
    let dir = integration_tests::stack::bin_dir().expect("bin dir");
    for bin in SHIPPED {
        let path = dir.join(bin);
        let elf = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (cargo test --workspace builds it)", path.display())
        });
        assert!(
            section_types(&elf).contains(&SHT_RELR),
            "{bin} has no .relr.dyn: linked without -z pack-relative-relocs"
        );
    }
}

#!/usr/bin/env bash
# cargo-deny for the license/ban/source checks (crates.io). Builds once (a few minutes), then
# stays in ~/.cargo/bin.
set -euo pipefail
want="0.20.2"
if command -v cargo-deny >/dev/null 2>&1 && cargo deny --version 2>/dev/null | grep -q " $want"; then
    exit 0
fi
cargo install --quiet --locked cargo-deny --version "$want"

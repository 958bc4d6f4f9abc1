#!/usr/bin/env bash
# Prometheus for the mcp-prometheus tests: Debian's `prometheus` package (the server and
# promtool). Idempotent; quiet when already installed. Needs root (apt-get).
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "prometheus is missing; install it as root: apt-get install --no-install-recommends prometheus" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# An apt cache without the package list (fresh image) needs an update first.
if ! apt-cache show prometheus >/dev/null 2>&1; then
    apt-get update -qq
fi
# --no-install-recommends keeps out the node exporter and friends; the package's postinst
# may try to start a system service (no init here: that is harmless, tests start their own).
# A stale package list fails the download: refresh it once and retry.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
command -v prometheus >/dev/null && command -v promtool >/dev/null

#!/usr/bin/env bash
# The official Python MCP SDK (PyPI `mcp`) for the interop test: the incident flow run by
# scripts/incident-agent.py through the gateway.
set -euo pipefail
cache="${MCP_TEST_CACHE:-$HOME/.cache/mcp-gateway-tests}"
venv="$cache/mcp-python-venv"
want="2.3.0"
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null)" = "$want" ]; then
    exit 0
fi
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$want"
echo "mcp $want installed in $venv"

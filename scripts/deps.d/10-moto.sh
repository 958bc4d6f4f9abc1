#!/usr/bin/env bash
# The AWS emulator for tests: moto's server mode in a virtualenv (PyPI only).
set -euo pipefail
cache="${MCP_TEST_CACHE:-$HOME/.cache/mcp-gateway-tests}"
venv="$cache/moto-venv"
want="5.2.5"
if [ -x "$venv/bin/moto_server" ] && [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" = "$want" ]; then
    exit 0
fi
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$want"
echo "moto $want installed in $venv"

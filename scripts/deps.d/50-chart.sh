#!/usr/bin/env bash
# Offline chart validation (scripts/chart-test): Helm 4 as a library (PyPI helm-python-sdk, no
# helm binary), kubernetes-validate (OpenAPI schemas per Kubernetes version) and checkov, in one
# virtualenv. Idempotent; quiet when the pinned versions are already there.
set -euo pipefail
cache="${MCP_TEST_CACHE:-$HOME/.cache/mcp-gateway-tests}"
venv="$cache/chart-venv"
pins=("helm-python-sdk==0.2.2" "kubernetes-validate==1.37.0" "checkov==3.3.30")
stamp="$venv/.mcp-pins"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ]; then
    exit 0
fi
mkdir -p "$cache"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" >"$stamp"
echo "chart tools installed in $venv: ${pins[*]}"

#!/usr/bin/env python3
"""The seed's incident flow with the official Python MCP SDK (PyPI `mcp`) through the gateway.

Interop check: a client that is not ours speaks to the gateway and the backends behind it and
gets the same answers as the Rust agent. Prints one JSON object with the facts it found (and the
calls it made) on stdout; exits 1 if a step fails.

    MCP_AGENT_KEY=... scripts/incident-agent.py http://127.0.0.1:PORT

Run it with the venv that scripts/deps.d/60-python-mcp.sh installs.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

GATEWAY = sys.argv[1].rstrip("/")
KEY = os.environ["MCP_AGENT_KEY"]
NS, APP = "production", "payment-service"

calls = []


async def session_call(backend, tool=None, args=None):
    """One MCP session through the gateway: tools/list when tool is None, else tools/call."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(f"{GATEWAY}/mcp/{backend}/mcp", http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as s:
                await s.initialize()
                if tool is None:
                    return [t.name for t in (await s.list_tools()).tools]
                return await s.call_tool(tool, args or {})


async def call(backend, tool, args):
    try:
        r = await session_call(backend, tool, args)
    except BaseException as e:  # the SDK raises (or wraps in an ExceptionGroup) on HTTP errors
        calls.append({"backend": backend, "tool": tool, "outcome": "refused", "detail": repr(e)[:300]})
        return None, repr(e)
    if r.is_error:
        text = " ".join(c.text for c in r.content if getattr(c, "text", None))
        calls.append({"backend": backend, "tool": tool, "outcome": "tool_error", "detail": text[:300]})
        return None, text
    calls.append({"backend": backend, "tool": tool, "outcome": "ok"})
    return r.structured_content, None


def must(result):
    value, err = result
    if value is None:
        raise SystemExit(f"step failed: {err}")
    return value


async def main():
    facts = {}
    eks, prom, pg = "eks-ro-prod", "prometheus-prod", "postgres-ro"

    pods = must(await call(eks, "eks_get_pods", {"namespace": NS, "label_selector": f"app={APP}"}))["pods"]
    worst = max(pods, key=lambda p: p["restarts"])
    facts["restarts"] = worst["restarts"]
    facts["last_termination_reason"] = (worst.get("last_termination") or {}).get("reason")

    events = must(await call(eks, "eks_get_events", {"namespace": NS}))["events"]
    facts["oom_killed_events"] = sum(
        e.get("count", 1) for e in events if e["reason"] == "OOMKilled" and APP in e.get("object", "")
    )

    mem = must(await call(prom, "prometheus_query", {"query": f"container_memory_usage_bytes{{pod=~'{APP}.*'}}"}))
    facts["memory_usage_bytes"] = max(s["value"] for s in mem["series"])

    dep = must(await call(eks, "eks_get_resource", {"kind": "Deployment", "name": APP, "namespace": NS}))
    obj = dep.get("object", dep)
    facts["memory_limit"] = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]

    logs = must(await call(eks, "eks_get_pod_logs", {"namespace": NS, "pod": worst["name"], "tail_lines": 200}))
    facts["pool_exhausted"] = "DB connection pool exhausted" in logs["text"]

    diag = must(await call(pg, "postgres_diagnostics", {}))
    facts["db_connections_in_use"] = diag["connections"]["total"]
    facts["db_max_connections"] = diag["max_connections"]
    top = diag["slow_queries"][0]
    facts["slow_query_has_join"] = " JOIN " in top["query"]
    facts["slow_query_mean_ms"] = top["mean_ms"]

    # Where access ends: not listed, refused at the gateway, refused by the pod.
    tools = await session_call(eks)
    facts["delete_listed"] = "eks_delete_pod" in tools
    _, err = await call("eks-rw", "eks_delete_pod", {"namespace": NS, "name": worst["name"]})
    facts["delete_on_eks_rw_refused"] = err is not None
    _, err = await call(eks, "eks_delete_pod", {"namespace": NS, "name": worst["name"]})
    facts["delete_on_eks_ro_prod_refused"] = err is not None

    print(json.dumps({"facts": facts, "calls": calls}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())

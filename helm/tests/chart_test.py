"""Offline validation of helm/mcp-gateway (run through scripts/chart-test).

Renders and lints the chart with Helm 4 as a library (helm-python-sdk), validates every rendered
object strictly against the Kubernetes OpenAPI schemas shipped by kubernetes-validate, scans with
checkov (kubernetes framework), and checks the stack's own invariants: every backend in
roleMapping has its Deployment and Service, the rendered gateway config passes
`mcp-gateway check`, eks RO pods bind mcp-viewer only, RW backends are never reachable from a
role whose backends are all RO, the ClusterRoles are the policy files, pods run restricted.

Prints one line per check and a closing `chart: N passed, M failed`; exit status 1 on any failure.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "mcp-gateway"
TESTS = REPO / "helm" / "tests"
GATEWAY_BIN = os.environ.get("MCP_GATEWAY_BIN", "")
CHECKOV = os.environ.get("CHECKOV_BIN", str(Path(sys.executable).parent / "checkov"))
NAMESPACE = "mcp"
RELEASE = "mcp"
KUBE_VERSIONS = ["1.30", "1.37"]
CRD_KINDS = {("external-secrets.io/v1", "ExternalSecret"), ("monitoring.coreos.com/v1", "ServiceMonitor")}
SEED_ROLES = {
    "devops-full": ["eks-rw", "eks-ro-prod", "aws-rw", "costs", "cloudwatch", "postgres-rw",
                    "prometheus-dev", "prometheus-prod", "cloudflare-edit", "argo-sync", "github-rw"],
    "dev-readonly": ["eks-ro", "eks-ro-prod", "aws-ro", "costs", "cloudwatch", "postgres-ro",
                     "prometheus-dev", "prometheus-prod", "cloudflare-ro", "argo-view", "github-ro"],
}
SEED_BACKENDS = sorted({"eks-rw", "eks-ro", "eks-ro-prod", "aws-rw", "aws-ro", "costs", "cloudwatch",
                        "postgres-rw", "postgres-ro", "prometheus-dev", "prometheus-prod",
                        "cloudflare-edit", "cloudflare-ro", "argo-sync", "argo-view", "github-rw",
                        "github-ro"})

import helm_python as helm  # noqa: E402
import kubernetes_validate  # noqa: E402
from kubernetes_validate import utils as kv  # noqa: E402

passed = 0
failed = 0


def check(name):
    """Decorator-free runner: check(name)(fn, *args)."""

    def run(fn, *args):
        global passed, failed
        try:
            detail = fn(*args)
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
            return
        except Exception as e:  # a crash of a check is a failure, with its trace
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3)
            return
        passed += 1
        print(f"ok   {name}" + (f" ({detail})" if detail else ""))

    return run


# ---------------------------------------------------------------- rendering


def load_values(path):
    return yaml.safe_load(Path(path).read_text()) if path else None


def render(values):
    with helm.Chart.load(str(CHART)) as chart:
        merged = chart.merge_values(values or {})
        chart.validate_schema(merged)
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    files = {}
    docs = []
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            files[path] = text
            continue
        files[path] = text
        for d in yaml.safe_load_all(text):
            if d:
                docs.append(d)
    return merged, files, docs


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def find(docs, kind, name):
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} objects rendered"
    return hits[0]


def backend_names(merged):
    return sorted(n for n, b in merged["backends"].items() if b.get("enabled", True) is not False)


def role_backends(entries):
    return [e["backend"] if isinstance(e, dict) else e for e in entries]


def gateway_config(docs):
    cm = find(docs, "ConfigMap", "mcp-gateway")
    return cm["data"]["gateway.yaml"], yaml.safe_load(cm["data"]["gateway.yaml"])


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# ---------------------------------------------------------------- checks


def t_lint(values, kube):
    report = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE,
                       kube_version=f"v{kube}.0")
    bad = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    assert not report.get("errors") and not bad, json.dumps(report)
    infos = [m["error"] for m in report.get("messages", [])]
    return "; ".join(infos) if infos else ""


def t_schema_rejects(bad, why):
    with helm.Chart.load(str(CHART)) as chart:
        merged = chart.merge_values(bad)
        try:
            chart.validate_schema(merged)
        except helm.HelmError as e:
            return " ".join(str(e).split())[:140]
    raise AssertionError(f"values.schema.json accepted {why}")


def t_render_fails(bad, needle):
    try:
        render(bad)
    except helm.HelmError as e:
        assert needle in str(e), f"render failed, but not with {needle!r}: {e}"
        return needle
    raise AssertionError(f"render succeeded; expected failure {needle!r}")


def t_kubevalidate(docs, kube):
    versions = kv.all_versions()
    exact = [v for v in versions if kv.major_minor(v) == kube]
    assert exact, f"kubernetes-validate {kubernetes_validate.__version__ if hasattr(kubernetes_validate, '__version__') else ''} ships no {kube} schema (has {versions[0]}..{versions[-1]})"
    errors, crds = [], 0
    for d in docs:
        if (d["apiVersion"], d["kind"]) in CRD_KINDS:
            crds += 1
            assert isinstance(d.get("spec"), dict) and d["metadata"].get("name"), f"{d['kind']}: no spec/name"
            continue
        try:
            kv.validate(d, kube, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{d['kind']}/{d['metadata']['name']}: {path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            errors.append(e.message)
    assert not errors, "\n  ".join(errors)
    return f"{len(docs) - crds} objects against {exact[0]} strict schemas; {crds} CRD objects (no schema shipped) checked for shape only"


def t_checkov(files):
    with tempfile.TemporaryDirectory(prefix="chart-checkov-") as tmp:
        for path, text in files.items():
            if path.endswith(".yaml"):
                (Path(tmp) / Path(path).name).write_text(text)
        proc = subprocess.run(
            [CHECKOV, "-d", tmp, "--framework", "kubernetes", "--output", "json",
             "--compact", "--skip-download"],
            capture_output=True, text=True, timeout=900,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        )
    if not proc.stdout.strip():
        raise AssertionError(f"checkov printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    failed_checks, skipped, passed_n = [], [], 0
    for r in reports:
        res = r.get("results", {})
        passed_n += len(res.get("passed_checks", []))
        for c in res.get("failed_checks", []):
            failed_checks.append(f"{c['check_id']} {c['resource']}: {c['check_name']}")
        for c in res.get("skipped_checks", []):
            skipped.append(c)
    for c in skipped:
        why = (c.get("check_result") or {}).get("suppress_comment") or ""
        assert len(why.strip()) > 20, f"skip of {c['check_id']} on {c['resource']} has no justification"
    assert not failed_checks, "\n  ".join(sorted(set(failed_checks)))
    assert passed_n > 0, "checkov ran no check at all (did it parse the manifests?)"
    ids = sorted({c["check_id"] for c in skipped})
    return f"{passed_n} passed, {len(skipped)} justified skips ({', '.join(ids)})"


def t_backends_complete(merged, docs):
    names = backend_names(merged)
    routed = {b for entries in merged["roleMapping"].values() for b in role_backends(entries)}
    missing = routed - set(names)
    assert not missing, f"roleMapping names backends without an entry: {sorted(missing)}"
    for b in names:
        full = f"{merged['namePrefix']}-{b}"
        dep = find(docs, "Deployment", full)
        svc = find(docs, "Service", full)
        find(docs, "ServiceAccount", full)
        find(docs, "NetworkPolicy", full)
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        sel = svc["spec"]["selector"]
        assert all(pod_labels.get(k) == v for k, v in sel.items()), f"Service {full} does not select its pods"
        assert dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), f"{full}: selector"
        # no other Deployment is selected by this Service
        for other in by_kind(docs, "Deployment"):
            if other is dep:
                continue
            ol = other["spec"]["template"]["metadata"]["labels"]
            assert not all(ol.get(k) == v for k, v in sel.items()), f"Service {full} also selects {other['metadata']['name']}"
        assert dep["spec"]["template"]["spec"]["serviceAccountName"] == full
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env = env_of(c)
        spec = merged["backends"][b]
        assert c["command"] == [f"/usr/local/bin/mcp-{spec['server']}"], f"{full}: command {c['command']}"
        assert env["MCP_ACCESS"] == spec["access"], f"{full}: MCP_ACCESS"
        assert env["MCP_ENV"] == str(spec["environment"]), f"{full}: MCP_ENV"
        hosts = env["MCP_ALLOWED_HOSTS"].split(",")
        for h in (full, f"{full}.{NAMESPACE}", f"{full}.{NAMESPACE}.svc", f"{full}.{NAMESPACE}.svc.cluster.local"):
            assert h in hosts, f"{full}: MCP_ALLOWED_HOSTS lacks {h}"
        assert "*" not in hosts
        for name, ref in (spec.get("secretEnv") or {}).items():
            assert isinstance(env.get(name), dict) and "secretKeyRef" in env[name], f"{full}: {name} not from a Secret"
        sa = find(docs, "ServiceAccount", full)
        want_ann = (spec.get("serviceAccount") or {}).get("annotations") or {}
        assert (sa["metadata"].get("annotations") or {}) == want_ann, f"{full}: ServiceAccount annotations"
    return f"{len(names)} backends"


def t_seed(merged):
    assert {k: role_backends(v) for k, v in merged["roleMapping"].items()} == SEED_ROLES, "roleMapping differs from the seed"
    assert backend_names(merged) == SEED_BACKENDS, f"backends differ from the seed: {backend_names(merged)}"
    for b in SEED_BACKENDS:
        spec = merged["backends"][b]
        want = "rw" if b.endswith(("-rw", "-edit", "-sync")) else "ro"
        assert spec["access"] == want, f"{b}: access {spec['access']}, the seed's name says {want}"
        if spec["server"] in ("eks", "aws", "costs", "cloudwatch"):
            arn = (spec.get("serviceAccount") or {}).get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
            assert arn.startswith("arn:aws:iam::"), f"{b}: no IRSA role ARN"
    return "2 roles, 17 backends"


def gateway_check(text):
    assert GATEWAY_BIN and Path(GATEWAY_BIN).is_file(), f"mcp-gateway binary not found ({GATEWAY_BIN!r}); set MCP_GATEWAY_BIN"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        return subprocess.run([GATEWAY_BIN, "check", "--config", path], capture_output=True,
                              text=True, timeout=60)
    finally:
        os.unlink(path)


def t_gateway_config(merged, docs):
    text, cfg = gateway_config(docs)
    proc = gateway_check(text)
    assert proc.returncode == 0, f"mcp-gateway check exit {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    svcs = {s["metadata"]["name"] for s in by_kind(docs, "Service")}
    for name, b in cfg["backends"].items():
        url = b["url"] if isinstance(b, dict) else b
        host = url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
        assert host in svcs, f"backend {name}: {url} is not a rendered Service"
    assert cfg["keys_file"] == "/etc/mcp-gateway/keys/keys.json"
    gw = f"{merged['namePrefix']}-gateway"
    assert gw in cfg["allowed_hosts"] and f"{gw}.{NAMESPACE}.svc" in cfg["allowed_hosts"], "allowed_hosts lacks the gateway Service names"
    for h in (merged["gateway"]["ingress"]["hosts"] if merged["gateway"]["ingress"]["enabled"] else []):
        assert h in cfg["allowed_hosts"], f"allowed_hosts lacks ingress host {h}"
    warn = (proc.stdout + proc.stderr).strip().replace("\n", " | ")
    return f"mcp-gateway check: {warn[:160]}" if warn else "mcp-gateway check clean"


def t_gateway_check_rejects(docs):
    text, cfg = gateway_config(docs)
    bad = copy.deepcopy(cfg)
    role = next(iter(bad["roleMapping"]))
    bad["roleMapping"][role] = list(bad["roleMapping"][role]) + ["no-such-backend"]
    proc = gateway_check(yaml.safe_dump(bad))
    assert proc.returncode != 0, "mcp-gateway check accepted a role naming an undefined backend"
    return "a broken config is refused"


def reached_access(docs, cfg):
    """role -> {backend: MCP_ACCESS of the pods its URL actually reaches}."""
    svcs = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    deps = by_kind(docs, "Deployment")
    out = {}
    for role, entries in cfg["roleMapping"].items():
        out[role] = {}
        for b in role_backends(entries):
            spec = cfg["backends"][b]
            url = spec["url"] if isinstance(spec, dict) else spec
            host = url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
            sel = svcs[host]["spec"]["selector"]
            pods = [d for d in deps if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
            assert pods, f"{b}: Service {host} selects no Deployment"
            out[role][b] = {env_of(p["spec"]["template"]["spec"]["containers"][0])["MCP_ACCESS"] for p in pods}
    return out


def ro_roles_reach_only_ro(merged, docs, cfg=None):
    cfg = cfg or gateway_config(docs)[1]
    reached = reached_access(docs, cfg)
    declared = {n: b["access"] for n, b in merged["backends"].items() if b}
    ro_roles = [r for r, entries in merged["roleMapping"].items()
                if entries and all(declared[b] == "ro" for b in role_backends(entries))]
    for r in ro_roles:
        bad = {b: acc for b, acc in reached[r].items() if acc != {"ro"}}
        assert not bad, f"role {r} lists only RO backends but reaches RW pods: {bad}"
    # and the reverse: each backend name says the truth about its pod
    for role in reached.values():
        for b, acc in role.items():
            assert acc == {declared[b]}, f"{b} is declared {declared[b]} but its Service reaches {acc}"
    return ro_roles


def t_ro_roles(merged, docs):
    ro = ro_roles_reach_only_ro(merged, docs)
    return f"RO-only roles: {', '.join(ro) or 'none'}"


def t_ro_roles_detects(merged, docs):
    _, cfg = gateway_config(docs)
    ro = [r for r, e in merged["roleMapping"].items() if all(merged["backends"][b]["access"] == "ro" for b in role_backends(e))]
    rw = [n for n, b in merged["backends"].items() if b and b["access"] == "rw"]
    if not ro or not rw:
        return "nothing to cross (no RO-only role or no RW backend)"
    bad = copy.deepcopy(cfg)
    victim = role_backends(merged["roleMapping"][ro[0]])[0]
    bad["backends"][victim] = {"url": f"http://{merged['namePrefix']}-{rw[0]}:8080/mcp"}
    try:
        ro_roles_reach_only_ro(merged, docs, bad)
    except AssertionError:
        return f"pointing {victim} at {rw[0]}'s Service is caught"
    raise AssertionError("a RO backend routed to a RW Service went unnoticed")


def t_eks_rbac(merged, docs):
    bindings = by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding")
    n = 0
    for b in backend_names(merged):
        spec = merged["backends"][b]
        full = f"{merged['namePrefix']}-{b}"
        roles = {x["roleRef"]["name"] for x in bindings
                 if any(s["kind"] == "ServiceAccount" and s["name"] == full for s in x["subjects"])}
        dep = find(docs, "Deployment", full)
        sa = find(docs, "ServiceAccount", full)
        automount = (dep["spec"]["template"]["spec"].get("automountServiceAccountToken"), sa.get("automountServiceAccountToken"))
        if spec["server"] == "eks":
            want = {"mcp-viewer"} if spec["access"] == "ro" else {"mcp-editor"}
            assert roles == want, f"{full} ({spec['access']}) binds {sorted(roles)}, want {sorted(want)}"
            assert automount == (True, True), f"{full}: eks needs the token mounted"
            for x in bindings:
                if any(s.get("name") == full for s in x["subjects"]):
                    assert x["roleRef"]["kind"] == "ClusterRole" and len(x["subjects"]) == 1
            n += 1
        else:
            assert not roles, f"{full} is not eks but binds {sorted(roles)}"
            assert automount == (False, False), f"{full}: ServiceAccount token must not be mounted"
    gw = find(docs, "Deployment", f"{merged['namePrefix']}-gateway")
    assert gw["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    return f"{n} eks backends bound"


def t_clusterroles_are_policy(merged, files, docs):
    text = files.get("mcp-gateway/templates/clusterroles.yaml", "")
    for f in ("mcp-viewer.yaml", "mcp-editor.yaml"):
        src = (REPO / "policies" / "kubernetes" / f).read_text()
        if merged["rbac"]["createClusterRoles"]:
            assert src.strip() in text, f"rendered ClusterRole is not policies/kubernetes/{f} verbatim"
            want = yaml.safe_load(src)
            got = find(docs, "ClusterRole", want["metadata"]["name"])
            assert got == want, f"ClusterRole {want['metadata']['name']} differs from policies/kubernetes/{f}"
    link = CHART / "files" / "kubernetes"
    assert link.is_symlink() and link.resolve() == (REPO / "policies" / "kubernetes").resolve(), \
        "helm/mcp-gateway/files/kubernetes must be a symlink to policies/kubernetes"
    return "verbatim from policies/kubernetes via the files/kubernetes symlink"


def t_restricted(merged, docs):
    n = 0
    for d in by_kind(docs, "Deployment"):
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc.get("runAsNonRoot") is True and psc["seccompProfile"]["type"] == "RuntimeDefault", f"{name}: pod securityContext"
        assert pod.get("hostNetwork") is not True and pod.get("hostPID") is not True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True, f"{name}: non-root / read-only fs"
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], f"{name}: privilege"
            assert "add" not in sc["capabilities"], f"{name}: adds capabilities"
            assert sc["seccompProfile"]["type"] == "RuntimeDefault"
            assert sc.get("runAsUser", psc.get("runAsUser", 0)) >= 1000, f"{name}: low uid"
            r = c["resources"]
            for k in ("cpu", "memory"):
                assert k in r["requests"] and k in r["limits"], f"{name}: resources.{k}"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{name}: liveness"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{name}: readiness"
            n += 1
    return f"{n} containers"


def t_network_policies(merged, docs):
    gw = find(docs, "Deployment", f"{merged['namePrefix']}-gateway")
    gw_labels = gw["spec"]["template"]["metadata"]["labels"]
    extra = merged["backendDefaults"].get("extraIngressFrom") or []
    for b in backend_names(merged):
        full = f"{merged['namePrefix']}-{b}"
        np = find(docs, "NetworkPolicy", full)
        dep = find(docs, "Deployment", full)
        pl = dep["spec"]["template"]["metadata"]["labels"]
        assert np["spec"]["policyTypes"] == ["Ingress"]
        assert np["spec"]["podSelector"]["matchLabels"].items() <= pl.items(), f"{full}: policy does not select its pods"
        rules = np["spec"]["ingress"]
        first = rules[0]["from"]
        assert len(first) == 1 and set(first[0]) == {"podSelector"}, f"{full}: first rule is not gateway-only"
        assert first[0]["podSelector"]["matchLabels"].items() <= gw_labels.items(), f"{full}: rule does not match the gateway pods"
        # the selector must not match any backend pod (a backend cannot reach another)
        for other in by_kind(docs, "Deployment"):
            if other is gw:
                continue
            ol = other["spec"]["template"]["metadata"]["labels"]
            assert not first[0]["podSelector"]["matchLabels"].items() <= ol.items(), f"{full}: admits {other['metadata']['name']}"
        peers = [p for r in rules[1:] for p in r["from"]]
        assert peers == extra, f"{full}: unexpected ingress peers {peers}"
        for r in rules:
            assert r.get("from"), f"{full}: a rule without `from` admits everyone"
    return f"{len(backend_names(merged))} policies admit only the gateway" + (" (+ configured extra peers)" if extra else "")


def t_gateway_objects(merged, docs, expect_es):
    name = f"{merged['namePrefix']}-gateway"
    dep = find(docs, "Deployment", name)
    g = merged["gateway"]
    if g["autoscaling"]["enabled"]:
        hpa = find(docs, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["minReplicas"] >= 2 and "replicas" not in dep["spec"]
    else:
        assert dep["spec"]["replicas"] >= 2, "gateway needs 2+ replicas"
    pdb = find(docs, "PodDisruptionBudget", name)
    assert pdb["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    find(docs, "Service", name)
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["args"] == ["serve", "--config", "/etc/mcp-gateway/config/gateway.yaml"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["keys"]["mountPath"] == "/etc/mcp-gateway/keys" and "subPath" not in mounts["keys"], "keys must be a directory mount (reload)"
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["keys"]["secret"]["secretName"] == g["keys"]["secretName"]
    grace = int(str(g["limits"]["shutdown_grace"]).rstrip("s"))
    assert pod["terminationGracePeriodSeconds"] > grace, "terminationGracePeriodSeconds must exceed shutdown_grace"
    assert "checksum/config" in dep["spec"]["template"]["metadata"]["annotations"]
    es = [d for d in docs if d["kind"] == "ExternalSecret"]
    if expect_es:
        assert len(es) == 1, "ExternalSecret missing"
        policy = yaml.safe_load((REPO / "policies" / "external-secrets" / "mcp-gateway-keys.yaml").read_text())
        assert es[0]["spec"] == policy["spec"], "rendered ExternalSecret spec differs from policies/external-secrets/mcp-gateway-keys.yaml"
        assert es[0]["spec"]["target"]["name"] == g["keys"]["secretName"]
    else:
        assert not es
    return "Deployment, Service, PDB, ConfigMap" + (", ExternalSecret = policies/external-secrets" if expect_es else "")


def t_options(merged, docs):
    name = f"{merged['namePrefix']}-gateway"
    ing = find(docs, "Ingress", name)
    assert ing["spec"]["rules"][0]["host"] == "mcp.example.com"
    find(docs, "HorizontalPodAutoscaler", name)
    find(docs, "ServiceMonitor", name)
    find(docs, "NetworkPolicy", name)
    assert len(by_kind(docs, "ServiceMonitor")) == 1 + len(backend_names(merged))
    assert not by_kind(docs, "ClusterRoleBinding"), "rbac.namespaces set: no ClusterRoleBinding expected"
    rbs = by_kind(docs, "RoleBinding")
    assert {r["metadata"]["namespace"] for r in rbs} == {"production", "staging"}
    for d in by_kind(docs, "Deployment"):
        img = d["spec"]["template"]["spec"]["containers"][0]["image"]
        assert "@sha256:" in img, f"{d['metadata']['name']}: image not pinned by digest: {img}"
    return "ingress, HPA, ServiceMonitors, gateway NetworkPolicy, RoleBindings, digests"


def t_otel(merged, docs):
    o = merged.get("otel", {})
    for d in by_kind(docs, "Deployment"):
        name = d["metadata"]["name"]
        c = d["spec"]["template"]["spec"]["containers"][0]
        names = [e["name"] for e in c.get("env", [])]
        assert len(names) == len(set(names)), f"{name}: an env variable is set twice: {names}"
        env = env_of(c)
        otel = sorted(n for n in names if n.startswith("OTEL_") or n.startswith("MCP_TRACES_"))
        if not o.get("enabled"):
            own = set((merged["backends"].get(name.removeprefix(merged["namePrefix"] + "-")) or {}).get("env", {}))
            assert set(otel) <= own, f"{name}: otel disabled but the chart sets {otel}"
            continue
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == o["endpoint"], name
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf", name
        assert env["OTEL_SERVICE_NAME"] == name, f"{name}: service.name"
        assert env["MCP_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}, name
        assert names.index("MCP_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES"), f"{name}: $(MCP_POD_NAME) used before it is defined"
        attrs = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        assert attrs["service.instance.id"] == "$(MCP_POD_NAME)", name
        for k, v in (o.get("resourceAttributes") or {}).items():
            assert attrs[k] == str(v), f"{name}: resource attribute {k}"
        if o.get("headers", {}).get("secretName"):
            ref = env["OTEL_EXPORTER_OTLP_HEADERS"]["secretKeyRef"]
            assert ref == {"name": o["headers"]["secretName"], "key": o["headers"]["key"]}, name
        is_gateway = name == f"{merged['namePrefix']}-gateway"
        assert ("MCP_TRACES_CLIENT_CONTEXT" in env) == is_gateway, f"{name}: client context is for the gateway only"
        backend = None if is_gateway else merged["backends"][name.removeprefix(merged["namePrefix"] + "-")]
        own = (backend or {}).get("env", {})
        want = own.get("OTEL_TRACES_SAMPLER", o["sampler"])
        assert env["OTEL_TRACES_SAMPLER"] == want, f"{name}: sampler {env['OTEL_TRACES_SAMPLER']} != {want}"
        if backend:
            assert attrs["deployment.environment.name"] == str(backend["environment"]), name
    return "enabled: every pod exports to otel.endpoint" if o.get("enabled") else "disabled: no pod has OTEL_*"


def t_notes(files, merged):
    notes = files.get("mcp-gateway/templates/NOTES.txt", "")
    assert "mcp-gateway keys create --role" in notes and "Authorization: Bearer" in notes, "NOTES.txt lacks key creation / call"
    role = sorted(merged["roleMapping"])[0]
    assert f"--role {role}" in notes
    return ""


def t_dockerfile():
    import re
    text = (REPO / "Dockerfile").read_text()
    m = re.search(r'bins="([^"]+)"', text)
    assert m, "Dockerfile: no bins= list"
    in_image = set(m.group(1).split())
    workspace = set()
    for cargo in [REPO / "gateway" / "Cargo.toml", *sorted((REPO / "servers").glob("*/Cargo.toml"))]:
        workspace |= set(re.findall(r'\[\[bin\]\]\s*\nname\s*=\s*"([^"]+)"', cargo.read_text()))
    assert workspace and in_image == workspace, f"Dockerfile builds {sorted(in_image)}, workspace has {sorted(workspace)}"
    schema = json.loads((CHART / "values.schema.json").read_text())
    servers = set(schema["properties"]["backends"]["additionalProperties"]["properties"]["server"]["enum"])
    assert {f"mcp-{s}" for s in servers} | {"mcp-gateway"} == workspace, f"schema servers {sorted(servers)} != binaries"
    assert re.search(r"^FROM \$\{RUST_IMAGE\} AS build", text, re.M) and "ARG RUST_IMAGE=rust:1.95" in text
    assert re.search(r"^USER 65532:65532", text, re.M), "runtime must not run as root"
    ignored = {l.strip() for l in (REPO / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")}
    for needed in ("policies", "gateway", "common", "servers", "integration-tests", "Cargo.toml", "Cargo.lock"):
        assert needed not in ignored, f".dockerignore drops {needed}, which the build needs"
    return f"{len(workspace)} binaries; runtime uid 65532 = chart runAsUser"


# ---------------------------------------------------------------- main


def main():
    print(f"helm SDK {helm.helm_sdk_version()} (helm-python-sdk), kubernetes-validate schemas "
          f"{kv.all_versions()[0]}..{kv.latest_version()}, checkov {CHECKOV}")
    print(f"mcp-gateway: {GATEWAY_BIN or '(none)'}")
    sets = [
        ("default", None, True),
        ("minimal", TESTS / "values-minimal.yaml", False),
        ("options", TESTS / "values-options.yaml", True),
    ]
    for label, vfile, expect_es in sets:
        values = load_values(vfile)
        for kube in KUBE_VERSIONS:
            check(f"[{label}] helm lint --strict (kube {kube})")(t_lint, values, kube)
        try:
            merged, files, docs = render(values)
        except Exception as e:
            check(f"[{label}] render")(lambda: (_ for _ in ()).throw(AssertionError(str(e))))
            continue
        check(f"[{label}] render")(lambda: f"{len(docs)} objects")
        for kube in KUBE_VERSIONS:
            check(f"[{label}] kubernetes-validate --strict {kube}")(t_kubevalidate, docs, kube)
        check(f"[{label}] every roleMapping backend has Deployment, Service, ServiceAccount, NetworkPolicy")(t_backends_complete, merged, docs)
        check(f"[{label}] rendered gateway config passes mcp-gateway check")(t_gateway_config, merged, docs)
        check(f"[{label}] eks RO binds mcp-viewer only, RW mcp-editor; token only for eks")(t_eks_rbac, merged, docs)
        check(f"[{label}] RW backends unreachable from RO-only roles")(t_ro_roles, merged, docs)
        check(f"[{label}] restricted pods, resources, probes")(t_restricted, merged, docs)
        check(f"[{label}] NetworkPolicies admit only the gateway")(t_network_policies, merged, docs)
        check(f"[{label}] gateway objects")(t_gateway_objects, merged, docs, expect_es)
        check(f"[{label}] ClusterRoles are policies/kubernetes")(t_clusterroles_are_policy, merged, files, docs)
        check(f"[{label}] NOTES.txt")(t_notes, files, merged)
        check(f"[{label}] OpenTelemetry env")(t_otel, merged, docs)
        check(f"[{label}] checkov (kubernetes)")(t_checkov, files)
        if label == "default":
            check("[default] values reproduce the seed's roleMapping and backends")(t_seed, merged)
            check("[default] mcp-gateway check refuses a broken config (the check is live)")(t_gateway_check_rejects, docs)
            check("[default] the RO/RW reachability check catches a crossed URL")(t_ro_roles_detects, merged, docs)
        if label == "options":
            check("[options] optional objects")(t_options, merged, docs)

    check("schema refuses access: admin")(t_schema_rejects, {"backends": {"eks-ro": {"access": "admin"}}}, "access: admin")
    check("schema refuses an unknown server")(t_schema_rejects, {"backends": {"x": {"server": "ssh", "access": "ro", "environment": "dev"}}}, "server: ssh")
    check("schema refuses env overriding MCP_ACCESS")(t_schema_rejects, {"backends": {"eks-ro": {"env": {"MCP_ACCESS": "rw"}}}}, "env.MCP_ACCESS")
    check("schema refuses readOnlyRootFilesystem: false")(t_schema_rejects, {"containerSecurityContext": {"readOnlyRootFilesystem": False}}, "a writable root fs")
    check("schema refuses a typo key")(t_schema_rejects, {"gateway": {"replica": 3}}, "gateway.replica")
    check("schema refuses otel enabled without an endpoint")(t_schema_rejects, {"otel": {"enabled": True}}, "otel without endpoint")
    check("schema refuses an otel endpoint that is not http(s)")(t_schema_rejects, {"otel": {"enabled": True, "endpoint": "otel-collector:4317"}}, "otel.endpoint host:port")
    check("render refuses a role naming a missing backend")(t_render_fails, {"roleMapping": {"dev-readonly": ["eks-ro", "nope"]}}, "not an enabled entry of backends")

    check("Dockerfile builds every workspace binary the chart runs")(t_dockerfile)

    print(f"chart: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

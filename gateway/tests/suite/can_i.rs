//! `mcp-gateway can-i` as a process, against the gateway config the Helm chart renders from its
//! default values (the seed's backends and roleMapping), plus the library's answer for every
//! role, backend and tool of the seed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcp_gateway::can_i::{CanIArgs, Decision, Verdict, explain};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-gateway");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn values_file() -> PathBuf {
    repo().join("helm/mcp-gateway/values.yaml")
}

/// The gateway config as `mcp.gatewayConfig` renders it (helm/mcp-gateway/templates/_helpers.tpl):
/// every enabled backend as `{url: http://mcp-<name>:8080/mcp, server}`, the values' roleMapping,
/// plus `extra_roles` (YAML lines under roleMapping).
fn chart_config(dir: &Path, extra_roles: &str) -> PathBuf {
    let values: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(values_file()).unwrap()).unwrap();
    let mut out = String::from(
        "listen: 0.0.0.0:8080\nkeys_file: /etc/mcp-gateway/keys/keys.json\nbackends:\n",
    );
    let backends = values["backends"].as_mapping().unwrap();
    assert!(backends.len() >= 17, "the seed's backends");
    for (name, entry) in backends {
        if entry.get("enabled").and_then(serde_yaml_ng::Value::as_bool) == Some(false) {
            continue;
        }
        let name = name.as_str().unwrap();
        let server = entry["server"].as_str().unwrap();
        out.push_str(&format!(
            "  {name}:\n    url: http://mcp-{name}:8080/mcp\n    server: {server}\n"
        ));
    }
    out.push_str("roleMapping:\n");
    for (role, entries) in values["roleMapping"].as_mapping().unwrap() {
        out.push_str(&format!("  {}:\n", role.as_str().unwrap()));
        for e in entries.as_sequence().unwrap() {
            out.push_str(&format!("    - {}\n", e.as_str().unwrap()));
        }
    }
    out.push_str(extra_roles);
    let path = dir.join("gateway.yaml");
    std::fs::write(&path, out).unwrap();
    path
}

/// A role that the gateway lets call a write tool on an RO backend: the pod layer must still say no.
const RO_DELETER: &str =
    "  ro-deleter:\n    - backend: eks-ro\n      tools: [eks_get_pods, eks_delete_pod]\n";

fn can_i(config: &Path, role: &str, backend: &str, tool: &str, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("can-i")
        .arg("--config")
        .arg(config)
        .args(["--role", role, "--backend", backend, "--tool", tool])
        .args(extra)
        .output()
        .unwrap()
}

fn json(config: &Path, role: &str, backend: &str, tool: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let out = can_i(config, role, backend, tool, &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn decisions(v: &Value) -> [&str; 3] {
    let d = |l: &str| v["layers"][l]["decision"].as_str().unwrap();
    [d("gateway"), d("pod"), d("credential")]
}

#[test]
fn allowed_ro_read_explains_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let out = can_i(&config, "dev-readonly", "eks-ro", "eks_get_pods", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{out:?}");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in\n{text}"))
            .to_owned()
    };
    assert!(line("gateway ").contains("ALLOW"), "{text}");
    assert!(line("gateway ").contains("reaches eks-ro"), "{text}");
    assert!(line("pod ").contains("ALLOW"), "{text}");
    assert!(line("pod ").contains("read tool"), "{text}");
    let cred = line("credential ");
    assert!(cred.contains("ALLOW"), "{text}");
    assert!(cred.contains("ClusterRole mcp-viewer"), "{text}");
    assert!(
        cred.contains("policies/kubernetes/mcp-viewer.yaml"),
        "{text}"
    );
    assert!(text.contains("list pods: rule 1"), "{text}");
    assert!(line("verdict ").contains("ALLOWED"), "{text}");
    assert!(text.contains("access ro (backend name: `-ro`)"), "{text}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gateway_denial() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let (code, v) = json(&config, "dev-readonly", "eks-rw", "eks_get_pods", &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(decisions(&v), ["deny", "allow", "allow"], "{v:#}");
    let reason = v["layers"]["gateway"]["reason"].as_str().unwrap();
    assert!(reason.contains("does not reach eks-rw"), "{reason}");
    assert!(
        reason.contains("eks-ro-prod"),
        "lists what it reaches: {reason}"
    );
    assert_eq!(v["verdict"], "denied");
    assert_eq!(v["allowed"], false);
    // The RW deployment's ClusterRole is the editor.
    assert_eq!(v["layers"]["credential"]["principal"], "mcp-editor");
}

#[test]
fn pod_layer_denies_a_write_tool_on_an_ro_backend_even_when_the_role_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), RO_DELETER);
    for role in ["dev-readonly", "ro-deleter"] {
        let (code, v) = json(&config, role, "eks-ro", "eks_delete_pod", &[]);
        assert_eq!(code, 1, "{v:#}");
        assert_eq!(decisions(&v), ["allow", "deny", "deny"], "{role}: {v:#}");
        let pod = v["layers"]["pod"]["reason"].as_str().unwrap();
        assert!(
            pod.contains("write tool") && pod.contains("--access ro"),
            "{pod}"
        );
        let cred = &v["layers"]["credential"];
        assert_eq!(cred["principal"], "mcp-viewer");
        assert_eq!(cred["needs"][0]["need"], "delete pods");
        assert_eq!(cred["needs"][0]["decision"], "deny");
    }
    // The narrowed role's other tools: allowed; tools outside the narrowing: gateway denial.
    let (code, v) = json(&config, "ro-deleter", "eks-ro", "eks_get_pods", &[]);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        v["layers"]["gateway"]["reason"]
            .as_str()
            .unwrap()
            .contains("narrowed to: eks_delete_pod, eks_get_pods")
    );
    let (code, v) = json(&config, "ro-deleter", "eks-ro", "eks_get_events", &[]);
    assert_eq!(code, 1);
    assert_eq!(decisions(&v), ["deny", "allow", "allow"], "{v:#}");
    assert!(
        v["layers"]["gateway"]["reason"]
            .as_str()
            .unwrap()
            .contains("outside its narrowing")
    );
}

#[test]
fn credential_layer_denial_against_the_shipped_ro_policy() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let (code, v) = json(&config, "dev-readonly", "aws-ro", "aws_stop_instances", &[]);
    assert_eq!(code, 1, "{v:#}");
    let cred = &v["layers"]["credential"];
    assert_eq!(cred["decision"], "deny", "{v:#}");
    assert_eq!(cred["policy"], "policies/iam/aws-ro.json");
    assert_eq!(cred["needs"][0]["need"], "ec2:StopInstances");
    assert!(
        cred["needs"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("implicit deny")
    );
    // Same question against the RW deployment: every layer allows.
    let (code, v) = json(&config, "devops-full", "aws-rw", "aws_stop_instances", &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(decisions(&v), ["allow", "allow", "allow"]);
    assert!(
        v["layers"]["credential"]["needs"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Ec2InstanceLifecycle")
    );
}

/// Copies policies/ to a temporary directory, for `--policies` with edited files.
fn policies_copy(dir: &Path) -> PathBuf {
    let dst = dir.join("policies");
    let src = repo().join("policies");
    for sub in [
        "",
        "kubernetes",
        "iam",
        "postgres",
        "argocd",
        "github",
        "cloudflare",
    ] {
        std::fs::create_dir_all(dst.join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dst.join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    dst
}

#[test]
fn credential_layer_alone_denies_with_edited_policies() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let policies = policies_copy(dir.path());
    let rw = policies.join("iam/aws-rw.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&rw).unwrap()).unwrap();
    // Drop ec2:StopInstances from the allow list; deny TerminateInstances explicitly.
    let stmts = doc["Statement"].as_array_mut().unwrap();
    for s in stmts.iter_mut() {
        if let Some(actions) = s["Action"].as_array_mut() {
            actions.retain(|a| a != "ec2:StopInstances");
        }
    }
    stmts[0]["Action"] = serde_json::json!(["ec2:Describe*", "ec2:TerminateInstances"]);
    stmts.push(serde_json::json!({"Sid":"NeverTerminate","Effect":"Deny","Action":"ec2:Terminate*","Resource":"*"}));
    std::fs::write(&rw, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let p = policies.to_str().unwrap();

    let (code, v) = json(
        &config,
        "devops-full",
        "aws-rw",
        "aws_stop_instances",
        &["--policies", p],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(decisions(&v), ["allow", "allow", "deny"], "{v:#}");
    assert_eq!(v["policies"], p);
    assert!(
        v["layers"]["credential"]["policy"]
            .as_str()
            .unwrap()
            .ends_with("iam/aws-rw.json")
    );
    let (code, v) = json(
        &config,
        "devops-full",
        "aws-rw",
        "aws_terminate_instances",
        &["--policies", p],
    );
    assert_eq!(code, 1);
    let detail = v["layers"]["credential"]["needs"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("explicitly denied by statement NeverTerminate"),
        "{detail}"
    );
    // The wildcard still grants the reads.
    let (code, v) = json(
        &config,
        "devops-full",
        "aws-rw",
        "aws_describe_vpcs",
        &["--policies", p],
    );
    assert_eq!(code, 0, "{v:#}");
    // Without --policies the compiled-in (shipped) policy answers.
    let (code, _) = json(&config, "devops-full", "aws-rw", "aws_stop_instances", &[]);
    assert_eq!(code, 0);

    // A ClusterRole edit is seen the same way.
    let editor = policies.join("kubernetes/mcp-editor.yaml");
    let text = std::fs::read_to_string(&editor).unwrap();
    let text = text.replace(
        "    resources: [pods]\n    verbs: [delete]\n",
        "    resources: [pods/log]\n    verbs: [delete]\n",
    );
    std::fs::write(&editor, text).unwrap();
    let (code, v) = json(
        &config,
        "devops-full",
        "eks-rw",
        "eks_delete_pod",
        &["--policies", p],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(decisions(&v), ["allow", "allow", "deny"], "{v:#}");
}

#[test]
fn a_tool_recorded_ahead_of_the_catalog_is_denied_by_the_pod_layer() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let policies = policies_copy(dir.path());
    let file = policies.join("permissions.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["eks"]["tools"]["eks_cordon_node"] =
        serde_json::json!([{"verb": "patch", "apiGroup": "", "resource": "nodes"}]);
    std::fs::write(&file, doc.to_string()).unwrap();
    let p = policies.to_str().unwrap();
    // Recorded but neither in tools.json nor pending: not a tool of the backend.
    let out = can_i(
        &config,
        "devops-full",
        "eks-rw",
        "eks_cordon_node",
        &["--policies", p],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tool `eks_cordon_node`"));

    doc["_pending"] = serde_json::json!({"eks_cordon_node": "planned for mcp-eks"});
    std::fs::write(&file, doc.to_string()).unwrap();
    let (code, v) = json(
        &config,
        "devops-full",
        "eks-rw",
        "eks_cordon_node",
        &["--policies", p],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(decisions(&v), ["allow", "deny", "deny"], "{v:#}");
    let pod = v["layers"]["pod"]["reason"].as_str().unwrap();
    assert!(
        pod.contains("planned for mcp-eks") && pod.contains("tools.json"),
        "{pod}"
    );
    assert_eq!(v["layers"]["credential"]["needs"][0]["need"], "patch nodes");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let cases: &[(&str, &str, &str, &[&str], &str)] = &[
        (
            "nobody",
            "eks-ro",
            "eks_get_pods",
            &[],
            "unknown role `nobody`",
        ),
        (
            "dev-readonly",
            "eks-staging",
            "eks_get_pods",
            &[],
            "unknown backend `eks-staging`",
        ),
        (
            "dev-readonly",
            "eks-ro",
            "eks_get_podz",
            &[],
            "unknown tool `eks_get_podz`",
        ),
        (
            "dev-readonly",
            "eks-ro",
            "aws_describe_instances",
            &[],
            "is a tool of `aws`, but backend eks-ro runs `eks`",
        ),
        (
            "dev-readonly",
            "eks-ro",
            "eks_get_pods",
            &["--values", "/nonexistent/values.yaml"],
            "cannot read /nonexistent/values.yaml",
        ),
        (
            "dev-readonly",
            "eks-ro",
            "eks_get_pods",
            &["--policies", "/nonexistent"],
            "cannot read /nonexistent/tools.json",
        ),
    ];
    for (role, backend, tool, extra, want) in cases {
        let out = can_i(&config, role, backend, tool, extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{role} {backend} {tool}: {err}");
        assert!(err.contains(want), "want `{want}` in: {err}");
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The known names are listed, so the next try can be right.
    let out = can_i(&config, "nobody", "eks-ro", "eks_get_pods", &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dev-readonly, devops-full"));

    // Unreadable and invalid configs.
    let out = can_i(Path::new("/nonexistent/gateway.yaml"), "r", "b", "t", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/gateway.yaml"));
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "keys_file: /k\nbackends:\n  eks-ro: ftp://x\nroleMapping: {}\n",
    )
    .unwrap();
    let out = can_i(&broken, "r", "eks-ro", "eks_get_pods", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{out:?}"
    );
    // A missing flag is a usage error (clap), also 2.
    let out = Command::new(BIN)
        .args(["can-i", "--config"])
        .arg(&config)
        .args(["--role", "dev-readonly"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn json_output_shape() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let (code, v) = json(
        &config,
        "dev-readonly",
        "postgres-ro",
        "postgres_query",
        &[],
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["role"], "dev-readonly");
    assert_eq!(v["backend"], "postgres-ro");
    assert_eq!(v["tool"], "postgres_query");
    assert_eq!(v["server"]["value"], "postgres");
    assert_eq!(v["server"]["source"], "gateway config");
    assert_eq!(v["access"]["value"], "ro");
    assert!(
        v["access"]["source"]
            .as_str()
            .unwrap()
            .contains("backend name")
    );
    assert_eq!(v["policies"], "compiled in");
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(v["allowed"], true);
    for layer in ["gateway", "pod", "credential"] {
        let l = &v["layers"][layer];
        assert_eq!(l["decision"], "allow", "{layer}");
        assert!(!l["reason"].as_str().unwrap().is_empty(), "{layer}");
    }
    let cred = &v["layers"]["credential"];
    assert_eq!(cred["policy"], "policies/postgres/roles.sql");
    assert_eq!(cred["principal"], "mcp_ro");
    assert!(cred["caveat"].as_str().unwrap().contains("live database"));
    let needs: Vec<(&str, &str)> = cred["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["need"].as_str().unwrap(), n["decision"].as_str().unwrap()))
        .collect();
    assert_eq!(
        needs,
        [
            ("CONNECT ON DATABASE", "allow"),
            ("membership in pg_read_all_data", "allow")
        ]
    );
    for n in cred["needs"].as_array().unwrap() {
        assert!(!n["detail"].as_str().unwrap().is_empty());
    }
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "access", "allowed", "backend", "layers", "policies", "role", "server", "tool",
            "verdict"
        ],
        "no notes when nothing was guessed"
    );
}

#[test]
fn server_and_access_from_values_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let values = values_file();
    let vals = values.to_str().unwrap();
    let (code, v) = json(
        &config,
        "dev-readonly",
        "costs",
        "costs_get_cost_and_usage",
        &["--values", vals],
    );
    assert_eq!(code, 0, "{v:#}");
    assert!(
        v["server"]["source"]
            .as_str()
            .unwrap()
            .starts_with("values ")
    );
    assert!(
        v["access"]["source"]
            .as_str()
            .unwrap()
            .starts_with("values ")
    );
    assert_eq!(
        v["layers"]["credential"]["policy"],
        "policies/iam/costs.json"
    );
    // Without --values, a name without an access marker on a read-only family is still exact.
    let (code, v) = json(
        &config,
        "dev-readonly",
        "cloudwatch",
        "cloudwatch_filter_log_events",
        &[],
    );
    assert_eq!(code, 0, "{v:#}");
    assert!(
        v["access"]["source"]
            .as_str()
            .unwrap()
            .contains("no write tools")
    );

    // A values file that says otherwise than the name: it wins, and says so.
    let odd = dir.path().join("values.yaml");
    std::fs::write(
        &odd,
        "backends:\n  eks-ro:\n    server: eks\n    access: rw\n  argo-view:\n    server: argo\n    access: ro\n    enabled: false\n",
    )
    .unwrap();
    let o = odd.to_str().unwrap();
    let (code, v) = json(
        &config,
        "dev-readonly",
        "eks-ro",
        "eks_delete_pod",
        &["--values", o],
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["access"]["value"], "rw");
    assert_eq!(v["layers"]["credential"]["principal"], "mcp-editor");
    let (code, v) = json(
        &config,
        "dev-readonly",
        "argo-view",
        "argo_get_application",
        &["--values", o],
    );
    assert_eq!(code, 1, "{v:#}");
    assert!(
        v["layers"]["pod"]["reason"]
            .as_str()
            .unwrap()
            .contains("enabled: false")
    );
    let out = can_i(
        &config,
        "dev-readonly",
        "aws-ro",
        "aws_describe_vpcs",
        &["--values", o],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entry `backends.aws-ro`"));

    // Flags win over everything.
    let (code, v) = json(
        &config,
        "dev-readonly",
        "eks-ro",
        "eks_delete_pod",
        &["--access", "rw", "--values", o],
    );
    assert_eq!(code, 0);
    assert_eq!(v["access"]["source"], "--access");
    let (code, v) = json(
        &config,
        "dev-readonly",
        "eks-ro",
        "eks_delete_pod",
        &["--access", "ro", "--values", o],
    );
    assert_eq!(code, 1);
    assert_eq!(v["access"]["value"], "ro");
    let (_, v) = json(
        &config,
        "dev-readonly",
        "eks-ro",
        "eks_get_pods",
        &["--server", "eks"],
    );
    assert_eq!(v["server"]["source"], "--server");
}

#[test]
fn layers_that_cannot_be_checked_offline_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let out = can_i(
        &config,
        "dev-readonly",
        "prometheus-prod",
        "prometheus_query",
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("credential  UNVERIFIED"), "{text}");
    assert!(text.contains("aps:QueryMetrics"), "{text}");
    assert!(text.contains("verdict     UNVERIFIED"), "{text}");
    assert!(!text.contains("ALLOWED"), "{text}");
    // A denial elsewhere still decides.
    let (code, v) = json(&config, "devops-full", "eks-ro", "eks_get_pods", &[]);
    assert_eq!(code, 1, "{v:#}");
}

/// Every role of the seed, every backend, every tool of the backend's family: the library's
/// answer is consistent with the layers' rules, and nothing a read-only role can do writes.
#[test]
fn the_seed_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let config = chart_config(dir.path(), "");
    let catalog = mcp_gateway::catalog::embedded();
    let (cfg, _) = mcp_gateway::config::Config::load(&config).unwrap();
    let values = values_file();
    let mut allowed = 0;
    for role in cfg.roles.keys() {
        for (backend, b) in &cfg.backends {
            let family = &catalog[&b.server];
            for tool in family.read.iter().chain(&family.write) {
                let args = CanIArgs {
                    config: config.clone(),
                    role: role.clone(),
                    backend: backend.clone(),
                    tool: tool.clone(),
                    server: None,
                    access: None,
                    values: Some(values.clone()),
                    policies: None,
                    output: mcp_gateway::can_i::Output::Json,
                };
                let r = explain(&args).unwrap();
                let reaches = cfg.roles[role].contains_key(backend);
                assert_eq!(
                    r.layers.gateway.decision == Decision::Allow,
                    reaches,
                    "{role} {backend} {tool}"
                );
                let write = family.write.contains(tool);
                if write && r.access.value == "ro" {
                    assert_eq!(r.layers.pod.decision, Decision::Deny, "{backend} {tool}");
                }
                if role == "dev-readonly" && write {
                    assert_ne!(
                        r.verdict,
                        Verdict::Allowed,
                        "dev-readonly may {tool} on {backend}"
                    );
                }
                if reaches && !write && b.server != "prometheus" {
                    assert_eq!(
                        r.verdict,
                        Verdict::Allowed,
                        "{role} {backend} {tool}: {}",
                        r.to_text()
                    );
                }
                if r.verdict == Verdict::Allowed {
                    allowed += 1;
                }
            }
        }
    }
    assert!(allowed > 100, "{allowed}");
}

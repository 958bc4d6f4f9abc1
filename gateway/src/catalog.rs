//! Tool names the gateway can check a role's narrowing against.
//!
//! Tool names follow `<server>_<verb>[_<noun>]` (snake case), so a narrowing that names a tool
//! of another server family is always a mistake. For server families whose tool list is known
//! (the project's own servers register theirs here, and each server's tests compare its
//! `tools/list` with this list), a name outside the list is a mistake too: most likely a typo
//! that would otherwise silently deny a tool.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// `policies/tools.json`: the tools of each server family, compiled in.
const CATALOG: &str = include_str!("../../policies/tools.json");

#[derive(Debug, serde::Deserialize)]
struct Family {
    read: Vec<String>,
    write: Vec<String>,
}

fn catalog() -> &'static BTreeMap<String, Vec<String>> {
    static PARSED: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(CATALOG).expect("policies/tools.json is valid JSON (tested)");
        raw.into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| {
                let f: Family = serde_json::from_value(v)
                    .expect("policies/tools.json families have read and write lists (tested)");
                (k, f.read.into_iter().chain(f.write).collect())
            })
            .collect()
    })
}

/// The tool list of a server family (read and write tools), when the gateway knows it. A
/// family not listed is checked by prefix only.
pub fn known_tools(server: &str) -> Option<&'static [String]> {
    catalog().get(server).map(Vec::as_slice)
}

/// Checks that `tool` can be a tool of `server`.
pub fn check_tool(server: &str, tool: &str) -> Result<(), String> {
    let well_formed = !tool.is_empty()
        && tool
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(format!("tool `{tool}` is not a snake_case tool name"));
    }
    let prefix = format!("{server}_");
    if !tool.starts_with(&prefix) {
        return Err(format!(
            "unknown tool `{tool}`: tools of a `{server}` backend are named `{server}_...`"
        ));
    }
    if let Some(known) = known_tools(server)
        && !known.iter().any(|k| k == tool)
    {
        return Err(format!(
            "unknown tool `{tool}`; `{server}` has: {}",
            known.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_follows_the_naming_rule() {
        assert!(!catalog().is_empty());
        for (family, tools) in catalog() {
            for t in tools {
                assert!(t.starts_with(&format!("{family}_")), "{t}");
            }
        }
        assert!(check_tool("postgres", "postgres_query").is_ok());
        let e = check_tool("postgres", "postgres_qeury").unwrap_err();
        assert!(
            e.contains("postgres has:") || e.contains("`postgres` has:"),
            "{e}"
        );
    }

    #[test]
    fn prefix_and_shape() {
        assert!(check_tool("eks", "eks_get_pods").is_ok());
        assert!(check_tool("eks", "postgres_query").is_err());
        assert!(check_tool("eks", "eks-get-pods").is_err());
        assert!(check_tool("eks", "").is_err());
    }
}

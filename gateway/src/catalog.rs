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

/// The tools of one server family: `read` are registered in every deployment, `write` only
/// with `--access rw`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Family {
    pub read: Vec<String>,
    pub write: Vec<String>,
}

/// Parses a `tools.json` (members starting with `_` are comments).
pub fn parse(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    raw.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| {
            let f: Family = serde_json::from_value(v)
                .map_err(|e| format!("family `{k}` needs `read` and `write` lists: {e}"))?;
            Ok((k, f))
        })
        .collect()
}

/// The compiled-in `policies/tools.json`.
pub fn embedded() -> &'static BTreeMap<String, Family> {
    static PARSED: OnceLock<BTreeMap<String, Family>> = OnceLock::new();
    PARSED.get_or_init(|| parse(CATALOG).expect("policies/tools.json parses (tested)"))
}

fn catalog() -> &'static BTreeMap<String, Vec<String>> {
    static ALL: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    ALL.get_or_init(|| {
        embedded()
            .iter()
            .map(|(k, f)| (k.clone(), f.read.iter().chain(&f.write).cloned().collect()))
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

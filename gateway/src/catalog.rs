//! Tool names the gateway can check a role's narrowing against.
//!
//! Tool names follow `<server>_<verb>[_<noun>]` (snake case), so a narrowing that names a tool
//! of another server family is always a mistake. For server families whose tool list is known
//! (the project's own servers register theirs here, and each server's tests compare its
//! `tools/list` with this list), a name outside the list is a mistake too: most likely a typo
//! that would otherwise silently deny a tool.

/// Known tool lists by server family. A family not listed here is checked by prefix only.
const KNOWN: &[(&str, &[&str])] = &[];

/// The tool list of a server family, when the gateway knows it.
pub fn known_tools(server: &str) -> Option<&'static [&'static str]> {
    KNOWN.iter().find(|(s, _)| *s == server).map(|(_, t)| *t)
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
        && !known.contains(&tool)
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
    fn prefix_and_shape() {
        assert!(check_tool("eks", "eks_get_pods").is_ok());
        assert!(check_tool("eks", "postgres_query").is_err());
        assert!(check_tool("eks", "eks-get-pods").is_err());
        assert!(check_tool("eks", "").is_err());
    }
}

//! API tokens made by hand (GitHub fine-grained tokens, Cloudflare API tokens): the shipped
//! policy is the document that says what each deployment's token holds
//! (`policies/github/token-permissions.md`, `policies/cloudflare/token-scopes.md`).
//!
//! A document has one `## `-section per deployment, headed by the deployment's name in
//! backticks (`` ## `github-ro` (...) ``). Its tables list `| permission | level | ... |`; a
//! line "Everything of `github-ro`, plus:" includes that section's grants. The live token is
//! not seen: `can-i` checks the documented scope.

use std::collections::BTreeMap;

use super::Check;
use super::requirements::GithubLevel;

/// Grants per deployment: permission name -> (levels, as written).
#[derive(Debug, Clone, Default)]
pub struct TokenDoc {
    sections: BTreeMap<String, Vec<(String, String)>>,
    includes: BTreeMap<String, Vec<String>>,
}

fn first_backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|')
        && cells(t)
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

impl TokenDoc {
    pub fn parse(markdown: &str) -> TokenDoc {
        let mut doc = TokenDoc::default();
        let lines: Vec<&str> = markdown.lines().collect();
        let mut current: Option<String> = None;
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if let Some(heading) = t.strip_prefix("## ") {
                current = first_backticked(heading).map(str::to_owned);
                if let Some(c) = &current {
                    doc.sections.entry(c.clone()).or_default();
                }
                continue;
            }
            if t.starts_with("# ") {
                current = None;
                continue;
            }
            let Some(section) = &current else { continue };
            if t.to_ascii_lowercase().starts_with("everything of")
                && let Some(base) = first_backticked(t)
            {
                doc.includes
                    .entry(section.clone())
                    .or_default()
                    .push(base.to_owned());
                continue;
            }
            let is_header = lines.get(i + 1).is_some_and(|next| is_separator(next));
            if !t.starts_with('|') || is_separator(t) || is_header {
                continue;
            }
            let c = cells(t);
            if c.len() >= 2 && !c[0].is_empty() {
                doc.sections
                    .entry(section.clone())
                    .or_default()
                    .push((c[0].clone(), c[1].clone()));
            }
        }
        doc
    }

    pub fn knows(&self, principal: &str) -> bool {
        self.sections.contains_key(principal)
    }

    /// The grants of a section with those of the sections it includes, each with the section
    /// it is written in.
    fn grants(&self, principal: &str) -> Vec<(&str, &str, &str)> {
        let mut out = Vec::new();
        let mut stack = vec![principal];
        let mut seen = Vec::new();
        while let Some(s) = stack.pop() {
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            if let Some((name, rows)) = self.sections.get_key_value(s) {
                out.extend(
                    rows.iter()
                        .map(|(p, l)| (name.as_str(), p.as_str(), l.as_str())),
                );
            }
            if let Some(inc) = self.includes.get(s) {
                stack.extend(inc.iter().map(String::as_str));
            }
        }
        out
    }

    /// GitHub: a repository permission (`pull_requests`) at least at `level`.
    pub fn check_github(&self, principal: &str, permission: &str, level: GithubLevel) -> Check {
        let key = |s: &str| s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let mut best: Option<(GithubLevel, &str, &str, &str)> = None;
        for (section, p, l) in self.grants(principal) {
            if key(p) != key(permission) {
                continue;
            }
            if let Some(have) = GithubLevel::parse(l)
                && best.is_none_or(|(b, ..)| have > b)
            {
                best = Some((have, section, p, l));
            }
        }
        match best {
            Some((have, section, p, l)) if have >= level => {
                Check::allow(format!("`{section}`: {p} | {l}"))
            }
            Some((_, section, p, l)) => {
                Check::deny(format!("`{section}` documents {p} | {l} only"))
            }
            None => Check::deny(format!(
                "`{principal}` documents no {permission} permission"
            )),
        }
    }

    /// Cloudflare: a permission group (`Zone > DNS`) at `level`; `Edit` includes `Read`.
    pub fn check_cloudflare(&self, principal: &str, group: &str, level: &str) -> Check {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        };
        let want = norm(level);
        let rows: Vec<(&str, &str, &str)> = self
            .grants(principal)
            .into_iter()
            .filter(|(_, g, _)| norm(g) == norm(group))
            .collect();
        let satisfies = |have: &str| {
            let have = norm(have);
            have == want || (want == "read" && have == "edit")
        };
        if let Some((section, g, l)) = rows.iter().find(|(_, _, l)| satisfies(l)) {
            return Check::allow(format!("`{section}`: {g} | {l}"));
        }
        match rows.first() {
            Some((section, g, l)) => Check::deny(format!("`{section}` documents {g} | {l} only")),
            None => Check::deny(format!("`{principal}` documents no {group} permission")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decision;
    use super::*;

    #[test]
    fn the_shipped_github_scopes() {
        let doc = TokenDoc::parse(include_str!(
            "../../../policies/github/token-permissions.md"
        ));
        assert!(doc.knows("github-ro") && doc.knows("github-rw"));
        for (who, perm, level, want) in [
            ("github-ro", "metadata", GithubLevel::Read, Decision::Allow),
            (
                "github-ro",
                "pull_requests",
                GithubLevel::Read,
                Decision::Allow,
            ),
            ("github-ro", "contents", GithubLevel::Write, Decision::Deny),
            ("github-ro", "issues", GithubLevel::Write, Decision::Deny),
            ("github-rw", "actions", GithubLevel::Read, Decision::Allow),
            ("github-rw", "contents", GithubLevel::Write, Decision::Allow),
            (
                "github-rw",
                "pull_requests",
                GithubLevel::Write,
                Decision::Allow,
            ),
            (
                "github-rw",
                "administration",
                GithubLevel::Read,
                Decision::Deny,
            ),
        ] {
            let c = doc.check_github(who, perm, level);
            assert_eq!(c.decision, want, "{who} {perm}: {}", c.detail);
        }
        let c = doc.check_github("github-rw", "actions", GithubLevel::Read);
        assert!(c.detail.contains("`github-ro`"), "inherited: {}", c.detail);
    }

    #[test]
    fn the_shipped_cloudflare_scopes() {
        let doc = TokenDoc::parse(include_str!("../../../policies/cloudflare/token-scopes.md"));
        assert!(doc.knows("cloudflare-ro") && doc.knows("cloudflare-edit"));
        for (who, group, level, want) in [
            ("cloudflare-ro", "Zone > DNS", "Read", Decision::Allow),
            ("cloudflare-ro", "Zone > DNS", "Edit", Decision::Deny),
            (
                "cloudflare-ro",
                "Zone > Cache Purge",
                "Purge",
                Decision::Deny,
            ),
            ("cloudflare-edit", "Zone > DNS", "Edit", Decision::Allow),
            ("cloudflare-edit", "Zone > Zone", "Read", Decision::Allow),
            (
                "cloudflare-edit",
                "Zone > Cache Purge",
                "Purge",
                Decision::Allow,
            ),
            (
                "cloudflare-edit",
                "Zone > Zone Settings",
                "Edit",
                Decision::Deny,
            ),
        ] {
            let c = doc.check_cloudflare(who, group, level);
            assert_eq!(c.decision, want, "{who} {group} {level}: {}", c.detail);
        }
    }

    #[test]
    fn levels_includes_and_headers() {
        let md = "# T\n\n## `a` (x)\n\n| permission | level |\n|---|---|\n| Zone > DNS | Edit |\n\
                  | Issues | Read |\n\n## `b`\n\nEverything of `a`, plus:\n\n| p | l |\n| :-- | --: |\n\
                  | Issues | Read and write |\n\n## Other notes\n\n| Secrets | Read and write |\n";
        let doc = TokenDoc::parse(md);
        assert_eq!(
            doc.check_cloudflare("a", "zone >  dns", "read").decision,
            Decision::Allow,
            "Edit includes Read; names compare loosely"
        );
        assert_eq!(
            doc.check_github("a", "issues", GithubLevel::Write).decision,
            Decision::Deny
        );
        assert_eq!(
            doc.check_github("b", "issues", GithubLevel::Write).decision,
            Decision::Allow
        );
        assert_eq!(
            doc.check_cloudflare("b", "Zone > DNS", "Edit").decision,
            Decision::Allow
        );
        assert_eq!(
            doc.check_github("b", "permission", GithubLevel::Read)
                .decision,
            Decision::Deny,
            "header rows are not grants"
        );
        assert!(!doc.knows("Other notes"));
        assert_eq!(
            doc.check_github("b", "secrets", GithubLevel::Read).decision,
            Decision::Deny,
            "rows outside a deployment's section grant nothing"
        );
    }
}

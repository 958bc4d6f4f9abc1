//! PostgreSQL roles as `roles.sql` defines them: role memberships (`GRANT role TO role`),
//! privileges on objects (`GRANT CONNECT ON DATABASE ... TO role`), `REVOKE`s, role
//! attributes (`SUPERUSER`, `NOINHERIT`) and role settings (`ALTER ROLE ... SET`).
//!
//! The file is read as SQL: statements inside `DO $$ ... $$` bodies and inside string literals
//! (`EXECUTE format('GRANT ...')`) count too, in file order. Unquoted names fold to lower case.
//! Memberships are followed transitively, including PostgreSQL's predefined roles that contain
//! others (`pg_monitor` has `pg_read_all_stats`, `pg_read_all_settings`, `pg_stat_scan_tables`).

use std::collections::{BTreeMap, BTreeSet};

use super::Check;

/// PostgreSQL's predefined roles that are members of others (PostgreSQL 14+).
const PREDEFINED: &[(&str, &[&str])] = &[(
    "pg_monitor",
    &[
        "pg_read_all_settings",
        "pg_read_all_stats",
        "pg_stat_scan_tables",
    ],
)];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// A string literal or a dollar-quoted body (its text, for nested SQL).
    Text(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        s.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Text(s));
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Word(s));
        } else if c == '$' {
            // `$tag$ ... $tag$` (tag may be empty); otherwise a lone `$` (e.g. `$1`).
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if chars.get(j) == Some(&'$') {
                let tag: String = chars[i..=j].iter().collect();
                let body_start = j + 1;
                let rest: String = chars[body_start..].iter().collect();
                let (body, len) = match rest.find(&tag) {
                    Some(end) => (
                        rest[..end].to_owned(),
                        rest[..end].chars().count() + tag.chars().count(),
                    ),
                    None => (rest.clone(), rest.chars().count()),
                };
                out.push(Token::Text(body));
                i = body_start + len;
            } else {
                out.push(Token::Punct('$'));
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' || c == '%' {
            let mut s = String::new();
            // Unquoted names fold to lower case; `%I` (a format() placeholder) stays as is.
            let placeholder = c == '%';
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '%' | '.' | '$'))
            {
                s.push(if placeholder {
                    chars[i]
                } else {
                    chars[i].to_ascii_lowercase()
                });
                i += 1;
            }
            out.push(Token::Word(s));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// What `roles.sql` says about every role.
#[derive(Debug, Default, Clone)]
pub struct Roles {
    /// role -> roles it was granted (direct), with the statement that granted it.
    members: BTreeMap<String, BTreeMap<String, String>>,
    /// grantee -> (PRIVILEGE, OBJECT TYPE) -> statement.
    privileges: BTreeMap<String, BTreeMap<(String, String), String>>,
    /// role -> setting -> value.
    settings: BTreeMap<String, BTreeMap<String, String>>,
    superuser: BTreeSet<String>,
    noinherit: BTreeSet<String>,
    /// Roles created, altered or granted to.
    known: BTreeSet<String>,
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    }
}

/// A statement as text, keywords in upper case, for explanations.
fn render(tokens: &[Token]) -> String {
    const KEYWORDS: &[&str] = &[
        "grant",
        "revoke",
        "to",
        "from",
        "on",
        "database",
        "schema",
        "alter",
        "role",
        "set",
        "connect",
        "all",
        "privileges",
        "with",
        "admin",
        "option",
        "in",
    ];
    let mut s = String::new();
    for t in tokens {
        match t {
            Token::Punct(',') => s.push(','),
            Token::Punct(c) => {
                s.push(' ');
                s.push(*c);
            }
            Token::Word(w) => {
                if !s.is_empty() {
                    s.push(' ');
                }
                if KEYWORDS.contains(&w.as_str()) {
                    s.push_str(&w.to_ascii_uppercase());
                } else {
                    s.push_str(w);
                }
            }
            Token::Text(t) => {
                s.push_str(" '");
                s.push_str(t);
                s.push('\'');
            }
        }
    }
    s
}

/// Splits `tokens` at top-level commas into lists of words.
fn list(tokens: &[Token]) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut depth = 0usize;
    for t in tokens {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth = depth.saturating_sub(1),
            Token::Punct(',') if depth == 0 => {
                if !cur.is_empty() {
                    items.push(cur.join(" "));
                }
                cur.clear();
            }
            Token::Word(w) if depth == 0 => cur.push(w.clone()),
            _ => {}
        }
    }
    if !cur.is_empty() {
        items.push(cur.join(" "));
    }
    items
}

impl Roles {
    pub fn parse(sql: &str) -> Roles {
        let mut roles = Roles::default();
        roles.scan(sql);
        roles
    }

    fn scan(&mut self, sql: &str) {
        let tokens = tokenize(sql);
        let mut i = 0;
        while i < tokens.len() {
            if let Token::Text(inner) = &tokens[i] {
                self.scan(inner);
                i += 1;
                continue;
            }
            let end = tokens[i..]
                .iter()
                .position(|t| matches!(t, Token::Punct(';')))
                .map_or(tokens.len(), |p| i + p);
            let end = end.max(i + 1);
            match (word(tokens.get(i)), word(tokens.get(i + 1))) {
                (Some("grant"), _) => self.grant(&tokens[i..end], true),
                (Some("revoke"), _) => self.grant(&tokens[i..end], false),
                (Some("alter" | "create"), Some("role" | "user")) => self.alter(&tokens[i..end]),
                _ => {
                    i += 1;
                    continue;
                }
            }
            i = end;
        }
    }

    /// `GRANT privs [ON object] TO grantees` or `REVOKE privs [ON object] FROM grantees`.
    fn grant(&mut self, stmt: &[Token], add: bool) {
        let sep = if add { "to" } else { "from" };
        let Some(to) = stmt.iter().position(|t| word(Some(t)) == Some(sep)) else {
            return;
        };
        let head = &stmt[1..to];
        let grantees_end = stmt[to + 1..]
            .iter()
            .position(|t| {
                matches!(
                    word(Some(t)),
                    Some("with" | "granted" | "cascade" | "restrict")
                )
            })
            .map_or(stmt.len(), |p| to + 1 + p);
        let grantees: Vec<String> = list(&stmt[to + 1..grantees_end])
            .into_iter()
            .map(|g| g.trim_start_matches("group ").to_owned())
            .collect();
        let text = render(stmt);
        let on = head.iter().position(|t| word(Some(t)) == Some("on"));
        for g in &grantees {
            self.known.insert(g.clone());
        }
        match on {
            None => {
                for role in list(head) {
                    for g in &grantees {
                        let m = self.members.entry(g.clone()).or_default();
                        if add {
                            m.insert(role.clone(), format!("`{text}`"));
                        } else {
                            m.remove(&role);
                        }
                    }
                }
            }
            Some(on) => {
                let privs = list(&head[..on]);
                let object_words: Vec<&str> = head[on + 1..]
                    .iter()
                    .filter_map(|t| word(Some(t)))
                    .collect();
                // The object type: the words before the object's name (`DATABASE %I`, `ALL
                // TABLES IN SCHEMA public`); a bare name is a table.
                let object = match object_words.split_last() {
                    Some((_, [])) | None => "TABLE".to_owned(),
                    Some((_, kind)) => kind.join(" ").to_ascii_uppercase(),
                };
                for p in privs {
                    let p = p.to_ascii_uppercase();
                    let p = if p == "ALL PRIVILEGES" {
                        "ALL".to_owned()
                    } else {
                        p
                    };
                    for g in &grantees {
                        let m = self.privileges.entry(g.clone()).or_default();
                        if add {
                            m.insert((p.clone(), object.clone()), text.clone());
                        } else if p == "ALL" {
                            m.retain(|(_, o), _| *o != object);
                        } else {
                            m.remove(&(p.clone(), object.clone()));
                        }
                    }
                }
            }
        }
    }

    /// `ALTER ROLE r [IN DATABASE d] SET name = value | TO value`, `ALTER ROLE r RESET name`,
    /// `ALTER|CREATE ROLE r [WITH] attributes`.
    fn alter(&mut self, stmt: &[Token]) {
        let Some(role) = word(stmt.get(2)).map(str::to_owned) else {
            return;
        };
        self.known.insert(role.clone());
        let mut rest = &stmt[3..];
        if word(rest.first()) == Some("in") && word(rest.get(1)) == Some("database") {
            rest = rest.get(3..).unwrap_or(&[]);
        }
        match word(rest.first()) {
            Some("set") => {
                let Some(name) = word(rest.get(1)) else {
                    return;
                };
                let value = rest
                    .iter()
                    .skip(2)
                    .find_map(|t| match t {
                        Token::Word(w) if w != "to" => Some(w.clone()),
                        Token::Text(s) => Some(s.to_ascii_lowercase()),
                        _ => None,
                    })
                    .unwrap_or_default();
                self.settings
                    .entry(role)
                    .or_default()
                    .insert(name.to_owned(), value);
            }
            Some("reset") => {
                if let Some(name) = word(rest.get(1)) {
                    if name == "all" {
                        self.settings.remove(&role);
                    } else if let Some(s) = self.settings.get_mut(&role) {
                        s.remove(name);
                    }
                }
            }
            _ => {
                for w in rest.iter().filter_map(|t| word(Some(t))) {
                    match w {
                        "superuser" => {
                            self.superuser.insert(role.clone());
                        }
                        "nosuperuser" => {
                            self.superuser.remove(&role);
                        }
                        "noinherit" => {
                            self.noinherit.insert(role.clone());
                        }
                        "inherit" => {
                            self.noinherit.remove(&role);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    pub fn knows(&self, role: &str) -> bool {
        self.known.contains(role)
    }

    /// Every role whose privileges `role` uses without `SET ROLE`, itself and PUBLIC included,
    /// with how it got each (the chain of statements).
    fn effective(&self, role: &str) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        seen.insert(role.to_owned(), String::new());
        seen.insert("public".to_owned(), "every role is in PUBLIC".to_owned());
        if self.noinherit.contains(role) {
            return seen;
        }
        let mut queue = vec![role.to_owned()];
        while let Some(r) = queue.pop() {
            let via = seen.get(&r).cloned().unwrap_or_default();
            let mut next: Vec<(String, String)> = self
                .members
                .get(&r)
                .map(|m| {
                    m.iter()
                        .map(|(g, stmt)| (g.clone(), stmt.clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (parent, children) in PREDEFINED {
                if *parent == r {
                    next.extend(children.iter().map(|c| {
                        (
                            (*c).to_owned(),
                            format!("{parent} contains {c} (predefined)"),
                        )
                    }));
                }
            }
            for (g, how) in next {
                if seen.contains_key(&g) {
                    continue;
                }
                let chain = if via.is_empty() {
                    how
                } else {
                    format!("{via}; {how}")
                };
                seen.insert(g.clone(), chain);
                if !self.noinherit.contains(&g) {
                    queue.push(g);
                }
            }
        }
        seen
    }

    /// Whether `role` is (effectively) a member of `member_of`.
    pub fn check_membership(&self, role: &str, member_of: &str) -> Check {
        if self.superuser.contains(role) {
            return Check::allow(format!("{role} is SUPERUSER"));
        }
        match self.effective(role).get(member_of) {
            Some(_) if member_of == role => Check::allow(format!("it is {role} itself")),
            Some(how) => Check::allow(how.clone()),
            None => {
                let why = if self.noinherit.contains(role) {
                    format!("{role} is NOINHERIT, so memberships give nothing without SET ROLE")
                } else {
                    format!("no GRANT makes {role} a member of it")
                };
                Check::deny(why)
            }
        }
    }

    /// Whether `role` (or a role it inherits, or PUBLIC) holds `privilege` on `object`.
    pub fn check_privilege(&self, role: &str, privilege: &str, object: &str) -> Check {
        if self.superuser.contains(role) {
            return Check::allow(format!("{role} is SUPERUSER"));
        }
        for (r, how) in self.effective(role) {
            let Some(privs) = self.privileges.get(&r) else {
                continue;
            };
            for p in [privilege, "ALL"] {
                if let Some(stmt) = privs.get(&(p.to_owned(), object.to_owned())) {
                    let via = if how.is_empty() || r == role {
                        String::new()
                    } else {
                        format!(" (via {r}: {how})")
                    };
                    return Check::allow(format!("`{stmt}`{via}"));
                }
            }
        }
        Check::deny(format!(
            "no GRANT {privilege} ON {object} to {role}, a role it inherits, or PUBLIC"
        ))
    }

    /// Whether the role's setting `name` has `value` (`on`/`off` and their synonyms agree).
    pub fn check_setting(&self, role: &str, name: &str, value: &str) -> Check {
        let norm = |v: &str| match v {
            "on" | "true" | "yes" | "1" => "on".to_owned(),
            "off" | "false" | "no" | "0" => "off".to_owned(),
            other => other.to_owned(),
        };
        match self.settings.get(role).and_then(|s| s.get(name)) {
            Some(v) if norm(v) == norm(value) => {
                Check::allow(format!("ALTER ROLE {role} SET {name} = {v}"))
            }
            Some(v) => Check::deny(format!("ALTER ROLE {role} SET {name} = {v}")),
            None => Check::allow(format!(
                "roles.sql does not set {name} for {role}; the database's default applies"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decision;
    use super::*;

    const SHIPPED: &str = include_str!("../../../policies/postgres/roles.sql");

    #[test]
    fn the_shipped_roles() {
        let r = Roles::parse(SHIPPED);
        assert!(r.knows("mcp_ro") && r.knows("mcp_rw"));
        for (role, of, want) in [
            ("mcp_ro", "pg_read_all_data", Decision::Allow),
            ("mcp_ro", "pg_monitor", Decision::Allow),
            ("mcp_ro", "pg_read_all_stats", Decision::Allow),
            ("mcp_ro", "pg_write_all_data", Decision::Deny),
            ("mcp_ro", "pg_signal_backend", Decision::Deny),
            ("mcp_rw", "pg_write_all_data", Decision::Allow),
            ("mcp_rw", "pg_signal_backend", Decision::Allow),
        ] {
            let c = r.check_membership(role, of);
            assert_eq!(c.decision, want, "{role} in {of}: {}", c.detail);
        }
        let c = r.check_membership("mcp_ro", "pg_read_all_stats");
        assert!(c.detail.contains("pg_monitor contains"), "{}", c.detail);
        // The CONNECT grant is dynamic SQL inside a DO block's string literal.
        for role in ["mcp_ro", "mcp_rw"] {
            let c = r.check_privilege(role, "CONNECT", "DATABASE");
            assert_eq!(c.decision, Decision::Allow, "{role}: {}", c.detail);
            assert!(
                c.detail.contains("GRANT CONNECT ON DATABASE"),
                "{}",
                c.detail
            );
        }
        assert_eq!(
            r.check_privilege("mcp_ro", "CREATE", "DATABASE").decision,
            Decision::Deny
        );
        assert_eq!(
            r.check_setting("mcp_ro", "default_transaction_read_only", "off")
                .decision,
            Decision::Deny
        );
        assert_eq!(
            r.check_setting("mcp_rw", "default_transaction_read_only", "off")
                .decision,
            Decision::Allow
        );
        assert_eq!(
            r.check_setting("mcp_ro", "statement_timeout", "30s")
                .decision,
            Decision::Allow
        );
        // A comment mentioning REVOKE does not count.
        assert!(!r.privileges.contains_key("public"));
    }

    #[test]
    fn transitive_grants_revokes_superuser_and_noinherit() {
        let sql = r#"
            CREATE ROLE app_read NOLOGIN;
            GRANT pg_read_all_data TO app_read;
            GRANT app_read TO "Agent", bob WITH ADMIN OPTION;
            GRANT ALL PRIVILEGES ON DATABASE app TO bob;
            GRANT CONNECT ON DATABASE app TO PUBLIC;
            REVOKE app_read FROM bob;
            CREATE ROLE root SUPERUSER;
            CREATE ROLE lazy NOINHERIT;
            GRANT pg_monitor TO lazy;
            /* GRANT pg_write_all_data TO "Agent"; */
            ALTER ROLE bob IN DATABASE app SET default_transaction_read_only TO 'on';
        "#;
        let r = Roles::parse(sql);
        let c = r.check_membership("Agent", "pg_read_all_data");
        assert_eq!(c.decision, Decision::Allow);
        assert!(c.detail.contains("app_read"), "{}", c.detail);
        assert_eq!(
            r.check_membership("Agent", "pg_write_all_data").decision,
            Decision::Deny
        );
        assert_eq!(
            r.check_membership("bob", "pg_read_all_data").decision,
            Decision::Deny,
            "revoked"
        );
        assert_eq!(
            r.check_privilege("bob", "CREATE", "DATABASE").decision,
            Decision::Allow,
            "ALL PRIVILEGES"
        );
        let c = r.check_privilege("Agent", "CONNECT", "DATABASE");
        assert_eq!(c.decision, Decision::Allow);
        assert!(c.detail.contains("PUBLIC"), "{}", c.detail);
        assert_eq!(
            r.check_membership("root", "pg_write_all_data").decision,
            Decision::Allow
        );
        let c = r.check_membership("lazy", "pg_read_all_stats");
        assert_eq!(c.decision, Decision::Deny);
        assert!(c.detail.contains("NOINHERIT"), "{}", c.detail);
        assert_eq!(
            r.check_setting("bob", "default_transaction_read_only", "off")
                .decision,
            Decision::Deny
        );
    }

    #[test]
    fn tokenizer_handles_quotes_and_dollar_bodies() {
        let t = tokenize("DO $body$ BEGIN EXECUTE 'GRANT x TO y'; END $body$; SELECT 'it''s';");
        assert_eq!(t[0], Token::Word("do".into()));
        assert!(matches!(&t[1], Token::Text(b) if b.contains("EXECUTE 'GRANT x TO y'")));
        assert!(t.contains(&Token::Text("it's".into())));
        let r = Roles::parse("DO $$ BEGIN EXECUTE 'GRANT x TO y'; END $$;");
        assert_eq!(r.check_membership("y", "x").decision, Decision::Allow);
    }
}

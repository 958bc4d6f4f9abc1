//! Small lexical checks on agent SQL. They give clear answers early; they are not what makes a
//! read tool safe (the read-only transaction and the one-statement rule do that).

/// The first keyword of `sql`, upper-cased, after whitespace, comments and opening parentheses.
pub fn first_keyword(sql: &str) -> Option<String> {
    let rest = skip_noise(sql);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

/// The first two keywords (for `SET TRANSACTION`, `PREPARE TRANSACTION` ...).
fn first_two_keywords(sql: &str) -> (Option<String>, Option<String>) {
    let rest = skip_noise(sql);
    let first: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    if first.is_empty() {
        return (None, None);
    }
    let second = first_keyword(&rest[first.len()..]);
    (Some(first.to_ascii_uppercase()), second)
}

fn skip_noise(mut s: &str) -> &str {
    loop {
        let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = t.strip_prefix("--") {
            s = r.split_once('\n').map_or("", |(_, r)| r);
        } else if t.starts_with("/*") {
            // Block comments nest in PostgreSQL.
            let mut depth = 0usize;
            let mut i = 0usize;
            let b = t.as_bytes();
            let mut end = t.len();
            while i + 1 < b.len() {
                if b[i] == b'/' && b[i + 1] == b'*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b[i + 1] == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            s = &t[end..];
        } else {
            return t;
        }
    }
}

/// A query that returns rows and that a cursor can hold: `SELECT`, `WITH`, `VALUES`, `TABLE`.
pub fn is_query(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_deref(),
        Some("SELECT" | "WITH" | "VALUES" | "TABLE")
    )
}

/// Statements that are not a read query: `postgres_query` refuses them up front with a pointer
/// to the right tool. (Anything else, typos included, goes to PostgreSQL, which answers with
/// its own error.)
pub fn is_known_non_query(sql: &str) -> bool {
    const NON_QUERY: &[&str] = &[
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "DROP",
        "CREATE",
        "ALTER",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "COPY",
        "SET",
        "RESET",
        "SHOW",
        "BEGIN",
        "START",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "SAVEPOINT",
        "RELEASE",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "DO",
        "CALL",
        "LOCK",
        "VACUUM",
        "ANALYZE",
        "CLUSTER",
        "REINDEX",
        "REFRESH",
        "COMMENT",
        "SECURITY",
        "LISTEN",
        "NOTIFY",
        "UNLISTEN",
        "DISCARD",
        "LOAD",
        "CHECKPOINT",
        "EXPLAIN",
        "DECLARE",
        "FETCH",
        "MOVE",
        "CLOSE",
        "IMPORT",
        "REASSIGN",
    ];
    first_keyword(sql).is_some_and(|k| NON_QUERY.contains(&k.as_str()))
}

/// A plain read query, for `EXPLAIN ANALYZE` (which executes the statement): `SELECT`,
/// `VALUES`, `TABLE`, or `WITH` whose body has no data-modifying keyword.
pub fn is_plain_select(sql: &str) -> bool {
    match first_keyword(sql).as_deref() {
        Some("SELECT" | "VALUES" | "TABLE") => true,
        Some("WITH") => {
            let upper = sql.to_ascii_uppercase();
            !["INSERT", "UPDATE", "DELETE", "MERGE"]
                .iter()
                .any(|w| contains_word(&upper, w))
        }
        _ => false,
    }
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

/// Transaction control would end or reshape the transaction a tool opened around the statement.
pub fn is_transaction_control(sql: &str) -> bool {
    match first_two_keywords(sql) {
        (Some(k), second) => match k.as_str() {
            "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT"
            | "RELEASE" => true,
            "PREPARE" => second.as_deref() == Some("TRANSACTION"),
            "SET" => matches!(second.as_deref(), Some("TRANSACTION" | "SESSION")),
            _ => false,
        },
        _ => false,
    }
}

/// `COPY` streams through a sub-protocol the tools do not speak (and `COPY ... TO/FROM` a file
/// or program touches the server's file system).
pub fn is_copy(sql: &str) -> bool {
    first_keyword(sql).as_deref() == Some("COPY")
}

/// The agent's SQL, trimmed; refuses an empty statement.
pub fn statement(sql: &str) -> Result<&str, crate::PgError> {
    let s = sql.trim();
    if skip_noise(s).trim_start_matches(';').trim().is_empty() {
        return Err(crate::PgError::invalid("sql", "empty statement"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_skip_comments_and_parens() {
        assert_eq!(first_keyword("  select 1").as_deref(), Some("SELECT"));
        assert_eq!(
            first_keyword("-- hi\n/* a /* nested */ b */ (SELECT 1)").as_deref(),
            Some("SELECT")
        );
        assert_eq!(first_keyword("").as_deref(), None);
        assert!(is_query("WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(!is_query("DELETE FROM t"));
        assert!(is_known_non_query("rollback; drop table t"));
        assert!(is_known_non_query("copy t to stdout"));
        assert!(!is_known_non_query("SELEC 1"));
        assert!(!is_known_non_query("select 1"));
        assert!(is_plain_select("select * from t"));
        assert!(!is_plain_select(
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"
        ));
        assert!(is_plain_select(
            "WITH d AS (SELECT deleted_at FROM t) SELECT * FROM d"
        ));
    }

    #[test]
    fn transaction_control_and_copy() {
        for s in [
            "COMMIT",
            "rollback; drop table t",
            "SET TRANSACTION READ WRITE",
            "set session characteristics as transaction read write",
            "BEGIN",
            "start transaction",
            "PREPARE TRANSACTION 'x'",
        ] {
            assert!(is_transaction_control(s), "{s}");
        }
        for s in [
            "SET statement_timeout = 0",
            "PREPARE p AS SELECT 1",
            "SELECT 1",
        ] {
            assert!(!is_transaction_control(s), "{s}");
        }
        assert!(is_copy("copy t to stdout"));
        assert!(statement(" ; ").is_err());
        assert!(statement("-- only a comment").is_err());
    }
}

//! Help for empty results: agents often guess metric names and label values wrong. This finds the
//! selectors in a PromQL expression (without a full parser: enough to name metrics and their
//! label matchers) and ranks the names Prometheus knows by similarity.

/// A vector selector found in PromQL: `metric{label="value", ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: Option<String>,
    pub matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: String,
    pub value: String,
}

/// Words that are PromQL syntax, not metric names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
];

/// Keywords followed by a parenthesized list of label names.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Reads a quoted string starting at `chars[i]` (a quote); returns its content and the index
/// after the closing quote.
fn read_string(chars: &[char], i: usize) -> (String, usize) {
    let quote = chars[i];
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' && quote != '`' && j + 1 < chars.len() {
            out.push(chars[j + 1]);
            j += 2;
            continue;
        }
        if c == quote {
            return (out, j + 1);
        }
        out.push(c);
        j += 1;
    }
    (out, j)
}

fn skip_ws(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// Skips a balanced group opened at `chars[i]` (`(` or `[`), strings included.
fn skip_group(chars: &[char], i: usize) -> usize {
    let (open, close) = (chars[i], if chars[i] == '(' { ')' } else { ']' });
    let mut depth = 0;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '"' | '\'' | '`' => {
                j = read_string(chars, j).1;
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

/// Parses the label matchers of `{...}` starting at `chars[i]` (`{`).
fn read_matchers(chars: &[char], i: usize) -> (Vec<Matcher>, usize) {
    let mut out = Vec::new();
    let mut j = i + 1;
    loop {
        j = skip_ws(chars, j);
        while j < chars.len() && chars[j] == ',' {
            j = skip_ws(chars, j + 1);
        }
        if j >= chars.len() {
            return (out, j);
        }
        if chars[j] == '}' {
            return (out, j + 1);
        }
        let start = j;
        while j < chars.len() && is_ident_char(chars[j]) {
            j += 1;
        }
        if j == start {
            // Not a matcher we understand (quoted metric name, syntax error): skip to the end.
            while j < chars.len() && chars[j] != '}' {
                j += 1;
            }
            return (out, (j + 1).min(chars.len()));
        }
        let label: String = chars[start..j].iter().collect();
        j = skip_ws(chars, j);
        let op_start = j;
        while j < chars.len() && matches!(chars[j], '=' | '!' | '~') {
            j += 1;
        }
        let op: String = chars[op_start..j].iter().collect();
        j = skip_ws(chars, j);
        if j < chars.len() && matches!(chars[j], '"' | '\'' | '`') {
            let (value, next) = read_string(chars, j);
            j = next;
            out.push(Matcher { label, op, value });
        }
    }
}

/// The vector selectors of a PromQL expression, in order of appearance.
pub fn selectors_in(query: &str) -> Vec<Selector> {
    let chars: Vec<char> = query.chars().collect();
    let mut out: Vec<Selector> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = read_string(&chars, i).1;
        } else if c == '[' {
            i = skip_group(&chars, i);
        } else if c == '{' {
            let (matchers, next) = read_matchers(&chars, i);
            let mut sel = Selector {
                metric: None,
                matchers,
            };
            if let Some(m) = sel
                .matchers
                .iter()
                .position(|m| m.label == "__name__" && m.op == "=")
            {
                sel.metric = Some(sel.matchers.remove(m).value);
            }
            out.push(sel);
            i = next;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_ws(&chars, i);
            let followed_by = chars.get(next).copied();
            let lower = word.to_ascii_lowercase();
            if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                if followed_by == Some('(') {
                    i = skip_group(&chars, next);
                }
            } else if KEYWORDS.contains(&lower.as_str()) || followed_by == Some('(') {
                // syntax or a function call
            } else {
                let mut sel = Selector {
                    metric: Some(word),
                    matchers: Vec::new(),
                };
                if followed_by == Some('{') {
                    let (matchers, after) = read_matchers(&chars, next);
                    sel.matchers = matchers;
                    i = after;
                }
                out.push(sel);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Levenshtein distance over bytes (names are ASCII).
fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn words(s: &str) -> Vec<&str> {
    s.split(['_', ':', '-', '.', '/'])
        .filter(|w| !w.is_empty())
        .collect()
}

/// Similarity in 0..=1: the best of edit distance, shared words and containment.
pub fn similarity(wanted: &str, candidate: &str) -> f64 {
    let (a, b) = (wanted.to_ascii_lowercase(), candidate.to_ascii_lowercase());
    if a == b {
        return 1.0;
    }
    let longest = a.len().max(b.len()).max(1) as f64;
    let edit = 1.0 - levenshtein(&a, &b) as f64 / longest;
    let (wa, wb) = (words(&a), words(&b));
    let shared = wa.iter().filter(|w| wb.contains(w)).count() as f64;
    let union = (wa.len() + wb.len()) as f64 - shared;
    let overlap = if union > 0.0 { shared / union } else { 0.0 };
    let contains = if a.len() >= 3 && (b.contains(&a) || a.contains(&b)) {
        0.8
    } else {
        0.0
    };
    edit.max(overlap).max(contains)
}

/// The `n` candidates most similar to `wanted` (at least somewhat similar), best first.
pub fn nearest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a String>,
    n: usize,
) -> Vec<String> {
    let mut scored: Vec<(f64, &String)> = candidates
        .into_iter()
        .map(|c| (similarity(wanted, c), c))
        .filter(|(s, _)| *s >= 0.35)
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(y.1)));
    scored.dedup_by(|x, y| x.1 == y.1);
    scored.into_iter().take(n).map(|(_, c)| c.clone()).collect()
}

/// The literal part of a regex matcher value, for ranking label values (`payment.*` -> `payment`).
pub fn literal_part(value: &str) -> String {
    value
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '.' | '*' | '+' | '?' | '^' | '$' | '(' | ')' | '[' | ']' | '|' | '\\' | '{' | '}'
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(q: &str) -> Vec<String> {
        selectors_in(q)
            .into_iter()
            .filter_map(|s| s.metric)
            .collect()
    }

    #[test]
    fn finds_metrics_not_functions_or_labels() {
        assert_eq!(
            metrics(r#"container_memory_usage_bytes{pod=~"payment-service.*"}"#),
            ["container_memory_usage_bytes"]
        );
        assert_eq!(
            metrics(
                r#"sum by (pod, namespace) (rate(http_requests_total{code="500"}[5m] offset 1h)) / on(pod) group_left(team) kube_pod_info > bool 0.5"#
            ),
            ["http_requests_total", "kube_pod_info"]
        );
        assert_eq!(
            metrics(
                r#"histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))"#
            ),
            ["http_request_duration_seconds_bucket"]
        );
        assert_eq!(metrics(r#"{__name__="up", job="x"}"#), ["up"]);
        assert_eq!(metrics("1 + 2e3 * 0x1f"), Vec::<String>::new());
        assert_eq!(
            metrics(r#"label_replace(up, "a", "$1", "b", "(.*)")"#),
            ["up"]
        );
        assert_eq!(
            metrics("nodes:cpu:ratio_rate5m @ end()"),
            ["nodes:cpu:ratio_rate5m"]
        );
    }

    #[test]
    fn reads_label_matchers() {
        let s = selectors_in(
            r#"container_memory_usage_bytes{pod=~"payment-service.*", namespace != 'prod', c="a\"b"}"#,
        );
        assert_eq!(s.len(), 1);
        let m = &s[0].matchers;
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].label.as_str(), m[0].op.as_str(), m[0].value.as_str()),
            ("pod", "=~", "payment-service.*")
        );
        assert_eq!(
            (m[1].label.as_str(), m[1].op.as_str(), m[1].value.as_str()),
            ("namespace", "!=", "prod")
        );
        assert_eq!(m[2].value, "a\"b");
    }

    #[test]
    fn ranks_near_names_first() {
        let names: Vec<String> = [
            "container_memory_usage_bytes",
            "container_memory_working_set_bytes",
            "container_cpu_usage_seconds_total",
            "node_memory_MemAvailable_bytes",
            "up",
        ]
        .map(String::from)
        .into();
        let got = nearest("container_mem_usage_bytes", &names, 3);
        assert_eq!(got[0], "container_memory_usage_bytes");
        assert!(got.len() >= 2, "{got:?}");
        let got = nearest("memory_usage", &names, 5);
        assert_eq!(got[0], "container_memory_usage_bytes");
        assert!(nearest("zzzz_qqqq", &names, 5).is_empty());
        assert_eq!(literal_part("payment-service.*"), "payment-service");
    }
}

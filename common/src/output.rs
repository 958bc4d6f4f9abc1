//! Bounding tool output: every result is capped in bytes, rows and lines, and says so when cut.
//!
//! Tools build their structured result from these helpers, so the cut is visible to the agent
//! (`truncated: true`, with a `next_cursor` where the upstream can page) instead of silently
//! missing data.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Caps configured for the process (`--max-output-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output_bytes: 65536,
        }
    }
}

/// A list that may have been cut, with the marker an agent needs to know it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Number of items before the cut, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// True when items were left out to respect the row or byte cap.
    pub truncated: bool,
    /// Pass back as `cursor` to continue where this page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Cuts `s` to at most `max_bytes` on a character boundary. Returns the kept prefix and whether
/// anything was cut.
pub fn cut_str(s: &str, max_bytes: usize) -> (&str, bool) {
    if s.len() <= max_bytes {
        return (s, false);
    }
    let mut end = max_bytes;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Keeps the last `max_bytes` of `s` (log tails keep the newest output), starting on a line
/// boundary when one is available.
pub fn cut_str_tail(s: &str, max_bytes: usize) -> (&str, bool) {
    if s.len() <= max_bytes {
        return (s, false);
    }
    let mut start = s.len() - max_bytes;
    while start < s.len() && !s.is_char_boundary(start) {
        start += 1;
    }
    let tail = &s[start..];
    match tail.find('\n') {
        Some(i) if i + 1 < tail.len() => (&tail[i + 1..], true),
        _ => (tail, true),
    }
}

/// The last `n` lines of `s`, and whether earlier lines were dropped.
pub fn tail_lines(s: &str, n: usize) -> (Vec<&str>, bool) {
    let lines: Vec<&str> = s.lines().collect();
    if lines.len() <= n {
        return (lines, false);
    }
    (lines[lines.len() - n..].to_vec(), true)
}

/// The length of `value` serialized as compact JSON, counted without building the bytes
/// (`usize::MAX` when it does not serialize).
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// Keeps the first items that fit both `max_items` and, serialized as a JSON array, `max_bytes`.
/// An item that alone exceeds the byte cap is not included: the caller sees `truncated` and can
/// narrow the request.
pub fn fit_items<T: Serialize>(items: Vec<T>, max_items: usize, max_bytes: usize) -> Page<T> {
    let total = items.len();
    let mut kept = Vec::with_capacity(total.min(max_items));
    // `[` + `]` plus a comma per item after the first.
    let mut used = 2usize;
    let mut truncated = false;
    for item in items {
        if kept.len() >= max_items {
            truncated = true;
            break;
        }
        let size = json_len(&item);
        let extra = size.saturating_add(usize::from(!kept.is_empty()));
        if used.saturating_add(extra) > max_bytes {
            truncated = true;
            break;
        }
        used += extra;
        kept.push(item);
    }
    Page {
        items: kept,
        total: Some(total),
        truncated,
        next_cursor: None,
    }
}

/// Where a page of an upstream that pages with opaque tokens (AWS `NextToken` /
/// `NextPageToken`) starts: the upstream token (none: the first page) and how many items of
/// that upstream page were already returned. The skip lets a page end anywhere (a `limit`
/// under the upstream's page size, the byte cap) without losing items. Encoded as
/// `SKIP:TOKEN`; tools hand it out as `next_cursor` and take it back as `cursor`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub token: Option<String>,
    pub skip: usize,
}

impl PageCursor {
    /// Reads a cursor (absent or empty: the first page). The error is the reason, for the
    /// caller's invalid-argument error on `cursor`.
    pub fn parse(cursor: Option<&str>) -> Result<Self, String> {
        let Some(c) = cursor.filter(|c| !c.is_empty()) else {
            return Ok(Self::default());
        };
        let bad = || "not a cursor of this tool: pass `next_cursor` back unchanged".to_owned();
        let (skip, token) = c.split_once(':').ok_or_else(bad)?;
        let skip = skip.parse().map_err(|_| bad())?;
        Ok(Self {
            token: (!token.is_empty()).then(|| token.to_owned()),
            skip,
        })
    }

    pub fn encode(&self) -> String {
        format!(
            "{}:{}",
            self.skip,
            self.token.as_deref().unwrap_or_default()
        )
    }
}

/// One bounded page of an upstream page (see [`bound_page`]).
#[derive(Debug)]
pub struct BoundedPage<T> {
    pub items: Vec<T>,
    /// True when more items follow (`next_cursor` is set).
    pub truncated: bool,
    pub next_cursor: Option<String>,
    /// Set when the byte cap, not `limit`, ended the page.
    pub note: Option<String>,
}

/// Cuts one upstream page (fetched at `cursor`) to `limit` items and `max_bytes`, and says
/// where the next page starts: later in the same upstream page, or at `upstream_next`.
pub fn bound_page<T: Serialize>(
    items: Vec<T>,
    cursor: &PageCursor,
    limit: usize,
    max_bytes: usize,
    upstream_next: Option<String>,
) -> BoundedPage<T> {
    let rest: Vec<T> = items.into_iter().skip(cursor.skip).collect();
    let available = rest.len();
    let page = fit_items(rest, limit, max_bytes);
    let kept = page.items.len();
    let mut note = None;
    let next = if kept < available {
        if kept < limit {
            note = Some(format!(
                "output cap: {kept} item(s) on this page; continue with next_cursor, or narrow the request"
            ));
        }
        // An item alone over the cap is skipped rather than returned forever.
        Some(PageCursor {
            token: cursor.token.clone(),
            skip: cursor.skip + kept.max(1),
        })
    } else {
        upstream_next.map(|t| PageCursor {
            token: Some(t),
            skip: 0,
        })
    };
    BoundedPage {
        items: page.items,
        truncated: next.is_some(),
        next_cursor: next.map(|c| c.encode()),
        note,
    }
}

/// Shrinks an arbitrary JSON value to fit `max_bytes` once serialized: long strings are cut
/// first; if that is not enough the value is replaced by a marker object with a preview.
/// Returns the value and whether it was changed.
pub fn bound_json(value: Value, max_bytes: usize) -> (Value, bool) {
    let size = |v: &Value| serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
    let original = size(&value);
    if original <= max_bytes {
        return (value, false);
    }
    let mut cut = value;
    cut_long_strings(&mut cut, 256);
    if size(&cut) <= max_bytes {
        return (cut, true);
    }
    let text = cut.to_string();
    let (preview, _) = cut_str(&text, max_bytes / 2);
    let marker = serde_json::json!({
        "truncated": true,
        "original_bytes": original,
        "preview": preview,
    });
    (marker, true)
}

fn cut_long_strings(value: &mut Value, max: usize) {
    match value {
        Value::String(s) if s.len() > max => {
            let (kept, _) = cut_str(s, max);
            *s = format!("{kept}…[cut]");
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cut_long_strings(v, max)),
        Value::Object(map) => map.values_mut().for_each(|v| cut_long_strings(v, max)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut_str("héllo", 2), ("h", true));
        assert_eq!(cut_str("héllo", 3), ("hé", true));
        assert_eq!(cut_str("abc", 10), ("abc", false));
    }

    #[test]
    fn tail_keeps_newest_lines() {
        let (lines, cut) = tail_lines("a\nb\nc\nd", 2);
        assert_eq!(lines, ["c", "d"]);
        assert!(cut);
        let (lines, cut) = tail_lines("a\nb", 5);
        assert_eq!(lines, ["a", "b"]);
        assert!(!cut);
        let (tail, cut) = cut_str_tail("line one\nline two\nline three", 14);
        assert_eq!(tail, "line three");
        assert!(cut);
    }

    #[test]
    fn json_len_is_the_serialized_length() {
        let v = serde_json::json!({"a": [1, "two", null], "é": "line\nbreak \u{1F600}"});
        assert_eq!(json_len(&v), serde_json::to_vec(&v).unwrap().len());
        assert_eq!(json_len(&0u8), 1);
        let mut unserializable = std::collections::HashMap::new();
        unserializable.insert(vec![1u8], 1);
        assert_eq!(json_len(&unserializable), usize::MAX);
    }

    #[test]
    fn fit_items_caps_rows_and_bytes() {
        let page = fit_items((0..10).collect::<Vec<u32>>(), 3, 1000);
        assert_eq!(page.items, [0, 1, 2]);
        assert!(page.truncated);
        assert_eq!(page.total, Some(10));
        // "[0,1,2]" is 7 bytes; "[0,1]" is 5.
        let page = fit_items(vec![0u32, 1, 2], 10, 6);
        assert_eq!(page.items, [0, 1]);
        assert!(page.truncated);
        let page = fit_items(vec![0u32, 1, 2], 10, 7);
        assert_eq!(page.items, [0, 1, 2]);
        assert!(!page.truncated);
        let kept = serde_json::to_vec(&page.items).unwrap().len();
        assert!(kept <= 7);
    }

    #[test]
    fn bound_json_cuts_strings_then_falls_back_to_a_marker() {
        let (v, cut) = bound_json(json!({"a": 1}), 100);
        assert_eq!(v, json!({"a": 1}));
        assert!(!cut);
        let long = "x".repeat(1000);
        let (v, cut) = bound_json(json!({"q": long}), 400);
        assert!(cut);
        assert!(v["q"].as_str().unwrap().ends_with("…[cut]"));
        assert!(v.to_string().len() <= 400);
        let many: Vec<String> = (0..100).map(|i| format!("item-{i}")).collect();
        let (v, cut) = bound_json(json!(many), 200);
        assert!(cut);
        assert_eq!(v["truncated"], true);
        assert!(v.to_string().len() <= 200 + 64);
    }

    #[test]
    fn page_cursor_walks_an_upstream_page_then_the_next() {
        assert_eq!(PageCursor::parse(None).unwrap(), PageCursor::default());
        assert_eq!(PageCursor::parse(Some("")).unwrap(), PageCursor::default());
        assert!(PageCursor::parse(Some("garbage")).is_err());
        assert!(PageCursor::parse(Some("x:tok")).is_err());
        let first = bound_page(
            vec![1u32, 2, 3],
            &PageCursor::default(),
            2,
            65536,
            Some("T:2".into()),
        );
        assert_eq!(first.items, [1, 2]);
        assert!(first.truncated);
        let c = PageCursor::parse(first.next_cursor.as_deref()).unwrap();
        assert_eq!(
            c,
            PageCursor {
                token: None,
                skip: 2
            }
        );
        let second = bound_page(vec![1u32, 2, 3], &c, 2, 65536, Some("T:2".into()));
        assert_eq!(second.items, [3]);
        assert_eq!(
            second.next_cursor.as_deref(),
            Some("0:T:2"),
            "tokens may hold colons"
        );
        let c = PageCursor::parse(second.next_cursor.as_deref()).unwrap();
        assert_eq!(c.token.as_deref(), Some("T:2"));
        let last = bound_page(vec![1u32], &PageCursor::default(), 5, 65536, None);
        assert!(!last.truncated && last.next_cursor.is_none() && last.note.is_none());
        // The byte cap ends a page early and says so.
        let capped = bound_page(
            vec![1000u32, 2000, 3000],
            &PageCursor::default(),
            10,
            11,
            None,
        );
        assert_eq!(capped.items, [1000, 2000]);
        assert!(capped.note.unwrap().contains("output cap"));
    }
}

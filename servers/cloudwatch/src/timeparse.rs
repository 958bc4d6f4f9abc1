//! Times in tool arguments: `now`, `now-15m` (s, m, h, d, w), RFC 3339, or Unix seconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses `s` relative to `now` (Unix seconds); returns Unix seconds.
pub fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Some(rest) = s.strip_prefix("now-") {
        return Ok(now - parse_span(rest)?);
    }
    if let Ok(n) = s.parse::<f64>() {
        // Milliseconds are recognizable by size.
        let secs = if n > 1e11 { n / 1000.0 } else { n };
        return Ok(secs as i64);
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            format!("`{s}` is not a time: use now, now-15m, now-2h, RFC 3339 or Unix seconds")
        })
}

/// `90s`, `15m`, `2h`, `1d`, `1w` in seconds.
pub fn parse_span(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (use 90s, 15m, 2h, 1d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 604_800,
        _ => return Err(format!("`{s}`: unknown unit (use s, m, h, d, w)")),
    };
    Ok(n * mult)
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds (or milliseconds with `ms`) as RFC 3339.
pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// A time range from optional arguments, checked: start before end.
pub fn range(
    start: Option<&str>,
    end: Option<&str>,
    default_start: &str,
) -> Result<(i64, i64), crate::Error> {
    let now = now();
    let s = parse_time(start.unwrap_or(default_start), now)
        .map_err(|e| crate::Error::invalid("start", e))?;
    let e = parse_time(end.unwrap_or("now"), now).map_err(|e| crate::Error::invalid("end", e))?;
    if s >= e {
        return Err(crate::Error::invalid("start", "must be before `end`"));
    }
    Ok((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_time("now", 1000).unwrap(), 1000);
        assert_eq!(parse_time("now-15m", 1000).unwrap(), 100);
        assert_eq!(parse_time("1700000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(parse_time("1700000000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", 0).unwrap(),
            1_700_000_000
        );
        assert!(parse_time("yesterday", 0).is_err());
        assert!(parse_span("5y").is_err());
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}

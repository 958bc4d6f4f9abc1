//! Times and durations as agents write them: `now`, `now-1h`, RFC 3339, Unix seconds; `30s`,
//! `5m`, `1h30m` or bare seconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// Parses a point in time relative to `now` (Unix seconds): `now`, `now-1h`, `now+5m`,
/// RFC 3339 (`2026-01-02T15:04:05Z`) or Unix seconds (`1767366245`, `1767366245.5`).
pub fn parse_time(s: &str, now: f64) -> Result<f64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty time".into());
    }
    if let Some(rest) = s.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, dur) = match rest.split_at(1) {
            ("-", d) => (-1.0, d),
            ("+", d) => (1.0, d),
            _ => return Err(format!("`{s}`: use now, now-1h or now+5m")),
        };
        return Ok(now + sign * parse_duration(dur.trim())?);
    }
    if let Ok(ts) = s.parse::<f64>()
        && ts.is_finite()
        && ts >= 0.0
    {
        return Ok(ts);
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
        .map_err(|_| {
            format!("`{s}` is not a time: use now, now-1h, RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds")
        })
}

/// Parses a Prometheus-style duration (`1h30m`, `90s`, `500ms`, `1d`, `1w`) or bare seconds.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return if n.is_finite() && n > 0.0 {
            Ok(n)
        } else {
            Err(format!("`{s}` is not a positive duration"))
        };
    }
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{s}` is not a duration (use 30s, 5m, 1h30m)"));
        }
        let n: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (use 30s, 5m, 1h30m)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            u => {
                return Err(format!(
                    "`{s}`: unknown unit `{u}` (use ms, s, m, h, d, w, y)"
                ));
            }
        };
        total += n * unit;
        rest = &rest[unit_len..];
    }
    if total > 0.0 {
        Ok(total)
    } else {
        Err(format!("`{s}` is not a positive duration"))
    }
}

/// A duration in seconds in Prometheus's shortest form (`90` -> `1m30s`).
pub fn format_duration(secs: f64) -> String {
    if secs < 1.0 || secs.fract() != 0.0 {
        return format!("{secs}s");
    }
    let mut s = secs as u64;
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// RFC 3339 for a Unix timestamp (seconds), for humans reading results.
pub fn rfc3339(ts: f64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos((ts * 1e9) as i128)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ts.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = 1_800_000_000.0;
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("now-1h", now).unwrap(), now - 3600.0);
        assert_eq!(parse_time("now - 30m", now).unwrap(), now - 1800.0);
        assert_eq!(parse_time("now+5m", now).unwrap(), now + 300.0);
        assert_eq!(parse_time("1767366245", now).unwrap(), 1_767_366_245.0);
        assert_eq!(
            parse_time("2026-01-02T15:04:05Z", now).unwrap(),
            1_767_366_245.0
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("now*2", now).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), 30.0);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_duration("500ms").unwrap(), 0.5);
        assert_eq!(parse_duration("15").unwrap(), 15.0);
        assert_eq!(parse_duration("2.5").unwrap(), 2.5);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(format_duration(5400.0), "1h30m");
        assert_eq!(format_duration(15.0), "15s");
        assert_eq!(format_duration(0.5), "0.5s");
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339(1_767_366_245.0), "2026-01-02T15:04:05Z");
    }
}

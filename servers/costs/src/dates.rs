//! Dates in tool arguments, and the ranges Cost Explorer accepts.
//!
//! Cost Explorer works in UTC days (`YYYY-MM-DD`, start inclusive, end exclusive), or UTC hours
//! for HOURLY granularity (`YYYY-MM-DDThh:mm:ssZ`). Agents may also write relative dates:
//! `today`, `yesterday`, `tomorrow`, `today-7d`, `today+2w`, `today-3m` (calendar months),
//! `month-start` (the first of the current month), `month-start-1m`, `month-start+1m`.
//!
//! The limits checked here before any (billed) request:
//! - the end is after the start;
//! - GetCostAndUsage / GetDimensionValues: the end is at most the first day of next month
//!   ("end date past the beginning of next month"); data goes back 14 months, 38 with
//!   multi-year data enabled, and a start older than 14 months must be the first of a month;
//!   HOURLY covers the last 14 days;
//! - GetCostForecast: DAILY or MONTHLY only, from today on, up to 3 months (DAILY) or 18 months
//!   (MONTHLY) ahead.

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use mcp_common::ToolError;

/// Days of HOURLY data Cost Explorer keeps.
pub const HOURLY_DAYS: i64 = 14;
/// Months of data by default, and with multi-year data enabled.
pub const MONTHS_DEFAULT: i32 = 14;
pub const MONTHS_MULTI_YEAR: i32 = 38;
/// How far ahead forecasts go.
pub const FORECAST_DAILY_MONTHS: i32 = 3;
pub const FORECAST_MONTHLY_MONTHS: i32 = 18;

const FORMS: &str = "use YYYY-MM-DD, today, yesterday, tomorrow, today-7d, today+2w, today-3m, month-start, month-start-1m (HOURLY also YYYY-MM-DDThh:mm:ssZ)";

/// Today in UTC (Cost Explorer's day).
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// Cost Explorer's granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Granularity {
    #[serde(rename = "DAILY")]
    Daily,
    #[serde(rename = "MONTHLY")]
    Monthly,
    #[serde(rename = "HOURLY")]
    Hourly,
}

impl Granularity {
    pub fn parse(s: Option<&str>, default: Granularity) -> Result<Self, ToolError> {
        match s.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            None | Some("") => Ok(default),
            Some("DAILY") => Ok(Self::Daily),
            Some("MONTHLY") => Ok(Self::Monthly),
            Some("HOURLY") => Ok(Self::Hourly),
            Some(other) => Err(ToolError::invalid_argument(
                "granularity",
                format!(
                    "`{other}`: use DAILY, MONTHLY or HOURLY (HOURLY needs hourly data enabled in the Cost Explorer settings and covers the last {HOURLY_DAYS} days)"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "DAILY",
            Self::Monthly => "MONTHLY",
            Self::Hourly => "HOURLY",
        }
    }

    pub fn sdk(self) -> aws_sdk_costexplorer::types::Granularity {
        use aws_sdk_costexplorer::types::Granularity as G;
        match self {
            Self::Daily => G::Daily,
            Self::Monthly => G::Monthly,
            Self::Hourly => G::Hourly,
        }
    }
}

/// First day of the month `n` months after (negative: before) the month of `d`.
pub fn month_start(d: Date, n: i32) -> Option<Date> {
    let index = d.year() * 12 + i32::from(d.month() as u8) - 1 + n;
    let year = index.div_euclid(12);
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    Date::from_calendar_date(year, month, 1).ok()
}

/// `d` moved by `n` calendar months, the day clamped to the target month's length.
fn add_months(d: Date, n: i32) -> Option<Date> {
    let first = month_start(d, n)?;
    let day = d.day().min(first.month().length(first.year()));
    first.replace_day(day).ok()
}

fn relative_offset(rest: &str, base: Date, whole: &str) -> Result<Date, String> {
    if rest.is_empty() {
        return Ok(base);
    }
    let (sign, rest) = match rest.as_bytes()[0] {
        b'-' => (-1i64, &rest[1..]),
        b'+' => (1i64, &rest[1..]),
        _ => return Err(format!("`{whole}` is not a date: {FORMS}")),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (n, unit) = rest.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{whole}` is not a date: {FORMS}"))?;
    if n > 100_000 {
        return Err(format!("`{whole}`: offset too large"));
    }
    let out = match unit {
        "d" => base.checked_add(Duration::days(sign * n)),
        "w" => base.checked_add(Duration::weeks(sign * n)),
        "m" => add_months(base, (sign * n) as i32),
        _ => {
            return Err(format!(
                "`{whole}`: unknown unit `{unit}` (d days, w weeks, m months)"
            ));
        }
    };
    out.ok_or_else(|| format!("`{whole}` is out of range"))
}

/// Parses a date argument relative to `today`; the result is a UTC date and time (midnight
/// for days).
pub fn parse(s: &str, today: Date) -> Result<PrimitiveDateTime, String> {
    let s = s.trim();
    let midnight = |d: Date| PrimitiveDateTime::new(d, Time::MIDNIGHT);
    let lower = s.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("month-start") {
        let signed = rest.is_empty() || rest.starts_with(['+', '-']);
        let Some(rest) = rest
            .strip_suffix('m')
            .filter(|_| signed)
            .or(rest.is_empty().then_some(""))
        else {
            return Err(format!(
                "`{s}`: month-start moves by months only, e.g. month-start-1m"
            ));
        };
        let n: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse()
                .map_err(|_| format!("`{s}` is not a date: {FORMS}"))?
        };
        return month_start(today, n)
            .map(midnight)
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    for (word, base) in [
        ("today", Some(today)),
        ("yesterday", today.previous_day()),
        ("tomorrow", today.next_day()),
    ] {
        if let Some(rest) = lower.strip_prefix(word) {
            let base = base.ok_or_else(|| format!("`{s}` is out of range"))?;
            return relative_offset(rest, base, s).map(midnight);
        }
    }
    if s.len() == 10 {
        return parse_ymd(s)
            .map(midnight)
            .ok_or_else(|| format!("`{s}` is not a date: {FORMS}"));
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| {
            let t = t.to_offset(UtcOffset::UTC);
            PrimitiveDateTime::new(t.date(), t.time())
        })
        .map_err(|_| format!("`{s}` is not a date: {FORMS}"))
}

fn parse_ymd(s: &str) -> Option<Date> {
    let mut parts = s.split('-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

pub fn day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

pub fn hour(t: PrimitiveDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        day(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A checked time period, formatted the way Cost Explorer wants it for the granularity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: String,
    pub end: String,
}

fn arg(name: &'static str) -> impl Fn(String) -> ToolError {
    move |reason| ToolError::invalid_argument(name, reason)
}

fn whole_days(name: &'static str, t: PrimitiveDateTime, g: Granularity) -> Result<Date, ToolError> {
    if t.time() != Time::MIDNIGHT {
        return Err(ToolError::invalid_argument(
            name,
            format!(
                "{} granularity takes whole days (YYYY-MM-DD); times of day are for HOURLY",
                g.as_str()
            ),
        ));
    }
    Ok(t.date())
}

fn order(
    start: PrimitiveDateTime,
    end: PrimitiveDateTime,
    fmt: impl Fn(PrimitiveDateTime) -> String,
) -> Result<(), ToolError> {
    if end <= start {
        return Err(ToolError::invalid_argument(
            "end",
            format!(
                "the end ({}) must be after the start ({}); the end is exclusive: one day is start=2024-05-01, end=2024-05-02",
                fmt(end),
                fmt(start)
            ),
        ));
    }
    Ok(())
}

/// The period of a GetCostAndUsage or GetDimensionValues request.
pub fn history(
    start: Option<&str>,
    end: Option<&str>,
    default_start: &str,
    g: Granularity,
    today: Date,
) -> Result<Period, ToolError> {
    let start_t = parse(start.unwrap_or(default_start), today).map_err(arg("start"))?;
    let end_t = parse(end.unwrap_or("today"), today).map_err(arg("end"))?;
    let next_month = month_start(today, 1).unwrap_or(today);
    if g == Granularity::Hourly {
        order(start_t, end_t, hour)?;
        if start_t.date() > today {
            return Err(ToolError::invalid_argument(
                "start",
                format!(
                    "costs are known up to today ({}): start today or earlier",
                    day(today)
                ),
            ));
        }
        let oldest = today - Duration::days(HOURLY_DAYS);
        if start_t.date() < oldest {
            return Err(ToolError::invalid_argument(
                "start",
                format!(
                    "HOURLY data covers only the last {HOURLY_DAYS} days (from {}); use DAILY for older ranges",
                    day(oldest)
                ),
            ));
        }
        if end_t > PrimitiveDateTime::new(next_month, Time::MIDNIGHT) {
            return Err(ToolError::invalid_argument(
                "end",
                format!(
                    "the end may not pass the first day of next month ({})",
                    day(next_month)
                ),
            ));
        }
        return Ok(Period {
            start: hour(start_t),
            end: hour(end_t),
        });
    }
    let s = whole_days("start", start_t, g)?;
    let e = whole_days("end", end_t, g)?;
    order(start_t, end_t, |t| day(t.date()))?;
    if s > today {
        return Err(ToolError::invalid_argument(
            "start",
            format!(
                "costs are known up to today ({}): start today or earlier; costs_get_cost_forecast looks ahead",
                day(today)
            ),
        ));
    }
    if e > next_month {
        return Err(ToolError::invalid_argument(
            "end",
            format!(
                "Cost Explorer refuses an end past the first day of next month ({}); costs after today are not known yet (use costs_get_cost_forecast)",
                day(next_month)
            ),
        ));
    }
    let oldest_multi = month_start(today, -(MONTHS_MULTI_YEAR - 1)).unwrap_or(today);
    if s < oldest_multi {
        return Err(ToolError::invalid_argument(
            "start",
            format!(
                "Cost Explorer keeps at most {MONTHS_MULTI_YEAR} months (from {}) with multi-year data enabled, {MONTHS_DEFAULT} months otherwise",
                day(oldest_multi)
            ),
        ));
    }
    let oldest_default = add_months(today, -MONTHS_DEFAULT).unwrap_or(today);
    if s < oldest_default && s.day() != 1 {
        return Err(ToolError::invalid_argument(
            "start",
            format!(
                "a start older than {MONTHS_DEFAULT} months ({}) must be the first day of a month (and needs multi-year data enabled in Cost Explorer); use {}",
                day(oldest_default),
                day(s.replace_day(1).unwrap_or(s))
            ),
        ));
    }
    Ok(Period {
        start: day(s),
        end: day(e),
    })
}

/// The period of a GetCostForecast request.
pub fn forecast(
    start: Option<&str>,
    end: Option<&str>,
    g: Granularity,
    today: Date,
) -> Result<Period, ToolError> {
    let months = match g {
        Granularity::Daily => FORECAST_DAILY_MONTHS,
        Granularity::Monthly => FORECAST_MONTHLY_MONTHS,
        Granularity::Hourly => {
            return Err(ToolError::invalid_argument(
                "granularity",
                "forecasts are DAILY or MONTHLY, not HOURLY",
            ));
        }
    };
    let start_t = parse(start.unwrap_or("today"), today).map_err(arg("start"))?;
    let end_t = parse(end.unwrap_or("month-start+1m"), today).map_err(arg("end"))?;
    let s = whole_days("start", start_t, g)?;
    let e = whole_days("end", end_t, g)?;
    if s < today {
        return Err(ToolError::invalid_argument(
            "start",
            format!(
                "a forecast starts today ({}) or later; for past costs use costs_get_cost_and_usage",
                day(today)
            ),
        ));
    }
    order(start_t, end_t, |t| day(t.date()))?;
    let horizon = add_months(today, months).unwrap_or(today);
    if e > horizon {
        return Err(ToolError::invalid_argument(
            "end",
            format!(
                "{} forecasts reach {months} months ahead (until {}); use {} for a longer horizon",
                g.as_str(),
                day(horizon),
                if g == Granularity::Daily {
                    "MONTHLY granularity"
                } else {
                    "an earlier end"
                }
            ),
        ));
    }
    Ok(Period {
        start: day(s),
        end: day(e),
    })
}

/// The date interval of a GetAnomalies request (both ends inclusive days).
pub fn anomalies(start: Option<&str>, end: Option<&str>, today: Date) -> Result<Period, ToolError> {
    let start_t = parse(start.unwrap_or("today-30d"), today).map_err(arg("start"))?;
    let end_t = parse(end.unwrap_or("today"), today).map_err(arg("end"))?;
    let s = whole_days("start", start_t, Granularity::Daily)?;
    let e = whole_days("end", end_t, Granularity::Daily)?;
    if e < s {
        return Err(ToolError::invalid_argument(
            "end",
            format!(
                "the end ({}) must not be before the start ({})",
                day(e),
                day(s)
            ),
        ));
    }
    if s > today {
        return Err(ToolError::invalid_argument(
            "start",
            format!(
                "anomalies are detected in past costs: start today ({}) or earlier",
                day(today)
            ),
        ));
    }
    Ok(Period {
        start: day(s),
        end: day(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_ymd(s).unwrap()
    }

    #[test]
    fn relative_and_absolute_forms() {
        let today = d("2024-03-31");
        let p = |s: &str| day(parse(s, today).unwrap().date());
        assert_eq!(p("today"), "2024-03-31");
        assert_eq!(p("yesterday"), "2024-03-30");
        assert_eq!(p("tomorrow"), "2024-04-01");
        assert_eq!(p("today-7d"), "2024-03-24");
        assert_eq!(p("today+2w"), "2024-04-14");
        assert_eq!(p("today-1m"), "2024-02-29", "clamped to February's length");
        assert_eq!(p("month-start"), "2024-03-01");
        assert_eq!(p("month-start-1m"), "2024-02-01");
        assert_eq!(p("month-start-3m"), "2023-12-01");
        assert_eq!(p("month-start+1m"), "2024-04-01");
        assert_eq!(p("MONTH-START+10m"), "2025-01-01");
        assert_eq!(p("2023-01-15"), "2023-01-15");
        let t = parse("2024-03-30T05:00:00Z", today).unwrap();
        assert_eq!(hour(t), "2024-03-30T05:00:00Z");
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "soon",
            "today-5y",
            "month-start-1d",
            "today*2",
            "",
        ] {
            assert!(parse(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn history_limits() {
        let today = d("2024-03-15");
        let h = |s: &str, e: &str, g| history(Some(s), Some(e), "today-14d", g, today);
        assert_eq!(
            h("2024-03-01", "2024-03-15", Granularity::Daily).unwrap(),
            Period {
                start: "2024-03-01".into(),
                end: "2024-03-15".into()
            }
        );
        let e = h("2024-03-10", "2024-03-01", Granularity::Daily)
            .unwrap_err()
            .text();
        assert!(e.contains("must be after the start"), "{e}");
        let e = h("2024-03-10", "2024-03-10", Granularity::Daily)
            .unwrap_err()
            .text();
        assert!(e.contains("exclusive"), "{e}");
        assert!(h("2024-03-01", "2024-04-01", Granularity::Monthly).is_ok());
        let e = h("2024-03-01", "2024-04-02", Granularity::Monthly)
            .unwrap_err()
            .text();
        assert!(e.contains("first day of next month (2024-04-01)"), "{e}");
        // 14 months back: any day; older: the first of a month, up to 38 months.
        assert!(h("2023-01-20", "2024-03-01", Granularity::Daily).is_ok());
        let e = h("2022-12-20", "2024-03-01", Granularity::Daily)
            .unwrap_err()
            .text();
        assert!(
            e.contains("first day of a month") && e.contains("2022-12-01"),
            "{e}"
        );
        assert!(h("2022-12-01", "2024-03-01", Granularity::Monthly).is_ok());
        let e = h("2020-01-01", "2024-03-01", Granularity::Monthly)
            .unwrap_err()
            .text();
        assert!(e.contains("38 months"), "{e}");
        // HOURLY: 14 days, hours.
        let p = h(
            "2024-03-14T00:00:00Z",
            "2024-03-14T06:00:00Z",
            Granularity::Hourly,
        )
        .unwrap();
        assert_eq!(p.start, "2024-03-14T00:00:00Z");
        let e = h("2024-02-01", "2024-02-02", Granularity::Hourly)
            .unwrap_err()
            .text();
        assert!(e.contains("last 14 days"), "{e}");
        let e = h("2024-03-16", "2024-03-20", Granularity::Daily)
            .unwrap_err()
            .text();
        assert!(e.contains("start today or earlier"), "{e}");
        let e = h("2024-03-14T03:00:00Z", "2024-03-15", Granularity::Daily)
            .unwrap_err()
            .text();
        assert!(e.contains("whole days"), "{e}");
    }

    #[test]
    fn forecast_limits() {
        let today = d("2024-03-15");
        let f = forecast(None, None, Granularity::Daily, today).unwrap();
        assert_eq!(
            f,
            Period {
                start: "2024-03-15".into(),
                end: "2024-04-01".into()
            }
        );
        let f = forecast(None, Some("month-start+3m"), Granularity::Monthly, today).unwrap();
        assert_eq!(f.end, "2024-06-01");
        let e = forecast(Some("yesterday"), None, Granularity::Daily, today)
            .unwrap_err()
            .text();
        assert!(e.contains("starts today (2024-03-15) or later"), "{e}");
        let e = forecast(None, Some("today+4m"), Granularity::Daily, today)
            .unwrap_err()
            .text();
        assert!(e.contains("3 months ahead (until 2024-06-15)"), "{e}");
        assert!(forecast(None, Some("today+4m"), Granularity::Monthly, today).is_ok());
        let e = forecast(None, None, Granularity::Hourly, today)
            .unwrap_err()
            .text();
        assert!(e.contains("not HOURLY"), "{e}");
    }

    #[test]
    fn anomaly_interval() {
        let today = d("2024-03-15");
        let p = anomalies(None, None, today).unwrap();
        assert_eq!(
            p,
            Period {
                start: "2024-02-14".into(),
                end: "2024-03-15".into()
            }
        );
        assert!(anomalies(Some("today"), Some("today"), today).is_ok());
        assert!(anomalies(Some("today"), Some("yesterday"), today).is_err());
        assert!(anomalies(Some("tomorrow"), Some("tomorrow"), today).is_err());
    }
}

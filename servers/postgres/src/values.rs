//! Turning PostgreSQL values of any type into JSON for an agent.
//!
//! Results of prepared statements arrive in binary format. Common types are decoded to their
//! natural JSON form; `numeric` becomes a string (no precision lost); types without a decoder
//! become their UTF-8 text when they have one (enums, domains over text) or `\x`-hex.

use serde_json::{Value, json};
use sqlx::postgres::types::PgInterval;
use sqlx::postgres::{PgRow, PgValueRef, Postgres};
use sqlx::{Column, Decode, Row, TypeInfo, ValueRef};

/// A column of a result: its name and PostgreSQL type.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

pub fn columns(row: &PgRow) -> Vec<ColumnInfo> {
    row.columns()
        .iter()
        .map(|c| ColumnInfo {
            name: c.name().to_owned(),
            type_name: c.type_info().name().to_ascii_lowercase(),
        })
        .collect()
}

/// One row as a JSON array, in column order.
pub fn row_values(row: &PgRow) -> Vec<Value> {
    (0..row.columns().len())
        .map(|i| match row.try_get_raw(i) {
            Ok(v) => decode(v),
            Err(e) => json!(format!("<undecodable: {e}>")),
        })
        .collect()
}

fn dec<'r, T: Decode<'r, Postgres>>(v: PgValueRef<'r>) -> Result<T, String> {
    T::decode(v).map_err(|e| e.to_string())
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        json!(f)
    } else {
        json!(f.to_string())
    }
}

/// Decodes one value.
pub fn decode(v: PgValueRef<'_>) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    let type_name = v.type_info().name().to_ascii_uppercase();
    let r: Result<Value, String> = match type_name.as_str() {
        "BOOL" => dec::<bool>(v).map(Value::from),
        "INT2" => dec::<i16>(v).map(Value::from),
        "INT4" => dec::<i32>(v).map(Value::from),
        "INT8" => dec::<i64>(v).map(Value::from),
        "FLOAT4" => dec::<f32>(v).map(|f| float(f64::from(f))),
        "FLOAT8" => dec::<f64>(v).map(float),
        "NUMERIC" => raw(&v).and_then(numeric_to_string).map(Value::from),
        "TEXT" | "VARCHAR" | "NAME" | "CHAR" | "BPCHAR" | "UNKNOWN" | "CITEXT" => {
            dec::<String>(v).map(Value::from)
        }
        "\"CHAR\"" => dec::<i8>(v).map(|c| Value::from(((c as u8) as char).to_string())),
        "JSON" | "JSONB" => dec::<sqlx::types::JsonValue>(v),
        "UUID" => dec::<uuid::Uuid>(v).map(|u| Value::from(u.to_string())),
        "TIMESTAMPTZ" => dec::<time::OffsetDateTime>(v).map(|t| {
            Value::from(
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| t.to_string()),
            )
        }),
        "TIMESTAMP" => dec::<time::PrimitiveDateTime>(v).map(|t| Value::from(t.to_string())),
        "DATE" => dec::<time::Date>(v).map(|t| Value::from(t.to_string())),
        "TIME" => dec::<time::Time>(v).map(|t| Value::from(t.to_string())),
        "INTERVAL" => dec::<PgInterval>(v).map(|i| Value::from(interval(&i))),
        "BYTEA" => raw(&v).map(|b| Value::from(hex(b))),
        "OID" | "REGCLASS" | "REGPROC" | "REGTYPE" | "REGNAMESPACE" | "REGROLE" | "XID" | "CID" => {
            raw(&v).and_then(|b| be_uint(b).map(Value::from))
        }
        "PG_LSN" => raw(&v).and_then(|b| {
            be_uint(b).map(|n| Value::from(format!("{:X}/{:X}", n >> 32, n & 0xFFFF_FFFF)))
        }),
        "INET" | "CIDR" => raw(&v).and_then(inet),
        "BOOL[]" => dec::<Vec<Option<bool>>>(v).map(|a| json!(a)),
        "INT2[]" => dec::<Vec<Option<i16>>>(v).map(|a| json!(a)),
        "INT4[]" => dec::<Vec<Option<i32>>>(v).map(|a| json!(a)),
        "INT8[]" => dec::<Vec<Option<i64>>>(v).map(|a| json!(a)),
        "FLOAT8[]" => dec::<Vec<Option<f64>>>(v).map(|a| json!(a)),
        "TEXT[]" | "VARCHAR[]" | "NAME[]" | "CHAR[]" | "BPCHAR[]" => {
            dec::<Vec<Option<String>>>(v).map(|a| json!(a))
        }
        _ => raw(&v).map(|b| match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Value::from(s),
            _ => Value::from(hex(b)),
        }),
    };
    r.unwrap_or_else(|e| json!(format!("<{} not decoded: {e}>", type_name.to_lowercase())))
}

fn raw<'r>(v: &PgValueRef<'r>) -> Result<&'r [u8], String> {
    v.as_bytes().map_err(|e| e.to_string())
}

fn be_uint(b: &[u8]) -> Result<u64, String> {
    if b.len() > 8 {
        return Err(format!("{} bytes", b.len()));
    }
    Ok(b.iter().fold(0u64, |n, x| (n << 8) | u64::from(*x)))
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn interval(i: &PgInterval) -> String {
    let mut parts = Vec::new();
    if i.months != 0 {
        parts.push(format!("{} mons", i.months));
    }
    if i.days != 0 {
        parts.push(format!("{} days", i.days));
    }
    let us = i.microseconds;
    if us != 0 || parts.is_empty() {
        let sign = if us < 0 { "-" } else { "" };
        let us = us.unsigned_abs();
        let (h, m, s, frac) = (
            us / 3_600_000_000,
            us / 60_000_000 % 60,
            us / 1_000_000 % 60,
            us % 1_000_000,
        );
        if frac == 0 {
            parts.push(format!("{sign}{h:02}:{m:02}:{s:02}"));
        } else {
            parts.push(format!("{sign}{h:02}:{m:02}:{s:02}.{frac:06}"));
        }
    }
    parts.join(" ")
}

/// `inet` / `cidr` binary form: family, bits, is_cidr, length, address bytes.
fn inet(b: &[u8]) -> Result<Value, String> {
    if b.len() < 4 {
        return Err("short inet".into());
    }
    let (bits, addr) = (b[1], &b[4..]);
    let text = match addr.len() {
        4 => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(addr);
            std::net::Ipv6Addr::from(a).to_string()
        }
        n => return Err(format!("inet address of {n} bytes")),
    };
    let full = if addr.len() == 4 { 32 } else { 128 };
    Ok(Value::from(if bits == full && b[2] == 0 {
        text
    } else {
        format!("{text}/{bits}")
    }))
}

/// `numeric` binary form: ndigits, weight, sign, dscale, then base-10000 digits.
pub fn numeric_to_string(b: &[u8]) -> Result<String, String> {
    let word = |i: usize| -> Result<u16, String> {
        b.get(i..i + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| "short numeric".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Result<_, _>>()?;
    let digit_at = |pos: i32| -> u16 {
        // pos is the base-10000 position: weight, weight-1, ...
        let idx = weight - pos;
        if idx >= 0 && (idx as usize) < digits.len() {
            digits[idx as usize]
        } else {
            0
        }
    };
    let mut int_part = String::new();
    if weight < 0 {
        int_part.push('0');
    } else {
        for pos in (0..=weight).rev() {
            let d = digit_at(pos);
            if int_part.is_empty() {
                int_part.push_str(&d.to_string());
            } else {
                int_part.push_str(&format!("{d:04}"));
            }
        }
    }
    let mut frac = String::new();
    let mut pos = -1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", digit_at(pos)));
        pos -= 1;
    }
    frac.truncate(dscale);
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    s.push_str(&int_part);
    if dscale > 0 {
        s.push('.');
        s.push_str(&frac);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics() {
        // 12345.678 = [1, 2345, 6780], weight 1, dscale 3
        assert_eq!(
            numeric_to_string(&num(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        assert_eq!(
            numeric_to_string(&num(1, -1, 0x4000, 2, &[500])).unwrap(),
            "-0.05"
        );
        assert_eq!(numeric_to_string(&num(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(
            numeric_to_string(&num(1, 2, 0, 0, &[7])).unwrap(),
            "700000000"
        );
        assert_eq!(
            numeric_to_string(&num(0, 0, 0xC000, 0, &[])).unwrap(),
            "NaN"
        );
    }

    #[test]
    fn intervals() {
        let i = PgInterval {
            months: 0,
            days: 1,
            microseconds: 3_723_000_001,
        };
        assert_eq!(interval(&i), "1 days 01:02:03.000001");
        assert_eq!(
            interval(&PgInterval {
                months: 0,
                days: 0,
                microseconds: 0
            }),
            "00:00:00"
        );
    }
}

//! Conversions from the loose values old events carried.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace of ids the upcasters derive from legacy strings (user names, correlation ids
/// that were not UUIDs), so the same string always gives the same id.
const LEGACY_NAMESPACE: Uuid = Uuid::from_u128(0x2b6e_90d4_5c1a_4f37_8e02_d7a9_41c6_b385);

/// SHA-256 of an IP address, hex-encoded: the only form in which Alpes keeps an IP.
pub fn hash_ip(ip: &str) -> String {
    let digest = Sha256::digest(ip.trim().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A non-blank string field.
pub fn text(object: &Map<String, Value>, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A nested object field.
pub fn object<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a Map<String, Value>> {
    object.get(field)?.as_object()
}

/// A UUID, or a v5 id derived from any other non-blank string.
pub fn uuid_or_derived(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_else(|_| Uuid::new_v5(&LEGACY_NAMESPACE, text.as_bytes()))
}

/// A decimal amount (a JSON number such as `150.5`, or a string `"150.50"`) in minor units,
/// read from its decimal text so that no float rounding enters (`0.1 + 0.2` problems).
/// More than two decimals round half to even.
pub fn minor_units(value: &Value) -> Option<i64> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.trim().to_string(),
        _ => return None,
    };
    decimal_to_minor(&text)
}

fn decimal_to_minor(text: &str) -> Option<i64> {
    if text.contains(['e', 'E']) {
        // serde_json prints very large or small floats in exponent form; go through f64
        // only then, rounding to the cent.
        let value: f64 = text.parse().ok()?;
        let cents = (value * 100.0).round();
        return (cents.abs() < 9.0e15).then_some(cents as i64);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut fraction_digits = fraction.chars().map(|c| i64::from(c as u8 - b'0'));
    let tenths = fraction_digits.next().unwrap_or(0);
    let hundredths = fraction_digits.next().unwrap_or(0);
    let rest: Vec<i64> = fraction_digits.collect();
    let mut cents = whole
        .checked_mul(100)?
        .checked_add(tenths * 10 + hundredths)?;
    // Half to even on the digits past the cent.
    let first_rest = rest.first().copied().unwrap_or(0);
    let beyond_half = rest.iter().skip(1).any(|digit| *digit > 0);
    if first_rest > 5 || (first_rest == 5 && (beyond_half || cents % 2 == 1)) {
        cents = cents.checked_add(1)?;
    }
    Some(if negative { -cents } else { cents })
}

/// The first tracking services wrote `fecha_evento` as a naive local timestamp of the
/// Madrid office (Europe/Madrid): CET (UTC+1), and CEST (UTC+2) from 01:00 UTC on the last
/// Sunday of March to 01:00 UTC on the last Sunday of October (the EU rule in force since
/// 1996). An ambiguous hour (the October change) reads as its first, summer-time
/// occurrence. Accepts `2024-03-01T10:15:00`, with optional fractional seconds, or a space.
pub fn madrid_local_to_utc(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
    // Try summer time first; it is right when the resulting instant falls in summer time.
    let summer = Utc.from_utc_datetime(&(naive - chrono::Duration::hours(2)));
    if is_madrid_summer_time(summer) {
        return Some(summer);
    }
    Some(Utc.from_utc_datetime(&(naive - chrono::Duration::hours(1))))
}

fn is_madrid_summer_time(instant: DateTime<Utc>) -> bool {
    let year = instant.year();
    let (Some(start), Some(end)) = (last_sunday_1am_utc(year, 3), last_sunday_1am_utc(year, 10))
    else {
        return false;
    };
    instant >= start && instant < end
}

fn last_sunday_1am_utc(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last_day = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = last_day.weekday().num_days_from_sunday();
    let sunday = last_day - chrono::Duration::days(i64::from(back));
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    Some(Utc.from_utc_datetime(&sunday.and_hms_opt(1, 0, 0)?))
}

/// An instant from epoch seconds (a JSON integer or float).
pub fn from_epoch_seconds(value: &Value) -> Option<DateTime<Utc>> {
    let millis = match value {
        Value::Number(number) => match number.as_i64() {
            Some(seconds) => seconds.checked_mul(1000)?,
            None => (number.as_f64()? * 1000.0).round() as i64,
        },
        Value::String(text) => text.trim().parse::<i64>().ok()?.checked_mul(1000)?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(millis)
}

/// An instant from epoch milliseconds.
pub fn from_epoch_millis(value: &Value) -> Option<DateTime<Utc>> {
    let millis = match value {
        Value::Number(number) => number.as_i64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(millis)
}

/// An ISO-8601 instant: RFC 3339 with an offset, or a naive timestamp taken as UTC.
pub fn iso_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(instant.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text.trim(), format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// An ISO currency code, upper-cased; three letters or nothing.
pub fn currency(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())).then_some(code)
}

/// Money in today's shape.
pub fn money(amount: i64, currency: &str) -> Value {
    serde_json::json!({ "amount": amount, "currency": currency })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_become_exact_minor_units() {
        for (text, cents) in [
            ("150", 15_000),
            ("150.5", 15_050),
            ("0.1", 10),
            ("19.99", 1_999),
            ("-2.5", -250),
            ("1.005", 100),
            ("1.015", 102),
            ("1.0051", 101),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(decimal_to_minor(text), Some(cents), "{text}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1,5",
            ".",
            "92233720368547758.076",
            "1e400",
        ] {
            assert_eq!(decimal_to_minor(bad), None, "{bad}");
        }
    }

    #[test]
    fn madrid_local_time_follows_the_eu_summer_time_rule() {
        let winter = madrid_local_to_utc("2024-01-15T10:00:00").unwrap();
        assert_eq!(winter.to_rfc3339(), "2024-01-15T09:00:00+00:00");
        let summer = madrid_local_to_utc("2024-07-15T10:00:00").unwrap();
        assert_eq!(summer.to_rfc3339(), "2024-07-15T08:00:00+00:00");
        // 2024-03-31 is the last Sunday of March: 03:00 local is already summer time.
        let after_change = madrid_local_to_utc("2024-03-31 03:30:00").unwrap();
        assert_eq!(after_change.to_rfc3339(), "2024-03-31T01:30:00+00:00");
        assert!(madrid_local_to_utc("not a date").is_none());
    }

    #[test]
    fn ips_are_hashed_deterministically() {
        assert_eq!(hash_ip("203.0.113.7"), hash_ip(" 203.0.113.7 "));
        assert_eq!(hash_ip("203.0.113.7").len(), 64);
        assert!(!hash_ip("203.0.113.7").contains("203"));
    }
}

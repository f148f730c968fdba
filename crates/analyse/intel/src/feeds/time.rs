//! Timestamps as feeds write them, to µs since the epoch (UTC).

use sweep_calendar::{days_from_civil, days_in_month};

fn num(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |a, &b| a.checked_mul(10)?.checked_add(u32::from(b - b'0')))
}

/// Parses RFC 3339 / ISO 8601 timestamps as feeds write them, to µs since the epoch, UTC:
/// `2015-05-15T09:12:16.432678Z`, `2024-08-01 12:34:56` (no zone: UTC, as abuse.ch writes),
/// `2024-08-01T12:34:56+02:00`, `...+0200`, a bare date `2016-04-18` (midnight UTC).
/// Fractions beyond microseconds are truncated; a leap second `:60` counts as `:59.999999`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = i64::from(num(&b[0..4])?);
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Some(days * 86_400_000_000);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let h = num(&b[11..13])?;
    let mi = num(&b[14..16])?;
    let mut i = 16;
    let mut sec = 0u32;
    let mut micros = 0i64;
    if b.get(i) == Some(&b':') {
        sec = num(b.get(i + 1..i + 3)?)?;
        i += 3;
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let frac = &b[start..i];
            let mut us = 0i64;
            for k in 0..6 {
                us = us * 10 + frac.get(k).map_or(0, |&c| i64::from(c - b'0'));
            }
            micros = us;
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    if sec == 60 {
        sec = 59;
        micros = 999_999;
    }
    let rest = &s[i..];
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" | " UTC" | " GMT" | "UTC" => 0,
        _ => {
            let rb = rest.as_bytes();
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = match rb.len() {
                6 if rb[3] == b':' => (num(&rb[1..3])?, num(&rb[4..6])?),
                5 => (num(&rb[1..3])?, num(&rb[3..5])?),
                3 => (num(&rb[1..3])?, 0),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * i64::from(oh * 3600 + om * 60)
        }
    };
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset_secs;
    Some(secs * 1_000_000 + micros)
}

/// A Unix timestamp in seconds, as a number or a string (MISP writes `"1467971098"`), to µs.
pub fn parse_epoch_seconds(v: &serde_json::Value) -> Option<i64> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    n.checked_mul(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        // date -u -d 2015-05-15T09:12:16Z +%s -> 1431681136
        assert_eq!(parse_timestamp("2015-05-15T09:12:16.432678Z"), Some(1_431_681_136_432_678));
        assert_eq!(parse_timestamp("2015-05-15T09:12:16.4Z"), Some(1_431_681_136_400_000));
        assert_eq!(parse_timestamp("2015-05-15T09:12:16.432678999Z"), Some(1_431_681_136_432_678));
        assert_eq!(parse_timestamp("2015-05-15 09:12:16"), Some(1_431_681_136_000_000));
        assert_eq!(parse_timestamp("2015-05-15T11:12:16+02:00"), Some(1_431_681_136_000_000));
        assert_eq!(parse_timestamp("2015-05-15T04:12:16-0500"), Some(1_431_681_136_000_000));
        assert_eq!(parse_timestamp("2015-05-15T09:12Z"), Some(1_431_681_120_000_000));
        // date -u -d 2016-04-18 +%s -> 1460937600
        assert_eq!(parse_timestamp("2016-04-18"), Some(1_460_937_600_000_000));
        assert_eq!(parse_timestamp("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Some(-1_000_000));
        assert_eq!(parse_timestamp("2016-12-31T23:59:60Z"), Some(1_483_228_799_999_999));
        for bad in [
            "",
            "2015",
            "2015-13-01",
            "2015-02-29",
            "2015-05-15T25:00:00Z",
            "2015-05-15T09:12:16.Z",
            "2015-05-15T09:12:16X",
            "2015-05-15T09:12:16+2",
            "x015-05-15",
            "2015-05-15T09:1",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch() {
        assert_eq!(parse_epoch_seconds(&serde_json::json!("1467971098")), Some(1_467_971_098_000_000));
        assert_eq!(parse_epoch_seconds(&serde_json::json!(5)), Some(5_000_000));
        assert_eq!(parse_epoch_seconds(&serde_json::json!("x")), None);
    }
}

//! Timestamp readers for the formats proxies write. All return microseconds since the
//! Unix epoch, UTC, or `None` when the text is not a valid time.
//!
//! Written by hand on purpose: they run once per line and must not allocate.

pub use sweep_calendar::{civil_from_days, days_from_civil, days_in_month};

/// Builds a timestamp from calendar fields, checking every range.
pub fn micros_from_parts(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // A year far outside the timestamp range would overflow: it is a bad timestamp, not a panic.
    let secs = days_from_civil(y, mo, d).checked_mul(86_400)?.checked_add((h * 3600 + mi * 60 + s) as i64)?;
    secs.checked_mul(1_000_000)?.checked_add(micros as i64)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Reads a fraction of a second (the digits after the dot) as microseconds.
fn fraction_micros(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u32 = 0;
    for i in 0..6 {
        v = v * 10 + b.get(i).map_or(0, |c| (c - b'0') as u32);
    }
    Some(v)
}

/// Squid's `%ts.%03tu`: epoch seconds, optionally with a fraction (`1198298239.740`).
pub fn parse_epoch_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], fraction_micros(&b[i + 1..])?),
        None => (b, 0),
    };
    if int.is_empty() || int.len() > 12 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs: i64 = int.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64);
    Some(secs * 1_000_000 + frac as i64)
}

/// Three-letter English month name to 1..=12 (case-insensitive).
pub fn month_number(b: &[u8]) -> Option<u32> {
    if b.len() != 3 {
        return None;
    }
    let m = [b[0].to_ascii_lowercase(), b[1].to_ascii_lowercase(), b[2].to_ascii_lowercase()];
    Some(match &m {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Reads a numeric zone offset `+hhmm`, `-hh:mm`, `Z` as seconds east of UTC.
fn zone_offset_secs(b: &[u8]) -> Option<i64> {
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &b[1..];
    let (h, m) = match rest.len() {
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        2 => (digits(rest)?, 0),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i64 * 3600 + m as i64 * 60))
}

/// Common Log Format `%d/%b/%Y:%H:%M:%S %z` (`22/Dec/2007:04:37:19 +0100`), with or
/// without the zone (UTC then).
pub fn parse_clf(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = month_number(&b[3..6])?;
    let y = digits(&b[7..11])? as i64;
    let h = digits(&b[12..14])?;
    let mi = digits(&b[15..17])?;
    let (sec_end, frac) = match b.get(20) {
        Some(b'.') => {
            let end = b[21..].iter().position(|c| !c.is_ascii_digit()).map_or(b.len(), |p| p + 21);
            (end, fraction_micros(&b[21..end])?)
        }
        _ => (20, 0),
    };
    let sec = digits(&b[18..20])?;
    let base = micros_from_parts(y, mo, d, h, mi, sec, frac)?;
    let rest = &b[sec_end..];
    if rest.is_empty() {
        return Some(base);
    }
    let zone = rest.strip_prefix(b" ")?;
    Some(base - zone_offset_secs(zone)? * 1_000_000)
}

/// `YYYY-MM-DD` and `HH:MM:SS[.fff]` given separately (W3C/ELFF `date` and `time`), UTC.
pub fn parse_date_and_time(date: &str, time: &str) -> Option<i64> {
    let (y, mo, d) = parse_ymd(date.as_bytes())?;
    let (h, mi, s, us) = parse_hms(time.as_bytes())?;
    micros_from_parts(y, mo, d, h, mi, s, us)
}

fn parse_ymd(b: &[u8]) -> Option<(i64, u32, u32)> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Some((digits(&b[..4])? as i64, digits(&b[5..7])?, digits(&b[8..10])?))
}

fn parse_hms(b: &[u8]) -> Option<(u32, u32, u32, u32)> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let us = match b.get(8) {
        None => 0,
        Some(b'.') | Some(b',') => fraction_micros(&b[9..])?,
        Some(_) => return None,
    };
    Some((digits(&b[..2])?, digits(&b[3..5])?, digits(&b[6..8])?, us))
}

/// RFC 3339 / ISO 8601 date-time: `2022-06-20T15:29:11.123Z`, `2022-06-20 15:29:11+02:00`.
/// A time without a zone is read as UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let (y, mo, d) = parse_ymd(&b[..10])?;
    let rest = &b[11..];
    let zone_at = rest.iter().enumerate().skip(8).find(|(_, c)| matches!(c, b'Z' | b'z' | b'+' | b'-')).map(|(i, _)| i);
    let (time, zone) = match zone_at {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let (h, mi, sec, us) = parse_hms(time)?;
    let base = micros_from_parts(y, mo, d, h, mi, sec, us)?;
    match zone {
        Some(z) => Some(base - zone_offset_secs(z)? * 1_000_000),
        None => Some(base),
    }
}

/// C `ctime` style without zone, as Zscaler NSS writes it: `Mon Jun 20 15:29:11 2022`
/// (the weekday is optional; the time is read as UTC).
pub fn parse_ctime(s: &str) -> Option<i64> {
    let mut parts = s.split_ascii_whitespace();
    let mut first = parts.next()?;
    if month_number(first.as_bytes()).is_none() {
        // A weekday name: check its shape, then move on.
        if first.len() != 3 || !first.bytes().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        first = parts.next()?;
    }
    let mo = month_number(first.as_bytes())?;
    let d = digits(parts.next()?.as_bytes())?;
    let (h, mi, sec, us) = parse_hms(parts.next()?.as_bytes())?;
    let y = digits(parts.next()?.as_bytes())? as i64;
    if parts.next().is_some() {
        return None;
    }
    micros_from_parts(y, mo, d, h, mi, sec, us)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (for tests and docs).
pub fn format_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_beyond_the_timestamp_range_is_refused_not_a_panic() {
        assert_eq!(micros_from_parts(999_999_999, 12, 31, 23, 59, 59, 0), None);
        assert!(micros_from_parts(200_000, 1, 1, 0, 0, 0, 0).is_some());
    }

    #[test]
    fn epoch_with_millis() {
        assert_eq!(format_micros(parse_epoch_seconds("1198298239.740").unwrap()), "2007-12-22T04:37:19.740000Z");
        assert_eq!(parse_epoch_seconds("12x"), None);
        assert_eq!(parse_epoch_seconds(""), None);
    }

    #[test]
    fn clf_with_zone() {
        let t = parse_clf("17/May/2015:10:05:03 +0000").unwrap();
        assert_eq!(format_micros(t), "2015-05-17T10:05:03.000000Z");
        let t = parse_clf("22/Dec/2007:05:37:19 +0100").unwrap();
        assert_eq!(format_micros(t), "2007-12-22T04:37:19.000000Z");
        assert_eq!(parse_clf("31/Feb/2015:10:05:03 +0000"), None);
        assert_eq!(parse_clf("17/Mai/2015:10:05:03 +0000"), None);
    }

    #[test]
    fn w3c_and_iso() {
        assert_eq!(format_micros(parse_date_and_time("2005-04-12", "21:03:45").unwrap()), "2005-04-12T21:03:45.000000Z");
        assert_eq!(format_micros(parse_rfc3339("2022-06-20T15:29:11.5+02:00").unwrap()), "2022-06-20T13:29:11.500000Z");
        assert_eq!(format_micros(parse_rfc3339("2022-06-20 15:29:11").unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(parse_rfc3339("2022-13-20T15:29:11Z"), None);
    }

    #[test]
    fn ctime() {
        assert_eq!(format_micros(parse_ctime("Mon Jun 20 15:29:11 2022").unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(format_micros(parse_ctime("Jun  2 05:09:01 2022").unwrap()), "2022-06-02T05:09:01.000000Z");
        assert_eq!(parse_ctime("Mon Jun 20 15:29:11"), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 11_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}

//! Time parsing as Spark SQL (mirrors sweep_formats::time).
//!
//! Each function returns an expression of type BIGINT, microseconds since the epoch, that is
//! NULL exactly where the Rust function returns `None`. The text is checked by shape with a
//! regular expression first; the calendar (days in the month, leap years, hours and minutes
//! in range, a 60th second that rolls into the next minute) is then `make_timestamp`'s,
//! which gives NULL for what `time::micros_from_parts` refuses.
//!
//! They are checked against sweep_formats::time on a live server by sweep-spark's
//! `src/time_on_server.rs`, which needs the engine's client.

use crate::fields::{lit, rlike};

/// `CASE lower(x) WHEN 'jan' THEN 1 ... END`: a three-letter month name to 1..=12.
fn month_number(x: &str) -> String {
    let whens: String = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        .iter()
        .enumerate()
        .map(|(i, m)| format!(" WHEN '{m}' THEN {}", i + 1))
        .collect();
    format!("(CASE lower({x}){whens} END)")
}

/// Microseconds of a UTC civil time; `sec` is the seconds' digits and `frac` the digits of
/// their fraction (maybe empty) as text, the others integer expressions. The seconds are
/// added to the minute, so that a leap second (60, with any fraction) rolls into the next
/// minute as `time::micros_from_parts` has it. More than six digits of fraction are cut,
/// not rounded, as `time::fraction_micros` reads them.
fn civil_micros(y: &str, mo: &str, d: &str, h: &str, mi: &str, sec: &str, frac: &str) -> String {
    format!(
        "(CASE WHEN CAST({sec} AS INT) <= 60 THEN unix_micros(make_timestamp({y}, {mo}, {d}, {h}, {mi}, 0, 'UTC')) \
         + CAST({sec} AS BIGINT) * 1000000 + CAST(rpad(substr({frac}, 1, 6), 6, '0') AS BIGINT) END)"
    )
}

/// The text of a group of a regular expression match.
fn group(x: &str, pattern: &str, i: usize) -> String {
    format!("regexp_extract({x}, {}, {i})", lit(pattern))
}

fn int(x: String) -> String {
    format!("CAST({x} AS INT)")
}

/// `HH:MM:SS[.frac]` (the fraction after `.` or `,`), as `time::parse_hms` reads it.
const HMS: &str = "([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?";

/// A numeric zone, `Z`, `+hh`, `+hhmm` or `+hh:mm` (`time::zone_offset_secs`), in seconds
/// east of UTC; NULL when the hours or minutes are out of range. `zone` is the zone's
/// text, known to match `ZONE`.
const ZONE: &str = "[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?";

fn zone_offset_micros(zone: &str) -> String {
    let h = format!("CAST(substr({zone}, 2, 2) AS INT)");
    let m = format!("coalesce(CAST(nullif(substr(replace({zone}, ':', ''), 4, 2), '') AS INT), 0)");
    format!(
        "(CASE WHEN {zone} IN ('Z', 'z') THEN 0 WHEN {h} > 23 OR {m} > 59 THEN NULL \
         ELSE CASE WHEN {zone} LIKE '-%' THEN -1 ELSE 1 END * ({h} * 3600 + {m} * 60) * CAST(1000000 AS BIGINT) END)"
    )
}

/// `time::parse_epoch_seconds`: `1198298239.740`, at most 12 digits before the point.
pub fn epoch_seconds_micros(x: &str) -> String {
    format!(
        "(CASE WHEN {ok} THEN CAST(substring_index({x}, '.', 1) AS BIGINT) * 1000000 \
         + CAST(rpad(substr({frac}, 1, 6), 6, '0') AS BIGINT) END)",
        ok = rlike(x, r"^[0-9]{1,12}(\.[0-9]+)?\z"),
        frac = group(x, r"\.([0-9]+)\z", 1),
    )
}

/// `time::parse_date_and_time`: `YYYY-MM-DD` and `HH:MM:SS[.frac]` given separately.
pub fn date_time_micros(date: &str, time: &str) -> String {
    let d = |i: usize| int(group(date, r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\z", i));
    let hms = format!("^{HMS}\\z");
    let t = |i: usize| group(time, &hms, i);
    format!(
        "(CASE WHEN {} AND {} THEN {} END)",
        rlike(date, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z"),
        rlike(time, &hms),
        civil_micros(&d(1), &d(2), &d(3), &int(t(1)), &int(t(2)), &t(3), &t(4))
    )
}

/// `time::parse_rfc3339`: `2022-06-20T15:29:11.123Z`, `2022-06-20 15:29:11+02:00`; no zone
/// is UTC.
pub fn rfc3339_micros(x: &str) -> String {
    let pattern = format!("^([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}})[Tt ]{HMS}({ZONE})?\\z");
    let g = |i: usize| group(x, &pattern, i);
    let base = civil_micros(&int(g(1)), &int(g(2)), &int(g(3)), &int(g(4)), &int(g(5)), &g(6), &g(7));
    with_zone(rlike(x, &pattern), base, g(8))
}

/// `base` less the offset of the zone text `zone` (empty: UTC), when `ok`.
fn with_zone(ok: String, base: String, zone: String) -> String {
    format!("(CASE WHEN {ok} THEN {base} - CASE WHEN {zone} = '' THEN 0 ELSE {} END END)", zone_offset_micros(&zone))
}

/// `time::parse_clf`: `22/Dec/2007:04:37:19[.frac][ zone]`; no zone is UTC.
pub fn clf_micros(x: &str) -> String {
    let pattern =
        format!("^([0-9]{{2}})/([A-Za-z]{{3}})/([0-9]{{4}}):([0-9]{{2}}):([0-9]{{2}}):([0-9]{{2}})(?:\\.([0-9]+))?(?: ({ZONE}))?\\z");
    let g = |i: usize| group(x, &pattern, i);
    let base = civil_micros(&int(g(3)), &month_number(&g(2)), &int(g(1)), &int(g(4)), &int(g(5)), &g(6), &g(7));
    with_zone(rlike(x, &pattern), base, g(8))
}

/// `time::parse_ctime`: `[Mon ]Jun 20 15:29:11 2022`, words split at ASCII whitespace, read
/// as UTC. A first word that is a month name is the month, not a weekday.
pub fn ctime_micros(x: &str) -> String {
    let ws = r"[ \t\n\f\r]";
    let pattern = format!("^{ws}*(?:([A-Za-z]{{3}}){ws}+)?([A-Za-z]{{3}}){ws}+([0-9]{{1,9}}){ws}+{HMS}{ws}+([0-9]{{1,9}}){ws}*\\z");
    let g = |i: usize| group(x, &pattern, i);
    let base = civil_micros(&int(g(8)), &month_number(&g(2)), &int(g(3)), &int(g(4)), &int(g(5)), &g(6), &g(7));
    format!("(CASE WHEN {} AND {} IS NULL THEN {base} END)", rlike(x, &pattern), month_number(&g(1)))
}

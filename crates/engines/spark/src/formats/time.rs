//! Time parsing as Spark SQL (mirrors sweep_formats::time).
//!
//! Each function returns an expression of type BIGINT, microseconds since the epoch, that is
//! NULL exactly where the Rust function returns `None`. The text is checked by shape with a
//! regular expression first; the calendar (days in the month, leap years, hours and minutes
//! in range, a 60th second that rolls into the next minute) is then `make_timestamp`'s,
//! which gives NULL for what `time::micros_from_parts` refuses.

use super::*;

/// `CASE lower(x) WHEN 'jan' THEN 1 ... END`: a three-letter month name to 1..=12.
pub(crate) fn month_number(x: &str) -> String {
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
pub(crate) fn epoch_seconds_micros(x: &str) -> String {
    format!(
        "(CASE WHEN {ok} THEN CAST(substring_index({x}, '.', 1) AS BIGINT) * 1000000 \
         + CAST(rpad(substr({frac}, 1, 6), 6, '0') AS BIGINT) END)",
        ok = rlike(x, r"^[0-9]{1,12}(\.[0-9]+)?\z"),
        frac = group(x, r"\.([0-9]+)\z", 1),
    )
}

/// `time::parse_date_and_time`: `YYYY-MM-DD` and `HH:MM:SS[.frac]` given separately.
pub(crate) fn date_time_micros(date: &str, time: &str) -> String {
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
pub(crate) fn rfc3339_micros(x: &str) -> String {
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
pub(crate) fn clf_micros(x: &str) -> String {
    let pattern =
        format!("^([0-9]{{2}})/([A-Za-z]{{3}})/([0-9]{{4}}):([0-9]{{2}}):([0-9]{{2}}):([0-9]{{2}})(?:\\.([0-9]+))?(?: ({ZONE}))?\\z");
    let g = |i: usize| group(x, &pattern, i);
    let base = civil_micros(&int(g(3)), &month_number(&g(2)), &int(g(1)), &int(g(4)), &int(g(5)), &g(6), &g(7));
    with_zone(rlike(x, &pattern), base, g(8))
}

/// `time::parse_ctime`: `[Mon ]Jun 20 15:29:11 2022`, words split at ASCII whitespace, read
/// as UTC. A first word that is a month name is the month, not a weekday.
pub(crate) fn ctime_micros(x: &str) -> String {
    let ws = r"[ \t\n\f\r]";
    let pattern = format!("^{ws}*(?:([A-Za-z]{{3}}){ws}+)?([A-Za-z]{{3}}){ws}+([0-9]{{1,9}}){ws}+{HMS}{ws}+([0-9]{{1,9}}){ws}*\\z");
    let g = |i: usize| group(x, &pattern, i);
    let base = civil_micros(&int(g(8)), &month_number(&g(2)), &int(g(3)), &int(g(4)), &int(g(5)), &g(6), &g(7));
    format!("(CASE WHEN {} AND {} IS NULL THEN {base} END)", rlike(x, &pattern), month_number(&g(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Remote, SparkClient};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use sweep_formats::time;

    type RustParse = fn(&str) -> Option<i64>;

    /// Each function, on a live server, against sweep_formats::time over the same texts.
    #[test]
    fn agree_with_sweep_formats_on_a_server() {
        let Some(remote) = std::env::var("SWEEP_SPARK_REMOTE").ok().filter(|r| !r.is_empty()) else {
            assert!(std::env::var("SWEEP_REQUIRE_SPARK").as_deref() != Ok("1"), "SWEEP_REQUIRE_SPARK=1 but SWEEP_SPARK_REMOTE is unset");
            eprintln!("skipped: no Spark Connect server (SWEEP_SPARK_REMOTE unset)");
            return;
        };
        let date_time = |s: &str| s.split_once('|').and_then(|(d, t)| time::parse_date_and_time(d, t));
        let cases: [(&str, fn(&str) -> String, RustParse, &[&str]); 5] = [
            (
                "epoch",
                epoch_seconds_micros,
                time::parse_epoch_seconds,
                &[
                    "1198298239.740",
                    "1198298239",
                    "0",
                    "1198298239.",
                    ".5",
                    "1234567890123",
                    "123456789012.1234567",
                    "-1",
                    "1e9",
                    " 1",
                    "12.3.4",
                    "",
                ],
            ),
            (
                "date_time",
                |x| date_time_micros(&format!("substring_index({x}, '|', 1)"), &format!("substring_index({x}, '|', -1)")),
                date_time,
                &[
                    "2022-06-20|15:29:11",
                    "2022-06-20|15:29:11.5",
                    "2024-02-29|23:59:60.5",
                    "2024-12-31|23:59:60.999999",
                    "2022-06-20|15:29:11,123456789",
                    "2024-02-29|23:59:60",
                    "2023-02-29|00:00:00",
                    "2022-13-01|00:00:00",
                    "2022-06-20|24:00:00",
                    "2022-06-20|15:60:00",
                    "2022-6-20|15:29:11",
                    "2022-06-20|15:29",
                    "2022-06-20|15:29:11.",
                    "2022-06-20|15:29:11Z",
                    "0001-01-01|00:00:00",
                ],
            ),
            (
                "rfc3339",
                rfc3339_micros,
                time::parse_rfc3339,
                &[
                    "2022-06-20T15:29:11Z",
                    "2022-06-20t15:29:11.123z",
                    "2022-06-20 15:29:11+02:00",
                    "2022-06-20T15:29:11-0530",
                    "2022-06-20T15:29:11+01",
                    "2022-06-20T15:29:11",
                    "2022-06-20T15:29:11.1234567+00:00",
                    "2022-06-20T15:29:11+24:00",
                    "2022-06-20T15:29:11+01:60",
                    "2022-06-20T15:29:11+1",
                    "2022-06-20T15:29:11 +01:00",
                    "2022-06-20X15:29:11Z",
                    "2022-02-30T00:00:00Z",
                    "2022-06-20T15:29:11Zx",
                    "2022-06-20T15:29:11,5Z",
                    "2022-06-20T15:29:11.Z",
                    "",
                ],
            ),
            (
                "clf",
                clf_micros,
                time::parse_clf,
                &[
                    "10/Oct/2000:13:55:36 -0700",
                    "10/oct/2000:13:55:36",
                    "10/Oct/2000:13:55:36.123 Z",
                    "29/Feb/2024:23:59:60",
                    "29/Feb/2024:23:59:60.25 +0100",
                    "29/Feb/2023:00:00:00",
                    "10/Oct/2000:13:55:36 +2400",
                    "10/Oct/2000:13:55:36 +01",
                    "10/Oct/2000:13:55:36 -02:30",
                    "10/Foo/2000:13:55:36",
                    "10/Oct/2000:13:55:36  +0000",
                    "10/Oct/2000:13:55:36.",
                    "1/Oct/2000:13:55:36",
                ],
            ),
            (
                "ctime",
                ctime_micros,
                time::parse_ctime,
                &[
                    "Mon Jun 20 15:29:11 2022",
                    "Jun 20 15:29:11 2022",
                    "  Mon  Jun 20 15:29:11.250 2022 ",
                    "Mon Jun 31 15:29:11 2022",
                    "Mon Jun 20 15:29 2022",
                    "Mon Jun 20 15:29:11",
                    "Mon Jun 20 15:29:11 2022 x",
                    "Jun Jun 20 15:29:11 2022",
                    "Mo Jun 20 15:29:11 2022",
                    "Mon Jun 7 5:29:11 2022",
                    "Mon\tJun\t20\t15:29:11\t2022",
                    "Mon Jun 20 15:29:11,5 2022",
                    "1Mo Jun 20 15:29:11 2022",
                ],
            ),
        ];
        let runtime = crate::run::client_runtime().unwrap();
        runtime.block_on(async {
            let mut spark = SparkClient::connect(&Remote::parse(&remote).unwrap()).await.unwrap();
            crate::run::prepare_session(&mut spark).await.unwrap();
            for (name, sql_of, rust_of, texts) in cases {
                let values: Vec<String> = texts.iter().enumerate().map(|(i, t)| format!("({i}, {})", lit(t))).collect();
                let query = format!("SELECT {} AS v FROM VALUES {} AS t(id, x) ORDER BY id", sql_of("x"), values.join(", "));
                let batches = spark.sql(&query, name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
                let got: Vec<Option<i64>> = batches
                    .iter()
                    .flat_map(|b| {
                        let col = b.column(0).as_primitive::<Int64Type>().clone();
                        (0..col.len()).map(move |i| col.is_valid(i).then(|| col.value(i)))
                    })
                    .collect();
                let want: Vec<Option<i64>> = texts.iter().map(|t| rust_of(t)).collect();
                for ((text, g), w) in texts.iter().zip(&got).zip(&want) {
                    assert_eq!(g, w, "{name}({text:?}): spark {g:?}, sweep_formats {w:?}");
                }
                assert_eq!(got.len(), want.len());
            }
        });
    }
}

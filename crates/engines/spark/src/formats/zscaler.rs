//! The `zscaler` format (Zscaler NSS web feed) as Spark SQL (mirrors
//! sweep_formats::formats::zscaler) for the `csv` and `tsv` layouts.
//!
//! The line is split into its fields by one regular expression applied repeatedly
//! (`regexp_extract_all`) over the line with a separator put in front, so that every field
//! is "separator, then the field": each match then starts where the one before ended, empty
//! fields included. The field pattern reads as `Delimited::next_field` does, possessively so
//! that it never backtracks into a reading the Rust reader would not make. A quoted field
//! that is never closed matches nowhere, so the search skips part of the line: the fields
//! found then fall short of the line's length.
//!
//! The `json` layout is refused before a run: what serde_json accepts as one object (and the
//! text of its errors, which a reject's detail carries) is not what Spark's JSON reader
//! accepts, and values keep their document order across the outer object and `event`.

use super::time::{ctime_micros, epoch_seconds_micros, rfc3339_micros};
use super::*;
use sweep_formats::formats::zscaler::{DEFAULT_FIELDS, ZscalerLayout, ZscalerOptions};

/// The NSS fields sweep reads (sweep_formats::formats::zscaler's `F::of`); every other column
/// is read and ignored.
const KNOWN_FIELDS: [&str; 19] = [
    "time",
    "epochtime",
    "login",
    "proto",
    "eurl",
    "url",
    "action",
    "reqsize",
    "respsize",
    "ctime",
    "urlcat",
    "cip",
    "sip",
    "reqmethod",
    "respcode",
    "ua",
    "ereferer",
    "referer",
    "contenttype",
];

/// The column names of a CSV/TSV layout, as `Zscaler::new` reads the `fields` option.
fn column_names(options: &ZscalerOptions) -> Vec<String> {
    match &options.fields {
        None => DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
        Some(list) => list
            .iter()
            .flat_map(|s| s.split(|c: char| c == ',' || c.is_ascii_whitespace()))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_ascii_lowercase())
            .collect(),
    }
}

/// A field of a CSV/TSV line as `Delimited::next_field` reads it, written for a Java regular
/// expression with `sep` the separator (a regex escape). A quoted field runs to a `"`
/// followed by the separator or the line end, taking `""` as a pair first and a `"`
/// followed by anything else as kept; the repetition is possessive, so an unclosed quote
/// fails rather than falling back to a shorter reading. A bare field cannot start with
/// `"` and runs to the next separator.
fn field_pattern(sep: &str) -> String {
    format!(r#""(?:""|"(?!{sep}|\z)|[^"])*+"(?={sep}|\z)|(?!")[^{sep}]*"#)
}

/// The value of a field as read (`t` is the field's text with its quotes): a quoted field
/// loses them and its `""` pairs become `"`.
fn unquoted(t: &str) -> String {
    format!("CASE WHEN {t} LIKE '\"%' THEN replace(substr({t}, 2, char_length({t}) - 2), '\"\"', '\"') ELSE {t} END")
}

/// True for a header row: every value equal to its column's name, ignoring ASCII case
/// (`value(i)` is the value of column `i`).
///
/// A name without `"` (the usual case) is a value only as `name` or `"name"`, and names
/// hold no separator, so a header row is then one of those per column, separated: one
/// pattern over the whole line, far smaller than a comparison per column (and, unlike it, no
/// larger with more columns).
fn header_row(names: &[String], sep: &str, value: impl Fn(usize) -> String) -> String {
    let each: Vec<String> = names.iter().enumerate().map(|(i, name)| format!("{} = {}", ascii_lower(&value(i)), lit(name))).collect();
    if names.iter().any(|n| n.contains('"')) || each.is_empty() {
        return format!("({})", if each.is_empty() { "FALSE".into() } else { each.join(" AND ") });
    }
    let literal =
        |name: &str| name.chars().map(|c| if c.is_ascii_punctuation() { format!("\\{c}") } else { c.to_string() }).collect::<String>();
    let columns: Vec<String> = names.iter().map(|name| format!("(?:{0}|\"{0}\")", literal(name))).collect();
    // The first column alone rules out nearly every line, before the whole line is lowered.
    format!("({} AND {})", each[0], rlike(&ascii_lower("line"), &format!("^{}\\z", columns.join(sep))))
}

/// Adds at `step` `{p}_v` (the value of an `int_field`, null for no value) and `{p}_bad` (not
/// a number) for the NSS value `x`.
fn number(steps: &mut Steps, step: usize, x: &str, p: &str) {
    steps.at(step, format!("{p}_bad"), format!("({x} IS NOT NULL AND NOT {})", int_ok(x)));
    steps.at(step, format!("{p}_v"), int_value(x));
}

/// The parse of the `csv` or `tsv` layout of `options`; the `json` layout is refused.
pub(super) fn zscaler(options: &ZscalerOptions) -> Result<FormatSql, SparkError> {
    // The separator as a regular expression and as text.
    let (sep, sep_text) = match options.layout {
        ZscalerLayout::Csv => (",", ","),
        ZscalerLayout::Tsv => ("\\t", "\t"),
        ZscalerLayout::Json => {
            return Err(SparkError::Unsupported(
                "the zscaler format's json layout has no Spark SQL translation yet (the Spark engine reads its csv and tsv layouts)".into(),
            ));
        }
    };
    let names = column_names(options);
    let field = field_pattern(sep);
    let mut st = Steps::default();

    st.at(0, "zs_line", format!("concat({}, line)", lit(sep_text)));
    let each_field = lit(&format!("{sep}({field})"));
    st.at(1, "zs_f", format!("regexp_extract_all(zs_line, {each_field}, 1)"));
    // The fields cover the whole line, separators included, unless an unclosed quote made the
    // search skip some of it.
    st.at(2, "zs_closed", format!("(char_length(array_join(zs_f, {})) = char_length(line))", lit(sep_text)));
    // For a line with an unclosed quote: the number of the field that has it (the fields
    // before it are those the same pattern reads from the start of the line, one after the
    // other).
    let unclosed_field = format!(
        "CAST(size(regexp_extract_all(regexp_extract(zs_line, {}, 0), {each_field}, 1)) + 1 AS STRING)",
        lit(&format!("^(?:{sep}(?:{field}))*+"))
    );

    // The value of each known field: its last column (a later column overwrites), with the
    // NSS words for no value read as null.
    let value = |i: usize| unquoted(&format!("get(zs_f, {i})"));
    for name in KNOWN_FIELDS {
        let (raw, v) = (format!("r_{name}"), format!("v_{name}"));
        match names.iter().rposition(|n| n == name) {
            Some(i) => {
                st.at(3, &raw, value(i));
                st.at(4, v, format!("CASE WHEN {raw} IN ('', 'None', 'NA', 'N/A') THEN NULL ELSE {raw} END"));
            }
            None => st.at(4, v, "CAST(NULL AS STRING)"),
        }
    }
    st.at(3, "zs_n", "size(zs_f)");
    st.at(3, "zs_header", header_row(&names, sep, value));

    // The time: `time` (ctime style, else RFC 3339), else `epochtime` (epoch seconds).
    st.at(
        5,
        "ts_us",
        format!(
            "CASE WHEN v_time IS NOT NULL THEN coalesce({}, {}) WHEN v_epochtime IS NOT NULL THEN {} END",
            ctime_micros("v_time"),
            rfc3339_micros("v_time"),
            epoch_seconds_micros("v_epochtime")
        ),
    );
    st.at(5, "is_connect", format!("coalesce({} = 'connect', FALSE)", ascii_lower("v_reqmethod")));
    st.at(5, "url_v", "coalesce(v_eurl, v_url)");
    st.at(
        5,
        "proto_scheme",
        format!(
            "CASE {} WHEN 'http' THEN 'http' WHEN 'https' THEN 'https' WHEN 'ssl' THEN 'https' WHEN 'ftp' THEN 'ftp' END",
            ascii_lower("v_proto")
        ),
    );
    for name in ["reqsize", "respsize", "ctime", "respcode"] {
        number(&mut st, 5, &format!("v_{name}"), name);
    }
    st.at(6, "connect_m", "CASE WHEN is_connect THEN 'CONNECT' END");
    let after_url = url_steps(&mut st, 7, "url_v", "connect_m", "u");
    let after_ip = ip_field_steps(&mut st, 5, "v_cip", "cip").max(ip_field_steps(&mut st, 5, "v_sip", "sip"));
    let last = after_url.max(after_ip);

    let bad_number = |p: &str, what: &str| {
        (format!("{p}_bad"), rejection_quoting("bad_number", lit(&format!("{what} is not a number: ")), &format!("v_{p}")))
    };
    let bad_ip =
        |p: &str| (format!("{p}_bad"), rejection_quoting("bad_ip", lit(&format!("{p} is not an IP address: ")), &format!("{p}_core")));
    let layout = if options.fields.is_some() { "the fields option" } else { "the default NSS web layout" };
    let checks = vec![
        (
            "NOT zs_closed".into(),
            rejection("malformed", format!("concat('field ', {unclosed_field}, {})", lit(": no closing double quote"))),
        ),
        (
            format!("zs_n <> {}", names.len()),
            rejection(
                "field_count",
                format!("concat('the line has ', CAST(zs_n AS STRING), {})", lit(&format!(" fields; {layout} has {}", names.len()))),
            ),
        ),
        (
            "ts_us IS NULL AND v_time IS NOT NULL".into(),
            rejection_quoting("bad_timestamp", lit("time is not a ctime-style date (Mon Jun 20 15:29:11 2022): "), "v_time"),
        ),
        (
            "ts_us IS NULL AND v_epochtime IS NOT NULL".into(),
            reject_struct(
                "bad_timestamp",
                &format!("concat('epochtime is not epoch seconds: Text(', {QUOTED_1}, ')')"),
                "v_epochtime",
                "CAST(NULL AS STRING)",
            ),
        ),
        ("ts_us IS NULL".into(), rejection("bad_timestamp", lit("the record has no time"))),
        bad_number("reqsize", "reqsize"),
        bad_number("respsize", "respsize"),
        bad_number("ctime", "ctime"),
        bad_ip("cip"),
        bad_ip("sip"),
        bad_number("respcode", "status"),
        ("respcode_v NOT BETWEEN 0 AND 999".into(), rejection_quoting("bad_number", "'status out of range: '", "v_respcode")),
    ];
    st.at(last, "parse_rej", first_reject(checks));
    st.at(last, "parse_skip", format!("(line LIKE '#%' OR (zs_closed AND zs_n = {} AND zs_header))", names.len()));

    let proto_fills = "(u_scheme IS NULL AND NOT is_connect AND proto_scheme IS NOT NULL)";
    let columns: [(&str, String); 20] = [
        ("ts", "timestamp_micros(ts_us)".into()),
        ("client_ip", "cip_ip".into()),
        ("user", "v_login".into()),
        ("method", "v_reqmethod".into()),
        ("url", "url_v".into()),
        ("scheme", format!("CASE WHEN url_v IS NOT NULL AND {proto_fills} THEN proto_scheme ELSE u_scheme END")),
        ("host", "u_host".into()),
        (
            "port",
            format!(
                "CASE WHEN url_v IS NOT NULL AND {proto_fills} THEN coalesce(u_port, CASE proto_scheme WHEN 'http' THEN 80 \
                 WHEN 'https' THEN 443 WHEN 'ftp' THEN 21 END) ELSE u_port END"
            ),
        ),
        ("path", "u_path".into()),
        ("query", "u_query".into()),
        ("status", "CAST(respcode_v AS INT)".into()),
        ("request_bytes", "reqsize_v".into()),
        ("response_bytes", "respsize_v".into()),
        ("duration_ms", "ctime_v".into()),
        ("user_agent", "v_ua".into()),
        ("referrer", "coalesce(v_ereferer, v_referer)".into()),
        ("content_type", "v_contenttype".into()),
        ("proxy_action", "v_action".into()),
        ("server_ip", "sip_ip".into()),
        ("category", "v_urlcat".into()),
    ];
    for (name, expr) in columns {
        st.at(last, format!("e_{name}"), expr);
    }
    Ok(FormatSql { name: "zscaler", steps: st })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(sql: &FormatSql) -> Vec<String> {
        sql.steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_").map(str::to_string)).collect()
    }

    #[test]
    fn fills_every_event_column_and_stays_small() {
        for layout in [ZscalerLayout::Csv, ZscalerLayout::Tsv] {
            let sql = zscaler(&ZscalerOptions { layout, fields: None }).unwrap();
            assert_eq!(filled(&sql), event_columns());
            let text = sql.steps.over("lines");
            assert!(text.len() < 40_000, "{} bytes", text.len());
        }
        let custom = ZscalerOptions { layout: ZscalerLayout::Csv, fields: Some(vec!["epochtime, cip".into(), "Foo".into()]) };
        assert_eq!(filled(&zscaler(&custom).unwrap()), event_columns());
    }

    #[test]
    fn the_json_layout_is_refused_by_name() {
        let json = ZscalerOptions { layout: ZscalerLayout::Json, fields: None };
        assert!(matches!(zscaler(&json), Err(SparkError::Unsupported(m)) if m.contains("json layout")));
    }
}

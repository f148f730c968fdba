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
//! The `json` layout is read as the `jsonl` format reads a line (see jsonl.rs: one
//! `from_json` into a variant per key, serde_json's kinds and number reading, Rust's float
//! Display, its `bad_json` details), with the known keys and `event` at the top level; a
//! key's value is the later in the line of the top-level one and the one in the `event`
//! object (a scan of the line tells, for the rare lines that have both). An object or array
//! under a known key ends serde_json's parse with an error there, whose column a scan finds.
//! The values then go through the same `apply` as CSV and TSV values, numbers on their own
//! paths (`int`, `from_epoch`, `respcode`).
//!
//! Known differences from the embedded parser (edge cases): a `bad_json` detail is
//! serde_json's message only where [`json_object`] and `bad_json_detail` reproduce it (a
//! line that is no object, text after the object, a line cut short, an object or array
//! under a known key); other syntax errors, numbers beyond f64 and a top-level string or
//! number have a generic detail. A line with several `event` keys is read from the last
//! one (the Rust parser merges the objects and ignores the others); a repeated key counts
//! once, the last (the Rust parser rejects the line when an earlier one holds an object or
//! array); keys written with escapes (`"t\u0069me"`) count as values but not for the order
//! against `event` nor for the column of the error at an object or array; nesting deeper than
//! 128 is no error (serde_json's recursion limit).

use sweep_formats::formats::zscaler::{READ_FIELDS, ZscalerLayout, ZscalerOptions};

use super::jsonl::{JSON_WS, bad_json_detail, json_value_steps, parse_json_line, re, round_half_away};
use crate::fields::{ascii_lower, int_ok, int_value, ip_field_steps, lit, rlike};
use crate::reject::{QUOTED_1, first_reject, reject_struct, rejection, rejection_quoting};
use crate::steps::Steps;
use crate::time::{ctime_micros, epoch_seconds_micros, rfc3339_micros};
use crate::url::url_steps;
use crate::{FormatSql, Unsupported};

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

/// How a layout read a line: the values `v_{name}` of the known fields (null for no value)
/// are ready at step `step`, its checks of the line come before those of the values, and
/// `skip` says which lines the parser skips.
struct Read {
    step: usize,
    checks: Vec<(String, String)>,
    skip: String,
    /// JSON values have kinds (`k_{name}`: `T` text, `I` an integer in i64, `F` any other
    /// number), and numbers take other paths than text; CSV and TSV values are all text.
    typed: bool,
}

/// The parse of `options`.
pub(crate) fn zscaler(options: &ZscalerOptions) -> Result<FormatSql, Unsupported> {
    let mut st = Steps::default();
    let read = match options.layout {
        ZscalerLayout::Csv => delimited(&mut st, options, ",", ","),
        ZscalerLayout::Tsv => delimited(&mut st, options, "\\t", "\t"),
        ZscalerLayout::Json => {
            if options.fields.is_some() {
                return Err(Unsupported("fields applies to the csv and tsv layouts; JSON lines are read by key".into()));
            }
            json_object(&mut st)
        }
    };
    apply(&mut st, read);
    Ok(FormatSql { name: "zscaler", steps: st })
}

/// Reads a CSV or TSV line (`Zscaler::delimited`) with the separator `sep` (a regex) and
/// `sep_text` (as text).
fn delimited(st: &mut Steps, options: &ZscalerOptions, sep: &str, sep_text: &str) -> Read {
    let names = options.column_names();
    let field = field_pattern(sep);

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
    for name in READ_FIELDS {
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
    ];
    let skip = format!("(line LIKE '#%' OR (zs_closed AND zs_n = {} AND zs_header))", names.len());
    Read { step: 5, checks, skip, typed: false }
}

/// The index of the `event` key among the top-level keys read (after [`READ_FIELDS`]).
const EVENT: usize = READ_FIELDS.len();

/// A scan of a line, run for the few lines that need it (a lambda, outside compiled code):
/// `x`, the position of the first `{` or `[` that opens the value of a known key, at the top
/// level or in an `event` object (serde_json's error there ends the parse), with `k`, the
/// brackets open before it (`E` for an `event` object); `c`, the position of the bracket
/// that closes the first object or array (-1 when none does); and `seq`, the known keys of
/// the top level and the `event` objects (`@`), in order, each followed by a space. Keys
/// are read as written (escapes not decoded).
fn member_scan() -> String {
    let known: Vec<String> = READ_FIELDS.iter().map(|k| format!("'{k}'")).collect();
    let known = known.join(", ");
    let state = |i: &str, k: &str, s: &str, e: &str, t: &str, x: &str, c: &str, seq: &str| {
        format!("named_struct('i', {i}, 'k', {k}, 's', {s}, 'e', {e}, 't', {t}, 'x', {x}, 'c', {c}, 'seq', {seq})")
    };
    let next = "a.i + 1";
    let member_level = "a.k IN ('{', '{E')";
    format!(
        "aggregate(split(line, ''), {init}, (a, ch) -> CASE WHEN a.x >= 0 OR a.c >= 0 THEN a \
         WHEN a.s THEN {in_string} \
         WHEN ch = '\"' THEN {open_string} \
         WHEN ch = ':' AND a.k = '{{' AND a.t IN ({known}) THEN {top_key} \
         WHEN ch IN ('{{', '[') AND {member_level} AND a.t IN ({known}) THEN {compound} \
         WHEN ch = '{{' AND a.k = '{{' AND a.t = 'event' THEN {event} \
         WHEN ch IN ('{{', '[') THEN {open} \
         WHEN ch IN ('}}', ']') THEN {close} \
         ELSE {other} END)",
        init = state("0", "''", "false", "false", "''", "-1", "-1", "' '"),
        in_string = state(
            next,
            "a.k",
            "a.e OR ch <> '\"'",
            "NOT a.e AND ch = '\\\\'",
            "CASE WHEN a.e OR ch <> '\"' THEN concat(a.t, ch) ELSE a.t END",
            "-1",
            "-1",
            "a.seq"
        ),
        open_string = state(next, "a.k", "true", "false", "''", "-1", "-1", "a.seq"),
        top_key = state(next, "a.k", "false", "false", "a.t", "-1", "-1", "concat(a.seq, a.t, ' ')"),
        compound = state("a.i", "a.k", "false", "false", "a.t", next, "-1", "a.seq"),
        event = state(next, "concat(a.k, 'E')", "false", "false", "a.t", "-1", "-1", "concat(a.seq, '@ ')"),
        open = state(next, "concat(a.k, ch)", "false", "false", "a.t", "-1", "-1", "a.seq"),
        close = state(
            next,
            "substr(a.k, 1, length(a.k) - 1)",
            "false",
            "false",
            "a.t",
            "-1",
            &format!("CASE WHEN length(a.k) = 1 THEN {next} ELSE -1 END"),
            "a.seq"
        ),
        other = state(next, "a.k", "false", "false", "a.t", "-1", "-1", "a.seq"),
    )
}

/// Reads a JSON line (`json_object`): one parse into a variant per known key and `event`;
/// a key's value is the later in the line of the top-level one and the one in `event`.
fn json_object(st: &mut Steps) -> Read {
    let roots: Vec<String> = READ_FIELDS.iter().chain(["event"].iter()).map(|s| s.to_string()).collect();
    parse_json_line(st, &roots);
    let compound = |x: &str| format!("coalesce(schema_of_variant({x}) LIKE 'OBJECT%' OR schema_of_variant({x}) LIKE 'ARRAY%', FALSE)");
    let mut compounds = Vec::new();
    let mut both = Vec::new();
    for (i, name) in READ_FIELDS.iter().enumerate() {
        // A value that is not an object has no keys: no value in it.
        st.at(2, format!("zs_in{i}"), format!("variant_get(jl_r{EVENT}, '$.{name}')"));
        // Only a line with brackets inside its object can hold an object or array.
        st.at(
            3,
            format!("zs_c{i}"),
            format!(
                "(coalesce(jl_inner LIKE '%{{%', FALSE) AND ({} OR {}))",
                compound(&format!("jl_r{i}")),
                compound(&format!("zs_in{i}"))
            ),
        );
        compounds.push(format!("zs_c{i}"));
        both.push(format!("(jl_r{i} IS NOT NULL AND zs_in{i} IS NOT NULL)"));
    }
    st.at(4, "zs_compound", format!("({})", compounds.join(" OR ")));
    st.at(4, "zs_both", format!("({})", both.join(" OR ")));
    st.at(
        5,
        "zs_scan",
        format!("CASE WHEN jl_corrupt OR NOT jl_tail_ok OR jl_fc = '[' OR zs_compound OR zs_both THEN {} END", member_scan()),
    );
    let mut after = 0;
    let mut infinite = Vec::new();
    for (i, name) in READ_FIELDS.iter().enumerate() {
        // The top-level value counts when it comes after the (last) `event` object.
        let later_outside = rlike("zs_scan.seq", &format!(" @ (?:[^@ ]+ )*{name} (?:[^@ ]+ )*\\z"));
        let raw = format!(
            "CASE WHEN zs_in{i} IS NOT NULL AND (jl_r{i} IS NULL OR NOT coalesce({later_outside}, FALSE)) THEN zs_in{i} ELSE jl_r{i} END"
        );
        let p = format!("z_{name}");
        after = json_value_steps(st, 6, &p, raw);
        // `take` and `text`: the NSS words for no value are null strings; numbers are
        // written as Rust writes them, booleans as `true` and `false`.
        st.at(
            after,
            format!("v_{name}"),
            format!(
                "CASE {p}_k WHEN 'S' THEN CASE WHEN {p}_s0 IN ('', 'None', 'NA', 'N/A') THEN NULL ELSE {p}_s0 END \
                 WHEN 'B' THEN {p}_s0 WHEN 'I' THEN {p}_s0 WHEN 'U' THEN {p}_fs WHEN 'F' THEN {p}_fs END"
            ),
        );
        st.at(
            after + 1,
            format!("k_{name}"),
            format!("CASE WHEN v_{name} IS NULL THEN NULL WHEN {p}_k IN ('S', 'B') THEN 'T' WHEN {p}_k = 'I' THEN 'I' ELSE 'F' END"),
        );
        infinite.push(format!("abs({p}_fd) = double('Infinity')"));
    }
    st.at(after, "jl_inf", format!("coalesce({}, FALSE)", infinite.join(" OR ")));

    let detail = |text: &str| lit(&format!("not an NSS JSON object: {text}"));
    // serde_json's error at a known key's object or array: where its reader stands then,
    // past the bracket, the white space after it and a bracket that closes it at once (or,
    // in a list, a comma and the white space after it).
    let bracket = "substr(line, zs_scan.x, 1)";
    let rest = "substr(line, zs_scan.x + 1)";
    let column = format!(
        "octet_length(substr(line, 1, zs_scan.x)) + length(CASE WHEN {bracket} = '{{' THEN {} ELSE {} END)",
        re(rest, &format!("^{JSON_WS}*\\}}?"), 0),
        re(rest, &format!("^{JSON_WS}*(?:\\]|,{JSON_WS}*)?"), 0)
    );
    // The compound is serde_json's first error when the line up to it is valid JSON.
    let valid_before =
        "(try_parse_json(concat(substr(line, 1, zs_scan.x - 1), 'null', translate(reverse(zs_scan.k), '{E[', '}}]'))) IS NOT NULL)";
    let array_read = "(zs_scan.c >= 0 AND try_parse_json(substr(line, 1, zs_scan.c)) IS NOT NULL)";
    let bad_json = format!(
        "CASE WHEN zs_scan.x >= 0 AND NOT jl_inf AND {valid_before} THEN concat({}, CASE WHEN {bracket} = '{{' THEN 'map' ELSE 'sequence' END, \
         {}, {column}) \
         WHEN jl_fc = '[' AND NOT {array_read} THEN {} \
         ELSE {} END",
        detail("invalid type: "),
        lit(", expected a string, a number or null at line 1 column "),
        detail("invalid JSON (Spark's reader does not locate the error)"),
        bad_json_detail(&detail, "octet_length(substr(line, 1, zs_scan.c))"),
    );
    let checks = vec![("(jl_corrupt OR NOT jl_tail_ok OR jl_inf OR zs_compound)".into(), rejection("bad_json", bad_json))];
    Read { step: after + 2, checks, skip: "(line LIKE '#%')".into(), typed: true }
}

/// Adds at `step` the value `{p}_v` of `int` for the field `name` (null for no value), and
/// its checks `{p}_bad` (text that is not a number) and `{p}_frac` (a number that is not
/// whole, or beyond 9e15).
fn number(steps: &mut Steps, step: usize, name: &str, p: &str, typed: bool) {
    let x = format!("v_{name}");
    if !typed {
        steps.at(step, format!("{p}_bad"), format!("({x} IS NOT NULL AND NOT {})", int_ok(&x)));
        steps.at(step, format!("{p}_frac"), "FALSE");
        steps.at(step, format!("{p}_v"), int_value(&x));
        return;
    }
    let (k, n, f) = (format!("k_{name}"), format!("z_{name}_n"), format!("z_{name}_f"));
    steps.at(step, format!("{p}_bad"), format!("({k} = 'T' AND NOT {})", int_ok(&x)));
    steps.at(step, format!("{p}_frac"), format!("({k} = 'F' AND NOT (abs({f}) < 9e15D AND {f} = CAST(CAST({f} AS BIGINT) AS DOUBLE)))"));
    steps.at(
        step,
        format!("{p}_v"),
        format!("CASE {k} WHEN 'T' THEN {} WHEN 'I' THEN {n} WHEN 'F' THEN CAST({f} AS BIGINT) END", int_value(&x)),
    );
}

/// `from_epoch` of the typed value of the field `name`, as microseconds.
fn from_epoch(name: &str) -> String {
    let (n, f) = (format!("z_{name}_n"), format!("z_{name}_f"));
    format!(
        "CASE k_{name} WHEN 'T' THEN {} WHEN 'I' THEN CASE WHEN {n} BETWEEN -9223372036854 AND 9223372036854 THEN {n} * 1000000 END \
         WHEN 'F' THEN CASE WHEN abs({f}) < 1e12D THEN {} END END",
        epoch_seconds_micros(&format!("v_{name}")),
        round_half_away(&format!("({f} * 1000000.0D)"))
    )
}

/// The reject of a field `name` that is not epoch seconds: the value as Rust's `{:?}` of
/// `Val` writes it (`Text("..")`, `Int(..)`, `Float(..)`, a float in exponent notation
/// below 1e-4 and from 1e16).
fn not_epoch(name: &str, typed: bool) -> String {
    let prefix = lit(&format!("{name} is not epoch seconds: "));
    if !typed {
        return reject_struct(
            "bad_timestamp",
            &format!("concat({prefix}, 'Text(', {QUOTED_1}, ')')"),
            &format!("v_{name}"),
            "CAST(NULL AS STRING)",
        );
    }
    let p = format!("z_{name}");
    let (f, fs, jd) = (format!("{p}_f"), format!("{p}_fs"), format!("{p}_jd"));
    let float_debug = format!(
        "CASE WHEN ({f} = 0 OR abs({f}) >= 1e-4D) AND abs({f}) < 1e16D THEN concat({fs}, CASE WHEN instr({fs}, '.') = 0 THEN '.0' ELSE '' END) \
         ELSE concat(CASE WHEN {f} < 0 THEN '-' ELSE '' END, substr({jd}, 1, 1), CASE WHEN length({jd}) > 1 THEN concat('.', substr({jd}, 2)) ELSE '' END, \
         'e', CAST({p}_jp - 1 AS STRING)) END"
    );
    reject_struct(
        "bad_timestamp",
        &format!(
            "concat({prefix}, CASE k_{name} WHEN 'T' THEN concat('Text(', {QUOTED_1}, ')') WHEN 'I' THEN concat('Int(', v_{name}, ')') \
             ELSE concat('Float(', {float_debug}, ')') END)"
        ),
        &format!("CASE WHEN k_{name} = 'T' THEN v_{name} END"),
        "CAST(NULL AS STRING)",
    )
}

/// `apply`: the event of the values `read` made ready, or the first reject.
fn apply(st: &mut Steps, read: Read) {
    let base = read.step;
    let typed = read.typed;
    // The time: `time` (text: ctime style, else RFC 3339; a number: epoch seconds), else
    // `epochtime` (epoch seconds).
    let on_time_text = format!("coalesce({}, {})", ctime_micros("v_time"), rfc3339_micros("v_time"));
    let ts = if typed {
        format!(
            "CASE WHEN k_time = 'T' THEN {on_time_text} WHEN k_time IS NOT NULL THEN {} WHEN k_epochtime IS NOT NULL THEN {} END",
            from_epoch("time"),
            from_epoch("epochtime")
        )
    } else {
        format!(
            "CASE WHEN v_time IS NOT NULL THEN {on_time_text} WHEN v_epochtime IS NOT NULL THEN {} END",
            epoch_seconds_micros("v_epochtime")
        )
    };
    st.at(base, "ts_us", ts);
    st.at(base, "is_connect", format!("coalesce({} = 'connect', FALSE)", ascii_lower("v_reqmethod")));
    st.at(base, "url_v", "coalesce(v_eurl, v_url)");
    st.at(
        base,
        "proto_scheme",
        format!(
            "CASE {} WHEN 'http' THEN 'http' WHEN 'https' THEN 'https' WHEN 'ssl' THEN 'https' WHEN 'ftp' THEN 'ftp' END",
            ascii_lower("v_proto")
        ),
    );
    for name in ["reqsize", "respsize", "ctime", "respcode"] {
        number(st, base, name, name, typed);
    }
    st.at(base + 1, "connect_m", "CASE WHEN is_connect THEN 'CONNECT' END");
    let after_url = url_steps(st, base + 2, "url_v", "connect_m", "u");
    let after_ip = ip_field_steps(st, base, "v_cip", "cip").max(ip_field_steps(st, base, "v_sip", "sip"));
    let last = after_url.max(after_ip);

    let bad_number = |p: &str, what: &str| {
        (format!("{p}_bad"), rejection_quoting("bad_number", lit(&format!("{what} is not a number: ")), &format!("v_{p}")))
    };
    let not_whole = |p: &str| {
        (format!("{p}_frac"), rejection("bad_number", format!("concat({}, v_{p})", lit(&format!("{p} is not a whole number: ")))))
    };
    let bad_ip =
        |p: &str| (format!("{p}_bad"), rejection_quoting("bad_ip", lit(&format!("{p} is not an IP address: ")), &format!("{p}_core")));
    let time_is_text = if typed { "k_time = 'T'" } else { "v_time IS NOT NULL" };
    let mut checks = read.checks;
    checks.extend([
        (
            format!("ts_us IS NULL AND {time_is_text}"),
            rejection_quoting("bad_timestamp", lit("time is not a ctime-style date (Mon Jun 20 15:29:11 2022): "), "v_time"),
        ),
        ("ts_us IS NULL AND v_time IS NOT NULL".into(), not_epoch("time", typed)),
        ("ts_us IS NULL AND v_epochtime IS NOT NULL".into(), not_epoch("epochtime", typed)),
        ("ts_us IS NULL".into(), rejection("bad_timestamp", lit("the record has no time"))),
        bad_number("reqsize", "reqsize"),
        not_whole("reqsize"),
        bad_number("respsize", "respsize"),
        not_whole("respsize"),
        bad_number("ctime", "ctime"),
        not_whole("ctime"),
        bad_ip("cip"),
        bad_ip("sip"),
        bad_number("respcode", "status"),
        not_whole("respcode"),
    ]);
    let out_of_range = "respcode_v NOT BETWEEN 0 AND 999";
    if typed {
        checks.push((
            format!("{out_of_range} AND k_respcode = 'T'"),
            rejection_quoting("bad_number", "'status out of range: '", "v_respcode"),
        ));
        checks.push((
            out_of_range.into(),
            rejection("bad_number", "concat('respcode out of range: Some(', CAST(respcode_v AS STRING), ')')".into()),
        ));
    } else {
        checks.push((out_of_range.into(), rejection_quoting("bad_number", "'status out of range: '", "v_respcode")));
    }
    st.at(last, "parse_rej", first_reject(checks));
    st.at(last, "parse_skip", read.skip);

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_columns;

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
    fn the_json_layout_fills_every_event_column_and_refuses_fields() {
        let json = ZscalerOptions { layout: ZscalerLayout::Json, fields: None };
        let sql = zscaler(&json).unwrap();
        assert_eq!(filled(&sql), event_columns());
        let text = sql.steps.over("lines");
        assert!(text.len() < 200_000, "{} bytes", text.len());
        let with_fields = ZscalerOptions { layout: ZscalerLayout::Json, fields: Some(vec!["time".into()]) };
        assert!(matches!(zscaler(&with_fields), Err(Unsupported(m)) if m.contains("fields")));
    }
}

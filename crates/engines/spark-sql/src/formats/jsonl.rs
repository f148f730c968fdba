//! The `jsonl` format (JSON lines with a field mapping) as Spark SQL (mirrors
//! sweep_formats::formats::jsonl).
//!
//! The line is parsed once, by `from_json` with a schema that names, as `VARIANT`, every
//! top-level key the mapping can reach (`http`, `http.request`, `http.request.method` for
//! the path `http.request.method`), so that keys the mapping does not ask for are skipped
//! without being built. A column's value is then the first present of its path's spellings
//! (each split of the path into keys: nested objects, flattened keys or a mix), read from
//! these variants with `variant_get`. The variant keeps what the Rust parser tells apart:
//! strings, integers (BIGINT, or DECIMAL(p,0) beyond it), fractions (DECIMAL, exact but
//! without trailing zeros), exponent notation (DOUBLE), booleans, null, objects and arrays.
//!
//! Numbers are read as serde_json reads them (its default, not `float_roundtrip`): the
//! first 19 or 20 significant digits as a u64, times or divided by a power of ten, which is
//! not always the correctly rounded value; their text is Rust's `f64` Display (the shortest
//! digits that read back, from Jackson's Schubfach `DoubleToDecimal`, without exponent).
//!
//! `from_json` checks the syntax as serde_json does once single quotes and NaN/Infinity are
//! refused, but ignores what follows the object: that is checked here, on the line with its
//! strings blanked out (the braces after the first must close exactly at the end).
//!
//! Known differences from the embedded parser (edge cases): a `bad_json` detail is
//! serde_json's message only for the cases `bad_json_detail` lists; when a line spells one
//! path twice (`"a.b"` and `"a":{"b"}`, or a repeated object key), the Rust parser keeps the
//! later in the line and merges repeated objects, this SQL takes the nested spelling first
//! and the last repeated key; `-0` loses its sign; numbers in exponent notation are
//! Jackson's correctly rounded doubles, which can differ from serde_json's by one unit in the
//! last place; nesting deeper than 1000 is `bad_json` (Jackson's limit). The session sets
//! `spark.sql.variant.allowDuplicateKeys`, so that the last of a repeated key counts, as in
//! serde_json.

use sweep_formats::formats::jsonl::{COLUMNS, DurationUnit, JsonLines, JsonMapping, TsFormat};

use crate::fields::{ascii_lower, dash_none, ip_field_steps, lit, rlike, truncate_bytes};
use crate::reject::{QUOTED_1, first_reject, reject_struct, rejection, rejection_quoting};
use crate::steps::Steps;
use crate::time::{clf_micros, epoch_seconds_micros, rfc3339_micros};
use crate::url::url_steps;
use crate::{FormatSql, Unsupported};

/// serde_json's (and Jackson's) whitespace, as a regex class.
pub(super) const JSON_WS: &str = r"[ \t\n\r]";

/// A JSON string literal, as a possessive Java regex (no backtracking, no recursion).
const JSON_STRING: &str = r#"(?s)"[^"\\]*+(?:\\.[^"\\]*+)*+""#;

/// What Rust's `str::parse::<f64>` reads as a finite number (its `inf` and `nan` are not
/// finite, so every caller treats them as "not a number" anyway).
const RUST_F64: &str = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\z";

/// `regexp_extract(x, pattern, group)` with the pattern written as Rust text.
pub(super) fn re(x: &str, pattern: &str, group: usize) -> String {
    format!("regexp_extract({x}, {}, {group})", lit(pattern))
}

/// `regexp_replace(x, pattern, replacement)` with both written as Rust text.
fn re_replace(x: &str, pattern: &str, replacement: &str) -> String {
    format!("regexp_replace({x}, {}, {})", lit(pattern), lit(replacement))
}

/// Rust's `str::trim`: Unicode white space at both ends.
fn rust_trim(x: &str) -> String {
    re_replace(x, r"^\p{IsWhite_Space}+|\p{IsWhite_Space}+\z", "")
}

/// Rust's `f.round() as i64` (halves away from zero) of a finite DOUBLE below 9.2e18 in
/// magnitude, exactly: the fraction is `f - trunc(f)`, which a double holds exactly.
pub(super) fn round_half_away(f: &str) -> String {
    let frac = format!("({f} - CAST(CAST({f} AS BIGINT) AS DOUBLE))");
    format!("(CAST({f} AS BIGINT) + CASE WHEN {frac} >= 0.5D THEN 1 WHEN {frac} <= -0.5D THEN -1 ELSE 0 END)")
}

/// The Rust parser's `float_int`: a finite float below 9.2e18, whole unless `frac`, rounded.
fn float_int(f: &str, frac: bool) -> String {
    let whole = if frac { String::new() } else { format!("WHEN {f} <> CAST(CAST({f} AS BIGINT) AS DOUBLE) THEN NULL ") };
    format!("(CASE WHEN isnan({f}) OR abs({f}) >= 9.2e18 THEN NULL {whole}ELSE {} END)", round_half_away(f))
}

/// The Rust parser's `scaled(f, scale)`: `f * scale` rounded, the integer and fractional
/// parts scaled apart when `scale >= 1`. `scale` is a DOUBLE literal.
fn scaled(f: &str, scale: &str, at_least_one: bool) -> String {
    let body = if at_least_one {
        let frac = format!("(({f} - CAST(CAST({f} AS BIGINT) AS DOUBLE)) * {scale})");
        format!("CAST({f} AS BIGINT) * CAST({scale} AS BIGINT) + {}", round_half_away(&frac))
    } else {
        round_half_away(&format!("({f} * {scale})"))
    };
    format!("(CASE WHEN isnan({f}) OR abs({f}) = double('Infinity') OR abs({f} * {scale}) >= 9.2e18 THEN NULL ELSE {body} END)")
}

/// `jsonl::epoch_auto_int`: an epoch of unknown unit, told apart by size, as microseconds.
fn epoch_auto_int(n: &str) -> String {
    format!(
        "(CASE WHEN {n} > -100000000000 AND {n} < 100000000000 THEN {n} * 1000000 \
         WHEN {n} > -100000000000000 AND {n} < 100000000000000 THEN {n} * 1000 \
         WHEN {n} > -100000000000000000 AND {n} < 100000000000000000 THEN {n} ELSE {n} div 1000 END)"
    )
}

/// `jsonl::epoch_auto_float`.
fn epoch_auto_float(f: &str) -> String {
    format!(
        "(CASE WHEN abs({f}) < 1e11 THEN {} WHEN abs({f}) < 1e14 THEN {} WHEN abs({f}) < 1e17 THEN {} ELSE {} END)",
        scaled(f, "1000000.0D", true),
        scaled(f, "1000.0D", true),
        scaled(f, "1.0D", true),
        scaled(f, "0.001D", false)
    )
}

/// `jsonl::epoch_auto_str` of a trimmed text.
fn epoch_auto_str(s: &str) -> String {
    format!(
        "(CASE WHEN NOT {ok} THEN NULL WHEN length(substring_index({s}, '.', 1)) <= 11 THEN {secs} \
         WHEN instr({s}, '.') = 0 AND length({s}) <= 18 THEN {int} ELSE {float} END)",
        ok = rlike(s, r"^[0-9]+(?:\.[0-9]+)?\z"),
        secs = epoch_seconds_micros(s),
        int = epoch_auto_int(&format!("CAST({s} AS BIGINT)")),
        float = epoch_auto_float(&format!("CAST({s} AS DOUBLE)")),
    )
}

/// `jsonl::epoch_ms_str` of a trimmed text.
fn epoch_ms_str(s: &str) -> String {
    format!(
        "(CASE WHEN {} THEN CAST(substring_index({s}, '.', 1) AS BIGINT) * 1000 \
         + CAST(rpad(substr(CASE WHEN instr({s}, '.') > 0 THEN substring_index({s}, '.', -1) ELSE '' END, 1, 3), 3, '0') AS BIGINT) END)",
        rlike(s, r"^[0-9]{1,15}(?:\.[0-9]+)?\z")
    )
}

/// A variant path (`$['a']['b.c']`) to the keys `keys`, or why Spark cannot write it.
fn variant_path(keys: &[String]) -> Result<String, Unsupported> {
    let mut path = String::from("$");
    for key in keys {
        if !key.contains('\'') {
            path.push_str(&format!("['{key}']"));
        } else if !key.contains('"') {
            path.push_str(&format!("[\"{key}\"]"));
        } else {
            return Err(Unsupported(format!("the jsonl key {key:?} holds both kinds of quotes, which a Spark variant path cannot name")));
        }
    }
    Ok(path)
}

/// Every way to read the segments `segs` as a chain of keys (`a.b.c` as `a`/`b`/`c`,
/// `a.b`/`c`, `a`/`b.c`, `a.b.c`): the groups of each split, fully nested first.
fn spellings(segs: &[&str]) -> Vec<Vec<String>> {
    let gaps = segs.len() - 1;
    (0..1u32 << gaps)
        .rev()
        .map(|mask| {
            let mut groups = vec![segs[0].to_string()];
            for (i, seg) in segs.iter().enumerate().skip(1) {
                if mask & (1 << (i - 1)) != 0 {
                    groups.push(seg.to_string());
                } else if let Some(last) = groups.last_mut() {
                    last.push('.');
                    last.push_str(seg);
                }
            }
            groups
        })
        .collect()
}

/// A column of the mapping: its events column, key path, and whether `fields` names it.
struct Mapped {
    name: &'static str,
    path: String,
    explicit: bool,
}

impl Mapped {
    /// The prefix of this column's SQL columns: `c` and its index in `COLUMNS` (short, as
    /// every column's value takes some twenty expressions that name it again and again).
    fn p(&self) -> String {
        format!("c{}", COLUMNS.iter().position(|c| *c == self.name).unwrap_or(COLUMNS.len()))
    }
}

/// Paths with more keys than this are refused: each path is read in 2^(n-1) spellings.
const MAX_PATH_KEYS: usize = 7;

pub(crate) fn jsonl(mapping: &JsonMapping) -> Result<FormatSql, Unsupported> {
    // The same validation as the embedded parser, with its messages.
    JsonLines::new(mapping).map_err(|e| Unsupported(e.to_string()))?;
    let col = |name: &'static str| match mapping.fields.get(name) {
        Some(path) => Mapped { name, path: path.clone(), explicit: true },
        None => Mapped { name, path: name.to_string(), explicit: false },
    };
    let cols: Vec<Mapped> = COLUMNS.iter().map(|name| col(name)).collect();

    // The top-level keys the mapping reaches, and each column's spellings over them.
    let mut roots: Vec<String> = Vec::new();
    let mut reads: Vec<Vec<(usize, Vec<String>)>> = Vec::new();
    for c in &cols {
        let segs: Vec<&str> = c.path.split('.').collect();
        if segs.len() > MAX_PATH_KEYS {
            return Err(Unsupported(format!(
                "the jsonl path {:?} has more than {MAX_PATH_KEYS} keys, which the Spark engine does not read",
                c.path
            )));
        }
        let mut col_reads = Vec::new();
        for groups in spellings(&segs) {
            let root = match roots.iter().position(|r| *r == groups[0]) {
                Some(i) => i,
                None => {
                    roots.push(groups[0].clone());
                    roots.len() - 1
                }
            };
            col_reads.push((root, groups[1..].to_vec()));
        }
        reads.push(col_reads);
    }
    let mut st = Steps::default();
    parse_json_line(&mut st, &roots);

    // Each column's value, as the Rust parser's JVal: its kind and text.
    for (c, col_reads) in cols.iter().zip(&reads) {
        let p = c.p();
        let mut candidates = Vec::new();
        for (root, keys) in col_reads {
            candidates.push(if keys.is_empty() {
                format!("jl_r{root}")
            } else {
                format!("variant_get(jl_r{root}, {})", lit(&variant_path(keys)?))
            });
        }
        let raw = if candidates.len() == 1 { candidates.remove(0) } else { format!("coalesce({})", candidates.join(", ")) };
        let at_text = json_value_steps(&mut st, 2, &p, raw);
        // `text()`: strings with `-` and the empty string as null; numbers and booleans as
        // text; objects and arrays are no value (or, named in `fields`, a reject below).
        st.at(
            at_text,
            format!("{p}_text"),
            format!(
                "CASE {p}_k WHEN 'S' THEN {} WHEN 'F' THEN {p}_fs WHEN 'I' THEN {p}_s0 WHEN 'U' THEN {p}_s0 WHEN 'B' THEN {p}_s0 END",
                dash_none(&format!("{p}_s0"))
            ),
        );
    }

    // Values with messages show them as `JVal::describe` does; strings are quoted (Rust's
    // `{:?}` of `truncate(s)`) when the rejects are written, see `described_reject`.
    let described = ["ts", "status", "request_bytes", "response_bytes", "duration_ms", "port"];
    for name in described {
        let p = col(name).p();
        st.at(16, format!("{p}_trim"), format!("CASE WHEN {p}_k = 'S' THEN {} END", rust_trim(&format!("{p}_s0"))));
        st.at(
            16,
            format!("{p}_desc"),
            format!(
                "CASE {p}_k WHEN 'N' THEN 'null' WHEN 'F' THEN {p}_fs WHEN 'O' THEN 'an object' WHEN 'R' THEN 'an array' \
                 WHEN 'A' THEN 'missing' ELSE {p}_s0 END"
            ),
        );
    }
    // A number serde_json could not hold (beyond f64) under a key the mapping reads.
    let infinite: Vec<String> = cols.iter().map(|c| format!("abs({}_fd) = double('Infinity')", c.p())).collect();
    st.at(16, "jl_inf", format!("coalesce({}, FALSE)", infinite.join(" OR ")));

    // Integer columns: a number, or a numeric string (fractions only for duration_ms).
    let int_of = |p: &str, frac: bool| {
        format!(
            "CASE {p}_k WHEN 'I' THEN {p}_n WHEN 'F' THEN {} WHEN 'S' THEN CASE WHEN {p}_trim IN ('', '-') THEN NULL \
             WHEN {} THEN CAST({p}_trim AS BIGINT) WHEN {} THEN {} END END",
            float_int(&format!("{p}_f"), frac),
            rlike(&format!("{p}_trim"), r"^[+-]?[0-9]{1,18}\z"),
            rlike(&format!("{p}_trim"), RUST_F64),
            float_int(&format!("CAST({p}_trim AS DOUBLE)"), frac)
        )
    };
    let no_number = |p: &str| format!("({p}_k IN ('A', 'N', 'O', 'R') OR ({p}_k = 'S' AND {p}_trim IN ('', '-')))");
    for name in ["status", "request_bytes", "response_bytes", "port"] {
        let p = col(name).p();
        st.at(17, format!("{p}_iv"), int_of(&p, false));
    }
    let dur = col("duration_ms").p();
    let factor = match mapping.duration_unit {
        DurationUnit::Ms => None,
        DurationUnit::S => Some("1000.0D"),
        DurationUnit::Us => Some("0.001D"),
        DurationUnit::Ns => Some("0.000001D"),
    };
    match factor {
        None => st.at(17, format!("{dur}_iv"), int_of(&dur, true)),
        Some(factor) => {
            st.at(
                17,
                format!("{dur}_df"),
                format!(
                    "CASE {dur}_k WHEN 'I' THEN CAST({dur}_n AS DOUBLE) WHEN 'U' THEN CAST(CAST({dur}_s0 AS DECIMAL(20, 0)) AS DOUBLE) \
                     WHEN 'F' THEN {dur}_f WHEN 'S' THEN CASE WHEN {} THEN CAST({dur}_trim AS DOUBLE) END END * {factor}",
                    rlike(&format!("{dur}_trim"), RUST_F64)
                ),
            );
            st.at(18, format!("{dur}_iv"), float_int(&format!("{dur}_df"), true));
        }
    }

    // The timestamp, as microseconds.
    let ts = col("ts").p();
    let (ts_s, ts_n, ts_f) = (format!("{ts}_trim"), format!("{ts}_n"), format!("{ts}_f"));
    let (on_string, on_int, on_float) = match mapping.ts_format {
        TsFormat::Auto => {
            (format!("coalesce({}, {})", rfc3339_micros(&ts_s), epoch_auto_str(&ts_s)), epoch_auto_int(&ts_n), epoch_auto_float(&ts_f))
        }
        TsFormat::Rfc3339 => (rfc3339_micros(&ts_s), "NULL".into(), "NULL".into()),
        TsFormat::Clf => (clf_micros(&ts_s), "NULL".into(), "NULL".into()),
        TsFormat::EpochS => (
            epoch_seconds_micros(&ts_s),
            format!("CASE WHEN {ts_n} BETWEEN -9223372036854 AND 9223372036854 THEN {ts_n} * 1000000 END"),
            scaled(&ts_f, "1000000.0D", true),
        ),
        TsFormat::EpochMs => (
            epoch_ms_str(&ts_s),
            format!("CASE WHEN {ts_n} BETWEEN -9223372036854775 AND 9223372036854775 THEN {ts_n} * 1000 END"),
            scaled(&ts_f, "1000.0D", true),
        ),
    };
    st.at(17, "jl_ts_us", format!("CASE {ts}_k WHEN 'S' THEN {on_string} WHEN 'I' THEN {on_int} WHEN 'F' THEN {on_float} END"));

    // Addresses, as `ip_field` reads them.
    let after_client = ip_field_steps(&mut st, 17, &format!("{}_text", col("client_ip").p()), "jl_cip");
    let ip_done = after_client.max(ip_field_steps(&mut st, 17, &format!("{}_text", col("server_ip").p()), "jl_sip"));

    // The URL and its parts; parts the URL lacks come from their own keys.
    let (url, method) = (col("url").p(), col("method").p());
    st.at(17, "jl_url", format!("CASE WHEN {url}_text <> '*' THEN {url}_text END"));
    let url_done = url_steps(&mut st, 18, "jl_url", &format!("{method}_text"), "jl_u");
    let last = url_done.max(ip_done);

    // The checks, in the Rust parser's order.
    let detail = |text: &str| lit(&format!("not a JSON object line: {text}"));
    let mut checks: Vec<(String, String)> =
        vec![("(jl_corrupt OR NOT jl_tail_ok OR jl_inf)".into(), rejection("bad_json", bad_json_detail(&detail, "(jl_lead + 1)")))];
    let ts_path = format!("{:?}", col("ts").path);
    let want = match mapping.ts_format {
        TsFormat::Auto => "an RFC 3339 string or epoch number",
        TsFormat::Rfc3339 => "an RFC 3339 string",
        TsFormat::EpochS => "epoch seconds",
        TsFormat::EpochMs => "epoch milliseconds",
        TsFormat::Clf => "a CLF time such as 10/Oct/2000:13:55:36 -0700",
    };
    checks.push((
        format!("{ts}_k = 'A'"),
        rejection("bad_timestamp", lit(&format!("no timestamp: the object has no key {ts_path} (map the time key with fields.ts)"))),
    ));
    checks.push((format!("{ts}_k = 'N'"), rejection("bad_timestamp", lit(&format!("no timestamp: {ts_path} is null")))));
    checks.push(("jl_ts_us IS NULL".into(), described_reject("bad_timestamp", &format!("{ts_path} is not {want}: "), &ts)));
    let compound = |c: &Mapped| {
        let p = c.p();
        (
            format!("{p}_k IN ('O', 'R')"),
            rejection(
                "malformed",
                format!(
                    "concat({}, CASE {p}_k WHEN 'O' THEN 'an object' ELSE 'an array' END, {})",
                    lit(&format!("{:?} (mapped to {}) holds ", c.path, c.name)),
                    lit(&format!(", not a value; map {} to a key inside it", c.name))
                ),
            ),
        )
    };
    let push_compound = |checks: &mut Vec<(String, String)>, name: &'static str| {
        let c = col(name);
        if c.explicit {
            checks.push(compound(&c));
        }
    };
    for (name, ip) in [("client_ip", "jl_cip"), ("server_ip", "jl_sip")] {
        push_compound(&mut checks, name);
        checks.push((
            format!("{ip}_bad"),
            rejection_quoting("bad_ip", lit(&format!("{name} is not an IP address: ")), &format!("{ip}_core")),
        ));
    }
    for name in ["user", "method", "user_agent", "referrer", "content_type", "proxy_action", "category"] {
        push_compound(&mut checks, name);
    }
    let number_checks = |checks: &mut Vec<(String, String)>, name: &'static str, range: Option<(i64, i64)>| {
        let p = col(name).p();
        checks.push((
            format!("NOT {} AND {p}_iv IS NULL", no_number(&p)),
            described_reject("bad_number", &format!("{name} is not a number: "), &p),
        ));
        if let Some((min, max)) = range {
            checks.push((
                format!("{p}_iv NOT BETWEEN {min} AND {max}"),
                described_reject("bad_number", &format!("{name} out of range: "), &p),
            ));
        }
    };
    push_compound(&mut checks, "status");
    number_checks(&mut checks, "status", Some((0, 999)));
    for name in ["request_bytes", "response_bytes", "duration_ms"] {
        push_compound(&mut checks, name);
        number_checks(&mut checks, name, None);
    }
    for name in ["scheme", "host", "port", "path", "query", "url"] {
        push_compound(&mut checks, name);
        if name == "port" {
            number_checks(&mut checks, name, Some((0, 65_535)));
        }
    }
    st.at(last, "parse_rej", first_reject(checks));
    st.at(last, "parse_skip", "FALSE");

    let text = |name: &'static str| format!("{}_text", col(name).p());
    let host = text("host");
    let query = text("query");
    let columns: [(&str, String); 20] = [
        ("ts", "timestamp_micros(jl_ts_us)".into()),
        ("client_ip", "jl_cip_ip".into()),
        ("user", text("user")),
        ("method", text("method")),
        ("url", text("url")),
        ("scheme", format!("coalesce(jl_u_scheme, {})", text("scheme"))),
        ("host", format!("coalesce(jl_u_host, {})", ascii_lower(&re_replace(&host, r"\.\z", "")))),
        ("port", format!("coalesce(jl_u_port, CAST({}_iv AS INT))", col("port").p())),
        ("path", format!("coalesce(jl_u_path, {})", text("path"))),
        ("query", format!("coalesce(jl_u_query, CASE WHEN {query} LIKE '?%' THEN substr({query}, 2) ELSE {query} END)")),
        ("status", format!("CAST({}_iv AS INT)", col("status").p())),
        ("request_bytes", format!("{}_iv", col("request_bytes").p())),
        ("response_bytes", format!("{}_iv", col("response_bytes").p())),
        ("duration_ms", format!("{dur}_iv")),
        ("user_agent", text("user_agent")),
        ("referrer", text("referrer")),
        ("content_type", text("content_type")),
        ("proxy_action", text("proxy_action")),
        ("server_ip", "jl_sip_ip".into()),
        ("category", text("category")),
    ];
    for (name, expr) in columns {
        st.at(last, format!("e_{name}"), expr);
    }
    Ok(FormatSql { name: "jsonl", steps: st })
}

/// Adds, from step `base` on, the columns that tell the JSON value `raw` (a VARIANT
/// expression, null when the key is absent) apart as serde_json reads it: `{p}_k`, its kind
/// (see below), `{p}_sv` (its schema), `{p}_s0` (the text of a string, boolean or integer),
/// `{p}_n` (an integer in i64), `{p}_f` (the f64 serde_json reads for a number with a
/// fraction or exponent, or for an integer above i64::MAX) and `{p}_fs` (that f64 as Rust's
/// Display writes it, from the digits `{p}_jd` and the point position `{p}_jp`); returns
/// the step after the last one used.
pub(super) fn json_value_steps(st: &mut Steps, base: usize, p: &str, raw: String) -> usize {
    st.at(base, format!("{p}_raw"), raw);
    st.at(base + 1, format!("{p}_sv"), format!("schema_of_variant({p}_raw)"));
    // An array stands for its first element.
    st.at(base + 2, format!("{p}_e"), format!("CASE WHEN {p}_sv LIKE 'ARRAY%' THEN variant_get({p}_raw, '$[0]') ELSE {p}_raw END"));
    st.at(base + 3, format!("{p}_et"), format!("CASE WHEN {p}_sv LIKE 'ARRAY%' THEN schema_of_variant({p}_e) ELSE {p}_sv END"));
    let ints = "('BIGINT', 'INT', 'SMALLINT', 'TINYINT')";
    st.at(
        base + 4,
        format!("{p}_s0"),
        format!("CASE WHEN {p}_et IN ('STRING', 'BOOLEAN') OR {p}_et IN {ints} OR {p}_et LIKE 'DECIMAL%' THEN variant_get({p}_e, '$', 'string') END"),
    );
    st.at(base + 4, format!("{p}_fd"), format!("CASE WHEN {p}_et IN ('DOUBLE', 'FLOAT') THEN variant_get({p}_e, '$', 'double') END"));
    // A: absent, N: null, S: string, I: integer in i64, U: integer above i64::MAX
    // (a u64), F: float, B: boolean, O: object, R: array whose first element is an
    // object or array.
    st.at(
        base + 5,
        format!("{p}_k"),
        format!(
            "CASE WHEN {p}_raw IS NULL THEN 'A' WHEN {p}_sv LIKE 'ARRAY%' AND {p}_e IS NULL THEN 'N' \
             WHEN {p}_sv LIKE 'OBJECT%' THEN 'O' WHEN {p}_et LIKE 'ARRAY%' OR {p}_et LIKE 'OBJECT%' THEN 'R' \
             WHEN {p}_et = 'VOID' THEN 'N' WHEN {p}_et = 'STRING' THEN 'S' WHEN {p}_et = 'BOOLEAN' THEN 'B' \
             WHEN {p}_et IN {ints} THEN 'I' \
             WHEN {p}_et LIKE 'DECIMAL(%,0)' AND CAST({p}_s0 AS DECIMAL(38, 0)) BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'F' \
             WHEN {p}_et LIKE 'DECIMAL(%,0)' AND {p}_s0 NOT LIKE '-%' \
                  AND (length({p}_s0) < 20 OR (length({p}_s0) = 20 AND {p}_s0 <= '18446744073709551615')) THEN 'U' \
             ELSE 'F' END"
        ),
    );
    st.at(base + 5, format!("{p}_n"), format!("CASE WHEN {p}_et IN {ints} THEN CAST({p}_s0 AS BIGINT) END"));
    // serde_json's reading of a number with a fraction (or an integer beyond u64): its
    // digits, the leading zeros skipped, go into a u64 until the next would overflow it;
    // the digits left out of the integer part raise the power of ten, the ones taken
    // from the fraction lower it. A 20-digit integer part that overflows at its last
    // digit still takes the first digit of the fraction if that fits.
    let dec = format!("{p}_et LIKE 'DECIMAL%'");
    st.at(base + 5, format!("{p}_neg"), format!("({p}_s0 LIKE '-%')"));
    st.at(base + 5, format!("{p}_ip"), format!("CASE WHEN {dec} THEN substring_index(regexp_replace({p}_s0, '^-', ''), '.', 1) END"));
    st.at(
        base + 5,
        format!("{p}_fp"),
        format!("CASE WHEN {dec} THEN CASE WHEN instr({p}_s0, '.') > 0 THEN substring_index({p}_s0, '.', -1) ELSE '' END END"),
    );
    st.at(base + 6, format!("{p}_dg"), format!("concat({p}_ip, {p}_fp)"));
    st.at(base + 6, format!("{p}_st"), format!("regexp_replace(concat({p}_ip, {p}_fp), '^0+', '')"));
    st.at(base + 7, format!("{p}_lz"), format!("(length({p}_dg) - length({p}_st))"));
    st.at(
        base + 7,
        format!("{p}_tk"),
        format!(
            "CASE WHEN length({p}_st) <= 19 THEN length({p}_st) WHEN substr({p}_st, 1, 20) <= '18446744073709551615' THEN 20 ELSE 19 END"
        ),
    );
    st.at(
        base + 7,
        format!("{p}_qk"),
        format!(
            "(length({p}_st) > 19 AND substr({p}_st, 1, 20) > '18446744073709551615' AND length({p}_ip) - (length({p}_dg) - length({p}_st)) >= 20 \
             AND substr({p}_st, 1, 19) = '1844674407370955161' AND substr({p}_fp, 1, 1) BETWEEN '0' AND '5')"
        ),
    );
    st.at(
        base + 8,
        format!("{p}_sig"),
        format!(
            "coalesce(CAST(CAST(CASE WHEN {p}_qk THEN concat(substr({p}_st, 1, 19), substr({p}_fp, 1, 1)) ELSE substr({p}_st, 1, {p}_tk) END \
             AS DECIMAL(20, 0)) AS DOUBLE), 0.0D)"
        ),
    );
    st.at(
        base + 8,
        format!("{p}_e10"),
        format!(
            "CASE WHEN {p}_qk THEN length({p}_ip) - 20 \
             ELSE greatest(length({p}_ip) - ({p}_lz + {p}_tk), 0) - greatest({p}_lz + {p}_tk - length({p}_ip), 0) END"
        ),
    );
    st.at(
        base + 9,
        format!("{p}_f"),
        format!(
            "CASE WHEN {p}_k NOT IN ('F', 'U') THEN NULL WHEN {dec} THEN CASE WHEN {p}_neg THEN -1.0D ELSE 1.0D END \
             * CASE WHEN {p}_e10 >= 0 THEN {p}_sig * CAST(concat('1e', {p}_e10) AS DOUBLE) ELSE {p}_sig / CAST(concat('1e', -{p}_e10) AS DOUBLE) END \
             ELSE {p}_fd END"
        ),
    );
    // Rust's Display of the float: Schubfach's shortest digits, written out without an
    // exponent.
    st.at(
        base + 10,
        format!("{p}_j"),
        format!(
            "CASE WHEN {p}_k IN ('F', 'U') THEN reflect('com.fasterxml.jackson.core.io.schubfach.DoubleToDecimal', 'toString', {p}_f) END"
        ),
    );
    st.at(base + 11, format!("{p}_jdg"), format!("replace(regexp_replace(substring_index({p}_j, 'E', 1), '^-', ''), '.', '')"));
    st.at(
        base + 11,
        format!("{p}_jpt"),
        format!(
            "length(substring_index(regexp_replace({p}_j, '^-', ''), '.', 1)) \
             + CASE WHEN instr({p}_j, 'E') > 0 THEN CAST(substring_index({p}_j, 'E', -1) AS INT) ELSE 0 END"
        ),
    );
    st.at(base + 12, format!("{p}_jd"), re_replace(&re_replace(&format!("{p}_jdg"), "^0+", ""), r"0+\z", ""));
    st.at(base + 12, format!("{p}_jp"), format!("({p}_jpt - (length({p}_jdg) - length(regexp_replace({p}_jdg, '^0+', ''))))"));
    st.at(
        base + 13,
        format!("{p}_fs"),
        format!(
            "CASE WHEN {p}_j IS NOT NULL THEN concat(CASE WHEN {p}_j LIKE '-%' THEN '-' ELSE '' END, \
             CASE WHEN {p}_jd = '' THEN '0' WHEN {p}_jp <= 0 THEN concat('0.', repeat('0', -{p}_jp), {p}_jd) \
             WHEN {p}_jp >= length({p}_jd) THEN concat({p}_jd, repeat('0', {p}_jp - length({p}_jd))) \
             ELSE concat(substr({p}_jd, 1, {p}_jp), '.', substr({p}_jd, {p}_jp + 1)) END) END"
        ),
    );
    base + 14
}

/// Adds steps 0 to 4 of the parse of a line as one JSON object: `jl_r{i}`, the value of the
/// top-level key `roots[i]` as a VARIANT (null when absent), `jl_corrupt` (not JSON, by
/// Spark's reader), `jl_tail_ok` (nothing but white space after the object), `jl_lead` and
/// `jl_fc` (the white space before the first character, and that character) and `jl_scan`
/// (for bad lines, what [`bad_json_detail`] reads).
pub(super) fn parse_json_line(st: &mut Steps, roots: &[String]) {
    let mut corrupt = String::from("_sweep_corrupt_record");
    while roots.contains(&corrupt) {
        corrupt.push('_');
    }
    let field = |name: &str| format!("`{}`", name.replace('`', "``"));
    let schema: Vec<String> =
        roots.iter().map(|r| format!("{} VARIANT", field(r))).chain([format!("{} STRING", field(&corrupt))]).collect();

    // The parse, and the line with its strings blanked out (brackets as braces) for the
    // check of what follows the object.
    st.at(
        0,
        "jl_j",
        format!(
            "from_json(line, {}, map('allowSingleQuotes', 'false', 'allowNonNumericNumbers', 'false', \
             'columnNameOfCorruptRecord', {}, 'mode', 'PERMISSIVE'))",
            lit(&schema.join(", ")),
            lit(&corrupt)
        ),
    );
    st.at(0, "jl_lead", format!("length({})", re("line", &format!("^{JSON_WS}*"), 0)));
    st.at(
        0,
        "jl_skel",
        re_replace(
            &format!("translate({}, '[]', '{{}}')", re_replace("line", JSON_STRING, "\"")),
            &format!("^{JSON_WS}+|{JSON_WS}+\\z"),
            "",
        ),
    );
    for (i, r) in roots.iter().enumerate() {
        st.at(1, format!("jl_r{i}"), format!("jl_j.{}", field(r)));
    }
    st.at(1, "jl_corrupt", format!("(jl_j.{} IS NOT NULL)", field(&corrupt)));
    st.at(1, "jl_fc", "substr(line, jl_lead + 1, 1)");
    st.at(1, "jl_inner", "CASE WHEN jl_skel LIKE '{%}' AND length(jl_skel) >= 2 THEN substr(jl_skel, 2, length(jl_skel) - 2) END");
    // Innermost brace pairs removed, four levels deep; deeper lines (or text after the
    // object) leave braces, which a scan then counts.
    let mut rest = "jl_inner".to_string();
    for _ in 0..4 {
        rest = re_replace(&rest, r"\{[^{}]*+\}", "");
    }
    st.at(2, "jl_rest", rest);
    st.at(
        3,
        "jl_tail_ok",
        "(jl_inner IS NOT NULL AND (NOT (jl_rest RLIKE '[{}]') OR aggregate(split(regexp_replace(jl_rest, '[^{}]', ''), ''), 0, \
         (d, c) -> CASE WHEN d < 0 THEN d WHEN c = '{' THEN d + 1 ELSE d - 1 END) = 0))",
    );

    st.at(4, "jl_scan", format!("CASE WHEN (jl_corrupt OR NOT jl_tail_ok) AND jl_fc = '{{' THEN {SCAN} END"));
}

/// A scan of a bad line that starts with `{`: the brackets open outside strings (`k`),
/// whether it ends inside a string (`s`), the last character outside strings (`last`), and
/// the characters up to where the first object closes (`x`, -1 if it never does). It runs
/// (a lambda, outside compiled code) for bad lines only.
const SCAN: &str = "aggregate(split(line, ''), named_struct('i', 0, 'k', '', 's', false, 'e', false, 'x', -1, 'last', ''), \
        (a, c) -> CASE WHEN a.x >= 0 THEN a \
        WHEN a.s THEN named_struct('i', a.i + 1, 'k', a.k, 's', a.e OR c <> '\"', 'e', NOT a.e AND c = '\\\\', 'x', -1, 'last', a.last) \
        WHEN c IN (' ', '\\t', '\\n', '\\r') THEN named_struct('i', a.i + 1, 'k', a.k, 's', false, 'e', false, 'x', -1, 'last', a.last) \
        WHEN c IN ('{', '[') THEN named_struct('i', a.i + 1, 'k', concat(a.k, c), 's', false, 'e', false, 'x', -1, 'last', c) \
        WHEN c IN ('}', ']') THEN named_struct('i', a.i + 1, 'k', substr(a.k, 1, length(a.k) - 1), 's', false, 'e', false, \
             'x', CASE WHEN length(a.k) = 1 THEN a.i + 1 ELSE -1 END, 'last', c) \
        WHEN c = '\"' THEN named_struct('i', a.i + 1, 'k', a.k, 's', true, 'e', false, 'x', -1, 'last', '\"') \
        ELSE named_struct('i', a.i + 1, 'k', a.k, 's', false, 'e', false, 'x', -1, 'last', c) END)";

/// A reject whose detail is `prefix` then the value of the column `p` as `JVal::describe`
/// writes it: a string quoted as Rust's `{:?}` of `truncate(s)`, anything else as text.
fn described_reject(reason: &str, prefix: &str, p: &str) -> String {
    reject_struct(
        reason,
        &format!("concat({}, CASE WHEN {p}_k = 'S' THEN {QUOTED_1} ELSE {p}_desc END)", lit(prefix)),
        &format!("CASE WHEN {p}_k = 'S' THEN {} END", truncate_bytes(&format!("{p}_s0"))),
        "CAST(NULL AS STRING)",
    )
}

/// The detail of a `bad_json` reject. serde_json's message is reproduced where the line
/// shows it without a full parse: a line that does not start with an object (`expected
/// value`, `invalid type: sequence`, the literals), text after the object (`trailing
/// characters`), and a line that ends inside the object (`EOF while parsing ...`), with
/// serde_json's byte column. Other syntax errors say what Spark's reader cannot locate.
/// `detail` makes a detail text of serde_json's message; `sequence_column` is the column
/// serde_json gives a line that is an array, which depends on how far the caller's
/// deserializer reads it.
pub(super) fn bad_json_detail(detail: &dyn Fn(&str) -> String, sequence_column: &str) -> String {
    let at = |column: &str| format!("concat(' at line 1 column ', {column})");
    let first_column = "(jl_lead + 1)";
    // The literals serde_json reads from their first letter.
    let mut literal_cases = String::new();
    for (word, unexpected) in [("true", "boolean `true`"), ("false", "boolean `false`"), ("null", "null")] {
        let n = word.len();
        let mut matched = String::from("CASE");
        for i in (1..=n).rev() {
            matched.push_str(&format!(" WHEN substr(line, jl_lead + 1, {i}) = '{}' THEN {i}", &word[..i]));
        }
        matched.push_str(" ELSE 0 END");
        literal_cases.push_str(&format!(
            " WHEN jl_fc = '{first}' THEN CASE WHEN ({matched}) = {n} THEN concat({}, {}) \
              WHEN jl_lead + ({matched}) >= length(line) THEN concat({}, {}) ELSE concat({}, {}) END",
            detail(&format!("invalid type: {unexpected}, expected a JSON object")),
            at(&format!("jl_lead + {n}")),
            detail("EOF while parsing a value"),
            at("octet_length(line)"),
            detail("expected ident"),
            at(&format!("(jl_lead + ({matched}) + 1)")),
            first = &word[..1],
        ));
    }
    let scan = "jl_scan";
    let trailing_column = format!(
        "(octet_length(substr(line, 1, {scan}.x)) + length({}) + 1)",
        re(&format!("substr(line, {scan}.x + 1)"), &format!("^{JSON_WS}*"), 0)
    );
    // At the end of a line cut short: a value is expected after `:` or `,`, and after an
    // unfinished number or literal; otherwise the innermost object or list is unfinished.
    let tail_token = re("line", &format!("([A-Za-z0-9.+-]+){JSON_WS}*\\z"), 1);
    let complete_token = rlike(&tail_token, r"^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)\z");
    let eof = format!(
        "CASE WHEN {scan}.s THEN 'a string' WHEN {scan}.last IN (':', ',') THEN 'a value' \
         WHEN {scan}.last NOT IN ('\"', '{{', '[', '}}', ']') AND NOT {complete_token} THEN 'a value' \
         WHEN right({scan}.k, 1) = '{{' THEN 'an object' ELSE 'a list' END"
    );
    format!(
        "CASE WHEN jl_fc = '[' THEN concat({seq}, {sequence_end}){literal_cases} \
         WHEN NOT (jl_fc RLIKE '^[{{\"0-9-]$') THEN concat({value}, {first}) \
         WHEN jl_fc = '{{' AND NOT jl_corrupt AND NOT jl_tail_ok THEN concat({trailing}, {at_trailing}) \
         WHEN jl_fc = '{{' AND jl_corrupt AND {scan}.x < 0 AND length({scan}.k) > 0 THEN concat({eof_prefix}, {eof}, {at_end}) \
         WHEN NOT jl_corrupt AND jl_inf THEN {range} \
         ELSE {invalid} END",
        seq = detail("invalid type: sequence, expected a JSON object"),
        first = at(first_column),
        sequence_end = at(sequence_column),
        value = detail("expected value"),
        trailing = detail("trailing characters"),
        at_trailing = at(&trailing_column),
        eof_prefix = detail("EOF while parsing "),
        at_end = at("octet_length(line)"),
        range = detail("number out of range"),
        invalid = detail("invalid JSON (Spark's reader does not locate the error)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_columns;

    #[test]
    fn spellings_cover_nested_flattened_and_mixed_keys() {
        let s = spellings(&["a", "b", "c"]);
        let joined: Vec<String> = s.iter().map(|g| g.join("/")).collect();
        assert_eq!(joined, ["a/b/c", "a.b/c", "a/b.c", "a.b.c"]);
        assert_eq!(spellings(&["ts"]), vec![vec!["ts".to_string()]]);
    }

    #[test]
    fn fills_every_event_column_and_stays_small() {
        let m = JsonMapping::default();
        let steps = jsonl(&m).unwrap().steps;
        let filled: Vec<&str> = steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_")).collect();
        assert_eq!(filled, event_columns());
        let sql = steps.over("lines");
        assert!(sql.len() < 150_000, "{} bytes", sql.len());
    }

    #[test]
    fn refuses_what_spark_cannot_name() {
        let m = JsonMapping { fields: [("user".to_string(), "a.q'\"x".to_string())].into(), ..JsonMapping::default() };
        assert!(jsonl(&m).is_err());
        let m = JsonMapping { fields: [("user".to_string(), "a..b".to_string())].into(), ..JsonMapping::default() };
        assert!(matches!(jsonl(&m), Err(Unsupported(e)) if e.contains("not a key path")));
    }
}

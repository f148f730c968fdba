//! The `custom` format (a user-defined pattern) as Spark SQL (mirrors
//! sweep_formats::formats::custom).
//!
//! The pattern is compiled by sweep_formats itself, so both engines read the same list of
//! steps (literal text, a run of spaces, a placeholder), and the steps walk the line as the
//! embedded parser does, from the text left after the step before (`cu_r{i}`, a suffix of
//! the trimmed line). A placeholder's value and the text after it are columns of one nested
//! step; literals and spaces only wrap the text left in an expression; a run of one-word
//! placeholders separated by spaces is split at once. Spark's analyzer resolves nested
//! steps in a bounded number of passes, so the nesting stays close to one step a
//! placeholder. The checks are listed in the order the embedded parser makes them: the
//! structural check of each step, then the value check of its placeholder, then the text
//! after the pattern, then `{date} {time}`; the first that fails is the reject. Column
//! numbers in messages count bytes from the start of the line as written, as Rust's do.

use std::collections::HashMap;

use sweep_formats::formats::custom::{Custom, CustomOptions, DurUnit, Field, Kind, Step, TextCol, TsKind};

use crate::fields::{ascii_lower, dash_none, ip_field_steps, lit, rlike, truncate_bytes};
use crate::reject::{QUOTED_1, QUOTED_2, reject_struct};
use crate::steps::Steps;
use crate::time::{clf_micros, ctime_micros, date_time_micros, epoch_seconds_micros, rfc3339_micros};
use crate::url::url_steps;
use crate::{FormatSql, Unsupported, event_columns};

/// The characters the custom format trims and splits at (`is_space`), for `trim`.
const SPACES: &str = "' \t'";

/// `regexp_extract(x, pattern, group)` with the pattern written as Rust text.
fn re(x: &str, pattern: &str, group: usize) -> String {
    format!("regexp_extract({x}, {}, {group})", lit(pattern))
}

/// `regexp_replace(x, pattern, replacement)` with both written as Rust text.
fn re_replace(x: &str, pattern: &str, replacement: &str) -> String {
    format!("regexp_replace({x}, {}, {})", lit(pattern), lit(replacement))
}

/// A Java regular expression that matches `text` literally.
fn regex_quote(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Where a reject's detail shows the texts of `Check::shown` (Rust's `{:?}` of
/// `truncate(text)`, written when the rejects table is; see `reject_struct`).
const SHOWN: [&str; 2] = [QUOTED_1, QUOTED_2];

/// The columns that hold those texts for the check that failed: computed once, rather than
/// written out in every check.
const SHOWN_TEXT: [&str; 2] = ["cu_shown_0", "cu_shown_1"];

/// `dash_none`: empty or `-` is none.
fn is_none(x: &str) -> String {
    format!("({x} IN ('', '-'))")
}

/// `int_field` accepts it: none, or an optionally signed decimal of at most 18 digits.
fn int_like(x: &str) -> String {
    format!("({} OR {})", is_none(x), rlike(x, r"^[+-]?[0-9]{1,18}\z"))
}

fn int_of(x: &str) -> String {
    format!("(CASE WHEN {} THEN NULL ELSE CAST({x} AS BIGINT) END)", is_none(x))
}

/// `epoch_ms_str` (sweep_formats::formats::jsonl): epoch milliseconds as text, at most 15
/// digits, with an optional fraction of which three digits count.
fn epoch_ms_micros(x: &str) -> String {
    format!(
        "(CASE WHEN {} THEN CAST(substring_index({x}, '.', 1) AS BIGINT) * 1000 + CAST(rpad(substr({}, 1, 3), 3, '0') AS BIGINT) END)",
        rlike(x, r"^[0-9]{1,15}(\.[0-9]+)?\z"),
        re(x, r"\.([0-9]+)\z", 1)
    )
}

/// `epoch_auto_str` (sweep_formats::formats::jsonl): an epoch whose unit is told by its size.
/// Up to 11 integer digits it is seconds, read exactly; a longer integer is seconds,
/// milliseconds, microseconds or nanoseconds by its value (`epoch_auto_int`); anything
/// else goes through a double, scaled as `epoch_auto_float` and `scaled` do.
fn epoch_auto_micros(x: &str) -> String {
    let n = format!("CAST({x} AS BIGINT)");
    let by_int = format!(
        "CASE WHEN {n} < 100000000000 THEN {n} * 1000000 WHEN {n} < 100000000000000 THEN {n} * 1000 \
         WHEN {n} < 100000000000000000 THEN {n} ELSE {n} div 1000 END"
    );
    let f = format!("CAST({x} AS DOUBLE)");
    // scale >= 1: the integer part and the fraction are scaled apart (`scaled`).
    let scaled = |scale: &str| {
        format!(
            "CASE WHEN {f} * {scale} >= CAST(9.2E18 AS DOUBLE) THEN NULL \
             ELSE CAST({f} AS BIGINT) * CAST({scale} AS BIGINT) + CAST(round(({f} - CAST(CAST({f} AS BIGINT) AS DOUBLE)) * {scale}) AS BIGINT) END"
        )
    };
    let by_float = format!(
        "CASE WHEN {f} < CAST(1E11 AS DOUBLE) THEN {} WHEN {f} < CAST(1E14 AS DOUBLE) THEN {} WHEN {f} < CAST(1E17 AS DOUBLE) THEN {} \
         WHEN {f} * CAST(1E-3 AS DOUBLE) >= CAST(9.2E18 AS DOUBLE) THEN NULL ELSE CAST(round({f} * CAST(1E-3 AS DOUBLE)) AS BIGINT) END",
        scaled("CAST(1E6 AS DOUBLE)"),
        scaled("CAST(1E3 AS DOUBLE)"),
        scaled("CAST(1 AS DOUBLE)"),
    );
    format!(
        "(CASE WHEN NOT {} THEN NULL WHEN char_length(substring_index({x}, '.', 1)) <= 11 THEN {} \
         WHEN instr({x}, '.') = 0 AND char_length({x}) <= 18 THEN {by_int} ELSE {by_float} END)",
        rlike(x, r"^[0-9]+(\.[0-9]+)?\z"),
        epoch_seconds_micros(x)
    )
}

/// The parse of a `{ts:TYPE}` value (`TsKind::parse`), as microseconds or NULL. With
/// `words_beyond_first` set, only the readers that can accept a text of that many more
/// space-separated words: an epoch is one word, RFC 3339 and CLF at most two; ctime is split
/// at any ASCII whitespace, so it is always tried.
fn ts_micros(kind: TsKind, x: &str, words_beyond_first: usize) -> String {
    let k = words_beyond_first;
    match kind {
        TsKind::Auto => {
            let mut readers = Vec::new();
            if k <= 1 {
                readers.push(rfc3339_micros(x));
            }
            if k == 0 {
                readers.push(epoch_auto_micros(x));
            }
            if k <= 1 {
                readers.push(clf_micros(x));
            }
            readers.push(ctime_micros(x));
            format!("coalesce({})", readers.join(", "))
        }
        TsKind::Epoch => epoch_seconds_micros(x),
        TsKind::EpochMs => epoch_ms_micros(x),
        TsKind::Clf => clf_micros(x),
        TsKind::Iso8601 => rfc3339_micros(x),
        TsKind::Ctime => ctime_micros(x),
    }
}

/// Java regular expressions for a quoted value that the literal `close` (which starts
/// with `"`) ends, followed by `after`: `Custom::quoted_end`'s scan, where a backslash
/// escapes the next character and a `"` ends the value only where the rest of the pattern
/// fits. The first matches the raw value; the second also its closing quote, so that it
/// matches a text (never empty) exactly when there is a closing quote. Possessive, as the
/// scan never goes back.
fn quoted_patterns(close: &str, after: &str) -> (String, String) {
    let fit = format!("{}{after}", regex_quote(close));
    let value = format!(r#"(?s)^(?:[^"\\]++|\\.|(?!{fit})")*+(?={fit})"#);
    let with_quote = format!("{value}\"");
    (value, with_quote)
}

/// A placeholder's value: the column that holds its text and the first step that can read it.
struct Value {
    field: Field,
    text: String,
    ready: usize,
}

/// A check of the embedded parser: when `cond` holds (and no check before it did), the line
/// is a reject with `reason` and `detail`, an expression that may use the `SHOWN` columns,
/// Rust's `{:?}` of the texts in `shown`.
struct Check {
    cond: String,
    reason: &'static str,
    detail: String,
    shown: Vec<String>,
}

/// The parse being built: the columns, the checks in order, and the values read.
struct Walk {
    st: Steps,
    checks: Vec<Check>,
    /// The deepest step any column needs before the last one.
    depth: usize,
}

impl Walk {
    fn at(&mut self, level: usize, name: impl Into<String>, expr: impl Into<String>) {
        self.st.at(level, name, expr);
        self.depth = self.depth.max(level + 1);
    }

    fn check(&mut self, cond: String, reason: &'static str, detail: String) {
        self.checks.push(Check { cond, reason, detail, shown: Vec::new() });
    }

    /// A check whose detail shows `text` as `SHOWN[0]` (and `more` as `SHOWN[1]`).
    fn check_showing(&mut self, cond: String, reason: &'static str, detail: String, text: &str, more: Option<&str>) {
        let shown = std::iter::once(text).chain(more).map(str::to_string).collect();
        self.checks.push(Check { cond, reason, detail, shown });
    }

    /// `parse_rej` from the checks, at `level` and the two steps after it: the first check
    /// that fails, the texts its detail shows, then the reject. Returns the step of
    /// `parse_rej`.
    fn rejects(&mut self, level: usize) -> usize {
        let checks = std::mem::take(&mut self.checks);
        let whens: String = checks.iter().enumerate().map(|(k, c)| format!(" WHEN {} THEN {k}", c.cond)).collect();
        self.st.at(level, "cu_failed", format!("CASE{whens} END"));
        for (j, column) in SHOWN_TEXT.iter().enumerate() {
            let texts: String =
                checks.iter().enumerate().filter_map(|(k, c)| c.shown.get(j).map(|t| format!(" WHEN {k} THEN {t}"))).collect();
            let text = if texts.is_empty() { "CAST(NULL AS STRING)".to_string() } else { format!("CASE cu_failed{texts} END") };
            self.st.at(level + 1, *column, text);
        }
        let shown = |c: &Check, j: usize| if c.shown.len() > j { truncate_bytes(SHOWN_TEXT[j]) } else { "CAST(NULL AS STRING)".into() };
        let rejects: String = checks
            .iter()
            .enumerate()
            .map(|(k, c)| format!(" WHEN {k} THEN {}", reject_struct(c.reason, &c.detail, &shown(c, 0), &shown(c, 1))))
            .collect();
        self.st.at(level + 2, "parse_rej", format!("CASE cu_failed{rejects} END"));
        level + 2
    }
}

/// The column (in bytes, from 1, as the line was written) where the text left `x` starts.
fn column(x: &str) -> String {
    format!("CAST(cu_end - octet_length({x}) AS STRING)")
}

/// The placeholders from step `i` on that each read one word, up to a space that follows
/// them (with the space after each): such a run is split at once, not walked step by step.
fn word_run(steps: &[Step], i: usize) -> Vec<&Field> {
    let mut run = Vec::new();
    let mut j = i;
    while let (Some(Step::Field(f)), Some(Step::Space)) = (steps.get(j), steps.get(j + 1)) {
        if f.quoted() || matches!(f.kind(), Kind::Ts(kind) if kind.max_words() > 1) {
            break;
        }
        run.push(f);
        j += 2;
    }
    run
}

/// Reads a run of one-word placeholders (`word_run`, starting at step `first`) from the
/// text `r`, at `level` and the step after it; returns the text left after the run's last
/// space. A placeholder reads up to the next space or tab and the space after it takes the
/// run of spaces and tabs, which is what a split at `[ \t]+` does. After the first
/// placeholder, the only check that can fail is a space's at the end of the line.
fn read_words(w: &mut Walk, steps: &[Step], run: &[&Field], r: &str, level: usize, values: &mut Vec<Value>) -> String {
    let first = run[0];
    let words = format!("cu_words{}", first.number());
    w.at(level, &words, format!("split({r}, {}, {})", lit(r"[ \t]+"), run.len() + 1));
    let placeholders = steps.iter().filter(|s| matches!(s, Step::Field(_))).count();
    w.check(format!("{r} = ''"), "field_count", lit(&line_ends_before(first, placeholders)));
    for (j, f) in run.iter().enumerate() {
        let v = format!("cu_word{}", f.number());
        w.at(level + 1, &v, format!("coalesce(get({words}, {j}), '')"));
        let value = Value { field: (*f).clone(), text: v, ready: level + 2 };
        value_checks(w, &value, false);
        values.push(value);
        let space = steps.iter().position(|s| matches!(s, Step::Field(x) if x.number() == f.number())).map_or(0, |at| at + 1);
        w.check(format!("size({words}) < {}", j + 2), "field_count", lit(&at_end_of_space(steps, space, placeholders)));
    }
    let rest = format!("cu_words{}_rest", first.number());
    w.at(level + 1, &rest, format!("coalesce(get({words}, {}), '')", run.len()));
    rest
}

/// The detail of a placeholder that the line ends before.
fn line_ends_before(f: &Field, placeholders: usize) -> String {
    format!("line ends before the {{{}}} field (placeholder {} of {placeholders})", f.name(), f.number())
}

/// The detail of the space at step `i` when the line ends there.
fn at_end_of_space(steps: &[Step], i: usize, placeholders: usize) -> String {
    match next_field(steps, i) {
        Some(f) => line_ends_before(f, placeholders),
        None => "line ends before the end of the pattern".to_string(),
    }
}

/// The first placeholder after step `i`, to say what is missing.
fn next_field(steps: &[Step], i: usize) -> Option<&Field> {
    steps[i + 1..].iter().find_map(|s| if let Step::Field(f) = s { Some(f) } else { None })
}

pub(crate) fn custom(options: &CustomOptions) -> Result<FormatSql, Unsupported> {
    let pattern = Custom::new(options).map_err(|e| Unsupported(e.to_string()))?;
    let steps = pattern.steps();
    let placeholders = pattern.placeholders();
    let mut w = Walk { st: Steps::default(), checks: Vec::new(), depth: 0 };

    // The line without its leading and trailing spaces and tabs; `cu_lead` is the column of
    // its first byte.
    w.at(0, "cu_lt", format!("trim(LEADING {SPACES} FROM line)"));
    w.at(1, "cu_r0", format!("trim(TRAILING {SPACES} FROM cu_lt)"));
    w.at(1, "cu_lead", "char_length(line) - char_length(cu_lt) + 1");
    w.at(2, "cu_end", "cu_lead + octet_length(cu_r0)");

    // `rest` is the text left, as an expression: literals and spaces only wrap it (they are
    // cheap and few between two placeholders), so that the steps nest once per placeholder.
    let mut rest = "cu_r0".to_string();
    let mut level = 2;
    let mut values: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let r = rest.clone();
        let run = word_run(steps, i);
        if run.len() > 1 {
            rest = read_words(&mut w, steps, &run, &r, level, &mut values);
            level += 2;
            i += 2 * run.len();
            continue;
        }
        match &steps[i] {
            Step::Lit(text) => {
                let missing = format!("NOT startswith({r}, {})", lit(text));
                let at_end = match next_field(steps, i) {
                    Some(f) => format!("line ends where the pattern expects {text:?} (before the {{{}}} field)", f.name()),
                    None => format!("line ends where the pattern expects {text:?}"),
                };
                w.check(format!("{missing} AND {r} = ''"), "field_count", lit(&at_end));
                w.check_showing(
                    missing,
                    "malformed",
                    format!("concat({}, {}, ' but found ', {})", lit(&format!("expected {text:?} at column ")), column(&r), SHOWN[0]),
                    &r,
                    None,
                );
                rest = format!("substr({r}, {})", text.chars().count() + 1);
            }
            Step::Space => {
                let no_space = format!("(substr({r}, 1, 1) NOT IN (' ', '\\t'))");
                w.check(format!("{no_space} AND {r} = ''"), "field_count", lit(&at_end_of_space(steps, i, placeholders)));
                w.check_showing(
                    no_space,
                    "malformed",
                    format!("concat('expected a space at column ', {}, ' but found ', {})", column(&r), SHOWN[0]),
                    &r,
                    None,
                );
                rest = format!("trim(LEADING {SPACES} FROM {r})");
            }
            Step::Field(f) => {
                let v = format!("cu_v{i}");
                let next = format!("cu_r{}", i + 1);
                let name = f.name();
                if !f.quoted() {
                    w.check(format!("{r} = ''"), "field_count", lit(&line_ends_before(f, placeholders)));
                }
                let multi_word_ts = match (f.kind(), steps.get(i + 1)) {
                    (Kind::Ts(kind), Some(Step::Space)) if !f.quoted() && kind.max_words() > 1 => Some(kind),
                    _ => None,
                };
                let ready;
                if f.quoted() {
                    let Some(Step::Lit(close)) = steps.get(i + 1) else {
                        return Err(Unsupported(format!("the quoted {{{name}}} placeholder has no closing literal")));
                    };
                    let after = match steps.get(i + 2) {
                        None => r"\z",
                        Some(Step::Space) => r"(?:\z|[ \t])",
                        Some(_) => "",
                    };
                    let (value, with_quote) = quoted_patterns(close, after);
                    let m = format!("cu_m{i}");
                    w.at(level, &m, re(&r, &with_quote, 0));
                    w.at(level, &next, re_replace(&r, &value, ""));
                    w.at(level + 1, &v, re_replace(&format!("substr({m}, 1, char_length({m}) - 1)"), r#"\\(["\\])"#, "$1"));
                    w.check(
                        format!("{m} = ''"),
                        "malformed",
                        format!(
                            "concat({}, {}, ' has no closing double quote')",
                            lit(&format!("the quoted {{{name}}} field starting at column ")),
                            column(&r)
                        ),
                    );
                    level += 1;
                    ready = level + 1;
                } else if let Some(kind) = multi_word_ts {
                    // The most words that still make a valid time, else the first word.
                    let words = kind.max_words();
                    for k in 0..words {
                        w.at(level, format!("cu_c{i}_{k}"), re(&r, &format!(r"^[^ \t]*(?:[ \t]+[^ \t]+){{{k}}}"), 0));
                        w.at(level + 1, format!("cu_p{i}_{k}"), ts_micros(kind, &format!("cu_c{i}_{k}"), k));
                    }
                    let longest = |of: &dyn Fn(usize) -> String| {
                        let whens: String = (1..words).rev().map(|k| format!(" WHEN cu_p{i}_{k} IS NOT NULL THEN {}", of(k))).collect();
                        format!("CASE{whens} ELSE {} END", of(0))
                    };
                    w.at(level + 2, &v, longest(&|k| format!("cu_c{i}_{k}")));
                    w.at(level + 2, &next, longest(&|k| format!("substr({r}, char_length(cu_c{i}_{k}) + 1)")));
                    let parsed: Vec<String> = (0..words).rev().map(|k| format!("cu_p{i}_{k}")).collect();
                    w.at(level + 2, "cu_ts", format!("coalesce({})", parsed.join(", ")));
                    level += 3;
                    ready = level;
                } else {
                    match steps.get(i + 1) {
                        None => {
                            w.at(level, &v, r.clone());
                            w.at(level, &next, "''");
                        }
                        Some(Step::Lit(end)) => {
                            let at = format!("instr({r}, {})", lit(end));
                            w.check(
                                format!("{at} = 0"),
                                "malformed",
                                format!(
                                    "concat({}, {}, ') but the line has none')",
                                    lit(&format!("expected {end:?} after the {{{name}}} field (from column ")),
                                    column(&r)
                                ),
                            );
                            w.at(level, &v, format!("substr({r}, 1, {at} - 1)"));
                            w.at(level, &next, format!("substr({r}, {at})"));
                        }
                        Some(_) => {
                            w.at(level, &v, re(&r, r"^[^ \t]*", 0));
                            w.at(level, &next, re_replace(&r, r"^[^ \t]+", ""));
                        }
                    }
                    level += 1;
                    ready = level;
                }
                let value = Value { field: f.clone(), text: v, ready };
                value_checks(&mut w, &value, multi_word_ts.is_some());
                values.push(value);
                rest = next;
            }
        }
        i += 1;
    }
    w.check_showing(
        format!("{rest} <> ''"),
        "field_count",
        format!("concat('the line goes on after the pattern ends: ', {}, ' at column ', {})", SHOWN[0], column(&rest)),
        &rest,
        None,
    );
    let of = |kind: &dyn Fn(Kind) -> bool| values.iter().find(|v| kind(v.field.kind()));
    if let (Some(date), Some(time)) = (of(&|k| k == Kind::Date), of(&|k| k == Kind::Time)) {
        w.at(date.ready.max(time.ready), "cu_ts", date_time_micros(&date.text, &time.text));
        w.check_showing(
            "cu_ts IS NULL".into(),
            "bad_timestamp",
            format!("concat('{{date}} {{time}} is not YYYY-MM-DD HH:MM:SS: ', {}, ' ', {})", SHOWN[0], SHOWN[1]),
            &date.text,
            Some(&time.text),
        );
    }
    let columns = event_values(&mut w, &values);

    let last = w.rejects(w.depth.max(level).max(values.iter().map(|v| v.ready).max().unwrap_or(0)));
    w.st.at(last, "parse_skip", "FALSE");
    for name in event_columns() {
        let expr = columns.get(name.as_str()).cloned().unwrap_or_else(|| format!("CAST(NULL AS {})", sql_type(&name)));
        w.st.at(last, format!("e_{name}"), expr);
    }
    Ok(FormatSql { name: "custom", steps: w.st })
}

/// The Spark type of an events column.
fn sql_type(column: &str) -> &'static str {
    match column {
        "ts" => "TIMESTAMP",
        "port" | "status" => "INT",
        "request_bytes" | "response_bytes" | "duration_ms" => "BIGINT",
        _ => "STRING",
    }
}

/// The checks `apply` makes on a placeholder's value, in its place among the steps, and the
/// columns they need.
fn value_checks(w: &mut Walk, value: &Value, ts_done: bool) {
    let (v, at) = (value.text.as_str(), value.ready);
    let name = value.field.name();
    let number = |what: &str| format!("concat({}, {})", lit(&format!("{what} is not a number: ")), SHOWN[0]);
    match value.field.kind() {
        Kind::Ts(kind) => {
            if !ts_done {
                w.at(at, "cu_ts", ts_micros(kind, v, 0));
            }
            let detail = format!("concat({}, {})", lit(&format!("{{ts}} is not {}: ", kind.describe())), SHOWN[0]);
            w.check_showing("cu_ts IS NULL".into(), "bad_timestamp", detail, v, None);
        }
        Kind::Request => request_checks(w, value),
        Kind::Port => {
            w.check_showing(format!("NOT {}", int_like(v)), "bad_number", number("port"), v, None);
            w.check_showing(
                format!("NOT coalesce({} BETWEEN 0 AND 65535, TRUE)", int_of(v)),
                "bad_number",
                format!("concat('port out of range: ', {})", SHOWN[0]),
                v,
                None,
            );
        }
        Kind::Status => {
            w.check_showing(format!("NOT {}", int_like(v)), "bad_number", number("status"), v, None);
            w.check_showing(
                format!("NOT coalesce({} BETWEEN 0 AND 999, TRUE)", int_of(v)),
                "bad_number",
                format!("concat('status out of range: ', {})", SHOWN[0]),
                v,
                None,
            );
        }
        Kind::RequestBytes | Kind::ResponseBytes | Kind::Duration(DurUnit::Ms | DurUnit::Us) => {
            w.check_showing(format!("NOT {}", int_like(v)), "bad_number", number(name), v, None);
        }
        Kind::Duration(DurUnit::S) => {
            // `seconds_to_ms`: digits and at most one point, read as a double, in milliseconds.
            let decimal = rlike(v, r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\z");
            w.at(at, format!("{v}_ms"), format!("CASE WHEN {decimal} THEN round(CAST({v} AS DOUBLE) * CAST(1000 AS DOUBLE)) END"));
            w.check_showing(
                format!("NOT ({} OR coalesce({v}_ms < CAST(9.2E18 AS DOUBLE), FALSE))", is_none(v)),
                "bad_number",
                format!("concat('duration_ms (in seconds) is not a number: ', {})", SHOWN[0]),
                v,
                None,
            );
        }
        Kind::Ip { lenient, .. } => {
            let p = format!("{v}_ip");
            let after = ip_field_steps(&mut w.st, at, v, &p);
            w.at(after, format!("{p}_text"), format!("CASE WHEN NOT {p}_bad THEN {p}_ip END"));
            if !lenient {
                w.check_showing(
                    format!("{p}_bad"),
                    "bad_ip",
                    format!("concat({}, {})", lit(&format!("{name} is not an IP address: ")), SHOWN[0]),
                    &format!("{p}_core"),
                    None,
                );
            }
        }
        Kind::Ignore | Kind::Date | Kind::Time | Kind::Url | Kind::Text(_) | Kind::Host | Kind::Query => {}
    }
}

/// `request`: `METHOD TARGET [HTTP/x.y]` split as the embedded parser splits it; `-` or
/// empty is no request. Adds `{v}_rq_none`, `{v}_rq_method` and `{v}_rq_target`.
fn request_checks(w: &mut Walk, value: &Value) {
    let (v, at) = (value.text.as_str(), value.ready);
    let p = format!("{v}_rq");
    w.at(at, format!("{p}_s"), re_replace(v, r"^[ \t]+|[ \t]+\z", ""));
    w.at(at + 1, format!("{p}_sep"), rlike(&format!("{p}_s"), r"[ \t]"));
    w.at(at + 1, format!("{p}_method"), re(&format!("{p}_s"), r"^([^ \t]*)[ \t]", 1));
    w.at(at + 1, format!("{p}_rest"), re_replace(&format!("{p}_s"), r"^[^ \t]*[ \t]+", ""));
    w.at(at + 2, format!("{p}_proto"), re(&format!("{p}_rest"), r"[ \t]([^ \t]*)\z", 1));
    w.at(
        at + 3,
        format!("{p}_target"),
        format!(
            "CASE WHEN {} AND startswith({p}_proto, 'HTTP/') THEN {} ELSE {p}_rest END",
            rlike(&format!("{p}_rest"), r"[ \t]"),
            re_replace(&format!("substr({p}_rest, 1, char_length({p}_rest) - char_length({p}_proto) - 1)"), r"[ \t]+\z", "")
        ),
    );
    w.at(at, format!("{p}_none"), is_none(v));
    let token = rlike(&format!("{p}_method"), r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+\z");
    w.check_showing(
        format!("NOT {p}_none AND (NOT {p}_sep OR NOT {token} OR {p}_target = '')"),
        "bad_request",
        format!("concat('request line is not METHOD TARGET [HTTP/x.y]: ', {})", SHOWN[0]),
        v,
        None,
    );
}

/// The events columns the pattern fills, by name.
fn event_values(w: &mut Walk, values: &[Value]) -> HashMap<&'static str, String> {
    let mut columns: HashMap<&'static str, String> = HashMap::new();
    // Every pattern has `{ts}` or `{date}` with `{time}` (`Custom::new` checks it): `cu_ts`.
    columns.insert("ts", "timestamp_micros(cu_ts)".into());
    let find = |kind: Kind| values.iter().find(|v| v.field.kind() == kind);
    // Separate placeholders for the URL's parts, as `apply` stores them.
    let mut separate: HashMap<&'static str, String> = HashMap::new();
    for value in values {
        let v = value.text.as_str();
        let name = value.field.name();
        match value.field.kind() {
            Kind::Text(_) => {
                let text = dash_none(v);
                if ["scheme", "path"].contains(&name) {
                    separate.insert(name, text);
                } else {
                    columns.insert(name, text);
                }
            }
            Kind::Host => {
                separate
                    .insert("host", format!("CASE WHEN {} THEN NULL ELSE {} END", is_none(v), ascii_lower(&re_replace(v, r"\.\z", ""))));
            }
            Kind::Query => {
                separate.insert("query", format!("CASE WHEN {} THEN NULL ELSE {} END", is_none(v), re_replace(v, r"^\?", "")));
            }
            Kind::Port => {
                separate.insert("port", format!("CAST({} AS INT)", int_of(v)));
            }
            Kind::Status => {
                columns.insert("status", format!("CAST({} AS INT)", int_of(v)));
            }
            Kind::RequestBytes | Kind::ResponseBytes => {
                columns.insert(name, int_of(v));
            }
            Kind::Duration(DurUnit::Ms) => {
                columns.insert("duration_ms", int_of(v));
            }
            Kind::Duration(DurUnit::Us) => {
                // `(us + 500).div_euclid(1000)`: rounded, halves up, also below zero.
                let n = format!("({} + 500)", int_of(v));
                columns.insert("duration_ms", format!("(({n} - pmod({n}, 1000)) div 1000)"));
            }
            Kind::Duration(DurUnit::S) => {
                columns.insert("duration_ms", format!("CASE WHEN {} THEN NULL ELSE CAST({v}_ms AS BIGINT) END", is_none(v)));
            }
            Kind::Ip { .. } => {
                columns.insert(name, format!("{v}_ip_text"));
            }
            Kind::Ignore | Kind::Ts(_) | Kind::Date | Kind::Time | Kind::Url | Kind::Request => {}
        }
    }

    // The URL, from {url} (split at the end of the line, with the {method} value) or from
    // {request} (split where it stands, so that a part's placeholder after it wins).
    let (url, method, url_at, after_request): (String, String, usize, Vec<&str>) = if let Some(request) = find(Kind::Request) {
        let p = format!("{}_rq", request.text);
        let later: Vec<&str> = values
            .iter()
            .filter(|v| v.ready > request.ready && matches!(v.field.name(), "scheme" | "host" | "port" | "path" | "query"))
            .map(|v| v.field.name())
            .collect();
        (
            format!("CASE WHEN NOT {p}_none THEN {p}_target END"),
            format!("CASE WHEN NOT {p}_none THEN {p}_method END"),
            request.ready + 4,
            later,
        )
    } else if let Some(url) = find(Kind::Url) {
        let method = match find(Kind::Text(TextCol::Method)) {
            Some(m) => dash_none(&m.text),
            None => "CAST(NULL AS STRING)".into(),
        };
        let at = values.iter().filter(|v| v.field.name() == "method").map(|v| v.ready).fold(url.ready, usize::max);
        (dash_none(&url.text), method, at, Vec::new())
    } else {
        for (part, expr) in separate {
            columns.insert(part, expr);
        }
        return columns;
    };
    w.at(url_at, "cu_url", url);
    w.at(url_at, "cu_method", method);
    // `apply_url` keeps the asterisk-form target of `OPTIONS *` whole, without parts.
    w.at(url_at + 1, "cu_url_in", "CASE WHEN cu_url = '*' THEN NULL ELSE cu_url END");
    let done = url_steps(&mut w.st, url_at + 2, "cu_url_in", "cu_method", "cu_u");
    w.depth = w.depth.max(done);
    columns.insert("url", "cu_url".into());
    columns.insert("method", "cu_method".into());
    let from_url: [(&'static str, String); 5] = [
        ("scheme", "cu_u_scheme".into()),
        ("host", format!("CASE WHEN cu_u_host IS NOT NULL THEN {} END", ascii_lower(&re_replace("cu_u_host_raw", r"\.\z", "")))),
        ("port", "cu_u_port".into()),
        ("path", "cu_u_path".into()),
        ("query", "cu_u_query".into()),
    ];
    for (part, from) in from_url {
        let expr = match separate.remove(part) {
            Some(own) if after_request.contains(&part) => own,
            Some(own) => format!("coalesce({from}, {own})"),
            None => from,
        };
        columns.insert(part, expr);
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_of(pattern: &str) -> FormatSql {
        custom(&CustomOptions { pattern: pattern.to_string() }).unwrap()
    }

    #[test]
    fn fills_every_event_column_in_order() {
        for pattern in [sweep_formats::formats::custom::EXAMPLE_PATTERN, r#"{date} {time} "{request}" {host} {duration_ms:us} {port}"#] {
            let steps = sql_of(pattern).steps;
            let filled: Vec<&str> = steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_")).collect();
            assert_eq!(filled, event_columns(), "{pattern}");
        }
    }

    #[test]
    fn a_pattern_the_parser_refuses_is_refused_with_its_message() {
        let Err(Unsupported(message)) = custom(&CustomOptions { pattern: "{ts:epoch} {clientip}".into() }) else {
            panic!("a bad pattern is refused");
        };
        assert!(message.contains("did you mean {client_ip}?"), "{message}");
    }

    #[test]
    fn the_sql_stays_small() {
        for pattern in [
            sweep_formats::formats::custom::EXAMPLE_PATTERN,
            r#"{client_ip} {_} {user} [{ts:clf}] "{request}" {status} {response_bytes} "{referrer}" "{user_agent}""#,
            "{ts} {client_ip} {server_ip} {method} {url}",
        ] {
            let sql = sql_of(pattern).steps.over("lines");
            eprintln!("{} bytes: {pattern}", sql.len());
            assert!(sql.len() < 60_000, "{} bytes for {pattern}", sql.len());
        }
    }

    /// Spark's analyzer resolves nested steps in a bounded number of passes (about 45 steps
    /// with the default `spark.sql.analyzer.maxIterations`): a placeholder costs one step at
    /// most, and a run of space-separated ones two in all.
    #[test]
    fn the_steps_nest_shallowly() {
        let many = format!("{{ts:epoch}} {} {{client_ip}}", vec!["{_}"; 45].join(" "));
        for pattern in [
            sweep_formats::formats::custom::EXAMPLE_PATTERN,
            r#"{client_ip} - {user} [{ts:clf}] "{method} {path} {_}" {status} {response_bytes} "{referrer}" "{user_agent}" {_} "{_}" "{host}" {duration_ms}ms"#,
            &many,
        ] {
            let depth = sql_of(pattern).steps.steps.len();
            assert!(depth <= 30, "{depth} steps for {pattern}");
        }
    }
}

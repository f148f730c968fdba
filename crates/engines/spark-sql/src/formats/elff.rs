//! Blue Coat ELFF / W3C extended as Spark SQL (mirrors sweep_formats::formats::elff).
//!
//! The embedded parser follows `#Fields:` lines as it reads a file. Spark reads a file in
//! parallel splits, so the field lists are found first: the run collects the `#Fields:`
//! lines of each file with their line numbers ([`Directive`]), and each data line gets the
//! number of the field list in force at its line number (`layout`: 0 for the `fields`
//! option, 1.. for the distinct directives), as a range test on its line number. The values
//! of a line are split once, whatever its layout; each column then takes the value at its
//! layout's position.

use sweep_formats::formats::elff::{Col, ElffOptions, FIELDS_DIRECTIVE, SERVER_IP_NAMES};

use crate::FormatSql;
use crate::fields::{ascii_lower, int_ok, int_value, ip_field_steps, lit, rlike};
use crate::reject::{first_reject, rejection, rejection_quoting};
use crate::steps::Steps;
use crate::time::{clf_micros, date_time_micros, epoch_seconds_micros, rfc3339_micros};
use crate::url::url_steps;

/// A `#Fields:` line of a file and its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub offset: i64,
    pub line: String,
}

/// One field list: its names and the role of each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    names: Vec<String>,
    cols: Vec<Col>,
}

impl Layout {
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Layout> {
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let cols = names.iter().map(|n| Col::of(n)).collect();
        (!names.is_empty()).then_some(Layout { names, cols })
    }

    fn has(&self, col: Col) -> bool {
        self.cols.contains(&col)
    }

    fn has_time(&self) -> bool {
        (self.has(Col::Date) && self.has(Col::Time)) || self.has(Col::GmtTime) || self.has(Col::LocalTime) || self.has(Col::UnixTime)
    }

    fn has_bracket_time(&self) -> bool {
        self.has(Col::GmtTime) || self.has(Col::LocalTime)
    }
}

/// A `"..."` value: a backslash escapes the next character, and a quote ends the value only
/// where a space, a tab or the line end follows (Cursor::quoted).
const QUOTED: &str = r#""(?:\\.|"(?![ \t]|\z)|[^"\\])*"(?=[ \t]|\z)"#;
/// A bracketed time with a space inside (`[20/Jun/2022:15:29:11 +0000]`); one without a
/// space is a bare value, which reads the same.
const BRACKETED: &str = r"\[[^\] \t]*[ \t][^\]]*\]";

/// The values of `x` as `Cursor::maybe_quoted` reads them (quotes kept), bracketed times
/// read whole when `brackets`. A value that opens a quote it never closes is read as a bare
/// value here; `markers` finds it.
fn values(x: &str, brackets: bool) -> String {
    let alternatives = if brackets { format!("{QUOTED}|{BRACKETED}|[^ \\t]+") } else { format!("{QUOTED}|[^ \\t]+") };
    format!("regexp_extract_all({x}, {}, 1)", lit(&format!("(?s)[ \\t]*({alternatives})")))
}

/// One letter per value of `x` up to the first value with an unclosed quote: `g` for a
/// readable value, then `b` for that one (if any), so that `instr(markers, 'b')` is the
/// position of the unreadable value. Readable values become `g` first; what is left of the
/// unreadable one starts with its quote.
fn markers(x: &str, brackets: bool) -> String {
    let good = if brackets { format!("{QUOTED}|{BRACKETED}|[^ \\t\"][^ \\t]*") } else { format!("{QUOTED}|[^ \\t\"][^ \\t]*") };
    let pass1 = format!("regexp_replace({x}, {}, 'g')", lit(&format!("(?s)[ \\t]*(?:{good})")));
    let pass2 = format!("regexp_replace({pass1}, {}, 'b')", lit("(?s)[ \\t]*\"[^ \\t]*"));
    format!("regexp_replace({pass2}, '[ \\t]+', '')")
}

/// `syslog_message`: the message of a syslog line, or NULL when no header is recognised.
/// Adds the steps from `base` on, ending in `{p}_msg`; returns the step after it.
fn syslog_steps(st: &mut Steps, base: usize, x: &str, p: &str) -> usize {
    st.at(base, format!("{p}_pri"), rlike(x, "^<[0-9]{1,3}>"));
    st.at(base + 1, format!("{p}_ap"), format!("CASE WHEN {p}_pri THEN substr({x}, instr({x}, '>') + 1) ELSE {x} END"));
    // RFC 5424: five words, each ended by one space, then `-` or `[...]` blocks (quotes and
    // backslash escapes inside), an optional space and byte order mark, the message.
    let rfc5424 = r#"(?s)^1 (?:[^ ]* ){5}(?:-|(?:\[(?:[^"\]]|"(?:\\.|[^"\\])*")*\])+) ?\x{FEFF}?(.*)\z"#;
    st.at(base + 2, format!("{p}_5424"), format!("({p}_pri AND {p}_ap LIKE '1 %')"));
    st.at(
        base + 2,
        format!("{p}_5424_msg"),
        format!("CASE WHEN {} THEN regexp_extract({p}_ap, {}, 1) END", rlike(&format!("{p}_ap"), rfc5424), lit(rfc5424)),
    );
    // RFC 3164: `Mmm dd hh:mm:ss` (words split at spaces only); or an RFC 3339 word.
    let rfc3164 = r"(?i)^ *(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) +[0-9]{1,2} +[^ ]{2}:[^ ]{2}:[^ ]{2,} *";
    st.at(base + 2, format!("{p}_3164"), format!("regexp_extract({p}_ap, {}, 0)", lit(rfc3164)));
    st.at(base + 2, format!("{p}_w1"), format!("regexp_extract({p}_ap, '^ *([^ ]*)', 1)"));
    st.at(
        base + 3,
        format!("{p}_ts_len"),
        format!(
            "CASE WHEN {p}_3164 <> '' THEN char_length({p}_3164) WHEN {p}_w1 <> '' AND {} IS NOT NULL THEN char_length(regexp_extract({p}_ap, '^ *[^ ]* *', 0)) END",
            rfc3339_micros(&format!("{p}_w1"))
        ),
    );
    st.at(base + 4, format!("{p}_at"), format!("substr({p}_ap, {p}_ts_len + 1)"));
    st.at(base + 5, format!("{p}_host"), format!("regexp_extract({p}_at, '^ *([^ ]*)', 1)"));
    st.at(base + 5, format!("{p}_ah"), format!("regexp_replace({p}_at, '^ *[^ ]* *', '')"));
    st.at(base + 6, format!("{p}_tag"), format!("regexp_extract({p}_ah, '^([^ ]*)', 1)"));
    st.at(
        base + 7,
        format!("{p}_after_tag"),
        format!(
            "CASE WHEN {p}_host NOT LIKE '%:' AND char_length({p}_tag) > 1 AND {p}_tag LIKE '%:' AND {} AND instr({p}_tag, '\"') = 0 \
             THEN regexp_replace({p}_ah, '^[^ ]* *', '') ELSE {p}_ah END",
            rlike(&format!("{p}_tag"), "^[A-Za-z0-9]")
        ),
    );
    st.at(
        base + 8,
        format!("{p}_msg"),
        format!(
            "CASE WHEN {x} LIKE '<%' AND NOT {p}_pri THEN NULL WHEN {p}_5424 THEN {p}_5424_msg \
             WHEN {p}_ts_len IS NOT NULL THEN {p}_after_tag WHEN {p}_pri THEN {p}_ap END"
        ),
    );
    base + 9
}

/// `parse_bracket_time`: a CLF time, or `DD/MM/YYYY:hh:mm:ss`, brackets and a ` GMT`/` UTC`
/// suffix allowed.
fn bracket_time_micros(x: &str) -> String {
    // trim() is Unicode's; these are the whitespace characters a log line may hold.
    let trimmed = format!(
        "regexp_replace(regexp_replace(regexp_replace({x}, '^\\\\[+', ''), '\\\\]+\\\\z', ''), '^[\\\\s\\\\x{{85}}\\\\x{{A0}}]+|[\\\\s\\\\x{{85}}\\\\x{{A0}}]+\\\\z', '')"
    );
    let s = format!("regexp_replace({trimmed}, ' (GMT|UTC)\\\\z', '')");
    let numeric = "^([0-9]{2})/([0-9]{2})/([0-9]{4}):(.*)\\z";
    let g = |i: usize| format!("regexp_extract(s, {}, {i})", lit(numeric));
    let date = format!("concat({}, '-', {}, '-', {})", g(3), g(2), g(1));
    format!(
        "(SELECT coalesce({}, CASE WHEN {} THEN {} END) FROM (SELECT {s} AS s))",
        clf_micros("s"),
        rlike("s", numeric),
        date_time_micros(&date, &g(4))
    )
}

/// `lower_host` over `split_authority(x)`'s host, and the port.
fn authority_steps(st: &mut Steps, base: usize, x: &str, p: &str) -> usize {
    st.at(base, format!("{p}_a"), format!("regexp_replace({x}, '(?s)^.*@', '')"));
    st.at(base + 1, format!("{p}_be"), format!("instr({p}_a, ']')"));
    st.at(base + 1, format!("{p}_colons"), format!("(size(split({p}_a, ':', -1)) - 1)"));
    let port_of = |s: &str| format!("CASE WHEN {} AND CAST({s} AS INT) <= 65535 THEN CAST({s} AS INT) END", rlike(s, "^[0-9]{1,5}\\z"));
    st.at(
        base + 2,
        format!("{p}_name"),
        format!(
            "CASE WHEN {p}_a = '' THEN NULL WHEN {p}_a LIKE '[%' AND {p}_be > 0 THEN nullif(substr({p}_a, 2, {p}_be - 2), '') \
             WHEN {p}_a LIKE '[%' OR {p}_colons >= 2 OR {p}_colons = 0 THEN {p}_a \
             ELSE nullif(substring_index({p}_a, ':', 1), '') END"
        ),
    );
    st.at(
        base + 2,
        format!("{p}_port"),
        format!(
            "CASE WHEN {p}_a = '' THEN NULL WHEN {p}_a LIKE '[%' AND {p}_be > 0 AND substr({p}_a, {p}_be + 1) LIKE ':%' THEN {} \
             WHEN {p}_a LIKE '[%' OR {p}_colons <> 1 THEN NULL ELSE {} END",
            port_of(&format!("substr({p}_a, {p}_be + 2)")),
            port_of(&format!("substring_index({p}_a, ':', -1)"))
        ),
    );
    st.at(base + 3, format!("{p}_host"), ascii_lower(&format!("regexp_replace({p}_name, '\\\\.\\\\z', '')")));
    base + 4
}

/// `host[:port]`, with brackets around an IPv6 literal (`push_authority`).
fn authority(host: &str, port: &str) -> String {
    format!(
        "concat(CASE WHEN instr({host}, ':') > 0 THEN concat('[', {host}, ']') ELSE {host} END, \
         CASE WHEN {port} IS NOT NULL THEN concat(':', {port}) ELSE '' END)"
    )
}

fn default_port(scheme: &str) -> String {
    format!("(CASE lower({scheme}) WHEN 'http' THEN 80 WHEN 'ws' THEN 80 WHEN 'https' THEN 443 WHEN 'wss' THEN 443 WHEN 'ftp' THEN 21 END)")
}

/// The layout number of a line from its line number, given the directives of its file:
/// 0 (the `fields` option) before the first one and after one that names no fields.
fn layout_of_line(directives: &[Directive], layouts: &mut Vec<Layout>) -> String {
    let mut ranges: Vec<(i64, usize)> = Vec::new();
    for d in directives {
        let list = d.line.strip_prefix(FIELDS_DIRECTIVE).unwrap_or("");
        let id = match Layout::new(list.split_ascii_whitespace()) {
            None => 0,
            Some(layout) => match layouts.iter().position(|l| *l == layout) {
                Some(i) => i + 1,
                None => {
                    layouts.push(layout);
                    layouts.len()
                }
            },
        };
        // A directive that repeats the field list in force changes nothing.
        if ranges.last().map_or(id != 0, |&(_, last)| last != id) {
            ranges.push((d.offset, id));
        }
    }
    let whens: Vec<String> = ranges.iter().rev().map(|(from, id)| format!("WHEN offset > {from} THEN {id}")).collect();
    if whens.is_empty() { "0".into() } else { format!("CASE {} ELSE 0 END", whens.join(" ")) }
}

/// The ELFF parse of one file whose `#Fields:` lines are `directives` (none for Kafka).
pub(crate) fn elff(options: &ElffOptions, directives: &[Directive]) -> FormatSql {
    let default = options.fields.as_ref().and_then(|list| Layout::new(list.iter().flat_map(|s| s.split_ascii_whitespace())));
    let mut layouts: Vec<Layout> = Vec::new();
    let layout_sql = layout_of_line(directives, &mut layouts);
    // Number 0 is the `fields` option, if any.
    let numbered: Vec<(usize, &Layout)> =
        default.iter().map(|l| (0, l)).chain(layouts.iter().enumerate().map(|(i, l)| (i + 1, l))).collect();
    let by_layout = |f: &dyn Fn(&Layout) -> Option<String>| -> String {
        let whens: Vec<String> = numbered.iter().filter_map(|(i, l)| f(l).map(|e| format!("WHEN {i} THEN {e}"))).collect();
        if whens.is_empty() { "NULL".into() } else { format!("CASE layout {} END", whens.join(" ")) }
    };

    let mut st = Steps::default();
    st.at(0, "layout", layout_sql);
    st.at(0, "is_directive", "(line LIKE '#%')");
    st.at(
        0,
        "empty_fields",
        format!(
            "(line LIKE '{FIELDS_DIRECTIVE}%' AND {})",
            rlike(&format!("substr(line, {})", FIELDS_DIRECTIVE.len() + 1), r"^[ \t\n\f\r]*\z")
        ),
    );
    let syslog_mode = if options.syslog { "TRUE".to_string() } else { "(line LIKE '<%')".to_string() };
    let after_syslog = syslog_steps(&mut st, 0, "line", "sl");
    st.at(after_syslog, "body", format!("CASE WHEN {syslog_mode} AND sl_msg IS NOT NULL THEN sl_msg ELSE line END"));
    st.at(after_syslog, "syslog_directive", format!("({syslog_mode} AND sl_msg LIKE '#%')"));
    st.at(after_syslog, "no_syslog", if options.syslog { "(sl_msg IS NULL)".into() } else { "FALSE".to_string() });
    let s = after_syslog + 1;
    let brackets = by_layout(&|l| Some(if l.has_bracket_time() { "TRUE" } else { "FALSE" }.into()));
    st.at(s, "brackets", format!("coalesce({brackets}, FALSE)"));
    st.at(s + 1, "vals", format!("CASE WHEN brackets THEN {} ELSE {} END", values("body", true), values("body", false)));
    st.at(s + 1, "marks", format!("CASE WHEN brackets THEN {} ELSE {} END", markers("body", true), markers("body", false)));
    st.at(s + 2, "bad_at", "instr(marks, 'b')");
    st.at(s + 2, "n_fields", by_layout(&|l| Some(l.names.len().to_string())));
    st.at(s + 2, "names", by_layout(&|l| Some(format!("array({})", l.names.iter().map(|n| lit(n)).collect::<Vec<_>>().join(", ")))));
    // Values read before the first unreadable one, and what the field count message counts.
    st.at(s + 3, "readable", "CASE WHEN bad_at > 0 THEN bad_at - 1 ELSE size(vals) END");
    st.at(s + 3, "found", "CASE WHEN bad_at > 0 THEN bad_at ELSE size(vals) END");

    // Each role's value: the last non-empty one of the columns that feed it, `-` is none.
    let t = s + 4;
    let value_at = |i: usize, col: Col| -> String {
        let v = format!("get(vals, {i})");
        let text = if matches!(col, Col::GmtTime | Col::LocalTime) {
            format!(
                "CASE WHEN {v} LIKE '[%' THEN substring_index(substr({v}, 2), ']', 1) WHEN {v} LIKE '\"%' THEN {} ELSE {v} END",
                unquote(&v)
            )
        } else {
            format!("CASE WHEN {v} LIKE '\"%' THEN {} ELSE {v} END", unquote(&v))
        };
        format!("nullif(nullif({text}, '-'), '')")
    };
    let role = |col: Col| -> String {
        let value = by_layout(&|l| {
            let at: Vec<String> = l.cols.iter().enumerate().filter(|(_, c)| **c == col).map(|(i, _)| value_at(i, col)).rev().collect();
            match at.len() {
                0 => None,
                1 => Some(at[0].clone()),
                _ => Some(format!("coalesce({})", at.join(", "))),
            }
        });
        format!("CAST({value} AS STRING)")
    };
    let roles = [
        ("v_date", Col::Date),
        ("v_time", Col::Time),
        ("v_gmt", Col::GmtTime),
        ("v_local", Col::LocalTime),
        ("v_unix", Col::UnixTime),
        ("v_taken", Col::TimeTaken),
        ("v_cip", Col::ClientIp),
        ("v_user", Col::User),
        ("v_category", Col::Category),
        ("v_referrer", Col::Referrer),
        ("v_status", Col::Status),
        ("v_saction", Col::SAction),
        ("v_filter", Col::FilterResult),
        ("v_method", Col::Method),
        ("v_ctype", Col::ContentType),
        ("v_scheme", Col::Scheme),
        ("v_host", Col::Host),
        ("v_port", Col::Port),
        ("v_path", Col::Path),
        ("v_query", Col::Query),
        ("v_uri", Col::Uri),
        ("v_agent", Col::UserAgent),
        ("v_rip", Col::RIp),
        ("v_rsip", Col::RsIp),
        ("v_supplier", Col::SupplierIp),
        ("v_scbytes", Col::ScBytes),
        ("v_csbytes", Col::CsBytes),
    ];
    for (name, col) in roles {
        st.at(t, name, role(col));
    }
    // The first bracketed time value without its `]`: field number and name.
    let open_bracket = by_layout(&|l| {
        let whens: Vec<String> = l
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Col::GmtTime | Col::LocalTime))
            .map(|(i, _)| format!("WHEN get(vals, {i}) LIKE '[%' AND instr(get(vals, {i}), ']') = 0 AND {i} < readable THEN {}", i + 1))
            .collect();
        (!whens.is_empty()).then(|| format!("CASE {} END", whens.join(" ")))
    });
    st.at(t, "open_bracket", open_bracket);
    st.at(t, "has_time", by_layout(&|l| Some(if l.has_time() { "TRUE" } else { "FALSE" }.into())));

    // Times, in the order Pending::timestamp tries them.
    st.at(t + 1, "ts_dt", format!("CASE WHEN v_date IS NOT NULL AND v_time IS NOT NULL THEN {} END", date_time_micros("v_date", "v_time")));
    st.at(t + 1, "ts_gmt", format!("CASE WHEN v_gmt IS NOT NULL THEN {} END", bracket_time_micros("v_gmt")));
    st.at(t + 1, "ts_unix", format!("CASE WHEN v_unix IS NOT NULL THEN {} END", epoch_seconds_micros("v_unix")));
    st.at(t + 1, "ts_local", format!("CASE WHEN v_local IS NOT NULL THEN {} END", bracket_time_micros("v_local")));
    st.at(t + 1, "server_ip_raw", "coalesce(v_rip, v_rsip, v_supplier)");
    st.at(
        t + 1,
        "server_ip_name",
        format!(
            "CASE WHEN v_rip IS NOT NULL THEN {} WHEN v_rsip IS NOT NULL THEN {} ELSE {} END",
            lit(SERVER_IP_NAMES[0]),
            lit(SERVER_IP_NAMES[1]),
            lit(SERVER_IP_NAMES[2])
        ),
    );
    st.at(t + 1, "is_connect", "coalesce(upper(v_method) = 'CONNECT', FALSE)");
    st.at(t + 1, "port_n", int_value("v_port"));
    st.at(t + 1, "query_v", "CASE WHEN v_query LIKE '?%' THEN substr(v_query, 2) ELSE v_query END");
    let after_auth = authority_steps(&mut st, t + 1, "v_host", "ha");
    let after_client = ip_field_steps(&mut st, t + 1, "v_cip", "cip");
    let after_server = ip_field_steps(&mut st, t + 2, "server_ip_raw", "sip");
    // The URL from cs-uri (split as any logged URL) ...
    st.at(t + 2, "uri_method", "CASE WHEN is_connect THEN 'CONNECT' END");
    let after_uri = url_steps(&mut st, t + 3, "v_uri", "uri_method", "u");
    // ... or put together from its parts.
    let a = after_auth;
    st.at(a, "tunnel", "(is_connect OR coalesce(lower(v_scheme) IN ('tcp', 'ssl'), FALSE))");
    st.at(a, "port_v", "CASE WHEN port_n BETWEEN 0 AND 65535 THEN CAST(port_n AS INT) END");
    st.at(a + 1, "port_f", format!("coalesce(port_v, ha_port, CASE WHEN tunnel THEN 443 ELSE {} END)", default_port("v_scheme")));
    st.at(
        a + 2,
        "built_url",
        format!(
            "CASE WHEN tunnel THEN CASE WHEN ha_host IS NOT NULL THEN {} END \
             WHEN ha_host IS NOT NULL OR v_path IS NOT NULL THEN concat(\
               CASE WHEN ha_host IS NOT NULL THEN concat(CASE WHEN v_scheme IS NOT NULL THEN concat(v_scheme, '://') ELSE '' END, {}) ELSE '' END, \
               coalesce(v_path, ''), CASE WHEN query_v IS NOT NULL THEN concat('?', query_v) ELSE '' END) END",
            authority("ha_host", "port_f"),
            authority("ha_host", &format!("CASE WHEN port_f = {} THEN NULL ELSE port_f END", default_port("v_scheme")))
        ),
    );
    let last = (a + 3).max(after_uri).max(after_client).max(after_server);

    let bad = |what: &str, v: &str| rejection_quoting("bad_timestamp", format!("'{what} is not a valid time: '"), v);
    let number =
        |v: &str, what: &str| (format!("NOT {}", int_ok(v)), rejection_quoting("bad_number", format!("'{what} is not a number: '"), v));
    let checks: Vec<(String, String)> = vec![
        ("empty_fields".into(), rejection("malformed", lit("the #Fields: directive names no fields"))),
        ("no_syslog".into(), rejection("malformed", lit("syslog = true, but the line has no syslog header"))),
        (
            "n_fields IS NULL".into(),
            rejection(
                "no_header",
                lit("a data line before any #Fields: directive (set the elff option fields = [...] for logs without headers)"),
            ),
        ),
        // Left to right: the first field that is missing or cannot be read.
        (
            "open_bracket IS NOT NULL AND (bad_at = 0 OR open_bracket < bad_at)".into(),
            rejection(
                "malformed",
                "concat('field ', open_bracket, ' (', get(names, open_bracket - 1), '): the time field has no closing \\']\\'')".into(),
            ),
        ),
        (
            "bad_at > 0 AND bad_at <= n_fields".into(),
            rejection(
                "malformed",
                "concat('field ', bad_at, ' (', get(names, bad_at - 1), '): the value field has no closing double quote')".into(),
            ),
        ),
        (
            "readable < n_fields OR found > n_fields".into(),
            rejection(
                "field_count",
                "concat('the line has ', CASE WHEN readable < n_fields THEN readable ELSE found END, ' values; the field list names ', \
                 n_fields, ' fields (', get(names, 0), ' ...)')"
                    .into(),
            ),
        ),
        ("v_date IS NOT NULL AND v_time IS NOT NULL AND ts_dt IS NULL".into(), bad("date time", "concat(v_date, ' ', v_time)")),
        ("(v_date IS NULL OR v_time IS NULL) AND v_gmt IS NOT NULL AND ts_gmt IS NULL".into(), bad("gmttime", "v_gmt")),
        (
            "(v_date IS NULL OR v_time IS NULL) AND v_gmt IS NULL AND v_unix IS NOT NULL AND ts_unix IS NULL".into(),
            bad("x-timestamp-unix", "v_unix"),
        ),
        (
            "(v_date IS NULL OR v_time IS NULL) AND v_gmt IS NULL AND v_unix IS NULL AND v_local IS NOT NULL AND ts_local IS NULL".into(),
            bad("localtime", "v_local"),
        ),
        (
            "(v_date IS NULL OR v_time IS NULL) AND v_gmt IS NULL AND v_unix IS NULL AND v_local IS NULL".into(),
            format!(
                "CASE WHEN has_time THEN {} ELSE {} END",
                rejection("bad_timestamp", lit("the time fields are empty (-)")),
                rejection("bad_timestamp", lit("the field list has no time field (date and time, gmttime, localtime or x-timestamp-unix)"))
            ),
        ),
        number("v_taken", "time-taken"),
        number("v_scbytes", "sc-bytes"),
        number("v_csbytes", "cs-bytes"),
        number("v_status", "status"),
        (
            "NOT (CAST(v_status AS BIGINT) BETWEEN 0 AND 999 OR v_status IS NULL)".into(),
            rejection_quoting("bad_number", "'status out of range: '", "v_status"),
        ),
        ("cip_bad".into(), rejection_quoting("bad_ip", "'c-ip is not an IP address: '", "cip_core")),
        ("sip_bad".into(), rejection_quoting("bad_ip", "concat(server_ip_name, ' is not an IP address: ')", "sip_core")),
        (
            "v_uri IS NULL AND v_port IS NOT NULL AND NOT (v_port = '-' OR {int_port})".replace("{int_port}", &int_ok("v_port")),
            rejection_quoting("bad_number", "'cs-uri-port is not a number: '", "v_port"),
        ),
        (
            "v_uri IS NULL AND v_port IS NOT NULL AND port_v IS NULL".into(),
            rejection_quoting("bad_number", "'cs-uri-port is not a port: '", "v_port"),
        ),
    ];
    // Directives are skipped (one that names no fields is a reject), and so are directives
    // inside syslog messages.
    st.at(last, "parse_skip", "CASE WHEN is_directive THEN NOT empty_fields ELSE syslog_directive END");
    st.at(
        last,
        "parse_rej",
        format!(
            "CASE WHEN (is_directive AND NOT empty_fields) OR (NOT is_directive AND syslog_directive) THEN NULL ELSE {} END",
            first_reject(checks)
        ),
    );
    let uri = |part: &str, built: &str| format!("CASE WHEN v_uri IS NOT NULL THEN u_{part} ELSE {built} END");
    let columns: [(&str, String); 20] = [
        ("ts", "timestamp_micros(coalesce(ts_dt, ts_gmt, ts_unix, ts_local))".into()),
        ("client_ip", "cip_ip".into()),
        ("user", "v_user".into()),
        ("method", "v_method".into()),
        ("url", "CASE WHEN v_uri IS NOT NULL THEN v_uri ELSE built_url END".into()),
        ("scheme", uri("scheme", "CASE WHEN NOT tunnel THEN v_scheme END")),
        ("host", uri("host", "ha_host")),
        ("port", uri("port", "port_f")),
        ("path", uri("path", "CASE WHEN NOT tunnel THEN v_path END")),
        ("query", uri("query", "CASE WHEN NOT tunnel THEN query_v END")),
        ("status", "CAST(v_status AS INT)".into()),
        ("request_bytes", int_value("v_csbytes")),
        ("response_bytes", int_value("v_scbytes")),
        ("duration_ms", int_value("v_taken")),
        ("user_agent", "v_agent".into()),
        ("referrer", "v_referrer".into()),
        ("content_type", "v_ctype".into()),
        ("proxy_action", "coalesce(v_saction, v_filter)".into()),
        ("server_ip", "sip_ip".into()),
        ("category", "v_category".into()),
    ];
    for (name, expr) in columns {
        st.at(last, format!("e_{name}"), expr);
    }
    FormatSql { name: "elff", steps: st }
}

/// The text of a quoted value with `\"` and `\\` resolved (fields::unescape).
fn unquote(v: &str) -> String {
    format!("regexp_replace(substr({v}, 2, char_length({v}) - 2), {}, '$1')", lit(r#"\\(["\\])"#))
}

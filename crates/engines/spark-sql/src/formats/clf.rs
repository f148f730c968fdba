//! The Common Log Format family as Spark SQL (mirrors sweep_formats::formats::clf): `common`,
//! `combined`, `vhost_combined`, `squid_common` and `squid_combined`.
//!
//! The line is read left to right as the embedded parser's cursor reads it: each field is
//! taken from the front of the text left after the one before (`r1`, `r2`, ...), so a
//! field's reject names the first field that failed, with the embedded parser's reason.

use crate::FormatSql;
use crate::fields::{ascii_lower, dash_none, field_missing, int_ok, int_value, ip_field_steps, lit, missing, rlike};
use crate::reject::{first_reject, rejection, rejection_quoting};
use crate::steps::Steps;
use crate::time::clf_micros;
use crate::url::url_steps;

/// Which member of the family (sweep_formats::formats::clf::ClfVariant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    SquidCommon,
    SquidCombined,
    Common,
    Combined,
    VhostCombined,
}

impl Variant {
    fn has_vhost(self) -> bool {
        self == Variant::VhostCombined
    }

    fn has_referrer_and_agent(self) -> bool {
        !matches!(self, Variant::Common | Variant::SquidCommon)
    }

    fn is_squid(self) -> bool {
        matches!(self, Variant::SquidCommon | Variant::SquidCombined)
    }

    fn name(self) -> &'static str {
        match self {
            Variant::SquidCommon => "squid_common",
            Variant::SquidCombined => "squid_combined",
            Variant::Common => "common",
            Variant::Combined => "combined",
            Variant::VhostCombined => "vhost_combined",
        }
    }

    fn last_field(self) -> &'static str {
        match self {
            Variant::Common => "bytes",
            Variant::Combined | Variant::VhostCombined => "user agent",
            Variant::SquidCommon | Variant::SquidCombined => "%Ss:%Sh",
        }
    }
}

fn re_extract(x: &str, pattern: &str, group: usize) -> String {
    format!("regexp_extract({x}, {}, {group})", lit(pattern))
}

/// A `"..."` field: a backslash escapes the next character, and a quote ends the field only
/// where a space, a tab or the line end follows (Cursor::quoted).
const QUOTED: &str = r#"(?s)^[ \t]*"((?:\\.|"(?![ \t]|\z)|[^"\\])*)"(?=[ \t]|\z)"#;

/// A bare field: the next run of characters that are not spaces or tabs (Cursor::bare).
const BARE: &str = r"(?s)^[ \t]*([^ \t]*)";

/// Adds the columns `{p}_v` (the field's text, escapes resolved), `{p}_ok` and `{p}_err`
/// (the reject when it is not there) for a quoted field read from the text column `r`, at
/// `step`; the text after it is `{next}` at `step + 1`.
fn quoted(st: &mut Steps, step: usize, r: &str, p: &str, what: &str, next: &str) {
    st.at(step, format!("{p}_m"), re_extract(r, QUOTED, 0));
    st.at(step, format!("{p}_raw"), re_extract(r, QUOTED, 1));
    st.at(step + 1, format!("{p}_ok"), format!("({p}_m <> '')"));
    st.at(step + 1, format!("{p}_v"), format!("regexp_replace({p}_raw, {}, '$1')", lit(r#"\\(["\\])"#)));
    st.at(step + 1, next, format!("substr({r}, char_length({p}_m) + 1)"));
    st.at(
        step + 1,
        format!("{p}_err"),
        format!(
            "CASE WHEN {} THEN {} WHEN {} THEN {} ELSE {} END",
            rlike(r, r"^[ \t]*\z"),
            field_missing(what),
            rlike(r, r#"^[ \t]*""#),
            rejection("malformed", lit(&format!("the {what} field has no closing double quote"))),
            rejection("malformed", lit(&format!("the {what} field does not start with a double quote"))),
        ),
    );
}

/// Adds `{p}` (the next bare field of `r`, empty when the line ends) at `step` and the text
/// after it, `{next}`, at `step + 1`.
fn bare(st: &mut Steps, step: usize, r: &str, p: &str, next: &str) {
    st.at(step, p, re_extract(r, BARE, 1));
    st.at(step, format!("{p}_len"), format!("char_length({})", re_extract(r, BARE, 0)));
    st.at(step + 1, next, format!("substr({r}, {p}_len + 1)"));
}

/// The parse of one member of the family.
pub(crate) fn clf(v: Variant) -> FormatSql {
    let mut st = Steps::default();
    let lead = usize::from(v.has_vhost());
    // The leading bare fields: [virtual host,] client, ident, and the rest of the line.
    st.at(0, "f", format!("split(regexp_replace(line, '^[ \\\\t]+', ''), '[ \\\\t]+', {})", 3 + lead));
    if v.has_vhost() {
        st.at(1, "vh", "get(f, 0)");
    }
    st.at(1, "t_client", format!("get(f, {lead})"));
    st.at(1, "t_ident", format!("get(f, {})", lead + 1));
    st.at(1, "rest", format!("coalesce(get(f, {}), '')", lead + 2));

    // The user runs up to the `[dd/` of the time field (at the start or after a space).
    let time_start = r"(?s)^((?:.*?[ \t])?)\[[0-9]{2}/";
    st.at(2, "has_time", rlike("rest", time_start));
    st.at(2, "pre", re_extract("rest", time_start, 1));
    st.at(3, "user_t", "regexp_replace(pre, '^[ \\\\t]+|[ \\\\t]+\\\\z', '')");
    st.at(3, "tp", "substr(rest, char_length(pre) + 1)");
    st.at(4, "tclose", "instr(tp, ']')");
    st.at(5, "t_time", "CASE WHEN tclose > 0 THEN substr(tp, 2, tclose - 2) END");
    st.at(5, "r1", "CASE WHEN tclose > 0 THEN substr(tp, tclose + 1) ELSE '' END");

    // The time, in UTC.
    st.at(6, "ts_micros", clf_micros("t_time"));
    st.at(7, "ts_ok", "(ts_micros IS NOT NULL)");
    st.at(7, "ts_v", "timestamp_micros(ts_micros)");

    // The request line: `METHOD SP target [SP HTTP/x.y]`, or `-`.
    quoted(&mut st, 6, "r1", "q_req", "request", "r2");
    st.at(8, "req_s", "regexp_replace(q_req_v, '^ +| +\\\\z', '')");
    st.at(9, "req_none", "(req_s = '' OR req_s = '-')");
    st.at(9, "req_sp", "instr(req_s, ' ')");
    st.at(10, "req_method", "CASE WHEN req_sp > 0 THEN substr(req_s, 1, req_sp - 1) END");
    st.at(10, "req_after", "CASE WHEN req_sp > 0 THEN substr(req_s, req_sp + 1) END");
    st.at(11, "req_has_proto", "(instr(req_after, ' ') > 0)");
    st.at(11, "req_proto", "substring_index(req_after, ' ', -1)");
    st.at(12, "req_is_version", rlike("req_proto", r"^[Hh][Tt][Tt][Pp]/[0-9][0-9.]*\z"));
    st.at(
        13,
        "req_target_raw",
        "CASE WHEN req_has_proto THEN substr(req_after, 1, char_length(req_after) - char_length(req_proto) - 1) ELSE req_after END",
    );
    st.at(14, "req_target", "nullif(nullif(regexp_replace(req_target_raw, '^ +| +\\\\z', ''), '-'), '')");
    st.at(15, "method_v", "CASE WHEN NOT req_none THEN nullif(nullif(req_method, '-'), '') END");
    st.at(15, "target_v", "CASE WHEN NOT req_none THEN req_target END");
    // `*` (OPTIONS *) and Squid's `error:...` are URLs that are not split.
    st.at(16, "url_in", "CASE WHEN target_v = '*' OR target_v LIKE 'error:%' THEN NULL ELSE target_v END");
    let after_url = url_steps(&mut st, 17, "url_in", "method_v", "u");

    // Status, bytes, [referrer, user agent,] [%Ss:%Sh,] then nothing.
    bare(&mut st, 8, "r2", "t_status", "r3");
    st.at(9, "status_v", int_value("t_status"));
    bare(&mut st, 10, "r3", "t_bytes", "r4");
    let (mut text, mut step) = ("r4", 12);
    if v.has_referrer_and_agent() {
        quoted(&mut st, 12, "r4", "q_ref", "referrer", "r5");
        quoted(&mut st, 14, "r5", "q_ua", "user agent", "r6");
        (text, step) = ("r6", 16);
    }
    if v.is_squid() {
        bare(&mut st, step, text, "t_action", "r_end");
    } else {
        st.at(step + 1, "r_end", text);
    }
    st.at(step + 2, "extra", "regexp_replace(r_end, '^[ \\\\t]+', '')");

    let ip_after = ip_field_steps(&mut st, 2, "t_client", "client");
    let mut last_step = after_url.max(ip_after).max(step + 3);

    // The virtual host and port (vhost_field).
    if v.has_vhost() {
        st.at(2, "vh_br", "(vh LIKE '[%')");
        st.at(2, "vh_be", "instr(vh, ']')");
        st.at(2, "vh_colon", "(instr(vh, ':') > 0)");
        st.at(
            3,
            "vh_host_raw",
            "CASE WHEN vh_br AND vh_be > 0 THEN substr(vh, 2, vh_be - 2) WHEN vh_br THEN vh WHEN vh_colon THEN \
             substr(vh, 1, char_length(vh) - char_length(substring_index(vh, ':', -1)) - 1) ELSE vh END",
        );
        st.at(3, "vh_port_s", "CASE WHEN NOT vh_br AND vh_colon THEN substring_index(vh, ':', -1) END");
        let port_of = |x: &str| format!("CASE WHEN {} AND CAST({x} AS INT) <= 65535 THEN CAST({x} AS INT) END", rlike(x, "^[0-9]{1,5}\\z"));
        st.at(
            4,
            "vh_port",
            format!(
                "CASE WHEN vh_br AND vh_be > 0 AND substr(vh, vh_be + 1) LIKE ':%' THEN {} WHEN vh_br THEN NULL \
                 WHEN vh_port_s IS NULL OR vh_port_s IN ('', '-') THEN NULL ELSE CAST(vh_port_s AS INT) END",
                port_of("substr(vh, vh_be + 2)")
            ),
        );
        st.at(4, "vh_port_n", int_value("vh_port_s"));
        last_step = last_step.max(5);
    }

    let fc = field_missing;
    let mut checks: Vec<(String, String)> = Vec::new();
    if v.has_vhost() {
        checks.extend([
            (missing("vh"), fc("virtual host")),
            ("vh_br AND vh_be > 0 AND vh_be = 2".into(), rejection_quoting("malformed", "'virtual host is empty: '", "vh")),
            (
                format!("NOT vh_br AND vh_port_s IS NOT NULL AND vh_port_s <> '' AND NOT {}", int_ok("vh_port_s")),
                rejection_quoting("bad_number", "'virtual host port is not a number: '", "vh_port_s"),
            ),
            (
                "NOT vh_br AND vh_port_n IS NOT NULL AND NOT vh_port_n BETWEEN 0 AND 65535".into(),
                rejection_quoting("bad_number", "'virtual host port out of range: '", "vh"),
            ),
            ("NOT vh_br AND vh_host_raw = ''".into(), rejection_quoting("malformed", "'virtual host is empty: '", "vh")),
        ]);
    }
    checks.extend([
        (missing("t_client"), fc("client address")),
        ("client_bad".into(), rejection_quoting("bad_ip", "'client address is not an IP address: '", "client_core")),
        (missing("t_ident"), fc("ident")),
        ("NOT has_time AND instr(rest, '[') = 0".into(), fc("time")),
        ("NOT has_time".into(), rejection("malformed", lit("no [dd/Mon/yyyy:HH:MM:SS zone] time field after the user field"))),
        ("user_t = ''".into(), rejection("field_count", lit("line ends before the user field (the time field follows the ident)"))),
        ("tclose = 0".into(), rejection("malformed", lit("the time field has no closing ']'"))),
        ("NOT ts_ok".into(), rejection_quoting("bad_timestamp", "'time is not dd/Mon/yyyy:HH:MM:SS zone: '", "t_time")),
        ("NOT q_req_ok".into(), "q_req_err".into()),
        ("NOT req_none AND req_sp = 0".into(), rejection_quoting("bad_request", "'request line has no target: '", "req_s")),
        (
            format!("NOT req_none AND NOT {}", rlike("req_method", r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+\z")),
            rejection_quoting("bad_request", "'request line does not start with a method: '", "req_s"),
        ),
        (
            "NOT req_none AND req_has_proto AND NOT req_is_version".into(),
            rejection_quoting("bad_request", "'request line does not end with HTTP/x.y: '", "req_s"),
        ),
        (missing("t_status"), fc("status")),
        (format!("NOT {}", int_ok("t_status")), rejection_quoting("bad_number", "'status is not a number: '", "t_status")),
        (
            "NOT (status_v BETWEEN 0 AND 999 OR status_v IS NULL)".into(),
            rejection_quoting("bad_number", "'status out of range: '", "t_status"),
        ),
        (missing("t_bytes"), fc("bytes")),
    ]);
    let bytes_dash_is_zero = !v.is_squid();
    checks.push((
        format!("NOT ({} {})", if bytes_dash_is_zero { "t_bytes = '-' OR" } else { "" }, int_ok("t_bytes")),
        rejection_quoting("bad_number", "'bytes is not a number: '", "t_bytes"),
    ));
    if v.has_referrer_and_agent() {
        checks.push(("NOT q_ref_ok".into(), "q_ref_err".into()));
        checks.push(("NOT q_ua_ok".into(), "q_ua_err".into()));
    }
    if v.is_squid() {
        checks.push((missing("t_action"), fc("%Ss:%Sh")));
    }
    let hint = if v == Variant::Common {
        "CASE WHEN extra LIKE '\"%' THEN ' (a combined line? use format \"combined\")' ELSE '' END"
    } else {
        "''"
    };
    checks.push((
        "extra <> ''".into(),
        rejection_quoting("field_count", format!("concat('unexpected text after the {} field', {hint}, ': ')", v.last_field()), "extra"),
    ));
    st.at(last_step, "parse_rej", first_reject(checks));
    st.at(last_step, "parse_skip", "FALSE");

    let (host, port) = if v.has_vhost() {
        (
            format!("CASE WHEN u_host IS NULL THEN {} ELSE u_host END", ascii_lower("regexp_replace(vh_host_raw, '\\\\.\\\\z', '')")),
            "CASE WHEN u_host IS NULL THEN vh_port ELSE u_port END".to_string(),
        )
    } else {
        ("u_host".to_string(), "u_port".to_string())
    };
    let response_bytes = if bytes_dash_is_zero {
        format!("CASE WHEN t_bytes = '-' THEN CAST(0 AS BIGINT) ELSE {} END", int_value("t_bytes"))
    } else {
        int_value("t_bytes")
    };
    let (agent, referrer) = if v.has_referrer_and_agent() {
        (dash_none("q_ua_v"), dash_none("q_ref_v"))
    } else {
        ("CAST(NULL AS STRING)".to_string(), "CAST(NULL AS STRING)".to_string())
    };
    let action = if v.is_squid() { dash_none("substring_index(t_action, ':', 1)") } else { "CAST(NULL AS STRING)".to_string() };
    let columns: [(&str, String); 20] = [
        ("ts", "ts_v".into()),
        ("client_ip", "client_ip".into()),
        ("user", dash_none("user_t")),
        ("method", "method_v".into()),
        ("url", "target_v".into()),
        ("scheme", "u_scheme".into()),
        ("host", host),
        ("port", port),
        ("path", "u_path".into()),
        ("query", "u_query".into()),
        ("status", "CAST(status_v AS INT)".into()),
        ("request_bytes", "CAST(NULL AS BIGINT)".into()),
        ("response_bytes", response_bytes),
        ("duration_ms", "CAST(NULL AS BIGINT)".into()),
        ("user_agent", agent),
        ("referrer", referrer),
        ("content_type", "CAST(NULL AS STRING)".into()),
        ("proxy_action", action),
        ("server_ip", "CAST(NULL AS STRING)".into()),
        ("category", "CAST(NULL AS STRING)".into()),
    ];
    for (name, expr) in columns {
        st.at(last_step, format!("e_{name}"), expr);
    }
    FormatSql { name: v.name(), steps: st }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sweep_formats::{FormatSpec, Outcome, Record};

    use super::*;
    use crate::event_columns;
    use crate::formats::shape;

    const VARIANTS: [Variant; 5] =
        [Variant::Common, Variant::Combined, Variant::VhostCombined, Variant::SquidCommon, Variant::SquidCombined];

    fn spec(v: Variant) -> FormatSpec {
        match v {
            Variant::Common => FormatSpec::Common,
            Variant::Combined => FormatSpec::Combined,
            Variant::VhostCombined => FormatSpec::VhostCombined,
            Variant::SquidCommon => FormatSpec::SquidCommon,
            Variant::SquidCombined => FormatSpec::SquidCombined,
        }
    }

    #[test]
    fn fills_every_event_column_in_order_and_stays_small() {
        for v in VARIANTS {
            let sql = clf(v);
            assert_eq!(sql.name, spec(v).name());
            assert_eq!(shape::filled(&sql), event_columns(), "{}", sql.name);
            let text = sql.steps.over("lines");
            assert!(text.len() < 40_000, "{}: {} bytes", sql.name, text.len());
        }
    }

    const TIME: &str = "10/Oct/2000:13:55:36 -0700";
    const REQUEST: &str = r#""GET http://www.example.com/ HTTP/1.0""#;
    const REFERRER_AND_AGENT: &str = r#" "-" "Mozilla/5.0""#;

    /// A line of the variant: the virtual host (for `vhost_combined`), the client, `-` for
    /// the ident, then `after_ident`.
    fn line(v: Variant, vhost: &str, client: &str, after_ident: &str) -> String {
        let vhost = if v.has_vhost() { format!("{vhost} ") } else { String::new() };
        format!("{vhost}{client} - {after_ident}")
    }

    /// The fields of a line of the variant from the user to the end.
    fn after_ident(v: Variant, time: &str, request: &str, status: &str, bytes: &str) -> String {
        let referrer_and_agent = if v.has_referrer_and_agent() { REFERRER_AND_AGENT } else { "" };
        let action = if v.is_squid() { " TCP_MISS:HIER_DIRECT" } else { "" };
        format!("frank [{time}] {request} {status} {bytes}{referrer_and_agent}{action}")
    }

    /// Lines the variant's embedded parser rejects: every reason it gives, and most of its
    /// checks (not text after the last field, whose detail the SQL puts together from pieces).
    fn rejected_lines(v: Variant) -> Vec<String> {
        let host = "www.example.com:443";
        let fields = |time: &str, request: &str, status: &str, bytes: &str| {
            line(v, host, "127.0.0.1", &after_ident(v, time, request, status, bytes))
        };
        let good = after_ident(v, TIME, REQUEST, "200", "2326");
        let mut lines = vec![
            String::new(),
            line(v, host, "host.local", &good),
            line(v, host, "127.0.0.1", ""),
            line(v, host, "127.0.0.1", "frank [x"),
            line(v, host, "127.0.0.1", good.trim_start_matches("frank ")),
            line(v, host, "127.0.0.1", &format!("frank [{TIME}")),
            fields("10/Foo/2000:13:55:36 -0700", REQUEST, "200", "2326"),
            fields(TIME, "GET / HTTP/1.0", "200", "2326"),
            fields(TIME, r#""GET / HTTP/1.0"#, "200", "2326"),
            fields(TIME, r#""GET""#, "200", "2326"),
            fields(TIME, r#""G(T / HTTP/1.0""#, "200", "2326"),
            fields(TIME, r#""GET / FTP/1.0""#, "200", "2326"),
            fields(TIME, REQUEST, "2x0", "2326"),
            fields(TIME, REQUEST, "1000", "2326"),
            fields(TIME, REQUEST, "200", "many"),
        ];
        // Lines that end before the bytes, and before each field after them.
        lines.push(line(v, host, "127.0.0.1", &format!("frank [{TIME}] {REQUEST} 200")));
        if v.has_referrer_and_agent() {
            lines.push(line(v, host, "127.0.0.1", &format!("frank [{TIME}] {REQUEST} 200 2326")));
            lines.push(line(v, host, "127.0.0.1", &format!(r#"frank [{TIME}] {REQUEST} 200 2326 "-""#)));
        }
        if v.is_squid() {
            let referrer_and_agent = if v.has_referrer_and_agent() { REFERRER_AND_AGENT } else { "" };
            lines.push(line(v, host, "127.0.0.1", &format!("frank [{TIME}] {REQUEST} 200 2326{referrer_and_agent}")));
        }
        if v.has_vhost() {
            for vhost in ["[]:80", ":80", "www.example.com:x8", "www.example.com:99999"] {
                lines.push(line(v, vhost, "127.0.0.1", &good));
            }
        }
        lines
    }

    #[test]
    fn rejects_for_the_embedded_parsers_reasons_in_its_words() {
        for v in VARIANTS {
            let good = line(v, "www.example.com:443", "127.0.0.1", &after_ident(v, TIME, REQUEST, "200", "2326"));
            let outcome = spec(v).build().unwrap().parse(&good, &mut Record::default());
            assert_eq!(outcome, Outcome::Event, "{good:?} is the line the rejected ones are made from");

            let sql = clf(v).steps.over("lines");
            let lines = rejected_lines(v);
            let rejects = shape::embedded_rejects(&spec(v), &lines);
            let reasons: BTreeSet<String> = rejects.iter().map(|(reason, _)| reason.to_string()).collect();
            assert_eq!(shape::reasons_in(&sql), reasons, "{v:?}: the SQL's reject reasons are the embedded parser's");
            for (line, (reason, detail)) in lines.iter().zip(&rejects) {
                let words = shape::detail_words(detail);
                assert!(
                    !words.is_empty() && sql.contains(&lit(words)),
                    "{v:?} {line:?}: the SQL does not write the {reason} detail {words:?}"
                );
            }
        }
    }
}

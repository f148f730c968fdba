//! Squid native as Spark SQL (mirrors sweep_formats::formats::squid).

use crate::FormatSql;
use crate::fields::{dash_none, field_missing, int_ok, int_value, ip_field_steps, lit, missing, rlike, trim_trailing_space};
use crate::reject::{rejection, rejection_quoting};
use crate::steps::Steps;
use crate::url::url_steps;

/// Squid native (sweep_formats::formats::squid): `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`.
pub(crate) fn squid() -> FormatSql {
    let mut st = Steps::default();
    st.at(0, "f", "split(TRIM(LEADING ' \\t' FROM line), '[ \\\\t]+', 8)");
    for (i, name) in ["t_ts", "t_el", "t_client", "t_code", "t_size", "t_method", "t_url"].iter().enumerate() {
        st.at(1, *name, format!("get(f, {i})"));
    }
    // The rest: user (may hold spaces), hierarchy/peer, MIME type, optional `[headers]`.
    st.at(1, "rest0", trim_trailing_space("coalesce(get(f, 7), '')"));
    st.at(
        2,
        "rest",
        format!("CASE WHEN instr(rest0, ' [') > 0 THEN {} ELSE rest0 END", trim_trailing_space("substr(rest0, 1, instr(rest0, ' [') - 1)")),
    );
    st.at(2, "status_s", "substr(t_code, instr(t_code, '/') + 1)");
    st.at(2, "url_v", "CASE WHEN t_url <> '-' THEN t_url END");
    st.at(2, "method_v", dash_none("t_method"));
    // The last field of a text (tabs made spaces, which the last field holds none of) and
    // what comes before it.
    let last_field = |x: &str| format!("substring_index(translate({x}, '\\t', ' '), ' ', -1)");
    let before_last = |x: &str, last: &str| format!("substr({x}, 1, char_length({x}) - char_length({last}) - 1)");
    let has_blank = |x: &str| format!("(instr({x}, ' ') > 0 OR instr({x}, '\\t') > 0)");
    st.at(3, "has_rest", has_blank("rest"));
    st.at(3, "mime_s", last_field("rest"));
    st.at(3, "status_v", int_value("status_s"));
    st.at(4, "bm", format!("CASE WHEN has_rest THEN {} ELSE '' END", trim_trailing_space(&before_last("rest", "mime_s"))));
    st.at(5, "has_bm", has_blank("bm"));
    st.at(5, "hier", format!("CASE WHEN has_bm THEN {} ELSE '' END", last_field("bm")));
    st.at(6, "user_s", format!("CASE WHEN has_bm THEN {} ELSE '' END", before_last("bm", "hier")));
    st.at(6, "peer", "substr(hier, instr(hier, '/') + 1)");
    let after_ip = ip_field_steps(&mut st, 7, "t_client", "client").max(ip_field_steps(&mut st, 7, "peer", "peer"));
    let after_url = url_steps(&mut st, 6, "url_v", "method_v", "u");
    let last_step = after_ip.max(after_url);

    let fc = field_missing;
    let checks: Vec<(String, String)> = vec![
        (missing("t_ts"), fc("timestamp")),
        (
            format!("NOT {}", rlike("t_ts", "^[0-9]{1,12}(\\.[0-9]+)?\\z")),
            rejection_quoting("bad_timestamp", "'not epoch seconds: '", "t_ts"),
        ),
        (missing("t_el"), fc("elapsed")),
        (format!("NOT {}", int_ok("t_el")), rejection_quoting("bad_number", "'elapsed is not a number: '", "t_el")),
        (missing("t_client"), fc("client address")),
        ("client_bad".into(), rejection_quoting("bad_ip", "'client address is not an IP address: '", "client_core")),
        (missing("t_code"), fc("result code")),
        ("instr(t_code, '/') = 0".into(), rejection_quoting("malformed", "'result code is not ACTION/STATUS: '", "t_code")),
        (format!("NOT {}", int_ok("status_s")), rejection_quoting("bad_number", "'status is not a number: '", "status_s")),
        (
            "NOT (status_v BETWEEN 0 AND 999 OR status_v IS NULL)".into(),
            rejection_quoting("bad_number", "'status out of range: '", "status_s"),
        ),
        (missing("t_size"), fc("reply size")),
        (format!("NOT {}", int_ok("t_size")), rejection_quoting("bad_number", "'reply size is not a number: '", "t_size")),
        (missing("t_method"), fc("method")),
        (missing("t_url"), fc("URL")),
        ("NOT has_rest".into(), rejection("field_count", lit("line ends before the hierarchy and MIME type fields"))),
        ("NOT has_bm".into(), rejection("field_count", lit("line ends before the user, hierarchy or MIME type field"))),
        ("instr(hier, '/') = 0".into(), rejection_quoting("malformed", "'hierarchy is not CODE/PEER: '", "hier")),
    ];
    let whens: Vec<String> = checks.into_iter().map(|(cond, rej)| format!("WHEN {cond} THEN {rej}")).collect();
    st.at(last_step, "parse_rej", format!("CASE {} END", whens.join(" ")));
    st.at(last_step, "parse_skip", "FALSE");
    let frac = "rpad(substr(coalesce(get(split(t_ts, '\\\\.'), 1), ''), 1, 6), 6, '0')";
    let columns: [(&str, String); 20] = [
        ("ts", format!("timestamp_micros(CAST(get(split(t_ts, '\\\\.'), 0) AS BIGINT) * 1000000 + CAST({frac} AS BIGINT))")),
        ("client_ip", "client_ip".into()),
        ("user", dash_none("trim(user_s)")),
        ("method", "method_v".into()),
        ("url", "url_v".into()),
        ("scheme", "u_scheme".into()),
        ("host", "u_host".into()),
        ("port", "u_port".into()),
        ("path", "u_path".into()),
        ("query", "u_query".into()),
        ("status", "CAST(status_v AS INT)".into()),
        ("request_bytes", "CAST(NULL AS BIGINT)".into()),
        ("response_bytes", int_value("t_size")),
        ("duration_ms", int_value("t_el")),
        ("user_agent", "CAST(NULL AS STRING)".into()),
        ("referrer", "CAST(NULL AS STRING)".into()),
        ("content_type", dash_none("mime_s")),
        ("proxy_action", dash_none("substring_index(t_code, '/', 1)")),
        ("server_ip", "CASE WHEN NOT peer_bad THEN peer_ip END".into()),
        ("category", "CAST(NULL AS STRING)".into()),
    ];
    for (name, expr) in columns {
        st.at(last_step, format!("e_{name}"), expr);
    }
    FormatSql { name: "squid", steps: st }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sweep_formats::FormatSpec;

    use super::*;
    use crate::event_columns;
    use crate::formats::shape;

    #[test]
    fn squid_fills_every_event_column() {
        let steps = squid().steps;
        let filled: Vec<&str> = steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_")).collect();
        assert_eq!(filled, event_columns(), "the squid SQL must fill the events table's columns, in order");
    }

    /// Lines the embedded parser rejects: every reason it gives, and most of its checks.
    const REJECTED: [&str; 11] = [
        "1.0",
        "yesterday 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 soon 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 host.local TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 10.0.0.1 TCP_MISS 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 10.0.0.1 TCP_MISS/2x0 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 10.0.0.1 TCP_MISS/1000 1 GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 10.0.0.1 TCP_MISS/200 big GET http://a/ - DIRECT/1.2.3.4 -",
        "1.0 1 10.0.0.1 TCP_MISS/200 1 GET",
        "1.0 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ -",
        "1.0 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT -",
    ];

    #[test]
    fn rejects_for_the_embedded_parsers_reasons_in_its_words() {
        let sql = squid().steps.over("lines");
        let lines: Vec<String> = REJECTED.iter().map(|l| l.to_string()).collect();
        let rejects = shape::embedded_rejects(&FormatSpec::Squid, &lines);
        let reasons: BTreeSet<String> = rejects.iter().map(|(reason, _)| reason.to_string()).collect();
        assert_eq!(shape::reasons_in(&sql), reasons, "the SQL's reject reasons are the embedded parser's");
        for (line, (reason, detail)) in REJECTED.iter().zip(&rejects) {
            let words = shape::detail_words(detail);
            assert!(!words.is_empty() && sql.contains(&lit(words)), "{line:?}: the SQL does not write the {reason} detail {words:?}");
        }
    }
}

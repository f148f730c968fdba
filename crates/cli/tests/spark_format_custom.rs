//! Differential tests of the `custom` format (a user-defined pattern): the same pipeline on
//! the embedded engine and on a real Spark Connect server must write the same events and
//! rejects, row by row, reject details included. Each pattern comes with edge lines for
//! every branch of the embedded parser (crates/transform/src/formats/custom.rs) and every
//! reject it makes, and the Squid and Apache patterns also read the real logs in
//! shared/data/logs. Without SWEEP_SPARK_REMOTE these tests say so and return, unless
//! SWEEP_REQUIRE_SPARK=1.

mod support;

use std::path::{Path, PathBuf};

use support::spark::{assert_same_parse, remote};

const SQUID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");
const APACHE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/apache-combined-semicomplete.log");

/// Squid's native layout written as a pattern (docs/formats/custom.md, example 1).
const SQUID_PATTERN: &str = "{ts:epoch} {duration_ms} {client_ip} {proxy_action}/{status} {response_bytes} {method} {url} {user} {_}/{server_ip:lenient} {content_type}";

/// Writes `lines` to `dir/name` and returns its path.
fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// The format as a TOML inline table (a literal string: patterns hold `"` and `\`).
fn format_toml(pattern: &str) -> String {
    assert!(!pattern.contains('\''), "{pattern}");
    format!("{{ name = \"custom\", pattern = '{pattern}' }}")
}

/// Runs `pattern` over `inputs` on both engines and checks that the run read at least
/// `events` events and `rejects` rejects, with at least `reasons` reject reasons.
fn same_parse(label: &str, pattern: &str, inputs: &[&Path], events: u64, rejects: u64, reasons: usize) {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let both = assert_same_parse(dir.path(), label, &remote, &format_toml(pattern), inputs);
    let s = &both.embedded_summary;
    assert!(s["events"].as_u64().unwrap() >= events, "{label}: {} events", s["events"]);
    assert!(s["rejects"].as_u64().unwrap() >= rejects, "{label}: {} rejects ({})", s["rejects"], s["reject_reasons"]);
    let kinds = s["reject_reasons"].as_object().map_or(0, |m| m.len());
    assert!(kinds >= reasons, "{label}: reject reasons {}", s["reject_reasons"]);
}

fn squid_lines() -> Vec<String> {
    let line = |ts: &str, client: &str, code: &str, size: &str, method: &str, url: &str, user: &str, peer: &str, mime: &str| {
        format!("{ts}    120 {client} {code} {size} {method} {url} {user} {peer} {mime}")
    };
    let mut l = vec![
        "1286536309.450    453 192.168.1.23 TCP_MISS/200 5109 GET http://www.example.com/index.html - HIER_DIRECT/93.184.216.34 text/html"
            .to_string(),
        // Spaces and tabs around the line and between the fields.
        " \t1286536309.450 \t 453\t192.168.1.23 TCP_MISS/200 5109 GET http://www.example.com/ - HIER_DIRECT/93.184.216.34 text/html \t"
            .to_string(),
        "1700000000.001      0 10.0.0.5 TCP_DENIED/407 3944 CONNECT login.live.com:443 - FIRST_PARENT_MISS/proxy2 -".to_string(),
        line(
            "1700000001",
            "2001:DB8:0:0:0:0:0:1",
            "TCP_MISS/000",
            "-",
            "GET",
            "https://Host.Example.COM.:8443/a/b?q#frag",
            "alice",
            "HIER_NONE/-",
            "-",
        ),
        line(
            "1700000002.5",
            "::ffff:10.1.2.3",
            "TCP_HIT/304",
            "0",
            "get",
            "/index.html?x=1",
            "ü",
            "HIER_DIRECT/2001:DB8::0:1",
            "image/png",
        ),
        line("1700000003", "[2001:db8::9]", "TCP_MISS/200", "+12", "OPTIONS", "*", "-", "HIER_DIRECT/[10.0.0.9]", "text/plain"),
        line("1700000004", "[[10.0.0.1]]", "TCP_MISS/200", "-0", "GET", "ftp://bob:pw@Files.Example.org/x", "-", "HIER_DIRECT/::1", "a/b"),
        line("1700000005", "[-]", "TCP_MISS/-", "1", "-", "-", "-", "/10.0.0.2", "-"),
        line("1700000006", "-", "/200", "1", "GET", "http://ä.example/é?ö", "-", "HIER_DIRECT/1:2:3:4:5:6:7:8", "-"),
        line(
            "1700000007",
            "2001:db8:0:0:1:0:0:1",
            "TCP_MISS/200",
            "1",
            "GET",
            "http://[2001:DB8::1]:8080/p",
            "-",
            "HIER_DIRECT/2001:DB8:0:0:1:0:0:1",
            "-",
        ),
        line("1700000008", "10.0.0.8", "TCP_MISS/200", "1", "GET", "http://a.example", "-", "HIER_DIRECT/2001:DB8:0:1:0:0:0:1", "-"),
        line("1700000009", "10.0.0.8", "TCP_MISS/200", "1", "GET", "http://a.example", "-", "HIER_DIRECT/0:0:0:0:0:0:0:0", "-"),
        line("1700000010", "10.0.0.8", "TCP_MISS/200", "1", "GET", "http://a.example", "-", "HIER_DIRECT/0:0:0:0:0:0:0:AB", "-"),
        // log_mime_hdrs: the last placeholder reads to the end of the line.
        line(
            "1700000011",
            "10.0.0.8",
            "TCP_MISS/200",
            "1",
            "GET",
            "http://a/",
            "-",
            "HIER_DIRECT/1.2.3.4",
            "text/html [Host: a\\r\\n] [HTTP/1.1 200]",
        ),
        // Status and action split at the first `/`: `A/B/200` is action `A`, status `B/200` (a reject).
        line("1700000012", "10.0.0.8", "TCP_MISS/200", "1", "GET", "http://a/", "-", "DIRECT/proxy/2", "-"),
        // Rejects.
        line("yesterday", "10.0.0.1", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.2.3", "10.0.0.1", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1234567890123.5", "10.0.0.1", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "host.local", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "2001:db8::g", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "[x]", "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", &"é".repeat(40), "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", &format!("x{}", "€".repeat(30)), "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "10.0.0.1", "TCP_MISS:200", "5109", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "10.0.0.1", "TCP_MISS/1000", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "10.0.0.1", "TCP_MISS/2x", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "10.0.0.1", "TCP_MISS/200", "1234567890123456789", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        line("1.0", "10.0.0.1", "TCP_MISS/200", "x", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"),
        "1.0 12x 10.0.0.1 TCP_MISS/200 1 GET http://a/ - HIER_DIRECT/1.2.3.4 -".into(),
        "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET".into(),
        "1286536309.450".into(),
        "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT".into(),
        "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT/".into(),
        "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT/1.2.3.4".into(),
        "1286536309.450 453 192.168.1.23 TCP_MISS".into(),
    ];
    // A long value is cut at 64 bytes in the detail, on a character boundary.
    l.push(line("1.0", &format!("{}ab", "x".repeat(70)), "TCP_MISS/200", "1", "GET", "http://a/", "-", "HIER_DIRECT/1.2.3.4", "-"));
    l
}

#[test]
fn squid_pattern_reads_the_squid_log_and_every_edge_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let edge = write_lines(dir.path(), "squid-edge.log", &squid_lines());
    same_parse("squid", SQUID_PATTERN, &[&edge, Path::new(SQUID)], 100, 18, 4);
}

fn combined_lines() -> Vec<String> {
    let line = |head: &str, request: &str, tail: &str| format!(r#"{head} "{request}" {tail}"#);
    let head = "192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700]";
    let tail = r#"200 2326 "http://ref.example/" "Mozilla/4.08 [en] (Win98)""#;
    vec![
        line(head, "GET /a.gif?x=1 HTTP/1.0", r#"200 2326 "http://ref.example/" "Mozilla/4.08 [en] \"quoted\" (Win98)""#),
        line("192.0.2.1 - - [10/Oct/2000:13:55:36 -0700]", "-", r#"400 0 "-" "a "b" c""#),
        line("192.0.2.1 - - [10/Oct/2000:13:55:36]", "GET / HTTP/1.1", r#"200 5 "" """#),
        line("::1 - - [29/Feb/2024:23:59:60 +05:30]", "GET /a b HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36.250 Z]", "OPTIONS *", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", r#"GET /\"q\" HTTP/1.0"#, tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "CONNECT Login.Example:443 HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET http://Evil.Example:8080/a?b=1 HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", " get \t /x  HTTP/1.1 ", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET - HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET /x FOO/1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET /x http/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", r"GET /a\\b\x41 HTTP/1.1", r#"200 1 "\"-\"" "x\\""#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET /x HTTP/1.1", r#"200 1 "r" "ua" "#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET /x HTTP/1.1", r#"200 1 "a" b" "ua""#),
        // Rejects.
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", r"\x16\x03\x01", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", r"\x16\x03\x01 x", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "G(T / HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "  ", tail),
        line("10.0.0.1 - - [10/Foo/2000:13:55:36 -0700]", "GET / HTTP/1.1", tail),
        line("10.0.0.1 - - [31/Feb/2000:13:55:36 -0700]", "GET / HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 +2400]", "GET / HTTP/1.1", tail),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", r#"abc 1 "r" "ua""#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", r#"200 - "r" "ua" extra"#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", r#"200 1 "r" ua"#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", r#"200 1 "r" "ua\"#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", r#"200 1 "r"x"ua""#),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", "200 1"),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700> \"GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
        "10.0.0.1 - - 10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
        "10.0.0.1 - -[10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]x\"GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1 200 1".into(),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"".into(),
        "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]".into(),
        "10.0.0.1 - - [".into(),
        "10.0.0.1 - frank".into(),
        "host.example - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"r\" \"ua\"".into(),
    ]
}

#[test]
fn a_combined_pattern_with_quoted_values_reads_apache_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let edge = write_lines(dir.path(), "combined-edge.log", &combined_lines());
    let pattern = r#"{client_ip} {_} {user} [{ts:clf}] "{request}" {status} {response_bytes} "{referrer}" "{user_agent}""#;
    same_parse("combined", pattern, &[&edge, Path::new(APACHE)], 9_000, 20, 5);
}

#[test]
fn date_time_request_and_separate_url_parts_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let ok = "2005-04-12 21:03:45";
    let line = |dt: &str, host: &str, client: &str, request: &str, status: &str, us: &str, port: &str, query: &str, rest: &str| {
        format!(r#"{dt} {host} {client} "{request}" {status} {us} {port} {query} {rest}"#)
    };
    let lines: Vec<String> = vec![
        line(ok, "Www.Example.COM.", "10.0.0.1", "GET /a?b HTTP/1.1", "200", "1500", "8080", "?x=1", "12 https:/p"),
        line(ok, "www.example.com", "10.0.0.1", "GET http://Other.Example:81/a?b HTTP/1.1", "200", "499", "-", "-", "- -:-"),
        line(ok, "-", "not-an-ip", "GET http://Other.Example/a?b HTTP/1.1", "200", "500", "+80", "?", "0 :/"),
        line(ok, "-", "-", "GET http://Other.Example/a?b HTTP/1.1", "200", "500", "-", "?", "0 :"),
        line(ok, "h.example", "10.0.0.1", "-", "-", "-1500", "443", "q", "1 ftp:/p?x"),
        line(ok, "h.example", "[::FFFF:1.2.3.4]", "OPTIONS *", "200", "-501", "1", "q", "1 http:/p"),
        line("2024-02-29 23:59:60", "h.example", "10.0.0.1", "CONNECT a.example:8443", "200", "+2", "-", "-", "- -:-"),
        line("2024-02-29 00:00:00,123456789", "h.example", "10.0.0.1", "CONNECT a.example", "200", "0", "-", "-", "- -:-"),
        // Rejects: the trailing text is checked before {date} {time}.
        line("2005-04-32 21:03:45", "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "-", "-", "- -:- extra"),
        line("2005-04-32 21:03:45", "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "-", "-", "- -:-"),
        line("2005-04-12 21:03", "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "-", "-", "- -:-"),
        line("- -", "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "-", "-", "- -:-"),
        line(ok, "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "70000", "-", "- -:-"),
        line(ok, "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "8o", "-", "- -:-"),
        line(ok, "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1.5", "1", "-", "- -:-"),
        line(ok, "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "1", "-", "x -:-"),
        line(ok, "h", "10.0.0.1", "GET / HTTP/1.1", "200", "1", "1", "-", "1 -"),
        line(ok, "h", "10.0.0.1", "/x", "200", "1", "1", "-", "1 -:-"),
    ];
    let edge = write_lines(dir.path(), "date-time.log", &lines);
    let pattern =
        r#"{date} {time} {host} {client_ip:lenient} "{request}" {status} {duration_ms:us} {port} {query} {request_bytes} {scheme}:{path}"#;
    same_parse("date-time", pattern, &[&edge], 7, 11, 5);
}

#[test]
fn times_of_several_words_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let auto: Vec<String> = [
        "2022-06-20 15:29:11 10.0.0.1 GET http://a.example/",
        "2022-06-20T15:29:11.5+02:00 10.0.0.1 GET /x",
        "2022-06-20 15:29:11Z 10.0.0.1 GET /x",
        "1198298239.740 10.0.0.1 CONNECT a.example",
        "1198298239 10.0.0.1 GET -",
        "1198298239740 10.0.0.1 GET -",
        "1198298239740123 10.0.0.1 GET -",
        "1198298239740123456 10.0.0.1 GET -",
        "11982982397401234567 10.0.0.1 GET -",
        "000000000001 10.0.0.1 GET -",
        "119829823974.5 10.0.0.1 GET -",
        "1198298239740.25 10.0.0.1 GET -",
        "1198298239740123.7 10.0.0.1 GET -",
        "99999999999999999999999 10.0.0.1 GET -",
        "22/Dec/2007:05:37:19 +0100 10.0.0.1 GET -",
        "22/Dec/2007:05:37:19 10.0.0.1 GET -",
        "Sat Dec 22 04:37:19 2007 10.0.0.1 GET -",
        "Dec 22 04:37:19 2007 10.0.0.1 GET -",
        "Dec  2 04:37:19 2007\t10.0.0.1 GET -",
        // Rejects.
        "Sat Dec 22 04:37:19 10.0.0.1 GET -",
        "yesterday 10.0.0.1 GET -",
        "2022-06-20 25:29:11 10.0.0.1 GET -",
        "1e9 10.0.0.1 GET -",
        "2022-06-20 15:29:11",
        "1198298239.740",
        "Sat Dec 22 04:37:19 2007",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ctime: Vec<String> = [
        "Mon Jun 20 15:29:11 2022 10.1.1.1 http://a.example/",
        "Jun  2 05:09:01 2022 10.1.1.1 http://a.example/",
        "Mon\tJun 20 15:29:11.250 2022 10.1.1.1 http://a.example/",
        "Mon Jun 20 15:29:11 2022 2022 http://a.example/",
        "Mon Jun 20 15:29:11 10.1.1.1 http://a.example/",
        "Mon Jun 20 15:29:11",
        "Mon Jun 31 15:29:11 2022 10.1.1.1 http://a.example/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let iso: Vec<String> = [
        "2024-03-05T14:22:31.5Z 10.0.0.7 WWW.Example.com GET /x?y 200 0.1234",
        "2024-03-05 14:22:31 10.0.0.7 h.example GET http://a/ 200 5.",
        "2024-03-05 14:22:31+01:00 10.0.0.7 h.example GET http://a/ 200 .5",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 0.0005",
        "2024-03-05 10.0.0.7 h.example GET http://a/ 200 1",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 -",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 1e3",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 1.2.3",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 .",
        "2024-03-05T14:22:31 10.0.0.7 h.example GET http://a/ 200 99999999999999999",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let clf: Vec<String> = [
        "10/Oct/2000:13:55:36 -0700 10.0.0.1",
        "10/Oct/2000:13:55:36 10.0.0.1",
        "10/Oct/2000:13:55:36  -0700 10.0.0.1",
        "10/Oct/2000:13:55:36 -0700",
        "10/Oct/2000:13:55:36 -0700 10.0.0.1 x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A literal first and last, and a time after a literal that starts with a space.
    let brackets: Vec<String> = [
        "<2022-06-20 15:29:11 10.0.0.1>",
        "<Sat Dec 22 04:37:19 2007 10.0.0.1>",
        " \t<1198298239 10.0.0.1> ",
        "< 2022-06-20 15:29:11 10.0.0.1>",
        "  1198298239 10.0.0.1>",
        "<1198298239 10.0.0.1",
        "<1198298239",
        "<1198298239 10.0.0.1> x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = |label: &str, pattern: &str, lines: &[String], events: u64, rejects: u64, reasons: usize| {
        let edge = write_lines(dir.path(), &format!("{label}.log"), lines);
        same_parse(label, pattern, &[&edge], events, rejects, reasons);
    };
    run("auto", "{ts} {client_ip} {method} {url}", &auto, 18, 5, 2);
    run("ctime", "{ts:ctime} {client_ip} {url}", &ctime, 3, 3, 2);
    run("iso", "{ts:iso8601} {client_ip} {host} {method} {url} {status} {duration_ms:s}", &iso, 5, 5, 2);
    run("clf", "{ts:clf} {client_ip}", &clf, 2, 2, 2);
    run("brackets", "<{ts} {client_ip}>", &brackets, 3, 5, 3);
}

#[test]
fn literals_braces_and_quoted_values_between_literals_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let braces: Vec<String> = [
        r#"1700000000123 {404} x-y "ua "q" \"z\"";rt=0.5 é/p?qé [a b]"#,
        r#"  1700000000123.4 {-} xy "";rt=- é-é [] "#,
        r#"1700000000123 {200} x-y "a";rt=b";rt=5 é/é [1]"#,
        r#"1700000000123 {200} x-y "a\";rt=b";rt=5 é/é [1]"#,
        // Rejects.
        r#"1700000000123.4.5 {200} x-y "a";rt=1 é/é [1]"#,
        r#"1700000000123 [200] x-y "a";rt=1 é/é [1]"#,
        r#"1700000000123 {200 x-y "a";rt=1 é/é [1]"#,
        r#"1700000000123 {200} x-y "a" ;rt=1 é/é [1]"#,
        r#"1700000000123 {200} x-y "a";rt=1 e/é [1]"#,
        r#"1700000000123 {200} x-y "a";rt=1 é/é [1] tail"#,
        r#"1700000000123 {200} x-y "a";rt=1 é/é [1"#,
        r#"1700000000123 {200} x-y "a";rt=1 é/é"#,
        r#"1700000000123 {200} x-y "a";rt=1 é/é "#,
        r#"1700000000123 {200} x-y"#,
        r#"1700000000123 {200} xy"#,
        r#"1700000000123 {200} x"#,
        r#"1700000000123 {2000} x-y "a";rt=1 é/é [1]"#,
        r#"1700000000123 {200}x-y "a";rt=1 é/é [1]"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let edge = write_lines(dir.path(), "braces.log", &braces);
    let pattern = r#"{ts:epoch_ms} {{{status}}} x{category}y "{user_agent}";rt={duration_ms:s} é{url}é [{_}]"#;
    same_parse("braces", pattern, &[&edge], 3, 15, 4);

    // docs/formats/custom.md, example 3 (Traefik's CLF): three placeholders between quotes,
    // a literal after the last one, and a quoted value followed by a placeholder.
    let traefik: Vec<String> = [
        r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /api/v1/items HTTP/2.0" 200 1534 "-" "curl/8.5.0" 42 "api@docker" "http://Backend.Internal:8080" 12ms"#,
        r#"10.0.0.7 - bob [05/Mar/2024:14:22:31 +0000] "POST /x HTTP/1.1" 201 0 "https://r.example/" "a b" 1 "r" "-" 0ms"#,
        r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /x HTTP/1.1" 200 1 "-" "c" 1 "r" "h" 12"#,
        r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /x" 200 1 "-" "c" 1 "r" "h" 1ms"#,
        r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /x HTTP/1.1" 200 1 "-" "c" 1 "r" "h" xms"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let edge = write_lines(dir.path(), "traefik.log", &traefik);
    let pattern = r#"{client_ip} - {user} [{ts:clf}] "{method} {path} {_}" {status} {response_bytes} "{referrer}" "{user_agent}" {_} "{_}" "{host}" {duration_ms}ms"#;
    same_parse("traefik", pattern, &[&edge], 2, 3, 2);
}

#[test]
fn many_space_separated_placeholders_as_embedded_does() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = format!("{{ts:epoch}} {} {{client_ip}} {{status}}", vec!["{_}"; 40].join(" "));
    let words = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(" \t ");
    let lines = vec![
        format!("1.5 {} 10.0.0.1 200", words(40)),
        format!("  1.5   {}\t[::1] -  ", words(40)),
        format!("1.5 {} 10.0.0.1 2000", words(40)),
        format!("1.5 {} 10.0.0.1", words(40)),
        format!("1.5 {}", words(40)),
        format!("1.5 {}", words(12)),
        format!("1.5 {} x 200", words(40)),
        format!("1.5 {} 10.0.0.1 200 extra", words(40)),
        "x.5 1 2".to_string(),
    ];
    let edge = write_lines(dir.path(), "many.log", &lines);
    same_parse("many", &pattern, &[&edge], 2, 6, 4);
}

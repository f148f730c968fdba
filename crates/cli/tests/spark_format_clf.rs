//! The Common Log Format family on Spark against the embedded parser (common, combined,
//! vhost_combined, squid_common, squid_combined): every rule of the parser and each reject
//! reason, plus the real Apache log, row for row (see support::spark).

mod support;

use support::spark::{EVENTS_SQL, REJECTS_SQL, assert_same_tables, remote};
use support::{ok, summary, sweep};

const APACHE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/apache-combined-semicomplete.log");

/// Lines of the Common Log Format family: every rule of the parser, each reject reason,
/// in `variant`'s layout (`tail` is what follows the bytes field).
fn clf_lines(format: &str) -> Vec<String> {
    let (vhost, tail) = match format {
        "common" => ("", ""),
        "combined" => ("", r#" "http://ref.example/" "Mozilla/5.0 (a \"quoted\" agent)""#),
        "vhost_combined" => ("www.example.com:443 ", r#" "-" "curl/8.0""#),
        "squid_common" => ("", " TCP_MISS:HIER_DIRECT"),
        "squid_combined" => ("", r#" "-" "Mozilla/5.0" TCP_TUNNEL:HIER_DIRECT"#),
        other => panic!("{other}"),
    };
    let line =
        |client_user_time: &str, request: &str, status_bytes: &str| format!("{vhost}{client_user_time} \"{request}\" {status_bytes}{tail}");
    let mut l = vec![
        line("127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700]", "GET /apache_pb.gif HTTP/1.0", "200 2326"),
        line("::1 - - [10/Oct/2000:13:55:36 +0530]", "GET http://Evil.Example:8080/a?b=1 HTTP/1.1", "404 -"),
        line("10.0.0.1 - john smith [10/Oct/2000:13:55:36.123 Z]", "CONNECT login.evil.example:443 HTTP/1.1", "200 10"),
        line("[2001:db8::7] - - [29/Feb/2024:23:59:60]", "OPTIONS * HTTP/1.1", "200 0"),
        line("::ffff:10.1.2.3 ident - [01/jan/2001:00:00:00 +01]", "GET error:invalid-request HTTP/1.0", "400 0"),
        line("10.0.0.2 - - [01/Jan/2001:00:00:00 -02:30]", "-", "408 0"),
        line("10.0.0.3 - - [01/Jan/2001:00:00:00 +0000]", r#"GET /a\"b\\c  HTTP/1.1"#, "200 1"),
        line("10.0.0.4 - - [01/Jan/2001:00:00:00 +0000]", "GET /x", "200 1"),
        line("- - - [01/Jan/2001:00:00:00 +0000]", "", "200 1"),
        line("10.0.0.5 - - [01/Jan/2001:00:00:00 +0000]", "POST https://203.0.113.5/upload?id=7 HTTP/2.0", "201 99"),
        // Rejects.
        line("host.example - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.0", "200 1"),
        line("10.0.0.1 - - [10/Foo/2000:13:55:36 -0700]", "GET / HTTP/1.0", "200 1"),
        line("10.0.0.1 - - [31/Feb/2000:13:55:36 -0700]", "GET / HTTP/1.0", "200 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 +2400]", "GET / HTTP/1.0", "200 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET", "200 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "G(T / HTTP/1.1", "200 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / FOO/1", "200 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", "abc 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", "1000 1"),
        line("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.1", "200 x1"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1{tail} trailing"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"x\" \"y\""),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700"),
        format!("{vhost}10.0.0.1 - - 10/Oct/2000:13:55:36"),
        format!("{vhost}10.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 1"),
        format!("{vhost}10.0.0.1 - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1"),
        format!("{vhost}10.0.0.1 -"),
        format!("{vhost}10.0.0.1"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"unclosed"),
        format!("{vhost}10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"a\\"),
        String::new(),
        "\t ".into(),
    ];
    if format == "vhost_combined" {
        for v in [
            "[2001:db8::1]:8443",
            "[2001:db8::1]",
            "Example.COM.",
            "example.com:-",
            "example.com:",
            ":80",
            "example.com:99999",
            "example.com:x",
            "[]:80",
        ] {
            l.push(format!("{v} 10.0.0.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /p HTTP/1.1\" 200 1{tail}"));
        }
    }
    l
}

#[test]
fn spark_reads_the_common_log_format_family_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    for format in ["combined", "common", "vhost_combined", "squid_common", "squid_combined"] {
        let edge = dir.path().join(format!("{format}.log"));
        std::fs::write(&edge, clf_lines(format).join("\n") + "\n").unwrap();
        let mut inputs = vec![edge.display().to_string()];
        if format == "combined" {
            inputs.push(APACHE.to_string());
        }
        let run = |engine: &[&str]| {
            let lake = dir.path().join(format!("{format}-{}", if engine.is_empty() { "embedded" } else { "spark" }));
            let summary_path = lake.with_extension("json");
            let mut args: Vec<&str> = vec!["scan"];
            args.extend(inputs.iter().map(String::as_str));
            let (lake_s, summary_s) = (lake.display().to_string(), summary_path.display().to_string());
            args.extend(["--format", format, "--out", &lake_s, "--quiet", "--summary", &summary_s]);
            args.extend(engine);
            ok(sweep(&args));
            (lake, summary(&summary_path))
        };
        let (embedded, e) = run(&[]);
        let (spark, s) = run(&["--engine", "spark", "--remote", &remote]);
        for key in ["input_lines", "events", "rejects", "skipped", "reject_reasons"] {
            assert_eq!(e[key], s[key], "{format}: summary {key}: embedded {} vs spark {}", e[key], s[key]);
        }
        assert!(e["rejects"].as_u64().unwrap() >= 20, "{format}: the edge lines are rejected: {}", e["reject_reasons"]);
        assert!(e["events"].as_u64().unwrap() >= 9, "{format}: the edge lines are read: {}", e["events"]);
        assert_same_tables(&embedded, &spark, &[("events", EVENTS_SQL), ("rejects", REJECTS_SQL)]);
    }
}

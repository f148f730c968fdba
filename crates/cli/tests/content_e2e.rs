//! End to end: the content analyser in batch runs of the `sweep` binary: planted
//! malicious-looking hosts give exactly the expected findings rows, benign ones none; options
//! from a pipeline file reach the engine; the real logs run with it and still balance.

mod support;

use std::path::Path;

use support::{ok, summary, sweep};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn json_rows(lake: &Path, sql: &str) -> Vec<serde_json::Value> {
    let text = ok(sweep(&["query", lake.to_str().unwrap(), sql, "--output", "json"]));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn squid(second: u32, client: &str, user: &str, method: &str, url: &str) -> String {
    format!("17672256{second:02}.000     10 {client} TCP_MISS/200 500 {method} {url} {user} HIER_DIRECT/198.51.100.7 text/html\n")
}

/// A log with one planted host per detector among benign ones; offsets are 1-based lines.
fn planted_log() -> String {
    [
        squid(1, "10.0.0.5", "-", "GET", "http://45.9.148.12/gate.php"), // 1: missing_fqdn
        squid(2, "10.0.0.6", "-", "GET", "https://www.google.com/search?q=x"),
        squid(3, "10.0.0.7", "alice", "GET", "https://paypa1.com/signin"), // 3: typosquat
        squid(4, "10.0.0.6", "-", "CONNECT", "github.com:443"),
        squid(5, "10.0.0.8", "bob", "GET", "http://paypal.com.account-verify.xyz/login"), // 5: masquerade
        squid(6, "10.0.0.6", "-", "GET", "http://10.1.2.3/intranet"),                     // private address
        squid(7, "10.0.0.9", "-", "GET", "http://xjw9q2kz7hf0v3lp.com/c2"),               // 7: dga
        squid(8, "10.0.0.6", "-", "GET", "https://en.wikipedia.org/wiki/Proxy"),
        "this is not a squid line\n".to_string(),                      // 9: a reject
        squid(10, "10.0.0.7", "alice", "HEAD", "https://paypa1.com/"), // 10: dropped by the SQL stage
        squid(11, "10.0.0.7", "alice", "CONNECT", "paypa1.com:443"),   // 11: typosquat again
        squid(12, "10.0.0.6", "-", "GET", "https://www.paypal.com/"),  // protected: never flagged
        squid(13, "10.0.0.6", "-", "GET", "https://api.github.com/repos"),
        "\n".to_string(), // 14: skipped
    ]
    .concat()
}

#[test]
fn planted_hosts_give_exactly_their_findings_and_benign_hosts_none() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, planted_log()).unwrap();
    let lake = dir.path().join("lake");
    let s_path = dir.path().join("s.json");
    let text = ok(sweep(&[
        "scan",
        log.to_str().unwrap(),
        "--format",
        "squid",
        "--out",
        lake.to_str().unwrap(),
        "--content",
        "--sql",
        "SELECT * FROM events WHERE method <> 'HEAD'",
        "--summary",
        s_path.to_str().unwrap(),
    ]));
    assert!(text.contains("every line accounted for: yes"), "{text}");
    assert!(text.contains("[dga 1, masquerade 1, missing_fqdn 1, typosquat 2]"), "the summary counts findings by kind: {text}");

    let s = summary(&s_path);
    assert_eq!(
        (s["input_lines"].as_u64(), s["events"].as_u64(), s["rejects"].as_u64(), s["skipped"].as_u64()),
        (Some(14), Some(12), Some(1), Some(1))
    );
    assert_eq!(s["findings"], 5);
    assert_eq!(s["findings_by_kind"], serde_json::json!({"dga": 1, "masquerade": 1, "missing_fqdn": 1, "typosquat": 2}));
    assert_eq!(s["tables"]["findings"]["rows"], 5);
    assert_eq!(s["tables"]["findings"]["path"], lake.join("findings").to_str().unwrap());

    let rows = json_rows(
        &lake,
        r#"SELECT "offset", host, finding, score, reason, client_ip, "user", url, source, CAST(ts AS VARCHAR) AS ts FROM findings ORDER BY "offset", finding"#,
    );
    let got: Vec<(i64, &str, &str)> =
        rows.iter().map(|r| (r["offset"].as_i64().unwrap(), r["host"].as_str().unwrap(), r["finding"].as_str().unwrap())).collect();
    assert_eq!(
        got,
        [
            (1, "45.9.148.12", "missing_fqdn"),
            (3, "paypa1.com", "typosquat"),
            (5, "paypal.com.account-verify.xyz", "masquerade"),
            (7, "xjw9q2kz7hf0v3lp.com", "dga"),
            (11, "paypa1.com", "typosquat"),
        ]
    );
    let score = |i: usize| rows[i]["score"].as_f64().unwrap();
    let reason = |i: usize| rows[i]["reason"].as_str().unwrap();
    assert_eq!(score(0), 0.5);
    assert_eq!(
        reason(0),
        "host 45.9.148.12 is a public IPv4 address, not a domain name: the client went to a server without looking up a name"
    );
    assert_eq!(score(1), 0.95);
    assert_eq!(reason(1), "host paypa1.com looks like paypal.com: digit 1 in place of letter l");
    assert_eq!(score(2), 0.95);
    assert_eq!(
        reason(2),
        "host paypal.com.account-verify.xyz puts the name paypal.com in front of the unrelated domain account-verify.xyz"
    );
    assert!(score(3) >= 0.9 && score(3) <= 1.0, "{}", score(3));
    assert_eq!(
        reason(3),
        "host xjw9q2kz7hf0v3lp.com: the name xjw9q2kz7hf0v3lp looks machine-generated (score 1.00): its letter pairs are rare in real \
         site names (7.4 bits of surprise per pair, real names average about 3.5), 5 of its 16 characters are digits mixed with letters, \
         character entropy 4.0 bits"
    );
    assert_eq!((score(4), reason(4)), (score(1), reason(1)), "the same host, the same verdict");
    // The event's columns are copied.
    assert_eq!(rows[1]["client_ip"], "10.0.0.7");
    assert_eq!(rows[1]["user"], "alice");
    assert_eq!(rows[1]["url"], "https://paypa1.com/signin");
    assert_eq!(rows[1]["source"], log.to_str().unwrap());
    assert_eq!(rows[1]["ts"], "2026-01-01T00:00:03Z");
    assert!(rows[0].get("user").is_none_or(|u| u.is_null()), "no user: {:?}", rows[0]);
}

#[test]
fn a_sql_stage_that_drops_a_needed_column_fails_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, planted_log()).unwrap();
    let lake = dir.path().join("lake");
    let out = sweep(&[
        "scan",
        log.to_str().unwrap(),
        "--format",
        "squid",
        "--out",
        lake.to_str().unwrap(),
        "--content",
        "--sql",
        "SELECT ts, client_ip, url, source, \"offset\", \"user\" FROM events",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no column `host`") && err.contains("keep them in the [[transform]] stages"), "{err}");
}

#[test]
fn options_in_a_pipeline_file_reach_the_analyser() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    // Relative to the pipeline file's folder, like every path in it.
    std::fs::write(conf.join("protected.txt"), "# ours\nexamplecorp.com\n").unwrap();
    let log = dir.path().join("access.log");
    let lines = [
        squid(1, "10.0.0.5", "-", "GET", "http://45.9.148.12/gate.php"), // allow-listed network
        squid(2, "10.0.0.5", "-", "GET", "http://46.1.2.3/"),            // not allow-listed
        squid(3, "10.0.0.5", "-", "GET", "https://examp1ecorp.com/login"), // typosquat of our own domain
        squid(4, "10.0.0.5", "-", "GET", "https://paypa1.com/"),         // the bundled list is replaced
        squid(5, "10.0.0.5", "-", "GET", "http://xjw9q2kz7hf0v3lp.com/"), // dga disabled
    ];
    std::fs::write(&log, lines.concat()).unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        r#"
[[extract]]
files = ["access.log"]
format = "squid"

[[analyse]]
kind = "content"
protected_file = "conf/protected.txt"

[analyse.missing_fqdn]
allow = ["45.9.148.0/24"]

[analyse.dga]
enabled = false

[load]
dir = "lake"
findings = { jsonl = "debug/findings" }
"#,
    )
    .unwrap();
    let s_path = dir.path().join("s.json");
    ok(sweep(&["run", pipeline.to_str().unwrap(), "-q", "--summary", s_path.to_str().unwrap()]));
    assert_eq!(summary(&s_path)["findings"], 2);
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.path().join("debug/findings")).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r["host"].as_str().unwrap(), r["finding"].as_str().unwrap())).collect();
    assert_eq!(got, [("46.1.2.3", "missing_fqdn"), ("examp1ecorp.com", "typosquat")]);
    assert!(rows[1]["reason"].as_str().unwrap().contains("looks like examplecorp.com"), "{:?}", rows[1]);
}

#[test]
fn print_pipeline_shows_the_content_stage() {
    let text = ok(sweep(&["scan", "x.log", "--format", "squid", "--out", "lake", "--content", "--print-pipeline"]));
    assert!(text.contains("[[analyse]]\nkind = \"content\"\n"), "{text}");
}

#[test]
fn the_real_logs_run_with_content_and_every_line_is_accounted_for() {
    for (log, format) in [("squid-native-squidview.log", "squid"), ("apache-combined-semicomplete.log", "combined")] {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let s_path = dir.path().join("s.json");
        let path = format!("{SHARED}/logs/{log}");
        let text = ok(sweep(&[
            "scan",
            &path,
            "--format",
            format,
            "--out",
            lake.to_str().unwrap(),
            "--content",
            "--summary",
            s_path.to_str().unwrap(),
        ]));
        assert!(text.contains("every line accounted for: yes"), "{log}: {text}");
        let s = summary(&s_path);
        let n = |k: &str| s[k].as_u64().unwrap();
        assert_eq!(n("input_lines"), n("events") + n("rejects") + n("skipped"), "{log}");
        assert!(n("events") > 0, "{log}");
        assert_eq!(s["tables"]["findings"]["rows"], s["findings"], "{log}");
        let by_kind: u64 = s["findings_by_kind"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(by_kind, n("findings"), "{log}");
        if n("findings") > 0 {
            // Every finding is an event's, with that event's host, and has a score and a reason.
            let orphans = json_rows(
                &lake,
                r#"SELECT count(*) AS n FROM findings f LEFT JOIN events e ON f.source = e.source AND f."offset" = e."offset" AND f.host = e.host
                   WHERE e.host IS NULL OR f.score <= 0 OR f.score > 1 OR length(f.reason) = 0"#,
            );
            assert_eq!(orphans[0]["n"], 0, "{log}");
        }
    }
}

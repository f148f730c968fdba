//! Helpers for the differential tests against the real Spark Connect server that
//! scripts/test starts (scripts/spark). Without SWEEP_SPARK_REMOTE those tests say so and
//! return, unless SWEEP_REQUIRE_SPARK=1 (set by scripts/test), where a missing server fails
//! them.

use std::path::{Path, PathBuf};

use super::{ok, query, summary, sweep};

/// One run at a time on the shared local server (local[2], a few GB of heap): parallel runs
/// would measure the server's memory, not sweep.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The server's address, and the lock that keeps other tests of this binary off it.
pub fn remote() -> Option<(String, std::sync::MutexGuard<'static, ()>)> {
    let remote = super::service("SWEEP_SPARK_REMOTE", "SWEEP_REQUIRE_SPARK", "scripts/spark start")?;
    Some((remote, SERVER.lock().unwrap_or_else(|e| e.into_inner())))
}

/// Every column of the events table, in a fixed row order.
pub const EVENTS_SQL: &str = "SELECT ts, client_ip, \"user\", method, url, scheme, host, port, path, query, status, request_bytes, \
     response_bytes, duration_ms, user_agent, referrer, content_type, proxy_action, server_ip, category, format, source, \"offset\", date \
     FROM events ORDER BY source, \"offset\"";

/// Every column of the rejects table but the ingest time, in a fixed row order.
pub const REJECTS_SQL: &str =
    "SELECT encode(raw, 'hex'), reason, detail, format, source, \"offset\" FROM rejects ORDER BY source, \"offset\"";

/// The tables' rows (each query's), equal on both engines and not empty.
pub fn assert_same_tables(embedded: &Path, spark: &Path, tables: &[(&str, &str)]) {
    for (table, sql) in tables {
        let (a, b) = (query(embedded, sql), query(spark, sql));
        assert!(!a.is_empty(), "{table} is empty");
        let differing: Vec<String> = if a.len() == b.len() {
            a.iter().zip(&b).filter(|(x, y)| x != y).take(5).map(|(x, y)| format!("  embedded: {x}\n  spark:    {y}")).collect()
        } else {
            // Rows of one that the other lacks.
            let only = |x: &[String], y: &[String], label: &str| -> Vec<String> {
                let mut rest: Vec<&String> = y.iter().collect();
                x.iter()
                    .filter(|r| match rest.iter().position(|o| o == r) {
                        Some(i) => {
                            rest.swap_remove(i);
                            false
                        }
                        None => true,
                    })
                    .take(5)
                    .map(|r| format!("  only {label}: {r}"))
                    .collect()
            };
            let mut v = only(&a, &b, "embedded");
            v.extend(only(&b, &a, "spark"));
            v
        };
        assert!(
            a.len() == b.len() && differing.is_empty(),
            "{table}: embedded has {} rows, spark {}; first differences:\n{}",
            a.len(),
            b.len(),
            differing.join("\n")
        );
    }
}

/// What a parse on both engines gave: each lake and run summary.
pub struct BothParses {
    pub embedded: PathBuf,
    pub spark: PathBuf,
    pub embedded_summary: serde_json::Value,
    pub spark_summary: serde_json::Value,
}

impl BothParses {
    /// A count of the run summary (equal on both engines), 0 when absent.
    pub fn count(&self, key: &str) -> u64 {
        self.embedded_summary[key].as_u64().unwrap_or(0)
    }

    /// The reject reasons that occurred.
    pub fn reasons(&self) -> Vec<String> {
        self.embedded_summary["reject_reasons"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}

/// Like [`assert_same_parse`], over the messages of a new one-partition topic (so that both
/// engines see them in the same order) read to its end from `broker`.
pub fn assert_same_kafka_parse(dir: &Path, label: &str, remote: &str, broker: &str, format: &str, messages: &[&[u8]]) -> BothParses {
    let topic = super::create_topic(broker, label, 1);
    super::produce(broker, &topic, 1, messages.iter().copied());
    let extract = format!(
        "[[extract]]\nformat = {format}\nkafka = {{ brokers = {broker:?}, topics = [{topic:?}], start = \"earliest\", batch_size = 1000 }}\n"
    );
    both_parses(dir, label, remote, &extract, true)
}

/// Reads `inputs` with `format` (a TOML value: `"squid"` or `{ name = "elff", fields = [...] }`)
/// on both engines, through a pipeline file in `dir` named after `label`, and checks that the
/// line counts, the reject reasons, and every row of the events and rejects tables (the
/// ingest time aside) are equal.
pub fn assert_same_parse(dir: &Path, label: &str, remote: &str, format: &str, inputs: &[&Path]) -> BothParses {
    let both = parse_on_both(dir, label, remote, format, inputs);
    assert_same_rows(&both, REJECTS_SQL);
    both
}

/// Reads `inputs` with `format` on both engines, as [`assert_same_parse`] does, and checks
/// the line counts and reject reasons only: the caller compares the tables.
pub fn parse_on_both(dir: &Path, label: &str, remote: &str, format: &str, inputs: &[&Path]) -> BothParses {
    let files: Vec<String> = inputs.iter().map(|p| format!("{:?}", p.display().to_string())).collect();
    let extract = format!("[[extract]]\nfiles = [{}]\nformat = {format}\n", files.join(", "));
    run_both(dir, label, remote, &extract, false)
}

/// Writes `lines` to `dir/name`, one a line.
pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn both_parses(dir: &Path, label: &str, remote: &str, extract: &str, stream: bool) -> BothParses {
    let both = run_both(dir, label, remote, extract, stream);
    assert_same_rows(&both, REJECTS_SQL);
    both
}

/// The events, and the rejects as `rejects_sql` reads them, equal on both engines.
pub fn assert_same_rows(both: &BothParses, rejects_sql: &str) {
    let mut tables = vec![];
    if both.embedded_summary["events"].as_u64() > Some(0) {
        tables.push(("events", EVENTS_SQL));
    }
    if both.embedded_summary["rejects"].as_u64() > Some(0) {
        tables.push(("rejects", rejects_sql));
    }
    assert_same_tables(&both.embedded, &both.spark, &tables);
}

fn run_both(dir: &Path, label: &str, remote: &str, extract: &str, stream: bool) -> BothParses {
    let run = |engine: &str| {
        let lake = dir.join(format!("{label}-{engine}"));
        let pipeline = dir.join(format!("{label}-{engine}.toml"));
        let mut text = format!(
            "engine = \"{engine}\"\nremote = \"{remote}\"\n\n{extract}\n[load]\ndir = {lake:?}\n",
            lake = lake.display().to_string(),
        );
        if stream {
            let checkpoint = dir.join(format!("{label}-{engine}-checkpoint"));
            text.push_str(&format!("\n[stream]\ncheckpoint = {:?}\nstop_when_drained = true\n", checkpoint.display().to_string()));
        }
        std::fs::write(&pipeline, text).unwrap();
        let summary_path = dir.join(format!("{label}-{engine}.json"));
        ok(sweep(&["run", pipeline.to_str().unwrap(), "-q", "--summary", summary_path.to_str().unwrap()]));
        (lake, summary(&summary_path))
    };
    let (embedded, e) = run("embedded");
    let (spark, s) = run("spark");
    for key in ["input_lines", "events", "rejects", "skipped", "reject_reasons"] {
        assert_eq!(e[key], s[key], "{label}: summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    let lines = e["input_lines"].as_u64().unwrap();
    assert_eq!(lines, e["events"].as_u64().unwrap() + e["rejects"].as_u64().unwrap() + e["skipped"].as_u64().unwrap());
    BothParses { embedded, spark, embedded_summary: e, spark_summary: s }
}

/// Squid lines that exercise every branch of the parser and of the sweeper's joins.
pub fn squid_edge_lines() -> Vec<String> {
    let ok = |ts: &str, client: &str, status: &str, method: &str, url: &str, user: &str, peer: &str| {
        format!("{ts}    120 {client} TCP_MISS/{status} 1234 {method} {url} {user} {peer} text/html")
    };
    let mut l = vec![
        ok("1700000000.001", "10.0.0.5", "200", "GET", "http://a.b.evil.example/x?y=1", "-", "HIER_DIRECT/198.51.100.20"),
        ok("1700000001.5", "2001:db8::7", "200", "CONNECT", "login.evil.example:443", "alice", "HIER_DIRECT/203.0.113.5"),
        ok("1700000002", "2001:DB8::8", "407", "CONNECT", "[2001:db8:abcd::1]:8443", "-", "HIER_NONE/-"),
        ok(
            "1700000003.25",
            "::ffff:10.1.2.3",
            "200",
            "GET",
            "https://Host.Example.COM.:8443/a/b?q#frag",
            "john smith",
            "FIRST_PARENT_MISS/proxy2",
        ),
        ok("1700000004.000", "[2001:db8::9]", "000", "GET", "ftp://bob:pw@files.example.org/pub", "-", "TIMEOUT_HIER_DIRECT/192.0.2.1"),
        ok("1700000005.1", "10.0.0.6", "301", "GET", "http://203.0.113.5/dl.exe", "-", "HIER_DIRECT/203.0.113.5"),
        ok("1700000006.9", "10.0.0.7", "200", "GET", "/index.html?x=1", "-", "HIER_NONE/-"),
        ok("1700000007", "10.0.0.8", "200", "GET", "http://co.uk/", "-", "HIER_DIRECT/192.0.2.9"),
        ok("1700000008", "10.0.0.8", "200", "GET", "http://shop.co.uk/", "-", "HIER_DIRECT/192.0.2.10"),
        ok("1700000009", "10.0.0.9", "200", "GET", "http://www.expired.example/", "-", "HIER_DIRECT/192.0.2.77"),
        ok("1700000010", "10.0.0.9", "200", "GET", "http://[2001:db8:abcd::42]/p", "-", "HIER_DIRECT/2001:db8:abcd::42"),
        ok("1700000011", "10.0.0.9", "200", "GET", "http://notevil.example/", "-", "HIER_DIRECT/198.51.101.1"),
        // For the content analyser: a typosquat, a brand on another domain, a generated name, a punycode look-alike.
        ok("1700000012", "10.0.0.9", "200", "GET", "http://paypa1.com/login", "-", "HIER_DIRECT/198.51.101.2"),
        ok("1700000013", "10.0.0.9", "200", "GET", "http://paypal.com.account-verify.net/", "-", "HIER_DIRECT/198.51.101.3"),
        ok("1700000014", "10.0.0.9", "200", "GET", "http://xkqjzvwphtrmbnd.com/", "-", "HIER_DIRECT/198.51.101.4"),
        ok("1700000015", "10.0.0.9", "200", "GET", "http://xn--pypal-4ve.com/", "-", "HIER_DIRECT/198.51.101.5"),
        ok("1700000012", "10.0.0.9", "-", "-", "-", "-", "NONE/-"),
        ok("1700000013", "10.0.0.9", "200", "POST", "http://x.example:99999/p", "-", "HIER_DIRECT/10.9.9.9"),
        ok("1700000013.5", "[10.0.0.11]", "200", "GET", "http://[::ffff:198.51.100.7]/", "-", "HIER_DIRECT/[2001:db8:abcd::5]"),
        "1700000014.5 12 10.0.0.5 TCP_MISS/200 10 GET http://a.example/?  john smith FIRST_PARENT_MISS/proxy2 text/plain [Host: a]".into(),
        // Upper-case IPv6 not in its shortest form is stored as Rust writes it; nested brackets.
        ok("1700000014.6", "2001:DB8:0:0:0:0:0:1", "200", "GET", "http://a.example/", "-", "HIER_DIRECT/64:FF9B::1.2.3.4"),
        ok("1700000014.7", "[[10.0.0.12]]", "200", "GET", "http://BÜCHER.Example/", "-", "HIER_DIRECT/[-]"),
        "1700000014.8 1 [bad] TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000014.9 1 10.0.0.1\u{2028} TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        // Rejects, one per rule, in the parser's order of checks.
        "yesterday 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000015.x 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000016 1x 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000017 1 host.local TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000018 1 10.0.0.256 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000019 1 10.0.0.1 TCP_MISS 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000020 1 10.0.0.1 TCP_MISS/2x0 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        // An empty status is no status (as `-` is), an event on both engines.
        "1700000020.5 1 10.0.0.1 TCP_MISS/ 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000021 1 10.0.0.1 TCP_MISS/1000 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000022 1 10.0.0.1 TCP_MISS/200 big GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000023 1 10.0.0.1 TCP_MISS/200 1 GET".into(),
        "1700000024 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ -".into(),
        "1700000025 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT text/html".into(),
        "1700000026".into(),
        "\"quoted\" \\ back\tslash".into(),
        String::new(),
        "   \t ".into(),
        "1700000027 5 10.0.0.1 TCP_MISS/200 1 GET http://crlf.evil.example/ - DIRECT/1.2.3.4 -\r".into(),
        // Control characters: two requests joined by a lone `\r`, NULs, a `\r` after a
        // two-byte character (its byte position), and a line of a lone `\r\n` (blank).
        "1700000028 5 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -\r1700000029 5 10.0.0.2 TCP_MISS/200 1 GET http://b/ - DIRECT/1.2.3.4 -"
            .into(),
        "\0\0\01700000030 5 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -".into(),
        "1700000031 5 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 text/\0html".into(),
        "é\r\r".into(),
        "\r".into(),
    ];
    // Timestamps far from the others, to fill more than one date partition.
    l.push(ok("1000000000.5", "10.0.0.10", "200", "GET", "http://old.evil.example/", "-", "HIER_DIRECT/198.51.100.1"));
    l
}

//! Streaming against the real Kafka broker (scripts/kafka): every line lands exactly once
//! in Delta, through crashes; windows agree between stream and batch; late events and
//! alerts. Tables are read back through the Delta log (`sweep query`).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const SQUID: &str = "squid";

fn pipeline_toml(broker: &str, topic: &str, lake: &Path, ckpt: &Path, extra: &str) -> String {
    format!(
        r#"
[[extract]]
format = "{SQUID}"
[extract.kafka]
brokers = "{broker}"
topics = ["{topic}"]
start = "earliest"
batch_size = 4000
batch_interval_ms = 300

{extra}

[load]
dir = "{lake}"
format = "delta"

[stream]
checkpoint = "{ckpt}"
stop_when_drained = true
"#,
        lake = lake.display(),
        ckpt = ckpt.display()
    )
}

/// `sweep scan kafka://... --until-drained` into a Delta lake with this checkpoint.
fn scan_kafka(url: &str, lake: &Path, ckpt: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["scan", url, "--format", SQUID, "--table-format", "delta", "--until-drained"];
    args.extend(["--out", lake.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap()]);
    args.extend(extra);
    sweep(&args)
}

const ANALYSERS: &str = r#"
[[analyse]]
kind = "content"

[[analyse]]
kind = "window"
size = "5m"
slide = "1m"
keys = ["client_ip", "host"]
allowed_lateness = "1d"
thresholds = [{ metric = "requests", above = 400 }]

[[analyse]]
kind = "sweeper"
intel = [{ path = "feed.txt" }]

[[analyse]]
kind = "sigma"
rules = ["rules"]
allowed_lateness = "1d"
"#;

/// Sigma rules for the streams: one on the planted hosts, one on failed requests, and a
/// correlation over the latter per client (its state crosses batches and restarts).
const RULES: &str = r#"title: Request to a planted host
id: 5d7c7a2e-1f00-4c1e-9a55-000000000001
status: test
level: high
logsource:
    category: proxy
detection:
    selection:
        cs-host|endswith:
            - '.xyz'
            - 'paypa1.com'
    condition: selection
---
title: Failed request
id: 5d7c7a2e-1f00-4c1e-9a55-000000000002
name: failed_request
status: test
level: low
logsource:
    category: proxy
detection:
    selection:
        sc-status|gte: 400
    condition: selection
---
title: Many failed requests from one client
id: 5d7c7a2e-1f00-4c1e-9a55-000000000003
status: test
level: medium
correlation:
    type: event_count
    rules:
        - failed_request
    group-by:
        - c-ip
    timespan: 10m
    condition:
        gte: 5
"#;

fn write_rules(dir: &Path) {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/stream.yml"), RULES).unwrap();
}

/// Hosts the content analyser flags, one per detector.
const SUSPICIOUS: [&str; 4] = [
    "http://45.9.148.12/gate.php",
    "https://paypa1.com/signin",
    "http://paypal.com.account-verify.xyz/login",
    "http://xjw9q2kz7hf0v3lp.com/c2",
];

/// Generated Squid lines with a request to a [`SUSPICIOUS`] host after every 500th line (at
/// that line's time), also written back to `gen-<seed>.log` for a batch run over the same lines.
fn squid_lines_with_suspicious(dir: &Path, lines: u64, seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, line) in squid_lines(dir, lines, seed).into_iter().enumerate() {
        let ts = std::str::from_utf8(&line).ok().and_then(|l| l.split(' ').next()).filter(|t| t.parse::<f64>().is_ok()).map(str::to_string);
        out.push(line);
        if let (true, Some(ts)) = (i % 500 == 499, ts) {
            let url = SUSPICIOUS[(i / 500) % SUSPICIOUS.len()];
            out.push(format!("{ts}     10 10.9.9.9 TCP_MISS/200 500 GET {url} - HIER_DIRECT/198.51.100.7 text/html").into_bytes());
        }
    }
    let mut file = out.join(&b'\n');
    file.push(b'\n');
    std::fs::write(dir.join(format!("gen-{seed}.log")), file).unwrap();
    out
}

#[test]
fn every_message_lands_once_in_delta_with_bad_messages_as_rejects() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&broker, "lines", 3);
    let mut payloads = squid_lines(dir.path(), 20_000, 7);
    payloads.push(Vec::new());
    payloads.push(b"\xff\xfe not utf-8 \xc3".to_vec());
    payloads.push(b"garbage that is not squid".to_vec());
    let n = produce(&broker, &topic, 3, payloads.iter().map(Vec::as_slice)) as u64;

    let lake = dir.path().join("lake");
    let ckpt = dir.path().join("ckpt");
    let s_path = dir.path().join("s.json");
    let url = format!("kafka://{broker}/{topic}");
    let text = ok(scan_kafka(&url, &lake, &ckpt, &["--start", "earliest", "--summary", s_path.to_str().unwrap()]));
    assert!(text.contains("every line accounted for: yes"), "{text}");
    let s = summary(&s_path);
    assert_eq!(s["input_lines"], n);
    assert_eq!(s["stream"]["stopped_by"], "drained");
    let (events, rejects, skipped) = (s["events"].as_u64().unwrap(), s["rejects"].as_u64().unwrap(), s["skipped"].as_u64().unwrap());
    assert_eq!(events + rejects + skipped, n);
    assert!(lake.join("events/_delta_log").is_dir() && lake.join("rejects/_delta_log").is_dir());

    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") as u64, events);
    assert_eq!(query_one(&lake, "SELECT count(*) FROM rejects") as u64, rejects);
    let distinct =
        query_one(&lake, r#"SELECT count(*) FROM (SELECT source, "offset" FROM events UNION SELECT source, "offset" FROM rejects)"#);
    assert_eq!(distinct as u64, n - skipped, "a message is missing or duplicated");
    let reasons = query(&lake, "SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY reason");
    assert!(reasons.iter().any(|r| r == "empty,1"), "{reasons:?}");
    let sources = query(&lake, "SELECT DISTINCT source FROM events ORDER BY source");
    assert_eq!(sources, (0..3).map(|p| format!("kafka:{topic}/{p}")).collect::<Vec<_>>());
    // The raw bytes of a bad message are kept exactly.
    let raw = query(&lake, "SELECT reason FROM rejects WHERE encode(raw, 'hex') = 'fffe206e6f74207574662d3820c3'");
    assert_eq!(raw, vec!["invalid_utf8".to_string()]);

    // Running again on a drained topic adds nothing.
    ok(scan_kafka(&url, &lake, &ckpt, &["-q"]));
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") as u64, events);

    // A new checkpoint over the same lake is another pipeline: the default mode refuses.
    let other = scan_kafka(&url, &lake, &dir.path().join("ckpt-2"), &[]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("already holds data"), "{err}");
}

/// A pseudo-random sequence that the failure message can reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn run_pipeline_file(file: &Path) -> std::process::Output {
    sweep(&["run", file.to_str().unwrap(), "-q"])
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "fonts.gstatic.com\n").unwrap();
    write_rules(dir.path());
    let topic = create_topic(&broker, "crash", 3);
    let payloads = squid_lines_with_suspicious(dir.path(), 120_000, 11);
    let n = produce(&broker, &topic, 3, payloads.iter().map(Vec::as_slice)) as i64;

    // The reference: one uninterrupted run.
    let (lake_a, ckpt_a) = (dir.path().join("lake-a"), dir.path().join("ckpt-a"));
    let file_a = dir.path().join("a.toml");
    std::fs::write(&file_a, pipeline_toml(&broker, &topic, &lake_a, &ckpt_a, ANALYSERS)).unwrap();
    ok(run_pipeline_file(&file_a));

    // The same pipeline, killed with SIGKILL at random moments and restarted each time.
    let (lake_b, ckpt_b) = (dir.path().join("lake-b"), dir.path().join("ckpt-b"));
    let file_b = dir.path().join("b.toml");
    std::fs::write(&file_b, pipeline_toml(&broker, &topic, &lake_b, &ckpt_b, ANALYSERS)).unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Lcg(seed);
    let mut kills = 0;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(["run", file_b.to_str().unwrap(), "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + rng.below(2500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    eprintln!("killed {kills} times (seed {seed})");
    assert!(kills > 0, "every run finished before its kill: nothing was tested (seed {seed})");
    let committed = std::fs::read_dir(ckpt_b.join("commits")).map_or(0, |d| d.count());
    assert!(committed > 0, "no batch was committed before the last kill: the kills came too early (seed {seed})");
    ok(run_pipeline_file(&file_b));

    for lake in [&lake_a, &lake_b] {
        let keys =
            query_one(lake, r#"SELECT count(*) FROM (SELECT source, "offset" FROM events UNION ALL SELECT source, "offset" FROM rejects)"#);
        let distinct = query_one(
            lake,
            r#"SELECT count(*) FROM (SELECT DISTINCT source, "offset" FROM (SELECT source, "offset" FROM events UNION ALL SELECT source, "offset" FROM rejects))"#,
        );
        assert_eq!(keys, n, "{lake:?}: rows in events + rejects (seed {seed})");
        assert_eq!(distinct, n, "{lake:?}: a line is duplicated (seed {seed})");
    }
    let same = |sql: &str| {
        let (a, b) = (query(&lake_a, sql), query(&lake_b, sql));
        assert!(!a.is_empty(), "{sql}: reference is empty");
        assert_eq!(a, b, "{sql} differs after {kills} kills (seed {seed})");
    };
    same(r#"SELECT count(*), count(DISTINCT source || '/' || CAST("offset" AS VARCHAR)) FROM hits"#);
    same(
        r#"SELECT finding, count(*), count(DISTINCT source || '/' || CAST("offset" AS VARCHAR)) FROM findings GROUP BY finding ORDER BY finding"#,
    );
    same("SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY reason");
    same(
        r#"SELECT rule_title, count(*), count(DISTINCT source || '/' || CAST("offset" AS VARCHAR)) FROM detections WHERE source IS NOT NULL GROUP BY rule_title ORDER BY rule_title"#,
    );
    same(
        "SELECT rule_title, group_by, \"count\", CAST(first_ts AS VARCHAR), CAST(ts AS VARCHAR) FROM detections WHERE group_by IS NOT NULL ORDER BY 2, 4",
    );
    same(
        "SELECT CAST(window_start AS VARCHAR), key_kind, key, requests, request_bytes, response_bytes, distinct_hosts, errors, denied \
         FROM metrics ORDER BY 1, 2, 3",
    );
}

#[test]
fn windows_over_a_stream_equal_windows_over_the_same_file() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "fonts.gstatic.com\n").unwrap();
    write_rules(dir.path());
    let topic = create_topic(&broker, "agree", 3);
    let payloads = squid_lines_with_suspicious(dir.path(), 30_000, 5);
    produce(&broker, &topic, 3, payloads.iter().map(Vec::as_slice));

    let (lake_s, ckpt) = (dir.path().join("lake-stream"), dir.path().join("ckpt"));
    let file = dir.path().join("stream.toml");
    std::fs::write(&file, pipeline_toml(&broker, &topic, &lake_s, &ckpt, ANALYSERS)).unwrap();
    ok(run_pipeline_file(&file));

    let lake_b = dir.path().join("lake-batch");
    let batch =
        format!("[[extract]]\nfiles = [\"gen-5.log\"]\nformat = \"{SQUID}\"\n{ANALYSERS}\n[load]\ndir = \"{}\"\n", lake_b.display());
    let batch_file = dir.path().join("batch.toml");
    std::fs::write(&batch_file, batch).unwrap();
    ok(run_pipeline_file(&batch_file));

    for sql in [
        "SELECT CAST(window_start AS VARCHAR), CAST(window_end AS VARCHAR), key_kind, key, requests, request_bytes, response_bytes, \
         distinct_hosts, errors, error_ratio, denied FROM metrics ORDER BY 1, 3, 4",
        "SELECT count(*), sum(response_bytes) FROM events",
        "SELECT indicator, count(*) FROM hits GROUP BY indicator",
        "SELECT host, finding, count(*), min(score), max(reason) FROM findings GROUP BY host, finding ORDER BY host, finding",
        r#"SELECT rule_title, level, count(*), count(DISTINCT source || '/' || CAST("offset" AS VARCHAR)) FROM detections WHERE source IS NOT NULL GROUP BY 1, 2 ORDER BY 1"#,
        "SELECT rule_title, group_by, \"count\", CAST(first_ts AS VARCHAR), CAST(ts AS VARCHAR) FROM detections WHERE group_by IS NOT NULL ORDER BY 2, 4",
    ] {
        let (s, b) = (query(&lake_s, sql), query(&lake_b, sql));
        assert!(!b.is_empty(), "{sql}: batch result is empty");
        assert_eq!(s, b, "{sql}: stream and batch differ");
    }
    // Every planted host is found in the stream, about once per 500 lines.
    let hosts = query(&lake_s, "SELECT DISTINCT host || ' ' || finding FROM findings WHERE client_ip = '10.9.9.9' ORDER BY 1");
    assert_eq!(
        hosts,
        ["45.9.148.12 missing_fqdn", "paypa1.com typosquat", "paypal.com.account-verify.xyz masquerade", "xjw9q2kz7hf0v3lp.com dga"]
    );
    let planted = query_one(&lake_s, "SELECT count(*) FROM findings WHERE client_ip = '10.9.9.9'");
    assert!((55..=60).contains(&planted), "{planted} findings of planted hosts in 30,000 lines");
}

fn squid_line(epoch_s: i64, client: &str, host: &str) -> Vec<u8> {
    format!("{epoch_s}.000     10 {client} TCP_MISS/200 500 GET http://{host}/x - HIER_DIRECT/10.1.1.1 text/html").into_bytes()
}

#[test]
fn late_events_go_to_rejects_and_thresholds_raise_alerts() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&broker, "late", 1);
    let alerts = create_topic(&broker, "alerts", 1);
    let (lake, ckpt) = (dir.path().join("lake"), dir.path().join("ckpt"));
    let window = r#"
[[analyse]]
kind = "window"
size = "1m"
slide = "1m"
keys = ["client_ip"]
allowed_lateness = "0s"
thresholds = [{ metric = "requests", above = 2 }]
"#;
    let mut toml = pipeline_toml(&broker, &topic, &lake, &ckpt, window);
    toml.push_str(&format!("\n[load.alerts]\nbrokers = \"{broker}\"\ntopic = \"{alerts}\"\n"));
    let file = dir.path().join("p.toml");
    std::fs::write(&file, toml).unwrap();

    // 1767225600 = 2026-01-01T00:00:00Z. Three requests in minute 0, one in minute 2.
    let first: Vec<Vec<u8>> = vec![
        squid_line(1_767_225_601, "10.0.0.1", "a.example"),
        squid_line(1_767_225_602, "10.0.0.1", "b.example"),
        squid_line(1_767_225_603, "10.0.0.1", "a.example"),
        squid_line(1_767_225_720, "10.0.0.2", "c.example"),
    ];
    produce(&broker, &topic, 1, first.iter().map(Vec::as_slice));
    ok(run_pipeline_file(&file));
    // The end of input made every window final; an event in minute 1 is now behind the watermark.
    let late = squid_line(1_767_225_660, "10.0.0.3", "late.example");
    produce(&broker, &topic, 1, [late.as_slice()]);
    let s_path = dir.path().join("s.json");
    ok(sweep(&["run", file.to_str().unwrap(), "-q", "--summary", s_path.to_str().unwrap()]));
    let s = summary(&s_path);
    assert_eq!(s["stream"]["late_events"], 1);

    assert_eq!(query_one(&lake, "SELECT count(*) FROM events"), 4);
    let rejects = query(&lake, "SELECT reason, CAST(raw AS VARCHAR), source, \"offset\" FROM rejects");
    assert_eq!(rejects, vec![format!("late,{},kafka:{topic}/0,4", String::from_utf8(late).unwrap())]);
    let metrics = query(&lake, "SELECT CAST(window_start AS VARCHAR), key, requests, distinct_hosts FROM metrics ORDER BY 1, 2");
    assert_eq!(metrics, vec!["2026-01-01T00:00:00Z,10.0.0.1,3,2".to_string(), "2026-01-01T00:02:00Z,10.0.0.2,1,1".to_string()]);

    let got = consume_all(&broker, &alerts, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    let (key, alert) = &got[0];
    assert_eq!(key, "10.0.0.1");
    let alert: serde_json::Value = serde_json::from_slice(alert).unwrap();
    assert_eq!(alert["alert"], "threshold");
    assert_eq!(alert["metric"], "requests");
    assert_eq!(alert["value"], 3.0);
}

#[test]
fn detections_of_high_level_rules_are_alerts_and_a_drained_stream_flushes_its_correlations() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let topic = create_topic(&broker, "sigma", 1);
    let alerts = create_topic(&broker, "sigma-alerts", 1);
    let (lake, ckpt) = (dir.path().join("lake"), dir.path().join("ckpt"));
    // No window analyser: the correlation alone must be flushed when the stream drains.
    let sigma = "[[analyse]]\nkind = \"sigma\"\nrules = [\"rules\"]\n";
    let mut toml = pipeline_toml(&broker, &topic, &lake, &ckpt, sigma);
    toml.push_str(&format!("\n[load.alerts]\nbrokers = \"{broker}\"\ntopic = \"{alerts}\"\n"));
    let file = dir.path().join("p.toml");
    std::fs::write(&file, toml).unwrap();
    // Two requests to planted hosts (a high rule) and six failed requests of one client in a
    // minute (a low rule, and the medium correlation over it).
    let mut lines = vec![squid_line(1_767_225_601, "10.0.0.1", "paypa1.com"), squid_line(1_767_225_602, "10.0.0.2", "login.evil.xyz")];
    for i in 0..6 {
        let line = String::from_utf8(squid_line(1_767_225_610 + i, "10.0.0.3", "www.example.com")).unwrap();
        lines.push(line.replace("TCP_MISS/200", "TCP_MISS/404").into_bytes());
    }
    produce(&broker, &topic, 1, lines.iter().map(Vec::as_slice));
    ok(run_pipeline_file(&file));
    let rows = query(&lake, "SELECT rule_title, level, coalesce(client_ip, group_by) FROM detections ORDER BY 1, 3");
    assert_eq!(rows.iter().filter(|r| r.starts_with("Failed request,low,10.0.0.3")).count(), 6, "{rows:?}");
    assert!(rows.contains(&"Many failed requests from one client,medium,client_ip=10.0.0.3".to_string()), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.starts_with("Request to a planted host,high,")).count(), 2, "{rows:?}");
    // Only the high rule's detections are alerts (the default alert_level).
    let got = consume_all(&broker, &alerts, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    for (key, alert) in &got {
        let alert: serde_json::Value = serde_json::from_slice(alert).unwrap();
        assert_eq!(alert["alert"], "detection");
        assert_eq!(alert["rule_title"], "Request to a planted host");
        assert!(key == "10.0.0.1" || key == "10.0.0.2", "{key}");
    }
}

#[test]
fn the_fluent_api_builds_the_same_streaming_pipeline() {
    use sweep::{Content, Delta, Etl, Format, Kafka, Window};
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&broker, "fluent", 2);
    let payloads = squid_lines_with_suspicious(dir.path(), 5_000, 9);
    let n = produce(&broker, &topic, 2, payloads.iter().map(Vec::as_slice)) as u64;

    let lake = dir.path().join("lake");
    let mut source = Kafka::topic(&broker, &topic);
    source.kafka_mut().unwrap().start = sweep::StartPosition::Earliest;
    let flow = Etl::embedded()
        .extract(source)
        .transform(Format::squid())
        .analyse(Window::sliding("10m", "5m").unwrap())
        .analyse(Content::detectors())
        .lake(&lake)
        .load(Delta::table(lake.join("events")))
        .rejects_to(Delta::table(lake.join("rejects")))
        .metrics_to(Delta::table(lake.join("metrics")))
        .findings_to(Delta::table(lake.join("findings")))
        .checkpoint(dir.path().join("ckpt"))
        .until_drained();
    // The same pipeline as a file reads back equal.
    let toml = flow.to_toml();
    let back = sweep::Pipeline::from_toml_str(&toml, "fluent.toml", dir.path()).unwrap();
    assert_eq!(&back, flow.pipeline(), "{toml}");

    let s = flow.run().unwrap();
    assert_eq!(s.input_lines, n);
    assert_eq!(s.events + s.rejects + s.skipped, n);
    assert!(s.metrics_rows > 0);
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") as u64, s.events);
    assert_eq!(query_one(&lake, "SELECT count(*) FROM metrics") as u64, s.metrics_rows);
    // Ten planted hosts (one per 500 lines), whatever else the generated hosts give.
    assert!(s.findings >= 10, "{}", s.findings);
    assert_eq!(s.findings_by_kind.values().sum::<u64>(), s.findings);
    assert!(lake.join("findings/_delta_log").is_dir());
    assert_eq!(query_one(&lake, "SELECT count(*) FROM findings") as u64, s.findings);
    assert_eq!(query_one(&lake, "SELECT count(*) FROM findings WHERE client_ip = '10.9.9.9'"), 10);
}

/// Waits up to `timeout` for `path` to exist.
fn wait_for_file(path: &Path, timeout: Duration) -> bool {
    let until = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < until {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A stream with `--mode overwrite` on a lake a batch run wrote: while it waits for its first
/// batch it holds the lake (a batch run is refused) and the old rows stay; killed there, the
/// lake is as it was; its first batch replaces the old rows with the topic's.
fn stream_overwrite_replaces_rows_at_its_first_batch(engine: &[&str]) {
    let Some(broker) = broker() else { return };
    for table_format in ["delta", "parquet"] {
        let dir = tempfile::tempdir().unwrap();
        let old = squid_lines(dir.path(), 300, 3);
        let old_file = dir.path().join("gen-3.log");
        let lake = dir.path().join("lake");
        let lake_arg = lake.to_str().unwrap();
        ok(sweep(&["scan", old_file.to_str().unwrap(), "-f", SQUID, "-o", lake_arg, "--table-format", table_format, "-q"]));
        let old_rows = query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects");
        assert_eq!(old_rows as usize, old.len());

        let topic = create_topic(&broker, "overwrite", 1);
        let url = format!("kafka://{broker}/{topic}");
        let ckpt = dir.path().join("ckpt");
        let mut args = vec!["scan", &url, "--format", SQUID, "--table-format", table_format, "--start", "earliest", "--mode", "overwrite"];
        args.extend(["--out", lake_arg, "--checkpoint", ckpt.to_str().unwrap(), "-q"]);
        args.extend(engine);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sweep")).args(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let prepared = wait_for_file(&ckpt.join("tables-prepared"), Duration::from_secs(120));
        let refused = sweep(&["scan", old_file.to_str().unwrap(), "-f", SQUID, "-o", lake_arg, "--mode", "append", "--reload"]);
        let rows_while_waiting = query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects");
        child.kill().unwrap(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        assert!(prepared, "{table_format}: the stream never prepared its tables: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!refused.status.success(), "{table_format}: a batch run wrote the lake a stream holds");
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("another sweep run is writing the lake"), "{table_format}: {err}");
        assert_eq!(rows_while_waiting, old_rows, "{table_format}: overwrite removed rows before its first batch");
        let rows_after_kill = query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects");
        assert_eq!(rows_after_kill, old_rows, "{table_format}: a killed overwrite stream changed the lake");

        let new = squid_lines(dir.path(), 200, 4);
        produce(&broker, &topic, 1, new.iter().map(Vec::as_slice));
        args.push("--until-drained");
        ok(sweep(&args));
        let rows =
            query(&lake, "SELECT source, count(*) FROM (SELECT source FROM events UNION ALL SELECT source FROM rejects) GROUP BY source");
        assert_eq!(rows, vec![format!("kafka:{topic}/0,{}", new.len())], "{table_format}: the old rows were not replaced");
    }
}

#[test]
fn a_stream_overwrite_replaces_the_rows_at_its_first_batch_and_holds_the_lake() {
    stream_overwrite_replaces_rows_at_its_first_batch(&[]);
}

#[test]
fn a_spark_stream_overwrite_replaces_the_rows_at_its_first_batch_and_holds_the_lake() {
    let Some((remote, _server)) = support::spark::remote() else { return };
    stream_overwrite_replaces_rows_at_its_first_batch(&["--engine", "spark", "--remote", &remote]);
}

#[test]
fn a_stream_that_fills_the_disk_stops_with_the_reason_and_a_rerun_loses_and_duplicates_nothing() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=3m", "tmpfs", mount.to_str().unwrap()]).output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root): {mounted:?}");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let topic = create_topic(&broker, "full", 3);
    let payloads = squid_lines(dir.path(), 150_000, 17);
    let n = produce(&broker, &topic, 3, payloads.iter().map(Vec::as_slice)) as i64;
    // The lake and the checkpoint share the small disk, as they would on one volume.
    let (lake, ckpt) = (mount.join("lake"), mount.join("ckpt"));
    let file = dir.path().join("full.toml");
    std::fs::write(&file, pipeline_toml(&broker, &topic, &lake, &ckpt, "")).unwrap();

    let full = run_pipeline_file(&file);
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "the stream should stop when the disk is full: {err}");
    assert!(err.contains("No space left"), "the error should name the cause: {err}");
    let committed = query_one(&lake, "SELECT count(*) FROM events");
    assert!(committed > 0 && committed < n, "the disk should fill midway ({committed} of {n} rows)");

    // Space again: the re-run resumes where the committed batches end.
    let grown = Command::new("mount").args(["-o", "remount,size=64m", mount.to_str().unwrap()]).status().unwrap();
    assert!(grown.success());
    ok(run_pipeline_file(&file));
    let keys =
        query_one(&lake, r#"SELECT count(*) FROM (SELECT source, "offset" FROM events UNION ALL SELECT source, "offset" FROM rejects)"#);
    let distinct = query_one(
        &lake,
        r#"SELECT count(*) FROM (SELECT DISTINCT source, "offset" FROM (SELECT source, "offset" FROM events UNION ALL SELECT source, "offset" FROM rejects))"#,
    );
    assert_eq!(keys, n, "rows in events + rejects after the re-run");
    assert_eq!(distinct, n, "a line is duplicated after the re-run");
}

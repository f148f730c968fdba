//! Differential tests: the same pipeline on the embedded engine and on a real Spark Connect
//! server (scripts/spark, started by scripts/test) must write the same tables, row by row.
//! Without SWEEP_SPARK_REMOTE these tests say so and return, unless SWEEP_REQUIRE_SPARK=1
//! (set by scripts/test), where a missing server fails them.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use support::spark::{EVENTS_SQL, REJECTS_SQL, assert_same_tables, remote, squid_edge_lines};
use support::{ok, query, summary, sweep};

const SQUID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");
const SHARED_INTEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/intel");

struct Case {
    _dir: tempfile::TempDir,
    inputs: Vec<PathBuf>,
    feeds: Vec<PathBuf>,
    allow: PathBuf,
    root: PathBuf,
}

fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let edge = root.join("edge.log");
    let mut text = (squid_edge_lines().join("\n") + "\n").into_bytes();
    // Lines that are not UTF-8 (a replacement character written on purpose before the bad
    // byte, a CRLF line): `invalid_utf8` rejects with their bytes, on both engines.
    text.extend_from_slice(b"1700000030 1 10.0.0.1 TCP_MISS/200 1 GET http://a/\xff\xfe - DIRECT/1.2.3.4 -\n");
    text.extend_from_slice(b"\xef\xbf\xbd then \xc3\x28 and \xed\xa0\x80 \xf4\x90\x80\x80\r\n");
    // A line longer than max_line_bytes (1 MiB): `too_long`, its first MiB kept in `raw`.
    text.extend(std::iter::repeat_n(b'L', (1 << 20) + 100));
    text.extend_from_slice(b"\r\n");
    std::fs::write(&edge, text).unwrap();
    let gz = root.join("edge-copy.log.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(squid_edge_lines()[..8].join("\n").as_bytes()).unwrap();
    enc.finish().unwrap();
    let feeds = root.join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    std::fs::write(
        feeds.join("edge.txt"),
        "# planted indicators\n198.51.100.0/24\n2001:db8:abcd::/48\n203.0.113.5\nevil.example\nco.uk\n66.35.250.151\nwikipedia.org\n66.230.200.0/24\n\
         http://a.b.evil.example/x?y=1\n//host.example.com:8443/a/b?q\nHTTP://203.0.113.5:80/dl.exe\nhttp://crlf.evil.example/\n\
         http://[2001:db8:abcd::42]/p\nhttp://en.wikipedia.org/wiki/Main_Page\n",
    )
    .unwrap();
    std::fs::write(
        feeds.join("lifecycle.json"),
        r#"{"type": "bundle", "id": "bundle--1", "objects": [
          {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "pattern_type": "stix",
           "pattern": "[domain-name:value = 'expired.example']", "valid_from": "2000-01-01T00:00:00Z", "valid_until": "2001-01-01T00:00:00Z",
           "created": "2000-01-01T00:00:00Z", "modified": "2000-01-01T00:00:00Z", "confidence": 80, "labels": ["old"]},
          {"type": "indicator", "spec_version": "2.1", "id": "indicator--2", "pattern_type": "stix",
           "pattern": "[ipv4-addr:value = '192.0.2.77']", "valid_from": "2030-01-01T00:00:00Z",
           "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    // Allow-listed: a host under an indicator domain, an address inside an indicator network,
    // a network around an indicator address, an IPv6 address inside an indicator network, a URL.
    let allow = root.join("allow.txt");
    std::fs::write(&allow, "a.b.evil.example\n198.51.100.20\n203.0.113.0/28\n2001:db8:abcd::42\nhttp://crlf.evil.example/\n").unwrap();
    let shared = Path::new(SHARED_INTEL);
    Case {
        allow,
        inputs: vec![PathBuf::from(SQUID), edge, gz],
        feeds: vec![feeds, shared.join("stix21-c2-ip.json"), shared.join("ipsum.txt"), shared.join("stix21-poisonivy.json")],
        root,
        _dir: dir,
    }
}

fn scan(case: &Case, lake: &Path, engine: &[&str]) -> serde_json::Value {
    let summary_path = lake.with_extension("json");
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(case.inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--format", "squid", "--out"].map(String::from));
    args.push(lake.display().to_string());
    for feed in &case.feeds {
        args.push("--intel".into());
        args.push(feed.display().to_string());
    }
    args.extend(["--allow".to_string(), case.allow.display().to_string()]);
    args.extend(["--match-fields", "server_ip,host,client_ip,url", "--content", "--quiet", "--summary"].map(String::from));
    args.push(summary_path.display().to_string());
    args.extend(engine.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(sweep(&refs));
    summary(&summary_path)
}

/// Every row of a table, as CSV text, in a fixed order.
fn rows(lake: &Path, sql: &str) -> Vec<String> {
    query(lake, sql)
}

#[test]
fn spark_writes_the_tables_the_embedded_engine_writes() {
    let Some((remote, _server)) = remote() else { return };
    let case = case();
    let embedded = case.root.join("embedded");
    let spark = case.root.join("spark");
    let e = scan(&case, &embedded, &[]);
    let s = scan(&case, &spark, &["--engine", "spark", "--remote", &remote]);

    for key in ["input_lines", "events", "rejects", "skipped", "hits", "reject_reasons", "input_files", "findings", "findings_by_kind"] {
        assert_eq!(e[key], s[key], "summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    assert!(e["findings_by_kind"].as_object().is_some_and(|k| k.len() >= 2), "the content analyser flags hosts: {e}");
    assert_eq!(e["intel"]["inactive"], s["intel"]["inactive"], "inactive matches");
    assert_eq!(e["intel"]["suppressed"], s["intel"]["suppressed"], "allow-listed matches");
    assert!(e["intel"]["suppressed"].as_u64().unwrap() >= 4, "the allowlist suppresses matches: {}", e["intel"]);
    assert_eq!(e["reject_reasons"]["invalid_utf8"].as_u64(), Some(2), "the lines that are not UTF-8: {}", e["reject_reasons"]);
    assert_eq!(e["reject_reasons"]["control_character"].as_u64(), Some(4), "lines with a lone \\r or a NUL: {}", e["reject_reasons"]);
    assert_eq!(e["reject_reasons"]["too_long"].as_u64(), Some(1), "the line over max_line_bytes: {}", e["reject_reasons"]);
    let lines = e["input_lines"].as_u64().unwrap();
    assert_eq!(lines, e["events"].as_u64().unwrap() + e["rejects"].as_u64().unwrap() + e["skipped"].as_u64().unwrap());
    assert!(e["hits"].as_u64().unwrap() >= 20, "the planted indicators hit: {}", e["hits"]);
    assert!(e["intel"]["inactive"].as_u64().unwrap() >= 2, "the lifecycle indicators are held back: {}", e["intel"]);
    let url_hits = support::query_one(&embedded, "SELECT count(*) FROM hits WHERE matched_field = 'url'");
    assert!(url_hits >= 5, "the URL indicators hit (absolute, scheme-less, default port, IPv6): {url_hits}");

    let tables = [
        (
            "events",
            "SELECT ts, client_ip, \"user\", method, url, scheme, host, port, path, query, status, request_bytes, response_bytes, \
             duration_ms, user_agent, referrer, content_type, proxy_action, server_ip, category, format, source, \"offset\", date \
             FROM events ORDER BY source, \"offset\"",
        ),
        ("rejects", "SELECT encode(raw, 'hex'), reason, detail, format, source, \"offset\" FROM rejects ORDER BY source, \"offset\""),
        (
            "hits",
            "SELECT ts, client_ip, \"user\", host, url, indicator, indicator_type, match_kind, matched_field, feed, confidence, \
             array_to_string(tags, '|'), intel_version, source, \"offset\" FROM hits ORDER BY source, \"offset\", indicator, feed",
        ),
        (
            "intel",
            "SELECT indicator, indicator_type, feed, confidence, severity, array_to_string(tags, '|'), description, valid_from, \
             valid_until, intel_version FROM intel ORDER BY indicator, feed",
        ),
        ("findings", FINDINGS_SQL),
    ];
    assert_same_tables(&embedded, &spark, &tables);
}

const FINDINGS_SQL: &str = "SELECT ts, client_ip, \"user\", host, url, source, \"offset\", finding, round(score, 12), reason FROM findings \
     ORDER BY source, \"offset\", finding";

#[test]
fn spark_refuses_what_it_cannot_run_with_the_reason() {
    let Some((remote, _server)) = remote() else { return };
    let case = case();
    // JSON-lines tables are for debugging on the embedded engine.
    let pipeline = case.root.join("refused.toml");
    let text = format!(
        "engine = \"spark\"\nremote = \"{remote}\"\n\n[[extract]]\nfiles = [{:?}]\nformat = \"squid\"\n\n[load]\ndir = {:?}\nrejects = {{ jsonl = {:?} }}\n",
        case.inputs[1].display().to_string(),
        case.root.join("x").display().to_string(),
        case.root.join("x/rejects").display().to_string(),
    );
    std::fs::write(&pipeline, text).unwrap();
    let out = sweep(&["run", pipeline.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run on the Spark engine") && err.contains("rejects table"), "{err}");
    assert!(!case.root.join("x").exists(), "nothing runs before the refusal");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let case = case();
    let out = sweep(&[
        "scan",
        case.inputs[1].to_str().unwrap(),
        "--format",
        "squid",
        "--out",
        case.root.join("x").to_str().unwrap(),
        "--engine",
        "spark",
        "--remote",
        "sc://127.0.0.1:1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the Spark Connect server at sc://127.0.0.1:1") && err.contains("scripts/spark start"), "{err}");
}

/// The fluent API reaches the Spark engine, and its pipeline file says so.
#[test]
fn the_fluent_api_runs_on_spark() {
    use sweep::{Etl, Files, Format, Pipeline, Sweeper, WriteMode};
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "wikipedia.org\n").unwrap();
    let mut sweeper = Sweeper::feeds([feed]);
    sweeper.fields = vec![sweep::MatchField::ServerIp, sweep::MatchField::Host];
    let flow = Etl::spark(remote.clone())
        .extract(Files::paths([SQUID]))
        .transform(Format::squid())
        .sql("SELECT * FROM events WHERE method = 'GET'")
        .analyse(sweeper)
        .lake(dir.path().join("lake"))
        .mode(WriteMode::Overwrite);
    let toml = flow.to_toml();
    assert!(toml.contains("engine = \"spark\"") && toml.contains(&format!("remote = \"{remote}\"")), "{toml}");
    assert_eq!(&Pipeline::from_toml_str(&toml, "fluent", Path::new("/")).unwrap(), flow.pipeline());
    let s = flow.run().unwrap();
    assert_eq!((s.input_lines, s.events, s.rejects, s.skipped), (94, 94, 0, 0));
    // wikipedia.org, en.wikipedia.org and meta.wikipedia.org: 22 requests in the log.
    assert_eq!(s.hits, 22);
    assert_eq!(s.tables["hits"].rows, 22);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A retro-sweep on Spark appends the hits the embedded retro-sweep appends, and a second
/// one appends none.
#[test]
fn retro_sweep_on_spark_appends_what_the_embedded_one_appends() {
    let Some((remote, _server)) = remote() else { return };
    let case = case();
    let base = case.root.join("history");
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(case.inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--format", "squid", "--quiet", "--out"].map(String::from));
    args.push(base.display().to_string());
    ok(sweep(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    retro_twice(&case, &base, &remote, "parquet");
}

/// The same over a lake a Kafka run wrote as Delta tables: the new hits are one Delta commit
/// on either engine.
#[test]
fn retro_sweep_on_spark_appends_to_delta_lakes_as_the_embedded_one_does() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let case = case();
    let topic = support::create_topic(&broker, "retro-history", 2);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for input in &case.inputs {
        let text = std::fs::read(input).unwrap();
        // The line over 1 MiB is more than a Kafka message may hold by default; the retro
        // tests are about hits, so it stays out of the topic.
        lines.extend(text.split(|b| *b == b'\n').filter(|l| !l.is_empty() && l.len() < 512 * 1024).map(<[u8]>::to_vec));
    }
    support::produce(&broker, &topic, 2, lines.iter().map(Vec::as_slice));
    let base = case.root.join("history");
    let url = format!("kafka://{broker}/{topic}");
    let checkpoint = case.root.join("history-checkpoint");
    ok(sweep(&[
        "scan",
        &url,
        "--format",
        "squid",
        "--until-drained",
        "--start",
        "earliest",
        "--table-format",
        "delta",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--out",
        base.to_str().unwrap(),
        "--quiet",
    ]));
    assert!(base.join("events/_delta_log").is_dir() && !base.join("hits").exists());
    retro_twice(&case, &base, &remote, "delta");
    for engine in ["embedded", "spark"] {
        let hits = case.root.join(format!("retro-{engine}-delta/hits"));
        assert!(hits.join("_delta_log").is_dir(), "{engine}: the hits of a Delta lake are a Delta table");
    }
}

/// The newest run record of the lake's journal (`_sweep/runs/<seq>-<run>.json`).
fn last_run_record(lake: &Path) -> serde_json::Value {
    let mut records: Vec<PathBuf> = std::fs::read_dir(lake.join("_sweep/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    records.sort();
    let newest = records.last().unwrap_or_else(|| panic!("{lake:?} has no run record"));
    serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap()
}

/// Retro-sweeps copies of `base` on both engines, twice: the same hits, then none appended.
fn retro_twice(case: &Case, base: &Path, remote: &str, label: &str) {
    let (embedded, spark) = (case.root.join(format!("retro-embedded-{label}")), case.root.join(format!("retro-spark-{label}")));
    copy_dir(base, &embedded);
    copy_dir(base, &spark);

    let retro = |lake: &Path, engine: &[&str], n: usize| {
        let summary_path = case.root.join(format!("{}-{n}.json", lake.file_name().unwrap().to_string_lossy()));
        let mut args: Vec<String> = vec!["retro".into(), lake.display().to_string()];
        for feed in &case.feeds {
            args.extend(["--intel".to_string(), feed.display().to_string()]);
        }
        args.extend(["--allow".to_string(), case.allow.display().to_string()]);
        args.extend(["--match-fields", "server_ip,host,client_ip,url", "--summary"].map(String::from));
        args.push(summary_path.display().to_string());
        args.extend(engine.iter().map(|s| s.to_string()));
        ok(sweep(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        summary(&summary_path)
    };
    let spark_args = ["--engine", "spark", "--remote", remote];
    let (e, s) = (retro(&embedded, &[], 1), retro(&spark, &spark_args, 1));
    for key in ["events_swept", "hits_found", "hits_written", "hits_already_present"] {
        assert_eq!(e[key], s[key], "{label}: retro {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    for key in ["inactive", "suppressed", "indicators", "intel_version"] {
        assert_eq!(e["intel"][key], s["intel"][key], "{label}: retro intel.{key}");
    }
    assert!(e["hits_written"].as_u64().unwrap() >= 20, "{label}: the planted indicators hit: {e}");
    let hits = "SELECT ts, client_ip, \"user\", host, url, indicator, indicator_type, match_kind, matched_field, feed, confidence, \
                array_to_string(tags, '|'), intel_version, source, \"offset\" FROM hits ORDER BY source, \"offset\", indicator, feed";
    assert_same_tables(&embedded, &spark, &[("hits", hits)]);
    // Both engines commit a retro-sweep through the lake's journal: one run record holding
    // the new hits and the intel snapshot, and nothing left in staging.
    for (engine, lake, written) in [("embedded", &embedded, &e["hits_written"]), ("spark", &spark, &s["hits_written"])] {
        let record = last_run_record(lake);
        let rows = |table: &str| record["tables"].as_array().unwrap().iter().find(|t| t["name"] == table).map(|t| t["rows"].clone());
        assert_eq!(rows("hits").as_ref(), Some(written), "{label}/{engine}: the run record's hits: {record}");
        assert!(rows("intel").is_some(), "{label}/{engine}: the run record has no intel table: {record}");
        let staging = lake.join("_sweep/staging");
        assert_eq!(std::fs::read_dir(&staging).map_or(0, |d| d.count()), 0, "{label}/{engine}: files left in {staging:?}");
    }

    // Again: everything is stored already.
    let (e, s) = (retro(&embedded, &[], 2), retro(&spark, &spark_args, 2));
    assert_eq!(
        (e["hits_written"].as_u64(), s["hits_written"].as_u64()),
        (Some(0), Some(0)),
        "{label}: a second retro-sweep appends nothing"
    );
    assert_eq!(e["hits_already_present"], s["hits_already_present"]);
    assert_same_tables(&embedded, &spark, &[("hits", hits)]);
}

/// A Kafka topic on Spark, in micro-batches with the sweeper and alerts, lands as on the
/// embedded engine (events, rejects and hits row by row, the same alerts), in Delta and in
/// Parquet; a second run resumes from the checkpoint; and a batch whose commit marker was
/// lost (a crash after the tables were written) is re-run and each table keeps it once.
#[test]
fn a_kafka_stream_on_spark_sweeps_lands_as_on_embedded_and_resumes_exactly_once() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let case = case();
    let dir = &case.root;
    let topic = support::create_topic(&broker, "spark-lines", 3);
    let mut first = support::squid_lines(dir, 3_000, 11);
    // Messages the reader judges before the format: empty, a lone newline, blank, not
    // UTF-8, CRLF; and the edge lines of the batch test, which hit the planted indicators.
    first.extend([b"".to_vec(), b"\n".to_vec(), b"   \t".to_vec(), b"\xff\xfe not utf-8 \xc3".to_vec()]);
    first.push(b"\xef\xbf\xbd a replacement character, then \xe0\x80\x80 an overlong form".to_vec());
    first.extend(squid_edge_lines().into_iter().map(String::into_bytes));
    first.push(b"1700000030.5 5 10.0.0.1 TCP_MISS/200 1 GET http://crlf.evil.example/ - DIRECT/198.51.100.9 -\r\n".to_vec());
    let second = support::squid_lines(dir, 2_000, 12);

    let url = format!("kafka://{broker}/{topic}");
    let runs = [("embedded", "delta"), ("spark", "delta"), ("spark", "parquet")];
    let alert_topics: Vec<String> = runs.iter().map(|(e, f)| support::create_topic(&broker, &format!("alerts-{e}-{f}"), 1)).collect();
    let run = |i: usize, n: usize| {
        let (engine, table_format) = runs[i];
        let name = format!("{engine}-{table_format}");
        let lake = dir.join(format!("stream-{name}"));
        let summary_path = dir.join(format!("stream-{name}-{n}.json"));
        let alerts = format!("kafka://{broker}/{}", alert_topics[i]);
        let mut args: Vec<String> = ["scan", &url, "--format", "squid", "--until-drained", "--start", "earliest", "--batch-size", "2000"]
            .map(String::from)
            .to_vec();
        args.extend(["--table-format", table_format, "--alerts", &alerts].map(String::from));
        args.extend([
            "--out".into(),
            lake.display().to_string(),
            "--checkpoint".into(),
            dir.join(format!("ckpt-{name}")).display().to_string(),
        ]);
        args.extend(["--summary".into(), summary_path.display().to_string()]);
        for feed in &case.feeds {
            args.extend(["--intel".to_string(), feed.display().to_string()]);
        }
        args.extend([
            "--allow".to_string(),
            case.allow.display().to_string(),
            "--match-fields".into(),
            "server_ip,host,client_ip,url".into(),
        ]);
        if engine == "spark" {
            args.extend(["--engine", "spark", "--remote", &remote].map(String::from));
        }
        ok(sweep(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        (lake, summary(&summary_path))
    };
    let hits_sql = "SELECT ts, client_ip, \"user\", host, url, indicator, indicator_type, match_kind, matched_field, feed, confidence, \
                    array_to_string(tags, '|'), intel_version, source, \"offset\" FROM hits ORDER BY source, \"offset\", indicator, feed";
    let tables = [("events", EVENTS_SQL), ("rejects", REJECTS_SQL), ("hits", hits_sql)];
    let compare = |round: &str, results: &[(PathBuf, serde_json::Value)]| {
        let (embedded, e) = &results[0];
        for (lake, s) in &results[1..] {
            for key in ["input_lines", "events", "rejects", "skipped", "hits", "reject_reasons"] {
                assert_eq!(e[key], s[key], "{round}, {}: summary {key}: embedded {} vs spark {}", lake.display(), e[key], s[key]);
            }
            for key in ["inactive", "suppressed"] {
                assert_eq!(e["intel"][key], s["intel"][key], "{round}: intel.{key}");
            }
            assert_same_tables(embedded, lake, &tables);
        }
    };

    let n1 = support::produce(&broker, &topic, 3, first.iter().map(Vec::as_slice)) as u64;
    let results: Vec<_> = (0..runs.len()).map(|i| run(i, 1)).collect();
    compare("first run", &results);
    let s = &results[1].1;
    assert_eq!(s["input_lines"].as_u64(), Some(n1), "every message is read once: {s}");
    assert!(s["reject_reasons"]["invalid_utf8"].as_u64() >= Some(1) && s["reject_reasons"]["empty"].as_u64() == Some(3), "{s}");
    assert!(s["stream"]["batches"].as_u64() >= Some(2), "batches of at most 2,000 messages: {s}");
    assert!(s["hits"].as_u64() >= Some(20), "the planted indicators hit: {s}");
    assert!(s["intel"]["suppressed"].as_u64() >= Some(1), "the allowlist suppresses matches: {s}");
    let spark_delta = &results[1].0;
    assert!(spark_delta.join("events/_delta_log").is_dir() && spark_delta.join("hits/_delta_log").is_dir());

    let n2 = support::produce(&broker, &topic, 3, second.iter().map(Vec::as_slice)) as u64;
    let results: Vec<_> = (0..runs.len()).map(|i| run(i, 2)).collect();
    compare("second run", &results);
    let s = &results[1].1;
    assert_eq!(s["input_lines"].as_u64(), Some(n1 + n2), "counts since the checkpoint was made: {s}");
    assert_eq!(s["stream"]["batches"].as_u64(), Some(1), "the second run reads only the new messages: {s}");
    let no_duplicates = |lake: &Path| {
        let stored = support::query_one(lake, "SELECT count(*) FROM events") + support::query_one(lake, "SELECT count(*) FROM rejects");
        let distinct = support::query_one(
            lake,
            r#"SELECT count(*) FROM (SELECT source, "offset" FROM events UNION SELECT source, "offset" FROM rejects)"#,
        );
        assert_eq!(stored, distinct, "a message landed twice in {}", lake.display());
        stored as u64
    };
    for (lake, s) in &results[1..] {
        assert_eq!(no_duplicates(lake), n1 + n2 - s["skipped"].as_u64().unwrap(), "every message but the blank ones is stored");
    }

    // A crash after the tables took the last batch, before its commit marker: the batch is
    // re-run over the same offsets, and neither Delta nor Parquet takes it twice.
    for i in 1..runs.len() {
        let commits = dir.join(format!("ckpt-{}-{}/commits", runs[i].0, runs[i].1));
        let last = std::fs::read_dir(&commits)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .max_by_key(|p| p.file_stem().unwrap().to_string_lossy().parse::<u64>().unwrap())
            .unwrap();
        std::fs::remove_file(last).unwrap();
        let (lake, s) = run(i, 3);
        assert_eq!(s["stream"]["replayed_batches"].as_u64(), Some(1), "the unfinished batch is re-run: {s}");
        assert_eq!(s["input_lines"].as_u64(), Some(n1 + n2), "{s}");
        no_duplicates(&lake);
        assert_same_tables(&results[0].0, &lake, &tables);
    }

    // The same alerts, one per hit; a re-run batch sends its alerts again (at least once).
    let hits = results[0].1["hits"].as_u64().unwrap() as usize;
    let distinct = |topic: &str, expect: usize| {
        let mut all: Vec<String> =
            support::consume_all(&broker, topic, expect).into_iter().map(|(k, v)| format!("{k} {}", String::from_utf8_lossy(&v))).collect();
        all.sort();
        all.dedup();
        all
    };
    let embedded_alerts = distinct(&alert_topics[0], hits);
    assert_eq!(embedded_alerts.len(), hits, "one alert per hit");
    for topic in &alert_topics[1..] {
        let spark_alerts = distinct(topic, hits);
        let missing: Vec<_> = embedded_alerts.iter().filter(|a| !spark_alerts.contains(a)).take(3).collect();
        assert!(spark_alerts.len() == hits && missing.is_empty(), "{topic}: {} distinct alerts; missing: {missing:?}", spark_alerts.len());
    }
}

/// A Kafka run on Spark that goes on until stopped: it serves its metrics, takes messages as
/// they arrive, and stops cleanly on SIGTERM. A new pipeline with `--start committed` then
/// starts where the consumer group's committed offsets say, and reads only what came since.
#[test]
fn a_kafka_run_on_spark_goes_on_until_sigterm_and_commits_the_group_offsets() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = support::create_topic(&broker, "spark-live", 2);
    let group = format!("group-{topic}");
    let payloads = support::squid_lines(dir.path(), 3_000, 21);
    let (first, rest) = payloads.split_at(1_000);
    let (second, third) = rest.split_at(1_000);
    support::produce(&broker, &topic, 2, first.iter().map(Vec::as_slice));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("kafka://{broker}/{topic}");
    let (lake, s_path) = (dir.path().join("lake"), dir.path().join("s.json"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["scan", &url, "--format", "squid", "--table-format", "delta", "--start", "earliest", "--group", &group])
        .args(["--out", lake.to_str().unwrap(), "--checkpoint", dir.path().join("ckpt").to_str().unwrap(), "--metrics-addr", &addr])
        .args(["--batch-interval-ms", "200", "-q", "--summary", s_path.to_str().unwrap(), "--engine", "spark", "--remote", &remote])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_for_lines(&addr, 1_000.0, std::time::Duration::from_secs(180));
    support::produce(&broker, &topic, 2, second.iter().map(Vec::as_slice));
    support::wait_for_lines(&addr, 2_000.0, std::time::Duration::from_secs(180));
    assert_eq!(support::metric(&addr, "sweep_consumer_lag"), Some(0.0));
    assert!(support::metric(&addr, "sweep_batches_total") >= Some(2.0), "a batch per round of messages");

    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "sweep exited with {status} after SIGTERM");
    let s = summary(&s_path);
    assert_eq!((s["input_lines"].as_u64(), s["stream"]["stopped_by"].as_str()), (Some(2_000), Some("signal")), "{s}");
    assert!(s["stream"]["produce_to_commit_max_s"].as_f64() > Some(0.0), "the latency is measured: {s}");

    // The group's offsets are where the first pipeline stopped: a new pipeline (a new
    // checkpoint) that starts from them reads only the third round.
    support::produce(&broker, &topic, 2, third.iter().map(Vec::as_slice));
    let (lake2, s2_path) = (dir.path().join("lake2"), dir.path().join("s2.json"));
    ok(sweep(&[
        "scan",
        &url,
        "--format",
        "squid",
        "--table-format",
        "delta",
        "--start",
        "committed",
        "--group",
        &group,
        "--until-drained",
        "--out",
        lake2.to_str().unwrap(),
        "--checkpoint",
        dir.path().join("ckpt2").to_str().unwrap(),
        "--summary",
        s2_path.to_str().unwrap(),
        "--engine",
        "spark",
        "--remote",
        &remote,
    ]));
    let s2 = summary(&s2_path);
    assert_eq!(s2["input_lines"].as_u64(), Some(1_000), "only the messages produced since the group's commit: {s2}");
    let stored = support::query_one(&lake2, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejects)");
    assert_eq!(stored as u64, 1_000 - s2["skipped"].as_u64().unwrap(), "the second pipeline stored the third round only");
}

/// The window analyser of a batch run on Spark writes the metrics table and sends the
/// threshold alerts the embedded engine writes and sends: windows that overlap
/// (size 10m, slide 5m), three key kinds, rules on a count, on one key kind and on a ratio.
#[test]
fn spark_computes_the_window_metrics_and_alerts_of_the_embedded_engine() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated.log");
    let mut text = Vec::new();
    for line in support::squid_lines(dir.path(), 5_000, 31) {
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    // Denials in any case, an error status, and an empty user and host.
    text.extend_from_slice(b"1700000100.000 5 10.9.9.9 TCP_DENIED/403 10 GET http://blocked.example/ - HIER_NONE/- -\n");
    text.extend_from_slice(b"1700000101.000 5 10.9.9.9 tcp_denied_reply/200 10 GET http://blocked.example/a bob HIER_NONE/- -\n");
    text.extend_from_slice(b"1700000102.000 5 10.9.9.9 TCP_MISS/502 10 CONNECT blocked.example:443 - HIER_NONE/- -\n");
    std::fs::write(&generated, text).unwrap();
    let run = |engine: &str| {
        let topic = support::create_topic(&broker, &format!("window-alerts-{engine}"), 1);
        let lake = dir.path().join(format!("lake-{engine}"));
        let pipeline = dir.path().join(format!("{engine}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                r#"engine = "{engine}"
remote = "{remote}"

[[extract]]
files = ["{SQUID}", "{generated}"]
format = "squid"

[[analyse]]
kind = "window"
size = "10m"
slide = "5m"
keys = ["client_ip", "user", "host"]
thresholds = [
  {{ metric = "requests", above = 40 }},
  {{ metric = "denied", above = 1, key = "client_ip" }},
  {{ metric = "error_ratio", above = 0.5 }},
]

[load]
dir = "{lake}"
[load.alerts]
brokers = "{broker}"
topic = "{topic}"
"#,
                generated = generated.display(),
                lake = lake.display(),
            ),
        )
        .unwrap();
        let s_path = dir.path().join(format!("{engine}.json"));
        ok(sweep(&["run", pipeline.to_str().unwrap(), "-q", "--summary", s_path.to_str().unwrap()]));
        (lake, summary(&s_path), topic)
    };
    let ((embedded, e, e_topic), (spark, s, s_topic)) = (run("embedded"), run("spark"));
    for key in ["input_lines", "events", "rejects", "metrics_rows"] {
        assert_eq!(e[key], s[key], "summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    let metrics = "SELECT window_start, window_end, key_kind, key, requests, request_bytes, response_bytes, distinct_hosts, errors, \
                   round(error_ratio, 12), denied FROM metrics ORDER BY window_start, key_kind, key";
    assert_same_tables(&embedded, &spark, &[("metrics", metrics)]);
    let denied = support::query_one(&spark, "SELECT sum(denied) FROM metrics WHERE key = '10.9.9.9'");
    assert_eq!(denied, 4, "both denials, in each of the two windows of the client");

    let expected = support::query_one(
        &embedded,
        "SELECT sum(CASE WHEN requests >= 40 THEN 1 ELSE 0 END) + sum(CASE WHEN denied >= 1 AND key_kind = 'client_ip' THEN 1 ELSE 0 END) \
         + sum(CASE WHEN error_ratio >= 0.5 THEN 1 ELSE 0 END) FROM metrics",
    ) as usize;
    let alerts = |topic: &str| {
        let mut all: Vec<String> = support::consume_all(&broker, topic, expected)
            .into_iter()
            .map(|(k, v)| format!("{k} {}", String::from_utf8_lossy(&v)))
            .collect();
        all.sort();
        all
    };
    let (a, b) = (alerts(&e_topic), alerts(&s_topic));
    assert!(a.iter().any(|x| x.contains("\"denied\"")) && a.iter().any(|x| x.contains("\"requests\"")), "{a:?}");
    assert_eq!(a.len(), expected, "one alert per window and rule that fired");
    assert_eq!(a, b, "the same threshold alerts");
}

/// The window analyser in a Kafka run on Spark keeps its windows open across batches,
/// judges events against the watermark (late ones go to the rejects table, still swept), and
/// emits each window once when it becomes final, as the embedded engine does: the same events,
/// rejects, metrics and alerts. One partition and fixed batch sizes, so that both engines cut
/// the topic into the same batches (lateness depends on where a batch starts).
#[test]
fn a_kafka_run_on_spark_windows_with_watermarks_as_on_embedded() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = support::create_topic(&broker, "spark-windows", 1);
    let base = 1_700_000_000i64;
    let hosts = ["a.example", "paypa1.com", "c.example", "bad-domain.net", "xkqjzvwphtrmbnd.com"];
    let lines: Vec<Vec<u8>> = (0..2_500i64)
        .map(|i| {
            // Two seconds apart, some 40 s behind (within the lateness), three an hour behind (late).
            let ts = match i {
                1_200 | 1_203 | 1_900 => base - 3_600,
                _ if i % 10 == 3 => base + i * 2 - 40,
                _ => base + i * 2,
            };
            let status = [200, 403, 404, 200, 500][(i % 5) as usize];
            let action = if i % 7 == 0 { "TCP_DENIED" } else { "TCP_MISS" };
            format!(
                "{ts}.{ms:03} {elapsed} 10.1.{a}.{b} {action}/{status} {bytes} GET http://{host}/p{i} {user} HIER_DIRECT/198.51.100.{c} text/html",
                ms = i % 1000,
                elapsed = i % 97,
                a = i % 3,
                b = i % 4,
                bytes = 100 + i * 13 % 5000,
                host = hosts[(i % 5) as usize],
                user = ["alice", "bob", "-"][(i % 3) as usize],
                c = i % 200,
            )
            .into_bytes()
        })
        .collect();
    support::produce(&broker, &topic, 1, lines.iter().map(Vec::as_slice));
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "bad-domain.net\n").unwrap();

    let run = |engine: &str| {
        let alerts = support::create_topic(&broker, &format!("window-stream-alerts-{engine}"), 1);
        let lake = dir.path().join(format!("lake-{engine}"));
        let pipeline = dir.path().join(format!("{engine}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                r#"engine = "{engine}"
remote = "{remote}"

[[extract]]
format = "squid"
[extract.kafka]
brokers = "{broker}"
topics = ["{topic}"]
start = "earliest"
batch_size = 1000
batch_interval_ms = 10000

[[analyse]]
kind = "sweeper"
intel = [{{ path = "{feed}" }}]

[[analyse]]
kind = "content"

[[analyse]]
kind = "window"
size = "10m"
slide = "5m"
keys = ["client_ip", "host"]
allowed_lateness = "1m"
thresholds = [{{ metric = "requests", above = 60 }}, {{ metric = "denied", above = 10, key = "client_ip" }}]

[load]
dir = "{lake}"
format = "delta"
[load.alerts]
brokers = "{broker}"
topic = "{alerts}"

[stream]
checkpoint = "{ckpt}"
stop_when_drained = true
"#,
                feed = feed.display(),
                lake = lake.display(),
                ckpt = dir.path().join(format!("ckpt-{engine}")).display(),
            ),
        )
        .unwrap();
        let s_path = dir.path().join(format!("{engine}.json"));
        ok(sweep(&["run", pipeline.to_str().unwrap(), "-q", "--summary", s_path.to_str().unwrap()]));
        (lake, summary(&s_path), alerts)
    };
    let ((embedded, e, e_alerts), (spark, s, s_alerts)) = (run("embedded"), run("spark"));
    for key in ["input_lines", "events", "rejects", "hits", "metrics_rows", "reject_reasons", "findings", "findings_by_kind"] {
        assert_eq!(e[key], s[key], "summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    assert!(e["findings"].as_u64() >= Some(500), "paypa1.com and the generated name are flagged: {e}");
    assert_eq!(e["stream"]["late_events"], s["stream"]["late_events"]);
    assert_eq!(s["stream"]["late_events"].as_u64(), Some(3), "the three events an hour behind are late: {s}");
    assert_eq!(s["stream"]["batches"].as_u64(), Some(4), "three batches of messages and the final flush: {s}");
    assert!(e["hits"].as_u64() >= Some(400), "every fifth event is at bad-domain.net: {e}");
    let metrics = "SELECT window_start, window_end, key_kind, key, requests, request_bytes, response_bytes, distinct_hosts, errors, \
                   round(error_ratio, 12), denied FROM metrics ORDER BY window_start, key_kind, key";
    let hits = "SELECT ts, client_ip, host, indicator, matched_field, source, \"offset\" FROM hits ORDER BY source, \"offset\"";
    let tables = [("events", EVENTS_SQL), ("rejects", REJECTS_SQL), ("metrics", metrics), ("hits", hits), ("findings", FINDINGS_SQL)];
    assert_same_tables(&embedded, &spark, &tables);
    let late_hits = support::query_one(&spark, "SELECT count(*) FROM hits WHERE ts < TIMESTAMP '2023-11-14 22:00:00'");
    assert_eq!(late_hits, 1, "a late event is still swept (the one at bad-domain.net)");

    // A crash before the final flush was committed: it is re-run from the stored panes of the
    // batch before, and the metrics table keeps its windows once.
    std::fs::remove_file(dir.path().join("ckpt-spark/commits/000000000003.json")).unwrap();
    let metrics_before = rows(&spark, metrics);
    let (_, replayed, _) = run("spark");
    assert_eq!(replayed["stream"]["replayed_batches"].as_u64(), Some(1), "{replayed}");
    assert_eq!(rows(&spark, metrics), metrics_before, "the re-run flush changed the metrics table");

    let expected = e["hits"].as_u64().unwrap() as usize;
    let alerts = |topic: &str| {
        let mut all: Vec<String> = support::consume_all(&broker, topic, expected)
            .into_iter()
            .map(|(k, v)| format!("{k} {}", String::from_utf8_lossy(&v)))
            .collect();
        all.sort();
        all
    };
    let (a, b) = (alerts(&e_alerts), alerts(&s_alerts));
    assert!(a.iter().any(|x| x.contains("\"threshold\"")), "threshold alerts fired: {} alerts", a.len());
    assert_eq!(a, b, "the same hit and threshold alerts");
}

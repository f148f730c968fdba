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
    match std::env::var("SWEEP_SPARK_REMOTE") {
        Ok(r) if !r.is_empty() => Some((r, SERVER.lock().unwrap_or_else(|e| e.into_inner()))),
        _ => {
            assert!(
                std::env::var("SWEEP_REQUIRE_SPARK").as_deref() != Ok("1"),
                "SWEEP_REQUIRE_SPARK=1 but SWEEP_SPARK_REMOTE is unset: start a server with scripts/spark start"
            );
            eprintln!("skipped: no Spark Connect server (SWEEP_SPARK_REMOTE unset; scripts/test starts one)");
            None
        }
    }
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
        let differing: Vec<String> =
            a.iter().zip(&b).filter(|(x, y)| x != y).take(5).map(|(x, y)| format!("  embedded: {x}\n  spark:    {y}")).collect();
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

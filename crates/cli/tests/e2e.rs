//! End to end: the `sweep` binary on real logs, its output read back by independent
//! readers (pyarrow and DuckDB from the venv that scripts/setup makes).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{ok, sweep};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// The Python with pyarrow and duckdb (scripts/setup creates it; scripts/test exports it).
fn python() -> PathBuf {
    let p = std::env::var_os("SWEEP_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        Path::new(&home).join(".cache/sweep/venv/bin/python")
    });
    assert!(p.exists(), "no Python with pyarrow at {p:?}: run scripts/setup (or scripts/test), or set SWEEP_PYTHON");
    p
}

fn py(script: &str) -> String {
    let out = Command::new(python()).arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn scan_squid_read_back_with_pyarrow_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let summary = dir.path().join("run.json");
    let log = format!("{SHARED}/logs/squid-native-squidview.log");
    let text = ok(sweep(&["scan", &log, "--format", "squid", "--out", lake.to_str().unwrap(), "--summary", summary.to_str().unwrap()]));
    assert!(text.contains("every line accounted for: yes"), "{text}");

    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    for (key, want) in [("input_lines", 94), ("events", 94), ("rejects", 0), ("skipped", 0), ("hits", 0), ("metrics_rows", 0)] {
        assert_eq!(s[key], want, "summary {key}");
    }
    assert!(s["elapsed_s"].as_f64().unwrap() > 0.0);

    let lake_s = lake.display();
    let got = py(&format!(
        r#"
import pyarrow.dataset as ds
t = ds.dataset("{lake_s}/events", format="parquet", partitioning="hive").to_table()
t = t.sort_by("offset")
r = t.slice(0, 1).to_pylist()[0]
print(t.num_rows, r["ts"].isoformat(), r["client_ip"], r["status"], r["response_bytes"], r["method"], r["host"], r["user"], r["server_ip"], r["content_type"], r["date"])
"#
    ));
    assert_eq!(
        got.trim(),
        "94 2007-12-22T04:37:19.740000+00:00 127.0.0.1 301 631 GET www.slashdot.org graeme 66.35.250.151 text/html 2007-12-22"
    );
    let got = py(&format!(
        r#"
import duckdb
print(duckdb.sql("SELECT count(*), count(DISTINCT host), sum(response_bytes) FROM read_parquet('{lake_s}/events/*/*.parquet', hive_partitioning=true)").fetchone())
"#
    ));
    let want =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| l.split_whitespace().nth(4).unwrap().parse::<i64>().unwrap()).sum::<i64>();
    assert!(got.trim().starts_with("(94, ") && got.trim().ends_with(&format!(", {want})")), "{got}");
}

#[test]
fn scan_apache_with_rejects_then_query() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    // A copy of the real log with two lines that cannot parse, gzip-compressed.
    let mut data = std::fs::read(format!("{SHARED}/logs/apache-combined-semicomplete.log")).unwrap();
    data.extend_from_slice(b"not a log line\n\xff\xfe binary \x00\n");
    let gz = dir.path().join("access.log.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &data).unwrap();
    enc.finish().unwrap();
    ok(sweep(&["scan", gz.to_str().unwrap(), "--format", "combined", "--out", lake_s, "--quiet"]));

    let got = ok(sweep(&["query", lake_s, "SELECT count(*) AS n FROM events", "--output", "csv"]));
    assert_eq!(got.trim(), "n\n9999");
    let got = ok(sweep(&["query", lake_s, "SELECT reason, count(*) AS n FROM rejects GROUP BY reason ORDER BY reason", "--output", "csv"]));
    assert_eq!(got.trim(), "reason,n\nbad_ip,1\ninvalid_utf8,1\nmalformed,1");
    // The raw bytes of a reject survive unchanged, invalid UTF-8 included.
    let got = py(&format!(
        r#"
import pyarrow.parquet as pq
t = pq.read_table("{lake_s}/rejects")
raws = sorted(t.column("raw").to_pylist())
print(raws[-1] == b"\xff\xfe binary \x00", sorted(t.column("offset").to_pylist()))
"#
    ));
    assert_eq!(got.trim(), "True [8899, 10001, 10002]");

    // The same input again is a no-op (the lake's ledger has it), in any mode but overwrite.
    let out = ok(sweep(&["scan", gz.to_str().unwrap(), "--format", "combined", "--out", lake_s, "--mode", "append"]));
    assert!(out.contains("skipped  1 input an earlier run loaded unchanged"), "{out}");
    // Another input into the same folder is refused without --mode.
    let other = dir.path().join("other.log");
    std::fs::write(&other, &data).unwrap();
    let out = sweep(&["scan", other.to_str().unwrap(), "--format", "combined", "--out", lake_s, "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds data"));
    ok(sweep(&["scan", gz.to_str().unwrap(), "--format", "combined", "--out", lake_s, "--quiet", "--mode", "append", "--reload"]));
    let got = ok(sweep(&["query", lake_s, "SELECT count(*) AS n FROM events", "--output", "csv"]));
    assert_eq!(got.trim(), "n\n19998");
}

#[test]
fn run_pipeline_file_with_sql_stage() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[[extract]]
files = ["{SHARED}/logs/squid-native-squidview.log"]
format = "squid"

[[transform]]
sql = "SELECT * FROM events WHERE status = 200"

[load]
dir = "out"
"#
        ),
    )
    .unwrap();
    let summary = dir.path().join("s.json");
    ok(sweep(&["run", pipeline.to_str().unwrap(), "--summary", summary.to_str().unwrap(), "--quiet"]));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["events"], 94);
    // 87 of the 94 lines have status 200 (the rest are 2 x 301 and 5 x 304).
    assert_eq!(s["tables"]["events"]["rows"], 87);
    let out = dir.path().join("out");
    let got = ok(sweep(&["query", out.to_str().unwrap(), "SELECT count(*) AS n FROM events WHERE status <> 200", "--output", "csv"]));
    assert_eq!(got.trim(), "n\n0");
}

#[test]
fn clear_errors_and_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(&["scan", "/no/such/file.log", "--format", "squid", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");

    let out = sweep(&["scan", "x", "--format", "sqiud", "--out", "y"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"squid\""));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\nfromat = 1\n").unwrap();
    let out = sweep(&["run", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("unknown field `fromat`"), "{err}");

    let out = sweep(&["run", dir.path().join("p.toml").to_str().unwrap(), "--summary", "/x.json"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read pipeline file"));

    let out = sweep(&["query", dir.path().to_str().unwrap(), "SELECT 1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no sweep tables"));
}

#[test]
fn formats_lists_every_format_with_an_example() {
    let text = ok(sweep(&["formats"]));
    for name in ["squid", "squid_common", "squid_combined", "common", "combined", "vhost_combined", "elff", "zscaler", "jsonl", "custom"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{text}");
    }
}

#[test]
fn demo_runs_and_shows_tables() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let text = ok(sweep(&["demo", "--dir", demo.to_str().unwrap(), "--lines", "3000"]));
    assert!(text.contains("every line accounted for: yes"), "{text}");
    assert!(text.contains("Top hosts"), "{text}");
    assert!(text.contains("Busiest clients"), "{text}");
    assert!(text.contains("  metrics  "), "the summary names the metrics table: {text}");
    assert!(text.contains("  findings ") && text.contains("Findings: hosts"), "the demo shows the content analyser's findings: {text}");
    // Each planted host shows up with its kind (two visits each).
    for (host, kind) in [
        ("45.9.148.12", "missing_fqdn"),
        ("paypa1.com", "typosquat"),
        ("paypal.com.account-verify.xyz", "masquerade"),
        ("xjw9q2kz7hf0v3lp.com", "dga"),
        ("xn--pypal-4ve.com", "masquerade"),
    ] {
        assert!(text.lines().any(|l| l.contains(&format!("| {kind}")) && l.contains(&format!("| {host} "))), "{host} {kind}: {text}");
    }
    // The generated traffic gives the content analyser nothing: its findings are the planted hosts.
    let hosts =
        ok(sweep(&["query", demo.join("lake").to_str().unwrap(), "SELECT DISTINCT host FROM findings ORDER BY host", "--output", "csv"]));
    assert_eq!(
        hosts, "host\n45.9.148.12\npaypa1.com\npaypal.com.account-verify.xyz\nxjw9q2kz7hf0v3lp.com\nxn--pypal-4ve.com\n",
        "only the planted hosts are findings"
    );
    // Each planted attack request is caught by its SigmaHQ rule.
    for rule in ["SQL Injection Strings In URI", "Path Traversal Exploitation Attempts", "JNDIExploit Pattern", "Hack Tool User Agent"] {
        assert!(text.lines().any(|l| l.starts_with(&format!("| {rule} ")) && l.contains("| 10.1.6.70 ")), "{rule}: {text}");
    }
    // The saved pipeline runs again as it is.
    ok(sweep(&["run", demo.join("pipeline.toml").to_str().unwrap(), "--quiet"]));
}

#[test]
fn scan_reads_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["scan", "-", "--format", "squid", "--out", lake.to_str().unwrap(), "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let data = std::fs::read(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    ok(child.wait_with_output().unwrap());
    let got = ok(sweep(&["query", lake.to_str().unwrap(), "SELECT source, count(*) AS n FROM events GROUP BY source", "--output", "csv"]));
    assert_eq!(got.trim(), "source,n\nstdin,94");
}

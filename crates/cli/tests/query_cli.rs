//! `sweep query` as a user runs it: CSV with list columns, empty results with their header,
//! listing tables and columns, and Parquet output.

mod support;

use support::{ok, sweep};

/// A lake with one event that hits an indicator (the hits and intel tables have list columns).
fn lake(dir: &std::path::Path) -> std::path::PathBuf {
    let log = dir.join("access.log");
    std::fs::write(
        &log,
        "1700000000.000 5 10.0.0.1 TCP_MISS/200 1 GET http://bad-host.net/x - DIRECT/198.51.100.9 -\n\
         1700000001.000 5 10.0.0.2 TCP_MISS/200 1 GET http://good-host.net/ - DIRECT/198.51.100.10 -\n",
    )
    .unwrap();
    let feed = dir.join("feed.txt");
    std::fs::write(&feed, "bad-host.net\n").unwrap();
    let lake = dir.join("lake");
    ok(sweep(&[
        "scan",
        log.to_str().unwrap(),
        "--format",
        "squid",
        "--intel",
        feed.to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
        "--quiet",
    ]));
    lake
}

#[test]
fn query_prints_lists_in_csv_empty_results_with_headers_and_lists_tables() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let l = lake.to_str().unwrap();

    // List columns (tags) are written as their display text, not refused after the header.
    let csv = ok(sweep(&["query", l, "SELECT indicator, tags FROM hits", "--output", "csv"]));
    assert_eq!(csv, "indicator,tags\nbad-host.net,[]\n");
    let csv = ok(sweep(&["query", l, "SELECT * FROM intel", "--output", "csv"]));
    assert!(csv.starts_with("indicator,indicator_type,") && csv.lines().count() == 2, "{csv}");

    // A computed text column (DataFusion plans Utf8 where the rows hold Utf8View).
    let sql = "SELECT CASE WHEN status = 1 THEN '' ELSE host END AS h FROM events ORDER BY h";
    assert_eq!(ok(sweep(&["query", l, sql, "--output", "csv"])), "h\nbad-host.net\ngood-host.net\n");
    assert!(ok(sweep(&["query", l, sql])).contains("| good-host.net |"));

    // An empty result keeps its header, in a table and in CSV.
    let table = ok(sweep(&["query", l, "SELECT host, status FROM events WHERE false"]));
    assert!(table.contains("| host | status |"), "{table}");
    let csv = ok(sweep(&["query", l, "SELECT host, status FROM events WHERE false", "--output", "csv"]));
    assert_eq!(csv, "host,status\n");

    // The lake's tables, and a table's columns.
    let tables = ok(sweep(&["query", l, "SHOW TABLES", "--output", "csv"]));
    for t in ["events", "hits", "intel", "rejects"] {
        assert!(tables.lines().any(|row| row.split(',').any(|c| c == t)), "SHOW TABLES lacks {t}: {tables}");
    }
    let listed = ok(sweep(&["query", l, "\\d", "--output", "csv"]));
    assert_eq!(listed, "table_name\nevents\nhits\nintel\nrejects\n");
    let columns = ok(sweep(&["query", l, "\\d hits;", "--output", "csv"]));
    assert!(columns.starts_with("column_name,data_type,is_nullable") && columns.contains("\nindicator,Utf8"), "{columns}");
}

#[test]
fn query_writes_a_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let l = lake.to_str().unwrap();
    let out = dir.path().join("hits.parquet");
    ok(sweep(&["query", l, "SELECT indicator, tags, source, \"offset\" FROM hits", "--output", "parquet", out.to_str().unwrap()]));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["indicator", "tags", "source", "offset"]);
    assert!(schema.field(1).data_type().is_nested(), "the list stays a list in Parquet");

    // Parquet needs a file to write to: said before anything runs.
    let refused = sweep(&["query", l, "SELECT 1", "--output", "parquet"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--output parquet writes a file"));
}

/// `sweep query LAKE` without SQL reads the statements on standard input (a shell with
/// history when it is a terminal): each result in turn; a failing one is reported and the
/// others still run.
#[test]
fn query_without_sql_runs_the_statements_of_standard_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let sweep = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(args)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    support::ok(sweep(&["generate", "--format", "squid", "--lines", "30", "--malformed-per-million", "0", "--out", "a.log"], ""));
    support::ok(sweep(&["scan", "a.log", "--format", "squid", "--out", "lake", "-q"], ""));
    let out = sweep(
        &["query", "lake", "--output", "csv"],
        "SHOW TABLES;\n\\d events\nSELECT count(*) AS n\n  FROM events\n  WHERE url <> ';';\n",
    );
    let stdout = support::ok(out);
    assert!(stdout.contains("table_name") && stdout.contains("rejects"), "{stdout}");
    assert!(stdout.contains("column_name") && stdout.contains("client_ip"), "{stdout}");
    assert!(stdout.ends_with("n\n30\n"), "{stdout}");

    let out = sweep(&["query", "lake", "--output", "csv"], "SELECT nope FROM events; SELECT 1 AS one;");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("one\n1\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope") && stderr.contains("1 of 2 statements failed"), "{stderr}");
}

/// The shell on a real terminal (a pseudo-terminal from util-linux `script`): a statement
/// typed with a correction, then recalled with the up arrow and run again; the history file
/// keeps it for the next session.
#[test]
fn the_shell_edits_lines_and_recalls_statements_with_the_arrows() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let command = format!("{} query {} --output csv", env!("CARGO_BIN_EXE_sweep"), lake.display());
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("SWEEP_CACHE", dir.path().join("cache"))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs (it gives the shell a terminal)");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |what: &str, times: usize| {
        let start = Instant::now();
        while seen.lock().unwrap().matches(what).count() < times {
            assert!(start.elapsed() < Duration::from_secs(60), "waited for {what:?} x{times}; saw:\n{}", seen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    wait_for("sweep> ", 1);
    // "SELECT count(*) AS hitz FROM hits;" with "hitz" mended: left arrows, backspace, "s".
    stdin.write_all(b"SELECT count(*) AS hitz FROM hits;").unwrap();
    stdin.write_all(&b"\x1b[D".repeat(" FROM hits;".len())).unwrap();
    stdin.write_all(b"\x7fs\r").unwrap();
    stdin.flush().unwrap();
    wait_for("hits\r\n1\r\n", 1);
    wait_for("sweep> ", 2);
    stdin.write_all(b"\x1b[A\r").unwrap();
    stdin.flush().unwrap();
    wait_for("hits\r\n1\r\n", 2);
    wait_for("sweep> ", 3);
    stdin.write_all(b"\\q\r").unwrap();
    stdin.flush().unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{}", seen.lock().unwrap());
    let history = std::fs::read_to_string(dir.path().join("cache/query_history")).unwrap();
    assert_eq!(history, "SELECT count(*) AS hits FROM hits;\n", "one line, the mended statement, once");
}

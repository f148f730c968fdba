//! The quick build that `scripts/demo` makes (`--profile demo --no-default-features`: no
//! Kafka, no Spark engine, no Delta tables, no object storage or HTTP(S)) runs the demo, and
//! says once, before anything is written, that it lacks a part a command needs, and how to
//! get it.
//!
//! scripts/test builds that binary and names it in SWEEP_QUICK_BUILD_BIN; without it these
//! tests say so and return, unless SWEEP_REQUIRE_QUICK_BUILD=1 (scripts/test sets it).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::ok;

fn quick_binary() -> Option<String> {
    support::service("SWEEP_QUICK_BUILD_BIN", "SWEEP_REQUIRE_QUICK_BUILD", "cargo build --profile demo --no-default-features -p sweep-cli")
}

fn run(binary: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(binary).args(args).current_dir(dir).output().unwrap()
}

/// The standard error of a run that must fail with exit code 1, checked to say `expected`
/// exactly once.
fn refused(out: Output, expected: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected a refusal, got {:?}\nstderr: {stderr}", out.status);
    assert_eq!(stderr.matches(expected).count(), 1, "{expected:?} said once in:\n{stderr}");
    assert!(stderr.contains("scripts/install"), "the message says how to get the full binary:\n{stderr}");
    stderr
}

#[test]
fn the_quick_build_says_what_it_was_built_without() {
    let Some(quick) = quick_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let version = ok(run(&quick, dir.path(), &["--version"]));
    assert!(version.contains("built without Kafka, the Spark engine, Delta tables, object storage and HTTP(S)"), "{version}");
    let full = ok(run(env!("CARGO_BIN_EXE_sweep"), dir.path(), &["--version"]));
    assert!(!full.contains("without"), "the default build holds every part: {full}");
}

#[test]
fn the_quick_build_runs_the_demo_and_queries_its_lake() {
    let Some(quick) = quick_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let stdout = ok(run(&quick, dir.path(), &["demo", "--dir", "demo", "--lines", "2000"]));
    assert!(stdout.contains("sweep query"), "the demo shows what to try next:\n{stdout}");
    let counts = ok(run(&quick, dir.path(), &["query", "demo/lake", "SELECT count(*) AS n FROM events", "--output", "csv"]));
    let events: u64 = counts.lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(events >= 6_000 - 100, "three generated logs of 2,000 lines, a few of them broken: {events} events");
    // The same tables as the full binary's demo.
    ok(run(env!("CARGO_BIN_EXE_sweep"), dir.path(), &["demo", "--dir", "full", "--lines", "2000"]));
    for table in ["events", "rejects", "hits", "findings", "detections"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let quick_rows = ok(run(&quick, dir.path(), &["query", "demo/lake", &sql, "--output", "csv"]));
        let full_rows = ok(run(env!("CARGO_BIN_EXE_sweep"), dir.path(), &["query", "full/lake", &sql, "--output", "csv"]));
        assert_eq!(quick_rows, full_rows, "{table}");
    }
}

#[test]
fn a_part_the_quick_build_lacks_is_said_once_and_nothing_is_written() {
    let Some(quick) = quick_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(&quick, d, &["generate", "--format", "squid", "--lines", "200", "--out", "access.log"]));

    refused(
        run(&quick, d, &["scan", "access.log", "--format", "squid", "--out", "lake", "--table-format", "delta"]),
        "this sweep was built without Delta tables",
    );
    assert!(!d.join("lake/events").exists(), "nothing written for a refused run");

    refused(
        run(&quick, d, &["scan", "kafka://127.0.0.1:9/proxy", "--format", "squid", "--checkpoint", "ckpt", "--out", "stream"]),
        "this sweep was built without Kafka",
    );
    assert!(!d.join("stream/events").exists() && !d.join("ckpt").exists(), "nothing written for a refused stream");

    refused(
        run(
            &quick,
            d,
            &["scan", "access.log", "--format", "squid", "--out", "spark-lake", "--engine", "spark", "--remote", "sc://127.0.0.1:9"],
        ),
        "this sweep was built without the Spark engine",
    );

    // URLs: an input, a feed, a lake to write and a lake to query, each refused by name.
    let without_urls = "this sweep was built without object storage and HTTP(S)";
    let stderr = refused(run(&quick, d, &["scan", "s3://logs/access.log", "--format", "squid", "--out", "lake"]), without_urls);
    assert!(stderr.contains("s3://logs/access.log"), "the message names the URL:\n{stderr}");
    let stderr = refused(
        run(&quick, d, &["scan", "access.log", "--format", "squid", "--intel", "https://feeds.example/ips.txt", "--out", "lake"]),
        without_urls,
    );
    assert!(stderr.contains("https://feeds.example/ips.txt"), "{stderr}");
    refused(run(&quick, d, &["scan", "access.log", "--format", "squid", "--out", "gs://lakes/proxy"]), without_urls);
    assert!(!d.join("lake").exists(), "nothing written for a refused run");
    refused(run(&quick, d, &["query", "az://lakes/proxy", "SELECT count(*) FROM events"]), without_urls);

    // A Delta lake the full binary wrote is named when the quick one is asked to read it.
    ok(run(env!("CARGO_BIN_EXE_sweep"), d, &["scan", "access.log", "--format", "squid", "--out", "delta-lake", "--table-format", "delta"]));
    let stderr = refused(run(&quick, d, &["query", "delta-lake", "SELECT count(*) FROM events"]), "built without Delta tables");
    assert!(stderr.contains("delta-lake/events"), "the message names the table:\n{stderr}");

    // `sweep check` lists the missing part among the pipeline's problems.
    let out = run(&quick, d, &["scan", "access.log", "--format", "squid", "--out", "lake", "--table-format", "delta", "--check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("built without Delta tables"), "{stdout}");
}

/// The quick build aborts where the full one unwinds (`panic = "abort"`), and its lake
/// journal is the same code: a quick run killed at any moment and run again leaves the rows
/// of one clean run, never a part or twice.
#[test]
fn a_killed_quick_run_again_equals_one_clean_run() {
    let Some(quick) = quick_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..3 {
        let (name, seed) = (format!("access-{i}.log"), i.to_string());
        ok(run(&quick, d, &["generate", "--format", "squid", "--lines", "30000", "--seed", &seed, "--out", &name]));
    }
    let scan = |lake: &str| -> Vec<String> {
        ["scan", "access-0.log", "access-1.log", "access-2.log", "--format", "squid", "--mode", "append", "--quiet", "--out", lake]
            .map(str::to_string)
            .to_vec()
    };
    let rows = |lake: &str| {
        let sql = "SELECT source, \"offset\", host, url, status FROM events ORDER BY source, \"offset\"";
        let mut out = ok(run(&quick, d, &["query", lake, sql, "--output", "csv"]));
        let sql = "SELECT source, \"offset\", reason FROM rejects ORDER BY source, \"offset\"";
        out.push_str(&ok(run(&quick, d, &["query", lake, sql, "--output", "csv"])));
        out
    };
    let started = std::time::Instant::now();
    ok(Command::new(&quick).args(scan("clean")).current_dir(d).output().unwrap());
    let clean_time = started.elapsed();
    let expected = rows("clean");
    let mut killed = 0;
    for point in 1..=5u32 {
        let lake = format!("lake-{point}");
        let mut child = Command::new(&quick).args(scan(&lake)).current_dir(d).spawn().unwrap();
        std::thread::sleep(clean_time * point / 6);
        killed += child.try_wait().unwrap().is_none() as u32;
        let _ = child.kill();
        let _ = child.wait();
        ok(Command::new(&quick).args(scan(&lake)).current_dir(d).output().unwrap());
        assert_eq!(rows(&lake), expected, "killed at {point}/6 of a clean run: the lake differs from one clean run");
    }
    assert!(killed >= 3, "only {killed} of 5 runs were killed before finishing");
}

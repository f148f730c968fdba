//! `sweep check` through the binary: a pipeline that would run is passed with what it would
//! read (counts, formats, columns); one with several mistakes gets every mistake listed,
//! exit 1, and nothing written; Kafka and Spark are asked for real (scripts/test starts
//! them).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::ok;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(dir).output().unwrap()
}

/// A folder with a Squid log, an Apache log and a pipeline over both (the second read as
/// `format = "auto"`), with an intel feed, the bundled Sigma proxy rules and a SQL stage.
fn setup(sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    ok(run(dir.path(), &["generate", "--format", "squid", "--lines", "300", "--malformed-per-million", "0", "--out", "logs/a.log"]));
    ok(run(dir.path(), &["generate", "--format", "combined", "--lines", "100", "--malformed-per-million", "0", "--out", "logs/b.log"]));
    let pipeline = format!(
        r#"
[[extract]]
files = ["logs/a.log"]
format = "squid"

[[extract]]
files = ["logs/b.log"]
format = "auto"

[[transform]]
sql = "{sql}"

[[analyse]]
kind = "sweeper"
intel = [{{ path = "{root}/tests/fixtures/intel/feeds/urlhaus.csv" }}]

[[analyse]]
kind = "sigma"
rules = ["{root}/../shared/data/sigma/proxy"]

[load]
dir = "lake"
"#,
        root = ROOT
    );
    std::fs::write(dir.path().join("pipeline.toml"), pipeline).unwrap();
    dir
}

#[test]
fn a_pipeline_that_would_run_passes_with_what_it_would_read() {
    let dir = setup("SELECT * FROM events WHERE status = 200");
    let stdout = ok(run(dir.path(), &["check", "pipeline.toml"]));
    for expected in [
        "format   ./logs/a.log: squid reads 300 of the first 300 lines (100.0%)",
        "format   ./logs/b.log: auto: combined reads 100 of the first 100 lines (100.0%)",
        "sql      1 SQL stage(s): events get 23 columns",
        "intel    urlhaus.csv: 4 indicators",
        "rules and 0 correlations loaded",
        "output   events table ./lake/events: parquet (new or empty)",
        "sweep check: no problem in",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    assert!(!dir.path().join("lake").exists(), "a check writes nothing");
    let json: serde_json::Value = serde_json::from_str(&ok(run(dir.path(), &["check", "pipeline.toml", "--json"]))).unwrap();
    assert!(json["items"].as_array().unwrap().iter().all(|i| i["problem"].is_null()), "{json}");

    // The run it checked goes through; a second check then says the lake holds data.
    ok(run(dir.path(), &["run", "pipeline.toml", "--quiet"]));
    let out = run(dir.path(), &["check", "pipeline.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PROBLEM  output   events table ./lake/events: already holds data; choose --mode append"), "{stdout}");
}

#[test]
fn every_mistake_is_listed_once_and_nothing_is_written() {
    let dir = setup("SELECT * FROM events WHERE statuss = 200");
    let toml = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    // A missing log, a log read with the wrong format, and rules that are not there.
    let toml = toml
        .replacen(r#"files = ["logs/a.log"]"#, r#"files = ["logs/a.log", "logs/missing.log"]"#, 1)
        .replacen(r#"files = ["logs/b.log"]"#, r#"files = ["logs/b.log"]"#, 1)
        .replacen(r#"format = "auto""#, r#"format = "squid""#, 1)
        .replace("sigma/proxy", "sigma/no-such-folder");
    std::fs::write(dir.path().join("pipeline.toml"), toml).unwrap();
    let out = run(dir.path(), &["check", "pipeline.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<&str> = stdout.lines().filter(|l| l.starts_with("PROBLEM")).collect();
    assert_eq!(problems.len(), 4, "{stdout}");
    assert!(problems[0].contains("logs/missing.log\" does not exist"), "{stdout}");
    assert!(
        problems[1].contains("./logs/b.log: squid reads 0 of the first 100 lines") && problems[1].contains("it looks like combined"),
        "{stdout}"
    );
    assert!(problems[2].contains("No field named statuss"), "{stdout}");
    assert!(problems[3].contains("no-such-folder") && problems[3].contains("no such file or folder"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("problems found").count(), 1, "the error is said once: {stderr}");
    assert!(!dir.path().join("lake").exists());
}

#[test]
fn scan_check_asks_kafka_and_spark() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of loopback: the broker and the server are unreachable.
    let out =
        run(dir.path(), &["scan", "kafka://127.0.0.1:1/proxy", "--format", "squid", "--out", "lake", "--checkpoint", "ckpt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PROBLEM  kafka    kafka topic proxy"), "{stdout}");
    std::fs::write(
        dir.path().join("a.log"),
        "1700000000.000 5 10.0.0.1 TCP_MISS/200 10 GET http://example.com/ - DIRECT/1.2.3.4 text/html\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["scan", "a.log", "--format", "squid", "--out", "lake", "--engine", "spark", "--remote", "sc://127.0.0.1:1", "--check"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PROBLEM  spark    sc://127.0.0.1:1"));

    if let Some(broker) = support::broker() {
        let topic = support::create_topic(&broker, "check", 2);
        let url = format!("kafka://{broker}/{topic}");
        let stdout = ok(run(dir.path(), &["scan", &url, "--format", "squid", "--out", "lake", "--checkpoint", "ckpt", "--check"]));
        assert!(stdout.contains(&format!("ok       kafka    kafka topic {topic}: broker {broker} answers; 2 partitions")), "{stdout}");
        let missing = format!("kafka://{broker}/no-such-topic-{topic}");
        let out = run(dir.path(), &["scan", &missing, "--format", "squid", "--out", "lake", "--checkpoint", "ckpt", "--check"]);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    }
    if let Some((remote, _server)) = support::spark::remote() {
        let stdout = ok(run(
            dir.path(),
            &["scan", "a.log", "--format", "squid", "--out", "lake", "--engine", "spark", "--remote", &remote, "--check"],
        ));
        assert!(stdout.contains(&format!("ok       spark    {remote}: Spark 4")), "{stdout}");
    }
}

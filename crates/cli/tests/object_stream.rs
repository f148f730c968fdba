//! Streams and object storage (docs/storage.md): a stream from the real Kafka broker
//! (scripts/kafka) whose checkpoint, and lake, are on the S3-compatible server (scripts/s3)
//! or Azurite, killed and resumed from there, with new intel retro-swept over the events
//! stored in the bucket.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use support::s3::{Bucket, endpoint};
use support::*;

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A streaming pipeline with the sweeper and a window (so that every batch writes window
/// state to the checkpoint), reading `topic` until it is drained.
fn pipeline(dir: &Path, name: &str, broker: &str, topic: &str, lake: &Path, checkpoint: &str) -> std::path::PathBuf {
    pipeline_into(dir, name, broker, topic, &lake.display().to_string(), checkpoint, "")
}

/// [`pipeline`] into the lake at `lake` (a folder or a URL), with `intel` in its `[intel]` section.
fn pipeline_into(dir: &Path, name: &str, broker: &str, topic: &str, lake: &str, checkpoint: &str, intel: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.toml"));
    let toml = format!(
        r#"
[[extract]]
format = "squid"
[extract.kafka]
brokers = "{broker}"
topics = ["{topic}"]
start = "earliest"
batch_size = 3000
batch_interval_ms = 200

[[analyse]]
kind = "sweeper"
intel = [{{ path = "{feed}" }}]

[[analyse]]
kind = "window"
size = "5m"
slide = "1m"
keys = ["client_ip"]
allowed_lateness = "1d"

[intel]
{intel}

[load]
dir = "{lake}"
format = "delta"

[stream]
checkpoint = "{checkpoint}"
stop_when_drained = true
"#,
        feed = dir.join("feed.txt").display(),
    );
    std::fs::write(&file, toml).unwrap();
    file
}

fn run(file: &Path) -> Output {
    sweep(&["run", file.to_str().unwrap(), "-q"])
}

/// Every table a stream writes, row by row, in one order: what "the same lake" means.
fn tables(lake: &Path) -> Vec<String> {
    let mut rows = query(lake, r#"SELECT source, "offset", host, status FROM events ORDER BY source, "offset""#);
    rows.extend(query(lake, r#"SELECT source, "offset", reason FROM rejects ORDER BY source, "offset""#));
    rows.extend(query(lake, r#"SELECT source, "offset", indicator FROM hits ORDER BY source, "offset", indicator"#));
    rows.extend(query(lake, "SELECT CAST(window_start AS VARCHAR), key, requests FROM metrics ORDER BY 1, 2"));
    rows
}

/// Starts `sweep run FILE` once per fraction and kills it (SIGKILL) after that fraction of
/// `whole` unless it finished first; returns how many runs were killed.
fn kill_runs(file: &Path, whole: std::time::Duration, fractions: &[f64]) -> usize {
    let mut kills = 0;
    for fraction in fractions {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(["run", file.to_str().unwrap(), "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(*fraction));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    kills
}

#[test]
fn a_stream_checkpointing_to_a_bucket_is_killed_resumed_and_holds_every_line_once() {
    let Some(broker) = broker() else { return };
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "ckpt");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "fonts.gstatic.com\nwww.google.com\n").unwrap();
    let topic = create_topic(&broker, "ckpt", 3);
    let first = squid_lines(dir.path(), 90_000, 21);
    produce(&broker, &topic, 3, first.iter().map(Vec::as_slice));

    // The reference: one uninterrupted run with its checkpoint on local disk.
    let reference_lake = dir.path().join("reference");
    let reference = pipeline(dir.path(), "reference", &broker, &topic, &reference_lake, &dir.path().join("ckpt").display().to_string());
    let started = Instant::now();
    ok(run(&reference));
    let whole = started.elapsed();

    // The same stream with its checkpoint in the bucket, killed three times, then run to the end.
    let lake = dir.path().join("lake");
    let checkpoint = bucket.url("streams/proxy");
    let file = pipeline(dir.path(), "bucket", &broker, &topic, &lake, &checkpoint);
    let kills = kill_runs(&file, whole, &[0.4, 0.6, 0.8]);
    let commits = bucket.keys("streams/proxy/commits");
    eprintln!("killed {kills} times; {} batch commits in the bucket", commits.len());
    assert!(kills > 0, "every run finished before its kill: nothing was tested");
    assert!(!commits.is_empty(), "no batch was committed to the bucket before the last kill");
    ok(run(&file));
    assert_eq!(tables(&lake), tables(&reference_lake), "the stream killed {kills} times differs from one run");
    let n = (first.len()) as i64;
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects"), n);

    // The checkpoint is in the bucket, and nothing of it on local disk.
    let keys = bucket.keys("streams/proxy");
    for expected in ["streams/proxy/pipeline.json", "streams/proxy/tables-prepared"] {
        assert!(keys.iter().any(|k| k == expected), "{expected} is not in the bucket: {keys:?}");
    }
    assert!(keys.iter().any(|k| k.starts_with("streams/proxy/state/")), "no window state in the bucket: {keys:?}");
    assert!(!Path::new("s3:").exists() && !dir.path().join("s3:").exists(), "a local folder was taken for the URL");

    // More lines later: a run resumes from the bucket and adds only them.
    let more = squid_lines(dir.path(), 20_000, 22);
    produce(&broker, &topic, 3, more.iter().map(Vec::as_slice));
    ok(run(&file));
    ok(run(&reference));
    assert_eq!(tables(&lake), tables(&reference_lake));
    assert_eq!(query_one(&lake, "SELECT count(*) FROM events") + query_one(&lake, "SELECT count(*) FROM rejects"), n + more.len() as i64);

    // `sweep check` asks the bucket: the stream resumes there.
    let checked = sweep(&["check", file.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains("resumes where it stopped"), "{}", text(&checked));
}

#[test]
fn a_stream_checkpoint_in_azure_blob_storage_resumes_there() {
    let Some(broker) = broker() else { return };
    if service("SWEEP_AZURITE_ENDPOINT", "SWEEP_REQUIRE_S3", "scripts/azurite start; export $(scripts/azurite env)").is_none() {
        return;
    }
    let container = format!("ckpt-{}", std::process::id());
    let status =
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/azurite")).args(["container", &container]).status().unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "fonts.gstatic.com\n").unwrap();
    let topic = create_topic(&broker, "azckpt", 2);
    let lines = squid_lines(dir.path(), 20_000, 23);
    produce(&broker, &topic, 2, lines.iter().map(Vec::as_slice));
    let lake = dir.path().join("lake");
    let file = pipeline(dir.path(), "azure", &broker, &topic, &lake, &format!("az://{container}/ckpt"));
    ok(run(&file));
    let count = |lake: &Path| query_one(lake, "SELECT count(*) FROM events") + query_one(lake, "SELECT count(*) FROM rejects");
    assert_eq!(count(&lake), lines.len() as i64);
    // Drained already: a second run reads nothing new, because it resumes from the container.
    ok(run(&file));
    assert_eq!(count(&lake), lines.len() as i64);
    let more = squid_lines(dir.path(), 5_000, 24);
    produce(&broker, &topic, 2, more.iter().map(Vec::as_slice));
    ok(run(&file));
    assert_eq!(count(&lake), (lines.len() + more.len()) as i64);
}

#[test]
fn a_stream_checkpoint_in_a_bucket_with_wrong_credentials_is_said_once() {
    let Some(broker) = broker() else { return };
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "ckptcreds");
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&broker, "ckptcreds", 1);
    let url = format!("kafka://{broker}/{topic}");
    let lake = dir.path().join("lake");
    let checkpoint = bucket.url("ckpt");
    let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["scan", &url, "-f", "squid", "--until-drained", "-q", "-o", lake.to_str().unwrap(), "--checkpoint", &checkpoint])
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.matches("did not accept the credentials").count(), 1, "{said}");
    assert!(said.contains(&checkpoint), "{said}");
    assert!(!said.contains("not-the-secret"), "{said}");
    // A missing bucket is said so.
    let missing = sweep(&[
        "scan",
        &url,
        "-f",
        "squid",
        "--until-drained",
        "-q",
        "-o",
        lake.to_str().unwrap(),
        "--checkpoint",
        "s3://no-such-bucket-sweep/ckpt",
    ]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert_eq!(String::from_utf8_lossy(&missing.stderr).matches("does not exist").count(), 1, "{}", text(&missing));
}

#[test]
fn a_stream_into_a_delta_lake_in_a_bucket_holds_what_a_local_lake_holds_through_kills_and_new_intel() {
    let Some(broker) = broker() else { return };
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "streamlake");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "www.google.com\n").unwrap();
    let topic = create_topic(&broker, "streamlake", 3);
    let first = squid_lines(dir.path(), 60_000, 31);
    produce(&broker, &topic, 3, first.iter().map(Vec::as_slice));
    // The generated lines are from the start of the year: a lookback that covers them, so
    // that new intel is retro-swept over every stored event.
    let lookback = r#"retro_lookback = "800d""#;

    let local = dir.path().join("local");
    let reference = pipeline_into(
        dir.path(),
        "local",
        &broker,
        &topic,
        &local.display().to_string(),
        &dir.path().join("local-ckpt").display().to_string(),
        lookback,
    );
    let started = Instant::now();
    ok(run(&reference));
    let whole = started.elapsed();

    let url = bucket.url("lake");
    let remote = Path::new(&url);
    let file = pipeline_into(dir.path(), "bucket", &broker, &topic, &url, &bucket.url("ckpt"), lookback);
    let kills = kill_runs(&file, whole, &[0.5, 0.8]);
    eprintln!("killed {kills} times; {} batch commits in the bucket", bucket.keys("ckpt/commits").len());
    ok(run(&file));
    assert_eq!(tables(remote), tables(&local), "the stream into the bucket, killed {kills} times, differs from one local run");
    assert_eq!(query_one(remote, "SELECT count(*) FROM events") + query_one(remote, "SELECT count(*) FROM rejects"), first.len() as i64);
    assert!(bucket.keys("lake/events/_delta_log").iter().any(|k| k.ends_with(".json")), "no Delta log in the bucket");
    // The stream released the lake: no lock is left.
    assert!(!bucket.keys("lake/_sweep").iter().any(|k| k.ends_with("/lock")));

    // New intel while the stream was down: the next run retro-sweeps the events stored in
    // the bucket with the indicator it added, as the local lake's stream does.
    let hits = r#"SELECT indicator, count(*), count(DISTINCT source || '/' || CAST("offset" AS VARCHAR)) FROM hits GROUP BY indicator ORDER BY indicator"#;
    let before = query(remote, hits);
    std::fs::write(dir.path().join("feed.txt"), "www.google.com\nfonts.gstatic.com\n").unwrap();
    let more = squid_lines(dir.path(), 5_000, 32);
    produce(&broker, &topic, 3, more.iter().map(Vec::as_slice));
    ok(run(&file));
    ok(run(&reference));
    assert_eq!(query(remote, hits), query(&local, hits));
    assert_eq!(tables(remote), tables(&local));
    let retro = query_one(remote, "SELECT count(*) FROM hits WHERE indicator = 'fonts.gstatic.com'");
    assert!(retro > 100, "the new indicator's hits over the stored events were not found: {retro} ({before:?})");
    assert_eq!(query_one(remote, "SELECT count(*) FROM intel"), query_one(&local, "SELECT count(*) FROM intel"));
}

#[test]
fn a_stream_into_a_parquet_lake_in_a_bucket_holds_every_line_once_through_kills() {
    let Some(broker) = broker() else { return };
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "streampq");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.txt"), "www.google.com\n").unwrap();
    let topic = create_topic(&broker, "streampq", 3);
    let lines = squid_lines(dir.path(), 60_000, 41);
    produce(&broker, &topic, 3, lines.iter().map(Vec::as_slice));
    let lookback = r#"retro_lookback = "800d""#;
    let parquet = |file: std::path::PathBuf| {
        let toml = std::fs::read_to_string(&file).unwrap().replace(r#"format = "delta""#, r#"format = "parquet""#);
        std::fs::write(&file, toml).unwrap();
        file
    };
    let local = dir.path().join("local");
    let local_ckpt = dir.path().join("local-ckpt").display().to_string();
    let reference = parquet(pipeline_into(dir.path(), "local", &broker, &topic, &local.display().to_string(), &local_ckpt, lookback));
    let started = Instant::now();
    ok(run(&reference));
    let whole = started.elapsed();

    let url = bucket.url("lake");
    let remote = Path::new(&url);
    let file = parquet(pipeline_into(dir.path(), "bucket", &broker, &topic, &url, &bucket.url("ckpt"), lookback));
    let kills = kill_runs(&file, whole, &[0.5, 0.8]);
    ok(run(&file));
    assert_eq!(tables(remote), tables(&local), "the stream into the bucket, killed {kills} times, differs from one local run");
    assert_eq!(query_one(remote, "SELECT count(*) FROM events") + query_one(remote, "SELECT count(*) FROM rejects"), lines.len() as i64);
    assert!(bucket.keys("lake/events").iter().any(|k| k.contains("/batch-") && k.ends_with(".parquet")));

    // New intel: retro-swept over the Parquet events stored in the bucket.
    std::fs::write(dir.path().join("feed.txt"), "www.google.com\nfonts.gstatic.com\n").unwrap();
    let more = squid_lines(dir.path(), 5_000, 42);
    produce(&broker, &topic, 3, more.iter().map(Vec::as_slice));
    ok(run(&file));
    ok(run(&reference));
    assert_eq!(tables(remote), tables(&local));
    assert!(query_one(remote, "SELECT count(*) FROM hits WHERE indicator = 'fonts.gstatic.com'") > 100);
}

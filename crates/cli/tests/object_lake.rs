//! Lakes on object storage (docs/storage.md, "Lakes"), against a real S3-compatible server
//! (scripts/s3: SeaweedFS on loopback) and Azurite: the same tables as a local lake, the
//! ledger, the write modes, one writer at a time, and runs killed at any moment.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::s3::{Bucket, endpoint};
use support::{ok, query, query_one, summary, sweep};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn generate(dir: &Path, name: &str, lines: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    ok(sweep(&["generate", "--format", "squid", "--lines", &lines.to_string(), "--seed", &seed.to_string(), "--out", s(&path)]));
    path
}

/// Every event and reject by provenance, sorted: what "the same rows" means across lakes.
fn rows(lake: &Path) -> Vec<String> {
    let mut out = query(lake, "SELECT source, \"offset\", host, url, status FROM events ORDER BY source, \"offset\"");
    out.extend(query(lake, "SELECT source, \"offset\", reason FROM rejects ORDER BY source, \"offset\""));
    out
}

/// Objects a finished run must not leave: staged files, pending records, the lock.
fn leftovers(bucket: &Bucket, lake: &str) -> Vec<String> {
    bucket
        .keys(&format!("{lake}/_sweep"))
        .into_iter()
        .filter(|k| k.contains("/_sweep/staging/") || k.contains("/_sweep/pending/") || k.ends_with("/_sweep/lock"))
        .collect()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sweep binary starts")
}

/// Waits until the run `child` holds the lock of the lake at `lake` in `bucket`.
fn wait_for_lock(bucket: &Bucket, lake: &str, child: &mut Child) {
    let started = Instant::now();
    while !bucket.keys(&format!("{lake}/_sweep")).iter().any(|k| k.ends_with("_sweep/lock")) {
        assert!(started.elapsed() < Duration::from_secs(60), "the run never took the lock");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was seen holding the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_lake_in_a_bucket_holds_what_a_local_lake_holds_and_keeps_its_ledger() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "lake");
    let dir = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    // A feed of three hosts the log reached, so that the hits table has rows.
    let probe = dir.path().join("probe");
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", s(&probe)]));
    let hosts = query(&probe, "SELECT DISTINCT host FROM events WHERE host IS NOT NULL ORDER BY host LIMIT 3");
    let feed = dir.path().join("hosts.txt");
    std::fs::write(&feed, hosts.join("\n") + "\n").unwrap();
    let feed = s(&feed).to_string();
    let url = bucket.url("security/lake");
    let remote = Path::new(&url);
    let local = dir.path().join("lake");
    let summary_path = dir.path().join("s.json");
    let scan = |out: &str, extra: &[&str]| {
        let mut args = vec!["scan", &squid, "-f", "squid", "--intel", &feed, "-q", "-o", out, "--summary", s(&summary_path)];
        args.extend_from_slice(extra);
        sweep(&args)
    };
    ok(scan(&url, &[]));
    ok(scan(s(&local), &[]));

    for table in ["events", "rejects", "hits", "intel"] {
        let n = query_one(remote, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(n, query_one(&local, &format!("SELECT count(*) FROM {table}")), "{table}");
    }
    assert!(query_one(remote, "SELECT count(*) FROM events") > 0);
    assert!(query_one(remote, "SELECT count(*) FROM hits") > 0);
    assert_eq!(rows(remote), rows(&local));
    assert!(leftovers(&bucket, "security/lake").is_empty(), "{:?}", leftovers(&bucket, "security/lake"));
    assert_eq!(bucket.keys("security/lake/_sweep/runs").len(), 1);

    // The default mode refuses a lake that holds data, as a local one does (an input it
    // loaded already is skipped instead, so the refusal needs a new one).
    let copy = dir.path().join("copy.log");
    std::fs::copy(&squid, &copy).unwrap();
    let refused = sweep(&["scan", s(&copy), "-f", "squid", "-q", "-o", &url]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds data"), "{}", text(&refused));

    // The ledger lives in the bucket: an append of the same file reads nothing.
    ok(scan(&url, &["--mode", "append"]));
    assert_eq!(summary(&summary_path)["inputs_skipped"].as_array().map(Vec::len), Some(1), "{}", summary(&summary_path));
    assert_eq!(rows(remote), rows(&local));

    // --reload appends the rows again; overwrite replaces them with one run's.
    ok(scan(&url, &["--mode", "append", "--reload"]));
    assert_eq!(query_one(remote, "SELECT count(*) FROM events"), 2 * query_one(&local, "SELECT count(*) FROM events"));
    ok(scan(&url, &["--mode", "overwrite"]));
    assert_eq!(rows(remote), rows(&local));
    // Three runs committed: the first, the reload and the overwrite (the append that
    // skipped its only input wrote nothing).
    assert_eq!(bucket.keys("security/lake/_sweep/runs").len(), 3);
    assert!(leftovers(&bucket, "security/lake").is_empty(), "{:?}", leftovers(&bucket, "security/lake"));
}

#[test]
fn a_second_run_into_a_bucket_lake_is_refused_while_the_first_writes() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "busy");
    let dir = tempfile::tempdir().unwrap();
    let log = generate(dir.path(), "big.log", 400_000, 3);
    let url = bucket.url("lake");
    let mut first = spawn(&["scan", s(&log), "-f", "squid", "-q", "-o", &url]);
    wait_for_lock(&bucket, "lake", &mut first);
    let second = sweep(&["scan", s(&log), "-f", "squid", "-q", "-o", &url, "--mode", "append"]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another sweep run is writing the lake") && said.contains(&format!("pid {}", first.id())), "{said}");
    assert!(first.wait().unwrap().success());
    assert_eq!(
        query_one(Path::new(&url), "SELECT count(*) FROM events") + query_one(Path::new(&url), "SELECT count(*) FROM rejects"),
        400_000
    );
    // Once the first run is done, the lake is free again.
    ok(sweep(&["scan", s(&log), "-f", "squid", "-q", "-o", &url, "--mode", "append"]));
}

#[test]
fn a_bucket_lake_killed_at_any_moment_then_run_again_holds_every_line_once() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "killed");
    killed_at_any_moment_then_run_again(&bucket, &[], 8);
}

#[test]
fn a_lake_in_an_azure_container_killed_at_any_moment_then_run_again_holds_every_line_once() {
    let Some(container) = Bucket::azurite("killed") else { return };
    killed_at_any_moment_then_run_again(&container, &[], 5);
}

#[test]
fn a_delta_lake_in_a_bucket_killed_at_any_moment_then_run_again_holds_every_line_once() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "killeddelta");
    killed_at_any_moment_then_run_again(&bucket, &["--table-format", "delta"], 6);
}

/// Kills runs into lakes of `bucket` at `points` moments spread over a whole run (its
/// upload and commit included, more of them late in the run), runs the same command again each time, and checks the lake
/// holds exactly the rows of one clean run.
fn killed_at_any_moment_then_run_again(bucket: &Bucket, extra: &[&str], points: u32) {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..3).map(|i| generate(dir.path(), &format!("access-{i}.log"), 60_000, i)).collect();
    let clean = dir.path().join("clean");
    let mut args: Vec<&str> = vec!["scan"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend(["-f", "squid", "--mode", "append", "-q"]);
    args.extend_from_slice(extra);
    args.push("-o");
    let run_into = |lake: &str| {
        let mut run = args.clone();
        run.push(lake);
        run.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let clean_run = run_into(s(&clean));
    ok(sweep(&clean_run.iter().map(String::as_str).collect::<Vec<_>>()));
    let expected = rows(&clean);

    let timing = bucket.url("timing");
    let started = Instant::now();
    ok(sweep(&run_into(&timing).iter().map(String::as_str).collect::<Vec<_>>()));
    let whole = started.elapsed();
    let mut killed_mid_run = 0;
    for point in 0..points {
        let name = format!("lake-{point}");
        let url = bucket.url(&name);
        let run = run_into(&url);
        let run: Vec<&str> = run.iter().map(String::as_str).collect();
        // Denser towards the end, where the upload, the commit point and the copies are.
        let after = whole.mul_f64((f64::from(point + 1) / f64::from(points + 1)).sqrt());
        let mut child = spawn(&run);
        std::thread::sleep(after);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let left = bucket.keys(&format!("{name}/_sweep"));
        let staged = left.iter().filter(|k| k.contains("/staging/")).count();
        let pending = left.iter().filter(|k| k.contains("/pending/")).count();
        eprintln!("killed after {after:?}: {staged} staged objects and {pending} pending records left in the bucket");
        // The same command again completes or redoes the killed run, never both.
        ok(sweep(&run));
        assert_eq!(rows(Path::new(&url)), expected, "killed after {after:?}: the lake differs from one clean run");
        assert!(leftovers(bucket, &name).is_empty(), "killed after {after:?}: {:?}", leftovers(bucket, &name));
        // A third time: everything is in the ledger, nothing is read.
        ok(sweep(&run));
        assert_eq!(rows(Path::new(&url)), expected, "a third run changed the lake");
    }
    assert!(killed_mid_run >= points / 2, "only {killed_mid_run} of {points} runs were killed before they finished");
    // Runs killed on this host leave no staging folder behind once the next run has started.
    let stale: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sweep-staging-"))
        .filter(|n| n.split('-').nth(2).and_then(|p| p.parse::<u32>().ok()).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()))
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
}

#[test]
fn a_delta_lake_in_a_bucket_holds_what_a_local_delta_lake_holds() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "delta");
    let dir = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let probe = dir.path().join("probe");
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", s(&probe)]));
    let hosts = query(&probe, "SELECT DISTINCT host FROM events WHERE host IS NOT NULL ORDER BY host");
    let feed = dir.path().join("hosts.txt");
    std::fs::write(&feed, hosts[..2].join("\n") + "\n").unwrap();
    let feed = s(&feed).to_string();
    let (url, local) = (bucket.url("lake"), dir.path().join("lake"));
    let remote = Path::new(&url);
    let scan = |out: &str, extra: &[&str]| {
        let mut args = vec!["scan", &squid, "-f", "squid", "--intel", &feed, "--table-format", "delta", "-q", "-o", out];
        args.extend_from_slice(extra);
        sweep(&args)
    };
    let hits = "SELECT source, \"offset\", indicator FROM hits ORDER BY source, \"offset\", indicator";
    ok(scan(&url, &[]));
    ok(scan(s(&local), &[]));
    assert_eq!(rows(remote), rows(&local));
    assert!(!query(remote, hits).is_empty());
    assert_eq!(query(remote, hits), query(&local, hits));
    // Delta tables, each with its log in the bucket: the create and the run's commit.
    for table in ["events", "rejects", "hits"] {
        let log = bucket.keys(&format!("lake/{table}/_delta_log"));
        assert!(log.iter().any(|k| k.ends_with("00000000000000000001.json")), "{table}: {log:?}");
    }
    assert!(leftovers(&bucket, "lake").is_empty(), "{:?}", leftovers(&bucket, "lake"));

    // The write modes, as on disk: a new input into the lake is refused in the default
    // mode, --reload appends the rows again, overwrite replaces them with one run's.
    let copy = dir.path().join("copy.log");
    std::fs::copy(&squid, &copy).unwrap();
    let refused = sweep(&["scan", s(&copy), "-f", "squid", "--table-format", "delta", "-q", "-o", &url]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds data"), "{}", text(&refused));
    ok(scan(&url, &["--mode", "append", "--reload"]));
    assert_eq!(query_one(remote, "SELECT count(*) FROM events"), 2 * query_one(&local, "SELECT count(*) FROM events"));
    ok(scan(&url, &["--mode", "overwrite"]));
    assert_eq!(rows(remote), rows(&local));
    // The files the overwrite replaced are no version's any more: vacuum deletes them.
    let before = bucket.keys("lake/events").iter().filter(|k| k.ends_with(".parquet")).count();
    let vacuumed = ok(sweep(&["vacuum", &url, "--retain-hours", "0"]));
    let after = bucket.keys("lake/events").iter().filter(|k| k.ends_with(".parquet")).count();
    assert!(after < before, "{vacuumed}: {before} files before, {after} after");
    assert_eq!(rows(remote), rows(&local));

    // A retro-sweep appends to the Delta hits table in the bucket, as to a local one.
    let more = dir.path().join("more.txt");
    std::fs::write(&more, hosts[..4].join("\n") + "\n").unwrap();
    let scanned_hits = query(remote, hits).len();
    for _ in 0..2 {
        ok(sweep(&["retro", &url, "--intel", s(&more)]));
        ok(sweep(&["retro", s(&local), "--intel", s(&more)]));
        assert_eq!(query(remote, hits), query(&local, hits));
    }
    assert!(query(remote, hits).len() > scanned_hits, "the retro-sweep added no hits");

    // A run that died after its commit point, between its copies and its Delta commits, is
    // completed by the next reader: its record back to pending, its log commits gone.
    let records = bucket.keys("lake/_sweep/runs");
    let last = records.last().unwrap();
    let record: serde_json::Value = serde_json::from_slice(&bucket.get(last)).unwrap();
    let run = record["run_id"].as_str().unwrap();
    let expected_hits = query(remote, hits);
    bucket.rename(last, &format!("lake/_sweep/pending/{run}.json"));
    let commits: Vec<String> = bucket.keys("lake/hits/_delta_log").into_iter().filter(|k| k.ends_with(".json")).collect();
    let newest = commits.last().unwrap().clone();
    let removed = bucket.get(&newest);
    assert!(String::from_utf8_lossy(&removed).contains(run), "the newest hits commit is not the last run's");
    bucket.delete(&newest);
    assert_eq!(query(remote, hits), expected_hits, "the reader did not complete the pending run");
    assert_eq!(bucket.keys("lake/_sweep/runs").len(), records.len());
    assert!(bucket.keys("lake/_sweep/pending").is_empty());
    assert!(bucket.keys("lake/hits/_delta_log").contains(&newest), "the Delta commit was not made again");
}

#[test]
fn a_run_that_died_after_its_commit_point_is_completed_by_the_next_reader() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "rollforward");
    let dir = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let (url, local) = (bucket.url("lake"), dir.path().join("lake"));
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", &url]));
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", s(&local)]));
    let expected = rows(&local);

    // Put the lake back in the state of a run killed right after its commit point: its
    // record pending, its files still staged, some of them already copied into the tables.
    let records = bucket.keys("lake/_sweep/runs");
    assert_eq!(records.len(), 1);
    let record: serde_json::Value = serde_json::from_slice(&bucket.get(&records[0])).unwrap();
    let run = record["run_id"].as_str().unwrap();
    bucket.rename(&records[0], &format!("lake/_sweep/pending/{run}.json"));
    for (i, table) in record["tables"].as_array().unwrap().iter().enumerate() {
        let name = table["name"].as_str().unwrap();
        for file in table["added"].as_array().unwrap() {
            let path = file["path"].as_str().unwrap();
            let staged = format!("lake/_sweep/staging/{run}/{name}/{path}");
            if i % 2 == 0 {
                bucket.rename(&format!("lake/{name}/{path}"), &staged);
            } else {
                // Copied already, its staged copy not deleted yet.
                bucket.put(&staged, bucket.get(&format!("lake/{name}/{path}")));
            }
        }
    }
    // A run that died before its commit point left staged files of its own.
    bucket.put("lake/_sweep/staging/20261207-dead/events/date=2026-01-01/part-x.parquet", b"half a file".to_vec());

    assert_eq!(rows(Path::new(&url)), expected, "the reader did not complete the pending run");
    assert_eq!(bucket.keys("lake/_sweep/runs").len(), 1);
    assert!(bucket.keys("lake/_sweep/pending").is_empty());
    // The staging of the dead run goes with the next writer, which also skips the input.
    let again = ok(sweep(&["scan", &squid, "-f", "squid", "-o", &url, "--mode", "append"]));
    assert!(again.contains("skipped"), "{again}");
    assert!(leftovers(&bucket, "lake").is_empty(), "{:?}", leftovers(&bucket, "lake"));
    assert_eq!(rows(Path::new(&url)), expected);
}

#[test]
fn a_retro_sweep_of_a_bucket_lake_adds_the_hits_of_a_local_one() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "retro");
    let dir = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let (url, local) = (bucket.url("lake"), dir.path().join("lake"));
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", &url]));
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", s(&local)]));
    let hosts = query(&local, "SELECT DISTINCT host FROM events WHERE host IS NOT NULL ORDER BY host LIMIT 4");
    let feed = dir.path().join("new-intel.txt");
    std::fs::write(&feed, hosts.join("\n") + "\n").unwrap();
    let hits = "SELECT source, \"offset\", indicator FROM hits ORDER BY source, \"offset\", indicator";
    for _ in 0..2 {
        // The second retro-sweep finds the same hits stored already and adds none.
        ok(sweep(&["retro", &url, "--intel", s(&feed)]));
        ok(sweep(&["retro", s(&local), "--intel", s(&feed)]));
        let remote_hits = query(Path::new(&url), hits);
        assert!(!remote_hits.is_empty());
        assert_eq!(remote_hits, query(&local, hits));
    }
    // Sigma: SigmaHQ's web rules over the real Apache log of ../shared/data.
    let apache = format!("{SHARED}/logs/apache-combined-semicomplete.log");
    let (web_url, web_local) = (bucket.url("web"), dir.path().join("web"));
    ok(sweep(&["scan", &apache, "-f", "combined", "-q", "-o", &web_url]));
    ok(sweep(&["scan", &apache, "-f", "combined", "-q", "-o", s(&web_local)]));
    let rules = format!("{SHARED}/sigma");
    let detections = "SELECT rule_id, source, \"offset\" FROM detections ORDER BY rule_id, source, \"offset\"";
    for _ in 0..2 {
        ok(sweep(&["retro", &web_url, "--sigma", &rules]));
        ok(sweep(&["retro", s(&web_local), "--sigma", &rules]));
        let remote_detections = query(Path::new(&web_url), detections);
        assert!(!remote_detections.is_empty());
        assert_eq!(remote_detections, query(&web_local, detections));
    }
    assert!(leftovers(&bucket, "web").is_empty(), "{:?}", leftovers(&bucket, "web"));
    assert!(leftovers(&bucket, "lake").is_empty(), "{:?}", leftovers(&bucket, "lake"));
}

#[test]
fn what_a_bucket_lake_cannot_do_yet_is_refused_by_name() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "refused");
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let url = bucket.url("lake");
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", &url]));
    // A bucket that does not exist is said so, once.
    let missing = sweep(&["scan", &squid, "-f", "squid", "-q", "-o", "s3://no-such-bucket-sweep/lake"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(said.matches("does not exist").count(), 1, "{said}");
    // `--check` asks the store without writing: a missing bucket is a problem, a lake that
    // holds data is said so.
    let checked = sweep(&["scan", &squid, "-f", "squid", "-o", "s3://no-such-bucket-sweep/lake", "--check"]);
    assert!(!checked.status.success(), "{}", text(&checked));
    assert_eq!(text(&checked).matches("the bucket (or container) does not exist").count(), 2, "{}", text(&checked));
    let checked = sweep(&["scan", &squid, "-f", "squid", "-o", &url, "--mode", "append", "--check"]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains("holds data; the run appends"), "{}", text(&checked));
}

#[test]
fn a_lake_in_azure_blob_storage_on_azurite() {
    if support::service("SWEEP_AZURITE_ENDPOINT", "SWEEP_REQUIRE_S3", "scripts/azurite start; export $(scripts/azurite env)").is_none() {
        return;
    }
    let container = format!("lake-{}", std::process::id());
    let status =
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/azurite")).args(["container", &container]).status().unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let url = format!("az://{container}/lake");
    let local = dir.path().join("lake");
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", &url]));
    ok(sweep(&["scan", &squid, "-f", "squid", "-q", "-o", s(&local)]));
    assert_eq!(rows(Path::new(&url)), rows(&local));
    let again = ok(sweep(&["scan", &squid, "-f", "squid", "-o", &url, "--mode", "append"]));
    assert!(again.contains("skipped"), "{again}");
    assert_eq!(rows(Path::new(&url)), rows(&local));
}

#[test]
fn no_credentials_at_all_is_said_so_for_a_lake_and_an_input() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "nocreds");
    bucket.put("logs/access.log", std::fs::read(format!("{SHARED}/logs/squid-native-squidview.log")).unwrap());
    let home = tempfile::tempdir().unwrap();
    let squid = format!("{SHARED}/logs/squid-native-squidview.log");
    let lake = bucket.url("lake");
    let input = bucket.url("logs/");
    let local_lake = home.path().join("lake");
    for args in [
        vec!["scan", squid.as_str(), "-f", "squid", "-q", "-o", lake.as_str()],
        vec!["scan", input.as_str(), "-f", "squid", "-q", "-o", s(&local_lake)],
    ] {
        // No keys in the environment, no profile files, and a metadata service that is not
        // there (a closed port), as on a laptop with nothing configured.
        let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(&args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("HOME", home.path())
            .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(said.matches("no credentials were found").count(), 1, "{said}");
        assert!(!said.contains("127.0.0.1:9"), "{said}");
    }
}

#[test]
fn ctrl_c_into_a_bucket_lake_commits_nothing_and_frees_the_lake() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = Bucket::create(&endpoint, "ctrlc");
    let dir = tempfile::tempdir().unwrap();
    let big = generate(dir.path(), "big.log", 600_000, 4);
    let url = bucket.url("lake");
    let mut child = spawn(&["scan", s(&big), "-f", "squid", "-q", "-o", &url]);
    wait_for_lock(&bucket, "lake", &mut child);
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("nothing") && said.contains("committed"), "{said}");
    // Nothing committed, nothing staged, and the lock released: the next run starts at once.
    assert!(bucket.keys("lake/_sweep/runs").is_empty());
    assert!(leftovers(&bucket, "lake").is_empty(), "{:?}", leftovers(&bucket, "lake"));
    ok(sweep(&["scan", &format!("{SHARED}/logs/squid-native-squidview.log"), "-f", "squid", "-q", "-o", &url]));
    assert_eq!(bucket.keys("lake/_sweep/runs").len(), 1);
}

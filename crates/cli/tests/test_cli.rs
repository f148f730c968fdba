//! `sweep test` through the binary: a user's test file over their pipeline passes when the
//! rows are what it says, and fails with a readable difference (and exit 1) when not.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::ok;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(dir).env_remove("NO_COLOR").output().unwrap()
}

const DENIED: &str = "1700000000.000 5 10.0.0.1 TCP_DENIED/403 0 GET http://evil-sweep-test.com/x - HIER_NONE/- -";
const FINE: &str = "1700000001.500 120 10.0.0.2 TCP_MISS/200 512 GET http://www.example.org/ - HIER_DIRECT/93.184.216.34 text/html";

/// A pipeline with a feed (evil-sweep-test.com), a SQL stage and the bundled Sigma proxy rules.
fn setup(dir: &Path) {
    std::fs::write(dir.join("feed.txt"), "evil-sweep-test.com\n").unwrap();
    std::fs::write(
        dir.join("pipeline.toml"),
        format!(
            r#"
[[extract]]
files = ["logs/"]
format = "squid"

[[transform]]
sql = "SELECT * FROM events WHERE method <> 'OPTIONS'"

[[analyse]]
kind = "sweeper"
intel = [{{ path = "feed.txt" }}]

[[analyse]]
kind = "sigma"
rules = ["{ROOT}/../shared/data/sigma/proxy"]

[load]
dir = "lake"
format = "delta"
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_test_file_passes_when_the_rows_are_as_written() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("tests.toml"),
        format!(
            r#"
pipeline = "pipeline.toml"

[[test]]
name = "a denied request to a listed host is an event and a hit"
lines = ["{DENIED}", "{FINE}"]
events = [
  {{ host = "evil-sweep-test.com", status = 403, proxy_action = "TCP_DENIED", client_ip = "10.0.0.1", ts = "2023-11-14T22:13:20Z" }},
  {{ host = "www.example.org", status = 200, response_bytes = 512 }},
]
hits = [{{ indicator = "evil-sweep-test.com", match_kind = "exact", matched_field = "host", offset = 1 }}]
counts = {{ rejects = 0, detections = 0 }}

[[test]]
name = "a line that is not Squid is a reject with its reason"
lines = ["hello world", "{FINE}"]
rejects = ["bad_timestamp"]
counts = {{ events = 1, hits = 0 }}
"#
        ),
    )
    .unwrap();
    let stdout = ok(run(dir.path(), &["test", "tests.toml"]));
    assert!(stdout.contains("test a denied request to a listed host is an event and a hit ... ok"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(!dir.path().join("lake").exists(), "tests write lakes of their own, not the pipeline's");
}

#[test]
fn a_failing_test_says_what_differs_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("tests.toml"),
        format!(
            r#"
pipeline = "pipeline.toml"

[[test]]
name = "wrong expectations"
lines = ["{DENIED}", "garbage"]
events = [{{ host = "evil-sweep-test.com", status = 404, colour = "red" }}]
rejects = ["field_count"]
hits = []

[[test]]
name = "right ones"
lines = ["{FINE}"]
events = [{{ host = "www.example.org" }}]
"#
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["test", "tests.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "test wrong expectations ... FAILED",
        "events[0].status: expected \"404\", got \"403\"",
        "events[0].colour: the table has no such column",
        "rejects[0].reason: expected \"field_count\", got \"bad_timestamp\"",
        "hits: expected 0 rows, got 1",
        "test right ones ... ok",
        "1 passed, 1 failed",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 tests in tests.toml failed"));

    // A test file with a mistake in it is an error naming the file and the key.
    std::fs::write(dir.path().join("bad.toml"), "pipeline = \"pipeline.toml\"\n[[test]]\nname = \"x\"\nlines = []\nevents = 3\n").unwrap();
    let out = run(dir.path(), &["test", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("events"), "{stderr}");
}

#[test]
fn a_tests_file_that_cannot_be_used_is_named_as_a_tests_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["test", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read tests file missing.toml"), "{stderr}");
    std::fs::write(dir.path().join("empty.toml"), "format = \"squid\"\n").unwrap();
    let stderr = String::from_utf8_lossy(&run(dir.path(), &["test", "empty.toml"]).stderr).to_string();
    assert!(stderr.contains("tests file empty.toml has no [[test]]") && !stderr.contains("pipeline file"), "{stderr}");
}

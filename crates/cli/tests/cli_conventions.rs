//! Command-line conventions a user expects: `--summary -` prints the JSON summary on
//! standard output, and `generate` takes the format names `scan` takes.

mod support;

use std::process::Command;

use support::ok;

#[test]
fn summary_dash_is_standard_output_and_generate_takes_scan_format_names() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(dir.path()).output().unwrap();

    // `generate --format nginx` writes the layout `scan --format nginx` reads.
    ok(run(&["generate", "--format", "nginx", "--lines", "50", "--malformed-per-million", "0", "--out", "access.log"]));
    let stdout = ok(run(&["scan", "access.log", "--format", "nginx", "--out", "lake", "--summary", "-"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the JSON summary alone");
    assert_eq!(summary["events"], 50, "{summary}");
    assert!(!dir.path().join("-").exists(), "no file named -");

    let out = run(&["generate", "--format", "nosuch", "--lines", "1", "--out", "x.log"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("combined (also apache, nginx)"));
}

/// A lake written inside the folder of logs is not read back as logs by the next scan.
#[test]
fn a_lake_inside_the_log_folder_is_not_read_as_logs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(dir.path()).output().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    ok(run(&["generate", "--format", "squid", "--lines", "100", "--malformed-per-million", "0", "--out", "logs/a.log"]));
    ok(run(&["scan", "logs", "--format", "squid", "--out", "logs/lake", "--table-format", "delta", "--quiet"]));
    ok(run(&["generate", "--format", "squid", "--lines", "30", "--malformed-per-million", "0", "--seed", "2", "--out", "logs/b.log"]));
    let stdout = ok(run(&["scan", "logs", "--format", "squid", "--out", "logs/lake", "--mode", "append", "--summary", "-"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["input_lines"], 30, "only the new log is read: {summary}");
    assert_eq!(summary["rejects"], 0, "{summary}");
}

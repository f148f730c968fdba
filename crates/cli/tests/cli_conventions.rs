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

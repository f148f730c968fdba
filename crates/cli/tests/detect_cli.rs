//! Format detection through the binary: `sweep detect` names the format of real logs
//! (../shared/data/logs), of the bundled fixtures and of every layout `sweep generate`
//! writes, gzip included; `--format auto` scans a folder of mixed formats as each file's
//! own and records the choice in the summary.

mod support;

use std::path::Path;
use std::process::Command;

use support::ok;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(dir).output().unwrap()
}

/// The format `sweep detect` names for `file`, and its confidence in percent.
fn detected(dir: &Path, file: &str) -> (String, f64) {
    let stdout = ok(run(dir, &["detect", file]));
    let first = stdout.lines().next().unwrap_or_default();
    let rest = first.strip_prefix(&format!("{file}: ")).unwrap_or_else(|| panic!("{stdout}"));
    let (head, _) = rest.split_once("% confidence").unwrap_or_else(|| panic!("{stdout}"));
    let (label, percent) = head.rsplit_once(" (").unwrap_or_else(|| panic!("{stdout}"));
    let percent: f64 = percent.parse().unwrap_or_else(|_| panic!("{stdout}"));
    assert!(stdout.contains("first event: ts="), "a sample parse is shown: {stdout}");
    (label.to_string(), percent)
}

#[test]
fn real_logs_and_bundled_fixtures_are_named_right() {
    let dir = tempfile::tempdir().unwrap();
    // The share of lines each file's own format reads (the fixtures hold planted bad lines).
    for (file, want, share) in [
        ("../shared/data/logs/squid-native-squidview.log", "squid", 100.0),
        ("../shared/data/logs/apache-combined-semicomplete.log", "combined", 100.0),
        ("tests/fixtures/elff/bluecoat-main.log", "elff", 88.2),
        ("tests/fixtures/zscaler/nss-web.csv", "zscaler (csv)", 80.0),
        ("tests/fixtures/zscaler/nss-web.tsv", "zscaler (tsv)", 80.0),
        ("tests/fixtures/zscaler/nss-web.jsonl", "zscaler (json)", 80.0),
    ] {
        let path = Path::new(ROOT).join(file);
        let (label, confidence) = detected(dir.path(), path.to_str().unwrap());
        assert_eq!(label, want, "{file}");
        assert!(confidence >= share, "{file}: {confidence}%");
    }
}

#[test]
fn every_generated_layout_is_named_right_also_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    for (layout, want) in [("squid", "squid"), ("combined", "combined"), ("squid_combined", "squid_combined"), ("elff", "elff")] {
        let file = format!("{layout}.log");
        ok(run(dir.path(), &["generate", "--format", layout, "--lines", "3000", "--seed", "9", "--out", &file]));
        let (label, confidence) = detected(dir.path(), &file);
        assert_eq!(label, want, "{layout}");
        // The generator plants malformed lines (1,000 per million by default).
        assert!(confidence >= 99.0, "{layout}: {confidence}%");
        let status = Command::new("gzip").arg("-k").arg(dir.path().join(&file)).status().unwrap();
        assert!(status.success());
        assert_eq!(detected(dir.path(), &format!("{file}.gz")).0, want, "{layout}, gzipped");
    }
}

#[test]
fn scan_format_auto_reads_each_file_as_its_own_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    for (layout, lines) in [("squid", 400), ("combined", 300), ("elff", 200)] {
        let out = format!("logs/{layout}.log");
        ok(run(
            dir.path(),
            &["generate", "--format", layout, "--lines", &lines.to_string(), "--malformed-per-million", "0", "--out", &out],
        ));
    }
    std::fs::write(dir.path().join("logs/empty.log"), "").unwrap();
    let stdout = ok(run(dir.path(), &["scan", "logs", "--format", "auto", "--out", "lake", "--summary", "-"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The ELFF layout's header lines are skipped, not rejected.
    assert_eq!(summary["input_lines"], 900, "{summary}");
    assert_eq!(summary["rejects"], 0, "{summary}");
    let elff_events = summary["events"].as_i64().unwrap() - 700;
    assert!(elff_events > 190, "{summary}");
    let detected = &summary["detected_formats"];
    for (file, want) in [("squid.log", "squid"), ("combined.log", "combined"), ("elff.log", "elff")] {
        let name = dir.path().join("logs").join(file);
        let found = detected.as_object().unwrap().iter().find(|(k, _)| k.ends_with(file)).map(|(_, v)| v.clone());
        assert_eq!(found, Some(serde_json::json!(want)), "{}: {summary}", name.display());
    }
    let per_format = support::query(&dir.path().join("lake"), "SELECT format, count(*) FROM events GROUP BY format ORDER BY format");
    assert_eq!(per_format, ["combined,300".to_string(), format!("elff,{elff_events}"), "squid,400".to_string()]);
}

#[test]
fn a_file_in_no_format_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    ok(run(dir.path(), &["generate", "--format", "squid", "--lines", "50", "--out", "logs/good.log"]));
    std::fs::write(dir.path().join("logs/notes.txt"), "meeting notes\nnothing to see here\n").unwrap();

    let out = run(dir.path(), &["detect", "logs"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("notes.txt: no built-in format"), "{stdout}");
    assert!(stdout.contains("good.log: squid"), "{stdout}");

    let out = run(dir.path(), &["scan", "logs", "--format", "auto", "--out", "lake"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("notes.txt") && stderr.contains("--format"), "{stderr}");
    assert!(!dir.path().join("lake").join("events").exists(), "nothing is written");

    let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["scan", "-", "--format", "auto", "--out", "lake"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input needs its format named"));
}

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

fn sweep_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sweep"));
    command.args(args).current_dir(dir).env_remove("NO_COLOR").env_remove("RUST_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// docs/cli.md is what the binary says about itself: regenerate it with
/// `sweep markdown > docs/cli.md` when a flag changes.
#[test]
fn the_cli_reference_is_generated_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let generated = ok(sweep_in(dir.path(), &["markdown"], &[]));
    let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md");
    let written = std::fs::read_to_string(doc).unwrap_or_default();
    assert!(written == generated, "docs/cli.md is out of date: run `sweep markdown > docs/cli.md`");
    for section in [
        "## sweep scan",
        "### sweep sigma check",
        "## sweep detect",
        "## sweep check",
        "**Streaming (kafka:// inputs)**",
        "`--color <COLOR>`",
    ] {
        assert!(generated.contains(section), "{section}");
    }
}

#[test]
fn completions_man_pages_and_grouped_help() {
    let dir = tempfile::tempdir().unwrap();
    let bash = ok(sweep_in(dir.path(), &["completions", "bash"], &[]));
    assert!(bash.contains("_sweep()") && bash.contains("scan") && bash.contains("--format"), "{bash}");
    assert!(ok(sweep_in(dir.path(), &["completions", "zsh"], &[])).starts_with("#compdef sweep"));
    assert!(ok(sweep_in(dir.path(), &["completions", "fish"], &[])).contains("complete -c sweep"));

    ok(sweep_in(dir.path(), &["man", "--out", "man"], &[]));
    let page = std::fs::read_to_string(dir.path().join("man/sweep-scan.1")).unwrap();
    assert!(page.contains(".TH sweep-scan 1") && page.contains("\\-\\-format"), "{page}");
    assert!(dir.path().join("man/sweep.1").exists() && !dir.path().join("man/sweep-markdown.1").exists());

    let help = ok(sweep_in(dir.path(), &["scan", "--help"], &[]));
    for heading in ["Input:", "Format:", "Intel:", "Output:", "Streaming (kafka:// inputs):", "Engine:", "Examples:"] {
        assert!(help.contains(heading), "{heading} in\n{help}");
    }
    // The Kafka options come after the file ones, under their own heading.
    assert!(help.find("--batch-size").unwrap() > help.find("Streaming (kafka:// inputs):").unwrap());
}

#[test]
fn colour_follows_color_and_no_color_and_verbose_logs_the_steps() {
    let dir = tempfile::tempdir().unwrap();
    ok(sweep_in(dir.path(), &["generate", "--format", "squid", "--lines", "20", "--out", "a.log"], &[]));
    let esc = "\x1b[";
    let always = sweep_in(dir.path(), &["--color", "always", "detect", "a.log"], &[]);
    assert!(String::from_utf8_lossy(&always.stdout).contains(esc));
    let never = sweep_in(dir.path(), &["detect", "a.log", "--color=never"], &[]);
    assert!(!String::from_utf8_lossy(&never.stdout).contains(esc));
    // Not a terminal, or NO_COLOR: no colour unless asked for.
    let auto = sweep_in(dir.path(), &["detect", "a.log"], &[("NO_COLOR", "1")]);
    assert!(!String::from_utf8_lossy(&auto.stdout).contains(esc));
    let error = sweep_in(dir.path(), &["--color", "always", "detect", "missing.log"], &[]);
    assert!(String::from_utf8_lossy(&error.stderr).starts_with(&format!("{esc}1;31msweep: error:")));

    let quiet = sweep_in(dir.path(), &["scan", "a.log", "--format", "auto", "--out", "lake", "-q"], &[]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("INFO"), "nothing is logged without -v");
    let verbose = sweep_in(dir.path(), &["-v", "scan", "a.log", "--format", "auto", "--out", "lake2", "-q"], &[]);
    let log = String::from_utf8_lossy(&verbose.stderr);
    assert!(log.contains("format auto") && log.contains("format=squid"), "{log}");
    assert!(log.contains("run committed to the lake"), "{log}");
}

/// A pipeline printed from flags runs the same wherever the file is saved and whichever
/// folder `sweep run` starts in.
#[test]
fn a_printed_pipeline_runs_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    ok(sweep_in(dir.path(), &["generate", "--format", "squid", "--lines", "40", "--malformed-per-million", "0", "--out", "a.log"], &[]));
    let toml = ok(sweep_in(dir.path(), &["scan", "a.log", "--format", "squid", "--out", "lake", "--print-pipeline"], &[]));
    std::fs::write(dir.path().join("conf/pipeline.toml"), &toml).unwrap();
    let summary = ok(sweep_in(&dir.path().join("elsewhere"), &["run", "../conf/pipeline.toml", "--summary", "-"], &[]));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["events"], 40, "{summary}");
    assert!(dir.path().join("lake/events").is_dir(), "the lake is where the flags said");
}

/// `retro --since` takes the days a person says (yesterday, 7d, a date); a wrong one is one
/// message naming the flag and what to write, with no internal wording.
#[test]
fn retro_since_takes_yesterday_and_a_mistake_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    ok(sweep_in(dir.path(), &["generate", "--format", "squid", "--lines", "30", "--out", "a.log"], &[]));
    ok(sweep_in(dir.path(), &["scan", "a.log", "--format", "squid", "--out", "lake", "-q"], &[]));
    std::fs::write(dir.path().join("feed.txt"), "example.com\n").unwrap();
    for since in ["yesterday", "today", "7d", "2026-01-31"] {
        ok(sweep_in(dir.path(), &["retro", "lake", "--intel", "feed.txt", "--since", since], &[]));
    }
    let out = sweep_in(dir.path(), &["retro", "lake", "--intel", "feed.txt", "--since", "yesterdy"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--since") && stderr.contains("write a day (2026-01-31), today, yesterday"), "{stderr}");
    assert!(!stderr.contains("worker") && !stderr.contains("planning"), "{stderr}");
    assert_eq!(stderr.matches("error").count(), 1, "said once: {stderr}");
}

/// A user's mistake is said once, in the user's words, without the query engine's labels.
#[test]
fn a_mistake_is_said_once_without_internal_labels() {
    let dir = tempfile::tempdir().unwrap();
    ok(sweep_in(dir.path(), &["generate", "--format", "squid", "--lines", "10", "--out", "a.log"], &[]));
    for (args, says) in [
        (vec!["scan", "a.log", "--format", "squid", "--out", "lake", "--sql", "SELECT nope FROM events"], "No field named nope"),
        (vec!["run", "nosuch.toml"], "nosuch.toml"),
        (vec!["scan", "a.log", "--format", "squid", "--out", "lake", "--intel", "nosuch.txt"], "nosuch.txt"),
        (vec!["scan", "a.log", "--format", "sqiud", "--out", "lake"], "sqiud"),
        (vec!["retro", "nolake", "--intel", "a.log"], "nolake is not a folder"),
        (vec!["scan", "s3://", "--format", "squid", "--out", "lake"], "names no bucket"),
        (vec!["query", "scanned", "SELEC 1"], "SQL: Expected: an SQL statement, found: SELEC"),
        (vec!["query", "scanned", "SELECT * FROM nosuch"], "table 'nosuch' not found"),
        (vec!["scan", "a.log", "--format", "squid", "--out", "scanned/events"], "is inside the lake \"scanned\""),
        (vec!["scan", "a.log", "--format", "squid", "--out", "lake", "--checkpoint", "ckpt"], "--checkpoint) is for Kafka inputs"),
        (vec!["scan", "a.log", "--format", "squid", "--out", "lake", "--until-drained"], "--until-drained) is for Kafka inputs"),
        (vec!["scan", "a.log", "--format", "squid", "--out", "lake", "--kafka-option", "a=b"], "--kafka-option is for Kafka inputs"),
    ] {
        if (args[0] == "query" || args.contains(&"scanned/events")) && !dir.path().join("scanned").exists() {
            ok(sweep_in(dir.path(), &["scan", "a.log", "--format", "squid", "--out", "scanned", "-q"], &[]));
        }
        let out = sweep_in(dir.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches(says).count(), 1, "{args:?} says it once: {stderr}");
        for label in ["Error during planning", "Schema error", "query engine:", "worker thread", "ParserError", "datafusion.public"] {
            assert!(!stderr.contains(label), "{args:?}: {stderr}");
        }
    }
    // The refused runs wrote nothing: no lake inside the other one, no checkpoint folder.
    assert!(!dir.path().join("scanned/events/_sweep").exists() && !dir.path().join("ckpt").exists());
}

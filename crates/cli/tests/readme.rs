//! The README's "Use it" commands, run in order as a new user would type them: the first
//! three blocks (files, threat intel, Sigma), in one folder, on generated logs and the
//! bundled feeds and rules. A command that needs the internet (a URL) is left out.

mod support;

use std::path::Path;
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The commands of the first `blocks` indented blocks under "## Use it".
fn use_it_commands(readme: &str, blocks: usize) -> Vec<String> {
    let section = readme.split("## Use it").nth(1).expect("README has a Use it section");
    let mut commands = Vec::new();
    let mut seen = 0;
    let mut in_block = false;
    for line in section.lines() {
        match line.strip_prefix("    ") {
            Some(command) if !command.trim().is_empty() => {
                if !in_block {
                    in_block = true;
                    seen += 1;
                    if seen > blocks {
                        break;
                    }
                }
                commands.push(command.trim().to_string());
            }
            _ => in_block = false,
        }
    }
    commands
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn the_readme_use_it_commands_work_in_order() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let commands = use_it_commands(&readme, 3);
    assert!(commands.len() >= 20, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweep = env!("CARGO_BIN_EXE_sweep");
    let generate = |format: &str, lines: &str, seed: &str, out: &str| {
        let status = Command::new(sweep)
            .args(["generate", "--format", format, "--lines", lines, "--seed", seed, "--out", out])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(status.status.success());
    };
    std::fs::create_dir(d.join("logs")).unwrap();
    generate("squid", "20000", "1", "logs/access.log");
    generate("nginx", "5000", "2", "access.log");
    generate("nginx", "5000", "3", "access.log.1");
    // The tests of `sweep test tests.toml`, over the pipeline the steps before it print.
    std::fs::write(
        d.join("tests.toml"),
        "pipeline = \"pipeline.toml\"\n[[test]]\nname = \"a Squid line\"\n\
         lines = [\"1700000000.000 5 10.0.0.1 TCP_MISS/200 10 GET http://example.com/ - HIER_DIRECT/1.2.3.4 text/html\"]\n\
         events = [{ host = \"example.com\", status = 200 }]\n",
    )
    .unwrap();
    let fixtures = Path::new(ROOT).join("tests/fixtures/intel");
    copy_dir(&fixtures.join("feeds"), &d.join("feeds"));
    std::fs::copy(fixtures.join("feeds/spamhaus-drop.txt"), d.join("abuse.txt")).unwrap();
    std::fs::copy(fixtures.join("allow/allowlist.txt"), d.join("allow.txt")).unwrap();
    let sigma = Path::new(ROOT).join("../shared/data/sigma");
    copy_dir(&sigma.join("proxy"), &d.join("rules"));
    copy_dir(&sigma.join("webserver"), &d.join("rules"));
    copy_dir(&sigma.join("webserver"), &d.join("new-rules"));

    let path = format!("{}:{}", Path::new(sweep).parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut ran = 0;
    for command in &commands {
        if command.contains("https://") {
            continue;
        }
        let out = Command::new("bash").args(["-c", command]).current_dir(d).env("PATH", &path).output().unwrap();
        // A command whose comment says when it exits 1 may do so (sigma check, with a
        // bundled rule that is refused).
        let documented_exit = command.contains("exit 1") && out.status.code() == Some(1);
        assert!(
            out.status.success() || documented_exit,
            "README command failed: {command}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran + 1 >= commands.len());
    // What the steps promise: logs/ was scanned three times and run once, and its lines are
    // in the lake once; errors.csv holds rows; the intel lake has its indicator snapshot.
    let lake = d.join("lake");
    let events = support::query_one(&lake, "SELECT count(*) FROM events WHERE source LIKE '%logs/access.log'");
    let rejects = support::query_one(&lake, "SELECT count(*) FROM rejects WHERE source LIKE '%logs/access.log'");
    assert_eq!(events + rejects, 20_000, "every line of logs/ once");
    assert!(std::fs::read_to_string(d.join("errors.csv")).unwrap().lines().count() > 1);
    assert!(support::query_one(&d.join("intel-lake"), "SELECT count(*) FROM intel") > 0);
}

//! End to end: the sweeper on the real Squid log, and retro-sweeps that never duplicate.

mod support;

use support::{ok, sweep};

const SQUID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");
const SHARED_INTEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/intel");

fn csv(lake: &str, sql: &str) -> String {
    ok(sweep(&["query", lake, sql, "--output", "csv"])).trim().to_string()
}

/// Expected hits, computed from the log text independently of sweep's parser and index.
fn expected_hits() -> (usize, usize, usize) {
    let text = std::fs::read_to_string(SQUID).unwrap();
    let (mut domain, mut ip, mut cidr) = (0, 0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let host = f[6].split("://").nth(1).unwrap().split(['/', ':']).next().unwrap();
        if host == "wikipedia.org" || host.ends_with(".wikipedia.org") {
            domain += 1;
        }
        let server = f[8].split('/').nth(1).unwrap();
        if server == "66.35.250.151" {
            ip += 1;
        }
        if server.starts_with("66.230.200.") {
            cidr += 1;
        }
    }
    (domain, ip, cidr)
}

#[test]
fn scan_with_intel_then_retro_twice() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    std::fs::write(feeds.join("mine.txt"), "# test feed\nwikipedia.org\n66.35.250.151\n66.230.200.0/24\nnotwikipedia.org\n").unwrap();
    let allow = dir.path().join("allow.txt");
    std::fs::write(&allow, "meta.wikipedia.org\n").unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let summary = dir.path().join("s.json");
    ok(sweep(&[
        "scan",
        SQUID,
        "--format",
        "squid",
        "--out",
        lake_s,
        "--intel",
        feeds.to_str().unwrap(),
        "--allow",
        allow.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
        "--quiet",
    ]));

    let (domain, ip, cidr) = expected_hits();
    let allowed = std::fs::read_to_string(SQUID).unwrap().matches("http://meta.wikipedia.org/").count();
    assert!(domain > 0 && ip > 0 && cidr > 0 && allowed > 0);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // One hit per (event, indicator): wikipedia.org via host, the address via server_ip, the /24 via server_ip.
    let want = domain - allowed + ip + cidr;
    assert_eq!(s["hits"], want as u64, "{s}");
    assert_eq!(s["intel"]["indicators"], 4);
    assert_eq!(s["intel"]["suppressed"], allowed as u64);

    let got = csv(lake_s, "SELECT match_kind, matched_field, count(*) AS n FROM hits GROUP BY 1, 2 ORDER BY 1, 2");
    let exact_domain = std::fs::read_to_string(SQUID).unwrap().matches("http://wikipedia.org/").count();
    let want_rows = format!(
        "match_kind,matched_field,n\ncidr,server_ip,{cidr}\nexact,host,{exact_domain}\nexact,server_ip,{ip}\nsubdomain,host,{}",
        domain - allowed - exact_domain
    );
    assert_eq!(got, want_rows);
    // Every hit keeps its provenance and the intel version.
    let version = s["intel"]["intel_version"].as_str().unwrap();
    assert_eq!(csv(lake_s, &format!("SELECT count(*) AS n FROM hits WHERE intel_version <> '{version}' OR source IS NULL")), "n\n0");
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM intel"), "n\n4");

    // A retro-sweep with the same intel finds the same hits and writes none.
    let feeds_s = feeds.to_str().unwrap();
    let out = ok(sweep(&["retro", lake_s, "--intel", feeds_s, "--allow", allow.to_str().unwrap()]));
    assert!(out.contains(&format!("new {:>10}", 0)), "{out}");
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM hits"), format!("n\n{want}"));

    // New intel: the retro-sweep adds only the new pairs, and again adds nothing on a second run.
    std::fs::write(feeds.join("more.txt"), "upload.wikimedia.org\n").unwrap();
    let www = std::fs::read_to_string(SQUID).unwrap().matches("http://upload.wikimedia.org/").count();
    ok(sweep(&["retro", lake_s, "--intel", feeds_s, "--allow", allow.to_str().unwrap(), "--since", "2007-12-22"]));
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM hits"), format!("n\n{}", want + www));
    ok(sweep(&["retro", lake_s, "--intel", feeds_s, "--allow", allow.to_str().unwrap()]));
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM hits"), format!("n\n{}", want + www));
    let dups = csv(
        lake_s,
        "SELECT count(*) AS n FROM (SELECT source, \"offset\", indicator, feed FROM hits GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)",
    );
    assert_eq!(dups, "n\n0");
    // A date after every event sweeps nothing.
    let out = ok(sweep(&["retro", lake_s, "--intel", feeds_s, "--since", "2030-01-01"]));
    assert!(out.contains("sweep retro: 0 events"), "{out}");
}

#[test]
fn intel_stats_on_the_real_feeds() {
    let out = ok(sweep(&["intel", "stats", "--intel", SHARED_INTEL]));
    // Exact per-type counts are tested in sweep-intel; here: every reader ran and refusals are explained.
    for needle in [
        "misp-event-osint.json",
        "stix21-apt1.json",
        "urlhaus-filter-online.txt",
        "ipsum.txt",
        "not_an_indicator",
        "unsupported_pattern",
        "cidr",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    let out = sweep(&["intel", "stats", "--intel", "/no/such/feed.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/feed.txt"));
}

/// The intel table's files in `lake`, with their modification times.
fn intel_files(lake: &std::path::Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(lake.join("intel"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().modified().unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn intel_table_is_written_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "wikipedia.org\n66.35.250.151\n").unwrap();
    let lake = dir.path().join("lake");
    let squid = std::fs::read_to_string(SQUID).unwrap();
    let scan = |name: &str, lines: &str| {
        let log = dir.path().join(name);
        std::fs::write(&log, lines).unwrap();
        ok(sweep(&[
            "scan",
            log.to_str().unwrap(),
            "--format",
            "squid",
            "--out",
            lake.to_str().unwrap(),
            "--intel",
            feed.to_str().unwrap(),
            "--mode",
            "append",
            "--quiet",
        ]));
    };
    let half = squid.len() / 2;
    let cut = half + squid[half..].find('\n').unwrap() + 1;
    scan("first.log", &squid[..cut]);
    let first = intel_files(&lake);
    assert_eq!(first.len(), 1, "{first:?}");

    // Same feeds, new logs: the table is left as it was, and still answers for the hits.
    std::thread::sleep(std::time::Duration::from_millis(20));
    scan("second.log", &squid[cut..]);
    assert_eq!(intel_files(&lake), first);
    let lake_s = lake.to_str().unwrap();
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM intel"), "n\n2");
    assert_eq!(
        csv(
            lake_s,
            "SELECT count(*) AS n FROM hits h LEFT JOIN intel i ON h.intel_version = i.intel_version AND h.indicator = i.indicator WHERE i.indicator IS NULL"
        ),
        "n\n0"
    );

    // A changed feed: the table is replaced by the new version's rows.
    std::fs::write(&feed, "wikipedia.org\n66.35.250.151\n66.230.200.0/24\n").unwrap();
    scan("third.log", &squid);
    let third = intel_files(&lake);
    assert_eq!(third.len(), 1);
    assert_ne!(third[0].0, first[0].0);
    assert_eq!(csv(lake_s, "SELECT count(*) AS n FROM intel"), "n\n3");
}

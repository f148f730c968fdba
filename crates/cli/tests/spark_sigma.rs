//! Sigma rules on Spark: the same scan with `--sigma` on the embedded engine and on a real
//! Spark Connect server writes the same `detections` table, column for column. Without
//! SWEEP_SPARK_REMOTE these tests say so and return, unless SWEEP_REQUIRE_SPARK=1.

mod sigma_plant;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sigma_plant::{Plant, planted_lines};
use support::spark::{assert_same_tables, remote};
use support::{ok, query, summary, sweep};
use sweep::sigma::tree::Column;
use sweep::sigma::{LoadOptions, RuleSet};

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/sigma");

/// Every column of the detections table, in a fixed row order.
const DETECTIONS_SQL: &str = "SELECT ts, client_ip, \"user\", host, url, rule_id, rule_title, level, status, array_to_string(tags, '|'), \
     group_by, count, first_ts, format, source, \"offset\" FROM detections \
     ORDER BY source, \"offset\", rule_id, rule_title, group_by, ts";

/// A `combined` line (a format both engines read) with the planted values: the request
/// carries an absolute URL, built from host, path and query unless the rule plants the URL.
/// Spaces and quotes, which the format cannot carry, become `_` and `'`.
fn planted_line(plants: &BTreeMap<Column, Plant>, second: usize) -> String {
    let clean = |s: &str| s.replace([' ', '\t'], "_").replace('"', "'").replace('\\', "/");
    let quoted = |s: &str| s.replace('"', "'").replace('\\', "/");
    let (mut client, mut user, mut method, mut status) = ("10.1.0.9".to_string(), "-".to_string(), "GET".to_string(), 200i64);
    let mut agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36".to_string();
    let mut referrer = "-".to_string();
    let (mut host, mut path, mut query) = ("files.example.test".to_string(), "/".to_string(), None::<String>);
    let mut url = None;
    for (col, p) in plants {
        let value = match &p.exact {
            Some(v) => v.clone(),
            None => Some(format!("{}{}{}", p.prefix, p.middle.concat(), p.suffix)),
        };
        match col {
            Column::PathExtension => path = format!("/download/file.{}", value.unwrap_or_default()),
            Column::Event(name) => match (name.as_str(), value) {
                ("status", _) if p.number.is_some() => status = p.number.unwrap(),
                ("host", Some(v)) => host = clean(&v),
                ("path", Some(v)) => path = if v.starts_with('/') { clean(&v) } else { format!("/{}", clean(&v)) },
                ("query", v) => query = v.map(|v| clean(&v)),
                ("url", Some(v)) => url = Some(clean(&v)),
                ("user_agent", v) => agent = v.map_or("-".into(), |v| quoted(&v)),
                ("referrer", v) => referrer = v.map_or("-".into(), |v| quoted(&v)),
                ("method", Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphabetic()) => method = v,
                ("client_ip", Some(v)) if v.parse::<std::net::IpAddr>().is_ok() => client = v,
                ("user", v) => user = v.map_or("-".into(), |v| clean(&v)),
                _ => {}
            },
        }
    }
    let url = url.unwrap_or_else(|| format!("http://{host}{path}{}", query.as_ref().map(|q| format!("?{q}")).unwrap_or_default()));
    format!(
        "{client} - {user} [01/Dec/2026:11:{:02}:{:02} +0000] \"{method} {url} HTTP/1.1\" {status} 512 \"{referrer}\" \"{agent}\"",
        second / 60 % 60,
        second % 60
    )
}

/// Scans `inputs` (combined) with the rules on one engine; returns the run summary.
fn scan(inputs: &[&Path], rules: &str, lake: &Path, extra: &[&str]) -> serde_json::Value {
    let summary_path = lake.with_extension("json");
    let mut args: Vec<&str> = vec!["scan"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--format", "combined", "--out", lake.to_str().unwrap(), "--sigma", rules, "--quiet", "--summary"]);
    args.push(summary_path.to_str().unwrap());
    args.extend(extra);
    ok(sweep(&args));
    summary(&summary_path)
}

fn assert_same_summaries(e: &serde_json::Value, s: &serde_json::Value) {
    for key in ["events", "rejects", "detections", "sigma"] {
        assert_eq!(e[key], s[key], "summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
}

#[test]
fn spark_writes_the_detections_of_the_bundled_rules_that_the_embedded_engine_writes() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let traffic = dir.path().join("traffic.log");
    ok(sweep(&["generate", "--format", "combined", "--lines", "20000", "--out", traffic.to_str().unwrap()]));
    let (set, _) = RuleSet::load(&[SIGMA.into()], &LoadOptions::default());
    let lines = planted_lines(&set, 4, planted_line);
    let planted = dir.path().join("planted.log");
    std::fs::write(&planted, lines.join("\n") + "\n").unwrap();
    let inputs = [traffic.as_path(), planted.as_path()];
    let (embedded, spark) = (dir.path().join("embedded"), dir.path().join("spark"));
    let started = std::time::Instant::now();
    let e = scan(&inputs, SIGMA, &embedded, &[]);
    let embedded_s = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let s = scan(&inputs, SIGMA, &spark, &["--engine", "spark", "--remote", &remote]);
    eprintln!("embedded {embedded_s:.1}s, spark {:.1}s; {} detections", started.elapsed().as_secs_f64(), e["detections"]);
    assert_same_summaries(&e, &s);
    // The generator plants a few malformed lines of its own; both engines reject the same.
    assert!(e["rejects"].as_u64().unwrap() < 100, "the planted lines parse: {e}");
    let fired: BTreeSet<String> = query(&embedded, "SELECT DISTINCT rule_id FROM detections").into_iter().collect();
    eprintln!("{} of {} rules fired", fired.len(), set.rules().len());
    assert!(
        fired.len() * 10 >= set.rules().len() * 8,
        "most rules fire on their planted requests: {} of {}",
        fired.len(),
        set.rules().len()
    );
    assert_same_tables(&embedded, &spark, &[("detections", DETECTIONS_SQL)]);
}

/// Rules with the modifiers the bundled rules do not use, a correlation, and the lines that
/// make them hold (and nearly hold).
const RULES: &str = r#"title: Regex case-insensitive
id: 00000000-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.t1, test.regex]
logsource: {category: proxy}
detection:
    sel:
        c-uri|re|i: '/ADMIN/[a-z]+\.php$'
    condition: sel
---
title: Cidr v4 and v6
id: 00000000-0000-4000-8000-000000000002
status: experimental
level: medium
logsource: {category: proxy}
detection:
    sel:
        c-ip|cidr:
            - '10.8.0.0/16'
            - '2001:db8:5::/48'
            - '192.0.2.7'
    condition: sel
---
title: Base64 offset
id: 00000000-0000-4000-8000-000000000003
level: high
logsource: {category: proxy}
detection:
    sel:
        c-uri-query|base64offset|contains: 'powershell'
    condition: sel
---
title: Numbers
id: 00000000-0000-4000-8000-000000000004
level: low
logsource: {category: proxy}
detection:
    big:
        sc-status|gte: 500
        sc-status|lt: 504
    numeric_query:
        c-uri-query|gt: 41.5
    condition: big or numeric_query
---
title: Exists and null
id: 00000000-0000-4000-8000-000000000005
level: medium
logsource: {category: proxy}
detection:
    sel:
        cs-referrer|exists: true
        cs-username: null
    flt:
        cs-referrer|contains: 'example'
    condition: sel and not flt
---
title: Fieldref
id: 00000000-0000-4000-8000-000000000006
level: high
logsource: {category: proxy}
detection:
    sel:
        cs-referrer|fieldref|contains: cs-host
    other:
        cs-username|fieldref: cs-host
    condition: sel or other
---
title: All and cased
id: 00000000-0000-4000-8000-000000000007
level: critical
logsource: {category: proxy}
detection:
    sel:
        c-uri|contains|all:
            - 'alpha'
            - 'beta'
        c-useragent|cased: 'CaseTool/*'
    condition: sel
---
title: Wildcards
id: 00000000-0000-4000-8000-000000000008
level: medium
logsource: {category: proxy}
detection:
    sel:
        c-uri: '*/x?y/\*star*'
    percent:
        c-uri|contains: '100%_off'
    condition: sel or percent
---
title: Keywords and extension
id: 00000000-0000-4000-8000-000000000009
level: informational
logsource: {category: webserver}
detection:
    keywords:
        - 'EvilKeyword'
    ext:
        c-uri-extension: 'ps1'
    condition: keywords or ext
---
title: Not on a null field
id: 00000000-0000-4000-8000-00000000000a
level: low
logsource: {category: proxy}
detection:
    sel:
        cs-method: 'POST'
    flt:
        cs-username|startswith: 'svc_'
    condition: sel and not flt
---
title: Many admin pages
id: 00000000-0000-4000-8000-00000000000b
level: high
correlation:
    type: event_count
    rules:
        - 00000000-0000-4000-8000-000000000001
    group-by:
        - c-ip
    timespan: 10m
    condition:
        gte: 2
"#;

fn modifier_lines() -> Vec<String> {
    let line = |client: &str, user: &str, second: u32, method: &str, url: &str, status: u16, referrer: &str, agent: &str| {
        format!(
            "{client} - {user} [01/Dec/2026:10:{:02}:{:02} +0000] \"{method} {url} HTTP/1.1\" {status} 100 \"{referrer}\" \"{agent}\"",
            second / 60,
            second % 60
        )
    };
    let b64 = |s: &str| {
        use std::fmt::Write;
        // Standard base64 of `s` at an offset (the modifier's three variants).
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                let _ = write!(out, "{}", A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    vec![
        line("10.8.1.2", "-", 1, "GET", "http://a.example/admin/login.php", 200, "-", "curl/8"),
        line("10.8.1.2", "-", 30, "GET", "http://a.example/Admin/Index.PHP", 200, "-", "curl/8"),
        line("10.9.1.2", "-", 40, "GET", "http://a.example/admin/login.php?x", 200, "-", "curl/8"),
        line("10.9.1.2", "-", 50, "GET", "http://a.example/ADMIN/x.php", 200, "-", "curl/8"),
        line("2001:db8:5:1::9", "-", 60, "GET", "http://b.example/", 200, "-", "curl/8"),
        line("2001:db8:6::9", "-", 61, "GET", "http://b.example/", 200, "-", "curl/8"),
        line("192.0.2.7", "-", 62, "GET", "http://b.example/", 200, "-", "curl/8"),
        line("::ffff:10.8.0.1", "-", 63, "GET", "http://b.example/", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 70, "GET", &format!("http://c.example/run?c={}", b64("xpowershell -enc")), 200, "-", "curl/8"),
        line("10.1.1.1", "-", 71, "GET", &format!("http://c.example/run?c={}", b64("powershell")), 200, "-", "curl/8"),
        line("10.1.1.1", "-", 80, "GET", "http://d.example/", 500, "-", "curl/8"),
        line("10.1.1.1", "-", 81, "GET", "http://d.example/", 504, "-", "curl/8"),
        line("10.1.1.1", "-", 82, "GET", "http://d.example/p?42", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 83, "GET", "http://d.example/p?41.5", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 84, "GET", "http://d.example/p?1e3", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 90, "GET", "http://e.example/", 200, "http://ref.test/", "curl/8"),
        line("10.1.1.1", "bob", 91, "GET", "http://e.example/", 200, "http://ref.test/", "curl/8"),
        line("10.1.1.1", "-", 92, "GET", "http://e.example/", 200, "http://example.org/", "curl/8"),
        line("10.1.1.1", "-", 100, "GET", "http://f.example/", 200, "http://www.f.example/back", "curl/8"),
        line("10.1.1.1", "g.example", 101, "GET", "http://g.example/", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 110, "GET", "http://h.example/alpha/beta", 200, "-", "CaseTool/1.0"),
        line("10.1.1.1", "-", 111, "GET", "http://h.example/ALPHA/BETA", 200, "-", "casetool/1.0"),
        line("10.1.1.1", "-", 112, "GET", "http://h.example/alpha", 200, "-", "CaseTool/1.0"),
        line("10.1.1.1", "-", 120, "GET", "http://i.example/x1y/*star", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 121, "GET", "http://i.example/X-Y/*STAR/more", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 122, "GET", "http://i.example/xy/*star", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 123, "GET", "http://i.example/x1y/star", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 124, "GET", "http://i.example/100%_OFF", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 125, "GET", "http://i.example/100x_off", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 130, "GET", "http://j.example/", 200, "-", "agent evilkeyword"),
        line("10.1.1.1", "-", 131, "GET", "http://j.example/a/run.PS1", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 132, "GET", "http://j.example/a.ps1/run", 200, "-", "curl/8"),
        line("10.1.1.1", "-", 140, "POST", "http://k.example/", 200, "-", "curl/8"),
        line("10.1.1.1", "svc_backup", 141, "POST", "http://k.example/", 200, "-", "curl/8"),
        line("10.1.1.1", "alice", 142, "POST", "http://k.example/", 200, "-", "curl/8"),
    ]
}

#[test]
fn spark_compiles_every_modifier_as_the_embedded_engine_evaluates_it() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let log = dir.path().join("modifiers.log");
    std::fs::write(&log, modifier_lines().join("\n") + "\n").unwrap();
    let (embedded, spark) = (dir.path().join("embedded"), dir.path().join("spark"));
    let r = rules.to_str().unwrap();
    let e = scan(&[&log], r, &embedded, &[]);
    let s = scan(&[&log], r, &spark, &["--engine", "spark", "--remote", &remote]);
    assert_same_summaries(&e, &s);
    assert_eq!(e["sigma"]["rules_loaded"], 10, "every rule loads: {}", e["sigma"]);
    assert_eq!(e["sigma"]["correlations_loaded"], 1, "{}", e["sigma"]);
    let fired: BTreeSet<String> = query(&embedded, "SELECT DISTINCT rule_id FROM detections").into_iter().collect();
    assert_eq!(fired.len(), 11, "every rule and the correlation fire: {fired:?}");
    assert_same_tables(&embedded, &spark, &[("detections", DETECTIONS_SQL)]);

    // Rules below min_level are not written; the correlation still sees its rule's events.
    let (embedded, spark) = (dir.path().join("embedded-high"), dir.path().join("spark-high"));
    let pipeline = |engine: &str, lake: &Path| {
        let file = dir.path().join(format!("{engine}.toml"));
        std::fs::write(
            &file,
            format!(
                "engine = \"{engine}\"\nremote = \"{remote}\"\n\n[[extract]]\nfiles = [{:?}]\nformat = \"combined\"\n\n[[analyse]]\nkind = \"sigma\"\n\
                 rules = [{r:?}]\nmin_level = \"critical\"\n\n[load]\ndir = {:?}\n",
                log.display().to_string(),
                lake.display().to_string()
            ),
        )
        .unwrap();
        ok(sweep(&["run", file.to_str().unwrap(), "-q"]));
    };
    pipeline("embedded", &embedded);
    pipeline("spark", &spark);
    assert_eq!(query(&embedded, "SELECT DISTINCT level FROM detections"), vec!["critical"]);
    assert_same_tables(&embedded, &spark, &[("detections", DETECTIONS_SQL)]);
}

/// A Kafka stream with Sigma rules on Spark writes the detections the embedded engine writes,
/// batch by batch, with correlations that span batches (the correlator's state goes from
/// batch to batch with the checkpoint), again when a second run resumes the stream, and after a
/// crash between a batch's tables and its commit marker.
#[test]
fn a_kafka_stream_on_spark_detects_as_on_embedded_across_batches_and_runs() {
    let Some((remote, _server)) = remote() else { return };
    let Some(broker) = support::broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let traffic = dir.path().join("traffic.log");
    ok(sweep(&["generate", "--format", "combined", "--lines", "3000", "--out", traffic.to_str().unwrap()]));
    let (set, _) = RuleSet::load(&[SIGMA.into()], &LoadOptions::default());
    // (The generator's few malformed lines include bytes that are not UTF-8; `?` replaces them here.)
    let mut first: Vec<String> = String::from_utf8_lossy(&std::fs::read(&traffic).unwrap()).lines().map(String::from).collect();
    let start = first.len();
    first.extend(planted_lines(&set, 1, |plants, i| planted_line(plants, (start + i) % 3600)));
    // The modifier lines, an hour after the planted ones, with 2,000 lines of traffic between
    // the first admin page of each client and the rest: the pairs the correlation finds span
    // batches.
    let at = |hour: &str| -> Vec<String> {
        modifier_lines().iter().map(|l| l.replace("01/Dec/2026:10:", &format!("01/Dec/2026:{hour}:"))).collect()
    };
    let filler: Vec<String> = first[..2000].to_vec();
    let modifiers = at("12");
    first.extend([modifiers[0].clone(), modifiers[2].clone()]);
    first.extend(filler);
    first.extend(modifiers.iter().enumerate().filter(|(i, _)| *i != 0 && *i != 2).map(|(_, l)| l.clone()));
    // The next run: the same requests an hour later.
    let second = at("13");
    let topic = support::create_topic(&broker, "spark-sigma", 3);
    let r = rules.to_str().unwrap();
    // The engines cut batches differently (the embedded engine polls up to the batch size,
    // Spark plans end offsets), so what is late for a correlation could differ between them:
    // with an hour of allowed lateness nothing here is.
    let alert_topics =
        [support::create_topic(&broker, "sigma-alerts-embedded", 1), support::create_topic(&broker, "sigma-alerts-spark", 1)];
    let alert_topic = |engine: &str| alert_topics[usize::from(engine == "spark")].clone();
    let run = |engine: &str, round: usize| {
        let lake = dir.path().join(format!("stream-{engine}"));
        let summary_path = dir.path().join(format!("stream-{engine}-{round}.json"));
        let ckpt = dir.path().join(format!("ckpt-{engine}"));
        let pipeline = dir.path().join(format!("{engine}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                r#"engine = "{engine}"
remote = "{remote}"

[[extract]]
format = "combined"
[extract.kafka]
brokers = "{broker}"
topics = ["{topic}"]
start = "earliest"
batch_size = 700

[[analyse]]
kind = "sigma"
rules = [{SIGMA:?}, {r:?}]
allowed_lateness = "1h"

[load]
dir = {lake:?}
format = "delta"
[load.alerts]
brokers = "{broker}"
topic = "{alerts}"

[stream]
checkpoint = {ckpt:?}
stop_when_drained = true
"#,
                lake = lake.display().to_string(),
                ckpt = ckpt.display().to_string(),
                alerts = alert_topic(engine),
            ),
        )
        .unwrap();
        ok(sweep(&["run", pipeline.to_str().unwrap(), "--quiet", "--summary", summary_path.to_str().unwrap()]));
        (lake, summary(&summary_path))
    };
    let mut detections = 0;
    for (round, lines) in [first, second].iter().enumerate() {
        support::produce(&broker, &topic, 3, lines.iter().map(|l| l.as_bytes()));
        let (embedded, e) = run("embedded", round);
        let (spark, s) = run("spark", round);
        assert_same_tables(&embedded, &spark, &[("detections", DETECTIONS_SQL)]);
        for key in ["input_lines", "events", "rejects", "detections", "sigma"] {
            assert_eq!(e[key], s[key], "round {round}: summary {key}: embedded {} vs spark {}", e[key], s[key]);
        }
        assert!(e["detections"].as_u64().unwrap() > detections, "round {round} detects more: {e}");
        detections = e["detections"].as_u64().unwrap();
        if round == 0 {
            assert!(e["stream"]["batches"].as_u64() >= Some(4), "several batches: {e}");
        }
    }
    let lake = dir.path().join("stream-spark");
    // A crash after the tables took the last batch and before its commit marker: the batch is
    // re-run from the correlator state before it, and the detections table keeps it once.
    let commits = dir.path().join("ckpt-spark/commits");
    let last = std::fs::read_dir(&commits)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max_by_key(|p| p.file_stem().unwrap().to_string_lossy().parse::<u64>().unwrap())
        .unwrap();
    std::fs::remove_file(last).unwrap();
    let (_, replayed) = run("spark", 2);
    assert_eq!(replayed["stream"]["replayed_batches"].as_u64(), Some(1), "the unfinished batch is re-run: {replayed}");
    assert_same_tables(&dir.path().join("stream-embedded"), &lake, &[("detections", DETECTIONS_SQL)]);

    let correlated = query(&lake, "SELECT group_by FROM detections WHERE rule_title = 'Many admin pages' ORDER BY 1");
    // 10.8.1.2's two admin pages (2,000 lines apart, so in different batches) correlate in
    // each run; 10.9.1.2 has one page the rule takes and one it does not (`?x` after `.php`).
    assert_eq!(correlated, vec!["client_ip=10.8.1.2"; 2], "the pair of admin pages correlates once in each run");

    // Detections at `alert_level` (high) or above are alerts, the same on both engines.
    let high = support::query_one(&lake, "SELECT count(*) FROM detections WHERE level IN ('high', 'critical')") as usize;
    assert!(high > 0);
    let distinct = |topic: &str| {
        let mut all: Vec<String> =
            support::consume_all(&broker, topic, high).into_iter().map(|(k, v)| format!("{k} {}", String::from_utf8_lossy(&v))).collect();
        all.sort();
        all.dedup();
        all
    };
    let (embedded_alerts, spark_alerts) = (distinct(&alert_topics[0]), distinct(&alert_topics[1]));
    assert_eq!(embedded_alerts.len(), high, "one alert per high or critical detection");
    assert!(embedded_alerts.iter().all(|a| a.contains("\"alert\":\"detection\"")), "{:?}", embedded_alerts.first());
    assert_eq!(embedded_alerts, spark_alerts, "the same alerts on both engines");
}

/// `sweep retro --sigma` on Spark appends the detections the embedded retro-sweep appends,
/// and nothing when run again.
#[test]
fn a_sigma_retro_sweep_on_spark_appends_what_the_embedded_one_appends() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let (set, _) = RuleSet::load(&[SIGMA.into()], &LoadOptions::default());
    let mut lines = modifier_lines();
    let start = lines.len();
    lines.extend(planted_lines(&set, 2, |plants, i| planted_line(plants, start + i)));
    let log = dir.path().join("stored.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    // Two copies of one lake scanned without rules, one for each engine's retro-sweep.
    let lakes = [dir.path().join("lake-embedded"), dir.path().join("lake-spark")];
    for lake in &lakes {
        ok(sweep(&["scan", log.to_str().unwrap(), "--format", "combined", "--out", lake.to_str().unwrap(), "--quiet"]));
    }
    let r = rules.to_str().unwrap();
    let retro = |lake: &Path, engine: &str, round: usize| {
        let summary_path = dir.path().join(format!("retro-{engine}-{round}.json"));
        let mut args = vec!["retro", lake.to_str().unwrap(), "--sigma", SIGMA, "--sigma", r, "--summary", summary_path.to_str().unwrap()];
        if engine == "spark" {
            args.extend(["--engine", "spark", "--remote", &remote]);
        }
        ok(sweep(&args));
        summary(&summary_path)
    };
    let e = retro(&lakes[0], "embedded", 1);
    let s = retro(&lakes[1], "spark", 1);
    for key in ["events_swept", "detections_found", "detections_written", "sigma"] {
        assert_eq!(e[key], s[key], "summary {key}: embedded {} vs spark {}", e[key], s[key]);
    }
    assert!(e["detections_written"].as_u64() > Some(40), "{e}");
    assert_same_tables(&lakes[0], &lakes[1], &[("detections", DETECTIONS_SQL)]);
    let again = retro(&lakes[1], "spark", 2);
    assert_eq!(again["detections_written"], 0, "nothing twice: {again}");
    assert_eq!(again["detections_already_present"], e["detections_found"], "{again}");
    assert_same_tables(&lakes[0], &lakes[1], &[("detections", DETECTIONS_SQL)]);
}

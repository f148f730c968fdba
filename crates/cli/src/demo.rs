//! `sweep demo`: realistic traffic in several formats, one pipeline, a look at the tables.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sweep::generate::{GenFormat, TrafficSpec, write_traffic};
use sweep::{Content, Etl, Files, Format, Sigma, Sweeper, WriteMode};

/// Feeds bundled into the binary (see demo/README.md for their origin and licences).
const FEEDS: [(&str, &str); 2] =
    [("urlhaus-sample.txt", include_str!("../demo/urlhaus-sample.txt")), ("stix21-apt1.json", include_str!("../demo/stix21-apt1.json"))];
const ALLOW: &str = include_str!("../demo/allow.txt");

/// SigmaHQ rules bundled into the binary (see demo/README.md), unchanged.
const SIGMA_RULES: [(&str, &str); 5] = [
    ("web_sql_injection_in_access_logs.yml", include_str!("../demo/sigma/web_sql_injection_in_access_logs.yml")),
    ("web_path_traversal_exploitation_attempt.yml", include_str!("../demo/sigma/web_path_traversal_exploitation_attempt.yml")),
    ("web_jndi_exploit.yml", include_str!("../demo/sigma/web_jndi_exploit.yml")),
    ("web_susp_useragents.yml", include_str!("../demo/sigma/web_susp_useragents.yml")),
    ("proxy_ua_hacktool.yml", include_str!("../demo/sigma/proxy_ua_hacktool.yml")),
];

/// Requests an attacker's tools make, for the Sigma rules: SQL injection by sqlmap, a path
/// traversal, a JNDIExploit callback path and a Nikto scan (path and query, user agent).
const ATTACKS: [(&str, &str); 4] = [
    ("/item?id=1%27%20or%20%271%27%3D%271", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
    ("/download?file=../../../etc/passwd", "curl/8.5.0"),
    ("/Basic/Command/Base64/d2hvYW1p", "Java/1.8.0_181"),
    ("/cgi-bin/test.cgi", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)"),
];

/// nginx (combined) lines of one client sending each [`ATTACKS`] request, at the time of the
/// log's first line.
fn attack_lines(first_line: &str) -> String {
    let when = first_line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map_or("01/Jan/2026:00:00:00 +0000", |(t, _)| t);
    ATTACKS.iter().map(|(target, agent)| format!("10.1.6.70 - - [{when}] \"GET {target} HTTP/1.1\" 200 153 \"-\" \"{agent}\"\n")).collect()
}

/// Real indicator values from those feeds, planted into the generated traffic: an address
/// (exact), one inside an APT1 /15 network (cidr), domains (exact, and a subdomain of one),
/// a URL, and an allow-listed domain whose hits are suppressed.
const PLANT: [&str; 7] = [
    "1.15.230.7",
    "58.246.10.20",
    "abissnet.net",
    "files.hugesoft.org",
    "http://amyuni.com/downloads/usbmmidd_v2.zip",
    "acc.jiangsujiaxue.com",
    "access.skaparade.com",
];

/// Hosts that no feed lists but whose names give them away, for the content analyser: a bare
/// public address, a typosquat, a brand in front of another domain, a machine-made name and a
/// punycode look-alike (pаypal.com with a Cyrillic а).
const SUSPICIOUS: [&str; 5] = [
    "http://45.9.148.12/gate.php",
    "https://paypa1.com/signin",
    "https://paypal.com.account-verify.xyz/login",
    "http://xjw9q2kz7hf0v3lp.com/c2/beacon",
    "https://xn--pypal-4ve.com/",
];

/// Squid lines of one client visiting each [`SUSPICIOUS`] URL twice, in the first minutes of
/// the generated traffic.
fn suspicious_lines(start_epoch_s: i64) -> String {
    let mut out = String::new();
    for (i, url) in SUSPICIOUS.iter().enumerate() {
        for visit in 0..2 {
            let ts = start_epoch_s + 30 + (i * 20 + visit * 7) as i64;
            out.push_str(&format!("{ts}.250    184 10.1.6.66 TCP_MISS/200 5120 GET {url} mallory HIER_DIRECT/203.0.113.80 text/html\n"));
        }
    }
    out
}

/// The file that marks a folder as the demo's own, so a re-run may replace it.
const DEMO_MARKER: &str = ".sweep-demo";

/// Empties the demo folder of an earlier demo run; refuses a folder with anything else in it.
fn clear_demo_dir(dir: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else { return Ok(()) };
    if entries.next().is_none() {
        return Ok(());
    }
    if !dir.join(DEMO_MARKER).is_file() {
        anyhow::bail!(
            "{} is not empty and was not made by `sweep demo`; give the demo a new or empty folder (--dir), nothing was touched",
            dir.display()
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear the demo folder {}", dir.display()))
}

pub fn run(dir: &Path, lines: u64) -> Result<()> {
    // Absolute paths, so that the saved pipeline file runs from any folder.
    let dir = &std::path::absolute(dir)?;
    let input = dir.join("input");
    clear_demo_dir(dir)?;
    std::fs::create_dir_all(&input).with_context(|| format!("cannot create {}", input.display()))?;
    std::fs::write(dir.join(DEMO_MARKER), "made by `sweep demo`; the next demo run replaces this folder\n")?;

    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds)?;
    for (name, text) in FEEDS {
        std::fs::write(feeds.join(name), text)?;
    }
    let allow = dir.join("allow.txt");
    std::fs::write(&allow, ALLOW)?;

    println!("sweep demo: generating proxy traffic in {}", input.display());
    let logs = [
        (GenFormat::Squid, "squid-access.log", 1u64),
        (GenFormat::Combined, "nginx-access.log", 2),
        (GenFormat::Elff, "bluecoat-main.log", 3),
    ];
    for (format, name, seed) in logs {
        let spec = TrafficSpec {
            format,
            lines,
            seed,
            malformed_per_million: 1500,
            plant: PLANT.iter().map(|p| p.to_string()).collect(),
            plant_every: 2_000,
            ..TrafficSpec::default()
        };
        let path = input.join(name);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let stats = write_traffic(&spec, &mut w)?;
        std::io::Write::flush(&mut w)?;
        println!("  {name:<20} {} lines, {} malformed on purpose ({})", stats.lines, stats.malformed, format.format_name());
    }
    let squid_log = input.join("squid-access.log");
    let extra = suspicious_lines(TrafficSpec::default().start_epoch_s);
    let mut f =
        std::fs::OpenOptions::new().append(true).open(&squid_log).with_context(|| format!("cannot append to {}", squid_log.display()))?;
    std::io::Write::write_all(&mut f, extra.as_bytes())?;
    println!("  {:<20} {} more lines to hosts that only their names give away", "squid-access.log", extra.lines().count());
    let nginx_log = input.join("nginx-access.log");
    // The generated log has malformed lines on purpose, some not UTF-8: read the first as bytes.
    let bytes = std::fs::read(&nginx_log)?;
    let first = String::from_utf8_lossy(bytes.split(|b| *b == b'\n').next().unwrap_or_default()).into_owned();
    let attacks = attack_lines(&first);
    let mut f =
        std::fs::OpenOptions::new().append(true).open(&nginx_log).with_context(|| format!("cannot append to {}", nginx_log.display()))?;
    std::io::Write::write_all(&mut f, attacks.as_bytes())?;
    println!("  {:<20} {} more requests that attack tools make, for the Sigma rules", "nginx-access.log", attacks.lines().count());
    let rules = dir.join("sigma");
    std::fs::create_dir_all(&rules)?;
    for (name, text) in SIGMA_RULES {
        std::fs::write(rules.join(name), text)?;
    }

    let lake = dir.join("lake");
    let flow = Etl::embedded()
        .extract(Files::paths([input.join("squid-access.log").display().to_string()]))
        .transform(Format::squid())
        .extract(Files::paths([input.join("nginx-access.log").display().to_string()]))
        .transform(Format::combined())
        .extract(Files::paths([input.join("bluecoat-main.log").display().to_string()]))
        .transform(Format::elff())
        .analyse(sweep::SweeperSpec { allow: vec![allow.clone()], ..Sweeper::feeds([feeds.clone()]) })
        .analyse(sweep::WindowSpec { keys: vec![sweep::KeyKind::ClientIp, sweep::KeyKind::Host], ..sweep::Window::sliding("5m", "1m")? })
        .analyse(Content::detectors())
        .analyse(Sigma::rules([rules.clone()]))
        .lake(&lake)
        .mode(WriteMode::Overwrite);
    let pipeline_file = dir.join("pipeline.toml");
    std::fs::write(&pipeline_file, flow.to_toml())?;

    println!("\nrunning the pipeline (also saved as {}):", pipeline_file.display());
    let summary = flow.run_with(Arc::default())?;
    crate::output::print_summary(&summary);

    let lake_s = lake.display().to_string();
    println!("\nTop hosts:");
    crate::query(
        lake.clone(),
        "SELECT host, count(*) AS requests FROM events WHERE host IS NOT NULL GROUP BY host ORDER BY requests DESC LIMIT 5",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nHits (indicator, how it matched, which feed):");
    crate::query(
        lake.clone(),
        "SELECT indicator, indicator_type, match_kind, matched_field, feed, count(*) AS hits FROM hits \
         GROUP BY indicator, indicator_type, match_kind, matched_field, feed ORDER BY hits DESC",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nFindings: hosts that look malicious by their name alone (the content analyser's findings table):");
    crate::query(
        lake.clone(),
        "SELECT finding, count(*) AS findings, count(DISTINCT host) AS hosts FROM findings GROUP BY finding ORDER BY finding",
        None,
        crate::QueryOutput::Table,
    )?;
    // The best-scored hosts of each kind: one kind with many hosts does not hide the others.
    println!("\nThe top hosts of each kind, with the reason:");
    crate::query(
        lake.clone(),
        "SELECT finding, host, requests, score, reason FROM (\
           SELECT finding, host, count(*) AS requests, round(max(score), 2) AS score, min(reason) AS reason, \
                  row_number() OVER (PARTITION BY finding ORDER BY max(score) DESC, host) AS rank \
           FROM findings GROUP BY finding, host) WHERE rank <= 3 ORDER BY finding, score DESC, host",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nDetections: requests that SigmaHQ rules catch (the Sigma analyser's detections table):");
    crate::query(
        lake.clone(),
        "SELECT rule_title, level, client_ip, url, count(*) AS requests FROM detections \
         GROUP BY rule_title, level, client_ip, url ORDER BY rule_title, url",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nBusiest clients in a 5-minute window (the window analyser's metrics table):");
    crate::query(
        lake.clone(),
        "SELECT window_start, key AS client_ip, requests, distinct_hosts, errors, round(error_ratio, 3) AS error_ratio \
         FROM metrics WHERE key_kind = 'client_ip' ORDER BY requests DESC LIMIT 5",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nWhy lines were rejected:");
    crate::query(
        lake.clone(),
        "SELECT format, reason, count(*) AS n FROM rejects GROUP BY format, reason ORDER BY n DESC",
        None,
        crate::QueryOutput::Table,
    )?;
    println!("\nTry these:");
    println!("  sweep query {lake_s} \"SELECT format, count(*) FROM events GROUP BY format\"");
    println!(
        "  sweep query {lake_s} \"SELECT client_ip, sum(response_bytes) AS bytes FROM events GROUP BY client_ip ORDER BY bytes DESC LIMIT 10\""
    );
    println!("  sweep query {lake_s} \"SELECT date, count(*) FROM events GROUP BY date ORDER BY date\"");
    println!("  sweep query {lake_s} \"SELECT source, \\\"offset\\\", reason, detail FROM rejects LIMIT 5\"");
    println!("  sweep query {lake_s} \"SELECT ts, client_ip, user, host, indicator, feed FROM hits ORDER BY ts LIMIT 10\"");
    println!(
        "  sweep query {lake_s} \"SELECT client_ip, finding, count(DISTINCT host) AS hosts FROM findings GROUP BY 1, 2 ORDER BY 3 DESC\""
    );
    println!("  sweep sigma check {}", rules.display());
    println!("  sweep intel stats --intel {}", feeds.display());
    println!("  sweep retro {lake_s} --intel {}", feeds.display());
    println!("  sweep run {}", pipeline_file.display());
    Ok(())
}

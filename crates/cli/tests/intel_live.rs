//! Live intel in a stream, against real servers on loopback: a feed over HTTP that changes
//! (with and without ETag), one that fails or serves garbage, and a TAXII 2.1 collection on
//! medallion; the real Kafka broker. The guarantee under test (docs/intel-sources.md): every
//! (event, indicator) pair within the lookback gives exactly one hit, whichever came first:
//! `retro` for events stored before the indicator, `live` after; across refreshes and
//! SIGKILL. An indicator removed or revoked stops matching from the next version.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::feed_server::{FeedServer, Serve, Taxii, stix_domain_indicator};
use support::*;

/// Squid lines timed now: `count` requests, every `every`-th of them to `host`, the others
/// to ordinary hosts. Offsets are told apart by the path.
fn lines(count: usize, host: &str, every: usize, tag: &str) -> Vec<Vec<u8>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    (0..count)
        .map(|i| {
            let h = if i % every == 0 { host.to_string() } else { format!("www.site{}.example", i % 17) };
            format!("{now:.3}    120 10.0.0.{} TCP_MISS/200 512 GET http://{h}/{tag}/{i} - HIER_DIRECT/93.184.216.34 text/html", i % 200)
                .into_bytes()
        })
        .collect()
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn write_pipeline(dir: &Path, broker: &str, topic: &str, sources: &str, metrics: &str) -> std::path::PathBuf {
    let file = dir.join("live.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[extract]]
format = "squid"
[extract.kafka]
brokers = "{broker}"
topics = ["{topic}"]
start = "earliest"
batch_size = 500
batch_interval_ms = 200

{sources}

[load]
dir = "{lake}"
format = "delta"

[stream]
checkpoint = "{ckpt}"
metrics_addr = "{metrics}"
"#,
            lake = dir.join("lake").display(),
            ckpt = dir.join("ckpt").display(),
        ),
    )
    .unwrap();
    file
}

/// A stream process, killed when the test ends, however it ends.
struct Stream(Option<Child>);

impl Stream {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(file: &Path, summary: &Path) -> Stream {
    start_with(file, summary, &[])
}

fn start_with(file: &Path, summary: &Path, env: &[(&str, &str)]) -> Stream {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sweep"));
    command.args(["run", file.to_str().unwrap(), "-q", "--summary", summary.to_str().unwrap()]);
    for (k, v) in env {
        command.env(k, v);
    }
    Stream(Some(command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap()))
}

/// SIGTERM, then waits: the stream stops after its batch and writes its summary.
fn stop(mut stream: Stream) {
    let mut child = stream.0.take().unwrap();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "the stream ended with {status}");
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metric_at_least(addr: &str, name: &str, value: f64) -> bool {
    metric(addr, name).is_some_and(|v| v >= value)
}

fn hits_of(lake: &Path, indicator: &str) -> (i64, i64, i64, i64) {
    let rows = query(
        lake,
        &format!(
            "SELECT count(*), count(DISTINCT source || '/' || CAST(\"offset\" AS VARCHAR)), \
             count(*) FILTER (WHERE match_mode = 'live'), count(*) FILTER (WHERE match_mode = 'retro') \
             FROM hits WHERE indicator = '{indicator}'"
        ),
    );
    let v: Vec<i64> = rows[0].split(',').map(|x| x.parse().unwrap()).collect();
    (v[0], v[1], v[2], v[3])
}

fn events_of(lake: &Path, host: &str) -> i64 {
    query_one(lake, &format!("SELECT count(*) FROM events WHERE host = '{host}'"))
}

/// A stream reading a topic of its own, its one intel source a feed served over HTTP and
/// re-read every second, writing a Delta lake under a temporary folder.
struct LiveSetup {
    dir: tempfile::TempDir,
    server: FeedServer,
    topic: String,
    metrics: String,
    file: std::path::PathBuf,
    summary: std::path::PathBuf,
    lake: std::path::PathBuf,
}

fn live_setup(broker: &str, prefix: &str, partitions: i32, feed: &str, etag: bool) -> LiveSetup {
    let dir = tempfile::tempdir().unwrap();
    let server = FeedServer::start(feed, etag);
    let topic = create_topic(broker, prefix, partitions);
    let metrics = free_addr();
    // Retro-sweeps in parts of one file each: every batch's events are a part of their own,
    // so a retro-sweep spans many batches, and kills land between its parts.
    let sources = format!("[intel]\nretro_part_bytes = 1\n\n[[intel.source]]\nurl = \"{}\"\nrefresh = \"1s\"\n", server.url);
    let file = write_pipeline(dir.path(), broker, &topic, &sources, &metrics);
    let (summary, lake) = (dir.path().join("summary.json"), dir.path().join("lake"));
    LiveSetup { dir, server, topic, metrics, file, summary, lake }
}

#[test]
fn an_indicator_published_mid_stream_hits_every_matching_event_once_and_leaves_when_removed() {
    let Some(broker) = broker() else { return };
    let LiveSetup { dir: _dir, server, topic, metrics, file, summary: summary_path, lake } =
        live_setup(&broker, "live-intel", 3, "unrelated-sweep-test.com\n", true);
    let child = start(&file, &summary_path);

    // A: events for the host, before anyone knows it is bad, in two batches (two stored
    // files, so that the retro-sweep has two parts).
    let a = lines(400, "evil-live-sweep.com", 20, "a");
    produce(&broker, &topic, 3, a[..200].iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 200.0, Duration::from_secs(60));
    produce(&broker, &topic, 3, a[200..].iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 400.0, Duration::from_secs(60));
    // The indicator is published; the stream swaps to the new version between two batches
    // and sweeps the events it stored for it, without waiting for traffic.
    server.set(Serve::Body("unrelated-sweep-test.com\nevil-live-sweep.com\n".into()));
    wait_until("the swap to the new version", Duration::from_secs(30), || metric_at_least(&metrics, "sweep_retro_hits_total", 20.0));
    // B: events after the indicator.
    produce(&broker, &topic, 3, lines(400, "evil-live-sweep.com", 20, "b").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 800.0, Duration::from_secs(60));
    // The indicator is withdrawn: from the next version on it matches nothing.
    server.set(Serve::Body("unrelated-sweep-test.com\n".into()));
    wait_until("the swap to the version without it", Duration::from_secs(30), || metric_at_least(&metrics, "sweep_intel_swaps_total", 2.0));
    produce(&broker, &topic, 3, lines(400, "evil-live-sweep.com", 20, "c").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 1200.0, Duration::from_secs(60));
    // Refreshed every second, the feed is now unchanged: conditional requests, answered 304.
    wait_until("a 304", Duration::from_secs(10), || server.not_modified() > 0);
    stop(child);

    assert_eq!(events_of(&lake, "evil-live-sweep.com"), 60);
    let (hits, distinct, live, retro) = hits_of(&lake, "evil-live-sweep.com");
    assert_eq!((hits, distinct), (40, 40), "one hit per event of A and B, none for C");
    assert_eq!((live, retro), (20, 20), "A's events are found by the retro-sweep, B's live");
    let c_hits = query_one(&lake, "SELECT count(*) FROM hits WHERE url LIKE '%/c/%'");
    assert_eq!(c_hits, 0, "a withdrawn indicator stops matching");
    // Every hit is explained by the intel table: its version holds its indicator.
    let unexplained = query_one(
        &lake,
        "SELECT count(*) FROM hits h LEFT JOIN intel i ON h.intel_version = i.intel_version AND h.indicator = i.indicator \
         WHERE i.indicator IS NULL",
    );
    assert_eq!(unexplained, 0);
    // Three versions were used; the last has the content of the first, so the same version.
    assert_eq!(query_one(&lake, "SELECT count(DISTINCT intel_version) FROM intel"), 2);
    let s = summary(&summary_path);
    assert_eq!(s["stream"]["retro_hits"], 20);
    assert!(s["stream"]["retro_parts"].as_u64().unwrap() > 1, "the retro-sweep was done in parts, over several batches: {s}");
    assert_eq!(s["stream"]["intel_sources"][0]["failures"], 0);
}

#[test]
fn a_source_that_fails_or_serves_garbage_keeps_the_indicators_it_had() {
    let Some(broker) = broker() else { return };
    // No ETag: every refresh downloads the body and compares its content.
    let LiveSetup { dir: _dir, server, topic, metrics, file, summary: summary_path, lake } =
        live_setup(&broker, "live-fail", 1, "kept-sweep-test.com\n", false);
    let child = start(&file, &summary_path);

    produce(&broker, &topic, 1, lines(100, "kept-sweep-test.com", 10, "a").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 100.0, Duration::from_secs(60));
    server.set(Serve::Fail);
    wait_until("a failed refresh", Duration::from_secs(60), || {
        metric_at_least(&metrics, "sweep_intel_source_failures_total{source=\"feed.txt\"}", 1.0)
    });
    produce(&broker, &topic, 1, lines(100, "kept-sweep-test.com", 10, "b").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 200.0, Duration::from_secs(60));
    server.set(Serve::Body("<html><body>Service temporarily unavailable</body></html>\n".into()));
    wait_until("a refused download", Duration::from_secs(60), || {
        metric_at_least(&metrics, "sweep_intel_source_failures_total{source=\"feed.txt\"}", 2.0)
    });
    produce(&broker, &topic, 1, lines(100, "kept-sweep-test.com", 10, "c").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 300.0, Duration::from_secs(60));
    stop(child);

    let (hits, distinct, live, _) = hits_of(&lake, "kept-sweep-test.com");
    assert_eq!((hits, distinct, live), (30, 30, 30), "the index was never emptied");
    let s = summary(&summary_path);
    let source = &s["stream"]["intel_sources"][0];
    assert!(source["failures"].as_u64().unwrap() >= 2, "{source}");
    assert!(source["last_error"].as_str().is_some_and(|e| !e.is_empty()) || source["failures"].as_u64().unwrap() >= 2, "{source}");
    assert_eq!(s["stream"]["intel_swaps"], 0, "no failure made a new version");
}

#[test]
fn sigkill_during_refreshes_and_retro_sweeps_loses_and_duplicates_no_hit() {
    let Some(broker) = broker() else { return };
    sigkill_rounds(&broker, "live-kill", "", 6, 1, 1);
}

/// The same on Spark, whose runs take longer to start: fewer rounds, longer between kills.
#[test]
fn sigkill_during_refreshes_and_retro_sweeps_on_spark_loses_and_duplicates_no_hit() {
    let Some(broker) = broker() else { return };
    let Some((remote, _spark)) = support::spark::remote() else { return };
    // Parts of a few files each: a Spark batch takes a second or two, and one-file parts
    // would make the retro-sweeps take minutes.
    sigkill_rounds(&broker, "live-kill-spark", &format!("engine = \"spark\"\nremote = \"{remote}\"\n"), 4, 4, 64 << 10);
}

/// Runs a stream `rounds` times and kills it at random moments while hosts are published
/// (one more in each of rounds 1-3), then once to the end: every event of a published host
/// has exactly one hit. `engine` goes at the top of the pipeline file; `slow` stretches the
/// random waits; retro-sweeps go in parts of `part_bytes` of stored events.
fn sigkill_rounds(broker: &str, prefix: &str, engine: &str, rounds: usize, slow: u64, part_bytes: u64) {
    let LiveSetup { dir, server, topic, metrics, file, summary, lake } = live_setup(broker, prefix, 3, "unrelated-sweep-test.com\n", true);
    let toml = std::fs::read_to_string(&file).unwrap().replace("retro_part_bytes = 1\n", &format!("retro_part_bytes = {part_bytes}\n"));
    std::fs::write(&file, format!("{engine}{toml}")).unwrap();
    let hosts = ["x1.evil-sweep-test.com", "x2.evil-sweep-test.com", "x3.evil-sweep-test.com"];
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = seed;
    let mut next = |n: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    let mut produced = 0usize;
    let mut kills = 0;
    for round in 0..rounds {
        let child = start(&file, &dir.path().join("ignored.json"));
        // Traffic for every host, and from round 1 on one more host published each round,
        // at a random moment: so kills land before, during and after refreshes and retro-sweeps.
        for (h, host) in hosts.iter().enumerate() {
            let batch = lines(150, host, 10, &format!("r{round}h{h}"));
            produced += produce(broker, &topic, 3, batch.iter().map(Vec::as_slice));
        }
        std::thread::sleep(Duration::from_millis(next(1500 * slow)));
        if (1..=3).contains(&round) {
            let published: Vec<&str> = hosts[..round].to_vec();
            server.set(Serve::Body(format!("unrelated-sweep-test.com\n{}\n", published.join("\n"))));
        }
        std::thread::sleep(Duration::from_millis(500 * slow + next(2500 * slow)));
        let mut stream = child;
        if stream.child().try_wait().unwrap().is_none() {
            stream.child().kill().unwrap();
            kills += 1;
        }
        stream.child().wait().unwrap();
    }
    assert!(kills > 0, "seed {seed}");
    // A last run, until every line is in and the last version is in use.
    let child = start(&file, &summary);
    wait_for_lines(&metrics, produced as f64, Duration::from_secs(240));
    wait_until("the version with all hosts", Duration::from_secs(120), || metric_at_least(&metrics, "sweep_intel_indicators", 4.0));
    wait_until("the last retro-sweep part", Duration::from_secs(60 * slow.max(2)), || {
        metric(&metrics, "sweep_retro_parts_pending") == Some(0.0)
    });
    // One more batch after the swap: the retro hits are committed with it.
    produce(broker, &topic, 3, lines(30, "www.quiet.example", 1, "end").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, produced as f64 + 30.0, Duration::from_secs(120));
    stop(child);

    for host in hosts {
        let events = events_of(&lake, host);
        let (hits, distinct, live, retro) = hits_of(&lake, host);
        eprintln!("{host}: {events} events, {hits} hits ({live} live, {retro} retro) after {kills} kills (seed {seed})");
        assert_eq!(events, rounds as i64 * 15, "{host} (seed {seed})");
        assert_eq!(distinct, events, "{host}: an event has no hit (seed {seed})");
        assert_eq!(hits, events, "{host}: an event has two hits (seed {seed})");
    }
}

#[test]
fn a_taxii_collection_feeds_a_stream_and_a_revoked_indicator_leaves_it() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(taxii) = Taxii::start(dir.path()) else { return };
    taxii.add(&[stix_domain_indicator("11111111-1111-4111-8111-111111111111", "a-taxii-sweep.com", "2026-01-01T00:00:00.000Z", false)]);
    let topic = create_topic(&broker, "live-taxii", 3);
    let metrics = free_addr();
    let sources = format!(
        "[[intel.source]]\ntaxii = {{ url = \"{}\", collection = \"indicators\", username = \"sweep\", password = \"${{SWEEP_TEST_TAXII_PASSWORD}}\", limit = 1 }}\nrefresh = \"1s\"\n",
        taxii.discovery
    );
    let file = write_pipeline(dir.path(), &broker, &topic, &sources, &metrics);
    let summary_path = dir.path().join("summary.json");
    let lake = dir.path().join("lake");
    let child = start_with(&file, &summary_path, &[("SWEEP_TEST_TAXII_PASSWORD", "taxii-pass")]);

    produce(&broker, &topic, 3, lines(200, "a-taxii-sweep.com", 10, "a1").iter().map(Vec::as_slice));
    produce(&broker, &topic, 3, lines(200, "b-taxii-sweep.com", 10, "b1").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 400.0, Duration::from_secs(60));
    // B is added to the collection while the stream runs (pages of one object: `limit = 1`).
    taxii.add(&[stix_domain_indicator("22222222-2222-4222-8222-222222222222", "b-taxii-sweep.com", "2026-01-01T00:00:00.000Z", false)]);
    wait_until("B's retro hits", Duration::from_secs(30), || metric_at_least(&metrics, "sweep_retro_hits_total", 20.0));
    // A is revoked: a new version of its object.
    taxii.add(&[stix_domain_indicator("11111111-1111-4111-8111-111111111111", "a-taxii-sweep.com", "2026-06-01T00:00:00.000Z", true)]);
    wait_until("the version without A", Duration::from_secs(30), || metric_at_least(&metrics, "sweep_intel_swaps_total", 2.0));
    produce(&broker, &topic, 3, lines(200, "a-taxii-sweep.com", 10, "a2").iter().map(Vec::as_slice));
    produce(&broker, &topic, 3, lines(200, "b-taxii-sweep.com", 10, "b2").iter().map(Vec::as_slice));
    wait_for_lines(&metrics, 800.0, Duration::from_secs(60));
    stop(child);

    let (a_hits, _, a_live, _) = hits_of(&lake, "a-taxii-sweep.com");
    assert_eq!((a_hits, a_live), (20, 20), "A hit while it was in the collection, and not after its revocation");
    let (b_hits, b_distinct, b_live, b_retro) = hits_of(&lake, "b-taxii-sweep.com");
    assert_eq!((b_hits, b_distinct, b_live, b_retro), (40, 40, 20, 20), "B: earlier events by retro-sweep, later ones live");
    let s = summary(&summary_path);
    let text = s.to_string();
    assert!(!text.contains("taxii-pass"), "a credential leaked into the summary");
}

#[test]
fn batch_runs_read_a_url_through_the_cache_and_intel_pull_and_stats_report_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = FeedServer::start("batch-sweep-test.com\n", true);
    let log = dir.path().join("proxy.log");
    let mut text = Vec::new();
    for l in lines(100, "batch-sweep-test.com", 10, "p") {
        text.extend(l);
        text.push(b'\n');
    }
    std::fs::write(&log, text).unwrap();
    let cache = dir.path().join("cache");
    let (url, cache_s, log_s) = (server.url.as_str(), cache.to_str().unwrap(), log.to_str().unwrap());

    let pulled = ok(sweep(&["intel", "pull", "--intel", url, "--intel-cache", cache_s]));
    assert!(pulled.contains("feed.txt") && pulled.contains("changed") && pulled.contains("1 indicators"), "{pulled}");
    let lake = dir.path().join("lake");
    ok(sweep(&["scan", log_s, "--format", "squid", "--intel", url, "--intel-cache", cache_s, "--out", lake.to_str().unwrap()]));
    assert!(server.not_modified() >= 1, "the run asked with the pulled copy's ETag");
    assert_eq!(query_one(&lake, "SELECT count(*) FROM hits WHERE indicator = 'batch-sweep-test.com' AND match_mode = 'live'"), 10);

    // The source fails: runs go on with the cached copy, and stats say what happened.
    server.set(Serve::Fail);
    let lake2 = dir.path().join("lake2");
    let out = sweep(&["scan", log_s, "--format", "squid", "--intel", url, "--intel-cache", cache_s, "--out", lake2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("using the copy fetched before"));
    assert_eq!(query_one(&lake2, "SELECT count(*) FROM hits"), 10);
    let stats = sweep(&["intel", "stats", "--intel", url, "--intel-cache", cache_s]);
    let stats_text = String::from_utf8_lossy(&stats.stdout);
    assert!(stats_text.contains("sources (cache") && stats_text.contains("last error: intel source"), "{stats_text}");
    assert!(stats_text.contains("plain"), "the feed kind reads as a name: {stats_text}");
    // Without any copy, a source that cannot be fetched stops the run with what to do.
    let out = sweep(&[
        "scan",
        log_s,
        "--format",
        "squid",
        "--intel",
        url,
        "--intel-cache",
        dir.path().join("empty").to_str().unwrap(),
        "--out",
        dir.path().join("lake3").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has never been fetched") && err.contains("sweep intel pull"), "{err}");
}

/// The same stream on both engines, reading one topic with one live source into Parquet
/// tables: the swap, the retro-sweep and the live sweep give the same hits, row by row.
#[test]
fn a_spark_stream_swaps_intel_and_retro_sweeps_the_hits_the_embedded_one_does() {
    let Some(broker) = broker() else { return };
    let Some((remote, _spark)) = support::spark::remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = FeedServer::start("unrelated-sweep-test.com\n", true);
    let topic = create_topic(&broker, "live-spark", 2);
    let sources = format!("[intel]\nretro_part_bytes = 1\n\n[[intel.source]]\nurl = \"{}\"\nrefresh = \"1s\"\n", server.url);
    let engines = [("embedded", String::new()), ("spark", format!("engine = \"spark\"\nremote = \"{remote}\"\n"))];
    let runs: Vec<_> = engines
        .iter()
        .map(|(name, engine)| {
            let sub = dir.path().join(name);
            std::fs::create_dir_all(&sub).unwrap();
            let metrics = free_addr();
            let file = write_pipeline(&sub, &broker, &topic, &sources, &metrics);
            // Parquet tables here (the other tests write Delta): the retro-sweep reads a
            // folder without the batch's own files.
            let toml = std::fs::read_to_string(&file).unwrap().replace("format = \"delta\"", "format = \"parquet\"");
            std::fs::write(&file, format!("{engine}{toml}")).unwrap();
            let summary = sub.join("summary.json");
            (sub.join("lake"), metrics, summary.clone(), start(&file, &summary))
        })
        .collect();

    produce(&broker, &topic, 2, lines(300, "evil-spark-sweep.com", 20, "a").iter().map(Vec::as_slice));
    for (_, metrics, _, _) in &runs {
        wait_for_lines(metrics, 300.0, Duration::from_secs(240));
    }
    server.set(Serve::Body("unrelated-sweep-test.com\nevil-spark-sweep.com\n".into()));
    for (_, metrics, _, _) in &runs {
        wait_until("the retro-sweep", Duration::from_secs(240), || metric_at_least(metrics, "sweep_retro_hits_total", 15.0));
    }
    produce(&broker, &topic, 2, lines(300, "evil-spark-sweep.com", 20, "b").iter().map(Vec::as_slice));
    for (_, metrics, _, _) in &runs {
        wait_for_lines(metrics, 600.0, Duration::from_secs(240));
    }
    let mut hits = Vec::new();
    for (lake, _, summary_path, child) in runs {
        stop(child);
        assert_eq!(hits_of(&lake, "evil-spark-sweep.com"), (30, 30, 15, 15), "{}", lake.display());
        let unexplained = query_one(
            &lake,
            "SELECT count(*) FROM hits h LEFT JOIN intel i ON h.intel_version = i.intel_version AND h.indicator = i.indicator \
             WHERE i.indicator IS NULL",
        );
        assert_eq!(unexplained, 0, "{}", lake.display());
        assert_eq!(summary(&summary_path)["stream"]["retro_hits"], 15);
        hits.push(query(
            &lake,
            "SELECT source, \"offset\", indicator, match_mode, intel_version, host, url FROM hits ORDER BY source, \"offset\", indicator",
        ));
    }
    assert_eq!(hits[0].len(), 30);
    assert_eq!(hits[0], hits[1], "the embedded and the Spark engine wrote different hits");
}

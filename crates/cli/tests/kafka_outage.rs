//! The broker goes away in the middle of a run and comes back: the pipeline carries on by
//! itself, serves its metrics throughout, and stops cleanly on SIGTERM. In its own test
//! binary because it restarts the shared broker.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

#[test]
fn the_pipeline_rides_out_a_broker_restart_and_stops_on_sigterm() {
    let Some(broker) = broker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&broker, "outage", 3);
    let payloads = squid_lines(dir.path(), 20_000, 3);
    let (first, second) = payloads.split_at(10_000);
    produce(&broker, &topic, 3, first.iter().map(Vec::as_slice));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let (lake, ckpt, s_path) = (dir.path().join("lake"), dir.path().join("ckpt"), dir.path().join("s.json"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["scan", &format!("kafka://{broker}/{topic}"), "--format", "squid", "--table-format", "delta", "--start", "earliest"])
        .args(["--out", lake.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap(), "--metrics-addr", &addr])
        .args(["--batch-interval-ms", "200", "-q", "--summary", s_path.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lines(&addr, 10_000.0, Duration::from_secs(60));
    assert_eq!(metric(&addr, "sweep_consumer_lag"), Some(0.0));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/kafka");
    let restarted = Command::new("bash").args([script, "restart"]).status().unwrap();
    assert!(restarted.success(), "scripts/kafka restart failed");
    produce(&broker, &topic, 3, second.iter().map(Vec::as_slice));
    wait_for_lines(&addr, 20_000.0, Duration::from_secs(120));

    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "sweep exited with {status} after SIGTERM");

    let s = summary(&s_path);
    assert_eq!(s["input_lines"], 20_000);
    assert_eq!(s["stream"]["stopped_by"], "signal");
    let skipped = s["skipped"].as_i64().unwrap();
    let distinct = query_one(
        &lake,
        r#"SELECT count(*) FROM (SELECT DISTINCT source, "offset" FROM (SELECT source, "offset" FROM events UNION ALL SELECT source, "offset" FROM rejects))"#,
    );
    let rows = query_one(&lake, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejects)");
    assert_eq!((rows, distinct), (20_000 - skipped, 20_000 - skipped));
}

//! Squid's native format on Spark against the embedded parser: every branch of the parser
//! and each reject reason (the edge lines), and the real Squid log, row for row (see
//! support::spark). The sweeper and the content analyser over the same lines are compared
//! in spark_diff.rs.

mod support;

use support::spark::{assert_same_parse, remote, squid_edge_lines, write_lines};

const SQUID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");

#[test]
fn spark_reads_squid_as_embedded_does() {
    let Some((remote, _server)) = remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let edge = write_lines(dir.path(), "edge.log", &squid_edge_lines());
    let both = assert_same_parse(dir.path(), "squid", &remote, "\"squid\"", &[&edge, std::path::Path::new(SQUID)]);
    let real_lines = std::fs::read_to_string(SQUID).unwrap().lines().count() as u64;
    assert_eq!(both.count("input_lines"), squid_edge_lines().len() as u64 + real_lines);
    assert!(both.count("rejects") >= 15, "the edge lines are rejected for their reasons: {:?}", both.reasons());
    assert!(both.count("events") >= real_lines, "every line of the real log is an event");
}

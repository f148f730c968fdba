//! Golden test on a real Squid native log: squidview's example.log (94 lines, 2007),
//! read from ../shared/data/logs at test time.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use sweep_formats::{FormatSpec, parse_all, time::format_micros};

const LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");

#[test]
fn squidview_example_log() {
    let data = std::fs::read(LOG).expect("shared/data/logs/squid-native-squidview.log is beside the repo");
    let out = parse_all(&FormatSpec::Squid, &data, LOG).unwrap();
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects, out.counts.skipped), (94, 94, 0, 0));

    let e = &out.events;
    let text = |name: &str, row: usize| {
        let col = e.column_by_name(name).unwrap().as_string::<i32>();
        col.is_valid(row).then(|| col.value(row).to_string())
    };
    let int32 = |name: &str, row: usize| e.column_by_name(name).unwrap().as_primitive::<Int32Type>().value(row);
    let int64 = |name: &str, row: usize| e.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(row);
    let ts = e.column_by_name("ts").unwrap().as_primitive::<TimestampMicrosecondType>();

    // First line: 1198298239.740    388 127.0.0.1 TCP_MISS/301 631 GET http://www.slashdot.org/ graeme DIRECT/66.35.250.151 text/html
    assert_eq!(format_micros(ts.value(0)), "2007-12-22T04:37:19.740000Z");
    assert_eq!(text("client_ip", 0).as_deref(), Some("127.0.0.1"));
    assert_eq!(int32("status", 0), 301);
    assert_eq!(int64("response_bytes", 0), 631);
    assert_eq!(int64("duration_ms", 0), 388);
    assert_eq!(text("method", 0).as_deref(), Some("GET"));
    assert_eq!(text("host", 0).as_deref(), Some("www.slashdot.org"));
    assert_eq!(text("scheme", 0).as_deref(), Some("http"));
    assert_eq!(int32("port", 0), 80);
    assert_eq!(text("user", 0).as_deref(), Some("graeme"));
    assert_eq!(text("server_ip", 0).as_deref(), Some("66.35.250.151"));
    assert_eq!(text("content_type", 0).as_deref(), Some("text/html"));
    assert_eq!(text("proxy_action", 0).as_deref(), Some("TCP_MISS"));
    assert_eq!(text("format", 0).as_deref(), Some("squid"));
    assert_eq!(int64("offset", 0), 1);

    // Third line: a stripped query leaves a bare `?`.
    assert_eq!(text("host", 2).as_deref(), Some("ad.doubleclick.net"));
    assert_eq!(text("query", 2).as_deref(), Some(""));
    assert_eq!(
        text("path", 2).as_deref(),
        Some("/adj/ostg.slashdot/mainpage_p30_right_peelback;pg=index;logged_in=0;tile=1;ord=5818237142682510")
    );

    // Every line is graeme's; the server address is the peer of DIRECT/ip, none for NONE/- (cache hits).
    let text_file = String::from_utf8(data.clone()).unwrap();
    for (row, line) in text_file.lines().enumerate() {
        assert_eq!(text("user", row).as_deref(), Some("graeme"));
        let peer = line.split_whitespace().nth(8).unwrap().split_once('/').unwrap().1;
        assert_eq!(text("server_ip", row).as_deref(), (peer != "-").then_some(peer), "row {row}");
        assert_eq!(int64("offset", row), row as i64 + 1);
    }
    assert_eq!((0..e.num_rows()).filter(|&r| text("server_ip", r).is_none()).count(), 5);
    let statuses: std::collections::BTreeSet<i32> = (0..e.num_rows()).map(|r| int32("status", r)).collect();
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), vec![200, 301, 304]);
}

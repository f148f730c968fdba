//! Golden test on a real Apache combined log: 10,000 lines from semicomplete.com (May 2015),
//! elastic/examples "Common Data Formats/apache_logs" (Apache-2.0), read from
//! ../shared/data/logs at test time.
//!
//! Every line is accounted for: 9,999 events and one reject. The reject (line 8899) is a
//! genuinely malformed line: the file cuts it off inside the user agent, so its last
//! quoted field is never closed.

use std::collections::BTreeMap;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use sweep_formats::{FormatSpec, parse_all, time::format_micros};

const LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/apache-combined-semicomplete.log");

#[test]
fn semicomplete_apache_log() {
    let data = std::fs::read(LOG).expect("shared/data/logs/apache-combined-semicomplete.log is beside the repo");
    let out = parse_all(&FormatSpec::Combined, &data, LOG).unwrap();
    let c = out.counts;
    assert!(c.balanced(), "{c:?}");
    assert_eq!((c.lines, c.events, c.rejects, c.skipped), (10_000, 9_999, 1, 0));

    // The one reject.
    let r = &out.rejects;
    let raw = r.column_by_name("raw").unwrap().as_binary::<i32>();
    let reason = r.column_by_name("reason").unwrap().as_string::<i32>();
    let detail = r.column_by_name("detail").unwrap().as_string::<i32>();
    let offset = r.column_by_name("offset").unwrap().as_primitive::<Int64Type>();
    assert_eq!(offset.value(0), 8899);
    assert_eq!(reason.value(0), "malformed");
    assert_eq!(detail.value(0), "the user agent field has no closing double quote");
    let line_8899 = data.split(|&b| b == b'\n').nth(8898).unwrap();
    assert_eq!(raw.value(0), line_8899);
    assert!(raw.value(0).ends_with(b"\"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"));

    let e = &out.events;
    let text = |name: &str, row: usize| {
        let col = e.column_by_name(name).unwrap().as_string::<i32>();
        col.is_valid(row).then(|| col.value(row).to_string())
    };
    let int32 = |name: &str, row: usize| {
        let col = e.column_by_name(name).unwrap().as_primitive::<Int32Type>();
        col.is_valid(row).then(|| col.value(row))
    };
    let int64 = |name: &str, row: usize| {
        let col = e.column_by_name(name).unwrap().as_primitive::<Int64Type>();
        col.is_valid(row).then(|| col.value(row))
    };
    let ts = e.column_by_name("ts").unwrap().as_primitive::<TimestampMicrosecondType>();
    let offsets = e.column_by_name("offset").unwrap().as_primitive::<Int64Type>();
    // Rows follow the lines, with line 8899 missing.
    for row in 0..e.num_rows() {
        let line = row as i64 + if row < 8898 { 1 } else { 2 };
        assert_eq!(offsets.value(row), line);
    }
    let row_of = |line: i64| (line - if line < 8899 { 1 } else { 2 }) as usize;

    struct Expect {
        line: i64,
        ts: &'static str,
        client_ip: &'static str,
        method: &'static str,
        url: &'static str,
        path: &'static str,
        query: Option<&'static str>,
        status: i32,
        response_bytes: i64,
        referrer: Option<&'static str>,
        user_agent: Option<&'static str>,
    }
    let expected = [
        // The first line.
        Expect {
            line: 1,
            ts: "2015-05-17T10:05:03.000000Z",
            client_ip: "83.149.9.216",
            method: "GET",
            url: "/presentations/logstash-monitorama-2013/images/kibana-search.png",
            path: "/presentations/logstash-monitorama-2013/images/kibana-search.png",
            query: None,
            status: 200,
            response_bytes: 203_023,
            referrer: Some("http://semicomplete.com/presentations/logstash-monitorama-2013/"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
            ),
        },
        // A query string, a 404, and a query that itself looks like a path.
        Expect {
            line: 63,
            ts: "2015-05-17T10:05:22.000000Z",
            client_ip: "66.249.73.185",
            method: "GET",
            url: "/doc/index.html?org/elasticsearch/action/search/SearchResponse.html",
            path: "/doc/index.html",
            query: Some("org/elasticsearch/action/search/SearchResponse.html"),
            status: 404,
            response_bytes: 294,
            referrer: None,
            user_agent: Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        },
        // `\xHH` escapes in the referrer stay as Apache wrote them; HTTP/1.0.
        Expect {
            line: 5851,
            ts: "2015-05-19T11:05:10.000000Z",
            client_ip: "201.242.142.135",
            method: "GET",
            url: "/files/logstash/",
            path: "/files/logstash/",
            query: None,
            status: 200,
            response_bytes: 13_316,
            referrer: Some(r"http://\xe4\xe5\xe3\xf2\xff\xf0\xed\xee\xe5-\xec\xfb\xeb\xee.\xf0\xf4/"),
            user_agent: Some("Mozilla/5.0 (Windows NT 6.1; rv:11.0) Gecko/20100101 Firefox/11.0"),
        },
        // The only OPTIONS request, a 500; the first line after the reject.
        Expect {
            line: 9158,
            ts: "2015-05-20T14:05:16.000000Z",
            client_ip: "64.131.102.243",
            method: "OPTIONS",
            url: "/projects/xdotool/",
            path: "/projects/xdotool/",
            query: None,
            status: 500,
            response_bytes: 626,
            referrer: None,
            user_agent: Some("Microsoft Office Protocol Discovery"),
        },
        // `-` bytes: Apache's zero.
        Expect {
            line: 9999,
            ts: "2015-05-20T21:05:56.000000Z",
            client_ip: "180.76.6.56",
            method: "GET",
            url: "/robots.txt",
            path: "/robots.txt",
            query: None,
            status: 200,
            response_bytes: 0,
            referrer: None,
            user_agent: Some("Mozilla/5.0 (Windows NT 5.1; rv:6.0.2) Gecko/20100101 Firefox/6.0.2"),
        },
        // The last line: a query string.
        Expect {
            line: 10_000,
            ts: "2015-05-20T21:05:15.000000Z",
            client_ip: "46.105.14.53",
            method: "GET",
            url: "/blog/tags/puppet?flav=rss20",
            path: "/blog/tags/puppet",
            query: Some("flav=rss20"),
            status: 200,
            response_bytes: 14_872,
            referrer: None,
            user_agent: Some("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/"),
        },
    ];
    for x in &expected {
        let row = row_of(x.line);
        let at = format!("line {}", x.line);
        assert_eq!(offsets.value(row), x.line, "{at}");
        assert_eq!(format_micros(ts.value(row)), x.ts, "{at}");
        assert_eq!(text("client_ip", row).as_deref(), Some(x.client_ip), "{at}");
        assert_eq!(text("user", row), None, "{at}");
        assert_eq!(text("method", row).as_deref(), Some(x.method), "{at}");
        assert_eq!(text("url", row).as_deref(), Some(x.url), "{at}");
        assert_eq!(text("path", row).as_deref(), Some(x.path), "{at}");
        assert_eq!(text("query", row).as_deref(), x.query, "{at}");
        assert_eq!(int32("status", row), Some(x.status), "{at}");
        assert_eq!(int64("response_bytes", row), Some(x.response_bytes), "{at}");
        assert_eq!(text("referrer", row).as_deref(), x.referrer, "{at}");
        assert_eq!(text("user_agent", row).as_deref(), x.user_agent, "{at}");
        // Origin-form targets of a web server: no scheme, host or port in the line.
        assert_eq!((text("scheme", row), text("host", row), int32("port", row)), (None, None, None), "{at}");
        assert_eq!((int64("request_bytes", row), int64("duration_ms", row)), (None, None), "{at}");
        assert_eq!(text("proxy_action", row), None, "{at}");
        assert_eq!(text("format", row).as_deref(), Some("combined"), "{at}");
        assert_eq!(text("source", row).as_deref(), Some(LOG), "{at}");
    }

    // Whole-file figures, counted independently with a reference regex over the raw file.
    let rows = e.num_rows();
    let mut methods: BTreeMap<String, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<i32, usize> = BTreeMap::new();
    let (mut zero_bytes, mut total_bytes, mut with_query, mut with_referrer, mut with_agent) = (0, 0i64, 0, 0, 0);
    for row in 0..rows {
        *methods.entry(text("method", row).unwrap()).or_default() += 1;
        *statuses.entry(int32("status", row).unwrap()).or_default() += 1;
        let b = int64("response_bytes", row).unwrap();
        zero_bytes += usize::from(b == 0);
        total_bytes += b;
        with_query += usize::from(text("query", row).is_some());
        with_referrer += usize::from(text("referrer", row).is_some());
        with_agent += usize::from(text("user_agent", row).is_some());
        assert!(text("client_ip", row).is_some() && text("path", row).is_some(), "row {row}");
    }
    let methods: Vec<(&str, usize)> = methods.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(methods, vec![("GET", 9951), ("HEAD", 42), ("OPTIONS", 1), ("POST", 5)]);
    let statuses: Vec<(i32, usize)> = statuses.into_iter().collect();
    assert_eq!(statuses, vec![(200, 9125), (206, 45), (301, 164), (304, 445), (403, 2), (404, 213), (416, 2), (500, 3)]);
    assert_eq!(zero_bytes, 669);
    assert_eq!(total_bytes, 2_747_282_505);
    assert_eq!(with_query, 1259);
    assert_eq!(with_referrer, 5927);
    assert_eq!(with_agent, 9809);
    let clients: std::collections::BTreeSet<String> = (0..rows).map(|r| text("client_ip", r).unwrap()).collect();
    assert_eq!(clients.len(), 1753);
}

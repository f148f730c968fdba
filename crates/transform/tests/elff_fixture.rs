//! ELFF fixture test: tests/fixtures/elff/bluecoat-main.log, hand-written from the
//! bcreportermain_v1 field list in FORMATS.md, with a `#Fields:` change in the middle.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use sweep_formats::formats::elff::ElffOptions;
use sweep_formats::time::format_micros;
use sweep_formats::{BatchBuilder, ChunkParser, FormatSpec, ParsedBatch, parse_all};

const LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/elff/bluecoat-main.log");

fn data() -> Vec<u8> {
    std::fs::read(LOG).expect("tests/fixtures/elff/bluecoat-main.log")
}

fn spec() -> FormatSpec {
    FormatSpec::Elff(ElffOptions::default())
}

struct Rows<'b>(&'b RecordBatch);

impl Rows<'_> {
    fn text(&self, name: &str, row: usize) -> Option<String> {
        let col = self.0.column_by_name(name).unwrap().as_string::<i32>();
        col.is_valid(row).then(|| col.value(row).to_string())
    }
    fn i32(&self, name: &str, row: usize) -> Option<i32> {
        let col = self.0.column_by_name(name).unwrap().as_primitive::<Int32Type>();
        col.is_valid(row).then(|| col.value(row))
    }
    fn i64(&self, name: &str, row: usize) -> Option<i64> {
        let col = self.0.column_by_name(name).unwrap().as_primitive::<Int64Type>();
        col.is_valid(row).then(|| col.value(row))
    }
    fn ts(&self, row: usize) -> String {
        format_micros(self.0.column_by_name("ts").unwrap().as_primitive::<TimestampMicrosecondType>().value(row))
    }
}

/// Every column of every row as text, for comparing two parses.
fn dump(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|col| {
                    col.is_valid(row).then(|| match col.data_type() {
                        DataType::Utf8 => col.as_string::<i32>().value(row).to_string(),
                        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).to_string(),
                        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).to_string(),
                        DataType::Timestamp(..) => col.as_primitive::<TimestampMicrosecondType>().value(row).to_string(),
                        DataType::Binary => format!("{:?}", col.as_binary::<i32>().value(row)),
                        other => panic!("unexpected column type {other}"),
                    })
                })
                .collect()
        })
        .collect()
}

#[test]
fn whole_file() {
    let out = parse_all(&spec(), &data(), "bluecoat-main.log").unwrap();
    let c = out.counts;
    assert_eq!((c.lines, c.events, c.rejects, c.skipped), (27, 15, 2, 10));
    assert!(c.balanced());

    let e = Rows(&out.events);
    // Line 9: the first data line of the bcreportermain_v1 block.
    assert_eq!(e.ts(0), "2022-06-20T15:29:11.000000Z");
    assert_eq!(e.i64("offset", 0), Some(9));
    assert_eq!(e.i64("duration_ms", 0), Some(74));
    assert_eq!(e.text("client_ip", 0).as_deref(), Some("10.1.2.34"));
    assert_eq!(e.text("user", 0).as_deref(), Some("alice"));
    assert_eq!(e.text("category", 0).as_deref(), Some("Technology/Internet"));
    assert_eq!(e.text("referrer", 0), None);
    assert_eq!(e.i32("status", 0), Some(200));
    assert_eq!(e.text("proxy_action", 0).as_deref(), Some("TCP_NC_MISS"));
    assert_eq!(e.text("method", 0).as_deref(), Some("GET"));
    assert_eq!(e.text("content_type", 0).as_deref(), Some("text/html; charset=UTF-8"));
    assert_eq!(e.text("url", 0).as_deref(), Some("http://www.example.com/index.html"));
    assert_eq!(e.text("scheme", 0).as_deref(), Some("http"));
    assert_eq!(e.text("host", 0).as_deref(), Some("www.example.com"));
    assert_eq!(e.i32("port", 0), Some(80));
    assert_eq!(e.text("path", 0).as_deref(), Some("/index.html"));
    assert_eq!(e.text("query", 0), None);
    assert_eq!(
        e.text("user_agent", 0).as_deref(),
        Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/102.0.5005.115 Safari/537.36")
    );
    assert_eq!(e.text("server_ip", 0), None, "s-ip is the proxy's own address, not the server's");
    assert_eq!(e.i64("response_bytes", 0), Some(15320));
    assert_eq!(e.i64("request_bytes", 0), Some(512));
    assert_eq!(e.text("format", 0).as_deref(), Some("elff"));

    // Line 10: https with a query (its leading `?` dropped) and a referrer.
    assert_eq!(e.text("url", 1).as_deref(), Some("https://www.google.com/complete/search?q=weather+berlin&client=chrome"));
    assert_eq!(e.i32("port", 1), Some(443));
    assert_eq!(e.text("query", 1).as_deref(), Some("q=weather+berlin&client=chrome"));
    assert_eq!(e.text("referrer", 1).as_deref(), Some("https://www.google.com/"));
    assert_eq!(e.text("category", 1).as_deref(), Some("Search Engines/Portals"));

    // Line 11: a denied request.
    assert_eq!((e.i32("status", 2), e.text("proxy_action", 2).as_deref()), (Some(403), Some("TCP_DENIED")));
    assert_eq!(e.text("category", 2).as_deref(), Some("Malicious Sources/Malnets"));

    // Lines 12 and 13: CONNECT tunnels (cs-uri-scheme tcp and ssl) become `host:port`.
    assert_eq!(e.text("method", 3).as_deref(), Some("CONNECT"));
    assert_eq!(e.text("url", 3).as_deref(), Some("login.live.com:443"));
    assert_eq!((e.text("scheme", 3), e.text("path", 3), e.i32("port", 3)), (None, None, Some(443)));
    assert_eq!(e.i64("duration_ms", 3), Some(60123));
    assert_eq!(e.text("url", 4).as_deref(), Some("api.partner-bank.example:8443"));
    assert_eq!((e.text("host", 4).as_deref(), e.i32("port", 4)), (Some("api.partner-bank.example"), Some(8443)));
    assert_eq!((e.text("user", 4), e.text("user_agent", 4)), (None, None));

    // Line 14: an IPv6 client.
    assert_eq!(e.text("client_ip", 5).as_deref(), Some("2001:db8:10::25"));
    assert_eq!(e.text("url", 5).as_deref(), Some("http://static.news.example.org/img/logo.png?v=3"));
    assert_eq!((e.i32("status", 5), e.text("proxy_action", 5).as_deref()), (Some(304), Some("TCP_HIT")));

    // Line 15: a user with a backslash, two categories, a POST.
    assert_eq!(e.text("user", 6).as_deref(), Some("CORP\\dave"));
    assert_eq!(e.text("category", 6).as_deref(), Some("Web Ads/Analytics;Technology/Internet"));
    assert_eq!((e.text("method", 6).as_deref(), e.text("content_type", 6)), (Some("POST"), None));

    // Line 17: runs of spaces between the fields.
    assert_eq!(e.i64("duration_ms", 8), Some(30001));
    assert_eq!((e.i32("status", 8), e.text("user_agent", 8).as_deref()), (Some(503), Some("curl/7.81.0")));

    // Line 18: status 0 is kept; the host is lower-cased; a non-default port shows in the URL.
    assert_eq!(e.i32("status", 9), Some(0));
    assert_eq!(e.text("url", 9).as_deref(), Some("https://updates.example.com:8443/feed.xml?channel=stable&os=win"));
    assert_eq!(e.text("host", 9).as_deref(), Some("updates.example.com"));

    // After the `#Fields:` change (line 20): 15 fields, r-ip gives the server address.
    assert_eq!(e.i64("offset", 10), Some(21));
    assert_eq!(e.ts(10), "2022-06-20T16:02:01.000000Z");
    assert_eq!(e.text("url", 10).as_deref(), Some("http://update.example.com/v2/check?os=win&arch=x64"));
    assert_eq!(e.text("server_ip", 10).as_deref(), Some("203.0.113.10"));
    assert_eq!((e.i64("response_bytes", 10), e.i64("request_bytes", 10)), (Some(845), Some(402)));
    assert_eq!((e.i64("duration_ms", 10), e.text("user_agent", 10)), (None, None), "not in the new field list");
    assert_eq!((e.i32("status", 11), e.text("proxy_action", 11).as_deref()), (Some(407), Some("TCP_DENIED")));
    assert_eq!(e.text("user", 11), None);
    assert_eq!(e.text("client_ip", 12).as_deref(), Some("fd00:10::42"));
    assert_eq!(e.text("url", 12).as_deref(), Some("chat.example.com:443"));
    assert_eq!(e.text("server_ip", 13).as_deref(), Some("2001:db8:ffff::10"));
    assert_eq!(e.text("query", 13).as_deref(), Some("v=1.2.3"));
    // Line 27: a quoted user name with a space, after the two broken lines.
    assert_eq!(e.i64("offset", 14), Some(27));
    assert_eq!(e.text("user", 14).as_deref(), Some("alice smith"));
    assert_eq!(e.text("path", 14).as_deref(), Some("/about"));

    let r = Rows(&out.rejects);
    assert_eq!(r.text("reason", 0).as_deref(), Some("field_count"));
    assert_eq!(r.i64("offset", 0), Some(25));
    assert_eq!(r.text("detail", 0).as_deref(), Some("the line has 11 values; the field list names 15 fields (date ...)"));
    assert_eq!(r.text("reason", 1).as_deref(), Some("malformed"));
    assert_eq!(r.i64("offset", 1), Some(26));
    assert!(r.text("detail", 1).unwrap().starts_with("field 4 (cs-username): "), "{:?}", r.text("detail", 1));
}

/// Parses the file as two chunks cut before line `cut` (1-based), handing the second chunk
/// the last `#Fields:` line before it, as the readers do.
fn parse_in_two(data: &[u8], cut: usize) -> ParsedBatch {
    let lines: Vec<&[u8]> = data.strip_suffix(b"\n").unwrap_or(data).split(|&b| b == b'\n').collect();
    let first = lines[..cut - 1].join(&b'\n');
    let second = lines[cut - 1..].join(&b'\n');
    let header = lines[..cut - 1].iter().rev().find(|l| l.starts_with(b"#Fields:")).copied();
    let mut parser = ChunkParser::new(&spec()).unwrap();
    let mut out = BatchBuilder::new(64, 0);
    if cut > 1 {
        parser.parse_chunk(&first, "bluecoat-main.log", 1, None, &mut out);
    }
    // Another file's chunk in between must not leak its field list.
    let mut other = BatchBuilder::new(4, 0);
    parser.parse_chunk(b"#Fields: date c-ip\n2022-06-20 10.0.0.1", "other.log", 1, None, &mut other);
    parser.parse_chunk(&second, "bluecoat-main.log", cut as i64, header, &mut out);
    out.finish()
}

#[test]
fn chunks_starting_mid_file() {
    let data = data();
    let whole = parse_all(&spec(), &data, "bluecoat-main.log").unwrap();

    // A chunk that starts right after the field-list change: only the new list applies.
    let split = parse_in_two(&data, 23);
    assert_eq!(split.counts, whole.counts);
    let e = Rows(&split.events);
    assert_eq!(e.i64("offset", 12), Some(23));
    assert_eq!(e.text("client_ip", 12).as_deref(), Some("fd00:10::42"));
    assert_eq!(e.text("url", 12).as_deref(), Some("chat.example.com:443"));
    assert_eq!(e.text("server_ip", 12).as_deref(), Some("198.51.100.7"));
    // A chunk that starts inside the first block gets the bcreportermain_v1 list.
    let split = parse_in_two(&data, 12);
    let e = Rows(&split.events);
    assert_eq!(e.i64("offset", 3), Some(12));
    assert_eq!(e.text("url", 3).as_deref(), Some("login.live.com:443"));
    assert_eq!(e.text("user_agent", 3).as_deref(), Some("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5278; Pro)"));

    // Wherever the file is cut, the rows are the same as in one pass.
    let n_lines = data.iter().filter(|&&b| b == b'\n').count();
    for cut in 1..=n_lines {
        let split = parse_in_two(&data, cut);
        assert_eq!(split.counts, whole.counts, "cut before line {cut}");
        assert_eq!(dump(&split.events), dump(&whole.events), "events, cut before line {cut}");
        let (a, b) = (dump(&split.rejects), dump(&whole.rejects));
        // Compare everything but ingest_ts (the same here anyway).
        assert_eq!(a, b, "rejects, cut before line {cut}");
    }
}

#[test]
fn without_header_the_default_fields_apply() {
    let data = data();
    // Only the data lines of the first block, as a syslog relay would deliver them.
    let text = std::str::from_utf8(&data).unwrap();
    let lines: Vec<String> = text.lines().skip(8).take(10).map(|l| format!("<134>Jun 20 15:29:11 proxy1 {l}")).collect();
    let input = lines.join("\n");
    let none = parse_all(&spec(), input.as_bytes(), "syslog").unwrap();
    assert_eq!((none.counts.events, none.counts.rejects), (0, 10));
    assert_eq!(Rows(&none.rejects).text("reason", 0).as_deref(), Some("no_header"));

    let spec = FormatSpec::Elff(ElffOptions { fields: Some(vec![sweep_formats::formats::elff::BCREPORTERMAIN_V1.into()]), syslog: false });
    let out = parse_all(&spec, input.as_bytes(), "syslog").unwrap();
    assert_eq!((out.counts.events, out.counts.rejects), (10, 0));
    let whole = parse_all(&self::spec(), &data, "syslog").unwrap();
    let (a, b) = (dump(&out.events), dump(&whole.events));
    // Same columns except offset (the last column).
    for (x, y) in a.iter().zip(&b[..10]) {
        assert_eq!(x[..x.len() - 1], y[..y.len() - 1]);
    }
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    const SPECIAL: &[&str] = &["\"", " ", "#", "#Fields: date time", "[", "]", "\\", "<134>", "<1>1 ", "\u{e9}", "-", "", "\n", ":", "?"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Whatever is spliced into the fixture, parsing never panics, every line is counted
        /// once, and cutting the file into two chunks gives the same counts as one pass.
        #[test]
        fn spliced_fixture_stays_balanced(
            at in any::<proptest::sample::Index>(), len in 0usize..8, what in 0..SPECIAL.len(), syslog: bool,
        ) {
            let text = String::from_utf8(data()).unwrap();
            let mut at = at.index(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mutated = format!("{}{}{}", &text[..at], SPECIAL[what], &text[end..]);
            let spec = FormatSpec::Elff(ElffOptions { fields: None, syslog });
            let out = parse_all(&spec, mutated.as_bytes(), "x").unwrap();
            prop_assert!(out.counts.balanced());
            prop_assert_eq!(out.counts.lines as usize, mutated.lines().count());
            if !syslog {
                let split = parse_in_two(mutated.as_bytes(), 15);
                prop_assert_eq!(split.counts, out.counts);
            }
        }
    }
}

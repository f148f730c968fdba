//! Zscaler NSS web fixture test: the same eight hand-written records as quoted CSV, TSV
//! and JSON lines (tests/fixtures/zscaler, see its README for the provenance).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use sweep_formats::formats::zscaler::{ZscalerLayout, ZscalerOptions};
use sweep_formats::time::format_micros;
use sweep_formats::{FormatSpec, ParsedBatch, parse_all};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/zscaler/");

fn parse(file: &str, layout: ZscalerLayout) -> ParsedBatch {
    let data = std::fs::read(format!("{DIR}{file}")).unwrap_or_else(|e| panic!("tests/fixtures/zscaler/{file}: {e}"));
    parse_all(&FormatSpec::Zscaler(ZscalerOptions { layout, fields: None }), &data, file).unwrap()
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

/// Every column but `source` of every row, as text.
fn dump(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .zip(schema.fields())
                .filter(|(_, f)| f.name() != "source")
                .map(|(col, _)| {
                    col.is_valid(row).then(|| match col.data_type() {
                        DataType::Utf8 => col.as_string::<i32>().value(row).to_string(),
                        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).to_string(),
                        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).to_string(),
                        DataType::Timestamp(..) => col.as_primitive::<TimestampMicrosecondType>().value(row).to_string(),
                        other => panic!("unexpected column type {other}"),
                    })
                })
                .collect()
        })
        .collect()
}

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/102.0.0.0 Safari/537.36";

fn check_events(out: &ParsedBatch) {
    let e = Rows(&out.events);
    assert_eq!(out.events.num_rows(), 8);

    // Row 0: a plain HTTPS GET; proto gives the scheme and the port.
    assert_eq!(e.ts(0), "2022-06-20T15:29:11.000000Z");
    assert_eq!(e.text("user", 0).as_deref(), Some("jdoe@example.com"));
    assert_eq!(e.text("url", 0).as_deref(), Some("www.example.com/search?q=proxy+logs"));
    assert_eq!(e.text("scheme", 0).as_deref(), Some("https"));
    assert_eq!(e.text("host", 0).as_deref(), Some("www.example.com"));
    assert_eq!(e.i32("port", 0), Some(443));
    assert_eq!(e.text("path", 0).as_deref(), Some("/search"));
    assert_eq!(e.text("query", 0).as_deref(), Some("q=proxy+logs"));
    assert_eq!(e.text("proxy_action", 0).as_deref(), Some("Allowed"));
    assert_eq!((e.i64("request_bytes", 0), e.i64("response_bytes", 0)), (Some(732), Some(18354)));
    assert_eq!(e.i64("duration_ms", 0), Some(187), "duration_ms is ctime");
    assert_eq!(e.text("category", 0).as_deref(), Some("Web Search"));
    assert_eq!(e.text("client_ip", 0).as_deref(), Some("10.20.30.40"));
    assert_eq!(e.text("server_ip", 0).as_deref(), Some("198.51.100.20"));
    assert_eq!(e.text("method", 0).as_deref(), Some("GET"));
    assert_eq!(e.i32("status", 0), Some(200));
    assert_eq!(e.text("user_agent", 0).as_deref(), Some(CHROME));
    assert_eq!(e.text("referrer", 0), None, "None means no value");
    assert_eq!(e.text("content_type", 0).as_deref(), Some("text/html"));
    assert_eq!(e.text("format", 0).as_deref(), Some("zscaler"));
    assert_eq!(e.i64("offset", 0), Some(1));

    // Row 1: a CONNECT tunnel (proto HTTP_PROXY): no scheme, port 443 from the URL.
    assert_eq!(e.text("method", 1).as_deref(), Some("CONNECT"));
    assert_eq!(e.text("url", 1).as_deref(), Some("login.microsoftonline.com:443"));
    assert_eq!((e.text("scheme", 1), e.text("host", 1).as_deref(), e.i32("port", 1)), (None, Some("login.microsoftonline.com"), Some(443)));
    assert_eq!((e.text("path", 1), e.i64("duration_ms", 1)), (None, Some(0)));
    assert_eq!(e.text("content_type", 1).as_deref(), Some("Other"));

    // Row 2: blocked malware download over HTTP, with a referrer.
    assert_eq!(e.text("proxy_action", 2).as_deref(), Some("Blocked"));
    assert_eq!((e.text("scheme", 2).as_deref(), e.i32("port", 2)), (Some("http"), Some(80)));
    assert_eq!(e.text("path", 2).as_deref(), Some("/payload/dropper.exe"));
    assert_eq!(e.i32("status", 2), Some(403));
    assert_eq!(e.text("referrer", 2).as_deref(), Some("http://www.example.org/downloads"));
    assert_eq!(e.text("category", 2).as_deref(), Some("Spyware/Adware"));
    assert_eq!(e.text("content_type", 2).as_deref(), Some("application/x-msdownload"));

    // Row 3: login NA, a user agent with double quotes (CSV `""`, JSON `\"`).
    assert_eq!(e.text("user", 3), None);
    assert_eq!(e.text("user_agent", 3).as_deref(), Some("Updater \"Classic\" 2.4"));
    assert_eq!(e.text("query", 3).as_deref(), Some("os=win&arch=x64"));

    // Row 4: IPv6 addresses, an upper-case host (lower-cased; the URL is kept as written).
    assert_eq!(e.text("client_ip", 4).as_deref(), Some("2001:db8:10::25"));
    assert_eq!(e.text("server_ip", 4).as_deref(), Some("2001:db8:ffff::10"));
    assert_eq!(e.text("url", 4).as_deref(), Some("Collector.Tracking.example/v1/events"));
    assert_eq!(e.text("host", 4).as_deref(), Some("collector.tracking.example"));
    assert_eq!((e.text("method", 4).as_deref(), e.i32("status", 4)), (Some("POST"), Some(204)));
    assert_eq!(e.text("content_type", 4), None);
    assert_eq!(e.text("referrer", 4).as_deref(), Some("https://www.example.com/"));

    // Row 5: blocked by URL category.
    assert_eq!((e.text("category", 5).as_deref(), e.text("proxy_action", 5).as_deref()), (Some("Gambling"), Some("Blocked")));

    // Row 6: a space-padded day, an explicit port.
    assert_eq!(e.ts(6), "2022-06-02T05:09:01.000000Z");
    assert_eq!(e.text("method", 6).as_deref(), Some("HEAD"));
    assert_eq!(
        (e.text("host", 6).as_deref(), e.i32("port", 6), e.text("path", 6).as_deref()),
        (Some("status.internal.example"), Some(8080), Some("/health"))
    );
    assert_eq!(e.text("scheme", 6).as_deref(), Some("http"));

    // Row 7: NA for ctime and respcode.
    assert_eq!((e.i64("duration_ms", 7), e.i32("status", 7), e.i64("response_bytes", 7)), (None, None, Some(0)));
}

#[test]
fn csv() {
    let out = parse("nss-web.csv", ZscalerLayout::Csv);
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects, out.counts.skipped), (9, 8, 1, 0));
    check_events(&out);
    let r = Rows(&out.rejects);
    assert_eq!((r.text("reason", 0).as_deref(), r.i64("offset", 0)), (Some("field_count"), Some(9)));
    assert_eq!(r.text("detail", 0).as_deref(), Some("the line has 20 fields; the default NSS web layout has 34"));
}

#[test]
fn tsv() {
    let out = parse("nss-web.tsv", ZscalerLayout::Tsv);
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects, out.counts.skipped), (9, 8, 1, 0));
    check_events(&out);
    assert_eq!(Rows(&out.rejects).text("reason", 0).as_deref(), Some("field_count"));
}

#[test]
fn json_lines() {
    let out = parse("nss-web.jsonl", ZscalerLayout::Json);
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects, out.counts.skipped), (9, 8, 1, 0));
    check_events(&out);
    let r = Rows(&out.rejects);
    assert_eq!((r.text("reason", 0).as_deref(), r.i64("offset", 0)), (Some("bad_json"), Some(9)));
}

#[test]
fn three_layouts_same_rows() {
    let csv = parse("nss-web.csv", ZscalerLayout::Csv);
    let tsv = parse("nss-web.tsv", ZscalerLayout::Tsv);
    let json = parse("nss-web.jsonl", ZscalerLayout::Json);
    assert_eq!(dump(&csv.events), dump(&tsv.events));
    assert_eq!(dump(&csv.events), dump(&json.events));
}

#[test]
fn wrong_layout_is_rejected_not_misread() {
    // The JSON file read as CSV: every line is rejected (field_count or bad_timestamp), never an event.
    let out = parse("nss-web.jsonl", ZscalerLayout::Csv);
    assert_eq!((out.counts.events, out.counts.rejects), (0, 9));
    // The CSV file read as JSON.
    let out = parse("nss-web.csv", ZscalerLayout::Json);
    assert_eq!((out.counts.events, out.counts.rejects), (0, 9));
    assert_eq!(Rows(&out.rejects).text("reason", 0).as_deref(), Some("bad_json"));
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    const SPECIAL: &[&str] = &["\"", "\"\"", ",", "\t", "#", "{", "}", "\\", ":", "\u{e9}", "None", "", "\\u00e9", "[", "1e999"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Whatever is spliced into the fixtures, no layout panics and every line is counted once.
        #[test]
        fn spliced_fixtures_stay_balanced(
            at in any::<proptest::sample::Index>(), len in 0usize..6, what in 0..SPECIAL.len(), layout in 0..3usize,
        ) {
            let files = [("nss-web.csv", ZscalerLayout::Csv), ("nss-web.tsv", ZscalerLayout::Tsv), ("nss-web.jsonl", ZscalerLayout::Json)];
            let (file, layout) = files[layout];
            let text = std::fs::read_to_string(format!("{DIR}{file}")).unwrap();
            let mut at = at.index(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mutated = format!("{}{}{}", &text[..at], SPECIAL[what], &text[end..]);
            let out = parse_all(&FormatSpec::Zscaler(ZscalerOptions { layout, fields: None }), mutated.as_bytes(), file).unwrap();
            prop_assert!(out.counts.balanced());
            prop_assert_eq!(out.counts.lines as usize, mutated.lines().count());
        }
    }
}

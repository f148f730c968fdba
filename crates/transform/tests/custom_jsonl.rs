//! The `custom` and `jsonl` formats against real data and against the built-in formats:
//! a custom pattern that spells out a built-in layout must read real lines the same way,
//! and events written as JSON lines with sweep's column names must read back unchanged.

use std::collections::BTreeMap;

use arrow_array::{Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use sweep_formats::formats::custom::CustomOptions;
use sweep_formats::formats::jsonl::JsonMapping;
use sweep_formats::{FormatSpec, ParsedBatch, parse_all, time};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/../../../shared/data/logs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn custom(pattern: &str) -> FormatSpec {
    FormatSpec::Custom(CustomOptions { pattern: pattern.to_string() })
}

/// The events batch without the `format` column, which names the parser.
fn without_format(b: &RecordBatch) -> RecordBatch {
    let i = b.schema().index_of("format").unwrap();
    let keep: Vec<usize> = (0..b.num_columns()).filter(|c| *c != i).collect();
    b.project(&keep).unwrap()
}

fn reasons(out: &ParsedBatch) -> Vec<String> {
    let r = out.rejects.column_by_name("reason").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let d = out.rejects.column_by_name("detail").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    (0..r.len()).map(|i| format!("{}: {}", r.value(i), d.value(i))).collect()
}

#[test]
fn custom_squid_pattern_reads_real_squid_log_like_the_squid_parser() {
    let input = data("squid-native-squidview.log");
    let native = parse_all(&FormatSpec::Squid, &input, "squidview").unwrap();
    let pattern = parse_all(&FormatSpec::Custom(CustomOptions::example()), &input, "squidview").unwrap();
    assert_eq!(pattern.counts, native.counts, "{:?}", reasons(&pattern));
    assert_eq!(pattern.counts.events, 94);
    assert_eq!(without_format(&pattern.events), without_format(&native.events));
}

#[test]
fn custom_combined_pattern_reads_real_apache_log() {
    let input = data("apache-combined-semicomplete.log");
    let spec = custom(r#"{client_ip} {_} {user} [{ts:clf}] "{request}" {status} {response_bytes} "{referrer}" "{user_agent}""#);
    let out = parse_all(&spec, &input, "apache").unwrap();
    assert_eq!(out.counts.lines, 10_000);
    assert!(out.counts.balanced());
    assert_eq!(out.counts.events, 9_999, "{:?}", reasons(&out));
    let ts = out.events.column_by_name("ts").unwrap().as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
    assert_eq!(time::format_micros(ts.value(0)), "2015-05-17T10:05:03.000000Z");
    let status = out.events.column_by_name("status").unwrap().as_any().downcast_ref::<Int32Array>().unwrap();
    assert!((0..status.len()).all(|i| status.is_valid(i)));

    // The built-in `combined` parser reads the same lines (one real line is cut short in
    // its user agent) the same way, except `%b = -`: 0 bytes there, unknown here.
    let builtin = parse_all(&FormatSpec::Combined, &input, "apache").unwrap();
    assert_eq!(builtin.counts, out.counts, "{:?}", reasons(&out));
    let a = without_format(&out.events);
    let b = without_format(&builtin.events);
    for name in ["ts", "client_ip", "user", "method", "url", "host", "path", "query", "status", "referrer", "user_agent"] {
        assert_eq!(a.column_by_name(name), b.column_by_name(name), "column {name}");
    }
}

/// Writes events as JSON lines with sweep's own column names, as a JSON sink would.
fn to_json_lines(b: &RecordBatch) -> String {
    let mut out = String::new();
    let schema = b.schema();
    for row in 0..b.num_rows() {
        let mut obj = serde_json::Map::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let col = b.column(i);
            if col.is_null(row) || ["format", "source", "offset"].contains(&field.name().as_str()) {
                continue;
            }
            let any = col.as_any();
            let v = if let Some(a) = any.downcast_ref::<TimestampMicrosecondArray>() {
                serde_json::Value::from(time::format_micros(a.value(row)))
            } else if let Some(a) = any.downcast_ref::<StringArray>() {
                serde_json::Value::from(a.value(row))
            } else if let Some(a) = any.downcast_ref::<Int32Array>() {
                serde_json::Value::from(a.value(row))
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                serde_json::Value::from(a.value(row))
            } else {
                panic!("unexpected column type for {}", field.name())
            };
            obj.insert(field.name().clone(), v);
        }
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    out
}

#[test]
fn sweep_events_round_trip_through_jsonl() {
    let input = data("squid-native-squidview.log");
    let native = parse_all(&FormatSpec::Squid, &input, "x").unwrap();
    let json = to_json_lines(&native.events);
    let back = parse_all(&FormatSpec::Jsonl(JsonMapping::default()), json.as_bytes(), "x").unwrap();
    assert_eq!(back.counts.events, native.counts.events, "{:?}", reasons(&back));
    assert_eq!(without_format(&back.events), without_format(&native.events));
}

#[test]
fn jsonl_ecs_style_mapping() {
    let fields: BTreeMap<String, String> = [
        ("ts", "@timestamp"),
        ("client_ip", "source.ip"),
        ("method", "http.request.method"),
        ("url", "url.original"),
        ("status", "http.response.status_code"),
        ("response_bytes", "http.response.body.bytes"),
        ("user_agent", "user_agent.original"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spec: FormatSpec = serde_json::from_value(serde_json::json!({ "name": "jsonl", "fields": fields })).unwrap();
    let line = r#"{"@timestamp":"2024-03-05T14:22:31.250Z","source":{"ip":"10.1.2.3"},"http":{"request":{"method":"GET"},"response":{"status_code":200,"body":{"bytes":1234}}},"url":{"original":"https://www.example.com/a?b=c"},"user_agent":{"original":"curl/8.5.0"}}"#;
    let out = parse_all(&spec, line.as_bytes(), "ecs").unwrap();
    assert_eq!(out.counts.events, 1, "{:?}", reasons(&out));
    let host = out.events.column_by_name("host").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(host.value(0), "www.example.com");

    // Option errors surface when the pipeline file is read.
    let err = serde_json::from_value::<FormatSpec>(serde_json::json!({ "name": "jsonl", "fields": { "src_ip": "a" } })).unwrap_err();
    assert!(err.to_string().contains("unknown column \"src_ip\""), "{err}");
    let err = serde_json::from_value::<FormatSpec>(serde_json::json!({ "name": "custom", "pattern": "{client_ip} {url}" })).unwrap_err();
    assert!(err.to_string().contains("no timestamp"), "{err}");
}

//! Events batches, findings rows and an analyser for the tests.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use sweep_content::{ContentAnalyser, ContentSpec, Finding, FindingKind, findings_schema};
use sweep_formats::events_schema;

/// 2026-01-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_767_225_600_000_000;

/// The analyser with the default spec.
pub fn default_analyser() -> ContentAnalyser {
    ContentAnalyser::new(ContentSpec::default()).unwrap()
}

/// The kinds of the findings for a host.
pub fn kinds(a: &ContentAnalyser, host: &str) -> Vec<FindingKind> {
    a.judge(host).iter().map(|f| f.kind).collect()
}

/// The finding of one kind for a host, if any.
pub fn finding(a: &ContentAnalyser, host: &str, kind: FindingKind) -> Option<Finding> {
    a.judge(host).into_iter().find(|f| f.kind == kind)
}

/// A batch in the canonical `events` schema with these hosts (`None`: null host); row i has
/// client_ip `10.0.0.<i % 250>`, user `u<i>`, url `https://<host>/p<i>`, offset i + 1.
pub fn batch(hosts: &[Option<&str>]) -> RecordBatch {
    let schema = events_schema();
    let n = hosts.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match field.name().as_str() {
            "ts" => Arc::new(TimestampMicrosecondArray::from_iter_values((0..n as i64).map(|i| T0 + i)).with_timezone("UTC")) as ArrayRef,
            "client_ip" => Arc::new((0..n).map(|i| Some(format!("10.0.0.{}", i % 250))).collect::<StringArray>()),
            "user" => Arc::new((0..n).map(|i| if i % 3 == 0 { None } else { Some(format!("u{i}")) }).collect::<StringArray>()),
            "host" => Arc::new(hosts.iter().copied().collect::<StringArray>()),
            "url" => Arc::new(hosts.iter().enumerate().map(|(i, h)| h.map(|h| format!("https://{h}/p{i}"))).collect::<StringArray>()),
            "format" => Arc::new(StringArray::from(vec!["squid"; n])),
            "source" => Arc::new(StringArray::from(vec!["test.log"; n])),
            "offset" => Arc::new(Int64Array::from_iter_values(1..=n as i64)),
            _ => new_null_array(field.data_type(), n),
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// One findings row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ts: i64,
    pub client_ip: Option<String>,
    pub user: Option<String>,
    pub host: String,
    pub url: Option<String>,
    pub source: String,
    pub offset: i64,
    pub finding: String,
    pub score: f64,
    pub reason: String,
}

/// The rows of a findings batch (checks the schema).
pub fn rows(b: &RecordBatch) -> Vec<Row> {
    assert_eq!(b.schema(), findings_schema());
    let s = |i: usize| b.column(i).as_string::<i32>().clone();
    let (ts, offset) = (b.column(0).as_primitive::<TimestampMicrosecondType>(), b.column(6).as_primitive::<Int64Type>());
    let (ip, user, host, url, source, finding, reason) = (s(1), s(2), s(3), s(4), s(5), s(7), s(9));
    let score = b.column(8).as_primitive::<Float64Type>();
    let opt = |a: &StringArray, i: usize| (!arrow_array::Array::is_null(a, i)).then(|| a.value(i).to_string());
    (0..b.num_rows())
        .map(|i| Row {
            ts: ts.value(i),
            client_ip: opt(&ip, i),
            user: opt(&user, i),
            host: host.value(i).into(),
            url: opt(&url, i),
            source: source.value(i).into(),
            offset: offset.value(i),
            finding: finding.value(i).into(),
            score: score.value(i),
            reason: reason.value(i).into(),
        })
        .collect()
}

/// Hosts of a list file: one a line, `#` comments and blank lines skipped.
pub fn list(text: &str) -> Vec<&str> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).collect()
}

//! Events batches for the tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use sweep_formats::events_schema;
use sweep_sigma::{RuleSet, SigmaAnalyser, evaluate_naive};

/// The bundled SigmaHQ rules (shared/data/sigma).
pub fn sigma_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared/data/sigma"))
}

/// The text columns of an event, by name; integer columns separately.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ev {
    pub ts: i64,
    pub text: Vec<(&'static str, Option<String>)>,
    pub status: Option<i32>,
    pub port: Option<i32>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
}

pub const TEXT_COLUMNS: [&str; 15] = [
    "client_ip",
    "user",
    "method",
    "url",
    "scheme",
    "host",
    "path",
    "query",
    "user_agent",
    "referrer",
    "content_type",
    "proxy_action",
    "server_ip",
    "category",
    "format",
];

impl Ev {
    pub fn new() -> Ev {
        Ev::default()
    }
    pub fn set(mut self, col: &'static str, v: &str) -> Ev {
        self.text.retain(|(c, _)| *c != col);
        self.text.push((col, Some(v.to_string())));
        self
    }
    pub fn get(&self, col: &str) -> Option<&str> {
        self.text.iter().find(|(c, _)| *c == col).and_then(|(_, v)| v.as_deref())
    }
    pub fn at(mut self, ts: i64) -> Ev {
        self.ts = ts;
        self
    }
    pub fn status(mut self, s: i32) -> Ev {
        self.status = Some(s);
        self
    }
    /// A plausible benign browser request.
    pub fn benign() -> Ev {
        Ev::new()
            .set("client_ip", "10.1.2.3")
            .set("method", "GET")
            .set("url", "https://www.example.org/index.html?lang=en")
            .set("scheme", "https")
            .set("host", "www.example.org")
            .set("path", "/index.html")
            .set("query", "lang=en")
            .set("user_agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
            .set("referrer", "https://www.example.org/")
            .set("server_ip", "93.184.215.14")
            .status(200)
    }
}

pub fn batch(evs: &[Ev]) -> RecordBatch {
    let schema = events_schema();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let name = f.name().as_str();
        let arr: ArrayRef = match name {
            "ts" => Arc::new(TimestampMicrosecondArray::from(evs.iter().map(|e| e.ts).collect::<Vec<_>>()).with_timezone("UTC")),
            "port" => Arc::new(Int32Array::from(evs.iter().map(|e| e.port).collect::<Vec<_>>())),
            "status" => Arc::new(Int32Array::from(evs.iter().map(|e| e.status).collect::<Vec<_>>())),
            "request_bytes" => Arc::new(Int64Array::from(evs.iter().map(|e| e.request_bytes).collect::<Vec<_>>())),
            "response_bytes" => Arc::new(Int64Array::from(evs.iter().map(|e| e.response_bytes).collect::<Vec<_>>())),
            "duration_ms" => Arc::new(Int64Array::from(vec![None::<i64>; evs.len()])),
            "offset" => Arc::new(Int64Array::from((0..evs.len() as i64).collect::<Vec<_>>())),
            "format" | "source" => Arc::new(StringArray::from(vec![Some("test"); evs.len()])),
            _ => Arc::new(StringArray::from(evs.iter().map(|e| e.get(name)).collect::<Vec<_>>())),
        };
        cols.push(arr);
    }
    RecordBatch::try_new(schema, cols).unwrap()
}

/// Loads one rule text; panics if it is not loaded.
pub fn rules(yaml: &str) -> RuleSet {
    let (set, report) = RuleSet::from_yaml_str(yaml, "test");
    assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    assert_eq!(set.len(), report.loaded.len());
    set
}

/// Rows that fire rule 0, by both evaluators (which must agree).
pub fn fired(set: &RuleSet, evs: &[Ev]) -> Vec<usize> {
    let b = batch(evs);
    let naive = evaluate_naive(set, &b).unwrap();
    let compiled = SigmaAnalyser::new(set.clone()).unwrap().evaluate(&b).unwrap();
    assert_eq!(naive, compiled, "naive and compiled evaluators disagree");
    compiled.iter().filter(|d| d.rule.0 == 0).map(|d| d.row).collect()
}

/// A rule with the given detection body (indented by 4 spaces under `detection:`).
pub fn rule(detection: &str) -> String {
    format!("title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n    category: proxy\ndetection:\n{detection}\nlevel: high\n")
}

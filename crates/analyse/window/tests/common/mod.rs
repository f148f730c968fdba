//! Events batches and metrics rows for the tests.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use sweep_formats::events_schema;
use sweep_window::{Emitted, metrics_schema};

/// 2026-01-01T00:00:00Z in microseconds: a multiple of every slide used in the tests.
pub const T0: i64 = 1_767_225_600_000_000;
pub const SEC: i64 = 1_000_000;
pub const MIN: i64 = 60 * SEC;

/// One event with the columns the analyser reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ev {
    pub ts: i64,
    pub client_ip: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub status: Option<i32>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
    pub proxy_action: Option<String>,
}

impl Ev {
    /// An event at `T0 + offset` from `client_ip`, status 200, no bytes.
    pub fn at(offset: i64, client_ip: &str) -> Ev {
        Ev { ts: T0 + offset, client_ip: Some(client_ip.into()), status: Some(200), ..Ev::default() }
    }
    pub fn host(mut self, h: &str) -> Ev {
        self.host = Some(h.into());
        self
    }
    pub fn user(mut self, u: &str) -> Ev {
        self.user = Some(u.into());
        self
    }
    pub fn status(mut self, s: Option<i32>) -> Ev {
        self.status = s;
        self
    }
    pub fn bytes(mut self, req: Option<i64>, resp: Option<i64>) -> Ev {
        self.request_bytes = req;
        self.response_bytes = resp;
        self
    }
    pub fn action(mut self, a: &str) -> Ev {
        self.proxy_action = Some(a.into());
        self
    }
}

/// A batch in the canonical `events` schema (columns the analyser does not read are null).
pub fn batch(evs: &[Ev]) -> RecordBatch {
    let schema = events_schema();
    let n = evs.len();
    let text = |f: fn(&Ev) -> Option<&str>| Arc::new(evs.iter().map(f).collect::<StringArray>()) as ArrayRef;
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match field.name().as_str() {
            "ts" => Arc::new(TimestampMicrosecondArray::from_iter_values(evs.iter().map(|e| e.ts)).with_timezone("UTC")) as ArrayRef,
            "client_ip" => text(|e| e.client_ip.as_deref()),
            "user" => text(|e| e.user.as_deref()),
            "host" => text(|e| e.host.as_deref()),
            "proxy_action" => text(|e| e.proxy_action.as_deref()),
            "status" => Arc::new(evs.iter().map(|e| e.status).collect::<Int32Array>()),
            "request_bytes" => Arc::new(evs.iter().map(|e| e.request_bytes).collect::<Int64Array>()),
            "response_bytes" => Arc::new(evs.iter().map(|e| e.response_bytes).collect::<Int64Array>()),
            "format" => Arc::new(StringArray::from(vec!["squid"; n])),
            "source" => Arc::new(StringArray::from(vec!["test.log"; n])),
            "offset" => Arc::new(Int64Array::from_iter_values(1..=n as i64)),
            _ => new_null_array(field.data_type(), n),
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// One metrics row, times as offsets from T0 in minutes for readable expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct M {
    pub start: i64,
    pub end: i64,
    pub kind: String,
    pub key: String,
    pub requests: i64,
    pub request_bytes: i64,
    pub response_bytes: i64,
    pub distinct_hosts: i64,
    pub errors: i64,
    pub error_ratio: f64,
    pub denied: i64,
}

/// A row with times in microseconds since the epoch and the given counts (ratio computed).
#[allow(clippy::too_many_arguments)]
pub fn m(start: i64, end: i64, kind: &str, key: &str, requests: i64, rb: i64, resp: i64, hosts: i64, errors: i64, denied: i64) -> M {
    M {
        start,
        end,
        kind: kind.into(),
        key: key.into(),
        requests,
        request_bytes: rb,
        response_bytes: resp,
        distinct_hosts: hosts,
        errors,
        error_ratio: errors as f64 / requests as f64,
        denied,
    }
}

/// The rows of a metrics batch.
pub fn rows(b: &RecordBatch) -> Vec<M> {
    assert_eq!(b.schema(), metrics_schema());
    let ts = |i: usize| b.column(i).as_primitive::<TimestampMicrosecondType>().clone();
    let int = |i: usize| b.column(i).as_primitive::<Int64Type>().clone();
    let (start, end) = (ts(0), ts(1));
    let (kind, key) = (b.column(2).as_string::<i32>(), b.column(3).as_string::<i32>());
    let (req, rb, resp, dh, err, den) = (int(4), int(5), int(6), int(7), int(8), int(10));
    let ratio = b.column(9).as_primitive::<Float64Type>();
    (0..b.num_rows())
        .map(|i| M {
            start: start.value(i),
            end: end.value(i),
            kind: kind.value(i).into(),
            key: key.value(i).into(),
            requests: req.value(i),
            request_bytes: rb.value(i),
            response_bytes: resp.value(i),
            distinct_hosts: dh.value(i),
            errors: err.value(i),
            error_ratio: ratio.value(i),
            denied: den.value(i),
        })
        .collect()
}

/// Rows of several emissions, in order.
pub fn all_rows<'a>(e: impl IntoIterator<Item = &'a Emitted>) -> Vec<M> {
    e.into_iter().flat_map(|e| rows(&e.metrics)).collect()
}

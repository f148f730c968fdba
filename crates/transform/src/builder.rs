//! Arrow builders for the `events` and `rejects` tables, filled one line at a time.
//!
//! Builders grow their buffers geometrically and are reused across lines, so appending a
//! row does not allocate in the steady state.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};

use crate::record::Record;
use crate::reject::Reject;
use crate::schema::{UTC, events_schema, rejects_schema};

/// Where a line came from: its format, its source (file path, `stdin`, `topic/partition`)
/// and its offset there (1-based line number, or the Kafka offset).
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    pub format: &'a str,
    pub source: &'a str,
    pub offset: i64,
}

/// Counts of what became of each line, kept beside the batches.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCounts {
    pub lines: u64,
    pub events: u64,
    pub rejects: u64,
    pub skipped: u64,
}

impl LineCounts {
    pub fn add(&mut self, other: &LineCounts) {
        self.lines += other.lines;
        self.events += other.events;
        self.rejects += other.rejects;
        self.skipped += other.skipped;
    }

    /// The promise of the whole project: every line is accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.lines == self.events + self.rejects + self.skipped
    }
}

struct EventColumns {
    ts: TimestampMicrosecondBuilder,
    text: [StringBuilder; 16],
    port: Int32Builder,
    status: Int32Builder,
    request_bytes: Int64Builder,
    response_bytes: Int64Builder,
    duration_ms: Int64Builder,
    format: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
}

// Indices into `EventColumns::text`, in schema order.
const CLIENT_IP: usize = 0;
const USER: usize = 1;
const METHOD: usize = 2;
const URL: usize = 3;
const SCHEME: usize = 4;
const HOST: usize = 5;
const PATH: usize = 6;
const QUERY: usize = 7;
const USER_AGENT: usize = 8;
const REFERRER: usize = 9;
const CONTENT_TYPE: usize = 10;
const PROXY_ACTION: usize = 11;
const SERVER_IP: usize = 12;
const CATEGORY: usize = 13;

struct RejectColumns {
    raw: BinaryBuilder,
    reason: StringBuilder,
    detail: StringBuilder,
    format: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
    ingest_ts: TimestampMicrosecondBuilder,
}

/// Builds one `events` batch and one `rejects` batch side by side.
pub struct BatchBuilder {
    events: EventColumns,
    rejects: RejectColumns,
    counts: LineCounts,
    ingest_ts: i64,
}

/// What one [`BatchBuilder`] produced.
#[derive(Debug, Clone)]
pub struct ParsedBatch {
    pub events: RecordBatch,
    pub rejects: RecordBatch,
    pub counts: LineCounts,
}

fn text_builder(rows: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * 16)
}

impl BatchBuilder {
    /// `ingest_ts` (µs since epoch) is stamped on every reject of this batch.
    pub fn new(rows: usize, ingest_ts: i64) -> Self {
        BatchBuilder {
            events: EventColumns {
                ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC),
                text: std::array::from_fn(|_| text_builder(rows)),
                port: Int32Builder::with_capacity(rows),
                status: Int32Builder::with_capacity(rows),
                request_bytes: Int64Builder::with_capacity(rows),
                response_bytes: Int64Builder::with_capacity(rows),
                duration_ms: Int64Builder::with_capacity(rows),
                format: text_builder(rows),
                source: text_builder(rows),
                offset: Int64Builder::with_capacity(rows),
            },
            rejects: RejectColumns {
                raw: BinaryBuilder::new(),
                reason: StringBuilder::new(),
                detail: StringBuilder::new(),
                format: StringBuilder::new(),
                source: StringBuilder::new(),
                offset: Int64Builder::new(),
                ingest_ts: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            },
            counts: LineCounts::default(),
            ingest_ts,
        }
    }

    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// Rows in the events batch so far.
    pub fn event_rows(&self) -> usize {
        self.counts.events as usize
    }

    /// Appends a parsed event. The record must carry a timestamp (parsers reject otherwise).
    pub fn push_event(&mut self, rec: &Record<'_>, prov: Provenance<'_>) {
        let e = &mut self.events;
        e.ts.append_value(rec.ts_micros.unwrap_or_default());
        let text = [
            (CLIENT_IP, &rec.client_ip),
            (USER, &rec.user),
            (METHOD, &rec.method),
            (URL, &rec.url),
            (SCHEME, &rec.scheme),
            (HOST, &rec.host),
            (PATH, &rec.path),
            (QUERY, &rec.query),
            (USER_AGENT, &rec.user_agent),
            (REFERRER, &rec.referrer),
            (CONTENT_TYPE, &rec.content_type),
            (PROXY_ACTION, &rec.proxy_action),
            (SERVER_IP, &rec.server_ip),
            (CATEGORY, &rec.category),
        ];
        for (i, v) in text {
            e.text[i].append_option(v.as_deref());
        }
        e.port.append_option(rec.port);
        e.status.append_option(rec.status);
        e.request_bytes.append_option(rec.request_bytes);
        e.response_bytes.append_option(rec.response_bytes);
        e.duration_ms.append_option(rec.duration_ms);
        e.format.append_value(prov.format);
        e.source.append_value(prov.source);
        e.offset.append_value(prov.offset);
        self.counts.lines += 1;
        self.counts.events += 1;
    }

    /// Appends a reject: the raw bytes exactly as read, the reason and the provenance.
    pub fn push_reject(&mut self, raw: &[u8], why: &Reject, prov: Provenance<'_>) {
        let r = &mut self.rejects;
        r.raw.append_value(raw);
        r.reason.append_value(why.reason.code());
        r.detail.append_value(&why.detail);
        r.format.append_value(prov.format);
        r.source.append_value(prov.source);
        r.offset.append_value(prov.offset);
        r.ingest_ts.append_value(self.ingest_ts);
        self.counts.lines += 1;
        self.counts.rejects += 1;
    }

    /// Counts a line that the format defines as not data (a header, a comment, a blank line).
    pub fn push_skipped(&mut self) {
        self.counts.lines += 1;
        self.counts.skipped += 1;
    }

    /// Finishes both batches and resets the builder for reuse.
    pub fn finish(&mut self) -> ParsedBatch {
        let e = &mut self.events;
        let t = &mut e.text;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(e.ts.finish()),
            Arc::new(t[CLIENT_IP].finish()),
            Arc::new(t[USER].finish()),
            Arc::new(t[METHOD].finish()),
            Arc::new(t[URL].finish()),
            Arc::new(t[SCHEME].finish()),
            Arc::new(t[HOST].finish()),
            Arc::new(e.port.finish()),
            Arc::new(t[PATH].finish()),
            Arc::new(t[QUERY].finish()),
            Arc::new(e.status.finish()),
            Arc::new(e.request_bytes.finish()),
            Arc::new(e.response_bytes.finish()),
            Arc::new(e.duration_ms.finish()),
            Arc::new(t[USER_AGENT].finish()),
            Arc::new(t[REFERRER].finish()),
            Arc::new(t[CONTENT_TYPE].finish()),
            Arc::new(t[PROXY_ACTION].finish()),
            Arc::new(t[SERVER_IP].finish()),
            Arc::new(t[CATEGORY].finish()),
            Arc::new(e.format.finish()),
            Arc::new(e.source.finish()),
            Arc::new(e.offset.finish()),
        ];
        let events = RecordBatch::try_new(events_schema(), columns).expect("event columns match the events schema");
        let r = &mut self.rejects;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(r.raw.finish()),
            Arc::new(r.reason.finish()),
            Arc::new(r.detail.finish()),
            Arc::new(r.format.finish()),
            Arc::new(r.source.finish()),
            Arc::new(r.offset.finish()),
            Arc::new(r.ingest_ts.finish()),
        ];
        let rejects = RecordBatch::try_new(rejects_schema(), columns).expect("reject columns match the rejects schema");
        let counts = std::mem::take(&mut self.counts);
        ParsedBatch { events, rejects, counts }
    }
}

//! The `detections` table: one row per (event, rule), and one per correlation match.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sweep_formats::schema::{UTC, timestamp_type};

use crate::spec::level_index;
use crate::{CorrelationMatch, Correlator, Detection, RuleMeta, SigmaAnalyser, SigmaError};

/// The event columns a detection row copies.
const EVENT_COLUMNS: [&str; 4] = ["client_ip", "user", "host", "url"];

/// The `detections` table. A single-event rule's row names its event (`source`, `offset`)
/// and copies a few of its columns; a correlation's row has no event: `group_by` names the
/// group (`client_ip=10.0.0.1`), `count` the count that met its condition, `ts` the last
/// event of the matching window, `first_ts` the first.
pub fn detections_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", timestamp_type(), false),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("rule_id", DataType::Utf8, true),
        Field::new("rule_title", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        Field::new("group_by", DataType::Utf8, true),
        Field::new("count", DataType::Int64, true),
        Field::new("first_ts", timestamp_type(), true),
        Field::new("format", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, true),
    ]))
}

/// Whether a rule of this level is written when `min_level` (an index into
/// [`crate::spec::LEVELS`]) is asked for. A rule without a level counts as `informational`.
pub fn at_or_above(meta: &RuleMeta, min_level: usize) -> bool {
    min_level == 0 || meta.level.as_deref().and_then(level_index).is_some_and(|l| l >= min_level)
}

fn text_at(column: Option<&ArrayRef>, row: usize) -> Option<&str> {
    let column = column?;
    if column.is_null(row) {
        return None;
    }
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(column.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(column.as_string_view().value(row)),
        _ => None,
    }
}

struct RowsBuilder {
    ts: TimestampMicrosecondBuilder,
    event: [StringBuilder; 4],
    rule_id: StringBuilder,
    rule_title: StringBuilder,
    level: StringBuilder,
    status: StringBuilder,
    tags: ListBuilder<StringBuilder>,
    group_by: StringBuilder,
    count: Int64Builder,
    first_ts: TimestampMicrosecondBuilder,
    format: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
}

impl RowsBuilder {
    fn new() -> RowsBuilder {
        RowsBuilder {
            ts: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            event: std::array::from_fn(|_| StringBuilder::new()),
            rule_id: StringBuilder::new(),
            rule_title: StringBuilder::new(),
            level: StringBuilder::new(),
            status: StringBuilder::new(),
            tags: ListBuilder::new(StringBuilder::new()),
            group_by: StringBuilder::new(),
            count: Int64Builder::new(),
            first_ts: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            format: StringBuilder::new(),
            source: StringBuilder::new(),
            offset: Int64Builder::new(),
        }
    }

    fn rule(&mut self, meta: &RuleMeta) {
        self.rule_id.append_option(meta.id.as_deref());
        self.rule_title.append_value(&meta.title);
        self.level.append_option(meta.level.as_deref());
        self.status.append_option(meta.status.as_deref());
        for tag in &meta.tags {
            self.tags.values().append_value(tag);
        }
        self.tags.append(true);
    }

    fn finish(mut self) -> Result<RecordBatch, SigmaError> {
        let [a, b, c, d] = &mut self.event;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(a.finish()),
            Arc::new(b.finish()),
            Arc::new(c.finish()),
            Arc::new(d.finish()),
            Arc::new(self.rule_id.finish()),
            Arc::new(self.rule_title.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.tags.finish()),
            Arc::new(self.group_by.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.first_ts.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.offset.finish()),
        ];
        RecordBatch::try_new(detections_schema(), columns).map_err(|e| SigmaError::Column(format!("building detections: {e}")))
    }
}

/// The `detections` rows of `found` (from [`SigmaAnalyser::evaluate`] on `events`), leaving
/// out rules below `min_level`.
pub fn detections_batch(
    analyser: &SigmaAnalyser,
    events: &RecordBatch,
    found: &[Detection],
    min_level: usize,
) -> Result<RecordBatch, SigmaError> {
    let mut rows = RowsBuilder::new();
    let ts = events
        .column_by_name("ts")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| SigmaError::Column("the events have no `ts` timestamp column".into()))?;
    let event: Vec<Option<&ArrayRef>> = EVENT_COLUMNS.iter().map(|c| events.column_by_name(c)).collect();
    let (format, source) = (events.column_by_name("format"), events.column_by_name("source"));
    let offset = events.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>());
    for d in found {
        let meta = analyser.rule(d.rule);
        if !at_or_above(meta, min_level) {
            continue;
        }
        rows.ts.append_value(ts.value(d.row));
        for (b, c) in rows.event.iter_mut().zip(&event) {
            b.append_option(text_at(*c, d.row));
        }
        rows.rule(meta);
        rows.group_by.append_null();
        rows.count.append_null();
        rows.first_ts.append_null();
        rows.format.append_option(text_at(format, d.row));
        rows.source.append_option(text_at(source, d.row));
        rows.offset.append_option(offset.filter(|o| o.is_valid(d.row)).map(|o| o.value(d.row)));
    }
    rows.finish()
}

/// The `detections` rows of correlation matches, leaving out correlations below `min_level`.
pub fn correlation_batch(correlator: &Correlator, matches: &[CorrelationMatch], min_level: usize) -> Result<RecordBatch, SigmaError> {
    let mut rows = RowsBuilder::new();
    for m in matches {
        let rule = &correlator.correlations()[m.correlation];
        if !at_or_above(&rule.meta, min_level) {
            continue;
        }
        rows.ts.append_value(m.last_ts);
        for b in rows.event.iter_mut() {
            b.append_null();
        }
        rows.rule(&rule.meta);
        let group: Vec<String> = rule.group_by.iter().zip(&m.group).map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or(""))).collect();
        rows.group_by.append_value(group.join(","));
        rows.count.append_value(m.count as i64);
        rows.first_ts.append_value(m.first_ts);
        rows.format.append_null();
        rows.source.append_null();
        rows.offset.append_null();
    }
    rows.finish()
}

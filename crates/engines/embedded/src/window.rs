//! The window analyser (crate sweep-window) inside the embedded engine, and the routing of
//! late events to the rejects table.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use sweep_formats::reject::{Reject, RejectReason};
use sweep_formats::{BatchBuilder, Provenance};
use sweep_kafka::source::PolledBatch;
pub use sweep_window::{Alert, Emitted, Mode, WindowAnalyser, WindowSpec, metrics_schema};

use crate::EngineError;

/// The batch without the rows at `drop` (sorted row indices).
pub fn without_rows(batch: &RecordBatch, drop: &[usize]) -> Result<RecordBatch, EngineError> {
    let mut keep = vec![true; batch.num_rows()];
    for &i in drop {
        keep[i] = false;
    }
    Ok(filter_record_batch(batch, &BooleanArray::from(keep))?)
}

/// Reject rows (reason `late`) for the late events at `rows`, with each message's raw bytes.
pub fn late_rejects(
    events: &RecordBatch,
    rows: &[usize],
    polled: &PolledBatch,
    sources: &[String],
    format: &str,
    ingest_ts: i64,
) -> Result<RecordBatch, EngineError> {
    let missing =
        |c: &str| EngineError::refused(format!("the window analyser needs the `{c}` column of events; keep it in your SQL stages"));
    let source_col = cast(events.column_by_name("source").ok_or_else(|| missing("source"))?, &DataType::Utf8)?;
    let source_col = source_col.as_string::<i32>();
    let offset_col = events.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>()).ok_or_else(|| missing("offset"))?;
    let ts_col = events.column_by_name("ts").and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()).ok_or_else(|| missing("ts"))?;

    let partition_of: HashMap<&str, usize> = sources.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let message_at: HashMap<(usize, i64), usize> = polled.messages.iter().enumerate().map(|(i, m)| ((m.partition, m.offset), i)).collect();
    let mut builder = BatchBuilder::new(rows.len(), ingest_ts);
    for &row in rows {
        let source = source_col.value(row);
        let offset = offset_col.value(row);
        let raw =
            partition_of.get(source).and_then(|p| message_at.get(&(*p, offset))).map_or(&[][..], |&i| polled.payload(&polled.messages[i]));
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let ts = if ts_col.is_valid(row) { sweep_formats::time::format_micros(ts_col.value(row)) } else { "-".into() };
        let why = Reject::new(RejectReason::Late, format!("event time {ts} is behind the window watermark (allowed_lateness)"));
        builder.push_reject(raw, &why, Provenance { format, source, offset });
    }
    Ok(builder.finish().rejects)
}

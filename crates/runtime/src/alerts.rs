//! Alerts as JSON messages, keyed by the client they concern.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::json::LineDelimitedWriter;

use crate::RunError;
use sweep_window::Alert;

/// One message per hit: `{"alert":"hit", <every hits column>}`, keyed by `client_ip`.
pub fn hit_alerts(hits: &RecordBatch) -> Result<Vec<(String, Vec<u8>)>, RunError> {
    row_alerts("hit", hits)
}

/// One message per detection of a rule at `min_level` or above (an index into
/// [`sweep_sigma::LEVELS`]): `{"alert":"detection", <every detections column>}`, keyed by
/// `client_ip` (`-` for a correlation).
pub fn detection_alerts(detections: &RecordBatch, min_level: usize) -> Result<Vec<(String, Vec<u8>)>, RunError> {
    let levels = detections.column_by_name("level").and_then(|c| c.as_string_opt::<i32>());
    let keep: arrow::array::BooleanArray = (0..detections.num_rows())
        .map(|i| {
            let level = levels.filter(|l| l.is_valid(i)).and_then(|l| sweep_sigma::spec::level_index(l.value(i))).unwrap_or(0);
            Some(level >= min_level)
        })
        .collect();
    row_alerts("detection", &arrow::compute::filter_record_batch(detections, &keep)?)
}

fn row_alerts(kind: &str, rows: &RecordBatch) -> Result<Vec<(String, Vec<u8>)>, RunError> {
    let hits = rows;
    if hits.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let mut text = Vec::with_capacity(hits.num_rows() * 512);
    let mut writer = LineDelimitedWriter::new(&mut text);
    writer.write(hits)?;
    writer.finish()?;
    drop(writer);
    let clients = hits.column_by_name("client_ip").and_then(|c| c.as_string_opt::<i32>());
    let mut out = Vec::with_capacity(hits.num_rows());
    for (row, line) in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let key = clients.filter(|c| c.is_valid(row)).map_or("-", |c| c.value(row)).to_string();
        let mut json = Vec::with_capacity(line.len() + 16);
        json.extend_from_slice(format!(r#"{{"alert":"{kind}","#).as_bytes());
        json.extend_from_slice(&line[1..]);
        out.push((key, json));
    }
    Ok(out)
}

/// One message per threshold breach: `{"alert":"threshold", ...}`, keyed by the window key.
pub fn threshold_alerts(alerts: &[Alert]) -> Result<Vec<(String, Vec<u8>)>, RunError> {
    alerts
        .iter()
        .map(|a| {
            let mut value = serde_json::to_value(a).map_err(|e| RunError::Worker(format!("alert to JSON: {e}")))?;
            if let Some(map) = value.as_object_mut() {
                map.insert("alert".into(), "threshold".into());
            }
            Ok((a.key.clone(), serde_json::to_vec(&value).map_err(|e| RunError::Worker(e.to_string()))?))
        })
        .collect()
}

/// Sends the threshold alerts of a batch run (hits stay in the hits table) and waits until
/// the broker has taken them.
pub fn publish_threshold_alerts(spec: &sweep_model::KafkaSinkSpec, alerts: &[Alert]) -> Result<(), RunError> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut producer = sweep_kafka::sink::AlertProducer::connect(spec)?;
    for (key, json) in threshold_alerts(alerts)? {
        producer.send(&key, &json)?;
    }
    producer.flush(std::time::Duration::from_secs(60))?;
    Ok(())
}

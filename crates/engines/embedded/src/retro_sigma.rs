//! Retro-sweep with Sigma rules: today's rules over stored events.
//!
//! Reads a lake's `events` table (optionally from a date on), evaluates the rules, and appends
//! to `detections` only the rows the table does not hold yet, so running it again, or after a
//! scan that evaluated the same rules, writes no duplicate. A detection is identified by its
//! event (`source`, `offset`) and rule (`rule_id`, else `rule_title`); a correlation match by
//! its rule, group and last event time.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use sweep_load::{Lake, SinkSpec, TableWriter, run_id};
use sweep_model::WriteMode;
use sweep_runtime::sigma::load_stage;
pub use sweep_runtime::{SigmaRetroSummary, detections_are_delta};
use sweep_sigma::{CorrelationMode, SigmaSpec, correlation_batch, detections_batch, detections_schema};

use crate::EngineError;
use crate::query::register_lake;

/// The identity of each row of a detections batch.
fn keys_of(rows: &RecordBatch) -> Vec<String> {
    let text = |name: &str| rows.column_by_name(name).and_then(|c| cast(c, &DataType::Utf8).ok());
    let (source, rule_id, title, group) = (text("source"), text("rule_id"), text("rule_title"), text("group_by"));
    let offset = rows.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>());
    let ts = rows.column_by_name("ts").and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
    let value = |c: &Option<datafusion::arrow::array::ArrayRef>, i: usize| -> String {
        c.as_ref().map(|c| c.as_string::<i32>()).filter(|c| c.is_valid(i)).map_or(String::new(), |c| c.value(i).to_string())
    };
    (0..rows.num_rows())
        .map(|i| {
            let rule = match value(&rule_id, i) {
                id if !id.is_empty() => id,
                _ => value(&title, i),
            };
            match offset.filter(|o| o.is_valid(i)) {
                Some(o) => format!("e\u{0}{}\u{0}{}\u{0}{rule}", value(&source, i), o.value(i)),
                None => format!("c\u{0}{rule}\u{0}{}\u{0}{}", value(&group, i), ts.map_or(0, |t| t.value(i))),
            }
        })
        .collect()
}

/// Keeps the rows of `rows` whose keys `seen` does not hold, and adds them to it.
fn fresh(rows: &RecordBatch, seen: &Mutex<HashSet<String>>) -> Result<RecordBatch, EngineError> {
    let keys = keys_of(rows);
    let mut seen = seen.lock().map_err(|_| EngineError::worker("the retro-sweep's key set lock is poisoned"))?;
    let keep: Vec<u32> = keys.into_iter().enumerate().filter(|(_, k)| seen.insert(k.clone())).map(|(i, _)| i as u32).collect();
    drop(seen);
    Ok(take_record_batch(rows, &UInt32Array::from(keep))?)
}

/// Evaluates the rules of `spec` over the events under `lake` whose date is `since` or later
/// (all when `None`), and appends the detections not stored yet.
pub fn retro_sigma(lake: &Path, spec: &SigmaSpec, since: Option<&str>, threads: usize) -> Result<SigmaRetroSummary, EngineError> {
    let started = Instant::now();
    if let Some(d) = since {
        let ok = d.len() == 10 && sweep_formats::time::parse_date_and_time(d, "00:00:00").is_some();
        if !ok {
            return Err(sweep_sigma::SigmaError::Spec(format!("--since {d:?} is not a date; write it as YYYY-MM-DD")).into());
        }
    }
    let stage = Arc::new(load_stage(spec)?);
    if !lake.is_dir() && !sweep_load::is_object_lake(lake) {
        return Err(
            sweep_sigma::SigmaError::Spec(format!("{} is not a folder; give the --out folder of a sweep run", lake.display())).into()
        );
    }
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { threads };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().map_err(EngineError::runtime)?;
    // The new rows commit through the lake's journal, or not at all; the lock keeps another
    // retro (or a batch run) from writing meanwhile.
    let journal = Lake::open(lake)?;
    let run = run_id();
    let mut txn = journal.begin(&run, WriteMode::Append)?;
    let target = match detections_are_delta(lake)? {
        true => SinkSpec::Delta(lake.join("detections")),
        false => SinkSpec::Parquet(lake.join("detections")),
    };
    let sink = txn.stage("detections", &target, detections_schema(), false, false)?;

    let mut summary = runtime.block_on(async {
        let mut config = SessionConfig::new().with_target_partitions(threads);
        config.options_mut().execution.parquet.schema_force_view_types = false;
        let ctx = SessionContext::new_with_config(config);
        let tables = register_lake(&ctx, lake).await?;
        if !tables.iter().any(|t| t == "events") {
            return Err(sweep_sigma::SigmaError::Spec(format!("{} has no events table to evaluate", lake.display())).into());
        }
        let mut seen = HashSet::new();
        if tables.iter().any(|t| t == "detections") {
            let stored = ctx.sql("SELECT source, \"offset\", rule_id, rule_title, group_by, ts FROM detections").await?.collect().await?;
            for b in &stored {
                seen.extend(keys_of(b));
            }
        }
        let seen = Arc::new(Mutex::new(seen));
        let correlator = stage.correlator(CorrelationMode::Batch).map(|c| Arc::new(Mutex::new(c)));
        let filter = since.map(|d| format!(" WHERE date >= '{d}'")).unwrap_or_default();
        let streams = ctx.sql(&format!("SELECT * FROM events{filter}")).await?.execute_stream_partitioned().await?;
        let mut tasks = Vec::new();
        for (i, mut stream) in streams.into_iter().enumerate() {
            let (stage, seen, correlator) = (stage.clone(), seen.clone(), correlator.clone());
            let mut writer =
                TableWriter::new("detections", &sink, detections_schema(), false, format!("part-{run}-retro-{i:02}"), 4_000_000)?;
            tasks.push(tokio::spawn(async move {
                let (mut events, mut found) = (0u64, 0u64);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    events += batch.num_rows() as u64;
                    tokio::task::block_in_place(|| {
                        let detected = stage.analyser.evaluate(&batch)?;
                        if detected.is_empty() {
                            return Ok::<_, EngineError>(());
                        }
                        let rows = detections_batch(&stage.analyser, &batch, &detected, stage.min_level)?;
                        found += rows.num_rows() as u64;
                        writer.write(&fresh(&rows, &seen)?)?;
                        if let Some(c) = &correlator {
                            c.lock().map_err(|_| EngineError::worker("the correlator's lock is poisoned"))?.observe(&batch, &detected)?;
                        }
                        Ok(())
                    })?;
                }
                let written = writer.rows();
                tokio::task::block_in_place(|| writer.finish())?;
                Ok::<_, EngineError>((events, found, written))
            }));
        }
        let mut summary = SigmaRetroSummary { sigma: stage.summary.clone(), ..SigmaRetroSummary::default() };
        for t in tasks {
            let (e, f, w) = t.await.map_err(|e| EngineError::worker(e.to_string()))??;
            summary.events_swept += e;
            summary.detections_found += f;
            summary.detections_written += w;
        }
        // Correlations over every stored event, as a file scan evaluates them.
        if let Some(c) = correlator {
            let mut c = Arc::into_inner(c)
                .and_then(|m| m.into_inner().ok())
                .ok_or_else(|| EngineError::worker("the correlator is still shared"))?;
            let matches = c.finish();
            let rows = correlation_batch(&c, &matches, stage.min_level)?;
            summary.detections_found += rows.num_rows() as u64;
            let mut writer =
                TableWriter::new("detections", &sink, detections_schema(), false, format!("part-{run}-retro-correlations"), 4_000_000)?;
            writer.write(&fresh(&rows, &seen)?)?;
            summary.detections_written += writer.rows();
            writer.finish()?;
        }
        Ok::<_, EngineError>(summary)
    })?;
    summary.detections_already_present = summary.detections_found - summary.detections_written;
    txn.add_rows("detections", summary.detections_written);
    txn.commit()?;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_swept as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
}

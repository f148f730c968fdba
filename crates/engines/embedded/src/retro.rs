//! Retro-sweep: today's indicators over stored history.
//!
//! Reads a lake's `events` table (optionally from a date on), sweeps it, and appends to
//! `hits` only the (event, indicator) pairs that the table does not hold yet, so running
//! it again, or after a scan that swept the same events, writes no duplicate.
//! An event is identified by its provenance (`source`, `offset`), an indicator by
//! (`indicator`, `indicator_type`, `feed`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use sweep_intel::index::MatchStats;
use sweep_load::{Lake, SinkSpec, TableWriter, run_id};
use sweep_model::{SweeperSpec, WriteMode};

use crate::query::register_lake;
use sweep_runtime::intel::load_intel;
use sweep_runtime::{IntelSummary, RetroSummary, hits_are_delta};
use sweep_sweeper::{Sweeper, hits_schema, intel_schema};

use crate::EngineError;
use sweep_runtime::intel::write_intel_files;

/// A hit's identity: the event (`source`, `offset`) and the indicator (value, type, feed).
pub(crate) type HitKey = (String, i64, String, String, String);

pub(crate) fn keys_of(batch: &RecordBatch) -> Vec<Option<HitKey>> {
    // A Delta table's reader gives string views, a Parquet one plain strings.
    let text =
        |name: &str| -> Option<StringArray> { cast(batch.column_by_name(name)?, &DataType::Utf8).ok()?.as_string_opt::<i32>().cloned() };
    let (source, indicator, kind, feed) = (text("source"), text("indicator"), text("indicator_type"), text("feed"));
    let (source, indicator, kind, feed) = (source.as_ref(), indicator.as_ref(), kind.as_ref(), feed.as_ref());
    let offset = batch.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>());
    (0..batch.num_rows())
        .map(|i| {
            let s = source?;
            let o = offset?;
            if s.is_null(i) || o.is_null(i) {
                return None;
            }
            Some((
                s.value(i).to_string(),
                o.value(i),
                indicator?.value(i).to_string(),
                kind?.value(i).to_string(),
                feed?.value(i).to_string(),
            ))
        })
        .collect()
}

/// Sweeps the events under `lake` whose date is `since` or later (all when `None`).
pub fn retro(lake: &Path, spec: &SweeperSpec, since: Option<&str>, threads: usize) -> Result<RetroSummary, EngineError> {
    let started = Instant::now();
    if let Some(d) = since {
        let ok = d.len() == 10 && sweep_formats::time::parse_date_and_time(d, "00:00:00").is_some();
        if !ok {
            return Err(EngineError::refused(format!("--since {d:?} is not a date; write it as YYYY-MM-DD")));
        }
    }
    let loaded = load_intel(spec, None)?;
    let sweeper = Sweeper::retro(loaded.index.clone(), spec.fields.clone(), loaded.index.version());
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { threads };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().map_err(EngineError::runtime)?;
    // The new hits and the intel snapshot commit together through the lake's journal, or
    // not at all; the lock keeps a second retro (or a batch run) from writing meanwhile.
    // A lake on object storage is read through the store (register_lake) and committed
    // through its journal there, as a local one.
    if !lake.is_dir() && !sweep_load::is_object_lake(lake) {
        return Err(EngineError::refused(format!("{} is not a folder; give the --out folder of a sweep run", lake.display())));
    }
    let journal = Lake::open(lake)?;
    let run = run_id();
    let mut txn = journal.begin(&run, WriteMode::Append)?;
    let hits_target = match hits_are_delta(lake)? {
        true => SinkSpec::Delta(lake.join("hits")),
        false => SinkSpec::Parquet(lake.join("hits")),
    };
    let hits_sink = txn.stage("hits", &hits_target, hits_schema(), false, false)?;
    let intel_sink = txn.stage("intel", &SinkSpec::Parquet(lake.join("intel")), intel_schema(), false, true)?;

    let result = runtime.block_on(async {
        let mut config = SessionConfig::new().with_target_partitions(threads);
        // The sweeper reads plain Utf8 columns; ask the Parquet reader for them directly.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        let ctx = SessionContext::new_with_config(config);
        let tables = register_lake(&ctx, lake).await?;
        if !tables.iter().any(|t| t == "events") {
            return Err(EngineError::refused(format!("{} has no events table to sweep", lake.display())));
        }
        // The keys of the hits already stored: small next to the events, so they are the
        // side held in memory.
        let mut seen: HashSet<HitKey> = HashSet::new();
        if tables.iter().any(|t| t == "hits") {
            for batch in ctx.sql("SELECT source, \"offset\", indicator, indicator_type, feed FROM hits").await?.collect().await? {
                seen.extend(keys_of(&batch).into_iter().flatten());
            }
        }
        let seen = Arc::new(Mutex::new(seen));
        let filter = since.map(|d| format!(" WHERE date >= '{d}'")).unwrap_or_default();
        let df = ctx.sql(&format!("SELECT * FROM events{filter}")).await?;
        let streams = df.execute_stream_partitioned().await?;
        let mut tasks = Vec::new();
        for (i, mut stream) in streams.into_iter().enumerate() {
            let sweeper = sweeper.clone();
            let seen = seen.clone();
            let mut writer = TableWriter::new("hits", &hits_sink, hits_schema(), false, format!("part-{run}-retro-{i:02}"), 4_000_000)?;
            tasks.push(tokio::spawn(async move {
                let mut stats = MatchStats::default();
                let mut scratch = Vec::new();
                let (mut events, mut found) = (0u64, 0u64);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    events += batch.num_rows() as u64;
                    tokio::task::block_in_place(|| {
                        let hits = sweeper.sweep_batch(&batch, &mut stats, &mut scratch)?;
                        found += hits.num_rows() as u64;
                        let keys = keys_of(&hits);
                        let mut seen = seen.lock().expect("seen lock");
                        let fresh: Vec<u32> = keys
                            .into_iter()
                            .enumerate()
                            .filter(|(_, k)| k.as_ref().is_none_or(|k| seen.insert(k.clone())))
                            .map(|(i, _)| i as u32)
                            .collect();
                        drop(seen);
                        let fresh = take_record_batch(&hits, &UInt32Array::from(fresh))?;
                        writer.write(&fresh)?;
                        Ok::<_, EngineError>(())
                    })?;
                }
                let written = writer.rows();
                tokio::task::block_in_place(|| writer.finish())?;
                Ok::<_, EngineError>((events, found, written, stats))
            }));
        }
        let mut summary = RetroSummary::default();
        let mut stats = MatchStats::default();
        for t in tasks {
            let (e, f, w, s) = t.await.map_err(|e| EngineError::worker(e.to_string()))??;
            summary.events_swept += e;
            summary.hits_found += f;
            summary.hits_written += w;
            stats.add(&s);
        }
        summary.hits_already_present = summary.hits_found - summary.hits_written;
        let mut intel = IntelSummary::new(&loaded);
        intel.suppressed = stats.suppressed;
        intel.inactive = stats.inactive;
        summary.intel = intel;
        Ok::<_, EngineError>(summary)
    });
    let mut summary = result?;
    write_intel_files(&loaded.index, &intel_sink)?;
    txn.add_rows("hits", summary.hits_written);
    txn.add_rows("intel", loaded.index.len() as u64);
    txn.commit()?;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_swept as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
}

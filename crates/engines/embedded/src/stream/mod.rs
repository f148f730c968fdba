//! Streaming runs: a Kafka topic in micro-batches, each committed exactly once.
//!
//! ```text
//!  Kafka ─poll─▶ batch n ─plan─▶ checkpoint/offsets/n ─▶ parse ─▶ SQL ─▶ sweep, content ─▶ window
//!                                                                                 │
//!  checkpoint/commits/n ◀─ alerts flushed ◀─ every sink commits (txn n) ◀──────────┘
//! ```
//!
//! A batch's offset ranges are written before any sink sees it; every sink commits the
//! batch under the pipeline id and batch number (Delta application transactions; Parquet
//! files with names fixed by the batch number); the commit marker is written last; Kafka
//! group offsets are committed after that. After a crash the unfinished batch is re-run
//! over the same offsets from the previous batch's window state, and each sink skips what
//! it already holds. docs/streaming.md states the guarantee of every sink.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use sweep_content::{ContentAnalyser, VerdictCache, findings_schema};
use sweep_formats::reject::{Reject, RejectReason};
use sweep_formats::{BatchBuilder, ChunkParser, LineCounts, Provenance, events_schema, rejects_schema};
use sweep_intel::index::MatchStats;
use sweep_kafka::sink::AlertProducer;
use sweep_kafka::source::{PolledBatch, TopicSource};
use sweep_load::{Committed, DeltaSink, Lake, SinkSpec, TableWriter, lake_root, prepare_table_dir};
use sweep_model::{Pipeline, WriteMode};
use sweep_runtime::alerts;
use sweep_runtime::checkpoint::{Checkpoint, PlannedBatch, Totals};
use sweep_runtime::metrics::{self, StreamMetrics};
use sweep_runtime::{IntelSummary, LatencyRecorder, RunCounters, RunSummary, StreamSummary, TableSummary, now_micros};
use sweep_sweeper::{Sweeper, hits_schema, load_intel};

use crate::run::{CONTENT_CACHE_HOSTS, content_analyser, count_findings, write_intel_table};
use crate::{EngineError, window};

/// One table of a streaming pipeline.
enum TableSink {
    Delta(Box<DeltaSink>),
    Parquet { spec: SinkSpec, by_date: bool },
}

struct Table {
    name: &'static str,
    schema: SchemaRef,
    sink: TableSink,
    rows: u64,
    files: usize,
}

impl Table {
    /// Commits one batch's rows; with `replace` (batch 0 under `--mode overwrite`) the same
    /// commit replaces the rows the table held, even when the batch has none.
    async fn commit(
        &mut self,
        app_id: &str,
        batch: u64,
        batches: &[RecordBatch],
        rows_per_file: usize,
        replace: bool,
    ) -> Result<(), EngineError> {
        if !replace && batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(());
        }
        match &mut self.sink {
            TableSink::Delta(delta) => {
                if let Committed::Written { rows, .. } = delta.commit(app_id, batch as i64, batches, replace).await? {
                    self.rows += rows;
                    self.files += 1;
                }
            }
            TableSink::Parquet { spec, by_date } => {
                // Names fixed by the batch number: a re-run replaces the same files.
                let prefix = format!("batch-{batch:012}");
                let mut w = TableWriter::new(self.name, spec, self.schema.clone(), *by_date, prefix.clone(), rows_per_file)?;
                for b in batches {
                    w.write(b)?;
                }
                self.rows += w.rows();
                self.files += w.finish()?.len();
                if replace {
                    let schema = matches!(spec, SinkSpec::Parquet(_)).then_some(&self.schema);
                    sweep_load::remove_files_except(spec.path(), &format!("{prefix}-"), schema)?;
                }
            }
        }
        Ok(())
    }
}

/// The outputs of one batch, ready to commit.
#[derive(Default)]
struct BatchOutput {
    events: Vec<RecordBatch>,
    rejects: Vec<RecordBatch>,
    hits: Vec<RecordBatch>,
    findings: Vec<RecordBatch>,
    metrics: Vec<RecordBatch>,
    alerts: Vec<(String, Vec<u8>)>,
    counts: LineCounts,
    late: u64,
    reasons: BTreeMap<String, u64>,
    stats: MatchStats,
}

/// Everything a batch needs besides its messages.
struct Stages {
    parser: ChunkParser,
    sources: Vec<String>,
    sql: Vec<String>,
    sweeper: Option<Sweeper>,
    /// The analyser and its verdicts of earlier batches: a cache only, so a re-run batch
    /// gets the same findings whatever it holds.
    content: Option<(Arc<ContentAnalyser>, VerdictCache)>,
    window: Option<window::WindowAnalyser>,
    alerts_wanted: bool,
}

/// Runs a streaming pipeline until `stop` is raised or, with `stop_when_drained`, until the
/// topic is read to its end.
pub fn run_stream(pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    pipeline.validate().map_err(|m| EngineError::worker(format!("invalid pipeline: {m}")))?;
    let extract = &pipeline.extract[0];
    let kafka = extract.kafka.as_ref().ok_or_else(|| EngineError::worker("a streaming pipeline reads Kafka"))?;
    let checkpoint_dir = pipeline.stream.checkpoint.clone().expect("validated: a streaming pipeline has a checkpoint");

    let parser = ChunkParser::new(&extract.format)?.with_max_line_bytes(pipeline.settings.max_line_bytes);
    let loaded = pipeline.sweeper().map(load_intel).transpose()?;
    let window_spec = pipeline.window().cloned();
    let sweeper = loaded.as_ref().zip(pipeline.sweeper());
    let sweeper = sweeper.map(|(l, spec)| Sweeper::new(l.index.clone(), spec.fields.clone()));
    let content = content_analyser(pipeline)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("sweep-stream")
        .build()
        .map_err(EngineError::runtime)?;

    let (ckpt, resume) = Checkpoint::open(&checkpoint_dir, now_micros())?;
    // The write mode applies once per checkpoint, before its first batch (a crash between
    // the two repeats it, which every mode accepts).
    let fresh = !ckpt.tables_prepared();
    let app_id = resume.pipeline_id.clone();

    let mut window = match &window_spec {
        Some(spec) => Some(match &resume.window_state {
            Some(bytes) => window::WindowAnalyser::restore(spec.clone(), bytes)?,
            None => window::WindowAnalyser::new(spec.clone(), window::Mode::Streaming)?,
        }),
        None => None,
    };

    // Sinks: a fresh checkpoint applies the write mode; a resumed one continues its tables.
    let mut tables = Vec::new();
    let wanted: [(&'static str, SchemaRef, bool, bool); 5] = [
        ("events", events_schema(), true, true),
        ("rejects", rejects_schema(), false, true),
        ("hits", hits_schema(), false, sweeper.is_some()),
        ("metrics", window::metrics_schema(), false, window.is_some()),
        ("findings", findings_schema(), false, content.is_some()),
    ];
    let sinks: Vec<_> = wanted
        .into_iter()
        .filter_map(|(name, schema, by_date, enabled)| {
            pipeline.load.sink(name).filter(|_| enabled).map(|spec| (name, schema, by_date, spec))
        })
        .collect();
    // The stream holds the lake's lock while it runs, as a batch run does while it writes:
    // a batch run or retro-sweep into the same tables is refused rather than interleaved.
    let targets: Vec<SinkSpec> = sinks.iter().map(|s| s.3.clone()).chain(pipeline.load.sink("intel")).collect();
    let _lake = lake_root(pipeline.load.dir.as_deref(), &targets).map(|root| Lake::open(&root)).transpose()?;
    // `overwrite` removes nothing here: batch 0's commit replaces the old rows (above), so a
    // stream that fails before it leaves the tables as they were.
    let overwrite = pipeline.load.mode == WriteMode::Overwrite;
    if fresh {
        for (_, _, _, spec) in &sinks {
            prepare_table_dir(spec.path(), if overwrite { WriteMode::Append } else { pipeline.load.mode })?;
        }
        ckpt.mark_tables_prepared(overwrite)?;
    }
    for (name, schema, by_date, spec) in sinks {
        let sink = match &spec {
            SinkSpec::Delta(path) => TableSink::Delta(Box::new(runtime.block_on(DeltaSink::open(name, path, &schema, by_date))?)),
            _ => TableSink::Parquet { spec: spec.clone(), by_date },
        };
        tables.push(Table { name, schema, sink, rows: 0, files: 0 });
    }
    if let (Some(l), Some(sink)) = (&loaded, pipeline.load.sink("intel")) {
        write_intel_table(&l.index, &sink)?;
    }
    let mut producer = match &pipeline.load.alerts {
        Some(spec) => Some(AlertProducer::connect(spec)?),
        None => None,
    };

    let mut source = TopicSource::connect(kafka)?;
    let sources: Vec<String> = source.partitions().iter().map(|p| p.source_name()).collect();
    let mut stages = Stages {
        parser,
        sources: sources.clone(),
        sql: pipeline.transform.iter().map(|t| t.sql.clone()).collect(),
        sweeper,
        content: content.map(|a| (a, VerdictCache::new(CONTENT_CACHE_HOSTS))),
        window: window.take(),
        alerts_wanted: producer.is_some(),
    };

    let live = Arc::new(StreamMetrics::default());
    let metrics_addr = match &pipeline.stream.metrics_addr {
        Some(addr) => Some(metrics::serve(addr, live.clone(), stop.clone())?.to_string()),
        None => None,
    };

    let mut totals = resume.totals.clone();
    let lines_before = totals.lines;
    let mut summary =
        StreamSummary { checkpoint: checkpoint_dir.clone(), metrics_addr, counts_since_checkpoint: true, ..StreamSummary::default() };
    let mut latency = LatencyRecorder::default();
    let mut match_stats = MatchStats::default();
    let mut next_batch = resume.committed.map_or(0, |c| c + 1);
    let session = SessionContext::new();

    let mut commit_batch = |planned: &PlannedBatch,
                            polled: &PolledBatch,
                            stages: &mut Stages,
                            tables: &mut Vec<Table>,
                            producer: &mut Option<AlertProducer>,
                            totals: &mut Totals|
     -> Result<(), EngineError> {
        let batch_started = Instant::now();
        let out = process_batch(planned, polled, stages, &session, &runtime)?;
        runtime.block_on(async {
            for table in tables.iter_mut() {
                let rows = match table.name {
                    "events" => &out.events,
                    "rejects" => &out.rejects,
                    "hits" => &out.hits,
                    "findings" => &out.findings,
                    _ => &out.metrics,
                };
                let replace = ckpt.replaces_tables(planned.batch);
                table.commit(&app_id, planned.batch, rows, pipeline.settings.rows_per_file, replace).await?;
            }
            Ok::<_, EngineError>(())
        })?;
        let mut sent = 0;
        if let Some(p) = producer.as_mut() {
            for (key, json) in &out.alerts {
                p.send(key, json)?;
            }
            sent = p.flush(Duration::from_secs(60))?;
        }
        totals.lines += out.counts.lines;
        totals.events += out.counts.events - out.late;
        totals.rejects += out.counts.rejects + out.late;
        totals.skipped += out.counts.skipped;
        totals.late += out.late;
        totals.hits += out.hits.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        totals.metrics_rows += out.metrics.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        for f in &out.findings {
            totals.findings += f.num_rows() as u64;
            count_findings(f, &mut totals.findings_by_kind);
        }
        totals.alerts += sent;
        for (k, v) in &out.reasons {
            *totals.reject_reasons.entry(k.clone()).or_default() += v;
        }
        let state = stages.window.as_ref().map(|w| w.snapshot());
        ckpt.commit(planned.batch, totals, state.as_deref())?;

        // Committed: everything below is reporting.
        match_stats.add(&out.stats);
        let now_ms = now_micros() / 1000;
        let mut h = live.produce_to_commit_seconds.lock().expect("metrics lock");
        for m in &polled.messages {
            if let Some(ts) = m.timestamp_ms {
                let s = (now_ms - ts).max(0) as f64 / 1000.0;
                h.observe(s, 1);
                latency.observe(s);
            }
        }
        drop(h);
        live.batch_committed(totals, out.counts.lines, batch_started.elapsed().as_secs_f64());
        counters.lines.store(totals.lines, Ordering::Relaxed);
        counters.events.store(totals.events, Ordering::Relaxed);
        counters.rejects.store(totals.rejects, Ordering::Relaxed);
        Ok(())
    };

    // A batch planned but not committed before a crash is re-run first, over the same offsets.
    if let Some(planned) = &resume.unfinished {
        let from = offsets_for(&sources, &planned.from, planned.batch)?;
        let until = offsets_for(&sources, &planned.until, planned.batch)?;
        let polled = source.read_range(&from, &until, planned.batch, &stop)?;
        if stop.load(Ordering::Relaxed) && polled.len() < expected_len(&from, &until) {
            return Err(EngineError::worker("stopped while re-running an unfinished batch; it will be re-run on the next start"));
        }
        commit_batch(planned, &polled, &mut stages, &mut tables, &mut producer, &mut totals)?;
        summary.replayed_batches += 1;
        summary.batches += 1;
        next_batch = planned.batch + 1;
        if planned.final_flush {
            summary.stopped_by = "drained".into();
        }
    } else {
        let start = match &resume.next_from {
            Some(from) => offsets_or_start(&source, &sources, from)?,
            None => source.start_offsets()?,
        };
        source.seek(&start)?;
    }

    while summary.stopped_by.is_empty() {
        if stop.load(Ordering::Relaxed) {
            summary.stopped_by = "signal".into();
            break;
        }
        let from = source.positions().to_vec();
        let polled = source.next_batch(&stop)?;
        let drained = pipeline.stream.stop_when_drained && polled.is_empty() && is_drained(&source);
        if polled.is_empty() && !drained {
            update_lag(&source, &live);
            continue;
        }
        let planned = PlannedBatch {
            batch: next_batch,
            from: keyed(&sources, &from),
            until: keyed(&sources, source.positions()),
            planned_at_us: now_micros(),
            // The end of the input: every window still open becomes final.
            final_flush: drained,
        };
        // An empty batch is committed only to close windows, or to apply `--mode overwrite`
        // (a topic drained before its first batch still replaces the tables' rows).
        if drained && stages.window.as_ref().is_none_or(|w| !w.has_open_windows()) && !ckpt.replaces_tables(planned.batch) {
            summary.stopped_by = "drained".into();
            break;
        }
        ckpt.plan(&planned)?;
        commit_batch(&planned, &polled, &mut stages, &mut tables, &mut producer, &mut totals)?;
        summary.batches += 1;
        next_batch += 1;
        // Best effort: the checkpoint is the truth; the group offsets are for monitoring.
        if let Err(e) = source.commit(source.positions()) {
            eprintln!("sweep: warning: {e} (the checkpoint is unaffected; retrying after the next batch)");
        }
        update_lag(&source, &live);
        if drained {
            summary.stopped_by = "drained".into();
        }
    }

    summary.lag = live.lag.load(Ordering::Relaxed);
    summary.late_events = totals.late;
    summary.alerts = totals.alerts;
    (summary.produce_to_commit_p50_s, summary.produce_to_commit_p99_s, summary.produce_to_commit_max_s) =
        (latency.quantile(0.5), latency.quantile(0.99), latency.max());

    let mut run = RunSummary { elapsed_s: started.elapsed().as_secs_f64(), ..totals.summary() };
    // Throughput of this process, not of earlier runs on the same checkpoint.
    let lines_now = run.input_lines - lines_before;
    run.lines_per_second = if run.elapsed_s > 0.0 { lines_now as f64 / run.elapsed_s } else { 0.0 };
    for t in &tables {
        let path = match &t.sink {
            TableSink::Delta(d) => d.path().to_path_buf(),
            TableSink::Parquet { spec, .. } => spec.path().to_path_buf(),
        };
        run.tables.insert(t.name.to_string(), TableSummary { path, rows: t.rows, files: t.files });
    }
    if let Some(l) = &loaded {
        let mut intel = IntelSummary::new(l);
        intel.suppressed = match_stats.suppressed;
        intel.inactive = match_stats.inactive;
        run.intel = Some(intel);
    }
    run.stream = Some(summary);
    Ok(run)
}

/// Parses, transforms, sweeps, judges hosts and windows one batch. Pure: the same batch and state give
/// the same output, which is what makes a re-run after a crash safe.
fn process_batch(
    planned: &PlannedBatch,
    polled: &PolledBatch,
    stages: &mut Stages,
    session: &SessionContext,
    runtime: &tokio::runtime::Runtime,
) -> Result<BatchOutput, EngineError> {
    let mut out = BatchOutput::default();
    let mut builder = BatchBuilder::new(polled.len().max(1), planned.planned_at_us);
    let format = stages.parser.format_name().to_string();
    for m in &polled.messages {
        let payload = polled.payload(m);
        let line = payload.strip_suffix(b"\n").unwrap_or(payload);
        let source = &stages.sources[m.partition];
        if line.is_empty() {
            let why = Reject::new(RejectReason::Empty, "the Kafka message has no payload");
            builder.push_reject(payload, &why, Provenance { format: &format, source, offset: m.offset });
        } else {
            stages.parser.parse_message(line, source, m.offset, &mut builder);
        }
    }
    let parsed = builder.finish();
    out.counts = parsed.counts;
    count_reasons(&parsed.rejects, &mut out.reasons);
    out.rejects.push(parsed.rejects);

    let mut events = vec![parsed.events];
    if !stages.sql.is_empty() {
        events = runtime.block_on(run_sql(session, &stages.sql, events))?;
    }

    let mut scratch = Vec::new();
    for batch in &events {
        if let Some(sw) = &stages.sweeper {
            let hits = sw.sweep_batch(batch, &mut out.stats, &mut scratch)?;
            if stages.alerts_wanted {
                out.alerts.extend(alerts::hit_alerts(&hits)?);
            }
            out.hits.push(hits);
        }
        // Before the window analyser, like the sweeper: a late event is still judged.
        if let Some((analyser, cache)) = stages.content.as_mut() {
            out.findings.push(analyser.analyse_cached(batch, cache)?);
        }
    }

    if let Some(w) = stages.window.as_mut() {
        let mut kept = Vec::with_capacity(events.len());
        for batch in events {
            let late = w.observe(&batch)?;
            if late.is_empty() {
                kept.push(batch);
                continue;
            }
            out.late += late.len() as u64;
            let late_rejects = window::late_rejects(&batch, &late, polled, &stages.sources, &format, planned.planned_at_us)?;
            *out.reasons.entry(RejectReason::Late.code().to_string()).or_default() += late.len() as u64;
            out.rejects.push(late_rejects);
            kept.push(window::without_rows(&batch, &late)?);
        }
        events = kept;
        let emitted = if planned.final_flush { w.end_input()? } else { w.end_batch()? };
        if stages.alerts_wanted {
            out.alerts.extend(alerts::threshold_alerts(&emitted.alerts)?);
        }
        out.metrics.push(emitted.metrics);
    }
    out.events = events;
    Ok(out)
}

/// Runs the pipeline's SQL stages over one batch's events.
async fn run_sql(session: &SessionContext, sql: &[String], events: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, EngineError> {
    let schema = events[0].schema();
    let mut batches = events;
    for (i, stage) in sql.iter().enumerate() {
        let input_schema = batches.first().map_or(schema.clone(), |b| b.schema());
        let table = datafusion::datasource::MemTable::try_new(input_schema, vec![batches])?;
        session.deregister_table("events")?;
        session.register_table("events", Arc::new(table))?;
        let df = session.sql(stage).await.map_err(|source| EngineError::Sql { stage: i, source })?;
        batches = df.collect().await?;
        if batches.is_empty() {
            batches = vec![RecordBatch::new_empty(schema.clone())];
        }
    }
    session.deregister_table("events")?;
    Ok(batches)
}

fn count_reasons(rejects: &RecordBatch, into: &mut BTreeMap<String, u64>) {
    if rejects.num_rows() == 0 {
        return;
    }
    let reasons = rejects.column(1).as_string::<i32>();
    for r in reasons.iter().flatten() {
        *into.entry(r.to_string()).or_default() += 1;
    }
}

fn keyed(sources: &[String], offsets: &[i64]) -> BTreeMap<String, i64> {
    sources.iter().cloned().zip(offsets.iter().copied()).collect()
}

/// A checkpointed batch's offsets in partition order; every partition must still exist.
fn offsets_for(sources: &[String], keyed: &BTreeMap<String, i64>, batch: u64) -> Result<Vec<i64>, EngineError> {
    sources
        .iter()
        .map(|s| match keyed.get(s) {
            Some(o) => Ok(*o),
            // A partition added since the batch was planned had no messages in it.
            None => Ok(-1),
        })
        .collect::<Result<Vec<i64>, EngineError>>()
        .and_then(|v| {
            if keyed.keys().any(|k| !sources.contains(k)) {
                Err(EngineError::checkpoint(format!(
                    "batch {batch} read partitions that the topic no longer has ({:?}); the topic was recreated: use a new checkpoint folder",
                    keyed.keys().filter(|k| !sources.contains(k)).collect::<Vec<_>>()
                )))
            } else {
                Ok(v.into_iter().map(|o| o.max(0)).collect())
            }
        })
}

/// Where to continue: the checkpoint's offsets, and the start position for new partitions.
fn offsets_or_start(source: &TopicSource, sources: &[String], keyed: &BTreeMap<String, i64>) -> Result<Vec<i64>, EngineError> {
    let start = if sources.iter().all(|s| keyed.contains_key(s)) { None } else { Some(source.start_offsets()?) };
    Ok(sources.iter().enumerate().map(|(i, s)| keyed.get(s).copied().unwrap_or_else(|| start.as_ref().map_or(0, |st| st[i]))).collect())
}

fn expected_len(from: &[i64], until: &[i64]) -> usize {
    from.iter().zip(until).map(|(f, u)| (u - f).max(0) as usize).sum()
}

fn is_drained(source: &TopicSource) -> bool {
    match source.watermarks() {
        Ok(marks) => source.positions().iter().zip(&marks).all(|(pos, (_, high))| pos >= high),
        Err(_) => false,
    }
}

fn update_lag(source: &TopicSource, live: &StreamMetrics) {
    if let Ok(marks) = source.watermarks() {
        let lag: i64 = source.positions().iter().zip(&marks).map(|(pos, (_, high))| (high - pos).max(0)).sum();
        live.lag.store(lag as u64, Ordering::Relaxed);
    }
}

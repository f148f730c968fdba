//! Streaming runs on the embedded engine: its part of the micro-batch protocol
//! ([`sweep_runtime::stream`], which plans, checkpoints and commits each batch exactly once).
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
use std::sync::atomic::AtomicBool;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use sweep_content::{ContentAnalyser, VerdictCache, findings_schema};
use sweep_formats::reject::{Reject, RejectReason};
use sweep_formats::{BatchBuilder, ChunkParser, LineCounts, Provenance, events_schema, rejects_schema};
use sweep_intel::index::MatchStats;
use sweep_kafka::sink::AlertProducer;
use sweep_kafka::source::{PolledBatch, TopicSource};
use sweep_load::{Committed, DeltaSink, SinkSpec, TableWriter};
use sweep_model::Pipeline;
use sweep_runtime::alerts;
use sweep_runtime::checkpoint::{Checkpoint, PlannedBatch};
use sweep_runtime::intel::{BatchIntel, StreamIntel};
use sweep_runtime::metrics::StreamMetrics;
use sweep_runtime::sigma::SigmaStage;
use sweep_runtime::stream::{
    BatchDone, BatchInput, MicroBatchEngine, Planning, StreamContext, open_stream_tables, run_micro_batches, serve_metrics,
};
use sweep_runtime::{IntelSummary, RunCounters, RunSummary, TableSummary, now_micros};
use sweep_sigma::{CorrelationMode, Correlator, correlation_batch, detections_batch, detections_schema};
use sweep_sweeper::{Sweeper, hits_schema};

use crate::run::{CONTENT_CACHE_HOSTS, count_findings};
use crate::{EngineError, window};

mod retro;

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
                // Names fixed by the batch number: a re-run replaces the same files. On object
                // storage they are written locally, then each is uploaded as one object.
                let prefix = format!("batch-{batch:012}");
                let remote = sweep_load::is_object_lake(spec.path());
                let local = match remote {
                    true => SinkSpec::Parquet(sweep_load::lake::local_staging_for_remote(&format!("stream-{}", self.name))),
                    false => spec.clone(),
                };
                let mut w = TableWriter::new(self.name, &local, self.schema.clone(), *by_date, prefix.clone(), rows_per_file)?;
                for b in batches {
                    w.write(b)?;
                }
                self.rows += w.rows();
                let written = w.finish()?;
                self.files += written.len();
                if remote {
                    sweep_load::lake::upload_table_files(local.path(), &written, spec.path())?;
                    let _ = std::fs::remove_dir_all(local.path());
                }
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
    detections: Vec<RecordBatch>,
    metrics: Vec<RecordBatch>,
    alerts: Vec<(String, Vec<u8>)>,
    counts: LineCounts,
    late: u64,
    reasons: BTreeMap<String, u64>,
    stats: MatchStats,
    /// Seconds spent in each step, for `-vv`.
    timings: Timings,
}

/// Where a batch's time went, logged at debug level with every batch.
#[derive(Default, Debug)]
struct Timings {
    parse: f64,
    sweep: f64,
    analyse: f64,
    window: f64,
}

/// Everything a batch needs besides its messages.
struct Stages {
    /// One parser per core: a batch's messages are parsed in contiguous parts side by side.
    parsers: Vec<ChunkParser>,
    sources: Vec<String>,
    sql: Vec<String>,
    /// The sweeper of the intel version in use (set by the first batch).
    sweeper: Option<Sweeper>,
    sweeper_fields: Option<Vec<sweep_intel::index::MatchField>>,
    /// The analyser and its verdicts of earlier batches: a cache only, so a re-run batch
    /// gets the same findings whatever it holds.
    content: Option<(Arc<ContentAnalyser>, VerdictCache)>,
    window: Option<window::WindowAnalyser>,
    /// The Sigma rules and, when some are correlations, their correlator.
    sigma: Option<(Arc<SigmaStage>, Option<Correlator>)>,
    alerts_wanted: bool,
}

/// Runs a streaming pipeline until `stop` is raised or, with `stop_when_drained`, until the
/// topic is read to its end, through the micro-batch protocol of [`sweep_runtime::stream`].
pub fn run_stream(pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, EngineError> {
    pipeline.validate().map_err(|m| EngineError::refused(format!("invalid pipeline: {m}")))?;
    let extract = &pipeline.extract[0];
    let kafka = extract.kafka.as_ref().ok_or_else(|| EngineError::refused("a streaming pipeline reads Kafka"))?;
    let checkpoint_dir = pipeline.stream.checkpoint.clone().expect("validated: a streaming pipeline has a checkpoint");

    let threads = match pipeline.settings.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let parsers = (0..threads)
        .map(|_| Ok(ChunkParser::new(&extract.format)?.with_max_line_bytes(pipeline.settings.max_line_bytes)))
        .collect::<Result<Vec<_>, EngineError>>()?;
    let content = sweep_runtime::content_analyser(pipeline)?;
    let sigma = sweep_runtime::sigma::sigma_stage(pipeline)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("sweep-stream")
        .build()
        .map_err(EngineError::runtime)?;

    let (ckpt, resume) = Checkpoint::open(&checkpoint_dir, now_micros())?;
    let intel = StreamIntel::open(pipeline, &checkpoint_dir, resume.intel_version.as_deref(), resume.retro_pending.clone())?;
    let sweeper_fields = pipeline.sweeper().map(|s| s.fields.clone());
    let window = match pipeline.window() {
        Some(spec) => Some(match &resume.window_state {
            Some(bytes) => {
                let mut analyser = window::WindowAnalyser::restore(spec.clone(), bytes)?;
                for delta in &resume.window_deltas {
                    analyser.apply_delta(delta)?;
                }
                analyser
            }
            None => window::WindowAnalyser::new(spec.clone(), window::Mode::Streaming)?,
        }),
        None => None,
    };
    // The correlator continues from the state of the last committed batch, so a batch re-run
    // after a crash sees what it saw the first time.
    let correlator = match (&sigma, &resume.sigma_state) {
        (Some(sg), Some(bytes)) if !sg.correlations.is_empty() => Some(Correlator::restore(sg.correlations.clone(), bytes)?),
        (Some(sg), _) => sg.correlator(CorrelationMode::Streaming { allowed_lateness: sg.allowed_lateness_us }),
        (None, _) => None,
    };
    let wanted: [(&'static str, SchemaRef, bool, bool); 6] = [
        ("events", events_schema(), true, true),
        ("rejects", rejects_schema(), false, true),
        ("hits", hits_schema(), false, intel.is_some()),
        ("metrics", window::metrics_schema(), false, window.is_some()),
        ("findings", findings_schema(), false, content.is_some()),
        ("detections", detections_schema(), false, sigma.is_some()),
    ];
    let sinks: Vec<_> = wanted
        .into_iter()
        .filter_map(|(name, schema, by_date, enabled)| {
            pipeline.load.sink(name).filter(|_| enabled).map(|spec| (name, schema, by_date, spec))
        })
        .collect();
    let specs: Vec<SinkSpec> = sinks.iter().map(|s| s.3.clone()).collect();
    let lake = open_stream_tables(pipeline, &ckpt, &specs)?;
    let mut tables = Vec::new();
    for (name, schema, by_date, spec) in sinks {
        let sink = match &spec {
            SinkSpec::Delta(path) => TableSink::Delta(Box::new(runtime.block_on(DeltaSink::open(name, path, &schema, by_date))?)),
            _ => TableSink::Parquet { spec: spec.clone(), by_date },
        };
        tables.push(Table { name, schema, sink, rows: 0, files: 0 });
    }
    let intel_sink = pipeline.load.sink("intel").filter(|_| intel.is_some());
    let producer = pipeline.load.alerts.as_ref().map(AlertProducer::connect).transpose()?;
    let source = TopicSource::connect(kafka)?;
    let live = Arc::new(StreamMetrics { sigma: std::sync::Mutex::new(sigma.as_ref().map(|sg| sg.summary.clone())), ..Default::default() });
    let metrics_addr = serve_metrics(pipeline, &live, &stop)?;

    let mut engine = EmbeddedBatches {
        app_id: resume.pipeline_id.clone(),
        rows_per_file: pipeline.settings.rows_per_file,
        stages: Stages {
            parsers,
            sources: source.partitions().iter().map(|p| p.source_name()).collect(),
            sql: pipeline.transform.iter().map(|t| t.sql.clone()).collect(),
            sweeper: None,
            sweeper_fields,
            content: content.map(|a| (a, VerdictCache::new(CONTENT_CACHE_HOSTS))),
            window,
            sigma: sigma.clone().map(|sg| (sg, correlator)),
            alerts_wanted: producer.is_some(),
        },
        tables,
        intel_sink,
        lake,
        session: SessionContext::new(),
        runtime,
    };
    let context = StreamContext {
        spec: kafka,
        checkpoint_dir,
        checkpoint: &ckpt,
        resume,
        source,
        planning: Planning::Poll,
        stop_when_drained: pipeline.stream.stop_when_drained,
        producer,
        live,
        metrics_addr,
        counters: &counters,
        stop,
        intel,
    };
    let outcome = run_micro_batches(&mut engine, context)?;
    let mut run = outcome.summary;
    run.sigma = sigma.map(|sg| sg.summary.clone());
    if let Some(l) = &outcome.intel {
        run.intel = Some(IntelSummary { suppressed: outcome.suppressed, inactive: outcome.inactive, ..IntelSummary::new(l) });
    }
    Ok(run)
}

/// The embedded engine's part of the micro-batch protocol: parse, SQL, analysers, and the
/// commit of every table.
struct EmbeddedBatches {
    app_id: String,
    rows_per_file: usize,
    stages: Stages,
    tables: Vec<Table>,
    /// Where each intel version is written the first time a batch uses it.
    intel_sink: Option<SinkSpec>,
    /// The lake's lock, held while the stream runs.
    lake: Option<sweep_load::Lake>,
    session: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl EmbeddedBatches {
    /// Sweeps with the batch's intel version: a new sweeper when the version changed, and
    /// the version's indicators in the intel table (once; a file named by the version).
    fn use_intel(&mut self, intel: &BatchIntel) -> Result<(), EngineError> {
        let index = &intel.intel.index;
        if self.stages.sweeper.as_ref().is_some_and(|s| s.index().version() == index.version()) {
            return Ok(());
        }
        if let Some(sink) = &self.intel_sink {
            sweep_runtime::intel::write_intel_version(index, sink)?;
        }
        let fields = self.stages.sweeper_fields.clone().unwrap_or_default();
        self.stages.sweeper = Some(Sweeper::new(index.clone(), fields));
        Ok(())
    }

    fn table_spec(&self, name: &str) -> Option<SinkSpec> {
        self.tables.iter().find(|t| t.name == name).map(|t| match &t.sink {
            TableSink::Delta(d) => SinkSpec::Delta(d.path().to_path_buf()),
            TableSink::Parquet { spec, .. } => spec.clone(),
        })
    }
}

impl MicroBatchEngine for EmbeddedBatches {
    type Error = EngineError;

    fn process_and_commit(&mut self, input: BatchInput<'_>) -> Result<BatchDone, EngineError> {
        let empty = PolledBatch::default();
        // The loop polls every batch it hands this engine (Planning::Poll); an empty batch
        // (the final flush of the windows) has no messages.
        let polled = input.polled.unwrap_or(&empty);
        let planned = input.planned;
        if let Some(intel) = input.intel {
            self.use_intel(intel)?;
        }
        let mut out = process_batch(planned, polled, &mut self.stages, &self.session, &self.runtime)?;
        // The first batch of a new intel version also owes the hits of the indicators it
        // added in the events stored before it; they commit with the batch's own hits.
        let mut retro_hits = 0;
        if let (Some(work), Some(events), Some(hits)) =
            (input.intel.and_then(|i| i.retro.as_ref()), self.table_spec("events"), self.table_spec("hits"))
        {
            let fields = self.stages.sweeper_fields.clone().unwrap_or_default();
            let found = self.runtime.block_on(retro::sweep_stored(&events, &hits, work, &fields, planned.batch))?;
            retro_hits = found.iter().map(|b| b.num_rows() as u64).sum::<u64>();
            if self.stages.alerts_wanted {
                for b in &found {
                    out.alerts.extend(alerts::hit_alerts(b)?);
                }
            }
            out.hits.extend(found);
        }
        let (app_id, rows_per_file, runtime) = (&self.app_id, self.rows_per_file, &self.runtime);
        // The events table is most of the encoding work: it is committed on a thread of its
        // own while the other tables are committed on this one. Each commit is its table's
        // own transaction, tagged with the batch, so their order does not matter.
        // A lake on object storage is held by a lease: a stream that lost it (the store out
        // of reach for longer than the lease) stops before it commits, as a batch run does.
        if let Some(lake) = &self.lake {
            lake.check_held()?;
        }
        let (events_table, other_tables): (Vec<&mut Table>, Vec<&mut Table>) = self.tables.iter_mut().partition(|t| t.name == "events");
        let commit_all = |tables: Vec<&mut Table>| {
            runtime.block_on(async {
                for table in tables {
                    let rows = match table.name {
                        "events" => &out.events,
                        "rejects" => &out.rejects,
                        "hits" => &out.hits,
                        "findings" => &out.findings,
                        "detections" => &out.detections,
                        _ => &out.metrics,
                    };
                    table.commit(app_id, planned.batch, rows, rows_per_file, input.replace).await?;
                }
                Ok::<_, EngineError>(())
            })
        };
        // Whole every few batches, otherwise what this batch changed: the checkpoint's cost
        // follows the batch, not the size of the open windows. It is serialised on this
        // thread while the events table is still being encoded on the other.
        let whole_state = sweep_runtime::checkpoint::full_state_due(planned.batch);
        let window = self.stages.window.as_mut();
        let step = std::time::Instant::now();
        let (commits, window_state, window_state_s) = std::thread::scope(|s| {
            let events = s.spawn(move || commit_all(events_table));
            let others = commit_all(other_tables);
            let state_started = std::time::Instant::now();
            let state = window.map(|w| {
                if whole_state {
                    let state = w.snapshot();
                    w.mark_saved();
                    state
                } else {
                    w.delta_snapshot()
                }
            });
            let state_s = state_started.elapsed().as_secs_f64();
            let events = events.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            ([others, events], state, state_s)
        });
        for result in commits {
            result?;
        }
        let commit_s = step.elapsed().as_secs_f64();
        let rows = |batches: &[RecordBatch]| batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        let mut findings_by_kind = BTreeMap::new();
        for f in &out.findings {
            count_findings(f, &mut findings_by_kind);
        }
        let mut produced: BTreeMap<i64, u64> = BTreeMap::new();
        for ts in polled.messages.iter().filter_map(|m| m.timestamp_ms) {
            *produced.entry(ts).or_default() += 1;
        }
        let t = &out.timings;
        tracing::debug!(
            batch = planned.batch,
            parse_s = t.parse,
            sweep_s = t.sweep,
            analyse_s = t.analyse,
            window_s = t.window,
            commit_s,
            window_state_s,
            window_state_bytes = window_state.as_ref().map_or(0, |s| s.len()),
            "batch processed"
        );
        Ok(BatchDone {
            lines: out.counts.lines,
            events: out.counts.events - out.late,
            rejects: out.counts.rejects + out.late,
            skipped: out.counts.skipped,
            late: out.late,
            hits: rows(&out.hits),
            retro_hits,
            metrics_rows: rows(&out.metrics),
            findings: rows(&out.findings),
            detections: rows(&out.detections),
            findings_by_kind,
            reject_reasons: out.reasons,
            suppressed: out.stats.suppressed,
            inactive: out.stats.inactive,
            alerts: out.alerts,
            window_state,
            window_state_is_delta: !whole_state,
            sigma_state: self.stages.sigma.as_ref().and_then(|(_, c)| c.as_ref()).map(|c| c.snapshot()),
            produced_ms: produced.into_iter().collect(),
        })
    }

    fn has_open_windows(&self) -> bool {
        self.stages.window.as_ref().is_some_and(|w| w.has_open_windows())
            || self.stages.sigma.as_ref().and_then(|(_, c)| c.as_ref()).is_some_and(|c| c.has_pending())
    }

    fn tables(&self) -> BTreeMap<String, TableSummary> {
        self.tables
            .iter()
            .map(|t| {
                let path = match &t.sink {
                    TableSink::Delta(d) => d.path().to_path_buf(),
                    TableSink::Parquet { spec, .. } => spec.path().to_path_buf(),
                };
                (t.name.to_string(), TableSummary { path, rows: t.rows, files: t.files })
            })
            .collect()
    }
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
    let started = std::time::Instant::now();
    let mut out = BatchOutput::default();
    let format = stages.parsers[0].format_name().to_string();
    let parts = message_parts(polled.messages.len(), stages.parsers.len());
    let sources = &stages.sources;
    let parse = |parser: &mut ChunkParser, range: std::ops::Range<usize>| {
        let mut builder = BatchBuilder::new(range.len().max(1), planned.planned_at_us);
        for m in &polled.messages[range] {
            let payload = polled.payload(m);
            let line = payload.strip_suffix(b"\n").unwrap_or(payload);
            let source = &sources[m.partition];
            if line.is_empty() {
                let why = Reject::new(RejectReason::Empty, "the Kafka message has no payload");
                builder.push_reject(payload, &why, Provenance { format: &format, source, offset: m.offset });
            } else {
                parser.parse_message(line, source, m.offset, &mut builder);
            }
        }
        builder.finish()
    };
    // The parts are contiguous and kept in order, so the tables get the rows in the order
    // of a single-threaded parse, and a re-run batch writes the same rows.
    let parsed = on_threads(stages.parsers.iter_mut().zip(parts).collect(), |(parser, range)| parse(parser, range));
    let mut events = Vec::with_capacity(parsed.len());
    for p in parsed {
        out.counts.add(&p.counts);
        count_reasons(&p.rejects, &mut out.reasons);
        out.rejects.push(p.rejects);
        events.push(p.events);
    }
    if !stages.sql.is_empty() {
        events = runtime.block_on(run_sql(session, &stages.sql, events))?;
    }
    out.timings.parse = started.elapsed().as_secs_f64();

    let step = std::time::Instant::now();
    if let Some(sw) = &stages.sweeper {
        let groups = batch_groups(&events, stages.parsers.len());
        let swept = on_threads(groups, |group| {
            let (mut stats, mut scratch) = (MatchStats::default(), Vec::new());
            let hits = group.iter().map(|b| sw.sweep_batch(b, &mut stats, &mut scratch)).collect::<Result<Vec<_>, _>>();
            hits.map(|hits| (hits, stats))
        });
        for part in swept {
            let (hits, stats) = part?;
            out.stats.add(&stats);
            for h in hits {
                if stages.alerts_wanted {
                    out.alerts.extend(alerts::hit_alerts(&h)?);
                }
                out.hits.push(h);
            }
        }
    }

    out.timings.sweep = step.elapsed().as_secs_f64();
    let step = std::time::Instant::now();
    for batch in &events {
        // Before the window analyser, like the sweeper: a late event is still judged.
        if let Some((analyser, cache)) = stages.content.as_mut() {
            out.findings.push(analyser.analyse_cached(batch, cache)?);
        }
        if let Some((sg, correlator)) = stages.sigma.as_mut() {
            let found = sg.analyser.evaluate(batch)?;
            let rows = detections_batch(&sg.analyser, batch, &found, sg.min_level)?;
            if stages.alerts_wanted {
                out.alerts.extend(alerts::detection_alerts(&rows, sg.alert_level)?);
            }
            out.detections.push(rows);
            if let Some(c) = correlator.as_mut() {
                // Every event moves the correlator's watermark, detected or not.
                c.observe(batch, &found)?;
            }
        }
    }
    if let Some((sg, Some(c))) = stages.sigma.as_mut() {
        let matches = if planned.final_flush { c.finish() } else { c.end_batch() };
        let rows = correlation_batch(c, &matches, sg.min_level)?;
        if stages.alerts_wanted {
            out.alerts.extend(alerts::detection_alerts(&rows, sg.alert_level)?);
        }
        out.detections.push(rows);
    }

    out.timings.analyse = step.elapsed().as_secs_f64();
    let step = std::time::Instant::now();
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
    out.timings.window = step.elapsed().as_secs_f64();
    out.events = events;
    Ok(out)
}

/// Splits `len` messages into at most `parts` contiguous ranges, none smaller than a few
/// thousand messages (a thread costs more than parsing a handful of lines).
fn message_parts(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    const MIN_PART: usize = 4096;
    let parts = parts.min(len / MIN_PART).max(1);
    let size = len.div_ceil(parts).max(1);
    (0..parts).map(|i| (i * size).min(len)..((i + 1) * size).min(len)).collect()
}

/// The event batches in at most `parts` contiguous groups of about equal rows, in order.
fn batch_groups(events: &[RecordBatch], parts: usize) -> Vec<&[RecordBatch]> {
    let total: usize = events.iter().map(|b| b.num_rows()).sum();
    let target = total.div_ceil(parts.max(1)).max(1);
    let mut groups = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, b) in events.iter().enumerate() {
        rows += b.num_rows();
        if rows >= target && groups.len() + 1 < parts {
            groups.push(&events[start..=i]);
            (start, rows) = (i + 1, 0);
        }
    }
    if start < events.len() || groups.is_empty() {
        groups.push(&events[start..]);
    }
    groups
}

/// Runs `f` on every item, the first on this thread and the others on threads of their
/// own; the results come back in the items' order.
fn on_threads<I: Send, R: Send>(items: Vec<I>, f: impl Fn(I) -> R + Sync) -> Vec<R> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else { return Vec::new() };
    let rest: Vec<I> = items.collect();
    if rest.is_empty() {
        return vec![f(first)];
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = rest.into_iter().map(|item| s.spawn(move || f(item))).collect();
        let mut results = vec![f(first)];
        results.extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
        results
    })
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

//! The micro-batch protocol, written once for every engine.
//!
//! A stream reads a Kafka topic in micro-batches and commits each exactly once. The loop
//! here does everything but the processing, which the engine does through
//! [`MicroBatchEngine`]. For every batch `n`, in this order:
//!
//! 1. **Plan.** The batch's offset ranges are fixed: what the consumer polled (the
//!    embedded engine, [`Planning::Poll`]) or the end offsets up to `batch_size`
//!    ([`Planning::EndOffsets`], the Spark engine, which reads the ranges itself).
//! 2. **Record the plan.** `offsets/<n>.json` is written (atomically) before any sink sees
//!    the batch. From here on the batch's content is fixed.
//! 3. **Process and commit.** The engine parses, transforms, analyses and commits every
//!    table sink with the batch, tagged by the pipeline id and `n` (a Delta application
//!    transaction, or Parquet file names fixed by `n`), so that doing it again is a no-op.
//!    Batch 0 of a checkpoint made with `--mode overwrite` replaces the tables' rows.
//! 4. **Alerts.** Hits and threshold breaches are sent and acknowledged by the broker.
//! 5. **Commit marker.** The window state, then `commits/<n>.json` with the running
//!    totals, are written atomically. The batch is done.
//! 6. **Group offsets.** The consumer group's offsets are committed, best effort: they
//!    are for monitoring and `start = "committed"`; the checkpoint is the truth.
//!
//! After a crash, a batch with a plan but no commit marker is re-run first over exactly its
//! ranges, from the window state of `n-1`: processing is deterministic, so each sink ends
//! up with the batch once, and alerts are sent at least once. docs/streaming.md states
//! what each sink guarantees.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sweep_kafka::sink::AlertProducer;
use sweep_kafka::source::{PolledBatch, TopicSource};
use sweep_model::{KafkaSourceSpec, Pipeline, SinkSpec, WriteMode};

use crate::checkpoint::{Checkpoint, PlannedBatch, Resume, Totals, WindowState};
use crate::intel::{BatchIntel, StreamIntel};
use crate::metrics::StreamMetrics;
use crate::{LatencyRecorder, RunCounters, RunError, RunSummary, StreamSummary, TableSummary, now_micros};

/// How batches are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// The consumer polls up to `batch_size` messages or for `batch_interval_ms`; the batch
    /// is what arrived, and the engine gets the messages with it.
    Poll,
    /// The batch is the partitions' end offsets, up to `batch_size` messages shared among
    /// them; the engine reads the ranges itself.
    EndOffsets,
}

/// One batch for the engine: its plan, its messages when the loop polled them, whether
/// its commit replaces the tables' earlier rows, and the intel it is swept with.
pub struct BatchInput<'a> {
    pub planned: &'a PlannedBatch,
    /// The messages, in [`Planning::Poll`] (also for a re-run batch); `None` otherwise.
    pub polled: Option<&'a PolledBatch>,
    /// Batch 0 under `--mode overwrite`: the commit replaces the rows the tables held.
    pub replace: bool,
    /// The intel version the batch was planned with, and the retro-sweep of stored events
    /// the batch owes when it is the first of a new version (its retro hits commit with
    /// the batch's own).
    pub intel: Option<&'a BatchIntel>,
}

/// What one batch did, once every table sink holds it.
#[derive(Debug, Default)]
pub struct BatchDone {
    pub lines: u64,
    /// Events written (late events not included).
    pub events: u64,
    /// Rejects written (late events included).
    pub rejects: u64,
    pub skipped: u64,
    pub late: u64,
    pub hits: u64,
    /// Of `hits`, those the retro-sweep of a new intel version found in stored events.
    pub retro_hits: u64,
    pub metrics_rows: u64,
    pub findings: u64,
    pub findings_by_kind: BTreeMap<String, u64>,
    /// Rows of the detections table (Sigma rules).
    pub detections: u64,
    pub reject_reasons: BTreeMap<String, u64>,
    /// Matches held back by the allowlist, and matches of indicators not valid at the time.
    pub suppressed: u64,
    pub inactive: u64,
    /// Kafka messages to send (key, JSON) before the batch's commit marker.
    pub alerts: Vec<(String, Vec<u8>)>,
    /// The window analyser's state after the batch, stored with the commit marker: whole,
    /// or (with `window_state_is_delta`) what the batch changed in it.
    pub window_state: Option<Vec<u8>>,
    pub window_state_is_delta: bool,
    /// The Sigma correlator's state after the batch, for the checkpoint.
    pub sigma_state: Option<Vec<u8>>,
    /// When the batch's messages were produced: (milliseconds since the epoch, messages).
    pub produced_ms: Vec<(i64, u64)>,
}

/// What an engine does in the micro-batch protocol: step 3, and what it keeps between batches.
pub trait MicroBatchEngine {
    type Error: From<RunError>;

    /// Step 3: processes the batch and commits it to every table sink, exactly once.
    fn process_and_commit(&mut self, batch: BatchInput<'_>) -> Result<BatchDone, Self::Error>;

    /// Called once the batch's commit marker is written (the window state it returned is
    /// now the one to resume from).
    fn committed(&mut self, _batch: u64) {}

    /// True while windows are open: at the end of the input (`stop_when_drained`) an empty
    /// batch makes them final.
    fn has_open_windows(&self) -> bool {
        false
    }

    /// The tables written so far by this process.
    fn tables(&self) -> BTreeMap<String, TableSummary>;
}

/// Everything the loop needs besides the engine.
pub struct StreamContext<'a> {
    pub spec: &'a KafkaSourceSpec,
    pub checkpoint_dir: PathBuf,
    pub checkpoint: &'a Checkpoint,
    pub resume: Resume,
    pub source: TopicSource,
    pub planning: Planning,
    pub stop_when_drained: bool,
    pub producer: Option<AlertProducer>,
    pub live: Arc<StreamMetrics>,
    /// Where the `/metrics` endpoint was served, for the summary.
    pub metrics_addr: Option<String>,
    pub counters: &'a RunCounters,
    pub stop: Arc<AtomicBool>,
    /// The sweeper's intel, swapped between batches when its sources change.
    pub intel: Option<StreamIntel>,
}

/// The tables of a stream, opened before its first batch: takes the lake's lock (held while
/// the returned [`Lake`] lives, so that no batch run or retro-sweep writes the same tables
/// meanwhile) and applies the write mode once per checkpoint. `overwrite` removes nothing
/// here: the commit of batch 0 replaces the old rows, so a stream that dies before it leaves
/// the tables as they were.
pub fn open_stream_tables(pipeline: &Pipeline, checkpoint: &Checkpoint, tables: &[SinkSpec]) -> Result<Option<sweep_load::Lake>, RunError> {
    let targets: Vec<SinkSpec> = tables.iter().cloned().chain(pipeline.load.sink("intel")).collect();
    let root = sweep_load::lake_root(pipeline.load.dir.as_deref(), &targets);
    let lake = root.map(|root| sweep_load::Lake::open(&root)).transpose()?;
    if !checkpoint.tables_prepared() {
        let overwrite = pipeline.load.mode == WriteMode::Overwrite;
        for sink in tables {
            let mode = if overwrite { WriteMode::Append } else { pipeline.load.mode };
            sweep_load::prepare_table_dir(sink.path(), mode)?;
        }
        // The intel table keeps every version the stream's batches were swept with, so any
        // hit can be explained; a table from before this checkpoint is replaced.
        if let (Some(intel), Some(_)) = (pipeline.load.sink("intel"), pipeline.sweeper()) {
            sweep_load::prepare_table_dir(intel.path(), WriteMode::Overwrite)?;
        }
        checkpoint.mark_tables_prepared(overwrite)?;
    }
    Ok(lake)
}

/// Serves the stream's `/metrics` when the pipeline asks for it; returns the address bound.
pub fn serve_metrics(pipeline: &Pipeline, live: &Arc<StreamMetrics>, stop: &Arc<AtomicBool>) -> Result<Option<String>, RunError> {
    match &pipeline.stream.metrics_addr {
        Some(addr) => Ok(Some(crate::metrics::serve(addr, live.clone(), stop.clone())?.to_string())),
        None => Ok(None),
    }
}

/// What the loop hands back: the run's summary (counts since the checkpoint was made, the
/// stream section filled) and the allowlist and validity counts of this process.
pub struct StreamOutcome {
    pub summary: RunSummary,
    pub suppressed: u64,
    pub inactive: u64,
    /// The intel version in use when the run ended.
    pub intel: Option<Arc<sweep_sweeper::LoadedIntel>>,
}

/// Runs the micro-batch protocol until `stop` is raised or, with `stop_when_drained`, until
/// the topic is read to its end.
pub fn run_micro_batches<E: MicroBatchEngine>(engine: &mut E, mut ctx: StreamContext<'_>) -> Result<StreamOutcome, E::Error> {
    let started = Instant::now();
    let sources: Vec<String> = ctx.source.partitions().iter().map(|p| p.source_name()).collect();
    let mut state = LoopState {
        totals: ctx.resume.totals.clone(),
        summary: StreamSummary {
            checkpoint: ctx.checkpoint_dir.clone(),
            metrics_addr: ctx.metrics_addr.take(),
            counts_since_checkpoint: true,
            ..StreamSummary::default()
        },
        latency: LatencyRecorder::default(),
        suppressed: 0,
        inactive: 0,
    };
    let lines_before = state.totals.lines;
    // /metrics shows the checkpoint's totals from the start, not zeros until a first batch.
    ctx.live.set_totals(&state.totals);
    if let Some(intel) = &ctx.intel {
        let mut m = ctx.live.intel.lock().unwrap_or_else(|e| e.into_inner());
        m.sources = Some(intel.source_stats_handle());
        m.retro_hits = state.totals.retro_hits;
        m.retro_parts_pending = intel.retro_pending() as u64;
        m.version = intel.current().index.version().to_string();
        m.indicators = intel.current().index.len() as u64;
    }
    let mut next_batch = ctx.resume.committed.map_or(0, |c| c + 1);

    // A batch planned but not committed before a crash is re-run first, over the same offsets.
    let mut positions = match ctx.resume.unfinished.take() {
        Some(planned) => {
            let from = offsets_for(&sources, &planned.from, planned.batch)?;
            let until = offsets_for(&sources, &planned.until, planned.batch)?;
            let polled = match ctx.planning {
                Planning::Poll => {
                    let polled = ctx.source.read_range(&from, &until, planned.batch, &ctx.stop).map_err(RunError::from)?;
                    if ctx.stop.load(Ordering::Relaxed) && polled.len() < expected_len(&from, &until) {
                        return Err(RunError::Refused(
                            "stopped while re-running an unfinished batch; it will be re-run on the next start".into(),
                        )
                        .into());
                    }
                    Some(polled)
                }
                Planning::EndOffsets => None,
            };
            let committed = state.commit_batch(engine, &mut ctx.split().2, &planned, polled.as_ref())?;
            update_lag(&ctx.source, &until, &ctx.live);
            state.report(&ctx, committed);
            state.summary.replayed_batches += 1;
            next_batch = planned.batch + 1;
            if planned.final_flush {
                state.summary.stopped_by = "drained".into();
            }
            until
        }
        None => {
            let start = match &ctx.resume.next_from {
                Some(from) => offsets_or_start(&ctx.source, &sources, from)?,
                None => ctx.source.start_offsets().map_err(RunError::from)?,
            };
            if ctx.planning == Planning::Poll {
                ctx.source.seek(&start).map_err(RunError::from)?;
            }
            start
        }
    };

    let mut prefetched: Option<Prefetched> = None;
    while state.summary.stopped_by.is_empty() {
        if ctx.stop.load(Ordering::Relaxed) {
            state.summary.stopped_by = "signal".into();
            break;
        }
        // Step 1: plan.
        let (from, until, polled, drained, high) = match ctx.planning {
            Planning::Poll => {
                let Prefetched { from, until, polled } = match prefetched.take() {
                    Some(p) => p,
                    None => {
                        let from = ctx.source.positions().to_vec();
                        let polled = ctx.source.next_batch(&ctx.stop).map_err(RunError::from)?;
                        Prefetched { from, until: ctx.source.positions().to_vec(), polled }
                    }
                };
                let drained = ctx.stop_when_drained && polled.is_empty() && is_drained(&ctx.source);
                if polled.is_empty() && !drained && !intel_ready(&mut ctx) {
                    update_lag(&ctx.source, ctx.source.positions(), &ctx.live);
                    continue;
                }
                (from, until, Some(polled), drained, None)
            }
            Planning::EndOffsets => {
                let marks = match ctx.source.watermarks() {
                    Ok(marks) => marks,
                    // The broker is away: librdkafka reconnects; try again after a pause.
                    Err(e) => {
                        eprintln!("sweep: warning: {e}; retrying");
                        pause(&ctx.stop, Duration::from_millis(ctx.spec.batch_interval_ms.max(500)));
                        continue;
                    }
                };
                // Messages removed by retention before they were read are gone; start at the first held.
                let from: Vec<i64> = positions.iter().zip(&marks).map(|(p, (low, _))| (*p).max(*low)).collect();
                let high: Vec<i64> = marks.iter().map(|(_, high)| *high).collect();
                let until = plan_until(&from, &high, ctx.spec.batch_size.max(1));
                ctx.live.lag.store(lag(&from, &high), Ordering::Relaxed);
                let drained = until == from && ctx.stop_when_drained;
                if until == from && !drained && !intel_ready(&mut ctx) {
                    pause(&ctx.stop, Duration::from_millis(ctx.spec.batch_interval_ms.max(100)));
                    continue;
                }
                (from, until, None, drained, Some(high))
            }
        };
        // At the end of the input an empty batch makes every open window final, or applies
        // `--mode overwrite` if no batch did yet; otherwise the run ends here.
        let flush = drained && (engine.has_open_windows() || ctx.checkpoint.replaces_tables(next_batch));
        if drained && !flush {
            state.summary.stopped_by = "drained".into();
            break;
        }
        // A new intel version is taken here, between two batches, and recorded in the plan
        // with the part of a retro-sweep the batch does.
        let planned_at_us = now_micros();
        let from = keyed(&sources, &from);
        let intel = match ctx.intel.as_mut() {
            Some(intel) => Some(intel.plan_next(ctx.checkpoint, next_batch, &from, planned_at_us)?),
            None => None,
        };
        let planned = PlannedBatch {
            batch: next_batch,
            from,
            until: keyed(&sources, &until),
            planned_at_us,
            final_flush: flush,
            intel_version: intel.as_ref().map(|i| i.intel_version.clone()),
            retro_from_version: intel.as_ref().and_then(|i| i.retro_from_version.clone()),
            retro_part: intel.as_ref().and_then(|i| i.retro_part),
            retro_queue: intel.map(|i| i.retro_queue).unwrap_or_default(),
            retro_in_parts: true,
        };
        // Step 2: the plan is recorded before any sink sees the batch.
        ctx.checkpoint.plan(&planned).map_err(E::Error::from)?;
        // Steps 3 to 5, while the next batch is polled: its messages are only read here, and
        // planned (recorded) once this batch is committed. A crash or stop meanwhile loses
        // nothing: the next start polls them again from this batch's end.
        let prefetch = ctx.planning == Planning::Poll && !flush;
        let (source, stop, mut batch_ctx) = ctx.split();
        let (committed, next) = std::thread::scope(|s| {
            let poller = prefetch.then(|| {
                s.spawn(move || {
                    let polled = source.next_batch(stop);
                    polled.map(|polled| (polled, source.positions().to_vec()))
                })
            });
            let committed = state.commit_batch(engine, &mut batch_ctx, &planned, polled.as_ref());
            (committed, poller.map(|p| p.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))))
        });
        let committed = committed?;
        if let Some(next) = next {
            let (polled, next_until) = next.map_err(RunError::from)?;
            prefetched = Some(Prefetched { from: until.clone(), until: next_until, polled });
        }
        next_batch += 1;
        positions = until;
        // The lag first, so that whoever sees the batch's lines in /metrics sees its lag too.
        match &high {
            Some(high) => ctx.live.lag.store(lag(&positions, high), Ordering::Relaxed),
            None => update_lag(&ctx.source, &positions, &ctx.live),
        }
        state.report(&ctx, committed);
        // Step 6, best effort.
        if let Err(e) = ctx.source.commit(&positions) {
            eprintln!("sweep: warning: {e} (the checkpoint is unaffected; retrying after the next batch)");
        }
        if flush {
            state.summary.stopped_by = "drained".into();
        }
    }

    // The group's offsets are committed without waiting during the run; the last one is
    // waited for, so that the group is current once the run has ended.
    if state.summary.batches > 0
        && let Err(e) = ctx.source.commit_and_wait(&positions)
    {
        eprintln!("sweep: warning: {e} (the checkpoint is unaffected)");
    }
    let LoopState { totals, mut summary, latency, suppressed, inactive } = state;
    summary.lag = ctx.live.lag.load(Ordering::Relaxed);
    summary.retro_hits = totals.retro_hits;
    if let Some(intel) = &ctx.intel {
        summary.intel_sources = intel.source_stats();
    }
    summary.late_events = totals.late;
    summary.alerts = totals.alerts;
    (summary.produce_to_commit_p50_s, summary.produce_to_commit_p99_s, summary.produce_to_commit_max_s) =
        (latency.quantile(0.5), latency.quantile(0.99), latency.max());
    let mut run = RunSummary { elapsed_s: started.elapsed().as_secs_f64(), ..totals.summary() };
    // Throughput of this process, not of earlier runs on the same checkpoint.
    run.lines_per_second = (run.input_lines - lines_before) as f64 / run.elapsed_s.max(1e-9);
    run.tables = engine.tables();
    run.stream = Some(summary);
    let intel = ctx.intel.as_ref().map(|i| i.current().clone());
    Ok(StreamOutcome { summary: run, suppressed, inactive, intel })
}

/// The parts of the [`StreamContext`] that steps 3 to 5 use: everything but the source,
/// which polls the next batch meanwhile.
struct BatchCtx<'c, 'a> {
    checkpoint: &'a Checkpoint,
    intel: &'c mut Option<StreamIntel>,
    producer: &'c mut Option<AlertProducer>,
    live: &'c Arc<StreamMetrics>,
}

impl<'a> StreamContext<'a> {
    /// The source, the stop flag, and the rest for [`LoopState::commit_batch`].
    fn split(&mut self) -> (&mut TopicSource, &AtomicBool, BatchCtx<'_, 'a>) {
        let rest = BatchCtx { checkpoint: self.checkpoint, intel: &mut self.intel, producer: &mut self.producer, live: &self.live };
        (&mut self.source, &self.stop, rest)
    }
}

/// A batch polled while the one before it was processed ([`Planning::Poll`]): its first
/// offsets, the positions after it, and its messages.
struct Prefetched {
    from: Vec<i64>,
    until: Vec<i64>,
    polled: PolledBatch,
}

/// What the loop carries from batch to batch.
struct LoopState {
    totals: Totals,
    summary: StreamSummary,
    latency: LatencyRecorder,
    suppressed: u64,
    inactive: u64,
}

impl LoopState {
    /// Steps 3 to 5 for one planned batch; returns the batch's lines and how long it took,
    /// for [`LoopState::report`].
    fn commit_batch<E: MicroBatchEngine>(
        &mut self,
        engine: &mut E,
        ctx: &mut BatchCtx<'_, '_>,
        planned: &PlannedBatch,
        polled: Option<&PolledBatch>,
    ) -> Result<(u64, f64), E::Error> {
        let batch_started = Instant::now();
        let replace = ctx.checkpoint.replaces_tables(planned.batch);
        let intel = ctx.intel.as_mut().map(|i| i.for_batch(ctx.checkpoint, planned)).transpose()?;
        let done = engine.process_and_commit(BatchInput { planned, polled, replace, intel: intel.as_ref() })?;

        // Step 4: alerts go out after the tables hold the batch and before its commit
        // marker: at least once (a re-run batch sends its alerts again).
        let mut sent = 0;
        if let Some(producer) = ctx.producer.as_mut() {
            for (key, json) in &done.alerts {
                producer.send(key, json).map_err(RunError::from)?;
            }
            sent = producer.flush(Duration::from_secs(60)).map_err(RunError::from)?;
        }

        let totals = &mut self.totals;
        totals.lines += done.lines;
        totals.events += done.events;
        totals.rejects += done.rejects;
        totals.skipped += done.skipped;
        totals.late += done.late;
        totals.hits += done.hits;
        totals.retro_hits += done.retro_hits;
        totals.metrics_rows += done.metrics_rows;
        totals.findings += done.findings;
        totals.detections += done.detections;
        totals.alerts += sent;
        for (kind, n) in &done.findings_by_kind {
            *totals.findings_by_kind.entry(kind.clone()).or_default() += n;
        }
        for (reason, n) in &done.reject_reasons {
            *totals.reject_reasons.entry(reason.clone()).or_default() += n;
        }
        // Step 5: the commit marker.
        let window =
            done.window_state.as_deref().map(|s| if done.window_state_is_delta { WindowState::Delta(s) } else { WindowState::Full(s) });
        let marker_started = Instant::now();
        ctx.checkpoint.commit(planned, totals, window, done.sigma_state.as_deref())?;
        engine.committed(planned.batch);
        let marker_s = marker_started.elapsed().as_secs_f64();

        // Committed: everything below is reporting.
        tracing::debug!(
            batch = planned.batch,
            lines = done.lines,
            hits = done.hits,
            seconds = batch_started.elapsed().as_secs_f64(),
            marker_s,
            "batch committed"
        );
        self.summary.batches += 1;
        if let (Some(stream_intel), Some(batch_intel)) = (&ctx.intel, &intel) {
            let mut m = ctx.live.intel.lock().unwrap_or_else(|e| e.into_inner());
            let version = batch_intel.intel.index.version();
            if m.version != version {
                if !m.version.is_empty() {
                    m.swaps += 1;
                }
                m.version = version.to_string();
                m.indicators = batch_intel.intel.index.len() as u64;
                m.build_seconds = stream_intel.last_build_s();
                m.swap_batch_seconds = batch_started.elapsed().as_secs_f64();
            }
            m.retro_hits = totals.retro_hits;
            m.retro_parts_pending = stream_intel.retro_pending() as u64;
            m.sources.get_or_insert_with(|| stream_intel.source_stats_handle());
            if planned.retro_from_version.is_some() {
                self.summary.intel_swaps += 1;
            }
            if planned.retro_part.is_some() {
                self.summary.retro_parts += 1;
            }
        }
        self.suppressed += done.suppressed;
        self.inactive += done.inactive;
        let committed_ms = now_micros() / 1000;
        let mut histogram = ctx.live.produce_to_commit_seconds.lock().unwrap_or_else(|e| e.into_inner());
        for (produced_ms, n) in &done.produced_ms {
            let took = (committed_ms - produced_ms).max(0) as f64 / 1000.0;
            histogram.observe(took, *n);
            self.latency.observe_times(took, *n);
        }
        drop(histogram);
        Ok((done.lines, batch_started.elapsed().as_secs_f64()))
    }

    /// Publishes a committed batch to `/metrics` and the progress counters.
    fn report(&self, ctx: &StreamContext<'_>, (lines, seconds): (u64, f64)) {
        let totals = &self.totals;
        ctx.live.batch_committed(totals, lines, seconds);
        ctx.counters.lines.store(totals.lines, Ordering::Relaxed);
        ctx.counters.events.store(totals.events, Ordering::Relaxed);
        ctx.counters.rejects.store(totals.rejects, Ordering::Relaxed);
    }
}

/// True when a new intel version waits to be planned with, or a retro-sweep has parts
/// left: an idle stream plans an empty batch for them.
fn intel_ready(ctx: &mut StreamContext<'_>) -> bool {
    ctx.intel.as_mut().is_some_and(|i| i.retro_pending() > 0 || i.update_ready())
}

/// The offsets of a batch's partitions by source name (`kafka:<topic>/<partition>`).
fn keyed(sources: &[String], offsets: &[i64]) -> BTreeMap<String, i64> {
    sources.iter().cloned().zip(offsets.iter().copied()).collect()
}

/// A checkpointed batch's offsets in partition order. A partition added since the batch was
/// planned had no messages in it; a partition the topic no longer has means the topic was
/// recreated, which the checkpoint cannot follow.
fn offsets_for(sources: &[String], keyed: &BTreeMap<String, i64>, batch: u64) -> Result<Vec<i64>, RunError> {
    let gone: Vec<&String> = keyed.keys().filter(|k| !sources.contains(k)).collect();
    if !gone.is_empty() {
        return Err(RunError::Checkpoint(format!(
            "batch {batch} read partitions that the topic no longer has ({gone:?}); the topic was recreated: use a new checkpoint folder"
        )));
    }
    Ok(sources.iter().map(|s| keyed.get(s).copied().unwrap_or(0).max(0)).collect())
}

/// Where to continue: the checkpoint's offsets, and the start position for new partitions.
fn offsets_or_start(source: &TopicSource, sources: &[String], keyed: &BTreeMap<String, i64>) -> Result<Vec<i64>, RunError> {
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

/// The lag behind the partitions' end offsets from `positions`, as of the consumer's last
/// fetch responses: no request, so an idle partition costs nothing here. Left as it was
/// until every partition has been fetched once.
fn update_lag(source: &TopicSource, positions: &[i64], live: &StreamMetrics) {
    let high: Option<Vec<i64>> = source.cached_high_watermarks().into_iter().collect();
    if let Some(high) = high {
        live.lag.store(lag(positions, &high), Ordering::Relaxed);
    }
}

/// The end of a batch that starts at `from`: up to `limit` messages, shared evenly among the
/// partitions that have messages left below `high`.
fn plan_until(from: &[i64], high: &[i64], limit: usize) -> Vec<i64> {
    let mut until = from.to_vec();
    let mut left = limit as i64;
    loop {
        let open: Vec<usize> = (0..from.len()).filter(|&p| until[p] < high[p]).collect();
        if open.is_empty() || left <= 0 {
            return until;
        }
        let share = (left / open.len() as i64).max(1);
        for p in open {
            let take = share.min(high[p] - until[p]).min(left);
            until[p] += take;
            left -= take;
        }
    }
}

fn lag(positions: &[i64], high: &[i64]) -> u64 {
    positions.iter().zip(high).map(|(p, h)| (h - p).max(0) as u64).sum()
}

/// Sleeps for `how_long`, waking early when `stop` is raised.
fn pause(stop: &AtomicBool, how_long: Duration) {
    let until = Instant::now() + how_long;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_what_the_partitions_hold_up_to_the_limit() {
        assert_eq!(plan_until(&[0, 0], &[10, 10], 100), vec![10, 10]);
        assert_eq!(plan_until(&[0, 0], &[10, 10], 10), vec![5, 5]);
        // What one partition does not use goes to the other.
        assert_eq!(plan_until(&[0, 8], &[100, 10], 10), vec![8, 10]);
        assert_eq!(plan_until(&[5, 5], &[5, 5], 10), vec![5, 5]);
        // An odd limit is used to the last message.
        assert_eq!(plan_until(&[0, 0, 0], &[10, 10, 10], 7), vec![3, 2, 2]);
        assert_eq!(plan_until(&[0], &[3], 1), vec![1]);
    }

    #[test]
    fn lag_is_what_is_left_behind() {
        assert_eq!(lag(&[3, 10], &[5, 10]), 2);
    }

    #[test]
    fn a_checkpointed_batch_maps_to_the_partitions_it_read() {
        let sources = vec!["kafka:t/0".to_string(), "kafka:t/1".to_string()];
        let keyed = BTreeMap::from([("kafka:t/0".to_string(), 7)]);
        assert_eq!(offsets_for(&sources, &keyed, 3).unwrap(), vec![7, 0]);
        let gone = BTreeMap::from([("kafka:t/2".to_string(), 7)]);
        let err = offsets_for(&sources, &gone, 3).unwrap_err().to_string();
        assert!(err.contains("batch 3") && err.contains("new checkpoint folder"), "{err}");
    }
}

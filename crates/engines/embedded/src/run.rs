//! One batch run of a pipeline: extract → transform → load.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use sweep_content::{VerdictCache, findings_schema};
use sweep_extract::{ChunkReader, Input, resolve_inputs};
use sweep_formats::{BatchBuilder, ChunkParser, LineCounts, events_schema, rejects_schema};
use sweep_intel::index::MatchStats;
use sweep_load::{InputRecord, Lake, SinkSpec, TableWriter, lake_root, run_id};
use sweep_model::Pipeline;
use sweep_sigma::{CorrelationMode, correlation_batch, detections_batch, detections_schema};

use sweep_runtime::intel::load_intel;
use sweep_runtime::{IntelSummary, RunCounters, RunSummary, TableSummary, check_gates, now_micros, run_warnings};
use sweep_sweeper::{Sweeper, hits_schema, intel_schema};

use crate::EngineError;
use crate::window::{Mode, WindowAnalyser, metrics_schema};

struct Work {
    chunk: sweep_extract::Chunk,
    extract: usize,
}

/// Everything a parser thread reports when it is done.
#[derive(Default)]
struct ParserReport {
    counts: LineCounts,
    reasons: BTreeMap<String, u64>,
    rejects: Option<(u64, Vec<PathBuf>)>,
}

/// Runs a pipeline to completion on this machine.
pub fn run(pipeline: &Pipeline, counters: Arc<RunCounters>) -> Result<RunSummary, EngineError> {
    run_until(pipeline, counters, Arc::new(AtomicBool::new(false)))
}

/// Runs a pipeline; raising `interrupt` stops reading and ends the run with
/// [`RunError::Interrupted`](sweep_runtime::RunError::Interrupted), committing nothing.
pub fn run_until(pipeline: &Pipeline, counters: Arc<RunCounters>, interrupt: Arc<AtomicBool>) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    pipeline.validate().map_err(|m| EngineError::refused(format!("invalid pipeline: {m}")))?;

    // Extract: resolve every input before writing anything, so a typo fails fast.
    let mut inputs: Vec<(Input, usize)> = Vec::new();
    for (i, e) in pipeline.extract.iter().enumerate() {
        for input in resolve_inputs(&e.input_args())? {
            inputs.push((input, i));
        }
    }
    // Build each format once up front: bad options fail before any table is touched.
    for e in &pipeline.extract {
        ChunkParser::new(&e.format)?;
    }

    // Analyse: load the indicators before any table is touched (a bad feed fails fast).
    let sweeper_spec = pipeline.sweeper();
    let window_spec = pipeline.window().cloned();
    if let Some(spec) = &window_spec {
        WindowAnalyser::new(spec.clone(), Mode::Batch)?;
    }
    let loaded = sweeper_spec.map(|s| load_intel(s, pipeline.intel.cache.as_deref())).transpose()?;
    let sweeper = loaded.as_ref().zip(sweeper_spec).map(|(l, spec)| Sweeper::new(l.index.clone(), spec.fields.clone()));
    let content = sweep_runtime::content_analyser(pipeline)?;
    let sigma = sweep_runtime::sigma::sigma_stage(pipeline)?;

    // The tables as the user named them; writers get staging folders of the lake instead.
    let events_target = pipeline.load.sink("events");
    let rejects_target = pipeline.load.sink("rejects");
    let hits_target = sweeper.as_ref().and_then(|_| pipeline.load.sink("hits"));
    let metrics_target = window_spec.as_ref().and_then(|_| pipeline.load.sink("metrics"));
    let findings_target = content.as_ref().and_then(|_| pipeline.load.sink("findings"));
    let detections_target = sigma.as_ref().and_then(|_| pipeline.load.sink("detections"));
    let intel_target = loaded.as_ref().and_then(|_| pipeline.load.sink("intel"));
    let targets: Vec<SinkSpec> =
        [&events_target, &rejects_target, &hits_target, &metrics_target, &findings_target, &detections_target, &intel_target]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
    // One journal and one lock for every table of the run: all of them commit, or none.
    let lake = lake_root(pipeline.load.dir.as_deref(), &targets).map(|root| Lake::open(&root)).transpose()?;
    let mut summary = RunSummary::default();
    if let Some(lake) = &lake {
        summary.recovered_runs = lake.recovery().rolled_forward.clone();
    }

    // The ledger: inputs an earlier run committed unchanged are skipped (append and the
    // default mode), unless the user asks for a reload.
    let mut ledger = Vec::new();
    if let Some(lake) = &lake {
        let records = inputs
            .iter()
            .filter_map(|(input, _)| match input {
                Input::File(p) => Some(InputRecord::of_file(p)),
                Input::Object(o) => Some(Ok(InputRecord::of_object(&o.url, o.size, o.modified_ns, o.etag.as_deref()))),
                Input::Stdin => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        let selection = lake.select_records(records, pipeline.load.mode, pipeline.load.reload)?;
        let mut keep = selection.load.into_iter();
        inputs.retain(|(input, _)| matches!(input, Input::Stdin) || keep.next().unwrap_or(true));
        ledger = selection.records;
        summary.warnings.extend(selection.warnings);
        summary.inputs_skipped = selection.skipped;
        if inputs.is_empty() && !summary.inputs_skipped.is_empty() {
            // Everything was loaded before: a re-run of a finished job is a no-op.
            summary.elapsed_s = started.elapsed().as_secs_f64();
            return Ok(summary);
        }
    }
    let input_bytes: u64 = inputs.iter().filter_map(|(i, _)| i.size()).sum();
    let input_files = inputs.len();
    counters.bytes_total.store(input_bytes, Ordering::Relaxed);

    let run = run_id();
    let mut txn = lake.as_ref().map(|l| l.begin(&run, pipeline.load.mode)).transpose()?;
    let mut stage =
        |name: &str, target: &Option<SinkSpec>, schema: SchemaRef, by_date: bool, replace: bool| -> Result<Option<SinkSpec>, EngineError> {
            match (target, txn.as_mut()) {
                (Some(t), Some(txn)) => Ok(Some(txn.stage(name, t, schema, by_date, replace)?)),
                _ => Ok(None),
            }
        };
    let rejects_sink = stage("rejects", &rejects_target, rejects_schema(), false, false)?;
    let hits_sink = stage("hits", &hits_target, hits_schema(), false, false)?;
    let metrics_sink = stage("metrics", &metrics_target, metrics_schema(), false, false)?;
    let findings_sink = stage("findings", &findings_target, findings_schema(), false, false)?;
    let detections_sink = stage("detections", &detections_target, detections_schema(), false, false)?;
    // The intel table is the run's index; a table that holds exactly it already is kept.
    let intel_current = match (&loaded, &intel_target) {
        (Some(l), Some(target)) => sweep_runtime::intel::intel_table_holds_only(target, l.index.version()),
        _ => false,
    };
    if !intel_current && let (Some(l), Some(sink)) = (&loaded, stage("intel", &intel_target, intel_schema(), false, true)?) {
        sweep_runtime::intel::write_intel_files(&l.index, &sink)?;
    }

    let threads = match pipeline.settings.threads {
        0 => thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Work>(threads * 2);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("sweep-df")
        .build()
        .map_err(EngineError::runtime)?;

    // One events stream per parser thread: the partitions of the DataFusion source table.
    let mut event_txs = Vec::with_capacity(threads);
    let mut partitions: Vec<Arc<dyn PartitionStream>> = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (tx, rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        event_txs.push(tx);
        partitions.push(Arc::new(ParsedPartition { schema: events_schema(), rx: Mutex::new(Some(rx)) }));
    }

    // Plan the transform stages before reading: a SQL error fails fast too.
    let config = SessionConfig::new().with_target_partitions(threads).with_batch_size(64 * 1024);
    let ctx = SessionContext::new_with_config(config);
    let plan = runtime.block_on(async {
        let table = StreamingTable::try_new(events_schema(), partitions)?;
        ctx.register_table("events", Arc::new(table))?;
        let mut df = ctx.table("events").await?;
        for (i, stage) in pipeline.transform.iter().enumerate() {
            ctx.deregister_table("events")?;
            ctx.register_table("events", df.into_view())?;
            df = ctx.sql(&stage.sql).await.map_err(|source| EngineError::Sql { stage: i, source })?;
        }
        Ok::<_, EngineError>(df)
    })?;
    let events_sink = stage("events", &events_target, Arc::new(plan.schema().as_arrow().clone()), true, false)?;
    if let Some(c) = &content {
        // An empty batch of the plan's schema checks the columns the analyser reads, so a SQL
        // stage that drops one fails here and not after the input is read.
        c.analyse(&RecordBatch::new_empty(Arc::new(plan.schema().as_arrow().clone())))?;
    }
    if let Some(sg) = &sigma {
        sg.analyser.evaluate(&RecordBatch::new_empty(Arc::new(plan.schema().as_arrow().clone())))?;
    }
    // Correlations see the detections of every partition: one correlator behind a lock
    // (detections are rare, so the lock is too).
    let correlator = sigma.as_ref().and_then(|sg| sg.correlator(CorrelationMode::Batch)).map(|c| Arc::new(Mutex::new(c)));

    // Extract: one reader thread feeds chunks to the parsers in file order.
    let reader = {
        let stop = stop.clone();
        let interrupt = interrupt.clone();
        let counters = counters.clone();
        let specs: Vec<_> = pipeline.extract.iter().map(|e| e.format.clone()).collect();
        let chunk_bytes = pipeline.settings.chunk_bytes;
        let max_line = pipeline.settings.max_line_bytes;
        thread::Builder::new()
            .name("sweep-read".into())
            .spawn(move || -> Result<(), EngineError> {
                let byte_counter = Arc::new(AtomicU64::new(0));
                let mut inputs = inputs.into_iter().peekable();
                let mut upcoming = None;
                while let Some((input, extract)) = inputs.next() {
                    let raw = match upcoming.take() {
                        Some(raw) => raw,
                        None => sweep_extract::open_raw(&input)?,
                    };
                    // The next object starts downloading while this input is read, so the
                    // store's latency is not paid once per object.
                    if let Some((next @ Input::Object(_), _)) = inputs.peek() {
                        upcoming = Some(sweep_extract::open_raw(next)?);
                    }
                    let directive = specs[extract].header_directive();
                    let mut reader =
                        ChunkReader::from_raw(raw, &input, chunk_bytes, directive, byte_counter.clone())?.with_max_line_bytes(max_line);
                    while let Some(chunk) = reader.next_chunk()? {
                        counters.bytes_read.store(byte_counter.load(Ordering::Relaxed), Ordering::Relaxed);
                        let halted = stop.load(Ordering::Relaxed) || interrupt.load(Ordering::Relaxed);
                        if halted || chunk_tx.send(Work { chunk, extract }).is_err() {
                            return Ok(());
                        }
                    }
                }
                counters.bytes_read.store(byte_counter.load(Ordering::Relaxed), Ordering::Relaxed);
                Ok(())
            })
            .map_err(EngineError::runtime)?
    };

    // Transform: parser threads turn chunks into event and reject batches.
    let mut parsers = Vec::with_capacity(threads);
    for (worker, events_tx) in event_txs.into_iter().enumerate() {
        let rx = chunk_rx.clone();
        let counters = counters.clone();
        let stop = stop.clone();
        let specs: Vec<_> = pipeline.extract.iter().map(|e| e.format.clone()).collect();
        let max_line = pipeline.settings.max_line_bytes;
        let rows_per_file = pipeline.settings.rows_per_file;
        let rejects_writer = match &rejects_sink {
            Some(sink) => {
                Some(TableWriter::new("rejects", sink, rejects_schema(), false, format!("part-{run}-{worker:02}"), rows_per_file)?)
            }
            None => None,
        };
        let handle = thread::Builder::new()
            .name(format!("sweep-parse-{worker}"))
            .spawn(move || parse_worker(rx, specs, max_line, events_tx, rejects_writer, counters, stop))
            .map_err(EngineError::runtime)?;
        parsers.push(handle);
    }
    drop(chunk_rx);

    // Load: one events writer (and one hits writer) per output partition of the plan.
    let written = runtime.block_on(async {
        let streams = plan.execute_stream_partitioned().await?;
        let mut tasks = Vec::new();
        for (i, mut stream) in streams.into_iter().enumerate() {
            let prefix = format!("part-{run}-{i:02}");
            let rows_per_file = pipeline.settings.rows_per_file;
            let mut writer = match &events_sink {
                Some(sink) => Some(TableWriter::new("events", sink, stream.schema(), true, prefix.clone(), rows_per_file)?),
                None => None,
            };
            let mut hits_writer = match &hits_sink {
                Some(sink) => Some(TableWriter::new("hits", sink, hits_schema(), false, prefix.clone(), rows_per_file)?),
                None => None,
            };
            let mut findings_writer = match &findings_sink {
                Some(sink) => Some(TableWriter::new("findings", sink, findings_schema(), false, prefix.clone(), rows_per_file)?),
                None => None,
            };
            let mut detections_writer = match &detections_sink {
                Some(sink) => Some(TableWriter::new("detections", sink, detections_schema(), false, prefix.clone(), rows_per_file)?),
                None => None,
            };
            let (sigma, correlator) = (sigma.clone(), correlator.clone());
            // One cache per output partition, owned by its task: no lock between the parallel sinks.
            let mut content = content.clone().map(|a| (a, VerdictCache::new(CONTENT_CACHE_HOSTS)));
            let sweeper = sweeper.clone();
            let mut window = window_spec.clone().map(|spec| WindowAnalyser::new(spec, Mode::Batch)).transpose()?;
            tasks.push(tokio::spawn(async move {
                let mut stats = MatchStats::default();
                let mut scratch = Vec::new();
                let mut findings_by_kind = BTreeMap::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    tokio::task::block_in_place(|| {
                        if let Some(w) = window.as_mut() {
                            w.observe(&batch)?;
                        }
                        if let (Some(sw), Some(hw)) = (&sweeper, hits_writer.as_mut()) {
                            let hits = sw.sweep_batch(&batch, &mut stats, &mut scratch)?;
                            hw.write(&hits)?;
                        }
                        if let (Some((analyser, cache)), Some(fw)) = (content.as_mut(), findings_writer.as_mut()) {
                            let findings = analyser.analyse_cached(&batch, cache)?;
                            count_findings(&findings, &mut findings_by_kind);
                            fw.write(&findings)?;
                        }
                        if let (Some(sg), Some(dw)) = (&sigma, detections_writer.as_mut()) {
                            let found = sg.analyser.evaluate(&batch)?;
                            if !found.is_empty() {
                                dw.write(&detections_batch(&sg.analyser, &batch, &found, sg.min_level)?)?;
                                if let Some(c) = &correlator {
                                    c.lock()
                                        .map_err(|_| EngineError::worker("the correlator's lock is poisoned"))?
                                        .observe(&batch, &found)?;
                                }
                            }
                        }
                        if let Some(w) = writer.as_mut() {
                            w.write(&batch)?;
                        }
                        Ok::<_, EngineError>(())
                    })?;
                }
                tokio::task::block_in_place(|| {
                    let mut out = SinkReport { stats, window, findings_by_kind, ..SinkReport::default() };
                    if let Some(w) = writer {
                        out.events_rows = w.rows();
                        out.events_files = w.finish()?;
                    }
                    if let Some(w) = hits_writer {
                        out.hits_rows = w.rows();
                        out.hits_files = w.finish()?.len();
                    }
                    if let Some(w) = findings_writer {
                        out.findings_rows = w.rows();
                        out.findings_files = w.finish()?.len();
                    }
                    if let Some(w) = detections_writer {
                        out.detections_rows = w.rows();
                        out.detections_files = w.finish()?.len();
                    }
                    Ok::<_, EngineError>(out)
                })
            }));
        }
        let mut total = SinkReport::default();
        for t in tasks {
            let r = t.await.map_err(|e| EngineError::worker(e.to_string()))??;
            total.events_rows += r.events_rows;
            total.events_files.extend(r.events_files);
            total.hits_rows += r.hits_rows;
            total.hits_files += r.hits_files;
            total.findings_rows += r.findings_rows;
            total.findings_files += r.findings_files;
            total.detections_rows += r.detections_rows;
            total.detections_files += r.detections_files;
            for (k, v) in r.findings_by_kind {
                *total.findings_by_kind.entry(k).or_default() += v;
            }
            total.stats.add(&r.stats);
            match (&mut total.window, r.window) {
                (Some(all), Some(w)) => all.merge(w)?,
                (all, w) => *all = all.take().or(w),
            }
        }
        Ok::<_, EngineError>(total)
    });
    if written.is_err() {
        stop.store(true, Ordering::Relaxed);
    }

    let mut reports = Vec::new();
    let mut first_error = None;
    for p in parsers {
        match p.join() {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(EngineError::worker("a parser thread panicked"));
            }
        }
    }
    match reader.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            first_error.get_or_insert(e);
        }
        Err(_) => {
            first_error.get_or_insert(EngineError::worker("the reader thread panicked"));
        }
    }
    // A reader error (unreadable file) explains a plan error better than the plan does.
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut written = written?;
    if interrupt.load(Ordering::Relaxed) {
        return Err(EngineError::interrupted(counters.lines.load(Ordering::Relaxed)));
    }
    let (events_rows, events_files) = (written.events_rows, std::mem::take(&mut written.events_files));

    // Every window is final at the end of the input.
    let mut metrics_table = None;
    if let (Some(w), Some(sink)) = (written.window.take(), &metrics_sink) {
        let emitted = w.finish()?;
        let mut writer =
            TableWriter::new("metrics", sink, metrics_schema(), false, format!("part-{run}"), pipeline.settings.rows_per_file)?;
        writer.write(&emitted.metrics)?;
        let rows = writer.rows();
        let files = writer.finish()?.len();
        let path = metrics_target.as_ref().map_or_else(|| sink.path().to_path_buf(), |t| t.path().to_path_buf());
        metrics_table = Some((TableSummary { path, rows, files }, emitted.alerts));
    }

    // Correlations are final at the end of the input too.
    if let (Some(c), Some(sg), Some(sink)) = (correlator, &sigma, &detections_sink) {
        let mut c =
            Arc::into_inner(c).and_then(|m| m.into_inner().ok()).ok_or_else(|| EngineError::worker("the correlator is still shared"))?;
        let matches = c.finish();
        let rows = correlation_batch(&c, &matches, sg.min_level)?;
        let mut writer = TableWriter::new(
            "detections",
            sink,
            detections_schema(),
            false,
            format!("part-{run}-correlations"),
            pipeline.settings.rows_per_file,
        )?;
        writer.write(&rows)?;
        written.detections_rows += writer.rows();
        written.detections_files += writer.finish()?.len();
    }

    summary.input_files = input_files;
    summary.input_bytes = input_bytes;
    let mut counts = LineCounts::default();
    let mut rejects_table = TableSummary::default();
    for r in reports {
        counts.add(&r.counts);
        for (k, v) in r.reasons {
            *summary.reject_reasons.entry(k).or_default() += v;
        }
        if let Some((rows, files)) = r.rejects {
            rejects_table.rows += rows;
            rejects_table.files += files.len();
        }
    }
    debug_assert!(counts.balanced());
    if let Some(sink) = &events_target {
        summary
            .tables
            .insert("events".into(), TableSummary { path: sink.path().to_path_buf(), rows: events_rows, files: events_files.len() });
    }
    if let Some(sink) = &rejects_target {
        rejects_table.path = sink.path().to_path_buf();
        summary.tables.insert("rejects".into(), rejects_table);
    }
    if let Some(sink) = &hits_target {
        summary
            .tables
            .insert("hits".into(), TableSummary { path: sink.path().to_path_buf(), rows: written.hits_rows, files: written.hits_files });
        summary.hits = written.hits_rows;
    }
    if let Some(sink) = &findings_target {
        summary.tables.insert(
            "findings".into(),
            TableSummary { path: sink.path().to_path_buf(), rows: written.findings_rows, files: written.findings_files },
        );
        summary.findings = written.findings_rows;
        summary.findings_by_kind = std::mem::take(&mut written.findings_by_kind);
    }
    if let (Some(sink), Some(sg)) = (&detections_target, &sigma) {
        summary.tables.insert(
            "detections".into(),
            TableSummary { path: sink.path().to_path_buf(), rows: written.detections_rows, files: written.detections_files },
        );
        summary.detections = written.detections_rows;
        summary.sigma = Some(sg.summary.clone());
    }
    let mut threshold_alerts = Vec::new();
    if let Some((t, alerts)) = metrics_table {
        summary.metrics_rows = t.rows;
        summary.tables.insert("metrics".into(), t);
        threshold_alerts = alerts;
    }
    if let Some(l) = &loaded {
        let mut intel = IntelSummary::new(l);
        intel.suppressed = written.stats.suppressed;
        intel.inactive = written.stats.inactive;
        summary.intel = Some(intel);
        if let Some(sink) = &intel_target {
            summary.tables.insert("intel".into(), TableSummary { path: sink.path().to_path_buf(), rows: l.index.len() as u64, files: 1 });
        }
    }

    summary.input_lines = counts.lines;
    summary.events = counts.events;
    summary.rejects = counts.rejects;
    summary.skipped = counts.skipped;
    summary.warnings.extend(run_warnings(&summary));
    check_gates(&pipeline.settings, &summary)?;

    // Load: the one moment the tables change. A Ctrl-C that came during the last batches
    // still wins over committing.
    if interrupt.load(Ordering::Relaxed) {
        return Err(EngineError::interrupted(counts.lines));
    }
    if let Some(mut txn) = txn {
        for (name, t) in &summary.tables {
            txn.add_rows(name, t.rows);
        }
        txn.set_inputs(ledger);
        summary.run_id = txn.commit()?.run_id;
    }
    // Alerts leave the process only for a committed run, so a failed run sends none.
    if let Some(spec) = &pipeline.load.alerts {
        sweep_runtime::alerts::publish_threshold_alerts(spec, &threshold_alerts)?;
    }
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.lines_per_second = if summary.elapsed_s > 0.0 { counts.lines as f64 / summary.elapsed_s } else { 0.0 };
    Ok(summary)
}

/// What one output partition's sink task wrote.
#[derive(Default)]
struct SinkReport {
    events_rows: u64,
    events_files: Vec<PathBuf>,
    hits_rows: u64,
    hits_files: usize,
    findings_rows: u64,
    findings_files: usize,
    findings_by_kind: BTreeMap<String, u64>,
    detections_rows: u64,
    detections_files: usize,
    stats: MatchStats,
    window: Option<WindowAnalyser>,
}

/// Hosts whose verdicts a worker keeps across batches: about 10 MB, far more distinct hosts
/// than a batch holds, so a host is judged about once per worker and run.
pub(crate) const CONTENT_CACHE_HOSTS: usize = 100_000;

/// Adds a findings batch's rows to the per-kind counts.
pub(crate) fn count_findings(findings: &RecordBatch, by_kind: &mut BTreeMap<String, u64>) {
    let Some(kinds) = findings.column_by_name("finding").and_then(|c| c.as_string_opt::<i32>()) else { return };
    for kind in kinds.iter().flatten() {
        match by_kind.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                by_kind.insert(kind.to_string(), 1);
            }
        }
    }
}

/// Writes the index's indicators as one file into `sink` (a table folder or a run's staging).
fn parse_worker(
    rx: crossbeam_channel::Receiver<Work>,
    specs: Vec<sweep_model::FormatSpec>,
    max_line: usize,
    events_tx: tokio::sync::mpsc::Sender<RecordBatch>,
    mut rejects: Option<TableWriter>,
    counters: Arc<RunCounters>,
    stop: Arc<AtomicBool>,
) -> Result<ParserReport, EngineError> {
    let mut parsers = specs.iter().map(|s| ChunkParser::new(s).map(|p| p.with_max_line_bytes(max_line))).collect::<Result<Vec<_>, _>>()?;
    let mut report = ParserReport::default();
    let ingest_ts = now_micros();
    let mut builder = BatchBuilder::new(32 * 1024, ingest_ts);
    for work in rx {
        let chunk = &work.chunk;
        parsers[work.extract].parse_chunk_cut(
            &chunk.data,
            &chunk.source,
            chunk.first_offset,
            chunk.header.as_deref(),
            chunk.cut_line_len,
            &mut builder,
        );
        let parsed = builder.finish();
        counters.lines.fetch_add(parsed.counts.lines, Ordering::Relaxed);
        counters.events.fetch_add(parsed.counts.events, Ordering::Relaxed);
        counters.rejects.fetch_add(parsed.counts.rejects, Ordering::Relaxed);
        report.counts.add(&parsed.counts);
        if parsed.rejects.num_rows() > 0 {
            let reasons = parsed.rejects.column(1).as_string::<i32>();
            for i in 0..reasons.len() {
                *report.reasons.entry(reasons.value(i).to_string()).or_default() += 1;
            }
            if let Some(w) = rejects.as_mut() {
                w.write(&parsed.rejects)?;
            }
        }
        if parsed.events.num_rows() > 0 && events_tx.blocking_send(parsed.events).is_err() {
            // The plan stopped reading (it failed); the error is reported from there.
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    if let Some(w) = rejects {
        let rows = w.rows();
        report.rejects = Some((rows, w.finish()?));
    }
    Ok(report)
}

/// A DataFusion partition fed by one parser thread.
#[derive(Debug)]
struct ParsedPartition {
    schema: SchemaRef,
    rx: Mutex<Option<tokio::sync::mpsc::Receiver<RecordBatch>>>,
}

impl PartitionStream for ParsedPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rx = self.rx.lock().expect("partition lock").take();
        let stream = futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            rx.recv().await.map(|b| (Ok(b), Some(rx)))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

//! Kafka pipelines on Spark, in micro-batches that sweep plans and Spark runs.
//!
//! ```text
//!  sweep (driver)                                         Spark Connect server
//!  ──────────────                                         ────────────────────
//!  end offsets (Kafka metadata) ─▶ plan batch n ─▶ checkpoint/offsets/n
//!                                        │
//!                                        └─ offset ranges ─▶ read the ranges from Kafka ─▶ parse ─▶ SQL ─▶ sweep
//!                                                            write events, rejects, hits (Delta txn n / Parquet batch-n files)
//!  alerts to Kafka ◀── hits of batch n ◀──────────────────────┘
//!  checkpoint/commits/n, then the consumer group's offsets
//! ```
//!
//! The log data never passes through this process: Spark reads each batch's offset ranges
//! from the topic itself. Each batch runs the same compiled stages as a batch run over
//! files, so the same lines give the same tables. The checkpoint folder is the embedded
//! engine's (`sweep_runtime::checkpoint`), with the same protocol: a batch's ranges
//! are recorded before any table is written, every table commits the batch exactly once
//! (a Delta application transaction with the pipeline id and batch number, which Delta
//! skips when the table holds it; Parquet files named by the batch number), and the commit
//! marker is written last. After a crash the unfinished batch is re-read over the same
//! offsets and written again, and each table keeps it once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use sweep_kafka::sink::AlertProducer;
use sweep_kafka::source::TopicSource;
use sweep_model::{KafkaSourceSpec, Pipeline, SinkSpec};
use sweep_runtime::checkpoint::{Checkpoint, PlannedBatch};
use sweep_runtime::intel::{BatchIntel, RetroWork, StreamIntel};
use sweep_runtime::metrics::StreamMetrics;
use sweep_runtime::sigma::SigmaStage;
use sweep_runtime::stream::{
    BatchDone, BatchInput, MicroBatchEngine, Planning, StreamContext, open_stream_tables, run_micro_batches, serve_metrics,
};
use sweep_runtime::{IntelSummary, RunCounters, RunError, RunSummary, TableSummary, now_micros};
use sweep_sigma::{CorrelationMode, Correlator};
use sweep_spark_sql::fields::lit;
use sweep_spark_sql::format_sql;
use sweep_spark_sql::reject::{control_character, invalid_utf8, reject_raw, rejection};
use sweep_sweeper::hits_schema;

use crate::SparkError;
use crate::client::{self, SparkClient};
use crate::content::StagedContent;
use crate::run::{Commit, StagedIntel, parsed_sql, process_parsed, release, spark_path, write_table};

/// Refuses, before anything runs, what a Kafka pipeline on Spark cannot do yet.
pub(crate) fn check_supported_stream(pipeline: &Pipeline) -> Result<(), SparkError> {
    for table in ["events", "rejects", "hits"] {
        if let Some(SinkSpec::Jsonl(_)) = pipeline.load.sink(table) {
            return Err(SparkError::Unsupported(format!("the {table} table as JSON lines in a Kafka pipeline: use delta or parquet")));
        }
    }
    Ok(())
}

/// The messages of one batch as lines: one message is one line, its trailing `\n` dropped,
/// as the embedded reader takes it; then the checks of every line (a `\r` dropped, UTF-8,
/// blank). Columns: `source, offset, raw` (the message), `kafka_ts` (its Kafka timestamp),
/// `l1` (without its `\n`), `l2`,
/// `line` (decoded), `utf8_ok`, `blank`.
const LINES_SQL: &str = "SELECT source, offset, raw, kafka_ts, l1, l2, line, utf8_ok, \
        (octet_length(l1) > 0 AND utf8_ok AND line RLIKE '^[ \\t]*\\\\z') AS blank \
     FROM (SELECT *, decode(l2, 'UTF-8') AS line, (encode(decode(l2, 'UTF-8'), 'UTF-8') = l2) AS utf8_ok \
           FROM (SELECT *, CASE WHEN octet_length(l1) > 0 AND substr(l1, -1) = X'0D' THEN substr(l1, 1, octet_length(l1) - 1) \
                                ELSE l1 END AS l2 \
                 FROM (SELECT concat('kafka:', topic, '/', partition) AS source, offset, timestamp AS kafka_ts, coalesce(value, X'') AS raw, \
                              CASE WHEN octet_length(value) > 0 AND substr(value, -1) = X'0A' \
                                   THEN substr(value, 1, octet_length(value) - 1) ELSE coalesce(value, X'') END AS l1 \
                       FROM sweep_kafka) k) k) k";

/// A reject keeps the message as it came, but for its `\n` (`l1`, the embedded reader's `raw`).
const REJECT_RAW_SQL: &str = "CASE WHEN octet_length(l1) = 0 THEN raw ELSE l1 END";

/// Runs a Kafka pipeline until `stop` is raised or, with `stop_when_drained`, until every
/// partition is read to the end offset it had when the batch was planned, through the
/// micro-batch protocol of [`sweep_runtime::stream`]. `runtime` runs the client's calls.
pub(crate) fn run_stream(
    runtime: &tokio::runtime::Runtime,
    spark: &mut SparkClient,
    pipeline: &Pipeline,
    kafka: &KafkaSourceSpec,
    counters: &RunCounters,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary, SparkError> {
    let fmt = format_sql(&pipeline.extract[0].format)?;
    let checkpoint_dir =
        pipeline.stream.checkpoint.clone().ok_or_else(|| SparkError::Unsupported("a Kafka pipeline without a checkpoint".into()))?;
    let max_line = pipeline.settings.max_line_bytes;
    let early = format!(
        "WHEN octet_length(l1) = 0 THEN {} WHEN octet_length(l2) > {max_line} THEN {} WHEN NOT utf8_ok THEN {} {}",
        rejection("empty", "'the Kafka message has no payload'".into()),
        rejection("too_long", format!("concat('line has ', octet_length(l2), ' bytes; the limit is {max_line} (max_line_bytes)')")),
        invalid_utf8("l2"),
        control_character("line"),
    );
    let parsed = parsed_sql(&fmt, LINES_SQL, "l1, kafka_ts, ", &early);

    let source = TopicSource::connect(kafka).map_err(kafka_error)?;
    let sources: Vec<String> = source.partitions().iter().map(|p| p.source_name()).collect();
    let (ckpt, resume) = Checkpoint::open(&checkpoint_dir, now_micros())?;
    let app_id = resume.pipeline_id.clone();
    let staging = checkpoint_dir.join("staging");

    let sweeper = pipeline.sweeper();
    let intel_sink = pipeline.load.sink("intel").filter(|_| sweeper.is_some());
    let sinks: Vec<(&str, SinkSpec)> = ["events", "rejects", "hits", "metrics", "findings", "detections"]
        .into_iter()
        .filter(|t| match *t {
            "hits" => sweeper.is_some(),
            "metrics" => pipeline.window().is_some(),
            "findings" => pipeline.content().is_some(),
            "detections" => pipeline.sigma().is_some(),
            _ => true,
        })
        .filter_map(|t| pipeline.load.sink(t).map(|s| (t, s)))
        .collect();
    let specs: Vec<SinkSpec> = sinks.iter().map(|s| s.1.clone()).collect();
    if let Some(sink) = specs.iter().find(|s| sweep_load::is_object_lake(s.path())) {
        // Spark writes the tables itself, and reads object storage through its own connector.
        sweep_load::refuse_object_lake(
            sink.path(),
            "lakes of the spark engine",
            "use the embedded engine (the default) to write the lake there",
        )
        .map_err(RunError::from)?;
    }
    let _lake = open_stream_tables(pipeline, &ckpt, &specs)?;
    let producer = pipeline.load.alerts.as_ref().map(AlertProducer::connect).transpose().map_err(kafka_error)?;
    let sigma = sweep_runtime::sigma::sigma_stage(pipeline)?;
    let live = Arc::new(StreamMetrics { sigma: std::sync::Mutex::new(sigma.as_ref().map(|sg| sg.summary.clone())), ..Default::default() });
    let metrics_addr = serve_metrics(pipeline, &live, &stop)?;

    let intel = StreamIntel::open(pipeline, &checkpoint_dir, resume.intel_version.as_deref(), resume.retro_pending.clone())?;

    let analyser = sweep_runtime::content_analyser(pipeline)?;
    // The correlator continues from the state of the last committed batch, so a batch re-run
    // after a crash sees what it saw the first time.
    let correlator = match (&sigma, &resume.sigma_state) {
        (Some(sg), Some(bytes)) if !sg.correlations.is_empty() => {
            Some(Correlator::restore(sg.correlations.clone(), bytes).map_err(RunError::from)?)
        }
        (Some(sg), _) => sg.correlator(CorrelationMode::Streaming { allowed_lateness: sg.allowed_lateness_us }),
        _ => None,
    };
    let sigma_summary = sigma.as_ref().map(|sg| sg.summary.clone());
    let mut batches = Batches {
        runtime,
        spark,
        pipeline,
        parsed,
        kafka,
        sources: &sources,
        partitions: source.partitions().iter().map(|p| (p.topic.clone(), p.partition)).collect(),
        app_id: &app_id,
        staging: &staging,
        sweeper_fields: sweeper.map(|s| s.fields.clone()).unwrap_or_default(),
        intel: None,
        intel_files: Vec::new(),
        intel_sink,
        content: analyser.as_deref().map(|analyser| StagedContent { analyser, staging: staging.join("content") }),
        alerts_wanted: producer.is_some(),
        tables: BTreeMap::new(),
        window: pipeline
            .window()
            .map(|spec| StreamWindow::open(spec, checkpoint_dir.join("window"), resume.window_state.as_deref()))
            .transpose()?,
        pending_window: None,
        sigma: sigma.map(|stage| StreamSigma { stage, correlator, pending: None }),
        sinks: sinks.iter().map(|(name, sink)| (name.to_string(), sink.clone())).collect(),
    };
    let context = StreamContext {
        spec: kafka,
        checkpoint_dir: checkpoint_dir.clone(),
        checkpoint: &ckpt,
        resume,
        source,
        planning: Planning::EndOffsets,
        stop_when_drained: pipeline.stream.stop_when_drained,
        producer,
        live,
        metrics_addr,
        counters,
        stop,
        intel,
    };
    let outcome = run_micro_batches(&mut batches, context);
    let intel_files = std::mem::take(&mut batches.intel_files);
    drop(batches);
    runtime.block_on(release(spark, Vec::new(), intel_files));
    let _ = std::fs::remove_dir_all(&staging);
    let outcome = outcome?;

    let mut run = outcome.summary;
    run.sigma = sigma_summary;
    if let Some(loaded) = &outcome.intel {
        run.intel = Some(IntelSummary { inactive: outcome.inactive, suppressed: outcome.suppressed, ..IntelSummary::new(loaded) });
    }
    Ok(run)
}

/// The Spark engine's part of the micro-batch protocol: what every batch of a run shares,
/// and the tables the batches have written.
struct Batches<'a> {
    runtime: &'a tokio::runtime::Runtime,
    spark: &'a mut SparkClient,
    pipeline: &'a Pipeline,
    parsed: String,
    kafka: &'a KafkaSourceSpec,
    sources: &'a [String],
    partitions: Vec<(String, i32)>,
    app_id: &'a str,
    staging: &'a Path,
    /// The event fields the sweeper matches.
    sweeper_fields: Vec<sweep_model::MatchField>,
    /// The intel version in use, staged where the server reads it (set by the first batch).
    intel: Option<StagedIntel>,
    /// Its staged files, removed when the next version replaces it.
    intel_files: Vec<std::path::PathBuf>,
    /// Where each intel version is written the first time a batch uses it.
    intel_sink: Option<SinkSpec>,
    content: Option<StagedContent<'a>>,
    alerts_wanted: bool,
    tables: BTreeMap<String, TableSummary>,
    window: Option<StreamWindow<'a>>,
    /// The window state after the batch in flight, the one to resume from once it commits.
    pending_window: Option<WindowState>,
    /// The tables the stream writes, by name.
    sinks: Vec<(String, SinkSpec)>,
    sigma: Option<StreamSigma>,
}

/// The Sigma rules of a stream and the correlator that carries their correlations across
/// batches.
struct StreamSigma {
    stage: Arc<SigmaStage>,
    /// The state after the last committed batch (`None` without correlation rules).
    correlator: Option<Correlator>,
    /// The state after the batch in flight, the one to go on from once it commits.
    pending: Option<Correlator>,
}

impl MicroBatchEngine for Batches<'_> {
    type Error = SparkError;

    fn process_and_commit(&mut self, input: BatchInput<'_>) -> Result<BatchDone, SparkError> {
        let runtime = self.runtime;
        runtime.block_on(self.run(input.planned, input.replace, input.intel))
    }

    fn committed(&mut self, _batch: u64) {
        if let (Some(window), Some(state)) = (self.window.as_mut(), self.pending_window.take()) {
            window.committed(state);
        }
        if let Some(sigma) = self.sigma.as_mut()
            && let Some(next) = sigma.pending.take()
        {
            sigma.correlator = Some(next);
        }
    }

    fn has_open_windows(&self) -> bool {
        self.window.as_ref().is_some_and(|w| w.has_open_windows())
            || self.sigma.as_ref().and_then(|s| s.correlator.as_ref()).is_some_and(Correlator::has_pending)
    }

    fn tables(&self) -> BTreeMap<String, TableSummary> {
        self.tables.clone()
    }
}

impl Batches<'_> {
    /// Has Spark read, process and commit one planned batch; returns what it did.
    async fn run(&mut self, planned: &PlannedBatch, replace: bool, intel: Option<&BatchIntel>) -> Result<BatchDone, SparkError> {
        let options = self.read_options(planned)?;
        if let Some(intel) = intel {
            self.use_intel(intel).await?;
        }
        let spark = &mut *self.spark;
        // A batch with no messages (the final flush of the windows) reads nothing.
        let messages = if options.contains_key("assign") { client::read("kafka", Vec::new(), options) } else { client::sql(NO_MESSAGES) };
        spark.create_view("sweep_kafka", messages).await?;
        let (mut checkpoints, mut staged_files) = (Vec::new(), Vec::new());
        let mut out = RunSummary::default();
        let commit = Commit::MicroBatch { app_id: self.app_id, batch: planned.batch, staging: self.staging, replace };
        let result = async {
            // The first batch of a new intel version also owes the hits of the indicators it
            // added in the events stored before it; they commit with the batch's own hits.
            let retro_hits = match (intel.and_then(|i| i.retro.as_ref()), &self.intel) {
                (Some(work), Some(live)) => {
                    let found = retro_sweep(
                        spark,
                        &self.sinks,
                        work,
                        &self.sweeper_fields,
                        self.staging,
                        planned.batch,
                        &mut checkpoints,
                        &mut staged_files,
                    )
                    .await?;
                    // The retro-sweep pointed the sweeper's views at the added indicators.
                    live.activate(spark).await?;
                    found
                }
                _ => 0,
            };
            let watermark = self.window.as_ref().and_then(|w| w.state.watermark);
            let late = process_parsed(
                spark,
                self.pipeline,
                &self.parsed,
                &reject_raw(REJECT_RAW_SQL, self.pipeline.settings.max_line_bytes),
                planned.planned_at_us,
                watermark,
                self.intel.as_ref().map(|staged| (staged, retro_hits)),
                self.content.as_ref(),
                &commit,
                &mut checkpoints,
                &mut staged_files,
                &mut out,
            )
            .await?;
            let (window_state, threshold_alerts) = match &self.window {
                Some(w) => {
                    let wanted = self.alerts_wanted;
                    let (state, alerts) = w.advance(spark, self.pipeline, planned, &commit, wanted, &mut checkpoints, &mut out).await?;
                    (Some(state), alerts)
                }
                None => (None, Vec::new()),
            };
            // Sigma rules over the batch's events (late ones included, as the sweeper judges them).
            let (mut detections, mut sigma_state) = (0, None);
            if let (Some(sigma), Some(sink)) = (self.sigma.as_mut(), self.sinks.iter().find(|(n, _)| n == "detections").map(|t| &t.1)) {
                // The batch works on a copy of the committed state: a batch that fails leaves it as it was.
                let mut correlator = sigma.correlator.clone();
                let staging = self.staging.join(format!("sigma-{}", planned.batch));
                detections = crate::sigma::detect(
                    spark,
                    &sigma.stage,
                    correlator.as_mut(),
                    planned.final_flush,
                    &staging,
                    &mut checkpoints,
                    &mut staged_files,
                )
                .await?;
                let query = "SELECT * FROM sweep_detections ORDER BY source, offset, rule_id";
                write_table(spark, &mut out.tables, "detections", sink, query, &[], &commit, detections).await?;
                sigma_state = correlator.as_ref().map(Correlator::snapshot);
                sigma.pending = correlator;
            }
            let mut alerts = Vec::new();
            if let (true, Some(sigma)) = (self.alerts_wanted && detections > 0, &self.sigma) {
                for batch in &spark.sql("SELECT * FROM sweep_detections", "collecting the detections to alert on").await? {
                    let rows = as_schema(batch, &sweep_sigma::detections_schema(), "detections")?;
                    alerts.extend(sweep_runtime::alerts::detection_alerts(&rows, sigma.stage.alert_level)?);
                }
            }
            if self.alerts_wanted {
                for (view, n) in [("sweep_hits", out.hits), ("sweep_retro_hits", retro_hits)] {
                    if n == 0 {
                        continue;
                    }
                    for batch in &spark.sql(&format!("SELECT * FROM {view}"), "collecting the hits to alert on").await? {
                        alerts.extend(sweep_runtime::alerts::hit_alerts(&as_schema(batch, &hits_schema(), "hits")?)?);
                    }
                }
                alerts.extend(sweep_runtime::alerts::threshold_alerts(&threshold_alerts)?);
            }
            // When the messages were produced, to the second, for the produce-to-commit latency.
            let produced = spark
                .sql(
                    "SELECT unix_millis(kafka_ts) DIV 1000 AS s, count(*) AS n FROM sweep_parsed WHERE kafka_ts IS NOT NULL GROUP BY 1",
                    "reading the messages' times",
                )
                .await?;
            Ok::<_, SparkError>((alerts, produced, late, window_state, retro_hits, detections, sigma_state))
        }
        .await;
        release(spark, checkpoints, staged_files).await;
        let (alerts, produced, late, window_state, retro_hits, detections, sigma_state) = result?;
        // Tables the batch wrote nothing to (no write at all, as `metrics` before a window
        // closes) are replaced too.
        if replace {
            for (name, sink) in &self.sinks {
                if !out.tables.contains_key(name) {
                    crate::run::replace_without_rows(name, sink, self.app_id, planned.batch)?;
                }
            }
        }
        let mut produced_ms = Vec::new();
        for batch in &produced {
            let (seconds, n) = (batch.column(0).as_primitive::<Int64Type>(), batch.column(1).as_primitive::<Int64Type>());
            for row in 0..batch.num_rows() {
                // The middle of the second the messages were produced in.
                produced_ms.push((seconds.value(row) * 1000 + 500, n.value(row) as u64));
            }
        }
        for (name, t) in &out.tables {
            let entry = self.tables.entry(name.clone()).or_insert_with(|| TableSummary { path: t.path.clone(), rows: 0, files: 0 });
            entry.rows += t.rows;
            entry.files += t.files;
        }
        let window_json = window_state.as_ref().map(|s| serde_json::to_vec(s).unwrap_or_default());
        self.pending_window = window_state;
        let intel = out.intel.take().unwrap_or_default();
        Ok(BatchDone {
            retro_hits,
            lines: out.input_lines,
            events: out.events,
            rejects: out.rejects,
            skipped: out.skipped,
            late,
            hits: out.hits,
            metrics_rows: out.metrics_rows,
            findings: out.findings,
            findings_by_kind: out.findings_by_kind,
            reject_reasons: out.reject_reasons,
            suppressed: intel.suppressed,
            inactive: intel.inactive,
            alerts,
            // The panes live in a Parquet folder; the state names it, so it is small and whole.
            window_state: window_json,
            window_state_is_delta: false,
            sigma_state,
            detections,
            produced_ms,
        })
    }

    /// Sweeps with the batch's intel version: when it changed, its indicators are staged for
    /// the server (replacing the version before) and written to the intel table (once).
    async fn use_intel(&mut self, intel: &BatchIntel) -> Result<(), SparkError> {
        let index = &intel.intel.index;
        if self.intel.as_ref().is_some_and(|staged| staged.index.version() == index.version()) {
            return Ok(());
        }
        if let Some(sink) = &self.intel_sink {
            sweep_runtime::intel::write_intel_version(index, sink)?;
        }
        let mut files = Vec::new();
        let staged = StagedIntel::stage(self.spark, index, &self.sweeper_fields, &self.staging.join("intel"), &mut files).await?;
        let before = std::mem::replace(&mut self.intel_files, files);
        self.intel = Some(staged);
        release(self.spark, Vec::new(), before).await;
        Ok(())
    }

    /// Spark's Kafka batch reader over exactly the batch's offset ranges.
    fn read_options(&self, planned: &PlannedBatch) -> Result<HashMap<String, String>, SparkError> {
        let mut assign: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        let mut starting: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
        let mut ending: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
        for (source, (topic, partition)) in self.sources.iter().zip(&self.partitions) {
            let (Some(from), Some(until)) = (planned.from.get(source), planned.until.get(source)) else { continue };
            if from >= until {
                continue;
            }
            assign.entry(topic).or_default().push(*partition);
            starting.entry(topic).or_default().insert(partition.to_string(), *from);
            ending.entry(topic).or_default().insert(partition.to_string(), *until);
        }
        if planned.until.keys().any(|k| !self.sources.contains(k)) {
            return Err(RunError::Checkpoint(format!(
                "batch {} read partitions that the topic no longer has; the topic was recreated: use a new checkpoint folder",
                planned.batch
            ))
            .into());
        }
        let mut options = HashMap::from([
            ("kafka.bootstrap.servers".to_string(), self.kafka.brokers.clone()),
            ("assign".to_string(), to_json(&assign)),
            ("startingOffsets".to_string(), to_json(&starting)),
            ("endingOffsets".to_string(), to_json(&ending)),
            ("includeHeaders".to_string(), "false".to_string()),
        ]);
        for (key, value) in &self.kafka.options {
            options.insert(format!("kafka.{key}"), value.clone());
        }
        Ok(options)
    }
}

/// One part of the retro-sweep a new intel version owes, on Spark, as the embedded engine
/// does it (its `stream::retro`): the events the stream stored within the lookback before
/// the batch that took the version (the part's files), swept with the indicators the version
/// added, less the hits the table holds already (a Delta table as of its last version, a
/// Parquet folder without this batch's own files).
/// Leaves the hits in the view `sweep_retro_hits`; returns how many there are.
#[allow(clippy::too_many_arguments)]
async fn retro_sweep(
    spark: &mut SparkClient,
    sinks: &[(String, SinkSpec)],
    work: &RetroWork,
    fields: &[sweep_model::MatchField],
    staging: &Path,
    batch: u64,
    checkpoints: &mut Vec<String>,
    staged_files: &mut Vec<std::path::PathBuf>,
) -> Result<u64, SparkError> {
    let sink = |name: &str| sinks.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let (Some(events), Some(hits)) = (sink("events"), sink("hits")) else { return Ok(0) };
    let stored_events = match &work.files {
        // One part of a retro-sweep: its files, as the plan fixed them (a file removed since
        // has no events left to sweep), with the table's folder as the base of `date=...`.
        Some(files) => {
            let files: Vec<String> = files.iter().filter(|f| f.is_file()).map(|f| spark_path(f)).collect();
            let options = HashMap::from([("basePath".to_string(), spark_path(events.path()))]);
            (!files.is_empty()).then(|| client::read("parquet", files, options))
        }
        None => stored_table(events, None),
    };
    let Some(stored_events) = stored_events else { return Ok(0) };
    spark.create_view("sweep_stored_events", stored_events).await?;
    let since_day = sweep_load::date_string(work.since_us.div_euclid(86_400_000_000).clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    let later: Vec<String> = work.before.iter().map(|(source, from)| format!("(source = {} AND offset >= {from})", lit(source))).collect();
    let before_batch = if later.is_empty() { String::new() } else { format!(" AND NOT ({})", later.join(" OR ")) };
    let stored = format!(
        "SELECT * FROM sweep_stored_events WHERE date >= {} AND unix_micros(ts) >= {}{before_batch}",
        lit(&since_day),
        work.since_us
    );
    spark.create_view("events", client::sql(&stored)).await?;
    let staged = StagedIntel::stage(spark, &work.added, fields, &staging.join("retro"), staged_files).await?;
    let swept = staged.sweep(spark, &format!("-retro-{batch}"), checkpoints, staged_files).await?;
    if swept.hits == 0 {
        return Ok(0);
    }
    let stored_hits = match stored_table(hits, Some(batch)) {
        Some(plan) => {
            spark.create_view("sweep_stored_hits", plan).await?;
            true
        }
        None => false,
    };
    let fresh = client::sql(&crate::retro::fresh_hits_sql(stored_hits, &work.intel_version));
    checkpoints.push(spark.checkpoint("sweep_retro_hits", fresh, "finding the retro hits not stored yet").await?);
    crate::run::count(spark, "SELECT count(*) FROM sweep_retro_hits", "counting retro hits").await
}

/// How the server reads a stream table as it was before batch `except` (Parquet files of
/// that batch left out): `None` when it holds nothing yet.
fn stored_table(sink: &SinkSpec, except: Option<u64>) -> Option<crate::proto::Relation> {
    let dir = sink.path();
    match sink {
        SinkSpec::Delta(_) => dir.join("_delta_log").is_dir().then(|| client::read("delta", vec![spark_path(dir)], HashMap::new())),
        _ => {
            let files = sweep_load::parquet_files_except_batch(dir, except).ok()?;
            let files: Vec<String> = files.iter().map(|f| spark_path(f)).collect();
            // The folder is the base path, so that `date=...` folders read as a column.
            let options = HashMap::from([("basePath".to_string(), spark_path(dir))]);
            (!files.is_empty()).then(|| client::read("parquet", files, options))
        }
    }
}

/// The messages of a batch that has none: the columns of Spark's Kafka source.
const NO_MESSAGES: &str = "SELECT CAST(NULL AS STRING) AS topic, CAST(NULL AS INT) AS partition, CAST(NULL AS BIGINT) AS offset, \
     CAST(NULL AS TIMESTAMP) AS timestamp, CAST(NULL AS BINARY) AS value WHERE false";

/// The window analyser of a Kafka run (docs/windows.md, streaming mode): the watermark, and
/// the panes of every window not final yet, stored under the checkpoint between batches. The
/// state after each batch is part of that batch's commit (`state/<n>.json`), so a re-run
/// batch starts from the state of the batch before it.
pub(crate) struct StreamWindow<'a> {
    spec: &'a sweep_window::WindowSpec,
    dir: std::path::PathBuf,
    state: WindowState,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct WindowState {
    /// How far event time has certainly progressed (µs); events before it are late.
    watermark: Option<i64>,
    /// Windows ending at or before this (µs) have been emitted.
    emitted_until: Option<i64>,
    /// The stored panes (a Parquet folder), when some window is still open.
    panes: Option<std::path::PathBuf>,
}

impl<'a> StreamWindow<'a> {
    fn open(spec: &'a sweep_window::WindowSpec, dir: std::path::PathBuf, saved: Option<&[u8]>) -> Result<Self, SparkError> {
        let state = match saved {
            Some(bytes) => serde_json::from_slice(bytes).map_err(|e| {
                RunError::Checkpoint(format!(
                    "the window state in the checkpoint is not the Spark engine's ({e}); a checkpoint belongs to one engine's \
                     windows: use a new checkpoint folder"
                ))
            })?,
            None => WindowState::default(),
        };
        Ok(StreamWindow { spec, dir, state })
    }

    fn has_open_windows(&self) -> bool {
        self.state.panes.is_some()
    }

    /// Counts the batch's on-time events into the panes, emits (writes, and returns the
    /// threshold alerts of) the windows that became final, and stores the panes still
    /// needed. Returns the state after the batch, to commit with it.
    #[allow(clippy::too_many_arguments)]
    async fn advance(
        &self,
        spark: &mut SparkClient,
        pipeline: &Pipeline,
        planned: &PlannedBatch,
        commit: &Commit<'_>,
        alerts_wanted: bool,
        checkpoints: &mut Vec<String>,
        out: &mut RunSummary,
    ) -> Result<(WindowState, Vec<sweep_window::Alert>), SparkError> {
        use crate::window::{PANE_COLUMNS, merge_panes_sql, panes_sql, windows_sql};
        let (size, slide) = (self.spec.size.as_micros(), self.spec.slide.as_micros());
        let new = client::sql(&panes_sql(self.spec, self.state.watermark));
        checkpoints.push(spark.checkpoint("sweep_new_panes", new, "counting the events into window panes").await?);
        let newest = max_i64(spark, "SELECT max(newest) FROM sweep_new_panes").await?;
        let merged = match &self.state.panes {
            Some(stored) => {
                let stored = client::read("parquet", vec![crate::run::spark_path(stored)], HashMap::new());
                spark.create_view("sweep_stored_panes", stored).await?;
                merge_panes_sql(
                    &format!("SELECT {PANE_COLUMNS} FROM sweep_stored_panes"),
                    &format!("SELECT {PANE_COLUMNS} FROM sweep_new_panes"),
                )
            }
            None => format!("SELECT {PANE_COLUMNS} FROM sweep_new_panes"),
        };
        checkpoints.push(spark.checkpoint("sweep_panes", client::sql(&merged), "merging the window panes").await?);

        let mut next = self.state.clone();
        if let Some(max) = newest {
            let w = max.saturating_sub(self.spec.allowed_lateness.as_micros());
            next.watermark = Some(next.watermark.map_or(w, |old| old.max(w)));
        }
        // Final: at the end of the input every window; otherwise those the watermark passed.
        let emit = if planned.final_flush {
            Some((self.state.emitted_until, None))
        } else {
            match next.watermark {
                Some(w) if next.emitted_until != Some(w) => Some((next.emitted_until, Some(w))),
                _ => None,
            }
        };
        let mut alerts = Vec::new();
        if let Some((after, until)) = emit {
            let windows = client::sql(&windows_sql(self.spec, "sweep_panes", after, until));
            checkpoints.push(spark.checkpoint("sweep_metrics", windows, "computing the final windows").await?);
            out.metrics_rows = crate::run::count(spark, "SELECT count(*) FROM sweep_metrics", "counting metrics rows").await?;
            if let Some(sink) = pipeline.load.sink("metrics") {
                let query = "SELECT * FROM sweep_metrics ORDER BY window_start, key_kind, key";
                write_table(spark, &mut out.tables, "metrics", &sink, query, &[], commit, out.metrics_rows).await?;
            }
            if alerts_wanted {
                alerts = crate::window::threshold_alerts(spark, self.spec).await?;
            }
        }

        // The panes still needed: those of a window not final yet.
        let keep_from = if planned.final_flush {
            // The end of the input: the watermark moves past the last window, as on the embedded engine.
            if let Some(last) = max_i64(spark, "SELECT max(pane) FROM sweep_panes").await? {
                let end = last.saturating_add(size);
                next.watermark = Some(next.watermark.map_or(end, |w| w.max(end)));
                next.emitted_until = next.watermark;
            }
            None
        } else if let Some((_, Some(w))) = emit {
            next.emitted_until = Some(w);
            // A pane is in the windows that start at it and in the size/slide - 1 before; the last ends at pane + size.
            Some(w.saturating_sub(size).div_euclid(slide).saturating_add(1).saturating_mul(slide))
        } else {
            Some(i64::MIN)
        };
        next.panes = None;
        if let Some(from) = keep_from {
            let query = format!("SELECT {PANE_COLUMNS} FROM sweep_panes WHERE pane >= {from}");
            let n = crate::run::count(spark, &format!("SELECT count(*) FROM ({query})"), "counting the open window panes").await?;
            if n > 0 {
                let path = self.dir.join(format!("panes-{:012}", planned.batch));
                let overwrite = crate::proto::write_operation::SaveMode::Overwrite;
                let target = crate::run::spark_path(&path);
                spark.write(client::sql(&query), "parquet", &target, &[], overwrite, HashMap::new()).await?;
                next.panes = Some(path);
            }
        }
        Ok((next, alerts))
    }

    /// The batch that produced `state` is committed: older stored panes are not needed any more.
    fn committed(&mut self, state: WindowState) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if Some(entry.path()) != state.panes && Some(entry.path()) != self.state.panes {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        self.state = state;
    }
}

async fn max_i64(spark: &mut SparkClient, query: &str) -> Result<Option<i64>, SparkError> {
    let batches = spark.sql(query, "reading the window state").await?;
    let value = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let column = b.column(0).as_primitive_opt::<Int64Type>()?;
        column.is_valid(0).then(|| column.value(0))
    });
    Ok(value)
}

/// JSON of an offset map (serialising one cannot fail).
fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The hits as the embedded engine's schema has them (Spark's Arrow types differ in time
/// zone names and nullability), so that alerts are the same JSON on both engines.
fn as_schema(batch: &RecordBatch, schema: &arrow::datatypes::Schema, table: &str) -> Result<RecordBatch, SparkError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let column =
                batch.column_by_name(f.name()).ok_or_else(|| SparkError::Protocol(format!("the {table} have no column {}", f.name())))?;
            arrow::compute::cast(column, f.data_type()).map_err(|e| SparkError::Protocol(format!("{table} column {}: {e}", f.name())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema =
        Arc::new(arrow::datatypes::Schema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>()));
    RecordBatch::try_new(schema, columns).map_err(|e| SparkError::Protocol(format!("{table}: {e}")))
}

fn kafka_error(e: sweep_kafka::KafkaError) -> SparkError {
    SparkError::Run(RunError::Kafka(e))
}

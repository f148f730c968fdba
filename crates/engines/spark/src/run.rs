//! A batch run on Spark: compile, send, let Spark read and write, collect the counts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use sweep_extract::Input;
use sweep_load::{Lake, lake_root};
use sweep_model::{FormatSpec, Pipeline, SinkSpec, WriteMode};
use sweep_runtime::intel::load_intel;
use sweep_runtime::{IntelSummary, RunCounters, RunError, RunSummary, TableSummary};
use sweep_spark_sql::fields::lit;
use sweep_spark_sql::reject::{control_character, invalid_utf8, reject_detail, reject_raw, rejection};
use sweep_spark_sql::{Directive, FormatSql, event_columns, file_format_sql, format_sql};
use sweep_sweeper::LoadedIntel;

use crate::client::{self, Remote, SparkClient};
use crate::content::{FINDINGS_SQL, StagedContent};
use crate::sweep::{
    BROADCAST_URL_MAP_ROWS, Broadcast, HITS_SQL, INACTIVE_SQL, SUPPRESSED_SQL, URL_TUPLES_SQL, UrlMap, candidate_view_sql, keys_sql,
    write_allow_keys, write_intel_keys, write_url_map,
};
use crate::{SparkError, proto, stream, window};

/// What the Spark engine runs today; anything else is refused with this list.
pub const SUPPORT: &str = "batch runs over files (plain or gzip) and Kafka runs (micro-batches, until drained or stopped, \
     with checkpoints, hit alerts to Kafka and /metrics) in the squid, common, combined, vhost_combined, squid_common and \
     squid_combined formats; SQL transform stages (Spark SQL); \
     the sweeper (ip, cidr, domain and URL indicators, allowlists); the window analyser (metrics, threshold alerts; watermarks and late events in Kafka runs); the content analyser; \
     Sigma rules and their correlations in batch runs over files; retro-sweeps; Parquet tables, and Delta tables from Kafka runs";

/// Runs a pipeline on the Spark Connect server at `remote`. A Kafka pipeline runs until
/// its topic is drained (`stop_when_drained`) or forever; use [`run_until`] to stop it.
pub fn run(pipeline: &Pipeline, remote: &str, counters: Arc<RunCounters>) -> Result<RunSummary, SparkError> {
    run_until(pipeline, remote, counters, Arc::new(AtomicBool::new(false)))
}

/// Runs a pipeline; raising `stop` ends a Kafka pipeline after the batch in flight commits.
pub fn run_until(pipeline: &Pipeline, remote: &str, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, SparkError> {
    let started = Instant::now();
    let remote = Remote::parse(remote)?;
    check_supported(pipeline)?;
    if let Some(kafka) = pipeline.extract.first().and_then(|e| e.kafka.as_ref()) {
        return run_kafka(pipeline, kafka, &remote, counters, stop);
    }
    let mut inputs: Vec<(usize, PathBuf, FormatSpec)> = Vec::new();
    for extract in &pipeline.extract {
        for f in &extract.files {
            sweep_load::refuse_remote(Path::new(f)).map_err(RunError::from)?;
        }
    }
    for (group, extract) in pipeline.extract.iter().enumerate() {
        for input in sweep_extract::resolve_inputs(&extract.input_args())? {
            match input {
                Input::File(path) => inputs.push((group, path, extract.format.clone())),
                Input::Stdin => return Err(SparkError::Unsupported("reading stdin: Spark reads the input files itself".into())),
                Input::Object(o) => {
                    return Err(SparkError::Unsupported(format!(
                        "reading {} from object storage on the spark engine (the embedded engine reads it; docs/storage.md)",
                        o.url
                    )));
                }
            }
        }
    }
    // The rules load (and any refusal shows) before a table is touched.
    let sigma = sweep_runtime::sigma::sigma_stage(pipeline)?;
    let sweeper = pipeline.sweeper().cloned();
    let intel = match &sweeper {
        Some(spec) => Some(load_intel(spec, pipeline.intel.cache.as_deref())?),
        None => None,
    };

    // The lake: Spark writes every table into this run's staging folder, and the journal
    // moves the files into the tables once all of them are written (docs/tables.md).
    let tables = lake_tables(pipeline, intel.is_some());
    let targets: Vec<SinkSpec> = tables.iter().map(|t| t.1.clone()).collect();
    let root = lake_root(pipeline.load.dir.as_deref(), &targets);
    if let Some(root) = &root {
        sweep_load::refuse_object_lake(root, "lakes of the spark engine", "use the embedded engine (the default) to write the lake there")
            .map_err(RunError::from)?;
    }
    let lake = root.map(|root| Lake::open(&root)).transpose().map_err(RunError::from)?;
    let mut recovered = Vec::new();
    let mut ledger = Vec::new();
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    if let Some(lake) = &lake {
        recovered = lake.recovery().rolled_forward.clone();
        let files: Vec<&Path> = inputs.iter().map(|(_, p, _)| p.as_path()).collect();
        let selection = lake.select_inputs(&files, pipeline.load.mode, pipeline.load.reload).map_err(RunError::from)?;
        let mut keep = selection.load.into_iter();
        inputs.retain(|_| keep.next().unwrap_or(true));
        (ledger, warnings, skipped) = (selection.records, selection.warnings, selection.skipped);
        if inputs.is_empty() && !skipped.is_empty() {
            let elapsed_s = started.elapsed().as_secs_f64();
            return Ok(RunSummary { inputs_skipped: skipped, recovered_runs: recovered, warnings, elapsed_s, ..RunSummary::default() });
        }
    }
    let input_bytes: u64 = inputs.iter().filter_map(|(_, p, _)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    counters.bytes_total.store(input_bytes, Ordering::Relaxed);
    let run = sweep_load::run_id();
    let mut txn = lake.as_ref().map(|l| l.begin(&run, pipeline.load.mode)).transpose().map_err(RunError::from)?;
    let mut staged_pipeline = pipeline.clone();
    if let Some(txn) = txn.as_mut() {
        let mut load =
            sweep_model::LoadSpec { mode: WriteMode::Overwrite, alerts: pipeline.load.alerts.clone(), ..sweep_model::LoadSpec::default() };
        for (name, target, schema, by_date, replace) in &tables {
            let staged = Some(txn.stage(name, target, schema.clone(), *by_date, *replace).map_err(RunError::from)?);
            match *name {
                "events" => load.events = staged,
                "rejects" => load.rejects = staged,
                "hits" => load.hits = staged,
                "intel" => load.intel = staged,
                "metrics" => load.metrics = staged,
                "detections" => load.detections = staged,
                _ => load.findings = staged,
            }
        }
        staged_pipeline.load = load;
    }

    let runtime = client_runtime()?;
    let mut summary = runtime.block_on(async {
        let mut spark = SparkClient::connect(&remote).await?;
        let result = run_on(&mut spark, &staged_pipeline, &inputs, intel.as_ref(), sweeper.as_ref(), sigma.as_deref()).await;
        spark.release().await;
        result
    })?;
    summary.input_files = inputs.len();
    summary.input_bytes = input_bytes;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.lines_per_second = summary.input_lines as f64 / summary.elapsed_s.max(1e-9);
    counters.bytes_read.store(input_bytes, Ordering::Relaxed);
    counters.lines.store(summary.input_lines, Ordering::Relaxed);
    counters.events.store(summary.events, Ordering::Relaxed);
    counters.rejects.store(summary.rejects, Ordering::Relaxed);
    if let (Some(loaded), Some(intel_summary)) = (&intel, summary.intel.as_mut()) {
        let base = IntelSummary::new(loaded);
        intel_summary.intel_version = base.intel_version;
        intel_summary.indicators = base.indicators;
        intel_summary.indicators_by_type = base.indicators_by_type;
        intel_summary.refused = base.refused;
        intel_summary.allowlist_entries = base.allowlist_entries;
        intel_summary.load_s = base.load_s;
        intel_summary.feeds = base.feeds;
    }
    for (name, target, ..) in &tables {
        if let Some(t) = summary.tables.get_mut(*name) {
            t.path = target.path().to_path_buf();
        }
    }
    summary.warnings = warnings;
    summary.inputs_skipped = skipped;
    summary.recovered_runs = recovered;
    summary.warnings.extend(sweep_runtime::run_warnings(&summary));
    sweep_runtime::check_gates(&pipeline.settings, &summary)?;
    if stop.load(Ordering::Relaxed) {
        return Err(RunError::Interrupted { lines: summary.input_lines }.into());
    }
    if let Some(mut txn) = txn {
        for (name, t) in &summary.tables {
            txn.add_rows(name, t.rows);
        }
        txn.set_inputs(ledger);
        summary.run_id = txn.commit().map_err(RunError::from)?.run_id;
    }
    Ok(summary)
}

/// The tables a batch run writes, as the journal stages them: (name, sink, schema when Spark
/// writes no file, partitioned by date, replaced whatever the mode).
fn lake_tables(pipeline: &Pipeline, sweeps: bool) -> Vec<(&'static str, SinkSpec, arrow::datatypes::SchemaRef, bool, bool)> {
    let tables = [
        ("events", true, sweep_formats::events_schema(), true, false),
        ("rejects", true, sweep_formats::rejects_schema(), false, false),
        ("hits", sweeps, sweep_sweeper::hits_schema(), false, false),
        ("intel", sweeps, sweep_sweeper::intel_schema(), false, true),
        ("metrics", pipeline.window().is_some(), sweep_window::metrics_schema(), false, false),
        ("findings", pipeline.content().is_some(), sweep_content::findings_schema(), false, false),
        ("detections", pipeline.sigma().is_some(), sweep_sigma::detections_schema(), false, false),
    ];
    tables
        .into_iter()
        .filter(|t| t.1)
        .filter_map(|(name, _, schema, by_date, replace)| Some((name, pipeline.load.sink(name)?, schema, by_date, replace)))
        .collect()
}

/// The client's runtime: it only waits on the server.
pub(crate) fn client_runtime() -> Result<tokio::runtime::Runtime, SparkError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SparkError::Protocol(format!("cannot start the client runtime: {e}")))
}

/// A Kafka pipeline (crate::stream).
fn run_kafka(
    pipeline: &Pipeline,
    kafka: &sweep_model::KafkaSourceSpec,
    remote: &Remote,
    counters: Arc<RunCounters>,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary, SparkError> {
    stream::check_supported_stream(pipeline)?;
    let runtime = client_runtime()?;
    let mut spark = runtime.block_on(SparkClient::connect(remote))?;
    let result = runtime
        .block_on(prepare_session(&mut spark))
        .and_then(|()| stream::run_stream(&runtime, &mut spark, pipeline, kafka, &counters, stop));
    runtime.block_on(spark.release());
    result
}

/// Refuses, before anything runs, what the Spark engine cannot do yet.
fn check_supported(pipeline: &Pipeline) -> Result<(), SparkError> {
    for extract in &pipeline.extract {
        format_sql(&extract.format)?;
    }
    for table in ["events", "rejects", "hits", "intel", "metrics", "findings", "detections"] {
        match pipeline.load.sink(table) {
            None | Some(SinkSpec::Parquet(_)) => {}
            // A batch run's Delta tables are committed by the lake's journal.
            Some(SinkSpec::Delta(_)) => {}
            Some(other) => {
                return Err(SparkError::Unsupported(format!(
                    "the {table} table goes to {other:?}; the Spark engine writes Parquet tables (and Delta tables from Kafka pipelines)"
                )));
            }
        }
    }
    Ok(())
}

/// A folder of the lake for files sweep hands to Spark (`_`-prefixed: not a table).
fn staging_dir(pipeline: &Pipeline) -> PathBuf {
    let lake = pipeline.load.dir.clone().or_else(|| {
        ["hits", "events", "rejects", "intel"]
            .iter()
            .find_map(|t| pipeline.load.sink(t))
            .and_then(|s| s.path().parent().map(Path::to_path_buf))
    });
    lake.unwrap_or_else(std::env::temp_dir).join("_sweep_staging")
}

/// A path as Spark sees it: absolute, since the server does not share our working directory.
pub(crate) fn spark_path(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

async fn run_on(
    spark: &mut SparkClient,
    pipeline: &Pipeline,
    inputs: &[(usize, PathBuf, FormatSpec)],
    intel: Option<&LoadedIntel>,
    sweeper: Option<&sweep_model::SweeperSpec>,
    sigma: Option<&sweep_runtime::sigma::SigmaStage>,
) -> Result<RunSummary, SparkError> {
    prepare_session(spark).await?;

    let ingest_micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let max_line = pipeline.settings.max_line_bytes;
    let mut parsed_parts = Vec::new();
    for (i, (_, path, format)) in inputs.iter().enumerate() {
        let view = format!("sweep_file_{i}");
        // Lines end at `\n` only, as the embedded reader ends them (Spark's default also ends
        // them at a lone `\r`); a trailing `\r` is dropped below, as the embedded parser does.
        let options = HashMap::from([("lineSep".to_string(), "\n".to_string())]);
        spark.create_view(&view, client::read("text", vec![spark_path(path)], options)).await?;
        let source = lit(&path.display().to_string());
        let lines = numbered_lines(spark, &view, &source, path).await?;
        let directives = match format.header_directive() {
            Some(prefix) => header_directives(spark, &lines, prefix, path).await?,
            None => Vec::new(),
        };
        let fmt = file_format_sql(format, &directives)?;
        // The reader's checks, on the line's bytes: Spark's text source keeps them as they are
        // (only what decodes them, such as a regular expression, replaces what is not UTF-8).
        let early = format!(
            "WHEN line_bytes > {max_line} THEN {} WHEN NOT is_valid_utf8(raw) THEN {} {}",
            rejection("too_long", format!("concat('line has ', line_bytes, ' bytes; the limit is {max_line} (max_line_bytes)')")),
            invalid_utf8("substr(CAST(raw AS BINARY), 1, line_bytes)"),
            control_character("line"),
        );
        parsed_parts.push(parsed_sql(&fmt, &lines, "", &early));
    }
    if parsed_parts.is_empty() {
        return Err(SparkError::Unsupported("the pipeline reads no files".into()));
    }
    let parsed = parsed_parts.join(" UNION ALL ");

    let (mut checkpoints, mut staged_files) = (Vec::new(), Vec::new());
    let result = async {
        let staged = match (intel, sweeper) {
            (Some(loaded), Some(spec)) => {
                Some(StagedIntel::stage(spark, &loaded.index, &spec.fields, &staging_dir(pipeline), &mut staged_files).await?)
            }
            _ => None,
        };
        let analyser = sweep_runtime::content_analyser(pipeline)?;
        let content = analyser.as_deref().map(|analyser| StagedContent { analyser, staging: staging_dir(pipeline) });
        let commit = Commit::Run(pipeline.load.mode);
        let mut summary = RunSummary::default();
        let raw = &reject_raw("CAST(raw AS BINARY)", max_line);
        process_parsed(
            spark,
            pipeline,
            &parsed,
            raw,
            ingest_micros,
            None,
            staged.as_ref().map(|staged| (staged, 0)),
            content.as_ref(),
            &commit,
            &mut checkpoints,
            &mut staged_files,
            &mut summary,
        )
        .await?;
        if let (Some(stage), Some(sink)) = (sigma, pipeline.load.sink("detections")) {
            let staging = staging_dir(pipeline).join(format!("sigma-{}", uuid::Uuid::new_v4()));
            let mut correlator = stage.correlator(sweep_sigma::CorrelationMode::Batch);
            let rows = crate::sigma::detect(spark, stage, correlator.as_mut(), true, &staging, &mut checkpoints, &mut staged_files).await?;
            summary.detections = rows;
            summary.sigma = Some(stage.summary.clone());
            let query = "SELECT * FROM sweep_detections ORDER BY source, offset, rule_id";
            write_table(spark, &mut summary.tables, "detections", &sink, query, &[], &commit, rows).await?;
        }
        if let (Some(loaded), Some(sink)) = (intel, pipeline.load.sink("intel")) {
            let query = "SELECT indicator, indicator_type, feed, confidence, severity, tags, description, valid_from, valid_until, \
                         intel_version FROM intel";
            let n = loaded.index.len() as u64;
            write_table(spark, &mut summary.tables, "intel", &sink, query, &[], &Commit::Run(WriteMode::Overwrite), n).await?;
        }
        // Every window is final at the end of the input, as in the embedded engine's batch runs.
        if let (Some(spec), Some(sink)) = (pipeline.window(), pipeline.load.sink("metrics")) {
            spark.create_view("sweep_panes", client::sql(&window::panes_sql(spec, None))).await?;
            let metrics = client::sql(&window::windows_sql(spec, "sweep_panes", None, None));
            checkpoints.push(spark.checkpoint("sweep_metrics", metrics, "computing the window metrics").await?);
            summary.metrics_rows = count(spark, "SELECT count(*) FROM sweep_metrics", "counting metrics rows").await?;
            let query = "SELECT * FROM sweep_metrics ORDER BY window_start, key_kind, key";
            write_table(spark, &mut summary.tables, "metrics", &sink, query, &[], &commit, summary.metrics_rows).await?;
            if let Some(alerts) = &pipeline.load.alerts {
                sweep_runtime::alerts::publish_threshold_alerts(alerts, &window::threshold_alerts(spark, spec).await?)?;
            }
        }
        Ok::<_, SparkError>(summary)
    }
    .await;
    release(spark, checkpoints, staged_files).await;
    result
}

/// The header directive lines of a file (`#Fields:` lines of ELFF) with their line numbers,
/// in order: the format reads each line with the last directive before it.
/// The lines of the file read as the view `view`, numbered from 1 as the embedded reader
/// numbers them, with the file still read in parallel splits and no line moved between
/// tasks: a split's lines keep their order within its task, and
/// `monotonically_increasing_id()` counts up by one along them. A line's number is the lines
/// of the splits before its own plus its distance from the first id of its split, so a first,
/// cheap query counts the lines of each split; the second adds each split's offset through a
/// broadcast table of a few rows. (In one query, the same numbers come from a table
/// expression read twice, which Spark computes once and shuffles: about 8 % of the parse.)
/// Both queries read the view's one listing of the file, so they split it the same way.
pub(crate) async fn numbered_lines(spark: &mut SparkClient, view: &str, source: &str, path: &Path) -> Result<String, SparkError> {
    let query = format!(
        "SELECT b, min(id) AS first_id, count(*) AS n \
         FROM (SELECT input_file_block_start() AS b, monotonically_increasing_id() AS id FROM {view}) t GROUP BY b ORDER BY b"
    );
    let batches = spark.sql(&query, &format!("counting the lines of {}", path.display())).await?;
    let mut splits = Vec::new();
    for batch in &batches {
        let columns = (0..3).map(|i| batch.column(i).as_primitive_opt::<Int64Type>()).collect::<Option<Vec<_>>>();
        let Some(columns) = columns else {
            return Err(SparkError::Protocol(format!("line counts: unexpected column types {:?}", batch.schema())));
        };
        for row in 0..batch.num_rows() {
            splits.push((columns[0].value(row), columns[1].value(row), columns[2].value(row)));
        }
    }
    // The number of a split's first line minus its first id, per split start.
    let mut before = 0i64;
    let mut deltas = Vec::with_capacity(splits.len());
    for (start, first_id, count) in splits {
        deltas.push(format!("({start}L, {}L)", before + 1 - first_id));
        before += count;
    }
    let deltas = if deltas.is_empty() {
        "SELECT CAST(NULL AS BIGINT) AS b, CAST(NULL AS BIGINT) AS delta WHERE FALSE".to_string()
    } else {
        format!("SELECT * FROM VALUES {} AS o(b, delta)", deltas.join(", "))
    };
    Ok(format!(
        "SELECT /*+ BROADCAST(o) */ {source} AS source, CAST(t.id + o.delta AS BIGINT) AS offset, raw, line, \
                (TRIM(BOTH ' \\t' FROM line) = '') AS blank, \
                octet_length(raw) - CASE WHEN substr(CAST(raw AS BINARY), -1) = X'0D' THEN 1 ELSE 0 END AS line_bytes \
         FROM (SELECT *, CASE WHEN endswith(raw, '\\r') THEN substr(raw, 1, char_length(raw) - 1) ELSE raw END AS line \
               FROM (SELECT value AS raw, input_file_block_start() AS b, monotonically_increasing_id() AS id FROM {view}) t) t \
         JOIN ({deltas}) o ON t.b = o.b"
    ))
}

async fn header_directives(spark: &mut SparkClient, lines: &str, prefix: &[u8], path: &Path) -> Result<Vec<Directive>, SparkError> {
    let prefix = lit(&String::from_utf8_lossy(prefix));
    let query = format!("SELECT offset, line FROM ({lines}) l WHERE startswith(line, {prefix}) ORDER BY offset");
    let batches = spark.sql(&query, &format!("finding the header directives of {}", path.display())).await?;
    let mut directives = Vec::new();
    for batch in &batches {
        let offsets = batch.column(0).as_primitive_opt::<Int64Type>();
        let texts = batch.column(1).as_string_opt::<i32>();
        let (Some(offsets), Some(texts)) = (offsets, texts) else {
            return Err(SparkError::Protocol(format!("header directives: unexpected column types {:?}", batch.schema())));
        };
        for i in 0..batch.num_rows() {
            directives.push(Directive { offset: offsets.value(i), line: texts.value(i).to_string() });
        }
    }
    Ok(directives)
}

/// Where the tables of a run go, and how each write is committed.
pub(crate) enum Commit<'a> {
    /// A batch run over files: each table is written with this write mode.
    Run(WriteMode),
    /// One micro-batch of a Kafka run (crate::stream), exactly once: a Delta write carries the
    /// application transaction (`app_id`, `batch`), which Delta skips if the table holds it;
    /// Parquet files are written to `staging`, then moved into the table under names fixed by
    /// the batch number, replacing what an interrupted attempt left. With `replace` (batch 0
    /// of a stream under `--mode overwrite`) the batch replaces the rows the table held.
    MicroBatch { app_id: &'a str, batch: u64, staging: &'a Path, replace: bool },
}

/// The stages after the reader, over `parsed` (a query over the parsed lines, see
/// [`parsed_sql`]): stores the parse, runs the transform stages, counts, writes events and
/// rejects, sweeps (with `intel`) and writes hits; adds the counts to `summary`. Rejects keep
/// `raw_sql` (an expression over `sweep_parsed`) as their raw bytes. The views stay defined
/// (`events`, `sweep_hits`, ...) until the session ends or the caller replaces them.
///
/// `late_before` (a stream's window watermark, µs): events before it are late. They are
/// swept, then written to the rejects table (reason `late`) instead of the events table, as
/// the embedded engine routes them; returns how many there were.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn process_parsed(
    spark: &mut SparkClient,
    pipeline: &Pipeline,
    parsed: &str,
    raw_sql: &str,
    ingest_micros: i64,
    late_before: Option<i64>,
    intel: Option<(&StagedIntel, u64)>,
    content: Option<&StagedContent<'_>>,
    commit: &Commit<'_>,
    checkpoints: &mut Vec<String>,
    staged_files: &mut Vec<PathBuf>,
    summary: &mut RunSummary,
) -> Result<u64, SparkError> {
    // Every later query reads the parsed lines; they are materialised once.
    checkpoints.push(spark.checkpoint("sweep_parsed", client::sql(parsed), "parsing the input").await?);
    let previous = transform_views(spark, pipeline).await?;
    if pipeline.transform.is_empty() {
        spark.create_view("events", client::sql("SELECT * FROM sweep_events_0")).await?;
    } else {
        let events = client::sql(&format!("SELECT * FROM {previous}"));
        checkpoints.push(spark.checkpoint("events", events, "running the transform stages").await?);
    }

    let counts = spark.sql("SELECT count(*), count_if(blank), count_if(rej IS NOT NULL) FROM sweep_parsed", "counting lines").await?;
    let [lines, skipped, rejects] = first_row_i64::<3>(&counts)?;
    summary.input_lines = lines as u64;
    summary.skipped = skipped as u64;
    summary.rejects = rejects as u64;
    summary.events = count(spark, "SELECT count(*) FROM events", "counting events").await?;
    for batch in spark.sql("SELECT rej.reason, count(*) FROM sweep_parsed WHERE rej IS NOT NULL GROUP BY 1", "counting reasons").await? {
        let reasons = batch.column(0).as_string::<i32>();
        let n = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            summary.reject_reasons.insert(reasons.value(row).to_string(), n.value(row) as u64);
        }
    }

    let (on_time, late) = match late_before {
        Some(w) => {
            let late = count(spark, &format!("SELECT count(*) FROM events WHERE unix_micros(ts) < {w}"), "finding late events").await?;
            (format!(" WHERE ts IS NULL OR unix_micros(ts) >= {w}"), late)
        }
        None => (String::new(), 0),
    };
    summary.events -= late;
    summary.rejects += late;
    if late > 0 {
        *summary.reject_reasons.entry("late".to_string()).or_default() += late;
    }
    if let Some(sink) = pipeline.load.sink("events") {
        // The partition's date as the embedded engine writes it (`{y:04}-{m:02}-{d:02}`, also past
        // year 9999, where `date_format` would add a sign).
        let query = format!("SELECT *, format_string('%04d-%02d-%02d', year(ts), month(ts), day(ts)) AS date FROM events{on_time}");
        write_table(spark, &mut summary.tables, "events", &sink, &query, &["date"], commit, summary.events).await?;
    }
    if let Some(sink) = pipeline.load.sink("rejects") {
        let mut query = format!(
            "SELECT {raw_sql} AS raw, rej.reason AS reason, {detail} AS detail, format, source, offset, \
             timestamp_micros({ingest_micros}) AS ingest_ts FROM sweep_parsed WHERE rej IS NOT NULL",
            detail = reject_detail("rej")
        );
        if let (Some(w), true) = (late_before, late > 0) {
            // The embedded engine's message: docs/streaming.md.
            query.push_str(&format!(
                " UNION ALL SELECT {raw_sql} AS raw, 'late' AS reason, \
                   concat('event time ', date_format(e.ts, 'yyyy-MM-dd\\'T\\'HH:mm:ss.SSSSSS\\'Z\\''), \
                          ' is behind the window watermark (allowed_lateness)') AS detail, \
                   p.format, p.source, p.offset, timestamp_micros({ingest_micros}) AS ingest_ts \
                 FROM (SELECT source, offset, ts FROM events WHERE unix_micros(ts) < {w}) e \
                 JOIN sweep_parsed p ON e.source = p.source AND e.offset = p.offset"
            ));
        }
        write_table(spark, &mut summary.tables, "rejects", &sink, &query, &[], commit, summary.rejects).await?;
    }

    let tag = match commit {
        Commit::MicroBatch { batch, .. } => format!("-batch-{batch}"),
        Commit::Run(_) => String::new(),
    };
    if let Some((staged, retro_hits)) = intel {
        let swept = staged.sweep(spark, &tag, checkpoints, staged_files).await?;
        summary.hits = swept.hits;
        if let Some(sink) = pipeline.load.sink("hits") {
            // A stream's retro hits (crate::stream) commit with the batch's own.
            let query = match retro_hits {
                0 => "SELECT * FROM sweep_hits",
                _ => "SELECT * FROM sweep_hits UNION ALL SELECT * FROM sweep_retro_hits",
            };
            write_table(spark, &mut summary.tables, "hits", &sink, query, &[], commit, summary.hits + retro_hits).await?;
        }
        summary.intel = Some(IntelSummary { inactive: swept.inactive, suppressed: swept.suppressed, ..Default::default() });
    }
    // Late events are judged too, as they are swept.
    if let (Some(content), Some(sink)) = (content, pipeline.load.sink("findings")) {
        content.judge(spark, &tag, staged_files).await?;
        checkpoints.push(spark.checkpoint("sweep_findings", client::sql(FINDINGS_SQL), "judging the hosts").await?);
        for batch in spark.sql("SELECT finding, count(*) FROM sweep_findings GROUP BY 1", "counting findings").await? {
            let (kinds, n) = (batch.column(0).as_string::<i32>(), batch.column(1).as_primitive::<Int64Type>());
            for row in 0..batch.num_rows() {
                summary.findings += n.value(row) as u64;
                *summary.findings_by_kind.entry(kinds.value(row).to_string()).or_default() += n.value(row) as u64;
            }
        }
        let query = "SELECT ts, client_ip, user, host, url, source, offset, finding, score, reason FROM sweep_findings \
                     ORDER BY source, offset, rank";
        write_table(spark, &mut summary.tables, "findings", &sink, query, &[], commit, summary.findings).await?;
    }
    Ok(late)
}

/// The parsed lines over `lines` (a query with the columns `source, offset, raw, line,
/// blank`): `source, offset, raw, blank, rej, format` and the event columns, after `extra`
/// (more columns, each followed by a comma). `early` holds the `WHEN ... THEN reject`
/// checks of the reader that come before the format's own; a blank line, or one the format
/// skips (`parse_skip`: comments, directives, header rows), is no reject: it is counted as
/// skipped, and `blank` is true for it.
pub(crate) fn parsed_sql(fmt: &FormatSql, lines: &str, extra: &str, early: &str) -> String {
    let columns: Vec<String> = event_columns().iter().map(|name| format!("e_{name} AS {name}")).collect();
    format!(
        "SELECT source, offset, raw, {extra}((CASE {early} ELSE NULL END) IS NULL AND (blank OR parse_skip)) AS blank, \
                CASE {early} WHEN blank OR parse_skip THEN NULL ELSE parse_rej END AS rej, \
                {format_name} AS format, {columns} \
         FROM ({parse}) p",
        format_name = lit(fmt.name),
        columns = columns.join(", "),
        parse = fmt.steps.over(lines),
    )
}

/// Defines the view `sweep_events_0` (the events of `sweep_parsed`) and one view per SQL
/// transform stage over it; returns the name of the last.
async fn transform_views(spark: &mut SparkClient, pipeline: &Pipeline) -> Result<String, SparkError> {
    let event_columns = "ts, client_ip, user, method, url, scheme, host, port, path, query, status, request_bytes, response_bytes, \
        duration_ms, user_agent, referrer, content_type, proxy_action, server_ip, category, format, source, offset";
    spark
        .create_view("sweep_events_0", client::sql(&format!("SELECT {event_columns} FROM sweep_parsed WHERE rej IS NULL AND NOT blank")))
        .await?;
    let mut previous = "sweep_events_0".to_string();
    for (i, stage) in pipeline.transform.iter().enumerate() {
        let view = format!("sweep_events_{}", i + 1);
        let query = format!("WITH events AS (SELECT * FROM {previous}) SELECT * FROM ({})", stage.sql);
        spark.create_view(&view, client::sql(&query)).await?;
        previous = view;
    }
    Ok(previous)
}

/// Checks the server's version and sets what the compiled SQL expects of the session.
pub(crate) async fn prepare_session(spark: &mut SparkClient) -> Result<(), SparkError> {
    let version = spark.spark_version().await?;
    let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 4 {
        return Err(SparkError::Version { remote: spark.remote().to_string(), version });
    }
    for setting in [
        // UTC like the embedded engine.
        "spark.sql.session.timeZone=UTC",
        // Microsecond timestamps, which every Parquet reader knows.
        "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS",
        // The compiled SQL guards every cast itself and expects NULL, not an error, from them.
        "spark.sql.ansi.enabled=false",
        // A parse compiles to one Java method too large for the JVM's JIT compiler (8,000
        // bytes of bytecode; larger methods stay interpreted); past that size Spark compiles
        // each step on its own instead. Measured: 40 % less CPU for the parse.
        "spark.sql.codegen.hugeMethodLimit=8000",
        // decode() of bytes that are not UTF-8 gives replacement characters (which the Kafka
        // reader looks for) instead of failing the query.
        "spark.sql.legacy.codingErrorAction=true",
        // The optimizer's constraint propagation multiplies the aliases of a parse's many
        // steps into sets that filled 4 GB of server heap for one streaming query.
        "spark.sql.constraintPropagation.enabled=false",
        // A custom pattern of many placeholders nests more steps than the analyser's default
        // 100 rounds resolve ("Max iterations (100) reached for batch Resolution").
        "spark.sql.analyzer.maxIterations=1000",
        // JSON lines: of a key written twice in an object, the last counts (serde_json's
        // reading), instead of the line failing.
        "spark.sql.variant.allowDuplicateKeys=true",
    ] {
        spark.sql(&format!("SET {setting}"), "configuring the session").await?;
    }
    Ok(())
}

/// What the sweeper found over the view `events`.
pub(crate) struct Swept {
    pub hits: u64,
    pub inactive: u64,
    pub suppressed: u64,
}

/// The indicators (and the allowlist) staged in a folder the server reads, as the views
/// `intel` and `allow`: done once per run, however many batches are swept against them.
pub(crate) struct StagedIntel {
    pub index: Arc<sweep_intel::index::IntelIndex>,
    pub fields: Vec<sweep_model::MatchField>,
    staging: PathBuf,
    /// The staged indicator keys (the view `intel`) and allowlist keys (the view `allow`).
    keys: PathBuf,
    allow: Option<PathBuf>,
    with_urls: bool,
}

impl StagedIntel {
    /// Writes the keys of `index` (and of its allowlist) where the server reads them, and
    /// points the views `intel` and `allow` at them. The files are added to `staged_files`.
    pub(crate) async fn stage(
        spark: &mut SparkClient,
        index: &Arc<sweep_intel::index::IntelIndex>,
        fields: &[sweep_model::MatchField],
        staging: &Path,
        staged_files: &mut Vec<PathBuf>,
    ) -> Result<StagedIntel, SparkError> {
        let keys = staging.join(format!("intel-{}.parquet", index.version()));
        write_intel_keys(index, &keys)?;
        staged_files.push(keys.clone());
        let allow = if index.allow_len() > 0 {
            let staged = staging.join(format!("allow-{}.parquet", index.version()));
            write_allow_keys(index, &staged)?;
            staged_files.push(staged.clone());
            Some(staged)
        } else {
            None
        };
        let with_urls = fields.contains(&sweep_model::MatchField::Url) && index.count(sweep_intel::IndicatorType::Url) > 0;
        let staged = StagedIntel { index: index.clone(), fields: fields.to_vec(), staging: staging.to_path_buf(), keys, allow, with_urls };
        staged.activate(spark).await?;
        Ok(staged)
    }

    /// Points the views `intel` and `allow` at this index's staged keys again (after another
    /// index was swept, as a stream's retro-sweep does).
    pub(crate) async fn activate(&self, spark: &mut SparkClient) -> Result<(), SparkError> {
        spark.create_view("intel", client::read("parquet", vec![spark_path(&self.keys)], HashMap::new())).await?;
        if let Some(allow) = &self.allow {
            spark.create_view("allow", client::read("parquet", vec![spark_path(allow)], HashMap::new())).await?;
        }
        Ok(())
    }

    /// Sweeps the view `events`: defines the views `sweep_keys`, `sweep_candidates` and
    /// `sweep_hits`, and returns the counts. `tag` names this sweep's staged files apart
    /// from other batches'.
    pub(crate) async fn sweep(
        &self,
        spark: &mut SparkClient,
        tag: &str,
        checkpoints: &mut Vec<String>,
        staged_files: &mut Vec<PathBuf>,
    ) -> Result<Swept, SparkError> {
        let mut url_map = UrlMap::None;
        if self.with_urls {
            let tuples = spark.sql(URL_TUPLES_SQL, "collecting the URLs to canonicalise").await?;
            let staged = self.staging.join(format!("urls-{}{tag}.parquet", self.index.version()));
            let rows = write_url_map(&tuples, &staged)?;
            url_map = if rows <= BROADCAST_URL_MAP_ROWS { UrlMap::Broadcast } else { UrlMap::Shuffle };
            spark.create_view("sweep_url_map", client::read("parquet", vec![spark_path(&staged)], HashMap::new())).await?;
            staged_files.push(staged);
        }
        checkpoints.push(spark.checkpoint("sweep_keys", client::sql(&keys_sql(url_map)), "computing the match keys").await?);
        let broadcast = Broadcast::for_sizes(self.index.len(), self.index.allow_len());
        let candidates = client::sql(&candidate_view_sql(&self.fields, self.allow.is_some(), self.with_urls, broadcast));
        checkpoints.push(spark.checkpoint("sweep_candidates", candidates, "matching indicators").await?);
        spark.create_view("sweep_hits", client::sql(HITS_SQL)).await?;
        Ok(Swept {
            hits: count(spark, "SELECT count(*) FROM sweep_hits", "counting hits").await?,
            inactive: count(spark, INACTIVE_SQL, "counting inactive matches").await?,
            suppressed: if self.allow.is_some() { count(spark, SUPPRESSED_SQL, "counting allow-listed matches").await? } else { 0 },
        })
    }
}

/// The sweeper over the view `events`, staged and swept at once (runs that sweep once).
pub(crate) async fn sweep_events(
    spark: &mut SparkClient,
    loaded: &LoadedIntel,
    fields: &[sweep_model::MatchField],
    staging: &Path,
    checkpoints: &mut Vec<String>,
    staged_files: &mut Vec<PathBuf>,
) -> Result<Swept, SparkError> {
    let staged = StagedIntel::stage(spark, &loaded.index, fields, staging, staged_files).await?;
    staged.sweep(spark, "", checkpoints, staged_files).await
}

/// Frees the checkpoints and removes the staged files (and their folder, once empty).
pub(crate) async fn release(spark: &mut SparkClient, checkpoints: Vec<String>, staged_files: Vec<PathBuf>) {
    for id in checkpoints {
        spark.release_checkpoint(&id).await;
    }
    for file in staged_files {
        let _ = std::fs::remove_file(&file);
        if let Some(dir) = file.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Writes `query` as the table `table` and records it in `tables` (a micro-batch adds to
/// what earlier batches wrote).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_table(
    spark: &mut SparkClient,
    tables: &mut std::collections::BTreeMap<String, TableSummary>,
    table: &str,
    sink: &SinkSpec,
    query: &str,
    partition_by: &[&str],
    commit: &Commit<'_>,
    rows: u64,
) -> Result<(), SparkError> {
    let path = sink.path();
    let entry = tables.entry(table.to_string()).or_insert_with(|| TableSummary { path: path.to_path_buf(), rows: 0, files: 0 });
    match commit {
        Commit::Run(mode) => {
            let save_mode = match mode {
                WriteMode::Error => proto::write_operation::SaveMode::ErrorIfExists,
                WriteMode::Append => proto::write_operation::SaveMode::Append,
                WriteMode::Overwrite => proto::write_operation::SaveMode::Overwrite,
            };
            spark.write(client::sql(query), "parquet", &spark_path(path), partition_by, save_mode, HashMap::new()).await?;
            entry.rows = rows;
            entry.files = parquet_files(path);
        }
        Commit::MicroBatch { app_id, batch, replace: true, .. } if rows == 0 => replace_without_rows(table, sink, app_id, *batch)?,
        // An empty batch leaves the table as it is, as the embedded engine does.
        Commit::MicroBatch { .. } if rows == 0 => {}
        Commit::MicroBatch { app_id, batch, replace, .. } if matches!(sink, SinkSpec::Delta(_)) => {
            let options = HashMap::from([("txnAppId".to_string(), app_id.to_string()), ("txnVersion".to_string(), batch.to_string())]);
            // Delta's overwrite removes the old files in the version that adds the new ones.
            let mode = match replace {
                true => proto::write_operation::SaveMode::Overwrite,
                false => proto::write_operation::SaveMode::Append,
            };
            spark.write(client::sql(query), "delta", &spark_path(path), partition_by, mode, options).await?;
            entry.rows += rows;
            entry.files += 1;
        }
        Commit::MicroBatch { batch, staging, replace, .. } => {
            let staged = staging.join(table).join(format!("batch-{batch:012}"));
            let overwrite = proto::write_operation::SaveMode::Overwrite;
            spark.write(client::sql(query), "parquet", &spark_path(&staged), partition_by, overwrite, HashMap::new()).await?;
            entry.rows += rows;
            entry.files += move_batch_files(&staged, path, *batch)?;
            if *replace {
                sweep_load::remove_files_except(path, &format!("batch-{batch:012}-"), None).map_err(RunError::from)?;
            }
        }
    }
    Ok(())
}

/// Replaces a stream table's rows with none: the first batch under `--mode overwrite` when it
/// has no rows for the table (a commit of its own, so that a replayed batch does it once).
pub(crate) fn replace_without_rows(table: &str, sink: &SinkSpec, app_id: &str, batch: u64) -> Result<(), SparkError> {
    let path = sink.path();
    let schema = match table {
        "events" => sweep_formats::events_schema(),
        "rejects" => sweep_formats::rejects_schema(),
        "hits" => sweep_sweeper::hits_schema(),
        "metrics" => sweep_window::metrics_schema(),
        _ => sweep_content::findings_schema(),
    };
    let replaced = match sink {
        SinkSpec::Delta(_) if path.join("_delta_log").is_dir() => sweep_load::delta::remove_all_as_batch(path, app_id, batch as i64),
        SinkSpec::Delta(_) => Ok(()),
        SinkSpec::Parquet(_) => sweep_load::remove_files_except(path, &format!("batch-{batch:012}-"), Some(&schema)).map(|_| ()),
        SinkSpec::Jsonl(_) => sweep_load::remove_files_except(path, &format!("batch-{batch:012}-"), None).map(|_| ()),
    };
    replaced.map_err(|e| RunError::from(e).into())
}

/// Moves the Parquet files Spark wrote for micro-batch `batch` at `staged` into the table at
/// `table`, as `batch-<n>-<k>.parquet` in the same partition folders: first removes the
/// files an earlier attempt at the batch left, so the table holds the batch once. Returns
/// the number of files.
fn move_batch_files(staged: &Path, table: &Path, batch: u64) -> Result<usize, SparkError> {
    let failed = |e: std::io::Error, what: &Path| SparkError::Output { path: what.display().to_string(), message: e.to_string() };
    let prefix = format!("batch-{batch:012}-");
    let mut earlier = Vec::new();
    collect_files(table, &mut earlier);
    for file in earlier.iter().filter(|f| f.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix))) {
        std::fs::remove_file(file).map_err(|e| failed(e, file))?;
    }
    let mut written = Vec::new();
    collect_files(staged, &mut written);
    written.retain(|f| f.extension().is_some_and(|x| x == "parquet"));
    written.sort();
    for (k, file) in written.iter().enumerate() {
        let folder = file.parent().and_then(|p| p.strip_prefix(staged).ok()).unwrap_or(Path::new(""));
        let target_dir = table.join(folder);
        std::fs::create_dir_all(&target_dir).map_err(|e| failed(e, &target_dir))?;
        let target = target_dir.join(format!("{prefix}{k:05}.parquet"));
        // A rename within one file system; a copy when the staging folder is on another.
        if std::fs::rename(file, &target).is_err() {
            std::fs::copy(file, &target).map_err(|e| failed(e, &target))?;
        }
    }
    std::fs::remove_dir_all(staged).map_err(|e| failed(e, staged))?;
    Ok(written.len())
}

fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, into);
        } else {
            into.push(path);
        }
    }
}

/// Parquet files under a local table folder (0 when the folder is not local).
fn parquet_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { parquet_files(&p) } else { usize::from(p.extension().is_some_and(|x| x == "parquet")) }
        })
        .sum()
}

pub(crate) async fn count(spark: &mut SparkClient, query: &str, what: &str) -> Result<u64, SparkError> {
    let batches = spark.sql(query, what).await?;
    Ok(first_row_i64::<1>(&batches)?[0] as u64)
}

fn first_row_i64<const N: usize>(batches: &[RecordBatch]) -> Result<[i64; N], SparkError> {
    let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| SparkError::Protocol("a count returned no row".into()))?;
    let mut out = [0i64; N];
    for (i, slot) in out.iter_mut().enumerate() {
        let column = batch.column(i);
        *slot = column
            .as_primitive_opt::<Int64Type>()
            .filter(|c| c.is_valid(0))
            .map(|c| c.value(0))
            .ok_or_else(|| SparkError::Protocol(format!("a count returned {:?}", column.data_type())))?;
    }
    Ok(out)
}

//! Retro-sweep on Spark: today's indicators over a lake's stored `events` table.
//!
//! The same contract as the embedded retro-sweep (sweep_embedded's retro): the events (from a
//! date on, optionally) are swept by the same joins as a batch run, and only the (event,
//! indicator) pairs the `hits` table does not hold yet are appended, so running it again
//! writes nothing twice. An event is identified by (`source`, `offset`), an indicator by
//! (`indicator`, `indicator_type`, `feed`). Spark reads and writes the lake itself.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use sweep_load::{Lake, run_id};
use sweep_model::{SigmaSpec, SinkSpec, SweeperSpec, WriteMode};
use sweep_runtime::intel::load_intel;
use sweep_runtime::sigma::{SigmaStage, load_stage};
use sweep_runtime::{IntelSummary, RetroSummary, RunError, SigmaRetroSummary, detections_are_delta, hits_are_delta};
use sweep_sweeper::{hits_schema, intel_schema};

use crate::SparkError;
use crate::client::{self, Remote, SparkClient};
use crate::run::{Commit, client_runtime, count, prepare_session, release, spark_path, sweep_events, write_table};

/// Sweeps the events under `lake` whose date is `since` or later (all when `None`) on the
/// Spark Connect server at `remote`.
pub fn retro(lake: &Path, spec: &SweeperSpec, since: Option<&str>, remote: &str) -> Result<RetroSummary, SparkError> {
    let started = Instant::now();
    let remote = Remote::parse(remote)?;
    check_since(since)?;
    sweep_load::refuse_object_lake(lake, "retro-sweeps of lakes", "copy the lake to local disk and retro-sweep it there")
        .map_err(RunError::from)?;
    if !lake.join("events").is_dir() {
        return Err(SparkError::Unsupported(format!("{} has no events table to sweep", lake.display())));
    }
    let loaded = load_intel(spec, None)?;
    // The new hits and the intel snapshot commit together through the lake's journal, or
    // not at all, as on the embedded engine; the lock keeps other writers out meanwhile.
    let journal = Lake::open(lake).map_err(RunError::from)?;
    let mut txn = journal.begin(&run_id(), WriteMode::Append).map_err(RunError::from)?;
    let hits_target = match hits_are_delta(lake).map_err(RunError::from)? {
        true => SinkSpec::Delta(lake.join("hits")),
        false => SinkSpec::Parquet(lake.join("hits")),
    };
    let mut stage =
        |name: &str, target: &SinkSpec, schema, replace| txn.stage(name, target, schema, false, replace).map_err(RunError::from);
    let staged = StagedRetro {
        hits: stage("hits", &hits_target, hits_schema(), false)?,
        intel: stage("intel", &SinkSpec::Parquet(lake.join("intel")), intel_schema(), true)?,
    };
    let runtime = client_runtime()?;
    let mut summary = runtime.block_on(async {
        let mut spark = SparkClient::connect(&remote).await?;
        let result = retro_on(&mut spark, lake, &loaded, spec, since, &staged).await;
        spark.release().await;
        result
    })?;
    txn.add_rows("hits", summary.hits_written);
    txn.add_rows("intel", loaded.index.len() as u64);
    txn.commit().map_err(RunError::from)?;
    let base = IntelSummary::new(&loaded);
    summary.intel = IntelSummary { inactive: summary.intel.inactive, suppressed: summary.intel.suppressed, ..base };
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_swept as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
}

/// Evaluates the Sigma rules of `spec` over the events under `lake` whose date is `since` or
/// later (all when `None`) on the Spark Connect server at `remote`, and appends the
/// detections the lake does not hold yet (the embedded engine's contract: see
/// `sweep_runtime::Engine::retro_sigma`). Correlations run over every event read.
pub fn retro_sigma(lake: &Path, spec: &SigmaSpec, since: Option<&str>, remote: &str) -> Result<SigmaRetroSummary, SparkError> {
    let started = Instant::now();
    let remote = Remote::parse(remote)?;
    check_since(since)?;
    let stage = load_stage(spec)?;
    sweep_load::refuse_object_lake(lake, "retro-sweeps of lakes", "copy the lake to local disk and retro-sweep it there")
        .map_err(RunError::from)?;
    if !lake.join("events").is_dir() {
        return Err(SparkError::Unsupported(format!("{} has no events table to evaluate", lake.display())));
    }
    let journal = Lake::open(lake).map_err(RunError::from)?;
    let run = run_id();
    let mut txn = journal.begin(&run, WriteMode::Append).map_err(RunError::from)?;
    let target = match detections_are_delta(lake).map_err(RunError::from)? {
        true => SinkSpec::Delta(lake.join("detections")),
        false => SinkSpec::Parquet(lake.join("detections")),
    };
    let staged = txn.stage("detections", &target, sweep_sigma::detections_schema(), false, false).map_err(RunError::from)?;
    let runtime = client_runtime()?;
    let mut summary = runtime.block_on(async {
        let mut spark = SparkClient::connect(&remote).await?;
        let result = retro_sigma_on(&mut spark, lake, &stage, since, &staged, &run).await;
        spark.release().await;
        result
    })?;
    txn.add_rows("detections", summary.detections_written);
    txn.commit().map_err(RunError::from)?;
    summary.sigma = stage.summary.clone();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_swept as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
}

fn check_since(since: Option<&str>) -> Result<(), SparkError> {
    match since {
        Some(d) if !(d.len() == 10 && sweep_formats::time::parse_date_and_time(d, "00:00:00").is_some()) => {
            Err(SparkError::Unsupported(format!("--since {d:?} is not a date; write it as YYYY-MM-DD")))
        }
        _ => Ok(()),
    }
}

/// The stored events (from `since`) as the view `events`.
async fn stored_events(spark: &mut SparkClient, lake: &Path, since: Option<&str>) -> Result<(), SparkError> {
    prepare_session(spark).await?;
    let stored = client::read(table_format(&lake.join("events")), vec![spark_path(&lake.join("events"))], HashMap::new());
    spark.create_view("sweep_stored_events", stored).await?;
    let filter = since.map(|d| format!(" WHERE date >= DATE'{d}'")).unwrap_or_default();
    spark.create_view("events", client::sql(&format!("SELECT * FROM sweep_stored_events{filter}"))).await
}

/// A detection's identity, as the embedded retro-sweep keys it: its event and rule (the id,
/// else the title), or for a correlation match its rule, group and last event time.
const DETECTION_KEY_SQL: &str = "CASE WHEN offset IS NOT NULL        THEN concat_ws(char(0), 'e', coalesce(source, ''), CAST(offset AS STRING), coalesce(nullif(rule_id, ''), rule_title))        ELSE concat_ws(char(0), 'c', coalesce(nullif(rule_id, ''), rule_title), coalesce(group_by, ''),                       CAST(coalesce(unix_micros(ts), 0) AS STRING)) END";

async fn retro_sigma_on(
    spark: &mut SparkClient,
    lake: &Path,
    stage: &SigmaStage,
    since: Option<&str>,
    staged: &SinkSpec,
    run: &str,
) -> Result<SigmaRetroSummary, SparkError> {
    stored_events(spark, lake, since).await?;
    let (mut checkpoints, mut staged_files) = (Vec::new(), Vec::new());
    let result = async {
        let mut summary =
            SigmaRetroSummary { events_swept: count(spark, "SELECT count(*) FROM events", "counting events").await?, ..Default::default() };
        let mut correlator = stage.correlator(sweep_sigma::CorrelationMode::Batch);
        let staging = lake.join("_sweep_staging").join(format!("sigma-{run}"));
        summary.detections_found =
            crate::sigma::detect(spark, stage, correlator.as_mut(), true, &staging, &mut checkpoints, &mut staged_files).await?;
        let stored = lake.join("detections").is_dir();
        if stored {
            let table = client::read(table_format(&lake.join("detections")), vec![spark_path(&lake.join("detections"))], HashMap::new());
            spark.create_view("sweep_stored_detections", table).await?;
        }
        let keyed = format!(
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY rule_title) AS n              FROM (SELECT *, {DETECTION_KEY_SQL} AS k FROM sweep_detections)) WHERE n = 1"
        );
        let fresh = match stored {
            true => format!(
                "SELECT d.* FROM ({keyed}) d LEFT ANTI JOIN (SELECT {DETECTION_KEY_SQL} AS k FROM sweep_stored_detections) s ON d.k = s.k"
            ),
            false => keyed,
        };
        let columns = "ts, client_ip, user, host, url, rule_id, rule_title, level, status, tags, group_by, count, first_ts, format,                        source, offset";
        let fresh = client::sql(&format!("SELECT {columns} FROM ({fresh})"));
        checkpoints.push(spark.checkpoint("sweep_fresh_detections", fresh, "finding the detections not stored yet").await?);
        summary.detections_written = count(spark, "SELECT count(*) FROM sweep_fresh_detections", "counting new detections").await?;
        summary.detections_already_present = summary.detections_found.saturating_sub(summary.detections_written);
        // Spark writes into the run's staging folder; the journal moves it in when the caller
        // commits.
        let query = "SELECT * FROM sweep_fresh_detections ORDER BY source, offset, rule_id";
        let commit = Commit::Run(WriteMode::Overwrite);
        write_table(spark, &mut Default::default(), "detections", staged, query, &[], &commit, summary.detections_written).await?;
        Ok::<_, SparkError>(summary)
    }
    .await;
    release(spark, checkpoints, staged_files).await;
    result
}

/// Where Spark writes a retro-sweep's tables: the run's staging folders in the lake journal.
struct StagedRetro {
    hits: SinkSpec,
    intel: SinkSpec,
}

async fn retro_on(
    spark: &mut SparkClient,
    lake: &Path,
    loaded: &sweep_sweeper::LoadedIntel,
    spec: &SweeperSpec,
    since: Option<&str>,
    staged: &StagedRetro,
) -> Result<RetroSummary, SparkError> {
    stored_events(spark, lake, since).await?;

    let (mut checkpoints, mut staged_files) = (Vec::new(), Vec::new());
    let swept = sweep_events(spark, loaded, &spec.fields, &lake.join("_sweep_staging"), &mut checkpoints, &mut staged_files).await;
    let result = async {
        let swept = swept?;
        let mut summary =
            RetroSummary { events_swept: count(spark, "SELECT count(*) FROM events", "counting events").await?, ..Default::default() };
        summary.hits_found = swept.hits;
        let stored_hits = lake.join("hits").is_dir();
        if stored_hits {
            let stored = client::read(table_format(&lake.join("hits")), vec![spark_path(&lake.join("hits"))], HashMap::new());
            spark.create_view("sweep_stored_hits", stored).await?;
        }
        let fresh = client::sql(&fresh_hits_sql(stored_hits, &loaded.index.version()));
        checkpoints.push(spark.checkpoint("sweep_fresh_hits", fresh, "finding the hits not stored yet").await?);
        summary.hits_written = count(spark, "SELECT count(*) FROM sweep_fresh_hits", "counting new hits").await?;
        summary.hits_already_present = summary.hits_found.saturating_sub(summary.hits_written);
        // Spark writes into the run's staging folders; the journal moves both tables in
        // at once when the caller commits.
        write_table(
            spark,
            &mut Default::default(),
            "hits",
            &staged.hits,
            "SELECT * FROM sweep_fresh_hits",
            &[],
            &Commit::Run(WriteMode::Overwrite),
            summary.hits_written,
        )
        .await?;
        let query = "SELECT indicator, indicator_type, feed, confidence, severity, tags, description, valid_from, valid_until, \
                     intel_version FROM intel";
        write_table(
            spark,
            &mut Default::default(),
            "intel",
            &staged.intel,
            query,
            &[],
            &Commit::Run(WriteMode::Overwrite),
            loaded.index.len() as u64,
        )
        .await?;
        summary.intel = IntelSummary { inactive: swept.inactive, suppressed: swept.suppressed, ..Default::default() };
        Ok::<_, SparkError>(summary)
    }
    .await;
    release(spark, checkpoints, staged_files).await;
    result
}

/// The hits of the view `sweep_hits` as a retro-sweep appends them: one per (event,
/// indicator value, type, feed), as the embedded retro-sweep keeps them, none that the view
/// `sweep_stored_hits` holds already (when `stored_hits`), tagged `retro` with `intel_version`.
pub(crate) fn fresh_hits_sql(stored_hits: bool, intel_version: &str) -> String {
    let keyed = "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY source, offset, indicator, indicator_type, feed \
                 ORDER BY matched_field, match_kind) AS k FROM sweep_hits) WHERE k = 1";
    let fresh = if stored_hits {
        format!(
            "SELECT h.* FROM ({keyed}) h LEFT ANTI JOIN sweep_stored_hits s ON h.source = s.source AND h.offset = s.offset \
             AND h.indicator = s.indicator AND h.indicator_type = s.indicator_type AND h.feed = s.feed"
        )
    } else {
        keyed.to_string()
    };
    format!(
        "SELECT ts, client_ip, user, host, url, indicator, indicator_type, match_kind, matched_field, feed, confidence, tags, \
         {} AS intel_version, 'retro' AS match_mode, source, offset FROM ({fresh})",
        sweep_spark_sql::fields::lit(intel_version)
    )
}

/// How a stored table is read: a Delta table by its log (its folder also holds the files of
/// versions it removed), anything else as Parquet files.
fn table_format(table: &Path) -> &'static str {
    if table.join("_delta_log").is_dir() { "delta" } else { "parquet" }
}

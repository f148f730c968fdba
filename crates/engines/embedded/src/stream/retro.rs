//! One part of the retro-sweep a new intel version owes, on the embedded engine: the events
//! the stream stored within the lookback before the version was taken (the part's files),
//! swept with the indicators the version added; hits the table already holds are left out.
//!
//! A hit is the same hit when it has the same event (`source`, `offset`) and indicator
//! (`indicator`, `indicator_type`, `feed`), the retro-sweep's keys. The table is read as it
//! was before this batch: a Delta table as of its last version (the batch's commit, retro
//! hits included, is one version), a Parquet folder without the batch's own files (a re-run
//! after a crash writes them again).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use sweep_intel::index::{MatchField, MatchStats};
use sweep_load::SinkSpec;
use sweep_runtime::intel::RetroWork;
use sweep_sweeper::Sweeper;

use crate::EngineError;
use crate::query::register_delta;
use crate::retro::{HitKey, keys_of};

/// The event columns the sweeper reads, and the event's key.
const SWEPT_COLUMNS: [&str; 12] =
    ["ts", "client_ip", "user", "host", "url", "scheme", "port", "path", "query", "server_ip", "source", "offset"];

/// The retro hits of `work` over the stored events, for batch `batch`.
pub(super) async fn sweep_stored(
    events: &SinkSpec,
    hits: &SinkSpec,
    work: &RetroWork,
    fields: &[MatchField],
    batch: u64,
) -> Result<Vec<RecordBatch>, EngineError> {
    let mut config = SessionConfig::new();
    // The sweeper reads plain Utf8 columns; ask the Parquet reader for them directly.
    config.options_mut().execution.parquet.schema_force_view_types = false;
    let ctx = SessionContext::new_with_config(config);
    let dir = events.path();
    match (&work.files, events) {
        // One part of a retro-sweep: its files, as the plan fixed them (a file removed since
        // has no events left to sweep).
        (Some(files), _) if sweep_load::is_object_lake(dir) => {
            // A Delta table's files stay until a vacuum, which the stream's lock keeps out.
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let Some(first) = files.first() else { return Ok(Vec::new()) };
            let located = sweep_storage::locate(first).map_err(|e| EngineError::refused(e.to_string()))?;
            let root = url::Url::parse(&located.root).map_err(|e| EngineError::worker(format!("{first}: {e}")))?;
            ctx.register_object_store(&root, located.store);
            let stored = ctx.read_parquet(files, ParquetReadOptions::default()).await?;
            ctx.register_table("events", stored.into_view())?;
        }
        (Some(files), _) => {
            let files: Vec<String> =
                files.iter().filter(|f| f.is_file()).filter_map(|f| std::path::absolute(f).ok()).map(|f| f.display().to_string()).collect();
            if files.is_empty() {
                return Ok(Vec::new());
            }
            let stored = ctx.read_parquet(files, ParquetReadOptions::default()).await?;
            ctx.register_table("events", stored.into_view())?;
        }
        (None, SinkSpec::Delta(_)) if sweep_load::is_delta_table(dir)? == Some(true) => register_delta(&ctx, "events", dir).await?,
        (None, SinkSpec::Parquet(_)) if has_files(dir) => {
            let options = ParquetReadOptions::default().table_partition_cols(vec![("date".to_string(), DataType::Utf8)]);
            let absolute = std::path::absolute(dir).map_err(|e| EngineError::worker(format!("{}: {e}", dir.display())))?;
            ctx.register_parquet("events", &format!("{}/", absolute.display()), options).await?;
        }
        _ => return Ok(Vec::new()),
    }
    // The date partitions prune the files (a part's files were chosen by them); the exact
    // time and the offsets are checked per row.
    let since_day = sweep_load::date_string(work.since_us.div_euclid(86_400_000_000).clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    let date_filter = if work.files.is_some() { String::new() } else { format!(" WHERE date >= '{since_day}'") };
    // Only the columns the sweeper reads (a stored event's user agent, referrer and the
    // rest are not decoded).
    let stored = ctx.table("events").await?;
    let columns: Vec<String> =
        SWEPT_COLUMNS.iter().filter(|c| stored.schema().has_column_with_unqualified_name(c)).map(|c| format!("\"{c}\"")).collect();
    let query = format!("SELECT {} FROM events{date_filter}", columns.join(", "));
    // Each partition of the scan is swept on its own task, so the retro-sweep uses every core.
    let streams = ctx.sql(&query).await?.execute_stream_partitioned().await?;
    let sweeper = Sweeper::retro(work.added.clone(), fields.to_vec(), &work.intel_version);
    let mut tasks = Vec::with_capacity(streams.len());
    for mut stream in streams {
        let (sweeper, work) = (sweeper.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let (mut stats, mut scratch) = (MatchStats::default(), Vec::new());
            let mut found = Vec::new();
            while let Some(events) = stream.next().await {
                let events = before_batch(&events?, &work)?;
                if events.num_rows() == 0 {
                    continue;
                }
                let hits = tokio::task::block_in_place(|| sweeper.sweep_batch(&events, &mut stats, &mut scratch))?;
                if hits.num_rows() > 0 {
                    found.push(hits);
                }
            }
            Ok::<_, EngineError>(found)
        }));
    }
    let mut found = Vec::new();
    for task in tasks {
        found.extend(task.await.map_err(|e| EngineError::worker(format!("retro-sweep task: {e}")))??);
    }
    if found.is_empty() {
        return Ok(found);
    }
    let stored = stored_keys(hits, batch, &found)?;
    found.iter().map(|b| without_keys(b, &stored)).filter(|b| !matches!(b, Ok(b) if b.num_rows() == 0)).collect()
}

/// The events within the lookback that came before the batch.
fn before_batch(events: &RecordBatch, work: &RetroWork) -> Result<RecordBatch, EngineError> {
    let ts = events.column_by_name("ts").and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
    let source = text(events, "source");
    let offset = events.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>());
    let keep: BooleanArray = (0..events.num_rows())
        .map(|i| {
            let recent = ts.is_some_and(|t| t.is_valid(i) && t.value(i) >= work.since_us);
            let later = match (source.as_ref(), offset) {
                (Some(s), Some(o)) if s.is_valid(i) && o.is_valid(i) => work.before.get(s.value(i)).is_some_and(|from| o.value(i) >= *from),
                _ => false,
            };
            Some(recent && !later)
        })
        .collect();
    Ok(filter_record_batch(events, &keep)?)
}

/// The keys of `found` that the hits table already holds (without batch `batch`'s files).
///
/// Only stored hits of an indicator the retro-sweep found can collide, so the files are
/// read with a row filter on `indicator`: the other key columns are decoded for those rows
/// only, and the cost stays small however many hits the table holds.
fn stored_keys(hits: &SinkSpec, batch: u64, found: &[RecordBatch]) -> Result<HashSet<HitKey>, EngineError> {
    let wanted: HashSet<HitKey> = found.iter().flat_map(keys_of).flatten().collect();
    let indicators: Arc<HashSet<String>> = Arc::new(wanted.iter().map(|k| k.2.clone()).collect());
    let mut stored = HashSet::new();
    for file in hit_files(hits, batch)? {
        let unreadable = |e: datafusion::parquet::errors::ParquetError| EngineError::worker(format!("reading {}: {e}", file.display()));
        // A file on object storage is read whole into memory: hits files are small.
        let builder = if sweep_load::is_object_lake(&file) {
            ParquetRecordBatchReaderBuilder::try_new(ParquetBytes::Memory(sweep_load::lake::read_object(&file)?))
        } else {
            let reader = std::fs::File::open(&file).map_err(|e| EngineError::worker(format!("reading {}: {e}", file.display())))?;
            ParquetRecordBatchReaderBuilder::try_new(ParquetBytes::File(reader))
        }
        .map_err(unreadable)?;
        let schema = builder.parquet_schema();
        let leaves = |names: &[&str]| -> Vec<usize> {
            (0..schema.num_columns()).filter(|&i| names.contains(&schema.column(i).path().parts()[0].as_str())).collect()
        };
        let mask = ProjectionMask::leaves(schema, leaves(&["source", "offset", "indicator", "indicator_type", "feed"]));
        let indicator_mask = ProjectionMask::leaves(schema, leaves(&["indicator"]));
        let wanted_indicators = indicators.clone();
        let predicate = ArrowPredicateFn::new(indicator_mask, move |b: RecordBatch| {
            let column = cast(b.column(0), &DataType::Utf8)?;
            let values = column.as_string::<i32>();
            Ok(values.iter().map(|v| Some(v.is_some_and(|v| wanted_indicators.contains(v)))).collect::<BooleanArray>())
        });
        let reader =
            builder.with_projection(mask).with_row_filter(RowFilter::new(vec![Box::new(predicate)])).build().map_err(unreadable)?;
        for b in reader {
            for key in keys_of(&b?).into_iter().flatten() {
                if wanted.contains(&key) {
                    stored.insert(key);
                }
            }
        }
    }
    Ok(stored)
}

/// The Parquet files of the hits table as it was before `batch`.
fn hit_files(hits: &SinkSpec, batch: u64) -> Result<Vec<std::path::PathBuf>, EngineError> {
    let dir = hits.path();
    match hits {
        SinkSpec::Delta(_) => {
            if sweep_load::is_delta_table(dir)? != Some(true) {
                return Ok(Vec::new());
            }
            Ok(sweep_load::delta::active_files(dir)?)
        }
        _ => Ok(sweep_load::parquet_files_except_batch(dir, Some(batch))?),
    }
}

fn without_keys(hits: &RecordBatch, stored: &HashSet<HitKey>) -> Result<RecordBatch, EngineError> {
    if stored.is_empty() {
        return Ok(hits.clone());
    }
    let keep: BooleanArray = keys_of(hits).into_iter().map(|k| Some(k.is_none_or(|k| !stored.contains(&k)))).collect();
    Ok(filter_record_batch(hits, &keep)?)
}

fn text(batch: &RecordBatch, name: &str) -> Option<StringArray> {
    cast(batch.column_by_name(name)?, &DataType::Utf8).ok()?.as_string_opt::<i32>().cloned()
}

fn has_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_some())
}

/// A Parquet file to read: on local disk, or fetched whole from object storage.
enum ParquetBytes {
    File(std::fs::File),
    Memory(bytes::Bytes),
}

impl datafusion::parquet::file::reader::Length for ParquetBytes {
    fn len(&self) -> u64 {
        match self {
            ParquetBytes::File(f) => datafusion::parquet::file::reader::Length::len(f),
            ParquetBytes::Memory(b) => datafusion::parquet::file::reader::Length::len(b),
        }
    }
}

impl datafusion::parquet::file::reader::ChunkReader for ParquetBytes {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> datafusion::parquet::errors::Result<Self::T> {
        Ok(match self {
            ParquetBytes::File(f) => Box::new(f.get_read(start)?),
            ParquetBytes::Memory(b) => Box::new(b.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> datafusion::parquet::errors::Result<bytes::Bytes> {
        match self {
            ParquetBytes::File(f) => f.get_bytes(start, length),
            ParquetBytes::Memory(b) => b.get_bytes(start, length),
        }
    }
}

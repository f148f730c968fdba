//! # sweep-load: writing tables
//!
//! The load step of sweep. A [`TableWriter`] takes record batches of one table and writes
//! them into a folder: Parquet (the `events` table partitioned Hive-style by
//! `date=YYYY-MM-DD` of `ts`) or JSON lines for debugging. Files are written under a
//! hidden temporary name and renamed when complete, so a reader (DuckDB, Spark, pyarrow,
//! `sweep query`) never sees half a file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
pub use sweep_model::{SinkSpec, WriteMode};

/// Delta tables, behind the `delta` feature (on by default). Without it the same functions
/// say that this build of sweep has no Delta tables: the quick demo build leaves delta-rs out.
#[cfg(feature = "delta")]
pub mod delta;
#[cfg(not(feature = "delta"))]
#[path = "delta_absent.rs"]
pub mod delta;
pub mod lake;
pub use delta::DeltaSink;
pub use lake::{
    InputRecord, Lake, Recovery, RunRecord, RunTxn, is_delta_table, is_object_lake, lake_root, refuse_object_lake, refuse_remote,
};

/// What a [`DeltaSink::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// A new table version holds the batch's rows.
    Written { version: i64, rows: u64 },
    /// The table already holds this batch (a replay after a crash): nothing was written.
    AlreadyThere,
}

/// An error writing a table; names the folder and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("table folder {path:?} already holds data; choose mode = \"append\" or \"overwrite\" (CLI: --mode), or another folder")]
    NotEmpty { path: PathBuf },
    #[error("cannot write {path:?}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write Parquet file {path:?}: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("cannot write JSON file {path:?}: {source}")]
    Json { path: PathBuf, source: arrow::error::ArrowError },
    #[error("the {table} table has no `ts` timestamp column to partition by; keep `ts` in your SQL stages")]
    NoTimestamp { table: String },
    #[error("Delta table {path:?}: {message}")]
    Delta { path: PathBuf, message: String },
    #[error("{path:?} is a Delta table, and this sweep was built without Delta tables {}", sweep_model::BUILT_WITHOUT_ADVICE)]
    DeltaNotBuilt { path: PathBuf },
    #[error("the {table} table is a Delta table ({path:?}): write it through a lake run (sweep_load::lake), not a plain table writer")]
    DeltaInBatchRun { table: String, path: PathBuf },
    #[error("{lake:?} is inside the lake {outer:?}, whose folders hold that lake's tables only: write to a folder outside it")]
    LakeInLake { lake: PathBuf, outer: PathBuf },
    #[error("another sweep run is writing the lake {lake:?} ({holder}); wait for it to finish, or write to another folder")]
    Busy { lake: PathBuf, holder: String },
    #[error(
        "{url:?} names a remote store, which is not supported yet here: give a local path (the embedded engine reads inputs and \
         writes lakes at s3://, gs:// and az:// URLs; docs/storage.md)"
    )]
    Remote { url: String },
    #[error("lake journal {path:?}: {message}")]
    Journal { path: PathBuf, message: String },
    #[error("cannot write the lake {url}: {message}")]
    Store { url: String, message: String },
    /// A lake URL given to a build without object storage and HTTP(S).
    #[error(transparent)]
    NotBuilt(sweep_storage::StorageError),
    #[error("{url}: {what} on object storage are not supported yet; {advice}")]
    NotOnObjectStorage { url: String, what: &'static str, advice: &'static str },
}

/// Writes a Parquet file with `schema` and no rows: how an empty table exists on disk.
pub fn write_empty_parquet(path: &Path, schema: &SchemaRef) -> Result<(), LoadError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| LoadError::Io { path: parent.to_path_buf(), source })?;
    }
    let file = File::create(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties()))
        .map_err(|source| LoadError::Parquet { path: path.to_path_buf(), source })?;
    writer.close().map_err(|source| LoadError::Parquet { path: path.to_path_buf(), source })?;
    Ok(())
}

/// Prepares a table folder for a run according to the write mode.
pub fn prepare_table_dir(path: &Path, mode: WriteMode) -> Result<(), LoadError> {
    if lake::is_object_lake(path) {
        // No folders on object storage: a table exists once it holds an object.
        let has_data = !lake::object_files_below(path)?.is_empty();
        match (has_data, mode) {
            (true, WriteMode::Error) => return Err(LoadError::NotEmpty { path: path.to_path_buf() }),
            (true, WriteMode::Overwrite) => lake::remove_objects_below(path)?,
            _ => {}
        }
        return Ok(());
    }
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let has_data = path.is_dir() && std::fs::read_dir(path).map_err(io)?.next().is_some();
    match (has_data, mode) {
        (true, WriteMode::Error) => return Err(LoadError::NotEmpty { path: path.to_path_buf() }),
        (true, WriteMode::Overwrite) => std::fs::remove_dir_all(path).map_err(io)?,
        _ => {}
    }
    std::fs::create_dir_all(path).map_err(io)
}

/// The Parquet files of a stream table folder (recursive, `date=` folders included), without
/// those of batch `except` (named `batch-<n>-...`): the table as it was before that batch,
/// which a re-run after a crash writes again.
pub fn parquet_files_except_batch(table: &Path, except: Option<u64>) -> Result<Vec<PathBuf>, LoadError> {
    Ok(parquet_files_except_batch_sized(table, except)?.into_iter().map(|(file, _)| file).collect())
}

/// [`parquet_files_except_batch`] with each file's size; a table on object storage names
/// its files by URL.
pub fn parquet_files_except_batch_sized(table: &Path, except: Option<u64>) -> Result<Vec<(PathBuf, u64)>, LoadError> {
    let own = except.map(|b| format!("batch-{b:012}-"));
    let files = if lake::is_object_lake(table) { lake::object_files_below(table)? } else { lake::list_files(table)? };
    Ok(files
        .into_iter()
        .filter(|f| {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            lake::is_data_file(&f.path) && name.ends_with(".parquet") && own.as_ref().is_none_or(|own| !name.starts_with(own.as_str()))
        })
        .map(|f| (table.join(f.path), f.size))
        .collect())
}

/// Deletes the data files of the table folder `table` whose names do not start with
/// `keep_prefix`, and the partition folders that leaves empty; returns how many it deleted.
/// This is how a stream's first batch under `--mode overwrite` replaces a Parquet table:
/// only after the batch's own files are in place, so a crash never leaves the table empty.
/// With `schema` (a Parquet table), a table left with no file gets an empty one named with
/// the prefix, so that it still exists with its columns.
pub fn remove_files_except(table: &Path, keep_prefix: &str, schema: Option<&SchemaRef>) -> Result<usize, LoadError> {
    if lake::is_object_lake(table) {
        return lake::remove_objects_except(table, keep_prefix, schema);
    }
    let mut removed = 0;
    for file in lake::list_files(table)? {
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        if name.starts_with(keep_prefix) {
            continue;
        }
        let path = table.join(&file.path);
        std::fs::remove_file(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
        removed += 1;
        // Partition folders (`date=...`) left empty go too; a folder still holding files stays.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != table) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    if let Some(schema) = schema
        && lake::list_files(table)?.is_empty()
    {
        write_empty_parquet(&table.join(format!("{keep_prefix}empty.parquet")), schema)?;
    }
    Ok(removed)
}

/// Parquet settings: zstd at a low level compresses log text well at little CPU cost;
/// dictionary encoding (on by default) suits the many repeated hosts, methods and sources.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_created_by(concat!("sweep ", env!("CARGO_PKG_VERSION")).to_string())
        .build()
}

/// How many bytes of unwritten row groups one [`TableWriter`] holds across its date
/// partitions before it writes out those of the partitions it is not writing to.
pub const BUFFERED_BYTES: usize = 64 << 20;

enum Open {
    Parquet(ArrowWriter<BufWriter<File>>),
    Json(arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

struct OpenFile {
    tmp: PathBuf,
    dest: PathBuf,
    rows: usize,
    writer: Open,
}

/// Writes one table from one stream of batches. Several writers may write the same
/// table at once (one per parser stream) if each has its own `file_prefix`.
pub struct TableWriter {
    table: String,
    dir: PathBuf,
    json: bool,
    schema: SchemaRef,
    partition_by_date: bool,
    file_prefix: String,
    rows_per_file: usize,
    seq: usize,
    open: BTreeMap<Option<i32>, OpenFile>,
    files: Vec<PathBuf>,
    rows: u64,
    buffer_limit: usize,
}

impl TableWriter {
    /// `file_prefix` must be unique per writer and run (for example `part-<run>-<stream>`).
    pub fn new(
        table: &str,
        sink: &SinkSpec,
        schema: SchemaRef,
        partition_by_date: bool,
        file_prefix: String,
        rows_per_file: usize,
    ) -> Result<Self, LoadError> {
        if partition_by_date && schema.index_of("ts").is_err() {
            return Err(LoadError::NoTimestamp { table: table.to_string() });
        }
        if let SinkSpec::Delta(path) = sink {
            return Err(LoadError::DeltaInBatchRun { table: table.to_string(), path: path.clone() });
        }
        Ok(TableWriter {
            table: table.to_string(),
            dir: sink.path().to_path_buf(),
            json: matches!(sink, SinkSpec::Jsonl(_)),
            schema,
            partition_by_date,
            file_prefix,
            rows_per_file: rows_per_file.max(1),
            seq: 0,
            open: BTreeMap::new(),
            files: Vec::new(),
            rows: 0,
            buffer_limit: BUFFERED_BYTES,
        })
    }

    /// Changes [`BUFFERED_BYTES`] for this writer.
    pub fn with_buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes a batch, splitting it by date when the table is partitioned.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if !self.partition_by_date {
            return self.write_part(None, batch);
        }
        let ts = batch.column(self.schema.index_of("ts").expect("checked in new")).as_primitive::<TimestampMicrosecondType>();
        let day = |i: usize| ts.value(i).div_euclid(86_400_000_000) as i32;
        let first = day(0);
        if (1..batch.num_rows()).all(|i| day(i) == first) {
            return self.write_part(Some(first), batch);
        }
        let mut by_day: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
        for i in 0..batch.num_rows() {
            by_day.entry(day(i)).or_default().push(i as u32);
        }
        for (d, rows) in by_day {
            let idx = UInt32Array::from(rows);
            let columns = batch
                .columns()
                .iter()
                .map(|c| arrow_select::take::take(c, &idx, None))
                .collect::<Result<Vec<_>, _>>()
                .expect("take with in-range indices");
            let part = RecordBatch::try_new(batch.schema(), columns).expect("same schema");
            self.write_part(Some(d), &part)?;
        }
        Ok(())
    }

    fn write_part(&mut self, day: Option<i32>, batch: &RecordBatch) -> Result<(), LoadError> {
        if !self.open.contains_key(&day) {
            let f = self.open_file(day)?;
            self.open.insert(day, f);
        }
        let f = self.open.get_mut(&day).expect("inserted above");
        match &mut f.writer {
            Open::Parquet(w) => w.write(batch).map_err(|source| LoadError::Parquet { path: f.dest.clone(), source })?,
            Open::Json(w) => w.write(batch).map_err(|source| LoadError::Json { path: f.dest.clone(), source })?,
        }
        f.rows += batch.num_rows();
        self.rows += batch.num_rows() as u64;
        if f.rows >= self.rows_per_file {
            let f = self.open.remove(&day).expect("present");
            self.close_file(f)?;
        } else if self.open.len() > 1 {
            self.bound_buffers(day)?;
        }
        Ok(())
    }

    /// With several date partitions open (a log that crosses midnight), each would hold a
    /// row group in memory until it fills: memory would grow with the days a run spans.
    /// Past [`BUFFERED_BYTES`] in all, the row groups of the partitions other than the one
    /// being written are written out now (smaller row groups, same rows).
    fn bound_buffers(&mut self, writing: Option<i32>) -> Result<(), LoadError> {
        let buffered: usize = self.open.values().map(|f| if let Open::Parquet(w) = &f.writer { w.in_progress_size() } else { 0 }).sum();
        if buffered <= self.buffer_limit {
            return Ok(());
        }
        for (day, f) in self.open.iter_mut().filter(|(day, _)| **day != writing) {
            if let Open::Parquet(w) = &mut f.writer
                && w.in_progress_rows() > 0
            {
                w.flush().map_err(|source| LoadError::Parquet { path: f.dest.clone(), source })?;
                tracing::debug!(table = %self.table, day = ?day, "row group of an idle date partition written early");
            }
        }
        Ok(())
    }

    fn open_file(&mut self, day: Option<i32>) -> Result<OpenFile, LoadError> {
        let dir = match day {
            Some(d) => self.dir.join(format!("date={}", date_string(d))),
            None => self.dir.clone(),
        };
        std::fs::create_dir_all(&dir).map_err(|source| LoadError::Io { path: dir.clone(), source })?;
        let ext = if self.json { "jsonl" } else { "parquet" };
        let name = format!("{}-{:05}.{ext}", self.file_prefix, self.seq);
        self.seq += 1;
        let dest = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = File::create(&tmp).map_err(|source| LoadError::Io { path: tmp.clone(), source })?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let writer = if self.json {
            Open::Json(arrow::json::LineDelimitedWriter::new(out))
        } else {
            Open::Parquet(
                ArrowWriter::try_new(out, self.schema.clone(), Some(writer_properties()))
                    .map_err(|source| LoadError::Parquet { path: dest.clone(), source })?,
            )
        };
        Ok(OpenFile { tmp, dest, rows: 0, writer })
    }

    fn close_file(&mut self, f: OpenFile) -> Result<(), LoadError> {
        match f.writer {
            Open::Parquet(w) => {
                w.close().map_err(|source| LoadError::Parquet { path: f.dest.clone(), source })?;
            }
            Open::Json(mut w) => {
                w.finish().map_err(|source| LoadError::Json { path: f.dest.clone(), source })?;
                let mut inner = w.into_inner();
                std::io::Write::flush(&mut inner).map_err(|source| LoadError::Io { path: f.tmp.clone(), source })?;
            }
        }
        std::fs::rename(&f.tmp, &f.dest).map_err(|source| LoadError::Io { path: f.dest.clone(), source })?;
        self.files.push(f.dest);
        Ok(())
    }

    /// Closes every open file and returns the paths written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, LoadError> {
        let open = std::mem::take(&mut self.open);
        for (_, f) in open {
            self.close_file(f)?;
        }
        Ok(self.files)
    }
}

/// `YYYY-MM-DD` of days since the epoch.
pub fn date_string(days: i32) -> String {
    sweep_calendar::date_string(i64::from(days))
}

/// A unique, sortable id for a run: used in file names so that runs never overwrite
/// each other's files in append mode.
pub fn run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}-{:05x}", now.as_millis(), std::process::id() & 0xfffff)
}

/// A shared handle for writers that several threads append to.
pub type SharedWriter = Arc<std::sync::Mutex<TableWriter>>;

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use sweep_formats::{FormatSpec, parse_all};

    const LINES: &str = "1198298239.740 388 127.0.0.1 TCP_MISS/301 631 GET http://a.example/ - DIRECT/1.2.3.4 text/html\n\
                         1198384639.740 1 127.0.0.1 TCP_MISS/200 5 GET http://b.example/ - DIRECT/1.2.3.5 -\n\
                         garbage\n";

    #[test]
    fn events_partitioned_by_date_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = parse_all(&FormatSpec::Squid, LINES.as_bytes(), "t.log").unwrap();
        let sink = SinkSpec::Parquet(dir.path().join("events"));
        prepare_table_dir(sink.path(), WriteMode::Error).unwrap();
        let mut w = TableWriter::new("events", &sink, out.events.schema(), true, "part-test".into(), 100).unwrap();
        w.write(&out.events).unwrap();
        let files = w.finish().unwrap();
        let names: Vec<String> = files.iter().map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["events/date=2007-12-22/part-test-00000.parquet", "events/date=2007-12-23/part-test-00001.parquet"]);
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&files[1]).unwrap()).unwrap().build().unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 1);
        // Writing again into a folder with data is refused unless asked.
        let err = prepare_table_dir(sink.path(), WriteMode::Error).unwrap_err();
        assert!(err.to_string().contains("mode = \"append\""), "{err}");
        prepare_table_dir(sink.path(), WriteMode::Overwrite).unwrap();
        assert_eq!(std::fs::read_dir(sink.path()).unwrap().count(), 0);
    }

    #[test]
    fn idle_date_partitions_do_not_hold_row_groups_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let out = parse_all(&FormatSpec::Squid, LINES.as_bytes(), "t.log").unwrap();
        let sink = SinkSpec::Parquet(dir.path().join("events"));
        // Day one, day two, day one again: past the limit, day one's row group is written
        // out when day two is written to, so its file ends with two row groups.
        let mut w = TableWriter::new("events", &sink, out.events.schema(), true, "part-test".into(), 100).unwrap().with_buffer_limit(0);
        let day_one = out.events.slice(0, 1);
        w.write(&day_one).unwrap();
        w.write(&out.events.slice(1, 1)).unwrap();
        w.write(&day_one).unwrap();
        let files = w.finish().unwrap();
        let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&files[0]).unwrap()).unwrap();
        assert!(files[0].to_string_lossy().contains("date=2007-12-22"), "{files:?}");
        assert_eq!(meta.metadata().num_row_groups(), 2);
        let rows: usize = meta.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
    }

    #[test]
    fn rejects_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let out = parse_all(&FormatSpec::Squid, LINES.as_bytes(), "t.log").unwrap();
        let sink = SinkSpec::Jsonl(dir.path().join("rejects"));
        let mut w = TableWriter::new("rejects", &sink, out.rejects.schema(), false, "part-x".into(), 100).unwrap();
        w.write(&out.rejects).unwrap();
        let files = w.finish().unwrap();
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains("\"reason\":\"bad_timestamp\"") && text.contains("\"offset\":3"), "{text}");
        // Binary `raw` is written as hex: "garbage".
        assert!(text.contains("\"raw\":\"67617262616765\""), "{text}");
    }

    #[test]
    fn dates() {
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(13869), "2007-12-22");
        assert_eq!(date_string(-1), "1969-12-31");
    }
}

//! Delta Lake tables, committed exactly once per micro-batch.
//!
//! Every commit carries a Delta *application transaction* (`txn` action) with the pipeline's
//! id and the batch number. Before writing batch `n`, the sink reads the table's latest
//! `txn` version for the pipeline: if it is `n` or more, the batch is already in the table
//! (the process crashed after this commit but before its checkpoint) and nothing is
//! written. This is the mechanism the Delta protocol defines for idempotent streaming
//! writes, and what Spark Structured Streaming uses too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use deltalake_core::DeltaTable;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake_core::kernel::transaction::CommitProperties;
use deltalake_core::kernel::{StructType, Transaction};
use deltalake_core::writer::{DeltaWriter, RecordBatchWriter};

use crate::{LoadError, date_string, writer_properties};

/// What a [`DeltaSink::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// A new table version holds the batch's rows.
    Written { version: i64, rows: u64 },
    /// The table already holds this batch (a replay after a crash): nothing was written.
    AlreadyThere,
}

/// One Delta table that a pipeline appends to, batch by batch.
pub struct DeltaSink {
    name: String,
    path: PathBuf,
    table: DeltaTable,
    /// True for the events table: a `date` column (from `ts`) is added and partitions it.
    by_date: bool,
    /// The last batch an application committed, once read from the log: later commits of
    /// this sink keep it current, so that the log is not searched again for every batch
    /// (that search replays the commits since the table was opened, and grows with them).
    /// Sound because a writer holds the lake's lock: nobody else commits meanwhile.
    known_batch: Option<(String, Option<i64>)>,
}

impl DeltaSink {
    /// Opens the table at `path`, creating it with `schema` when the folder holds none.
    /// With `by_date`, the table gets a `date` (YYYY-MM-DD of `ts`) partition column.
    pub async fn open(name: &str, path: &Path, schema: &SchemaRef, by_date: bool) -> Result<DeltaSink, LoadError> {
        let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
        std::fs::create_dir_all(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        let absolute = std::fs::canonicalize(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        let url = deltalake_core::ensure_table_uri(absolute.to_string_lossy()).map_err(err)?;
        let mut table = DeltaTable::try_from_url(url).await.map_err(err)?;
        if table.version().is_none() {
            let schema = if by_date { with_date_field(schema) } else { schema.clone() };
            let kernel: StructType = schema.as_ref().try_into_kernel().map_err(|e| LoadError::Delta {
                path: path.to_path_buf(),
                message: format!("the {name} schema has no Delta equivalent: {e}"),
            })?;
            let mut create = table.create().with_table_name(name).with_columns(kernel.fields().cloned());
            if by_date {
                create = create.with_partition_columns(["date"]);
            }
            table = create.await.map_err(err)?;
        }
        Ok(DeltaSink { name: name.to_string(), path: path.to_path_buf(), table, by_date, known_batch: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last batch number `app_id` committed to this table, if any.
    pub async fn committed_batch(&mut self, app_id: &str) -> Result<Option<i64>, LoadError> {
        if let Some((known_app, batch)) = &self.known_batch
            && known_app == app_id
        {
            return Ok(*batch);
        }
        let snapshot = self.table.snapshot().map_err(|e| self.error(e))?;
        let batch = snapshot.transaction_version(self.table.log_store().as_ref(), app_id).await.map_err(|e| self.error(e))?;
        self.known_batch = Some((app_id.to_string(), batch));
        Ok(batch)
    }

    /// Appends `batches` as one table version tagged (`app_id`, `batch_id`), unless the table
    /// already holds that batch. With `replace` (a stream's first batch under `--mode
    /// overwrite`) the same version removes every file the table held, so readers see the
    /// old rows until the new ones are committed, never neither. A replacing commit is made
    /// even when `batches` hold no rows.
    pub async fn commit(&mut self, app_id: &str, batch_id: i64, batches: &[RecordBatch], replace: bool) -> Result<Committed, LoadError> {
        use deltalake_core::kernel::Action;
        use deltalake_core::kernel::transaction::CommitBuilder;
        use deltalake_core::protocol::{DeltaOperation, SaveMode};

        if self.committed_batch(app_id).await?.is_some_and(|done| done >= batch_id) {
            return Ok(Committed::AlreadyThere);
        }
        let properties = CommitProperties::default().with_application_transaction(Transaction::new(app_id, batch_id));
        let mut writer = RecordBatchWriter::for_table(&self.table).map_err(|e| self.error(e))?.with_writer_properties(writer_properties());
        let mut rows = 0;
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            rows += batch.num_rows() as u64;
            let batch = if self.by_date { add_date_column(batch, &self.name)? } else { batch.clone() };
            writer.write(batch).await.map_err(|e| self.error(e))?;
        }
        let adds = writer.flush().await.map_err(|e| self.error(e))?;
        let snapshot = self.table.snapshot().map_err(|e| self.error(e))?;
        let mut actions: Vec<Action> = Vec::new();
        if replace {
            actions.extend(snapshot.log_data().iter().map(|f| Action::Remove(f.remove_action(true))));
        }
        actions.extend(adds.into_iter().map(Action::Add));
        let operation = DeltaOperation::Write {
            mode: if replace { SaveMode::Overwrite } else { SaveMode::Append },
            partition_by: self.by_date.then(|| vec!["date".to_string()]),
            predicate: None,
        };
        // Whether a commit that fails landed is unknown: the next attempt reads the log.
        self.known_batch = None;
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(|e| self.error(e))?;
        let version = finalized.version() as i64;
        self.table.state = Some(finalized.snapshot());
        self.known_batch = Some((app_id.to_string(), Some(batch_id)));
        Ok(Committed::Written { version, rows })
    }

    fn error(&self, e: deltalake_core::DeltaTableError) -> LoadError {
        LoadError::Delta { path: self.path.clone(), message: e.to_string() }
    }
}

fn with_date_field(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("date", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The batch with a `date` column (UTC day of `ts`) appended.
fn add_date_column(batch: &RecordBatch, table: &str) -> Result<RecordBatch, LoadError> {
    let ts = batch
        .column_by_name("ts")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| LoadError::NoTimestamp { table: table.to_string() })?;
    let mut last: Option<(i32, String)> = None;
    let dates: StringArray = ts
        .iter()
        .map(|t| {
            let day = t.unwrap_or(0).div_euclid(86_400_000_000) as i32;
            match &last {
                Some((d, s)) if *d == day => Some(s.clone()),
                _ => {
                    let s = date_string(day);
                    last = Some((day, s.clone()));
                    Some(s)
                }
            }
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(dates));
    RecordBatch::try_new(with_date_field(&batch.schema()), columns)
        .map_err(|e| LoadError::Delta { path: PathBuf::from(table), message: e.to_string() })
}

/// Runs `future` to completion on a runtime of its own, from any thread (a lake commit is
/// called both from plain threads and from inside an engine's runtime).
fn block_on<F: std::future::Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread runtime starts").block_on(future)
        })
        .join()
        .expect("the Delta commit thread does not panic")
    })
}

/// The data files of the Delta table at `path` as of its latest version (a file a crashed
/// writer left behind is not one of them).
pub fn active_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    block_on(async {
        let (absolute, table) = open_existing(path).await?;
        let snapshot = table.snapshot().map_err(err)?;
        Ok(snapshot.log_data().iter().map(|f| absolute.join(&*f.path())).collect())
    })
}

/// Opens the Delta table at `path` as of its latest version; also returns its absolute path.
async fn open_existing(path: &Path) -> Result<(PathBuf, DeltaTable), LoadError> {
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    let absolute = std::fs::canonicalize(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    let url = deltalake_core::ensure_table_uri(absolute.to_string_lossy()).map_err(err)?;
    let table = deltalake_core::open_table(url).await.map_err(err)?;
    Ok((absolute, table))
}

/// Commits a version of the Delta table at `path` that removes every file, tagged with the
/// application transaction (`app_id`, `batch`) unless the table holds that batch already:
/// how a stream's first batch replaces a table it writes no rows to under `--mode
/// overwrite` when another writer (Spark) wrote the batch's rows elsewhere.
pub fn remove_all_as_batch(path: &Path, app_id: &str, batch: i64) -> Result<(), LoadError> {
    use deltalake_core::kernel::Action;
    use deltalake_core::kernel::transaction::CommitBuilder;
    use deltalake_core::protocol::{DeltaOperation, SaveMode};

    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    block_on(async {
        let (_, table) = open_existing(path).await?;
        let snapshot = table.snapshot().map_err(err)?;
        if snapshot.transaction_version(table.log_store().as_ref(), app_id).await.map_err(err)?.is_some_and(|done| done >= batch) {
            return Ok(());
        }
        let actions: Vec<Action> = snapshot.log_data().iter().map(|f| Action::Remove(f.remove_action(true))).collect();
        let partition_columns: Vec<String> = snapshot.metadata().partition_columns().to_vec();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: (!partition_columns.is_empty()).then_some(partition_columns),
            predicate: None,
        };
        let properties = CommitProperties::default().with_application_transaction(Transaction::new(app_id, batch));
        CommitBuilder::from(properties).with_actions(actions).build(Some(snapshot), table.log_store(), operation).await.map_err(err)?;
        Ok(())
    })
}

/// Creates the Delta table at `path` with `schema` when it does not exist yet.
pub(crate) fn ensure_table(name: &str, path: &Path, schema: &SchemaRef, by_date: bool) -> Result<(), LoadError> {
    block_on(DeltaSink::open(name, path, schema, by_date)).map(|_| ())
}

/// Commits a lake run's files (already moved into the table folder) as one Delta version,
/// tagged with the lake's run sequence so that a roll-forward never commits it twice. A
/// replacing run removes every file the table held in the same version.
pub(crate) fn commit_run(table: &crate::lake::TableCommit, record: &crate::lake::RunRecord) -> Result<(), LoadError> {
    use deltalake_core::kernel::transaction::CommitBuilder;
    use deltalake_core::kernel::{Action, Add};
    use deltalake_core::protocol::{DeltaOperation, SaveMode};
    use std::collections::HashMap;

    let path = table.path.clone();
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.clone(), message: e.to_string() };
    block_on(async {
        let url = deltalake_core::ensure_table_uri(path.to_string_lossy()).map_err(err)?;
        let table_handle = deltalake_core::open_table(url).await.map_err(err)?;
        let snapshot = table_handle.snapshot().map_err(err)?;
        let done = snapshot.transaction_version(table_handle.log_store().as_ref(), crate::lake::LAKE_APP_ID).await.map_err(err)?;
        if done.is_some_and(|v| v >= record.seq) {
            return Ok(());
        }
        let modification_time = record.committed_at_ms;
        let mut actions: Vec<Action> = Vec::new();
        if table.replace {
            actions.extend(snapshot.log_data().iter().map(|f| Action::Remove(f.remove_action(true))));
        }
        for file in &table.added {
            let mut partition_values = HashMap::new();
            if table.by_date {
                let date = file.path.split('/').find_map(|part| part.strip_prefix("date=")).map(str::to_string);
                partition_values.insert("date".to_string(), date);
            }
            actions.push(Action::Add(Add {
                path: file.path.clone(),
                partition_values,
                size: file.size as i64,
                modification_time,
                data_change: true,
                ..Default::default()
            }));
        }
        let operation = DeltaOperation::Write {
            mode: if table.replace { SaveMode::Overwrite } else { SaveMode::Append },
            partition_by: table.by_date.then(|| vec!["date".to_string()]),
            predicate: None,
        };
        let metadata = HashMap::from([
            ("sweep.run_id".to_string(), serde_json::Value::from(record.run_id.clone())),
            ("sweep.rows".to_string(), serde_json::Value::from(table.rows)),
        ]);
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(crate::lake::LAKE_APP_ID, record.seq))
            .with_metadata(metadata);
        CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot), table_handle.log_store(), operation)
            .await
            .map_err(err)?;
        Ok(())
    })
}

/// Deletes the files of a Delta table that no version younger than `retain` reads: files
/// that later commits removed, and files a crashed writer left that no commit ever added.
/// Returns the number of files deleted.
pub(crate) fn vacuum(path: &Path, retain: std::time::Duration) -> Result<usize, LoadError> {
    use deltalake_core::operations::vacuum::VacuumMode;
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    block_on(async {
        let url = deltalake_core::ensure_table_uri(path.to_string_lossy()).map_err(err)?;
        let table = deltalake_core::open_table(url).await.map_err(err)?;
        let retention = chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX);
        let (_, metrics) = table
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .await
            .map_err(err)?;
        Ok(metrics.files_deleted.len())
    })
}

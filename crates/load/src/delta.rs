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

use crate::{Committed, LoadError, date_string, writer_properties};

/// One Delta table that a pipeline appends to, batch by batch.
///
/// A stream commits thousands of small versions in one process, so an append costs the same
/// at version 10,000 as at version 10: it writes the batch's files and one commit file, and
/// keeps what it needs (the next version, the last batch) itself. delta-rs's general commit
/// path would instead refresh the table's whole file list after every commit, which grows
/// with every batch (measured: 14 ms a commit at version 100, 220 ms at 1,500; see
/// `examples/delta_commit_cost.rs`). The lean path is sound because a writer holds the
/// lake's lock: nobody else commits meanwhile, and a commit that finds its version taken
/// fails rather than overwrite. Checkpoints are written every `delta.checkpointInterval`
/// versions, as the protocol prescribes, on a thread of their own, so the batch that
/// reaches the interval does not wait for them.
pub struct DeltaSink {
    name: String,
    path: PathBuf,
    /// The table as of the last time its log was read (open, a replacing commit, or after a
    /// failed commit): its schema, partitioning, protocol and configuration.
    table: DeltaTable,
    /// True for the events table: a `date` column (from `ts`) is added and partitions it.
    by_date: bool,
    /// The version the next commit writes.
    next_version: u64,
    /// The last batch an application committed, once known: commits of this sink keep it
    /// current, so the log is read again only after a commit that failed (which may have
    /// landed).
    known_batch: Option<(String, Option<i64>)>,
    /// The checkpoint being written, if any: one at a time.
    checkpointing: Option<std::thread::JoinHandle<()>>,
    /// A version that completed an interval while a checkpoint was being written: its
    /// checkpoint starts when that one is done.
    checkpoint_due: Option<i64>,
}

impl DeltaSink {
    /// Opens the table at `path`, creating it with `schema` when the folder holds none.
    /// With `by_date`, the table gets a `date` (YYYY-MM-DD of `ts`) partition column.
    pub async fn open(name: &str, path: &Path, schema: &SchemaRef, by_date: bool) -> Result<DeltaSink, LoadError> {
        let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
        if !sweep_storage::is_object_url(&path.to_string_lossy()) {
            std::fs::create_dir_all(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        }
        let mut table = table_at(path)?;
        match table.load().await {
            Ok(()) | Err(deltalake_core::DeltaTableError::NotATable(_)) => {}
            Err(e) => return Err(err(e)),
        }
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
        let next_version = table.version().map_or(0, |v| v + 1);
        Ok(DeltaSink {
            name: name.to_string(),
            path: path.to_path_buf(),
            table,
            by_date,
            next_version,
            known_batch: None,
            checkpointing: None,
            checkpoint_due: None,
        })
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
        self.reload().await?;
        let snapshot = self.table.snapshot().map_err(|e| self.error(e))?;
        let batch = snapshot.transaction_version(self.table.log_store().as_ref(), app_id).await.map_err(|e| self.error(e))?;
        self.known_batch = Some((app_id.to_string(), batch));
        Ok(batch)
    }

    /// Reads the table's log again, up to its latest version.
    async fn reload(&mut self) -> Result<(), LoadError> {
        self.table.update_state().await.map_err(|e| self.error(e))?;
        self.next_version = self.table.version().map_or(0, |v| v + 1);
        Ok(())
    }

    /// Appends `batches` as one table version tagged (`app_id`, `batch_id`), unless the table
    /// already holds that batch. With `replace` (a stream's first batch under `--mode
    /// overwrite`) the same version removes every file the table held, so readers see the
    /// old rows until the new ones are committed, never neither. A replacing commit is made
    /// even when `batches` hold no rows.
    pub async fn commit(&mut self, app_id: &str, batch_id: i64, batches: &[RecordBatch], replace: bool) -> Result<Committed, LoadError> {
        if self.committed_batch(app_id).await?.is_some_and(|done| done >= batch_id) {
            return Ok(Committed::AlreadyThere);
        }
        let mut writer = RecordBatchWriter::for_table(&self.table).map_err(|e| self.error(e))?.with_writer_properties(writer_properties());
        let mut rows = 0;
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            rows += batch.num_rows() as u64;
            let batch = if self.by_date { add_date_column(batch, &self.name)? } else { batch.clone() };
            writer.write(batch).await.map_err(|e| self.error(e))?;
        }
        let adds = writer.flush().await.map_err(|e| self.error(e))?;
        // Whether a commit that fails landed is unknown: the next attempt reads the log.
        self.known_batch = None;
        let version = if replace || !self.appends_directly() {
            self.commit_through_delta_rs(app_id, batch_id, adds, replace).await?
        } else {
            self.append_commit(app_id, batch_id, adds).await?
        };
        self.known_batch = Some((app_id.to_string(), Some(batch_id)));
        self.checkpoint_if_due(version);
        Ok(Committed::Written { version, rows })
    }

    /// True when a commit can be written as one commit file: the table's log store writes it
    /// with a conditional put (local disk and stores that support one), and the protocol asks
    /// nothing of writers that delta-rs's checks would have to enforce beyond appends.
    fn appends_directly(&self) -> bool {
        self.table.log_store().name() == "DefaultLogStore"
    }

    /// Commits `adds` as version `next_version` with one conditional put of the commit file.
    async fn append_commit(&mut self, app_id: &str, batch_id: i64, adds: Vec<deltalake_core::kernel::Add>) -> Result<i64, LoadError> {
        use deltalake_core::kernel::Action;
        use deltalake_core::kernel::transaction::{CommitData, PROTOCOL, TransactionError};
        use deltalake_core::logstore::CommitOrBytes;
        use deltalake_core::protocol::{DeltaOperation, SaveMode};

        let operation =
            DeltaOperation::Write { mode: SaveMode::Append, partition_by: self.by_date.then(|| vec!["date".to_string()]), predicate: None };
        let data = CommitData::new(
            adds.into_iter().map(Action::Add).collect(),
            operation,
            Default::default(),
            vec![Transaction::new(app_id, batch_id)],
        );
        let snapshot = self.table.snapshot().map_err(|e| self.error(e))?;
        PROTOCOL.can_commit(snapshot, &data.actions, &data.operation).map_err(|e| self.error(e.into()))?;
        let bytes = data.get_bytes().map_err(|e| self.error(e.into()))?;
        let version = self.next_version;
        match self.table.log_store().write_commit_entry(version, CommitOrBytes::LogBytes(bytes), uuid::Uuid::new_v4()).await {
            Ok(()) => {
                self.next_version += 1;
                Ok(version as i64)
            }
            Err(TransactionError::VersionAlreadyExists(_)) => Err(LoadError::Delta {
                path: self.path.clone(),
                message: format!(
                    "version {version} was committed by another writer while this stream held the lake's lock; \
                     stop the other writer and run the stream again"
                ),
            }),
            Err(e) => Err(self.error(e.into())),
        }
    }

    /// Commits through delta-rs's commit builder (conflict checks, every log store), then
    /// reads the table's state again.
    async fn commit_through_delta_rs(
        &mut self,
        app_id: &str,
        batch_id: i64,
        adds: Vec<deltalake_core::kernel::Add>,
        replace: bool,
    ) -> Result<i64, LoadError> {
        use deltalake_core::kernel::Action;
        use deltalake_core::kernel::transaction::CommitBuilder;
        use deltalake_core::protocol::{DeltaOperation, SaveMode};

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
        // Checkpoints are this sink's to write (`checkpoint_if_due`); log cleanup runs with them.
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(app_id, batch_id))
            .with_create_checkpoint(false)
            .with_cleanup_expired_logs(Some(false));
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(|e| self.error(e))?;
        let version = finalized.version();
        self.table.state = Some(finalized.snapshot());
        self.next_version = version + 1;
        Ok(version as i64)
    }

    /// Starts writing a checkpoint of `version` (and the log cleanup the table's properties
    /// ask for) when the version completes a checkpoint interval. One is written at a time:
    /// a version that comes due meanwhile waits, and only the latest waiting one is written
    /// (it covers the earlier). A checkpoint only makes the log faster to read: one that
    /// fails is reported and the next interval writes another.
    fn checkpoint_if_due(&mut self, version: i64) {
        let Ok(snapshot) = self.table.snapshot() else { return };
        use deltalake_core::table::config::TablePropertiesExt;
        let interval = snapshot.table_config().checkpoint_interval().get() as i64;
        if (version + 1) % interval == 0 {
            self.checkpoint_due = Some(version);
        }
        if self.checkpointing.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let Some(version) = self.checkpoint_due.take() else { return };
        self.start_checkpoint(version);
    }

    fn start_checkpoint(&mut self, version: i64) {
        let path = self.path.clone();
        self.checkpointing = Some(std::thread::spawn(move || {
            let written = block_on(checkpoint_and_clean_up(&path, version));
            if let Err(e) = written {
                eprintln!("sweep: warning: the checkpoint of version {version} of the Delta table {path:?} failed: {e}");
            }
        }));
    }

    fn error(&self, e: deltalake_core::DeltaTableError) -> LoadError {
        LoadError::Delta { path: self.path.clone(), message: e.to_string() }
    }
}

impl Drop for DeltaSink {
    /// Waits for the checkpoint being written, so that a process (or a test) that is done
    /// with the table finds it complete.
    fn drop(&mut self) {
        if let Some(thread) = self.checkpointing.take() {
            let _ = thread.join();
        }
        if let Some(version) = self.checkpoint_due.take() {
            self.start_checkpoint(version);
            if let Some(thread) = self.checkpointing.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Writes the checkpoint of `version` of the table at `path`, then the log cleanup its
/// properties ask for (`delta.enableExpiredLogCleanup`), on the table's own store.
async fn checkpoint_and_clean_up(path: &Path, version: i64) -> Result<(), LoadError> {
    use deltalake_core::table::config::TablePropertiesExt;
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    let mut table = table_at(path)?;
    table.load_version(version as u64).await.map_err(err)?;
    deltalake_core::checkpoints::create_checkpoint(&table, None).await.map_err(err)?;
    if version > 0 && table.snapshot().map_err(err)?.table_config().enable_expired_log_cleanup() {
        deltalake_core::checkpoints::cleanup_metadata(&table, None).await.map_err(err)?;
    }
    Ok(())
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
    Ok(active_files_sized(path)?.into_iter().map(|(file, _)| file).collect())
}

/// [`active_files`] with their sizes in bytes, as the log records them. A table on object
/// storage names its files by URL (`s3://bucket/lake/events/date=…/part-….parquet`).
pub fn active_files_sized(path: &Path) -> Result<Vec<(PathBuf, u64)>, LoadError> {
    let err = |e: deltalake_core::DeltaTableError| LoadError::Delta { path: path.to_path_buf(), message: e.to_string() };
    block_on(async {
        let text = path.to_string_lossy();
        let (base, table) = if sweep_storage::is_object_url(&text) {
            (PathBuf::from(text.trim_end_matches('/')), open_table(path).await?)
        } else {
            open_existing(path).await?
        };
        let snapshot = table.snapshot().map_err(err)?;
        Ok(snapshot
            .log_data()
            .iter()
            .map(|f| {
                let relative = f.path();
                (PathBuf::from(format!("{}/{relative}", base.display())), f.size().max(0) as u64)
            })
            .collect())
    })
}

/// Opens the Delta table at `path` as of its latest version; also returns its absolute path.
async fn open_existing(path: &Path) -> Result<(PathBuf, DeltaTable), LoadError> {
    let absolute = std::fs::canonicalize(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    Ok((absolute, open_table(path).await?))
}

/// The Delta table at `location` (a local folder or an object storage URL) as of its latest
/// version.
pub async fn open_table(location: &Path) -> Result<DeltaTable, LoadError> {
    let mut table = table_at(location)?;
    table.load().await.map_err(|e| LoadError::Delta { path: location.to_path_buf(), message: e.to_string() })?;
    Ok(table)
}

/// The Delta table at `location`, its log not read yet.
///
/// A table on object storage (`s3://`, `gs://`, `az://` ...) is opened on sweep's store for
/// the URL, with sweep's credentials, and delta-rs's default log store. That store writes
/// each commit as one create-only PUT of the next log file (`If-None-Match: *` on S3 and
/// Azure, generation 0 on GCS), which the store refuses when the version exists: two writers
/// can never both take a version, so no lock provider (such as DynamoDB) is needed.
fn table_at(location: &Path) -> Result<DeltaTable, LoadError> {
    use deltalake_core::logstore::{StorageConfig, default_logstore};
    let err = |message: String| LoadError::Delta { path: location.to_path_buf(), message };
    let text = location.to_string_lossy();
    if !sweep_storage::is_object_url(&text) {
        let absolute = std::fs::canonicalize(location)
            .or_else(|_| std::path::absolute(location))
            .map_err(|source| LoadError::Io { path: location.to_path_buf(), source })?;
        let url = deltalake_core::ensure_table_uri(absolute.to_string_lossy()).map_err(|e| err(e.to_string()))?;
        return deltalake_core::DeltaTableBuilder::from_url(url).and_then(|b| b.build()).map_err(|e| err(e.to_string()));
    }
    let text = text.trim_end_matches('/');
    let located = sweep_storage::locate(text).map_err(|e| crate::lake::store_error(text, e))?;
    let url = url::Url::parse(text).map_err(|e| err(e.to_string()))?;
    let key = located.key.trim_matches('/').to_string();
    let prefixed: Arc<dyn sweep_storage::object_store::ObjectStore> =
        Arc::new(sweep_storage::object_store::prefix::PrefixStore::new(located.store.clone(), key));
    Ok(DeltaTable::new(default_logstore(prefixed, located.store, &url, &StorageConfig::default())))
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

/// Commits a lake run's files (already moved or copied into the table folder) as one Delta version,
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
        let table_handle = open_table(&path).await?;
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
        let table = open_table(path).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None), true),
            Field::new("n", DataType::Int64, false),
        ]))
    }

    /// Three rows on two days.
    fn rows(batch: i64) -> RecordBatch {
        let day = 86_400_000_000;
        let ts = TimestampMicrosecondArray::from(vec![batch * 1_000, day + batch * 1_000, day + batch * 1_000 + 1]);
        RecordBatch::try_new(schema(), vec![Arc::new(ts), Arc::new(Int64Array::from(vec![batch; 3]))]).unwrap()
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    fn rows_in(path: &Path) -> i64 {
        active_files(path)
            .unwrap()
            .iter()
            .map(|f| {
                let file = std::fs::File::open(f).unwrap();
                use parquet::file::reader::FileReader;
                parquet::file::reader::SerializedFileReader::new(file).unwrap().metadata().file_metadata().num_rows()
            })
            .sum()
    }

    #[test]
    fn appends_cross_checkpoints_and_reopen_where_they_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        run(async {
            let mut sink = DeltaSink::open("events", &path, &schema(), true).await.unwrap();
            for batch in 0..230 {
                let done = sink.commit("app", batch, &[rows(batch)], false).await.unwrap();
                assert_eq!(done, Committed::Written { version: batch + 1, rows: 3 });
            }
        });
        // Versions 99 and 199 completed an interval of 100: both have a checkpoint.
        for version in [99, 199] {
            assert!(path.join(format!("_delta_log/{version:020}.checkpoint.parquet")).is_file(), "no checkpoint of {version}");
        }
        assert_eq!(rows_in(&path), 690);
        run(async {
            let table = deltalake_core::open_table(deltalake_core::ensure_table_uri(path.to_string_lossy()).unwrap()).await.unwrap();
            assert_eq!(table.version(), Some(230));
            let snapshot = table.snapshot().unwrap();
            assert_eq!(snapshot.log_data().iter().count(), 460, "one file per day per batch");
            assert_eq!(snapshot.transaction_version(table.log_store().as_ref(), "app").await.unwrap(), Some(229));

            let mut sink = DeltaSink::open("events", &path, &schema(), true).await.unwrap();
            assert_eq!(sink.committed_batch("app").await.unwrap(), Some(229));
            assert_eq!(sink.commit("app", 229, &[rows(229)], false).await.unwrap(), Committed::AlreadyThere);
            assert_eq!(sink.commit("app", 230, &[rows(230)], false).await.unwrap(), Committed::Written { version: 231, rows: 3 });
        });
        assert_eq!(rows_in(&path), 693);
    }

    #[test]
    fn a_version_another_writer_took_fails_the_commit_and_a_retry_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hits");
        run(async {
            let mut first = DeltaSink::open("hits", &path, &schema(), false).await.unwrap();
            let mut second = DeltaSink::open("hits", &path, &schema(), false).await.unwrap();
            assert_eq!(second.committed_batch("b").await.unwrap(), None);
            first.commit("a", 0, &[rows(0)], false).await.unwrap();
            let err = second.commit("b", 0, &[rows(1)], false).await.unwrap_err();
            assert!(err.to_string().contains("another writer"), "{err}");
            // The retry reads the log again and commits after the other writer's version.
            assert_eq!(second.commit("b", 0, &[rows(1)], false).await.unwrap(), Committed::Written { version: 2, rows: 3 });
        });
        assert_eq!(rows_in(&path), 6);
    }

    #[test]
    fn a_replacing_commit_removes_what_the_lean_appends_added() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        run(async {
            let mut sink = DeltaSink::open("events", &path, &schema(), false).await.unwrap();
            for batch in 0..5 {
                sink.commit("old", batch, &[rows(batch)], false).await.unwrap();
            }
            let mut sink = DeltaSink::open("events", &path, &schema(), false).await.unwrap();
            sink.commit("new", 0, &[rows(7)], true).await.unwrap();
            sink.commit("new", 1, &[rows(8)], false).await.unwrap();
        });
        assert_eq!(rows_in(&path), 6);
    }
}

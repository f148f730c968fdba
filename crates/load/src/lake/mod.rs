//! Lake transactions: a run commits all of its tables or none.
//!
//! A *lake* is the folder that holds a run's tables (`--out`, `[load] dir`). Its journal
//! lives in `<lake>/_sweep/`:
//!
//! ```text
//! _sweep/lock                     held (flock) by the one run that writes the lake
//! _sweep/staging/<run>/<table>/   files of a run in progress: no reader looks here
//! _sweep/pending/<run>.json       a run being committed (written before any table changes)
//! _sweep/runs/<seq>-<run>.json    committed runs: tables, files, rows and the inputs loaded
//! ```
//!
//! The protocol, in the order it happens:
//!
//! 1. **Lock.** [`Lake::open`] takes an exclusive lock on `_sweep/lock`, so a second run into
//!    the same lake is refused at once (the operating system releases the lock when a process
//!    dies, so a crash never leaves the lake locked).
//! 2. **Recover.** A pending record left by a run that died while committing is rolled
//!    forward (its files are all staged before the record is written); staging folders with
//!    no pending record belong to runs that died before committing and are deleted.
//! 3. **Stage.** Writers write into `_sweep/staging/<run>/<table>/`, never into the tables.
//! 4. **Commit.** [`RunTxn::commit`] writes the pending record (the commit point), then moves
//!    the files into each table (Parquet: renames, and for a replacing run the old files are
//!    deleted after the new ones are in; Delta: one log commit per table, tagged with the
//!    lake's run sequence as a Delta application transaction so it is never applied twice),
//!    then files the record under `runs/`.
//!
//! A run that fails or is interrupted before step 4 leaves the tables exactly as they were.
//! The ledger of loaded inputs is the list of `runs/` records, so a re-run can skip what an
//! earlier run committed.
//!
//! A lake at an object storage URL (`s3://`, `gs://`, `az://`) keeps the same journal with
//! the store's conditional writes in place of file locks and renames ([`remote`]).

mod remote;
pub(crate) use remote::is_data_file;
#[cfg(feature = "delta")]
pub(crate) use remote::store_error;

use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use sweep_model::{SinkSpec, WriteMode};

use crate::LoadError;

/// The journal folder inside a lake.
pub const JOURNAL_DIR: &str = "_sweep";
/// The Delta application id of lake commits; its version is the run's sequence number.
pub const LAKE_APP_ID: &str = "sweep-lake";

/// An input a run loaded, as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The absolute path of the file.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: i128,
    /// BLAKE3 of the first and last 64 KiB and the size: cheap, and it tells a file that was
    /// replaced with one of the same size and time.
    pub fingerprint: String,
}

const FINGERPRINT_SPAN: u64 = 64 * 1024;

impl InputRecord {
    /// The ledger entry of an object on object storage as it was listed: the store's ETag
    /// (or generation) tells a replaced object, as the fingerprint does a file.
    pub fn of_object(url: &str, size: u64, modified_ns: i128, etag: Option<&str>) -> InputRecord {
        let fingerprint = match etag {
            Some(tag) => format!("etag:{}", tag.trim_matches('"')),
            None => format!("size-time:{size}-{modified_ns}"),
        };
        InputRecord { path: url.to_string(), size, modified_ns, fingerprint }
    }

    /// The ledger entry of a file as it is now.
    pub fn of_file(path: &Path) -> Result<InputRecord, LoadError> {
        let io = |source| LoadError::Io { path: path.to_path_buf(), source };
        let absolute = std::path::absolute(path).map_err(io)?;
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let size = meta.len();
        let modified_ns =
            meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i128);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&size.to_le_bytes());
        let mut buf = Vec::with_capacity(FINGERPRINT_SPAN as usize);
        (&mut file).take(FINGERPRINT_SPAN).read_to_end(&mut buf).map_err(io)?;
        hasher.update(&buf);
        if size > FINGERPRINT_SPAN {
            buf.clear();
            file.seek(SeekFrom::Start(size.saturating_sub(FINGERPRINT_SPAN).max(FINGERPRINT_SPAN))).map_err(io)?;
            file.take(FINGERPRINT_SPAN).read_to_end(&mut buf).map_err(io)?;
            hasher.update(&buf);
        }
        Ok(InputRecord {
            path: absolute.display().to_string(),
            size,
            modified_ns,
            fingerprint: hasher.finalize().to_hex()[..32].to_string(),
        })
    }
}

/// How a table received a run's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    Parquet,
    Jsonl,
    Delta,
}

/// A file a run staged for a table, relative to the table folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    pub path: String,
    pub size: u64,
}

/// What one run did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCommit {
    pub name: String,
    pub path: PathBuf,
    pub format: TableFormat,
    /// True when the run replaces the table's rows (overwrite, or the intel snapshot).
    pub replace: bool,
    /// Partitioned by `date=YYYY-MM-DD` folders (a Delta `date` partition column).
    pub by_date: bool,
    pub rows: u64,
    pub added: Vec<StagedFile>,
    /// Files (relative paths) a replacing Parquet run deletes once its own files are in.
    pub removed: Vec<String>,
}

/// A run as the journal records it: the commit record and the ledger entry in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// Position in the lake's history (1, 2, ...): the Delta application-transaction version.
    pub seq: i64,
    pub mode: WriteMode,
    /// Milliseconds since the epoch when the commit started.
    pub committed_at_ms: i64,
    pub tables: Vec<TableCommit>,
    pub inputs: Vec<InputRecord>,
}

/// What [`Lake::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Runs that died while committing and were rolled forward.
    pub rolled_forward: Vec<String>,
    /// Runs that died before committing whose staged files were deleted.
    pub abandoned: Vec<String>,
    pub bytes_freed: u64,
}

/// A lake opened for writing: the lock is held until it is dropped.
pub struct Lake {
    /// The lake's folder, or its URL on object storage.
    root: PathBuf,
    place: Place,
    recovery: Recovery,
}

/// Where a lake's journal lives.
enum Place {
    Local { journal: PathBuf, _lock: File },
    Remote(remote::Journal),
}

/// True when `root` names a lake on object storage that sweep writes (not a web server).
pub fn is_object_lake(root: &Path) -> bool {
    let text = root.to_string_lossy();
    sweep_storage::is_object_url(&text) && !text.starts_with("http://") && !text.starts_with("https://")
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("root", &self.root).finish()
    }
}

impl Lake {
    /// Opens (creating if needed) the lake at `root` for one writer, and recovers what a
    /// crashed run left.
    pub fn open(root: &Path) -> Result<Lake, LoadError> {
        if is_object_lake(root) {
            let journal = remote::Journal::open(&root.to_string_lossy())?;
            let mut lake = Lake { root: PathBuf::from(journal.url()), place: Place::Remote(journal), recovery: Recovery::default() };
            lake.recovery = lake.recover()?;
            return Ok(lake);
        }
        refuse_remote(root)?;
        // A lake inside another lake's folder (`--out lake/events`) would put its files among
        // that lake's tables, where its readers take them for rows.
        let absolute = std::path::absolute(root).map_err(|source| LoadError::Io { path: root.to_path_buf(), source })?;
        if let Some(outer) = absolute.ancestors().skip(1).find(|a| a.join(JOURNAL_DIR).is_dir()) {
            // Named as the user would: relative to the current folder when below it.
            let cwd = std::env::current_dir().unwrap_or_default();
            let outer = outer.strip_prefix(&cwd).ok().filter(|o| !o.as_os_str().is_empty()).unwrap_or(outer);
            return Err(LoadError::LakeInLake { lake: root.to_path_buf(), outer: outer.to_path_buf() });
        }
        let journal = root.join(JOURNAL_DIR);
        for dir in ["staging", "pending", "runs"] {
            let d = journal.join(dir);
            std::fs::create_dir_all(&d).map_err(|source| LoadError::Io { path: d, source })?;
        }
        let lock_path = journal.join("lock");
        let mut lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| LoadError::Io { path: lock_path.clone(), source })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                return Err(LoadError::Busy { lake: root.to_path_buf(), holder: holder.trim().to_string() });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(LoadError::Io { path: lock_path, source }),
        }
        // Who holds the lock, for the message a refused run prints.
        let _ = lock.set_len(0);
        let _ = write!(lock, "pid {} since {}", std::process::id(), now_ms() / 1000);
        let mut lake = Lake { root: root.to_path_buf(), place: Place::Local { journal, _lock: lock }, recovery: Recovery::default() };
        lake.recovery = lake.recover()?;
        Ok(lake)
    }

    /// Recovers the lake at `root` if no run is writing it (for readers such as
    /// `sweep query`); does nothing when the lake has no journal or is busy.
    pub fn recover_if_idle(root: &Path) -> Result<Option<Recovery>, LoadError> {
        let has_work = if is_object_lake(root) {
            remote::Journal::needs_recovery(&root.to_string_lossy())?
        } else {
            root.join(JOURNAL_DIR).join("lock").is_file()
        };
        if !has_work {
            return Ok(None);
        }
        match Lake::open(root) {
            Ok(lake) => Ok(Some(lake.recovery)),
            Err(LoadError::Busy { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What opening the lake repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The committed runs, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, LoadError> {
        let journal = match &self.place {
            Place::Local { journal, .. } => journal,
            Place::Remote(remote) => return remote.runs(),
        };
        let dir = journal.join("runs");
        let mut records = Vec::new();
        for entry in read_dir_sorted(&dir)? {
            if entry.extension().is_some_and(|e| e == "json") {
                records.push(read_record(&entry)?);
            }
        }
        records.sort_by_key(|r| r.seq);
        Ok(records)
    }

    /// The inputs the lake's rows came from: every run's inputs since the last run that
    /// replaced the tables, by absolute path.
    pub fn loaded_inputs(&self) -> Result<HashMap<String, InputRecord>, LoadError> {
        let mut loaded = HashMap::new();
        for run in self.runs()? {
            if run.mode == WriteMode::Overwrite {
                loaded.clear();
            }
            for input in run.inputs {
                loaded.insert(input.path.clone(), input);
            }
        }
        Ok(loaded)
    }

    /// Decides which of `files` a run loads: with `mode` append or error and no `reload`,
    /// a file an earlier run committed unchanged is skipped; a file that changed since is
    /// loaded again, with a warning.
    pub fn select_inputs(&self, files: &[&Path], mode: WriteMode, reload: bool) -> Result<InputSelection, LoadError> {
        let records = files.iter().map(|path| InputRecord::of_file(path)).collect::<Result<Vec<_>, _>>()?;
        self.select_records(records, mode, reload)
    }

    /// [`Lake::select_inputs`] for inputs already described: files ([`InputRecord::of_file`])
    /// and objects on object storage ([`InputRecord::of_object`]).
    pub fn select_records(&self, records: Vec<InputRecord>, mode: WriteMode, reload: bool) -> Result<InputSelection, LoadError> {
        let before = match (mode, reload) {
            (WriteMode::Overwrite, _) | (_, true) => HashMap::new(),
            _ => self.loaded_inputs()?,
        };
        let mut selection = InputSelection::default();
        for record in records {
            match before.get(&record.path) {
                Some(earlier) if *earlier == record => {
                    selection.load.push(false);
                    selection.skipped.push(record.path);
                    continue;
                }
                Some(_) => selection.warnings.push(format!(
                    "{} changed since an earlier run loaded it; it is loaded again in full (its earlier rows stay)",
                    record.path
                )),
                None => {}
            }
            selection.load.push(true);
            selection.records.push(record);
        }
        Ok(selection)
    }

    /// True when the lake has committed runs (so a default-mode run must not write).
    pub fn has_runs(&self) -> Result<bool, LoadError> {
        match &self.place {
            Place::Local { journal, .. } => {
                Ok(read_dir_sorted(&journal.join("runs"))?.iter().any(|p| p.extension().is_some_and(|e| e == "json")))
            }
            Place::Remote(remote) => Ok(!remote.runs()?.is_empty()),
        }
    }

    /// Fails when this process no longer holds the lake: a lake on object storage whose
    /// lease was not renewed in time (a local lake's file lock cannot be lost).
    pub fn check_held(&self) -> Result<(), LoadError> {
        match &self.place {
            Place::Local { .. } => Ok(()),
            Place::Remote(remote) => remote.check_lease(),
        }
    }

    /// True when a table of this lake holds rows of an earlier run.
    pub fn table_has_data(&self, sink: &SinkSpec) -> Result<bool, LoadError> {
        match &self.place {
            Place::Local { .. } => Ok(table_has_data(sink)),
            Place::Remote(remote) => remote.table_has_data(sink.path(), matches!(sink, SinkSpec::Delta(_))),
        }
    }

    /// A table's data files, relative to its folder.
    fn table_files(&self, table: &Path) -> Result<Vec<StagedFile>, LoadError> {
        match &self.place {
            Place::Local { .. } => list_files(table),
            Place::Remote(remote) => remote.table_files(table),
        }
    }

    /// Starts a run; its staged files are deleted unless it commits.
    pub fn begin(&self, run_id: &str, mode: WriteMode) -> Result<RunTxn<'_>, LoadError> {
        let staging = match &self.place {
            Place::Local { journal, .. } => journal.join("staging").join(run_id),
            // The writers write local files; they go to the store when the run commits.
            Place::Remote(_) => local_staging_for_remote(run_id),
        };
        std::fs::create_dir_all(&staging).map_err(|source| LoadError::Io { path: staging.clone(), source })?;
        Ok(RunTxn { lake: self, run_id: run_id.to_string(), mode, staging, tables: Vec::new(), inputs: Vec::new(), done: false })
    }

    /// Removes what no reader needs: staged files of runs that died (already done by
    /// [`Lake::open`]), temporary files that writers of older sweep versions left in Parquet
    /// tables, and in Delta tables the files no version younger than `retain` reads.
    pub fn vacuum(&self, retain: std::time::Duration) -> Result<VacuumReport, LoadError> {
        let mut report =
            VacuumReport { abandoned_runs: self.recovery.abandoned.len(), bytes: self.recovery.bytes_freed, ..VacuumReport::default() };
        if let Place::Remote(remote) = &self.place {
            // Parquet tables on object storage only ever receive whole files (copies of
            // staged ones): only Delta tables have files to remove.
            for table in remote.delta_tables()? {
                report.files += crate::delta::vacuum(&table, retain)?;
            }
            return Ok(report);
        }
        for table in read_dir_sorted(&self.root)? {
            let name = table.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if !table.is_dir() || name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            if table.join("_delta_log").is_dir() {
                report.files += crate::delta::vacuum(&table, retain)?;
            } else {
                remove_temp_files(&table, &mut report)?;
            }
        }
        Ok(report)
    }

    fn recover(&self) -> Result<Recovery, LoadError> {
        let journal = match &self.place {
            Place::Local { journal, .. } => journal,
            Place::Remote(remote) => return remote.recover(),
        };
        let mut recovery = Recovery::default();
        for pending in read_dir_sorted(&journal.join("pending"))? {
            if pending.extension().is_some_and(|e| e == "json") {
                let record = read_record(&pending)?;
                self.apply(&record)?;
                self.file_record(&record, &pending)?;
                recovery.rolled_forward.push(record.run_id);
            } else {
                // A record that was being written when the run died: the run never reached
                // its commit point.
                remove_file_if_exists(&pending)?;
            }
        }
        for staged in read_dir_sorted(&journal.join("staging"))? {
            recovery.bytes_freed += dir_size(&staged);
            std::fs::remove_dir_all(&staged).map_err(|source| LoadError::Io { path: staged.clone(), source })?;
            recovery.abandoned.push(staged.file_name().unwrap_or_default().to_string_lossy().into_owned());
        }
        Ok(recovery)
    }

    /// The journal folder of a local lake (the steps only a local lake takes).
    fn local_journal(&self) -> &Path {
        match &self.place {
            Place::Local { journal, .. } => journal,
            Place::Remote(_) => unreachable!("only a local lake moves files by rename"),
        }
    }

    fn next_seq(&self) -> Result<i64, LoadError> {
        Ok(self.runs()?.last().map_or(1, |r| r.seq + 1))
    }

    /// Moves a record's staged files into its tables. Safe to repeat: a file already moved
    /// is not moved again, a Delta commit already made is not made again.
    fn apply(&self, record: &RunRecord) -> Result<(), LoadError> {
        let staging = self.local_journal().join("staging").join(&record.run_id);
        for table in &record.tables {
            let from = staging.join(&table.name);
            for file in &table.added {
                let src = from.join(&file.path);
                let dst = table.path.join(&file.path);
                if src.exists() {
                    if let Some(parent) = dst.parent() {
                        std::fs::create_dir_all(parent).map_err(|source| LoadError::Io { path: parent.to_path_buf(), source })?;
                    }
                    std::fs::rename(&src, &dst).map_err(|source| LoadError::Io { path: dst.clone(), source })?;
                } else if !dst.exists() {
                    return Err(LoadError::Journal {
                        path: src,
                        message: format!(
                            "run {} lost a staged file before it was committed; the journal cannot complete it",
                            record.run_id
                        ),
                    });
                }
            }
            match table.format {
                TableFormat::Delta => crate::delta::commit_run(table, record)?,
                TableFormat::Parquet | TableFormat::Jsonl => {
                    for old in &table.removed {
                        remove_file_if_exists(&table.path.join(old))?;
                    }
                    if table.replace {
                        remove_empty_dirs(&table.path);
                    }
                }
            }
            sync_dir(&table.path);
        }
        Ok(())
    }

    /// Files a committed record under `runs/` (the pending copy goes) and drops its staging.
    fn file_record(&self, record: &RunRecord, pending: &Path) -> Result<(), LoadError> {
        let journal = self.local_journal();
        let name = format!("{:010}-{}.json", record.seq, record.run_id);
        let dest = journal.join("runs").join(name);
        std::fs::rename(pending, &dest).map_err(|source| LoadError::Io { path: dest, source })?;
        sync_dir(&journal.join("runs"));
        let staging = journal.join("staging").join(&record.run_id);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|source| LoadError::Io { path: staging, source })?;
        }
        Ok(())
    }
}

/// Which inputs a run loads ([`Lake::select_inputs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSelection {
    /// Per file given, in order: true when the run reads it.
    pub load: Vec<bool>,
    /// The ledger entries of the files read.
    pub records: Vec<InputRecord>,
    /// Files skipped because an earlier run committed them unchanged.
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
}

/// What [`Lake::vacuum`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VacuumReport {
    /// Runs that died before committing, whose staged files were deleted.
    pub abandoned_runs: usize,
    /// Files deleted from the tables.
    pub files: usize,
    /// Bytes freed, where known (Delta's vacuum does not say).
    pub bytes: u64,
}

/// Deletes `.name.tmp` files: what a table writer of an older sweep left when it died.
fn remove_temp_files(dir: &Path, report: &mut VacuumReport) -> Result<(), LoadError> {
    for entry in read_dir_sorted(dir)? {
        let name = entry.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if entry.is_dir() {
            remove_temp_files(&entry, report)?;
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            report.bytes += dir_size(&entry);
            report.files += 1;
            remove_file_if_exists(&entry)?;
        }
    }
    Ok(())
}

struct StagedTable {
    name: String,
    sink: SinkSpec,
    schema: SchemaRef,
    by_date: bool,
    replace: bool,
    rows: u64,
}

/// One run's writes to a lake, staged until [`RunTxn::commit`].
pub struct RunTxn<'a> {
    lake: &'a Lake,
    run_id: String,
    mode: WriteMode,
    staging: PathBuf,
    tables: Vec<StagedTable>,
    inputs: Vec<InputRecord>,
    done: bool,
}

impl RunTxn<'_> {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Registers a table of the run and returns the sink its writers write to (a folder in
    /// the staging area). In the default mode a table that holds data is refused here,
    /// before anything is written. `replace` makes the run replace the table's rows whatever
    /// the mode (the intel snapshot).
    pub fn stage(&mut self, name: &str, sink: &SinkSpec, schema: SchemaRef, by_date: bool, replace: bool) -> Result<SinkSpec, LoadError> {
        match (&self.lake.place, sink) {
            (Place::Local { .. }, _) => refuse_remote(sink.path())?,
            (Place::Remote(_), _) => {}
        }
        let replace = replace || self.mode == WriteMode::Overwrite;
        if self.mode == WriteMode::Error && !replace && self.lake.table_has_data(sink)? {
            return Err(LoadError::NotEmpty { path: sink.path().to_path_buf() });
        }
        let dir = self.staging.join(name);
        std::fs::create_dir_all(&dir).map_err(|source| LoadError::Io { path: dir.clone(), source })?;
        self.tables.push(StagedTable { name: name.to_string(), sink: sink.clone(), schema, by_date, replace, rows: 0 });
        Ok(match sink {
            SinkSpec::Jsonl(_) => SinkSpec::Jsonl(dir),
            SinkSpec::Parquet(_) | SinkSpec::Delta(_) => SinkSpec::Parquet(dir),
        })
    }

    /// Records how many rows a table received (for the record and the summary).
    pub fn add_rows(&mut self, name: &str, rows: u64) {
        if let Some(t) = self.tables.iter_mut().find(|t| t.name == name) {
            t.rows += rows;
        }
    }

    /// Records the inputs the run loads (its ledger entry).
    pub fn set_inputs(&mut self, inputs: Vec<InputRecord>) {
        self.inputs = inputs;
    }

    /// Commits every staged table, or none: see the module docs for the steps.
    pub fn commit(mut self) -> Result<RunRecord, LoadError> {
        let seq = self.lake.next_seq()?;
        let mut tables = Vec::new();
        for t in &self.tables {
            let staged_dir = self.staging.join(&t.name);
            let format = match t.sink {
                SinkSpec::Parquet(_) => TableFormat::Parquet,
                SinkSpec::Jsonl(_) => TableFormat::Jsonl,
                SinkSpec::Delta(_) => TableFormat::Delta,
            };
            let mut added = list_files(&staged_dir)?;
            // Every table exists once a run has written the lake, empty or not, so that
            // queries over it work; a Delta table is created with its schema instead.
            match format {
                TableFormat::Delta => crate::delta::ensure_table(&t.name, t.sink.path(), &t.schema, t.by_date)?,
                TableFormat::Parquet if added.is_empty() && (t.replace || !self.lake.table_has_data(&t.sink)?) => {
                    let name = format!("part-{}-empty.parquet", self.run_id);
                    crate::write_empty_parquet(&staged_dir.join(&name), &t.schema)?;
                    added = list_files(&staged_dir)?;
                }
                _ => {}
            }
            let removed = match (t.replace, format) {
                (true, TableFormat::Parquet | TableFormat::Jsonl) => self
                    .lake
                    .table_files(t.sink.path())?
                    .into_iter()
                    .map(|f| f.path)
                    .filter(|p| !added.iter().any(|a| &a.path == p))
                    .collect(),
                _ => Vec::new(),
            };
            let path = match &self.lake.place {
                Place::Local { .. } => {
                    std::path::absolute(t.sink.path()).map_err(|source| LoadError::Io { path: t.sink.path().to_path_buf(), source })?
                }
                Place::Remote(_) => t.sink.path().to_path_buf(),
            };
            tables.push(TableCommit {
                name: t.name.clone(),
                path,
                format,
                replace: t.replace,
                by_date: t.by_date,
                rows: t.rows,
                added,
                removed,
            });
        }
        let record = RunRecord {
            run_id: self.run_id.clone(),
            seq,
            mode: self.mode,
            committed_at_ms: now_ms(),
            tables,
            inputs: std::mem::take(&mut self.inputs),
        };
        if let Place::Remote(remote) = &self.lake.place {
            remote.upload_staged(&record, &self.staging)?;
            // The commit point, as below.
            remote.write_pending(&record)?;
            tracing::info!(run = %record.run_id, seq, tables = record.tables.len(), inputs = record.inputs.len(), "run committed to the lake");
            self.done = true;
            let _ = std::fs::remove_dir_all(&self.staging);
            remote.apply(&record)?;
            remote.file_record(&record, &remote.pending_key(&record.run_id))?;
            return Ok(record);
        }
        // The commit point: once this file exists, the run will complete, now or on the
        // lake's next open.
        let pending = self.lake.local_journal().join("pending").join(format!("{}.json", self.run_id));
        write_durably(&pending, &serde_json::to_vec_pretty(&record).expect("a run record serialises"))?;
        tracing::info!(run = %record.run_id, seq, tables = record.tables.len(), inputs = record.inputs.len(), "run committed to the lake");
        self.done = true;
        self.lake.apply(&record)?;
        self.lake.file_record(&record, &pending)?;
        Ok(record)
    }
}

impl Drop for RunTxn<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Where a run into a lake on object storage (or a stream's table there, named for `run_id`)
/// stages its files on this host: a folder of the system's temporary directory, named after
/// the process so that one a killed run left is found and deleted by the next run.
pub fn local_staging_for_remote(run_id: &str) -> PathBuf {
    let temp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&temp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("sweep-staging-").and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| pid != std::process::id() && !remote::process_exists(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    temp.join(format!("sweep-staging-{}-{run_id}", std::process::id()))
}

/// Refuses a lake on object storage for what cannot use one yet (`what`, as a plural:
/// "streams", "retro-sweeps"), with what to do instead.
pub fn refuse_object_lake(root: &Path, what: &'static str, advice: &'static str) -> Result<(), LoadError> {
    if is_object_lake(root) {
        return Err(LoadError::NotOnObjectStorage { url: root.display().to_string(), what, advice });
    }
    Ok(())
}

/// Refuses paths that name object stores or remote file systems: until they are supported
/// they must never be taken for local folders.
pub fn refuse_remote(path: &Path) -> Result<(), LoadError> {
    let text = path.to_string_lossy();
    if sweep_model::is_url(&text) {
        return Err(LoadError::Remote { url: text.into_owned() });
    }
    Ok(())
}

/// [`table_has_data`] for a table that may be on object storage, where asking can fail (no
/// credentials, no bucket): the store's answer is the error.
pub fn table_holds_data(sink: &SinkSpec) -> Result<bool, LoadError> {
    if is_object_lake(sink.path()) {
        return remote::Journal::table_has_data_at(&sink.path().to_string_lossy(), matches!(sink, SinkSpec::Delta(_)));
    }
    Ok(table_has_data(sink))
}

/// Whether the table at `path` (a folder, or a URL on object storage) is a Delta table;
/// `None` when there is no table there yet.
pub fn is_delta_table(path: &Path) -> Result<Option<bool>, LoadError> {
    if is_object_lake(path) {
        return remote::Journal::delta_or_not(&path.to_string_lossy());
    }
    Ok(path.exists().then(|| path.join("_delta_log").is_dir()))
}

/// The objects below the table folder `url` on object storage, relative to it, with sizes.
pub fn object_files_below(url: &Path) -> Result<Vec<StagedFile>, LoadError> {
    remote::objects::files_below(&url.to_string_lossy())
}

/// Uploads the files a writer wrote below the local folder `local` to the same places below
/// the table folder `url` on object storage, each as one object, then deletes them locally.
pub fn upload_table_files(local: &Path, files: &[PathBuf], url: &Path) -> Result<(), LoadError> {
    for file in files {
        let relative = file.strip_prefix(local).map_err(|_| LoadError::Journal {
            path: file.clone(),
            message: format!("a file written outside its folder {}", local.display()),
        })?;
        put_object_file(file, &url.join(relative))?;
        let _ = std::fs::remove_file(file);
    }
    Ok(())
}

/// [`crate::remove_files_except`] for a table on object storage.
pub(crate) fn remove_objects_except(table: &Path, keep_prefix: &str, schema: Option<&SchemaRef>) -> Result<usize, LoadError> {
    let files: Vec<StagedFile> = object_files_below(table)?.into_iter().filter(|f| is_data_file(&f.path)).collect();
    let (kept, removed): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| f.path.rsplit('/').next().unwrap_or(&f.path).starts_with(keep_prefix));
    remote::objects::remove(&table.to_string_lossy(), removed.iter().map(|f| f.path.as_str()))?;
    if let Some(schema) = schema
        && kept.is_empty()
    {
        let name = format!("{keep_prefix}empty.parquet");
        let local = std::env::temp_dir().join(format!("sweep-empty-{}-{name}", std::process::id()));
        crate::write_empty_parquet(&local, schema)?;
        let uploaded = put_object_file(&local, &table.join(&name));
        let _ = std::fs::remove_file(&local);
        uploaded?;
    }
    Ok(removed.len())
}

/// Uploads the local file `local` to `url` on object storage: one object, visible whole or
/// not at all.
pub fn put_object_file(local: &Path, url: &Path) -> Result<(), LoadError> {
    remote::objects::put_file(local, &url.to_string_lossy())
}

/// Deletes every object below the folder `url` on object storage.
pub fn remove_objects_below(url: &Path) -> Result<(), LoadError> {
    remote::objects::remove_below(&url.to_string_lossy())
}

/// The whole object at `url` (a file a reader opens in memory: a hits file, small).
pub fn read_object(url: &Path) -> Result<bytes::Bytes, LoadError> {
    remote::objects::read(&url.to_string_lossy())
}

/// True when a table folder holds rows of an earlier run (any data file, or a Delta log).
pub fn table_has_data(sink: &SinkSpec) -> bool {
    let path = sink.path();
    path.join("_delta_log").is_dir() || list_files(path).is_ok_and(|f| !f.is_empty())
}

/// Data files under `dir` (recursive), relative to it; hidden and `_` names are not data.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<StagedFile>, LoadError> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<StagedFile>) -> Result<(), LoadError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(LoadError::Io { path: dir.to_path_buf(), source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata().map_err(|source| LoadError::Io { path: path.clone(), source })?;
            if meta.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base).expect("walked from base");
                out.push(StagedFile { path: rel.to_string_lossy().replace('\\', "/"), size: meta.len() });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                out.push(e.map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?.path());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(LoadError::Io { path: dir.to_path_buf(), source }),
    }
    out.sort();
    Ok(out)
}

fn read_record(path: &Path) -> Result<RunRecord, LoadError> {
    let text = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&text).map_err(|e| LoadError::Journal {
        path: path.to_path_buf(),
        message: format!("unreadable run record ({e}); it was written by another tool or edited by hand"),
    })
}

/// Writes `bytes` to `path` so that after a crash the file is either absent or complete.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    let tmp = path.with_extension("json.tmp");
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent);
    }
    Ok(())
}

/// Makes a folder's entries (renames, new files) durable; best effort where the platform
/// cannot open folders.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn remove_file_if_exists(path: &Path) -> Result<(), LoadError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LoadError::Io { path: path.to_path_buf(), source }),
    }
}

/// Removes the empty partition folders a replacing run leaves (best effort).
fn remove_empty_dirs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && !e.file_name().to_string_lossy().starts_with('_') {
            remove_empty_dirs(&p);
            let _ = std::fs::remove_dir(&p);
        }
    }
}

/// Bytes under `path` (files and folders, recursive).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map(|es| es.flatten().map(|e| dir_size(&e.path())).sum()).unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The folder that holds every table of a load: its `dir`, else the closest common
/// ancestor of the table folders.
pub fn lake_root(dir: Option<&Path>, sinks: &[SinkSpec]) -> Option<PathBuf> {
    if let Some(d) = dir {
        return Some(d.to_path_buf());
    }
    // A URL is already absolute (and `absolute` would take it for a relative path).
    let absolute = |p: &Path| {
        if sweep_model::is_url(&p.to_string_lossy()) { p.to_path_buf() } else { std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()) }
    };
    let mut paths = sinks.iter().map(|s| absolute(s.path()));
    let first = paths.next()?;
    let mut root = first.parent().map(Path::to_path_buf).unwrap_or(first);
    for p in paths {
        while !p.starts_with(&root) {
            root = root.parent()?.to_path_buf();
        }
    }
    Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]))
    }

    fn write_rows(sink: &SinkSpec, prefix: &str, rows: &[i64]) {
        let batch = RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(rows.to_vec()))]).unwrap();
        let mut w = crate::TableWriter::new("t", sink, schema(), false, prefix.into(), 1000).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }

    fn rows_in(dir: &Path) -> Vec<i64> {
        let mut out = Vec::new();
        for f in list_files(dir).unwrap() {
            let file = File::open(dir.join(&f.path)).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
            for b in reader {
                let b = b.unwrap();
                out.extend(b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().iter().copied());
            }
        }
        out.sort();
        out
    }

    #[test]
    fn staged_files_are_invisible_until_commit_and_gone_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let sink = SinkSpec::Parquet(dir.path().join("t"));
        let lake = Lake::open(dir.path()).unwrap();
        {
            let mut txn = lake.begin("r1", WriteMode::Error).unwrap();
            let staged = txn.stage("t", &sink, schema(), false, false).unwrap();
            write_rows(&staged, "p", &[1, 2]);
            assert!(rows_in(sink.path()).is_empty());
            // Dropped without commit: a failed run.
        }
        assert!(rows_in(sink.path()).is_empty());
        assert_eq!(list_files(&dir.path().join("_sweep/staging")).unwrap(), vec![]);
        let mut txn = lake.begin("r2", WriteMode::Error).unwrap();
        let staged = txn.stage("t", &sink, schema(), false, false).unwrap();
        write_rows(&staged, "p", &[3]);
        txn.commit().unwrap();
        assert_eq!(rows_in(sink.path()), vec![3]);
        // The default mode refuses a table with data, before writing.
        let mut txn = lake.begin("r3", WriteMode::Error).unwrap();
        assert!(matches!(txn.stage("t", &sink, schema(), false, false), Err(LoadError::NotEmpty { .. })));
    }

    #[test]
    fn overwrite_replaces_only_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let sink = SinkSpec::Parquet(dir.path().join("t"));
        let lake = Lake::open(dir.path()).unwrap();
        let mut txn = lake.begin("r1", WriteMode::Error).unwrap();
        write_rows(&txn.stage("t", &sink, schema(), false, false).unwrap(), "p", &[1, 2]);
        txn.commit().unwrap();
        let mut txn = lake.begin("r2", WriteMode::Overwrite).unwrap();
        write_rows(&txn.stage("t", &sink, schema(), false, false).unwrap(), "q", &[9]);
        assert_eq!(rows_in(sink.path()), vec![1, 2], "the old rows stay until the new run commits");
        drop(txn);
        assert_eq!(rows_in(sink.path()), vec![1, 2], "a failed overwrite leaves the table as it was");
        let mut txn = lake.begin("r3", WriteMode::Overwrite).unwrap();
        write_rows(&txn.stage("t", &sink, schema(), false, false).unwrap(), "q", &[9]);
        txn.commit().unwrap();
        assert_eq!(rows_in(sink.path()), vec![9]);
    }

    #[test]
    fn a_pending_record_is_rolled_forward_and_staging_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let sink = SinkSpec::Parquet(dir.path().join("t"));
        let record = {
            let lake = Lake::open(dir.path()).unwrap();
            let mut txn = lake.begin("r1", WriteMode::Append).unwrap();
            write_rows(&txn.stage("t", &sink, schema(), false, false).unwrap(), "p", &[1, 2]);
            // Simulate a crash right after the commit point: the pending record exists,
            // no file has moved.
            let record = RunRecord {
                run_id: "r1".into(),
                seq: 1,
                mode: WriteMode::Append,
                committed_at_ms: 0,
                tables: vec![TableCommit {
                    name: "t".into(),
                    path: sink.path().to_path_buf(),
                    format: TableFormat::Parquet,
                    replace: false,
                    by_date: false,
                    rows: 2,
                    added: list_files(&dir.path().join("_sweep/staging/r1/t")).unwrap(),
                    removed: vec![],
                }],
                inputs: vec![],
            };
            write_durably(&dir.path().join("_sweep/pending/r1.json"), &serde_json::to_vec(&record).unwrap()).unwrap();
            std::mem::forget(txn);
            record
        };
        // A second run that died before its commit point.
        std::fs::create_dir_all(dir.path().join("_sweep/staging/r2/t")).unwrap();
        std::fs::write(dir.path().join("_sweep/staging/r2/t/x.parquet"), b"junk").unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        assert_eq!(lake.recovery().rolled_forward, vec!["r1".to_string()]);
        assert_eq!(lake.recovery().abandoned, vec!["r2".to_string()]);
        assert_eq!(rows_in(sink.path()), vec![1, 2]);
        assert_eq!(lake.runs().unwrap(), vec![record]);
        assert!(read_dir_sorted(&dir.path().join("_sweep/staging")).unwrap().is_empty());
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Lake::open(dir.path()).unwrap();
        let err = Lake::open(dir.path()).unwrap_err();
        assert!(matches!(err, LoadError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("another sweep run"), "{err}");
    }

    #[test]
    fn remote_urls_are_refused() {
        for url in ["s3://bucket/lake", "gs://b/x", "az://c/x", "abfss://c@a.dfs.core.windows.net/x", "hdfs://nn/x", "https://h/x"] {
            let err = refuse_remote(Path::new(url)).unwrap_err();
            assert!(err.to_string().contains("not supported yet"), "{err}");
        }
        refuse_remote(Path::new("lake/events")).unwrap();
        refuse_remote(Path::new("./weird:name")).unwrap();
    }

    #[test]
    fn fingerprints_tell_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, vec![b'a'; 200_000]).unwrap();
        let a = InputRecord::of_file(&p).unwrap();
        assert_eq!(a, InputRecord::of_file(&p).unwrap());
        let mut bytes = vec![b'a'; 200_000];
        bytes[199_999] = b'b';
        std::fs::write(&p, bytes).unwrap();
        let b = InputRecord::of_file(&p).unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
    }

    #[test]
    fn lake_root_is_the_common_folder() {
        let sinks = [SinkSpec::Parquet("/l/a/events".into()), SinkSpec::Parquet("/l/b/hits".into())];
        assert_eq!(lake_root(None, &sinks), Some(PathBuf::from("/l")));
        assert_eq!(lake_root(Some(Path::new("x")), &sinks), Some(PathBuf::from("x")));
    }
}

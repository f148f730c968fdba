//! A lake's journal on object storage (S3, GCS, Azure Blob): the protocol of a local lake
//! (see the parent module), with the store's conditional writes where a local lake has
//! file locks and renames. No store renames atomically, and none needs to here:
//!
//! - **Lock.** `_sweep/lock` is a lease. It is created only if absent (`If-None-Match: *`)
//!   and renewed every [`RENEW_EVERY`] only if it is still the version this run wrote
//!   (`If-Match` on its ETag). A lease that was not renewed for [`LEASE`] belongs to a dead
//!   run and is taken over with the same `If-Match`, so of two runs that find it expired
//!   one wins. A holder on this host whose process is gone is taken over at once, so a
//!   killed job re-run on the same machine does not wait.
//! - **Stage.** Writers write the run's files to local disk, as for a local lake; before
//!   the commit point they are uploaded to `_sweep/staging/<run>/<table>/`.
//! - **Commit point.** `_sweep/pending/<run>.json`, one PUT (atomic on every store), written
//!   only while the lease is held.
//! - **Apply.** Server-side copies from staging into the tables (no byte goes through this
//!   host again). A Delta table then gets one log commit, a create-only PUT of its next
//!   version tagged with the run's sequence, so it is never made twice. The files a
//!   replacing Parquet or JSON run removes are deleted. Safe to repeat.
//! - **File.** `_sweep/runs/<seq>-<run>.json` is written, the pending record and the staged
//!   objects deleted.
//!
//! Readers that list a table (`sweep query` first completes a pending run) see whole runs,
//! except in the moment the copies of a commit take.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sweep_storage::object_store::path::Path as Key;
use sweep_storage::object_store::{self, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart};
use sweep_storage::wait;

use super::{JOURNAL_DIR, Recovery, RunRecord, StagedFile, TableFormat};
use crate::LoadError;

/// How long a lease lasts without renewal: a run that dies holds the lake this long at most
/// (for runs on other hosts; on this host, not at all).
pub(crate) const LEASE: Duration = Duration::from_secs(30);
/// How often a live run renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// Files above this size are uploaded in parts, so memory stays bounded.
const PART_BYTES: usize = 16 << 20;
/// Requests in flight when a run uploads, copies or deletes many objects.
const CONCURRENCY: usize = 8;

/// The journal of a lake at a URL, with the lake's lock held.
pub(crate) struct Journal {
    url: String,
    store: Arc<dyn ObjectStore>,
    /// The key of the lake's folder: `""` at the bucket's root, else `a/b` (no slashes around).
    base: String,
    lease: Lease,
}

/// What the lock object holds: who has the lake, until when.
#[derive(Debug, Serialize, Deserialize)]
struct LockBody {
    host: String,
    pid: u32,
    /// Milliseconds since the epoch after which the lease is free to take.
    expires_ms: i64,
}

impl LockBody {
    fn ours() -> LockBody {
        LockBody { host: host_name(), pid: std::process::id(), expires_ms: super::now_ms() + LEASE.as_millis() as i64 }
    }

    fn describe(&self) -> String {
        let left = (self.expires_ms - super::now_ms()).max(0) / 1000;
        format!("pid {} on {}; its lease ends in {left} s unless it is renewed", self.pid, self.host)
    }

    /// True when the holder cannot be writing any more: its lease ran out, or it is a
    /// process of this host that no longer exists.
    fn is_stale(&self) -> bool {
        self.expires_ms < super::now_ms() || (self.host == host_name() && !process_exists(self.pid))
    }
}

impl Journal {
    /// Takes the lock of the lake at `url` (created on first use) for one writer.
    pub(crate) fn open(url: &str) -> Result<Journal, LoadError> {
        let url = url.trim_end_matches('/').to_string();
        let located = sweep_storage::locate(&url).map_err(|e| store_error(&url, e))?;
        let base = located.key.trim_matches('/').to_string();
        let mut journal = Journal { url, store: located.store, base, lease: Lease::default() };
        journal.lease = journal.take_lock()?;
        Ok(journal)
    }

    /// True when a run into the lake at `url` died after its commit point, so a reader must
    /// complete it first. Only lists: a reader with read-only credentials gets its answer.
    pub(crate) fn needs_recovery(url: &str) -> Result<bool, LoadError> {
        let url = url.trim_end_matches('/');
        let located = sweep_storage::locate(url).map_err(|e| store_error(url, e))?;
        let pending = join(located.key.trim_matches('/'), &format!("{JOURNAL_DIR}/pending"));
        Ok(!sweep_storage::list(&located.store, &pending, url).map_err(|e| store_error(url, e))?.is_empty())
    }

    /// True when the table at `url` holds data files (or, for a Delta table, a log); only
    /// lists (for `sweep check`).
    pub(crate) fn table_has_data_at(url: &str, delta: bool) -> Result<bool, LoadError> {
        let below = objects::files_below(url)?;
        Ok(holds_data(below.iter().map(|f| f.path.as_str()), delta))
    }

    /// Whether the table at `url` is a Delta table (`None`: no object below it).
    pub(crate) fn delta_or_not(url: &str) -> Result<Option<bool>, LoadError> {
        let below = objects::files_below(url)?;
        Ok((!below.is_empty()).then(|| below.iter().any(|f| f.path.starts_with("_delta_log/"))))
    }

    /// [`Journal::table_has_data_at`] for a table of this lake.
    pub(crate) fn table_has_data(&self, table: &Path, delta: bool) -> Result<bool, LoadError> {
        let key = self.table_key(table)?;
        let base = format!("{key}/");
        let listed = self.list(&key)?;
        Ok(holds_data(listed.iter().filter_map(|m| m.location.as_ref().strip_prefix(base.as_str())), delta))
    }

    /// The Delta tables of the lake, by URL: the folders right below it that hold a log.
    pub(crate) fn delta_tables(&self) -> Result<Vec<PathBuf>, LoadError> {
        let mut tables = BTreeSet::new();
        let below = if self.base.is_empty() { String::new() } else { format!("{}/", self.base) };
        for meta in self.list(&self.base)? {
            let Some(relative) = meta.location.as_ref().strip_prefix(&below).map(str::to_string) else { continue };
            if let Some((table, _)) = relative.split_once("/_delta_log/")
                && !table.contains('/')
                && !table.starts_with(['_', '.'])
            {
                tables.insert(table.to_string());
            }
        }
        Ok(tables.into_iter().map(|t| PathBuf::from(format!("{}/{t}", self.url))).collect())
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, relative: &str) -> Key {
        Key::from(join(&self.base, relative))
    }

    /// The key of a table given by its URL (a folder below the lake's).
    fn table_key(&self, table: &Path) -> Result<String, LoadError> {
        let text = table.to_string_lossy();
        let relative = text.trim_end_matches('/').strip_prefix(&self.url).map(|r| r.trim_matches('/').to_string());
        match relative {
            Some(r) if !r.is_empty() => Ok(join(&self.base, &r)),
            _ => Err(LoadError::Journal {
                path: table.to_path_buf(),
                message: format!("a table of a lake on object storage must be a folder below the lake ({})", self.url),
            }),
        }
    }

    fn fail(&self, e: object_store::Error) -> LoadError {
        store_error(&self.url, sweep_storage::store_error(&self.url, &e))
    }

    fn take_lock(&self) -> Result<Lease, LoadError> {
        let key = self.key(&format!("{JOURNAL_DIR}/lock"));
        let body = || PutPayload::from(serde_json::to_vec(&LockBody::ours()).expect("a lock body serialises"));
        let created = self.put(&key, body(), PutMode::Create);
        let version = match created {
            Ok(version) => version,
            Err(object_store::Error::AlreadyExists { .. }) => {
                let (holder, version) = self.read_lock(&key)?;
                let stale = holder.as_ref().is_none_or(LockBody::is_stale);
                if !stale {
                    let holder = holder.expect("a fresh lease has a holder");
                    return Err(LoadError::Busy { lake: PathBuf::from(&self.url), holder: holder.describe() });
                }
                // Of two runs that found the lease stale, the store lets one replace it.
                match self.put(&key, body(), PutMode::Update(version)) {
                    Ok(version) => {
                        if let Some(dead) = holder {
                            tracing::warn!(lake = %self.url, "took over the lock of a run that stopped ({})", dead.describe());
                        }
                        version
                    }
                    Err(object_store::Error::Precondition { .. }) => {
                        return Err(LoadError::Busy { lake: PathBuf::from(&self.url), holder: "a run that just took the lock".into() });
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            }
            // A write to a key answered "not found" is a write to a bucket that is not there.
            Err(object_store::Error::NotFound { .. }) => {
                return Err(LoadError::Store { url: self.url.clone(), message: sweep_storage::MISSING_BUCKET.into() });
            }
            Err(e) => return Err(self.fail(e)),
        };
        Ok(Lease::start(self.store.clone(), key, version))
    }

    fn read_lock(&self, key: &Key) -> Result<(Option<LockBody>, UpdateVersion), LoadError> {
        let store = self.store.clone();
        let key = key.clone();
        let got = wait(async move {
            let result = store.get(&key).await?;
            let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
            Ok::<_, object_store::Error>((result.bytes().await?, version))
        });
        let (bytes, version) = got.map_err(|e| self.fail(e))?;
        // A lock another tool wrote, or one cut short, is treated as held by nobody alive.
        Ok((serde_json::from_slice(&bytes).ok(), version))
    }

    fn put(&self, key: &Key, payload: PutPayload, mode: PutMode) -> Result<UpdateVersion, object_store::Error> {
        let store = self.store.clone();
        let key = key.clone();
        let options = PutOptions { mode, ..Default::default() };
        wait(async move { store.put_opts(&key, payload, options).await }).map(UpdateVersion::from)
    }

    /// Fails when the lease was lost (not renewed in time, or taken over): the run must not
    /// commit, as another may be writing.
    pub(crate) fn check_lease(&self) -> Result<(), LoadError> {
        if self.lease.is_lost() {
            return Err(LoadError::Journal {
                path: PathBuf::from(&self.url),
                message: format!(
                    "this run lost the lake's lock (it could not renew its lease for {} s, or another run took it over); nothing \
                     was committed: run it again",
                    LEASE.as_secs()
                ),
            });
        }
        Ok(())
    }

    /// Every object below `relative` (a folder of the journal or of a table).
    fn list(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>, LoadError> {
        let prefix = prefix.to_string();
        sweep_storage::list(&self.store, &prefix, &self.url).map_err(|e| store_error(&self.url, e))
    }

    /// The run records in `dir` of the journal (`runs` or `pending`), with their keys.
    fn records(&self, dir: &str) -> Result<Vec<(Key, RunRecord)>, LoadError> {
        let listed = self.list(&join(&self.base, &format!("{JOURNAL_DIR}/{dir}")))?;
        let keys: Vec<Key> = listed.into_iter().map(|m| m.location).filter(|k| k.as_ref().ends_with(".json")).collect();
        let store = self.store.clone();
        let fetched = wait(async move {
            futures::stream::iter(keys)
                .map(|key| {
                    let store = store.clone();
                    async move {
                        let bytes = store.get(&key).await?.bytes().await?;
                        Ok::<_, object_store::Error>((key, bytes))
                    }
                })
                .buffered(CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(|e| self.fail(e))?;
        fetched
            .into_iter()
            .map(|(key, bytes)| {
                let record = serde_json::from_slice(&bytes).map_err(|e| LoadError::Journal {
                    path: PathBuf::from(format!("{}/{}", self.root_url(), key)),
                    message: format!("unreadable run record ({e}); it was written by another tool or edited by hand"),
                })?;
                Ok((key, record))
            })
            .collect()
    }

    /// The store's root URL (`s3://bucket`), which keys are relative to.
    fn root_url(&self) -> String {
        match self.url.strip_suffix(&self.base) {
            Some(root) if !self.base.is_empty() => root.trim_end_matches('/').to_string(),
            _ => self.url.clone(),
        }
    }

    /// The committed runs, oldest first.
    pub(crate) fn runs(&self) -> Result<Vec<RunRecord>, LoadError> {
        let mut runs: Vec<RunRecord> = self.records("runs")?.into_iter().map(|(_, r)| r).collect();
        runs.sort_by_key(|r| r.seq);
        Ok(runs)
    }

    /// Data files of a table (hidden and `_` names are not data), relative to its folder.
    pub(crate) fn table_files(&self, table: &Path) -> Result<Vec<StagedFile>, LoadError> {
        let key = self.table_key(table)?;
        let base = format!("{key}/");
        let mut files: Vec<StagedFile> = self
            .list(&key)?
            .into_iter()
            .filter_map(|m| {
                let relative = m.location.as_ref().strip_prefix(&base)?.to_string();
                is_data_file(&relative).then_some(StagedFile { path: relative, size: m.size })
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Completes runs that died after their commit point and deletes what runs that died
    /// before it staged.
    pub(crate) fn recover(&self) -> Result<Recovery, LoadError> {
        let mut recovery = Recovery::default();
        let mut pending_runs = BTreeSet::new();
        let mut pending = self.records("pending")?;
        pending.sort_by_key(|(_, r)| r.seq);
        for (key, record) in pending {
            self.apply(&record)?;
            self.file_record(&record, &key)?;
            pending_runs.insert(record.run_id.clone());
            recovery.rolled_forward.push(record.run_id);
        }
        let staging = join(&self.base, &format!("{JOURNAL_DIR}/staging"));
        let mut abandoned: Vec<(String, Vec<object_store::ObjectMeta>)> = Vec::new();
        for meta in self.list(&staging)? {
            let Some(run) = meta.location.as_ref().strip_prefix(&format!("{staging}/")).and_then(|r| r.split('/').next()) else {
                continue;
            };
            let run = run.to_string();
            match abandoned.iter_mut().find(|(r, _)| *r == run) {
                Some((_, objects)) => objects.push(meta),
                None => abandoned.push((run, vec![meta])),
            }
        }
        for (run, objects) in abandoned {
            recovery.bytes_freed += objects.iter().map(|m| m.size).sum::<u64>();
            self.delete_all(objects.into_iter().map(|m| m.location).collect())?;
            recovery.abandoned.push(run);
        }
        Ok(recovery)
    }

    /// Uploads a run's staged files (on local disk, in `<staging>/<table>/`) to the journal's
    /// staging folder, before the commit point.
    pub(crate) fn upload_staged(&self, record: &RunRecord, staging: &Path) -> Result<(), LoadError> {
        let mut uploads = Vec::new();
        for table in &record.tables {
            for file in &table.added {
                let local = staging.join(&table.name).join(&file.path);
                let key = self.staged_key(&record.run_id, &table.name, &file.path);
                uploads.push((local, key));
            }
        }
        let store = self.store.clone();
        let outcome = wait(async move {
            futures::stream::iter(uploads)
                .map(|(local, key)| upload(store.clone(), local, key))
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await
        });
        match outcome {
            Ok(_) => Ok(()),
            Err(Upload::Read(path, source)) => Err(LoadError::Io { path, source }),
            Err(Upload::Store(e)) => Err(self.fail(e)),
        }
    }

    fn staged_key(&self, run: &str, table: &str, file: &str) -> Key {
        self.key(&format!("{JOURNAL_DIR}/staging/{run}/{table}/{file}"))
    }

    /// Writes the pending record: the commit point.
    pub(crate) fn write_pending(&self, record: &RunRecord) -> Result<(), LoadError> {
        self.check_lease()?;
        let key = self.key(&format!("{JOURNAL_DIR}/pending/{}.json", record.run_id));
        let bytes = serde_json::to_vec_pretty(record).expect("a run record serialises");
        self.put(&key, PutPayload::from(bytes), PutMode::Overwrite).map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Copies a record's staged files into its tables and deletes what a replacing run
    /// removes. Safe to repeat: a file already copied (its staged copy gone) is left.
    pub(crate) fn apply(&self, record: &RunRecord) -> Result<(), LoadError> {
        let mut copies = Vec::new();
        let mut removals = Vec::new();
        for table in &record.tables {
            let table_key = self.table_key(&table.path)?;
            for file in &table.added {
                copies.push((self.staged_key(&record.run_id, &table.name, &file.path), Key::from(join(&table_key, &file.path))));
            }
            removals.extend(table.removed.iter().map(|old| Key::from(join(&table_key, old))));
        }
        let store = self.store.clone();
        let outcome = wait(async move {
            futures::stream::iter(copies)
                .map(|(from, to)| {
                    let store = store.clone();
                    async move {
                        match store.copy(&from, &to).await {
                            Ok(()) => Ok(()),
                            // Copied by an earlier attempt whose staging is gone: done.
                            Err(object_store::Error::NotFound { .. }) => match store.head(&to).await {
                                Ok(_) => Ok(()),
                                Err(object_store::Error::NotFound { .. }) => Err(Err(from)),
                                Err(e) => Err(Ok(e)),
                            },
                            Err(e) => Err(Ok(e)),
                        }
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await
        });
        match outcome {
            Ok(_) => {}
            Err(Ok(e)) => return Err(self.fail(e)),
            Err(Err(lost)) => {
                return Err(LoadError::Journal {
                    path: PathBuf::from(format!("{}/{lost}", self.root_url())),
                    message: format!("run {} lost a staged file before it was committed; the journal cannot complete it", record.run_id),
                });
            }
        }
        // A Delta table's files are in place: one log commit adds them (and removes what a
        // replacing run replaces), made once whatever the number of attempts.
        for table in record.tables.iter().filter(|t| t.format == TableFormat::Delta) {
            crate::delta::commit_run(table, record)?;
        }
        self.delete_all(removals)
    }

    /// Files a committed record under `runs/`, then deletes its pending record and staging.
    pub(crate) fn file_record(&self, record: &RunRecord, pending: &Key) -> Result<(), LoadError> {
        let key = self.key(&format!("{JOURNAL_DIR}/runs/{:010}-{}.json", record.seq, record.run_id));
        let bytes = serde_json::to_vec_pretty(record).expect("a run record serialises");
        match self.put(&key, PutPayload::from(bytes), PutMode::Create) {
            // Filed by an earlier attempt that died before deleting the pending record.
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(self.fail(e)),
        }
        let mut leftovers = vec![pending.clone()];
        leftovers
            .extend(self.list(&join(&self.base, &format!("{JOURNAL_DIR}/staging/{}", record.run_id)))?.into_iter().map(|m| m.location));
        self.delete_all(leftovers)
    }

    /// The key of a pending record, for [`Journal::file_record`] right after a commit.
    pub(crate) fn pending_key(&self, run_id: &str) -> Key {
        self.key(&format!("{JOURNAL_DIR}/pending/{run_id}.json"))
    }

    fn delete_all(&self, keys: Vec<Key>) -> Result<(), LoadError> {
        delete_keys(&self.store, keys).map_err(|e| self.fail(e))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.lease.release();
    }
}

/// Deletes `keys` (in batches, as the store allows); a key already gone is not an error.
fn delete_keys(store: &Arc<dyn ObjectStore>, keys: Vec<Key>) -> Result<(), object_store::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let store = store.clone();
    let outcome = wait(async move {
        let locations = futures::stream::iter(keys.into_iter().map(Ok::<Key, object_store::Error>)).boxed();
        store.delete_stream(locations).try_for_each(|_| async { Ok(()) }).await
    });
    match outcome {
        Err(object_store::Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}

/// True when the objects below a table folder (`relative` to it) hold a data file, or for a
/// Delta table a log (a Delta table exists once a run has written the lake, rows or not).
fn holds_data<'a>(mut relative: impl Iterator<Item = &'a str>, delta: bool) -> bool {
    relative.any(|r| is_data_file(r) || (delta && r.starts_with("_delta_log/")))
}

/// Joins a key prefix (maybe empty) and a relative key.
fn join(base: &str, relative: &str) -> String {
    if base.is_empty() { relative.to_string() } else { format!("{base}/{relative}") }
}

pub(crate) fn store_error(url: &str, e: sweep_storage::StorageError) -> LoadError {
    let message = match e {
        sweep_storage::StorageError::BadUrl { message, .. } | sweep_storage::StorageError::Store { message, .. } => message,
        e @ sweep_storage::StorageError::NotBuilt { .. } => return LoadError::NotBuilt(e),
    };
    LoadError::Store { url: url.to_string(), message }
}

/// Objects in a table on object storage, outside any run's journal: what a stream writes
/// besides its Delta commits (the intel table's file per version) and reads back.
pub(crate) mod objects {
    use super::*;

    fn locate(url: &str) -> Result<(Arc<dyn ObjectStore>, String), LoadError> {
        let url = url.trim_end_matches('/');
        let located = sweep_storage::locate(url).map_err(|e| store_error(url, e))?;
        Ok((located.store, located.key.trim_matches('/').to_string()))
    }

    fn failed(url: &str, e: &object_store::Error) -> LoadError {
        store_error(url, sweep_storage::store_error(url, e))
    }

    /// The objects below the folder `url`, relative to it, with their sizes.
    pub(crate) fn files_below(url: &str) -> Result<Vec<StagedFile>, LoadError> {
        let (store, key) = locate(url)?;
        let listed = sweep_storage::list(&store, &key, url).map_err(|e| store_error(url, e))?;
        let base = if key.is_empty() { String::new() } else { format!("{key}/") };
        let mut files: Vec<StagedFile> = listed
            .iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(base.as_str()).map(|p| StagedFile { path: p.to_string(), size: m.size }))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Deletes the objects `relative` (to the folder `url`).
    pub(crate) fn remove<'a>(url: &str, relative: impl Iterator<Item = &'a str>) -> Result<(), LoadError> {
        let (store, key) = locate(url)?;
        delete_keys(&store, relative.map(|r| Key::from(join(&key, r))).collect()).map_err(|e| failed(url, &e))
    }

    /// Uploads the local file `local` to `url` (in parts above 16 MiB).
    pub(crate) fn put_file(local: &Path, url: &str) -> Result<(), LoadError> {
        let (store, key) = locate(url)?;
        match wait(upload(store, local.to_path_buf(), Key::from(key))) {
            Ok(()) => Ok(()),
            Err(Upload::Read(path, source)) => Err(LoadError::Io { path, source }),
            Err(Upload::Store(e)) => Err(failed(url, &e)),
        }
    }

    /// Deletes every object below the folder `url`.
    pub(crate) fn remove_below(url: &str) -> Result<(), LoadError> {
        let (store, key) = locate(url)?;
        let listed = sweep_storage::list(&store, &key, url).map_err(|e| store_error(url, e))?;
        delete_keys(&store, listed.into_iter().map(|m| m.location).collect()).map_err(|e| failed(url, &e))
    }

    /// The whole object at `url`.
    pub(crate) fn read(url: &str) -> Result<bytes::Bytes, LoadError> {
        let (store, key) = locate(url)?;
        let key = Key::from(key);
        wait(async move { store.get(&key).await?.bytes().await }).map_err(|e| failed(url, &e))
    }
}

enum Upload {
    Read(PathBuf, std::io::Error),
    Store(object_store::Error),
}

/// Uploads one local file: in one PUT when small, in parts otherwise.
// Local reads block the I/O thread for the moment a read of a staged file (just written,
// in the page cache) takes.
async fn upload(store: Arc<dyn ObjectStore>, local: PathBuf, key: Key) -> Result<(), Upload> {
    use std::io::Read;
    let read = |e| Upload::Read(local.clone(), e);
    let mut file = std::fs::File::open(&local).map_err(read)?;
    let size = file.metadata().map_err(read)?.len() as usize;
    if size <= PART_BYTES {
        let mut bytes = Vec::with_capacity(size);
        file.read_to_end(&mut bytes).map_err(read)?;
        store.put(&key, PutPayload::from(bytes)).await.map_err(Upload::Store)?;
        return Ok(());
    }
    let parts = store.put_multipart(&key).await.map_err(Upload::Store)?;
    let mut writer = WriteMultipart::new_with_chunk_size(parts, PART_BYTES);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(2).await.map_err(Upload::Store)?;
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(Upload::Store)?;
    Ok(())
}

/// The lease of a lake's lock, renewed on a thread of its own until released.
#[derive(Default)]
struct Lease {
    shared: Option<Arc<LeaseShared>>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

struct LeaseShared {
    store: Arc<dyn ObjectStore>,
    key: Key,
    version: Mutex<UpdateVersion>,
    lost: AtomicBool,
    /// When the lease was last written, milliseconds since the epoch.
    renewed_ms: AtomicI64,
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Lease {
    fn start(store: Arc<dyn ObjectStore>, key: Key, version: UpdateVersion) -> Lease {
        let shared = Arc::new(LeaseShared {
            store,
            key,
            version: Mutex::new(version),
            lost: AtomicBool::new(false),
            renewed_ms: AtomicI64::new(super::now_ms()),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let renewing = shared.clone();
        let renewer = std::thread::Builder::new()
            .name("sweep-lake-lease".into())
            .spawn(move || renewing.renew_until_stopped())
            .expect("a thread starts");
        Lease { shared: Some(shared), renewer: Some(renewer) }
    }

    /// True when the lease was taken over, or not renewed for so long that another run may
    /// have taken it (a margin of one renewal period is kept for clocks and latency).
    fn is_lost(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| {
            let age = super::now_ms() - s.renewed_ms.load(Ordering::SeqCst);
            s.lost.load(Ordering::SeqCst) || age > (LEASE - RENEW_EVERY).as_millis() as i64
        })
    }

    /// Stops renewing and deletes the lock, unless the lease was lost (then it is another
    /// run's lock now).
    fn release(&mut self) {
        let Some(shared) = self.shared.take() else { return };
        *shared.stopped.lock().expect("lease lock") = true;
        shared.wake.notify_all();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if !shared.lost.load(Ordering::SeqCst) {
            let store = shared.store.clone();
            let key = shared.key.clone();
            let _ = wait(async move { store.delete(&key).await });
        }
    }
}

impl LeaseShared {
    fn renew_until_stopped(&self) {
        loop {
            {
                let stopped = self.stopped.lock().expect("lease lock");
                let (stopped, _) = self.wake.wait_timeout_while(stopped, RENEW_EVERY, |stopped| !*stopped).expect("lease lock");
                if *stopped {
                    return;
                }
            }
            let version = self.version.lock().expect("lease version").clone();
            let store = self.store.clone();
            let key = self.key.clone();
            let body = PutPayload::from(serde_json::to_vec(&LockBody::ours()).expect("a lock body serialises"));
            let options = PutOptions { mode: PutMode::Update(version), ..Default::default() };
            match wait(async move { store.put_opts(&key, body, options).await }) {
                Ok(result) => {
                    *self.version.lock().expect("lease version") = UpdateVersion::from(result);
                    self.renewed_ms.store(super::now_ms(), Ordering::SeqCst);
                }
                Err(object_store::Error::Precondition { .. }) => {
                    tracing::error!(lock = %self.key, "another run took over the lake's lock; this run will not commit");
                    self.lost.store(true, Ordering::SeqCst);
                    return;
                }
                // A store that fails for a while: the lease stays ours until it expires, and
                // the next renewal tries again.
                Err(e) => tracing::warn!(lock = %self.key, "could not renew the lake's lease: {e}"),
            }
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

/// A table's data files, as for a local table: no segment hidden (`.`) or sweep's own (`_`).
pub(crate) fn is_data_file(relative: &str) -> bool {
    !relative.split('/').any(|s| s.starts_with('.') || s.starts_with('_'))
}

/// True unless the process certainly does not exist (where `/proc` cannot tell, a holder is
/// taken to be alive, and its lease has to run out).
pub(crate) fn process_exists(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_stale_when_it_ran_out_or_its_holder_on_this_host_is_gone() {
        let live = LockBody::ours();
        assert!(!live.is_stale());
        let ran_out = LockBody { expires_ms: super::super::now_ms() - 1, ..LockBody::ours() };
        assert!(ran_out.is_stale());
        // A pid above the kernel's limit never exists.
        let gone = LockBody { pid: 4_194_304 + 1, ..LockBody::ours() };
        assert!(gone.is_stale() || !Path::new("/proc/self").exists());
        // A holder on another host is alive until its lease runs out.
        let elsewhere = LockBody { host: "another-host".into(), pid: 4_194_305, ..LockBody::ours() };
        assert!(!elsewhere.is_stale());
        assert!(live.describe().contains(&format!("pid {}", std::process::id())), "{}", live.describe());
    }

    #[test]
    fn keys_join_below_the_lake() {
        assert_eq!(join("", "_sweep/lock"), "_sweep/lock");
        assert_eq!(join("a/b", "_sweep/lock"), "a/b/_sweep/lock");
    }
}

//! Intel for runs: sources read once for a batch run, and for a stream the version each
//! batch is swept with, the swap to a new version between two batches, and the retro-sweep
//! of stored events that a version's added indicators need (docs/intel-sources.md).
//!
//! The guarantee: every (event, indicator) pair where the indicator is valid at the event's
//! time, and the event is within the lookback when the indicator arrives, gives exactly one
//! hit, whichever came first. An event that arrives after the indicator is swept live with
//! it; an event stored before it is found by the retro-sweep of the first batch planned with
//! the version that added it. That batch records the version it follows
//! ([`PlannedBatch::retro_from_version`]), its retro hits commit with its own rows, and a
//! re-run after a crash rebuilds both versions from the cache and writes the same rows.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sweep_intel::index::IntelIndex;
use sweep_intel_sources::{IntelSources, LiveIntel, SourceStats, Store, load_version};
use sweep_model::{Pipeline, SweeperSpec};
use sweep_sweeper::LoadedIntel;

use crate::RunError;
use crate::checkpoint::{Checkpoint, PlannedBatch, RetroPart, RetroPlan};

/// Writes the indicators of `index` to the intel table `sink` as one file named by the
/// version (`intel-<version>...`), unless the table holds that version already: how a
/// stream's intel table keeps every version a batch was swept with, so that any hit can be
/// explained later.
pub fn write_intel_version(index: &IntelIndex, sink: &sweep_model::SinkSpec) -> Result<(), RunError> {
    if intel_version_written(sink, index.version())? {
        return Ok(());
    }
    write_intel_files(index, sink)
}

/// Writes the indicators of `index` to the intel table `sink`, in a file named by the version.
/// A table on object storage gets the file written locally first, then uploaded as one
/// object, so a reader never sees part of it.
pub fn write_intel_files(index: &IntelIndex, sink: &sweep_model::SinkSpec) -> Result<(), RunError> {
    let name = format!("intel-{}", index.version());
    let remote = sweep_load::is_object_lake(sink.path());
    let local = if remote {
        let dir = sweep_load::lake::local_staging_for_remote(&format!("intel-{}", index.version()));
        sweep_model::SinkSpec::Parquet(dir)
    } else {
        sink.clone()
    };
    let mut writer = sweep_load::TableWriter::new("intel", &local, sweep_sweeper::intel_schema(), false, name, usize::MAX)?;
    writer.write(&sweep_sweeper::intel_batch(index))?;
    let written = writer.finish()?;
    if remote {
        let uploaded = sweep_load::lake::upload_table_files(local.path(), &written, sink.path());
        let _ = std::fs::remove_dir_all(local.path());
        uploaded?;
    }
    Ok(())
}

/// True when the intel table `sink` is a Parquet table that holds the rows of `version` and
/// nothing else: a batch run with the same feeds as the run before it would write the same
/// rows again (a million indicators cost a few tenths of a second), so it leaves the table
/// as it is. Delta tables are always written (their files are listed in the log, not named
/// by the version).
pub fn intel_table_holds_only(sink: &sweep_model::SinkSpec, version: &str) -> bool {
    if !matches!(sink, sweep_model::SinkSpec::Parquet(_)) {
        return false;
    }
    let prefix = format!("intel-{version}-");
    let Ok(entries) = std::fs::read_dir(sink.path()) else { return false };
    let mut files = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(['.', '_']) {
            continue;
        }
        if !(name.starts_with(&prefix) && name.ends_with(".parquet")) {
            return false;
        }
        files += 1;
    }
    files > 0
}

/// True when the intel table holds the rows of `version` (its file is named by it).
fn intel_version_written(sink: &sweep_model::SinkSpec, version: &str) -> Result<bool, RunError> {
    let prefix = format!("intel-{version}");
    if sweep_load::is_object_lake(sink.path()) {
        return Ok(sweep_load::lake::object_files_below(sink.path())?.iter().any(|f| f.path.starts_with(&prefix)));
    }
    Ok(std::fs::read_dir(sink.path()).is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&prefix))))
}

/// Where a batch run keeps fetched sources: `[intel] cache`, else `$SWEEP_CACHE/intel`,
/// else `~/.cache/sweep/intel`.
pub fn batch_cache_dir(pipeline_cache: Option<&Path>) -> PathBuf {
    if let Some(dir) = pipeline_cache {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("SWEEP_CACHE") {
        return PathBuf::from(dir).join("intel");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("sweep").join("intel")
}

/// Where a stream keeps fetched sources when `[intel] cache` does not say: its checkpoint
/// folder's `intel/`, or for a checkpoint on object storage a local folder named after its
/// URL (sources are fetched where the stream runs; a stream that moves to another host
/// fetches them again).
fn stream_cache_dir(checkpoint: &Path) -> PathBuf {
    let text = checkpoint.to_string_lossy();
    if !sweep_storage::is_object_url(&text) {
        return checkpoint.join("intel");
    }
    let name: String = text.trim_end_matches('/').chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    batch_cache_dir(None).join("streams").join(name)
}

/// Loads a sweeper's intel for a batch run or a retro-sweep: sources fetched or re-read are
/// pulled once into the cache (conditional requests), local files read as they are.
pub fn load_intel(spec: &SweeperSpec, cache: Option<&Path>) -> Result<LoadedIntel, RunError> {
    if !spec.intel.iter().any(|f| f.is_remote()) {
        let loaded = sweep_sweeper::load_intel(spec)?;
        tracing::info!(indicators = loaded.index.len(), feeds = loaded.feeds.len(), seconds = loaded.load_s, "intel loaded");
        return Ok(loaded);
    }
    let mut sources = IntelSources::open(spec, &batch_cache_dir(cache)).map_err(RunError::intel)?;
    for pulled in sources.pull(false).map_err(RunError::intel)? {
        if let Err(e) = pulled.refreshed {
            eprintln!("sweep: warning: {e} (using the copy fetched before)");
        }
    }
    let (loaded, _) = sources.build().map_err(RunError::intel)?;
    tracing::info!(indicators = loaded.index.len(), feeds = loaded.feeds.len(), seconds = loaded.load_s, "intel loaded");
    Ok(loaded)
}

/// The indicators a batch is swept with.
pub struct BatchIntel {
    pub intel: Arc<LoadedIntel>,
    /// Set on the first batch of a new version.
    pub retro: Option<RetroWork>,
}

/// The part of a new version's retro-sweep a batch does: stored events of the lookback,
/// before the offsets of the batch that took the version, swept with the indicators the
/// version added.
#[derive(Clone)]
pub struct RetroWork {
    pub added: Arc<IntelIndex>,
    /// The new version: retro hits carry it.
    pub intel_version: String,
    /// Events at or after this time (µs since the epoch).
    pub since_us: i64,
    /// Events of this stream at or after these offsets were swept live with the version.
    pub before: BTreeMap<String, i64>,
    /// The event files of this part (a file gone since the plan, say removed by retention,
    /// has no events left to sweep); `None` for a batch planned before retro-sweeps came in
    /// parts, which sweeps the whole events table.
    pub files: Option<Vec<PathBuf>>,
}

/// What a new batch is planned with.
pub struct IntelPlan {
    pub intel_version: String,
    /// Set on the first batch of a new version: the version it follows.
    pub retro_from_version: Option<String>,
    pub retro_part: Option<RetroPart>,
    pub retro_queue: Vec<u64>,
}

/// Events files of about this many bytes make one part of a retro-sweep (about a million
/// Squid events, a third of a second on 2 cores).
pub const DEFAULT_RETRO_PART_BYTES: u64 = 16 << 20;

/// A stream's intel: the version new batches are planned with, and the refresh thread.
pub struct StreamIntel {
    live: LiveIntel,
    store: Store,
    current: Arc<LoadedIntel>,
    /// The update taken for the next plan: (new version, version it follows, added).
    taken: Option<(String, String, Arc<IntelIndex>)>,
    /// An update received and not yet planned with.
    ready: Option<sweep_intel_sources::IntelUpdate>,
    /// How long the version in use took to build after its refresh (0 for the first).
    last_build_s: f64,
    lookback_us: i64,
    /// The events table, whose stored files a retro-sweep plan lists.
    events: Option<sweep_model::SinkSpec>,
    retro_part_bytes: u64,
    /// The retro-sweep parts owed, in the order batches do them.
    retro_pending: VecDeque<RetroPart>,
    /// The plan being worked through, and the indicators its version added.
    retro_in_progress: Option<(u64, Arc<RetroPlan>, Arc<IntelIndex>)>,
}

impl StreamIntel {
    /// Pulls the sources into the stream's cache and starts refreshing them. `last_used`
    /// is the version of the stream's last planned batch: batches go on with it until the
    /// first update, which is the version just pulled when it differs (so indicators added
    /// while the stream was down are retro-swept too). `retro_pending` are the retro-sweep
    /// parts still owed after that batch.
    pub fn open(
        pipeline: &Pipeline,
        checkpoint_dir: &Path,
        last_used: Option<&str>,
        retro_pending: Vec<RetroPart>,
    ) -> Result<Option<StreamIntel>, RunError> {
        let Some(spec) = pipeline.sweeper() else { return Ok(None) };
        let cache = pipeline.intel.cache.clone().unwrap_or_else(|| stream_cache_dir(checkpoint_dir));
        let mut sources = IntelSources::open_for_stream(spec, &cache).map_err(RunError::intel)?;
        for pulled in sources.pull(false).map_err(RunError::intel)? {
            if let Err(e) = pulled.refreshed {
                eprintln!("sweep: warning: {e} (using the copy fetched before)");
            }
        }
        let latest = Arc::new(sources.build().map_err(RunError::intel)?.0);
        let store = sources.store().clone();
        let in_use = match last_used {
            Some(v) if v != latest.index.version() => match load_version(&store, v) {
                Ok(old) => old,
                Err(e) => {
                    eprintln!(
                        "sweep: warning: {e}; going on with the version just pulled, without a retro-sweep for what changed meanwhile"
                    );
                    latest.clone()
                }
            },
            _ => latest.clone(),
        };
        // The intel table gets each version's rows on the refresh thread, so that the batch
        // that swaps to it does not write a million rows first (it checks, and writes them
        // only if that failed).
        let intel_table = pipeline.load.sink("intel");
        let prepare: sweep_intel_sources::PrepareVersion = Box::new(move |intel: &LoadedIntel| {
            if let Some(sink) = &intel_table
                && let Err(e) = write_intel_version(&intel.index, sink)
            {
                eprintln!("sweep: warning: {e} (the batch that swaps to this version writes it)");
            }
        });
        let live = LiveIntel::start(sources, in_use.clone(), latest, prepare);
        let lookback_us = pipeline.intel.retro_lookback().as_micros();
        Ok(Some(StreamIntel {
            live,
            store,
            current: in_use,
            taken: None,
            ready: None,
            last_build_s: 0.0,
            lookback_us,
            events: pipeline.load.sink("events"),
            retro_part_bytes: pipeline.intel.retro_part_bytes.unwrap_or(DEFAULT_RETRO_PART_BYTES).max(1),
            retro_pending: retro_pending.into(),
            retro_in_progress: None,
        }))
    }

    /// Before planning batch `batch` (starting at offsets `from`, planned at `planned_at_us`):
    /// takes the next version if one is ready and, when it added indicators, records the
    /// retro-sweep it owes in the checkpoint; then hands the batch the next part owed.
    pub fn plan_next(
        &mut self,
        checkpoint: &Checkpoint,
        batch: u64,
        from: &BTreeMap<String, i64>,
        planned_at_us: i64,
    ) -> Result<IntelPlan, RunError> {
        let mut retro_from_version = None;
        if let Some(update) = self.ready.take().or_else(|| self.live.try_next()) {
            let version = update.intel.index.version().to_string();
            tracing::info!(version = %version, indicators = update.intel.index.len(), batch, "intel version swapped in");
            self.live.set_in_use(&version);
            self.taken = Some((version.clone(), update.previous_version.clone(), update.added.clone()));
            self.last_build_s = update.build_s;
            self.current = update.intel;
            if self.lookback_us > 0 && update.added.len() > 0 {
                let since_us = planned_at_us.saturating_sub(self.lookback_us);
                let parts = self.stored_event_parts(since_us)?;
                if !parts.is_empty() {
                    let plan = RetroPlan {
                        version: version.clone(),
                        from_version: update.previous_version.clone(),
                        since_us,
                        before: from.clone(),
                        parts,
                    };
                    checkpoint.plan_retro(batch, &plan)?;
                    tracing::info!(version = %version, added = update.added.len(), parts = plan.parts.len(), batch, "retro-sweep planned");
                    self.retro_pending.extend((0..plan.parts.len() as u32).map(|part| RetroPart { plan: batch, part }));
                }
            }
            retro_from_version = Some(update.previous_version);
        }
        let retro_part = self.retro_pending.pop_front();
        let mut retro_queue: Vec<u64> = Vec::new();
        for part in &self.retro_pending {
            if Some(part.plan) != retro_part.map(|p| p.plan) && !retro_queue.contains(&part.plan) {
                retro_queue.push(part.plan);
            }
        }
        Ok(IntelPlan { intel_version: self.current.index.version().to_string(), retro_from_version, retro_part, retro_queue })
    }

    /// The events table's files within the lookback (by their `date=` partition; the exact
    /// time is checked per event), cut into parts of about `retro_part_bytes`.
    fn stored_event_parts(&self, since_us: i64) -> Result<Vec<Vec<PathBuf>>, RunError> {
        let Some(events) = &self.events else { return Ok(Vec::new()) };
        let dir = events.path();
        let mut files: Vec<(PathBuf, u64)> = match events {
            sweep_model::SinkSpec::Delta(_) if sweep_load::is_delta_table(dir)? == Some(true) => {
                sweep_load::delta::active_files_sized(dir)?
            }
            sweep_model::SinkSpec::Parquet(_) if dir.is_dir() || sweep_load::is_object_lake(dir) => {
                sweep_load::parquet_files_except_batch_sized(dir, None)?
            }
            _ => Vec::new(),
        };
        let since_day =
            format!("date={}", sweep_load::date_string(since_us.div_euclid(86_400_000_000).clamp(i32::MIN as i64, i32::MAX as i64) as i32));
        files.retain(|(f, _)| {
            let day = f.components().rev().find_map(|c| c.as_os_str().to_str().filter(|c| c.starts_with("date=")));
            day.is_none_or(|day| day >= since_day.as_str())
        });
        files.sort();
        let mut parts: Vec<Vec<PathBuf>> = Vec::new();
        let mut bytes = u64::MAX;
        for (file, size) in files {
            if bytes >= self.retro_part_bytes {
                parts.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            parts.last_mut().expect("a part was started").push(file);
        }
        Ok(parts)
    }

    /// What a planned batch is swept with: the version it was planned with (rebuilt from
    /// the cache for a batch re-run after a crash), and the retro-sweep part it does.
    pub fn for_batch(&mut self, checkpoint: &Checkpoint, planned: &PlannedBatch) -> Result<BatchIntel, RunError> {
        let intel = match &planned.intel_version {
            Some(v) if v != self.current.index.version() => load_version(&self.store, v).map_err(RunError::intel)?,
            _ => self.current.clone(),
        };
        let retro = match (&planned.retro_part, &planned.retro_from_version) {
            (Some(part), _) => {
                let (plan, added) = self.retro_plan(checkpoint, part.plan)?;
                let files = plan.parts.get(part.part as usize).cloned().ok_or_else(|| {
                    RunError::Checkpoint(format!(
                        "batch {} does part {} of retro-sweep plan {}, which has {} parts; the checkpoint folder is damaged: use a new one",
                        planned.batch,
                        part.part,
                        part.plan,
                        plan.parts.len()
                    ))
                })?;
                Some(RetroWork {
                    added,
                    intel_version: plan.version.clone(),
                    since_us: plan.since_us,
                    before: plan.before.clone(),
                    files: Some(files),
                })
            }
            // A first batch of a new version planned before retro-sweeps came in parts.
            (None, Some(previous)) if !planned.retro_in_parts && self.lookback_us > 0 => {
                let version = intel.index.version().to_string();
                let added = self.added_between(&version, previous)?;
                (added.len() > 0).then(|| RetroWork {
                    added,
                    intel_version: version,
                    since_us: planned.planned_at_us.saturating_sub(self.lookback_us),
                    before: planned.from.clone(),
                    files: None,
                })
            }
            _ => None,
        };
        Ok(BatchIntel { intel, retro })
    }

    /// The retro-sweep plan `id` and the indicators its version added.
    fn retro_plan(&mut self, checkpoint: &Checkpoint, id: u64) -> Result<(Arc<RetroPlan>, Arc<IntelIndex>), RunError> {
        if let Some((held, plan, added)) = &self.retro_in_progress
            && *held == id
        {
            return Ok((plan.clone(), added.clone()));
        }
        let plan = Arc::new(checkpoint.retro_plan(id)?);
        let added = self.added_between(&plan.version, &plan.from_version)?;
        self.retro_in_progress = Some((id, plan.clone(), added.clone()));
        Ok((plan, added))
    }

    /// The indicators `version` added to `previous` (kept from the swap, or rebuilt from
    /// the versions the cache holds).
    fn added_between(&self, version: &str, previous: &str) -> Result<Arc<IntelIndex>, RunError> {
        if let Some((v, p, added)) = &self.taken
            && v == version
            && p == previous
        {
            return Ok(added.clone());
        }
        let new = load_version(&self.store, version).map_err(RunError::intel)?;
        let old = load_version(&self.store, previous).map_err(RunError::intel)?;
        Ok(Arc::new(new.index.added_since(&old.index)))
    }

    /// Retro-sweep parts still owed: an idle stream plans empty batches to do them.
    pub fn retro_pending(&self) -> usize {
        self.retro_pending.len()
    }

    /// True when a new version is ready: an idle stream plans an empty batch for it, so
    /// that stored events get its retro hits without waiting for traffic.
    pub fn update_ready(&mut self) -> bool {
        if self.ready.is_none() {
            self.ready = self.live.try_next();
        }
        self.ready.is_some()
    }

    /// Seconds the version in use took to build beside the one before it.
    pub fn last_build_s(&self) -> f64 {
        self.last_build_s
    }

    /// The version new batches are planned with.
    pub fn current(&self) -> &Arc<LoadedIntel> {
        &self.current
    }

    pub fn source_stats(&self) -> Vec<SourceStats> {
        self.live.stats()
    }

    /// The sources' statistics as the refresh thread keeps them current.
    pub fn source_stats_handle(&self) -> Arc<std::sync::Mutex<Vec<SourceStats>>> {
        self.live.stats_handle()
    }
}

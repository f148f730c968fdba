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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sweep_intel::index::IntelIndex;
use sweep_intel_sources::{IntelSources, LiveIntel, SourceStats, Store, load_version};
use sweep_model::{Pipeline, SweeperSpec};
use sweep_sweeper::LoadedIntel;

use crate::RunError;
use crate::checkpoint::PlannedBatch;

/// Writes the indicators of `index` to the intel table `sink` as one file named by the
/// version (`intel-<version>...`), unless the table holds that version already: how a
/// stream's intel table keeps every version a batch was swept with, so that any hit can be
/// explained later.
pub fn write_intel_version(index: &IntelIndex, sink: &sweep_model::SinkSpec) -> Result<(), RunError> {
    if intel_version_written(sink, index.version()) {
        return Ok(());
    }
    write_intel_files(index, sink)
}

/// Writes the indicators of `index` to the intel table `sink`, in a file named by the version.
pub fn write_intel_files(index: &IntelIndex, sink: &sweep_model::SinkSpec) -> Result<(), RunError> {
    let name = format!("intel-{}", index.version());
    let mut writer = sweep_load::TableWriter::new("intel", sink, sweep_sweeper::intel_schema(), false, name, usize::MAX)?;
    writer.write(&sweep_sweeper::intel_batch(index))?;
    writer.finish()?;
    Ok(())
}

/// True when the intel table holds the rows of `version` (its file is named by it).
fn intel_version_written(sink: &sweep_model::SinkSpec, version: &str) -> bool {
    let prefix = format!("intel-{version}");
    std::fs::read_dir(sink.path()).is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&prefix)))
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

/// Loads a sweeper's intel for a batch run or a retro-sweep: sources fetched or re-read are
/// pulled once into the cache (conditional requests), local files read as they are.
pub fn load_intel(spec: &SweeperSpec, cache: Option<&Path>) -> Result<LoadedIntel, RunError> {
    if !spec.intel.iter().any(|f| f.is_remote()) {
        return Ok(sweep_sweeper::load_intel(spec)?);
    }
    let mut sources = IntelSources::open(spec, &batch_cache_dir(cache)).map_err(RunError::intel)?;
    for pulled in sources.pull(false).map_err(RunError::intel)? {
        if let Err(e) = pulled.refreshed {
            eprintln!("sweep: warning: {e} (using the copy fetched before)");
        }
    }
    let (loaded, _) = sources.build().map_err(RunError::intel)?;
    Ok(loaded)
}

/// The indicators a batch is swept with.
pub struct BatchIntel {
    pub intel: Arc<LoadedIntel>,
    /// Set on the first batch of a new version.
    pub retro: Option<RetroWork>,
}

/// The retro-sweep a new version asks of its first batch: the stored events of the
/// lookback, before this batch's offsets, swept with the indicators the version added.
#[derive(Clone)]
pub struct RetroWork {
    pub added: Arc<IntelIndex>,
    /// The new version: retro hits carry it.
    pub intel_version: String,
    /// Events at or after this time (µs since the epoch).
    pub since_us: i64,
    /// Events of this stream at or after these offsets are this batch's or later ones.
    pub before: std::collections::BTreeMap<String, i64>,
}

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
}

impl StreamIntel {
    /// Pulls the sources into the stream's cache and starts refreshing them. `last_used`
    /// is the version of the stream's last planned batch: batches go on with it until the
    /// first update, which is the version just pulled when it differs (so indicators added
    /// while the stream was down are retro-swept too).
    pub fn open(pipeline: &Pipeline, checkpoint_dir: &Path, last_used: Option<&str>) -> Result<Option<StreamIntel>, RunError> {
        let Some(spec) = pipeline.sweeper() else { return Ok(None) };
        let cache = pipeline.intel.cache.clone().unwrap_or_else(|| checkpoint_dir.join("intel"));
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
        Ok(Some(StreamIntel { live, store, current: in_use, taken: None, ready: None, last_build_s: 0.0, lookback_us }))
    }

    /// Before planning a batch: takes the next version if one is ready. Returns the
    /// version the batch is planned with and, for the first batch of a new version, the
    /// version it follows.
    pub fn plan_next(&mut self) -> (String, Option<String>) {
        if let Some(update) = self.ready.take().or_else(|| self.live.try_next()) {
            let version = update.intel.index.version().to_string();
            self.live.set_in_use(&version);
            self.taken = Some((version, update.previous_version.clone(), update.added.clone()));
            let previous = update.previous_version;
            self.last_build_s = update.build_s;
            self.current = update.intel;
            return (self.current.index.version().to_string(), Some(previous));
        }
        (self.current.index.version().to_string(), None)
    }

    /// What a planned batch is swept with: the version it was planned with (rebuilt from
    /// the cache for a batch re-run after a crash), and its retro-sweep if it has one.
    pub fn for_batch(&mut self, planned: &PlannedBatch) -> Result<BatchIntel, RunError> {
        let intel = match &planned.intel_version {
            Some(v) if v != self.current.index.version() => load_version(&self.store, v).map_err(RunError::intel)?,
            _ => self.current.clone(),
        };
        let retro = match &planned.retro_from_version {
            Some(previous) if self.lookback_us > 0 => {
                let version = intel.index.version().to_string();
                let added = match &self.taken {
                    Some((v, p, added)) if *v == version && p == previous => added.clone(),
                    _ => {
                        let old = load_version(&self.store, previous).map_err(RunError::intel)?;
                        Arc::new(intel.index.added_since(&old.index))
                    }
                };
                (added.len() > 0).then(|| RetroWork {
                    added,
                    intel_version: version,
                    since_us: planned.planned_at_us.saturating_sub(self.lookback_us),
                    before: planned.from.clone(),
                })
            }
            _ => None,
        };
        Ok(BatchIntel { intel, retro })
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

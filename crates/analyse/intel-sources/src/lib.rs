//! Intel sources that change while a run goes on (docs/intel-sources.md).
//!
//! A sweeper's feeds may be local files (read once, or re-read when they change), HTTP(S)
//! downloads (with conditional requests) or TAXII 2.1 collections. Every content a source
//! had is kept as an immutable snapshot in a cache folder, and every index built from them
//! is an intel version with a manifest of its snapshots ([`store`]), so that any version can
//! be built again: a stream re-running a batch after a crash uses the version the batch was
//! planned with.
//!
//! - [`IntelSources`]: the sources of one sweeper; [`IntelSources::pull`] reads each once
//!   (batch runs, `sweep intel pull`), [`IntelSources::build`] makes the version.
//! - [`LiveIntel`]: a thread that refreshes the sources on their intervals and builds each new
//!   version beside the one in use, with the indicators it adds ([`IntelUpdate`]); a stream
//!   takes the next update between two batches.
//!
//! A refresh that fails (network, HTTP status, a download no reader accepts) keeps the
//! source's previous content and is counted; it never empties the index.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sweep_intel::index::IntelIndex;
use sweep_model::SweeperSpec;
use sweep_sweeper::{LoadedIntel, load_feeds, load_feeds_with};

pub mod http;
pub mod source;
pub mod store;
pub mod taxii;

pub use source::{Refreshed, Source, SourceStats};
pub use store::{Store, VersionManifest};

/// What can go wrong with a source; every message names the source and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("intel source {url}: {message}")]
    Http { url: String, message: String },
    #[error("TAXII collection {url}: {message}")]
    Taxii { url: String, message: String },
    #[error("intel source {source_name}: {message}")]
    Unreadable { source_name: String, message: String },
    #[error("intel cache {path:?}: {message}")]
    Cache { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
    #[error(
        "intel source {source_name} has never been fetched and cannot be now ({message}); run `sweep intel pull` where the source is reachable"
    )]
    NeverFetched { source_name: String, message: String },
    #[error("intel version {0} is not in the cache (its manifest was removed); start from a new checkpoint folder")]
    UnknownVersion(String),
    #[error(transparent)]
    Build(#[from] sweep_sweeper::SweeperError),
}

/// Microseconds since the epoch, now.
pub fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// How many built versions the cache keeps besides the ones in use.
const KEEP_VERSIONS: usize = 4;

/// The sources of one sweeper, with their cache.
pub struct IntelSources {
    sources: Vec<Source>,
    allow: Vec<PathBuf>,
    store: Store,
    client: http::HttpClient,
    /// When each source with a refresh interval is next due.
    due: Vec<Option<Instant>>,
}

/// One source's outcome of a [`IntelSources::pull`].
#[derive(Debug, Clone)]
pub struct Pulled {
    pub name: String,
    pub refreshed: Result<Refreshed, String>,
}

impl IntelSources {
    /// The sweeper's sources, with what `cache` remembers of them.
    pub fn open(spec: &SweeperSpec, cache: &Path) -> Result<IntelSources, SourceError> {
        let store = Store::open(cache)?;
        let sources = spec.intel.iter().enumerate().map(|(i, f)| Source::open(f, i, &store)).collect::<Result<Vec<_>, _>>()?;
        let client = http::HttpClient::new(http::Policy::default())?;
        let due = sources.iter().map(|_| None).collect();
        Ok(IntelSources { sources, allow: spec.allow.clone(), store, client, due })
    }

    /// The sources of a stream: every source is kept in the cache, local files included,
    /// so that each version the stream plans a batch with can be built again.
    pub fn open_for_stream(spec: &SweeperSpec, cache: &Path) -> Result<IntelSources, SourceError> {
        let mut sources = IntelSources::open(spec, cache)?;
        for s in &mut sources.sources {
            s.keep_copies = true;
        }
        Ok(sources)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// True when some source is read again on an interval.
    pub fn refreshes(&self) -> bool {
        self.sources.iter().any(|s| s.refresh_every().is_some())
    }

    /// Reads every fetched or re-read source once (`offline`: from the cache only). A source
    /// that fails keeps its cached content; one with no content at all is an error.
    pub fn pull(&mut self, offline: bool) -> Result<Vec<Pulled>, SourceError> {
        let mut report = Vec::new();
        for (i, source) in self.sources.iter_mut().enumerate() {
            if !source.is_cached() {
                continue;
            }
            let refreshed = if offline && source.spec.is_remote() {
                Ok(Refreshed::Unchanged)
            } else {
                source.refresh(&self.client, &self.store).map_err(|e| e.to_string())
            };
            if source.feed_spec().is_none() {
                let message = match &refreshed {
                    Err(e) => e.clone(),
                    Ok(_) => "offline, and the cache holds no copy".into(),
                };
                return Err(SourceError::NeverFetched { source_name: source.name.clone(), message });
            }
            self.due[i] = source.refresh_every().map(|every| Instant::now() + every);
            report.push(Pulled { name: source.name.clone(), refreshed });
        }
        Ok(report)
    }

    /// Builds the index from every source's content in use, and records the version's
    /// manifest in the cache.
    pub fn build(&mut self) -> Result<(LoadedIntel, VersionManifest), SourceError> {
        let feeds: Vec<_> = self
            .sources
            .iter()
            .map(|s| s.feed_spec().ok_or_else(|| SourceError::NeverFetched { source_name: s.name.clone(), message: "not pulled".into() }))
            .collect::<Result<_, _>>()?;
        // A source a refresh just read (to check it) is not read again.
        let preloaded = self.sources.iter_mut().map(Source::take_parsed).collect();
        let loaded = load_feeds_with(&feeds, preloaded, &self.allow)?;
        let manifest =
            VersionManifest { intel_version: loaded.index.version().to_string(), feeds, allow: self.allow.clone(), built_at_us: now_us() };
        if self.sources.iter().any(Source::is_cached) {
            self.store.save_version(&manifest)?;
        }
        Ok((loaded, manifest))
    }

    /// Refreshes the sources that are due; true when one changed.
    pub fn refresh_due(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for (i, source) in self.sources.iter_mut().enumerate() {
            let (Some(due), Some(every)) = (self.due[i], source.refresh_every()) else { continue };
            if due > now {
                continue;
            }
            match source.refresh(&self.client, &self.store) {
                Ok(Refreshed::Changed) => changed = true,
                Ok(Refreshed::Unchanged) => {}
                Err(e) => eprintln!("sweep: warning: {e} (the previous indicators of this source stay in use)"),
            }
            self.due[i] = Some(Instant::now() + every);
        }
        changed
    }

    /// When the next source is due, if any refreshes.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.iter().flatten().min().copied()
    }

    pub fn stats(&self) -> Vec<SourceStats> {
        self.sources.iter().map(Source::stats).collect()
    }

    fn current_snapshots(&self) -> Vec<PathBuf> {
        self.sources.iter().filter_map(|s| s.state.snapshot.clone()).collect()
    }
}

/// Builds a version again from its manifest.
pub fn load_version(store: &Store, intel_version: &str) -> Result<Arc<LoadedIntel>, SourceError> {
    let manifest = store.version(intel_version)?.ok_or_else(|| SourceError::UnknownVersion(intel_version.to_string()))?;
    let loaded = load_feeds(&manifest.feeds, &manifest.allow)?;
    if loaded.index.version() != intel_version {
        return Err(SourceError::Cache {
            path: store.root().join("versions").join(format!("{intel_version}.json")),
            message: format!("rebuilds as version {} (a snapshot was changed by hand?)", loaded.index.version()),
        });
    }
    Ok(Arc::new(loaded))
}

/// A new intel version for a stream, built beside the one in use.
pub struct IntelUpdate {
    pub intel: Arc<LoadedIntel>,
    /// Seconds from the refresh that found the change to the update being ready: reading
    /// the sources, building the index and the set of added indicators.
    pub build_s: f64,
    /// The version it follows, and the indicators it adds to it (with its allowlist), for
    /// the retro-sweep of stored events.
    pub previous_version: String,
    pub added: Arc<IntelIndex>,
}

/// What the refresh thread does with each new version before offering it to the stream.
pub type PrepareVersion = Box<dyn Fn(&LoadedIntel) + Send>;

/// The refresh thread of a stream's intel sources.
pub struct LiveIntel {
    updates: Receiver<IntelUpdate>,
    stats: Arc<Mutex<Vec<SourceStats>>>,
    /// The version the stream last planned a batch with: never pruned from the cache.
    in_use: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    store: Store,
    built: Arc<std::sync::atomic::AtomicU64>,
}

impl LiveIntel {
    /// Starts refreshing `sources`. `in_use` is the version the stream sweeps with now (the
    /// version of its last committed batch, or of its first pull); `latest` the version just
    /// built from the sources, sent first when it differs. `prepare` runs on the refresh
    /// thread for every new version before the stream is offered it: work a swap would
    /// otherwise do between two batches (such as writing the version's indicators out).
    pub fn start(sources: IntelSources, in_use: Arc<LoadedIntel>, latest: Arc<LoadedIntel>, prepare: PrepareVersion) -> LiveIntel {
        let (tx, updates) = sync_channel(2);
        let stats = Arc::new(Mutex::new(sources.stats()));
        let in_use_version = Arc::new(Mutex::new(in_use.index.version().to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let store = sources.store.clone();
        let built = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let thread = {
            let (stats, in_use_version, stop, built) = (stats.clone(), in_use_version.clone(), stop.clone(), built.clone());
            std::thread::Builder::new()
                .name("sweep-intel".into())
                .spawn(move || refresh_loop(sources, in_use, latest, tx, stats, in_use_version, stop, built, prepare))
                .expect("spawning the intel refresh thread")
        };
        LiveIntel { updates, stats, in_use: in_use_version, stop, thread: Some(thread), store, built }
    }

    /// The next version, if one is ready (never blocks).
    pub fn try_next(&self) -> Option<IntelUpdate> {
        self.updates.try_recv().ok()
    }

    /// Records the version batches are now planned with (kept in the cache).
    pub fn set_in_use(&self, version: &str) {
        *self.in_use.lock().unwrap_or_else(|e| e.into_inner()) = version.to_string();
    }

    pub fn stats(&self) -> Vec<SourceStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The statistics as the refresh thread keeps them current.
    pub fn stats_handle(&self) -> Arc<Mutex<Vec<SourceStats>>> {
        self.stats.clone()
    }

    /// New versions built by the refresh thread so far.
    pub fn versions_built(&self) -> u64 {
        self.built.load(Ordering::Relaxed)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Drop for LiveIntel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn refresh_loop(
    mut sources: IntelSources,
    mut previous: Arc<LoadedIntel>,
    latest: Arc<LoadedIntel>,
    tx: SyncSender<IntelUpdate>,
    stats: Arc<Mutex<Vec<SourceStats>>>,
    in_use: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    built: Arc<std::sync::atomic::AtomicU64>,
    prepare: PrepareVersion,
) {
    let mut pending = Some((latest, Instant::now()));
    loop {
        if let Some((next, started)) = pending.take() {
            if next.index.version() != previous.index.version() {
                prepare(&next);
                let added = Arc::new(next.index.added_since(&previous.index));
                let update = IntelUpdate {
                    added,
                    previous_version: previous.index.version().to_string(),
                    intel: next.clone(),
                    build_s: started.elapsed().as_secs_f64(),
                };
                // Waits while the stream has not taken the earlier updates (it takes one per
                // batch), checking for the end of the run.
                let mut update = Some(update);
                while let Some(u) = update.take() {
                    match tx.try_send(u) {
                        Ok(()) => {}
                        Err(TrySendError::Full(u)) => {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                            update = Some(u);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                previous = next;
                built.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Sleeps until the next source is due, in short steps so that a stop is seen.
        let due = sources.next_due();
        while due.is_some_and(|d| Instant::now() < d) || due.is_none() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let refresh_started = Instant::now();
        let changed = sources.refresh_due(refresh_started);
        *stats.lock().unwrap_or_else(|e| e.into_inner()) = sources.stats();
        if !changed {
            continue;
        }
        match sources.build() {
            Ok((intel, _manifest)) => {
                let intel = Arc::new(intel);
                let keep = in_use.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Err(e) = sources.store.prune(KEEP_VERSIONS, &[keep.as_str(), previous.index.version()], &sources.current_snapshots())
                {
                    eprintln!("sweep: warning: {e}");
                }
                pending = Some((intel, refresh_started));
            }
            Err(e) => eprintln!("sweep: warning: a new intel version could not be built ({e}); the current one stays in use"),
        }
    }
}

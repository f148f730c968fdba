//! One configured intel source and its refresh: fetch (or re-read), check that it still
//! parses, and keep the content as an immutable snapshot in the cache.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sweep_intel::feeds::{FeedFormat, FeedLoad, FeedSpec, load_all};

use crate::http::{Fetched, HttpClient, Validators};
use crate::store::{Store, content_hash, io, read_json, write_json};
use crate::taxii::{self, TaxiiState};
use crate::{SourceError, now_us};

/// What a source keeps between runs (`state.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceState {
    #[serde(default)]
    pub validators: Validators,
    /// The snapshot the source's indicators are read from now.
    #[serde(default)]
    pub snapshot: Option<PathBuf>,
    #[serde(default)]
    pub content_hash: Option<String>,
    /// A local source: what its files looked like when last read (names, sizes, times).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// A MISP feed: each event's timestamp in the manifest of the snapshot.
    #[serde(default)]
    pub misp_events: BTreeMap<String, String>,
    /// The snapshot is a folder read as one (a local folder, a MISP feed), not one file.
    #[serde(default)]
    pub is_dir: bool,
    #[serde(default)]
    pub last_success_us: Option<i64>,
    #[serde(default)]
    pub last_attempt_us: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub refreshes: u64,
    #[serde(default)]
    pub failures: u64,
    #[serde(default)]
    pub indicators: u64,
}

/// One source as a report shows it (`sweep intel stats`, `/metrics`, summaries). Never
/// carries a header value or credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStats {
    pub name: String,
    pub location: String,
    /// The refresh interval, as configured (`5m`); empty for a source read once.
    pub refresh: String,
    pub last_success_us: Option<i64>,
    pub last_attempt_us: Option<i64>,
    pub last_error: Option<String>,
    /// Refreshes that found the source changed, and refreshes that failed (the previous
    /// content was kept).
    pub refreshes: u64,
    pub failures: u64,
    pub indicators: u64,
    /// The hash of the content in use.
    pub content: Option<String>,
}

/// A configured source with its cache.
pub struct Source {
    pub spec: FeedSpec,
    pub name: String,
    key: String,
    pub state: SourceState,
    /// A TAXII source's copy of the collection.
    taxii: Option<TaxiiState>,
    /// Kept in the cache even when local and read once (a stream's sources).
    pub keep_copies: bool,
    /// The feed as the last refresh's check read it, with the spec it read.
    parsed: Option<(FeedSpec, Vec<FeedLoad>)>,
}

/// What one refresh found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    Unchanged,
    Changed,
}

impl Source {
    /// The source as configured, with what the cache remembers of it.
    pub fn open(spec: &FeedSpec, index: usize, store: &Store) -> Result<Source, SourceError> {
        let location = spec.location();
        let name = spec.name.clone().unwrap_or_else(|| default_name(spec));
        let key = format!("{}-{}", sanitize(&name), &content_hash(&[location.as_bytes(), &index.to_le_bytes()])[..12]);
        let dir = store.source_dir(&key);
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let state_path = dir.join("state.json");
        let mut state: SourceState = if state_path.exists() { read_json(&state_path)? } else { SourceState::default() };
        // A snapshot deleted by hand is fetched again.
        if state.snapshot.as_ref().is_some_and(|s| !s.exists()) {
            state = SourceState { refreshes: state.refreshes, failures: state.failures, ..SourceState::default() };
        }
        let taxii = match &spec.taxii {
            Some(_) => {
                let path = dir.join("taxii.json");
                Some(if path.exists() && state.snapshot.is_some() { read_json(&path)? } else { TaxiiState::default() })
            }
            None => None,
        };
        Ok(Source { spec: spec.clone(), name, key, state, taxii, keep_copies: false, parsed: None })
    }

    /// True when the source is read more than once (remote, or local with `refresh`).
    pub fn is_cached(&self) -> bool {
        self.keep_copies || self.spec.is_remote() || self.spec.refresh.is_some()
    }

    pub fn refresh_every(&self) -> Option<Duration> {
        self.spec.refresh.map(|s| Duration::from_secs(s.as_secs().max(1)))
    }

    /// The feed as the readers read it: the snapshot in use, named as configured.
    pub fn feed_spec(&self) -> Option<FeedSpec> {
        if !self.is_cached() {
            return Some(self.spec.clone());
        }
        let snapshot = self.state.snapshot.clone()?;
        let path = if self.state.is_dir {
            snapshot
        } else {
            fs::read_dir(&snapshot).ok()?.flatten().map(|e| e.path()).find(|p| p.is_file()).unwrap_or(snapshot)
        };
        let mut spec = FeedSpec { path, url: None, taxii: None, refresh: None, headers: BTreeMap::new(), ..self.spec.clone() };
        // The feed keeps the name it has when read where it is: a local file's snapshot
        // has the file's name, a folder's is named by its hash, so it is named here.
        if self.spec.is_remote() || self.state.is_dir {
            spec.name = Some(self.name.clone());
        }
        if self.spec.taxii.is_some() {
            spec.kind = Some(FeedFormat::Stix);
        }
        Some(spec)
    }

    pub fn stats(&self) -> SourceStats {
        SourceStats {
            name: self.name.clone(),
            location: self.spec.location(),
            refresh: self.spec.refresh.map(|r| r.to_string()).unwrap_or_default(),
            last_success_us: self.state.last_success_us,
            last_attempt_us: self.state.last_attempt_us,
            last_error: self.state.last_error.clone(),
            refreshes: self.state.refreshes,
            failures: self.state.failures,
            indicators: self.state.indicators,
            content: self.state.content_hash.clone(),
        }
    }

    /// Fetches (or re-reads) the source. On success the new content is the snapshot in use;
    /// on failure the previous one stays, and the failure is counted and remembered.
    pub fn refresh(&mut self, client: &HttpClient, store: &Store) -> Result<Refreshed, SourceError> {
        if !self.is_cached() {
            return Ok(Refreshed::Unchanged);
        }
        self.state.last_attempt_us = Some(now_us());
        let result = self.fetch(client, store);
        match &result {
            Ok(refreshed) => {
                self.state.last_success_us = Some(now_us());
                self.state.last_error = None;
                if *refreshed == Refreshed::Changed {
                    self.state.refreshes += 1;
                }
            }
            Err(e) => {
                self.state.failures += 1;
                self.state.last_error = Some(e.to_string());
            }
        }
        self.save(store)?;
        result
    }

    fn fetch(&mut self, client: &HttpClient, store: &Store) -> Result<Refreshed, SourceError> {
        let files: Vec<(String, Vec<u8>)> = if let Some(collection) = self.spec.taxii.clone() {
            let mut state = self.taxii.take().unwrap_or_default();
            let polled = taxii::poll(client, &collection, &mut state);
            let bundle = taxii::bundle(&state, now_us());
            self.taxii = Some(state);
            polled?;
            vec![("collection.json".to_string(), bundle)]
        } else if let Some(url) = self.spec.url.clone() {
            let headers: Vec<(String, String)> = self.spec.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            if crate::http::is_object_store_url(&url) && url.ends_with('/') {
                self.state.is_dir = true;
                match self.fetch_object_prefix(&url)? {
                    Some(files) => files,
                    None => return Ok(Refreshed::Unchanged),
                }
            } else if self.spec.kind == Some(FeedFormat::MispFeed) {
                self.state.is_dir = true;
                match self.fetch_misp_feed(client, &url, &headers)? {
                    Some(files) => files,
                    None => return Ok(Refreshed::Unchanged),
                }
            } else {
                let validators = if self.state.snapshot.is_some() { self.state.validators.clone() } else { Validators::default() };
                match client.get(&url, &headers, &validators)? {
                    Fetched::NotModified => return Ok(Refreshed::Unchanged),
                    Fetched::Body { bytes, validators, .. } => {
                        self.state.validators = validators;
                        vec![(file_name_of(&url), bytes)]
                    }
                }
            }
        } else {
            match self.read_local()? {
                Some(files) => files,
                None => return Ok(Refreshed::Unchanged),
            }
        };
        let parts: Vec<&[u8]> = files.iter().flat_map(|(n, b)| [n.as_bytes(), b.as_slice()]).collect();
        let hash = content_hash(&parts);
        if self.state.content_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Refreshed::Unchanged);
        }
        let borrowed: Vec<(String, &[u8])> = files.iter().map(|(n, b)| (n.clone(), b.as_slice())).collect();
        let snapshot = store.write_snapshot(&self.key, &hash, &borrowed)?;
        let previous = (self.state.snapshot.replace(snapshot), self.state.content_hash.replace(hash));
        // A download that no reader accepts, or that gives no indicator where the source had
        // some, is a failed refresh: the previous content stays in use.
        match self.check_parses() {
            Ok(n) => {
                self.state.indicators = n;
                Ok(Refreshed::Changed)
            }
            Err(e) => {
                (self.state.snapshot, self.state.content_hash) = previous;
                Err(e)
            }
        }
    }

    /// Reads the feed from the new snapshot; returns its indicator count. What it read is
    /// kept for the next build ([`Source::take_parsed`]), which then does not read it again.
    fn check_parses(&mut self) -> Result<u64, SourceError> {
        self.parsed = None;
        let spec = self.feed_spec().expect("a snapshot was just written");
        let loads = load_all(std::slice::from_ref(&spec))
            .map_err(|e| SourceError::Unreadable { source_name: self.name.clone(), message: e.to_string() })?;
        let indicators: u64 = loads.iter().map(|l| l.indicators.len() as u64).sum();
        let refused: u64 = loads.iter().map(|l| l.refused.len() as u64).sum();
        if indicators == 0 && refused > 0 {
            return Err(SourceError::Unreadable {
                source_name: self.name.clone(),
                message: format!("no value of the download is an indicator ({refused} refused); is it the right URL and format?"),
            });
        }
        self.parsed = Some((spec, loads));
        Ok(indicators)
    }

    /// What the last successful refresh read from this source's content, if the content in
    /// use is still that one (taken: a second build reads the snapshot again).
    pub(crate) fn take_parsed(&mut self) -> Option<Vec<FeedLoad>> {
        let (spec, loads) = self.parsed.take()?;
        (Some(&spec) == self.feed_spec().as_ref()).then_some(loads)
    }

    /// A local file or folder: its files when they changed since the last read.
    /// A local file or folder: its files when they changed since the last read. A folder's
    /// files are taken with their paths below it (the readers decide which to read).
    fn read_local(&mut self) -> Result<Option<Vec<(String, Vec<u8>)>>, SourceError> {
        let path = self.spec.path.clone();
        let meta = fs::metadata(&path).map_err(|e| io(&path, e))?;
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        if meta.is_dir() {
            collect_files(&path, "", 0, &mut entries)?;
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "feed".into());
            entries.push((name, path.clone()));
        }
        entries.sort();
        let mut fingerprint = String::new();
        for (_, p) in &entries {
            let m = fs::metadata(p).map_err(|e| io(p, e))?;
            let modified = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
            fingerprint.push_str(&format!("{}:{}:{};", p.display(), m.len(), modified.as_nanos()));
        }
        if self.state.fingerprint.as_deref() == Some(fingerprint.as_str()) && self.state.snapshot.is_some() {
            return Ok(None);
        }
        let mut files = Vec::with_capacity(entries.len());
        for (name, p) in entries {
            let bytes = fs::read(&p).map_err(|e| io(&p, e))?;
            files.push((name, bytes));
        }
        self.state.fingerprint = Some(fingerprint);
        self.state.is_dir = meta.is_dir();
        Ok(Some(files))
    }

    /// A prefix of object storage read as a feed folder (`s3://bucket/intel/`): its objects
    /// (hidden names left out, as in a local folder) when one of them is new, gone or has a
    /// new ETag since the last fetch, with their keys below the prefix as names.
    fn fetch_object_prefix(&mut self, url: &str) -> Result<Option<Vec<(String, Vec<u8>)>>, SourceError> {
        let failed = |e: sweep_extract::ExtractError| SourceError::Http { url: url.to_string(), message: e.to_string() };
        let objects = sweep_extract::remote::resolve(url).map_err(failed)?;
        let fingerprint: String =
            objects.iter().map(|o| format!("{}:{}:{};", o.url, o.size, o.etag.as_deref().unwrap_or_default())).collect();
        if self.state.fingerprint.as_deref() == Some(fingerprint.as_str()) && self.state.snapshot.is_some() {
            return Ok(None);
        }
        let mut files = Vec::with_capacity(objects.len());
        for object in &objects {
            let name = object.url.strip_prefix(url).unwrap_or(&object.url).to_string();
            // Asked without a validator, the store always sends the body.
            let (bytes, _) = sweep_extract::remote::fetch(&object.url, None).map_err(failed)?.unwrap_or_default();
            files.push((name, bytes));
        }
        self.state.fingerprint = Some(fingerprint);
        Ok(Some(files))
    }

    /// A MISP feed folder over HTTP: `manifest.json`, then each event that is new or changed
    /// (by its manifest timestamp); unchanged events are taken from the previous snapshot.
    fn fetch_misp_feed(
        &mut self,
        client: &HttpClient,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<Option<Vec<(String, Vec<u8>)>>, SourceError> {
        let base = if url.ends_with("manifest.json") {
            url.trim_end_matches("manifest.json").to_string()
        } else if url.ends_with('/') {
            url.to_string()
        } else {
            format!("{url}/")
        };
        let validators = if self.state.snapshot.is_some() { self.state.validators.clone() } else { Validators::default() };
        let (manifest_bytes, new_validators) = match client.get(&format!("{base}manifest.json"), headers, &validators)? {
            Fetched::NotModified => return Ok(None),
            Fetched::Body { bytes, validators, .. } => (bytes, validators),
        };
        let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).map_err(|e| SourceError::Unreadable {
            source_name: self.name.clone(),
            message: format!("{base}manifest.json is not JSON: {e}"),
        })?;
        let events = manifest.as_object().ok_or_else(|| SourceError::Unreadable {
            source_name: self.name.clone(),
            message: format!("{base}manifest.json is not an object of event uuids"),
        })?;
        let mut files = vec![("manifest.json".to_string(), manifest_bytes.clone())];
        let mut stamps = BTreeMap::new();
        for (uuid, event) in events {
            if !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                return Err(SourceError::Unreadable {
                    source_name: self.name.clone(),
                    message: format!("{uuid:?} in the manifest is not an event uuid"),
                });
            }
            let stamp = event.get("timestamp").map(|t| t.to_string()).unwrap_or_default();
            let name = format!("{uuid}.json");
            let cached = self
                .state
                .snapshot
                .as_ref()
                .map(|s| s.join(&name))
                .filter(|p| self.state.misp_events.get(uuid) == Some(&stamp) && p.exists());
            let bytes = match cached {
                Some(p) => fs::read(&p).map_err(|e| io(&p, e))?,
                None => match client.get(&format!("{base}{name}"), headers, &Validators::default())? {
                    Fetched::Body { bytes, .. } => bytes,
                    Fetched::NotModified => unreachable!("an unconditional request"),
                },
            };
            stamps.insert(uuid.clone(), stamp);
            files.push((name, bytes));
        }
        self.state.validators = new_validators;
        self.state.misp_events = stamps;
        Ok(Some(files))
    }

    fn save(&self, store: &Store) -> Result<(), SourceError> {
        let dir = store.source_dir(&self.key);
        if let Some(t) = &self.taxii {
            write_json(&dir.join("taxii.json"), t)?;
        }
        write_json(&dir.join("state.json"), &self.state)
    }
}

/// The regular files below `dir` (symbolic links followed, at most 32 folders deep), as
/// (path relative to the top folder, path).
fn collect_files(dir: &std::path::Path, prefix: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) -> Result<(), SourceError> {
    if depth > 32 {
        return Err(SourceError::Cache {
            path: dir.to_path_buf(),
            message: "folders nested more than 32 deep (a symbolic link loop?)".into(),
        });
    }
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))?.flatten() {
        let p = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        match fs::metadata(&p) {
            Ok(m) if m.is_dir() => collect_files(&p, &format!("{name}/"), depth + 1, out)?,
            Ok(m) if m.is_file() => out.push((name, p)),
            _ => {}
        }
    }
    Ok(())
}

/// The feed name of a source without `name`: the file name of its path or URL, or the
/// TAXII collection.
fn default_name(spec: &FeedSpec) -> String {
    if let Some(t) = &spec.taxii {
        return t.collection.clone().unwrap_or_else(|| file_name_of(t.url.trim_end_matches("/objects/").trim_end_matches('/')));
    }
    if let Some(url) = &spec.url {
        return file_name_of(url.trim_end_matches("manifest.json"));
    }
    spec.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| spec.path.display().to_string())
}

/// The last path segment of a URL (`csv_recent` of `https://h/downloads/csv_recent/`), or its
/// host.
fn file_name_of(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let trimmed = no_query.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, r)| r);
    after_scheme.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("feed").to_string()
}

fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).take(48).collect();
    if s.is_empty() { "source".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_url_or_path() {
        assert_eq!(file_name_of("https://urlhaus.abuse.ch/downloads/csv_recent/"), "csv_recent");
        assert_eq!(file_name_of("https://h/feeds/ipsum.txt?x=1"), "ipsum.txt");
        assert_eq!(file_name_of("https://h/"), "h");
        assert_eq!(sanitize("a b/c"), "a_b_c");
    }

    #[test]
    fn a_kept_copy_of_a_folder_gives_the_feed_names_of_the_folder_itself() {
        let dir = tempfile::tempdir().unwrap();
        let feeds = dir.path().join("feeds");
        fs::create_dir_all(feeds.join("sub")).unwrap();
        fs::write(feeds.join("a.txt"), "1.2.3.4\n").unwrap();
        fs::write(feeds.join("sub/b.txt"), "evil-sweep-test.com\n").unwrap();
        let store = Store::open(&dir.path().join("cache")).unwrap();
        let client = HttpClient::new(Default::default()).unwrap();
        let names = |spec: &FeedSpec| {
            let mut n: Vec<String> = load_all(std::slice::from_ref(spec)).unwrap().iter().map(|l| l.feed.to_string()).collect();
            n.sort();
            n
        };
        for spec in [FeedSpec::new(&feeds), FeedSpec::new(feeds.join("a.txt"))] {
            let mut source = Source::open(&spec, 0, &store).unwrap();
            source.keep_copies = true;
            source.refresh(&client, &store).unwrap();
            let kept = source.feed_spec().unwrap();
            assert_ne!(kept.path, spec.path);
            assert_eq!(names(&kept), names(&spec), "{spec:?}");
        }
    }

    #[test]
    fn a_local_source_with_refresh_is_snapshotted_and_reread_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let feed = dir.path().join("bad.txt");
        fs::write(&feed, "1.2.3.4\n").unwrap();
        let store = Store::open(&dir.path().join("cache")).unwrap();
        let spec = FeedSpec { refresh: Some(sweep_calendar::Span::seconds(1)), ..FeedSpec::new(&feed) };
        let client = HttpClient::new(Default::default()).unwrap();
        let mut source = Source::open(&spec, 0, &store).unwrap();
        assert_eq!(source.refresh(&client, &store).unwrap(), Refreshed::Changed);
        assert_eq!(source.refresh(&client, &store).unwrap(), Refreshed::Unchanged);
        let first = source.feed_spec().unwrap();
        // Named by its file, as when read in place.
        assert_eq!(first.path.file_name().unwrap(), "bad.txt");
        fs::write(&feed, "1.2.3.4\n5.6.7.8\n").unwrap();
        assert_eq!(source.refresh(&client, &store).unwrap(), Refreshed::Changed);
        assert_eq!(source.state.indicators, 2);
        // The first snapshot is still there, unchanged, for a batch planned with it.
        assert_eq!(fs::read_to_string(&first.path).unwrap(), "1.2.3.4\n");
        // Garbage keeps the previous content, and is counted.
        fs::write(&feed, "this is not a feed\nnor is this\n").unwrap();
        assert!(source.refresh(&client, &store).is_err());
        assert_eq!(source.state.failures, 1);
        assert_eq!(source.state.indicators, 2);
        assert!(fs::read_to_string(source.feed_spec().unwrap().path).unwrap().contains("5.6.7.8"));
        // The cache remembers it all for the next process.
        let reopened = Source::open(&spec, 0, &store).unwrap();
        assert_eq!(reopened.state.content_hash, source.state.content_hash);
        assert_eq!(reopened.stats().failures, 1);
    }
}

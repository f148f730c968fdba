//! Feed readers: plain lists, CSV (with presets), STIX 2.1 bundles, MISP events and feed
//! folders, and MISP warninglists / plain allowlists.
//!
//! [`load_path`] reads one [`FeedSpec`] (a file or a directory) into one [`FeedLoad`] per feed
//! file. Every value a feed offers ends as an [`Indicator`] or a [`Refusal`] with a stable
//! reason code; comment lines, blank lines and objects that offer no value (a STIX `malware`
//! object) are counted in [`FeedLoad::skipped`]. A feed that cannot be read at all (I/O error,
//! broken JSON, a CSV header without the configured column) is a [`FeedError`] naming the file
//! and, where there is one, the line.
//!
//! The formats, options and refusal reasons are documented in docs/intel-feeds.md.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Indicator, IndicatorType, Refusal};

pub mod csv;
pub mod misp;
pub mod plain;
pub mod stix;
pub mod stix_pattern;
pub mod time;
pub mod warninglist;

pub use csv::{Column, CsvOptions, CsvPreset};
pub use warninglist::{AllowList, load_allowlist};

/// What one feed file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLoad {
    /// The feed name written into every indicator and hit.
    pub feed: Arc<str>,
    /// The file (or MISP feed folder) read.
    pub path: PathBuf,
    /// The reader that read it.
    pub kind: FeedKind,
    pub indicators: Vec<Indicator>,
    pub refused: Vec<Refusal>,
    /// Lines (plain, CSV) or objects (STIX objects, MISP attributes) read.
    pub lines_or_objects: u64,
    /// Lines or objects that offer no value: comments, blank lines, headers, STIX objects that
    /// are not indicators. Counted, not refused.
    pub skipped: u64,
    /// Values that repeat an indicator of this feed field for field (same value, type,
    /// description, tags, validity...): kept once, counted here.
    pub duplicates: u64,
}

impl FeedLoad {
    /// Indicators by type, for summaries and tests.
    pub fn counts(&self) -> std::collections::BTreeMap<IndicatorType, usize> {
        let mut m = std::collections::BTreeMap::new();
        for i in &self.indicators {
            *m.entry(i.kind).or_insert(0) += 1;
        }
        m
    }

    /// Refusals by reason code.
    pub fn refusal_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for r in &self.refused {
            *m.entry(r.reason.clone()).or_insert(0) += 1;
        }
        m
    }
}

/// A feed that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cannot read feed {path}: {source}; check that the path exists and is readable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not valid JSON ({message}); the feed is damaged or is not a {expected} file")]
    Json { path: PathBuf, line: usize, column: usize, message: String, expected: &'static str },
    #[error("{path}{}: {message}; {hint}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Format { path: PathBuf, line: Option<u64>, message: String, hint: String },
    #[error(
        "{path}:{line}: the trailer says {expected} entries but {found} were read; the download is \
         probably truncated: fetch the feed again"
    )]
    Truncated { path: PathBuf, line: u64, expected: u64, found: u64 },
    #[error("{path}: this is a MISP warninglist (an allowlist), not an indicator feed; load it as an allowlist")]
    IsAllowlist { path: PathBuf },
    #[error("feed configuration for {path}: {message}")]
    Config { path: PathBuf, message: String },
}

impl FeedError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        FeedError::Io { path: path.to_path_buf(), source }
    }
    pub(crate) fn json(path: &Path, e: &serde_json::Error, expected: &'static str) -> Self {
        FeedError::Json { path: path.to_path_buf(), line: e.line(), column: e.column(), message: e.to_string(), expected }
    }
    pub(crate) fn format(path: &Path, line: Option<u64>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        FeedError::Format { path: path.to_path_buf(), line, message: message.into(), hint: hint.into() }
    }
    pub(crate) fn config(path: &Path, message: impl Into<String>) -> Self {
        FeedError::Config { path: path.to_path_buf(), message: message.into() }
    }
}

/// The reader for a feed, as written in configuration (`kind = "csv"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    Plain,
    Csv,
    Stix,
    Misp,
    /// A MISP feed folder (`manifest.json` plus one `<uuid>.json` per event).
    MispFeed,
    Warninglist,
}

/// The reader for a feed, resolved (options included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    Plain,
    Csv(CsvOptions),
    Stix,
    Misp,
    MispFeedDir,
    Warninglist,
}

impl FeedKind {
    /// The reader's name as reports print it: `plain`, `csv`, `csv (urlhaus)`, `stix`, ...
    pub fn describe(&self) -> String {
        match self {
            FeedKind::Plain => "plain".into(),
            FeedKind::Csv(o) => match o.preset {
                Some(p) => {
                    format!("csv ({})", serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                }
                None => "csv".into(),
            },
            FeedKind::Stix => "stix".into(),
            FeedKind::Misp => "misp".into(),
            FeedKind::MispFeedDir => "misp_feed".into(),
            FeedKind::Warninglist => "warninglist".into(),
        }
    }
}

impl FeedKind {
    pub fn name(&self) -> &'static str {
        match self {
            FeedKind::Plain => "plain",
            FeedKind::Csv(_) => "csv",
            FeedKind::Stix => "stix",
            FeedKind::Misp => "misp",
            FeedKind::MispFeedDir => "misp_feed",
            FeedKind::Warninglist => "warninglist",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_empty_path(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

/// A TAXII 2.1 collection: the server's discovery URL (`…/taxii2/`) or an API root
/// (`…/api1/`), and the collection's id or title; or the collection's own URL
/// (`…/collections/<id>/`) with no `collection`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxiiCollection {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// HTTP basic authentication (`${NAME}` reads the environment, as in `headers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A bearer token (`${NAME}` reads the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Objects per page (the server may send fewer). Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl FeedSpec {
    /// Where the feed comes from, for messages and reports: the path, the URL or the
    /// TAXII collection.
    pub fn location(&self) -> String {
        match (&self.url, &self.taxii) {
            (Some(url), _) => url.clone(),
            (None, Some(t)) => match &t.collection {
                Some(c) => format!("taxii:{} collection {c}", t.url),
                None => format!("taxii:{}", t.url),
            },
            (None, None) => self.path.display().to_string(),
        }
    }

    /// True when the feed is fetched over the network rather than read from `path`.
    pub fn is_remote(&self) -> bool {
        self.url.is_some() || self.taxii.is_some()
    }

    /// Checks that the feed names exactly one place to read it from.
    pub fn check_location(&self) -> Result<(), String> {
        let given = [!self.path.as_os_str().is_empty(), self.url.is_some(), self.taxii.is_some()];
        match given.iter().filter(|g| **g).count() {
            1 => Ok(()),
            0 => Err("an intel source needs one of path, url or taxii".into()),
            _ => Err(format!("an intel source takes one of path, url or taxii, not several ({})", self.location())),
        }
    }
}

/// One configured feed: a file or a directory, as written in pipeline TOML:
///
/// ```toml
/// [[analyse]]
/// intel = [
///   { path = "feeds/" },                                  # a directory: each file by its type
///   { path = "feeds/urlhaus.csv", kind = "csv", preset = "urlhaus" },
///   { path = "abuse.csv", kind = "csv", column = "url", delimiter = ";", name = "abuse", confidence = 80 },
///   { path = "ipsum.txt", min_count = 3 },
/// ]
/// ```
///
/// A feed can also be fetched, and read again every `refresh` (docs/intel-sources.md):
///
/// ```toml
/// [[intel.source]]
/// url = "https://urlhaus.abuse.ch/downloads/csv_recent/"
/// preset = "urlhaus"
/// refresh = "5m"
///
/// [[intel.source]]
/// taxii = { url = "https://taxii.example/taxii2/", collection = "indicators", token = "${TAXII_TOKEN}" }
/// refresh = "1m"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    /// A local file or folder. Empty when the feed is fetched (`url` or `taxii`).
    #[serde(default, skip_serializing_if = "is_empty_path")]
    pub path: PathBuf,
    /// An `http://` or `https://` URL the feed is downloaded from (a MISP feed: the folder
    /// that holds `manifest.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A TAXII 2.1 collection the feed's STIX objects are polled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxii: Option<TaxiiCollection>,
    /// In a stream, how often the source is read again (a local path: checked for changes).
    /// Without it a source is read once, when the run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<sweep_calendar::Span>,
    /// HTTP request headers (API keys). `${NAME}` in a value is replaced by the environment
    /// variable `NAME` when the request is made, so secrets stay out of the file and out of
    /// every summary.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The reader; absent = detected from the content (see [`sniff`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FeedFormat>,
    /// A CSV layout preset (implies `kind = "csv"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<CsvPreset>,
    /// CSV: the value column, by header name or 0-based index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<Column>,
    /// CSV: the field delimiter (one character; `"\t"` or `"tab"` for tabs). Default `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// CSV: whether the first line that is not a comment is a header. Default: true when
    /// `column` is a name, false when it is an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// CSV: a column whose text becomes the indicator's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_column: Option<Column>,
    /// CSV: a column of comma-separated tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_column: Option<Column>,
    /// Plain and CSV: every value is of this type (validated as such) instead of classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<IndicatorType>,
    /// The feed name in indicators and hits; default: the file name (a directory's files:
    /// `<dir>/<file>`; with `name`, `<name>/<file>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Confidence (0..=100) for indicators whose feed gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    /// Severity for indicators whose feed gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Tags added to every indicator of the feed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Plain lists of `value<TAB>count` (IPsum): lines whose count is below this are refused
    /// with reason `below_min_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
    /// Directories: also read hidden files and README/LICENSE files (skipped by default).
    #[serde(default, skip_serializing_if = "is_false")]
    pub all_files: bool,
}

impl FeedSpec {
    /// A spec for a path with every option at its default (the kind is detected).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FeedSpec { path: path.into(), ..FeedSpec::default() }
    }

    /// The reader options this spec states, if it states a kind (or a preset).
    pub fn stated_kind(&self) -> Result<Option<FeedKind>, FeedError> {
        let csv_opts_given = self.column.is_some()
            || self.delimiter.is_some()
            || self.header.is_some()
            || self.description_column.is_some()
            || self.tags_column.is_some();
        let kind = match (self.kind, self.preset) {
            (None | Some(FeedFormat::Csv), Some(p)) => Some(FeedKind::Csv(CsvOptions::preset(p).customised(self, &self.path)?)),
            (Some(k), Some(_)) => {
                return Err(FeedError::config(&self.path, format!("preset is for CSV feeds, but kind = {:?}", k)));
            }
            (Some(FeedFormat::Csv), None) => Some(FeedKind::Csv(CsvOptions::from_spec(self)?)),
            (None, None) if csv_opts_given => Some(FeedKind::Csv(CsvOptions::from_spec(self)?)),
            (Some(FeedFormat::Plain), None) => Some(FeedKind::Plain),
            (Some(FeedFormat::Stix), None) => Some(FeedKind::Stix),
            (Some(FeedFormat::Misp), None) => Some(FeedKind::Misp),
            (Some(FeedFormat::MispFeed), None) => Some(FeedKind::MispFeedDir),
            (Some(FeedFormat::Warninglist), None) => Some(FeedKind::Warninglist),
            (None, None) => None,
        };
        if csv_opts_given && !matches!(kind, Some(FeedKind::Csv(_))) {
            return Err(FeedError::config(&self.path, "column/delimiter/header options only apply to kind = \"csv\""));
        }
        Ok(kind)
    }
}

/// Feed-level defaults applied to every indicator.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub confidence: Option<u8>,
    pub severity: Option<String>,
    pub tags: Vec<String>,
    pub value_type: Option<IndicatorType>,
    pub min_count: Option<u64>,
}

impl Defaults {
    fn from_spec(spec: &FeedSpec) -> Self {
        Defaults {
            confidence: spec.confidence.map(|c| c.min(100)),
            severity: spec.severity.clone(),
            tags: spec.tags.clone(),
            value_type: spec.value_type,
            min_count: spec.min_count,
        }
    }
}

/// Longest value kept in a refusal.
const REFUSAL_VALUE_MAX: usize = 200;

pub(crate) fn cut(s: &str) -> String {
    if s.len() <= REFUSAL_VALUE_MAX {
        return s.to_string();
    }
    let mut end = REFUSAL_VALUE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Accumulates one feed's indicators and refusals, applying defaults and dropping exact
/// duplicates (counted).
pub(crate) struct Collector {
    pub feed: Arc<str>,
    pub defaults: Defaults,
    pub indicators: Vec<Indicator>,
    pub refused: Vec<Refusal>,
    pub units: u64,
    pub skipped: u64,
    pub duplicates: u64,
    /// Reading a MISP feed folder: locations name the event too.
    pub feed_dir: bool,
    /// Hash of an indicator -> its index; `collided` holds the (rare) distinct indicators
    /// whose hash was already taken.
    seen: HashMap<u64, usize, BuildHasherDefault<KeyHasher>>,
    collided: Vec<(u64, usize)>,
    /// The dedup key of each kept indicator, for [`Collector::absorb`]; recorded only by the
    /// partial collectors of a feed read in chunks ([`Collector::partial`]).
    keys: Option<Vec<u64>>,
}

/// The `seen` map's keys are already hashes ([`Collector::key`]): used as they are.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | self.0 >> 56) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl Collector {
    pub fn new(feed: Arc<str>, defaults: Defaults) -> Self {
        Collector {
            feed,
            defaults,
            indicators: Vec::new(),
            refused: Vec::new(),
            units: 0,
            skipped: 0,
            duplicates: 0,
            feed_dir: false,
            seen: HashMap::default(),
            collided: Vec::new(),
            keys: None,
        }
    }

    /// An empty collector for one chunk of this feed (same name and defaults) that records
    /// the dedup key of what it keeps, to be merged back with [`Collector::absorb`].
    pub(crate) fn partial(&self) -> Collector {
        let mut c = Collector::new(self.feed.clone(), self.defaults.clone());
        c.feed_dir = self.feed_dir;
        c.keys = Some(Vec::new());
        c
    }

    /// Merges the collector of the next chunk: its indicators go through this collector's
    /// dedup in order (with the keys it computed), so the result is what reading the chunks
    /// one after the other into this collector gives.
    pub(crate) fn absorb(&mut self, mut part: Collector) {
        let keys = part.keys.take().unwrap_or_default();
        debug_assert_eq!(keys.len(), part.indicators.len());
        if self.indicators.is_empty() && self.refused.is_empty() && self.collided.is_empty() {
            // The first chunk: taken as it is (its vectors were sized for the whole feed).
            self.indicators = std::mem::take(&mut part.indicators);
            self.seen = std::mem::take(&mut part.seen);
            self.collided = std::mem::take(&mut part.collided);
        } else {
            self.indicators.reserve(part.indicators.len());
            self.seen.reserve(part.indicators.len());
            for (ind, key) in part.indicators.into_iter().zip(keys) {
                self.push_keyed(ind, key);
            }
        }
        self.refused.extend(part.refused);
        self.units += part.units;
        self.skipped += part.skipped;
        self.duplicates += part.duplicates;
    }

    /// A bare indicator of this feed (defaults not applied yet; [`Collector::push`] does).
    pub fn indicator(&self, kind: IndicatorType, value: String) -> Indicator {
        Indicator {
            value,
            kind,
            feed: self.feed.clone(),
            confidence: None,
            severity: None,
            tags: Vec::new(),
            description: None,
            valid_from: None,
            valid_until: None,
        }
    }

    pub fn push(&mut self, mut ind: Indicator) {
        if ind.confidence.is_none() {
            ind.confidence = self.defaults.confidence;
        }
        if ind.severity.is_none() {
            ind.severity.clone_from(&self.defaults.severity);
        }
        for t in &self.defaults.tags {
            if !ind.tags.contains(t) {
                ind.tags.push(t.clone());
            }
        }
        let key = Self::key(&ind);
        self.push_keyed(ind, key);
    }

    /// The dedup key: a hash of every field but the feed (the same in one collector).
    fn key(ind: &Indicator) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ind.value.hash(&mut h);
        ind.kind.hash(&mut h);
        ind.confidence.hash(&mut h);
        ind.severity.hash(&mut h);
        ind.tags.hash(&mut h);
        ind.description.hash(&mut h);
        ind.valid_from.hash(&mut h);
        ind.valid_until.hash(&mut h);
        h.finish()
    }

    /// Room for `n` more indicators.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.indicators.reserve(n);
        self.seen.reserve(n);
        if let Some(keys) = &mut self.keys {
            keys.reserve(n);
        }
    }

    /// Keeps `ind` unless an equal indicator was kept before (defaults already applied).
    fn push_keyed(&mut self, ind: Indicator, key: u64) {
        let idx = self.indicators.len();
        match self.seen.get(&key) {
            None => {
                self.seen.insert(key, idx);
            }
            Some(&first) => {
                let same = |j: usize| self.indicators[j] == ind;
                if same(first) || self.collided.iter().any(|&(k, j)| k == key && same(j)) {
                    self.duplicates += 1;
                    return;
                }
                self.collided.push((key, idx));
            }
        }
        self.indicators.push(ind);
        if let Some(keys) = &mut self.keys {
            keys.push(key);
        }
    }

    pub fn refuse(&mut self, location: impl Into<String>, value: &str, reason: &str, detail: impl Into<String>) {
        self.refused.push(Refusal {
            feed: self.feed.clone(),
            location: location.into(),
            value: cut(value),
            reason: reason.to_string(),
            detail: detail.into(),
        });
    }

    pub fn finish(self, path: &Path, kind: FeedKind) -> FeedLoad {
        FeedLoad {
            feed: self.feed,
            path: path.to_path_buf(),
            kind,
            indicators: self.indicators,
            refused: self.refused,
            lines_or_objects: self.units,
            skipped: self.skipped,
            duplicates: self.duplicates,
        }
    }
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, FeedError> {
    std::fs::read(path).map_err(|e| FeedError::io(path, e))
}

/// Reads a JSON document; errors name the file, line and column.
pub(crate) fn read_json(path: &Path, bytes: &[u8], expected: &'static str) -> Result<serde_json::Value, FeedError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| FeedError::json(path, &e, expected))
}

/// Detects the kind of a feed file from its content:
/// - JSON with `"type": "bundle"` -> STIX; with a top-level `"Event"` -> MISP event;
///   with `"list"` and `"type"` (and `"name"`) -> MISP warninglist; a `manifest.json` -> not a
///   feed by itself (its folder is a MISP feed);
/// - text whose comment lines name a known CSV layout (URLhaus, Feodo Tracker, ThreatFox,
///   Spamhaus DROP) -> CSV with that preset;
/// - anything else -> a plain list.
pub fn sniff(path: &Path, bytes: &[u8]) -> Result<FeedKind, FeedError> {
    if bytes.starts_with(&[0x1f, 0x8b]) || bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(FeedError::format(path, None, "the file is compressed (gzip, zip or zstd)", "decompress it first"));
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let first = text.iter().position(|b| !b.is_ascii_whitespace()).map(|i| text[i]);
    if matches!(first, Some(b'{')) {
        // Only a small prefix is inspected here; the reader parses the whole document.
        let head = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]);
        let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("\"Event\":{") {
            return Ok(FeedKind::Misp);
        }
        if compact.contains("\"type\":\"bundle\"") || compact.contains("\"spec_version\":\"2.") {
            return Ok(FeedKind::Stix);
        }
        if compact.contains("\"list\":[") && compact.contains("\"type\":\"") {
            return Ok(FeedKind::Warninglist);
        }
        // Parse fully as the last resort: key order in JSON is free.
        let v = read_json(path, text, "JSON feed")?;
        if v.get("Event").is_some() {
            return Ok(FeedKind::Misp);
        }
        if v.get("type").and_then(|t| t.as_str()) == Some("bundle") {
            return Ok(FeedKind::Stix);
        }
        if v.get("list").is_some() && v.get("type").is_some() {
            return Ok(FeedKind::Warninglist);
        }
        if path.file_name().is_some_and(|n| n == "manifest.json") {
            return Err(FeedError::format(path, None, "a MISP feed manifest", "load its folder (kind = \"misp_feed\")"));
        }
        return Err(FeedError::format(
            path,
            None,
            "a JSON document that is neither a STIX bundle, a MISP event nor a MISP warninglist",
            "set kind explicitly or remove the file from the feed folder",
        ));
    }
    if let Some(p) = csv::detect_preset(text) {
        return Ok(FeedKind::Csv(CsvOptions::preset(p)));
    }
    Ok(FeedKind::Plain)
}

pub(crate) fn is_boring_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    name.starts_with('.') || upper.starts_with("README") || upper.starts_with("LICENSE") || upper.starts_with("LICENCE")
}

/// Reads a feed file or a feed directory. A directory is read file by file (sorted, recursing
/// into sub-folders; a folder holding `manifest.json` is a MISP feed); each file's kind is
/// `spec.kind` when given, otherwise detected by [`sniff`]. Hidden files and README/LICENSE
/// files are skipped unless `all_files` is set. The files of a folder are read several at a
/// time ([`load_all`]).
pub fn load_path(spec: &FeedSpec) -> Result<Vec<FeedLoad>, FeedError> {
    load_all(std::slice::from_ref(spec))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// How deep feed folders may nest (guards against symlink loops).
const MAX_DEPTH: usize = 16;

/// Walks a feed folder in reading order: `found(path, feed name, is a MISP feed folder)` for
/// each feed file and MISP feed folder.
fn walk_dir(
    root: &Path,
    dir: &Path,
    stated: Option<&FeedKind>,
    base: &str,
    all_files: bool,
    found: &mut dyn FnMut(&Path, Arc<str>, bool) -> Result<(), FeedError>,
) -> Result<(), FeedError> {
    let feed_name = |p: &Path| -> Arc<str> {
        let rel = p.strip_prefix(root).unwrap_or(p);
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.is_empty() { base.into() } else { format!("{base}/{rel}").into() }
    };
    if dir.join("manifest.json").is_file() && matches!(stated, None | Some(FeedKind::MispFeedDir)) {
        return found(dir, feed_name(dir), true);
    }
    if matches!(stated, Some(FeedKind::MispFeedDir)) {
        return Err(FeedError::config(dir, "kind = \"misp_feed\" but the folder has no manifest.json"));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| FeedError::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| FeedError::io(dir, err)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let name = file_name(&p);
        if !all_files && is_boring_file(&name) {
            continue;
        }
        let meta = std::fs::metadata(&p).map_err(|e| FeedError::io(&p, e))?;
        if meta.is_dir() {
            if p.strip_prefix(root).map_or(0, |r| r.components().count()) > MAX_DEPTH {
                return Err(FeedError::format(&p, None, "feed folders nested too deep (a symlink loop?)", "point at a shallower folder"));
            }
            walk_dir(root, &p, stated, base, all_files, found)?;
        } else if meta.is_file() {
            found(&p, feed_name(&p), false)?;
        }
    }
    Ok(())
}

fn load_file(path: &Path, stated: Option<&FeedKind>, feed: Arc<str>, defaults: &Defaults) -> Result<FeedLoad, FeedError> {
    let bytes = read_bytes(path)?;
    let kind = match stated {
        Some(k) => k.clone(),
        None => sniff(path, &bytes)?,
    };
    let mut c = Collector::new(feed, defaults.clone());
    match &kind {
        FeedKind::Plain => plain::read(path, &bytes, &mut c)?,
        FeedKind::Csv(opts) => csv::read(path, &bytes, opts, &mut c)?,
        FeedKind::Stix => stix::read(path, &bytes, &mut c)?,
        FeedKind::Misp => {
            let v = read_json(path, &bytes, "MISP event")?;
            misp::read_event(path, &v, &mut c)?;
        }
        FeedKind::MispFeedDir => return Err(FeedError::config(path, "kind = \"misp_feed\" needs a folder holding manifest.json")),
        FeedKind::Warninglist => return Err(FeedError::IsAllowlist { path: path.to_path_buf() }),
    }
    Ok(c.finish(path, kind))
}

/// Splits a file into lines (`\n`, `\r\n`), numbered from 1; a line that is not UTF-8 is
/// given as `Err(bytes)`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, Result<&str, &[u8]>)> {
    lines_from(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes), 0)
}

/// The lines of a part of a file whose first line is line `before + 1` (no BOM is stripped).
pub(crate) fn lines_from(bytes: &[u8], before: u64) -> impl Iterator<Item = (u64, Result<&str, &[u8]>)> {
    let mut rest = bytes;
    let mut n = before;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        n += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((n, std::str::from_utf8(line).map_err(|_| line)))
    })
}

/// Below this size a text feed is read on one thread.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Threads for reading one feed, or several feeds at once.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(16)
}

/// Splits a text into at most `parts` runs of whole lines (each ends after a `\n`, except
/// the last), with the number of lines before each: reading the runs with [`lines_from`]
/// gives the lines of the whole text, numbered as [`lines`] numbers them. Small texts are
/// one run.
pub(crate) fn line_runs(bytes: &[u8], parts: usize) -> Vec<(u64, &[u8])> {
    let parts = parts.min(bytes.len() / (PARALLEL_MIN_BYTES / 2)).max(1);
    if parts == 1 || bytes.len() < PARALLEL_MIN_BYTES {
        return vec![(0, bytes)];
    }
    let mut runs = Vec::with_capacity(parts);
    let (mut start, mut before) = (0usize, 0u64);
    for k in 1..=parts {
        let end = if k == parts {
            bytes.len()
        } else {
            let target = (bytes.len() * k / parts).max(start);
            match memchr::memchr(b'\n', &bytes[target..]) {
                Some(i) => target + i + 1,
                None => bytes.len(),
            }
        };
        if end > start {
            runs.push((before, &bytes[start..end]));
            before += memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u64;
        }
        start = end;
        if start == bytes.len() {
            break;
        }
    }
    runs
}

/// Reads the runs of whole lines of a text feed on one thread each (one run: on this
/// thread), each into a [`Collector::partial`], then merges them in order: the result is
/// what `read(text, 0, c)` gives, on more cores.
pub(crate) fn read_runs(bytes: &[u8], c: &mut Collector, read: impl Fn(&[u8], u64, &mut Collector) + Sync) {
    read_in_runs(bytes, threads(), c, read)
}

fn read_in_runs(bytes: &[u8], parts: usize, c: &mut Collector, read: impl Fn(&[u8], u64, &mut Collector) + Sync) {
    let runs = line_runs(bytes, parts);
    // About one indicator a line: reserve for that, so that the vectors never grow by copying.
    let lines = memchr::memchr_iter(b'\n', bytes).count() + 1;
    if runs.len() == 1 {
        c.reserve(lines);
        read(bytes, 0, c);
        return;
    }
    let parts: Vec<Collector> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(k, &(before, run))| {
                let mut part = c.partial();
                // The first chunk's vectors become the feed's: room for every line.
                let next = runs.get(k + 1).map_or(lines as u64, |r| r.0);
                part.reserve(if k == 0 { lines } else { (next - before) as usize });
                let read = &read;
                s.spawn(move || {
                    read(run, before, &mut part);
                    part
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    c.indicators.reserve(parts.iter().map(|p| p.indicators.len()).sum());
    for part in parts {
        c.absorb(part);
    }
}

/// Reads every feed of `specs` ([`load_path`] each), several files at once: the loads come
/// in the order of `specs` (a directory's files in their sorted order), and the error is the
/// one reading them in order would have met first.
pub fn load_all(specs: &[FeedSpec]) -> Result<Vec<FeedLoad>, FeedError> {
    // The files first, so that the files of a folder are read in parallel too.
    let mut jobs: Vec<Job> = Vec::new();
    for spec in specs {
        plan(spec, &mut jobs)?;
    }
    let n = threads().min(jobs.len());
    if n <= 1 {
        return jobs.iter().map(Job::run).collect();
    }
    // Workers take the next job; results are put back in job order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    // After an error, the files after it are not needed.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut results: Vec<Option<Result<FeedLoad, FeedError>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let r = job.run();
                        let failed = r.is_err();
                        done.push((i, r));
                        if failed {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                    }
                    done
                })
            })
            .collect();
        let mut results: Vec<Option<Result<FeedLoad, FeedError>>> = (0..jobs.len()).map(|_| None).collect();
        for w in workers {
            for (i, r) in w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                results[i] = Some(r);
            }
        }
        results
    });
    let mut loads = Vec::with_capacity(results.len());
    for (i, r) in results.iter_mut().enumerate() {
        match r.take() {
            Some(Ok(l)) => loads.push(l),
            Some(Err(e)) => return Err(e),
            // Left undone because a worker stopped at an error: run it now, in order.
            None => loads.push(jobs[i].run()?),
        }
    }
    Ok(loads)
}

/// One feed file (or MISP feed folder) to read, resolved from a [`FeedSpec`].
struct Job {
    path: PathBuf,
    stated: Option<FeedKind>,
    feed: Arc<str>,
    defaults: Defaults,
    misp_dir: bool,
}

impl Job {
    fn run(&self) -> Result<FeedLoad, FeedError> {
        if self.misp_dir {
            misp::load_feed_dir(&self.path, self.feed.clone(), &self.defaults)
        } else {
            load_file(&self.path, self.stated.as_ref(), self.feed.clone(), &self.defaults)
        }
    }
}

/// The files [`load_path`] would read for `spec`, in its order.
fn plan(spec: &FeedSpec, jobs: &mut Vec<Job>) -> Result<(), FeedError> {
    let stated = spec.stated_kind()?;
    let defaults = Defaults::from_spec(spec);
    let meta = std::fs::metadata(&spec.path).map_err(|e| FeedError::io(&spec.path, e))?;
    if !meta.is_dir() {
        if matches!(stated, Some(FeedKind::MispFeedDir)) {
            return Err(FeedError::config(&spec.path, "kind = \"misp_feed\" needs a folder holding manifest.json"));
        }
        let name = spec.name.clone().unwrap_or_else(|| file_name(&spec.path));
        jobs.push(Job { path: spec.path.clone(), stated, feed: name.into(), defaults, misp_dir: false });
        return Ok(());
    }
    let base = spec.name.clone().unwrap_or_else(|| file_name(&spec.path));
    walk_dir(&spec.path, &spec.path, stated.as_ref(), &base, spec.all_files, &mut |path, feed, misp_dir| {
        jobs.push(Job { path: path.to_path_buf(), stated: stated.clone(), feed, defaults: defaults.clone(), misp_dir });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_from_toml_like_json() {
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a.csv","kind":"csv","preset":"urlhaus"}"#).unwrap();
        assert_eq!(s.kind, Some(FeedFormat::Csv));
        assert!(matches!(s.stated_kind().unwrap(), Some(FeedKind::Csv(o)) if o.preset == Some(CsvPreset::Urlhaus)));
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a.csv","column":2,"delimiter":";"}"#).unwrap();
        assert!(matches!(s.stated_kind().unwrap(), Some(FeedKind::Csv(o)) if o.value == Column::Index(2) && o.delimiter == b';'));
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a.csv","column":"url"}"#).unwrap();
        assert!(matches!(s.stated_kind().unwrap(), Some(FeedKind::Csv(o)) if o.value == Column::Name("url".into()) && o.header.is_none()));
        let e = serde_json::from_str::<FeedSpec>(r#"{"path":"a","colum":2}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a","kind":"stix","column":1}"#).unwrap();
        assert!(matches!(s.stated_kind(), Err(FeedError::Config { .. })));
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a","kind":"stix","preset":"feodo"}"#).unwrap();
        assert!(matches!(s.stated_kind(), Err(FeedError::Config { .. })));
        let s: FeedSpec = serde_json::from_str(r#"{"path":"a","kind":"misp_feed"}"#).unwrap();
        assert_eq!(s.stated_kind().unwrap(), Some(FeedKind::MispFeedDir));
        assert_eq!(FeedSpec::new("x").stated_kind().unwrap(), None);
    }

    #[test]
    fn spec_from_pipeline_toml() {
        #[derive(Deserialize)]
        struct Stage {
            intel: Vec<FeedSpec>,
        }
        #[derive(Deserialize)]
        struct Pipeline {
            analyse: Vec<Stage>,
        }
        let p: Pipeline = toml::from_str(
            r#"
            [[analyse]]
            intel = [
              { path = "feeds/" },
              { path = "feeds/urlhaus.csv", kind = "csv", preset = "urlhaus" },
              { path = "abuse.csv", kind = "csv", column = "url", delimiter = ";", name = "abuse", confidence = 80 },
              { path = "drop.txt", column = 0, delimiter = "tab", value_type = "cidr", tags = ["drop"] },
              { path = "ipsum.txt", min_count = 3, severity = "medium" },
              { path = "misp/", kind = "misp_feed" },
            ]
            "#,
        )
        .unwrap();
        let specs = &p.analyse[0].intel;
        assert_eq!(specs.len(), 6);
        assert_eq!(specs[0].stated_kind().unwrap(), None);
        assert!(matches!(specs[1].stated_kind().unwrap(), Some(FeedKind::Csv(o)) if o.preset == Some(CsvPreset::Urlhaus)));
        let Some(FeedKind::Csv(o)) = specs[2].stated_kind().unwrap() else { panic!() };
        assert_eq!((o.value, o.delimiter), (Column::Name("url".into()), b';'));
        assert_eq!(specs[2].confidence, Some(80));
        let Some(FeedKind::Csv(o)) = specs[3].stated_kind().unwrap() else { panic!() };
        assert_eq!((o.value, o.delimiter), (Column::Index(0), b'\t'));
        assert_eq!(specs[3].value_type, Some(IndicatorType::Cidr));
        assert_eq!(specs[4].min_count, Some(3));
        assert_eq!(specs[5].stated_kind().unwrap(), Some(FeedKind::MispFeedDir));
        let e = toml::from_str::<Pipeline>("[[analyse]]\nintel = [{ path = \"x\", presets = \"urlhaus\" }]").err().unwrap();
        assert!(e.to_string().contains("unknown field `presets`"), "{e}");
        let e = toml::from_str::<Pipeline>("[[analyse]]\nintel = [{ path = \"x\", preset = \"urlhouse\" }]").err().unwrap();
        assert!(e.to_string().contains("unknown variant `urlhouse`"), "{e}");
    }

    #[test]
    fn sniffing() {
        let p = Path::new("x");
        assert_eq!(sniff(p, br#"{"type": "bundle", "objects": []}"#).unwrap(), FeedKind::Stix);
        assert_eq!(sniff(p, br#"  {"Event": {"info": "x"}}"#).unwrap(), FeedKind::Misp);
        assert_eq!(sniff(p, br#"{"name":"x","type":"cidr","list":["10.0.0.0/8"]}"#).unwrap(), FeedKind::Warninglist);
        assert_eq!(sniff(p, br#"{"objects": [], "id": "b", "type": "bundle"}"#).unwrap(), FeedKind::Stix);
        assert!(matches!(sniff(p, br#"{"x": 1}"#), Err(FeedError::Format { .. })));
        assert!(matches!(sniff(p, b"{\n\"x\": "), Err(FeedError::Json { line: 2, .. })));
        assert!(matches!(sniff(p, &[0x1f, 0x8b, 8, 0]), Err(FeedError::Format { .. })));
        assert_eq!(sniff(p, b"1.2.3.4\nevil.com\n").unwrap(), FeedKind::Plain);
        assert_eq!(
            sniff(p, b"; Spamhaus DROP List 2024/01/01\n1.10.16.0/20 ; SBL256894\n").unwrap(),
            FeedKind::Csv(CsvOptions::preset(CsvPreset::SpamhausDrop))
        );
    }

    proptest::proptest! {
        #[test]
        fn readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                               text in "[ -~\t\n\"#;|^$@/:.,0-9a-f]{0,300}") {
            let p = Path::new("fuzz");
            for input in [bytes.as_slice(), text.as_bytes()] {
                let _ = sniff(p, input);
                let mut c = Collector::new("f".into(), Defaults { min_count: Some(2), ..Defaults::default() });
                let _ = plain::read(p, input, &mut c);
                for preset in [CsvPreset::Urlhaus, CsvPreset::Feodo, CsvPreset::Threatfox, CsvPreset::SpamhausDrop] {
                    let _ = csv::read(p, input, &CsvOptions::preset(preset), &mut c);
                }
                let _ = stix::read(p, input, &mut c);
                let accounted = c.indicators.len() as u64 + c.refused.len() as u64 + c.skipped + c.duplicates;
                proptest::prop_assert!(c.units > 0 || accounted == 0);
            }
        }
    }

    #[test]
    #[cfg(unix)]
    fn symlink_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "evil.com\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        let e = load_path(&FeedSpec::new(dir.path())).unwrap_err();
        assert!(e.to_string().contains("nested too deep"), "{e}");
    }

    #[test]
    fn line_splitting() {
        let v: Vec<_> = lines(b"\xef\xbb\xbfa\r\nb\n\xff\nc").collect();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], (1, Ok("a")));
        assert_eq!(v[1], (2, Ok("b")));
        assert!(v[2].1.is_err());
        assert_eq!(v[3], (4, Ok("c")));
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"a\n").count(), 1);
    }

    #[test]
    fn line_runs_cover_the_text_and_number_lines_alike() {
        let mut text = String::new();
        for i in 0..400_000 {
            text.push_str(&format!("line{i}\n"));
            if i % 1000 == 0 {
                text.push_str("\r\n");
            }
        }
        text.push_str("last without newline");
        let whole: Vec<_> = lines(text.as_bytes()).collect();
        for parts in [1, 2, 3, 7] {
            let runs = line_runs(text.as_bytes(), parts);
            assert_eq!(runs.len(), parts, "the text is large enough for {parts} runs");
            assert_eq!(runs.iter().map(|r| r.1.len()).sum::<usize>(), text.len());
            let joined: Vec<_> = runs.iter().flat_map(|&(before, run)| lines_from(run, before)).collect();
            assert_eq!(joined, whole, "{parts} runs");
        }
        assert_eq!(line_runs(b"a\nb\n", 4).len(), 1, "small texts are one run");
    }

    /// A large plain list read in runs on several threads gives what one pass gives: the same
    /// indicators in the same order, refusals with the same line numbers, the same counts
    /// (duplicates far apart, in different runs, included).
    #[test]
    fn reading_in_runs_is_reading_in_one_pass() {
        let mut text = Vec::new();
        text.extend_from_slice(b"\xef\xbb\xbf# feed\n");
        for i in 0..120_000u32 {
            let line = match i % 9 {
                0 => format!("10.{}.{}.{}\n", i >> 16 & 255, i >> 8 & 255, i & 255),
                1 => format!("d{}.example.com\n", i % 5000),
                2 => format!("http://h{}.example.net/p?q={}\n", i % 700, i % 3),
                3 => "# a comment\n".to_string(),
                4 => format!("not valid {i}\n"),
                5 => format!("0.0.0.0 a{}.example.org localhost\n", i % 4000),
                6 => format!("10.0.{}.0/24\t{}\n", i % 256, i % 4),
                7 => {
                    text.extend_from_slice(b"\xff not utf-8\n");
                    continue;
                }
                _ => format!("EVIL{}.Example.COM.\n", i % 100),
            };
            // A trailing comment makes the lines long enough for several runs.
            text.extend_from_slice(line.trim_end().as_bytes());
            text.extend_from_slice(b" # padding padding padding\n");
        }
        text.extend_from_slice(b"tail.example.com");
        assert!(text.len() > 5 * PARALLEL_MIN_BYTES / 2, "{}", text.len());
        let defaults = Defaults { min_count: Some(2), tags: vec!["t".into()], ..Defaults::default() };
        let read = |parts: usize| {
            let mut c = Collector::new("f".into(), defaults.clone());
            let body = text.strip_prefix(b"\xef\xbb\xbf").unwrap();
            read_in_runs(body, parts, &mut c, |run, before, c| plain::read_lines(run, before, c));
            c.finish(Path::new("f"), FeedKind::Plain)
        };
        let one = read(1);
        assert!(one.duplicates > 10_000 && one.refused.len() > 10_000, "{} {}", one.duplicates, one.refused.len());
        let mut c = Collector::new("f".into(), defaults.clone());
        plain::read(Path::new("f"), &text, &mut c).unwrap();
        assert_eq!(c.finish(Path::new("f"), FeedKind::Plain), one, "plain::read");
        for parts in [2, 3, 5] {
            assert_eq!(read(parts), one, "{parts} runs");
        }
    }

    #[test]
    fn collector_dedupes_exact_duplicates_only() {
        let mut c = Collector::new("f".into(), Defaults { confidence: Some(50), tags: vec!["t".into()], ..Defaults::default() });
        let i = c.indicator(IndicatorType::Domain, "evil.com".into());
        c.push(i.clone());
        c.push(i.clone());
        let mut j = i.clone();
        j.description = Some("other".into());
        c.push(j);
        let mut k = i;
        k.confidence = Some(90);
        c.push(k);
        assert_eq!(c.indicators.len(), 3);
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.indicators[0].confidence, Some(50));
        assert_eq!(c.indicators[0].tags, vec!["t".to_string()]);
        assert_eq!(c.indicators[2].confidence, Some(90), "the feed's own confidence wins over the default");
    }
}

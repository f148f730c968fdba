//! # sweep-model: a pipeline as data
//!
//! A pipeline is an engine-neutral description: where lines come from and in which
//! format ([`ExtractSpec`]), which stages run over the events ([`TransformStage`]), and
//! where each table goes ([`LoadSpec`]). Engines compile this description; nothing here
//! runs anything. The same structure is read from a TOML pipeline file
//! ([`Pipeline::from_toml_str`]) and built by the fluent API of the `sweep` crate.
//!
//! Every key of the file is documented in docs/pipeline.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod stream;

/// True for `scheme://…` (object storage, a web server, Kafka): never a path relative to
/// a pipeline file.
pub fn is_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() > 1 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    })
}

/// Where a feed's `url` may point: a web server, or an object in object storage.
/// The end of every "this sweep was built without …" message: which build lacks a part, and
/// how to get a binary with every part (the crates that can leave a part out all say it).
pub const BUILT_WITHOUT_ADVICE: &str =
    "(the quick build of scripts/demo); build the full binary with scripts/install (or cargo build with the default features)";

pub const FEED_URL_SCHEMES: &[&str] = &["http://", "https://", "s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://"];
pub use stream::{KafkaSinkSpec, KafkaSourceSpec, StartPosition, StreamSettings, default_group};
pub use sweep_content::ContentSpec;
pub use sweep_formats::FormatSpec;
pub use sweep_intel::feeds::FeedSpec;
pub use sweep_intel::index::MatchField;
pub use sweep_sigma::SigmaSpec;
pub use sweep_window::WindowSpec;

/// Which engine runs the pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// DataFusion in this process; needs no services.
    #[default]
    Embedded,
    /// Apache Spark over Spark Connect (`remote`); see docs/spark.md.
    Spark,
}

/// A whole pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub engine: EngineKind,
    /// The Spark Connect server of the Spark engine, `sc://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// One entry per input group; each has its own format.
    #[serde(default)]
    pub extract: Vec<ExtractSpec>,
    /// Stages over the `events` table, applied in order.
    #[serde(default)]
    pub transform: Vec<TransformStage>,
    /// Analysers over the transformed events: each writes its own table.
    #[serde(default)]
    pub analyse: Vec<AnalyseStage>,
    #[serde(default)]
    pub load: LoadSpec,
    #[serde(default)]
    pub settings: Settings,
    /// Checkpoint and monitoring of a streaming (Kafka) pipeline.
    #[serde(default, skip_serializing_if = "is_default")]
    pub stream: StreamSettings,
    /// Where indicators come from when they change under a running stream.
    #[serde(default, skip_serializing_if = "is_default")]
    pub intel: IntelSettings,
}

/// The `[intel]` section: live intel sources and what a stream does when they change
/// (docs/intel-sources.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelSettings {
    /// `[[intel.source]]`: feeds read by the sweeper, as in its `intel` list, which they are
    /// added to when the file is read (a pipeline without a sweeper stage gets one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<FeedSpec>,
    /// When a new intel version adds indicators, a stream sweeps the events it stored in
    /// this span before the batch for the added indicators only, and appends their hits
    /// (`match_mode = "retro"`). Default 7d; `0s` turns it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retro_lookback: Option<sweep_calendar::Span>,
    /// A retro-sweep is done in parts, one per batch, of about this many bytes of stored
    /// event files each, so that it never stalls one batch for the whole lookback.
    /// Default 16 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retro_part_bytes: Option<u64>,
    /// Where fetched sources are kept (the body, its validators, and a copy of every
    /// version a stream used). Default: the stream's checkpoint folder, `intel/` (for a
    /// checkpoint on object storage, `$SWEEP_CACHE/intel/streams/<its URL>`); for a batch
    /// run, `$SWEEP_CACHE/intel` (`~/.cache/sweep/intel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<PathBuf>,
}

impl IntelSettings {
    /// The lookback of the retro-sweep a new intel version triggers in a stream.
    pub fn retro_lookback(&self) -> sweep_calendar::Span {
        self.retro_lookback.unwrap_or(sweep_calendar::Span::seconds(7 * 86_400))
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Where lines come from, and their format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSpec {
    /// Files, directories or glob patterns; `-` reads stdin.
    #[serde(default)]
    pub files: Vec<String>,
    /// Read lines from standard input (same as `files = ["-"]`).
    #[serde(default)]
    pub stdin: bool,
    /// A Kafka topic of log lines (a streaming pipeline; needs `[stream] checkpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaSourceSpec>,
    pub format: FormatSpec,
}

impl ExtractSpec {
    /// The inputs as the extract step expands them (`-` for stdin).
    pub fn input_args(&self) -> Vec<String> {
        let mut args = self.files.clone();
        if self.stdin && !args.iter().any(|a| a == "-") {
            args.push("-".to_string());
        }
        args
    }
}

/// A stage over the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformStage {
    /// A SQL query over the table `events` (the output of the previous stage). It must
    /// keep the `ts` column, which partitions the events table.
    pub sql: String,
}

/// An analyser: reads the events, writes a table of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnalyseStage {
    /// The threat-intel sweeper: matches events against indicators, writes `hits`.
    Sweeper(SweeperSpec),
    /// Sliding-window volume metrics per client, user or host, writes `metrics` (docs/windows.md).
    Window(WindowSpec),
    /// Malicious-looking hosts (bare IPs, typosquats, masquerades, DGA names), writes
    /// `findings` (docs/content.md).
    Content(ContentSpec),
    /// Sigma detection rules over proxy and web server events, writes `detections` (docs/sigma.md).
    Sigma(SigmaSpec),
}

impl From<SigmaSpec> for AnalyseStage {
    fn from(s: SigmaSpec) -> AnalyseStage {
        AnalyseStage::Sigma(s)
    }
}

impl From<ContentSpec> for AnalyseStage {
    fn from(c: ContentSpec) -> AnalyseStage {
        AnalyseStage::Content(c)
    }
}

impl From<WindowSpec> for AnalyseStage {
    fn from(w: WindowSpec) -> AnalyseStage {
        AnalyseStage::Window(w)
    }
}

impl From<SweeperSpec> for AnalyseStage {
    fn from(s: SweeperSpec) -> AnalyseStage {
        AnalyseStage::Sweeper(s)
    }
}

/// The threat-intel sweeper's configuration (docs/intel.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweeperSpec {
    /// Indicator feeds: files or folders, each read by its detected or stated kind.
    pub intel: Vec<FeedSpec>,
    /// Allowlists (plain lists or MISP warninglists): values that never raise a hit.
    #[serde(default)]
    pub allow: Vec<PathBuf>,
    /// Event fields checked, in order; a hit names the first field where it matched.
    #[serde(default = "default_match_fields")]
    pub fields: Vec<MatchField>,
}

fn default_match_fields() -> Vec<MatchField> {
    MatchField::DEFAULT.to_vec()
}

impl SweeperSpec {
    /// A sweeper over these feed paths with default options.
    pub fn from_paths<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> SweeperSpec {
        SweeperSpec {
            intel: paths.into_iter().map(|p| FeedSpec { path: p.into(), ..FeedSpec::default() }).collect(),
            allow: Vec::new(),
            fields: default_match_fields(),
        }
    }
}

/// Where a table is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkSpec {
    /// A folder of Parquet files (events are partitioned by `date=YYYY-MM-DD`).
    Parquet(PathBuf),
    /// A folder of JSON-lines files, for debugging.
    Jsonl(PathBuf),
    /// A Delta Lake table (events partitioned by `date`); commits are exactly-once per batch.
    Delta(PathBuf),
}

impl SinkSpec {
    pub fn path(&self) -> &Path {
        match self {
            SinkSpec::Parquet(p) | SinkSpec::Jsonl(p) | SinkSpec::Delta(p) => p,
        }
    }
}

/// What to do when a table folder already holds data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Refuse to write into a folder that holds data (the default: nothing is lost by accident).
    #[default]
    Error,
    /// Add new files beside the existing ones.
    Append,
    /// Delete the table's existing files first.
    Overwrite,
}

/// The tables a pipeline writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// A lake folder: every table not given explicitly goes to `<dir>/<table>` as Parquet.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub mode: WriteMode,
    #[serde(default)]
    pub events: Option<SinkSpec>,
    #[serde(default)]
    pub rejects: Option<SinkSpec>,
    #[serde(default)]
    pub hits: Option<SinkSpec>,
    /// The indicator snapshot the sweeper used (replaced on every run that sweeps).
    #[serde(default)]
    pub intel: Option<SinkSpec>,
    /// Window metrics (written when the pipeline has a window analyser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SinkSpec>,
    /// Findings of the content analyser (written when the pipeline has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<SinkSpec>,
    /// Detections of the Sigma analyser (written when the pipeline has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections: Option<SinkSpec>,
    /// The table format of tables placed under `dir`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub format: TableFormat,
    /// A Kafka topic that receives hits and threshold alerts as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<KafkaSinkSpec>,
    /// Read every input again, even those an earlier run into the lake loaded unchanged
    /// (the ledger in `<dir>/_sweep/runs/` makes re-runs skip them otherwise).
    #[serde(default, skip_serializing_if = "is_default")]
    pub reload: bool,
}

/// The format of the tables a lake folder (`[load] dir`) holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    #[default]
    Parquet,
    Delta,
}

impl LoadSpec {
    /// Every table a pipeline can write.
    pub const TABLES: [&'static str; 7] = ["events", "rejects", "hits", "intel", "metrics", "findings", "detections"];

    /// True when any table goes to a Delta table.
    pub fn writes_delta(&self) -> bool {
        Self::TABLES.iter().any(|t| matches!(self.sink(t), Some(SinkSpec::Delta(_))))
    }

    /// The sink of a table: explicit, else under `dir`, else none.
    pub fn sink(&self, table: &str) -> Option<SinkSpec> {
        let explicit = match table {
            "events" => &self.events,
            "rejects" => &self.rejects,
            "hits" => &self.hits,
            "intel" => &self.intel,
            "metrics" => &self.metrics,
            "findings" => &self.findings,
            "detections" => &self.detections,
            _ => &None,
        };
        explicit.clone().or_else(|| {
            let path = self.dir.as_ref()?.join(table);
            // The intel snapshot is replaced whole on every run: a plain Parquet folder suits it.
            Some(match self.format {
                TableFormat::Delta if table != "intel" => SinkSpec::Delta(path),
                _ => SinkSpec::Parquet(path),
            })
        })
    }
}

/// Tuning knobs; the defaults suit most machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Parser threads, for files and for the parts of a stream's batch; 0 means one per core.
    pub threads: usize,
    /// Bytes of input per chunk handed to a parser.
    pub chunk_bytes: usize,
    /// Lines longer than this become `too_long` rejects.
    pub max_line_bytes: usize,
    /// Rows per Parquet file before a new one is started.
    pub rows_per_file: usize,
    /// Fail the run (commit nothing) when more than this share of the lines (0.0-1.0) are
    /// rejects: a scheduled job's guard against a wrong format or a changed log layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on_rejects: Option<f64>,
    /// Fail the run (commit nothing) when the inputs hold no line at all.
    #[serde(skip_serializing_if = "is_default")]
    pub fail_if_empty: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threads: 0,
            chunk_bytes: 4 << 20,
            max_line_bytes: sweep_formats::DEFAULT_MAX_LINE_BYTES,
            rows_per_file: 4_000_000,
            fail_on_rejects: None,
            fail_if_empty: false,
        }
    }
}

/// A content spec error without the library's "content analyser:" prefix, which the
/// pipeline message already says as "analyse[i] (content)".
fn spec_message(e: &sweep_content::ContentError) -> String {
    let text = e.to_string();
    text.strip_prefix("content analyser: ").map(str::to_string).unwrap_or(text)
}

/// A pipeline that cannot be read or would not run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {path:?}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("pipeline file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("pipeline {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Pipeline {
    /// The sweeper stage, if the pipeline has one (validation allows at most one).
    pub fn sweeper(&self) -> Option<&SweeperSpec> {
        self.analyse.iter().find_map(|a| match a {
            AnalyseStage::Sweeper(spec) => Some(spec),
            _ => None,
        })
    }

    /// The window analyser stage, if any.
    pub fn window(&self) -> Option<&WindowSpec> {
        self.analyse.iter().find_map(|a| match a {
            AnalyseStage::Window(spec) => Some(spec),
            _ => None,
        })
    }

    /// The content analyser stage, if any.
    pub fn content(&self) -> Option<&ContentSpec> {
        self.analyse.iter().find_map(|a| match a {
            AnalyseStage::Content(spec) => Some(spec),
            _ => None,
        })
    }

    /// The Sigma analyser stage, if any.
    pub fn sigma(&self) -> Option<&SigmaSpec> {
        self.analyse.iter().find_map(|a| match a {
            AnalyseStage::Sigma(spec) => Some(spec),
            _ => None,
        })
    }

    /// Reads a pipeline file. Relative paths inside it are taken from the file's folder.
    pub fn from_file(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Pipeline::from_toml_str(&text, &path.display().to_string(), base)
    }

    /// Reads a pipeline from TOML text; `name` is used in messages, `base` resolves
    /// relative paths.
    pub fn from_toml_str(text: &str, name: &str, base: &Path) -> Result<Pipeline, ConfigError> {
        let mut p: Pipeline = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: name.to_string(), message: e.to_string().trim_end().to_string() })?;
        p.resolve_paths(base);
        p.adopt_intel_sources();
        p.validate().map_err(|message| ConfigError::Invalid { path: name.to_string(), message })?;
        Ok(p)
    }

    /// The pipeline as TOML (what `sweep run` would read back).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a pipeline always serialises")
    }

    /// Moves `[[intel.source]]` entries into the sweeper stage's feed list, adding a sweeper
    /// with default fields when the pipeline has none.
    pub fn adopt_intel_sources(&mut self) {
        if self.intel.source.is_empty() {
            return;
        }
        let sources = std::mem::take(&mut self.intel.source);
        match self.analyse.iter_mut().find_map(|a| match a {
            AnalyseStage::Sweeper(spec) => Some(spec),
            _ => None,
        }) {
            Some(sweeper) => sweeper.intel.extend(sources),
            None => self.analyse.insert(0, AnalyseStage::Sweeper(SweeperSpec { intel: sources, ..SweeperSpec::from_paths::<PathBuf>([]) })),
        }
    }

    /// True when some intel source is read again while a stream runs.
    pub fn has_live_intel(&self) -> bool {
        self.sweeper().is_some_and(|s| s.intel.iter().any(|f| f.refresh.is_some()))
    }

    /// Makes every relative path of the pipeline relative to `base` (a file's folder, or
    /// the current folder for a pipeline printed from command-line flags).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            // An empty path is no path (an intel source fetched from a URL); a URL is not a
            // path at all (an object on object storage stays where it is).
            if p.is_relative() && !p.as_os_str().is_empty() && !is_url(&p.to_string_lossy()) {
                *p = base.join(&*p);
            }
        };
        for e in &mut self.extract {
            for f in &mut e.files {
                if f != "-" && !is_url(f) && Path::new(f).is_relative() {
                    *f = base.join(&*f).display().to_string();
                }
            }
        }
        if let Some(d) = &mut self.load.dir {
            fix(d);
        }
        if let Some(c) = &mut self.stream.checkpoint {
            fix(c);
        }
        if let Some(c) = &mut self.intel.cache {
            fix(c);
        }
        for stage in &mut self.analyse {
            match stage {
                AnalyseStage::Sweeper(sw) => {
                    for f in sw.intel.iter_mut().chain(&mut self.intel.source) {
                        fix(&mut f.path);
                    }
                    for a in &mut sw.allow {
                        fix(a);
                    }
                }
                // Like every path of the file, a protected list is found from the file's folder.
                AnalyseStage::Content(c) => {
                    for f in [&mut c.protected_file, &mut c.owners_file, &mut c.popular.file].into_iter().flatten() {
                        if Path::new(f.as_str()).is_relative() {
                            *f = base.join(&*f).display().to_string();
                        }
                    }
                }
                AnalyseStage::Sigma(sg) => {
                    for r in &mut sg.rules {
                        fix(r);
                    }
                }
                AnalyseStage::Window(_) => {}
            }
        }
        for s in [
            &mut self.load.events,
            &mut self.load.rejects,
            &mut self.load.hits,
            &mut self.load.intel,
            &mut self.load.metrics,
            &mut self.load.findings,
            &mut self.load.detections,
        ]
        .into_iter()
        .flatten()
        {
            match s {
                SinkSpec::Parquet(p) | SinkSpec::Jsonl(p) | SinkSpec::Delta(p) => fix(p),
            }
        }
    }

    /// The first location the pipeline names as a URL (an input, feed, allowlist, rules
    /// file, lake, table, cache or checkpoint on object storage or a web server): what a
    /// build without object storage and HTTP(S) cannot serve.
    pub fn first_url(&self) -> Option<String> {
        let url_of = |p: &Path| Some(p.to_string_lossy().into_owned()).filter(|p| is_url(p));
        let feed_urls = |f: &FeedSpec| [url_of(&f.path), f.url.clone(), f.taxii.as_ref().map(|t| t.url.clone())];
        let inputs = self.extract.iter().flat_map(|e| e.files.iter().filter(|f| is_url(f)).cloned());
        let analysers = self.analyse.iter().flat_map(|stage| match stage {
            AnalyseStage::Sweeper(sw) => {
                sw.intel.iter().flat_map(feed_urls).chain(sw.allow.iter().map(|a| url_of(a))).flatten().collect::<Vec<_>>()
            }
            AnalyseStage::Sigma(sg) => sg.rules.iter().filter_map(|r| url_of(r)).collect(),
            AnalyseStage::Content(_) | AnalyseStage::Window(_) => Vec::new(),
        });
        let sources = self.intel.source.iter().flat_map(feed_urls).flatten();
        let folders = [&self.load.dir, &self.stream.checkpoint, &self.intel.cache].into_iter().flatten().filter_map(|p| url_of(p));
        let tables = LoadSpec::TABLES.iter().filter_map(|table| self.load.sink(table)).filter_map(|sink| url_of(sink.path()));
        inputs.chain(analysers).chain(sources).chain(folders).chain(tables).next()
    }

    /// True when the pipeline reads Kafka (and so runs as a stream of micro-batches).
    pub fn is_streaming(&self) -> bool {
        self.extract.iter().any(|e| e.kafka.is_some())
    }

    /// Checks what serde cannot: that the pipeline reads something and writes something.
    pub fn validate(&self) -> Result<(), String> {
        if self.extract.is_empty() {
            return Err("it reads nothing: add an [[extract]] section with files = [\"...\"] and format = \"...\"".into());
        }
        for (i, e) in self.extract.iter().enumerate() {
            if e.kafka.is_some() && (!e.files.is_empty() || e.stdin) {
                return Err(format!("extract[{i}] reads both Kafka and files: give each its own pipeline"));
            }
            if let Some(k) = &e.kafka {
                if k.topics.is_empty() || k.topics.iter().any(|t| t.trim().is_empty()) {
                    return Err(format!("extract[{i}].kafka.topics is empty: name the topic of log lines"));
                }
                if k.brokers.trim().is_empty() {
                    return Err(format!("extract[{i}].kafka.brokers is empty: set it to host:port"));
                }
                if k.batch_size == 0 || k.batch_interval_ms == 0 {
                    return Err(format!("extract[{i}].kafka: batch_size and batch_interval_ms must be above 0"));
                }
                continue;
            }
            if e.files.is_empty() && !e.stdin {
                return Err(format!("extract[{i}] has no input: set files = [\"path/or/glob\"] or stdin = true"));
            }
            if e.files.iter().any(|f| f.trim().is_empty()) {
                return Err(format!("extract[{i}].files has an empty path"));
            }
        }
        for (i, t) in self.transform.iter().enumerate() {
            if t.sql.trim().is_empty() {
                return Err(format!("transform[{i}].sql is empty: write a query over the table `events`"));
            }
        }
        for (i, stage) in self.analyse.iter().enumerate() {
            match stage {
                AnalyseStage::Sweeper(sw) => {
                    if sw.intel.is_empty() {
                        return Err(format!("analyse[{i}] (sweeper) has no feeds: set intel = [{{ path = \"feeds/\" }}]"));
                    }
                    for (j, feed) in sw.intel.iter().enumerate() {
                        feed.check_location().map_err(|m| format!("analyse[{i}].intel[{j}]: {m}"))?;
                        if let Some(url) = &feed.url
                            && !FEED_URL_SCHEMES.iter().any(|scheme| url.starts_with(scheme))
                        {
                            return Err(format!(
                                "analyse[{i}].intel[{j}]: url {url:?} is not a URL sweep reads feeds from ({})",
                                FEED_URL_SCHEMES.join(", ")
                            ));
                        }
                    }
                    if sw.fields.is_empty() {
                        return Err(format!("analyse[{i}].fields is empty: name at least one of server_ip, client_ip, host, url"));
                    }
                    if self.load.sink("hits").is_none() {
                        return Err(format!("analyse[{i}] (sweeper) writes hits, but there is no hits table: set [load] dir or load.hits"));
                    }
                }
                AnalyseStage::Content(c) => {
                    c.validate().map_err(|e| format!("analyse[{i}] (content): {}", spec_message(&e)))?;
                    if self.load.sink("findings").is_none() {
                        return Err(format!(
                            "analyse[{i}] (content) writes findings, but there is no findings table: set [load] dir or load.findings"
                        ));
                    }
                }
                AnalyseStage::Sigma(sg) => {
                    if sg.rules.is_empty() {
                        return Err(format!("analyse[{i}] (sigma) has no rules: set rules = [\"rules/\"]"));
                    }
                    sg.min_level_index().map_err(|e| format!("analyse[{i}] (sigma): {e}"))?;
                    sg.alert_level_index().map_err(|e| format!("analyse[{i}] (sigma): {e}"))?;
                    if self.load.sink("detections").is_none() {
                        return Err(format!(
                            "analyse[{i}] (sigma) writes detections, but there is no detections table: set [load] dir or load.detections"
                        ));
                    }
                }
                AnalyseStage::Window(w) => {
                    w.validate().map_err(|e| format!("analyse[{i}] (window): {e}"))?;
                    if self.load.sink("metrics").is_none() {
                        return Err(format!(
                            "analyse[{i}] (window) writes metrics, but there is no metrics table: set [load] dir or load.metrics"
                        ));
                    }
                }
            }
        }
        if self.analyse.iter().filter(|s| matches!(s, AnalyseStage::Sweeper(_))).count() > 1 {
            return Err("more than one sweeper: put all feeds in one [[analyse]] kind = \"sweeper\" stage".into());
        }
        if self.analyse.iter().filter(|s| matches!(s, AnalyseStage::Window(_))).count() > 1 {
            return Err("more than one window analyser: list every key in one [[analyse]] kind = \"window\" stage".into());
        }
        if self.analyse.iter().filter(|s| matches!(s, AnalyseStage::Content(_))).count() > 1 {
            return Err(
                "more than one content analyser: put every protected domain and option in one [[analyse]] kind = \"content\" stage".into(),
            );
        }
        if self.analyse.iter().filter(|s| matches!(s, AnalyseStage::Sigma(_))).count() > 1 {
            return Err("more than one Sigma analyser: list every rule path in one [[analyse]] kind = \"sigma\" stage".into());
        }
        if self.load.sink("events").is_none() && self.load.sink("rejects").is_none() {
            return Err("it writes nothing: set [load] dir = \"lake\", or load.events / load.rejects".into());
        }
        if self.is_streaming() {
            if self.extract.len() != 1 {
                return Err("a Kafka pipeline has exactly one [[extract]] section (several topics go in its topics list)".into());
            }
            if self.stream.checkpoint.is_none() {
                return Err("a Kafka pipeline needs a checkpoint folder: set [stream] checkpoint = \"ckpt\" (CLI: --checkpoint)".into());
            }
            for table in ["events", "rejects", "hits", "metrics", "findings", "detections"] {
                if let Some(SinkSpec::Jsonl(_)) = self.load.sink(table) {
                    return Err(format!(
                        "the {table} table is JSON lines, which a streaming pipeline cannot write exactly once: use delta or parquet"
                    ));
                }
            }
        } else {
            // Stream settings on a run over files would be ignored: say so rather than let
            // the user believe a checkpoint protects the run (the lake's ledger does).
            const LEDGER: &str = ". A run over files needs no checkpoint: the lake's ledger (_sweep/runs) records what it read, \
                                  so a re-run after a kill reads each file once";
            let stream_only = [
                ("checkpoint", "--checkpoint", self.stream.checkpoint.is_some(), LEDGER),
                ("stop_when_drained", "--until-drained", self.stream.stop_when_drained, ""),
                ("metrics_addr", "--metrics-addr", self.stream.metrics_addr.is_some(), ""),
            ];
            if let Some((key, flag, _, why)) = stream_only.iter().find(|(_, _, set, _)| *set) {
                return Err(format!("[stream] {key} (CLI: {flag}) is for Kafka inputs, and this pipeline reads files: remove it{why}"));
            }
        }
        if self.settings.chunk_bytes < 1024 {
            return Err(format!("settings.chunk_bytes = {} is too small; use at least 1024 (default 4194304)", self.settings.chunk_bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, String> {
        Pipeline::from_toml_str(text, "test.toml", Path::new("/base")).map_err(|e| e.to_string())
    }

    #[test]
    fn stream_settings_on_a_run_over_files_are_refused_by_name() {
        let files = "[[extract]]\nfiles = [\"a.log\"]\nformat = \"squid\"\n[load]\ndir = \"l\"\n";
        assert!(parse(files).is_ok());
        for (setting, words) in [
            ("checkpoint = \"c\"", "[stream] checkpoint (CLI: --checkpoint)"),
            ("stop_when_drained = true", "[stream] stop_when_drained (CLI: --until-drained)"),
            ("metrics_addr = \"127.0.0.1:9898\"", "[stream] metrics_addr (CLI: --metrics-addr)"),
        ] {
            let err = parse(&format!("{files}[stream]\n{setting}\n")).unwrap_err();
            assert!(err.contains(words) && err.contains("reads files"), "{setting}: {err}");
        }
    }

    #[test]
    fn the_first_url_is_found_wherever_the_pipeline_names_one() {
        let local = "[[extract]]\nfiles = [\"a.log\"]\nformat = \"squid\"\n[load]\ndir = \"l\"\n";
        assert_eq!(parse(local).unwrap().first_url(), None, "local paths are no URLs, even made absolute");
        let sweeper = "[[analyse]]\nkind = \"sweeper\"\nfields = [\"host\"]\n";
        for (pipeline, url) in [
            ("[[extract]]\nfiles = [\"a.log\", \"s3://b/x.log\"]\nformat = \"squid\"\n[load]\ndir = \"l\"\n".to_string(), "s3://b/x.log"),
            (local.replace("dir = \"l\"", "dir = \"gs://b/lake\""), "gs://b/lake"),
            (format!("{local}{sweeper}intel = [{{ url = \"https://f.example/ips.txt\" }}]\n"), "https://f.example/ips.txt"),
            (format!("{local}{sweeper}intel = [{{ path = \"az://c/feeds/\" }}]\n"), "az://c/feeds/"),
            (
                format!("{local}{sweeper}intel = [{{ path = \"f.txt\" }}]\nallow = [\"https://a.example/allow.txt\"]\n"),
                "https://a.example/allow.txt",
            ),
            (format!("{local}[[intel.source]]\ntaxii = {{ url = \"https://t.example/taxii2/\" }}\n"), "https://t.example/taxii2/"),
        ] {
            let pipeline = parse(&pipeline).unwrap_or_else(|e| panic!("{pipeline}: {e}"));
            assert_eq!(pipeline.first_url().as_deref(), Some(url), "{pipeline:?}");
        }
    }

    #[test]
    fn full_pipeline() {
        let p = parse(
            r#"
            engine = "embedded"
            [[extract]]
            files = ["logs/", "/abs/*.gz"]
            format = "squid"
            [[extract]]
            stdin = true
            format = { name = "elff", fields = ["date", "time", "c-ip"] }
            [[transform]]
            sql = "SELECT * FROM events WHERE status >= 400"
            [[analyse]]
            kind = "sweeper"
            intel = [{ path = "feeds/" }, { path = "/abs/urlhaus.csv", preset = "urlhaus" }]
            allow = ["allow.txt"]
            fields = ["host", "server_ip"]
            [load]
            dir = "lake"
            mode = "append"
            rejects = { jsonl = "debug/rejects" }
            [settings]
            threads = 2
            "#,
        )
        .unwrap();
        assert_eq!(p.extract[0].files, ["/base/logs/", "/abs/*.gz"]);
        assert_eq!(p.extract[1].input_args(), ["-"]);
        assert_eq!(p.load.sink("events"), Some(SinkSpec::Parquet("/base/lake/events".into())));
        assert_eq!(p.load.sink("rejects"), Some(SinkSpec::Jsonl("/base/debug/rejects".into())));
        assert_eq!(p.load.mode, WriteMode::Append);
        assert_eq!(p.settings.threads, 2);
        let AnalyseStage::Sweeper(sw) = &p.analyse[0] else { panic!("a sweeper") };
        assert_eq!(sw.intel[0].path, Path::new("/base/feeds/"));
        assert_eq!(sw.intel[1].path, Path::new("/abs/urlhaus.csv"));
        assert_eq!(sw.allow, [PathBuf::from("/base/allow.txt")]);
        assert_eq!(sw.fields, [MatchField::Host, MatchField::ServerIp]);
        assert_eq!(p.load.sink("hits"), Some(SinkSpec::Parquet("/base/lake/hits".into())));
        assert_eq!(p.settings.chunk_bytes, 4 << 20);
        let again = Pipeline::from_toml_str(&p.to_toml(), "again", Path::new("/")).unwrap();
        assert_eq!(again, p);
    }

    const CONTENT_BASE: &str = "[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\n[load]\ndir = \"lake\"\n";

    #[test]
    fn content_stage_alone_is_the_default_spec_and_prints_as_one_line() {
        let p = parse(&format!("{CONTENT_BASE}[[analyse]]\nkind = \"content\"\n")).unwrap();
        assert_eq!(p.analyse, vec![AnalyseStage::Content(ContentSpec::default())]);
        assert_eq!(p.load.sink("findings"), Some(SinkSpec::Parquet("/base/lake/findings".into())));
        let toml = p.to_toml();
        assert!(toml.contains("[[analyse]]\nkind = \"content\"\n"), "{toml}");
        assert!(!toml.contains("generic_labels") && !toml.contains("dga"), "defaults are not printed: {toml}");
        assert_eq!(Pipeline::from_toml_str(&toml, "again", Path::new("/")).unwrap(), p);
        assert_eq!(AnalyseStage::from(ContentSpec::default()), p.analyse[0]);
    }

    #[test]
    fn content_stage_every_key_round_trips() {
        let p = parse(&format!(
            r#"{CONTENT_BASE}findings = {{ jsonl = "debug/findings" }}
            [[analyse]]
            kind = "content"
            protected_file = "conf/protected.txt"
            protected = ["examplecorp.com"]
            generic_labels = ["office"]
            allow_domains = ["partner-cdn.net"]
            owners_file = "conf/owners.txt"
            [analyse.owners]
            "examplecorp.com" = ["examplecorp.*", ".examplecorp"]
            [analyse.popular]
            mode = "demote"
            file = "conf/top.txt"
            [analyse.missing_fqdn]
            enabled = true
            allow = ["203.0.113.0/24", "2001:db8::7"]
            [analyse.typosquat]
            enabled = true
            max_distance = 2
            long_max_distance = 3
            long_length = 12
            min_length = 4
            other_tld = false
            country_tlds = true
            min_score = 0.7
            [analyse.masquerade]
            enabled = true
            brand_labels = false
            brand_min_length = 4
            combo_words = ["login"]
            min_score = 0.5
            punycode = false
            max_length = 100
            max_labels = 8
            [analyse.dga]
            enabled = false
            threshold = 0.75
            min_length = 10
            platform_suffixes = true
            "#
        ))
        .unwrap();
        let AnalyseStage::Content(c) = &p.analyse[0] else { panic!("a content stage: {:?}", p.analyse) };
        assert_eq!(c.protected_file.as_deref(), Some("/base/conf/protected.txt"), "relative to the pipeline file's folder");
        assert_eq!(
            (c.protected.as_slice(), c.generic_labels.as_slice()),
            (&["examplecorp.com".to_string()][..], &["office".to_string()][..])
        );
        assert_eq!(c.allow_domains, ["partner-cdn.net"]);
        assert_eq!(c.owners_file.as_deref(), Some("/base/conf/owners.txt"));
        assert_eq!(c.owners["examplecorp.com"], ["examplecorp.*", ".examplecorp"]);
        assert_eq!((c.popular.mode, c.popular.file.as_deref()), (sweep_content::PopularMode::Demote, Some("/base/conf/top.txt")));
        assert_eq!(
            (c.typosquat.min_score, c.masquerade.min_score, c.masquerade.combo_words.as_slice()),
            (0.7, 0.5, &["login".to_string()][..])
        );
        assert_eq!(c.missing_fqdn.allow, ["203.0.113.0/24", "2001:db8::7"]);
        let t = &c.typosquat;
        assert_eq!(
            (t.max_distance, t.long_max_distance, t.long_length, t.min_length, t.other_tld, t.country_tlds),
            (2, 3, 12, 4, false, true)
        );
        let m = &c.masquerade;
        assert_eq!((m.brand_labels, m.brand_min_length, m.punycode, m.max_length, m.max_labels), (false, 4, false, 100, 8));
        assert_eq!((c.dga.enabled, c.dga.threshold, c.dga.min_length, c.dga.platform_suffixes), (false, 0.75, 10, true));
        assert_eq!(p.load.sink("findings"), Some(SinkSpec::Jsonl("/base/debug/findings".into())));
        let again = Pipeline::from_toml_str(&p.to_toml(), "again", Path::new("/elsewhere")).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn content_stage_errors_say_what_to_change() {
        let content = |extra: &str| parse(&format!("{CONTENT_BASE}[[analyse]]\nkind = \"content\"\n{extra}")).unwrap_err();
        let err = content("[analyse.dga]\nthreshold = 2.0\n");
        assert!(err.contains("analyse[0] (content): dga.threshold is 2: use a number in (0, 1]"), "{err}");
        let err = content("[analyse.typosquat]\nmax_distance = 3\n");
        assert!(err.contains("analyse[0] (content): typosquat.max_distance is 3"), "{err}");
        let err = content("protected_files = \"x\"\n");
        assert!(err.contains("unknown field `protected_files`") && err.contains("protected_file"), "{err}");
        let err = content("[analyse.dga]\nthreshhold = 0.5\n");
        assert!(err.contains("unknown field `threshhold`"), "{err}");
        let err = content("[[analyse]]\nkind = \"content\"\n");
        assert!(err.contains("more than one content analyser"), "{err}");
        let err = content(
            "[analyse.missing_fqdn]\nenabled = false\n[analyse.typosquat]\nenabled = false\n[analyse.masquerade]\nenabled = false\n[analyse.dga]\nenabled = false\n",
        );
        assert!(err.contains("every detector is disabled"), "{err}");
        let err = parse(
            "[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\n[[analyse]]\nkind = \"content\"\n[load]\nevents = { parquet = \"e\" }",
        )
        .unwrap_err();
        assert!(err.contains("no findings table: set [load] dir or load.findings"), "{err}");
        let err = parse("[[extract]]\nformat = \"squid\"\n[extract.kafka]\nbrokers = \"b:1\"\ntopics = [\"t\"]\n[[analyse]]\nkind = \"content\"\n[load]\ndir = \"l\"\nfindings = { jsonl = \"f\" }\n[stream]\ncheckpoint = \"c\"")
            .unwrap_err();
        assert!(err.contains("the findings table is JSON lines"), "{err}");
        let err = parse(&format!("{CONTENT_BASE}[[analyse]]\nkind = \"contnet\"\n")).unwrap_err();
        assert!(err.contains("unknown variant `contnet`") && err.contains("content"), "{err}");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let err = parse("[[extract]]\nfiles = [\"a\"]\nformat = \"sqiud\"\n[load]\ndir = \"x\"").unwrap_err();
        assert!(err.contains("did you mean \"squid\"") && err.contains("line 3"), "{err}");
        let err = parse("[[extract]]\nfiles = [\"a\"]\nfromat = \"squid\"").unwrap_err();
        assert!(err.contains("unknown field `fromat`"), "{err}");
        let err = parse("[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"").unwrap_err();
        assert!(err.contains("writes nothing"), "{err}");
        let err = parse("[load]\ndir = \"x\"").unwrap_err();
        assert!(err.contains("reads nothing"), "{err}");
        let err = parse("engine = \"sparkle\"\n[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"").unwrap_err();
        assert!(err.contains("unknown variant `sparkle`") && err.contains("embedded"), "{err}");
        let err = parse("[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\n[load]\nevents = { parquet = \"x\" }\nmode = \"replace\"")
            .unwrap_err();
        assert!(err.contains("unknown variant `replace`") && err.contains("overwrite"), "{err}");
        let err =
            parse("[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\n[[analyse]]\nkind = \"sweeper\"\nintel = []\n[load]\ndir = \"x\"")
                .unwrap_err();
        assert!(err.contains("has no feeds"), "{err}");
        let err = parse("[[extract]]\nfiles = [\"a\"]\nformat = \"squid\"\n[[analyse]]\nkind = \"sweeper\"\nintel = [{ path = \"f\" }]\nfields = [\"hots\"]\n[load]\ndir = \"x\"")
            .unwrap_err();
        assert!(err.contains("unknown variant `hots`"), "{err}");
    }
}

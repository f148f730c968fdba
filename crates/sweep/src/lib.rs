//! # sweep: threat-intelligence ETL for web proxy logs
//!
//! sweep reads proxy logs, turns every line into a typed event or a reject with a
//! reason, and writes lakehouse tables. A pipeline is data ([`Pipeline`]); this crate
//! gives it a fluent Rust API that reads like the data flow:
//!
//! ```no_run
//! use sweep::{Etl, Files, Format, Parquet};
//!
//! let summary = Etl::embedded()
//!     .extract(Files::paths(["/var/log/squid/"]))
//!     .transform(Format::squid())
//!     .rejects_to(Parquet::table("lake/rejects"))
//!     .sql("SELECT * FROM events WHERE host IS NOT NULL")
//!     .load(Parquet::table("lake/events"))
//!     .run()?;
//! assert_eq!(summary.input_lines, summary.events + summary.rejects + summary.skipped);
//! # Ok::<(), sweep::Error>(())
//! ```
//!
//! The same pipeline as a TOML file runs with `sweep run pipeline.toml`; see
//! [`Flow::to_toml`] and docs/pipeline.md.

pub mod check;
pub mod generate;
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use arrow;
pub use sweep_calendar as calendar;
pub use sweep_content as content;
pub use sweep_embedded::EngineError;
pub use sweep_embedded::query::QueryResult;
pub use sweep_embedded::retro_sigma::retro_sigma;
pub use sweep_extract as extract;
pub use sweep_formats as formats;
pub use sweep_intel_sources as intel_sources;
pub use sweep_load as load;
pub use sweep_model::{
    AnalyseStage, ConfigError, ContentSpec, EngineKind, ExtractSpec, FEED_URL_SCHEMES, FeedSpec, FormatSpec, IntelSettings, KafkaSinkSpec,
    KafkaSourceSpec, LoadSpec, MatchField, Pipeline, Settings, SinkSpec, StartPosition, StreamSettings, SweeperSpec, TableFormat,
    TransformStage, WriteMode,
};
pub use sweep_runtime::SigmaRetroSummary;
pub use sweep_runtime::detect as detect_format;
pub use sweep_runtime::intel::batch_cache_dir as intel_cache_dir;
pub use sweep_runtime::{IntelSummary, RetroSummary, RunCounters, RunError, RunSummary, StreamSummary, TableSummary};
pub use sweep_sigma as sigma;
pub use sweep_sigma::SigmaSpec;
pub use sweep_storage::WHAT_REMOTE_IS;
pub use sweep_sweeper as sweeper;
pub use sweep_window::{KeyKind, Metric, Span, Threshold, WindowSpec};

use sweep_runtime::Engine as _;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] sweep_embedded::EngineError),
    #[error(transparent)]
    Format(#[from] sweep_formats::FormatError),
    #[cfg(feature = "spark")]
    #[error(transparent)]
    Spark(#[from] sweep_spark::SparkError),
    /// A part of sweep this binary was built without (the quick build of `scripts/demo`).
    #[error("this sweep was built without {what} {}", sweep_model::BUILT_WITHOUT_ADVICE)]
    NotBuilt { what: &'static str },
    #[error(transparent)]
    Query(#[from] sweep_embedded::query::QueryError),
    /// A URL this binary cannot serve (the quick build has no object storage or HTTP(S)).
    #[error(transparent)]
    Storage(#[from] sweep_storage::StorageError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// A `sweep test` file that cannot be read or makes no sense (the message names the file).
    #[error("{0}")]
    Tests(String),
}

/// Runs one SQL statement over the tables of `lake` (the embedded engine reads them, Delta
/// tables through their log) and collects the result.
pub fn query_lake(lake: &Path, sql: &str) -> Result<Vec<arrow::record_batch::RecordBatch>, Error> {
    Ok(sweep_embedded::query::query_lake_blocking(lake, sql)?)
}

/// Like [`query_lake`], with the result's schema (which an empty result still has).
pub fn query_lake_result(lake: &Path, sql: &str) -> Result<QueryResult, Error> {
    Ok(sweep_embedded::query::query_lake_result_blocking(lake, sql)?)
}

impl Error {
    /// The run's own error, whichever engine ran: how callers tell an interrupted run or a
    /// failed check from other failures.
    pub fn run_error(&self) -> Option<&RunError> {
        match self {
            Error::Engine(sweep_embedded::EngineError::Run(e)) | Error::Run(e) => Some(e),
            #[cfg(feature = "spark")]
            Error::Spark(sweep_spark::SparkError::Run(e)) => Some(e),
            _ => None,
        }
    }
}

/// The engine a pipeline or a retro-sweep runs on: the one place where the front ends (this
/// API and the CLI) choose it. Each engine implements [`sweep_runtime::Engine`].
#[derive(Debug, Clone)]
pub enum Engine {
    /// DataFusion in this process (the default).
    Embedded(sweep_embedded::Embedded),
    /// A Spark Connect server.
    #[cfg(feature = "spark")]
    Spark(sweep_spark::Spark),
}

impl Engine {
    /// The engine `kind`: for Spark, the server at `remote` (else `$SWEEP_SPARK_REMOTE`); for
    /// the embedded engine, `threads` for retro-sweeps (0: one per core).
    #[cfg_attr(not(feature = "spark"), allow(unused_variables))]
    pub fn new(kind: EngineKind, remote: Option<&str>, threads: usize) -> Result<Engine, Error> {
        Ok(match kind {
            EngineKind::Embedded => Engine::Embedded(sweep_embedded::Embedded { threads }),
            #[cfg(feature = "spark")]
            EngineKind::Spark => Engine::Spark(sweep_spark::Spark::new(remote)?),
            #[cfg(not(feature = "spark"))]
            EngineKind::Spark => return Err(Error::NotBuilt { what: "the Spark engine" }),
        })
    }

    /// The engine a pipeline names (`engine`, `remote`, `settings.threads`).
    pub fn for_pipeline(pipeline: &Pipeline) -> Result<Engine, Error> {
        Engine::new(pipeline.engine, pipeline.remote.as_deref(), pipeline.settings.threads)
    }

    /// Runs a pipeline; raising `stop` ends a streaming pipeline after the batch in flight
    /// commits, and a batch run over files with nothing committed ([`RunError::Interrupted`]).
    pub fn run_until(&self, pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, Error> {
        if let Some(missing) = missing_part(pipeline) {
            return Err(missing);
        }
        // `format = "auto"` is settled per file here, once for both engines.
        let (pipeline, detected) = sweep_runtime::detect::resolve_auto_formats(pipeline)?;
        let mut summary = match self {
            Engine::Embedded(e) => e.run_until(&pipeline, counters, stop)?,
            #[cfg(feature = "spark")]
            Engine::Spark(e) => e.run_until(&pipeline, counters, stop)?,
        };
        summary.detected_formats = detected;
        Ok(summary)
    }

    /// Sweeps the events stored under `lake` (from `since`, a `YYYY-MM-DD` date) with the
    /// sweeper's indicators and appends the hits not already stored.
    pub fn retro(&self, lake: &Path, spec: &SweeperSpec, since: Option<&str>) -> Result<RetroSummary, Error> {
        Ok(match self {
            Engine::Embedded(e) => e.retro(lake, spec, since)?,
            #[cfg(feature = "spark")]
            Engine::Spark(e) => e.retro(lake, spec, since)?,
        })
    }

    /// Evaluates Sigma rules over the events stored under `lake` (from `since`) and appends
    /// the detections not already stored.
    pub fn retro_sigma(&self, lake: &Path, spec: &SigmaSpec, since: Option<&str>) -> Result<SigmaRetroSummary, Error> {
        Ok(match self {
            Engine::Embedded(e) => e.retro_sigma(lake, spec, since)?,
            #[cfg(feature = "spark")]
            Engine::Spark(e) => e.retro_sigma(lake, spec, since)?,
        })
    }
}

/// The first part of sweep that `pipeline` needs and this build left out (a build without
/// the default features: scripts/demo's quick one), said before anything is read.
pub fn missing_part(pipeline: &Pipeline) -> Option<Error> {
    let kafka = pipeline.is_streaming() || pipeline.load.alerts.is_some();
    let delta = pipeline.load.writes_delta();
    let url = if cfg!(feature = "remote") { None } else { pipeline.first_url() };
    if kafka && !cfg!(feature = "kafka") {
        Some(Error::NotBuilt { what: "Kafka" })
    } else if delta && !cfg!(feature = "delta") {
        Some(Error::NotBuilt { what: "Delta tables" })
    } else if pipeline.engine == EngineKind::Spark && !cfg!(feature = "spark") {
        Some(Error::NotBuilt { what: "the Spark engine" })
    } else {
        url.map(|url| Error::Storage(sweep_storage::StorageError::NotBuilt { url }))
    }
}

/// Runs a pipeline on the engine it names. A streaming (Kafka) pipeline runs until its
/// topic is drained (`stop_when_drained`) or forever; use [`run_pipeline_until`] to stop it.
pub fn run_pipeline(pipeline: &Pipeline, counters: Arc<RunCounters>) -> Result<RunSummary, Error> {
    run_pipeline_until(pipeline, counters, Arc::new(AtomicBool::new(false)))
}

/// Runs a pipeline on the engine it names; see [`Engine::run_until`].
pub fn run_pipeline_until(pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, Error> {
    Engine::for_pipeline(pipeline)?.run_until(pipeline, counters, stop)
}

/// Where lines come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    files: Vec<String>,
    stdin: bool,
    kafka: Option<KafkaSourceSpec>,
}

impl Source {
    /// The Kafka settings of a Kafka source (group, start position, batch size, options).
    pub fn kafka_mut(&mut self) -> Option<&mut KafkaSourceSpec> {
        self.kafka.as_mut()
    }
}

/// Log files: paths, directories and glob patterns.
pub struct Files;

impl Files {
    /// Files, directories (every non-hidden file below) or glob patterns.
    pub fn paths<I, S>(paths: I) -> Source
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Source { files: paths.into_iter().map(|s| s.as_ref().to_string()).collect(), stdin: false, kafka: None }
    }

    /// One glob pattern, such as `/var/log/squid/access.log*`.
    pub fn glob(pattern: impl AsRef<str>) -> Source {
        Files::paths([pattern])
    }
}

/// Standard input.
pub struct Stdin;

impl From<Stdin> for Source {
    fn from(_: Stdin) -> Source {
        Source { files: Vec::new(), stdin: true, kafka: None }
    }
}

/// A Kafka topic of log lines, one per message (a streaming pipeline: give it a
/// [`Flow::checkpoint`]).
pub struct Kafka;

impl Kafka {
    /// Every partition of `topic` on `brokers` (`host:port[,host:port]`), with default
    /// settings; adjust them with [`Kafka::source`].
    pub fn topic(brokers: impl Into<String>, topic: impl Into<String>) -> Source {
        Kafka::source(KafkaSourceSpec {
            brokers: brokers.into(),
            topics: vec![topic.into()],
            group: sweep_model::default_group(),
            start: StartPosition::default(),
            batch_size: 100_000,
            batch_interval_ms: 1_000,
            options: Default::default(),
        })
    }

    /// A fully specified Kafka source (group, start position, batch size, librdkafka options).
    pub fn source(spec: KafkaSourceSpec) -> Source {
        Source { files: Vec::new(), stdin: false, kafka: Some(spec) }
    }

    /// A topic that receives alerts (hits and threshold breaches) as JSON, for [`Flow::alerts_to`].
    pub fn alerts(brokers: impl Into<String>, topic: impl Into<String>) -> KafkaSinkSpec {
        KafkaSinkSpec { brokers: brokers.into(), topic: topic.into(), options: Default::default() }
    }
}

/// The built-in log formats.
pub struct Format;

impl Format {
    pub fn squid() -> FormatSpec {
        FormatSpec::Squid
    }
    pub fn squid_common() -> FormatSpec {
        FormatSpec::SquidCommon
    }
    pub fn squid_combined() -> FormatSpec {
        FormatSpec::SquidCombined
    }
    pub fn common() -> FormatSpec {
        FormatSpec::Common
    }
    pub fn combined() -> FormatSpec {
        FormatSpec::Combined
    }
    pub fn vhost_combined() -> FormatSpec {
        FormatSpec::VhostCombined
    }
    pub fn elff() -> FormatSpec {
        FormatSpec::Elff(Default::default())
    }
    pub fn zscaler() -> FormatSpec {
        FormatSpec::Zscaler(Default::default())
    }
    pub fn jsonl() -> FormatSpec {
        FormatSpec::Jsonl(Default::default())
    }
    /// A format by name (`"squid"`, `"nginx"`, ...), as in a pipeline file.
    pub fn named(name: &str) -> Result<FormatSpec, Error> {
        Ok(FormatSpec::from_name(name)?)
    }
    /// A user-defined format: a pattern of named fields (docs/formats/custom.md).
    pub fn custom(pattern: impl Into<String>) -> Result<FormatSpec, Error> {
        let spec = FormatSpec::Custom(sweep_formats::formats::custom::CustomOptions { pattern: pattern.into() });
        spec.build()?;
        Ok(spec)
    }
}

/// The threat-intel sweeper stage.
pub struct Sweeper;

impl Sweeper {
    /// A sweeper over feed files or folders (kinds detected), checking the default fields.
    pub fn feeds<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> SweeperSpec {
        SweeperSpec::from_paths(paths)
    }
}

/// A folder of Parquet files.
pub struct Parquet;

impl Parquet {
    pub fn table(path: impl Into<PathBuf>) -> SinkSpec {
        SinkSpec::Parquet(path.into())
    }
}

/// A Delta Lake table (exactly-once commits per streaming batch).
pub struct Delta;

impl Delta {
    pub fn table(path: impl Into<PathBuf>) -> SinkSpec {
        SinkSpec::Delta(path.into())
    }
}

/// The window analyser stage: sliding-window volume metrics (docs/windows.md).
pub struct Window;

impl Window {
    /// Windows of `size` starting every `slide` ("5m", "1m"), keyed by client_ip; set
    /// `keys`, `allowed_lateness` and `thresholds` on the returned spec.
    pub fn sliding(size: &str, slide: &str) -> Result<WindowSpec, Error> {
        let parse = |what: &str, text: &str| {
            text.parse::<Span>().map_err(|e| ConfigError::Invalid { path: "(fluent API)".into(), message: format!("window {what}: {e}") })
        };
        Ok(WindowSpec::new(parse("size", size)?, parse("slide", slide)?))
    }
}

/// The content analyser stage: malicious-looking hosts, written to `findings` (docs/content.md).
pub struct Content;

impl Content {
    /// Every detector (missing_fqdn, typosquat, masquerade, dga) with the bundled lists; set
    /// `protected`, `allow_domains` or a detector's options on the returned spec.
    pub fn detectors() -> ContentSpec {
        ContentSpec::default()
    }
}

/// The Sigma analyser stage: detection rules over the events, written to `detections`
/// (docs/sigma.md).
pub struct Sigma;

impl Sigma {
    /// The rules in these files and folders, with the default field map; set `min_level` or
    /// field overrides on the returned spec.
    pub fn rules<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> SigmaSpec {
        SigmaSpec::rules(paths)
    }
}

/// A folder of JSON-lines files (for debugging).
pub struct Jsonl;

impl Jsonl {
    pub fn table(path: impl Into<PathBuf>) -> SinkSpec {
        SinkSpec::Jsonl(path.into())
    }
}

/// The start of a pipeline: which engine, which settings.
#[derive(Debug, Clone, Default)]
pub struct Etl {
    pipeline: Pipeline,
}

impl Etl {
    /// The embedded engine (DataFusion in this process).
    pub fn embedded() -> Etl {
        Etl::default()
    }

    /// The Spark engine, through the Spark Connect server at `remote` (`sc://host:15002`);
    /// docs/spark.md says what runs there.
    pub fn spark(remote: impl Into<String>) -> Etl {
        Etl { pipeline: Pipeline { engine: EngineKind::Spark, remote: Some(remote.into()), ..Pipeline::default() } }
    }

    /// Starts from a pipeline read from a file (its inputs and outputs are kept; the
    /// fluent calls add to them).
    pub fn from_config(pipeline: Pipeline) -> Etl {
        Etl { pipeline }
    }

    /// Reads a pipeline file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Etl, Error> {
        Ok(Etl::from_config(Pipeline::from_file(path.as_ref())?))
    }

    pub fn settings(mut self, settings: Settings) -> Etl {
        self.pipeline.settings = settings;
        self
    }

    /// Where lines come from; name their format next with [`Extracting::transform`].
    pub fn extract(self, source: impl Into<Source>) -> Extracting {
        Extracting { flow: Flow { pipeline: self.pipeline }, source: source.into() }
    }
}

/// A source waiting for its format.
#[derive(Debug, Clone)]
pub struct Extracting {
    flow: Flow,
    source: Source,
}

impl Extracting {
    /// Parses the source's lines with `format` into events and rejects.
    pub fn transform(mut self, format: FormatSpec) -> Flow {
        let Source { files, stdin, kafka } = self.source;
        self.flow.pipeline.extract.push(ExtractSpec { files, stdin, kafka, format });
        self.flow
    }
}

/// A pipeline being described.
#[derive(Debug, Clone)]
pub struct Flow {
    pipeline: Pipeline,
}

impl Flow {
    /// Adds another source (with its own format) to the same tables.
    pub fn extract(self, source: impl Into<Source>) -> Extracting {
        Extracting { flow: self, source: source.into() }
    }

    /// A SQL stage over the table `events` (the previous stage's output).
    pub fn sql(mut self, query: impl Into<String>) -> Flow {
        self.pipeline.transform.push(TransformStage { sql: query.into() });
        self
    }

    /// Adds an analyser over the transformed events: [`Sweeper`] (writes `hits`), [`Window`]
    /// (`metrics`) or [`Content`] (`findings`).
    pub fn analyse(mut self, stage: impl Into<AnalyseStage>) -> Flow {
        self.pipeline.analyse.push(stage.into());
        self
    }

    /// Where hits go.
    pub fn hits_to(mut self, sink: SinkSpec) -> Flow {
        self.pipeline.load.hits = Some(sink);
        self
    }

    /// Where rejected lines go.
    pub fn rejects_to(mut self, sink: SinkSpec) -> Flow {
        self.pipeline.load.rejects = Some(sink);
        self
    }

    /// Where the content analyser's findings go.
    pub fn findings_to(mut self, sink: SinkSpec) -> Flow {
        self.pipeline.load.findings = Some(sink);
        self
    }

    /// Where window metrics go.
    pub fn metrics_to(mut self, sink: SinkSpec) -> Flow {
        self.pipeline.load.metrics = Some(sink);
        self
    }

    /// Publishes hits and threshold alerts to a Kafka topic ([`Kafka::alerts`]).
    pub fn alerts_to(mut self, sink: KafkaSinkSpec) -> Flow {
        self.pipeline.load.alerts = Some(sink);
        self
    }

    /// The checkpoint folder of a streaming pipeline (offsets and window state per batch).
    pub fn checkpoint(mut self, dir: impl Into<PathBuf>) -> Flow {
        self.pipeline.stream.checkpoint = Some(dir.into());
        self
    }

    /// Stops a streaming pipeline once its topic is read to the end.
    pub fn until_drained(mut self) -> Flow {
        self.pipeline.stream.stop_when_drained = true;
        self
    }

    /// Where events go.
    pub fn load(mut self, sink: SinkSpec) -> Flow {
        self.pipeline.load.events = Some(sink);
        self
    }

    /// A lake folder: every table not given explicitly goes to `<dir>/<table>`.
    pub fn lake(mut self, dir: impl Into<PathBuf>) -> Flow {
        self.pipeline.load.dir = Some(dir.into());
        self
    }

    /// What to do when a table folder already holds data.
    pub fn mode(mut self, mode: WriteMode) -> Flow {
        self.pipeline.load.mode = mode;
        self
    }

    /// The pipeline as data.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The same pipeline as a TOML file for `sweep run`.
    pub fn to_toml(&self) -> String {
        self.pipeline.to_toml()
    }

    /// Runs the pipeline to the end.
    pub fn run(self) -> Result<RunSummary, Error> {
        self.run_with(Arc::default())
    }

    /// Runs the pipeline, updating `counters` as it goes (for progress displays).
    pub fn run_with(self, counters: Arc<RunCounters>) -> Result<RunSummary, Error> {
        self.run_until(counters, Arc::new(AtomicBool::new(false)))
    }

    /// Runs the pipeline; raising `stop` ends a streaming pipeline after its batch in flight.
    pub fn run_until(self, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, Error> {
        self.pipeline.validate().map_err(|message| ConfigError::Invalid { path: "(fluent API)".into(), message })?;
        run_pipeline_until(&self.pipeline, counters, stop)
    }
}

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

pub mod generate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use sweep_embedded::retro::{RetroSummary, retro as retro_sweep};
pub use sweep_embedded::{IntelSummary, RunCounters, RunSummary, TableSummary, query, sweeper};
pub use sweep_formats as formats;
pub use sweep_model::{
    AnalyseStage, ConfigError, EngineKind, ExtractSpec, FeedSpec, FormatSpec, LoadSpec, MatchField, Pipeline, Settings, SinkSpec,
    SweeperSpec, TransformStage, WriteMode,
};

/// Sweeps the events stored under `lake` (from `since`, a `YYYY-MM-DD` date) with the
/// sweeper's indicators and appends the hits not already stored.
pub fn retro(lake: &Path, spec: &SweeperSpec, since: Option<&str>, threads: usize) -> Result<RetroSummary, Error> {
    Ok(retro_sweep(lake, spec, since, threads)?)
}

/// Anything that can stop a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] sweep_embedded::EngineError),
    #[error(transparent)]
    Format(#[from] sweep_formats::FormatError),
}

/// Runs a pipeline on the engine it names.
pub fn run_pipeline(pipeline: &Pipeline, counters: Arc<RunCounters>) -> Result<RunSummary, Error> {
    match pipeline.engine {
        EngineKind::Embedded => Ok(sweep_embedded::run(pipeline, counters)?),
    }
}

/// Where lines come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    files: Vec<String>,
    stdin: bool,
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
        Source { files: paths.into_iter().map(|s| s.as_ref().to_string()).collect(), stdin: false }
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
        Source { files: Vec::new(), stdin: true }
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
        self.flow.pipeline.extract.push(ExtractSpec { files: self.source.files, stdin: self.source.stdin, format });
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

    /// Sweeps the events against indicators: writes the `hits` table.
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
        self.pipeline.validate().map_err(|message| ConfigError::Invalid { path: "(fluent API)".into(), message })?;
        run_pipeline(&self.pipeline, counters)
    }
}

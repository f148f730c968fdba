//! Why a run fails: the errors of the components every engine shares, and the run's own.

/// Why a run failed, whatever the engine. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Extract(#[from] sweep_extract::ExtractError),
    #[error(transparent)]
    Format(#[from] sweep_formats::FormatError),
    #[error(transparent)]
    Load(#[from] sweep_load::LoadError),
    #[error(transparent)]
    Intel(#[from] sweep_intel::feeds::FeedError),
    #[error(transparent)]
    Sweeper(#[from] sweep_sweeper::SweeperError),
    #[error(transparent)]
    IntelSource(Box<sweep_intel_sources::SourceError>),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// An internal failure (a thread that panicked, a lock poisoned): not the user's doing.
    #[error("a worker thread stopped unexpectedly: {0}")]
    Worker(String),
    /// What the user asked for cannot be done as given; the message names it (their path,
    /// flag or key) and says what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Kafka(#[from] sweep_kafka::KafkaError),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("window analyser: {0}")]
    Window(#[from] sweep_window::WindowError),
    #[error(transparent)]
    Content(#[from] sweep_content::ContentError),
    #[error(transparent)]
    Sigma(#[from] sweep_sigma::SigmaError),
    #[error("{0}; nothing was committed, the lake is as it was")]
    Check(String),
    #[error("format \"auto\": {0}")]
    AutoFormat(String),
    #[error(
        "interrupted (Ctrl-C or SIGTERM) after {lines} lines: nothing was committed, the lake is as it was; run the same command again to load the inputs"
    )]
    Interrupted { lines: u64 },
}

impl RunError {
    /// An intel source's error (boxed: it is large and rare).
    pub fn intel(e: sweep_intel_sources::SourceError) -> RunError {
        RunError::IntelSource(Box::new(e))
    }
}

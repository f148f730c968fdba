//! The embedded engine's errors: a run's own ([`RunError`], shared with every engine) and
//! those of its query engine, DataFusion.

use datafusion::error::DataFusionError;
use sweep_runtime::RunError;

/// Why a run on the embedded engine failed. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Run(#[from] RunError),
    /// `stage` counts from 0; the user counts the `[[transform]]` sections (the `--sql`
    /// flags) from 1.
    #[error("SQL stage {}: {source}", .stage + 1)]
    Sql { stage: usize, source: DataFusionError },
    #[error("query engine: {0}")]
    DataFusion(#[from] DataFusionError),
}

impl EngineError {
    /// A failure with no component error behind it; the message says what to do.
    pub fn worker(message: impl Into<String>) -> EngineError {
        EngineError::Run(RunError::Worker(message.into()))
    }

    /// A request that cannot be done as given (the user's mistake); the message names it and
    /// says what to do.
    pub fn refused(message: impl Into<String>) -> EngineError {
        EngineError::Run(RunError::Refused(message.into()))
    }

    pub fn runtime(source: std::io::Error) -> EngineError {
        EngineError::Run(RunError::Runtime(source))
    }

    pub fn checkpoint(message: impl Into<String>) -> EngineError {
        EngineError::Run(RunError::Checkpoint(message.into()))
    }

    pub fn interrupted(lines: u64) -> EngineError {
        EngineError::Run(RunError::Interrupted { lines })
    }
}

/// Component errors convert through [`RunError`], as `?` needs.
macro_rules! through_run_error {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for EngineError {
            fn from(e: $error) -> EngineError {
                EngineError::Run(e.into())
            }
        })*
    };
}

through_run_error!(
    sweep_extract::ExtractError,
    sweep_formats::FormatError,
    sweep_load::LoadError,
    sweep_intel::feeds::FeedError,
    sweep_sweeper::SweeperError,
    datafusion::arrow::error::ArrowError,
    sweep_kafka::KafkaError,
    sweep_window::WindowError,
    sweep_content::ContentError,
    sweep_sigma::SigmaError,
);

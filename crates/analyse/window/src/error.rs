use thiserror::Error;

/// What can go wrong in a window analyser. Every message says what to change.
#[derive(Debug, Error)]
pub enum WindowError {
    /// The spec is not usable (`[[analyse]] kind = "window"`).
    #[error("window analyser: {0}")]
    Spec(String),
    /// An input batch lacks a column the analyser reads, or has it in a type it cannot read.
    #[error("window analyser: {0}")]
    Column(String),
    /// Two analysers cannot be merged.
    #[error("window analyser: cannot merge: {0}")]
    Merge(String),
    /// A checkpoint cannot be restored.
    #[error("window analyser: cannot restore checkpoint: {0}")]
    Snapshot(String),
    /// Arrow failed building the metrics batch (a bug if it happens).
    #[error("window analyser: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

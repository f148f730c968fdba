use thiserror::Error;

/// What can go wrong in a content analyser. Every message says what to change.
#[derive(Debug, Error)]
pub enum ContentError {
    /// The spec is not usable (`[[analyse]] kind = "content"`), or a list it names cannot be
    /// read (the protected-domains file, an allowlist entry).
    #[error("content analyser: {0}")]
    Spec(String),
    /// An input batch lacks a column the analyser reads, or has it in a type it cannot read.
    #[error("content analyser: {0}")]
    Column(String),
    /// Arrow failed building the findings batch (a bug if it happens).
    #[error("content analyser: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

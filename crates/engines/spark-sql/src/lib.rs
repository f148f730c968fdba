//! # sweep-spark-sql: log formats as Spark SQL
//!
//! The Spark engine's compiler for log formats, without the engine: it builds the SQL that
//! turns a line into an event or a reject, and needs no Spark server to build or test.

pub mod formats;

/// Why a format cannot run on Spark, in words for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

//! # sweep-embedded: the in-process engine
//!
//! Runs a [`Pipeline`] on one machine with Apache DataFusion, using every core:
//!
//! ```text
//!  reader thread ──chunks──▶ parser threads (one per core) ──events──▶ DataFusion plan ──▶ events sink
//!  (extract: files, gzip,      (transform: bytes → Arrow,     │           (a StreamingTable
//!   zstd, stdin)                one stream per parser)        │            partition per parser,
//!                                                             │            SQL stages on top)
//!                                                             └─rejects──▶ rejects sink (per parser)
//! ```
//!
//! Every channel is bounded, so memory stays flat however large the input is.
//! [`query`] runs SQL over tables a run has written.

pub mod query;
pub mod retro;
mod run;
pub mod stream;
pub mod sweeper;
pub mod window;

pub use run::{EngineError, IntelSummary, RunCounters, RunSummary, TableSummary, check_gates, run, run_until, run_warnings};
pub use sweep_model::Pipeline;

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

pub mod check;
mod error;
pub mod query;
pub mod retro;
pub mod retro_sigma;
mod run;
pub mod stream;
pub mod window;

pub use error::EngineError;
pub use run::{run, run_until};
pub use sweep_model::Pipeline;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sweep_model::{SigmaSpec, SweeperSpec};
use sweep_runtime::{RetroSummary, RunCounters, RunSummary, SigmaRetroSummary};

/// The embedded engine behind the [`sweep_runtime::Engine`] seam.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedded {
    /// Threads for a retro-sweep (0: one per core); a run takes its pipeline's `threads`.
    pub threads: usize,
}

impl sweep_runtime::Engine for Embedded {
    type Error = EngineError;

    fn run_until(&self, pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, EngineError> {
        match pipeline.is_streaming() {
            true => stream::run_stream(pipeline, counters, stop),
            false => run::run_until(pipeline, counters, stop),
        }
    }

    fn retro(&self, lake: &Path, spec: &SweeperSpec, since: Option<&str>) -> Result<RetroSummary, EngineError> {
        retro::retro(lake, spec, since, self.threads)
    }

    fn retro_sigma(&self, lake: &Path, spec: &SigmaSpec, since: Option<&str>) -> Result<SigmaRetroSummary, EngineError> {
        retro_sigma::retro_sigma(lake, spec, since, self.threads)
    }
}

//! # sweep-runtime: what every engine shares
//!
//! The engines (`sweep-embedded`, `sweep-spark`) differ in how they parse, sweep and write;
//! they agree on everything around that, and it lives here, engine-free (std, serde, Arrow
//! and sweep's component crates; no query engine):
//!
//! - [`summary`]: what a run, a stream and a retro-sweep report, and the warnings and gates
//!   of scheduled jobs;
//! - [`checkpoint`]: the folder a stream resumes from, batch by batch;
//! - [`stream`]: the micro-batch protocol, written once: plan, checkpoint, process and
//!   commit (the engine's part), alerts, commit marker, group offsets;
//! - [`metrics`]: a stream's live counters and their Prometheus endpoint;
//! - [`alerts`]: hits and threshold breaches as Kafka messages;
//! - [`RunError`]: why a run failed, for the components every engine uses;
//! - [`Engine`]: the trait each engine implements, through which the front ends run it.

pub mod alerts;
pub mod checkpoint;
pub mod detect;
mod engine;
mod error;
pub mod intel;
pub mod metrics;
pub mod retro;
pub mod sigma;
pub mod stream;
pub mod summary;

pub use engine::Engine;
pub use error::RunError;
pub use retro::{RetroSummary, SigmaRetroSummary, detections_are_delta, hits_are_delta};
pub use summary::{LatencyRecorder, RunCounters, RunSummary, StreamSummary, TableSummary, check_gates, run_warnings};
pub use sweep_sweeper::IntelSummary;

/// The pipeline's content analyser, built (lists read, indexes made) before any table is
/// touched, so that a bad option fails the run before it writes.
pub fn content_analyser(pipeline: &sweep_model::Pipeline) -> Result<Option<std::sync::Arc<sweep_content::ContentAnalyser>>, RunError> {
    Ok(pipeline.content().map(|spec| sweep_content::ContentAnalyser::new(spec.clone())).transpose()?.map(std::sync::Arc::new))
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

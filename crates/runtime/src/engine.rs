//! The seam between sweep's front ends (the fluent API, the CLI) and its engines.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sweep_model::{Pipeline, SweeperSpec};
use sweep_sigma::SigmaSpec;

use crate::{RetroSummary, RunCounters, RunSummary, SigmaRetroSummary};

/// What an engine does for the front ends: run a pipeline, and retro-sweep a lake. Each
/// engine crate implements it once; the facade (`sweep::Engine`) picks the engine a pipeline
/// names and dispatches through this trait, so no front end names an engine's internals.
pub trait Engine {
    /// The engine's error; it holds a [`RunError`](crate::RunError) for the failures every
    /// engine shares (an interrupted run, a failed check), so callers can tell them apart.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs `pipeline`: a batch run over files until it commits, or a stream (a Kafka source)
    /// until `stop` is raised or, with `stop_when_drained`, until the topic is read to its
    /// end. Raising `stop` during a batch run ends it with nothing committed.
    fn run_until(&self, pipeline: &Pipeline, counters: Arc<RunCounters>, stop: Arc<AtomicBool>) -> Result<RunSummary, Self::Error>;

    /// Sweeps the events stored under `lake` (from `since`, a `YYYY-MM-DD` date) with the
    /// indicators of `spec`, and appends the hits the lake does not hold yet, in one
    /// transaction with the intel snapshot.
    fn retro(&self, lake: &Path, spec: &SweeperSpec, since: Option<&str>) -> Result<RetroSummary, Self::Error>;

    /// Evaluates the Sigma rules of `spec` over the events stored under `lake` (from `since`)
    /// and appends, in one transaction, the detections the lake does not hold yet: a
    /// detection is identified by its event (`source`, `offset`) and rule (`rule_id`, else
    /// `rule_title`), a correlation match by its rule, group and last event time.
    fn retro_sigma(&self, lake: &Path, spec: &SigmaSpec, since: Option<&str>) -> Result<SigmaRetroSummary, Self::Error>;
}

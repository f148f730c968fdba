//! What a run reports, whatever the engine: counts that must balance, where the tables
//! went, what a stream did, and the warnings and gates of scheduled jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use serde::Serialize;
use sweep_sweeper::IntelSummary;

use crate::RunError;

/// Live counters of a run, shared with whoever shows progress.
#[derive(Debug, Default)]
pub struct RunCounters {
    /// Bytes of input read so far (compressed bytes for compressed files).
    pub bytes_read: AtomicU64,
    /// Bytes of input in all files (0 when unknown, as for stdin).
    pub bytes_total: AtomicU64,
    pub lines: AtomicU64,
    pub events: AtomicU64,
    pub rejects: AtomicU64,
}

/// What a table received in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub files: usize,
}

/// The outcome of a run: the counts that must balance and where the tables went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub input_files: usize,
    pub input_bytes: u64,
    pub input_lines: u64,
    pub events: u64,
    pub rejects: u64,
    pub skipped: u64,
    pub hits: u64,
    pub metrics_rows: u64,
    /// Rows written to the findings table (0 without a content analyser).
    pub findings: u64,
    /// Findings per kind (`missing_fqdn`, `typosquat`, `masquerade`, `dga`); kinds with none are left out.
    pub findings_by_kind: BTreeMap<String, u64>,
    /// Rows written to the detections table (0 without a Sigma analyser).
    pub detections: u64,
    /// Present when the pipeline has a Sigma analyser: what its rule load did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<crate::sigma::SigmaSummary>,
    pub elapsed_s: f64,
    pub lines_per_second: f64,
    pub reject_reasons: BTreeMap<String, u64>,
    pub tables: BTreeMap<String, TableSummary>,
    /// Present when the pipeline has a sweeper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intel: Option<IntelSummary>,
    /// Present for streaming (Kafka) runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSummary>,
    /// With `format = "auto"`: the format chosen for each input file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detected_formats: BTreeMap<String, String>,
    /// The run's id in the lake's journal (`<lake>/_sweep/runs/`), when it wrote a lake.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    /// Inputs not read because an earlier run committed them unchanged (`--reload` reads them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs_skipped: Vec<String>,
    /// Runs a crash had left half-committed, completed when this run opened the lake.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovered_runs: Vec<String>,
    /// Things that did not stop the run but look like mistakes (wrong format, empty feed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Signs that a run that succeeded was probably not the run the user meant.
pub fn run_warnings(summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    let lines = summary.events + summary.rejects;
    if lines > 0 && summary.rejects * 2 > lines {
        let top = summary.reject_reasons.iter().max_by_key(|(_, n)| **n).map(|(r, _)| r.as_str()).unwrap_or("?");
        out.push(format!(
            "{} of {} lines ({:.0}%) were rejected, most as {top}: is the format right? (`sweep formats` lists them; the rejects table keeps every line)",
            summary.rejects,
            lines,
            100.0 * summary.rejects as f64 / lines as f64
        ));
    }
    if let Some(sigma) = &summary.sigma
        && sigma.rules_loaded == 0
    {
        out.push(format!(
            "no Sigma rule loaded ({} refused, {} of other log sources): `sweep sigma check` says why",
            sigma.rules_refused.values().sum::<usize>(),
            sigma.rules_skipped.values().sum::<usize>()
        ));
    }
    if let Some(intel) = &summary.intel {
        if intel.indicators == 0 {
            out.push("the feeds gave 0 indicators, so nothing can match: check the --intel paths and `sweep intel stats`".to_string());
        }
        for feed in &intel.feeds {
            if feed.indicators == 0 && feed.refused == 0 {
                out.push(format!(
                    "feed {} ({}) yielded nothing: no indicator and nothing refused; is it the kind of file it looks like?",
                    feed.feed, feed.kind
                ));
            }
        }
    }
    out
}

/// The guards a scheduled job sets (`fail_on_rejects`, `fail_if_empty`); checked before the
/// commit, so a failing run changes nothing.
pub fn check_gates(settings: &sweep_model::Settings, summary: &RunSummary) -> Result<(), RunError> {
    let lines = summary.events + summary.rejects;
    if let Some(ratio) = settings.fail_on_rejects {
        if lines > 0 && summary.rejects as f64 > ratio * lines as f64 {
            return Err(RunError::Check(format!(
                "{} of {} lines were rejected ({:.2}%), more than the allowed {:.2}% (fail_on_rejects)",
                summary.rejects,
                lines,
                100.0 * summary.rejects as f64 / lines as f64,
                100.0 * ratio
            )));
        }
    }
    if settings.fail_if_empty && summary.input_lines == 0 {
        return Err(RunError::Check("the inputs hold no lines (fail_if_empty)".to_string()));
    }
    Ok(())
}

/// What a streaming run reports beyond the batch summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamSummary {
    pub checkpoint: PathBuf,
    /// Batches committed by this process (not counting earlier runs on the same checkpoint).
    pub batches: u64,
    /// Batches re-run after a crash.
    pub replayed_batches: u64,
    pub late_events: u64,
    pub alerts: u64,
    /// Messages left behind the end of the topic when the run stopped.
    pub lag: u64,
    /// Seconds from a message's Kafka timestamp to the commit of its batch.
    pub produce_to_commit_p50_s: f64,
    pub produce_to_commit_p99_s: f64,
    pub produce_to_commit_max_s: f64,
    /// Why the run stopped: "drained" or "signal".
    pub stopped_by: String,
    /// The summary's counts are totals since the checkpoint was made (the embedded engine),
    /// not this run's (the Spark engine).
    pub counts_since_checkpoint: bool,
    /// The metrics endpoint, when one was served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<String>,
    /// Batches that swapped to a new intel version.
    pub intel_swaps: u64,
    /// Hits found in stored events by the retro-sweeps of new versions (included in `hits`).
    pub retro_hits: u64,
    /// Batches of this process that did a part of a retro-sweep.
    #[serde(default)]
    pub retro_parts: u64,
    /// The intel sources as the run ended: last success, refreshes, failures, counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intel_sources: Vec<sweep_intel_sources::SourceStats>,
}

/// Produce-to-commit latencies in 10 ms steps, for the quantiles of the run summary.
#[derive(Default)]
pub struct LatencyRecorder {
    buckets: Vec<u64>,
    count: u64,
    max: f64,
}

impl LatencyRecorder {
    const STEP: f64 = 0.01;
    const LIMIT: usize = 60_000;

    pub fn observe(&mut self, seconds: f64) {
        self.observe_times(seconds, 1);
    }

    /// `times` messages that each took `seconds`.
    pub fn observe_times(&mut self, seconds: f64, times: u64) {
        let i = ((seconds / Self::STEP) as usize).min(Self::LIMIT - 1);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, 0);
        }
        self.buckets[i] += times;
        self.count += times;
        self.max = self.max.max(seconds);
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return (i + 1) as f64 * Self::STEP;
            }
        }
        self.max
    }
}

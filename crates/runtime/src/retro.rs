//! What a retro-sweep reports, and where it appends, on either engine.

use std::path::Path;

use serde::Serialize;
use sweep_sweeper::IntelSummary;

use crate::sigma::SigmaSummary;

/// What a retro-sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetroSummary {
    pub events_swept: u64,
    /// Hits found, including those already in the table.
    pub hits_found: u64,
    /// Hits appended (new to the table).
    pub hits_written: u64,
    pub hits_already_present: u64,
    pub elapsed_s: f64,
    pub events_per_second: f64,
    pub intel: IntelSummary,
}

/// True when a retro-sweep of `lake` appends to a Delta hits table: the lake's hits table
/// is one, or it has none yet and the events table is one (a lake a Kafka run wrote with
/// `--table-format delta`). Otherwise the new hits are Parquet files.
pub fn hits_are_delta(lake: &Path) -> bool {
    let hits = lake.join("hits");
    if hits.exists() { hits.join("_delta_log").is_dir() } else { lake.join("events").join("_delta_log").is_dir() }
}

/// What a Sigma retro-sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SigmaRetroSummary {
    pub events_swept: u64,
    /// Detections found, including those already in the table.
    pub detections_found: u64,
    /// Detections appended (new to the table).
    pub detections_written: u64,
    pub detections_already_present: u64,
    pub sigma: SigmaSummary,
    pub elapsed_s: f64,
    pub events_per_second: f64,
}

/// True when a Sigma retro-sweep of `lake` appends to a Delta detections table: as for
/// [`hits_are_delta`].
pub fn detections_are_delta(lake: &Path) -> bool {
    let table = lake.join("detections");
    if table.exists() { table.join("_delta_log").is_dir() } else { lake.join("events").join("_delta_log").is_dir() }
}

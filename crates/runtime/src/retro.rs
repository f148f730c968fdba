//! What a retro-sweep reports, and where it appends, on either engine.

use std::path::Path;

use serde::Serialize;
use sweep_load::LoadError;
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
/// The lake may be on object storage, where asking can fail.
pub fn hits_are_delta(lake: &Path) -> Result<bool, LoadError> {
    appends_to_delta(lake, "hits")
}

fn appends_to_delta(lake: &Path, table: &str) -> Result<bool, LoadError> {
    match sweep_load::is_delta_table(&lake.join(table))? {
        Some(delta) => Ok(delta),
        None => Ok(sweep_load::is_delta_table(&lake.join("events"))?.unwrap_or(false)),
    }
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
pub fn detections_are_delta(lake: &Path) -> Result<bool, LoadError> {
    appends_to_delta(lake, "detections")
}

//! The pipeline's Sigma analyser, loaded and compiled before any table is touched, and
//! what a run reports about its rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sweep_sigma::{CorrelationMode, CorrelationRule, Correlator, LoadReport, SigmaAnalyser, SigmaSpec};

use crate::RunError;

/// A compiled rule set, shared by the threads that evaluate it.
pub struct SigmaStage {
    pub analyser: SigmaAnalyser,
    /// The correlation rules, over the analyser's rule indexes.
    pub correlations: Vec<CorrelationRule>,
    /// Detections of rules below this level (an index into [`sweep_sigma::LEVELS`]) are not written.
    pub min_level: usize,
    /// Detections of rules at this level or above go to the alerts topic (streams).
    pub alert_level: usize,
    /// Correlations in streams: how late an event may be (µs).
    pub allowed_lateness_us: i64,
    pub summary: SigmaSummary,
}

impl SigmaStage {
    /// A correlator for this rule set, or `None` when it has no correlation rules.
    pub fn correlator(&self, mode: CorrelationMode) -> Option<Correlator> {
        (!self.correlations.is_empty()).then(|| Correlator::new(self.correlations.clone(), mode))
    }
}

/// What the rule load did, in a run's summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SigmaSummary {
    pub rules_loaded: usize,
    pub correlations_loaded: usize,
    /// Refused documents by reason (`unmapped_field`, `bad_regex` ...; `sweep sigma check` lists them).
    pub rules_refused: BTreeMap<String, usize>,
    /// Rules of another log source category, by log source.
    pub rules_skipped: BTreeMap<String, usize>,
}

impl SigmaSummary {
    pub fn of(report: &LoadReport) -> SigmaSummary {
        let mut rules_refused = BTreeMap::new();
        for r in &report.refused {
            *rules_refused.entry(r.reason.code().to_string()).or_insert(0) += 1;
        }
        SigmaSummary {
            rules_loaded: report.loaded.len(),
            correlations_loaded: report.correlations.len(),
            rules_refused,
            rules_skipped: report.skipped_by_logsource(),
        }
    }
}

/// The pipeline's Sigma stage, if it has one.
pub fn sigma_stage(pipeline: &sweep_model::Pipeline) -> Result<Option<Arc<SigmaStage>>, RunError> {
    let Some(spec) = pipeline.sigma() else { return Ok(None) };
    Ok(Some(Arc::new(load_stage(spec)?)))
}

/// Loads and compiles the rules of `spec`.
pub fn load_stage(spec: &SigmaSpec) -> Result<SigmaStage, RunError> {
    for path in &spec.rules {
        if !path.exists() {
            return Err(RunError::Sigma(sweep_sigma::SigmaError::Spec(format!(
                "rules {}: no such file or folder (give Sigma rule files or folders of them)",
                path.display()
            ))));
        }
    }
    let (set, report) = spec.load()?;
    let correlations = set.correlations().to_vec();
    let min_level = spec.min_level_index()?;
    let analyser = SigmaAnalyser::new(set)?;
    Ok(SigmaStage {
        analyser,
        correlations,
        min_level,
        alert_level: spec.alert_level_index()?,
        allowed_lateness_us: spec.allowed_lateness.as_micros(),
        summary: SigmaSummary::of(&report),
    })
}

//! The Sigma analyser's configuration (`[[analyse]] kind = "sigma"`) and the `detections`
//! table it writes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sweep_calendar::Span;

use crate::{FieldMap, LoadOptions, LoadReport, RuleSet, SigmaError};

/// Sigma levels, lowest first; `min_level` keeps rules at or above it.
pub const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// `[[analyse]] kind = "sigma"`: rule files and folders, a level filter, field map overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaSpec {
    /// Rule files or folders (searched recursively for `.yml` and `.yaml`).
    pub rules: Vec<PathBuf>,
    /// Load only rules of this level or above (`informational`, `low`, `medium`, `high`, `critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<String>,
    /// Sigma field name to events column, added to or replacing the default map.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// In streams with a Kafka alerts topic: detections of rules at this level or above are
    /// also sent as alerts (default `high`).
    #[serde(default = "default_alert_level", skip_serializing_if = "is_default_alert_level")]
    pub alert_level: String,
    /// In streams: how far behind the newest event an event may arrive and still count for
    /// correlations (default `1m`, as the window analyser's).
    #[serde(default = "default_lateness", skip_serializing_if = "is_default_lateness")]
    pub allowed_lateness: Span,
}

fn default_alert_level() -> String {
    "high".to_string()
}

fn is_default_alert_level(level: &String) -> bool {
    level == "high"
}

/// The default `allowed_lateness` of correlations in streams: one minute.
pub const DEFAULT_LATENESS: Span = Span::minutes(1);

fn default_lateness() -> Span {
    DEFAULT_LATENESS
}

fn is_default_lateness(s: &Span) -> bool {
    *s == DEFAULT_LATENESS
}

impl SigmaSpec {
    /// The rules under these paths, with the default field map and no level filter.
    pub fn rules<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> SigmaSpec {
        SigmaSpec {
            rules: paths.into_iter().map(Into::into).collect(),
            min_level: None,
            fields: BTreeMap::new(),
            alert_level: default_alert_level(),
            allowed_lateness: DEFAULT_LATENESS,
        }
    }

    /// Keeps only rules at `level` or above.
    pub fn min_level(mut self, level: &str) -> SigmaSpec {
        self.min_level = Some(level.to_string());
        self
    }

    /// Reads `field` from `column` (a site's own field name, or a different column).
    pub fn field(mut self, field: &str, column: &str) -> SigmaSpec {
        self.fields.insert(field.to_string(), column.to_string());
        self
    }

    /// Loads the rules with this spec's field map.
    pub fn load(&self) -> Result<(RuleSet, LoadReport), SigmaError> {
        self.min_level_index()?;
        let field_map = FieldMap::with_overrides(self.fields.iter().map(|(f, c)| (f.as_str(), c.as_str())))?;
        let options = LoadOptions { field_map, ..LoadOptions::default() };
        Ok(RuleSet::load(&self.rules, &options))
    }

    /// The position of `alert_level` in [`LEVELS`].
    pub fn alert_level_index(&self) -> Result<usize, SigmaError> {
        level_index(&self.alert_level).ok_or_else(|| {
            SigmaError::Spec(format!("alert_level `{}` is not a Sigma level (use one of {})", self.alert_level, LEVELS.join(", ")))
        })
    }

    /// The position of `min_level` in [`LEVELS`] (0 when none is set).
    pub fn min_level_index(&self) -> Result<usize, SigmaError> {
        match &self.min_level {
            None => Ok(0),
            Some(level) => level_index(level)
                .ok_or_else(|| SigmaError::Spec(format!("min_level `{level}` is not a Sigma level (use one of {})", LEVELS.join(", ")))),
        }
    }
}

/// The position of a level in [`LEVELS`], any case.
pub fn level_index(level: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(level))
}

//! The window analyser's configuration: `[[analyse]] kind = "window"` in a pipeline.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::WindowError;

pub use sweep_calendar::Span;

/// An event column that windows are keyed by.
///
/// The order of the variants is the alphabetical order of their names, which is the order of
/// `key_kind` in the metrics table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    ClientIp,
    Host,
    User,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [KeyKind::ClientIp, KeyKind::Host, KeyKind::User];

    /// The name of the key kind, which is also the name of its `events` column.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::ClientIp => "client_ip",
            KeyKind::Host => "host",
            KeyKind::User => "user",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A column of the metrics table that a threshold can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Requests,
    RequestBytes,
    ResponseBytes,
    DistinctHosts,
    Errors,
    ErrorRatio,
    Denied,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::Requests,
        Metric::RequestBytes,
        Metric::ResponseBytes,
        Metric::DistinctHosts,
        Metric::Errors,
        Metric::ErrorRatio,
        Metric::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::RequestBytes => "request_bytes",
            Metric::ResponseBytes => "response_bytes",
            Metric::DistinctHosts => "distinct_hosts",
            Metric::Errors => "errors",
            Metric::ErrorRatio => "error_ratio",
            Metric::Denied => "denied",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert rule: a final window whose `metric` is `>= above` raises an [`crate::Alert`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub metric: Metric,
    /// The alert fires when the metric's value is greater than or equal to this.
    pub above: f64,
    /// Only windows of this key kind; `None` (the default) watches every key kind in `keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyKind>,
}

fn default_keys() -> Vec<KeyKind> {
    vec![KeyKind::ClientIp]
}

/// The default `allowed_lateness`: one minute.
pub const DEFAULT_LATENESS: Span = Span::minutes(1);

fn default_lateness() -> Span {
    DEFAULT_LATENESS
}

/// Configuration of a window analyser (docs/windows.md).
///
/// ```toml
/// [[analyse]]
/// kind = "window"
/// size = "10m"
/// slide = "5m"
/// keys = ["client_ip", "user"]
/// allowed_lateness = "1m"
/// thresholds = [{ metric = "denied", above = 20 }, { metric = "distinct_hosts", above = 500, key = "client_ip" }]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Length of each window.
    pub size: Span,
    /// Distance between the starts of consecutive windows; `size` must be a multiple of it.
    /// `slide == size` gives tumbling (non-overlapping) windows.
    pub slide: Span,
    /// Key kinds to count by, each independently; default `["client_ip"]`.
    #[serde(default = "default_keys")]
    pub keys: Vec<KeyKind>,
    /// Streaming only: how far behind the newest event seen an event may be and still count.
    /// Default `"1m"`.
    #[serde(default = "default_lateness")]
    pub allowed_lateness: Span,
    /// Alert rules, evaluated on final windows.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
}

impl WindowSpec {
    /// A spec with these window lengths, keyed by `client_ip`, default lateness and no thresholds.
    pub fn new(size: Span, slide: Span) -> WindowSpec {
        WindowSpec { size, slide, keys: default_keys(), allowed_lateness: DEFAULT_LATENESS, thresholds: Vec::new() }
    }

    /// Checks what serde cannot; the message says what to change.
    pub fn validate(&self) -> Result<(), WindowError> {
        let bad = |msg: String| Err(WindowError::Spec(msg));
        if self.size == Span::ZERO {
            return bad("size is 0s: set size to the window length, such as \"5m\"".into());
        }
        if self.slide == Span::ZERO {
            return bad(format!(
                "slide is 0s: set slide to how often a window starts, such as \"1m\"; slide = size ({}) gives tumbling windows",
                self.size
            ));
        }
        if !self.size.as_secs().is_multiple_of(self.slide.as_secs()) {
            let up = Span::seconds(self.size.as_secs().div_ceil(self.slide.as_secs()) * self.slide.as_secs());
            let g = Span::seconds(gcd(self.size.as_secs(), self.slide.as_secs()));
            return bad(format!(
                "size {} is not a multiple of slide {}: every window is made of whole slides; use size = \"{up}\" or slide = \"{g}\"",
                self.size, self.slide
            ));
        }
        if self.keys.is_empty() {
            return bad("keys is empty: list at least one of \"client_ip\", \"user\", \"host\"".into());
        }
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].contains(k) {
                return bad(format!("keys lists \"{k}\" twice: list each key kind once"));
            }
        }
        for (i, t) in self.thresholds.iter().enumerate() {
            if !t.above.is_finite() {
                return bad(format!("thresholds[{i}].above is {}: use a finite number", t.above));
            }
            if let Some(k) = t.key
                && !self.keys.contains(&k)
            {
                return bad(format!(
                    "thresholds[{i}] watches key \"{k}\", which is not in keys: add \"{k}\" to keys or change the threshold's key"
                ));
            }
        }
        Ok(())
    }

    /// Whether two specs describe the same windows and lateness (thresholds may differ):
    /// the condition for merging analysers or restoring a checkpoint.
    pub(crate) fn same_windows(&self, other: &WindowSpec) -> bool {
        self.size == other.size && self.slide == other.slide && self.keys == other.keys && self.allowed_lateness == other.allowed_lateness
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_spans() {
        assert_eq!(Span::parse("30s"), Ok(Span::seconds(30)));
        assert_eq!(Span::parse("5m"), Ok(Span::seconds(300)));
        assert_eq!(Span::parse(" 1h "), Ok(Span::seconds(3600)));
        assert_eq!(Span::parse("2d"), Ok(Span::seconds(172_800)));
        assert_eq!(Span::parse("0s"), Ok(Span::ZERO));
        for bad in ["", "5", "m", "5 m", "-5m", "1.5h", "5ms", "5M", "1h30m", "99999999999999999999s", "100001d"] {
            assert!(Span::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(Span::parse("5").unwrap_err().contains("no unit"));
    }

    #[test]
    fn display_uses_largest_exact_unit() {
        for (secs, text) in [(0, "0s"), (45, "45s"), (300, "5m"), (5400, "90m"), (7200, "2h"), (86_400, "1d"), (90_000, "25h")] {
            assert_eq!(Span::seconds(secs).to_string(), text);
            assert_eq!(Span::parse(text), Ok(Span::seconds(secs)));
        }
    }

    #[test]
    fn gcd_works() {
        assert_eq!(gcd(420, 120), 60);
        assert_eq!(gcd(7, 3), 1);
    }
}

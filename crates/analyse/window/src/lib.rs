//! # sweep-window: event-time sliding-window volume metrics
//!
//! The window analyser of sweep's analyse step (`[[analyse]] kind = "window"`). It reads the
//! canonical `events` batches and counts, per key (`client_ip`, `user` and/or `host`) and per
//! event-time window, how many requests a key made, how many bytes went each way, how many
//! distinct hosts it reached, how many requests failed or were denied. Final windows become
//! rows of the `metrics` table ([`metrics_schema`]); thresholds on them raise [`Alert`]s.
//! docs/windows.md is the full description; the rules in short:
//!
//! - **Windows** are aligned to the Unix epoch: window starts are the multiples of `slide`,
//!   and each covers `[start, start + size)`. An event at time `t` is in every window whose
//!   start is in `(t - size, t]`, so in `size / slide` windows. `size` must be a multiple of
//!   `slide` so that every window is a union of whole slides ("panes"), which is what lets an
//!   event update one accumulator per key and not one per window.
//! - **Keys**: each key kind in `keys` is counted independently. An event whose value for a
//!   key kind is null or empty is not counted for that key kind (it still counts for the
//!   others). A window appears in the output for a key only if it holds at least one of the
//!   key's events, so `requests >= 1` in every row.
//! - **Metrics** per (key_kind, key, window): `requests`; `request_bytes` and
//!   `response_bytes` (sums, null as 0); `distinct_hosts` (exact count of distinct non-empty
//!   `host` values); `errors` (`status >= 400`); `error_ratio = errors / requests`; `denied`
//!   (`status` 403 or 407, or `proxy_action` containing `DENIED` in any case).
//! - **Batch mode** ([`Mode::Batch`], files): every event counts whatever its order; all
//!   windows are emitted by [`WindowAnalyser::finish`]. Analysers of parallel partitions are
//!   combined with [`WindowAnalyser::merge`].
//! - **Streaming mode** ([`Mode::Streaming`], micro-batches): the watermark is the newest
//!   event time seen in *previous* micro-batches minus `allowed_lateness` (default `1m`;
//!   minus infinity at first). In a micro-batch, events with `ts <` the watermark as it was at the start of the
//!   micro-batch are late: not counted, counted in [`WindowAnalyser::late_events`], and their
//!   row indices returned by [`WindowAnalyser::observe`]. [`WindowAnalyser::end_batch`]
//!   advances the watermark and emits (and forgets) every window with `end <= watermark`.
//!   A micro-batch's output does not depend on the order of its rows, and replaying the same
//!   micro-batches from a restored [`WindowAnalyser::snapshot`] gives the same output.
//! - **Thresholds** are evaluated on final windows only: `value >= above` raises an alert.
//!
//! This crate depends on Arrow only (no DataFusion, no async runtime).

mod analyser;
mod error;
pub mod spec;

pub use analyser::{Emitted, Mode, SNAPSHOT_VERSION, WindowAnalyser, metrics_schema};
pub use error::WindowError;
pub use spec::{DEFAULT_LATENESS, KeyKind, Metric, Span, Threshold, WindowSpec};

use serde::{Deserialize, Serialize};

/// A final window whose metric reached a threshold.
///
/// In JSON, `window_start` and `window_end` are RFC 3339 UTC strings
/// (`"2026-01-01T00:05:00.000000Z"`); in Rust they are microseconds since the epoch, like `ts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub key_kind: KeyKind,
    pub key: String,
    #[serde(with = "rfc3339")]
    pub window_start: i64,
    #[serde(with = "rfc3339")]
    pub window_end: i64,
    pub metric: Metric,
    /// The metric's value in the window (counts as whole numbers).
    pub value: f64,
    /// The threshold's `above`.
    pub threshold: f64,
}

mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use sweep_formats::time::{format_micros, parse_rfc3339};

    pub fn serialize<S: Serializer>(us: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_micros(*us))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }
}

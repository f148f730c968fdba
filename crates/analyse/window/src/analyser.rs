//! The analyser: per-key pane accumulators, the watermark, emission of final windows.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::compute::cast;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use sweep_formats::schema::{UTC, timestamp_type};

use crate::spec::{KeyKind, Metric, WindowSpec};
use crate::{Alert, WindowError};

/// The analyser's maps are keyed by host names and client addresses from the logs, hashed
/// once or twice per event: foldhash is several times cheaper than SipHash there. Its seed
/// is random per process, like the standard library's (the maps' order is never observed).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// How the analyser decides that a window is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Files: every event counts, whatever its order; windows are final only at [`WindowAnalyser::finish`].
    Batch,
    /// Micro-batches: a watermark trails the newest event by `allowed_lateness`; events behind it
    /// are late, windows that end at or before it are final and emitted by [`WindowAnalyser::end_batch`].
    Streaming,
}

/// What one call emitted: the final windows as metrics rows, and the alerts they raised.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// Rows in [`metrics_schema`], sorted by (window_start, key_kind, key).
    pub metrics: RecordBatch,
    /// In the order of the metrics rows, then of the spec's thresholds.
    pub alerts: Vec<Alert>,
}

impl Emitted {
    /// No rows and no alerts.
    pub fn empty() -> Emitted {
        Emitted { metrics: RecordBatch::new_empty(metrics_schema()), alerts: Vec::new() }
    }
}

static METRICS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("window_start", timestamp_type(), false),
        Field::new("window_end", timestamp_type(), false),
        Field::new("key_kind", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("requests", DataType::Int64, false),
        Field::new("request_bytes", DataType::Int64, false),
        Field::new("response_bytes", DataType::Int64, false),
        Field::new("distinct_hosts", DataType::Int64, false),
        Field::new("errors", DataType::Int64, false),
        Field::new("error_ratio", DataType::Float64, false),
        Field::new("denied", DataType::Int64, false),
    ]))
});

/// Schema of the `metrics` table (built once).
pub fn metrics_schema() -> SchemaRef {
    METRICS.clone()
}

/// The counts of one key in one pane (one `slide` of time).
#[derive(Debug, Clone, Default, PartialEq)]
struct Pane {
    requests: i64,
    request_bytes: i64,
    response_bytes: i64,
    errors: i64,
    denied: i64,
    hosts: HashSet<Box<str>>,
    /// Changed since the last snapshot: a delta snapshot carries it.
    dirty: bool,
}

impl Pane {
    fn from_record(requests: i64, request_bytes: i64, response_bytes: i64, errors: i64, denied: i64, hosts: Vec<String>) -> Pane {
        Pane {
            requests,
            request_bytes,
            response_bytes,
            errors,
            denied,
            hosts: hosts.into_iter().map(String::into_boxed_str).collect(),
            dirty: false,
        }
    }

    fn absorb(&mut self, other: Pane) {
        self.dirty = true;
        self.requests = self.requests.wrapping_add(other.requests);
        self.request_bytes = self.request_bytes.wrapping_add(other.request_bytes);
        self.response_bytes = self.response_bytes.wrapping_add(other.response_bytes);
        self.errors = self.errors.wrapping_add(other.errors);
        self.denied = self.denied.wrapping_add(other.denied);
        if self.hosts.len() < other.hosts.len() {
            let mine = std::mem::replace(&mut self.hosts, other.hosts);
            self.hosts.extend(mine);
        } else {
            self.hosts.extend(other.hosts);
        }
    }
}

/// Panes of one key, by pane index (`pane start / slide`).
type KeyPanes = BTreeMap<i64, Pane>;

/// One final window of one key.
struct Row<'a> {
    start: i64,
    kind: KeyKind,
    key: &'a str,
    requests: i64,
    request_bytes: i64,
    response_bytes: i64,
    distinct_hosts: i64,
    errors: i64,
    denied: i64,
}

impl Row<'_> {
    fn error_ratio(&self) -> f64 {
        self.errors as f64 / self.requests as f64
    }

    fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::Requests => self.requests as f64,
            Metric::RequestBytes => self.request_bytes as f64,
            Metric::ResponseBytes => self.response_bytes as f64,
            Metric::DistinctHosts => self.distinct_hosts as f64,
            Metric::Errors => self.errors as f64,
            Metric::ErrorRatio => self.error_ratio(),
            Metric::Denied => self.denied as f64,
        }
    }
}

/// Sliding-window volume metrics over `events` batches (docs/windows.md).
///
/// Internally each key's events are counted per *pane*, the `slide`-long interval
/// `[k·slide, (k+1)·slide)`; a window is the union of `size / slide` consecutive panes. An event
/// therefore updates one accumulator per key kind, and memory is proportional to the open
/// panes times their keys, plus the distinct hosts seen in each.
#[derive(Debug, Clone)]
pub struct WindowAnalyser {
    spec: WindowSpec,
    mode: Mode,
    size: i64,
    slide: i64,
    lateness: i64,
    /// `size / slide`: panes per window.
    span: i64,
    /// By [`KeyKind::index`].
    state: [HashMap<Box<str>, KeyPanes>; 3],
    /// Streaming: events before it are late; `None` is minus infinity.
    watermark: Option<i64>,
    /// Every window with `end <= emitted_until` has been emitted.
    emitted_until: Option<i64>,
    /// Streaming: the newest event time counted since the last `end_batch`.
    batch_max: Option<i64>,
    late_events: u64,
    untimed_events: u64,
    /// Since the last snapshot: panes up to this index were dropped (windows emitted).
    evicted_through: Option<i64>,
    /// Since the last snapshot: every pane was dropped (end of input).
    cleared: bool,
}

/// Version of the checkpoint format written by [`WindowAnalyser::snapshot`] and
/// [`WindowAnalyser::delta_snapshot`]. Version 2 writes each pane as an array
/// ([`PaneOut`]); version 1 wrote it as an object with named fields (a stream's deltas
/// were twice the size) and is still read.
pub const SNAPSHOT_VERSION: u32 = 2;
const SNAPSHOT_V1: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot<P> {
    version: u32,
    spec: WindowSpec,
    mode: Mode,
    watermark: Option<i64>,
    emitted_until: Option<i64>,
    batch_max: Option<i64>,
    late_events: u64,
    untimed_events: u64,
    panes: Vec<P>,
}

/// What changed since the last snapshot ([`WindowAnalyser::delta_snapshot`]): applied in
/// this order, `cleared`, then `evicted_through`, then `panes` (each replaces the pane).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Delta<P> {
    version: u32,
    delta: bool,
    watermark: Option<i64>,
    emitted_until: Option<i64>,
    batch_max: Option<i64>,
    late_events: u64,
    untimed_events: u64,
    cleared: bool,
    evicted_through: Option<i64>,
    panes: Vec<P>,
}

impl<P> Snapshot<P> {
    /// The same header, each pane converted by `f`.
    fn map_panes<Q>(self, f: impl FnMut(P) -> Q) -> Snapshot<Q> {
        let Snapshot { version, spec, mode, watermark, emitted_until, batch_max, late_events, untimed_events, panes } = self;
        let panes = panes.into_iter().map(f).collect();
        Snapshot { version, spec, mode, watermark, emitted_until, batch_max, late_events, untimed_events, panes }
    }
}

impl<P> Delta<P> {
    /// The same header, each pane converted by `f`.
    fn map_panes<Q>(self, f: impl FnMut(P) -> Q) -> Delta<Q> {
        let Delta { version, delta, watermark, emitted_until, batch_max, late_events, untimed_events, cleared, evicted_through, panes } =
            self;
        let panes = panes.into_iter().map(f).collect();
        Delta { version, delta, watermark, emitted_until, batch_max, late_events, untimed_events, cleared, evicted_through, panes }
    }
}

/// The format version of a checkpoint's bytes.
fn read_version(bytes: &[u8]) -> Result<u32, serde_json::Error> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    Ok(serde_json::from_slice::<Version>(bytes)?.version)
}

/// A pane as version 2 writes it: `[key_kind, key, pane_start, requests, request_bytes,
/// response_bytes, errors, denied, [hosts, sorted]]`, borrowed from the state.
#[derive(Serialize)]
struct PaneOut<'a>(KeyKind, &'a str, i64, i64, i64, i64, i64, i64, Vec<&'a str>);

/// A pane as version 2 reads it.
#[derive(Deserialize)]
struct PaneIn(KeyKind, String, i64, i64, i64, i64, i64, i64, Vec<String>);

impl From<PaneIn> for PaneRecord {
    fn from(PaneIn(key_kind, key, pane_start, requests, request_bytes, response_bytes, errors, denied, hosts): PaneIn) -> PaneRecord {
        PaneRecord { key_kind, key, pane_start, requests, request_bytes, response_bytes, errors, denied, hosts }
    }
}

/// A pane as version 1 wrote it, and as every version is restored from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaneRecord {
    key_kind: KeyKind,
    key: String,
    pane_start: i64,
    requests: i64,
    request_bytes: i64,
    response_bytes: i64,
    errors: i64,
    denied: i64,
    hosts: Vec<String>,
}

/// The columns one batch is read from, all cast to the types the analyser works on.
struct Columns {
    ts: TimestampMicrosecondArray,
    keys: Vec<(KeyKind, StringArray)>,
    host: StringArray,
    status: Int64Array,
    request_bytes: Int64Array,
    response_bytes: Int64Array,
    proxy_action: StringArray,
}

const READS: &str = "ts, host, status, request_bytes, response_bytes, proxy_action and the key columns";

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef, WindowError> {
    batch.column_by_name(name).cloned().ok_or_else(|| {
        WindowError::Column(format!(
            "the events have no column `{name}`; the window analyser reads {READS}: keep them in the [[transform]] stages"
        ))
    })
}

fn cast_to(array: &ArrayRef, name: &str, to: &DataType, ok: bool, need: &str) -> Result<ArrayRef, WindowError> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    if !ok {
        return Err(WindowError::Column(format!("column `{name}` is {}; the window analyser needs {need}", array.data_type())));
    }
    cast(array, to).map_err(|e| WindowError::Column(format!("column `{name}` ({}) cannot be read as {need}: {e}", array.data_type())))
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, v) => matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        _ => false,
    }
}

fn text(batch: &RecordBatch, name: &str) -> Result<StringArray, WindowError> {
    let a = column(batch, name)?;
    let ok = is_text(a.data_type());
    Ok(cast_to(&a, name, &DataType::Utf8, ok, "text (Utf8)")?.as_string::<i32>().clone())
}

fn integer(batch: &RecordBatch, name: &str) -> Result<Int64Array, WindowError> {
    let a = column(batch, name)?;
    let ok = a.data_type().is_integer() || a.data_type() == &DataType::Null;
    Ok(cast_to(&a, name, &DataType::Int64, ok, "an integer")?.as_primitive::<Int64Type>().clone())
}

impl Columns {
    fn read(batch: &RecordBatch, keys: &[KeyKind]) -> Result<Columns, WindowError> {
        let ts = column(batch, "ts")?;
        let ok = matches!(ts.data_type(), DataType::Timestamp(_, _));
        let ts = cast_to(&ts, "ts", &timestamp_type(), ok, &format!("a timestamp (microseconds, {UTC})"))?;
        Ok(Columns {
            ts: ts.as_primitive::<TimestampMicrosecondType>().clone(),
            keys: keys.iter().map(|&k| Ok((k, text(batch, k.as_str())?))).collect::<Result<_, WindowError>>()?,
            host: text(batch, "host")?,
            status: integer(batch, "status")?,
            request_bytes: integer(batch, "request_bytes")?,
            response_bytes: integer(batch, "response_bytes")?,
            proxy_action: text(batch, "proxy_action")?,
        })
    }
}

fn non_empty(a: &StringArray, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    Some(a.value(i)).filter(|s| !s.is_empty())
}

fn int_or_zero(a: &Int64Array, i: usize) -> i64 {
    if a.is_null(i) { 0 } else { a.value(i) }
}

fn says_denied(action: &str) -> bool {
    action.as_bytes().windows(6).any(|w| w.eq_ignore_ascii_case(b"denied"))
}

/// One counted event of a batch: what every key kind adds to its pane.
struct Counted {
    row: usize,
    pane: i64,
    error: bool,
    denied: bool,
    request_bytes: i64,
    response_bytes: i64,
}

/// What a batch adds to one key's pane, before it is folded into the state.
#[derive(Default)]
struct BatchPane<'a> {
    requests: i64,
    request_bytes: i64,
    response_bytes: i64,
    errors: i64,
    denied: i64,
    hosts: HashSet<&'a str>,
}

/// Counts a batch's events into one key kind's state. The batch is first summed per (key,
/// pane) with the keys and hosts borrowed from the batch, then folded into the state: one
/// state lookup per key and pane of the batch rather than per event, and a host name is
/// copied only when the pane has not seen it.
fn count_into(map: &mut HashMap<Box<str>, KeyPanes>, keys: &StringArray, host: &StringArray, counted: &[Counted]) {
    let mut batch: HashMap<(&str, i64), BatchPane<'_>> = HashMap::default();
    for c in counted {
        let Some(key) = non_empty(keys, c.row) else { continue };
        let pane = batch.entry((key, c.pane)).or_default();
        pane.requests += 1;
        pane.request_bytes = pane.request_bytes.wrapping_add(c.request_bytes);
        pane.response_bytes = pane.response_bytes.wrapping_add(c.response_bytes);
        pane.errors += c.error as i64;
        pane.denied += c.denied as i64;
        if let Some(h) = non_empty(host, c.row) {
            pane.hosts.insert(h);
        }
    }
    for ((key, index), add) in batch {
        if !map.contains_key(key) {
            map.insert(key.into(), KeyPanes::new());
        }
        let pane = map.get_mut(key).expect("inserted above").entry(index).or_default();
        pane.dirty = true;
        pane.requests += add.requests;
        pane.request_bytes = pane.request_bytes.wrapping_add(add.request_bytes);
        pane.response_bytes = pane.response_bytes.wrapping_add(add.response_bytes);
        pane.errors += add.errors;
        pane.denied += add.denied;
        for h in add.hosts {
            if !pane.hosts.contains(h) {
                pane.hosts.insert(h.into());
            }
        }
    }
}

impl WindowAnalyser {
    /// An analyser with empty state. Fails if the spec does not validate.
    pub fn new(spec: WindowSpec, mode: Mode) -> Result<WindowAnalyser, WindowError> {
        spec.validate()?;
        let (size, slide, lateness) = (spec.size.as_micros(), spec.slide.as_micros(), spec.allowed_lateness.as_micros());
        Ok(WindowAnalyser {
            spec,
            mode,
            size,
            slide,
            lateness,
            span: size / slide,
            state: Default::default(),
            watermark: None,
            emitted_until: None,
            batch_max: None,
            late_events: 0,
            untimed_events: 0,
            evicted_through: None,
            cleared: false,
        })
    }

    pub fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Events not counted because they were behind the watermark (streaming), since the start.
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// Events not counted because their `ts` was null, since the start.
    pub fn untimed_events(&self) -> u64 {
        self.untimed_events
    }

    /// The watermark in microseconds since the epoch; `None` before the first batch that had
    /// events, and always in batch mode.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Counts the events of one batch. Several calls before [`WindowAnalyser::end_batch`] form
    /// one micro-batch.
    ///
    /// Returns the indices (ascending) of the rows that are late: in streaming mode, rows whose
    /// `ts` is before the watermark as it was at the start of the micro-batch. They are not
    /// counted. In batch mode nothing is late.
    pub fn observe(&mut self, events: &RecordBatch) -> Result<Vec<usize>, WindowError> {
        let cols = Columns::read(events, &self.spec.keys)?;
        let watermark = if self.mode == Mode::Streaming { self.watermark } else { None };
        let mut late = Vec::new();
        let mut counted = Vec::with_capacity(events.num_rows());
        for i in 0..events.num_rows() {
            if cols.ts.is_null(i) {
                self.untimed_events += 1;
                continue;
            }
            let ts = cols.ts.value(i);
            if watermark.is_some_and(|w| ts < w) {
                late.push(i);
                continue;
            }
            self.batch_max = Some(self.batch_max.map_or(ts, |m| m.max(ts)));
            let status = (!cols.status.is_null(i)).then(|| cols.status.value(i));
            counted.push(Counted {
                row: i,
                pane: ts.div_euclid(self.slide),
                error: status.is_some_and(|s| s >= 400),
                denied: matches!(status, Some(403 | 407)) || non_empty(&cols.proxy_action, i).is_some_and(says_denied),
                request_bytes: int_or_zero(&cols.request_bytes, i),
                response_bytes: int_or_zero(&cols.response_bytes, i),
            });
        }
        self.late_events += late.len() as u64;
        // Each key kind has a state of its own: they are counted side by side.
        let (counted, host) = (&counted, &cols.host);
        self.for_each_kind(|kind, map| {
            if let Some((_, keys)) = cols.keys.iter().find(|(k, _)| *k == kind) {
                count_into(map, keys, host, counted);
            }
        });
        Ok(late)
    }

    /// Runs `f` on the state of every key kind the spec counts, one thread per kind when
    /// there are several: the kinds share nothing.
    fn for_each_kind(&mut self, f: impl Fn(KeyKind, &mut HashMap<Box<str>, KeyPanes>) + Sync) {
        let mut work: Vec<(KeyKind, &mut HashMap<Box<str>, KeyPanes>)> = KeyKind::ALL
            .into_iter()
            .zip(self.state.iter_mut())
            .filter(|(kind, map)| self.spec.keys.contains(kind) || !map.is_empty())
            .collect();
        match work.len() {
            0 => {}
            1 => {
                let (kind, map) = work.pop().expect("one");
                f(kind, map)
            }
            _ => std::thread::scope(|s| {
                let f = &f;
                let mut work = work.into_iter();
                let (first_kind, first_map) = work.next().expect("several");
                for (kind, map) in work {
                    s.spawn(move || f(kind, map));
                }
                f(first_kind, first_map);
            }),
        }
    }

    /// Ends a micro-batch. Streaming: advances the watermark to
    /// `max(watermark, newest event of the micro-batch - allowed_lateness)` and emits (and
    /// forgets) every window that ends at or before it. Batch mode: emits nothing.
    pub fn end_batch(&mut self) -> Result<Emitted, WindowError> {
        if self.mode == Mode::Batch {
            return Ok(Emitted::empty());
        }
        if let Some(max) = self.batch_max.take() {
            let w = max.saturating_sub(self.lateness);
            self.watermark = Some(self.watermark.map_or(w, |old| old.max(w)));
        }
        let Some(w) = self.watermark else {
            return Ok(Emitted::empty());
        };
        if self.emitted_until == Some(w) {
            return Ok(Emitted::empty());
        }
        let out = self.emit(Some(w))?;
        self.emitted_until = Some(w);
        // A pane is in windows `pane - span + 1 ..= pane`; once the last of them is final, drop it.
        let last_final = w.saturating_sub(self.size).div_euclid(self.slide);
        self.evicted_through = Some(self.evicted_through.map_or(last_final, |e| e.max(last_final)));
        self.drop_panes_through(last_final);
        Ok(out)
    }

    /// End of input: every window not emitted yet is final and emitted now.
    pub fn finish(self) -> Result<Emitted, WindowError> {
        self.emit(None)
    }

    /// End of input for a stream that may go on later (a run stopped because its topic was
    /// drained): ends the micro-batch, emits every window not emitted yet as final, and moves
    /// the watermark to the end of the last of them, so that no window is ever emitted twice:
    /// an event before that point arriving later is late.
    pub fn end_input(&mut self) -> Result<Emitted, WindowError> {
        if self.mode == Mode::Batch {
            return Ok(Emitted::empty());
        }
        let newest = self.batch_max.take();
        if let Some(max) = newest {
            let w = max.saturating_sub(self.lateness);
            self.watermark = Some(self.watermark.map_or(w, |old| old.max(w)));
        }
        let out = self.emit(None)?;
        let last_pane = self.state.iter().flat_map(|m| m.values()).filter_map(|panes| panes.keys().next_back().copied()).max();
        if let Some(p) = last_pane {
            // The last window containing pane p starts at p and ends at p * slide + size.
            let end = p.saturating_mul(self.slide).saturating_add(self.size);
            self.watermark = Some(self.watermark.map_or(end, |w| w.max(end)));
            self.emitted_until = self.watermark;
        }
        // Freeing a large state takes a while: each kind's on its own thread.
        self.for_each_kind(|_, map| map.clear());
        self.cleared = true;
        self.evicted_through = None;
        Ok(out)
    }

    /// True when some counted event belongs to a window not emitted yet.
    pub fn has_open_windows(&self) -> bool {
        self.state.iter().any(|m| !m.is_empty())
    }

    /// Adds another analyser's counts to this one (one analyser per parallel partition, merged
    /// at the end). Both must have the same mode and the same size, slide, keys and lateness;
    /// this one's thresholds are kept. In streaming mode both must also have the same watermark
    /// and have emitted the same windows.
    pub fn merge(&mut self, other: WindowAnalyser) -> Result<(), WindowError> {
        if self.mode != other.mode {
            return Err(WindowError::Merge(format!("a {:?} analyser with a {:?} one", self.mode, other.mode)));
        }
        if !self.spec.same_windows(&other.spec) {
            return Err(WindowError::Merge("the analysers have different size, slide, keys or allowed_lateness".into()));
        }
        if self.mode == Mode::Streaming && (self.watermark != other.watermark || self.emitted_until != other.emitted_until) {
            return Err(WindowError::Merge(format!(
                "streaming analysers at different watermarks ({:?} and {:?}): merge them before either ends a batch",
                self.watermark, other.watermark
            )));
        }
        self.batch_max = match (self.batch_max, other.batch_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.late_events += other.late_events;
        self.untimed_events += other.untimed_events;
        for (mine, theirs) in self.state.iter_mut().zip(other.state) {
            for (key, panes) in theirs {
                let into = mine.entry(key).or_default();
                for (p, pane) in panes {
                    into.entry(p).or_default().absorb(pane);
                }
            }
        }
        Ok(())
    }

    /// The whole state as bytes (JSON with a format version), for checkpoints. The same state
    /// always gives the same bytes.
    fn pane_record<'a>(&self, kind: KeyKind, key: &'a str, index: i64, pane: &'a Pane) -> PaneOut<'a> {
        let mut hosts: Vec<&str> = pane.hosts.iter().map(|h| &**h).collect();
        hosts.sort_unstable();
        PaneOut(kind, key, index * self.slide, pane.requests, pane.request_bytes, pane.response_bytes, pane.errors, pane.denied, hosts)
    }

    /// The panes as checkpoint records, by kind, then key, then pane: every pane, or only
    /// those changed since the last save (`dirty_only`). Each kind's on its own thread.
    fn records(&self, dirty_only: bool) -> Vec<PaneOut<'_>> {
        let of_kind = |kind: KeyKind| {
            let mut keys: Vec<_> = self.state[kind.index()].iter().filter(|(_, p)| !dirty_only || p.values().any(|p| p.dirty)).collect();
            keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut records = Vec::new();
            for (key, key_panes) in keys {
                for (&p, pane) in key_panes.iter().filter(|(_, p)| !dirty_only || p.dirty) {
                    records.push(self.pane_record(kind, key, p, pane));
                }
            }
            records
        };
        self.concat_kinds(of_kind)
    }

    /// `f` of every key kind that holds state, concatenated in kind order; one thread per
    /// kind when there are several (the kinds share nothing).
    fn concat_kinds<'s, T: Send>(&'s self, f: impl Fn(KeyKind) -> Vec<T> + Sync) -> Vec<T> {
        let kinds: Vec<KeyKind> = KeyKind::ALL.into_iter().filter(|k| !self.state[k.index()].is_empty()).collect();
        if kinds.len() < 2 {
            return kinds.into_iter().flat_map(f).collect();
        }
        std::thread::scope(|s| {
            let f = &f;
            let handles: Vec<_> = kinds.iter().map(|&kind| s.spawn(move || f(kind))).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        })
    }

    /// Records that the state as it is now was saved (by [`snapshot`](Self::snapshot)): the
    /// next [`delta_snapshot`](Self::delta_snapshot) carries only what changes after this.
    pub fn mark_saved(&mut self) {
        self.for_each_kind(|_, map| {
            for pane in map.values_mut().flat_map(|panes| panes.values_mut()) {
                pane.dirty = false;
            }
        });
        self.evicted_through = None;
        self.cleared = false;
    }

    /// What changed since the last snapshot, as bytes (JSON with a format version): the
    /// panes counted into, the panes dropped, the watermark and counters. Restoring the last
    /// full snapshot and applying every delta after it in order ([`apply_delta`](Self::apply_delta))
    /// gives this state. Its size follows what a batch changed, not the whole state, so that
    /// a stream's checkpoint costs the same at any state size.
    pub fn delta_snapshot(&mut self) -> Vec<u8> {
        let panes = self.records(true);
        let delta = Delta {
            version: SNAPSHOT_VERSION,
            delta: true,
            watermark: self.watermark,
            emitted_until: self.emitted_until,
            batch_max: self.batch_max,
            late_events: self.late_events,
            untimed_events: self.untimed_events,
            cleared: self.cleared,
            evicted_through: self.evicted_through,
            panes,
        };
        let bytes = serde_json::to_vec(&delta).expect("a window delta serialises");
        self.mark_saved();
        bytes
    }

    /// Applies a delta written by [`delta_snapshot`](Self::delta_snapshot) to this state (the
    /// state it was taken after).
    pub fn apply_delta(&mut self, bytes: &[u8]) -> Result<(), WindowError> {
        let bad = |msg: String| WindowError::Snapshot(msg);
        let damaged = |e: serde_json::Error| bad(format!("damaged window checkpoint delta: {e}"));
        let delta: Delta<PaneRecord> = match read_version(bytes).map_err(damaged)? {
            SNAPSHOT_VERSION => serde_json::from_slice::<Delta<PaneIn>>(bytes).map_err(damaged)?.map_panes(PaneRecord::from),
            SNAPSHOT_V1 => serde_json::from_slice(bytes).map_err(damaged)?,
            other => {
                return Err(bad(format!(
                    "a window checkpoint delta of format version {other}, this build reads versions {SNAPSHOT_V1} and {SNAPSHOT_VERSION}"
                )));
            }
        };
        if !delta.delta {
            return Err(bad("a window checkpoint delta that is not marked as one".into()));
        }
        if delta.cleared {
            for map in &mut self.state {
                map.clear();
            }
        }
        if let Some(last) = delta.evicted_through {
            self.drop_panes_through(last);
        }
        self.watermark = delta.watermark;
        self.emitted_until = delta.emitted_until;
        self.batch_max = delta.batch_max;
        self.late_events = delta.late_events;
        self.untimed_events = delta.untimed_events;
        for r in delta.panes {
            self.check_record(&r)?;
            let (index, kind) = (r.pane_start.div_euclid(self.slide), r.key_kind);
            let pane = Pane::from_record(r.requests, r.request_bytes, r.response_bytes, r.errors, r.denied, r.hosts);
            self.state[kind.index()].entry(r.key.into_boxed_str()).or_default().insert(index, pane);
        }
        self.mark_saved();
        Ok(())
    }

    /// Forgets every pane up to index `last` (their windows are all final), and keys left
    /// without panes.
    fn drop_panes_through(&mut self, last: i64) {
        self.for_each_kind(|_, map| {
            map.retain(|_, panes| {
                if panes.first_key_value().is_some_and(|(&first, _)| first <= last) {
                    *panes = panes.split_off(&last.saturating_add(1));
                }
                !panes.is_empty()
            })
        });
    }

    fn check_record(&self, r: &PaneRecord) -> Result<(), WindowError> {
        if r.pane_start.rem_euclid(self.slide) != 0 || r.key.is_empty() || r.requests <= 0 || !self.spec.keys.contains(&r.key_kind) {
            return Err(WindowError::Snapshot(format!(
                "damaged window checkpoint: bad pane {} {:?} at {}",
                r.key_kind, r.key, r.pane_start
            )));
        }
        Ok(())
    }

    pub fn snapshot(&self) -> Vec<u8> {
        let panes = self.records(false);
        let snap = Snapshot {
            version: SNAPSHOT_VERSION,
            spec: self.spec.clone(),
            mode: self.mode,
            watermark: self.watermark,
            emitted_until: self.emitted_until,
            batch_max: self.batch_max,
            late_events: self.late_events,
            untimed_events: self.untimed_events,
            panes,
        };
        serde_json::to_vec(&snap).expect("a snapshot is plain data")
    }

    /// An analyser continuing from a [`WindowAnalyser::snapshot`]. `spec` must have the same
    /// size, slide, keys and allowed_lateness as the checkpoint (thresholds may change); the
    /// mode is the checkpoint's.
    pub fn restore(spec: WindowSpec, bytes: &[u8]) -> Result<WindowAnalyser, WindowError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let bad = |msg: String| WindowError::Snapshot(msg);
        let v: Version = serde_json::from_slice(bytes).map_err(|e| bad(format!("not a window checkpoint: {e}")))?;
        let damaged = |e: serde_json::Error| bad(format!("damaged window checkpoint: {e}"));
        let snap: Snapshot<PaneRecord> = match v.version {
            SNAPSHOT_VERSION => serde_json::from_slice::<Snapshot<PaneIn>>(bytes).map_err(damaged)?.map_panes(PaneRecord::from),
            SNAPSHOT_V1 => serde_json::from_slice(bytes).map_err(damaged)?,
            other => {
                return Err(bad(format!(
                    "it has format version {other}, this build reads versions {SNAPSHOT_V1} and {SNAPSHOT_VERSION}: replay from the input instead"
                )));
            }
        };
        if !spec.same_windows(&snap.spec) {
            let s = &snap.spec;
            let keys: Vec<_> = s.keys.iter().map(|k| k.as_str()).collect();
            return Err(bad(format!(
                "it was written with size {}, slide {}, keys {keys:?}, allowed_lateness {}; restore it with the same settings or start from empty state",
                s.size, s.slide, s.allowed_lateness
            )));
        }
        let mut a = WindowAnalyser::new(spec, snap.mode)?;
        a.watermark = snap.watermark;
        a.emitted_until = snap.emitted_until;
        a.batch_max = snap.batch_max;
        a.late_events = snap.late_events;
        a.untimed_events = snap.untimed_events;
        for r in snap.panes {
            a.check_record(&r)?;
            let pane = Pane::from_record(r.requests, r.request_bytes, r.response_bytes, r.errors, r.denied, r.hosts);
            let panes = a.state[r.key_kind.index()].entry(r.key.into_boxed_str()).or_default();
            if panes.insert(r.pane_start.div_euclid(a.slide), pane).is_some() {
                return Err(bad("damaged window checkpoint: a pane appears twice".into()));
            }
        }
        Ok(a)
    }

    /// Emits every window with `emitted_until < end <= hi` (`hi = None`: no upper bound).
    fn emit(&self, hi: Option<i64>) -> Result<Emitted, WindowError> {
        let (size, slide) = (self.size, self.slide);
        // Window index w covers panes w ..= w + span - 1 and ends at w * slide + size.
        let w_min = self.emitted_until.map_or(i64::MIN, |lo| lo.saturating_sub(size).div_euclid(slide).saturating_add(1));
        let w_max = hi.map_or(i64::MAX, |hi| hi.saturating_sub(size).div_euclid(slide));
        let mut rows = self.concat_kinds(|kind| self.window_rows(kind, w_min, w_max));
        rows.sort_unstable_by(|a, b| (a.start, a.kind, a.key).cmp(&(b.start, b.kind, b.key)));
        self.build(rows)
    }

    /// The rows of the windows with index in `w_min..=w_max` of one key kind.
    fn window_rows(&self, kind: KeyKind, w_min: i64, w_max: i64) -> Vec<Row<'_>> {
        let (slide, span) = (self.slide, self.span);
        let mut rows = Vec::new();
        let mut panes: Vec<(i64, &Pane)> = Vec::new();
        for (key, key_panes) in &self.state[kind.index()] {
            // Window index w covers panes w ..= w + span - 1: a key whose first pane is past
            // the last window's panes has nothing to emit.
            match key_panes.range(w_min..).next() {
                Some((&first, _)) if first.saturating_sub(span - 1) <= w_max => {}
                _ => continue,
            }
            panes.clear();
            panes.extend(key_panes.range(w_min..).map(|(&p, pane)| (p, pane)));
            let mut window = Sliding::default();
            let mut next_w = w_min;
            for &(p, _) in &panes {
                let first = p.saturating_sub(span - 1).max(next_w);
                let last = p.min(w_max);
                let mut w = first;
                while w <= last {
                    window.move_to(&panes, w, span);
                    rows.push(window.row(w.saturating_mul(slide), kind, key));
                    w += 1;
                }
                next_w = next_w.max(p.saturating_add(1));
            }
        }
        rows
    }

    fn build(&self, rows: Vec<Row<'_>>) -> Result<Emitted, WindowError> {
        let mut alerts = Vec::new();
        for r in &rows {
            for t in &self.spec.thresholds {
                if t.key.is_some_and(|k| k != r.kind) {
                    continue;
                }
                let value = r.value(t.metric);
                if value >= t.above {
                    alerts.push(Alert {
                        key_kind: r.kind,
                        key: r.key.to_string(),
                        window_start: r.start,
                        window_end: r.start.saturating_add(self.size),
                        metric: t.metric,
                        value,
                        threshold: t.above,
                    });
                }
            }
        }
        let ints = |f: fn(&Row) -> i64| Arc::new(rows.iter().map(f).collect::<Int64Array>()) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.start)).with_timezone(UTC)),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.start.saturating_add(self.size))).with_timezone(UTC),
            ),
            Arc::new(rows.iter().map(|r| Some(r.kind.as_str())).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| Some(r.key)).collect::<StringArray>()),
            ints(|r| r.requests),
            ints(|r| r.request_bytes),
            ints(|r| r.response_bytes),
            ints(|r| r.distinct_hosts),
            ints(|r| r.errors),
            Arc::new(rows.iter().map(|r| r.error_ratio()).collect::<Float64Array>()),
            ints(|r| r.denied),
        ];
        Ok(Emitted { metrics: RecordBatch::try_new(metrics_schema(), columns)?, alerts })
    }
}

/// The panes of one window as it slides over one key's panes: `panes[a..b]` are in the window.
#[derive(Default)]
struct Sliding<'a> {
    a: usize,
    b: usize,
    requests: i64,
    request_bytes: i64,
    response_bytes: i64,
    errors: i64,
    denied: i64,
    hosts: HashMap<&'a str, u32>,
}

impl<'a> Sliding<'a> {
    /// Moves to window index `w` (never backwards).
    fn move_to(&mut self, panes: &[(i64, &'a Pane)], w: i64, span: i64) {
        while self.a < self.b && panes[self.a].0 < w {
            self.apply(panes[self.a].1, false);
            self.a += 1;
        }
        if self.a == self.b {
            while self.b < panes.len() && panes[self.b].0 < w {
                self.b += 1;
            }
            self.a = self.b;
        }
        while self.b < panes.len() && panes[self.b].0 <= w.saturating_add(span - 1) {
            self.apply(panes[self.b].1, true);
            self.b += 1;
        }
    }

    fn apply(&mut self, p: &'a Pane, add: bool) {
        let op = if add { i64::wrapping_add } else { i64::wrapping_sub };
        self.requests = op(self.requests, p.requests);
        self.request_bytes = op(self.request_bytes, p.request_bytes);
        self.response_bytes = op(self.response_bytes, p.response_bytes);
        self.errors = op(self.errors, p.errors);
        self.denied = op(self.denied, p.denied);
        for h in &p.hosts {
            if add {
                *self.hosts.entry(h).or_insert(0) += 1;
            } else if let Some(n) = self.hosts.get_mut(&**h) {
                *n -= 1;
                if *n == 0 {
                    self.hosts.remove(&**h);
                }
            }
        }
    }

    fn row<'k>(&self, start: i64, kind: KeyKind, key: &'k str) -> Row<'k> {
        Row {
            start,
            kind,
            key,
            requests: self.requests,
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            distinct_hosts: self.hosts.len() as i64,
            errors: self.errors,
            denied: self.denied,
        }
    }
}

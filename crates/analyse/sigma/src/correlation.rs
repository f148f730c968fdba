//! Sigma correlation rules (`event_count`, `value_count`, `temporal`, `temporal_ordered`) and
//! the [`Correlator`] that evaluates them over detections.
//!
//! Semantics (sweep's, where the specification leaves room):
//!
//! - Observations are `(rule, event ts, group-by values, field value)` for each detection of a
//!   rule that a correlation refers to. They are processed in event-time order (ties in the
//!   order they were observed). Group-by values are the columns' text; a null is its own group
//!   value (as SQL `GROUP BY`).
//! - For each correlation and group, the **window** after an observation at `t` holds the
//!   group's observations with `ts > t - timespan` (and not consumed by an earlier match).
//! - The correlation **matches** as soon as its count reaches the condition's lower bound
//!   (`gt`/`gte`; upper bounds `lt`/`lte` and `eq` need the window to close and are refused):
//!   `event_count` counts observations, `value_count` distinct non-null values of `field`,
//!   `temporal` distinct referenced rules (default condition: all of them), `temporal_ordered`
//!   requires all the rules to appear in the listed order within the timespan (its condition
//!   is ignored). A match emits a
//!   [`CorrelationMatch`] and clears the group, so the next match needs a fresh set of events.
//! - **Batch mode** ([`CorrelationMode::Batch`]): everything observed is processed by
//!   [`Correlator::finish`], whatever the order it was observed in.
//! - **Streaming mode** ([`CorrelationMode::Streaming`]): the watermark is the newest event
//!   time seen in previous micro-batches (every row of the batches given to
//!   [`Correlator::observe`], detected or not) minus `allowed_lateness` (minus infinity at first).
//!   Observations with `ts <` the watermark as it was at the start of the micro-batch are late:
//!   dropped and counted. [`Correlator::end_batch`] advances the watermark and processes, in
//!   event-time order, the held observations with `ts <=` the new watermark; later ones wait.
//!   Groups whose newest observation is a timespan or more behind the watermark are forgotten.
//!   [`Correlator::snapshot`] / [`Correlator::restore`] checkpoint all of this.
//! - Field aliases (`aliases`), chained correlations (a correlation over another correlation)
//!   and `generate` are not supported: such documents are refused.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, RecordBatch};
use serde::{Deserialize, Serialize};
use yaml_rust2::Yaml;

use crate::eval::BatchView;
use crate::fieldmap::FieldMap;
use crate::parse::{get, get_str};
use crate::tree::{Column, NumOp};
use crate::{Detection, Refusal, RuleIndex, RuleMeta, SigmaError};

/// The snapshot format version.
pub const CORRELATION_SNAPSHOT_VERSION: u32 = 1;

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CorrelationKind {
    EventCount,
    /// Distinct non-null values of a column.
    ValueCount {
        field: Column,
    },
    Temporal,
    TemporalOrdered,
}

/// A loaded correlation rule, its references resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationRule {
    pub meta: RuleMeta,
    pub kind: CorrelationKind,
    /// The referenced rules, in the listed order.
    pub rules: Vec<RuleIndex>,
    pub group_by: Vec<Column>,
    /// Microseconds.
    pub timespan: i64,
    /// The count must be `> value` (`Gt`) or `>= value` (`Gte`).
    pub op: NumOp,
    pub value: u64,
}

impl CorrelationRule {
    fn threshold_met(&self, count: u64) -> bool {
        match self.op {
            NumOp::Gt => count > self.value,
            _ => count >= self.value,
        }
    }
}

/// A correlation document parsed, its rule references not yet resolved.
#[derive(Debug, Clone)]
pub(crate) struct PendingCorrelation {
    pub(crate) meta: RuleMeta,
    pub(crate) kind: CorrelationKind,
    pub(crate) refs: Vec<String>,
    pub(crate) group_by: Vec<Column>,
    pub(crate) timespan: i64,
    pub(crate) op: NumOp,
    pub(crate) value: Option<u64>,
}

fn unsupported(s: impl Into<String>) -> Refusal {
    Refusal::UnsupportedCorrelation(s.into())
}

/// `90m`, `1h`, `30s`, `2d`, `1w` → microseconds.
pub(crate) fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs)?.checked_mul(1_000_000)
}

pub(crate) fn parse_correlation(doc: &Yaml, meta: RuleMeta, map: &FieldMap) -> Result<PendingCorrelation, Refusal> {
    let c = get(doc, "correlation").ok_or_else(|| unsupported("no `correlation`"))?;
    if !matches!(c, Yaml::Hash(_)) {
        return Err(unsupported("`correlation` is not a mapping"));
    }
    if get(c, "aliases").is_some() {
        return Err(unsupported("field name aliases are not supported"));
    }
    if get(doc, "generate").and_then(Yaml::as_bool) == Some(true) || get(c, "generate").and_then(Yaml::as_bool) == Some(true) {
        return Err(unsupported("`generate: true` is not supported"));
    }
    let ty = get_str(c, "type").ok_or_else(|| unsupported("no `type`"))?;
    let refs: Vec<String> = match get(c, "rules") {
        Some(Yaml::Array(a)) if !a.is_empty() => a.iter().filter_map(|r| r.as_str().map(str::to_string)).collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => return Err(unsupported("`rules` must list rule ids or names")),
    };
    let group_by = match get(c, "group-by") {
        Some(Yaml::Array(a)) => a
            .iter()
            .map(|g| {
                let name = g.as_str().ok_or_else(|| unsupported("a `group-by` entry is not a string"))?;
                map.get(name).cloned().ok_or_else(|| Refusal::UnmappedField(name.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Yaml::String(s)) => vec![map.get(s).cloned().ok_or_else(|| Refusal::UnmappedField(s.clone()))?],
        None => Vec::new(),
        _ => return Err(unsupported("`group-by` must be a list of fields")),
    };
    let span_text = get_str(c, "timespan").or_else(|| get_str(c, "timeframe")).ok_or_else(|| unsupported("no `timespan`"))?;
    let timespan = parse_timespan(&span_text).ok_or_else(|| unsupported(format!("timespan `{span_text}` (use e.g. 30s, 5m, 1h, 1d)")))?;
    let cond = get(c, "condition");
    let mut op = NumOp::Gte;
    let mut value = None;
    let mut field = None;
    if let Some(Yaml::Hash(h)) = cond {
        for (k, v) in h {
            let k = k.as_str().unwrap_or("");
            match k {
                "field" => field = v.as_str().map(str::to_string),
                "gt" | "gte" => {
                    if value.is_some() {
                        return Err(unsupported("two lower bounds in `condition`"));
                    }
                    let n = v.as_i64().filter(|n| *n >= 0).ok_or_else(|| unsupported(format!("`{k}` needs a whole number")))?;
                    op = if k == "gt" { NumOp::Gt } else { NumOp::Gte };
                    value = Some(n as u64);
                }
                "lt" | "lte" | "eq" => {
                    return Err(unsupported(format!(
                        "`{k}` in a correlation condition (only `gt`/`gte`: upper bounds need the window to close)"
                    )));
                }
                other => return Err(unsupported(format!("`{other}` in a correlation condition"))),
            }
        }
    } else if cond.is_some() {
        return Err(unsupported("`condition` must be a mapping like {gte: 10}"));
    }
    let kind = match ty.as_str() {
        "event_count" => CorrelationKind::EventCount,
        "value_count" => {
            let f = field.ok_or_else(|| unsupported("value_count needs `field` in `condition`"))?;
            CorrelationKind::ValueCount { field: map.get(&f).cloned().ok_or(Refusal::UnmappedField(f))? }
        }
        "temporal" => CorrelationKind::Temporal,
        "temporal_ordered" => CorrelationKind::TemporalOrdered,
        other => return Err(unsupported(format!("type `{other}`"))),
    };
    if value.is_none() && matches!(kind, CorrelationKind::EventCount | CorrelationKind::ValueCount { .. }) {
        return Err(unsupported("event_count and value_count need `condition: {gte: N}`"));
    }
    Ok(PendingCorrelation { meta, kind, refs, group_by, timespan, op, value })
}

/// How a [`Correlator`] is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CorrelationMode {
    /// Files: everything is processed by [`Correlator::finish`].
    Batch,
    /// Micro-batches with a watermark trailing the newest event by `allowed_lateness` (µs).
    Streaming { allowed_lateness: i64 },
}

/// A correlation matched for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationMatch {
    /// Index into [`Correlator::correlations`].
    pub correlation: usize,
    /// The group-by values, in `group_by` order.
    pub group: Vec<Option<String>>,
    /// Event time of the first and last observation in the matching window (µs).
    pub first_ts: i64,
    pub last_ts: i64,
    /// The count that met the condition (events, distinct values, or distinct rules).
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Obs {
    corr: usize,
    ts: i64,
    seq: u64,
    /// Positions of the observed rule in the correlation's `rules` (one event may match several).
    pos: Vec<usize>,
    group: Vec<Option<String>>,
    value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Group {
    /// (ts, rule positions, value) in the window.
    events: VecDeque<(i64, Vec<usize>, Option<String>)>,
    /// temporal_ordered: for each prefix of the rule list, the latest start time of a chain
    /// that completes it.
    chain: Vec<Option<i64>>,
    newest: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    version: u32,
    /// A fingerprint of the correlation rules, so that a checkpoint is restored only into the same rules.
    rules: String,
    mode: CorrelationMode,
    watermark: Option<i64>,
    max_ts: Option<i64>,
    seq: u64,
    late: u64,
    pending: Vec<Obs>,
    /// Only in snapshots: the groups, sorted by (correlation, group).
    groups: Vec<(GroupKey, Group)>,
}

/// (correlation index, group-by values).
type GroupKey = (usize, Vec<Option<String>>);

/// Evaluates correlation rules over detections. See the module doc for the semantics.
#[derive(Clone)]
pub struct Correlator {
    correlations: Vec<CorrelationRule>,
    state: State,
    groups: HashMap<GroupKey, Group>,
}

fn fingerprint(c: &[CorrelationRule]) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

impl Correlator {
    pub fn new(correlations: Vec<CorrelationRule>, mode: CorrelationMode) -> Correlator {
        let state = State {
            version: CORRELATION_SNAPSHOT_VERSION,
            rules: fingerprint(&correlations),
            mode,
            watermark: None,
            max_ts: None,
            seq: 0,
            late: 0,
            pending: Vec::new(),
            groups: Vec::new(),
        };
        Correlator { correlations, state, groups: HashMap::new() }
    }

    pub fn correlations(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// Observations dropped as late (streaming mode).
    pub fn late_observations(&self) -> u64 {
        self.state.late
    }

    /// True when observations wait for the watermark (streaming mode): a stream that ends
    /// calls [`Correlator::finish`] to process them.
    pub fn has_pending(&self) -> bool {
        !self.state.pending.is_empty()
    }

    /// The current watermark (streaming mode), µs.
    pub fn watermark(&self) -> Option<i64> {
        self.state.watermark
    }

    /// Takes the detections of one evaluated batch (the batch needs `ts` and the group-by and
    /// value columns). Returns the rows of late detections (streaming mode), sorted.
    pub fn observe(&mut self, batch: &RecordBatch, detections: &[Detection]) -> Result<Vec<usize>, SigmaError> {
        let ts_col = batch
            .column_by_name("ts")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| SigmaError::Column("correlation needs a `ts` column of microsecond timestamps".into()))?;
        let mut cols: Vec<&Column> = Vec::new();
        for c in &self.correlations {
            cols.extend(c.group_by.iter());
            if let CorrelationKind::ValueCount { field } = &c.kind {
                cols.push(field);
            }
        }
        let view = BatchView::new(batch, cols)?;
        let mut late_rows = Vec::new();
        // The watermark follows every event of the batch, not only detections.
        let mut newest = self.state.max_ts;
        for t in ts_col.iter().flatten() {
            newest = Some(newest.map_or(t, |n: i64| n.max(t)));
        }
        for (ci, c) in self.correlations.iter().enumerate() {
            // Detections of this correlation's rules, grouped by row.
            let mut by_row: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for d in detections {
                for (pos, r) in c.rules.iter().enumerate() {
                    if *r == d.rule {
                        by_row.entry(d.row).or_default().push(pos);
                    }
                }
            }
            for (row, pos) in by_row {
                if ts_col.is_null(row) {
                    continue;
                }
                let ts = ts_col.value(row);
                if let (CorrelationMode::Streaming { .. }, Some(w)) = (self.state.mode, self.state.watermark)
                    && ts < w
                {
                    self.state.late += 1;
                    late_rows.push(row);
                    continue;
                }
                let group = c.group_by.iter().map(|g| view.reader(g).text(row).map(|t| t.into_owned())).collect();
                let value = match &c.kind {
                    CorrelationKind::ValueCount { field } => view.reader(field).text(row).map(|t| t.into_owned()),
                    _ => None,
                };
                self.state.seq += 1;
                self.state.pending.push(Obs { corr: ci, ts, seq: self.state.seq, pos, group, value });
            }
        }
        self.state.max_ts = newest;
        late_rows.sort_unstable();
        late_rows.dedup();
        Ok(late_rows)
    }

    /// Streaming: advances the watermark and returns the matches of the observations it passed.
    pub fn end_batch(&mut self) -> Vec<CorrelationMatch> {
        let CorrelationMode::Streaming { allowed_lateness } = self.state.mode else {
            return Vec::new();
        };
        let Some(max) = self.state.max_ts else { return Vec::new() };
        let w = max.saturating_sub(allowed_lateness);
        let w = self.state.watermark.map_or(w, |old| old.max(w));
        self.state.watermark = Some(w);
        let (ready, wait): (Vec<Obs>, Vec<Obs>) = std::mem::take(&mut self.state.pending).into_iter().partition(|o| o.ts <= w);
        self.state.pending = wait;
        let out = self.process(ready);
        // Forget groups that cannot match again without new observations inside their timespan.
        let correlations = &self.correlations;
        self.groups.retain(|(ci, _), g| g.newest > w.saturating_sub(correlations[*ci].timespan));
        out
    }

    /// Batch: processes everything observed; the correlator is empty afterwards.
    pub fn finish(&mut self) -> Vec<CorrelationMatch> {
        let all = std::mem::take(&mut self.state.pending);
        let out = self.process(all);
        self.groups.clear();
        out
    }

    fn process(&mut self, mut obs: Vec<Obs>) -> Vec<CorrelationMatch> {
        obs.sort_by_key(|o| (o.ts, o.seq));
        let mut out = Vec::new();
        for o in obs {
            let c = &self.correlations[o.corr];
            let g = self
                .groups
                .entry((o.corr, o.group.clone()))
                .or_insert_with(|| Group { chain: vec![None; c.rules.len()], ..Group::default() });
            let horizon = o.ts.saturating_sub(c.timespan);
            while g.events.front().is_some_and(|(t, _, _)| *t <= horizon) {
                g.events.pop_front();
            }
            g.newest = o.ts;
            g.events.push_back((o.ts, o.pos.clone(), o.value.clone()));
            let count = match &c.kind {
                CorrelationKind::EventCount => Some(g.events.len() as u64),
                CorrelationKind::ValueCount { .. } => {
                    Some(g.events.iter().filter_map(|(_, _, v)| v.as_deref()).collect::<HashSet<_>>().len() as u64)
                }
                CorrelationKind::Temporal => {
                    let n = g.events.iter().flat_map(|(_, p, _)| p.iter()).collect::<HashSet<_>>().len() as u64;
                    c.threshold_met(n).then_some(n)
                }
                CorrelationKind::TemporalOrdered => {
                    // Extend chains with this event's rule positions, highest first so that one
                    // event does not fill two consecutive steps.
                    let mut ps = o.pos.clone();
                    ps.sort_unstable_by(|a, b| b.cmp(a));
                    for p in ps {
                        let start = if p == 0 { Some(o.ts) } else { g.chain[p - 1].filter(|s| *s > horizon) };
                        if let Some(s) = start {
                            g.chain[p] = Some(g.chain[p].map_or(s, |old| old.max(s)));
                        }
                    }
                    let last = c.rules.len() - 1;
                    g.chain[last].filter(|s| *s > horizon).map(|_| c.rules.len() as u64)
                }
            };
            let met = match c.kind {
                CorrelationKind::EventCount | CorrelationKind::ValueCount { .. } => count.filter(|n| c.threshold_met(*n)),
                _ => count,
            };
            if let Some(n) = met {
                let first_ts = match c.kind {
                    CorrelationKind::TemporalOrdered => g.chain[c.rules.len() - 1].unwrap_or(o.ts),
                    _ => g.events.front().map_or(o.ts, |e| e.0),
                };
                out.push(CorrelationMatch { correlation: o.corr, group: o.group.clone(), first_ts, last_ts: o.ts, count: n });
                g.events.clear();
                g.chain.iter_mut().for_each(|s| *s = None);
            }
        }
        out
    }

    /// The correlator's state as JSON bytes (a stream checkpoint).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut groups: Vec<(GroupKey, Group)> = self.groups.iter().map(|(k, g)| (k.clone(), g.clone())).collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let state = State { groups, ..self.state.clone() };
        serde_json::to_vec(&state).expect("state serialises")
    }

    /// A correlator over the same correlation rules, from a [`Correlator::snapshot`].
    pub fn restore(correlations: Vec<CorrelationRule>, bytes: &[u8]) -> Result<Correlator, SigmaError> {
        let mut state: State = serde_json::from_slice(bytes).map_err(|e| SigmaError::Snapshot(e.to_string()))?;
        if state.version != CORRELATION_SNAPSHOT_VERSION {
            return Err(SigmaError::Snapshot(format!("version {} (this build reads {CORRELATION_SNAPSHOT_VERSION})", state.version)));
        }
        if state.rules != fingerprint(&correlations) {
            return Err(SigmaError::Snapshot("the checkpoint was taken with other correlation rules".into()));
        }
        let bad_pos = |corr: usize, pos: &[usize]| corr >= correlations.len() || pos.iter().any(|p| *p >= correlations[corr].rules.len());
        if state.pending.iter().any(|o| bad_pos(o.corr, &o.pos))
            || state.groups.iter().any(|((c, _), g)| {
                bad_pos(*c, &[]) || g.chain.len() != correlations[*c].rules.len() || g.events.iter().any(|e| bad_pos(*c, &e.1))
            })
        {
            return Err(SigmaError::Snapshot("the checkpoint refers to unknown correlations or rules".into()));
        }
        let groups = std::mem::take(&mut state.groups).into_iter().collect();
        Ok(Correlator { correlations, state, groups })
    }
}

//! The checkpoint folder of a streaming pipeline: where it is in the topic, and what it
//! has committed.
//!
//! ```text
//! <checkpoint>/
//!   pipeline.json        the pipeline id (the Delta app id) and creation time
//!   offsets/<n>.json     batch n's planned offset ranges, written BEFORE any sink sees it
//!   state/<n>.json       the window analyser's state after batch n (every tenth batch), or
//!   state/<n>.delta      what batch n changed in it (the other batches)
//!   commits/<n>.json     written LAST, once every sink holds batch n: running totals
//!   retro/<n>.json       the retro-sweep that the intel version taken at batch n owes:
//!                        the stored event files it covers, in parts (written before
//!                        offsets/<n>.json)
//! ```
//!
//! On start the latest commit `c` says where to resume: if `offsets/<c+1>.json` exists,
//! batch `c+1` was planned but not finished, and is re-run over exactly the same offsets
//! (from the state of `c`), so that every sink ends up with it exactly once. A crash never
//! leaves half a file: on disk files are written under a temporary name, synced and renamed;
//! on object storage (`s3://`, `gs://`, `az://` ...) each file is one PUT ([`files`]).

mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::RunError;
use files::Files;

/// How many finished batches keep their files (older ones are deleted).
const KEEP_BATCHES: u64 = 20;

/// Every this many batches the window state is written whole; the batches between write
/// what they changed. A state therefore costs what its batch changed, not what it holds, and
/// the last whole state is always within the batches kept.
pub const FULL_STATE_EVERY: u64 = 10;

/// True when batch `batch` writes its window state whole.
pub fn full_state_due(batch: u64) -> bool {
    batch.is_multiple_of(FULL_STATE_EVERY)
}

/// The offset ranges of one micro-batch, keyed by `kafka:<topic>/<partition>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedBatch {
    pub batch: u64,
    pub from: BTreeMap<String, i64>,
    pub until: BTreeMap<String, i64>,
    /// When the batch was planned (µs since the epoch): the `ingest_ts` of its rejects, so
    /// that a re-run writes the same rows.
    pub planned_at_us: i64,
    /// The end of input (stop_when_drained): every open window becomes final.
    #[serde(default)]
    pub final_flush: bool,
    /// The intel version the batch is swept with (a stream with a sweeper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_version: Option<String>,
    /// The first batch of a new intel version: the version before it. The batch also
    /// sweeps the stored events of the lookback with the indicators the new version added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retro_from_version: Option<String>,
    /// The part of a retro-sweep this batch does (`retro/<plan>.json`): a new version's
    /// retro-sweep is spread over the batches after it, one part each, so that no batch
    /// stalls the stream for the whole lookback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retro_part: Option<RetroPart>,
    /// The retro-sweeps waiting for their first part after this batch's (plans by id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retro_queue: Vec<u64>,
    /// False in plans written before retro-sweeps came in parts: such a batch, when it is
    /// the first of a new version, sweeps the whole lookback itself.
    #[serde(default)]
    pub retro_in_parts: bool,
}

/// The window state a batch commits: whole, or what the batch changed.
#[derive(Debug, Clone, Copy)]
pub enum WindowState<'a> {
    Full(&'a [u8]),
    Delta(&'a [u8]),
}

/// One part of a retro-sweep plan, done by one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetroPart {
    /// The plan's id: the batch that took the version.
    pub plan: u64,
    pub part: u32,
}

/// The retro-sweep a new intel version owes, fixed when the version is taken: the event
/// files the events table held then (within the lookback's days), cut into parts of about
/// `retro_part_bytes`. A batch re-run after a crash does the same part over the same files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetroPlan {
    /// The version whose added indicators are swept (its retro hits carry it).
    pub version: String,
    /// The version it follows: the added indicators are the difference.
    pub from_version: String,
    /// Events at or after this time (µs since the epoch).
    pub since_us: i64,
    /// Events of this stream at or after these offsets were swept live with the version.
    pub before: BTreeMap<String, i64>,
    /// The event files of each part.
    pub parts: Vec<Vec<PathBuf>>,
}

/// Running totals since the checkpoint was created, as of a committed batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub lines: u64,
    pub events: u64,
    pub rejects: u64,
    pub skipped: u64,
    pub hits: u64,
    pub late: u64,
    pub metrics_rows: u64,
    pub alerts: u64,
    #[serde(default)]
    pub reject_reasons: BTreeMap<String, u64>,
    // Defaults: checkpoints written before the content analyser existed still resume.
    #[serde(default)]
    pub findings: u64,
    #[serde(default)]
    pub findings_by_kind: BTreeMap<String, u64>,
    /// Of `hits`, those found by the retro-sweeps of new intel versions.
    #[serde(default)]
    pub retro_hits: u64,
    /// Rows of the detections table (Sigma rules).
    #[serde(default)]
    pub detections: u64,
}

impl Totals {
    /// The run summary's counts: a streaming run reports totals since its checkpoint was made.
    pub fn summary(&self) -> crate::RunSummary {
        crate::RunSummary {
            input_lines: self.lines,
            events: self.events,
            rejects: self.rejects,
            skipped: self.skipped,
            hits: self.hits,
            metrics_rows: self.metrics_rows,
            findings: self.findings,
            findings_by_kind: self.findings_by_kind.clone(),
            detections: self.detections,
            reject_reasons: self.reject_reasons.clone(),
            ..crate::RunSummary::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CommitRecord {
    batch: u64,
    totals: Totals,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PipelineRecord {
    id: String,
    created_us: i64,
}

/// Where a restarted pipeline picks up.
pub struct Resume {
    /// The id sinks tag their commits with (Delta application transaction id).
    pub pipeline_id: String,
    /// The last committed batch, if any.
    pub committed: Option<u64>,
    pub totals: Totals,
    /// The window state after the last committed batch: the last whole state, and what
    /// each batch after it changed, to apply in order.
    pub window_state: Option<Vec<u8>>,
    pub window_deltas: Vec<Vec<u8>>,
    /// The Sigma correlator's state after the last committed batch.
    pub sigma_state: Option<Vec<u8>>,
    /// Where the next new batch starts (the end of the last planned batch).
    pub next_from: Option<BTreeMap<String, i64>>,
    /// A batch planned but not committed: it must be re-run before anything else.
    pub unfinished: Option<PlannedBatch>,
    /// The intel version of the last planned batch.
    pub intel_version: Option<String>,
    /// The retro-sweep parts still owed after the last planned batch.
    pub retro_pending: Vec<RetroPart>,
}

pub struct Checkpoint {
    files: Files,
    /// Whether a run on this checkpoint applied the write mode (`tables-prepared`), and
    /// whether batch 0 replaces the tables' rows (`replace-tables`): read once at open.
    tables_prepared: AtomicBool,
    replace_tables: AtomicBool,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint at `location` (a folder, or a URL on object
    /// storage) and reads where to resume.
    pub fn open(location: &Path, now_us: i64) -> Result<(Checkpoint, Resume), RunError> {
        let files = Files::open(location, &["offsets", "state", "commits"])?;
        let ckpt = Checkpoint {
            tables_prepared: AtomicBool::new(files.exists("tables-prepared")?),
            replace_tables: AtomicBool::new(files.exists("replace-tables")?),
            files,
        };
        let record: PipelineRecord = match ckpt.read_json("pipeline.json")? {
            Some(record) => record,
            None => {
                let record = PipelineRecord { id: format!("sweep-{now_us:x}-{:x}", std::process::id()), created_us: now_us };
                ckpt.write_json("pipeline.json", &record)?;
                record
            }
        };
        let committed = ckpt.latest("commits")?;
        let (totals, (window_state, window_deltas), sigma_state) = match committed {
            Some(c) => {
                let commit: CommitRecord = ckpt.must_read_json(&file("commits", c))?;
                (commit.totals, ckpt.window_chain(c)?, ckpt.files.read(&sigma_file(c))?)
            }
            None => (Totals::default(), (None, Vec::new()), None),
        };
        let next = committed.map_or(0, |c| c + 1);
        let unfinished: Option<PlannedBatch> = ckpt.read_json(&file("offsets", next))?;
        let last_committed = match committed {
            Some(c) => Some(ckpt.must_read_json::<PlannedBatch>(&file("offsets", c))?),
            None => None,
        };
        let last_planned = unfinished.as_ref().or(last_committed.as_ref());
        let intel_version = last_planned.and_then(|b| b.intel_version.clone());
        let retro_pending = match last_planned {
            Some(planned) => ckpt.retro_pending_after(planned)?,
            None => Vec::new(),
        };
        let next_from = last_committed.map(|b| b.until);
        let resume = Resume {
            pipeline_id: record.id,
            committed,
            totals,
            window_state,
            window_deltas,
            sigma_state,
            next_from,
            unfinished,
            intel_version,
            retro_pending,
        };
        Ok((ckpt, resume))
    }

    /// Whether the checkpoint at `location` has committed batches (a stream started on it
    /// resumes), asked without writing anything: for `sweep check`.
    pub fn has_commits(location: &Path) -> Result<bool, RunError> {
        let text = location.to_string_lossy();
        if !sweep_storage::is_object_url(&text) && !location.is_dir() {
            return Ok(false);
        }
        let files = Files::open(location, &[])?;
        Ok(files.names("commits")?.iter().any(|name| name.ends_with(".json")))
    }

    /// True once a run on this checkpoint has applied the write mode to the tables: later
    /// runs continue the tables whatever the mode says.
    pub fn tables_prepared(&self) -> bool {
        self.tables_prepared.load(Ordering::Relaxed)
    }

    /// Records that the write mode was applied; with `replace` (`--mode overwrite`), the
    /// commit of batch 0 replaces what the tables held before, whenever it happens (a batch
    /// 0 re-run after a crash replaces them again).
    pub fn mark_tables_prepared(&self, replace: bool) -> Result<(), RunError> {
        if replace {
            self.files.write("replace-tables", b"batch 0 replaces the rows the tables held before this pipeline\n")?;
            self.replace_tables.store(true, Ordering::Relaxed);
        }
        self.files.write("tables-prepared", b"the write mode was applied to the tables of this pipeline\n")?;
        self.tables_prepared.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// True when `batch` is the one that replaces the tables' earlier rows.
    pub fn replaces_tables(&self, batch: u64) -> bool {
        batch == 0 && self.replace_tables.load(Ordering::Relaxed)
    }

    /// Records a batch's offset ranges before any sink is written.
    pub fn plan(&self, batch: &PlannedBatch) -> Result<(), RunError> {
        self.write_json(&file("offsets", batch.batch), batch)
    }

    /// Records the retro-sweep plan of the version taken at batch `id`, before that batch's
    /// own plan (which names it).
    pub fn plan_retro(&self, id: u64, plan: &RetroPlan) -> Result<(), RunError> {
        self.write_json(&file("retro", id), plan)
    }

    pub fn retro_plan(&self, id: u64) -> Result<RetroPlan, RunError> {
        self.must_read_json(&file("retro", id))
    }

    /// The retro-sweep parts owed after `planned`: the rest of its own plan, then the
    /// plans queued behind it, each from its first part.
    pub fn retro_pending_after(&self, planned: &PlannedBatch) -> Result<Vec<RetroPart>, RunError> {
        let mut pending = Vec::new();
        if let Some(current) = planned.retro_part {
            let parts = self.retro_plan(current.plan)?.parts.len() as u32;
            pending.extend((current.part + 1..parts).map(|part| RetroPart { plan: current.plan, part }));
        }
        for &plan in &planned.retro_queue {
            let parts = self.retro_plan(plan)?.parts.len() as u32;
            pending.extend((0..parts).map(|part| RetroPart { plan, part }));
        }
        Ok(pending)
    }

    /// Records that every sink holds `batch`: its window and correlator states, then the
    /// commit marker.
    pub fn commit(
        &self,
        planned: &PlannedBatch,
        totals: &Totals,
        window: Option<WindowState<'_>>,
        sigma_state: Option<&[u8]>,
    ) -> Result<(), RunError> {
        let batch = planned.batch;
        match window {
            Some(WindowState::Full(state)) => self.files.write(&file("state", batch), state)?,
            Some(WindowState::Delta(delta)) => self.files.write(&delta_file(batch), delta)?,
            None => {}
        }
        if let Some(state) = sigma_state {
            self.files.write(&sigma_file(batch), state)?;
        }
        self.write_json(&file("commits", batch), &CommitRecord { batch, totals: totals.clone() })?;
        if batch >= KEEP_BATCHES {
            let old = batch - KEEP_BATCHES;
            for sub in ["offsets", "state", "commits"] {
                self.files.remove(&file(sub, old));
            }
            self.files.remove(&delta_file(old));
            self.files.remove(&sigma_file(old));
            self.prune_retro_plans(planned, old);
        }
        Ok(())
    }

    /// Deletes the retro-sweep plans of batches up to `up_to` that no batch still needs
    /// (neither `planned`'s own part nor its queue: later batches only take parts of those).
    fn prune_retro_plans(&self, planned: &PlannedBatch, up_to: u64) {
        let keep: Vec<u64> = planned.retro_part.map(|p| p.plan).into_iter().chain(planned.retro_queue.iter().copied()).collect();
        let Ok(names) = self.files.names("retro") else { return };
        for name in names {
            let id = name.strip_suffix(".json").and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id
                && id <= up_to
                && !keep.contains(&id)
            {
                self.files.remove(&format!("retro/{name}"));
            }
        }
    }

    /// The window state after batch `committed`: the last whole state at or before it and the
    /// deltas of the batches after that one, oldest first.
    fn window_chain(&self, committed: u64) -> Result<(Option<Vec<u8>>, Vec<Vec<u8>>), RunError> {
        let mut deltas = Vec::new();
        let mut batch = committed;
        loop {
            if let Some(full) = self.files.read(&file("state", batch))? {
                deltas.reverse();
                return Ok((Some(full), deltas));
            }
            let delta = delta_file(batch);
            let Some(bytes) = self.files.read(&delta)? else {
                if deltas.is_empty() {
                    return Ok((None, deltas));
                }
                return Err(RunError::Checkpoint(format!(
                    "the window state after batch {committed} needs {} or an earlier whole state, which is gone; \
                     the checkpoint folder is damaged: use a new one",
                    self.files.name(&delta)
                )));
            };
            deltas.push(bytes);
            let Some(before) = batch.checked_sub(1) else {
                return Err(RunError::Checkpoint(format!(
                    "the window state after batch {committed} has no whole state to start from; the checkpoint folder is damaged: use a new one"
                )));
            };
            batch = before;
        }
    }

    fn latest(&self, sub: &str) -> Result<Option<u64>, RunError> {
        Ok(self.files.names(sub)?.iter().filter_map(|name| name.strip_suffix(".json").and_then(|n| n.parse::<u64>().ok())).max())
    }

    /// The JSON file `relative`, or `None` when it does not exist.
    fn read_json<T: DeserializeOwned>(&self, relative: &str) -> Result<Option<T>, RunError> {
        let Some(bytes) = self.files.read(relative)? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            RunError::Checkpoint(format!(
                "{} is not a sweep checkpoint file ({e}); the folder is damaged or belongs to something else: use a new checkpoint folder",
                self.files.name(relative)
            ))
        })
    }

    /// The JSON file `relative`, which the checkpoint's other files say exists.
    fn must_read_json<T: DeserializeOwned>(&self, relative: &str) -> Result<T, RunError> {
        self.read_json(relative)?.ok_or_else(|| {
            RunError::Checkpoint(format!("{} is missing; the checkpoint folder is damaged: use a new one", self.files.name(relative)))
        })
    }

    fn write_json<T: Serialize>(&self, relative: &str, value: &T) -> Result<(), RunError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| RunError::Checkpoint(e.to_string()))?;
        self.files.write(relative, &bytes)
    }
}

/// Batch `batch`'s file in the sub-folder `sub`.
fn file(sub: &str, batch: u64) -> String {
    format!("{sub}/{batch:012}.json")
}

/// What batch `batch` changed in the window state.
fn delta_file(batch: u64) -> String {
    format!("state/{batch:012}.delta")
}

/// The correlator state beside the window state (a name `latest` does not count).
fn sigma_file(batch: u64) -> String {
    format!("state/{batch:012}.sigma")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn planned(batch: u64, from: i64, until: i64) -> PlannedBatch {
        PlannedBatch {
            batch,
            from: [("kafka:t/0".to_string(), from)].into(),
            until: [("kafka:t/0".to_string(), until)].into(),
            planned_at_us: 7,
            final_flush: false,
            intel_version: None,
            retro_from_version: None,
            retro_part: None,
            retro_queue: Vec::new(),
            retro_in_parts: true,
        }
    }

    #[test]
    fn a_fresh_folder_has_nothing_to_resume() {
        let dir = tempfile::tempdir().unwrap();
        let (_, resume) = Checkpoint::open(dir.path(), 1).unwrap();
        assert_eq!(resume.committed, None);
        assert!(resume.unfinished.is_none() && resume.next_from.is_none() && resume.window_state.is_none());
    }

    #[test]
    fn a_planned_batch_without_commit_is_replayed_and_the_id_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, first) = Checkpoint::open(dir.path(), 1).unwrap();
        ckpt.plan(&planned(0, 0, 10)).unwrap();
        let totals = Totals { lines: 10, ..Totals::default() };
        ckpt.commit(&planned(0, 0, 10), &totals, Some(WindowState::Full(b"state-0")), None).unwrap();
        ckpt.plan(&planned(1, 10, 25)).unwrap();
        // crash here
        let (_, resume) = Checkpoint::open(dir.path(), 2).unwrap();
        assert_eq!(resume.pipeline_id, first.pipeline_id);
        assert_eq!(resume.committed, Some(0));
        assert_eq!(resume.totals.lines, 10);
        assert_eq!(resume.window_state.as_deref(), Some(&b"state-0"[..]));
        assert_eq!(resume.unfinished, Some(planned(1, 10, 25)));
        assert_eq!(resume.next_from.unwrap()["kafka:t/0"], 10);
    }

    #[test]
    fn a_resumed_stream_owes_the_rest_of_its_retro_sweep_then_the_queued_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, _) = Checkpoint::open(dir.path(), 1).unwrap();
        let plan = |parts: usize| RetroPlan {
            version: "v2".into(),
            from_version: "v1".into(),
            since_us: 0,
            before: BTreeMap::new(),
            parts: (0..parts).map(|p| vec![PathBuf::from(format!("f{p}.parquet"))]).collect(),
        };
        ckpt.plan_retro(3, &plan(3)).unwrap();
        ckpt.plan_retro(4, &plan(2)).unwrap();
        for b in 0..4 {
            ckpt.plan(&planned(b, b as i64, b as i64 + 1)).unwrap();
            ckpt.commit(&planned(b, b as i64, b as i64 + 1), &Totals::default(), None, None).unwrap();
        }
        // Batch 4 does part 1 of plan 3; plan 4 waits behind it. It crashes unfinished.
        let batch = PlannedBatch { retro_part: Some(RetroPart { plan: 3, part: 1 }), retro_queue: vec![4], ..planned(4, 4, 10) };
        ckpt.plan(&batch).unwrap();
        let (_, resume) = Checkpoint::open(dir.path(), 2).unwrap();
        let owed: Vec<(u64, u32)> = resume.retro_pending.iter().map(|p| (p.plan, p.part)).collect();
        assert_eq!(owed, [(3, 2), (4, 0), (4, 1)], "after the re-run of batch 4");
        assert_eq!(resume.unfinished.unwrap().retro_part, Some(RetroPart { plan: 3, part: 1 }));
    }

    #[test]
    fn retro_plans_are_kept_while_a_batch_still_needs_them() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, _) = Checkpoint::open(dir.path(), 1).unwrap();
        let plan = RetroPlan { version: "v".into(), from_version: "u".into(), since_us: 0, before: BTreeMap::new(), parts: vec![vec![]] };
        ckpt.plan_retro(0, &plan).unwrap();
        ckpt.plan_retro(1, &plan).unwrap();
        for b in 0..40 {
            // Plan 1 is still being worked through; plan 0 is done.
            let batch = PlannedBatch { retro_part: Some(RetroPart { plan: 1, part: 0 }), ..planned(b, b as i64, b as i64 + 1) };
            ckpt.plan(&batch).unwrap();
            ckpt.commit(&batch, &Totals::default(), None, None).unwrap();
        }
        assert!(ckpt.retro_plan(1).is_ok());
        assert!(ckpt.retro_plan(0).is_err(), "a plan no batch needs is pruned");
    }

    #[test]
    fn the_window_state_resumes_from_its_last_whole_state_and_the_deltas_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, _) = Checkpoint::open(dir.path(), 1).unwrap();
        for b in 0..34u64 {
            let batch = planned(b, b as i64, b as i64 + 1);
            ckpt.plan(&batch).unwrap();
            let bytes = format!("state-{b}").into_bytes();
            let state = if full_state_due(b) { WindowState::Full(&bytes) } else { WindowState::Delta(&bytes) };
            ckpt.commit(&batch, &Totals::default(), Some(state), None).unwrap();
        }
        let (_, resume) = Checkpoint::open(dir.path(), 2).unwrap();
        assert_eq!(resume.window_state.as_deref(), Some(&b"state-30"[..]));
        let deltas: Vec<String> = resume.window_deltas.iter().map(|d| String::from_utf8_lossy(d).into_owned()).collect();
        assert_eq!(deltas, ["state-31", "state-32", "state-33"]);
        // Pruning kept what the chain needs, and removed the rest of the old batches.
        assert!(!dir.path().join("state/000000000010.json").exists() && !dir.path().join("state/000000000011.delta").exists());

        // A chain whose whole state is gone is a damaged checkpoint, said so.
        std::fs::remove_file(dir.path().join("state/000000000030.json")).unwrap();
        let err = Checkpoint::open(dir.path(), 3).err().unwrap().to_string();
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn old_batches_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, _) = Checkpoint::open(dir.path(), 1).unwrap();
        for b in 0..30 {
            ckpt.plan(&planned(b, b as i64, b as i64 + 1)).unwrap();
            ckpt.commit(&planned(b, b as i64, b as i64 + 1), &Totals::default(), None, None).unwrap();
        }
        assert_eq!(fs::read_dir(dir.path().join("commits")).unwrap().count(), KEEP_BATCHES as usize);
        let (_, resume) = Checkpoint::open(dir.path(), 2).unwrap();
        assert_eq!(resume.committed, Some(29));
        assert_eq!(resume.next_from.unwrap()["kafka:t/0"], 30);
    }

    #[test]
    fn a_damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let (ckpt, _) = Checkpoint::open(dir.path(), 1).unwrap();
        ckpt.plan(&planned(0, 0, 1)).unwrap();
        fs::write(dir.path().join("commits/000000000000.json"), b"{not json").unwrap();
        let err = Checkpoint::open(dir.path(), 2).err().unwrap().to_string();
        assert!(err.contains("new checkpoint folder"), "{err}");
    }
}

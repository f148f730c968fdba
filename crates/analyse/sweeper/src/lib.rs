//! The threat-intel sweeper as an operator over event batches, with no engine behind it:
//! Arrow batches of events in, Arrow batches of hits out. Both engines run it (the embedded
//! one per parsed batch; the Spark one compiles the same matching into SQL and checks its
//! tables against it), and it owns the schemas of the `hits` and `intel` tables.
//!
//! The index is probed once per event (hash sets, a longest-prefix table, a label walk):
//! events are never the build side of a join, and nothing about the log is held in memory
//! beyond the batch at hand.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use serde::Serialize;
use sweep_formats::schema::{UTC, timestamp_type};
use sweep_intel::IndicatorType;
use sweep_intel::feeds::{FeedSpec, load_all, load_allowlist};
use sweep_intel::index::{AllowList, EventView, Hit, IntelIndex, MatchField, MatchStats};
use sweep_model::SweeperSpec;

/// What can go wrong loading intel or sweeping a batch; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SweeperError {
    #[error(transparent)]
    Feed(#[from] sweep_intel::feeds::FeedError),
    /// The events lack a column the sweeper reads, or have it in a type it cannot read.
    #[error("{0}")]
    Events(String),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

fn tags_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

static HITS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("ts", timestamp_type(), false),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("indicator", DataType::Utf8, false),
        Field::new("indicator_type", DataType::Utf8, false),
        Field::new("match_kind", DataType::Utf8, false),
        Field::new("matched_field", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("confidence", DataType::Int32, true),
        Field::new("tags", tags_type(), true),
        Field::new("intel_version", DataType::Utf8, false),
        Field::new("match_mode", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, true),
    ]))
});

/// Schema of the `hits` table (built once).
pub fn hits_schema() -> SchemaRef {
    HITS.clone()
}

/// Schema of the `intel` table: the indicator snapshot a sweep used.
pub fn intel_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("indicator", DataType::Utf8, false),
        Field::new("indicator_type", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("confidence", DataType::Int32, true),
        Field::new("severity", DataType::Utf8, true),
        Field::new("tags", tags_type(), true),
        Field::new("description", DataType::Utf8, true),
        Field::new("valid_from", timestamp_type(), true),
        Field::new("valid_until", timestamp_type(), true),
        Field::new("intel_version", DataType::Utf8, false),
    ]))
}

/// What was read from one feed or allowlist.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub feed: String,
    pub path: String,
    pub kind: String,
    pub indicators: u64,
    pub refused: u64,
    pub skipped: u64,
}

/// Indicators loaded for a run, and what became of every value offered.
pub struct LoadedIntel {
    pub index: Arc<IntelIndex>,
    pub feeds: Vec<FeedReport>,
    pub allowlists: Vec<FeedReport>,
    /// Every refused value (feeds and allowlists), with its reason.
    pub refused: Vec<sweep_intel::Refusal>,
    pub load_s: f64,
}

/// What the sweeper loaded and did, as a run's summary reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntelSummary {
    pub intel_version: String,
    pub indicators: u64,
    pub indicators_by_type: BTreeMap<String, u64>,
    pub refused: u64,
    pub allowlist_entries: u64,
    pub load_s: f64,
    /// Matches held back because the value is allow-listed.
    pub suppressed: u64,
    /// Matches of indicators that were not valid at the event's time.
    pub inactive: u64,
    pub feeds: Vec<FeedReport>,
}

impl IntelSummary {
    pub fn new(loaded: &LoadedIntel) -> IntelSummary {
        let index = &loaded.index;
        let mut by_type = BTreeMap::new();
        for kind in IndicatorType::ALL {
            let n = index.count(kind);
            if n > 0 {
                by_type.insert(kind.as_str().to_string(), n as u64);
            }
        }
        IntelSummary {
            intel_version: index.version().to_string(),
            indicators: index.len() as u64,
            indicators_by_type: by_type,
            refused: loaded.refused.len() as u64,
            allowlist_entries: index.allow_len() as u64,
            load_s: loaded.load_s,
            suppressed: 0,
            inactive: 0,
            feeds: loaded.feeds.iter().chain(&loaded.allowlists).cloned().collect(),
        }
    }
}

/// Reads every feed and allowlist of a sweeper and builds the index.
pub fn load_intel(spec: &SweeperSpec) -> Result<LoadedIntel, SweeperError> {
    load_feeds(&spec.intel, &spec.allow)
}

/// Reads feeds and allowlists and builds the index. Feed files are read several at a time
/// (large plain lists in runs of lines on every core), the allowlists meanwhile, and the index
/// takes the readers' values as they are (they are normalised once, by the readers).
pub fn load_feeds(feeds: &[FeedSpec], allow: &[std::path::PathBuf]) -> Result<LoadedIntel, SweeperError> {
    load_feeds_with(feeds, Vec::new(), allow)
}

/// [`load_feeds`], where `preloaded[i]`, when it is `Some`, holds what reading `feeds[i]`
/// gives (a source that was just read to check it); only the other feeds are read.
pub fn load_feeds_with(
    feeds: &[FeedSpec],
    mut preloaded: Vec<Option<Vec<sweep_intel::feeds::FeedLoad>>>,
    allow: &[std::path::PathBuf],
) -> Result<LoadedIntel, SweeperError> {
    let started = Instant::now();
    preloaded.resize_with(feeds.len(), || None);
    let (loads, allows) = std::thread::scope(|s| {
        let allows = s.spawn(|| allow.iter().map(|path| load_allowlist(path).map(|list| (path, list))).collect::<Result<Vec<_>, _>>());
        let loads = if preloaded.iter().all(Option::is_none) {
            load_all(feeds)
        } else {
            // In the feeds' order, so that the reports are too.
            let mut loads = Vec::new();
            for (spec, pre) in feeds.iter().zip(preloaded) {
                match pre {
                    Some(mut pre) => loads.append(&mut pre),
                    None => match load_all(std::slice::from_ref(spec)) {
                        Ok(mut read) => loads.append(&mut read),
                        Err(e) => return (Err(e), allows.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
                    },
                }
            }
            Ok(loads)
        };
        (loads, allows.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    });
    // A feed error comes first, as when the allowlists were read after the feeds.
    let mut loads = loads?;
    let allows = allows?;
    let mut reports = Vec::with_capacity(loads.len());
    let mut refused = Vec::new();
    for load in &mut loads {
        reports.push(FeedReport {
            feed: load.feed.to_string(),
            path: load.path.display().to_string(),
            kind: load.kind.describe(),
            indicators: load.indicators.len() as u64,
            refused: load.refused.len() as u64,
            skipped: load.skipped,
        });
        refused.append(&mut load.refused);
    }
    let mut allow_list = AllowList::new();
    let mut allow_reports = Vec::new();
    for (path, list) in allows {
        allow_reports.push(FeedReport {
            feed: list.name.to_string(),
            path: path.display().to_string(),
            kind: "allowlist".into(),
            indicators: list.entries.len() as u64,
            refused: list.refused.len() as u64,
            skipped: list.skipped,
        });
        let mut converted = list.into_index();
        refused.append(&mut converted.refused);
        allow_list.extend(converted);
    }
    let index = IntelIndex::from_loads(loads, allow_list);
    refused.extend(index.refused().iter().cloned());
    Ok(LoadedIntel { index: Arc::new(index), feeds: reports, allowlists: allow_reports, refused, load_s: started.elapsed().as_secs_f64() })
}

/// How a hit was found: by the sweep of an event as it arrived (`live`), or by a later
/// sweep of stored events with indicators that came after them (`retro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    Live,
    Retro,
}

impl MatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Live => "live",
            MatchMode::Retro => "retro",
        }
    }
}

/// The sweeper operator: event batches in, hit batches out.
#[derive(Clone)]
pub struct Sweeper {
    index: Arc<IntelIndex>,
    fields: Vec<MatchField>,
    /// The `intel_version` hits carry: the index's own, or the version an index of added
    /// indicators was taken from.
    intel_version: Arc<str>,
    mode: MatchMode,
}

/// A text column as `Utf8`; other string layouts (Parquet readers give `Utf8View`) are cast.
fn text_column(batch: &RecordBatch, name: &str) -> Result<Option<StringArray>, SweeperError> {
    let Some(c) = batch.column_by_name(name) else { return Ok(None) };
    if let Some(a) = c.as_string_opt::<i32>() {
        return Ok(Some(a.clone()));
    }
    if matches!(c.data_type(), DataType::Utf8View | DataType::LargeUtf8 | DataType::Null) {
        let cast = arrow::compute::cast(c, &DataType::Utf8)?;
        return Ok(Some(cast.as_string::<i32>().clone()));
    }
    Err(SweeperError::Events(format!("the sweeper needs events.{name} as text, but it is {}", c.data_type())))
}

fn value(col: Option<&StringArray>, row: usize) -> Option<&str> {
    col.and_then(|c| c.is_valid(row).then(|| c.value(row)))
}

impl Sweeper {
    pub fn new(index: Arc<IntelIndex>, fields: Vec<MatchField>) -> Sweeper {
        let intel_version = Arc::from(index.version());
        Sweeper { index, fields, intel_version, mode: MatchMode::Live }
    }

    /// A sweeper whose hits are `retro` hits of `intel_version` (a retro-sweep, or the
    /// indicators a new version added, swept over stored events).
    pub fn retro(index: Arc<IntelIndex>, fields: Vec<MatchField>, intel_version: &str) -> Sweeper {
        Sweeper { index, fields, intel_version: Arc::from(intel_version), mode: MatchMode::Retro }
    }

    pub fn index(&self) -> &IntelIndex {
        &self.index
    }

    /// Matches every event of `events` and returns the hits (possibly none).
    pub fn sweep_batch(&self, events: &RecordBatch, stats: &mut MatchStats, hits: &mut Vec<Hit>) -> Result<RecordBatch, SweeperError> {
        let ts = events
            .column_by_name("ts")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| SweeperError::Events("the sweeper needs events.ts as a timestamp; keep `ts` in your SQL stages".into()))?;
        let client_ip = text_column(events, "client_ip")?;
        let user = text_column(events, "user")?;
        let host = text_column(events, "host")?;
        let url = text_column(events, "url")?;
        let server_ip = text_column(events, "server_ip")?;
        let scheme = text_column(events, "scheme")?;
        let path = text_column(events, "path")?;
        let query = text_column(events, "query")?;
        let source = text_column(events, "source")?;
        let port = events.column_by_name("port").and_then(|c| c.as_primitive_opt::<Int32Type>());
        let offset = events.column_by_name("offset").and_then(|c| c.as_primitive_opt::<Int64Type>());

        let mut out = HitsBuilder::default();
        for row in 0..events.num_rows() {
            let ev = EventView {
                ts_micros: ts.value(row),
                server_ip: value(server_ip.as_ref(), row),
                client_ip: value(client_ip.as_ref(), row),
                host: value(host.as_ref(), row),
                url: value(url.as_ref(), row),
                scheme: value(scheme.as_ref(), row),
                port: port.and_then(|p| p.is_valid(row).then(|| p.value(row))).and_then(|p| u16::try_from(p).ok()),
                path: value(path.as_ref(), row),
                query: value(query.as_ref(), row),
            };
            hits.clear();
            self.index.match_event(&ev, &self.fields, hits, stats);
            for hit in hits.iter() {
                let ind = self.index.indicator(hit.indicator);
                out.ts.append_value(ev.ts_micros);
                out.client_ip.append_option(ev.client_ip);
                out.user.append_option(value(user.as_ref(), row));
                out.host.append_option(ev.host);
                out.url.append_option(ev.url);
                out.indicator.append_value(&ind.value);
                out.indicator_type.append_value(ind.kind.as_str());
                out.match_kind.append_value(hit.match_kind.as_str());
                out.matched_field.append_value(hit.matched_field.as_str());
                out.feed.append_value(&**ind.feed);
                out.confidence.append_option(ind.confidence.map(i32::from));
                for t in ind.tags {
                    out.tags.values().append_value(t);
                }
                out.tags.append(true);
                out.intel_version.append_value(&*self.intel_version);
                out.match_mode.append_value(self.mode.as_str());
                out.source.append_option(value(source.as_ref(), row));
                out.offset.append_option(offset.and_then(|o| o.is_valid(row).then(|| o.value(row))));
            }
        }
        Ok(out.finish())
    }
}

struct HitsBuilder {
    ts: TimestampMicrosecondBuilder,
    client_ip: StringBuilder,
    user: StringBuilder,
    host: StringBuilder,
    url: StringBuilder,
    indicator: StringBuilder,
    indicator_type: StringBuilder,
    match_kind: StringBuilder,
    matched_field: StringBuilder,
    feed: StringBuilder,
    confidence: Int32Builder,
    tags: ListBuilder<StringBuilder>,
    intel_version: StringBuilder,
    match_mode: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
}

impl Default for HitsBuilder {
    fn default() -> Self {
        HitsBuilder {
            ts: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            client_ip: StringBuilder::new(),
            user: StringBuilder::new(),
            host: StringBuilder::new(),
            url: StringBuilder::new(),
            indicator: StringBuilder::new(),
            indicator_type: StringBuilder::new(),
            match_kind: StringBuilder::new(),
            matched_field: StringBuilder::new(),
            feed: StringBuilder::new(),
            confidence: Int32Builder::new(),
            tags: ListBuilder::new(StringBuilder::new()),
            intel_version: StringBuilder::new(),
            match_mode: StringBuilder::new(),
            source: StringBuilder::new(),
            offset: Int64Builder::new(),
        }
    }
}

impl HitsBuilder {
    fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.indicator.finish()),
            Arc::new(self.indicator_type.finish()),
            Arc::new(self.match_kind.finish()),
            Arc::new(self.matched_field.finish()),
            Arc::new(self.feed.finish()),
            Arc::new(self.confidence.finish()),
            Arc::new(self.tags.finish()),
            Arc::new(self.intel_version.finish()),
            Arc::new(self.match_mode.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.offset.finish()),
        ];
        RecordBatch::try_new(hits_schema(), columns).expect("hit columns match the hits schema")
    }
}

/// The whole index as rows of the `intel` table.
pub fn intel_batch(index: &IntelIndex) -> RecordBatch {
    let mut value = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut feed = StringBuilder::new();
    let mut confidence = Int32Builder::new();
    let mut severity = StringBuilder::new();
    let mut tags = ListBuilder::new(StringBuilder::new());
    let mut description = StringBuilder::new();
    let mut valid_from = TimestampMicrosecondBuilder::new().with_timezone(UTC);
    let mut valid_until = TimestampMicrosecondBuilder::new().with_timezone(UTC);
    let mut version = StringBuilder::new();
    for ind in index.iter() {
        value.append_value(&ind.value);
        kind.append_value(ind.kind.as_str());
        feed.append_value(&**ind.feed);
        confidence.append_option(ind.confidence.map(i32::from));
        severity.append_option(ind.severity);
        for t in ind.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
        description.append_option(ind.description);
        valid_from.append_option(ind.valid_from);
        valid_until.append_option(ind.valid_until);
        version.append_value(index.version());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(value.finish()),
        Arc::new(kind.finish()),
        Arc::new(feed.finish()),
        Arc::new(confidence.finish()),
        Arc::new(severity.finish()),
        Arc::new(tags.finish()),
        Arc::new(description.finish()),
        Arc::new(valid_from.finish()),
        Arc::new(valid_until.finish()),
        Arc::new(version.finish()),
    ];
    RecordBatch::try_new(intel_schema(), columns).expect("intel columns match the intel schema")
}

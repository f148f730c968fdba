//! The benchmark's speed floor: the parse and full jobs of bench/README.md written by hand,
//! with no framework and no sweep crate.
//!
//!   floor parse LOG OUT_DIR
//!   floor full LOG FEED OUT_DIR
//!
//! The main thread reads LOG in 4 MiB chunks cut at newlines and numbers their lines; one
//! worker per core takes chunks, parses the Squid native lines into Arrow arrays, matches
//! each event against the indicators (full job) and writes its own Parquet files:
//! OUT_DIR/events/date=YYYY-MM-DD/part-N.parquet, OUT_DIR/rejects/part-N.parquet and
//! OUT_DIR/hits/part-N.parquet, with sweep's column layout and writer settings.
//! bench/README.md says what the floor does not replicate.

mod intel;
mod squid;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{
    Array, ArrayRef, BinaryBuilder, Int32Builder, Int64Array, Int64Builder, ListArray, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray, UInt32Array, new_empty_array, new_null_array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use intel::{Hit, Index};
use squid::Event;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Writer = ArrowWriter<BufWriter<File>>;

const CHUNK_BYTES: usize = 4 << 20;
const MAX_LINE_BYTES: usize = 1 << 20;
const DAY_MICROS: i64 = 86_400_000_000;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn tags_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, true))
}

fn schema(cols: &[(&str, DataType, bool)]) -> SchemaRef {
    Arc::new(Schema::new(cols.iter().map(|(n, t, null)| Field::new(*n, t.clone(), *null)).collect::<Vec<_>>()))
}

// sweep's `events`, `rejects` and `hits` tables (docs/tables.md), column for column.
static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Int32, Int64, Utf8};
    schema(&[
        ("ts", ts_type(), false),
        ("client_ip", Utf8, true),
        ("user", Utf8, true),
        ("method", Utf8, true),
        ("url", Utf8, true),
        ("scheme", Utf8, true),
        ("host", Utf8, true),
        ("port", Int32, true),
        ("path", Utf8, true),
        ("query", Utf8, true),
        ("status", Int32, true),
        ("request_bytes", Int64, true),
        ("response_bytes", Int64, true),
        ("duration_ms", Int64, true),
        ("user_agent", Utf8, true),
        ("referrer", Utf8, true),
        ("content_type", Utf8, true),
        ("proxy_action", Utf8, true),
        ("server_ip", Utf8, true),
        ("category", Utf8, true),
        ("format", Utf8, false),
        ("source", Utf8, false),
        ("offset", Int64, false),
    ])
});
static REJECTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Binary, Int64, Utf8};
    schema(&[
        ("raw", Binary, false),
        ("reason", Utf8, false),
        ("detail", Utf8, false),
        ("format", Utf8, false),
        ("source", Utf8, false),
        ("offset", Int64, false),
        ("ingest_ts", ts_type(), false),
    ])
});
static HITS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Int32, Int64, Utf8};
    schema(&[
        ("ts", ts_type(), false),
        ("client_ip", Utf8, true),
        ("user", Utf8, true),
        ("host", Utf8, true),
        ("url", Utf8, true),
        ("indicator", Utf8, false),
        ("indicator_type", Utf8, false),
        ("match_kind", Utf8, false),
        ("matched_field", Utf8, false),
        ("feed", Utf8, false),
        ("confidence", Int32, true),
        ("tags", DataType::List(tags_field()), true),
        ("intel_version", Utf8, false),
        ("match_mode", Utf8, false),
        ("source", Utf8, true),
        ("offset", Int64, true),
    ])
});

/// sweep's Parquet settings (crates/load: `writer_properties`).
fn writer(path: &Path, schema: &SchemaRef) -> Result<Writer, Error> {
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    Ok(ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, File::create(path)?), schema.clone(), Some(props))?)
}

fn constant(value: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, n)))
}

fn micros(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01), proleptic Gregorian.
fn date_string(days: i64) -> String {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    lines: u64,
    events: u64,
    rejects: u64,
    skipped: u64,
    hits: u64,
}

/// The rows of one chunk, column by column.
struct Columns {
    ts: Vec<i64>,
    text: [StringBuilder; 11], // client_ip user method url scheme host path query content_type proxy_action server_ip
    port: Int32Builder,
    status: Int32Builder,
    response_bytes: Int64Builder,
    duration_ms: Int64Builder,
    offset: Vec<i64>,
    // rejects
    r_raw: BinaryBuilder,
    r_reason: StringBuilder,
    r_detail: StringBuilder,
    r_offset: Vec<i64>,
    // hits
    h_ts: Vec<i64>,
    h_text: [StringBuilder; 8], // client_ip user host url indicator indicator_type match_kind matched_field
    h_offset: Vec<i64>,
}

impl Columns {
    fn new(rows: usize) -> Columns {
        Columns {
            ts: Vec::with_capacity(rows),
            text: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 16)),
            port: Int32Builder::with_capacity(rows),
            status: Int32Builder::with_capacity(rows),
            response_bytes: Int64Builder::with_capacity(rows),
            duration_ms: Int64Builder::with_capacity(rows),
            offset: Vec::with_capacity(rows),
            r_raw: BinaryBuilder::new(),
            r_reason: StringBuilder::new(),
            r_detail: StringBuilder::new(),
            r_offset: Vec::new(),
            h_ts: Vec::new(),
            h_text: std::array::from_fn(|_| StringBuilder::new()),
            h_offset: Vec::new(),
        }
    }

    fn push_event(&mut self, e: &Event<'_>, offset: i64) {
        self.ts.push(e.ts);
        let text = [
            e.client_ip.as_deref(),
            e.user,
            e.method,
            e.url,
            e.scheme,
            e.host.as_deref(),
            e.path,
            e.query,
            e.content_type,
            e.proxy_action,
            e.server_ip.as_deref(),
        ];
        for (b, v) in self.text.iter_mut().zip(text) {
            b.append_option(v);
        }
        self.port.append_option(e.port);
        self.status.append_option(e.status);
        self.response_bytes.append_option(e.response_bytes);
        self.duration_ms.append_option(e.duration_ms);
        self.offset.push(offset);
    }

    fn push_reject(&mut self, raw: &[u8], reason: &str, detail: &str, offset: i64) {
        self.r_raw.append_value(raw);
        self.r_reason.append_value(reason);
        self.r_detail.append_value(detail);
        self.r_offset.push(offset);
    }

    fn push_hit(&mut self, e: &Event<'_>, index: &Index, hit: Hit, offset: i64) {
        self.h_ts.push(e.ts);
        let (value, kind) = index.indicator(hit.id);
        let text = [e.client_ip.as_deref(), e.user, e.host.as_deref(), e.url, Some(value), Some(kind), Some(hit.kind), Some(hit.field)];
        for (b, v) in self.h_text.iter_mut().zip(text) {
            b.append_option(v);
        }
        self.h_offset.push(offset);
    }

    fn events(&mut self, source: &str) -> RecordBatch {
        let n = self.ts.len();
        let t = &mut self.text;
        let mut f = |i: usize| -> ArrayRef { Arc::new(t[i].finish()) };
        let columns: Vec<ArrayRef> = vec![
            micros(std::mem::take(&mut self.ts)),
            f(0),
            f(1),
            f(2),
            f(3),
            f(4),
            f(5),
            Arc::new(self.port.finish()),
            f(6),
            f(7),
            Arc::new(self.status.finish()),
            new_null_array(&DataType::Int64, n),
            Arc::new(self.response_bytes.finish()),
            Arc::new(self.duration_ms.finish()),
            new_null_array(&DataType::Utf8, n),
            new_null_array(&DataType::Utf8, n),
            f(8),
            f(9),
            f(10),
            new_null_array(&DataType::Utf8, n),
            constant("squid", n),
            constant(source, n),
            Arc::new(Int64Array::from(std::mem::take(&mut self.offset))),
        ];
        RecordBatch::try_new(EVENTS.clone(), columns).expect("the events schema")
    }

    fn rejects(&mut self, source: &str, ingest_ts: i64) -> RecordBatch {
        let n = self.r_offset.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.r_raw.finish()),
            Arc::new(self.r_reason.finish()),
            Arc::new(self.r_detail.finish()),
            constant("squid", n),
            constant(source, n),
            Arc::new(Int64Array::from(std::mem::take(&mut self.r_offset))),
            micros(vec![ingest_ts; n]),
        ];
        RecordBatch::try_new(REJECTS.clone(), columns).expect("the rejects schema")
    }

    fn hits(&mut self, source: &str, feed: &str) -> RecordBatch {
        let n = self.h_ts.len();
        let t = &mut self.h_text;
        let mut f = |i: usize| -> ArrayRef { Arc::new(t[i].finish()) };
        let tags = ListArray::new(tags_field(), OffsetBuffer::new_zeroed(n), new_empty_array(&DataType::Utf8), None);
        let columns: Vec<ArrayRef> = vec![
            micros(std::mem::take(&mut self.h_ts)),
            f(0),
            f(1),
            f(2),
            f(3),
            f(4),
            f(5),
            f(6),
            f(7),
            constant(feed, n),
            new_null_array(&DataType::Int32, n),
            Arc::new(tags),
            constant(intel::VERSION, n),
            constant("live", n),
            constant(source, n),
            Arc::new(Int64Array::from(std::mem::take(&mut self.h_offset))),
        ];
        RecordBatch::try_new(HITS.clone(), columns).expect("the hits schema")
    }
}

/// One worker: parses the chunks it is given and writes its own files.
struct Worker<'a> {
    n: usize,
    out: &'a Path,
    source: &'a str,
    intel: Option<(&'a Index, &'a str)>,
    ingest_ts: i64,
    events: HashMap<i64, Writer>,
    rejects: Option<Writer>,
    hits: Option<Writer>,
    counts: Counts,
}

impl Worker<'_> {
    fn chunk(&mut self, data: &[u8], first_offset: i64) -> Result<(), Error> {
        let mut c = Columns::new(data.len() / 128);
        let mut hits = Vec::new();
        let (mut offset, mut start) = (first_offset, 0);
        while start < data.len() {
            // Lines end at `\n`; the search stops at a `\r` or NUL too (sweep rejects both
            // inside a line), so that finding them costs no pass of its own.
            let rest = &data[start..];
            let (end, control) = match memchr::memchr3(b'\n', b'\r', b'\0', rest) {
                Some(i) if rest[i] == b'\n' => (start + i, None),
                Some(i) => (memchr::memchr(b'\n', &rest[i..]).map_or(data.len(), |j| start + i + j), Some(i)),
                None => (data.len(), None),
            };
            self.line(&data[start..end], control, offset, &mut c, &mut hits);
            offset += 1;
            start = end + 1;
        }
        self.write(&mut c)
    }

    fn line(&mut self, raw: &[u8], control: Option<usize>, offset: i64, c: &mut Columns, hits: &mut Vec<Hit>) {
        self.counts.lines += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let (reason, detail) = if line.len() > MAX_LINE_BYTES {
            ("too_long", "the line is longer than 1 MiB")
        } else {
            match std::str::from_utf8(line) {
                Err(_) => ("invalid_utf8", "invalid UTF-8"),
                Ok(_) if control.is_some_and(|at| at < line.len()) => ("control_character", "a carriage return or NUL in the line"),
                Ok(text) if text.bytes().all(|b| b == b' ' || b == b'\t') => {
                    self.counts.skipped += 1;
                    return;
                }
                Ok(text) => match squid::parse(text) {
                    Ok(e) => {
                        c.push_event(&e, offset);
                        self.counts.events += 1;
                        if let Some((index, _)) = self.intel {
                            index.match_event(&e, hits);
                            for &h in hits.iter() {
                                c.push_hit(&e, index, h, offset);
                            }
                            self.counts.hits += hits.len() as u64;
                        }
                        return;
                    }
                    Err(why) => why,
                },
            }
        };
        c.push_reject(&raw[..raw.len().min(MAX_LINE_BYTES)], reason, detail, offset);
        self.counts.rejects += 1;
    }

    fn write(&mut self, c: &mut Columns) -> Result<(), Error> {
        let events = c.events(self.source);
        if events.num_rows() > 0 {
            // The events table is partitioned by the date of `ts`, like sweep's.
            let ts = events.column(0).as_any().downcast_ref::<TimestampMicrosecondArray>().expect("ts");
            let day = |i: usize| ts.value(i).div_euclid(DAY_MICROS);
            let first = day(0);
            if (1..ts.len()).all(|i| day(i) == first) {
                self.write_day(first, &events)?;
            } else {
                let mut by_day: HashMap<i64, Vec<u32>> = HashMap::new();
                for i in 0..ts.len() {
                    by_day.entry(day(i)).or_default().push(i as u32);
                }
                for (d, rows) in by_day {
                    let rows = UInt32Array::from(rows);
                    let cols = events.columns().iter().map(|a| arrow::compute::take(a, &rows, None)).collect::<Result<Vec<_>, _>>()?;
                    self.write_day(d, &RecordBatch::try_new(EVENTS.clone(), cols)?)?;
                }
            }
        }
        let rejects = c.rejects(self.source, self.ingest_ts);
        if rejects.num_rows() > 0 {
            if self.rejects.is_none() {
                self.rejects = Some(writer(&self.out.join(format!("rejects/part-{}.parquet", self.n)), &REJECTS)?);
            }
            self.rejects.as_mut().expect("opened").write(&rejects)?;
        }
        if let Some((_, feed)) = self.intel {
            let hits = c.hits(self.source, feed);
            if self.hits.is_none() {
                self.hits = Some(writer(&self.out.join(format!("hits/part-{}.parquet", self.n)), &HITS)?);
            }
            if hits.num_rows() > 0 {
                self.hits.as_mut().expect("opened").write(&hits)?;
            }
        }
        Ok(())
    }

    fn write_day(&mut self, day: i64, batch: &RecordBatch) -> Result<(), Error> {
        if !self.events.contains_key(&day) {
            let path = self.out.join(format!("events/date={}/part-{}.parquet", date_string(day), self.n));
            self.events.insert(day, writer(&path, &EVENTS)?);
        }
        self.events.get_mut(&day).expect("opened").write(batch)?;
        Ok(())
    }

    fn finish(self) -> Result<Counts, Error> {
        for w in self.events.into_values().chain(self.rejects).chain(self.hits) {
            w.close()?;
        }
        Ok(self.counts)
    }
}

/// Reads `log` in chunks cut after a newline and hands them out with the line number of
/// their first line; buffers come back through `free` to be reused.
fn read_chunks(log: &Path, send: impl Fn(Vec<u8>, i64) -> Result<(), Error>, free: &Receiver<Vec<u8>>) -> Result<(), Error> {
    let mut file = File::open(log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    let (mut carry, mut next_line) = (Vec::new(), 1i64);
    loop {
        let mut buf = free.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES + (64 << 10)));
        buf.clear();
        buf.append(&mut carry);
        let want = CHUNK_BYTES.saturating_sub(buf.len()).max(64 << 10);
        let got = (&mut file).take(want as u64).read_to_end(&mut buf)?;
        if got == 0 {
            if !buf.is_empty() {
                send(buf, next_line)?;
            }
            return Ok(());
        }
        let Some(last) = memchr::memrchr(b'\n', &buf) else {
            carry = buf; // a line longer than the chunk: read on
            continue;
        };
        carry.extend_from_slice(&buf[last + 1..]);
        buf.truncate(last + 1);
        let lines = memchr::memchr_iter(b'\n', &buf).count() as i64;
        send(buf, next_line)?;
        next_line += lines;
    }
}

fn run(log: &Path, feed: Option<&Path>, out: &Path) -> Result<(), Error> {
    let started = Instant::now();
    for t in ["events", "rejects", "hits"] {
        let d = out.join(t);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
    }
    std::fs::create_dir_all(out.join("events"))?;
    std::fs::create_dir_all(out.join("rejects"))?;
    let index = feed.map(Index::load).transpose()?;
    let intel_load_s = started.elapsed().as_secs_f64();
    let feed_name = feed.map(|f| f.file_name().map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned()));
    let intel = index.as_ref().zip(feed_name.as_deref());
    let source = log.to_str().ok_or("the log path is not UTF-8")?;
    let ingest_ts = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros() as i64;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let (tx, rx) = sync_channel::<(Vec<u8>, i64)>(workers);
    let rx = Mutex::new(rx);
    let (free_tx, free_rx) = channel::<Vec<u8>>();
    let total = std::thread::scope(|s| -> Result<Counts, Error> {
        let handles: Vec<_> = (0..workers)
            .map(|n| {
                let (rx, free_tx) = (&rx, free_tx.clone());
                s.spawn(move || -> Result<Counts, Error> {
                    let mut w = Worker {
                        n,
                        out,
                        source,
                        intel,
                        ingest_ts,
                        events: HashMap::new(),
                        rejects: None,
                        hits: None,
                        counts: Counts::default(),
                    };
                    let mut failed = None;
                    // On an error, keep taking chunks (and dropping them) so the reader never blocks.
                    loop {
                        // The lock is held only while waiting for a chunk (a `while let` would
                        // hold it for the whole loop body too).
                        let next = rx.lock().expect("no worker panics").recv();
                        let Ok((buf, first)) = next else { break };
                        if failed.is_none() {
                            failed = w.chunk(&buf, first).err();
                        }
                        let _ = free_tx.send(buf);
                    }
                    match failed {
                        Some(e) => Err(e),
                        None => w.finish(),
                    }
                })
            })
            .collect();
        let read = read_chunks(log, |buf, first| tx.send((buf, first)).map_err(|_| "the workers stopped".into()), &free_rx);
        drop(tx);
        let mut total = Counts::default();
        for h in handles {
            let c = h.join().expect("no worker panics")?;
            total.lines += c.lines;
            total.events += c.events;
            total.rejects += c.rejects;
            total.skipped += c.skipped;
            total.hits += c.hits;
        }
        read.map(|_| total)
    })?;
    println!(
        "{{\"lines\": {}, \"events\": {}, \"rejects\": {}, \"skipped\": {}, \"hits\": {}, \"indicators\": {}, \"intel_load_s\": {:.3}, \"elapsed_s\": {:.3}}}",
        total.lines,
        total.events,
        total.rejects,
        total.skipped,
        total.hits,
        index.as_ref().map_or(0, Index::len),
        intel_load_s,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let job = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let result = match (job, args.len()) {
        ("parse", 3) => run(&args[1], None, &args[2]),
        ("full", 4) => run(&args[1], Some(&args[2]), &args[3]),
        _ => {
            eprintln!("usage: floor parse LOG OUT_DIR\n       floor full LOG FEED OUT_DIR");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("floor: {e}");
        std::process::exit(1);
    }
}

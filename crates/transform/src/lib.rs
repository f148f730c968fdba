//! # sweep-formats: proxy log lines into typed Arrow records
//!
//! The transform step of sweep. Each built-in format turns one log line into a
//! [`Record`] in the canonical `events` columns, or into a [`Reject`] with a stable
//! reason code, or says the line is not data (a header or comment: *skipped*).
//! [`ChunkParser`] drives a format over a chunk of lines and fills a [`BatchBuilder`],
//! keeping the promise that `lines == events + rejects + skipped` for any input.
//!
//! This crate depends on Arrow's array crates only, so it builds and tests in seconds.

pub mod builder;
pub mod detect;
pub mod fields;
pub mod formats;
pub mod record;
pub mod reject;
pub mod schema;
pub mod spec;
pub mod time;
pub mod url;

pub use builder::{BatchBuilder, LineCounts, ParsedBatch, Provenance};
pub use record::{Record, Text};
pub use reject::{Reject, RejectReason};
pub use schema::{events_schema, rejects_schema};
pub use spec::{FormatError, FormatInfo, FormatSpec, catalogue};

/// What a parser made of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The record is filled and becomes a row of `events`.
    Event,
    /// A line the format defines as not data: a header directive or a comment.
    Skipped,
    /// The line does not fit the format.
    Reject(Reject),
}

impl From<Result<(), Reject>> for Outcome {
    fn from(r: Result<(), Reject>) -> Self {
        match r {
            Ok(()) => Outcome::Event,
            Err(e) => Outcome::Reject(e),
        }
    }
}

/// One log format's line parser.
///
/// A parser may keep state between lines of one chunk (ELFF follows its `#Fields:`
/// directive). Chunks of different files can reach the same parser in any order, so
/// [`LineParser::start_chunk`] is called before each chunk with the last header
/// directive that preceded the chunk in its file.
pub trait LineParser: Send {
    /// Parses one line, already stripped of its line terminator and known to be UTF-8.
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome;

    /// Resets per-file state before a chunk. `header` is the last line before the chunk
    /// that starts with [`FormatSpec::header_directive`], if the format has one.
    fn start_chunk(&mut self, header: Option<&str>) {
        let _ = header;
    }
}

/// Lines longer than this are rejected as `too_long` (configurable per pipeline).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Drives one format's parser over chunks of lines and fills a [`BatchBuilder`].
pub struct ChunkParser {
    parser: Box<dyn LineParser>,
    format_name: String,
    max_line_bytes: usize,
}

impl ChunkParser {
    pub fn new(spec: &FormatSpec) -> Result<Self, FormatError> {
        Ok(ChunkParser { parser: spec.build()?, format_name: spec.name().to_string(), max_line_bytes: DEFAULT_MAX_LINE_BYTES })
    }

    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max;
        self
    }

    pub fn format_name(&self) -> &str {
        &self.format_name
    }

    /// Parses every line of `data`. Lines end at `\n` (a preceding `\r` is dropped); a
    /// last line without a terminator counts too. `first_offset` is the offset (1-based
    /// line number) of the first line; `header` as in [`LineParser::start_chunk`].
    pub fn parse_chunk(&mut self, data: &[u8], source: &str, first_offset: i64, header: Option<&[u8]>, out: &mut BatchBuilder) {
        self.parse_chunk_cut(data, source, first_offset, header, None, out);
    }

    /// [`ChunkParser::parse_chunk`] for a chunk from a reader that bounds its memory by
    /// cutting over-long lines short while reading (sweep-extract's `Chunk::cut_line_len`).
    /// With `cut_line_len` set, the chunk's first line is the head of a line that long (in
    /// bytes, without its `\r\n`): it becomes a `too_long` reject stating that length, as it
    /// would have whole. The reader and the parser must use the same `max_line_bytes`.
    pub fn parse_chunk_cut(
        &mut self,
        data: &[u8],
        source: &str,
        first_offset: i64,
        header: Option<&[u8]>,
        cut_line_len: Option<u64>,
        out: &mut BatchBuilder,
    ) {
        let header = header.and_then(|h| std::str::from_utf8(h).ok());
        self.parser.start_chunk(header);
        let mut offset = first_offset;
        let mut start = 0;
        if let Some(len) = cut_line_len {
            let end = memchr::memchr(b'\n', data).unwrap_or(data.len());
            self.push_too_long(&data[..end], len, Provenance { format: &self.format_name, source, offset }, out);
            offset += 1;
            start = (end + 1).min(data.len());
        }
        while start < data.len() {
            // The search for the line's end stops at a `\r` or NUL too, so that finding them
            // costs no pass of its own.
            let rest = &data[start..];
            let (end, first_control) = match memchr::memchr3(b'\n', b'\r', b'\0', rest) {
                Some(i) if rest[i] == b'\n' => (start + i, None),
                Some(i) => (memchr::memchr(b'\n', &rest[i..]).map_or(data.len(), |j| start + i + j), Some(i)),
                None => (data.len(), None),
            };
            self.parse_line_at(&data[start..end], first_control, source, offset, out);
            offset += 1;
            start = end + 1;
        }
    }

    /// Parses one Kafka message's line. A message stands alone: a header directive in one
    /// message does not change how the next is read, since messages of different
    /// partitions interleave and a restart starts in the middle of a topic (ELFF over Kafka
    /// reads with its `fields` option).
    pub fn parse_message(&mut self, raw: &[u8], source: &str, offset: i64, out: &mut BatchBuilder) {
        self.parser.start_chunk(None);
        self.parse_line(raw, source, offset, out);
    }

    /// Parses one line (without its `\n`; a trailing `\r` is dropped here).
    pub fn parse_line(&mut self, raw: &[u8], source: &str, offset: i64, out: &mut BatchBuilder) {
        self.parse_line_at(raw, memchr::memchr2(b'\r', b'\0', raw), source, offset, out);
    }

    /// [`ChunkParser::parse_line`] given the position of the first `\r` or NUL in `raw`.
    fn parse_line_at(&mut self, raw: &[u8], first_control: Option<usize>, source: &str, offset: i64, out: &mut BatchBuilder) {
        let prov = Provenance { format: &self.format_name, source, offset };
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > self.max_line_bytes {
            self.push_too_long(raw, line.len() as u64, prov, out);
            return;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let why = Reject::new(RejectReason::InvalidUtf8, format!("invalid UTF-8 at byte {}", e.valid_up_to()));
                out.push_reject(raw, &why, prov);
                return;
            }
        };
        // Only the `\r` of a `\r\n` is a line end. Any other would have ended a line where the
        // log's writer meant one, so the text on either side may belong to two records (the
        // second one's fields read into the first's); and no log line holds a NUL.
        if let Some(at) = first_control.filter(|&at| at < line.len()) {
            out.push_reject(raw, &control_character(line[at], at), prov);
            return;
        }
        if text.bytes().all(|b| b == b' ' || b == b'\t') {
            out.push_skipped();
            return;
        }
        let mut rec = Record::default();
        match self.parser.parse(text, &mut rec) {
            Outcome::Event if rec.ts_micros.is_none() => {
                out.push_reject(raw, &Reject::new(RejectReason::BadTimestamp, "the line has no timestamp"), prov)
            }
            Outcome::Event => out.push_event(&rec, prov),
            Outcome::Skipped => out.push_skipped(),
            Outcome::Reject(why) => out.push_reject(raw, &why, prov),
        }
    }

    /// The `too_long` reject of a line `len` bytes long whose first bytes are `raw`. Its raw
    /// column keeps the first `max_line_bytes` bytes, the most a reader that cuts lines
    /// short holds of one, so that a line's reject is the same however it was read.
    fn push_too_long(&self, raw: &[u8], len: u64, prov: Provenance<'_>, out: &mut BatchBuilder) {
        let why =
            Reject::new(RejectReason::TooLong, format!("line has {len} bytes; the limit is {} (max_line_bytes)", self.max_line_bytes));
        out.push_reject(&raw[..raw.len().min(self.max_line_bytes)], &why, prov);
    }
}

/// The `control_character` reject of the byte `byte` (a `\r` or NUL) at position `at`.
fn control_character(byte: u8, at: usize) -> Reject {
    let (name, why) = control_character_text(byte);
    Reject::new(RejectReason::ControlCharacter, format!("{name} at byte {at}: {why}"))
}

/// How a `control_character` reject's detail, `{name} at byte {position}: {why}`, names
/// the byte (`\r` or NUL) and says why no line may hold it; the Spark engine writes the same.
pub fn control_character_text(byte: u8) -> (&'static str, &'static str) {
    if byte == b'\r' {
        ("carriage return", "a line break without \\n after it, so the line may hold more than one record")
    } else {
        ("NUL", "no log line holds one (a file padded with zeros, or not a text log)")
    }
}

/// Parses a whole in-memory input with one format (tests, examples, small inputs).
pub fn parse_all(spec: &FormatSpec, data: &[u8], source: &str) -> Result<ParsedBatch, FormatError> {
    let mut parser = ChunkParser::new(spec)?;
    let mut builder = BatchBuilder::new(1024, 0);
    parser.parse_chunk(data, source, 1, None, &mut builder);
    Ok(builder.finish())
}

//! Property tests over every format of the catalogue: no input makes a parser panic, and
//! every line ends as exactly one event, reject or skipped line, with rejects keeping the
//! line's bytes and its line number.

use arrow_array::{Array, BinaryArray, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;
use proptest::sample::Index;
use sweep_formats::formats::custom::CustomOptions;
use sweep_formats::{BatchBuilder, ChunkParser, DEFAULT_MAX_LINE_BYTES, FormatSpec, ParsedBatch, catalogue};

/// Every catalogue format with the options that read its example.
fn formats() -> Vec<(FormatSpec, &'static str)> {
    catalogue()
        .into_iter()
        .map(|info| {
            let spec = match info.name {
                "custom" => FormatSpec::Custom(CustomOptions::example()),
                name => FormatSpec::from_name(name).unwrap_or_else(|e| panic!("catalogue format {name}: {e}")),
            };
            (spec, info.example)
        })
        .collect()
}

/// The lines of `data` as `ChunkParser` sees them: split at `\n`, a last line without
/// terminator counts, the `\r` of a `\r\n` stays part of the raw line.
fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The last header directive line before `pos` (as a file reader hands it to a chunk):
/// `\r` dropped, and only a line the parser itself would have seen (not too long, valid
/// UTF-8, no control character).
fn header_before<'d>(data: &'d [u8], pos: usize, directive: Option<&[u8]>, max_line_bytes: usize) -> Option<&'d [u8]> {
    let directive = directive?;
    lines_of(&data[..pos])
        .into_iter()
        .rfind(|l| {
            let body = l.strip_suffix(b"\r").unwrap_or(l);
            body.starts_with(directive)
                && body.len() <= max_line_bytes
                && std::str::from_utf8(body).is_ok()
                && !holds_control(l, max_line_bytes)
        })
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Parses `data` cut into chunks at the given byte positions (line starts).
fn parse_chunks(spec: &FormatSpec, data: &[u8], cuts: &[usize]) -> ParsedBatch {
    parse_chunks_max(spec, data, cuts, DEFAULT_MAX_LINE_BYTES)
}

fn parse_chunks_max(spec: &FormatSpec, data: &[u8], cuts: &[usize], max_line_bytes: usize) -> ParsedBatch {
    let mut parser = ChunkParser::new(spec).expect("catalogue formats build").with_max_line_bytes(max_line_bytes);
    let mut out = BatchBuilder::new(16, 0);
    let mut bounds: Vec<usize> = cuts.to_vec();
    bounds.push(0);
    bounds.push(data.len());
    bounds.sort_unstable();
    bounds.dedup();
    for w in bounds.windows(2) {
        let (start, end) = (w[0], w[1]);
        let first_offset = 1 + data[..start].iter().filter(|b| **b == b'\n').count() as i64;
        let header = header_before(data, start, spec.header_directive(), max_line_bytes);
        parser.parse_chunk(&data[start..end], "prop", first_offset, header, &mut out);
    }
    out.finish()
}

fn parse_one(spec: &FormatSpec, data: &[u8]) -> ParsedBatch {
    parse_chunks(spec, data, &[])
}

fn offsets(batch: &RecordBatch) -> &Int64Array {
    batch.column_by_name("offset").unwrap().as_any().downcast_ref::<Int64Array>().unwrap()
}

fn strings<'b>(batch: &'b RecordBatch, name: &str) -> &'b StringArray {
    batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap()
}

/// The promises every parse of `data` keeps, whatever the bytes.
fn check(spec: &FormatSpec, data: &[u8], out: &ParsedBatch) -> Result<(), TestCaseError> {
    check_max(spec, data, out, DEFAULT_MAX_LINE_BYTES)
}

/// True for a line that fits the limit, is UTF-8 and holds a `\r` (other than a CRLF's) or
/// a NUL: the line must be a `control_character` reject.
fn holds_control(line: &[u8], max_line_bytes: usize) -> bool {
    let body = line.strip_suffix(b"\r").unwrap_or(line);
    body.len() <= max_line_bytes && std::str::from_utf8(body).is_ok() && body.iter().any(|b| matches!(b, b'\r' | b'\0'))
}

fn check_max(spec: &FormatSpec, data: &[u8], out: &ParsedBatch, max_line_bytes: usize) -> Result<(), TestCaseError> {
    let name = spec.name();
    let lines = lines_of(data);
    let expected_lines = data.iter().filter(|b| **b == b'\n').count() + usize::from(!data.is_empty() && !data.ends_with(b"\n"));
    prop_assert_eq!(lines.len(), expected_lines);
    let c = out.counts;
    prop_assert_eq!(c.lines as usize, expected_lines, "{}: lines counted", name);
    prop_assert!(c.balanced(), "{}: counts do not balance: {:?}", name, c);
    prop_assert_eq!(out.events.num_rows() as u64, c.events, "{}: event rows", name);
    prop_assert_eq!(out.rejects.num_rows() as u64, c.rejects, "{}: reject rows", name);

    // Rejects keep the line's bytes exactly (with a `\r` before the `\n`, as read), but for
    // a line too long, whose first max_line_bytes bytes they keep.
    let raw = out.rejects.column_by_name("raw").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
    let reasons = strings(&out.rejects, "reason");
    let mut seen = vec![false; lines.len()];
    let mut last = 0i64;
    for i in 0..out.rejects.num_rows() {
        let off = offsets(&out.rejects).value(i);
        prop_assert!(off >= 1 && off as usize <= lines.len(), "{}: reject offset {} of {} lines", name, off, lines.len());
        prop_assert!(off > last, "{}: reject offsets not increasing", name);
        last = off;
        let line = lines[off as usize - 1];
        let kept = if reasons.value(i) == "too_long" { &line[..max_line_bytes] } else { line };
        prop_assert_eq!(raw.value(i), kept, "{}: raw bytes of line {} ({})", name, off, reasons.value(i));
        prop_assert_eq!(
            reasons.value(i) == "control_character",
            holds_control(line, max_line_bytes),
            "{}: line {} {:?} is a {} reject",
            name,
            off,
            String::from_utf8_lossy(line),
            reasons.value(i)
        );
        prop_assert!(!seen[off as usize - 1]);
        seen[off as usize - 1] = true;
        prop_assert!(!reasons.value(i).is_empty());
        prop_assert_eq!(strings(&out.rejects, "format").value(i), name);
    }
    // Events point at distinct lines that are not rejects, in order.
    let mut last = 0i64;
    for i in 0..out.events.num_rows() {
        let off = offsets(&out.events).value(i);
        prop_assert!(off >= 1 && off as usize <= lines.len(), "{}: event offset {} of {} lines", name, off, lines.len());
        prop_assert!(off > last, "{}: event offsets not increasing", name);
        last = off;
        prop_assert!(!seen[off as usize - 1], "{}: line {} is both an event and a reject", name, off);
        seen[off as usize - 1] = true;
        let line = lines[off as usize - 1];
        prop_assert!(std::str::from_utf8(line).is_ok(), "{}: event from a line that is not UTF-8", name);
        prop_assert!(!holds_control(line, max_line_bytes), "{}: event from line {} with a control character", name, off);
        prop_assert!(line.strip_suffix(b"\r").unwrap_or(line).len() <= max_line_bytes, "{}: event from a line too long", name);
        prop_assert!(out.events.column_by_name("ts").unwrap().is_valid(i));
        prop_assert_eq!(strings(&out.events, "format").value(i), name);
    }
    Ok(())
}

/// Byte strings that steer parsers into their interesting paths.
const FRAGMENTS: &[&str] = &[
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "    ",
    "\t",
    "\"",
    "\\",
    "\\\"",
    "[",
    "]",
    "{",
    "}",
    "{}",
    ",",
    ":",
    "/",
    "-",
    "#",
    "#Fields: date time c-ip cs-username cs-method cs-uri sc-status sc-bytes\n",
    "#Fields: date time time-taken c-ip sc-status s-action sc-bytes cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query cs-username s-ip cs(User-Agent)\n",
    "#Fields:",
    "#Fields: \n",
    "#Software: SGOS 6.7\n",
    "#Date: 2024-01-02 00:00:00\n",
    "2024-01-02 ",
    "12:00:00 ",
    "1198298239.740",
    "1700000000123",
    "10/Oct/2000:13:55:36 -0700",
    "Mon Jun 20 15:29:11 2022",
    "10.0.0.1",
    "::ffff:10.1.2.3",
    "2001:db8::1",
    "GET",
    "CONNECT",
    "http://a.Example/x?y=1",
    "a.example:443",
    "TCP_MISS/200",
    "HIER_DIRECT/1.2.3.4",
    "\"GET / HTTP/1.1\"",
    "\"-\"",
    "None",
    "N/A",
    "{\"ts\":1,",
    "{\"ts\":\"2024-01-02T03:04:05Z\",\"url\":\"http:\\/\\/x\\/\"}",
    "\"client_ip\":\"10.0.0.1\"",
    "é",
    "\u{1F600}",
    "\u{0}",
];

fn piece(examples: Vec<&'static str>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 1..6),
        1 => prop::collection::vec(prop::sample::select(vec![0x80u8, 0xc3, 0xe2, 0xf0, 0xff, 0xfe]), 1..3),
        6 => prop::sample::select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(examples).prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// Arbitrary input: a mix of raw bytes, format fragments and whole example lines.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let examples: Vec<&'static str> = catalogue().iter().map(|i| i.example).filter(|e| !e.is_empty()).collect();
    let examples = if examples.is_empty() { vec!["-"] } else { examples };
    prop::collection::vec(piece(examples), 0..40).prop_map(|ps| ps.concat())
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Insert(Index, Vec<u8>),
    DuplicateField(Index),
    DeleteRange(Index, usize),
    ReplaceByte(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop_oneof![prop::collection::vec(any::<u8>(), 1..4), prop::sample::select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),];
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), bytes).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::DuplicateField),
        (any::<Index>(), 1usize..12).prop_map(|(i, n)| Mutation::DeleteRange(i, n)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::ReplaceByte(i, b)),
    ]
}

fn mutate(example: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = example.to_vec();
    match m {
        Mutation::Truncate(i) => v.truncate(i.index(v.len() + 1)),
        Mutation::Insert(i, b) => {
            let at = i.index(v.len() + 1);
            v.splice(at..at, b.iter().copied());
        }
        Mutation::DuplicateField(i) => {
            // Fields as the space- or comma-separated formats see them.
            let fields: Vec<(usize, usize)> = {
                let mut out = Vec::new();
                let mut start = 0;
                for (j, b) in v.iter().enumerate() {
                    if matches!(b, b' ' | b',' | b'\t') {
                        out.push((start, j + 1));
                        start = j + 1;
                    }
                }
                out.push((start, v.len()));
                out
            };
            let (s, e) = fields[i.index(fields.len())];
            let dup = v[s..e].to_vec();
            v.splice(e..e, dup);
        }
        Mutation::DeleteRange(i, n) => {
            let at = i.index(v.len() + 1);
            let end = (at + n).min(v.len());
            v.drain(at..end);
        }
        Mutation::ReplaceByte(i, b) => {
            if !v.is_empty() {
                let at = i.index(v.len());
                v[at] = *b;
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) + (b): arbitrary bytes never panic; every line is accounted for once; rejects
    /// keep their bytes and line numbers.
    #[test]
    fn arbitrary_input_keeps_the_invariant(data in input()) {
        for (spec, _) in formats() {
            let out = parse_one(&spec, &data);
            check(&spec, &data, &out)?;
        }
    }

    /// (c): mutated example lines never panic and keep the invariant.
    #[test]
    fn mutated_examples_keep_the_invariant(muts in prop::collection::vec(mutation(), 1..4), twice in any::<bool>()) {
        for (spec, example) in formats() {
            let mut data = example.as_bytes().to_vec();
            for m in &muts {
                data = mutate(&data, m);
            }
            if twice {
                // The mutated line after an intact one, so stateful parsers see both orders.
                let mut both = example.as_bytes().to_vec();
                both.push(b'\n');
                both.extend_from_slice(&data);
                data = both;
            }
            let out = parse_one(&spec, &data);
            check(&spec, &data, &out)?;
        }
    }

    /// (d): cutting the input into chunks at line boundaries changes nothing.
    #[test]
    fn chunking_at_line_boundaries_changes_nothing(data in input(), cuts in prop::collection::vec(any::<Index>(), 0..5)) {
        let line_ends = data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1);
        let starts: Vec<usize> = std::iter::once(0).chain(line_ends).collect();
        let cuts: Vec<usize> = cuts.iter().map(|c| starts[c.index(starts.len())]).collect();
        for (spec, _) in formats() {
            let whole = parse_one(&spec, &data);
            let split = parse_chunks(&spec, &data, &cuts);
            check(&spec, &data, &split)?;
            prop_assert_eq!(whole.counts, split.counts, "{}: counts differ when cut at {:?}", spec.name(), cuts);
            prop_assert_eq!(&whole.events, &split.events, "{}: events differ when cut at {:?}", spec.name(), cuts);
            prop_assert_eq!(&whole.rejects, &split.rejects, "{}: rejects differ when cut at {:?}", spec.name(), cuts);
        }
    }

    /// (e): with a small line limit, long lines are `too_long` rejects keeping their head,
    /// the rest keep the invariant, whatever the chunking.
    #[test]
    fn small_line_limits_keep_the_invariant(data in input(), max in 0usize..80, cut in any::<Index>()) {
        let line_ends = data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1);
        let starts: Vec<usize> = std::iter::once(0).chain(line_ends).collect();
        let cut = starts[cut.index(starts.len())];
        for (spec, _) in formats() {
            let whole = parse_chunks_max(&spec, &data, &[], max);
            check_max(&spec, &data, &whole, max)?;
            let split = parse_chunks_max(&spec, &data, &[cut], max);
            prop_assert_eq!(&whole.rejects, &split.rejects, "{}: rejects differ when cut at {}", spec.name(), cut);
        }
    }
}

/// Pieces of custom patterns: placeholders of every kind, quotes, brackets, braces.
const PATTERN_PIECES: &[&str] = &[
    "{ts}",
    "{ts:epoch}",
    "{ts:epoch_ms}",
    "{ts:clf}",
    "{ts:iso8601}",
    "{ts:ctime}",
    "{date}",
    "{time}",
    "{client_ip}",
    "{server_ip:lenient}",
    "{user}",
    "{method}",
    "{url}",
    "{request}",
    "{host}",
    "{port}",
    "{path}",
    "{query}",
    "{status}",
    "{response_bytes}",
    "{request_bytes}",
    "{duration_ms:s}",
    "{duration_ms:us}",
    "{user_agent}",
    "{_}",
    " ",
    "  ",
    "\t",
    "\"",
    "[",
    "]",
    "/",
    ":",
    "{{",
    "}}",
    "{",
    "}",
    "-",
    "é",
    "x",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random custom patterns either fail to build with a message, or read any input
    /// without panicking and keep the invariant.
    #[test]
    fn random_custom_patterns_keep_the_invariant(
        ts in prop::sample::select(&PATTERN_PIECES[..6]),
        pieces in prop::collection::vec((prop::sample::select(PATTERN_PIECES), prop::sample::select(&[" ", "", "/", "\""][..])), 0..10),
        data in input(),
    ) {
        let pattern: String = std::iter::once(ts).chain(pieces.iter().flat_map(|(p, sep)| [*sep, *p])).collect();
        let spec = FormatSpec::Custom(CustomOptions { pattern });
        match ChunkParser::new(&spec) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(_) => {
                let out = parse_one(&spec, &data);
                check(&spec, &data, &out)?;
            }
        }
    }
}

/// The examples themselves (and several copies, with CRLF endings) are read whole.
#[test]
fn examples_with_crlf_and_repeats() {
    for (spec, example) in formats() {
        let data = format!("{example}\r\n{example}\r\n{example}");
        let out = parse_one(&spec, data.as_bytes());
        check(&spec, data.as_bytes(), &out).unwrap();
    }
}

/// Rejects keep the `\r` of a CRLF line in `raw`, as `ChunkParser` documents.
#[test]
fn reject_raw_keeps_carriage_return() {
    for (spec, _) in formats() {
        let data = b"\xff\xfe not a log line \x00\r\nsecond \xc3\r\n";
        let out = parse_one(&spec, data);
        check(&spec, data, &out).unwrap();
        assert_eq!(out.counts.rejects, 2, "{}", spec.name());
        let raw = out.rejects.column_by_name("raw").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(raw.value(0), b"\xff\xfe not a log line \x00\r");
        assert_eq!(raw.value(1), b"second \xc3\r");
    }
}

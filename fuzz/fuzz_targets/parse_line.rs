//! Feeds arbitrary bytes to every catalogue format through `ChunkParser` and checks the
//! promise of the project: every line ends as exactly one event, reject or skipped line,
//! whether the input arrives as one chunk or cut at a line boundary.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run parse_line` (see fuzz/README.md).

#![no_main]

use arrow_array::{Array, BinaryArray, Int64Array};
use libfuzzer_sys::fuzz_target;
use sweep_formats::formats::custom::CustomOptions;
use sweep_formats::{BatchBuilder, ChunkParser, FormatSpec, ParsedBatch, catalogue};

fuzz_target!(|data: &[u8]| check_all(data));

fn specs() -> Vec<FormatSpec> {
    catalogue()
        .into_iter()
        .map(|info| match info.name {
            "custom" => FormatSpec::Custom(CustomOptions::example()),
            name => FormatSpec::from_name(name).expect("catalogue formats have names"),
        })
        .collect()
}

/// Lines as `ChunkParser` reads them: split at `\n`, the `\r` of `\r\n` kept in the raw bytes.
fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The last directive before `pos` that the parser reads (UTF-8, no `\r` but a CRLF's, no
/// NUL), as the file reader carries it to the next chunk.
fn header_before<'d>(data: &'d [u8], pos: usize, directive: Option<&[u8]>) -> Option<&'d [u8]> {
    let directive = directive?;
    lines_of(&data[..pos])
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .rfind(|l| l.starts_with(directive) && std::str::from_utf8(l).is_ok() && !l.contains(&b'\r') && !l.contains(&0))
}

fn parse(spec: &FormatSpec, data: &[u8], cut: Option<usize>) -> ParsedBatch {
    let mut parser = ChunkParser::new(spec).expect("catalogue formats build");
    let mut out = BatchBuilder::new(16, 0);
    let cut = cut.unwrap_or(data.len());
    let second_offset = 1 + data[..cut].iter().filter(|b| **b == b'\n').count() as i64;
    parser.parse_chunk(&data[..cut], "fuzz", 1, None, &mut out);
    if cut < data.len() {
        let header = header_before(data, cut, spec.header_directive());
        parser.parse_chunk(&data[cut..], "fuzz", second_offset, header, &mut out);
    }
    out.finish()
}

fn check_all(data: &[u8]) {
    let lines = lines_of(data);
    // A cut at a line start chosen by the input itself.
    let starts: Vec<usize> = data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
    let cut = data.first().and_then(|b| starts.get(*b as usize % (starts.len() + 1)).copied());
    for spec in specs() {
        let out = parse(&spec, data, None);
        let c = out.counts;
        assert_eq!(c.lines as usize, lines.len(), "{}: lines", spec.name());
        assert!(c.balanced(), "{}: {c:?}", spec.name());
        assert_eq!(out.events.num_rows() as u64, c.events);
        assert_eq!(out.rejects.num_rows() as u64, c.rejects);
        let raw = out.rejects.column_by_name("raw").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        let offs = out.rejects.column_by_name("offset").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..raw.len() {
            let off = offs.value(i);
            assert!(off >= 1 && off as usize <= lines.len(), "{}: reject offset {off}", spec.name());
            assert_eq!(raw.value(i), lines[off as usize - 1], "{}: raw bytes of line {off}", spec.name());
        }
        if cut.is_some() {
            let split = parse(&spec, data, cut);
            assert_eq!(out.counts, split.counts, "{}: counts differ when cut at {cut:?}", spec.name());
            assert_eq!(out.events, split.events, "{}: events differ when cut at {cut:?}", spec.name());
            assert_eq!(out.rejects, split.rejects, "{}: rejects differ when cut at {cut:?}", spec.name());
        }
    }
}

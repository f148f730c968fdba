//! The reader and the parser together, as the engines run them: a file with a line far
//! longer than `max_line_bytes` and a line holding a lone `\r` still gives one row per line.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use sweep_extract::{ChunkReader, Input};
use sweep_formats::{BatchBuilder, ChunkParser, DEFAULT_MAX_LINE_BYTES, FormatSpec, LineCounts};

fn request(i: usize) -> String {
    format!(
        "{}.000 12 10.0.0.{} TCP_MISS/200 512 GET http://host{i}.example/ - HIER_DIRECT/198.51.100.1 text/html",
        1_700_000_000 + i,
        i % 250
    )
}

#[test]
fn every_line_is_one_row_with_a_long_line_and_a_lone_carriage_return() {
    const LONG: usize = 50_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 1..=2000 {
        writeln!(f, "{}", request(i)).unwrap();
    }
    // Line 2001: 50 MB without a line break, as a runaway writer leaves.
    let block = vec![b'A'; 1 << 20];
    for _ in 0..LONG / block.len() {
        f.write_all(&block).unwrap();
    }
    f.write_all(&block[..LONG % block.len()]).unwrap();
    f.write_all(b"\r\n").unwrap();
    // Line 2002: two requests joined by a lone `\r`.
    write!(f, "{}\r{}\n", request(2001), request(2002)).unwrap();
    for i in 2003..=4000 {
        writeln!(f, "{}", request(i)).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();

    let mut reader =
        ChunkReader::new(&Input::File(path), 256 << 10, None, Arc::default()).unwrap().with_max_line_bytes(DEFAULT_MAX_LINE_BYTES);
    let mut parser = ChunkParser::new(&FormatSpec::Squid).unwrap().with_max_line_bytes(DEFAULT_MAX_LINE_BYTES);
    let (mut counts, mut rejects, mut event_offsets) = (LineCounts::default(), Vec::new(), Vec::new());
    while let Some(chunk) = reader.next_chunk().unwrap() {
        assert!(chunk.data.len() <= (256 << 10) + DEFAULT_MAX_LINE_BYTES + 1, "a chunk of {} bytes", chunk.data.len());
        let mut out = BatchBuilder::new(1024, 0);
        parser.parse_chunk_cut(&chunk.data, &chunk.source, chunk.first_offset, chunk.header.as_deref(), chunk.cut_line_len, &mut out);
        let parsed = out.finish();
        assert_eq!(parsed.counts.lines, chunk.line_count());
        counts.add(&parsed.counts);
        event_offsets.extend(parsed.events.column_by_name("offset").unwrap().as_primitive::<Int64Type>().values().iter().copied());
        let r = &parsed.rejects;
        for i in 0..r.num_rows() {
            rejects.push((
                r.column_by_name("offset").unwrap().as_primitive::<Int64Type>().value(i),
                r.column_by_name("reason").unwrap().as_string::<i32>().value(i).to_string(),
                r.column_by_name("detail").unwrap().as_string::<i32>().value(i).to_string(),
                r.column_by_name("raw").unwrap().as_binary::<i32>().value(i).len(),
            ));
        }
    }
    assert!(counts.balanced(), "{counts:?}");
    assert_eq!((counts.lines, counts.events, counts.rejects, counts.skipped), (4000, 3998, 2, 0));
    assert_eq!(
        rejects[0],
        (2001, "too_long".into(), format!("line has {LONG} bytes; the limit is 1048576 (max_line_bytes)"), DEFAULT_MAX_LINE_BYTES)
    );
    assert_eq!((rejects[1].0, rejects[1].1.as_str()), (2002, "control_character"));
    let expected: Vec<i64> = (1..=2000).chain(2003..=4000).collect();
    assert_eq!(event_offsets, expected);
}

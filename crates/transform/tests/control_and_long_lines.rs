//! Lines that hold bytes no log line can (a lone `\r`, NUL) and lines longer than
//! `max_line_bytes`: each is one reject of its own, never part of another event, and every
//! request stays accounted for. Built on the real Squid log in ../shared/data/logs.

use arrow_array::cast::AsArray;
use arrow_array::{Array, BinaryArray, RecordBatch};
use sweep_formats::{BatchBuilder, ChunkParser, FormatSpec, ParsedBatch, parse_all};

const LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/logs/squid-native-squidview.log");

/// The first `n` requests of the real log, without their line ends.
fn requests(n: usize) -> Vec<Vec<u8>> {
    let data = std::fs::read(LOG).expect("shared/data/logs/squid-native-squidview.log is beside the repo");
    let lines: Vec<Vec<u8>> = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(n).map(<[u8]>::to_vec).collect();
    assert_eq!(lines.len(), n);
    lines
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Vec<&'b str> {
    let col = batch.column_by_name(name).unwrap().as_string::<i32>();
    (0..col.len()).filter(|i| col.is_valid(*i)).map(|i| col.value(i)).collect()
}

fn raw(rejects: &RecordBatch) -> &BinaryArray {
    rejects.column_by_name("raw").unwrap().as_binary::<i32>()
}

/// Every request is an event or sits in a reject's raw bytes, no event holds a `\r` or NUL
/// in any text column, and the lines balance.
fn assert_accounted(out: &ParsedBatch, n_requests: usize) {
    assert!(out.counts.balanced(), "{:?}", out.counts);
    let raw = raw(&out.rejects);
    let in_rejects: usize = (0..raw.len()).map(|i| raw.value(i).split(|b| *b == b'\r').filter(|p| !p.is_empty()).count()).sum();
    assert_eq!(out.counts.events as usize + in_rejects, n_requests, "requests accounted for: {:?}", out.counts);
    for field in out.events.schema().fields() {
        if let Some(col) = out.events.column_by_name(field.name()).unwrap().as_string_opt::<i32>() {
            for i in (0..col.len()).filter(|i| col.is_valid(*i)) {
                assert!(
                    !col.value(i).contains(['\r', '\0']),
                    "event {i} holds a control character in {}: {:?}",
                    field.name(),
                    col.value(i)
                );
            }
        }
    }
}

#[test]
fn squid_log_with_carriage_return_line_ends_merges_nothing() {
    let reqs = requests(31);
    // A log whose writer switched line ends: ten requests ended by a lone `\r` (old Mac
    // style), each followed by one ended properly, then CRLF lines.
    let mut data = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        data.extend_from_slice(r);
        data.extend_from_slice(match i {
            0..20 if i % 2 == 0 => b"\r",
            0..20 => b"\n",
            _ => b"\r\n",
        });
    }
    let out = parse_all(&FormatSpec::Squid, &data, "mixed.log").unwrap();
    // 10 merged pairs and 11 CRLF lines: 21 lines, of which 10 hold a lone `\r`.
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects, out.counts.skipped), (21, 11, 10, 0));
    assert_accounted(&out, 31);
    assert!(column(&out.rejects, "reason").iter().all(|r| *r == "control_character"), "{:?}", column(&out.rejects, "reason"));
    let details = column(&out.rejects, "detail");
    for (i, detail) in details.iter().enumerate() {
        let at = reqs[2 * i].len();
        assert!(detail.starts_with(&format!("carriage return at byte {at}: ")), "{detail}");
        assert_eq!(raw(&out.rejects).value(i), [&reqs[2 * i][..], b"\r", &reqs[2 * i + 1][..]].concat());
    }
    // Lines 1..=10 are the merged pairs, in order.
    let offsets = out.rejects.column_by_name("offset").unwrap().as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(offsets.values().to_vec(), (1..=10).collect::<Vec<i64>>());
}

#[test]
fn old_mac_file_is_one_reject_holding_every_request() {
    let reqs = requests(31);
    let mut data = reqs.join(&b'\r');
    data.push(b'\r');
    let out = parse_all(&FormatSpec::Squid, &data, "mac.log").unwrap();
    // The trailing `\r` is taken as a CRLF's, so the first lone one is at the end of request 1.
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects), (1, 0, 1));
    assert_accounted(&out, 31);
    assert_eq!(column(&out.rejects, "reason"), ["control_character"]);
    assert!(column(&out.rejects, "detail")[0].starts_with(&format!("carriage return at byte {}:", reqs[0].len())));
}

#[test]
fn crlf_lines_stay_events() {
    let reqs = requests(31);
    let data = [reqs.join(&b"\r\n"[..]), b"\r\n".to_vec()].concat();
    let out = parse_all(&FormatSpec::Squid, &data, "crlf.log").unwrap();
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects), (31, 31, 0));
    assert_accounted(&out, 31);
}

#[test]
fn nul_padding_after_a_crash_is_a_reject_of_its_own() {
    let reqs = requests(4);
    // A writer that died left a block of zeros; logging went on after it.
    let data = [&reqs[0][..], b"\n", &reqs[1][..], b"\n", &[0u8; 512][..], &reqs[2][..], b"\n", &reqs[3][..], b"\n"].concat();
    let out = parse_all(&FormatSpec::Squid, &data, "crashed.log").unwrap();
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects), (4, 3, 1));
    assert_eq!(column(&out.rejects, "reason"), ["control_character"]);
    assert!(column(&out.rejects, "detail")[0].starts_with("NUL at byte 0: "), "{:?}", column(&out.rejects, "detail"));
    let offsets = out.rejects.column_by_name("offset").unwrap().as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(offsets.value(0), 3);
}

#[test]
fn tabs_are_no_control_characters_and_json_cannot_hold_a_raw_carriage_return() {
    let jsonl = FormatSpec::from_name("jsonl").unwrap();
    let example = sweep_formats::formats::jsonl::EXAMPLE;
    let tabbed = example.replacen('{', "{\t", 1).replacen(',', ",\t", 1);
    let in_string = example.replacen("alice", "ali\rce", 1);
    let between = example.replacen(',', ",\r", 1);
    let data = [tabbed.as_str(), &in_string, &between, example].join("\n");
    let out = parse_all(&jsonl, data.as_bytes(), "x.jsonl").unwrap();
    assert_eq!((out.counts.events, out.counts.rejects), (2, 2), "{:?}", column(&out.rejects, "detail"));
    assert_eq!(column(&out.rejects, "reason"), ["control_character", "control_character"]);
}

#[test]
fn kafka_messages_are_checked_too() {
    let reqs = requests(2);
    let mut parser = ChunkParser::new(&FormatSpec::Squid).unwrap();
    let mut out = BatchBuilder::new(4, 0);
    let merged = [&reqs[0][..], b"\r", &reqs[1][..]].concat();
    parser.parse_message(&merged, "kafka:t/0", 7, &mut out);
    parser.parse_message(&[&reqs[0][..], b"\r"].concat(), "kafka:t/0", 8, &mut out);
    let out = out.finish();
    assert_eq!((out.counts.events, out.counts.rejects), (1, 1));
    assert_eq!(column(&out.rejects, "reason"), ["control_character"]);
}

#[test]
fn long_lines_keep_their_head_and_state_their_length() {
    let reqs = requests(3);
    let max = 100;
    let mut parser = ChunkParser::new(&FormatSpec::Squid).unwrap().with_max_line_bytes(max);
    let mut out = BatchBuilder::new(4, 0);
    let long = vec![b'x'; 1000];
    // The whole line in the chunk, a `\r\n` not counted in its length; then a short line.
    let short = b"1198298239.740 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -";
    let data = [&long[..], b"\r\n", &short[..], b"\n"].concat();
    parser.parse_chunk(&data, "a.log", 1, None, &mut out);
    // A chunk whose first line a reader cut short to its first `max` bytes: 5000 bytes long.
    let data = [&long[..max], b"\n", &short[..], b"\n"].concat();
    parser.parse_chunk_cut(&data, "a.log", 3, None, Some(5000), &mut out);
    let out = out.finish();
    assert!(out.counts.balanced());
    assert_eq!((out.counts.lines, out.counts.events, out.counts.rejects), (4, 2, 2));
    assert_eq!(column(&out.rejects, "reason"), ["too_long", "too_long"]);
    assert_eq!(
        column(&out.rejects, "detail"),
        ["line has 1000 bytes; the limit is 100 (max_line_bytes)", "line has 5000 bytes; the limit is 100 (max_line_bytes)"]
    );
    let raw = raw(&out.rejects);
    assert_eq!((raw.value(0), raw.value(1)), (&long[..max], &long[..max]));
    let offsets = |b: &RecordBatch| b.column_by_name("offset").unwrap().as_primitive::<arrow_array::types::Int64Type>().values().to_vec();
    assert_eq!((offsets(&out.rejects), offsets(&out.events)), (vec![1, 3], vec![2, 4]));
    // A line of exactly the limit, with a `\r\n`, is no reject.
    let mut parser = ChunkParser::new(&FormatSpec::Squid).unwrap().with_max_line_bytes(reqs[0].len());
    let mut out = BatchBuilder::new(4, 0);
    parser.parse_chunk(&[&reqs[0][..], b"\r\n"].concat(), "a.log", 1, None, &mut out);
    assert_eq!(out.finish().counts.events, 1);
}

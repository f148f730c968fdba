//! Which built-in format a log is in: every candidate parses a sample of its lines, and the
//! one that reads the most of them, then the one that fills the most fields, wins.
//!
//! Formats overlap: a `combined` line is also a `common` line with text after it, and a
//! Squid `combined` line is an Apache `combined` line with the cache result after it. The
//! share of lines read decides first; among formats that read as many lines (within
//! [`TIE`]), the one that fills more columns is the more specific and wins. `custom`
//! patterns and `jsonl` mappings other than the default are the user's own and are not
//! guessed.

use arrow_array::Array;

use crate::formats::zscaler::{ZscalerLayout, ZscalerOptions};
use crate::spec::FormatSpec;
use crate::{BatchBuilder, ChunkParser};

/// Shares of lines read closer than this count as equal.
const TIE: f64 = 0.005;

/// How well one candidate format read a sample.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub spec: FormatSpec,
    /// The format's name, with the Zscaler layout (`zscaler (tsv)`).
    pub label: String,
    /// Sample lines that are data (not comments or header directives of this format).
    pub data_lines: u64,
    /// Of those, lines read as events.
    pub events: u64,
    /// Mean number of columns an event fills.
    pub fields_per_event: f64,
    /// The first event's filled columns, `(column, value)`, for a sample parse.
    pub first_event: Vec<(String, String)>,
}

impl Candidate {
    /// The share of the sample's data lines this format reads (0 when it has none).
    pub fn confidence(&self) -> f64 {
        if self.data_lines == 0 { 0.0 } else { self.events as f64 / self.data_lines as f64 }
    }
}

/// The formats a log can be recognised as, in the order that breaks exact ties.
pub fn candidates() -> Vec<(String, FormatSpec)> {
    let zscaler = |layout: ZscalerLayout| FormatSpec::Zscaler(ZscalerOptions { layout, fields: None });
    vec![
        ("squid".into(), FormatSpec::Squid),
        ("squid_combined".into(), FormatSpec::SquidCombined),
        ("squid_common".into(), FormatSpec::SquidCommon),
        ("vhost_combined".into(), FormatSpec::VhostCombined),
        ("combined".into(), FormatSpec::Combined),
        ("common".into(), FormatSpec::Common),
        ("elff".into(), FormatSpec::Elff(Default::default())),
        ("zscaler (csv)".into(), zscaler(ZscalerLayout::Csv)),
        ("zscaler (tsv)".into(), zscaler(ZscalerLayout::Tsv)),
        ("zscaler (json)".into(), zscaler(ZscalerLayout::Json)),
        ("jsonl".into(), FormatSpec::Jsonl(Default::default())),
    ]
}

/// Every candidate's reading of `sample` (whole lines; a last line without its newline is
/// left out, as it may be cut), best first.
pub fn rank(sample: &[u8]) -> Vec<Candidate> {
    let sample = match memchr::memrchr(b'\n', sample) {
        Some(end) if end + 1 < sample.len() => &sample[..=end],
        _ => sample,
    };
    let mut ranked: Vec<(usize, Candidate)> =
        candidates().into_iter().enumerate().filter_map(|(order, (label, spec))| Some((order, read(label, spec, sample)?))).collect();
    ranked.sort_by(|(oa, a), (ob, b)| {
        let (ca, cb) = (a.confidence(), b.confidence());
        if (ca - cb).abs() > TIE {
            return cb.total_cmp(&ca);
        }
        b.fields_per_event.total_cmp(&a.fields_per_event).then(oa.cmp(ob))
    });
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// The most likely format of `sample`, or `None` when no candidate reads a single line.
pub fn detect(sample: &[u8]) -> Option<Candidate> {
    rank(sample).into_iter().next().filter(|c| c.events > 0)
}

fn read(label: String, spec: FormatSpec, sample: &[u8]) -> Option<Candidate> {
    let mut parser = ChunkParser::new(&spec).ok()?;
    let mut builder = BatchBuilder::new(1024, 0);
    parser.parse_chunk(sample, "sample", 1, None, &mut builder);
    let parsed = builder.finish();
    let events = &parsed.events;
    let provenance = ["source", "offset", "format"];
    let data_columns: Vec<usize> =
        (0..events.num_columns()).filter(|&i| !provenance.contains(&events.schema().field(i).name().as_str())).collect();
    let filled: usize = data_columns.iter().map(|&i| events.num_rows() - events.column(i).null_count()).sum();
    let mut first_event = Vec::new();
    if events.num_rows() > 0 {
        for &i in &data_columns {
            let column = events.column(i);
            if column.is_valid(0) {
                let value = arrow_cast_display(column.as_ref(), 0);
                if !value.is_empty() {
                    first_event.push((events.schema().field(i).name().clone(), value));
                }
            }
        }
    }
    Some(Candidate {
        spec,
        label,
        data_lines: parsed.counts.events + parsed.counts.rejects,
        events: parsed.counts.events,
        fields_per_event: if events.num_rows() == 0 { 0.0 } else { filled as f64 / events.num_rows() as f64 },
        first_event,
    })
}

/// A value of an event column as text (text, integers, or the timestamp).
fn arrow_cast_display(column: &dyn Array, row: usize) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::DataType;
    match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => column.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Timestamp(_, _) => crate::time::format_micros(column.as_primitive::<TimestampMicrosecondType>().value(row)),
        other => format!("({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{clf, elff, jsonl, squid, zscaler};

    fn best(sample: &str) -> String {
        detect(sample.as_bytes()).map(|c| c.label).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn every_example_line_is_recognised_as_its_own_format() {
        for (example, want) in [
            (squid::EXAMPLE, "squid"),
            (clf::EXAMPLE_SQUID_COMMON, "squid_common"),
            (clf::EXAMPLE_SQUID_COMBINED, "squid_combined"),
            (clf::EXAMPLE_COMMON, "common"),
            (clf::EXAMPLE_COMBINED, "combined"),
            (clf::EXAMPLE_VHOST_COMBINED, "vhost_combined"),
            (elff::EXAMPLE, "elff"),
            (zscaler::EXAMPLE, "zscaler (csv)"),
            (jsonl::EXAMPLE, "jsonl"),
        ] {
            assert_eq!(best(&format!("{example}\n")), want, "{example}");
        }
    }

    #[test]
    fn text_that_is_no_log_is_no_format() {
        assert_eq!(best("hello world\nthis is not a proxy log\n"), "none");
        assert_eq!(best(""), "none");
        assert_eq!(best("#Fields: date time c-ip\n"), "none", "a header alone has no data line");
    }

    #[test]
    fn a_cut_last_line_does_not_count() {
        let sample = format!("{}\n{}", squid::EXAMPLE, &squid::EXAMPLE[..20]);
        let found = detect(sample.as_bytes()).unwrap();
        assert_eq!((found.label.as_str(), found.data_lines, found.events), ("squid", 1, 1));
        assert!(!found.first_event.is_empty());
    }
}

//! # sweep-spark-sql: log formats as Spark SQL
//!
//! The Spark engine (sweep-spark) reads log lines with Spark SQL that turns each line into an
//! event or a reject; this crate writes that SQL. It is a crate of its own so that it builds
//! and tests without a Spark server, a network client or DataFusion.
//!
//! Each function here mirrors a parser of sweep-formats check for check, so that a line
//! becomes the same event, or the same reject with the same reason, on both engines. The
//! embedded parser is the reference; the differential tests (crates/cli/tests/spark_*.rs, run
//! against a Spark Connect server) hold the two together. The SQL is written to hold with
//! Spark's ANSI mode on (the 4.0 default; sweep's session turns it off): array access uses
//! `get` and numbers are checked by pattern before they are cast.
//!
//! The files follow sweep-formats file for file: [`fields`], [`reject`], `url`, [`time`] and
//! `formats/` (one module per format), with [`steps`], the SQL builder they all write into,
//! in the place of sweep-formats' `builder`.

pub mod fields;
mod formats;
pub mod reject;
pub mod steps;
pub mod time;
mod url;

use sweep_formats::FormatSpec;

pub use formats::elff::Directive;
use formats::{clf, custom, elff, jsonl, squid, zscaler};
use steps::Steps;

/// Why a format cannot run on Spark, in words for the user (sweep-spark says what to do
/// instead).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// The parse of one format, as steps over the columns `line` (the line without its `\r`).
/// The last step holds `parse_rej`, a struct (reason, detail) that is null for events,
/// `parse_skip`, true for lines the format skips (comments, directives, header rows), and
/// every column of the events table but the provenance.
pub struct FormatSql {
    pub name: &'static str,
    pub steps: Steps,
}

/// The columns of the events table that a format fills (all but the provenance), in
/// table order.
pub fn event_columns() -> Vec<String> {
    sweep_formats::events_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| !["format", "source", "offset"].contains(&name.as_str()))
        .collect()
}

/// The SQL of a format, or why it cannot run on Spark yet.
pub fn format_sql(spec: &FormatSpec) -> Result<FormatSql, Unsupported> {
    file_format_sql(spec, &[])
}

/// The SQL of a format for one file whose header directives (`#Fields:` lines of ELFF,
/// see `FormatSpec::header_directive`) are `directives`.
pub fn file_format_sql(spec: &FormatSpec, directives: &[Directive]) -> Result<FormatSql, Unsupported> {
    match spec {
        FormatSpec::Squid => Ok(squid::squid()),
        FormatSpec::Common => Ok(clf::clf(clf::Variant::Common)),
        FormatSpec::Combined => Ok(clf::clf(clf::Variant::Combined)),
        FormatSpec::VhostCombined => Ok(clf::clf(clf::Variant::VhostCombined)),
        FormatSpec::SquidCommon => Ok(clf::clf(clf::Variant::SquidCommon)),
        FormatSpec::SquidCombined => Ok(clf::clf(clf::Variant::SquidCombined)),
        FormatSpec::Elff(options) => Ok(elff::elff(options, directives)),
        FormatSpec::Zscaler(options) => zscaler::zscaler(options),
        FormatSpec::Jsonl(mapping) => jsonl::jsonl(mapping),
        FormatSpec::Custom(options) => custom::custom(options),
        FormatSpec::Auto => Err(Unsupported("format \"auto\" is chosen per input file before a run; name the format here".into())),
    }
}

#[cfg(test)]
mod tests {
    use sweep_formats::catalogue;
    use sweep_formats::formats::elff::ElffOptions;

    use super::*;
    use crate::formats::shape;

    /// The expression of the column `name` of the parse.
    fn column<'a>(sql: &'a FormatSql, name: &str) -> &'a str {
        let found = sql.steps.steps.iter().flatten().find(|(column, _)| column == name);
        found.map(|(_, expr)| expr.as_str()).unwrap_or_else(|| panic!("{} has no column {name}", sql.name))
    }

    #[test]
    fn every_format_named_without_options_compiles_to_a_whole_parse() {
        let mut needs_options = Vec::new();
        for info in catalogue() {
            let Ok(spec) = FormatSpec::from_name(info.name) else {
                needs_options.push(info.name);
                continue;
            };
            let sql = format_sql(&spec).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            assert_eq!(sql.name, info.name);
            assert_eq!(shape::filled(&sql), event_columns(), "{}", info.name);
            // What `FormatSql` promises the engine: the last step holds the outcome and
            // every events column.
            let last: Vec<&str> = sql.steps.steps.last().into_iter().flatten().map(|(name, _)| name.as_str()).collect();
            let outcome = ["parse_rej".to_string(), "parse_skip".to_string()];
            for name in outcome.into_iter().chain(event_columns().iter().map(|c| format!("e_{c}"))) {
                assert!(last.contains(&name.as_str()), "{}: {name} is not in the last step", info.name);
            }
        }
        assert_eq!(needs_options, ["custom"], "only custom needs options (its pattern)");
    }

    #[test]
    fn elff_follows_the_field_lists_of_its_file() {
        let spec = FormatSpec::Elff(ElffOptions::default());
        let directive = |offset: i64, line: &str| Directive { offset, line: line.to_string() };
        let long = "#Fields: date time c-ip cs-method cs-uri sc-status";
        let short = "#Fields: gmttime c-ip cs-uri";
        let directives = [
            directive(1, "#Fields:"),
            directive(2, long),
            directive(4, long),
            directive(9, short),
            directive(20, long),
            directive(30, "#Fields:"),
        ];
        let sql = file_format_sql(&spec, &directives).unwrap();
        // A field list keeps its number when it comes back; a directive that names no fields
        // leaves none in force, and one that repeats what is in force changes nothing.
        assert_eq!(
            column(&sql, "layout"),
            "CASE WHEN offset > 30 THEN 0 WHEN offset > 20 THEN 1 WHEN offset > 9 THEN 2 WHEN offset > 2 THEN 1 ELSE 0 END"
        );
        assert_eq!(
            column(&sql, "names"),
            "CASE layout WHEN 1 THEN array('date', 'time', 'c-ip', 'cs-method', 'cs-uri', 'sc-status') \
             WHEN 2 THEN array('gmttime', 'c-ip', 'cs-uri') END"
        );
        assert_eq!(column(&sql, "n_fields"), "CASE layout WHEN 1 THEN 6 WHEN 2 THEN 3 END");
        assert_eq!(shape::filled(&sql), event_columns());

        // The `fields` option is the list in force before the first directive (number 0).
        let with_fields = FormatSpec::Elff(ElffOptions { fields: Some(vec!["date time".into(), "c-ip".into()]), syslog: false });
        let sql = file_format_sql(&with_fields, &directives[3..4]).unwrap();
        assert_eq!(column(&sql, "layout"), "CASE WHEN offset > 9 THEN 1 ELSE 0 END");
        assert_eq!(column(&sql, "n_fields"), "CASE layout WHEN 0 THEN 3 WHEN 1 THEN 3 END");

        // With neither, no line has a field list: data lines are `no_header` rejects.
        let headerless = format_sql(&spec).unwrap();
        assert_eq!(column(&headerless, "layout"), "0");
        assert_eq!(column(&headerless, "n_fields"), "NULL");
        assert!(column(&headerless, "parse_rej").contains("named_struct('reason', 'no_header'"));
    }
}

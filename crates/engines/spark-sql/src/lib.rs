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
    }
}

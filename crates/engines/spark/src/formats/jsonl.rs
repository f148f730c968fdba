//! The `jsonl` format as Spark SQL (mirrors sweep_formats::formats::jsonl).

use super::*;

pub(super) fn jsonl(mapping: &sweep_formats::formats::jsonl::JsonMapping) -> Result<FormatSql, SparkError> {
    Err(not_yet(&FormatSpec::Jsonl(mapping.clone())))
}

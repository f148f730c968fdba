//! The `jsonl` format as Spark SQL (mirrors sweep_formats::formats::jsonl).

use super::*;

pub(super) fn jsonl(_mapping: &sweep_formats::formats::jsonl::JsonMapping) -> Result<FormatSql, SparkError> {
    Err(SparkError::Unsupported("the format \"jsonl\" has no Spark SQL translation yet".into()))
}

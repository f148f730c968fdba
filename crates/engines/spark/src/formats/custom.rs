//! The `custom` format as Spark SQL (mirrors sweep_formats::formats::custom).

use super::*;

pub(super) fn custom(options: &sweep_formats::formats::custom::CustomOptions) -> Result<FormatSql, SparkError> {
    Err(not_yet(&FormatSpec::Custom(options.clone())))
}

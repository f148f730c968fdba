//! The `zscaler` format as Spark SQL (mirrors sweep_formats::formats::zscaler).

use super::*;

pub(super) fn zscaler(options: &sweep_formats::formats::zscaler::ZscalerOptions) -> Result<FormatSql, SparkError> {
    Err(not_yet(&FormatSpec::Zscaler(options.clone())))
}

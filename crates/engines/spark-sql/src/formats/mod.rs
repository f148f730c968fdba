//! The built-in formats as Spark SQL, one module per module of sweep_formats::formats, each
//! mirroring that format's parser; `file_format_sql` in lib.rs picks one for a `FormatSpec`.

pub(crate) mod clf;
pub(crate) mod custom;
pub(crate) mod elff;
pub(crate) mod jsonl;
pub(crate) mod squid;
pub(crate) mod zscaler;

//! Which events column a Sigma field name reads. The default table is in the crate doc.

use std::collections::BTreeMap;

use arrow_schema::DataType;
use sweep_formats::events_schema;

use crate::SigmaError;
use crate::tree::Column;

/// The default map: `(sigma field, events column)`; `@path_extension` is [`Column::PathExtension`].
pub const DEFAULT_FIELDS: &[(&str, &str)] = &[
    ("c-uri", "url"),
    ("cs-uri", "url"),
    ("c-uri-query", "query"),
    ("cs-uri-query", "query"),
    ("c-uri-stem", "path"),
    ("cs-uri-stem", "path"),
    ("c-uri-extension", "@path_extension"),
    ("cs-host", "host"),
    ("c-host", "host"),
    ("r-dns", "host"),
    ("c-useragent", "user_agent"),
    ("cs-user-agent", "user_agent"),
    ("cs-method", "method"),
    ("sc-status", "status"),
    ("cs-referrer", "referrer"),
    ("cs-referer", "referrer"),
    ("c-ip", "client_ip"),
    ("src_ip", "client_ip"),
    ("s-ip", "server_ip"),
    ("dst_ip", "server_ip"),
    ("s-port", "port"),
    ("dst_port", "port"),
    ("cs-username", "user"),
    ("cs-bytes", "request_bytes"),
    ("sc-bytes", "response_bytes"),
    ("time-taken", "duration_ms"),
];

/// Taxonomy fields known to have no column (rules using them are refused with `UnmappedField`).
pub const UNMAPPED_FIELDS: &[&str] = &["cs-cookie", "cs-version", "sc-substatus", "sc-win32-status", "s-sitename", "s-computername"];

/// Sigma field name → events column. Field names are matched exactly (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    map: BTreeMap<String, Column>,
}

impl Default for FieldMap {
    fn default() -> Self {
        let map = DEFAULT_FIELDS.iter().map(|(f, c)| (f.to_string(), column_named(c).expect("default map names real columns"))).collect();
        FieldMap { map }
    }
}

/// The columns a field may be mapped to: the text and integer columns of the events schema,
/// and `@path_extension`.
fn column_named(name: &str) -> Option<Column> {
    if name == "@path_extension" {
        return Some(Column::PathExtension);
    }
    let schema = events_schema();
    let field = schema.field_with_name(name).ok()?;
    match field.data_type() {
        DataType::Utf8 | DataType::Int32 | DataType::Int64 => Some(Column::Event(name.to_string())),
        _ => None,
    }
}

/// Whether an events column holds integers (`status`, `port`, the byte counts ...).
pub(crate) fn is_numeric_column(column: &Column) -> bool {
    match column {
        Column::Event(name) => {
            events_schema().field_with_name(name).map(|f| matches!(f.data_type(), DataType::Int32 | DataType::Int64)).unwrap_or(false)
        }
        Column::PathExtension => false,
    }
}

impl FieldMap {
    /// The default map with `overrides` (sigma field → column name) added or replacing entries.
    /// A column must be a text or integer column of the events schema, or `@path_extension`.
    pub fn with_overrides<'a>(overrides: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<FieldMap, SigmaError> {
        let mut map = FieldMap::default();
        for (field, column) in overrides {
            let col = column_named(column).ok_or_else(|| {
                SigmaError::FieldMap(format!(
                    "field `{field}` is mapped to `{column}`, which is not a text or integer column of the events table (nor `@path_extension`)"
                ))
            })?;
            map.map.insert(field.to_string(), col);
        }
        Ok(map)
    }

    /// The column of a Sigma field.
    pub fn get(&self, field: &str) -> Option<&Column> {
        self.map.get(field)
    }

    /// Every entry, by field name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
}

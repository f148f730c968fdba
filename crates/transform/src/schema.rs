//! The canonical `events` and `rejects` tables (see docs/tables.md).
//!
//! Column order here is the order on disk. Every engine must produce exactly these
//! schemas so that the same pipeline gives the same tables everywhere.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Time zone of every timestamp column: all times are stored as UTC instants.
pub const UTC: &str = "UTC";

/// The type of every timestamp column sweep writes: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("ts", timestamp_type(), false),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, true),
        Field::new("method", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("scheme", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("port", DataType::Int32, true),
        Field::new("path", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, true),
        Field::new("status", DataType::Int32, true),
        Field::new("request_bytes", DataType::Int64, true),
        Field::new("response_bytes", DataType::Int64, true),
        Field::new("duration_ms", DataType::Int64, true),
        Field::new("user_agent", DataType::Utf8, true),
        Field::new("referrer", DataType::Utf8, true),
        Field::new("content_type", DataType::Utf8, true),
        Field::new("proxy_action", DataType::Utf8, true),
        Field::new("server_ip", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("format", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, false),
    ]))
});

static REJECTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("raw", DataType::Binary, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("ingest_ts", timestamp_type(), false),
    ]))
});

/// Schema of the `events` table.
pub fn events_schema() -> SchemaRef {
    EVENTS.clone()
}

/// Schema of the `rejects` table.
pub fn rejects_schema() -> SchemaRef {
    REJECTS.clone()
}

//! Why a line became a reject. The codes are part of sweep's interface: they are written
//! to the `rejects.reason` column, documented in docs/tables.md, and must never change.

use std::borrow::Cow;
use std::fmt;

/// A stable reason code for a rejected line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The line is not valid UTF-8 (the raw bytes are still kept in `raw`).
    InvalidUtf8,
    /// The line holds a byte no log line can: a carriage return that is not the last byte
    /// before the `\n` (a line break the writer did not end with `\n`, so the line may hold
    /// more than one record), or a NUL.
    ControlCharacter,
    /// The line has fewer or more fields than the format defines.
    FieldCount,
    /// The timestamp is missing or cannot be read.
    BadTimestamp,
    /// An address field is not an IPv4 or IPv6 address.
    BadIp,
    /// A numeric field (status, bytes, duration, port) is not a number in range.
    BadNumber,
    /// The request line or URL cannot be split.
    BadRequest,
    /// A quoted field is not closed, or the line does not follow the layout.
    Malformed,
    /// A header-driven format (ELFF/W3C) met a data line before any `#Fields:` directive.
    NoHeader,
    /// A JSON line is not a JSON object.
    BadJson,
    /// The line is longer than the configured maximum.
    TooLong,
    /// A Kafka message without a payload (or with an empty one).
    Empty,
    /// The event is older than the window analyser's watermark (streaming only). The event
    /// was still swept; it is kept here instead of in `events` so that no count changes
    /// silently.
    Late,
}

impl RejectReason {
    /// Every reason, in a stable order (used for docs and summaries).
    pub const ALL: [RejectReason; 13] = [
        RejectReason::InvalidUtf8,
        RejectReason::ControlCharacter,
        RejectReason::FieldCount,
        RejectReason::BadTimestamp,
        RejectReason::BadIp,
        RejectReason::BadNumber,
        RejectReason::BadRequest,
        RejectReason::Malformed,
        RejectReason::NoHeader,
        RejectReason::BadJson,
        RejectReason::TooLong,
        RejectReason::Empty,
        RejectReason::Late,
    ];

    /// The code written to `rejects.reason`.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::ControlCharacter => "control_character",
            RejectReason::FieldCount => "field_count",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadIp => "bad_ip",
            RejectReason::BadNumber => "bad_number",
            RejectReason::BadRequest => "bad_request",
            RejectReason::Malformed => "malformed",
            RejectReason::NoHeader => "no_header",
            RejectReason::BadJson => "bad_json",
            RejectReason::TooLong => "too_long",
            RejectReason::Empty => "empty",
            RejectReason::Late => "late",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A line that does not fit its format: a reason code and a human detail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub reason: RejectReason,
    pub detail: Cow<'static, str>,
}

impl Reject {
    pub fn new(reason: RejectReason, detail: impl Into<Cow<'static, str>>) -> Self {
        Reject { reason, detail: detail.into() }
    }
}

/// Shorthand used by parsers: `Err(reject(RejectReason::BadIp, format!(...)))`.
pub fn reject(reason: RejectReason, detail: impl Into<Cow<'static, str>>) -> Reject {
    Reject::new(reason, detail)
}

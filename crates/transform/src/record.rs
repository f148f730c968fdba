//! One parsed log line, borrowed from the line wherever possible.

use std::borrow::Cow;

/// A text field: borrowed from the input line, owned only when the parser had to
/// rewrite it (unescaping, lower-casing, normalising an address).
pub type Text<'a> = Cow<'a, str>;

/// One event, in the canonical `events` columns (see `schema::events_schema`).
///
/// Parsers fill what their format carries and leave the rest `None`. `format`, `source`
/// and `offset` are provenance and are added by the batch builder, not by parsers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Event time, microseconds since the Unix epoch, UTC. Required.
    pub ts_micros: Option<i64>,
    pub client_ip: Option<Text<'a>>,
    pub user: Option<Text<'a>>,
    pub method: Option<Text<'a>>,
    pub url: Option<Text<'a>>,
    pub scheme: Option<Text<'a>>,
    /// Lower-case host name or IP literal (IPv6 without brackets).
    pub host: Option<Text<'a>>,
    pub port: Option<i32>,
    pub path: Option<Text<'a>>,
    /// The query string without its leading `?` (an empty string for a bare `?`).
    pub query: Option<Text<'a>>,
    pub status: Option<i32>,
    /// Bytes from client to server.
    pub request_bytes: Option<i64>,
    /// Bytes from server to client.
    pub response_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub user_agent: Option<Text<'a>>,
    pub referrer: Option<Text<'a>>,
    pub content_type: Option<Text<'a>>,
    pub proxy_action: Option<Text<'a>>,
    pub server_ip: Option<Text<'a>>,
    pub category: Option<Text<'a>>,
}

impl<'a> Record<'a> {
    /// Empties the record for reuse without giving back its memory.
    pub fn clear(&mut self) {
        *self = Record::default();
    }

    /// Sets `url` and the parts split from it (scheme, host, port, path, query).
    ///
    /// `method` matters for CONNECT, whose "URL" is an authority (`host:port`).
    pub fn set_url(&mut self, url: &'a str, method: Option<&str>) {
        let parts = crate::url::split_url(url, method);
        self.scheme = parts.scheme.map(Cow::Borrowed);
        self.host = parts.host.map(crate::url::lower_host);
        self.port = parts.port;
        self.path = parts.path.map(Cow::Borrowed);
        self.query = parts.query.map(Cow::Borrowed);
        self.url = Some(Cow::Borrowed(url));
    }
}

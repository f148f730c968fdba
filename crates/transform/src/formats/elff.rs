//! Blue Coat ProxySG ELFF / W3C extended log format, driven by its `#Fields:` directive.
//!
//! Lines starting with `#` are directives (`#Software:`, `#Version:`, `#Date:`, `#Remark:`,
//! `#Fields:`) and are skipped; a `#Fields:` line (re)defines the columns of the data lines
//! that follow it, and may appear again in the middle of a file. Data lines are separated by
//! runs of spaces, `-` means "no value", and values with spaces are double-quoted.
//!
//! The column roles are computed once per field list ([`Layout`]), never per line. The
//! parser keeps the current field list as state; [`LineParser::start_chunk`] resets it to
//! the `#Fields:` line that preceded the chunk in its file (or to the configured default
//! `fields`), so chunks parsed in any order give the same rows as one pass over the file.
//!
//! Lines shipped over syslog (`<134>Jun 20 15:29:11 proxy1 2022-06-20 ...`, or RFC 5424)
//! have their syslog header stripped; see [`syslog_message`] and docs/formats/elff.md.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::fields::{self, Cursor, truncate};
use crate::record::Record;
use crate::reject::{Reject, RejectReason, reject};
use crate::time;
use crate::url::{default_port, lower_host, split_authority, split_url};
use crate::{FormatError, LineParser, Outcome};

/// The bcreportermain_v1 field list (Blue Coat Reporter's main format), the most common
/// ProxySG access-log layout.
pub const BCREPORTERMAIN_V1: &str = "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result \
cs-categories cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path \
cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id";

/// A directive and one data line in the bcreportermain_v1 layout.
pub const EXAMPLE: &str = "#Fields: date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result \
cs-categories cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path \
cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id
2022-06-20 15:29:11 74 10.1.2.34 alice - - OBSERVED \"Technology/Internet\" - 200 TCP_NC_MISS GET text/html http \
www.example.com 80 /index.html ?lang=en html \"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\" 192.168.10.5 15320 512 -";

/// The directive that names the columns. Matched exactly (case-sensitive), as the chunk
/// readers do with [`crate::FormatSpec::header_directive`].
pub const FIELDS_DIRECTIVE: &str = "#Fields:";

/// Options of the `elff` format.
///
/// ```toml
/// format = { name = "elff", fields = ["date", "time", "c-ip", "..."], syslog = false }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElffOptions {
    /// The field list used while no `#Fields:` directive has been seen (headerless files,
    /// syslog-shipped logs, engines that see lines without their file header). Entries are
    /// split on whitespace, so one string holding the whole list works too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Every line carries a syslog header, even without a leading `<PRI>` (as rsyslog writes
    /// files). Lines starting with `<PRI>` have their header stripped regardless.
    #[serde(default, skip_serializing_if = "is_false")]
    pub syslog: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a column of the field list feeds. Public so that other engines (the Spark engine's
/// SQL translation) read a field list exactly as this parser does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Ignore,
    Date,
    Time,
    GmtTime,
    LocalTime,
    UnixTime,
    TimeTaken,
    ClientIp,
    User,
    Category,
    Referrer,
    Status,
    SAction,
    FilterResult,
    Method,
    ContentType,
    Scheme,
    Host,
    Port,
    Path,
    Query,
    Uri,
    UserAgent,
    RIp,
    RsIp,
    SupplierIp,
    ScBytes,
    CsBytes,
}

impl Col {
    /// The role of a field name (case-insensitive). Unknown names are ignored.
    pub fn of(name: &str) -> Col {
        match name.to_ascii_lowercase().as_str() {
            "date" => Col::Date,
            "time" => Col::Time,
            "gmttime" => Col::GmtTime,
            "localtime" => Col::LocalTime,
            "x-timestamp-unix" => Col::UnixTime,
            "time-taken" => Col::TimeTaken,
            "c-ip" => Col::ClientIp,
            "cs-username" => Col::User,
            "cs-categories" | "sc-filter-category" => Col::Category,
            "cs(referer)" => Col::Referrer,
            "sc-status" => Col::Status,
            "s-action" => Col::SAction,
            "sc-filter-result" => Col::FilterResult,
            "cs-method" => Col::Method,
            "rs(content-type)" | "sc(content-type)" => Col::ContentType,
            "cs-uri-scheme" => Col::Scheme,
            "cs-host" | "cs-uri-host" => Col::Host,
            "cs-uri-port" => Col::Port,
            "cs-uri-path" | "cs-uri-stem" => Col::Path,
            "cs-uri-query" => Col::Query,
            "cs-uri" => Col::Uri,
            "cs(user-agent)" => Col::UserAgent,
            "r-ip" => Col::RIp,
            "rs-ip" => Col::RsIp,
            "s-supplier-ip" => Col::SupplierIp,
            "sc-bytes" => Col::ScBytes,
            "cs-bytes" => Col::CsBytes,
            _ => Col::Ignore,
        }
    }
}

/// One field list with the role of each column, computed once per `#Fields:` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    cols: Vec<Col>,
    names: Vec<String>,
    has_time: bool,
}

impl Layout {
    fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Layout {
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let cols: Vec<Col> = names.iter().map(|n| Col::of(n)).collect();
        let has = |c: Col| cols.contains(&c);
        let has_time = (has(Col::Date) && has(Col::Time)) || has(Col::GmtTime) || has(Col::LocalTime) || has(Col::UnixTime);
        Layout { cols, names, has_time }
    }

    /// The layout named by a `#Fields:` line, or `None` when it names no field.
    fn from_directive(line: &str) -> Option<Layout> {
        let list = line.strip_prefix(FIELDS_DIRECTIVE)?;
        let layout = Layout::new(list.split_ascii_whitespace());
        (!layout.cols.is_empty()).then_some(layout)
    }

    fn field_count(&self, found: usize) -> Reject {
        reject(
            RejectReason::FieldCount,
            format!("the line has {found} values; the field list names {} fields ({} ...)", self.cols.len(), self.names[0]),
        )
    }

    /// Parses one data line with this field list.
    fn parse<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let mut cur = Cursor::new(line);
        let mut p = Pending::default();
        for (i, &col) in self.cols.iter().enumerate() {
            let quote_err = |e: Reject| reject(e.reason, format!("field {} ({}): {}", i + 1, self.names[i], e.detail));
            if col == Col::Ignore {
                // Read past the value without unescaping it.
                if cur.at_end() {
                    return Err(self.field_count(i));
                }
                if cur.rest().starts_with('"') {
                    cur.quoted("value").map_err(quote_err)?;
                } else {
                    cur.bare();
                }
                continue;
            }
            let value = if matches!(col, Col::GmtTime | Col::LocalTime) && cur.rest().starts_with('[') {
                Some(Cow::Borrowed(cur.bracketed("time").map_err(quote_err)?))
            } else {
                cur.maybe_quoted("value").map_err(quote_err)?
            };
            let Some(value) = value else { return Err(self.field_count(i)) };
            let Some(v) = fields::dash_none_cow(value) else { continue };
            let slot = match col {
                Col::Ignore => continue,
                Col::Date => &mut p.date,
                Col::Time => &mut p.time,
                Col::GmtTime => &mut p.gmttime,
                Col::LocalTime => &mut p.localtime,
                Col::UnixTime => &mut p.unix,
                Col::TimeTaken => &mut p.time_taken,
                Col::ClientIp => &mut p.client_ip,
                Col::User => &mut rec.user,
                Col::Category => &mut rec.category,
                Col::Referrer => &mut rec.referrer,
                Col::Status => &mut p.status,
                Col::SAction => &mut p.s_action,
                Col::FilterResult => &mut p.filter_result,
                Col::Method => &mut rec.method,
                Col::ContentType => &mut rec.content_type,
                Col::Scheme => &mut p.scheme,
                Col::Host => &mut p.host,
                Col::Port => &mut p.port,
                Col::Path => &mut p.path,
                Col::Query => &mut p.query,
                Col::Uri => &mut p.uri,
                Col::UserAgent => &mut rec.user_agent,
                Col::RIp => &mut p.server_ip[0],
                Col::RsIp => &mut p.server_ip[1],
                Col::SupplierIp => &mut p.server_ip[2],
                Col::ScBytes => &mut p.sc_bytes,
                Col::CsBytes => &mut p.cs_bytes,
            };
            *slot = Some(v);
        }
        if !cur.at_end() {
            let mut found = self.cols.len();
            // Count the extra values for the message; stop at anything unreadable.
            while let Ok(Some(_)) = cur.maybe_quoted("value") {
                found += 1;
            }
            if !cur.at_end() {
                found += 1;
            }
            return Err(self.field_count(found));
        }
        p.finish(self, rec)
    }
}

/// Values that need checking or combining after the whole line is split.
#[derive(Default)]
struct Pending<'a> {
    date: Option<Cow<'a, str>>,
    time: Option<Cow<'a, str>>,
    gmttime: Option<Cow<'a, str>>,
    localtime: Option<Cow<'a, str>>,
    unix: Option<Cow<'a, str>>,
    time_taken: Option<Cow<'a, str>>,
    client_ip: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
    s_action: Option<Cow<'a, str>>,
    filter_result: Option<Cow<'a, str>>,
    scheme: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
    port: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    query: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    /// r-ip, rs-ip, s-supplier-ip, in order of preference.
    server_ip: [Option<Cow<'a, str>>; 3],
    sc_bytes: Option<Cow<'a, str>>,
    cs_bytes: Option<Cow<'a, str>>,
}

/// The server address fields, in order of preference: the first one present is used.
pub const SERVER_IP_NAMES: [&str; 3] = ["r-ip", "rs-ip", "s-supplier-ip"];

impl<'a> Pending<'a> {
    fn finish(self, layout: &Layout, rec: &mut Record<'a>) -> Result<(), Reject> {
        rec.ts_micros = Some(self.timestamp(layout)?);
        rec.duration_ms = int(&self.time_taken, "time-taken")?;
        rec.response_bytes = int(&self.sc_bytes, "sc-bytes")?;
        rec.request_bytes = int(&self.cs_bytes, "cs-bytes")?;
        if let Some(s) = &self.status {
            rec.status = fields::status_field(s)?;
        }
        if let Some(ip) = &self.client_ip {
            rec.client_ip = ip_cow(ip, "c-ip")?;
        }
        for (v, name) in self.server_ip.iter().zip(SERVER_IP_NAMES) {
            if let Some(ip) = v {
                rec.server_ip = ip_cow(ip, name)?;
                break;
            }
        }
        rec.proxy_action = self.s_action.or(self.filter_result);
        let is_connect = rec.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
        if let Some(uri) = self.uri {
            set_url_cow(rec, uri, is_connect.then_some("CONNECT"));
            return Ok(());
        }
        let port = match &self.port {
            Some(p) => match fields::int_field(p, "cs-uri-port")? {
                Some(n) if (0..=65_535).contains(&n) => Some(n as i32),
                _ => return Err(reject(RejectReason::BadNumber, format!("cs-uri-port is not a port: {:?}", truncate(p)))),
            },
            None => None,
        };
        let tunnel = is_connect || self.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("tcp") || s.eq_ignore_ascii_case("ssl"));
        // cs-host is a host name, but may carry brackets or a port; split it like an authority.
        let (host, host_port) = match &self.host {
            Some(h) => {
                let (name, hp) = split_authority(h);
                (name.map(|n| keep_cow(h, lower_host(n))), hp)
            }
            None => (None, None),
        };
        let query = self.query.as_ref().map(|q| keep(q, q.strip_prefix('?').unwrap_or(q)));
        if tunnel {
            // Like Squid's CONNECT lines: the URL is the authority `host:port`, no scheme or
            // path (the logged scheme is `tcp` or `ssl`, the path a placeholder `/`).
            rec.port = port.or(host_port).or(Some(443));
            if let Some(h) = &host {
                let mut url = String::with_capacity(h.len() + 8);
                push_authority(&mut url, h, rec.port);
                rec.url = Some(Cow::Owned(url));
            }
            rec.host = host;
            return Ok(());
        }
        let scheme = self.scheme;
        rec.port = port.or(host_port).or_else(|| scheme.as_deref().and_then(default_port));
        if host.is_some() || self.path.is_some() {
            let len = |v: Option<&str>| v.map_or(0, str::len);
            let cap = len(scheme.as_deref()) + len(host.as_deref()) + len(self.path.as_deref()) + len(query.as_deref()) + 16;
            let mut url = String::with_capacity(cap);
            if let Some(h) = &host {
                if let Some(s) = &scheme {
                    url.push_str(s);
                    url.push_str("://");
                }
                let port_in_url = rec.port.filter(|&p| scheme.as_deref().and_then(default_port) != Some(p));
                push_authority(&mut url, h, port_in_url);
            }
            if let Some(p) = &self.path {
                url.push_str(p);
            }
            if let Some(q) = &query {
                url.push('?');
                url.push_str(q);
            }
            rec.url = Some(Cow::Owned(url));
        }
        rec.scheme = scheme;
        rec.host = host;
        rec.path = self.path;
        rec.query = query;
        Ok(())
    }

    /// date+time, else gmttime, else x-timestamp-unix, else localtime.
    fn timestamp(&self, layout: &Layout) -> Result<i64, Reject> {
        let bad = |what: &str, v: &str| reject(RejectReason::BadTimestamp, format!("{what} is not a valid time: {:?}", truncate(v)));
        if let (Some(d), Some(t)) = (&self.date, &self.time) {
            return time::parse_date_and_time(d, t).ok_or_else(|| bad("date time", &format!("{d} {t}")));
        }
        if let Some(g) = &self.gmttime {
            return parse_bracket_time(g).ok_or_else(|| bad("gmttime", g));
        }
        if let Some(u) = &self.unix {
            return time::parse_epoch_seconds(u).ok_or_else(|| bad("x-timestamp-unix", u));
        }
        if let Some(l) = &self.localtime {
            return parse_bracket_time(l).ok_or_else(|| bad("localtime", l));
        }
        Err(if layout.has_time {
            reject(RejectReason::BadTimestamp, "the time fields are empty (-)")
        } else {
            reject(RejectReason::BadTimestamp, "the field list has no time field (date and time, gmttime, localtime or x-timestamp-unix)")
        })
    }
}

fn int(v: &Option<Cow<'_, str>>, what: &'static str) -> Result<Option<i64>, Reject> {
    match v {
        Some(s) => fields::int_field(s, what),
        None => Ok(None),
    }
}

/// Appends `host[:port]`, with brackets around an IPv6 literal.
fn push_authority(out: &mut String, host: &str, port: Option<i32>) {
    use std::fmt::Write;
    if host.contains(':') {
        out.push('[');
        out.push_str(host);
        out.push(']');
    } else {
        out.push_str(host);
    }
    if let Some(p) = port {
        let _ = write!(out, ":{p}");
    }
}

/// ProxySG `gmttime` / `localtime`: `20/Jun/2022:15:29:11 +0000` (CLF), also with a numeric
/// month (`20/06/2022:15:29:11`) and a `GMT`/`UTC` suffix; brackets already removed or not.
fn parse_bracket_time(s: &str) -> Option<i64> {
    let s = s.trim_start_matches('[').trim_end_matches(']').trim();
    let s = s.strip_suffix(" GMT").or_else(|| s.strip_suffix(" UTC")).unwrap_or(s);
    if let Some(t) = time::parse_clf(s) {
        return Some(t);
    }
    // DD/MM/YYYY:hh:mm:ss
    let b = s.as_bytes();
    if b.len() < 19 || b[2] != b'/' || b[5] != b'/' || b[10] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).filter(|x| x.bytes().all(|c| c.is_ascii_digit())).and_then(|x| x.parse::<u32>().ok());
    let (d, mo, y) = (num(0..2)?, num(3..5)?, num(6..10)?);
    let date = format!("{y:04}-{mo:02}-{d:02}");
    time::parse_date_and_time(&date, s.get(11..)?)
}

/// Re-borrows `part` from `src` when `src` is borrowed from the line and `part` lies inside
/// it; copies otherwise. Lets helpers that borrow from a `&str` keep the line's lifetime.
pub(crate) fn keep<'a>(src: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    if let Cow::Borrowed(s) = src {
        let (base, start) = (s.as_ptr() as usize, part.as_ptr() as usize);
        if start >= base && start + part.len() <= base + s.len() {
            let off = start - base;
            if let Some(sub) = s.get(off..off + part.len()) {
                return Cow::Borrowed(sub);
            }
        }
    }
    Cow::Owned(part.to_owned())
}

/// [`keep`] for a helper's `Cow` result.
pub(crate) fn keep_cow<'a>(src: &Cow<'a, str>, out: Cow<'_, str>) -> Cow<'a, str> {
    match out {
        Cow::Borrowed(part) => keep(src, part),
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// [`fields::ip_field`] on a value that may have been unescaped.
pub(crate) fn ip_cow<'a>(v: &Cow<'a, str>, what: &'static str) -> Result<Option<Cow<'a, str>>, Reject> {
    Ok(fields::ip_field(v, what)?.map(|ip| keep_cow(v, ip)))
}

/// [`Record::set_url`] for a value that may have been unescaped (then the parts are copied).
pub(crate) fn set_url_cow<'a>(rec: &mut Record<'a>, url: Cow<'a, str>, method: Option<&str>) {
    match url {
        Cow::Borrowed(u) => rec.set_url(u, method),
        Cow::Owned(u) => {
            let p = split_url(&u, method);
            let own = |s: &str| Cow::Owned(s.to_owned());
            rec.scheme = p.scheme.map(own);
            rec.host = p.host.map(|h| Cow::Owned(lower_host(h).into_owned()));
            rec.port = p.port;
            rec.path = p.path.map(own);
            rec.query = p.query.map(own);
            rec.url = Some(Cow::Owned(u));
        }
    }
}

/// The message of a syslog line, or `None` when no syslog header is recognised.
///
/// Recognised: an optional `<PRI>` (1-3 digits); then either RFC 5424 (`1 TIMESTAMP HOST
/// APP PROCID MSGID SD [MSG]`, structured data `-` or `[...]` blocks, a leading BOM dropped)
/// or an RFC 3164 header: a `Mmm dd hh:mm:ss` or RFC 3339 timestamp, the host name, and an
/// optional tag that starts with a letter or digit and ends in `:` (`ProxySG:`,
/// `bluecoat[42]:`). A `<PRI>` followed by none of these is stripped alone.
pub fn syslog_message(line: &str) -> Option<&str> {
    let mut rest = line;
    let mut found = false;
    if let Some(r) = line.strip_prefix('<') {
        let end = r.find('>')?;
        if end == 0 || end > 3 || !r.as_bytes()[..end].iter().all(u8::is_ascii_digit) {
            return None;
        }
        rest = &r[end + 1..];
        found = true;
        if let Some(r5) = rest.strip_prefix("1 ") {
            return rfc5424_message(r5);
        }
    }
    if let Some(after_ts) = skip_rfc3164_time(rest).or_else(|| skip_rfc3339_time(rest)) {
        found = true;
        let (host, after_host) = token(after_ts);
        rest = after_host;
        if !host.ends_with(':') {
            let (tag, after_tag) = token(rest);
            if tag.len() > 1 && tag.ends_with(':') && tag.as_bytes()[0].is_ascii_alphanumeric() && !tag.contains('"') {
                rest = after_tag;
            }
        }
    }
    found.then_some(rest)
}

/// The next run of non-space bytes and what follows it, leading spaces of both skipped.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    let end = s.find(' ').unwrap_or(s.len());
    (&s[..end], s[end..].trim_start_matches(' '))
}

/// Skips `Mmm dd hh:mm:ss` (the day may be space-padded).
fn skip_rfc3164_time(s: &str) -> Option<&str> {
    let (mon, rest) = token(s);
    time::month_number(mon.as_bytes())?;
    let (day, rest) = token(rest);
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hms, rest) = token(rest);
    let b = hms.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    Some(rest)
}

fn skip_rfc3339_time(s: &str) -> Option<&str> {
    let (ts, rest) = token(s);
    time::parse_rfc3339(ts).map(|_| rest)
}

/// After `<PRI>1 `: skips TIMESTAMP HOSTNAME APP-NAME PROCID MSGID and the structured data.
fn rfc5424_message(s: &str) -> Option<&str> {
    let mut rest = s;
    for _ in 0..5 {
        let end = rest.find(' ')?;
        rest = &rest[end + 1..];
    }
    let rest = if let Some(r) = rest.strip_prefix('-') {
        r
    } else {
        let b = rest.as_bytes();
        let mut i = 0;
        while b.get(i) == Some(&b'[') {
            let mut in_quotes = false;
            i += 1;
            loop {
                match b.get(i)? {
                    b'\\' if in_quotes => i += 1,
                    b'"' => in_quotes = !in_quotes,
                    b']' if !in_quotes => break,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
        }
        if i == 0 {
            return None;
        }
        rest.get(i..)?
    };
    let msg = rest.strip_prefix(' ').unwrap_or(rest);
    Some(msg.strip_prefix('\u{feff}').unwrap_or(msg))
}

/// The ELFF / W3C parser.
pub struct Elff {
    /// From the `fields` option.
    default: Option<Layout>,
    /// From the last `#Fields:` line, which wins over `default`.
    directive: Option<Layout>,
    /// The text of that last `#Fields:` line, so that `start_chunk` can skip re-parsing it.
    directive_text: Option<String>,
    syslog: bool,
}

impl Elff {
    pub fn new(o: &ElffOptions) -> Result<Self, FormatError> {
        let default = match &o.fields {
            None => None,
            Some(list) => {
                let layout = Layout::new(list.iter().flat_map(|s| s.split_ascii_whitespace()));
                if layout.cols.is_empty() {
                    return Err(FormatError::Invalid { format: "elff", message: "fields is empty".into() });
                }
                if !layout.has_time {
                    return Err(FormatError::Invalid {
                        format: "elff",
                        message: "fields names no time field: give date and time, gmttime, localtime or x-timestamp-unix".into(),
                    });
                }
                Some(layout)
            }
        };
        Ok(Elff { default, directive: None, directive_text: None, syslog: o.syslog })
    }

    /// Follows a `#Fields:` line. An empty one clears the field list (back to the default).
    fn set_directive(&mut self, line: &str) -> bool {
        if self.directive_text.as_deref() != Some(line) {
            self.directive = Layout::from_directive(line);
            self.directive_text = Some(line.to_string());
        }
        self.directive.is_some()
    }
}

impl LineParser for Elff {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        if line.starts_with('#') {
            if line.starts_with(FIELDS_DIRECTIVE) && !self.set_directive(line) {
                return Outcome::Reject(reject(RejectReason::Malformed, "the #Fields: directive names no fields"));
            }
            return Outcome::Skipped;
        }
        let body = if self.syslog || line.starts_with('<') {
            match syslog_message(line) {
                // A directive inside a syslog message is skipped but not followed: readers only
                // remember plain `#Fields:` lines across chunks, so following it here would make
                // the result depend on where a file is cut. Use the `fields` option instead.
                Some(msg) if msg.starts_with('#') => return Outcome::Skipped,
                Some(msg) => msg,
                None if self.syslog => {
                    return Outcome::Reject(reject(RejectReason::Malformed, "syslog = true, but the line has no syslog header"));
                }
                None => line,
            }
        } else {
            line
        };
        let Some(layout) = self.directive.as_ref().or(self.default.as_ref()) else {
            return Outcome::Reject(reject(
                RejectReason::NoHeader,
                "a data line before any #Fields: directive (set the elff option fields = [...] for logs without headers)",
            ));
        };
        layout.parse(body, rec).into()
    }

    fn start_chunk(&mut self, header: Option<&str>) {
        match header {
            Some(h) => {
                self.set_directive(h);
            }
            None => {
                self.directive = None;
                self.directive_text = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        format!("#Fields: {BCREPORTERMAIN_V1}")
    }

    fn parser() -> Elff {
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        assert_eq!(p.parse(&header(), &mut Record::default()), Outcome::Skipped);
        p
    }

    fn parse_ok<'a>(p: &mut Elff, line: &'a str) -> Record<'a> {
        let mut rec = Record::default();
        let out = p.parse(line, &mut rec);
        assert_eq!(out, Outcome::Event, "{line}");
        rec
    }

    fn parse_err(p: &mut Elff, line: &str) -> Reject {
        let mut rec = Record::default();
        match p.parse(line, &mut rec) {
            Outcome::Reject(r) => r,
            other => panic!("expected a reject for {line:?}, got {other:?}"),
        }
    }

    const LINE: &str = "2005-04-12 21:03:45 74603 192.16.170.46 - - - OBSERVED \"none\" - 200 TCP_NC_MISS GET text/html http \
images.google.com 80 /imgres ?imgurl=http://www.example.com/x.jpg - \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\" \
192.16.170.44 1995 509 -";

    #[test]
    fn main_format_line() {
        let mut p = parser();
        let r = parse_ok(&mut p, LINE);
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2005-04-12T21:03:45.000000Z");
        assert_eq!(r.duration_ms, Some(74603));
        assert_eq!(r.client_ip.as_deref(), Some("192.16.170.46"));
        assert_eq!(r.user, None);
        assert_eq!(r.category.as_deref(), Some("none"));
        assert_eq!(r.referrer, None);
        assert_eq!(r.status, Some(200));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_NC_MISS"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert_eq!(r.url.as_deref(), Some("http://images.google.com/imgres?imgurl=http://www.example.com/x.jpg"));
        assert_eq!(r.scheme.as_deref(), Some("http"));
        assert_eq!(r.host.as_deref(), Some("images.google.com"));
        assert_eq!(r.port, Some(80));
        assert_eq!(r.path.as_deref(), Some("/imgres"));
        assert_eq!(r.query.as_deref(), Some("imgurl=http://www.example.com/x.jpg"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"));
        assert_eq!(r.server_ip, None, "s-ip is the proxy's own address");
        assert_eq!(r.response_bytes, Some(1995));
        assert_eq!(r.request_bytes, Some(509));
        // Nothing but the URL is copied.
        assert!(matches!(r.host, Some(Cow::Borrowed(_))));
        assert!(matches!(r.user_agent, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn connect_tunnel_and_non_default_port() {
        let mut p = parser();
        let line = "2022-06-20 15:29:14 60123 10.1.2.34 alice - - OBSERVED \"Technology/Internet\" - 200 TCP_TUNNELED CONNECT - tcp \
Login.Live.com 443 / - - \"Microsoft Office/16.0\" 192.168.10.5 8231 2210 -";
        let r = parse_ok(&mut p, line);
        assert_eq!(r.url.as_deref(), Some("login.live.com:443"));
        assert_eq!((r.scheme.as_deref(), r.host.as_deref(), r.port, r.path.as_deref()), (None, Some("login.live.com"), Some(443), None));
        let line = "2022-06-20 15:29:14 5 10.1.2.34 - - - OBSERVED - - 200 TCP_NC_MISS GET - https Shop.example.com 8443 /cart ? - - \
192.168.10.5 1 2 -";
        let r = parse_ok(&mut p, line);
        assert_eq!(r.url.as_deref(), Some("https://shop.example.com:8443/cart?"));
        assert_eq!((r.port, r.query.as_deref()), (Some(8443), Some("")));
        assert_eq!(r.user_agent, None);
    }

    #[test]
    fn ipv6_client_and_quoted_categories() {
        let mut p = parser();
        let line = "2022-06-20 15:29:15 12 2001:DB8:10::25 carol - - OBSERVED \"News/Media;Web Ads/Analytics\" http://news.example.org/ \
304 TCP_HIT GET image/png http static.news.example.org 80 /img/logo.png ?v=3 png \"Mozilla/5.0 (X11; Linux x86_64)\" \
192.168.10.5 312 410 -";
        let r = parse_ok(&mut p, line);
        assert_eq!(r.client_ip.as_deref(), Some("2001:db8:10::25"));
        assert_eq!(r.category.as_deref(), Some("News/Media;Web Ads/Analytics"));
        assert_eq!(r.referrer.as_deref(), Some("http://news.example.org/"));
        assert_eq!(r.status, Some(304));
        assert_eq!(r.url.as_deref(), Some("http://static.news.example.org/img/logo.png?v=3"));
    }

    #[test]
    fn fields_change_mid_file_and_unknown_fields_count() {
        let mut p = parser();
        parse_ok(&mut p, LINE);
        assert_eq!(p.parse("#Fields: date time c-ip x-custom s-action sc-status cs-uri r-ip", &mut Record::default()), Outcome::Skipped);
        let r = parse_ok(&mut p, "2022-06-20 16:00:00 10.0.0.1 whatever TCP_DENIED 403 http://Bad.example/x?y=1 203.0.113.9");
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_DENIED"));
        assert_eq!((r.host.as_deref(), r.path.as_deref(), r.query.as_deref()), (Some("bad.example"), Some("/x"), Some("y=1")));
        assert_eq!(r.url.as_deref(), Some("http://Bad.example/x?y=1"));
        assert_eq!(r.server_ip.as_deref(), Some("203.0.113.9"));
        let e = parse_err(&mut p, LINE);
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert!(e.detail.contains("has 25 values; the field list names 8 fields"), "{}", e.detail);
        let e = parse_err(&mut p, "2022-06-20 16:00:00 10.0.0.1");
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert!(e.detail.contains("has 3 values"), "{}", e.detail);
    }

    #[test]
    fn directives_and_no_header() {
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        for l in ["#Software: SGOS 6.7.5.3", "#Version: 1.0", "#Date: 2022-06-20 15:29:00", "#Remark: hello"] {
            assert_eq!(p.parse(l, &mut Record::default()), Outcome::Skipped);
        }
        assert_eq!(parse_err(&mut p, LINE).reason, RejectReason::NoHeader);
        let e = parse_err(&mut p, "#Fields:   ");
        assert_eq!(e.reason, RejectReason::Malformed);
        assert_eq!(parse_err(&mut p, LINE).reason, RejectReason::NoHeader);
    }

    #[test]
    fn start_chunk_resets_state() {
        let mut p = parser();
        parse_ok(&mut p, LINE);
        p.start_chunk(None);
        assert_eq!(parse_err(&mut p, LINE).reason, RejectReason::NoHeader);
        p.start_chunk(Some(&header()));
        parse_ok(&mut p, LINE);
        p.start_chunk(Some("#Fields: date time c-ip"));
        assert_eq!(parse_ok(&mut p, "2022-06-20 16:00:00 10.0.0.1").client_ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn default_fields_option() {
        let o = ElffOptions { fields: Some(vec!["date time".into(), "c-ip".into(), "sc-status".into()]), syslog: false };
        let mut p = Elff::new(&o).unwrap();
        let r = parse_ok(&mut p, "2022-06-20 16:00:00 10.0.0.1 200");
        assert_eq!(r.status, Some(200));
        // A directive wins over the default, and start_chunk(None) goes back to the default.
        p.parse("#Fields: date time sc-status", &mut Record::default());
        assert_eq!(parse_ok(&mut p, "2022-06-20 16:00:00 404").status, Some(404));
        p.start_chunk(None);
        assert_eq!(parse_ok(&mut p, "2022-06-20 16:00:00 10.0.0.1 200").status, Some(200));
        assert!(Elff::new(&ElffOptions { fields: Some(vec![]), syslog: false }).is_err());
        assert!(Elff::new(&ElffOptions { fields: Some(vec!["c-ip".into()]), syslog: false }).is_err());
    }

    #[test]
    fn bad_values() {
        let mut p = parser();
        let bad_ip = LINE.replace("192.16.170.46", "192.16.170.460");
        assert_eq!(parse_err(&mut p, &bad_ip).reason, RejectReason::BadIp);
        let bad_bytes = LINE.replace(" 1995 ", " 19x5 ");
        assert_eq!(parse_err(&mut p, &bad_bytes).reason, RejectReason::BadNumber);
        let bad_port = LINE.replace(" 80 ", " 99999 ");
        assert_eq!(parse_err(&mut p, &bad_port).reason, RejectReason::BadNumber);
        let bad_date = LINE.replace("2005-04-12", "2005-04-31");
        let e = parse_err(&mut p, &bad_date);
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        assert!(e.detail.contains("2005-04-31 21:03:45"), "{}", e.detail);
        let no_date = LINE.replace("2005-04-12", "-");
        assert_eq!(parse_err(&mut p, &no_date).reason, RejectReason::BadTimestamp);
        let open_quote = LINE.replace("SV1)\"", "SV1)");
        let e = parse_err(&mut p, &open_quote);
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.starts_with("field 21 (cs(User-Agent)): "), "{}", e.detail);
        p.parse("#Fields: c-ip sc-status", &mut Record::default());
        let e = parse_err(&mut p, "10.0.0.1 200");
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        assert!(e.detail.contains("no time field"), "{}", e.detail);
    }

    #[test]
    fn other_time_fields_and_server_ip_preference() {
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        p.parse("#Fields: gmttime c-ip s-supplier-ip r-ip cs-method cs-uri", &mut Record::default());
        let r = parse_ok(&mut p, "[20/Jun/2022:15:29:11 +0000] 10.0.0.1 198.51.100.1 203.0.113.5 GET http://a.example/");
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(r.server_ip.as_deref(), Some("203.0.113.5"));
        let r = parse_ok(&mut p, "20/06/2022:15:29:11 10.0.0.1 198.51.100.1 - CONNECT a.example:8443");
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(r.server_ip.as_deref(), Some("198.51.100.1"));
        assert_eq!((r.host.as_deref(), r.port), (Some("a.example"), Some(8443)));
        p.parse("#Fields: localtime x-timestamp-unix c-ip", &mut Record::default());
        let r = parse_ok(&mut p, "[20/Jun/2022:17:29:11 +0200] 1655739000 10.0.0.1");
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:30:00.000000Z", "x-timestamp-unix wins over localtime");
        let r = parse_ok(&mut p, "[20/Jun/2022:17:29:11 +0200] - 10.0.0.1");
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
    }

    #[test]
    fn filter_result_when_no_s_action() {
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        p.parse("#Fields: date time sc-filter-result s-action", &mut Record::default());
        assert_eq!(parse_ok(&mut p, "2022-06-20 16:00:00 DENIED -").proxy_action.as_deref(), Some("DENIED"));
        assert_eq!(parse_ok(&mut p, "2022-06-20 16:00:00 DENIED TCP_DENIED").proxy_action.as_deref(), Some("TCP_DENIED"));
    }

    #[test]
    fn ipv6_host_and_origin_form() {
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        p.parse("#Fields: date time cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query", &mut Record::default());
        let r = parse_ok(&mut p, "2022-06-20 16:00:00 GET http 2001:db8::7 8080 /a ?b");
        assert_eq!(r.url.as_deref(), Some("http://[2001:db8::7]:8080/a?b"));
        assert_eq!((r.host.as_deref(), r.port), (Some("2001:db8::7"), Some(8080)));
        let r = parse_ok(&mut p, "2022-06-20 16:00:00 GET - - - /only/path -");
        assert_eq!((r.url.as_deref(), r.host.as_deref(), r.port), (Some("/only/path"), None, None));
    }

    #[test]
    fn syslog_headers() {
        assert_eq!(syslog_message("<134>Jun 20 15:29:11 proxy1 2022-06-20 x"), Some("2022-06-20 x"));
        assert_eq!(syslog_message("<134>Jun  2 05:09:01 proxy1 ProxySG: 2022-06-02 x"), Some("2022-06-02 x"));
        assert_eq!(syslog_message("<134>1 2022-06-20T15:29:11Z proxy1 bluecoat - - - 2022-06-20 x"), Some("2022-06-20 x"));
        assert_eq!(
            syslog_message("<134>1 2022-06-20T15:29:11Z proxy1 bc 12 acc [a@1 k=\"v]\\\"\"][b@2] \u{feff}2022-06-20 x"),
            Some("2022-06-20 x")
        );
        assert_eq!(syslog_message("2022-06-20T15:29:11+00:00 proxy1 bluecoat[42]: 2022-06-20 x"), Some("2022-06-20 x"));
        assert_eq!(syslog_message("<13>2022-06-20 x"), Some("2022-06-20 x"));
        assert_eq!(syslog_message("2022-06-20 x"), None);
        assert_eq!(syslog_message("<abc>x"), None);
        assert_eq!(syslog_message("<134>1 2022-06-20T15:29:11Z proxy1"), None);

        let mut p = parser();
        let wrapped = format!("<134>Jun 20 15:29:11 proxy1 {LINE}");
        assert_eq!(parse_ok(&mut p, &wrapped).status, Some(200));
        // A wrapped directive is skipped but not followed.
        assert_eq!(p.parse("<134>Jun 20 15:29:11 proxy1 #Fields: date time", &mut Record::default()), Outcome::Skipped);
        assert_eq!(parse_ok(&mut p, LINE).status, Some(200));

        let o = ElffOptions { fields: Some(vec![BCREPORTERMAIN_V1.into()]), syslog: true };
        let mut p = Elff::new(&o).unwrap();
        assert_eq!(parse_ok(&mut p, &format!("Jun 20 15:29:11 proxy1 {LINE}")).status, Some(200));
        assert_eq!(parse_err(&mut p, LINE).reason, RejectReason::Malformed);
    }

    #[test]
    fn docs_example() {
        // The example of docs/formats/elff.md.
        let doc = format!(
            "#Software: SGOS 6.7.5.3\n#Version: 1.0\n#Date: 2022-06-20 15:29:00\n{EXAMPLE}\n{}",
            "2022-06-20 15:29:14 60123 10.1.2.34 alice - - OBSERVED \"Technology/Internet\" - 200 TCP_TUNNELED CONNECT - tcp \
login.live.com 443 / - - \"Microsoft Office/16.0\" 192.168.10.5 8231 2210 -"
        );
        let mut p = Elff::new(&ElffOptions::default()).unwrap();
        let mut outs = vec![];
        for line in doc.lines() {
            let mut rec = Record::default();
            let out = p.parse(line, &mut rec);
            outs.push((out, rec.url.map(Cow::into_owned), rec.query.map(Cow::into_owned), rec.port, rec.scheme.is_some()));
        }
        assert_eq!(outs.len(), 6);
        assert!(outs[..4].iter().all(|o| o.0 == Outcome::Skipped));
        assert_eq!(
            outs[4],
            (Outcome::Event, Some("http://www.example.com/index.html?lang=en".into()), Some("lang=en".into()), Some(80), true)
        );
        assert_eq!(outs[5], (Outcome::Event, Some("login.live.com:443".into()), None, Some(443), false));
    }

    #[test]
    fn options_from_serde() {
        let o: ElffOptions = serde_json::from_str(r#"{"fields": ["date", "time", "c-ip"], "syslog": true}"#).unwrap();
        assert_eq!(o.fields.as_ref().unwrap().len(), 3);
        assert!(o.syslog);
        assert!(serde_json::from_str::<ElffOptions>(r#"{"field": []}"#).is_err());
        assert_eq!(serde_json::from_str::<ElffOptions>("{}").unwrap(), ElffOptions::default());
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut p = parser();
        for l in
            ["\"", "\" ", "[", "<", "<1>", "<1>1 ", "<1>1 a b c d e [", "2022-06-20 \u{e9}\u{e9} \"\u{e9}", "- - - - -", "#", "#Fields:x"]
        {
            let mut rec = Record::default();
            let _ = p.parse(l, &mut rec);
            p.start_chunk(Some(&header()));
        }
    }
}

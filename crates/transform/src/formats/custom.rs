//! A user-defined layout, given as a pattern of named fields.
//!
//! ```text
//! {ts:epoch} {duration_ms} {client_ip} {proxy_action}/{status} {response_bytes} {method} {url} {user} {_}/{server_ip} {content_type}
//! ```
//!
//! The pattern language (fully specified in docs/formats/custom.md):
//! - `{name}` or `{name:type}` is a placeholder for an events column; `{_}` reads a value
//!   and drops it. `{{` and `}}` are a literal `{` and `}`.
//! - Other text is literal and must appear in the line exactly. A run of spaces or tabs in
//!   the pattern matches a run of one or more spaces or tabs in the line. Spaces at the
//!   start and end of the pattern and of each line are ignored.
//! - A placeholder reads up to the first occurrence of the literal that follows it (up to
//!   the next space or tab if a space follows it), or to the end of the line if it is last.
//!   Two placeholders must therefore be separated by a literal or a space.
//! - A placeholder written directly inside double quotes, `"{user_agent}"`, reads a quoted
//!   value: backslash escapes the next character, and a `"` ends the value only where the
//!   rest of the pattern's literal follows it.
//! - A timestamp whose text holds spaces (`ts:clf`, `ts:ctime`, `ts:iso8601` with a space)
//!   followed by a space in the pattern takes as many words as make a valid time.
//!
//! The pattern is compiled once into a list of steps; matching a line does not allocate
//! unless a quoted value holds escapes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::jsonl::{apply_url, epoch_auto_str, epoch_ms_str, map_cow};
use crate::fields::{dash_none_cow, int_field, ip_field, status_field, truncate, unescape};
use crate::reject::{Reject, RejectReason, reject};
use crate::spec::edit_distance;
use crate::url::lower_host;
use crate::{FormatError, LineParser, Outcome, Record, time};

/// The pattern of [`CustomOptions::example`]: Squid's native `access.log`.
pub const EXAMPLE_PATTERN: &str = "{ts:epoch} {duration_ms} {client_ip} {proxy_action}/{status} {response_bytes} {method} {url} {user} {_}/{server_ip:lenient} {content_type}";

/// A line that [`EXAMPLE_PATTERN`] reads.
pub const EXAMPLE: &str =
    "1286536309.450    453 192.168.1.23 TCP_MISS/200 5109 GET http://www.example.com/index.html - HIER_DIRECT/93.184.216.34 text/html";

/// Options of the `custom` format.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomOptions {
    /// The layout of a line, in the pattern language above.
    pub pattern: String,
}

impl CustomOptions {
    /// The options that read [`EXAMPLE`] (Squid native, written as a pattern).
    pub fn example() -> Self {
        CustomOptions { pattern: EXAMPLE_PATTERN.to_string() }
    }
}

/// Every placeholder name, in the order messages list them.
pub const NAMES: &[&str] = &[
    "ts",
    "date",
    "time",
    "client_ip",
    "user",
    "method",
    "url",
    "request",
    "scheme",
    "host",
    "port",
    "path",
    "query",
    "status",
    "request_bytes",
    "response_bytes",
    "duration_ms",
    "user_agent",
    "referrer",
    "content_type",
    "proxy_action",
    "server_ip",
    "category",
    "_",
];

/// The type of a `{ts:TYPE}` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsKind {
    Auto,
    Epoch,
    EpochMs,
    Clf,
    Iso8601,
    Ctime,
}

impl TsKind {
    fn parse(self, s: &str) -> Option<i64> {
        match self {
            TsKind::Auto => {
                time::parse_rfc3339(s).or_else(|| epoch_auto_str(s)).or_else(|| time::parse_clf(s)).or_else(|| time::parse_ctime(s))
            }
            TsKind::Epoch => time::parse_epoch_seconds(s),
            TsKind::EpochMs => epoch_ms_str(s),
            TsKind::Clf => time::parse_clf(s),
            TsKind::Iso8601 => time::parse_rfc3339(s),
            TsKind::Ctime => time::parse_ctime(s),
        }
    }

    /// How many space-separated words the time may span.
    pub fn max_words(self) -> usize {
        match self {
            TsKind::Epoch | TsKind::EpochMs => 1,
            TsKind::Clf | TsKind::Iso8601 => 2,
            TsKind::Auto | TsKind::Ctime => 5,
        }
    }

    /// What the type reads, as reject details name it.
    pub fn describe(self) -> &'static str {
        match self {
            TsKind::Auto => "a timestamp (RFC 3339, epoch, CLF or ctime)",
            TsKind::Epoch => "epoch seconds",
            TsKind::EpochMs => "epoch milliseconds",
            TsKind::Clf => "a CLF time (10/Oct/2000:13:55:36 -0700)",
            TsKind::Iso8601 => "an ISO 8601 / RFC 3339 time",
            TsKind::Ctime => "a ctime time (Mon Jun 20 15:29:11 2022)",
        }
    }
}

/// The events column of a text placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextCol {
    User,
    Method,
    Scheme,
    Path,
    UserAgent,
    Referrer,
    ContentType,
    ProxyAction,
    Category,
}

/// What a placeholder reads, with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ignore,
    Ts(TsKind),
    Date,
    Time,
    Text(TextCol),
    Url,
    Request,
    Host,
    Query,
    Port,
    Status,
    RequestBytes,
    ResponseBytes,
    /// `duration_ms`, written in the given unit.
    Duration(DurUnit),
    Ip {
        server: bool,
        lenient: bool,
    },
}

/// The unit of a `{duration_ms:UNIT}` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurUnit {
    Ms,
    S,
    Us,
}

/// One placeholder of a compiled pattern.
#[derive(Debug, Clone)]
pub struct Field {
    kind: Kind,
    /// The column name (`_` for ignored values), for messages.
    name: &'static str,
    /// 1-based position among the placeholders.
    number: usize,
    /// Inside double quotes in the pattern: read with escapes.
    quoted: bool,
}

/// One step of a compiled pattern; [`Custom::steps`] lists them, for engines that translate
/// the pattern into their own terms (the Spark engine's SQL).
#[derive(Debug, Clone)]
pub enum Step {
    /// Text that must appear exactly (never empty, never holds spaces or tabs).
    Lit(Box<str>),
    /// One or more spaces or tabs.
    Space,
    Field(Field),
}

/// The parser of the `custom` format: the compiled pattern.
#[derive(Debug)]
pub struct Custom {
    steps: Vec<Step>,
    placeholders: usize,
}

impl Field {
    /// What the placeholder reads.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The column name (`_` for ignored values), as messages name it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// 1-based position among the placeholders.
    pub fn number(&self) -> usize {
        self.number
    }

    /// Inside double quotes in the pattern: read as a quoted value, with escapes.
    pub fn quoted(&self) -> bool {
        self.quoted
    }
}

fn invalid(message: String) -> FormatError {
    FormatError::Invalid { format: "custom", message }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A pattern token before checks.
enum Token {
    Lit(String),
    Space,
    Field { name: String, ty: Option<String>, at: usize },
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, FormatError> {
    let mut out: Vec<Token> = Vec::new();
    let mut chars = pattern.char_indices().peekable();
    let push_lit = |out: &mut Vec<Token>, c: char| match out.last_mut() {
        Some(Token::Lit(s)) => s.push(c),
        _ => out.push(Token::Lit(c.to_string())),
    };
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => {
                while chars.next_if(|(_, c)| *c == ' ' || *c == '\t').is_some() {}
                out.push(Token::Space);
            }
            '{' if chars.next_if(|(_, c)| *c == '{').is_some() => push_lit(&mut out, '{'),
            '}' if chars.next_if(|(_, c)| *c == '}').is_some() => push_lit(&mut out, '}'),
            '}' => {
                return Err(invalid(format!("a lone '}}' at character {} of the pattern; write '}}}}' for a literal brace", i + 1)));
            }
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, '{')) | None => {
                            return Err(invalid(format!(
                                "the placeholder opened at character {} of the pattern is not closed with '}}' \
                                 (write '{{{{' for a literal brace)",
                                i + 1
                            )));
                        }
                        Some((_, c)) => inner.push(c),
                    }
                }
                let (name, ty) = match inner.split_once(':') {
                    Some((n, t)) => (n.to_string(), Some(t.to_string())),
                    None => (inner, None),
                };
                out.push(Token::Field { name, ty, at: i + 1 });
            }
            c => push_lit(&mut out, c),
        }
    }
    Ok(out)
}

fn field_kind(name: &str, ty: Option<&str>, at: usize) -> Result<(Kind, &'static str), FormatError> {
    let Some(&static_name) = NAMES.iter().find(|n| **n == name) else {
        let hint = NAMES
            .iter()
            .filter(|n| **n != "_")
            .map(|n| (edit_distance(name, n), *n))
            .min()
            .filter(|(d, _)| *d <= 3)
            .map(|(_, n)| format!(" (did you mean {{{n}}}?)"))
            .unwrap_or_default();
        return Err(invalid(format!(
            "unknown field {{{name}}} at character {at} of the pattern{hint}; fields are {}, and {{_}} to skip a value",
            NAMES[..NAMES.len() - 1].join(", ")
        )));
    };
    let bad_type =
        |allowed: &str| invalid(format!("{{{name}:{}}} at character {at}: unknown type for {name}; {allowed}", ty.unwrap_or_default()));
    let kind = match (name, ty) {
        ("ts", None) => Kind::Ts(TsKind::Auto),
        ("ts", Some(t)) => Kind::Ts(match t {
            "auto" => TsKind::Auto,
            "epoch" | "epoch_s" => TsKind::Epoch,
            "epoch_ms" => TsKind::EpochMs,
            "clf" => TsKind::Clf,
            "iso8601" | "rfc3339" => TsKind::Iso8601,
            "ctime" => TsKind::Ctime,
            _ => return Err(bad_type("use epoch, epoch_ms, clf, iso8601, rfc3339, ctime or auto")),
        }),
        ("duration_ms", None) => Kind::Duration(DurUnit::Ms),
        ("duration_ms", Some(t)) => Kind::Duration(match t {
            "ms" => DurUnit::Ms,
            "s" => DurUnit::S,
            "us" => DurUnit::Us,
            _ => return Err(bad_type("use ms (the default), s (seconds, fraction allowed) or us (microseconds)")),
        }),
        ("client_ip" | "server_ip", ty) => {
            let lenient = match ty {
                None => false,
                Some("lenient") => true,
                Some(_) => return Err(bad_type("the only type is lenient (a value that is not an IP address becomes null)")),
            };
            Kind::Ip { server: name == "server_ip", lenient }
        }
        (_, Some(_)) => return Err(bad_type("it takes no type (types exist for ts, duration_ms, client_ip and server_ip)")),
        ("_", None) => Kind::Ignore,
        ("date", None) => Kind::Date,
        ("time", None) => Kind::Time,
        ("user", None) => Kind::Text(TextCol::User),
        ("method", None) => Kind::Text(TextCol::Method),
        ("scheme", None) => Kind::Text(TextCol::Scheme),
        ("path", None) => Kind::Text(TextCol::Path),
        ("user_agent", None) => Kind::Text(TextCol::UserAgent),
        ("referrer", None) => Kind::Text(TextCol::Referrer),
        ("content_type", None) => Kind::Text(TextCol::ContentType),
        ("proxy_action", None) => Kind::Text(TextCol::ProxyAction),
        ("category", None) => Kind::Text(TextCol::Category),
        ("url", None) => Kind::Url,
        ("request", None) => Kind::Request,
        ("host", None) => Kind::Host,
        ("query", None) => Kind::Query,
        ("port", None) => Kind::Port,
        ("status", None) => Kind::Status,
        ("request_bytes", None) => Kind::RequestBytes,
        ("response_bytes", None) => Kind::ResponseBytes,
        _ => unreachable!("every name in NAMES has a kind"),
    };
    Ok((kind, static_name))
}

impl Custom {
    pub fn new(o: &CustomOptions) -> Result<Self, FormatError> {
        let pattern = o.pattern.trim_matches([' ', '\t']);
        if pattern.is_empty() {
            return Err(invalid(
                "the pattern is empty; write the layout of a line, such as \"{ts:iso8601} {client_ip} {method} {url} {status}\"".into(),
            ));
        }
        if pattern.contains(['\n', '\r']) {
            return Err(invalid("the pattern holds a line break; a pattern describes one line".into()));
        }
        let mut steps = Vec::new();
        let mut placeholders = 0;
        let mut seen: Vec<&'static str> = Vec::new();
        for tok in tokenize(pattern)? {
            match tok {
                Token::Lit(s) => steps.push(Step::Lit(s.into())),
                Token::Space => steps.push(Step::Space),
                Token::Field { name, ty, at } => {
                    let (kind, static_name) = field_kind(&name, ty.as_deref(), at)?;
                    if let Some(Step::Field(prev)) = steps.last() {
                        return Err(invalid(format!(
                            "{{{}}} and {{{name}}} (character {at}) touch: a placeholder reads up to the next literal, so put a space \
                             or other literal text between them",
                            prev.name
                        )));
                    }
                    if kind != Kind::Ignore {
                        if seen.contains(&static_name) {
                            return Err(invalid(format!("{{{name}}} appears twice in the pattern; keep one and use {{_}} for the other")));
                        }
                        seen.push(static_name);
                    }
                    placeholders += 1;
                    steps.push(Step::Field(Field { kind, name: static_name, number: placeholders, quoted: false }));
                }
            }
        }
        let has = |n: &str| seen.contains(&n);
        if has("ts") && (has("date") || has("time")) {
            return Err(invalid("the pattern has both {ts} and {date}/{time}; use one or the other".into()));
        }
        if has("date") != has("time") {
            return Err(invalid("{date} and {time} go together: the pattern has only one of them".into()));
        }
        if !has("ts") && !has("date") {
            return Err(invalid(
                "the pattern has no timestamp; add {ts:TYPE} (TYPE = epoch, epoch_ms, clf, iso8601, ctime) or {date} and {time}".into(),
            ));
        }
        if has("request") && (has("method") || has("url")) {
            return Err(invalid(
                "{request} reads the method and the URL from a request line, so the pattern cannot also have {method} or {url}".into(),
            ));
        }
        // A placeholder directly inside double quotes reads a quoted value.
        for i in 0..steps.len() {
            let opens = i > 0 && matches!(&steps[i - 1], Step::Lit(s) if s.ends_with('"'));
            let closes = matches!(steps.get(i + 1), Some(Step::Lit(s)) if s.starts_with('"'));
            if let Step::Field(f) = &mut steps[i] {
                f.quoted = opens && closes;
            }
        }
        Ok(Custom { steps, placeholders })
    }

    /// The compiled pattern, in the order a line is read.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// How many placeholders the pattern has (as messages count them).
    pub fn placeholders(&self) -> usize {
        self.placeholders
    }

    /// Where an unquoted value starting at `pos` ends, given the step after it;
    /// `usize::MAX` when the literal that should end it is not in the rest of the line.
    fn value_end(&self, line: &str, pos: usize, i: usize, kind: Kind) -> usize {
        let b = line.as_bytes();
        let rest = &line[pos..];
        match self.steps.get(i + 1) {
            None => line.len(),
            Some(Step::Lit(lit)) => rest.find(&**lit).map_or(usize::MAX, |j| pos + j),
            Some(Step::Space) => {
                let first_word_end = |from: usize| (from..b.len()).find(|&j| is_space(b[j])).unwrap_or(b.len());
                let Kind::Ts(ts) = kind else { return first_word_end(pos) };
                if ts.max_words() == 1 {
                    return first_word_end(pos);
                }
                // A time with spaces in it: the most words that still make a valid time.
                let mut ends = [0usize; 5];
                let mut n = 0;
                let mut j = pos;
                while n < ts.max_words() && j < b.len() {
                    j = first_word_end(j);
                    ends[n] = j;
                    n += 1;
                    while j < b.len() && is_space(b[j]) {
                        j += 1;
                    }
                }
                (1..n).rev().map(|k| ends[k]).find(|&e| ts.parse(&line[pos..e]).is_some()).unwrap_or(ends[0])
            }
            Some(Step::Field(_)) => line.len(), // ruled out when the pattern is compiled
        }
    }

    /// Where a quoted value starting at `pos` (after the opening quote) ends: at a `"`
    /// that the pattern's next literal, and what comes after it, accept.
    fn quoted_end(&self, line: &str, pos: usize, i: usize) -> Option<usize> {
        let b = line.as_bytes();
        let Some(Step::Lit(lit)) = self.steps.get(i + 1) else { return None };
        let mut j = pos;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 2,
                b'"' => {
                    let after = j + lit.len();
                    let fits = line[j..].starts_with(&**lit)
                        && match self.steps.get(i + 2) {
                            None => after == b.len(),
                            Some(Step::Space) => after == b.len() || is_space(b[after]),
                            Some(_) => true,
                        };
                    if fits {
                        return Some(j);
                    }
                    j += 1;
                }
                _ => j += 1,
            }
        }
        None
    }

    fn parse_line<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let trimmed = line.trim_start_matches([' ', '\t']);
        // Columns in messages count from the start of the line as written, from 1.
        let lead = line.len() - trimmed.len() + 1;
        let line = trimmed.trim_end_matches([' ', '\t']);
        let b = line.as_bytes();
        let mut pos = 0;
        let mut url: Option<Cow<'a, str>> = None;
        let mut date: Option<Cow<'a, str>> = None;
        let mut time_of_day: Option<Cow<'a, str>> = None;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Lit(lit) => {
                    if line[pos..].starts_with(&**lit) {
                        pos += lit.len();
                    } else if pos >= b.len() {
                        return Err(reject(
                            RejectReason::FieldCount,
                            match self.next_field(i) {
                                Some(f) => format!("line ends where the pattern expects {lit:?} (before the {{{}}} field)", f.name),
                                None => format!("line ends where the pattern expects {lit:?}"),
                            },
                        ));
                    } else {
                        return Err(reject(
                            RejectReason::Malformed,
                            format!("expected {lit:?} at column {} but found {:?}", pos + lead, truncate(&line[pos..])),
                        ));
                    }
                }
                Step::Space => {
                    let start = pos;
                    while pos < b.len() && is_space(b[pos]) {
                        pos += 1;
                    }
                    if pos == start {
                        if pos >= b.len() {
                            let what = match self.next_field(i) {
                                Some(f) => {
                                    format!("line ends before the {{{}}} field (placeholder {} of {})", f.name, f.number, self.placeholders)
                                }
                                None => "line ends before the end of the pattern".to_string(),
                            };
                            return Err(reject(RejectReason::FieldCount, what));
                        }
                        return Err(reject(
                            RejectReason::Malformed,
                            format!("expected a space at column {} but found {:?}", pos + lead, truncate(&line[pos..])),
                        ));
                    }
                }
                Step::Field(f) => {
                    if pos >= b.len() && !f.quoted {
                        return Err(reject(
                            RejectReason::FieldCount,
                            format!("line ends before the {{{}}} field (placeholder {} of {})", f.name, f.number, self.placeholders),
                        ));
                    }
                    let value: Cow<'a, str> = if f.quoted {
                        let end = self.quoted_end(line, pos, i).ok_or_else(|| {
                            reject(
                                RejectReason::Malformed,
                                format!("the quoted {{{}}} field starting at column {} has no closing double quote", f.name, pos + lead),
                            )
                        })?;
                        let raw = &line[pos..end];
                        pos = end;
                        unescape(raw)
                    } else {
                        let end = self.value_end(line, pos, i, f.kind);
                        if end == usize::MAX {
                            let lit = match self.steps.get(i + 1) {
                                Some(Step::Lit(l)) => &**l,
                                _ => "",
                            };
                            return Err(reject(
                                RejectReason::Malformed,
                                format!(
                                    "expected {lit:?} after the {{{}}} field (from column {}) but the line has none",
                                    f.name,
                                    pos + lead
                                ),
                            ));
                        }
                        let raw = &line[pos..end];
                        pos = end;
                        Cow::Borrowed(raw)
                    };
                    match f.kind {
                        Kind::Url => url = dash_none_cow(value),
                        Kind::Date => date = Some(value),
                        Kind::Time => time_of_day = Some(value),
                        _ => apply(f, value, rec)?,
                    }
                }
            }
        }
        if pos < b.len() {
            return Err(reject(
                RejectReason::FieldCount,
                format!("the line goes on after the pattern ends: {:?} at column {}", truncate(&line[pos..]), pos + lead),
            ));
        }
        if let (Some(d), Some(t)) = (&date, &time_of_day) {
            rec.ts_micros = Some(time::parse_date_and_time(d, t).ok_or_else(|| {
                reject(
                    RejectReason::BadTimestamp,
                    format!("{{date}} {{time}} is not YYYY-MM-DD HH:MM:SS: {:?} {:?}", truncate(d), truncate(t)),
                )
            })?);
        }
        if let Some(u) = url {
            apply_url(rec, u);
        }
        Ok(())
    }

    /// The first placeholder after step `i`, to say what is missing.
    fn next_field(&self, i: usize) -> Option<&Field> {
        self.steps[i + 1..].iter().find_map(|s| if let Step::Field(f) = s { Some(f) } else { None })
    }
}

/// Stores one value in the record.
fn apply<'a>(f: &Field, value: Cow<'a, str>, rec: &mut Record<'a>) -> Result<(), Reject> {
    let what = f.name;
    match f.kind {
        Kind::Ignore | Kind::Url | Kind::Date | Kind::Time => {}
        Kind::Ts(ts) => {
            rec.ts_micros =
                Some(ts.parse(&value).ok_or_else(|| {
                    reject(RejectReason::BadTimestamp, format!("{{ts}} is not {}: {:?}", ts.describe(), truncate(&value)))
                })?);
        }
        Kind::Text(col) => {
            let v = dash_none_cow(value);
            match col {
                TextCol::User => rec.user = v,
                TextCol::Method => rec.method = v,
                TextCol::Scheme => rec.scheme = v,
                TextCol::Path => rec.path = v,
                TextCol::UserAgent => rec.user_agent = v,
                TextCol::Referrer => rec.referrer = v,
                TextCol::ContentType => rec.content_type = v,
                TextCol::ProxyAction => rec.proxy_action = v,
                TextCol::Category => rec.category = v,
            }
        }
        Kind::Host => rec.host = dash_none_cow(value).map(|h| map_cow(h, lower_host)),
        Kind::Query => rec.query = dash_none_cow(value).map(|q| map_cow(q, |s| Cow::Borrowed(s.strip_prefix('?').unwrap_or(s)))),
        Kind::Request => request(value, rec)?,
        Kind::Port => {
            rec.port = match int_field(&value, "port")? {
                None => None,
                Some(p) if (0..=65_535).contains(&p) => Some(p as i32),
                Some(_) => return Err(reject(RejectReason::BadNumber, format!("port out of range: {:?}", truncate(&value)))),
            }
        }
        Kind::Status => rec.status = status_field(&value)?,
        Kind::RequestBytes => rec.request_bytes = int_field(&value, what)?,
        Kind::ResponseBytes => rec.response_bytes = int_field(&value, what)?,
        Kind::Duration(unit) => {
            rec.duration_ms = match unit {
                DurUnit::Ms => int_field(&value, what)?,
                DurUnit::Us => int_field(&value, what)?.map(|us| (us + 500).div_euclid(1_000)),
                DurUnit::S => match value.as_ref() {
                    "-" | "" => None,
                    s => Some(seconds_to_ms(s).ok_or_else(|| {
                        reject(RejectReason::BadNumber, format!("duration_ms (in seconds) is not a number: {:?}", truncate(s)))
                    })?),
                },
            }
        }
        Kind::Ip { server, lenient } => {
            let ip = match value {
                Cow::Borrowed(s) => ip_field(s, what),
                Cow::Owned(s) => ip_field(&s, what).map(|o| o.map(|c| Cow::Owned(c.into_owned()))),
            };
            let ip = if lenient { ip.ok().flatten() } else { ip? };
            if server {
                rec.server_ip = ip;
            } else {
                rec.client_ip = ip;
            }
        }
    }
    Ok(())
}

/// Decimal seconds (`0.123`, `12`) as whole milliseconds, rounded.
fn seconds_to_ms(s: &str) -> Option<i64> {
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') || s.bytes().filter(|b| *b == b'.').count() > 1 {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    let ms = (v * 1_000.0).round();
    (ms.is_finite() && ms < 9.2e18).then_some(ms as i64)
}

/// A request line `METHOD TARGET [HTTP/x.y]`; `-` (or empty) is no request. As in the
/// built-in CLF formats, a target with spaces in it is kept whole, and the method must be
/// an HTTP token (so a TLS handshake logged as `\x16\x03...` is `bad_request`).
fn request<'a>(value: Cow<'a, str>, rec: &mut Record<'a>) -> Result<(), Reject> {
    fn split(s: &str) -> Option<(&str, &str)> {
        let s = s.trim_matches([' ', '\t']);
        let (method, rest) = s.split_once([' ', '\t'])?;
        let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if !method.bytes().all(is_token) {
            return None;
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let target = match rest.rsplit_once([' ', '\t']) {
            Some((t, proto)) if proto.starts_with("HTTP/") => t.trim_end_matches([' ', '\t']),
            _ => rest,
        };
        (!target.is_empty()).then_some((method, target))
    }
    let Some(value) = dash_none_cow(value) else { return Ok(()) };
    let bad = |s: &str| reject(RejectReason::BadRequest, format!("request line is not METHOD TARGET [HTTP/x.y]: {:?}", truncate(s)));
    match value {
        Cow::Borrowed(s) => {
            let (m, t) = split(s).ok_or_else(|| bad(s))?;
            rec.method = Some(Cow::Borrowed(m));
            apply_url(rec, Cow::Borrowed(t));
        }
        Cow::Owned(s) => {
            let (m, t) = split(&s).ok_or_else(|| bad(&s))?;
            rec.method = Some(Cow::Owned(m.to_string()));
            apply_url(rec, Cow::Owned(t.to_string()));
        }
    }
    Ok(())
}

impl LineParser for Custom {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        self.parse_line(line, rec).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_micros;

    fn compile(pattern: &str) -> Custom {
        Custom::new(&CustomOptions { pattern: pattern.to_string() }).unwrap()
    }

    fn build_err(pattern: &str) -> String {
        Custom::new(&CustomOptions { pattern: pattern.to_string() }).unwrap_err().to_string()
    }

    fn parse_with<'a>(p: &Custom, line: &'a str) -> Result<Record<'a>, Reject> {
        let mut rec = Record::default();
        p.parse_line(line, &mut rec).map(|()| rec)
    }

    #[test]
    fn example_is_squid_native() {
        let p = Custom::new(&CustomOptions::example()).unwrap();
        let r = parse_with(&p, EXAMPLE).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2010-10-08T11:11:49.450000Z");
        assert_eq!(r.duration_ms, Some(453));
        assert_eq!(r.client_ip.as_deref(), Some("192.168.1.23"));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_MISS"));
        assert_eq!(r.status, Some(200));
        assert_eq!(r.response_bytes, Some(5109));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.url.as_deref(), Some("http://www.example.com/index.html"));
        assert_eq!((r.scheme.as_deref(), r.host.as_deref(), r.port), (Some("http"), Some("www.example.com"), Some(80)));
        assert_eq!(r.path.as_deref(), Some("/index.html"));
        assert_eq!(r.user, None);
        assert_eq!(r.server_ip.as_deref(), Some("93.184.216.34"));
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert!(matches!(r.url, Some(Cow::Borrowed(_))));

        // The same pattern on the Squid parser's own example, and on peer names and CONNECT.
        let r = parse_with(&p, crate::formats::squid::EXAMPLE).unwrap();
        assert_eq!((r.user.as_deref(), r.server_ip.as_deref()), (Some("graeme"), Some("66.35.250.151")));
        let r =
            parse_with(&p, "1700000000.001      0 10.0.0.5 TCP_DENIED/407 3944 CONNECT login.live.com:443 - FIRST_PARENT_MISS/proxy2 -")
                .unwrap();
        assert_eq!((r.host.as_deref(), r.port, r.server_ip, r.content_type), (Some("login.live.com"), Some(443), None, None));
    }

    #[test]
    fn combined_with_quotes_and_brackets() {
        let p = compile(r#"{client_ip} {_} {user} [{ts:clf}] "{request}" {status} {response_bytes} "{referrer}" "{user_agent}""#);
        let line = r#"192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref.example/" "Mozilla/4.08 [en] \"quoted\" (Win98)""#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2000-10-10T20:55:36.000000Z");
        assert_eq!((r.client_ip.as_deref(), r.user.as_deref()), (Some("192.0.2.1"), Some("frank")));
        assert_eq!((r.method.as_deref(), r.path.as_deref(), r.query.as_deref()), (Some("GET"), Some("/a.gif"), Some("x=1")));
        assert_eq!(r.url.as_deref(), Some("/a.gif?x=1"));
        assert_eq!((r.status, r.response_bytes), (Some(200), Some(2326)));
        assert_eq!(r.referrer.as_deref(), Some("http://ref.example/"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/4.08 [en] \"quoted\" (Win98)"));
        // An unescaped quote inside a quoted value does not end it unless the pattern goes on there.
        let line = r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "-" 400 0 "-" "a "b" c""#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!((r.method, r.url, r.referrer), (None, None, None));
        assert_eq!(r.user_agent.as_deref(), Some("a \"b\" c"));
        assert_eq!(r.status, Some(400));
        // Quoted values may be empty.
        let line = r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "" """#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!((r.referrer, r.user_agent), (None, None));
    }

    #[test]
    fn traefik_like_with_seconds_duration_and_host() {
        let p = compile(
            r#"{client_ip} - {user} [{ts:clf}] "{method} {path} {_}" {status} {response_bytes} "{referrer}" "{user_agent}" {_} "{_}" "{host}" {duration_ms}ms"#,
        );
        let line = r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /api/v1/items HTTP/2.0" 200 1534 "-" "curl/8.5.0" 42 "api@docker" "http://Backend.Internal:8080" 12ms"#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!(r.host.as_deref(), Some("http://backend.internal:8080"));
        assert_eq!((r.method.as_deref(), r.path.as_deref(), r.duration_ms), (Some("GET"), Some("/api/v1/items"), Some(12)));
        assert_eq!(r.url, None);

        let p = compile("{ts:iso8601} {client_ip} {host} {method} {url} {status} {duration_ms:s}");
        let r = parse_with(&p, "2024-03-05T14:22:31.5Z 10.0.0.7 WWW.Example.com GET /x?y 200 0.1234").unwrap();
        assert_eq!(r.duration_ms, Some(123));
        // The URL has no host; the separate {host} fills it.
        assert_eq!((r.host.as_deref(), r.path.as_deref(), r.query.as_deref()), (Some("www.example.com"), Some("/x"), Some("y")));
        let p = compile("{ts:epoch_ms} {duration_ms:us} {client_ip:lenient}");
        let r = parse_with(&p, "1700000000123 1500 not-an-ip").unwrap();
        assert_eq!((r.ts_micros, r.duration_ms, r.client_ip), (Some(1_700_000_000_123_000), Some(2), None));
    }

    #[test]
    fn docs_examples() {
        // docs/formats/custom.md, example 2 (nginx combined + request time + upstream).
        let p = compile(
            r#"{client_ip} - {user} [{ts:clf}] "{request}" {status} {response_bytes} "{referrer}" "{user_agent}" rt={duration_ms:s} ua="{server_ip:lenient}""#,
        );
        let line = r#"203.0.113.9 - - [05/Mar/2024:14:22:31 +0000] "GET /api/items?page=2 HTTP/1.1" 200 1534 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.042 ua="10.0.2.15:8080""#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2024-03-05T14:22:31.000000Z");
        assert_eq!((r.method.as_deref(), r.path.as_deref(), r.query.as_deref()), (Some("GET"), Some("/api/items"), Some("page=2")));
        assert_eq!((r.duration_ms, r.server_ip, r.status), (Some(42), None, Some(200)));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (X11; Linux x86_64)"));
        // Example 3 (Traefik CLF).
        let p = compile(
            r#"{client_ip} - {user} [{ts:clf}] "{method} {path} {_}" {status} {response_bytes} "{referrer}" "{user_agent}" {_} "{_}" "{host}" {duration_ms}ms"#,
        );
        let line = r#"10.0.0.7 - - [05/Mar/2024:14:22:31 +0000] "GET /api/v1/items HTTP/2.0" 200 1534 "-" "curl/8.5.0" 42 "api@docker" "http://backend.internal:8080" 12ms"#;
        let r = parse_with(&p, line).unwrap();
        assert_eq!((r.path.as_deref(), r.url, r.duration_ms), (Some("/api/v1/items"), None, Some(12)));
        // The reject messages quoted in the docs.
        let p = Custom::new(&CustomOptions::example()).unwrap();
        let e = parse_with(&p, "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET").unwrap_err();
        assert_eq!(e.detail, "line ends before the {url} field (placeholder 8 of 12)");
        let p = compile("{client_ip} [{ts:clf}]");
        let e = parse_with(&p, "10.0.0.1 [10/Oct/2000:13:55:36 -0700>").unwrap_err();
        assert_eq!(e.detail, "expected \"]\" after the {ts} field (from column 11) but the line has none");
        assert_eq!(e.reason, RejectReason::Malformed);
        let e = parse_with(&p, "10.0.0.1 10/Oct/2000:13:55:36 -0700]").unwrap_err();
        assert_eq!(e.detail, "expected \"[\" at column 10 but found \"10/Oct/2000:13:55:36 -0700]\"");
        // log_mime_hdrs: header blocks after the MIME type.
        let line = "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT/1.2.3.4 text/html [Host: a\\r\\n] [HTTP/1.1 200]";
        let r = parse_with(&Custom::new(&CustomOptions::example()).unwrap(), line).unwrap();
        assert_eq!(r.content_type.as_deref(), Some("text/html [Host: a\\r\\n] [HTTP/1.1 200]"));
        let p = compile(&format!("{EXAMPLE_PATTERN} {{_}}"));
        assert_eq!(parse_with(&p, line).unwrap().content_type.as_deref(), Some("text/html"));
    }

    #[test]
    fn times_with_spaces_and_date_time() {
        let p = compile("{ts:ctime} {client_ip} {url}");
        let r = parse_with(&p, "Mon Jun 20 15:29:11 2022 10.1.1.1 http://a.example/").unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(r.client_ip.as_deref(), Some("10.1.1.1"));
        let r = parse_with(&p, "Jun  2 05:09:01 2022 10.1.1.1 http://a.example/").unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2022-06-02T05:09:01.000000Z");
        let p = compile("{ts:clf} {client_ip}");
        assert_eq!(parse_with(&p, "10/Oct/2000:13:55:36 -0700 10.0.0.1").unwrap().client_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(parse_with(&p, "10/Oct/2000:13:55:36 10.0.0.1").unwrap().client_ip.as_deref(), Some("10.0.0.1"));
        let p = compile("{ts} {client_ip}");
        for (line, want) in [
            ("2022-06-20 15:29:11 10.0.0.1", "2022-06-20T15:29:11.000000Z"),
            ("1198298239.740 10.0.0.1", "2007-12-22T04:37:19.740000Z"),
            ("1198298239740 10.0.0.1", "2007-12-22T04:37:19.740000Z"),
            ("22/Dec/2007:05:37:19 +0100 10.0.0.1", "2007-12-22T04:37:19.000000Z"),
            ("Sat Dec 22 04:37:19 2007 10.0.0.1", "2007-12-22T04:37:19.000000Z"),
        ] {
            let r = parse_with(&p, line).unwrap();
            assert_eq!((format_micros(r.ts_micros.unwrap()).as_str(), r.client_ip.as_deref()), (want, Some("10.0.0.1")), "{line}");
        }
        let p = compile("{date} {time} {client_ip}");
        let r = parse_with(&p, "2005-04-12 21:03:45 10.0.0.1").unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2005-04-12T21:03:45.000000Z");
        assert_eq!(parse_with(&p, "2005-04-32 21:03:45 10.0.0.1").unwrap_err().reason, RejectReason::BadTimestamp);
    }

    #[test]
    fn spaces_tabs_braces_and_trailing_text() {
        let p = compile("{ts:epoch}  {client_ip} {{{status}}}");
        let r = parse_with(&p, "  1.5\t\t 10.0.0.1 {404}  ").unwrap();
        assert_eq!((r.ts_micros, r.status), (Some(1_500_000), Some(404)));
        let e = parse_with(&p, "1.5 10.0.0.1 {404} extra").unwrap_err();
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert!(e.detail.contains("goes on after the pattern ends"), "{}", e.detail);
    }

    #[test]
    fn rejects_name_what_is_wrong() {
        let p = Custom::new(&CustomOptions::example()).unwrap();
        let e = parse_with(&p, "1286536309.450 453 192.168.1.23 TCP_MISS:200 5109 GET http://a/ - HIER_DIRECT/1.2.3.4 -").unwrap_err();
        // `TCP_MISS:200 5109 ... ` has no `/` until the URL: the action runs there, then the status is not a number.
        assert_eq!(e.reason, RejectReason::BadNumber, "{}", e.detail);
        let e = parse_with(&p, "1286536309.450 453 192.168.1.23 TCP_MISS/200 5109 GET").unwrap_err();
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert!(e.detail.contains("{url}"), "{}", e.detail);
        let e = parse_with(&p, "1286536309.450 453 192.168.1.23").unwrap_err();
        assert_eq!(e.reason, RejectReason::FieldCount);
        let e = parse_with(&p, "yesterday 453 192.168.1.23 TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT/1.2.3.4 -").unwrap_err();
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        let e = parse_with(&p, "1.0 453 host.local TCP_MISS/200 5109 GET http://a/ - HIER_DIRECT/1.2.3.4 -").unwrap_err();
        assert_eq!(e.reason, RejectReason::BadIp);

        let p = compile("[{ts:clf}] {client_ip}");
        let e = parse_with(&p, "10/Oct/2000:13:55:36 -0700 10.0.0.1").unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.contains("expected \"[\" at column 1 "), "{}", e.detail);
        let e = parse_with(&p, "  10/Oct/2000:13:55:36 -0700 10.0.0.1").unwrap_err();
        assert!(e.detail.contains("expected \"[\" at column 3 "), "{}", e.detail);
        let e = parse_with(&p, "[10/Oct/2000:13:55:36 -0700").unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        let e = parse_with(&p, "[10/Oct/2000:13:55:36 -0700]").unwrap_err();
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert_eq!(e.detail, "line ends before the {client_ip} field (placeholder 2 of 2)");
        let p = compile(r#"{ts:epoch} "{user_agent}""#);
        let e = parse_with(&p, r#"1.0 "open"#).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.contains("no closing double quote"), "{}", e.detail);
        let e = parse_with(&p, "1.0 agent").unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.contains("expected \"\\\"\" at column 5"), "{}", e.detail);
        let p = compile(r#"{ts:epoch} "{request}""#);
        assert_eq!(parse_with(&p, r#"1.0 "\x16\x03\x01""#).unwrap_err().reason, RejectReason::BadRequest);
        assert_eq!(parse_with(&p, r#"1.0 "\x16\x03\x01 x""#).unwrap_err().reason, RejectReason::BadRequest);
        assert_eq!(parse_with(&p, r#"1.0 "GET""#).unwrap_err().reason, RejectReason::BadRequest);
        let r = parse_with(&p, r#"1.0 "GET /a b HTTP/1.1""#).unwrap();
        assert_eq!((r.method.as_deref(), r.path.as_deref()), (Some("GET"), Some("/a b")));
        let r = parse_with(&p, r#"1.0 "OPTIONS *""#).unwrap();
        assert_eq!((r.method.as_deref(), r.url.as_deref(), r.host), (Some("OPTIONS"), Some("*"), None));
        let r = parse_with(&p, r#"1.0 "GET /\"q\" HTTP/1.0""#).unwrap();
        assert_eq!(r.path.as_deref(), Some("/\"q\""));
        let p = compile("{ts:epoch} {port} {status} {duration_ms:s}");
        assert_eq!(parse_with(&p, "1.0 70000 200 1").unwrap_err().reason, RejectReason::BadNumber);
        assert_eq!(parse_with(&p, "1.0 80 2000 1").unwrap_err().reason, RejectReason::BadNumber);
        assert_eq!(parse_with(&p, "1.0 80 200 1e3").unwrap_err().reason, RejectReason::BadNumber);
        assert_eq!(parse_with(&p, "1.0 - - -").unwrap().port, None);
    }

    #[test]
    fn bad_patterns_are_build_errors() {
        let e = build_err("{ts:epoch} {clientip}");
        assert!(e.contains("unknown field {clientip}") && e.contains("did you mean {client_ip}?"), "{e}");
        let e = build_err("{ts:epoch}{client_ip}");
        assert!(e.contains("touch"), "{e}");
        let e = build_err("{client_ip} {url}");
        assert!(e.contains("no timestamp"), "{e}");
        assert!(build_err("{ts:epoch} {ts:clf}").contains("appears twice"));
        assert!(build_err("{ts:week} {url}").contains("unknown type for ts"));
        assert!(build_err("{ts:epoch} {url:x}").contains("takes no type"));
        assert!(build_err("{ts:epoch} {url").contains("not closed"));
        assert!(build_err("{ts:epoch} url}").contains("lone '}'"));
        assert!(build_err("{date} {client_ip}").contains("go together"));
        assert!(build_err("{ts} {date} {time}").contains("one or the other"));
        assert!(build_err("{ts} {request} {url}").contains("cannot also have"));
        assert!(build_err("   ").contains("empty"));
        assert!(build_err("{ts}\n{url}").contains("line break"));
        // `{_}` may appear several times.
        compile("{ts} {_} {_} {_}");
    }

    #[test]
    fn never_panics_on_multibyte_text() {
        let p = compile(r#"{ts:epoch} "{user}" é{url}é [{_}]"#);
        for line in ["1.0 \"ü\" éhttp://ä/é [ö]", "1.0 \"é", "1.0 \"\\", "é", "1.0 \"x\" é", "1.0 \"x\" éaé [", "\"\"\""] {
            let _ = parse_with(&p, line);
        }
        let r = parse_with(&p, "1.0 \"ü\" éhttp://ä/é [ö]").unwrap();
        assert_eq!((r.user.as_deref(), r.host.as_deref()), (Some("ü"), Some("ä")));
    }
}

//! JSON lines: one JSON object a line, mapped onto the canonical `events` columns.
//!
//! A [`JsonMapping`] names, for each events column, the key path that holds it in the
//! object (`"http.request.method"` for a nested key). A column the mapping does not name
//! is read from the key of the same name, so a line written with sweep's own column
//! names (and most `log_format ... escape=json` setups that use them) needs no mapping.
//!
//! A dotted path matches nested objects (`{"http":{"request":{"method":"GET"}}}`) as
//! well as flattened keys (`{"http.request.method":"GET"}`) or any mix of the two.
//!
//! The line is read with serde_json straight into one slot per column: keys the mapping
//! does not ask for are skipped without being materialised, and strings without escapes
//! are borrowed from the line. Only strings with JSON escapes (`\"`, `\/`, `\u00e9`) and
//! numbers stored in text columns allocate.
//!
//! Timestamps (`ts_format = "auto"`, the default): a string is read as RFC 3339 / ISO
//! 8601; a number (or a numeric string) is a Unix epoch whose unit is guessed from its
//! size: below 1e11 it is seconds (up to the year 5138), below 1e14 milliseconds, below
//! 1e17 microseconds, and nanoseconds above. Milliseconds before March 1973 would be
//! mistaken for seconds; set `ts_format = "epoch_ms"` if that matters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::fields::{dash_none_cow, int_field, ip_field, truncate};
use crate::reject::{Reject, RejectReason, reject};
use crate::spec::edit_distance;
use crate::url::{lower_host, split_url};
use crate::{FormatError, LineParser, Outcome, Record, time};

/// A line that parses with the default mapping (sweep's own column names).
pub const EXAMPLE: &str = r#"{"ts":"2024-03-05T14:22:31.250Z","client_ip":"10.1.2.3","user":"alice","method":"GET","url":"https://www.example.com/search?q=proxy","status":200,"request_bytes":512,"response_bytes":10240,"duration_ms":87,"user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0","referrer":"https://www.example.com/","content_type":"text/html","proxy_action":"TCP_MISS","server_ip":"93.184.216.34","category":"Search Engines"}"#;

/// Every events column a mapping may name, in the order messages list them.
pub const COLUMNS: [&str; NCOLS] = [
    "ts",
    "client_ip",
    "user",
    "method",
    "url",
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
];

const NCOLS: usize = 20;
const TS: usize = 0;
const CLIENT_IP: usize = 1;
const USER: usize = 2;
const METHOD: usize = 3;
const URL: usize = 4;
const SCHEME: usize = 5;
const HOST: usize = 6;
const PORT: usize = 7;
const PATH: usize = 8;
const QUERY: usize = 9;
const STATUS: usize = 10;
const REQUEST_BYTES: usize = 11;
const RESPONSE_BYTES: usize = 12;
const DURATION_MS: usize = 13;
const USER_AGENT: usize = 14;
const REFERRER: usize = 15;
const CONTENT_TYPE: usize = 16;
const PROXY_ACTION: usize = 17;
const SERVER_IP: usize = 18;
const CATEGORY: usize = 19;

/// How the `ts` value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TsFormat {
    /// RFC 3339 string, or a number / numeric string of epoch seconds, milliseconds,
    /// microseconds or nanoseconds told apart by size (see the module docs).
    #[default]
    Auto,
    /// An RFC 3339 / ISO 8601 string; a time without a zone is UTC.
    #[serde(alias = "iso8601")]
    Rfc3339,
    /// Epoch seconds, with or without a fraction (number or string).
    EpochS,
    /// Epoch milliseconds, with or without a fraction (number or string).
    EpochMs,
    /// Common Log Format time, `10/Oct/2000:13:55:36 -0700`.
    Clf,
}

/// The unit of the value mapped to `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    /// Milliseconds (sweep's own output, nginx JSON setups that multiply `$request_time`).
    #[default]
    Ms,
    /// Seconds, fraction allowed (Caddy's `duration`, nginx `$request_time`).
    S,
    /// Microseconds (Apache `%D`).
    Us,
    /// Nanoseconds (Traefik's JSON `Duration`).
    Ns,
}

/// Options of the `jsonl` format: which key holds which column.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMapping {
    /// Events column name to JSON key path (dots for nesting). Unnamed columns are read
    /// from the key of the same name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// How `ts` is written.
    #[serde(default)]
    pub ts_format: TsFormat,
    /// The unit of the value mapped to `duration_ms`; it is converted to milliseconds.
    #[serde(default)]
    pub duration_unit: DurationUnit,
}

/// One level of the key tree built from the mapping.
#[derive(Debug, Default)]
struct Node {
    name: String,
    /// Columns whose path ends here.
    cols: Vec<usize>,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, seg: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == seg)
    }

    fn insert(&mut self, path: &str, col: usize) {
        let mut node = self;
        for seg in path.split('.') {
            let i = match node.children.iter().position(|c| c.name == seg) {
                Some(i) => i,
                None => {
                    node.children.push(Node { name: seg.to_string(), ..Node::default() });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i];
        }
        node.cols.push(col);
    }

    /// The node a key leads to; a key with dots walks several levels at once.
    fn lookup(&self, key: &str) -> Option<&Node> {
        let mut node = self;
        for seg in key.split('.') {
            node = node.child(seg)?;
        }
        Some(node)
    }
}

/// The parser of the `jsonl` format.
#[derive(Debug)]
pub struct JsonLines {
    root: Node,
    ts_format: TsFormat,
    duration_unit: DurationUnit,
    /// The key path of each column, for messages.
    paths: Vec<String>,
    /// Whether the user named the column (an object or array under an explicit key is a
    /// reject; under a default key it is ignored, since ECS-style logs nest `url`, `user`...).
    explicit: [bool; NCOLS],
}

impl JsonLines {
    pub fn new(m: &JsonMapping) -> Result<Self, FormatError> {
        let mut paths: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        let mut explicit = [false; NCOLS];
        for (col, path) in &m.fields {
            let Some(i) = COLUMNS.iter().position(|c| c == col) else {
                let hint = COLUMNS
                    .iter()
                    .map(|c| (edit_distance(col, c), *c))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, c)| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(invalid(format!("fields names an unknown column {col:?}{hint}; valid columns: {}", COLUMNS.join(", "))));
            };
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(invalid(format!(
                    "fields.{col} = {path:?} is not a key path: write one or more non-empty keys joined by dots, \
                     such as \"http.request.method\""
                )));
            }
            paths[i] = path.clone();
            explicit[i] = true;
        }
        let mut root = Node::default();
        for (i, p) in paths.iter().enumerate() {
            root.insert(p, i);
        }
        Ok(JsonLines { root, ts_format: m.ts_format, duration_unit: m.duration_unit, paths, explicit })
    }

    fn parse_line<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let mut slots: [JVal<'a>; NCOLS] = std::array::from_fn(|_| JVal::Absent);
        let mut de = serde_json::Deserializer::from_str(line);
        ObjectSeed { node: &self.root, slots: &mut slots }
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| reject(RejectReason::BadJson, format!("not a JSON object line: {e}")))?;

        let ts = std::mem::take(&mut slots[TS]);
        rec.ts_micros = Some(self.timestamp(ts)?);

        rec.client_ip = self.ip(&mut slots, CLIENT_IP)?;
        rec.server_ip = self.ip(&mut slots, SERVER_IP)?;
        rec.user = self.text(&mut slots, USER)?;
        rec.method = self.text(&mut slots, METHOD)?;
        rec.user_agent = self.text(&mut slots, USER_AGENT)?;
        rec.referrer = self.text(&mut slots, REFERRER)?;
        rec.content_type = self.text(&mut slots, CONTENT_TYPE)?;
        rec.proxy_action = self.text(&mut slots, PROXY_ACTION)?;
        rec.category = self.text(&mut slots, CATEGORY)?;

        rec.status = self.int(&mut slots, STATUS, 0, 999, false)?.map(|v| v as i32);
        rec.request_bytes = self.int(&mut slots, REQUEST_BYTES, i64::MIN, i64::MAX, false)?;
        rec.response_bytes = self.int(&mut slots, RESPONSE_BYTES, i64::MIN, i64::MAX, false)?;
        rec.duration_ms = self.duration(&mut slots)?;

        // The URL's own parts win; separately mapped parts fill what it lacks (an
        // origin-form URL `/path?q` has no host, which a `host` key may give).
        rec.scheme = self.text(&mut slots, SCHEME)?;
        rec.host = self.text(&mut slots, HOST)?.map(|h| map_cow(h, lower_host));
        rec.port = self.int(&mut slots, PORT, 0, 65_535, false)?.map(|v| v as i32);
        rec.path = self.text(&mut slots, PATH)?;
        rec.query = self.text(&mut slots, QUERY)?.map(|q| map_cow(q, |s| Cow::Borrowed(s.strip_prefix('?').unwrap_or(s))));
        if let Some(url) = self.text(&mut slots, URL)? {
            apply_url(rec, url);
        }
        Ok(())
    }

    fn timestamp(&self, v: JVal<'_>) -> Result<i64, Reject> {
        let path = &self.paths[TS];
        let got = match &v {
            JVal::Absent => {
                return Err(reject(
                    RejectReason::BadTimestamp,
                    format!("no timestamp: the object has no key {path:?} (map the time key with fields.ts)"),
                ));
            }
            JVal::Null => return Err(reject(RejectReason::BadTimestamp, format!("no timestamp: {path:?} is null"))),
            _ => ts_value(&v, self.ts_format),
        };
        got.ok_or_else(|| {
            let want = match self.ts_format {
                TsFormat::Auto => "an RFC 3339 string or epoch number",
                TsFormat::Rfc3339 => "an RFC 3339 string",
                TsFormat::EpochS => "epoch seconds",
                TsFormat::EpochMs => "epoch milliseconds",
                TsFormat::Clf => "a CLF time such as 10/Oct/2000:13:55:36 -0700",
            };
            reject(RejectReason::BadTimestamp, format!("{path:?} is not {want}: {}", v.describe()))
        })
    }

    /// Objects and arrays under a key the user named are rejects; under a default key
    /// they are ignored.
    fn compound(&self, col: usize, what: &str) -> Result<(), Reject> {
        if self.explicit[col] {
            return Err(reject(
                RejectReason::Malformed,
                format!(
                    "{:?} (mapped to {}) holds {what}, not a value; map {} to a key inside it",
                    self.paths[col], COLUMNS[col], COLUMNS[col]
                ),
            ));
        }
        Ok(())
    }

    fn text<'a>(&self, slots: &mut [JVal<'a>; NCOLS], col: usize) -> Result<Option<Cow<'a, str>>, Reject> {
        Ok(match std::mem::take(&mut slots[col]) {
            JVal::Absent | JVal::Null => None,
            JVal::Str(s) => dash_none_cow(s),
            JVal::U(u) => Some(Cow::Owned(u.to_string())),
            JVal::I(i) => Some(Cow::Owned(i.to_string())),
            JVal::F(f) => Some(Cow::Owned(f.to_string())),
            JVal::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            JVal::Compound(what) => {
                self.compound(col, what)?;
                None
            }
        })
    }

    fn ip<'a>(&self, slots: &mut [JVal<'a>; NCOLS], col: usize) -> Result<Option<Cow<'a, str>>, Reject> {
        let what = COLUMNS[col];
        match self.text(slots, col)? {
            None => Ok(None),
            Some(Cow::Borrowed(s)) => ip_field(s, what),
            Some(Cow::Owned(s)) => Ok(ip_field(&s, what)?.map(|c| Cow::Owned(c.into_owned()))),
        }
    }

    /// `duration_ms` from a number or numeric string in `duration_unit`, rounded to ms.
    fn duration(&self, slots: &mut [JVal<'_>; NCOLS]) -> Result<Option<i64>, Reject> {
        let factor = match self.duration_unit {
            DurationUnit::Ms => return self.int(slots, DURATION_MS, i64::MIN, i64::MAX, true),
            DurationUnit::S => 1e3,
            DurationUnit::Us => 1e-3,
            DurationUnit::Ns => 1e-6,
        };
        let v = std::mem::take(&mut slots[DURATION_MS]);
        let f = match &v {
            JVal::Absent | JVal::Null => return Ok(None),
            JVal::U(u) => Some(*u as f64),
            JVal::I(i) => Some(*i as f64),
            JVal::F(f) => Some(*f),
            JVal::Str(s) => match s.trim() {
                "" | "-" => return Ok(None),
                t => t.parse::<f64>().ok(),
            },
            JVal::Bool(_) => None,
            JVal::Compound(what) => {
                self.compound(DURATION_MS, what)?;
                return Ok(None);
            }
        };
        f.and_then(|f| float_int(f * factor, true))
            .map(Some)
            .ok_or_else(|| reject(RejectReason::BadNumber, format!("duration_ms is not a number: {}", v.describe())))
    }

    /// An integer column from a JSON number or a numeric string. Fractions are accepted
    /// (and rounded) only where `frac` is set (`duration_ms`).
    fn int(&self, slots: &mut [JVal<'_>; NCOLS], col: usize, min: i64, max: i64, frac: bool) -> Result<Option<i64>, Reject> {
        let what = COLUMNS[col];
        let v = std::mem::take(&mut slots[col]);
        let n = match &v {
            JVal::Absent | JVal::Null => return Ok(None),
            JVal::U(u) => i64::try_from(*u).ok(),
            JVal::I(i) => Some(*i),
            JVal::F(f) => float_int(*f, frac),
            JVal::Str(s) => {
                let s = s.trim();
                match int_field(s, what) {
                    Ok(None) => return Ok(None),
                    Ok(Some(n)) => Some(n),
                    Err(_) => s.parse::<f64>().ok().and_then(|f| float_int(f, frac)),
                }
            }
            JVal::Bool(_) => None,
            JVal::Compound(what) => {
                self.compound(col, what)?;
                return Ok(None);
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(_) => Err(reject(RejectReason::BadNumber, format!("{what} out of range: {}", v.describe()))),
            None => Err(reject(RejectReason::BadNumber, format!("{what} is not a number: {}", v.describe()))),
        }
    }
}

fn invalid(message: String) -> FormatError {
    FormatError::Invalid { format: "jsonl", message }
}

fn float_int(f: f64, frac: bool) -> Option<i64> {
    if !f.is_finite() || (!frac && f.fract() != 0.0) || f.abs() >= 9.2e18 {
        return None;
    }
    Some(f.round() as i64)
}

impl LineParser for JsonLines {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        self.parse_line(line, rec).into()
    }
}

/// Applies `f` to a text value, keeping it borrowed from the line when it was.
pub(crate) fn map_cow<'a>(v: Cow<'a, str>, f: impl for<'x> Fn(&'x str) -> Cow<'x, str>) -> Cow<'a, str> {
    match v {
        Cow::Borrowed(s) => f(s),
        Cow::Owned(s) => Cow::Owned(f(&s).into_owned()),
    }
}

/// Sets `url` and its parts (as [`Record::set_url`], with the record's method), for a
/// URL that may have been unescaped. Parts the URL lacks keep the values already set.
/// The asterisk-form target of `OPTIONS *` is kept in `url` and has no parts.
pub(crate) fn apply_url<'a>(rec: &mut Record<'a>, url: Cow<'a, str>) {
    if url == "*" {
        rec.url = Some(url);
        return;
    }
    let (scheme, host, port, path, query) = (rec.scheme.take(), rec.host.take(), rec.port, rec.path.take(), rec.query.take());
    let method = rec.method.take();
    match url {
        Cow::Borrowed(u) => rec.set_url(u, method.as_deref()),
        Cow::Owned(u) => {
            let p = split_url(&u, method.as_deref());
            let owned = |s: &str| Cow::Owned(s.to_string());
            rec.scheme = p.scheme.map(owned);
            rec.host = p.host.map(|h| Cow::Owned(lower_host(h).into_owned()));
            rec.port = p.port;
            rec.path = p.path.map(owned);
            rec.query = p.query.map(owned);
            rec.url = Some(Cow::Owned(u));
        }
    }
    rec.method = method;
    rec.scheme = rec.scheme.take().or(scheme);
    rec.host = rec.host.take().or(host);
    rec.port = rec.port.or(port);
    rec.path = rec.path.take().or(path);
    rec.query = rec.query.take().or(query);
}

/// Epoch of unknown unit, told apart by size (see the module docs), as microseconds.
pub(crate) fn epoch_auto_int(n: i64) -> Option<i64> {
    let a = n.unsigned_abs();
    if a < 100_000_000_000 {
        n.checked_mul(1_000_000)
    } else if a < 100_000_000_000_000 {
        n.checked_mul(1_000)
    } else if a < 100_000_000_000_000_000 {
        Some(n)
    } else {
        Some(n / 1_000)
    }
}

fn epoch_auto_float(f: f64) -> Option<i64> {
    let a = f.abs();
    let scale = if a < 1e11 {
        1e6
    } else if a < 1e14 {
        1e3
    } else if a < 1e17 {
        1.0
    } else {
        1e-3
    };
    scaled(f, scale)
}

/// `f * scale` rounded, with the integer and fractional parts scaled apart so that epoch
/// seconds keep their microseconds (`1646861401.5241024` is `…401_524_102` µs).
fn scaled(f: f64, scale: f64) -> Option<i64> {
    if !f.is_finite() || (f * scale).abs() >= 9.2e18 {
        return None;
    }
    if scale >= 1.0 {
        let int = f.trunc();
        let frac = ((f - int) * scale).round() as i64;
        (int as i64).checked_mul(scale as i64)?.checked_add(frac)
    } else {
        Some((f * scale).round() as i64)
    }
}

/// An epoch given as text, unit guessed by size: `1198298239`, `1198298239.740`,
/// `1700000000123`. Used by `jsonl` and by the custom format's `{ts}` (auto).
pub(crate) fn epoch_auto_str(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let digits = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    if int.len() <= 11 {
        // Below 1e11: seconds, with the fraction read exactly.
        return time::parse_epoch_seconds(s);
    }
    match frac {
        None if int.len() <= 18 => epoch_auto_int(s.parse().ok()?),
        _ => epoch_auto_float(s.parse().ok()?),
    }
}

/// Epoch milliseconds as text, with an optional fraction.
pub(crate) fn epoch_ms_str(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty()) {
        return None;
    }
    let ms: i64 = int.parse().ok()?;
    let us = frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0i64, |a, c| a * 10 + (c - b'0') as i64);
    Some(ms * 1_000 + us)
}

fn ts_value(v: &JVal<'_>, fmt: TsFormat) -> Option<i64> {
    match (fmt, v) {
        (TsFormat::Auto, JVal::Str(s)) => {
            let s = s.trim();
            time::parse_rfc3339(s).or_else(|| epoch_auto_str(s))
        }
        (TsFormat::Auto, JVal::U(u)) => epoch_auto_int(i64::try_from(*u).ok()?),
        (TsFormat::Auto, JVal::I(i)) => epoch_auto_int(*i),
        (TsFormat::Auto, JVal::F(f)) => epoch_auto_float(*f),
        (TsFormat::Rfc3339, JVal::Str(s)) => time::parse_rfc3339(s.trim()),
        (TsFormat::Clf, JVal::Str(s)) => time::parse_clf(s.trim()),
        (TsFormat::EpochS, JVal::Str(s)) => time::parse_epoch_seconds(s.trim()),
        (TsFormat::EpochS, JVal::U(u)) => i64::try_from(*u).ok()?.checked_mul(1_000_000),
        (TsFormat::EpochS, JVal::I(i)) => i.checked_mul(1_000_000),
        (TsFormat::EpochS, JVal::F(f)) => scaled(*f, 1e6),
        (TsFormat::EpochMs, JVal::Str(s)) => epoch_ms_str(s.trim()),
        (TsFormat::EpochMs, JVal::U(u)) => i64::try_from(*u).ok()?.checked_mul(1_000),
        (TsFormat::EpochMs, JVal::I(i)) => i.checked_mul(1_000),
        (TsFormat::EpochMs, JVal::F(f)) => scaled(*f, 1e3),
        _ => None,
    }
}

/// A captured JSON value.
#[derive(Debug, Clone, Default)]
enum JVal<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    U(u64),
    I(i64),
    F(f64),
    Bool(bool),
    /// An object or an array (`"an object"` / `"an array"`); never materialised.
    Compound(&'static str),
}

impl JVal<'_> {
    /// The value as it may be quoted in a reject detail.
    fn describe(&self) -> String {
        match self {
            JVal::Absent => "missing".into(),
            JVal::Null => "null".into(),
            JVal::Str(s) => format!("{:?}", truncate(s)),
            JVal::U(u) => u.to_string(),
            JVal::I(i) => i.to_string(),
            JVal::F(f) => f.to_string(),
            JVal::Bool(b) => b.to_string(),
            JVal::Compound(what) => (*what).into(),
        }
    }
}

/// Reads one object level, descending only into keys the mapping asks for.
struct ObjectSeed<'s, 'a> {
    node: &'s Node,
    slots: &'s mut [JVal<'a>; NCOLS],
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.node.lookup(&key) {
                Some(node) => map.next_value_seed(ValueSeed { node, slots: &mut *self.slots })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the line unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The value under a wanted key: stored in the slots of the columns whose path ends
/// here, and searched further if other paths go deeper.
struct ValueSeed<'s, 'a> {
    node: &'s Node,
    slots: &'s mut [JVal<'a>; NCOLS],
}

impl<'a> ValueSeed<'_, 'a> {
    fn put<E>(self, v: JVal<'a>) -> Result<(), E> {
        if let Some((last, rest)) = self.node.cols.split_last() {
            for &c in rest {
                self.slots[c] = v.clone();
            }
            self.slots[*last] = v;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.put(JVal::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.node.cols.is_empty() { Ok(()) } else { self.put(JVal::Str(Cow::Owned(v.to_string()))) }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.put(JVal::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.put(JVal::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put(JVal::I(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.put(JVal::F(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.put(JVal::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.put(JVal::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.put(JVal::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if self.node.children.is_empty() {
            IgnoredAny.visit_map(map)?;
        } else {
            ObjectSeed { node: self.node, slots: &mut *self.slots }.visit_map(map)?;
        }
        self.put(JVal::Compound("an object"))
    }

    /// An array under a column's key gives its first element (Caddy writes each header
    /// as an array of values); elements that are objects or arrays are not values.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.node.cols.is_empty() {
            return IgnoredAny.visit_seq(seq).map(|_| ());
        }
        let first = seq.next_element_seed(ScalarSeed)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.put(match first {
            None => JVal::Null,
            Some(JVal::Compound(_)) => JVal::Compound("an array"),
            Some(v) => v,
        })
    }
}

/// An array element: a scalar, or a marker for an object or array (skipped).
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = JVal<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = JVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JVal::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JVal::I(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JVal::F(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JVal::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JVal::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JVal::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(JVal::Compound("an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(JVal::Compound("an array"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_micros;

    fn parser(fields: &[(&str, &str)], ts_format: TsFormat) -> JsonLines {
        let fields = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        JsonLines::new(&JsonMapping { fields, ts_format, ..JsonMapping::default() }).unwrap()
    }

    fn parse_with<'a>(p: &JsonLines, line: &'a str) -> Result<Record<'a>, Reject> {
        let mut rec = Record::default();
        p.parse_line(line, &mut rec).map(|()| rec)
    }

    fn parse(line: &str) -> Result<Record<'_>, Reject> {
        parse_with(&parser(&[], TsFormat::Auto), line)
    }

    #[test]
    fn example_with_default_mapping() {
        let r = parse(EXAMPLE).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2024-03-05T14:22:31.250000Z");
        assert_eq!(r.client_ip.as_deref(), Some("10.1.2.3"));
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.url.as_deref(), Some("https://www.example.com/search?q=proxy"));
        assert_eq!(r.scheme.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("www.example.com"));
        assert_eq!(r.port, Some(443));
        assert_eq!(r.path.as_deref(), Some("/search"));
        assert_eq!(r.query.as_deref(), Some("q=proxy"));
        assert_eq!(r.status, Some(200));
        assert_eq!(r.request_bytes, Some(512));
        assert_eq!(r.response_bytes, Some(10240));
        assert_eq!(r.duration_ms, Some(87));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"));
        assert_eq!(r.referrer.as_deref(), Some("https://www.example.com/"));
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert_eq!(r.proxy_action.as_deref(), Some("TCP_MISS"));
        assert_eq!(r.server_ip.as_deref(), Some("93.184.216.34"));
        assert_eq!(r.category.as_deref(), Some("Search Engines"));
        // Unescaped strings are borrowed from the line.
        assert!(matches!(r.user_agent, Some(Cow::Borrowed(_))));
        assert!(matches!(r.host, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn nested_and_flattened_ecs_paths() {
        let p = parser(
            &[
                ("ts", "@timestamp"),
                ("client_ip", "source.ip"),
                ("method", "http.request.method"),
                ("url", "url.original"),
                ("status", "http.response.status_code"),
                ("response_bytes", "http.response.body.bytes"),
                ("user_agent", "user_agent.original"),
                ("user", "user.name"),
            ],
            TsFormat::Auto,
        );
        let nested = r#"{"@timestamp":"2023-01-02T03:04:05Z","source":{"ip":"192.0.2.7","port":5555},"http":{"request":{"method":"POST"},"response":{"status_code":302,"body":{"bytes":"17"}}},"url":{"original":"http://Evil.Example/x"},"user_agent":{"original":"curl/8.0"},"user":{"name":"bob"},"tags":["a",{"b":1}]}"#;
        let r = parse_with(&p, nested).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2023-01-02T03:04:05.000000Z");
        assert_eq!(r.client_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert_eq!(r.status, Some(302));
        assert_eq!(r.response_bytes, Some(17));
        assert_eq!(r.host.as_deref(), Some("evil.example"));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8.0"));
        assert_eq!(r.user.as_deref(), Some("bob"));

        let flat = r#"{"@timestamp":"2023-01-02T03:04:05Z","source.ip":"192.0.2.7","http.request.method":"POST","http":{"response.status_code":302},"url.original":"http://a.example/"}"#;
        let r = parse_with(&p, flat).unwrap();
        assert_eq!((r.client_ip.as_deref(), r.method.as_deref(), r.status), (Some("192.0.2.7"), Some("POST"), Some(302)));
        assert_eq!(r.host.as_deref(), Some("a.example"));
    }

    #[test]
    fn default_keys_holding_objects_are_ignored_explicit_ones_rejected() {
        // ECS nests `url` and `user`: with default keys they are skipped, not rejected.
        let r = parse(r#"{"ts":1700000000,"url":{"original":"http://a/"},"user":[{"name":"x"}]}"#).unwrap();
        assert_eq!((r.url, r.user), (None, None));
        let p = parser(&[("url", "url")], TsFormat::Auto);
        let e = parse_with(&p, r#"{"ts":1700000000,"url":{"original":"http://a/"}}"#).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.contains("holds an object"), "{}", e.detail);
    }

    #[test]
    fn epoch_heuristics_and_explicit_formats() {
        let ts = |line: &str| format_micros(parse(line).unwrap().ts_micros.unwrap());
        assert_eq!(ts(r#"{"ts":1198298239}"#), "2007-12-22T04:37:19.000000Z");
        assert_eq!(ts(r#"{"ts":1198298239.74}"#), "2007-12-22T04:37:19.740000Z");
        assert_eq!(ts(r#"{"ts":"1198298239.740"}"#), "2007-12-22T04:37:19.740000Z");
        assert_eq!(ts(r#"{"ts":1198298239740}"#), "2007-12-22T04:37:19.740000Z");
        assert_eq!(ts(r#"{"ts":"1198298239740"}"#), "2007-12-22T04:37:19.740000Z");
        assert_eq!(ts(r#"{"ts":1198298239740123}"#), "2007-12-22T04:37:19.740123Z");
        assert_eq!(ts(r#"{"ts":1198298239740123456}"#), "2007-12-22T04:37:19.740123Z");
        assert_eq!(ts(r#"{"ts":"2007-12-22T05:37:19+01:00"}"#), "2007-12-22T04:37:19.000000Z");

        let p = parser(&[("ts", "time")], TsFormat::EpochMs);
        let r = parse_with(&p, r#"{"time":"1000.5"}"#).unwrap();
        assert_eq!(r.ts_micros, Some(1_000_500));
        assert_eq!(parse_with(&p, r#"{"time":86400000}"#).unwrap().ts_micros, Some(86_400_000_000));
        let p = parser(&[], TsFormat::EpochS);
        assert_eq!(parse_with(&p, r#"{"ts":86400}"#).unwrap().ts_micros, Some(86_400_000_000));
        assert_eq!(parse_with(&p, r#"{"ts":"2007-12-22T04:37:19Z"}"#).unwrap_err().reason, RejectReason::BadTimestamp);
        let p = parser(&[], TsFormat::Clf);
        let r = parse_with(&p, r#"{"ts":"10/Oct/2000:13:55:36 -0700"}"#).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2000-10-10T20:55:36.000000Z");
        let p = parser(&[], TsFormat::Rfc3339);
        assert_eq!(parse_with(&p, r#"{"ts":1700000000}"#).unwrap_err().reason, RejectReason::BadTimestamp);
    }

    #[test]
    fn numbers_as_strings_and_dashes() {
        let r = parse(r#"{"ts":1,"status":"404","response_bytes":"-","request_bytes":"","duration_ms":"12.6","port":"8080","user":"-"}"#)
            .unwrap();
        assert_eq!((r.status, r.response_bytes, r.request_bytes, r.duration_ms), (Some(404), None, None, Some(13)));
        assert_eq!((r.port, r.user), (Some(8080), None));
        let r = parse(r#"{"ts":1,"status":200.0,"duration_ms":0.4,"request_bytes":null}"#).unwrap();
        assert_eq!((r.status, r.duration_ms, r.request_bytes), (Some(200), Some(0), None));
    }

    #[test]
    fn escapes_unicode_and_owned_url() {
        let r = parse(r#"{"ts":1,"url":"http:\/\/WWW.Ex\u0061mple.com\/a?b=1","method":"GET","user":"Jos\u00e9"}"#).unwrap();
        assert_eq!(r.url.as_deref(), Some("http://WWW.Example.com/a?b=1"));
        assert_eq!(r.host.as_deref(), Some("www.example.com"));
        assert_eq!((r.path.as_deref(), r.query.as_deref(), r.port), (Some("/a"), Some("b=1"), Some(80)));
        assert_eq!(r.user.as_deref(), Some("José"));
        assert_eq!(r.method.as_deref(), Some("GET"));
    }

    #[test]
    fn separate_parts_fill_what_the_url_lacks() {
        let r = parse(r#"{"ts":1,"url":"/index.html?x","host":"WWW.A.Example","scheme":"https","query":"?ignored"}"#).unwrap();
        assert_eq!(r.path.as_deref(), Some("/index.html"));
        assert_eq!(r.query.as_deref(), Some("x"));
        assert_eq!(r.host.as_deref(), Some("www.a.example"));
        assert_eq!(r.scheme.as_deref(), Some("https"));
        let r = parse(r#"{"ts":1,"host":"B.Example","path":"/p","query":"?q=1","port":8443}"#).unwrap();
        assert_eq!(r.url, None);
        assert_eq!(
            (r.host.as_deref(), r.path.as_deref(), r.query.as_deref(), r.port),
            (Some("b.example"), Some("/p"), Some("q=1"), Some(8443))
        );
        let r = parse(r#"{"ts":1,"method":"CONNECT","url":"login.live.com:443"}"#).unwrap();
        assert_eq!((r.host.as_deref(), r.port), (Some("login.live.com"), Some(443)));
    }

    #[test]
    fn caddy_access_log() {
        // Caddy 2's default JSON access log (`log` directive), one line.
        let line = r#"{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/2.0","method":"GET","host":"Example.COM","uri":"/a?b=1","headers":{"User-Agent":["curl/7.82.0"],"Accept":["*/*"]},"tls":{"resumed":false,"version":772,"server_name":"example.com"}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Content-Type":["text/html; charset=utf-8"]}}"#;
        let m = JsonMapping {
            fields: [
                ("client_ip", "request.client_ip"),
                ("method", "request.method"),
                ("host", "request.host"),
                ("url", "request.uri"),
                ("user_agent", "request.headers.User-Agent"),
                ("user", "user_id"),
                ("request_bytes", "bytes_read"),
                ("response_bytes", "size"),
                ("duration_ms", "duration"),
                ("content_type", "resp_headers.Content-Type"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            duration_unit: DurationUnit::S,
            ..JsonMapping::default()
        };
        let r = parse_with(&JsonLines::new(&m).unwrap(), line).unwrap();
        assert_eq!(format_micros(r.ts_micros.unwrap()), "2022-03-09T21:30:01.524102Z");
        assert_eq!((r.client_ip.as_deref(), r.method.as_deref()), (Some("127.0.0.1"), Some("GET")));
        assert_eq!((r.host.as_deref(), r.path.as_deref(), r.query.as_deref()), (Some("example.com"), Some("/a"), Some("b=1")));
        assert_eq!((r.user_agent.as_deref(), r.user), (Some("curl/7.82.0"), None));
        assert_eq!((r.request_bytes, r.response_bytes, r.status, r.duration_ms), (Some(0), Some(10900), Some(200), Some(1)));
        assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
    }

    #[test]
    fn duration_units() {
        let p = |u| JsonLines::new(&JsonMapping { duration_unit: u, ..JsonMapping::default() }).unwrap();
        let d = |u, line: &str| parse_with(&p(u), line).map(|r| r.duration_ms);
        assert_eq!(d(DurationUnit::S, r#"{"ts":1,"duration_ms":"0.1236"}"#).unwrap(), Some(124));
        assert_eq!(d(DurationUnit::Us, r#"{"ts":1,"duration_ms":1500}"#).unwrap(), Some(2));
        assert_eq!(d(DurationUnit::Ns, r#"{"ts":1,"duration_ms":12345678}"#).unwrap(), Some(12));
        assert_eq!(d(DurationUnit::Ns, r#"{"ts":1,"duration_ms":"-"}"#).unwrap(), None);
        assert_eq!(d(DurationUnit::S, r#"{"ts":1,"duration_ms":"fast"}"#).unwrap_err().reason, RejectReason::BadNumber);
        assert_eq!(d(DurationUnit::Ms, r#"{"ts":1,"duration_ms":"fast"}"#).unwrap_err().reason, RejectReason::BadNumber);
    }

    #[test]
    fn arrays_give_their_first_value() {
        let r = parse(r#"{"ts":1,"user":["a","b"],"status":[404],"category":[],"referrer":[["x"]]}"#).unwrap();
        assert_eq!((r.user.as_deref(), r.status, r.category, r.referrer), (Some("a"), Some(404), None, None));
        let p = parser(&[("referrer", "referrer")], TsFormat::Auto);
        assert_eq!(parse_with(&p, r#"{"ts":1,"referrer":[{"a":1}]}"#).unwrap_err().reason, RejectReason::Malformed);
    }

    #[test]
    fn text_columns_accept_scalars() {
        let r = parse(r#"{"ts":1,"user":12345,"category":true}"#).unwrap();
        assert_eq!((r.user.as_deref(), r.category.as_deref()), (Some("12345"), Some("true")));
    }

    #[test]
    fn rejects() {
        let bad = |l: &str| parse(l).unwrap_err();
        assert_eq!(bad("not json").reason, RejectReason::BadJson);
        assert_eq!(bad("[1,2]").reason, RejectReason::BadJson);
        assert!(bad("[1,2]").detail.contains("expected a JSON object"), "{}", bad("[1,2]").detail);
        assert_eq!(bad("\"str\"").reason, RejectReason::BadJson);
        assert_eq!(bad(r#"{"ts":1} trailing"#).reason, RejectReason::BadJson);
        assert_eq!(bad(r#"{"ts":1"#).reason, RejectReason::BadJson);
        let e = bad(r#"{"time":1}"#);
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        assert!(e.detail.contains("no key \"ts\""), "{}", e.detail);
        assert_eq!(bad(r#"{"ts":null}"#).reason, RejectReason::BadTimestamp);
        assert_eq!(bad(r#"{"ts":"yesterday"}"#).reason, RejectReason::BadTimestamp);
        assert_eq!(bad(r#"{"ts":true}"#).reason, RejectReason::BadTimestamp);
        assert_eq!(bad(r#"{"ts":1,"client_ip":"host.example"}"#).reason, RejectReason::BadIp);
        assert_eq!(bad(r#"{"ts":1,"status":"abc"}"#).reason, RejectReason::BadNumber);
        assert_eq!(bad(r#"{"ts":1,"status":1000}"#).reason, RejectReason::BadNumber);
        assert_eq!(bad(r#"{"ts":1,"port":70000}"#).reason, RejectReason::BadNumber);
        assert_eq!(bad(r#"{"ts":1,"response_bytes":1.5}"#).reason, RejectReason::BadNumber);
        assert_eq!(bad(r#"{"ts":1,"response_bytes":true}"#).reason, RejectReason::BadNumber);
        assert_eq!(bad(r#"{"ts":1,"response_bytes":18446744073709551615}"#).reason, RejectReason::BadNumber);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // serde_json limits the depth of values it builds (128) and skips ignored values
        // without recursion: either way a reject, never a crash.
        for key in ["ts", "other", "url"] {
            let line = format!("{{\"{key}\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
            let e = parse(&line).unwrap_err();
            assert!(matches!(e.reason, RejectReason::BadJson | RejectReason::BadTimestamp), "{key}: {e:?}");
            let line = format!("{{\"{key}\":{}1{}}}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
            let e = parse(&line).unwrap_err();
            assert!(matches!(e.reason, RejectReason::BadJson | RejectReason::BadTimestamp), "{key}: {e:?}");
        }
        // Our own descent follows the mapping's paths only, and serde_json stops it at 128.
        let deep = vec!["a"; 200].join(".");
        let p = parser(&[("user", deep.as_str())], TsFormat::Auto);
        let line = format!("{{\"ts\":1,\"a\":{}1{}}}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
        assert_eq!(parse_with(&p, &line).unwrap_err().reason, RejectReason::BadJson);
    }

    #[test]
    fn ip_normalisation() {
        let r = parse(r#"{"ts":1,"client_ip":"::ffff:10.0.0.1","server_ip":"2001:DB8::1"}"#).unwrap();
        assert_eq!((r.client_ip.as_deref(), r.server_ip.as_deref()), (Some("10.0.0.1"), Some("2001:db8::1")));
    }

    #[test]
    fn same_key_for_two_columns() {
        let p = parser(&[("client_ip", "addr"), ("server_ip", "addr")], TsFormat::Auto);
        let r = parse_with(&p, r#"{"ts":1,"addr":"10.0.0.9"}"#).unwrap();
        assert_eq!((r.client_ip.as_deref(), r.server_ip.as_deref()), (Some("10.0.0.9"), Some("10.0.0.9")));
    }

    #[test]
    fn bad_mappings_are_build_errors() {
        let m = JsonMapping { fields: [("clientip".to_string(), "c".to_string())].into(), ..JsonMapping::default() };
        let e = JsonLines::new(&m).unwrap_err().to_string();
        assert!(e.contains("unknown column \"clientip\""), "{e}");
        assert!(e.contains("did you mean \"client_ip\""), "{e}");
        assert!(e.contains("valid columns: ts, client_ip"), "{e}");
        let m = JsonMapping { fields: [("user".to_string(), "a..b".to_string())].into(), ..JsonMapping::default() };
        assert!(JsonLines::new(&m).unwrap_err().to_string().contains("not a key path"));
    }

    #[test]
    fn options_from_toml_shape() {
        let m: JsonMapping = serde_json::from_str(r#"{"fields":{"ts":"time"},"ts_format":"epoch_ms"}"#).unwrap();
        assert_eq!(m.ts_format, TsFormat::EpochMs);
        assert!(serde_json::from_str::<JsonMapping>(r#"{"field":{}}"#).is_err());
        assert!(serde_json::from_str::<JsonMapping>(r#"{"ts_format":"epoch"}"#).is_err());
        let m: JsonMapping = serde_json::from_str(r#"{"duration_unit":"ns"}"#).unwrap();
        assert_eq!(m.duration_unit, DurationUnit::Ns);
        let m: JsonMapping = serde_json::from_str(r#"{"ts_format":"iso8601"}"#).unwrap();
        assert_eq!(m.ts_format, TsFormat::Rfc3339);
    }
}

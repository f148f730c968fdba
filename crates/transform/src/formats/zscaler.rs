//! Zscaler NSS web feed: quoted CSV (the documented default), TSV or JSON lines.
//!
//! An NSS feed's output is defined by a template, so the column order is an option
//! (`fields`); the default is the documented 34-field sample feed ([`DEFAULT_FIELDS`]).
//! JSON lines are read by key, flat (`{"time": ...}`) or wrapped as NSS sends them to
//! Splunk-style collectors (`{"sourcetype": "zscalernss-web", "event": {...}}`).
//!
//! Times are `ctime` style without a zone (`Mon Jun 20 15:29:11 2022`) and read as UTC;
//! `None`, `NA`, `N/A` and the empty string mean "no value"; URLs have no scheme, which is
//! taken from `proto` when it names one. See docs/formats/zscaler.md.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::elff::{ip_cow, set_url_cow};
use crate::fields::{self, truncate};
use crate::record::Record;
use crate::reject::{Reject, RejectReason, reject};
use crate::time;
use crate::url::default_port;
use crate::{FormatError, LineParser, Outcome};

/// One line of the default layout (quoted CSV, 34 fields).
pub const EXAMPLE: &str = "\"Mon Jun 20 15:29:11 2022\",\"jdoe@example.com\",\"HTTPS\",\"www.example.com/search?q=proxy\",\"Allowed\",\
\"General Browsing\",\"General Browsing\",\"732\",\"18354\",\"41\",\"187\",\"Business Use\",\"Information Technology\",\"Web Search\",\
\"None\",\"None\",\"0\",\"None\",\"None\",\"Road Warrior\",\"Sales\",\"10.20.30.40\",\"142.250.72.4\",\"GET\",\"200\",\
\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\",\"None\",\"None\",\"None\",\"text/html\",\"None\",\"jdoe\",\"LAPTOP-JDOE\",\"N/A\"";

/// The documented NSS web sample feed, in order.
pub const DEFAULT_FIELDS: [&str; 34] = [
    "time",
    "login",
    "proto",
    "eurl",
    "action",
    "appname",
    "appclass",
    "reqsize",
    "respsize",
    "stime",
    "ctime",
    "urlclass",
    "urlsupercat",
    "urlcat",
    "malwarecat",
    "threatname",
    "riskscore",
    "dlpeng",
    "dlpdict",
    "location",
    "dept",
    "cip",
    "sip",
    "reqmethod",
    "respcode",
    "ua",
    "ereferer",
    "ruletype",
    "rulelabel",
    "contenttype",
    "unscannabletype",
    "deviceowner",
    "devicehostname",
    "keyprotectiontype",
];

/// How the feed writes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZscalerLayout {
    /// Comma-separated; fields may be double-quoted, `""` inside quotes is one `"`.
    #[default]
    Csv,
    /// Tab-separated; fields may be double-quoted as in CSV.
    Tsv,
    /// One JSON object a line, flat or wrapped in `{"event": {...}}`.
    Json,
}

/// Options of the `zscaler` format.
///
/// ```toml
/// format = { name = "zscaler", layout = "tsv", fields = ["time", "login", "..."] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZscalerOptions {
    #[serde(default)]
    pub layout: ZscalerLayout,
    /// The column order of a CSV or TSV feed (NSS feed names such as `time`, `login`,
    /// `eurl`); defaults to [`DEFAULT_FIELDS`]. Entries are split on whitespace and commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl ZscalerOptions {
    /// The column names of a CSV or TSV feed, lower-case: the `fields` option split on
    /// whitespace and commas, or [`DEFAULT_FIELDS`].
    pub fn column_names(&self) -> Vec<String> {
        match &self.fields {
            None => DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
            Some(list) => list
                .iter()
                .flat_map(|s| s.split(|c: char| c == ',' || c.is_ascii_whitespace()))
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_lowercase())
                .collect(),
        }
    }
}

/// The NSS fields sweep reads; every other field is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Time,
    EpochTime,
    Login,
    Proto,
    Eurl,
    Url,
    Action,
    ReqSize,
    RespSize,
    Ctime,
    UrlCat,
    Cip,
    Sip,
    ReqMethod,
    RespCode,
    Ua,
    Ereferer,
    Referer,
    ContentType,
}

const NF: usize = F::ContentType as usize + 1;

/// The names of the NSS fields sweep reads (exact, lower-case, as NSS writes JSON keys), in
/// the order of the fields they feed ([`F`]); every other field is ignored. Public for other
/// engines' translations of this parser.
pub const READ_FIELDS: [&str; NF] = [
    "time",
    "epochtime",
    "login",
    "proto",
    "eurl",
    "url",
    "action",
    "reqsize",
    "respsize",
    "ctime",
    "urlcat",
    "cip",
    "sip",
    "reqmethod",
    "respcode",
    "ua",
    "ereferer",
    "referer",
    "contenttype",
];

/// The field each name of [`READ_FIELDS`] feeds.
const FEEDS: [F; NF] = [
    F::Time,
    F::EpochTime,
    F::Login,
    F::Proto,
    F::Eurl,
    F::Url,
    F::Action,
    F::ReqSize,
    F::RespSize,
    F::Ctime,
    F::UrlCat,
    F::Cip,
    F::Sip,
    F::ReqMethod,
    F::RespCode,
    F::Ua,
    F::Ereferer,
    F::Referer,
    F::ContentType,
];

impl F {
    /// The field of an NSS name.
    fn of(name: &str) -> Option<F> {
        READ_FIELDS.iter().position(|n| *n == name).map(|i| FEEDS[i])
    }
}

/// A field's value: text from CSV/TSV or a JSON string, or a JSON number.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
}

type Vals<'a> = [Option<Val<'a>>; NF];

/// The NSS parser.
pub struct Zscaler {
    layout: ZscalerLayout,
    /// For CSV/TSV: the field of each column (`None`: ignored).
    cols: Vec<Option<F>>,
    /// The column names, lower-case (header-row detection, messages).
    names: Vec<String>,
    custom: bool,
}

impl Zscaler {
    pub fn new(o: &ZscalerOptions) -> Result<Self, FormatError> {
        let invalid = |message: &str| FormatError::Invalid { format: "zscaler", message: message.to_string() };
        if o.fields.is_some() && o.layout == ZscalerLayout::Json {
            return Err(invalid("fields applies to the csv and tsv layouts; JSON lines are read by key"));
        }
        let names = o.column_names();
        if names.is_empty() {
            return Err(invalid("fields is empty"));
        }
        let cols: Vec<Option<F>> = names.iter().map(|n| F::of(n)).collect();
        if !cols.iter().any(|c| matches!(c, Some(F::Time | F::EpochTime))) {
            return Err(invalid("fields names no time field (time or epochtime)"));
        }
        Ok(Zscaler { layout: o.layout, cols, names, custom: o.fields.is_some() })
    }

    /// Splits a CSV or TSV line into `vals`; `Ok(true)` for a header row (every value equal
    /// to its column's name).
    fn delimited<'a>(&self, line: &'a str, sep: u8, vals: &mut Vals<'a>) -> Result<bool, Reject> {
        let mut rd = Delimited { line, pos: 0, sep, done: false };
        let mut n = 0;
        let mut header_row = false;
        while let Some(v) = rd.next_field().map_err(|why| reject(RejectReason::Malformed, format!("field {}: {why}", n + 1)))? {
            if let Some(name) = self.names.get(n) {
                header_row = (n == 0 || header_row) && v.eq_ignore_ascii_case(name);
                if let Some(f) = self.cols[n] {
                    vals[f as usize] = Some(Val::Text(v));
                }
            }
            n += 1;
        }
        if n != self.cols.len() {
            let which = if self.custom { "the fields option" } else { "the default NSS web layout" };
            return Err(reject(RejectReason::FieldCount, format!("the line has {n} fields; {which} has {}", self.cols.len())));
        }
        Ok(header_row)
    }
}

impl LineParser for Zscaler {
    fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Outcome {
        if line.starts_with('#') {
            return Outcome::Skipped;
        }
        let mut vals: Vals<'a> = [const { None }; NF];
        let read = match self.layout {
            ZscalerLayout::Csv => self.delimited(line, b',', &mut vals),
            ZscalerLayout::Tsv => self.delimited(line, b'\t', &mut vals),
            ZscalerLayout::Json => json_object(line, &mut vals).map(|()| false),
        };
        match read {
            Err(why) => Outcome::Reject(why),
            Ok(true) => Outcome::Skipped,
            Ok(false) => apply(&mut vals, rec).into(),
        }
    }
}

/// A CSV/TSV field reader. A field that starts with `"` runs to a `"` followed by the
/// separator or the line end; `""` inside it is one `"` (the only case that allocates); a
/// lone `"` elsewhere is kept as written.
struct Delimited<'a> {
    line: &'a str,
    pos: usize,
    sep: u8,
    done: bool,
}

impl<'a> Delimited<'a> {
    fn next_field(&mut self) -> Result<Option<Cow<'a, str>>, &'static str> {
        if self.done {
            return Ok(None);
        }
        let b = self.line.as_bytes();
        let start = self.pos;
        if b.get(start) == Some(&b'"') {
            let mut i = start + 1;
            let mut pairs = false;
            loop {
                let Some(k) = memchr::memchr(b'"', &b[i..]) else { return Err("no closing double quote") };
                let q = i + k;
                match b.get(q + 1) {
                    Some(b'"') => {
                        pairs = true;
                        i = q + 2;
                    }
                    Some(&c) if c != self.sep => i = q + 1,
                    next => {
                        self.done = next.is_none();
                        self.pos = q + 2;
                        let raw = &self.line[start + 1..q];
                        return Ok(Some(if pairs { Cow::Owned(raw.replace("\"\"", "\"")) } else { Cow::Borrowed(raw) }));
                    }
                }
            }
        }
        match memchr::memchr(self.sep, &b[start..]) {
            Some(k) => {
                self.pos = start + k + 1;
                Ok(Some(Cow::Borrowed(&self.line[start..start + k])))
            }
            None => {
                self.done = true;
                Ok(Some(Cow::Borrowed(&self.line[start..])))
            }
        }
    }
}

/// Reads one JSON object (flat, or with the fields under `event`) into `vals`.
fn json_object<'a>(line: &'a str, vals: &mut Vals<'a>) -> Result<(), Reject> {
    let mut de = serde_json::Deserializer::from_str(line);
    ObjectSeed { vals, nested: false }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| reject(RejectReason::BadJson, format!("not an NSS JSON object: {e}")))
}

struct ObjectSeed<'s, 'a> {
    vals: &'s mut Vals<'a>,
    /// Inside `event`: a value that is not an object is ignored there, not an error.
    nested: bool,
}

impl<'s, 'a> ObjectSeed<'s, 'a> {
    fn other<E: de::Error>(self, what: Unexpected<'_>) -> Result<(), E> {
        if self.nested { Ok(()) } else { Err(E::invalid_type(what, &self)) }
    }
}

impl<'s, 'a> DeserializeSeed<'a> for ObjectSeed<'s, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'s, 'a> Visitor<'a> for ObjectSeed<'s, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
            match F::of(&key) {
                Some(f) => self.vals[f as usize] = map.next_value::<JVal<'a>>()?.0,
                None if !self.nested && key == "event" => map.next_value_seed(ObjectSeed { vals: &mut *self.vals, nested: true })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.other(Unexpected::Seq)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.other(Unexpected::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.other(Unexpected::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.other(Unexpected::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.other(Unexpected::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.other(Unexpected::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.other(Unexpected::Unit)
    }
}

/// An object key, borrowed from the line unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field's JSON value: a string (borrowed unless escaped), a number, or null.
struct JVal<'a>(Option<Val<'a>>);

impl<'de> Deserialize<'de> for JVal<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JVal<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(Val::Text(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(Val::Text(Cow::Owned(v.to_owned())))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(Val::Int(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(i64::try_from(v).map_or(Val::Float(v as f64), Val::Int))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(Val::Float(v))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JVal<'de>, E> {
                Ok(JVal(Some(Val::Text(Cow::Borrowed(if v { "true" } else { "false" })))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<JVal<'de>, E> {
                Ok(JVal(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// NSS writes these for "no value".
fn is_null(s: &str) -> bool {
    matches!(s, "" | "None" | "NA" | "N/A")
}

fn take<'a>(vals: &mut Vals<'a>, f: F) -> Option<Val<'a>> {
    match vals[f as usize].take() {
        Some(Val::Text(t)) if is_null(&t) => None,
        v => v,
    }
}

fn text<'a>(v: Option<Val<'a>>) -> Option<Cow<'a, str>> {
    match v? {
        Val::Text(t) => Some(t),
        Val::Int(i) => Some(Cow::Owned(i.to_string())),
        Val::Float(x) => Some(Cow::Owned(x.to_string())),
    }
}

fn int(v: Option<Val<'_>>, what: &'static str) -> Result<Option<i64>, Reject> {
    match v {
        None => Ok(None),
        Some(Val::Int(i)) => Ok(Some(i)),
        Some(Val::Float(x)) if x.fract() == 0.0 && x.abs() < 9e15 => Ok(Some(x as i64)),
        Some(Val::Float(x)) => Err(reject(RejectReason::BadNumber, format!("{what} is not a whole number: {x}"))),
        Some(Val::Text(t)) => fields::int_field(&t, what),
    }
}

fn timestamp(time: Option<Val<'_>>, epoch: Option<Val<'_>>) -> Result<i64, Reject> {
    let from_epoch = |v: Val<'_>, what: &str| -> Result<i64, Reject> {
        let bad = || reject(RejectReason::BadTimestamp, format!("{what} is not epoch seconds: {:?}", v));
        match &v {
            Val::Int(s) => s.checked_mul(1_000_000).ok_or_else(bad),
            Val::Float(s) if s.is_finite() && s.abs() < 1e12 => Ok((s * 1e6).round() as i64),
            Val::Float(_) => Err(bad()),
            Val::Text(t) => time::parse_epoch_seconds(t).ok_or_else(bad),
        }
    };
    match (time, epoch) {
        (Some(Val::Text(t)), _) => time::parse_ctime(&t).or_else(|| time::parse_rfc3339(&t)).ok_or_else(|| {
            reject(RejectReason::BadTimestamp, format!("time is not a ctime-style date (Mon Jun 20 15:29:11 2022): {:?}", truncate(&t)))
        }),
        (Some(v), _) => from_epoch(v, "time"),
        (None, Some(v)) => from_epoch(v, "epochtime"),
        (None, None) => Err(reject(RejectReason::BadTimestamp, "the record has no time")),
    }
}

/// The URL scheme of an NSS `proto` value, when it names one.
fn proto_scheme(proto: &str) -> Option<&'static str> {
    if proto.eq_ignore_ascii_case("HTTP") {
        Some("http")
    } else if proto.eq_ignore_ascii_case("HTTPS") || proto.eq_ignore_ascii_case("SSL") {
        Some("https")
    } else if proto.eq_ignore_ascii_case("FTP") {
        Some("ftp")
    } else {
        None
    }
}

/// Fills the record from the values of one line, whatever the layout.
fn apply<'a>(vals: &mut Vals<'a>, rec: &mut Record<'a>) -> Result<(), Reject> {
    rec.ts_micros = Some(timestamp(take(vals, F::Time), take(vals, F::EpochTime))?);
    rec.user = text(take(vals, F::Login));
    rec.method = text(take(vals, F::ReqMethod));
    let is_connect = rec.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
    if let Some(url) = text(take(vals, F::Eurl)).or_else(|| text(take(vals, F::Url))) {
        set_url_cow(rec, url, is_connect.then_some("CONNECT"));
        // NSS URLs carry no scheme; `proto` gives it, except for CONNECT tunnels.
        if rec.scheme.is_none()
            && !is_connect
            && let Some(scheme) = text(take(vals, F::Proto)).as_deref().and_then(proto_scheme)
        {
            rec.scheme = Some(Cow::Borrowed(scheme));
            rec.port = rec.port.or_else(|| default_port(scheme));
        }
    }
    rec.proxy_action = text(take(vals, F::Action));
    rec.request_bytes = int(take(vals, F::ReqSize), "reqsize")?;
    rec.response_bytes = int(take(vals, F::RespSize), "respsize")?;
    rec.duration_ms = int(take(vals, F::Ctime), "ctime")?;
    rec.category = text(take(vals, F::UrlCat));
    if let Some(ip) = text(take(vals, F::Cip)) {
        rec.client_ip = ip_cow(&ip, "cip")?;
    }
    if let Some(ip) = text(take(vals, F::Sip)) {
        rec.server_ip = ip_cow(&ip, "sip")?;
    }
    rec.status = match take(vals, F::RespCode) {
        None => None,
        Some(Val::Text(t)) => fields::status_field(&t)?,
        Some(v) => match int(Some(v), "respcode")? {
            Some(n) if (0..=999).contains(&n) => Some(n as i32),
            other => return Err(reject(RejectReason::BadNumber, format!("respcode out of range: {other:?}"))),
        },
    };
    rec.user_agent = text(take(vals, F::Ua));
    rec.referrer = text(take(vals, F::Ereferer)).or_else(|| text(take(vals, F::Referer)));
    rec.content_type = text(take(vals, F::ContentType));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(layout: ZscalerLayout) -> Zscaler {
        Zscaler::new(&ZscalerOptions { layout, fields: None }).unwrap()
    }

    fn parse_ok<'a>(p: &mut Zscaler, line: &'a str) -> Record<'a> {
        let mut rec = Record::default();
        let out = p.parse(line, &mut rec);
        assert_eq!(out, Outcome::Event, "{line}");
        rec
    }

    fn parse_err(p: &mut Zscaler, line: &str) -> Reject {
        let mut rec = Record::default();
        match p.parse(line, &mut rec) {
            Outcome::Reject(r) => r,
            other => panic!("expected a reject for {line:?}, got {other:?}"),
        }
    }

    fn check_example(r: &Record<'_>) {
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
        assert_eq!(r.user.as_deref(), Some("jdoe@example.com"));
        assert_eq!(r.url.as_deref(), Some("www.example.com/search?q=proxy"));
        assert_eq!(r.scheme.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("www.example.com"));
        assert_eq!(r.port, Some(443));
        assert_eq!(r.path.as_deref(), Some("/search"));
        assert_eq!(r.query.as_deref(), Some("q=proxy"));
        assert_eq!(r.proxy_action.as_deref(), Some("Allowed"));
        assert_eq!(r.request_bytes, Some(732));
        assert_eq!(r.response_bytes, Some(18354));
        assert_eq!(r.duration_ms, Some(187));
        assert_eq!(r.category.as_deref(), Some("Web Search"));
        assert_eq!(r.client_ip.as_deref(), Some("10.20.30.40"));
        assert_eq!(r.server_ip.as_deref(), Some("142.250.72.4"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.status, Some(200));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"));
        assert_eq!(r.referrer, None);
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
    }

    #[test]
    fn csv_example() {
        let mut p = parser(ZscalerLayout::Csv);
        let r = parse_ok(&mut p, EXAMPLE);
        check_example(&r);
        assert!(matches!(r.user_agent, Some(Cow::Borrowed(_))));
        assert!(matches!(r.url, Some(Cow::Borrowed(_))));
    }

    fn unquote_csv(line: &str) -> Vec<String> {
        let mut rd = Delimited { line, pos: 0, sep: b',', done: false };
        let mut out = vec![];
        while let Some(v) = rd.next_field().unwrap() {
            out.push(v.into_owned());
        }
        out
    }

    #[test]
    fn tsv_and_json_give_the_same_record() {
        let values = unquote_csv(EXAMPLE);
        assert_eq!(values.len(), 34);
        let tsv = values.join("\t");
        check_example(&parse_ok(&mut parser(ZscalerLayout::Tsv), &tsv));
        let obj: serde_json::Map<String, serde_json::Value> =
            DEFAULT_FIELDS.iter().zip(&values).map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        let flat = serde_json::Value::Object(obj).to_string();
        let mut pj = parser(ZscalerLayout::Json);
        check_example(&parse_ok(&mut pj, &flat));
        let wrapped = format!("{{ \"sourcetype\" : \"zscalernss-web\", \"event\" :{flat}}}");
        let r = parse_ok(&mut pj, &wrapped);
        check_example(&r);
        assert!(matches!(r.user_agent, Some(Cow::Borrowed(_))), "JSON strings without escapes are borrowed");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(unquote_csv(r#""a""b",c,"",,"x,y""#), ["a\"b", "c", "", "", "x,y"]);
        assert_eq!(unquote_csv(r#""say "hi" now",b"#), ["say \"hi\" now", "b"]);
        assert_eq!(unquote_csv("a,"), ["a", ""]);
        assert_eq!(unquote_csv(r#""""""#), ["\""]);
        let mut rd = Delimited { line: "\"open,b", pos: 0, sep: b',', done: false };
        assert!(rd.next_field().is_err());
        let mut p = parser(ZscalerLayout::Csv);
        let line = EXAMPLE.replace("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Agent \"\"X\"\", v1");
        assert_eq!(parse_ok(&mut p, &line).user_agent.as_deref(), Some("Agent \"X\", v1"));
        let e = parse_err(&mut p, &EXAMPLE.replace(",\"N/A\"", ",\"N/A"));
        assert_eq!(e.reason, RejectReason::Malformed);
        assert_eq!(e.detail, "field 34: no closing double quote");
    }

    #[test]
    fn field_count_and_bad_values() {
        let mut p = parser(ZscalerLayout::Csv);
        let e = parse_err(&mut p, &EXAMPLE.replace(",\"N/A\"", ""));
        assert_eq!(e.reason, RejectReason::FieldCount);
        assert_eq!(e.detail, "the line has 33 fields; the default NSS web layout has 34");
        assert_eq!(parse_err(&mut p, &format!("{EXAMPLE},\"x\"")).reason, RejectReason::FieldCount);
        assert_eq!(parse_err(&mut p, &EXAMPLE.replace("10.20.30.40", "10.20.30")).reason, RejectReason::BadIp);
        assert_eq!(parse_err(&mut p, &EXAMPLE.replace("\"732\"", "\"7x2\"")).reason, RejectReason::BadNumber);
        assert_eq!(parse_err(&mut p, &EXAMPLE.replace("\"200\"", "\"2000\"")).reason, RejectReason::BadNumber);
        let e = parse_err(&mut p, &EXAMPLE.replace("Mon Jun 20", "Mon Jun 31"));
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        assert!(e.detail.contains("Mon Jun 31 15:29:11 2022"), "{}", e.detail);
        assert_eq!(parse_err(&mut p, &EXAMPLE.replace("Mon Jun 20 15:29:11 2022", "None")).reason, RejectReason::BadTimestamp);
    }

    #[test]
    fn null_values_and_connect() {
        let mut p = parser(ZscalerLayout::Csv);
        let line = EXAMPLE
            .replace("\"jdoe@example.com\"", "\"NA\"")
            .replace("\"GET\"", "\"CONNECT\"")
            .replace("www.example.com/search?q=proxy", "www.example.com:443")
            .replace("\"HTTPS\"", "\"HTTP_PROXY\"")
            .replace("\"200\"", "\"N/A\"")
            .replace("\"142.250.72.4\"", "\"None\"")
            .replace("\"732\"", "\"\"");
        let r = parse_ok(&mut p, &line);
        assert_eq!((r.user.as_deref(), r.status, r.server_ip.as_deref(), r.request_bytes), (None, None, None, None));
        assert_eq!(
            (r.url.as_deref(), r.scheme.as_deref(), r.host.as_deref(), r.port),
            (Some("www.example.com:443"), None, Some("www.example.com"), Some(443))
        );
        // CONNECT with proto HTTP: still no scheme, the port defaults to 443.
        let line = line.replace("www.example.com:443", "www.example.com").replace("\"HTTP_PROXY\"", "\"HTTP\"");
        let r = parse_ok(&mut p, &line);
        assert_eq!((r.scheme.as_deref(), r.port), (None, Some(443)));
        // proto HTTP on a GET: scheme http, port 80.
        let http = EXAMPLE.replace("\"HTTPS\"", "\"HTTP\"");
        let r = parse_ok(&mut p, &http);
        assert_eq!((r.scheme.as_deref(), r.port), (Some("http"), Some(80)));
        // An unknown proto leaves the scheme and port unknown.
        let dns = EXAMPLE.replace("\"HTTPS\"", "\"DNS\"");
        let r = parse_ok(&mut p, &dns);
        assert_eq!((r.scheme.as_deref(), r.port), (None, None));
    }

    #[test]
    fn json_numbers_escapes_and_errors() {
        let mut p = parser(ZscalerLayout::Json);
        let line = concat!(
            r#"{"time":"Mon Jun 20 15:29:11 2022","eurl":"a.example\/x?y=1","reqmethod":"GET","proto":"HTTPS","#,
            r#""reqsize":12,"respsize":3.0,"ctime":7,"respcode":404,"cip":"10.0.0.1","ua":"A \"B\"","login":null,"#,
            r#""extra":{"nested":[1,2]}}"#,
        );
        let r = parse_ok(&mut p, line);
        assert_eq!((r.request_bytes, r.response_bytes, r.duration_ms, r.status), (Some(12), Some(3), Some(7), Some(404)));
        assert_eq!(r.user_agent.as_deref(), Some("A \"B\""));
        assert_eq!(
            (r.url.as_deref(), r.host.as_deref(), r.path.as_deref(), r.query.as_deref()),
            (Some("a.example/x?y=1"), Some("a.example"), Some("/x"), Some("y=1"))
        );
        assert_eq!(r.user, None);
        let r = parse_ok(&mut p, r#"{"epochtime":1655738951,"cip":"10.0.0.1"}"#);
        assert_eq!(time::format_micros(r.ts_micros.unwrap()), "2022-06-20T15:29:11.000000Z");
        for bad in ["{", "[1,2]", "\"x\"", "{\"time\":\"Mon Jun 20 15:29:11 2022\"} x", "{\"ua\":{\"a\":1}}", "not json"] {
            let e = parse_err(&mut p, bad);
            assert_eq!(e.reason, RejectReason::BadJson, "{bad}: {}", e.detail);
        }
        // A non-object `event` is ignored, the flat fields still count.
        assert!(parse_ok(&mut p, r#"{"event":"x","time":"Mon Jun 20 15:29:11 2022"}"#).ts_micros.is_some());
        assert_eq!(parse_err(&mut p, r#"{"sourcetype":"zscalernss-web"}"#).reason, RejectReason::BadTimestamp);
    }

    #[test]
    fn custom_fields_comments_and_header_rows() {
        let o = ZscalerOptions { layout: ZscalerLayout::Tsv, fields: Some(vec!["time,cip".into(), "eurl respcode".into(), "Foo".into()]) };
        let mut p = Zscaler::new(&o).unwrap();
        let r = parse_ok(&mut p, "Mon Jun 20 15:29:11 2022\t10.0.0.1\twww.example.com/\t302\tbar");
        assert_eq!((r.client_ip.as_deref(), r.status, r.host.as_deref()), (Some("10.0.0.1"), Some(302), Some("www.example.com")));
        assert_eq!(p.parse("TIME\tcip\teurl\trespcode\tfoo", &mut Record::default()), Outcome::Skipped);
        assert_eq!(p.parse("# a comment", &mut Record::default()), Outcome::Skipped);
        let e = parse_err(&mut p, "Mon Jun 20 15:29:11 2022\t10.0.0.1");
        assert_eq!(e.detail, "the line has 2 fields; the fields option has 5");
        assert!(Zscaler::new(&ZscalerOptions { layout: ZscalerLayout::Json, fields: Some(vec!["time".into()]) }).is_err());
        assert!(Zscaler::new(&ZscalerOptions { layout: ZscalerLayout::Csv, fields: Some(vec![]) }).is_err());
        assert!(Zscaler::new(&ZscalerOptions { layout: ZscalerLayout::Csv, fields: Some(vec!["cip".into()]) }).is_err());
    }

    #[test]
    fn docs_json_example() {
        // The JSON example of docs/formats/zscaler.md.
        let line = concat!(
            r#"{"sourcetype":"zscalernss-web","event":{"time":"Mon Jun 20 15:29:11 2022","#,
            r#""login":"jdoe@example.com","proto":"HTTPS","eurl":"www.example.com/search?q=proxy","#,
            r#""action":"Allowed","reqsize":732,"respsize":18354,"stime":41,"ctime":187,"urlcat":"Web Search","#,
            r#""cip":"10.20.30.40","sip":"142.250.72.4","reqmethod":"GET","respcode":200,"#,
            r#""ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","ereferer":"None","contenttype":"text/html"}}"#,
        );
        let mut p = parser(ZscalerLayout::Json);
        check_example(&parse_ok(&mut p, line));
    }

    #[test]
    fn options_from_serde() {
        let o: ZscalerOptions = serde_json::from_str(r#"{"layout": "json"}"#).unwrap();
        assert_eq!(o, ZscalerOptions { layout: ZscalerLayout::Json, fields: None });
        assert_eq!(serde_json::from_str::<ZscalerOptions>("{}").unwrap(), ZscalerOptions::default());
        assert!(serde_json::from_str::<ZscalerOptions>(r#"{"layout": "xml"}"#).is_err());
        assert!(serde_json::from_str::<ZscalerOptions>(r#"{"delimiter": ","}"#).is_err());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for layout in [ZscalerLayout::Csv, ZscalerLayout::Tsv, ZscalerLayout::Json] {
            let mut p = parser(layout);
            for l in ["\"", "\"\"", ",", "\t", "\"\u{e9}\"\u{e9},\"", "{\"time\":1e400}", "{\"time\":-1}", "{\"time\":1.5e300}"] {
                let _ = p.parse(l, &mut Record::default());
            }
        }
    }
}

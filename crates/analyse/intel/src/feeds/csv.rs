//! CSV feeds: a configurable value column and delimiter, and presets for the layouts abuse.ch
//! and Spamhaus publish.
//!
//! Fields may be quoted (`"a, b"`, `""` for a quote) and may have blanks around them (ThreatFox
//! separates fields with `", "`). Lines starting with `#` are comments (and `;` for the
//! Spamhaus DROP preset). A header naming the columns is either the first line that is not a
//! comment, or a comment line like `# id,dateadded,url,...` (the last comment line with several
//! fields before the data). A trailer `# END n entries` (Feodo Tracker) is checked: a different
//! number of data rows means a truncated download and is an error.
//!
//! | preset | value column | type | valid_from | tags | description | other |
//! |---|---|---|---|---|---|---|
//! | `urlhaus` | `url` | classified | `dateadded` | `tags` | `threat` | `None` = empty |
//! | `feodo` | `dst_ip` | classified | `first_seen_utc` | | `malware` | |
//! | `threatfox` | `ioc_value` | `ioc_type` | `first_seen_utc` | `threat_type`, `tags` | `malware_printable` | `confidence_level`, `None` |
//! | `spamhaus_drop` | 0 (`cidr ; SBLnnn`) | classified | | | 1 (the SBL id) | `;` comments |

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Collector, FeedError, FeedSpec, lines, time};
use crate::model::IndicatorType;
use crate::normalize;

/// A CSV column, by header name or 0-based index (`column = "url"` / `column = 2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Index(i) => write!(f, "column {i}"),
            Column::Name(n) => write!(f, "column {n:?}"),
        }
    }
}

/// Known CSV layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvPreset {
    /// abuse.ch URLhaus CSV dump.
    Urlhaus,
    /// abuse.ch Feodo Tracker `ipblocklist.csv`.
    Feodo,
    /// abuse.ch ThreatFox CSV export.
    Threatfox,
    /// Spamhaus DROP / EDROP (`cidr ; SBLnnn`).
    SpamhausDrop,
}

/// How a CSV feed is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvOptions {
    pub preset: Option<CsvPreset>,
    pub delimiter: u8,
    /// Characters that start a comment line.
    pub comments: String,
    /// `Some(true)`: the first line that is not a comment is a header; `Some(false)`: no
    /// header; `None`: a commented header line if there is one, else the first line.
    pub header: Option<bool>,
    pub value: Column,
    /// A column naming each row's indicator type (ThreatFox `ioc_type`).
    pub type_column: Option<Column>,
    pub valid_from: Option<Column>,
    pub confidence: Option<Column>,
    /// Columns of comma-separated tags.
    pub tags: Vec<Column>,
    pub description: Option<Column>,
    /// A field with exactly this text is empty (ThreatFox writes `None`).
    pub null: Option<String>,
}

impl CsvOptions {
    /// The options of a preset.
    pub fn preset(p: CsvPreset) -> Self {
        let name = |s: &str| Column::Name(s.to_string());
        let base = CsvOptions {
            preset: Some(p),
            delimiter: b',',
            comments: "#".into(),
            header: None,
            value: Column::Index(0),
            type_column: None,
            valid_from: None,
            confidence: None,
            tags: Vec::new(),
            description: None,
            null: None,
        };
        match p {
            CsvPreset::Urlhaus => CsvOptions {
                value: name("url"),
                valid_from: Some(name("dateadded")),
                tags: vec![name("tags")],
                description: Some(name("threat")),
                null: Some("None".into()),
                ..base
            },
            CsvPreset::Feodo => {
                CsvOptions { value: name("dst_ip"), valid_from: Some(name("first_seen_utc")), description: Some(name("malware")), ..base }
            }
            CsvPreset::Threatfox => CsvOptions {
                value: name("ioc_value"),
                type_column: Some(name("ioc_type")),
                valid_from: Some(name("first_seen_utc")),
                confidence: Some(name("confidence_level")),
                tags: vec![name("threat_type"), name("tags")],
                description: Some(name("malware_printable")),
                null: Some("None".into()),
                ..base
            },
            CsvPreset::SpamhausDrop => CsvOptions {
                delimiter: b';',
                comments: "#;".into(),
                header: Some(false),
                value: Column::Index(0),
                description: Some(Column::Index(1)),
                ..base
            },
        }
    }

    /// Generic CSV options from a spec (`column` required).
    pub(crate) fn from_spec(spec: &FeedSpec) -> Result<Self, FeedError> {
        let Some(value) = spec.column.clone() else {
            return Err(FeedError::config(&spec.path, "a CSV feed needs `column` (a header name or a 0-based index) or a `preset`"));
        };
        let base = CsvOptions {
            preset: None,
            delimiter: b',',
            comments: "#".into(),
            header: None,
            value,
            type_column: None,
            valid_from: None,
            confidence: None,
            tags: Vec::new(),
            description: None,
            null: None,
        };
        base.customised(spec, &spec.path)
    }

    /// Applies a spec's explicit CSV options over these.
    pub(crate) fn customised(mut self, spec: &FeedSpec, path: &Path) -> Result<Self, FeedError> {
        if let Some(d) = &spec.delimiter {
            self.delimiter = match d.as_str() {
                "\\t" | "tab" | "\t" => b'\t',
                s if s.len() == 1 && s.is_ascii() && s != "\"" => s.as_bytes()[0],
                s => return Err(FeedError::config(path, format!("delimiter {s:?} must be one ASCII character (or \"tab\")"))),
            };
        }
        if let Some(c) = &spec.column {
            self.value = c.clone();
        }
        if let Some(h) = spec.header {
            self.header = Some(h);
        }
        if let Some(c) = &spec.description_column {
            self.description = Some(c.clone());
        }
        if let Some(c) = &spec.tags_column {
            self.tags.push(c.clone());
        }
        if self.header == Some(false) {
            let named = std::iter::once(&self.value)
                .chain(self.type_column.iter())
                .chain(self.valid_from.iter())
                .chain(self.confidence.iter())
                .chain(self.tags.iter())
                .chain(self.description.iter())
                .find(|c| matches!(c, Column::Name(_)));
            if let Some(c) = named {
                return Err(FeedError::config(path, format!("{c} is a name but header = false; use an index")));
            }
        }
        Ok(self)
    }

    fn columns(&self) -> impl Iterator<Item = &Column> {
        std::iter::once(&self.value)
            .chain(self.type_column.iter())
            .chain(self.valid_from.iter())
            .chain(self.confidence.iter())
            .chain(self.tags.iter())
            .chain(self.description.iter())
    }
}

/// Splits one CSV line. Quoted fields may contain the delimiter and `""`; blanks around fields
/// are dropped.
pub(crate) fn split_fields(line: &str, delim: u8) -> Result<Vec<Cow<'_, str>>, String> {
    let b = line.as_bytes();
    let blank = |c: u8| (c == b' ' || c == b'\t') && c != delim;
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let start = i;
            let mut owned: Option<String> = None;
            loop {
                let Some(q) = memchr::memchr(b'"', &b[i..]) else {
                    return Err(format!("unclosed quote in field {}", out.len() + 1));
                };
                let q = i + q;
                if b.get(q + 1) == Some(&b'"') {
                    owned.get_or_insert_with(String::new).push_str(&line[i..=q]);
                    i = q + 2;
                    continue;
                }
                let field = match owned.take() {
                    Some(mut s) => {
                        s.push_str(&line[i..q]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&line[start..q]),
                };
                out.push(field);
                i = q + 1;
                break;
            }
            while i < b.len() && blank(b[i]) {
                i += 1;
            }
            if i == b.len() {
                return Ok(out);
            }
            if b[i] != delim {
                return Err(format!("text after the closing quote of field {}", out.len()));
            }
            i += 1;
        } else {
            let end = memchr::memchr(delim, &b[i..]).map_or(b.len(), |p| i + p);
            out.push(Cow::Borrowed(line[i..end].trim_matches(|c: char| c == ' ' || c == '\t')));
            if end == b.len() {
                return Ok(out);
            }
            i = end + 1;
        }
    }
}

/// Detects a known layout from the first lines of a file (its column header or banner).
pub fn detect_preset(text: &[u8]) -> Option<CsvPreset> {
    let head = &text[..text.len().min(16 * 1024)];
    let head = String::from_utf8_lossy(head);
    let mut data_lines = 0;
    for line in head.lines().take(200) {
        let t = line.trim();
        let squashed: String = t.trim_start_matches(['#', ' ']).chars().filter(|c| !matches!(c, '"' | ' ')).collect();
        if t.starts_with('#') && squashed.starts_with("id,dateadded,url,") {
            return Some(CsvPreset::Urlhaus);
        }
        if squashed.starts_with("first_seen_utc,dst_ip,") {
            return Some(CsvPreset::Feodo);
        }
        if squashed.starts_with("first_seen_utc,ioc_id,ioc_value,ioc_type") {
            return Some(CsvPreset::Threatfox);
        }
        if t.starts_with(';') && (t.contains("Spamhaus") || t.contains("spamhaus.org/drop")) {
            return Some(CsvPreset::SpamhausDrop);
        }
        if !t.is_empty() && !t.starts_with(['#', ';', '!']) {
            if let Some((net, sbl)) = t.split_once(';')
                && net.trim().contains('/')
                && sbl.trim().starts_with("SBL")
            {
                return Some(CsvPreset::SpamhausDrop);
            }
            data_lines += 1;
            if data_lines >= 5 {
                break;
            }
        }
    }
    None
}

fn resolve(col: &Column, header: Option<&[String]>, path: &Path, header_line: Option<u64>) -> Result<usize, FeedError> {
    match col {
        Column::Index(i) => Ok(*i),
        Column::Name(n) => {
            let Some(h) = header else {
                return Err(FeedError::format(
                    path,
                    None,
                    format!("{col} is named but the file has no header line"),
                    "set header = true, or give the column as a 0-based index",
                ));
            };
            h.iter().position(|f| f.eq_ignore_ascii_case(n)).ok_or_else(|| {
                FeedError::format(
                    path,
                    header_line,
                    format!("the header has no {col} (it has: {})", h.join(", ")),
                    "fix `column` (names are matched case-insensitively) or the preset",
                )
            })
        }
    }
}

struct Resolved {
    value: usize,
    type_column: Option<usize>,
    valid_from: Option<usize>,
    confidence: Option<usize>,
    tags: Vec<usize>,
    description: Option<usize>,
}

/// Maps a ThreatFox `ioc_type` to a normaliser.
fn typed_value(ioc_type: &str, raw: &str) -> Result<(IndicatorType, String), normalize::Invalid> {
    use IndicatorType as T;
    match ioc_type.trim().to_ascii_lowercase().as_str() {
        "ip:port" => {
            let host = match raw.trim().rsplit_once(':') {
                Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() && !h.ends_with(':') => h,
                _ => raw,
            };
            normalize::ip(host).map(|a| if a.is_ipv4() { (T::Ipv4, a.to_string()) } else { (T::Ipv6, a.to_string()) })
        }
        "ip" | "ipv4" | "ipv6" => normalize::typed_as(T::Ipv6, raw),
        "domain" | "hostname" => normalize::typed_as(T::Domain, raw),
        "url" => normalize::typed_as(T::Url, raw),
        "md5_hash" | "md5" => normalize::typed_as(T::Md5, raw),
        "sha1_hash" | "sha1" => normalize::typed_as(T::Sha1, raw),
        "sha256_hash" | "sha256" => normalize::typed_as(T::Sha256, raw),
        "email" | "email_address" => normalize::typed_as(T::Email, raw),
        other => Err(normalize::Invalid::new("unsupported_type", format!("ioc_type {other:?}"))),
    }
}

pub(crate) fn read(path: &Path, bytes: &[u8], opts: &CsvOptions, c: &mut Collector) -> Result<(), FeedError> {
    if memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some() {
        return Err(FeedError::format(path, None, "a binary file (NUL bytes), not CSV", "remove it from the feed folder"));
    }
    let is_comment = |t: &str| t.starts_with(|ch: char| opts.comments.contains(ch));
    let needs_names = opts.columns().any(|c| matches!(c, Column::Name(_)));
    // Header: a commented one (the last comment line with several fields before the data),
    // or the first line that is not a comment.
    let mut header: Option<Vec<String>> = None;
    let mut header_line: Option<u64> = None;
    if needs_names && opts.header != Some(false) {
        let mut last_commented: Option<(u64, Vec<String>)> = None;
        for (n, line) in lines(bytes) {
            let Ok(line) = line else { break };
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if is_comment(t) {
                let inner = t.trim_start_matches(|ch: char| opts.comments.contains(ch)).trim();
                if let Ok(f) = split_fields(inner, opts.delimiter)
                    && f.len() >= 2
                {
                    last_commented = Some((n, f.iter().map(|s| s.trim().to_string()).collect()));
                }
                continue;
            }
            let use_commented = opts.header.is_none() && last_commented.is_some();
            if use_commented {
                let (hn, h) = last_commented.take().unwrap_or_default();
                header_line = Some(hn);
                header = Some(h);
            } else {
                let f = split_fields(t, opts.delimiter).map_err(|e| {
                    FeedError::format(path, Some(n), format!("the header line is not CSV: {e}"), "fix the file or the delimiter")
                })?;
                header_line = Some(n);
                header = Some(f.iter().map(|s| s.trim().to_string()).collect());
            }
            break;
        }
    }
    let r = |col: &Column| resolve(col, header.as_deref(), path, header_line);
    let cols = Resolved {
        value: r(&opts.value)?,
        type_column: opts.type_column.as_ref().map(r).transpose()?,
        valid_from: opts.valid_from.as_ref().map(r).transpose()?,
        confidence: opts.confidence.as_ref().map(r).transpose()?,
        tags: opts.tags.iter().map(r).collect::<Result<_, _>>()?,
        description: opts.description.as_ref().map(r).transpose()?,
    };
    let value_type = c.defaults.value_type;
    let mut rows = 0u64;
    for (n, line) in lines(bytes) {
        c.units += 1;
        let loc = || format!("line {n}");
        let line = match line {
            Ok(l) => l,
            Err(b) => {
                c.refuse(loc(), &String::from_utf8_lossy(b), "not_utf8", "the line is not valid UTF-8");
                continue;
            }
        };
        let t = line.trim();
        if t.is_empty() || Some(n) == header_line {
            c.skipped += 1;
            continue;
        }
        if is_comment(t) {
            c.skipped += 1;
            let words: Vec<&str> = t.trim_start_matches(|ch: char| opts.comments.contains(ch)).split_whitespace().collect();
            if let ["END", count, "entries" | "entry"] = words.as_slice()
                && let Ok(expected) = count.parse::<u64>()
                && expected != rows
            {
                return Err(FeedError::Truncated { path: path.to_path_buf(), line: n, expected, found: rows });
            }
            continue;
        }
        rows += 1;
        let fields = match split_fields(line, opts.delimiter) {
            Ok(f) => f,
            Err(e) => {
                c.refuse(loc(), t, "malformed_line", e);
                continue;
            }
        };
        let get = |i: usize| -> Option<&str> {
            let f = fields.get(i)?.as_ref().trim();
            if f.is_empty() || opts.null.as_deref() == Some(f) { None } else { Some(f) }
        };
        let Some(raw) = get(cols.value) else {
            let detail = if fields.len() <= cols.value {
                format!("the row has {} fields; the value is field {}", fields.len(), cols.value + 1)
            } else {
                "the value field is empty".to_string()
            };
            c.refuse(loc(), t, "malformed_line", detail);
            continue;
        };
        let normalised = match (cols.type_column, value_type) {
            (Some(tc), _) => match get(tc) {
                Some(ty) => typed_value(ty, raw),
                None => Err(normalize::Invalid::new("unsupported_type", "the type field is empty")),
            },
            (None, Some(k)) => normalize::typed_as(k, raw),
            (None, None) => normalize::classify(raw),
        };
        let (kind, value) = match normalised {
            Ok(kv) => kv,
            Err(e) => {
                c.refuse(loc(), raw, e.reason, e.detail);
                continue;
            }
        };
        let mut ind = c.indicator(kind, value);
        if let Some(i) = cols.valid_from
            && let Some(s) = get(i)
        {
            match time::parse_timestamp(s) {
                Some(us) => ind.valid_from = Some(us),
                None => {
                    c.refuse(loc(), raw, "invalid_value", format!("valid-from time {s:?} is not a timestamp"));
                    continue;
                }
            }
        }
        if let Some(i) = cols.confidence
            && let Some(s) = get(i)
        {
            match s.parse::<u8>() {
                Ok(v) if v <= 100 => ind.confidence = Some(v),
                _ => {
                    c.refuse(loc(), raw, "invalid_value", format!("confidence {s:?} is not 0..=100"));
                    continue;
                }
            }
        }
        for &i in &cols.tags {
            if let Some(s) = get(i) {
                for tag in s.split(',').map(str::trim).filter(|t| !t.is_empty() && opts.null.as_deref() != Some(*t)) {
                    if !ind.tags.iter().any(|x| x == tag) {
                        ind.tags.push(tag.to_string());
                    }
                }
            }
        }
        if let Some(i) = cols.description {
            ind.description = get(i).map(str::to_string);
        }
        c.push(ind);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::{Defaults, FeedKind, FeedLoad};
    use IndicatorType as T;

    fn load(text: &str, opts: &CsvOptions) -> Result<FeedLoad, FeedError> {
        let mut c = Collector::new("t".into(), Defaults::default());
        read(Path::new("t.csv"), text.as_bytes(), opts, &mut c)?;
        Ok(c.finish(Path::new("t.csv"), FeedKind::Csv(opts.clone())))
    }

    #[test]
    fn splitting() {
        let f = |s: &str| split_fields(s, b',').map(|v| v.into_iter().map(|c| c.into_owned()).collect::<Vec<_>>());
        assert_eq!(f("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(f(r#""a,1","b""q""", c "#).unwrap(), ["a,1", "b\"q\"", "c"]);
        assert_eq!(f(r#""2024-01-01", "12", None, "x""#).unwrap(), ["2024-01-01", "12", "None", "x"]);
        assert_eq!(f("").unwrap(), [""]);
        assert_eq!(f(r#""a","#).unwrap(), ["a", ""]);
        assert!(f(r#""a"#).is_err());
        assert!(f(r#""a"x,b"#).is_err());
        assert_eq!(split_fields("1.2.3.0/24 ; SBL1", b';').unwrap(), ["1.2.3.0/24", "SBL1"]);
        assert_eq!(split_fields("a\tb", b'\t').unwrap(), ["a", "b"]);
    }

    #[test]
    fn presets_detected() {
        assert_eq!(detect_preset(b"# x\n# id,dateadded,url,url_status\n\"1\",\"2\"\n"), Some(CsvPreset::Urlhaus));
        assert_eq!(detect_preset(b"#\n\"first_seen_utc\",\"dst_ip\",\"dst_port\"\n"), Some(CsvPreset::Feodo));
        assert_eq!(detect_preset(b"# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\"\n"), Some(CsvPreset::Threatfox));
        assert_eq!(detect_preset(b"; Spamhaus DROP List\n"), Some(CsvPreset::SpamhausDrop));
        assert_eq!(detect_preset(b"1.10.16.0/20 ; SBL256894\n"), Some(CsvPreset::SpamhausDrop));
        assert_eq!(detect_preset(b"! Source: https://urlhaus.abuse.ch/api/\n1.2.3.4\n"), None);
        assert_eq!(detect_preset(b"a,b,c\n1,2,3\n"), None);
    }

    #[test]
    fn generic_by_name_and_index() {
        let mut o = CsvOptions::preset(CsvPreset::SpamhausDrop);
        o.preset = None;
        let text = "; comment\n1.10.16.0/20 ; SBL256894\n2001:db8::/32 ; SBL2\nbogus ; SBL3\n";
        let l = load(text, &o).unwrap();
        assert_eq!(l.indicators.len(), 2);
        assert_eq!(l.indicators[0].value, "1.10.16.0/20");
        assert_eq!(l.indicators[0].description.as_deref(), Some("SBL256894"));
        assert_eq!(l.indicators[1].kind, T::Cidr);
        assert_eq!(l.refused[0].reason, "invalid_value");
        assert_eq!(l.skipped, 1);

        let o = CsvOptions {
            header: None,
            ..CsvOptions::from_spec(&FeedSpec { column: Some(Column::Name("Host".into())), ..FeedSpec::new("x") }).unwrap()
        };
        let l = load("id,host,note\n1,Evil.com,x\n2,,y\n3\n", &o).unwrap();
        assert_eq!(l.indicators.len(), 1);
        assert_eq!(l.indicators[0].value, "evil.com");
        assert_eq!(l.refusal_counts().get("malformed_line"), Some(&2));
        assert_eq!(l.skipped, 1, "the header line");
        let e = load("id,name\n1,x\n", &o).unwrap_err();
        assert!(matches!(e, FeedError::Format { line: Some(1), .. }), "{e}");
        assert!(e.to_string().contains("has no column \"Host\""), "{e}");
    }

    #[test]
    fn trailer_checked() {
        let o = CsvOptions::preset(CsvPreset::Feodo);
        let ok = "#\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
                  \"2021-01-17 07:44:46\",\"192.0.2.1\",\"443\",\"online\",\"2024-08-06\",\"QakBot\"\n# END 1 entries\n";
        let l = load(ok, &o).unwrap();
        assert_eq!(l.indicators.len(), 1);
        assert_eq!(l.indicators[0].valid_from, Some(1_610_869_486_000_000));
        assert_eq!(l.indicators[0].description.as_deref(), Some("QakBot"));
        let bad = ok.replace("END 1", "END 2");
        assert!(matches!(load(&bad, &o), Err(FeedError::Truncated { expected: 2, found: 1, line: 4, .. })));
    }

    #[test]
    fn threatfox_types() {
        assert_eq!(typed_value("ip:port", "192.0.2.1:443").unwrap(), (T::Ipv4, "192.0.2.1".into()));
        assert_eq!(typed_value("ip:port", "[2001:db8::1]:443").unwrap(), (T::Ipv6, "2001:db8::1".into()));
        assert_eq!(typed_value("domain", "Evil.com").unwrap(), (T::Domain, "evil.com".into()));
        assert_eq!(typed_value("md5_hash", &"A".repeat(32)).unwrap(), (T::Md5, "a".repeat(32)));
        assert_eq!(typed_value("sha3_384_hash", "x").unwrap_err().reason, "unsupported_type");
        assert_eq!(typed_value("md5_hash", &"a".repeat(64)).unwrap_err().reason, "type_mismatch");
    }
}

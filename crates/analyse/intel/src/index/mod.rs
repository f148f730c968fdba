//! The match index: an immutable, versioned snapshot of the indicators (and the allowlist)
//! that the sweeper stage queries once per event.
//!
//! Matching semantics (docs/intel.md has them with examples):
//! - **ip** (`Ipv4`, `Ipv6`): the event address equals the indicator (IPv4-mapped IPv6 is
//!   IPv4) -> [`MatchKind::Exact`];
//! - **cidr**: the event address lies in the network -> [`MatchKind::Cidr`]; every network
//!   containing the address is found, not only the longest;
//! - addresses are checked in `server_ip`, `client_ip`, and in `host` when it is an IP literal;
//! - **domain**: `host` equals the indicator ([`MatchKind::Exact`]) or is a subdomain of it at a
//!   label boundary ([`MatchKind::Subdomain`]); an indicator that is a public suffix
//!   (ICANN or PRIVATE section of the Public Suffix List) matches exactly only; ASCII case and
//!   one trailing dot are ignored;
//! - **url**: the event URL, canonicalised with [`normalize::url`], equals the indicator;
//!   a URL without scheme, on either side, matches any scheme -> [`MatchKind::Url`];
//! - hashes and e-mail addresses are kept in the index (and in its version) but proxy events
//!   carry no such field, so they never match;
//! - **lifecycle**: an indicator matches only while `valid_from <= ts < valid_until`;
//! - **allowlist**: a match is suppressed when the event value that matched (the address, the
//!   host, the canonical URL) is itself allow-listed, with the same semantics as indicators
//!   (an allow-listed network covers its addresses, an allow-listed domain its subdomains
//!   unless it is a public suffix, a scheme-less URL every scheme); suppressions are counted;
//! - each matching indicator gives its own [`Hit`], at most one per event, naming the first
//!   configured field (in the configured order) where it matched and was not suppressed.

mod event;
mod sets;
mod table;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::feeds::FeedLoad;
use crate::model::{Indicator, IndicatorType, Refusal};
use crate::normalize::{self, Invalid};
use event::{event_url, parse_ip, parse_v4};
use sets::{Entry, Key, Sets, url_rest_start};
use table::ContentHash;

/// Which field of an event is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    ServerIp,
    ClientIp,
    Host,
    Url,
}

impl MatchField {
    /// The default: the destination of the request.
    pub const DEFAULT: [MatchField; 3] = [MatchField::ServerIp, MatchField::Host, MatchField::Url];
    pub const ALL: [MatchField; 4] = [MatchField::ServerIp, MatchField::ClientIp, MatchField::Host, MatchField::Url];

    pub fn as_str(self) -> &'static str {
        match self {
            MatchField::ServerIp => "server_ip",
            MatchField::ClientIp => "client_ip",
            MatchField::Host => "host",
            MatchField::Url => "url",
        }
    }
}

impl fmt::Display for MatchField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MatchField {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MatchField::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown match field {s:?}: use one of server_ip, client_ip, host, url"))
    }
}

/// How an indicator matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The address or domain equals the indicator.
    Exact,
    /// The address lies in the indicator's network.
    Cidr,
    /// The host is a subdomain of the indicator.
    Subdomain,
    /// The canonical URL equals the indicator.
    Url,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Cidr => "cidr",
            MatchKind::Subdomain => "subdomain",
            MatchKind::Url => "url",
        }
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of one event that matching reads, borrowed from the engine's columns.
/// Text as the `events` table holds it; `-` and empty strings count as absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventView<'a> {
    /// The event time, µs since the epoch (UTC): checked against indicator validity.
    pub ts_micros: i64,
    pub server_ip: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: Option<&'a str>,
    /// The request target as logged: absolute, origin-form (`/p?q`), scheme-less (`host/p`),
    /// or a CONNECT `host:port` (no URL).
    pub url: Option<&'a str>,
    /// The parsed parts, used to assemble the URL when `url` is not absolute.
    pub scheme: Option<&'a str>,
    pub port: Option<u16>,
    pub path: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// One indicator matching one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    /// The indicator's id in this index ([`IntelIndex::indicator`]).
    pub indicator: u32,
    pub match_kind: MatchKind,
    pub matched_field: MatchField,
}

/// Counters of a matching run, plus scratch buffers that let [`IntelIndex::match_event`] run
/// without allocating. Keep one per thread and add them up with [`MatchStats::add`].
#[derive(Debug, Clone, Default)]
pub struct MatchStats {
    /// Events matched.
    pub events: u64,
    /// Hits written.
    pub hits: u64,
    /// (event, indicator) pairs that matched but were suppressed by the allowlist.
    pub suppressed: u64,
    /// (event, indicator) pairs whose value matched while the indicator was not valid at the
    /// event's time (before `valid_from` or from `valid_until` on).
    pub inactive: u64,
    /// Event URLs canonicalised (those whose host is the host of some URL indicator).
    pub urls_canonicalised: u64,
    scratch: Scratch,
}

impl MatchStats {
    /// Add another thread's counters.
    pub fn add(&mut self, other: &MatchStats) {
        self.events += other.events;
        self.hits += other.hits;
        self.suppressed += other.suppressed;
        self.inactive += other.inactive;
        self.urls_canonicalised += other.urls_canonicalised;
    }
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    url: String,
    held: Vec<(u32, Held)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Inactive,
    Suppressed,
}

/// Values that never raise a hit. Build it with [`AllowList::from_values`] or
/// [`AllowList::add`]; values are normalised like indicators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    pub ips: Vec<IpAddr>,
    /// Networks (address masked, prefix length): every address inside is allow-listed.
    pub cidrs: Vec<(IpAddr, u8)>,
    /// Domains: the domain and its subdomains are allow-listed, except that a public suffix
    /// allow-lists itself only.
    pub domains: Vec<String>,
    /// Canonical URLs; a scheme-less one allow-lists the URL under any scheme.
    pub urls: Vec<String>,
    /// Entries that could not be used, with the reason.
    pub refused: Vec<Refusal>,
}

impl AllowList {
    pub fn new() -> AllowList {
        AllowList::default()
    }

    /// Normalise and add one value of a stated type (`typed_as` rules: an address written
    /// `a/n` is a network). Hashes and e-mail addresses cannot be allow-listed.
    pub fn add(&mut self, kind: IndicatorType, raw: &str) -> Result<(), Invalid> {
        let (k, v) = normalize::typed_as(kind, raw)?;
        match k {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => self.ips.push(normalize::ip(&v)?),
            IndicatorType::Cidr => self.cidrs.push(normalize::cidr(&v)?),
            IndicatorType::Domain => self.domains.push(v),
            IndicatorType::Url => self.urls.push(v),
            other => {
                return Err(Invalid::new(
                    "unsupported_type",
                    format!("{other} values cannot be allow-listed: use IP addresses, networks, domains or URLs"),
                ));
            }
        }
        Ok(())
    }

    /// Build from (type, value) pairs; values that cannot be used go to `refused` (feed
    /// `allowlist`, location `entry N`, 1-based).
    pub fn from_values<S: AsRef<str>>(values: impl IntoIterator<Item = (IndicatorType, S)>) -> AllowList {
        let mut a = AllowList::new();
        for (i, (kind, raw)) in values.into_iter().enumerate() {
            if let Err(e) = a.add(kind, raw.as_ref()) {
                a.refused.push(Refusal {
                    feed: Arc::from("allowlist"),
                    location: format!("entry {}", i + 1),
                    value: cut(raw.as_ref()),
                    reason: e.reason.to_string(),
                    detail: e.detail,
                });
            }
        }
        a
    }

    /// Add all entries (and refusals) of another list.
    pub fn extend(&mut self, other: AllowList) {
        self.ips.extend(other.ips);
        self.cidrs.extend(other.cidrs);
        self.domains.extend(other.domains);
        self.urls.extend(other.urls);
        self.refused.extend(other.refused);
    }

    /// Number of usable entries.
    pub fn len(&self) -> usize {
        self.ips.len() + self.cidrs.len() + self.domains.len() + self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> Vec<Entry> {
        let mut es = Vec::with_capacity(self.len());
        for ip in &self.ips {
            es.push(ip_entry(*ip));
        }
        for &(a, l) in &self.cidrs {
            let key = match a {
                IpAddr::V4(a) => Key::Net4(u32::from(a), l),
                IpAddr::V6(a) => Key::Net6(u128::from(a), l),
            };
            es.push(Entry { kind: IndicatorType::Cidr, key, rest: 0 });
        }
        for d in &self.domains {
            es.push(Entry { kind: IndicatorType::Domain, key: Key::Str(d.clone()), rest: 0 });
        }
        for u in &self.urls {
            es.push(Entry { kind: IndicatorType::Url, key: Key::Str(u.clone()), rest: url_rest_start(u) as u32 });
        }
        es.sort_by(Entry::order);
        es.dedup_by(|a, b| a.kind == b.kind && a.key == b.key);
        es
    }
}

fn ip_entry(ip: IpAddr) -> Entry {
    match ip {
        IpAddr::V4(a) => Entry { kind: IndicatorType::Ipv4, key: Key::V4(u32::from(a)), rest: 0 },
        IpAddr::V6(a) => Entry { kind: IndicatorType::Ipv6, key: Key::V6(u128::from(a)), rest: 0 },
    }
}

/// A value cut to a readable length for a refusal.
fn cut(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One indicator of the index, borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorRef<'a> {
    pub id: u32,
    pub kind: IndicatorType,
    /// The normalised value (addresses and networks are formatted on demand, on the stack).
    pub value: ValueText<'a>,
    pub feed: &'a Arc<str>,
    pub confidence: Option<u8>,
    pub severity: Option<&'a str>,
    pub tags: &'a [String],
    pub description: Option<&'a str>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

impl IndicatorRef<'_> {
    /// An owned copy, as the model describes it.
    pub fn to_indicator(&self) -> Indicator {
        Indicator {
            value: self.value.into_owned(),
            kind: self.kind,
            feed: self.feed.clone(),
            confidence: self.confidence,
            severity: self.severity.map(str::to_string),
            tags: self.tags.to_vec(),
            description: self.description.map(str::to_string),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }

    /// Whether the indicator is valid at `ts` (µs): `valid_from <= ts < valid_until`.
    pub fn is_valid_at(&self, ts: i64) -> bool {
        self.valid_from.is_none_or(|f| f <= ts) && self.valid_until.is_none_or(|u| ts < u)
    }
}

/// An indicator's normalised value as text, without allocating: borrowed from the index
/// (domains, URLs, hashes, e-mail addresses) or formatted into a small buffer (addresses and
/// networks, which the index keeps as numbers). Dereferences to `str`.
#[derive(Clone, Copy)]
pub struct ValueText<'a>(Text<'a>);

#[derive(Clone, Copy)]
enum Text<'a> {
    Borrowed(&'a str),
    /// ASCII: the longest is an IPv6 network, 39 + 4 bytes.
    Inline {
        buf: [u8; 56],
        len: u8,
    },
}

/// Writes into the inline buffer of a [`ValueText`].
struct Inline {
    buf: [u8; 56],
    len: usize,
}

impl Inline {
    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// A number 0..=255 (an octet) or 0..=128 (a prefix length), in decimal.
    #[inline]
    fn small(&mut self, n: u8) {
        if n >= 100 {
            self.push(b'0' + n / 100);
        }
        if n >= 10 {
            self.push(b'0' + n / 10 % 10);
        }
        self.push(b'0' + n % 10);
    }
}

impl fmt::Write for Inline {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a> ValueText<'a> {
    pub(crate) fn borrowed(s: &'a str) -> ValueText<'a> {
        ValueText(Text::Borrowed(s))
    }

    /// An address (`len` None) or a network, as `normalize` writes them: IPv4 dotted quad,
    /// IPv6 as `Ipv6Addr` displays it (compressed, lower case), `addr/len`.
    pub(crate) fn net(addr: IpAddr, len: Option<u8>) -> ValueText<'a> {
        let mut w = Inline { buf: [0; 56], len: 0 };
        match addr {
            IpAddr::V4(a) => {
                for (i, o) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        w.push(b'.');
                    }
                    w.small(o);
                }
            }
            IpAddr::V6(a) => {
                // At most 39 bytes (45 for the IPv4-suffixed forms): always fits.
                let _ = fmt::Write::write_fmt(&mut w, format_args!("{a}"));
            }
        }
        if let Some(l) = len {
            w.push(b'/');
            w.small(l);
        }
        ValueText(Text::Inline { buf: w.buf, len: w.len as u8 })
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Text::Borrowed(s) => s,
            Text::Inline { buf, len } => std::str::from_utf8(&buf[..*len as usize]).unwrap_or_default(),
        }
    }

    pub fn into_owned(self) -> String {
        self.as_str().to_string()
    }
}

impl std::ops::Deref for ValueText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ValueText<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ValueText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ValueText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for ValueText<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ValueText<'_> {}

impl PartialEq<str> for ValueText<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ValueText<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Provenance shared by many indicators, stored once: ids into the interned tables.
#[derive(Debug, Clone, Copy)]
struct Meta {
    feed: u32,
    severity: u32,
    tags: u32,
    description: u32,
    confidence: Option<u8>,
}

const NO_TEXT: u32 = u32::MAX;

/// The provenance of an indicator as the builder interns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct MetaKey {
    feed: Arc<str>,
    confidence: Option<u8>,
    severity: Option<String>,
    tags: Vec<String>,
    description: Option<String>,
}

#[derive(Default)]
struct MetaInterner {
    map: HashMap<MetaKey, u32>,
    keys: Vec<MetaKey>,
    last: Option<u32>,
}

impl MetaInterner {
    fn intern(&mut self, k: MetaKey) -> u32 {
        if let Some(l) = self.last
            && self.keys[l as usize] == k
        {
            return l;
        }
        let id = match self.map.get(&k) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                self.keys.push(k.clone());
                self.map.insert(k, id);
                id
            }
        };
        self.last = Some(id);
        id
    }
}

/// An indicator during the build: its lookup entry, provenance rank and validity.
struct Item {
    entry: Entry,
    meta: u32,
    from: i64,
    until: i64,
}

/// The match index. Immutable once built; `Send + Sync`, share it between threads.
#[derive(Debug, Clone)]
pub struct IntelIndex {
    sets: Sets,
    /// Per id: index into `metas`.
    meta_of: Vec<u32>,
    metas: Vec<Meta>,
    feeds: Vec<Arc<str>>,
    texts: Vec<Box<str>>,
    tagsets: Vec<Vec<String>>,
    /// (id, valid_from, valid_until) for the ids that have a validity window, sorted by id;
    /// `i64::MIN` / `i64::MAX` stand for an open end.
    validity: Vec<(u32, i64, i64)>,
    allow: Sets,
    allow_len: usize,
    version: String,
    refused: Vec<Refusal>,
    duplicates: usize,
    value_bytes: usize,
}

/// Below this many values the index is built on one thread.
const PARALLEL_MIN: usize = 50_000;

#[cfg(test)]
thread_local! {
    /// Tests build on one thread whatever the size, to compare with the parallel build.
    static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether to build the structures of `n` values on several threads.
pub(crate) fn parallel(n: usize) -> bool {
    #[cfg(test)]
    if ONE_THREAD.with(|c| c.get()) {
        return false;
    }
    n >= PARALLEL_MIN
}

/// Runs `a` and `b`, `a` on another thread when `parallel` (and the machine has more than one
/// core). A panic in either is a panic here.
pub(crate) fn join<A: Send, B>(parallel: bool, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    if !parallel || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        let ra = a();
        return (ra, b());
    }
    std::thread::scope(|s| {
        let h = s.spawn(a);
        let rb = b();
        (h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), rb)
    })
}

/// Normalise a value to its lookup key; the type may change as `normalize::typed_as` says.
fn entry_of(kind: IndicatorType, raw: &str) -> Result<(Entry, usize), Invalid> {
    if kind == IndicatorType::Ipv4
        && let Some(a) = parse_v4(raw.as_bytes())
    {
        return Ok((Entry { kind, key: Key::V4(a), rest: 0 }, raw.len()));
    }
    let (k, v) = normalize::typed_as(kind, raw)?;
    let len = v.len();
    let entry = match k {
        IndicatorType::Ipv4 | IndicatorType::Ipv6 => ip_entry(normalize::ip(&v)?),
        IndicatorType::Cidr => {
            let key = match normalize::cidr(&v)? {
                (IpAddr::V4(a), l) => Key::Net4(u32::from(a), l),
                (IpAddr::V6(a), l) => Key::Net6(u128::from(a), l),
            };
            Entry { kind: k, key, rest: 0 }
        }
        IndicatorType::Url => Entry { kind: k, rest: url_rest_start(&v) as u32, key: Key::Str(v) },
        _ => Entry { kind: k, key: Key::Str(v), rest: 0 },
    };
    Ok((entry, len))
}

/// The lookup key of a value already in canonical form (as `normalize` writes it, and so as
/// every feed reader gives it): the text is only parsed, not normalised again. Gives the value
/// back when it does not parse as its type's canonical form.
fn canonical_entry(kind: IndicatorType, value: String) -> Result<(Entry, usize), String> {
    let len = value.len();
    let key = match kind {
        IndicatorType::Ipv4 => match parse_v4(value.as_bytes()) {
            Some(a) => Key::V4(a),
            None => return Err(value),
        },
        IndicatorType::Ipv6 => match value.parse::<std::net::Ipv6Addr>() {
            Ok(a) if a.to_ipv4_mapped().is_none() => Key::V6(u128::from(a)),
            _ => return Err(value),
        },
        IndicatorType::Cidr => {
            let parsed = value.split_once('/').and_then(|(a, l)| Some((a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?)));
            match parsed {
                Some((IpAddr::V4(a), l)) if l < 32 && u32::from(a) & !(u32::MAX.checked_shl(32 - u32::from(l)).unwrap_or(0)) == 0 => {
                    Key::Net4(u32::from(a), l)
                }
                Some((IpAddr::V6(a), l))
                    if l < 128
                        && a.to_ipv4_mapped().is_none()
                        && u128::from(a) & !(u128::MAX.checked_shl(128 - u32::from(l)).unwrap_or(0)) == 0 =>
                {
                    Key::Net6(u128::from(a), l)
                }
                _ => return Err(value),
            }
        }
        IndicatorType::Url => return Ok((Entry { kind, rest: url_rest_start(&value) as u32, key: Key::Str(value) }, len)),
        _ => Key::Str(value),
    };
    Ok((Entry { kind, key, rest: 0 }, len))
}

fn hash_entry(h: &mut ContentHash, e: &Entry) {
    h.write_u8(e.kind as u8);
    match &e.key {
        Key::V4(a) => h.write(&a.to_be_bytes()),
        Key::V6(a) => h.write(&a.to_be_bytes()),
        Key::Net4(a, l) => {
            h.write(&a.to_be_bytes());
            h.write_u8(*l);
        }
        Key::Net6(a, l) => {
            h.write(&a.to_be_bytes());
            h.write_u8(*l);
        }
        Key::Str(s) => h.write_str(s),
    }
}

/// The content hash of the sorted indicators (entry, provenance, validity window) and then
/// the allowlist, as 32 hex digits.
fn version_of(entries: &[Entry], meta_of: &[u32], validity: &[(u32, i64, i64)], meta_hashes: &[u128], allow: &[Entry]) -> String {
    let mut h = ContentHash::default();
    h.write_str("sweep-intel-index/1");
    h.write_u64(entries.len() as u64);
    let mut windows = validity.iter().peekable();
    for (id, (e, &meta)) in entries.iter().zip(meta_of).enumerate() {
        let (from, until) = match windows.next_if(|w| w.0 == id as u32) {
            Some(&(_, from, until)) => (from, until),
            None => (i64::MIN, i64::MAX),
        };
        hash_entry(&mut h, e);
        h.write(&meta_hashes[meta as usize].to_le_bytes());
        h.write_u64(from as u64);
        h.write_u64(until as u64);
    }
    h.write_str("allowlist");
    h.write_u64(allow.len() as u64);
    for e in allow {
        hash_entry(&mut h, e);
    }
    format!("{:032x}", h.finish())
}

fn hash_opt_str(h: &mut ContentHash, s: Option<&str>) {
    match s {
        Some(s) => {
            h.write_u8(1);
            h.write_str(s);
        }
        None => h.write_u8(0),
    }
}

impl IntelIndex {
    /// Build the index. Values are normalised again (so the index never holds two spellings
    /// of one value); a value that does not normalise, or a validity window that is empty, is
    /// refused ([`IntelIndex::refused`]); exact duplicates (every field equal) are kept once
    /// ([`IntelIndex::duplicates`]). Ids follow the sorted content, so the same indicator set
    /// gives the same ids and the same [`IntelIndex::version`] whatever the input order.
    pub fn build(indicators: Vec<Indicator>, allow: AllowList) -> IntelIndex {
        let n = indicators.len();
        IntelIndex::build_from(indicators.into_iter(), n, allow, false)
    }

    /// Build the index from what the feed readers gave ([`crate::feeds::load_all`]), in the
    /// order of `loads`. The same as [`IntelIndex::build`] over their indicators, except that
    /// the values are not normalised again: the readers give them in canonical form (values
    /// that do not parse as their type's canonical form still go through normalisation).
    pub fn from_loads(loads: Vec<FeedLoad>, allow: AllowList) -> IntelIndex {
        let n = loads.iter().map(|l| l.indicators.len()).sum();
        IntelIndex::build_from(loads.into_iter().flat_map(|l| l.indicators), n, allow, true)
    }

    /// `normalised`: the values are in canonical form already (from the feed readers).
    fn build_from(indicators: impl Iterator<Item = Indicator>, n: usize, allow: AllowList, normalised: bool) -> IntelIndex {
        let mut refused = Vec::new();
        let mut interner = MetaInterner::default();
        let mut items: Vec<Item> = Vec::with_capacity(n);
        let mut lens: Vec<u32> = Vec::with_capacity(n);
        for (i, ind) in indicators.enumerate() {
            let Indicator { value, kind, feed, confidence, severity, tags, description, valid_from, valid_until } = ind;
            let (from, until) = (valid_from.unwrap_or(i64::MIN), valid_until.unwrap_or(i64::MAX));
            #[cfg(debug_assertions)]
            if normalised {
                debug_assert_eq!(normalize::typed_as(kind, &value), Ok((kind, value.clone())), "feed readers give canonical values");
            }
            let fast = if normalised && from < until { canonical_entry(kind, value) } else { Err(value) };
            let (entry, len) = match fast {
                Ok(x) => x,
                Err(value) => {
                    let refuse = |reason: &str, detail: String| Refusal {
                        feed: feed.clone(),
                        location: format!("indicator {}", i + 1),
                        value: cut(&value),
                        reason: reason.to_string(),
                        detail,
                    };
                    let x = match entry_of(kind, &value) {
                        Ok(x) => x,
                        Err(e) => {
                            refused.push(refuse(e.reason, e.detail));
                            continue;
                        }
                    };
                    if from >= until {
                        refused.push(refuse(
                            "empty_validity",
                            format!(
                                "valid_until ({until}) is not after valid_from ({from}): the indicator could never match; fix the feed's dates"
                            ),
                        ));
                        continue;
                    }
                    x
                }
            };
            let meta = interner.intern(MetaKey { feed, confidence, severity, tags, description });
            items.push(Item { entry, meta, from, until });
            lens.push(len as u32);
        }
        // Rank provenance by content so that ids do not depend on input order.
        let MetaInterner { keys, .. } = interner;
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
        let mut rank = vec![0u32; keys.len()];
        for (r, &k) in order.iter().enumerate() {
            rank[k as usize] = r as u32;
        }
        for it in &mut items {
            it.meta = rank[it.meta as usize];
        }
        let cmp =
            |a: &Item, b: &Item| a.entry.order(&b.entry).then(a.meta.cmp(&b.meta)).then(a.from.cmp(&b.from)).then(a.until.cmp(&b.until));
        // Sort (prefix, index) pairs: most comparisons are settled by the prefix, without
        // touching the entries.
        // Large sets: the two halves on two threads, then merged. Items that compare equal
        // are identical (duplicates), so which of them comes first makes no difference.
        let mut keyed: Vec<(u64, u32)> = items.iter().enumerate().map(|(i, it)| (it.entry.prefix(), i as u32)).collect();
        let by_key = |a: &(u64, u32), b: &(u64, u32)| a.0.cmp(&b.0).then_with(|| cmp(&items[a.1 as usize], &items[b.1 as usize]));
        let perm: Vec<u32> = if parallel(keyed.len()) {
            let (left, right) = keyed.split_at_mut(items.len() / 2);
            join(true, || left.sort_unstable_by(by_key), || right.sort_unstable_by(by_key));
            let mut perm = Vec::with_capacity(items.len());
            let (mut i, mut j) = (0, 0);
            while i < left.len() && j < right.len() {
                if by_key(&right[j], &left[i]).is_lt() {
                    perm.push(right[j].1);
                    j += 1;
                } else {
                    perm.push(left[i].1);
                    i += 1;
                }
            }
            perm.extend(left[i..].iter().chain(&right[j..]).map(|k| k.1));
            perm
        } else {
            keyed.sort_unstable_by(by_key);
            keyed.into_iter().map(|(_, i)| i).collect()
        };
        let mut sorted: Vec<Item> = Vec::with_capacity(items.len());
        let mut value_bytes = 0usize;
        let mut duplicates = 0usize;
        let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
        for &p in &perm {
            let Some(it) = slots[p as usize].take() else { continue };
            if let Some(last) = sorted.last()
                && cmp(last, &it).is_eq()
                && last.entry.key == it.entry.key
            {
                duplicates += 1;
                continue;
            }
            value_bytes += lens[p as usize] as usize;
            sorted.push(it);
        }
        drop(slots);
        drop(lens);
        // Interned provenance, in rank order.
        let mut feeds: Vec<Arc<str>> = Vec::new();
        let mut feed_ids: HashMap<Arc<str>, u32> = HashMap::new();
        let mut texts: Vec<Box<str>> = Vec::new();
        let mut text_ids: HashMap<String, u32> = HashMap::new();
        let mut tagsets: Vec<Vec<String>> = Vec::new();
        let mut tag_ids: HashMap<Vec<String>, u32> = HashMap::new();
        let mut text = |s: &Option<String>| -> u32 {
            match s {
                None => NO_TEXT,
                Some(s) => *text_ids.entry(s.clone()).or_insert_with(|| {
                    texts.push(s.as_str().into());
                    (texts.len() - 1) as u32
                }),
            }
        };
        let mut meta_hashes: Vec<u128> = Vec::with_capacity(order.len());
        let mut metas: Vec<Meta> = Vec::with_capacity(order.len());
        for &k in &order {
            let key = &keys[k as usize];
            let feed = *feed_ids.entry(key.feed.clone()).or_insert_with(|| {
                feeds.push(key.feed.clone());
                (feeds.len() - 1) as u32
            });
            let tags = *tag_ids.entry(key.tags.clone()).or_insert_with(|| {
                tagsets.push(key.tags.clone());
                (tagsets.len() - 1) as u32
            });
            metas.push(Meta { feed, severity: text(&key.severity), tags, description: text(&key.description), confidence: key.confidence });
            let mut h = ContentHash::default();
            h.write_str(&key.feed);
            match key.confidence {
                Some(c) => h.write(&[1, c]),
                None => h.write_u8(0),
            }
            hash_opt_str(&mut h, key.severity.as_deref());
            h.write_u64(key.tags.len() as u64);
            for t in &key.tags {
                h.write_str(t);
            }
            hash_opt_str(&mut h, key.description.as_deref());
            meta_hashes.push(h.finish());
        }
        drop(keys);
        let allow_entries = allow.entries();
        let mut meta_of = Vec::with_capacity(sorted.len());
        let mut validity = Vec::new();
        let mut entries = Vec::with_capacity(sorted.len());
        for (id, it) in sorted.into_iter().enumerate() {
            meta_of.push(it.meta);
            if it.from != i64::MIN || it.until != i64::MAX {
                validity.push((id as u32, it.from, it.until));
            }
            entries.push(it.entry);
        }
        // The version (on another thread) and the lookup structures.
        let (version, sets) = join(
            parallel(entries.len()),
            || version_of(&entries, &meta_of, &validity, &meta_hashes, &allow_entries),
            || Sets::build(&entries),
        );
        let sets = match sets {
            Ok(s) => s,
            Err(detail) => {
                refused.push(Refusal {
                    feed: Arc::from("index"),
                    location: "build".to_string(),
                    value: String::new(),
                    reason: "index_full".to_string(),
                    detail: format!("{detail}; split the feeds over several runs"),
                });
                meta_of.clear();
                validity.clear();
                Sets::default()
            }
        };
        drop(entries);
        let allow_sets = Sets::build(&allow_entries).unwrap_or_default();
        let mut refused_all = allow.refused;
        refused_all.extend(refused);
        let mut index = IntelIndex {
            sets,
            meta_of,
            metas,
            feeds,
            texts,
            tagsets,
            validity,
            allow: allow_sets,
            allow_len: allow_entries.len(),
            version,
            refused: refused_all,
            duplicates,
            value_bytes,
        };
        index.meta_of.shrink_to_fit();
        index.validity.shrink_to_fit();
        index
    }

    /// The indicators of this index that `older` does not hold (the same value, type and
    /// feed), as an index with this index's allowlist: what a new intel version adds, for
    /// the retro-sweep of events stored before it. An indicator whose other provenance
    /// fields changed (confidence, tags, validity) is not new.
    pub fn added_since(&self, older: &IntelIndex) -> IntelIndex {
        let known: std::collections::HashSet<(IndicatorType, String, Arc<str>)> =
            older.iter().map(|i| (i.kind, i.value.into_owned(), i.feed.clone())).collect();
        let added: Vec<Indicator> =
            self.iter().filter(|i| !known.contains(&(i.kind, i.value.into_owned(), i.feed.clone()))).map(|i| i.to_indicator()).collect();
        let n = added.len();
        let mut index = IntelIndex::build_from(added.into_iter(), n, AllowList::new(), true);
        index.allow = self.allow.clone();
        index.allow_len = self.allow_len;
        index
    }

    /// The content hash of the indicator set and the allowlist (32 hex digits): the same
    /// normalised content gives the same version, whatever the input order, run or platform.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of indicators (after duplicates were removed).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of indicators of one type.
    pub fn count(&self, kind: IndicatorType) -> usize {
        self.sets.count(kind)
    }

    /// Indicators identical in every field to one already indexed, and so kept once.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Values that did not enter the index (indicators and allowlist entries), with reasons.
    pub fn refused(&self) -> &[Refusal] {
        &self.refused
    }

    /// Number of distinct allowlist entries.
    pub fn allow_len(&self) -> usize {
        self.allow_len
    }

    /// The allowlist entries, normalised (type and canonical value), in index order: for an
    /// engine that applies the allowlist itself (the Spark engine joins against them).
    pub fn allow_entries(&self) -> impl Iterator<Item = (IndicatorType, ValueText<'_>)> + '_ {
        (0..self.allow_len as u32).map(|id| (self.allow.kind_of(id), self.allow.value(id)))
    }

    /// Total bytes of the normalised indicator values (what a plain list of them would take).
    pub fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// Heap memory owned by the index, in bytes: lookup structures, the value arena, the
    /// provenance tables and the allowlist (allocator overhead not included).
    pub fn heap_bytes(&self) -> usize {
        let s = &self.sets;
        s.heap_bytes()
            + self.allow.heap_bytes()
            + self.meta_of.capacity() * 4
            + self.metas.capacity() * std::mem::size_of::<Meta>()
            + self.feeds.capacity() * 16
            + self.feeds.iter().map(|f| f.len() + 16).sum::<usize>()
            + self.texts.capacity() * 16
            + self.texts.iter().map(|t| t.len()).sum::<usize>()
            + self.tagsets.capacity() * 24
            + self.tagsets.iter().map(|t| t.capacity() * 24 + t.iter().map(String::capacity).sum::<usize>()).sum::<usize>()
            + self.validity.capacity() * std::mem::size_of::<(u32, i64, i64)>()
            + self.version.capacity()
            + self.refused.capacity() * std::mem::size_of::<Refusal>()
            + self
                .refused
                .iter()
                .map(|r| r.location.capacity() + r.value.capacity() + r.reason.capacity() + r.detail.capacity())
                .sum::<usize>()
    }

    /// The indicator with this id, or `None` when the id is not from this index.
    pub fn get(&self, id: u32) -> Option<IndicatorRef<'_>> {
        if id as usize >= self.len() {
            return None;
        }
        let m = self.metas[self.meta_of[id as usize] as usize];
        let text = |t: u32| (t != NO_TEXT).then(|| &*self.texts[t as usize]);
        let (from, until) = self.window(id);
        Some(IndicatorRef {
            id,
            kind: self.sets.kind_of(id),
            value: self.sets.value(id),
            feed: &self.feeds[m.feed as usize],
            confidence: m.confidence,
            severity: text(m.severity),
            tags: &self.tagsets[m.tags as usize],
            description: text(m.description),
            valid_from: (from != i64::MIN).then_some(from),
            valid_until: (until != i64::MAX).then_some(until),
        })
    }

    /// The indicator with this id (from a [`Hit`] of this index).
    ///
    /// # Panics
    /// When `id` is not an id of this index.
    pub fn indicator(&self, id: u32) -> IndicatorRef<'_> {
        match self.get(id) {
            Some(r) => r,
            None => panic!("indicator id {id} is not in this index ({} indicators)", self.len()),
        }
    }

    /// All indicators, in id order (sorted by type and value).
    pub fn iter(&self) -> impl Iterator<Item = IndicatorRef<'_>> + '_ {
        (0..self.len() as u32).filter_map(|id| self.get(id))
    }

    #[inline]
    fn window(&self, id: u32) -> (i64, i64) {
        if self.validity.is_empty() {
            return (i64::MIN, i64::MAX);
        }
        match self.validity.binary_search_by_key(&id, |v| v.0) {
            Ok(i) => (self.validity[i].1, self.validity[i].2),
            Err(_) => (i64::MIN, i64::MAX),
        }
    }

    /// Match one event: append a [`Hit`] to `out` for every indicator that matches one of
    /// `fields` (duplicates in `fields` are ignored), and count suppressed and inactive
    /// matches in `stats`. Does not allocate, except to canonicalise an event URL whose host
    /// is the host of some URL indicator.
    pub fn match_event(&self, ev: &EventView<'_>, fields: &[MatchField], out: &mut Vec<Hit>, stats: &mut MatchStats) {
        stats.events += 1;
        let start = out.len();
        let scratch = &mut stats.scratch;
        scratch.held.clear();
        let ts = ev.ts_micros;
        // The host name and its probe, from the label walk, for the URL host check.
        let mut host_probe: Option<(&[u8], sets::NameProbe)> = None;
        for (fi, &field) in fields.iter().enumerate() {
            if fields[..fi].contains(&field) {
                continue;
            }
            let field_start = out.len();
            let mut cx = Cx { index: self, ts, field, out: &mut *out, start, field_start, held: &mut scratch.held };
            match field {
                MatchField::ServerIp | MatchField::ClientIp => {
                    let raw = if field == MatchField::ServerIp { ev.server_ip } else { ev.client_ip };
                    if let Some(ip) = raw.and_then(parse_ip) {
                        cx.ip(ip);
                    }
                }
                MatchField::Host => {
                    if let Some(h) = ev.host.filter(|h| !h.is_empty() && *h != "-") {
                        match parse_ip(h) {
                            Some(ip) => cx.ip(ip),
                            None => {
                                let name = h.strip_suffix('.').unwrap_or(h).as_bytes();
                                host_probe = Some((name, cx.domain(name)));
                            }
                        }
                    }
                }
                MatchField::Url => {
                    if !self.sets.has_urls() {
                        continue;
                    }
                    let Some((raw, pre)) = event_url(ev, &mut scratch.url) else { continue };
                    if let Some(h) = pre {
                        let h = h.as_bytes();
                        let probe = match host_probe {
                            Some((name, p)) if (name.as_ptr() == h.as_ptr() && name.len() == h.len()) || name.eq_ignore_ascii_case(h) => p,
                            _ => self.sets.probe(h),
                        };
                        if !self.sets.has_url_host(h, probe) {
                            continue;
                        }
                    }
                    stats.urls_canonicalised += 1;
                    if let Ok(canon) = normalize::url(raw) {
                        let mut cx = Cx { index: self, ts, field, out: &mut *out, start, field_start, held: &mut scratch.held };
                        cx.url(&canon);
                    }
                }
            }
        }
        let held = &mut stats.scratch.held;
        if !held.is_empty() {
            held.sort_unstable();
            held.dedup_by_key(|h| h.0);
            for &(id, why) in held.iter() {
                if out[start..].iter().any(|h| h.indicator == id) {
                    continue;
                }
                match why {
                    Held::Inactive => stats.inactive += 1,
                    Held::Suppressed => stats.suppressed += 1,
                }
            }
        }
        stats.hits += (out.len() - start) as u64;
    }

    /// The canonical form under which an event's URL is matched, or `None` when the event
    /// has no URL (see docs/intel.md). Allocates; for tests and diagnostics.
    pub fn event_url(ev: &EventView<'_>) -> Option<String> {
        let mut buf = String::new();
        let (raw, _) = event_url(ev, &mut buf)?;
        normalize::url(raw).ok()
    }
}

/// Matching context of one field of one event.
struct Cx<'i, 'o> {
    index: &'i IntelIndex,
    ts: i64,
    field: MatchField,
    out: &'o mut Vec<Hit>,
    /// Where this event's hits start in `out`.
    start: usize,
    /// Where this field's hits start: one lookup never yields an id twice, so only the hits
    /// of earlier fields can hold it already.
    field_start: usize,
    held: &'o mut Vec<(u32, Held)>,
}

impl Cx<'_, '_> {
    #[inline]
    fn consider(&mut self, id: u32, kind: MatchKind, allowed: &mut Option<bool>, is_allowed: impl FnOnce() -> bool) {
        if self.out[self.start..self.field_start].iter().any(|h| h.indicator == id) {
            return;
        }
        let (from, until) = self.index.window(id);
        // `i64::MAX` is the open end: valid forever, even at the largest timestamp.
        if from > self.ts || (self.ts >= until && until != i64::MAX) {
            self.held.push((id, Held::Inactive));
            return;
        }
        if self.index.allow_len > 0 && *allowed.get_or_insert_with(is_allowed) {
            self.held.push((id, Held::Suppressed));
            return;
        }
        self.out.push(Hit { indicator: id, match_kind: kind, matched_field: self.field });
    }

    fn ip(&mut self, ip: IpAddr) {
        let index = self.index;
        let mut allowed = None;
        index.sets.each_ip(ip, &mut |id, kind| {
            self.consider(id, kind, &mut allowed, || {
                let mut any = false;
                index.allow.each_ip(ip, &mut |_, _| any = true);
                any
            })
        });
    }

    fn domain(&mut self, host: &[u8]) -> sets::NameProbe {
        let index = self.index;
        let mut allowed = None;
        index.sets.each_domain(host, &mut |id, kind| {
            self.consider(id, kind, &mut allowed, || {
                let mut any = false;
                index.allow.each_domain(host, &mut |_, _| any = true);
                any
            })
        })
    }

    fn url(&mut self, canon: &str) {
        let index = self.index;
        let mut allowed = None;
        index.sets.each_url(canon, &mut |id, kind| {
            self.consider(id, kind, &mut allowed, || {
                let mut any = false;
                index.allow.each_url(canon, &mut |_, _| any = true);
                any
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorType, value: &str, feed: &str) -> Indicator {
        Indicator {
            value: value.to_string(),
            kind,
            feed: Arc::from(feed),
            confidence: None,
            severity: None,
            tags: vec![],
            description: None,
            valid_from: None,
            valid_until: None,
        }
    }

    #[test]
    fn ids_and_version_do_not_depend_on_input_order() {
        let a = vec![
            ind(IndicatorType::Domain, "evil.com", "f1"),
            ind(IndicatorType::Ipv4, "1.2.3.4", "f2"),
            ind(IndicatorType::Url, "http://evil.com/x", "f1"),
            ind(IndicatorType::Domain, "evil.com", "f2"),
        ];
        let mut b = a.clone();
        b.reverse();
        let (ia, ib) = (IntelIndex::build(a, AllowList::new()), IntelIndex::build(b, AllowList::new()));
        assert_eq!(ia.version(), ib.version());
        let all = |i: &IntelIndex| i.iter().map(|r| r.to_indicator()).collect::<Vec<_>>();
        assert_eq!(all(&ia), all(&ib));
        assert_eq!(ia.len(), 4);
        let c = IntelIndex::build(vec![ind(IndicatorType::Domain, "evil.com", "f1")], AllowList::new());
        assert_ne!(c.version(), ia.version());
        let d = IntelIndex::build(
            vec![ind(IndicatorType::Domain, "evil.com", "f1")],
            AllowList::from_values([(IndicatorType::Domain, "good.com")]),
        );
        assert_ne!(c.version(), d.version(), "the allowlist is part of the version");
    }

    /// The build on several threads (large sets) gives the index the build on one thread gives.
    #[test]
    fn parallel_build_is_the_sequential_build() {
        let mut inds = Vec::new();
        for i in 0..160_000u32 {
            let (kind, value) = match i % 6 {
                0 => (IndicatorType::Ipv4, format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i % 200)),
                1 => (IndicatorType::Cidr, format!("10.{}.0.0/{}", i % 256, 16 + i % 9)),
                2 => (IndicatorType::Domain, format!("d{}.example{}.com", i % 20_000, i % 7)),
                3 => (IndicatorType::Url, format!("http://h{}.example.net/p{}", i % 3000, i % 11)),
                4 => (IndicatorType::Ipv6, format!("2001:db8::{:x}", i % 50_000)),
                _ => (IndicatorType::Domain, format!("x{}.co.uk", i % 900)),
            };
            let mut ind = ind(kind, &value, ["f1", "f2", "f3"][(i % 3) as usize]);
            ind.valid_from = (i % 13 == 0).then_some(i64::from(i));
            inds.push(ind);
        }
        let allow = || AllowList::from_values([(IndicatorType::Domain, "example1.com"), (IndicatorType::Cidr, "10.1.0.0/16")]);
        let par = IntelIndex::build(inds.clone(), allow());
        ONE_THREAD.with(|c| c.set(true));
        let seq = IntelIndex::build(inds, allow());
        ONE_THREAD.with(|c| c.set(false));
        assert_eq!(par.version(), seq.version());
        assert_eq!((par.len(), par.duplicates(), par.heap_bytes()), (seq.len(), seq.duplicates(), seq.heap_bytes()));
        assert!(par.iter().map(|r| r.to_indicator()).eq(seq.iter().map(|r| r.to_indicator())));
        let (mut a, mut b, mut sa, mut sb) = (Vec::new(), Vec::new(), MatchStats::default(), MatchStats::default());
        for i in 0..5000u32 {
            let host = format!("www.d{}.example{}.com", i * 7 % 20_000, i % 7);
            let url = format!("http://h{}.example.net/p{}", i % 3000, i % 11);
            let ip = format!("10.{}.{}.{}", i % 4, i % 256, i % 200);
            let ev =
                EventView { ts_micros: i64::from(i) * 10, server_ip: Some(&ip), host: Some(&host), url: Some(&url), ..Default::default() };
            par.match_event(&ev, &MatchField::ALL, &mut a, &mut sa);
            seq.match_event(&ev, &MatchField::ALL, &mut b, &mut sb);
        }
        assert!(a.len() > 2000, "{}", a.len());
        assert_eq!(a, b);
        assert_eq!((sa.hits, sa.suppressed, sa.inactive), (sb.hits, sb.suppressed, sb.inactive));
    }

    /// Addresses and networks are written as `normalize` writes them.
    #[test]
    fn value_text_is_the_normalised_text() {
        let cases = [
            "0.0.0.0",
            "1.2.3.4",
            "10.100.200.255",
            "255.255.255.255",
            "9.99.100.199",
            "::",
            "::1",
            "2001:db8::1",
            "2001:db8:0:1:1:1:1:1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:1.2.3.4",
            "64:ff9b::102:304",
            "fe80::1:2",
        ];
        for raw in cases {
            let a: IpAddr = raw.parse().unwrap();
            assert_eq!(ValueText::net(a, None), a.to_string().as_str(), "{raw}");
            for l in [0u8, 7, 24, 32, 99, 128] {
                assert_eq!(ValueText::net(a, Some(l)).as_str(), format!("{a}/{l}"), "{raw}/{l}");
            }
        }
        for raw in ["1.2.3.4", "2001:db8::1", "10.0.0.0/8", "2001:db8::/32", "evil.com", "http://evil.com/x"] {
            let idx = IntelIndex::build(vec![ind(normalize::classify(raw).unwrap().0, raw, "f")], AllowList::new());
            assert_eq!(idx.indicator(0).value, raw);
            assert_eq!(idx.indicator(0).to_indicator().value, raw);
        }
    }

    #[test]
    fn values_are_normalised_refused_and_deduplicated() {
        let mut late = ind(IndicatorType::Domain, "x.com", "f");
        late.valid_from = Some(10);
        late.valid_until = Some(10);
        let idx = IntelIndex::build(
            vec![
                ind(IndicatorType::Domain, "EVIL.com.", "f"),
                ind(IndicatorType::Domain, "evil.com", "f"),
                ind(IndicatorType::Ipv6, "::ffff:1.2.3.4", "f"),
                ind(IndicatorType::Ipv4, "1.2.3.0/24", "f"),
                ind(IndicatorType::Ipv4, "107.183.86", "f"),
                late,
            ],
            AllowList::new(),
        );
        let vals: Vec<(IndicatorType, String)> = idx.iter().map(|r| (r.kind, r.value.into_owned())).collect();
        assert_eq!(
            vals,
            [
                (IndicatorType::Ipv4, "1.2.3.4".to_string()),
                (IndicatorType::Cidr, "1.2.3.0/24".to_string()),
                (IndicatorType::Domain, "evil.com".to_string())
            ]
        );
        assert_eq!(idx.duplicates(), 1);
        let reasons: Vec<&str> = idx.refused().iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons, ["invalid_value", "empty_validity"]);
        assert_eq!(idx.refused()[0].location, "indicator 5");
        assert_eq!(idx.value_bytes(), "1.2.3.4".len() + "1.2.3.0/24".len() + "evil.com".len());
    }

    #[test]
    fn allowlist_refuses_what_it_cannot_use() {
        let a = AllowList::from_values([
            (IndicatorType::Ipv4, "8.8.8.8"),
            (IndicatorType::Ipv4, "10.0.0.0/8"),
            (IndicatorType::Domain, "Google.com."),
            (IndicatorType::Url, "HTTP://a.com:80/x"),
            (IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            (IndicatorType::Domain, "not a domain"),
        ]);
        assert_eq!(a.ips, ["8.8.8.8".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.cidrs, [("10.0.0.0".parse::<IpAddr>().unwrap(), 8)]);
        assert_eq!(a.domains, ["google.com"]);
        assert_eq!(a.urls, ["http://a.com/x"]);
        let r: Vec<(&str, &str)> = a.refused.iter().map(|r| (r.location.as_str(), r.reason.as_str())).collect();
        assert_eq!(r, [("entry 5", "unsupported_type"), ("entry 6", "invalid_value")]);
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn the_index_is_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<IntelIndex>();
        shared::<AllowList>();
        fn sent<T: Send>() {}
        sent::<MatchStats>();
    }

    #[test]
    fn match_field_names() {
        assert_eq!("client_ip".parse::<MatchField>(), Ok(MatchField::ClientIp));
        assert!("dst".parse::<MatchField>().is_err());
        assert_eq!(serde_json::to_string(&MatchField::ServerIp).unwrap(), "\"server_ip\"");
        assert_eq!(serde_json::to_string(&MatchKind::Subdomain).unwrap(), "\"subdomain\"");
    }
}

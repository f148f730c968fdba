//! The lookup structures of one set of values (the indicators, or the allowlist).
//!
//! Values are kept sorted by type and then by value, and an indicator's id is its position in
//! that order, so equal values (the same value from two feeds) have consecutive ids and one
//! lookup finds all of them:
//! - IPv4: the sorted addresses (`u32`) with a radix bucket table ([`SortedU32`]), behind a
//!   [`Bloom`] filter;
//! - IPv6: the sorted addresses (`u128`), binary search;
//! - networks: the distinct networks sorted by (start, prefix length) with, for each, the
//!   nearest enclosing network (`parent`); all networks containing an address are found by
//!   one search for the last network starting at or below it, then a walk up `parent`
//!   (networks nest or are disjoint, so the networks containing an address form one chain);
//! - domains, URLs (and, stored but never matched, hashes and e-mail addresses): one byte
//!   arena with an offset per id; domains, URLs and URL hosts are found through [`Table`]s of
//!   ids, domains and URL hosts behind one [`NameFilter`] (a Bloom filter that keeps all label
//!   suffixes of a host in one cache line).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::table::{BitSet, Bloom, Radix, SortedU32, Table, finish, hash_bytes, hash_name, walk_name};
use super::{MatchKind, ValueText};
use crate::model::IndicatorType;
use crate::psl;

pub(crate) const NONE: u32 = u32::MAX;

/// The lookup key of one value, as the builder sorts it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    V4(u32),
    V6(u128),
    Net4(u32, u8),
    Net6(u128, u8),
    /// Domains, hashes, e-mail: the value. URLs: see [`Entry::rest`].
    Str(String),
}

/// One value to index. Entries are sorted with [`Entry::order`].
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: IndicatorType,
    pub(crate) key: Key,
    /// URLs: byte offset of the scheme-less part (`//host/...`) in the value.
    pub(crate) rest: u32,
}

impl Entry {
    /// Sort order: type, then value; URLs by their scheme-less part first, then scheme, so
    /// that `http://a/x`, `https://a/x` and `//a/x` are neighbours.
    pub(crate) fn order(&self, other: &Entry) -> std::cmp::Ordering {
        self.kind.cmp(&other.kind).then_with(|| match (&self.key, &other.key) {
            (Key::Str(a), Key::Str(b)) if self.kind == IndicatorType::Url => {
                let (ra, rb) = (&a[self.rest as usize..], &b[other.rest as usize..]);
                ra.cmp(rb).then_with(|| a[..self.rest as usize].cmp(&b[..other.rest as usize]))
            }
            (a, b) => a.cmp(b),
        })
    }
}

impl Entry {
    /// A 64-bit prefix of the sort order: `a.prefix() < b.prefix()` implies `a` sorts before
    /// `b`, so a sort can compare prefixes first and whole entries only on ties.
    pub(crate) fn prefix(&self) -> u64 {
        let kind = (self.kind as u64) << 60;
        let bytes7 = |b: &[u8]| {
            let mut w = [0u8; 8];
            let n = b.len().min(7);
            w[..n].copy_from_slice(&b[..n]);
            u64::from_be_bytes(w) >> 8
        };
        kind | match &self.key {
            Key::V4(a) => u64::from(*a) << 28,
            Key::V6(a) => (*a >> 68) as u64,
            Key::Net4(a, l) => u64::from(*a) << 19 | u64::from(*l) << 11,
            Key::Net6(a, _) => 1 << 59 | (*a >> 69) as u64,
            Key::Str(v) if self.kind == IndicatorType::Url => bytes7(&v.as_bytes()[self.rest as usize..]) >> 4,
            Key::Str(v) => bytes7(v.as_bytes()) >> 4,
        }
    }
}

/// Where the scheme-less part of a canonical URL starts (`http://a/` -> 5, `//a/` -> 0): a
/// canonical URL is `scheme://…` or `//…`, and a scheme holds no `:`.
#[inline]
pub(crate) fn url_rest_start(canonical: &str) -> usize {
    let b = canonical.as_bytes();
    if b.starts_with(b"//") {
        return 0;
    }
    match memchr::memchr(b':', b) {
        Some(i) if b[i + 1..].starts_with(b"//") => i + 1,
        _ => 0,
    }
}

/// The host of a canonical URL (`http://user@Evil.com:8080/x` -> `Evil.com`; IPv6 keeps its
/// brackets).
pub(crate) fn canonical_url_host(canonical: &str) -> &str {
    let r = &canonical[url_rest_start(canonical)..];
    let r = r.strip_prefix("//").unwrap_or(r);
    let auth = &r[..r.find(['/', '?', '#']).unwrap_or(r.len())];
    let hostport = match auth.rfind('@') {
        Some(i) => &auth[i + 1..],
        None => auth,
    };
    if hostport.starts_with('[') {
        return match hostport.find(']') {
            Some(i) => &hostport[..=i],
            None => hostport,
        };
    }
    match hostport.rfind(':') {
        Some(i) => &hostport[..i],
        None => hostport,
    }
}

/// IPv4 networks, one `u64` each so that a lookup touches one array:
/// `start << 32 | len << 24 | parent` (parent: 24 bits, [`NONE24`] = none).
#[derive(Debug, Clone, Default)]
struct Cidr4 {
    recs: Vec<u64>,
    radix: Radix,
    /// Ids of network `j`: `first[j]..first[j + 1]`.
    first: Vec<u32>,
}

/// No parent network (24-bit field of [`Cidr4`] records).
const NONE24: u64 = 0xff_ffff;
/// At most this many distinct IPv4 networks (the parent field has 24 bits).
const MAX_NETS4: usize = NONE24 as usize;

#[inline(always)]
fn rec_start(r: u64) -> u32 {
    (r >> 32) as u32
}

#[inline(always)]
fn rec_len(r: u64) -> u8 {
    (r >> 24) as u8
}

#[derive(Debug, Clone, Default)]
struct Cidr6 {
    starts: Vec<u128>,
    lens: Vec<u8>,
    parent: Vec<u32>,
    first: Vec<u32>,
}

#[inline(always)]
fn in_net4(a: u32, start: u32, len: u8) -> bool {
    len == 0 || (a ^ start) >> (32 - u32::from(len)) == 0
}

#[inline(always)]
fn in_net6(a: u128, start: u128, len: u8) -> bool {
    len == 0 || (a ^ start) >> (128 - u32::from(len)) == 0
}

/// IPv4 networks from the last one starting at or below the address (`j`), up the parent
/// chain: report every network on the chain from the deepest one that contains the address.
#[inline]
fn walk_covering4(mut j: usize, a: u32, c: &Cidr4, f: &mut impl FnMut(u32, MatchKind)) {
    loop {
        let r = c.recs[j];
        if in_net4(a, rec_start(r), rec_len(r)) {
            break;
        }
        match r & NONE24 {
            NONE24 => return,
            p => j = p as usize,
        }
    }
    loop {
        for id in c.first[j]..c.first[j + 1] {
            f(id, MatchKind::Cidr);
        }
        match c.recs[j] & NONE24 {
            NONE24 => return,
            p => j = p as usize,
        }
    }
}

/// The same for IPv6 networks, kept in separate arrays.
#[inline]
fn walk_covering(mut j: u32, parent: &[u32], first: &[u32], contains: impl Fn(usize) -> bool, f: &mut impl FnMut(u32, MatchKind)) {
    while j != NONE && !contains(j as usize) {
        j = parent[j as usize];
    }
    while j != NONE {
        for id in first[j as usize]..first[j as usize + 1] {
            f(id, MatchKind::Cidr);
        }
        j = parent[j as usize];
    }
}

/// Nearest enclosing network of each network, for networks sorted by (start, len).
fn parents<T: Copy>(starts: &[T], lens: &[u8], contains: impl Fn(T, T, u8) -> bool) -> Vec<u32> {
    let mut parent = Vec::with_capacity(starts.len());
    let mut stack: Vec<u32> = Vec::new();
    for j in 0..starts.len() {
        while let Some(&top) = stack.last() {
            let t = top as usize;
            if contains(starts[j], starts[t], lens[t]) && lens[j] >= lens[t] {
                break;
            }
            stack.pop();
        }
        parent.push(stack.last().copied().unwrap_or(NONE));
        stack.push(j as u32);
    }
    parent
}

/// What the label walk over a host name learns, reusable for the URL host check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameProbe {
    /// `hash_name` of the whole name.
    pub(crate) full: u64,
    /// The Bloom block key of the whole name (see [`NameFilter`]).
    pub(crate) block: u64,
}

/// Bits of a URL host in the name filter differ from those of the same domain.
const URL_HOST_SALT: u64 = 0x2545_f491_4f6c_dd1d;
/// Bits a name in the name filter.
const NAME_BITS: usize = 10;
/// A block key shared by more names than this is split one label deeper.
const HEAVY: usize = 32;

/// One Bloom filter over the names of the domain indicators and the hosts of the URL
/// indicators, arranged so that all label suffixes of a host are in **one** 64-byte block: a
/// name's block is chosen by its last two labels (`example.com` for `a.b.example.com`), so
/// the whole label walk of an event host, and the URL host check, read one cache line. Where
/// many names share their last two labels (`co.uk`, `github.io`), that suffix is "heavy" and
/// the block is chosen by one more label, and so on.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameFilter {
    bloom: Bloom,
    /// Hashes of heavy suffixes, sorted.
    heavy: Vec<u64>,
}

impl NameFilter {
    #[inline(always)]
    fn is_heavy(&self, h: u64) -> bool {
        !self.heavy.is_empty() && self.heavy.binary_search(&h).is_ok()
    }

    /// Block key of a suffix at `level` labels with hash `h`, given the key resolved so far.
    #[inline(always)]
    fn key(&self, resolved: &mut Option<u64>, level: u32, h: u64) -> u64 {
        match *resolved {
            Some(k) => k,
            None => {
                if level >= 2 && !self.is_heavy(h) {
                    *resolved = Some(h);
                }
                h
            }
        }
    }

    /// Appends the hashes of the label suffixes of a name, shortest first (`com`,
    /// `example.com`, ...).
    fn suffix_hashes(name: &[u8], out: &mut Vec<u64>) {
        walk_name(name, |_, _, h| {
            out.push(h);
            true
        });
    }

    /// The probe (full hash and block key) of a name.
    #[inline]
    pub(crate) fn probe(&self, name: &[u8]) -> NameProbe {
        let (mut resolved, mut block) = (None, 0u64);
        let full = walk_name(name, |_, level, h| {
            block = self.key(&mut resolved, level, h);
            true
        });
        NameProbe { full, block }
    }

    /// Build over domains and URL hosts.
    fn build(domains: &[&str], url_hosts: &[&str]) -> NameFilter {
        // The suffix hashes of name i are `hashes[ends[i]..ends[i + 1]]`.
        let n = domains.len() + url_hosts.len();
        let mut hashes: Vec<u64> = Vec::with_capacity(n * 3);
        let mut ends: Vec<u32> = Vec::with_capacity(n + 1);
        ends.push(0);
        for name in domains.iter().chain(url_hosts) {
            Self::suffix_hashes(name.as_bytes(), &mut hashes);
            ends.push(hashes.len() as u32);
        }
        let all = || ends.windows(2).map(|w| &hashes[w[0] as usize..w[1] as usize]);
        // Heavy suffixes, level by level: a suffix at level k is heavy when more than HEAVY
        // longer names would otherwise take it as their block key.
        let mut heavy: HashSet<u64> = HashSet::new();
        for k in 2usize.. {
            let mut counts: HashMap<u64, usize> = HashMap::new();
            for hs in all() {
                if hs.len() > k && (2..k).all(|j| heavy.contains(&hs[j - 1])) {
                    *counts.entry(hs[k - 1]).or_default() += 1;
                }
            }
            let before = heavy.len();
            heavy.extend(counts.into_iter().filter(|&(_, c)| c > HEAVY).map(|(h, _)| h));
            if heavy.len() == before {
                break;
            }
        }
        let mut heavy: Vec<u64> = heavy.into_iter().collect();
        heavy.sort_unstable();
        let mut f = NameFilter { bloom: Bloom::with_entries(n, NAME_BITS), heavy };
        for (i, hs) in all().enumerate() {
            let mut resolved = None;
            let mut block = 0;
            for (j, &h) in hs.iter().enumerate() {
                block = f.key(&mut resolved, j as u32 + 1, h);
            }
            let full = hs.last().copied().unwrap_or_default();
            let bits = if i < domains.len() { full } else { full ^ URL_HOST_SALT };
            f.bloom.insert_in(block, bits);
        }
        f
    }

    fn heap_bytes(&self) -> usize {
        self.bloom.heap_bytes() + self.heavy.capacity() * 8
    }
}

/// The lookup structures. Ids are `0..len`, grouped by type in the order of
/// [`IndicatorType`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Sets {
    /// Ids of type `k` are `kind_start[k]..kind_start[k + 1]`.
    kind_start: [u32; 10],
    /// Id where the IPv6 networks start (after the IPv4 networks).
    cidr6_start: u32,
    v4: SortedU32,
    v6: Vec<u128>,
    c4: Cidr4,
    c6: Cidr6,
    /// Values of the string types (domain onwards): `arena[str_off[i]..str_off[i + 1]]` for
    /// id `kind_start[Domain] + i`.
    arena: String,
    str_off: Vec<u32>,
    /// Per string id: the same lookup key as the id before (same domain / same URL part
    /// after the scheme), so it belongs to the same run.
    same_as_prev: BitSet,
    /// Per domain (id - kind_start[Domain]): the domain is a public suffix.
    domain_ps: BitSet,
    /// First id of each distinct domain, by `hash_name(domain)`, behind `names`.
    domains: Table,
    /// Bloom filter over domains and URL hosts.
    names: NameFilter,
    /// The IPv4 addresses, as `finish(addr)`.
    v4_bloom: Bloom,
    /// First id of each distinct scheme-less URL part, by `hash_bytes(rest)`.
    urls: Table,
    /// One URL id per distinct URL host, by `hash_name(host)`, behind `names`.
    url_hosts: Table,
}

fn kind_index(k: IndicatorType) -> usize {
    k as usize
}

const KINDS: [IndicatorType; 9] = IndicatorType::ALL;

impl Sets {
    /// Build from entries sorted by [`Entry::order`] (duplicates of a key allowed; each entry
    /// becomes one id, in order). Fails only when the values do not fit 32-bit offsets.
    pub(crate) fn build(entries: &[Entry]) -> Result<Sets, String> {
        if entries.len() >= NONE as usize {
            return Err(format!("{} values: more than the index holds (2^32 - 1)", entries.len()));
        }
        let mut s = Sets::default();
        for (i, k) in KINDS.iter().enumerate() {
            s.kind_start[i] = entries.partition_point(|e| e.kind < *k) as u32;
        }
        s.kind_start[9] = entries.len() as u32;
        let range = |k: IndicatorType| s.kind_start[kind_index(k)] as usize..s.kind_start[kind_index(k) + 1] as usize;
        // Addresses.
        let v4: Vec<u32> =
            entries[range(IndicatorType::Ipv4)].iter().filter_map(|e| if let Key::V4(a) = e.key { Some(a) } else { None }).collect();
        s.v4_bloom = Bloom::with_entries(v4.len(), 8);
        for &a in &v4 {
            s.v4_bloom.insert(finish(u64::from(a)));
        }
        s.v4 = SortedU32::new(v4);
        s.v6 = entries[range(IndicatorType::Ipv6)].iter().filter_map(|e| if let Key::V6(a) = e.key { Some(a) } else { None }).collect();
        // Networks: distinct (start, len) with the range of their ids.
        let cr = range(IndicatorType::Cidr);
        let (mut s4, mut l4, mut f4, mut s6, mut l6, mut f6) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        s.cidr6_start = cr.end as u32;
        for (id, e) in entries.iter().enumerate().take(cr.end).skip(cr.start) {
            match e.key {
                Key::Net4(a, l) if s4.last() != Some(&a) || l4.last() != Some(&l) => {
                    s4.push(a);
                    l4.push(l);
                    f4.push(id as u32);
                }
                Key::Net6(a, l) => {
                    if s.cidr6_start == cr.end as u32 {
                        s.cidr6_start = id as u32;
                    }
                    if s6.last() != Some(&a) || l6.last() != Some(&l) {
                        s6.push(a);
                        l6.push(l);
                        f6.push(id as u32);
                    }
                }
                _ => {}
            }
        }
        f4.push(s.cidr6_start);
        f6.push(cr.end as u32);
        if s4.len() > MAX_NETS4 {
            return Err(format!("{} distinct IPv4 networks: more than the index holds ({MAX_NETS4})", s4.len()));
        }
        let recs = parents(&s4, &l4, in_net4)
            .into_iter()
            .enumerate()
            .map(|(j, p)| u64::from(s4[j]) << 32 | u64::from(l4[j]) << 24 | if p == NONE { NONE24 } else { u64::from(p) })
            .collect();
        s.c4 = Cidr4 { radix: Radix::new(&s4), recs, first: f4 };
        s.c6 = Cidr6 { parent: parents(&s6, &l6, in_net6), starts: s6, lens: l6, first: f6 };
        // Strings.
        let dstart = s.kind_start[kind_index(IndicatorType::Domain)] as usize;
        let strs = &entries[dstart..];
        let total: usize = strs.iter().map(|e| if let Key::Str(v) = &e.key { v.len() } else { 0 }).sum();
        if total > u32::MAX as usize {
            return Err(format!("{total} bytes of domain/URL values: more than the index holds (4 GiB)"));
        }
        s.arena.reserve_exact(total);
        s.str_off.reserve_exact(strs.len() + 1);
        s.same_as_prev = BitSet::new(strs.len());
        let ndom = range(IndicatorType::Domain).len();
        s.domain_ps = BitSet::new(ndom);
        let distinct = |kind: IndicatorType| {
            let r = range(kind);
            let rs = &entries[r.clone()];
            rs.iter().enumerate().filter(|(i, e)| *i == 0 || !same_key(&rs[i - 1], e)).count()
        };
        s.domains = Table::with_entries(distinct(IndicatorType::Domain));
        s.urls = Table::with_entries(distinct(IndicatorType::Url));
        let (dr, ur) = (range(IndicatorType::Domain), range(IndicatorType::Url));
        // The URL hosts and the name filter on another thread, the rest on this one.
        let ((url_hosts, names), ()) = super::join(
            super::parallel(strs.len()),
            || name_lookups(entries, dr, ur),
            || {
                for (i, e) in strs.iter().enumerate() {
                    let Key::Str(v) = &e.key else { continue };
                    let id = (dstart + i) as u32;
                    s.str_off.push(s.arena.len() as u32);
                    s.arena.push_str(v);
                    let same = i > 0 && strs[i - 1].kind == e.kind && same_key(&strs[i - 1], e);
                    if same {
                        s.same_as_prev.set(i);
                    }
                    match e.kind {
                        IndicatorType::Domain => {
                            if psl::is_public_suffix(v) {
                                s.domain_ps.set(i);
                            }
                            if !same {
                                s.domains.insert(hash_name(v.as_bytes()), id);
                            }
                        }
                        IndicatorType::Url if !same => s.urls.insert(hash_bytes(&v.as_bytes()[e.rest as usize..]), id),
                        _ => {}
                    }
                }
                s.str_off.push(s.arena.len() as u32);
            },
        );
        s.url_hosts = url_hosts;
        s.names = names;
        Ok(s)
    }

    pub(crate) fn len(&self) -> usize {
        self.kind_start[9] as usize
    }

    pub(crate) fn count(&self, kind: IndicatorType) -> usize {
        let k = kind_index(kind);
        (self.kind_start[k + 1] - self.kind_start[k]) as usize
    }

    pub(crate) fn kind_of(&self, id: u32) -> IndicatorType {
        let k = self.kind_start[1..].partition_point(|&s| s <= id);
        KINDS[k.min(8)]
    }

    /// The value of a string-typed id (domain, URL, hash, e-mail).
    pub(crate) fn str_value(&self, id: u32) -> &str {
        let i = (id - self.kind_start[kind_index(IndicatorType::Domain)]) as usize;
        &self.arena[self.str_off[i] as usize..self.str_off[i + 1] as usize]
    }

    /// The normalised value of any id: the stored text, or the address or network formatted
    /// (on the stack).
    pub(crate) fn value(&self, id: u32) -> ValueText<'_> {
        let ks = |k: IndicatorType| self.kind_start[kind_index(k)];
        match self.kind_of(id) {
            IndicatorType::Ipv4 => ValueText::net(IpAddr::V4(Ipv4Addr::from(self.v4.vals[(id - ks(IndicatorType::Ipv4)) as usize])), None),
            IndicatorType::Ipv6 => ValueText::net(IpAddr::V6(Ipv6Addr::from(self.v6[(id - ks(IndicatorType::Ipv6)) as usize])), None),
            IndicatorType::Cidr => {
                let (a, l) = self.network(id);
                ValueText::net(a, Some(l))
            }
            _ => ValueText::borrowed(self.str_value(id)),
        }
    }

    /// The network of a CIDR id.
    pub(crate) fn network(&self, id: u32) -> (IpAddr, u8) {
        if id < self.cidr6_start {
            let j = self.c4.first.partition_point(|&f| f <= id) - 1;
            let r = self.c4.recs[j];
            (IpAddr::V4(Ipv4Addr::from(rec_start(r))), rec_len(r))
        } else {
            let j = self.c6.first.partition_point(|&f| f <= id) - 1;
            (IpAddr::V6(Ipv6Addr::from(self.c6.starts[j])), self.c6.lens[j])
        }
    }

    /// Every id whose address equals `ip` (kind `Exact`) or whose network contains it (`Cidr`).
    #[inline]
    pub(crate) fn each_ip(&self, ip: IpAddr, f: &mut impl FnMut(u32, MatchKind)) {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let base = self.kind_start[kind_index(IndicatorType::Ipv4)];
                let vals = &self.v4.vals;
                if self.v4_bloom.may_contain(finish(u64::from(a))) {
                    let mut j = self.v4.lower_bound(a);
                    while j < vals.len() && vals[j] == a {
                        f(base + j as u32, MatchKind::Exact);
                        j += 1;
                    }
                }
                let c = &self.c4;
                if !c.recs.is_empty() {
                    let (lo, hi) = c.radix.range(a);
                    let n = lo + c.recs[lo..hi].partition_point(|&r| rec_start(r) <= a);
                    if n > 0 {
                        walk_covering4(n - 1, a, c, f);
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let base = self.kind_start[kind_index(IndicatorType::Ipv6)];
                let mut j = self.v6.partition_point(|&v| v < a);
                while j < self.v6.len() && self.v6[j] == a {
                    f(base + j as u32, MatchKind::Exact);
                    j += 1;
                }
                let c = &self.c6;
                let n = c.starts.partition_point(|&s| s <= a);
                if n > 0 {
                    walk_covering((n - 1) as u32, &c.parent, &c.first, |j| in_net6(a, c.starts[j], c.lens[j]), f);
                }
            }
        }
    }

    /// The ids of the run starting at `first` (ids with the same key).
    #[inline]
    fn run(&self, first: u32, end: u32, f: &mut impl FnMut(u32)) {
        let dstart = self.kind_start[kind_index(IndicatorType::Domain)];
        let mut id = first;
        loop {
            f(id);
            id += 1;
            if id >= end || !self.same_as_prev.get((id - dstart) as usize) {
                break;
            }
        }
    }

    /// Label walk: every domain id equal to `host` (kind `Exact`) or a parent of it at a label
    /// boundary that is not a public suffix (kind `Subdomain`). `host` must have no trailing
    /// dot; ASCII case is ignored. The single rightmost label is not looked up as a parent:
    /// a single label is always a public suffix.
    /// Returns the host's [`NameProbe`], for [`Sets::has_url_host`].
    #[inline]
    pub(crate) fn each_domain(&self, host: &[u8], f: &mut impl FnMut(u32, MatchKind)) -> NameProbe {
        let dk = kind_index(IndicatorType::Domain);
        let (dstart, dend) = (self.kind_start[dk], self.kind_start[dk + 1]);
        let (mut resolved, mut block) = (None, 0u64);
        let full = walk_name(host, |i, labels, hh| {
            block = self.names.key(&mut resolved, labels, hh);
            if (i > 0 && labels < 2) || dstart == dend || !self.names.bloom.may_contain_in(block, hh) {
                return true;
            }
            let suffix = &host[i..];
            if let Some(first) = self.domains.find(hh, |id| self.str_value(id).as_bytes().eq_ignore_ascii_case(suffix)) {
                if i == 0 {
                    self.run(first, dend, &mut |id| f(id, MatchKind::Exact));
                } else if !self.domain_ps.get((first - dstart) as usize) {
                    self.run(first, dend, &mut |id| f(id, MatchKind::Subdomain));
                }
            }
            true
        });
        NameProbe { full, block }
    }

    /// The [`NameProbe`] of a host, without looking up domains.
    #[inline]
    pub(crate) fn probe(&self, host: &[u8]) -> NameProbe {
        self.names.probe(host)
    }

    /// Whether any URL value has this host (ASCII case ignored; IPv6 in brackets); `probe` is
    /// the host's [`NameProbe`].
    #[inline]
    pub(crate) fn has_url_host(&self, host: &[u8], probe: NameProbe) -> bool {
        self.names.bloom.may_contain_in(probe.block, probe.full ^ URL_HOST_SALT)
            && self.url_hosts.find(probe.full, |id| canonical_url_host(self.str_value(id)).as_bytes().eq_ignore_ascii_case(host)).is_some()
    }

    pub(crate) fn has_urls(&self) -> bool {
        self.count(IndicatorType::Url) > 0
    }

    /// Every URL id equal to the canonical URL `canon`, where a missing scheme on either side
    /// matches any scheme.
    #[inline]
    pub(crate) fn each_url(&self, canon: &str, f: &mut impl FnMut(u32, MatchKind)) {
        let uk = kind_index(IndicatorType::Url);
        let uend = self.kind_start[uk + 1];
        let rs = url_rest_start(canon);
        let (scheme, rest) = canon.split_at(rs);
        let found = self.urls.find(hash_bytes(rest.as_bytes()), |id| {
            let v = self.str_value(id);
            &v[url_rest_start(v)..] == rest
        });
        if let Some(first) = found {
            self.run(first, uend, &mut |id| {
                let v = self.str_value(id);
                let s = &v[..url_rest_start(v)];
                if s.is_empty() || scheme.is_empty() || s == scheme {
                    f(id, MatchKind::Url);
                }
            });
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes()
            + self.v6.capacity() * 16
            + self.c4.recs.capacity() * 8
            + self.c4.radix.heap_bytes()
            + self.c4.first.capacity() * 4
            + self.v4_bloom.heap_bytes()
            + self.names.heap_bytes()
            + self.c6.starts.capacity() * 16
            + self.c6.lens.capacity()
            + (self.c6.parent.capacity() + self.c6.first.capacity()) * 4
            + self.arena.capacity()
            + self.str_off.capacity() * 4
            + self.same_as_prev.heap_bytes()
            + self.domain_ps.heap_bytes()
            + self.domains.heap_bytes()
            + self.urls.heap_bytes()
            + self.url_hosts.heap_bytes()
    }
}

/// The lookups of host names: one URL id per distinct URL host (the first URL id with that
/// host), and the name filter over the distinct domains and the URL hosts.
fn name_lookups(entries: &[Entry], domains: std::ops::Range<usize>, urls: std::ops::Range<usize>) -> (Table, NameFilter) {
    let ds = &entries[domains];
    let domain_names: Vec<&str> = ds
        .iter()
        .enumerate()
        .filter(|(i, e)| *i == 0 || !same_key(&ds[i - 1], e))
        .filter_map(|(_, e)| if let Key::Str(v) = &e.key { Some(v.as_str()) } else { None })
        .collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(urls.len());
    let mut hosts: Vec<(&str, u32)> = Vec::new();
    for (id, e) in entries.iter().enumerate().take(urls.end).skip(urls.start) {
        let Key::Str(v) = &e.key else { continue };
        let h = canonical_url_host(v);
        if seen.insert(h) {
            hosts.push((h, id as u32));
        }
    }
    drop(seen);
    let mut url_hosts = Table::with_entries(hosts.len());
    for &(h, id) in &hosts {
        url_hosts.insert(hash_name(h.as_bytes()), id);
    }
    let host_names: Vec<&str> = hosts.into_iter().map(|(h, _)| h).collect();
    (url_hosts, NameFilter::build(&domain_names, &host_names))
}

/// Same lookup key: the same value, or for URLs the same part after the scheme.
fn same_key(a: &Entry, b: &Entry) -> bool {
    match (&a.key, &b.key) {
        (Key::Str(x), Key::Str(y)) if a.kind == IndicatorType::Url && b.kind == IndicatorType::Url => {
            x[a.rest as usize..] == y[b.rest as usize..]
        }
        (x, y) => a.kind == b.kind && x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: IndicatorType, key: Key) -> Entry {
        let rest = if let Key::Str(v) = &key { url_rest_start(v) as u32 } else { 0 };
        Entry { kind, key, rest }
    }

    fn net4(s: &str, l: u8) -> Entry {
        entry(IndicatorType::Cidr, Key::Net4(u32::from(s.parse::<Ipv4Addr>().unwrap()), l))
    }

    fn covering(s: &Sets, ip: &str) -> Vec<(u32, MatchKind)> {
        let mut v = Vec::new();
        s.each_ip(ip.parse().unwrap(), &mut |id, k| v.push((id, k)));
        v.sort();
        v
    }

    #[test]
    fn nested_networks_all_found_from_any_depth() {
        let mut es = vec![
            net4("10.0.0.0", 8),
            net4("10.1.0.0", 16),
            net4("10.1.2.0", 24),
            net4("10.1.3.0", 24),
            net4("10.2.0.0", 16),
            net4("0.0.0.0", 0),
            net4("10.1.2.128", 25),
        ];
        es.sort_by(Entry::order);
        let s = Sets::build(&es).unwrap();
        let names = |ids: Vec<(u32, MatchKind)>| -> Vec<String> { ids.into_iter().map(|(id, _)| s.value(id).into_owned()).collect() };
        assert_eq!(names(covering(&s, "10.1.2.200")), ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"]);
        assert_eq!(names(covering(&s, "10.1.2.5")), ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"]);
        // Last network starting below is 10.1.3.0/24, which does not contain it: walk up.
        assert_eq!(names(covering(&s, "10.1.200.1")), ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16"]);
        assert_eq!(names(covering(&s, "10.3.0.0")), ["0.0.0.0/0", "10.0.0.0/8"]);
        assert_eq!(names(covering(&s, "9.255.255.255")), ["0.0.0.0/0"]);
        assert_eq!(names(covering(&s, "11.0.0.0")), ["0.0.0.0/0"]);
    }

    #[test]
    fn heavy_suffixes_keep_every_name_findable() {
        let dom = |v: String| entry(IndicatorType::Domain, Key::Str(v));
        let mut es: Vec<Entry> = (0..300).map(|i| dom(format!("d{i}.co.uk"))).collect();
        es.extend((0..100).map(|i| dom(format!("e{i}.x.github.io"))));
        es.push(dom("co.uk".into()));
        es.extend((0..50).map(|i| entry(IndicatorType::Url, Key::Str(format!("http://h{i}.co.uk/x")))));
        es.sort_by(Entry::order);
        let s = Sets::build(&es).unwrap();
        let (co_uk, github, x_github) = (hash_name(b"co.uk"), hash_name(b"github.io"), hash_name(b"x.github.io"));
        assert!(s.names.is_heavy(co_uk) && s.names.is_heavy(github) && s.names.is_heavy(x_github));
        assert_eq!(s.names.heavy.len(), 3);
        let walk = |host: &str| {
            let mut v = Vec::new();
            let probe = s.each_domain(host.as_bytes(), &mut |id, k| v.push((s.value(id).into_owned(), k)));
            assert_eq!(probe, s.probe(host.as_bytes()), "{host}");
            v
        };
        for i in 0..300 {
            assert_eq!(walk(&format!("a.d{i}.co.uk")), [(format!("d{i}.co.uk"), MatchKind::Subdomain)]);
        }
        for i in 0..100 {
            assert_eq!(walk(&format!("e{i}.x.github.io")), [(format!("e{i}.x.github.io"), MatchKind::Exact)]);
        }
        assert_eq!(walk("co.uk"), [("co.uk".to_string(), MatchKind::Exact)]);
        assert_eq!(walk("zzz.co.uk"), []);
        for i in 0..50 {
            let h = format!("h{i}.co.uk");
            assert!(s.has_url_host(h.as_bytes(), s.probe(h.as_bytes())), "{h}");
        }
        assert!(!s.has_url_host(b"d1.co.uk", s.probe(b"d1.co.uk")));
    }

    #[test]
    fn prefix_agrees_with_the_sort_order() {
        let mut es = vec![
            entry(IndicatorType::Ipv4, Key::V4(5)),
            entry(IndicatorType::Ipv4, Key::V4(u32::MAX)),
            entry(IndicatorType::Ipv6, Key::V6(1)),
            entry(IndicatorType::Ipv6, Key::V6(u128::MAX)),
            net4("10.0.0.0", 8),
            net4("10.0.0.0", 16),
            net4("255.255.255.255", 32),
            entry(IndicatorType::Cidr, Key::Net6(0, 0)),
            entry(IndicatorType::Cidr, Key::Net6(u128::MAX, 128)),
            entry(IndicatorType::Domain, Key::Str("a.com".into())),
            entry(IndicatorType::Domain, Key::Str("abcdefgh.com".into())),
            entry(IndicatorType::Domain, Key::Str("abcdefgi.com".into())),
            entry(IndicatorType::Domain, Key::Str("z".into())),
            entry(IndicatorType::Url, Key::Str("https://a.com/".into())),
            entry(IndicatorType::Url, Key::Str("//a.com/".into())),
            entry(IndicatorType::Url, Key::Str("http://a.com/x".into())),
            entry(IndicatorType::Url, Key::Str("ftp://b/".into())),
            entry(IndicatorType::Md5, Key::Str("0".repeat(32))),
            entry(IndicatorType::Email, Key::Str("a@b.cd".into())),
        ];
        es.sort_by(Entry::order);
        for w in es.windows(2) {
            assert!(w[0].prefix() <= w[1].prefix(), "{:?} / {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn url_host_of_canonical_urls() {
        assert_eq!(canonical_url_host("http://evil.com/x"), "evil.com");
        assert_eq!(canonical_url_host("https://u:p@evil.com:8443/x?y"), "evil.com");
        assert_eq!(canonical_url_host("//1.2.3.4:8080/bin.sh"), "1.2.3.4");
        assert_eq!(canonical_url_host("http://[2001:db8::1]:81/"), "[2001:db8::1]");
        assert_eq!(url_rest_start("http://a/"), 5);
        assert_eq!(url_rest_start("//a/"), 0);
    }
}

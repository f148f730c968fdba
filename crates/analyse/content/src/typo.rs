//! Protected domains and the typosquat matcher.
//!
//! Three indexes make a lookup cost a few hash probes, whatever the length of the list:
//! - `by_label`: protected name (the label left of the public suffix) -> entries, for "same
//!   name under another TLD" and for brand tokens;
//! - `by_lookalike`: every *look-alike key* of a protected name -> entries. The key maps the
//!   tricks `rn`/`nn`->`m`, `vv`->`w`, `cl`->`d`, `0`->`o`, `3`->`e`, `5`->`s`, and `1`->`l` or `i` (both
//!   keys are made), so `rnicrosoft` and `paypa1` find `microsoft` and `paypal` in one probe;
//! - `near`: the deletion neighbourhood of each protected name (every string made by deleting
//!   up to k characters, k its allowed distance). Two names within Damerau-Levenshtein
//!   distance k share a string of that neighbourhood (each edit costs at most one deletion on
//!   either side), so a query probes its own deletions and gets a short candidate list, which
//!   is then checked with the exact distance.

use std::collections::HashSet;

use crate::fx::FxMap;

use sweep_intel::psl;

use crate::ContentError;
use crate::spec::{ContentSpec, TyposquatSpec};

/// The list bundled with the crate (`data/protected_domains.txt`).
pub const BUNDLED_PROTECTED: &str = include_str!("../data/protected_domains.txt");

/// Look-alike keys and brand tokens are only used for names of at least this many characters.
pub const LOOKALIKE_MIN_LENGTH: usize = 4;

/// Brands shorter than this are not looked for at all, even glued to a word.
pub const COMBO_MIN_LENGTH: usize = 3;

/// One protected registrable domain.
#[derive(Debug, Clone)]
pub struct Entry {
    pub domain: Box<str>,
    /// The label left of the public suffix: `paypal` in `paypal.com`, `commbank` in `commbank.com.au`.
    pub label: Box<str>,
    pub suffix: Box<str>,
    /// An ordinary word (see `generic_labels`): look-alike keys only.
    pub generic: bool,
}

/// A registrable domain split at its public suffix; `None` if `domain` has none.
pub fn split_registrable(host: &str) -> Option<(&str, &str, &str)> {
    let rd = psl::registrable_domain(host)?;
    let dot = rd.find('.')?;
    Some((rd, &rd[..dot], &rd[dot + 1..]))
}

/// Reads a list of domains, one a line, `#` comments; `what` names the list in errors.
pub fn parse_list(text: &str, what: &str) -> Result<Vec<String>, ContentError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(normalise_domain(line).map_err(|e| ContentError::Spec(format!("{what}, line {}: {e}", n + 1)))?);
    }
    Ok(out)
}

/// A configured domain as a registrable domain: lower-cased, trailing dot dropped, Unicode
/// punycoded, subdomains cut to their registrable domain (`www.paypal.com` -> `paypal.com`).
pub fn normalise_domain(raw: &str) -> Result<String, String> {
    let d = raw.trim().trim_end_matches('.').to_lowercase();
    let d = if d.is_ascii() { d } else { psl::to_ascii(&d).ok_or_else(|| format!("{raw:?} cannot be written in ASCII (punycode)"))? };
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_') {
        return Err(format!("{raw:?} is not a domain name"));
    }
    match psl::registrable_domain(&d) {
        Some(rd) => Ok(rd.to_string()),
        None => Err(format!("{raw:?} is a public suffix or not a domain name: list a registrable domain such as example.com")),
    }
}

/// What a typosquat match found.
#[derive(Debug, Clone, PartialEq)]
pub struct TypoHit {
    pub entry: u32,
    pub kind: TypoKind,
    pub score: f64,
    /// Plain-English list of the differences ("digit 1 in place of letter l").
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypoKind {
    /// Equal once look-alike tricks are undone.
    Lookalike,
    /// Within the allowed edit distance.
    Edit(usize),
    /// The protected name with a mistyped TLD (`paypal.co`, `paypal.cm` for `paypal.com`).
    TldTypo,
    /// The protected name under another TLD.
    OtherTld,
}

/// The protected list with its indexes.
#[derive(Debug, Clone)]
pub struct Protected {
    pub entries: Vec<Entry>,
    domains: HashSet<Box<str>>,
    by_label: FxMap<Box<str>, Vec<u32>>,
    by_lookalike: FxMap<Box<str>, Vec<u32>>,
    near: FxMap<Box<[u8]>, Vec<u32>>,
    brands: FxMap<Box<str>, u32>,
    cfg: TyposquatSpec,
    brand_min_length: usize,
    /// Deletions a query makes: the largest distance any entry allows.
    depth: usize,
}

fn push(map: &mut FxMap<Box<str>, Vec<u32>>, key: &str, i: u32) {
    match map.get_mut(key) {
        Some(v) => {
            if v.last() != Some(&i) {
                v.push(i)
            }
        }
        None => {
            map.insert(key.into(), vec![i]);
        }
    }
}

impl Protected {
    /// Builds the indexes over `domains` (already normalised registrable domains, in order of
    /// preference: the first of two equally good matches wins).
    pub fn build(domains: &[String], spec: &ContentSpec) -> Protected {
        let generic: HashSet<&str> = spec.generic_labels.iter().map(|s| s.trim()).collect();
        let cfg = spec.typosquat.clone();
        let mut p = Protected {
            entries: Vec::new(),
            domains: HashSet::new(),
            by_label: FxMap::default(),
            by_lookalike: FxMap::default(),
            near: FxMap::default(),
            brands: FxMap::default(),
            brand_min_length: spec.masquerade.brand_min_length,
            depth: 0,
            cfg,
        };
        for d in domains {
            if p.domains.contains(d.as_str()) {
                continue;
            }
            let Some((rd, label, suffix)) = split_registrable(d) else { continue };
            let i = p.entries.len() as u32;
            let e = Entry { domain: rd.into(), label: label.into(), suffix: suffix.into(), generic: generic.contains(label) };
            p.domains.insert(e.domain.clone());
            push(&mut p.by_label, label, i);
            if label.len() >= LOOKALIKE_MIN_LENGTH {
                for key in lookalike_keys(label) {
                    push(&mut p.by_lookalike, &key, i);
                }
            }
            if !e.generic && label.len() >= COMBO_MIN_LENGTH && !p.brands.contains_key(label) {
                p.brands.insert(label.into(), i);
            }
            if !e.generic && label.len() >= p.cfg.min_length {
                let k = p.allowed(label.len());
                p.depth = p.depth.max(k);
                deletions(label, k, &mut |v| {
                    let ids = p.near.entry(v.into()).or_default();
                    if ids.last() != Some(&i) {
                        ids.push(i);
                    }
                });
            }
            p.entries.push(e);
        }
        p
    }

    /// The edit distance allowed to a protected name of `len` characters.
    pub fn allowed(&self, len: usize) -> usize {
        if len >= self.cfg.long_length { self.cfg.long_max_distance } else { self.cfg.max_distance }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `rd` (a registrable domain) is protected.
    pub fn contains(&self, rd: &str) -> bool {
        self.domains.contains(rd)
    }

    /// The entry of a brand name (a non-generic protected label of `brand_min_length` or more
    /// characters): what a label or a token may be alone.
    pub fn brand(&self, token: &str) -> Option<&Entry> {
        if token.len() < self.brand_min_length {
            return None;
        }
        self.brands.get(token).map(|&i| &self.entries[i as usize])
    }

    /// The entry index of a brand name of any length from [`COMBO_MIN_LENGTH`]: what may be
    /// glued to a word (`dhl-tracking`).
    pub fn combo_brand_index(&self, token: &str) -> Option<u32> {
        self.brands.get(token).copied()
    }

    pub fn is_protected_label(&self, label: &str) -> bool {
        self.by_label.contains_key(label)
    }

    /// The best typosquat match for the registrable domain `label.suffix`, which is not itself
    /// protected. Look-alike tricks beat edit distance, smaller distance beats larger, the same
    /// suffix beats another, then list order.
    ///
    /// `country` says whether `suffix` is a country's own (see [`is_country_suffix`]).
    pub fn typosquat(&self, label: &str, suffix: &str, country: bool) -> Option<TypoHit> {
        if let Some(ids) = self.by_label.get(label) {
            // A protected name under another suffix: never compared with *other* names.
            let e = &self.entries[ids[0] as usize];
            if e.generic || label.len() < LOOKALIKE_MIN_LENGTH || !self.cfg.other_tld {
                return None;
            }
            if matches!(&*e.suffix, "com" | "net" | "org") && !suffix.contains('.') && osa(suffix.as_bytes(), e.suffix.as_bytes()) == 1 {
                return Some(TypoHit {
                    entry: ids[0],
                    kind: TypoKind::TldTypo,
                    score: 0.85,
                    detail: format!(".{suffix} in place of .{}", e.suffix),
                });
            }
            if (country && !self.cfg.country_tlds) || DEFENSIVE_TLDS.contains(&suffix) {
                return None;
            }
            return Some(TypoHit {
                entry: ids[0],
                kind: TypoKind::OtherTld,
                score: 0.6,
                detail: format!(".{suffix} in place of .{}", e.suffix),
            });
        }
        if label.len() >= LOOKALIKE_MIN_LENGTH
            && let Some(hit) = self.lookalike(label, suffix)
        {
            return Some(hit);
        }
        // A near name under a country's own suffix is more often a local business than a trap
        // (`entel.cl`, `isbank.com.tr`): only with `country_tlds`, or under the same suffix.
        // One edit from a five-letter name under another suffix (`jmail.world`, `inter.co`) is
        // more often a word than a trap: only under the same suffix.
        self.edit_match(label, suffix).filter(|h| {
            let e = &self.entries[h.entry as usize];
            let same_suffix = *e.suffix == *suffix;
            (!country || self.cfg.country_tlds || same_suffix) && (same_suffix || e.label.len() >= 6)
        })
    }

    /// Equal to a protected name once look-alike tricks are undone.
    pub fn lookalike(&self, label: &str, suffix: &str) -> Option<TypoHit> {
        let mut best: Option<u32> = None;
        for key in lookalike_keys(label) {
            for &i in self.by_lookalike.get(key.as_str()).into_iter().flatten() {
                let e = &self.entries[i as usize];
                if *e.label == *label {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some(b) => {
                        (*e.suffix == *suffix && *self.entries[b as usize].suffix != *suffix)
                            || (i < b && (*e.suffix == *suffix) == (*self.entries[b as usize].suffix == *suffix))
                    }
                };
                if better {
                    best = Some(i);
                }
            }
        }
        let i = best?;
        let e = &self.entries[i as usize];
        Some(TypoHit { entry: i, kind: TypoKind::Lookalike, score: 0.95, detail: explain_lookalike(label, &e.label) })
    }

    /// The nearest protected name within its allowed edit distance (found through the
    /// deletion neighbourhood; the same answer as comparing with every entry, which the tests
    /// check). Generic names and names shorter than `min_length` are not candidates.
    pub fn edit_match(&self, label: &str, suffix: &str) -> Option<TypoHit> {
        if self.depth == 0 || label.len() + self.cfg.max_distance < self.cfg.min_length {
            return None;
        }
        // A query string made with j deletions (length L - j) meets a key of an entry that
        // allows k >= j edits; beyond max_distance those are long names, whose keys are at
        // least long_length - long_max_distance long. Deeper deletions cannot meet any key.
        let floor = self.cfg.long_length - self.cfg.long_max_distance;
        let deep = label.len().saturating_sub(floor).min(self.depth);
        let depth = self.cfg.max_distance.max(deep);
        let mut cands: Vec<u32> = Vec::new();
        deletions(label, depth, &mut |v| {
            if let Some(ids) = self.near.get(v) {
                for &i in ids {
                    if !cands.contains(&i) {
                        cands.push(i);
                    }
                }
            }
        });
        let mut best: Option<(usize, bool, u32)> = None; // (distance, other suffix, index)
        for i in cands {
            let e = &self.entries[i as usize];
            let k = self.allowed(e.label.len());
            let d = osa(label.as_bytes(), e.label.as_bytes());
            if d == 0 || d > k {
                continue;
            }
            let key = (d, *e.suffix != *suffix, i);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        let (d, _, i) = best?;
        let e = &self.entries[i as usize];
        let score = match d {
            1 if e.label.len() >= 6 => 0.9,
            1 => 0.8,
            2 => 0.75,
            _ => 0.7,
        };
        let mut detail = describe_edits(label.as_bytes(), e.label.as_bytes());
        if *e.suffix != *suffix {
            detail.push_str(&format!(", and .{suffix} in place of .{}", e.suffix));
        }
        Some(TypoHit { entry: i, kind: TypoKind::Edit(d), score, detail })
    }
}

/// Country-code TLDs sold and used like generic ones (`.io`, `.co`, `.me`, `.tv`...), or
/// given away free and much abused (`.tk`, `.ml`, `.ga`, `.cf`, `.gq`): not a country's own.
pub const GENERIC_USE_CCTLDS: &[&str] = &[
    "ac", "ai", "cc", "cf", "cm", "co", "fm", "ga", "gg", "gq", "io", "la", "ly", "me", "ml", "ms", "nu", "pw", "sh", "so", "su", "tk",
    "to", "tv", "ws",
];

/// Whether a public suffix is a country's own: its last label is a two-letter country code
/// (`de`, `co.uk`, `com.au`) not in [`GENERIC_USE_CCTLDS`]. The caller says whether the suffix
/// is a platform (PRIVATE section of the Public Suffix List), which is never a country's.
/// A second-level suffix under a country code (`com.co`, `co.uk`) is always the country's.
pub fn is_country_suffix(suffix: &str, platform: bool) -> bool {
    let tld = suffix.rsplit('.').next().unwrap_or(suffix);
    let cc = tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    !platform && cc && (suffix.contains('.') || !GENERIC_USE_CCTLDS.contains(&tld))
}

/// TLDs where big brands register their own name defensively (`bing.net`, `wordpress.org`)
/// or that only vetted organisations get: the "same name under another TLD" rule skips them.
pub const DEFENSIVE_TLDS: &[&str] = &["com", "net", "org", "edu", "gov", "mil", "int"];

/// Calls `f` with `s` and every byte string made from it by deleting up to `k` bytes
/// (possibly more than once for the same string; in an order where the variants of one entry
/// come together). Only strings of at most 63 bytes (a DNS label) get deletions; longer ones
/// are passed as they are. Allocation-free.
pub fn deletions(s: &str, k: usize, f: &mut impl FnMut(&[u8])) {
    let b = s.as_bytes();
    f(b);
    if k == 0 || b.len() > 63 {
        return;
    }
    fn rec(src: &[u8], from: usize, k: usize, f: &mut impl FnMut(&[u8])) {
        let n = src.len();
        let mut out = [0u8; 64];
        for i in from..n {
            // src without byte i.
            out[..i].copy_from_slice(&src[..i]);
            out[i..n - 1].copy_from_slice(&src[i + 1..]);
            f(&out[..n - 1]);
            if k > 1 {
                rec(&out[..n - 1], i, k - 1, f);
            }
        }
    }
    rec(b, 0, k, f);
}

/// One unit of a name for the look-alike comparison: its text and what it reads as.
fn units(label: &str) -> Vec<(&str, char)> {
    let b = label.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let two = label.get(i..i + 2);
        let (len, reads) = match (two, b[i]) {
            (Some("rn"), _) | (Some("nn"), _) => (2, 'm'),
            (Some("vv"), _) => (2, 'w'),
            (Some("cl"), _) => (2, 'd'),
            (_, b'0') => (1, 'o'),
            (_, b'3') => (1, 'e'),
            (_, b'5') => (1, 's'),
            (_, b'1') => (1, '1'), // l or i
            (_, c) => (1, c as char),
        };
        out.push((&label[i..i + len], reads));
        i += len;
    }
    out
}

/// The look-alike keys of a name: tricks undone, `1` read as both `l` and `i` (at most 16
/// keys; names with more than four `1`s get the first 16).
pub fn lookalike_keys(label: &str) -> Vec<String> {
    let u = units(label);
    let ones = u.iter().filter(|(_, r)| *r == '1').count().min(4);
    let mut keys = Vec::with_capacity(1 << ones);
    for mask in 0..(1u32 << ones) {
        let mut k = String::with_capacity(u.len());
        let mut j = 0;
        for &(_, r) in &u {
            if r == '1' {
                let pick = if j < 4 && mask & (1 << j) != 0 { 'i' } else { 'l' };
                j += 1;
                k.push(pick);
            } else {
                k.push(r);
            }
        }
        keys.push(k);
    }
    keys
}

fn kind(c: u8) -> &'static str {
    match c {
        b'0'..=b'9' => "digit",
        b'-' => "hyphen",
        _ => "letter",
    }
}

fn ch(s: &str) -> String {
    if s == "-" { "'-'".into() } else { s.into() }
}

/// The tricks that turn protected name `p` into look-alike `q` (their units align one to one).
pub fn explain_lookalike(q: &str, p: &str) -> String {
    let (uq, up) = (units(q), units(p));
    let mut parts: Vec<String> = Vec::new();
    if uq.len() == up.len() {
        for (&(a, _), &(b, _)) in uq.iter().zip(&up) {
            if a == b {
                continue;
            }
            let part = if a.len() == 1 && b.len() == 1 {
                format!("{} {} in place of {} {}", kind(a.as_bytes()[0]), ch(a), kind(b.as_bytes()[0]), ch(b))
            } else {
                format!("'{a}' in place of '{b}'")
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
    }
    if parts.is_empty() { "look-alike characters".into() } else { parts.join(", ") }
}

/// Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps, each
/// substring edited once), on bytes.
pub fn osa(a: &[u8], b: &[u8]) -> usize {
    let t = table(a, b);
    t[a.len() * (b.len() + 1) + b.len()] as usize
}

fn table(a: &[u8], b: &[u8]) -> Vec<u16> {
    let w = b.len() + 1;
    let mut d = vec![0u16; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i as u16;
    }
    for (j, cell) in d[..w].iter_mut().enumerate() {
        *cell = j as u16;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = u16::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d
}

/// One edit turning protected name `p` into `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// `q` has an extra character at this index of `q`.
    Insert(usize),
    /// `q` lacks the character at this index of `p`.
    Delete(usize),
    /// `q[i]` in place of `p[j]`.
    Substitute(usize, usize),
    /// `q[i], q[i+1]` are `p[j+1], p[j]`.
    Swap(usize, usize),
}

/// The edits of an optimal alignment of `q` (query) against `p` (protected), left to right.
pub fn edits(q: &[u8], p: &[u8]) -> Vec<Edit> {
    let t = table(q, p);
    let w = p.len() + 1;
    let (mut i, mut j) = (q.len(), p.len());
    let mut out = Vec::new();
    while i > 0 || j > 0 {
        let here = t[i * w + j];
        if i > 0 && j > 0 && q[i - 1] == p[j - 1] && t[(i - 1) * w + j - 1] == here {
            i -= 1;
            j -= 1;
        } else if i > 1 && j > 1 && q[i - 1] == p[j - 2] && q[i - 2] == p[j - 1] && t[(i - 2) * w + j - 2] + 1 == here {
            out.push(Edit::Swap(i - 2, j - 2));
            i -= 2;
            j -= 2;
        } else if i > 0 && j > 0 && t[(i - 1) * w + j - 1] + 1 == here {
            out.push(Edit::Substitute(i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if i > 0 && t[(i - 1) * w + j] + 1 == here {
            out.push(Edit::Insert(i - 1));
            i -= 1;
        } else {
            out.push(Edit::Delete(j - 1));
            j -= 1;
        }
    }
    out.reverse();
    out
}

/// Plain English for the edits from `p` to `q`: "doubled letter l", "digit 1 in place of letter l".
pub fn describe_edits(q: &[u8], p: &[u8]) -> String {
    let c = |b: u8| ch(&(b as char).to_string());
    let parts: Vec<String> = edits(q, p)
        .into_iter()
        .map(|e| match e {
            Edit::Insert(i) => {
                let x = q[i];
                let doubled = (i > 0 && q[i - 1] == x) || q.get(i + 1) == Some(&x);
                if x == b'-' {
                    "extra hyphen".into()
                } else if doubled {
                    format!("doubled {} {}", kind(x), c(x))
                } else {
                    format!("extra {} {}", kind(x), c(x))
                }
            }
            Edit::Delete(j) => {
                let x = p[j];
                let was_double = (j > 0 && p[j - 1] == x) || p.get(j + 1) == Some(&x);
                if x == b'-' {
                    "hyphen dropped".into()
                } else if was_double {
                    format!("double {} {} written once", kind(x), c(x))
                } else {
                    format!("{} {} dropped", kind(x), c(x))
                }
            }
            Edit::Substitute(i, j) => format!("{} {} in place of {} {}", kind(q[i]), c(q[i]), kind(p[j]), c(p[j])),
            Edit::Swap(i, _) => format!(
                "{} {} and {} swapped",
                if kind(q[i]) == kind(q[i + 1]) { "neighbours" } else { "characters" },
                c(q[i + 1]),
                c(q[i])
            ),
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(osa(b"paypal", b"paypal"), 0);
        assert_eq!(osa(b"paypa1", b"paypal"), 1);
        assert_eq!(osa(b"papyal", b"paypal"), 1);
        assert_eq!(osa(b"paypall", b"paypal"), 1);
        assert_eq!(osa(b"pypal", b"paypal"), 1);
        assert_eq!(osa(b"rnicrosoft", b"microsoft"), 2);
        assert_eq!(osa(b"ca", b"abc"), 3, "OSA, not unrestricted Damerau-Levenshtein");
        assert_eq!(osa(b"", b"abc"), 3);
    }

    #[test]
    fn edit_descriptions() {
        assert_eq!(describe_edits(b"paypa1", b"paypal"), "digit 1 in place of letter l");
        assert_eq!(describe_edits(b"paypall", b"paypal"), "doubled letter l");
        assert_eq!(describe_edits(b"papyal", b"paypal"), "neighbours y and p swapped");
        assert_eq!(describe_edits(b"pypal", b"paypal"), "letter a dropped");
        assert_eq!(describe_edits(b"facebok", b"facebook"), "double letter o written once");
        assert_eq!(describe_edits(b"pay-pal", b"paypal"), "extra hyphen");
        assert_eq!(describe_edits(b"paypaql", b"paypal"), "extra letter q");
    }

    #[test]
    fn lookalike_keys_cover_the_tricks() {
        assert_eq!(lookalike_keys("rnicrosoft"), vec!["microsoft"]);
        assert_eq!(lookalike_keys("vvells"), vec!["wells"]);
        assert_eq!(lookalike_keys("g00gle"), vec!["google"]);
        assert_eq!(lookalike_keys("1inked1n"), vec!["linkedln", "iinkedln", "linkedin", "iinkedin"]);
        assert_eq!(explain_lookalike("rnicros0ft", "microsoft"), "'rn' in place of 'm', digit 0 in place of letter o");
        assert_eq!(explain_lookalike("paypa1", "paypal"), "digit 1 in place of letter l");
    }

    #[test]
    fn deletion_neighbourhood() {
        let mut v = Vec::new();
        deletions("abc", 2, &mut |s| v.push(String::from_utf8(s.to_vec()).unwrap()));
        v.sort();
        v.dedup();
        assert_eq!(v, vec!["a", "ab", "abc", "ac", "b", "bc", "c"]);
    }
}

//! The analyser: per-host verdicts, cached per batch, and the findings rows.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use arrow::compute::{cast, take};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sweep_formats::schema::timestamp_type;
use sweep_intel::psl;

use crate::ContentError;
use crate::confusables::{Lookalike, skeleton};
use crate::dga::{self, DgaModel};
use crate::fx::FxMap;
use crate::ip::{self, IpAllow};
use crate::ownership::{BUNDLED_OWNERS, BUNDLED_POPULAR, Owners, Popular};
use crate::punycode;
use crate::spec::{ContentSpec, PopularMode};
use crate::typo::{self, BUNDLED_PROTECTED, Protected, TypoHit, TypoKind, is_country_suffix, split_registrable};

/// What a detector concluded about a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    MissingFqdn,
    Typosquat,
    Masquerade,
    Dga,
}

impl FindingKind {
    pub const ALL: [FindingKind; 4] = [FindingKind::MissingFqdn, FindingKind::Typosquat, FindingKind::Masquerade, FindingKind::Dga];

    /// The value of the `finding` column.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MissingFqdn => "missing_fqdn",
            FindingKind::Typosquat => "typosquat",
            FindingKind::Masquerade => "masquerade",
            FindingKind::Dga => "dga",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One detector's verdict on one host: a row of the `findings` table without the event columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// In [0, 1]: how sure the detector is that the host is malicious-looking.
    pub score: f64,
    /// Plain English for an analyst.
    pub reason: String,
}

static FINDINGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("ts", timestamp_type(), false),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, false),
        Field::new("url", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("finding", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
});

/// Schema of the `findings` table (built once): the event's `ts, client_ip, user, host, url,
/// source, offset` (types as in `events`), then `finding`, `score`, `reason`.
pub fn findings_schema() -> SchemaRef {
    FINDINGS.clone()
}

/// Event columns copied into the findings, in order.
const PASSTHROUGH: [&str; 7] = ["ts", "client_ip", "user", "host", "url", "source", "offset"];

/// Public suffixes from the PRIVATE section of the embedded Public Suffix List (platforms such
/// as `github.io`, `cloudfront.net`): normal rules, and the bases of wildcard rules.
struct PrivateSuffixes {
    normal: HashSet<&'static str>,
    wildcard: HashSet<&'static str>,
}

static PRIVATE: LazyLock<PrivateSuffixes> = LazyLock::new(|| {
    let mut p = PrivateSuffixes { normal: HashSet::new(), wildcard: HashSet::new() };
    let mut in_private = false;
    for line in psl::LIST.lines() {
        let line = line.trim();
        if line.starts_with("// ===BEGIN PRIVATE DOMAINS===") {
            in_private = true;
        }
        if !in_private || line.is_empty() || line.starts_with("//") {
            continue;
        }
        let rule = line.split_whitespace().next().unwrap_or(line);
        if let Some(base) = rule.strip_prefix("*.") {
            p.wildcard.insert(base);
        } else if !rule.starts_with('!') && rule.is_ascii() {
            p.normal.insert(rule);
        }
    }
    p
});

/// Whether a public suffix (as `psl::public_suffix` returns it) comes from the PRIVATE section.
pub fn is_platform_suffix(suffix: &str) -> bool {
    let p = &*PRIVATE;
    p.normal.contains(suffix) || suffix.split_once('.').is_some_and(|(_, parent)| p.wildcard.contains(parent))
}

/// Detects malicious-looking hosts in `events` batches and turns them into `findings` rows
/// (docs/content.md). Immutable once built: share one across threads.
#[derive(Debug, Clone)]
pub struct ContentAnalyser {
    spec: ContentSpec,
    protected: Protected,
    allow_domains: HashSet<String>,
    allow_ips: IpAllow,
    owners: Owners,
    /// Empty when the guard is off.
    popular: Popular,
    /// `masquerade.combo_words`, longest first (a longer word is stripped before its prefix).
    combo_words: Vec<String>,
    /// Each brand's domain written as one name (`paypalcom`, `amazoncouk`) -> its entry.
    glued: FxMap<Box<str>, u32>,
    dga: &'static DgaModel,
}

/// The order of `combo_words`: longest first (a longer word is peeled before its prefix), then
/// alphabetical, so that it can be binary-searched.
fn cmp_longest_first(a: &str, b: &str) -> std::cmp::Ordering {
    b.len().cmp(&a.len()).then(a.cmp(b))
}

/// The host as the detectors read it: ASCII lower case, no trailing dot, no port.
fn normalise_host(raw: &str) -> Cow<'_, str> {
    let mut h = raw.trim();
    h = h.strip_suffix('.').unwrap_or(h);
    // A `host:port` or `[v6]:port`: drop the port.
    if let Some((name, port)) = h.rsplit_once(':')
        && (!name.contains(':') || (name.starts_with('[') && name.ends_with(']')))
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        h = name;
    }
    if !h.is_ascii() {
        return Cow::Owned(h.to_lowercase());
    }
    if h.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(h.to_ascii_lowercase()) } else { Cow::Borrowed(h) }
}

fn lookalike_text(used: &[Lookalike]) -> String {
    used.iter().map(|l| format!("{} '{}' (U+{:04X}) for '{}'", l.kind, l.ch, l.ch as u32, l.reads_as)).collect::<Vec<_>>().join(", ")
}

impl ContentAnalyser {
    /// Builds the analyser: validates the spec, reads the protected list (the file or the
    /// bundled one, plus `protected`), the allowlists, and builds the indexes.
    pub fn new(spec: ContentSpec) -> Result<ContentAnalyser, ContentError> {
        spec.validate()?;
        let read = |path: &str, key: &str| {
            std::fs::read_to_string(path).map_err(|e| {
                ContentError::Spec(format!(
                    "{key} {path:?} cannot be read: {e}; give a readable file or remove the key to use the bundled list"
                ))
            })
        };
        let mut domains = match &spec.protected_file {
            None => typo::parse_list(BUNDLED_PROTECTED, "bundled protected_domains.txt")?,
            Some(path) => typo::parse_list(&read(path, "protected_file")?, &format!("protected_file {path:?}"))?,
        };
        for (i, d) in spec.protected.iter().enumerate() {
            domains.push(typo::normalise_domain(d).map_err(|e| ContentError::Spec(format!("protected[{i}]: {e}")))?);
        }
        if domains.is_empty() && (spec.typosquat.enabled || spec.masquerade.enabled) {
            return Err(ContentError::Spec(
                "the protected list is empty: typosquat and masquerade need protected domains; list some or disable them".into(),
            ));
        }
        let mut allow_domains = HashSet::new();
        for (i, d) in spec.allow_domains.iter().enumerate() {
            allow_domains.insert(typo::normalise_domain(d).map_err(|e| ContentError::Spec(format!("allow_domains[{i}]: {e}")))?);
        }
        let allow_ips = IpAllow::parse(&spec.missing_fqdn.allow)?;
        let mut owners = Owners::default();
        match &spec.owners_file {
            None => owners.parse(BUNDLED_OWNERS, "bundled brand_owners.txt")?,
            Some(path) => owners.parse(&read(path, "owners_file")?, &format!("owners_file {path:?}"))?,
        }
        for (brand, owned) in &spec.owners {
            owners.add(brand, owned, &format!("owners.{brand:?}"))?;
        }
        let popular = match (spec.popular.mode, &spec.popular.file) {
            (PopularMode::Off, _) => Popular::default(),
            (_, None) => Popular::parse(BUNDLED_POPULAR, "bundled popular_domains.txt")?,
            (_, Some(path)) => Popular::parse(&read(path, "popular.file")?, &format!("popular.file {path:?}"))?,
        };
        let mut combo_words: Vec<String> = spec.masquerade.combo_words.iter().map(|w| w.trim().to_ascii_lowercase()).collect();
        if let Some(w) = combo_words.iter().find(|w| w.is_empty() || !w.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(ContentError::Spec(format!(
                "masquerade.combo_words has {w:?}: give words of letters and digits (hyphens are matched on their own)"
            )));
        }
        combo_words.sort_by(|a, b| cmp_longest_first(a, b));
        combo_words.dedup();
        let protected = Protected::build(&domains, &spec);
        let mut glued = FxMap::default();
        for (i, e) in protected.entries.iter().enumerate() {
            if !e.generic && e.label.len() >= typo::COMBO_MIN_LENGTH {
                glued.entry(e.domain.replace('.', "").into_boxed_str()).or_insert(i as u32);
            }
        }
        Ok(ContentAnalyser { spec, protected, allow_domains, allow_ips, owners, popular, combo_words, glued, dga: DgaModel::bundled() })
    }

    pub fn spec(&self) -> &ContentSpec {
        &self.spec
    }

    /// How many protected domains are in use (after de-duplication).
    pub fn protected_len(&self) -> usize {
        self.protected.len()
    }

    /// Every finding for one host, in the order missing_fqdn, typosquat, masquerade, dga
    /// (at most one of each). Empty for a benign-looking host, an empty host, or one without a
    /// registrable domain (a bare public suffix, a single label).
    pub fn judge(&self, raw_host: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        let host = normalise_host(raw_host);
        let host = host.as_ref();
        if host.is_empty() {
            return out;
        }
        if let Some(addr) = ip::ip_literal(host) {
            if self.spec.missing_fqdn.enabled && !ip::is_local(addr) && !self.allow_ips.contains(addr) {
                out.push(Finding { kind: FindingKind::MissingFqdn, score: 0.5, reason: ip::reason(host, addr) });
            }
            return out;
        }
        // The ASCII form for the Public Suffix List and the Unicode form for look-alikes.
        let (ascii, unicode): (Cow<str>, Option<String>) = if host.is_ascii() {
            let has_puny = host.split('.').any(|l| l.starts_with("xn--"));
            (Cow::Borrowed(host), if has_puny { punycode::decode_host(host) } else { None })
        } else {
            match psl::to_ascii(host) {
                Some(a) => (Cow::Owned(a), Some(host.to_string())),
                None => return out,
            }
        };
        let ascii = ascii.as_ref();
        let Some((rd, label, suffix)) = split_registrable(ascii) else { return out };
        let platform = is_platform_suffix(suffix);
        if self.protected.contains(rd) || self.allow_domains.contains(rd) || self.owners.owns(rd, label, suffix, platform) {
            return out;
        }
        let popular = self.popular.contains(rd);
        if popular && self.spec.popular.mode == PopularMode::Suppress {
            return out;
        }
        let country = is_country_suffix(suffix, platform);
        let cdn = crate::ownership::is_cdn_suffix(suffix);
        let mut found = Vec::new();
        if self.spec.typosquat.enabled
            && !cdn
            && let Some(hit) = self.protected.typosquat(label, suffix, country)
        {
            found.push(Finding {
                kind: FindingKind::Typosquat,
                score: hit.score,
                reason: self.typo_reason(ascii, &hit, platform.then_some(suffix)),
            });
        }
        if self.spec.masquerade.enabled
            && let Some(f) = self.masquerade(ascii, rd, suffix, unicode.as_deref())
        {
            found.push(f);
        }
        if self.spec.dga.enabled
            && (self.spec.dga.platform_suffixes || !platform)
            && !label.starts_with("xn--")
            && let Some((judged, f)) = self.dga.judge_label(label, self.spec.dga.min_length)
            && f.score >= self.spec.dga.threshold
        {
            found.push(Finding { kind: FindingKind::Dga, score: f.score, reason: dga::reason(ascii, judged, &f) });
        }
        for mut f in found {
            if popular {
                f.score *= 0.5;
                f.reason.push_str(&format!(" (score halved: {rd} is on the popular-sites list)"));
            }
            let min_score = match f.kind {
                FindingKind::Typosquat => self.spec.typosquat.min_score,
                FindingKind::Masquerade => self.spec.masquerade.min_score,
                FindingKind::Dga => self.spec.dga.threshold,
                FindingKind::MissingFqdn => 0.0,
            };
            if f.score >= min_score {
                out.push(f);
            }
        }
        out
    }

    fn typo_reason(&self, host: &str, hit: &TypoHit, platform: Option<&str>) -> String {
        let e = &self.protected.entries[hit.entry as usize];
        match (hit.kind, platform) {
            (TypoKind::OtherTld, Some(p)) => format!("host {host} has the name of {} as a site on the hosting platform {p}", e.domain),
            (TypoKind::OtherTld, None) => {
                format!("host {host} has the name of {} under another top-level domain: {}", e.domain, hit.detail)
            }
            _ => format!("host {host} looks like {}: {}", e.domain, hit.detail),
        }
    }

    /// Brand names in the labels of `host` left of its suffix, other than a registrable name
    /// equal to a brand (that is typosquat's "same name under another TLD").
    ///
    /// A brand alone as a label or token counts only with a combination word elsewhere in the
    /// host (`www.amazon.verify-account.top`), or when `bare` (a Unicode look-alike spelling it):
    /// `gitlab.example.de` and `samsung-club.ru` are a product's own name used by its users.
    fn brand_in_labels(&self, host: &str, rd: &str, suffix: &str, bare: bool) -> Option<(f64, String)> {
        let min = self.spec.masquerade.brand_min_length;
        let left = &host[..host.len() - suffix.len() - 1];
        let word_beside = |brand: &str| {
            left.split(['.', '-'])
                .find(|t| *t != brand && *t != "www" && self.combo_words.binary_search_by(|w| cmp_longest_first(w, t)).is_ok())
        };
        let rd_label_start = host.len() - rd.len();
        let mut start = 0;
        for label in left.split('.') {
            let here = start;
            start += label.len() + 1;
            let is_rd_label = here == rd_label_start;
            if is_rd_label && self.protected.is_protected_label(label) {
                continue;
            }
            if let Some(found) = self.brand_combination(label, is_rd_label, rd) {
                return Some(found);
            }
            let whole = std::iter::once(label);
            let tokens = label.split('-').filter(|t| label.contains('-') && t.len() >= min);
            for token in whole.chain(tokens) {
                if let Some(e) = self.protected.brand(token) {
                    if token == label && host[here..].starts_with(&format!("{}.", e.domain)) && !is_rd_label {
                        return Some((0.95, format!("puts the name {} in front of the unrelated domain {rd}", e.domain)));
                    }
                    let beside = word_beside(token);
                    // A brand as a word of the registrable name itself (`binance-app2.com`) is
                    // how phishing names are made, and how fan and partner sites are named too:
                    // a lower score, without a word beside it.
                    let in_name = is_rd_label && token != label;
                    if beside.is_none() && !bare && !in_name {
                        continue;
                    }
                    let where_ =
                        if token == label { format!("the label {label}") } else { format!("the label {label} (as the word {token})") };
                    let with = beside.map(|w| format!(", beside the word {w}")).unwrap_or_default();
                    let score = if beside.is_some() || bare { 0.8 } else { 0.6 };
                    return Some((
                        score,
                        format!("uses the brand name {token} of {} in {where_} of the unrelated domain {rd}{with}", e.domain),
                    ));
                }
                // A whole registrable name that is a look-alike is typosquat's finding.
                if token.len() > 4
                    && !(is_rd_label && token == label)
                    && !self.protected.is_protected_label(token)
                    && let Some(hit) = self.protected.lookalike(token, suffix)
                {
                    let e = &self.protected.entries[hit.entry as usize];
                    if !e.generic {
                        return Some((
                            0.85,
                            format!(
                                "uses {token}, a look-alike of the brand name {} of {} ({}), in the unrelated domain {rd}",
                                e.label, e.domain, hit.detail
                            ),
                        ));
                    }
                }
            }
        }
        None
    }

    /// A brand glued to combination words in one label, with or without hyphens
    /// (`microsoftsupport`, `login-netflix`, `dhl-tracking`, `wwwpaypal`), or the brand's own
    /// suffix glued to it (`paypalcom`). Not the brand alone: that is a token.
    fn brand_combination(&self, label: &str, is_rd_label: bool, rd: &str) -> Option<(f64, String)> {
        if self.combo_words.is_empty() || label.len() < typo::COMBO_MIN_LENGTH + 2 {
            return None;
        }
        let mut words: Vec<&str> = Vec::new();
        if let Some((core, hit)) = self.peel_words(label, &mut words, 3) {
            let e = &self.protected.entries[hit as usize];
            let what = if *e.label == *core {
                format!("the brand name {core}")
            } else {
                format!("{core}, a look-alike of the brand name {} ({}),", e.label, typo::explain_lookalike(core, &e.label))
            };
            let place = if is_rd_label { "as its name".to_string() } else { format!("in the label {label} of the unrelated domain {rd}") };
            let plural = if words.len() > 1 { "s" } else { "" };
            return Some((0.85, format!("glues {what} of {} to the word{plural} {} {place}", e.domain, words.join(", "))));
        }
        // The brand with its own suffix glued on: paypalcom.com, amazoncouk.net.
        let &i = self.glued.get(label)?;
        let e = &self.protected.entries[i as usize];
        Some((0.85, format!("glues {} into one name ({label}) in the unrelated domain {rd}", e.domain)))
    }

    /// Peels combination words off either end of `rest` (hyphens between them skipped), up to
    /// `depth` words, every order tried, until what is left is a brand or a look-alike of one:
    /// that core and the brand's entry. `words` holds the words peeled, outermost first.
    fn peel_words<'a>(&self, rest: &'a str, words: &mut Vec<&'a str>, depth: usize) -> Option<(&'a str, u32)> {
        if !words.is_empty() {
            if let Some(i) = self.protected.combo_brand_index(rest) {
                return Some((rest, i));
            }
            if rest.len() >= typo::LOOKALIKE_MIN_LENGTH
                && let Some(hit) = self.protected.lookalike(rest, "")
                && !self.protected.entries[hit.entry as usize].generic
            {
                return Some((rest, hit.entry));
            }
        }
        if depth == 0 {
            return None;
        }
        for w in &self.combo_words {
            if rest.len() <= w.len() + 1 {
                continue;
            }
            let front = rest.strip_prefix(w.as_str()).map(|r| (&rest[..w.len()], r.trim_start_matches('-')));
            let back = rest.strip_suffix(w.as_str()).map(|r| (&rest[rest.len() - w.len()..], r.trim_end_matches('-')));
            for (word, inner) in [front, back].into_iter().flatten() {
                if inner.len() < typo::COMBO_MIN_LENGTH {
                    continue;
                }
                words.push(word);
                if let Some(found) = self.peel_words(inner, words, depth - 1) {
                    return Some(found);
                }
                words.pop();
            }
        }
        None
    }

    /// A brand cut into labels: `goo.gle.com`, `pay.pal.example.net`.
    fn brand_split_across_labels(&self, host: &str, suffix: &str) -> Option<(f64, String)> {
        let left = &host[..host.len() - suffix.len() - 1];
        let left = left.strip_prefix("www.").unwrap_or(left);
        if !left.contains('.') {
            return None;
        }
        let labels: Vec<&str> = left.split('.').collect();
        // Any run of two or more neighbouring labels, no longer than a label can be.
        let mut joined = String::with_capacity(64);
        for i in 0..labels.len() {
            joined.clear();
            joined.push_str(labels[i]);
            for j in i + 1..labels.len() {
                joined.push_str(labels[j]);
                if joined.len() > 63 {
                    break;
                }
                if let Some(e) = self.protected.brand(&joined).filter(|e| e.label.len() >= 5) {
                    return Some((
                        0.8,
                        format!(
                            "host {host} spells the brand name {} of {} across the labels {}",
                            e.label,
                            e.domain,
                            labels[i..=j].join(".")
                        ),
                    ));
                }
            }
        }
        None
    }

    fn masquerade(&self, host: &str, rd: &str, suffix: &str, unicode: Option<&str>) -> Option<Finding> {
        let m = &self.spec.masquerade;
        let mut parts: Vec<(f64, String)> = Vec::new();
        if m.punycode
            && let Some(uni) = unicode
            && let Some(p) = self.punycode_lookalike(host, uni)
        {
            parts.push(p);
        }
        let cdn = crate::ownership::is_cdn_suffix(suffix);
        let brands = m.brand_labels && !cdn;
        if brands
            && parts.is_empty()
            && let Some((score, tail)) = self.brand_in_labels(host, rd, suffix, false)
        {
            parts.push((score, format!("host {host} {tail}")));
        }
        if brands
            && parts.is_empty()
            && let Some(p) = self.brand_split_across_labels(host, suffix)
        {
            parts.push(p);
        }
        if !cdn && host.len() > m.max_length {
            parts.push((0.4, format!("host name is {} characters long (more than {})", host.len(), m.max_length)));
        }
        let labels = host.split('.').count();
        if !cdn && labels > m.max_labels {
            parts.push((0.4, format!("host name has {labels} labels (more than {})", m.max_labels)));
        }
        if parts.is_empty() {
            return None;
        }
        let score = parts.iter().map(|p| p.0).fold(0.0, f64::max);
        let reason = parts.into_iter().map(|p| p.1).collect::<Vec<_>>().join("; ");
        Some(Finding { kind: FindingKind::Masquerade, score, reason })
    }

    /// A Unicode (or punycode) host that reads as a protected one once look-alikes are mapped.
    fn punycode_lookalike(&self, host: &str, uni: &str) -> Option<(f64, String)> {
        let mut skel = String::with_capacity(host.len());
        let mut used: Vec<Lookalike> = Vec::new();
        for (i, (a, u)) in host.split('.').zip(uni.split('.')).enumerate() {
            if i > 0 {
                skel.push('.');
            }
            match skeleton(u) {
                Some((s, l)) if !u.is_ascii() => {
                    skel.push_str(&s);
                    used.extend(l);
                }
                _ => skel.push_str(a),
            }
        }
        if used.is_empty() {
            return None;
        }
        let (rd2, label2, suffix2) = split_registrable(&skel)?;
        let what = lookalike_text(&used);
        if self.protected.contains(rd2) {
            return Some((1.0, format!("host {host} is {uni}, which reads as {rd2}: {what}")));
        }
        let platform = is_platform_suffix(suffix2);
        if let Some(hit) = self.protected.typosquat(label2, suffix2, is_country_suffix(suffix2, platform)) {
            let e = &self.protected.entries[hit.entry as usize];
            let score = if hit.kind == TypoKind::OtherTld { 0.9 } else { 0.85 };
            return Some((
                score,
                format!("host {host} is {uni}, which reads as {skel} ({what}) and looks like {}: {}", e.domain, hit.detail),
            ));
        }
        if let Some((_, tail)) = self.brand_in_labels(&skel, rd2, suffix2, true) {
            return Some((0.85, format!("host {host} is {uni}, which reads as {skel} ({what}) and {tail}")));
        }
        None
    }

    /// The findings of one `events` batch: one row per (event, finding), in event order, then
    /// in the order missing_fqdn, typosquat, masquerade, dga. Reads `host` and copies `ts,
    /// client_ip, user, host, url, source, offset` (any string type is read; the output has
    /// the `events` types). Verdicts are computed once per distinct host of the batch.
    pub fn analyse(&self, events: &RecordBatch) -> Result<RecordBatch, ContentError> {
        check_columns(events)?;
        let hosts = Hosts::new(events.column_by_name("host").expect("checked"))?;
        let mut cache: FxMap<&str, u32> = FxMap::default();
        let mut verdicts: Vec<Vec<Finding>> = Vec::new();
        let mut picks = Picks::default();
        for i in 0..events.num_rows() {
            let Some(h) = hosts.get(i) else { continue };
            let v = match cache.get(h) {
                Some(&v) => v,
                None => {
                    let v = verdicts.len() as u32;
                    verdicts.push(self.judge(h));
                    cache.insert(h, v);
                    v
                }
            };
            picks.add(i, v, &verdicts);
        }
        self.output(events, picks, &verdicts)
    }

    /// [`ContentAnalyser::analyse`] with verdicts kept across batches in `cache` (one per
    /// thread or partition): a host judged in an earlier batch is not judged again. The output
    /// is the same as `analyse`'s.
    pub fn analyse_cached(&self, events: &RecordBatch, cache: &mut VerdictCache) -> Result<RecordBatch, ContentError> {
        check_columns(events)?;
        let hosts = Hosts::new(events.column_by_name("host").expect("checked"))?;
        if cache.map.len() >= cache.capacity {
            cache.map.clear();
            cache.verdicts.clear();
            cache.clears += 1;
        }
        let mut picks = Picks::default();
        for i in 0..events.num_rows() {
            let Some(h) = hosts.get(i) else { continue };
            let v = match cache.map.get(h) {
                Some(&v) => {
                    cache.hits += 1;
                    v
                }
                None => {
                    cache.misses += 1;
                    let v = cache.verdicts.len() as u32;
                    cache.verdicts.push(self.judge(h));
                    cache.map.insert(h.into(), v);
                    v
                }
            };
            picks.add(i, v, &cache.verdicts);
        }
        self.output(events, picks, &cache.verdicts)
    }

    fn output(&self, events: &RecordBatch, picks: Picks, verdicts: &[Vec<Finding>]) -> Result<RecordBatch, ContentError> {
        let idx = UInt32Array::from(picks.rows);
        let schema = findings_schema();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (name, field) in PASSTHROUGH.iter().zip(schema.fields()) {
            let col = events.column_by_name(name).expect("checked");
            columns.push(convert(&take(col.as_ref(), &idx, None)?, name, field.data_type())?);
        }
        let get = |&(v, f): &(u32, u32)| &verdicts[v as usize][f as usize];
        let which = &picks.which;
        columns.push(Arc::new(which.iter().map(|w| Some(get(w).kind.as_str())).collect::<StringArray>()));
        columns.push(Arc::new(which.iter().map(|w| get(w).score).collect::<Float64Array>()));
        columns.push(Arc::new(which.iter().map(|w| Some(get(w).reason.as_str())).collect::<StringArray>()));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// The output rows of a batch: event row, and (verdict, finding) for each.
#[derive(Default)]
struct Picks {
    rows: Vec<u32>,
    which: Vec<(u32, u32)>,
}

impl Picks {
    fn add(&mut self, row: usize, v: u32, verdicts: &[Vec<Finding>]) {
        for f in 0..verdicts[v as usize].len() {
            self.rows.push(row as u32);
            self.which.push((v, f as u32));
        }
    }
}

fn check_columns(events: &RecordBatch) -> Result<(), ContentError> {
    for name in PASSTHROUGH {
        if events.column_by_name(name).is_none() {
            return Err(ContentError::Column(format!(
                "the events have no column `{name}`; the content analyser reads ts, client_ip, user, host, url, source and offset: keep them in the [[transform]] stages"
            )));
        }
    }
    Ok(())
}

/// Verdicts kept across batches by [`ContentAnalyser::analyse_cached`]. When it holds
/// `capacity` hosts or more at the start of a batch it is emptied (so it can exceed the
/// capacity by one batch's distinct hosts). A cache must be used with one analyser only.
#[derive(Debug, Clone)]
pub struct VerdictCache {
    map: FxMap<Box<str>, u32>,
    verdicts: Vec<Vec<Finding>>,
    capacity: usize,
    hits: u64,
    misses: u64,
    clears: u64,
}

impl VerdictCache {
    /// A cache of about `capacity` hosts (100,000 hosts take roughly 10 MB).
    pub fn new(capacity: usize) -> VerdictCache {
        VerdictCache { map: FxMap::default(), verdicts: Vec::new(), capacity: capacity.max(1), hits: 0, misses: 0, clears: 0 }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Events whose host's verdict was found in the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }
    /// Events whose host had to be judged.
    pub fn misses(&self) -> u64 {
        self.misses
    }
    /// How many times the cache was emptied for being full.
    pub fn clears(&self) -> u64 {
        self.clears
    }
}

/// Casts a copied column to its findings type, refusing types that make no sense.
fn convert(a: &ArrayRef, name: &str, to: &DataType) -> Result<ArrayRef, ContentError> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    let ok = match to {
        DataType::Utf8 => is_text(a.data_type()),
        DataType::Int64 => a.data_type().is_integer(),
        DataType::Timestamp(_, _) => matches!(a.data_type(), DataType::Timestamp(_, _)),
        _ => false,
    } || a.data_type() == &DataType::Null;
    if !ok {
        return Err(ContentError::Column(format!("column `{name}` is {}; the content analyser needs {to}", a.data_type())));
    }
    cast(a, to).map_err(|e| ContentError::Column(format!("column `{name}` ({}) cannot be read as {to}: {e}", a.data_type())))
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, v) => matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        _ => false,
    }
}

/// The host column, read in place for the string types and cast otherwise.
enum Hosts {
    Utf8(StringArray),
    Large(arrow_array::LargeStringArray),
    View(arrow_array::StringViewArray),
    Null,
}

impl Hosts {
    fn new(a: &ArrayRef) -> Result<Hosts, ContentError> {
        Ok(match a.data_type() {
            DataType::Utf8 => Hosts::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Hosts::Large(a.as_string::<i64>().clone()),
            DataType::Utf8View => Hosts::View(a.as_string_view().clone()),
            DataType::Null => Hosts::Null,
            t if is_text(t) => Hosts::Utf8(convert(a, "host", &DataType::Utf8)?.as_string::<i32>().clone()),
            t => return Err(ContentError::Column(format!("column `host` is {t}; the content analyser needs text (Utf8)"))),
        })
    }

    fn get(&self, i: usize) -> Option<&str> {
        let s = match self {
            Hosts::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Hosts::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            Hosts::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Hosts::Null => None,
        }?;
        (!s.is_empty()).then_some(s)
    }
}

//! The content analyser's configuration: `[[analyse]] kind = "content"` in a pipeline.
//!
//! Every key has a default, so `[[analyse]] kind = "content"` alone runs all four detectors
//! with the bundled protected-domain list. docs/content.md describes each key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ContentError;

/// Protected labels that are ordinary words or very short: they are still protected (never
/// flagged, and look-alikes of them such as `0ffice.com` are), but they are not used for
/// edit-distance matches, for "same name under another TLD" or as brand tokens in other
/// domains, where they would mostly flag unrelated sites (`live-music.com`, `target.net`).
pub const DEFAULT_GENERIC_LABELS: &[&str] = &[
    "ally",
    "att",
    "box",
    "cash",
    "chase",
    "citi",
    "crypto",
    "discover",
    "gemini",
    "ing",
    "kraken",
    "ledger",
    "live",
    "login",
    "mail",
    "office",
    "regions",
    "sap",
    "signal",
    "slack",
    "square",
    "target",
    "uber",
    "ups",
    "visa",
    "wise",
    "zoom",
    "booking",
    "fidelity",
    "nationwide",
    "vanguard",
    "meta",
    "threads",
    "windows",
    "proton",
    "temu",
    "dell",
    "web",
    "android",
];

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

fn is_list(words: &[String], default: &[&str]) -> bool {
    words.iter().map(String::as_str).eq(default.iter().copied())
}

fn default_generic_labels() -> Vec<String> {
    owned(DEFAULT_GENERIC_LABELS)
}

fn yes() -> bool {
    true
}

// A pipeline printed back (`sweep scan --print-pipeline`, `Flow::to_toml`) shows only what
// differs from the defaults, so `[[analyse]] kind = "content"` stays one line.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_default_generic(labels: &[String]) -> bool {
    is_list(labels, DEFAULT_GENERIC_LABELS)
}

/// Configuration of a content analyser (docs/content.md).
///
/// ```toml
/// [[analyse]]
/// kind = "content"
/// protected_file = "conf/protected.txt"   # default: the bundled list
/// protected = ["example-corp.com"]        # added to the list
/// allow_domains = ["partner-cdn.net"]     # never flagged, nor their subdomains
///
/// [analyse.missing_fqdn]
/// allow = ["203.0.113.0/24"]
///
/// [analyse.typosquat]
/// max_distance = 1
///
/// [analyse.dga]
/// threshold = 0.8
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentSpec {
    /// A file of protected domains, one a line (`#` comments). `None` (the default): the
    /// bundled list of about 300 widely used and phished domains (`data/protected_domains.txt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected_file: Option<String>,
    /// More protected domains, added to the file's or the bundled list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Protected labels that are ordinary words (see [`DEFAULT_GENERIC_LABELS`], the default).
    /// Setting this replaces the default list.
    #[serde(skip_serializing_if = "is_default_generic")]
    pub generic_labels: Vec<String>,
    /// Domains never flagged by the domain detectors (typosquat, masquerade, dga), with their
    /// subdomains. Bare IPs have their own allowlist in `missing_fqdn.allow`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_domains: Vec<String>,
    /// A brand map file (`BRAND: OWNED...` lines, the form of `data/brand_owners.txt`) that
    /// replaces the bundled one. Owned domains are never findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owners_file: Option<String>,
    /// More owned domains, brand by brand: `google.com = ["google.*", "withgoogle.com"]`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, Vec<String>>,
    /// The popularity guard: what a top-sites list does to findings on its domains.
    #[serde(skip_serializing_if = "is_default")]
    pub popular: PopularSpec,
    #[serde(skip_serializing_if = "is_default")]
    pub missing_fqdn: MissingFqdnSpec,
    #[serde(skip_serializing_if = "is_default")]
    pub typosquat: TyposquatSpec,
    #[serde(skip_serializing_if = "is_default")]
    pub masquerade: MasqueradeSpec,
    #[serde(skip_serializing_if = "is_default")]
    pub dga: DgaSpec,
}

impl Default for ContentSpec {
    fn default() -> Self {
        ContentSpec {
            protected_file: None,
            protected: Vec::new(),
            generic_labels: default_generic_labels(),
            allow_domains: Vec::new(),
            owners_file: None,
            owners: BTreeMap::new(),
            popular: PopularSpec::default(),
            missing_fqdn: MissingFqdnSpec::default(),
            typosquat: TyposquatSpec::default(),
            masquerade: MasqueradeSpec::default(),
            dga: DgaSpec::default(),
        }
    }
}

/// What the popularity guard does to a typosquat, masquerade or dga finding on a popular
/// registrable domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PopularMode {
    /// No finding (the default).
    #[default]
    Suppress,
    /// The finding with half its score, its reason saying why.
    Demote,
    /// The guard is off.
    Off,
}

/// `popular`: the popularity guard (docs/content.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PopularSpec {
    pub mode: PopularMode,
    /// A list of popular domains, one a line, that replaces the bundled Tranco top 10k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Words that phishing names glue to a brand (`paypal-secure-login.com`,
/// `microsoftsupport.com`, `loginnetflix.com`): masquerade's combination check.
pub const DEFAULT_COMBO_WORDS: &[&str] = &[
    "access",
    "account",
    "accounts",
    "activate",
    "alert",
    "alerts",
    "app",
    "apps",
    "auth",
    "billing",
    "bonus",
    "care",
    "center",
    "centre",
    "check",
    "claim",
    "confirm",
    "connect",
    "customer",
    "delivery",
    "desk",
    "gift",
    "help",
    "helpdesk",
    "id",
    "info",
    "invoice",
    "locked",
    "login",
    "logon",
    "mail",
    "my",
    "news",
    "notice",
    "official",
    "online",
    "parcel",
    "pay",
    "payment",
    "payments",
    "portal",
    "promo",
    "recover",
    "recovery",
    "refund",
    "reset",
    "reward",
    "rewards",
    "secure",
    "security",
    "service",
    "services",
    "signin",
    "signon",
    "sso",
    "status",
    "support",
    "sync",
    "team",
    "track",
    "tracking",
    "unlock",
    "update",
    "validate",
    "verify",
    "verification",
    "wallet",
    "web",
    "webmail",
    "www",
];

fn default_combo_words() -> Vec<String> {
    owned(DEFAULT_COMBO_WORDS)
}

fn is_default_combo_words(words: &[String]) -> bool {
    is_list(words, DEFAULT_COMBO_WORDS)
}

/// `missing_fqdn`: the host is a public IP address, not a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissingFqdnSpec {
    pub enabled: bool,
    /// IP addresses and networks (`addr/len`) never flagged, besides the private, loopback,
    /// link-local, CGNAT and unique-local ranges that never are.
    pub allow: Vec<String>,
}

impl Default for MissingFqdnSpec {
    fn default() -> Self {
        MissingFqdnSpec { enabled: yes(), allow: Vec::new() }
    }
}

/// `typosquat`: the registrable domain looks like a protected one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TyposquatSpec {
    pub enabled: bool,
    /// Largest Damerau-Levenshtein distance (insert, drop, change or swap neighbours) between
    /// the name and a protected name shorter than `long_length`.
    pub max_distance: usize,
    /// Largest distance for protected names of `long_length` characters or more.
    pub long_max_distance: usize,
    /// From this many characters a protected name counts as long.
    pub long_length: usize,
    /// Protected names shorter than this are not matched by edit distance (too many ordinary
    /// words are one edit away from `ebay` or `citi`); look-alike characters still count.
    pub min_length: usize,
    /// Flag a protected name under another top-level domain (`paypal.xyz` for `paypal.com`).
    pub other_tld: bool,
    /// With `other_tld`: also under country-code TLDs (`paypal.de`), where big brands often
    /// run their own sites. Off by default.
    pub country_tlds: bool,
    /// Findings scored below this are not written (0: every finding).
    pub min_score: f64,
}

impl Default for TyposquatSpec {
    fn default() -> Self {
        TyposquatSpec {
            enabled: yes(),
            max_distance: 1,
            long_max_distance: 2,
            long_length: 10,
            min_length: 5,
            other_tld: yes(),
            country_tlds: false,
            min_score: 0.0,
        }
    }
}

/// `masquerade`: a host dressed up as a protected one, or shaped to hide what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasqueradeSpec {
    pub enabled: bool,
    /// A protected brand name as a label, or a `-`-separated token of a label, of an
    /// unrelated domain (`paypal.com.account-verify.xyz`, `login-microsoft.example.net`).
    pub brand_labels: bool,
    /// Brand names shorter than this are not looked for alone as labels or tokens; shorter
    /// ones (`dhl`, `msn`) are found only glued to one of `combo_words`.
    pub brand_min_length: usize,
    /// A brand glued to these words, with or without hyphens, in any label
    /// (`microsoftsupport.com`, `dhl-tracking.net`, `secure-login-paypal.co`): see
    /// [`DEFAULT_COMBO_WORDS`]. Setting the key replaces the list; `[]` turns the check off.
    #[serde(skip_serializing_if = "is_default_combo_words")]
    pub combo_words: Vec<String>,
    /// Punycode (`xn--`) or Unicode names that read as a protected name once look-alike
    /// characters (Cyrillic `а`, Greek `ο`, fullwidth letters, accents...) are mapped to ASCII.
    pub punycode: bool,
    /// Host names longer than this many characters are flagged.
    pub max_length: usize,
    /// Host names with more labels than this are flagged.
    pub max_labels: usize,
    /// Findings scored below this are not written (0: every finding).
    pub min_score: f64,
}

impl Default for MasqueradeSpec {
    fn default() -> Self {
        MasqueradeSpec {
            enabled: yes(),
            brand_labels: yes(),
            brand_min_length: 4,
            combo_words: default_combo_words(),
            punycode: yes(),
            max_length: 80,
            max_labels: 6,
            min_score: 0.0,
        }
    }
}

/// The default DGA threshold, chosen from the rates measured in docs/content.md.
pub const DEFAULT_DGA_THRESHOLD: f64 = 0.9;

/// `dga`: the registrable name looks algorithmically generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DgaSpec {
    pub enabled: bool,
    /// A name whose score is at least this is flagged.
    pub threshold: f64,
    /// Names shorter than this are not judged (too little to go on).
    pub min_length: usize,
    /// Also judge tenant names on platforms listed in the PRIVATE section of the Public Suffix
    /// List (`d1a2b3c4.cloudfront.net`, `x7k2.herokuapp.com`), where random-looking names
    /// are normal. Off by default.
    pub platform_suffixes: bool,
}

impl Default for DgaSpec {
    fn default() -> Self {
        DgaSpec { enabled: yes(), threshold: DEFAULT_DGA_THRESHOLD, min_length: 8, platform_suffixes: false }
    }
}

impl ContentSpec {
    /// Checks what serde cannot; the message says what to change. Lists (protected domains,
    /// allowlists) are checked when the analyser is built, since that reads the files.
    pub fn validate(&self) -> Result<(), ContentError> {
        let bad = |msg: String| Err(ContentError::Spec(msg));
        if !(self.missing_fqdn.enabled || self.typosquat.enabled || self.masquerade.enabled || self.dga.enabled) {
            return bad("every detector is disabled: enable one of missing_fqdn, typosquat, masquerade, dga, or remove the stage".into());
        }
        let t = &self.typosquat;
        if t.max_distance > 2 || t.long_max_distance > 3 {
            return bad(format!(
                "typosquat.max_distance is {} and long_max_distance {}: at most 2 and 3 (beyond that most names look alike)",
                t.max_distance, t.long_max_distance
            ));
        }
        if t.long_max_distance < t.max_distance {
            return bad(format!(
                "typosquat.long_max_distance ({}) is below max_distance ({}): long names should allow at least as many edits",
                t.long_max_distance, t.max_distance
            ));
        }
        if t.min_length < 3 {
            return bad(format!("typosquat.min_length is {}: use 3 or more (every short name is near some other)", t.min_length));
        }
        if t.long_length <= t.min_length {
            return bad(format!("typosquat.long_length ({}) must be greater than min_length ({})", t.long_length, t.min_length));
        }
        let m = &self.masquerade;
        if m.brand_min_length < 2 {
            return bad(format!("masquerade.brand_min_length is {}: use 2 or more", m.brand_min_length));
        }
        if m.max_length == 0 || m.max_labels < 2 {
            return bad(format!(
                "masquerade.max_length is {} and max_labels {}: use at least 1 and 2 (253 and 127 turn the checks off)",
                m.max_length, m.max_labels
            ));
        }
        for (what, score) in [("typosquat", t.min_score), ("masquerade", m.min_score)] {
            if !(0.0..=1.0).contains(&score) {
                return bad(format!("{what}.min_score is {score}: use a number in [0, 1] (0 writes every finding)"));
            }
        }
        let d = &self.dga;
        if !(d.threshold > 0.0 && d.threshold <= 1.0) {
            return bad(format!("dga.threshold is {}: use a number in (0, 1], such as {DEFAULT_DGA_THRESHOLD}", d.threshold));
        }
        if d.min_length < 4 {
            return bad(format!("dga.min_length is {}: use 4 or more", d.min_length));
        }
        Ok(())
    }
}

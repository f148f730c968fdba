//! Indicators as feeds describe them, after validation and normalisation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What kind of value an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorType {
    Ipv4,
    Ipv6,
    /// An IPv4 or IPv6 network, `a.b.c.d/n` (a host address is `Ipv4`/`Ipv6`, never `/32`).
    Cidr,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
}

impl IndicatorType {
    /// Every type, in a stable order.
    pub const ALL: [IndicatorType; 9] = [
        IndicatorType::Ipv4,
        IndicatorType::Ipv6,
        IndicatorType::Cidr,
        IndicatorType::Domain,
        IndicatorType::Url,
        IndicatorType::Md5,
        IndicatorType::Sha1,
        IndicatorType::Sha256,
        IndicatorType::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorType::Ipv4 => "ipv4",
            IndicatorType::Ipv6 => "ipv6",
            IndicatorType::Cidr => "cidr",
            IndicatorType::Domain => "domain",
            IndicatorType::Url => "url",
            IndicatorType::Md5 => "md5",
            IndicatorType::Sha1 => "sha1",
            IndicatorType::Sha256 => "sha256",
            IndicatorType::Email => "email",
        }
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One indicator of compromise, normalised (see `normalize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// The normalised value: IPv4 dotted quad, compressed lower-case IPv6, network in
    /// canonical `addr/len` form, lower-case domain without trailing dot, canonical URL,
    /// lower-case hex hash, lower-case e-mail.
    pub value: String,
    pub kind: IndicatorType,
    /// The feed it came from (a file name or a configured feed name).
    pub feed: Arc<str>,
    /// 0..=100 where the feed says; `None` where it does not.
    pub confidence: Option<u8>,
    /// Free-form severity as the feed gives it (`high`, MISP threat level, ...).
    pub severity: Option<String>,
    pub tags: Vec<String>,
    /// A description or a reference (URL, report name, STIX id).
    pub description: Option<String>,
    /// Valid from this instant (µs since epoch, UTC), inclusive; `None` = always.
    pub valid_from: Option<i64>,
    /// Valid until this instant (µs since epoch, UTC), exclusive; `None` = forever.
    pub valid_until: Option<i64>,
}

/// A value a feed offered that did not become an indicator, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub feed: Arc<str>,
    /// Where in the feed: `line 12`, `object indicator--…`, `attribute <uuid>`.
    pub location: String,
    /// The value as written (cut to a readable length).
    pub value: String,
    /// A stable reason code: `invalid_value`, `unsupported_type`, `unsupported_pattern`,
    /// `not_to_ids`, `not_an_indicator`, `expired`, ...
    pub reason: String,
    pub detail: String,
}

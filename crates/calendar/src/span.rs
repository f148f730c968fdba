//! Durations written the way people write them in configuration: `"30s"`, `"5m"`, `"1h"`, `"2d"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds, written as an integer and a unit: `"30s"`, `"5m"`, `"1h"`, `"2d"`.
///
/// It prints in the largest unit that divides it exactly (`"300s"` prints as `"5m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    secs: u64,
}

/// The largest span accepted: 100 000 days (about 273 years), far below where microseconds overflow.
const MAX_SECS: u64 = 100_000 * 86_400;

impl Span {
    pub const ZERO: Span = Span { secs: 0 };

    /// A span of `secs` seconds.
    ///
    /// # Panics
    /// If `secs` is more than 100 000 days.
    pub const fn seconds(secs: u64) -> Span {
        assert!(secs <= MAX_SECS, "span too large");
        Span { secs }
    }

    pub const fn minutes(m: u64) -> Span {
        Span::seconds(m * 60)
    }

    pub const fn hours(h: u64) -> Span {
        Span::seconds(h * 3600)
    }

    pub const fn as_secs(self) -> u64 {
        self.secs
    }

    /// The span in microseconds, the unit of event timestamps.
    pub const fn as_micros(self) -> i64 {
        // At most MAX_SECS * 10^6 < 2^63.
        (self.secs * 1_000_000) as i64
    }

    /// Parses `"<integer><unit>"` with unit `s`, `m`, `h` or `d`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim();
        let hint = "write a whole number and a unit s, m, h or d, such as \"30s\", \"5m\", \"1h\" or \"1d\"";
        let Some(unit) = t.chars().last() else {
            return Err(format!("empty duration: {hint}"));
        };
        let per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("duration \"{text}\" has no unit: {hint}")),
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("duration \"{text}\" is not a whole number and a unit: {hint}"));
        }
        let secs = digits.parse::<u64>().ok().and_then(|n| n.checked_mul(per)).filter(|&s| s <= MAX_SECS);
        match secs {
            Some(secs) => Ok(Span { secs }),
            None => Err(format!("duration \"{text}\" is too long: at most 100000d")),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        if s == 0 {
            write!(f, "0s")
        } else if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Span, String> {
        Span::parse(s)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5m\", \"1h\" or \"1d\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

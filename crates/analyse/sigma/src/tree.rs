//! The engine-neutral form of a parsed rule: a boolean [`Condition`] over [`Atom`]s, each one
//! test of one event [`Column`] by a [`Matcher`].
//!
//! This is what a backend other than [`crate::SigmaAnalyser`] (a Spark SQL compiler, say)
//! translates. Its meaning, which every backend must keep:
//!
//! - **Two-valued logic.** An atom on a null value is `false` (except [`Matcher::Null`] and
//!   [`Matcher::Exists`]`(false)`, which are `true` there), and [`Condition::Not`] is plain
//!   boolean negation: `not filter` is `true` for an event whose filtered field is null. In SQL
//!   this means wrapping each atom in `coalesce(<atom>, false)` before `NOT`.
//! - **Text matchers** ([`Matcher::Equals`], [`Matcher::Contains`], [`Matcher::StartsWith`],
//!   [`Matcher::EndsWith`], [`Matcher::Wildcard`]) compare the column's text; an integer column's
//!   text is its decimal form (`200`). When `cased` is false both sides are compared after
//!   Unicode lowercasing ([`str::to_lowercase`]); the stored values keep the rule's spelling.
//! - The values of text matchers are plain strings: Sigma's wildcards and escapes have already
//!   been resolved (`Contains { value: "a*b" }` looks for the three characters `a*b`).
//! - **[`Column::PathExtension`]** is derived from `path`: the text after the last `.` of the last
//!   `/`-separated segment, lowercased; null when the path is null or that segment has no `.` or
//!   ends with it. `/a/b.Tar.GZ` → `gz`, `/a/b` → null, `/a.b/c` → null.
//! - **Keywords** (Sigma's unbound search values) appear as an [`Condition::Or`] of the same
//!   matcher on `url` and on `user_agent`.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// An event column, or a value derived from one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Column {
    /// A column of the `events` table, by name.
    Event(String),
    /// The lowercased extension of the last segment of `path` (see the module doc).
    PathExtension,
}

impl Column {
    /// The events column the value is read from.
    pub fn source(&self) -> &str {
        match self {
            Column::Event(name) => name,
            Column::PathExtension => "path",
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Event(name) => f.write_str(name),
            Column::PathExtension => f.write_str("extension(path)"),
        }
    }
}

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Piece {
    /// Literal text (never empty).
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    AnyChars,
    /// `?`: exactly one character.
    AnyChar,
}

/// A comparison for [`Matcher::Numeric`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum NumOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl NumOp {
    pub fn apply(self, left: f64, right: f64) -> bool {
        match self {
            NumOp::Eq => left == right,
            NumOp::Lt => left < right,
            NumOp::Lte => left <= right,
            NumOp::Gt => left > right,
            NumOp::Gte => left >= right,
        }
    }
}

/// Flags of a [`Matcher::Regex`] (`|re|i`, `|re|m`, `|re|s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RegexFlags {
    pub case_insensitive: bool,
    pub multi_line: bool,
    pub dot_all: bool,
}

impl RegexFlags {
    /// The pattern with the flags as an inline group, for the `regex` crate's syntax.
    pub fn wrap(self, pattern: &str) -> String {
        let mut flags = String::new();
        if self.case_insensitive {
            flags.push('i');
        }
        if self.multi_line {
            flags.push('m');
        }
        if self.dot_all {
            flags.push('s');
        }
        if flags.is_empty() { format!("(?:{pattern})") } else { format!("(?{flags}:{pattern})") }
    }
}

/// An IP network for [`Matcher::Cidr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Cidr {
    /// The network address with the host bits cleared.
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host network).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => {
                let p = p.trim();
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            None => max,
        };
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(prefix)).into()),
        };
        Some(Cidr { network, prefix })
    }

    /// Whether `addr` is in the network. An IPv4 address is never in an IPv6 network and the
    /// other way round (IPv4-mapped IPv6 addresses are not unmapped).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) }
}

/// How a [`Matcher::FieldRef`] compares its column with the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// What an [`Atom`] tests on its column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Matcher {
    /// The whole text equals `value`.
    Equals {
        value: String,
        cased: bool,
    },
    /// The text contains `value` (an empty `value` matches every non-null text).
    Contains {
        value: String,
        cased: bool,
    },
    StartsWith {
        value: String,
        cased: bool,
    },
    EndsWith {
        value: String,
        cased: bool,
    },
    /// The whole text matches the pattern (`*` any run, `?` one character). Only patterns that
    /// are not one of the forms above (e.g. `a*b`, `?x`, `*`) are kept as wildcards.
    Wildcard {
        pattern: Vec<Piece>,
        cased: bool,
    },
    /// A regular expression (the `regex` crate's syntax, a subset of PCRE) that matches anywhere
    /// in the text (unanchored search, as in Sigma).
    Regex {
        pattern: String,
        flags: RegexFlags,
    },
    /// The text parses as an IP address inside the network.
    Cidr(Cidr),
    /// The column's number (integer columns), or its text parsed as a number (text columns),
    /// compared with `value`: `column <op> value`. Text that is not a number never matches.
    Numeric {
        op: NumOp,
        value: Number,
    },
    /// `Exists(true)`: the value is not null (an empty string exists). `Exists(false)`: null.
    Exists(bool),
    /// The value is null (an empty string is not null).
    Null,
    /// Compares the column's text with the text of another column of the same event; `false`
    /// when either is null.
    FieldRef {
        other: Column,
        kind: RefKind,
        cased: bool,
    },
}

/// A number in a rule (compared and hashed by its bits, so that atoms can be deduplicated).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct Number(pub f64);

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Number {}
impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// One test of one column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Atom {
    pub column: Column,
    pub matcher: Matcher,
}

/// A rule's detection as a boolean tree. `And` and `Or` never have fewer than one child.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Atom(Atom),
}

impl Condition {
    /// Every atom of the tree, depth first, left to right (with repetitions).
    pub fn atoms(&self) -> Vec<&Atom> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Atom>) {
        match self {
            Condition::And(c) | Condition::Or(c) => c.iter().for_each(|c| c.collect(out)),
            Condition::Not(c) => c.collect(out),
            Condition::Atom(a) => out.push(a),
        }
    }

    /// Evaluates the tree given each atom's truth.
    pub fn eval(&self, atom: &mut impl FnMut(&Atom) -> bool) -> bool {
        match self {
            Condition::And(c) => c.iter().all(|c| c.eval(atom)),
            Condition::Or(c) => c.iter().any(|c| c.eval(atom)),
            Condition::Not(c) => !c.eval(atom),
            Condition::Atom(a) => atom(a),
        }
    }
}

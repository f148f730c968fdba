//! A recursive-descent parser for the STIX 2.1 patterning language (the grammar of
//! `STIXPattern.g4`, OASIS), and the extraction of the subset sweep can match.
//!
//! Precedence, lowest first: `FOLLOWEDBY`, observation `OR`, observation `AND`, qualifiers
//! (`WITHIN n SECONDS`, `REPEATS n TIMES`, `START t'…' STOP t'…'`, postfix); inside `[ ]`:
//! comparison `OR`, comparison `AND`, property tests (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IN`,
//! `LIKE`, `MATCHES`, `ISSUBSET`, `ISSUPERSET`, each optionally `NOT`, and `EXISTS`).
//! Literals: strings with `\'` and `\\` escapes, integers, floats, `true`/`false`,
//! `t'…'` timestamps, `h'…'` hex and `b'…'` base64 binaries. `/* */` and `//` comments.
//!
//! [`extract`] finds what sweep can match: equalities (and `IN` sets) on supported object paths
//! reached through `OR` only, at comparison or observation level. Any other construct is
//! reported with its text and a name (`AND`, `FOLLOWEDBY`, `WITHIN`, `LIKE`, `property
//! file:name`, ...). Within an `OR`, the supported alternatives are still extracted: each on its
//! own implies the pattern, so matching it is sound (only incomplete).

use std::fmt;

/// A byte range in the pattern text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(String),
    Hex(String),
    Binary(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    /// `[n]`; `None` is `[*]`.
    Index(Option<i64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<PathStep>,
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                PathStep::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        f.write_str(k)?;
                    } else {
                        write!(f, "'{k}'")?;
                    }
                }
                PathStep::Index(Some(n)) => write!(f, "[{n}]")?,
                PathStep::Index(None) => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Or(Box<Comparison>, Box<Comparison>, Span),
    And(Box<Comparison>, Box<Comparison>, Span),
    Test { path: ObjectPath, negated: bool, op: Op, values: Vec<Literal>, span: Span },
    Exists { path: ObjectPath, negated: bool, span: Span },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within(f64),
    Repeats(i64),
    StartStop(String, String),
}

impl Qualifier {
    fn name(&self) -> &'static str {
        match self {
            Qualifier::Within(_) => "WITHIN qualifier",
            Qualifier::Repeats(_) => "REPEATS qualifier",
            Qualifier::StartStop(..) => "START/STOP qualifier",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Simple(Comparison, Span),
    Or(Box<Observation>, Box<Observation>, Span),
    And(Box<Observation>, Box<Observation>, Span),
    FollowedBy(Box<Observation>, Box<Observation>, Span),
    Qualified(Box<Observation>, Qualifier, Span),
}

impl Observation {
    pub fn span(&self) -> Span {
        match self {
            Observation::Simple(_, s)
            | Observation::Or(_, _, s)
            | Observation::And(_, _, s)
            | Observation::FollowedBy(_, _, s)
            | Observation::Qualified(_, _, s) => *s,
        }
    }
}

impl Comparison {
    pub fn span(&self) -> Span {
        match self {
            Comparison::Or(_, _, s) | Comparison::And(_, _, s) => *s,
            Comparison::Test { span, .. } | Comparison::Exists { span, .. } => *span,
        }
    }
}

/// A syntax error, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error at offset {offset}: {message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Cmp(Op),
    /// An identifier; `true` when it contains a hyphen (allowed in object types only).
    Ident(String, bool),
    Kw(&'static str),
    Lit(Literal),
    /// A positive integer, kept apart for WITHIN/REPEATS/index steps.
    Int(i64),
    Eof,
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
];

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError { offset, message: message.into() }
}

fn lex(src: &str) -> Result<Vec<(Tok, Span)>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        // Whitespace (ASCII and the Unicode blanks the grammar lists).
        if c.is_ascii_whitespace() || c == 0x0b {
            i += 1;
            continue;
        }
        if c >= 0x80 {
            let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
            if ch.is_whitespace() {
                i += ch.len_utf8();
                continue;
            }
            return Err(err(i, format!("unexpected character {ch:?}")));
        }
        if src[i..].starts_with("/*") {
            let Some(e) = src[i + 2..].find("*/") else { return Err(err(i, "unclosed comment")) };
            i += e + 4;
            continue;
        }
        if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |e| i + e);
            continue;
        }
        let one = |t: Tok| (t, Span { start, end: start + 1 });
        match c {
            b'[' => out.push(one(Tok::LBrack)),
            b']' => out.push(one(Tok::RBrack)),
            b'(' => out.push(one(Tok::LParen)),
            b')' => out.push(one(Tok::RParen)),
            b':' => out.push(one(Tok::Colon)),
            b',' => out.push(one(Tok::Comma)),
            b'*' => out.push(one(Tok::Star)),
            b'.' if !b.get(i + 1).is_some_and(u8::is_ascii_digit) => out.push(one(Tok::Dot)),
            b'=' | b'!' | b'<' | b'>' => {
                let two = &b[i..(i + 2).min(b.len())];
                let (op, len) = match two {
                    b"==" => (Op::Eq, 2),
                    b"!=" => (Op::Neq, 2),
                    b"<>" => (Op::Neq, 2),
                    b"<=" => (Op::Le, 2),
                    b">=" => (Op::Ge, 2),
                    _ => match c {
                        b'=' => (Op::Eq, 1),
                        b'<' => (Op::Lt, 1),
                        b'>' => (Op::Gt, 1),
                        _ => return Err(err(i, "'!' must be followed by '='")),
                    },
                };
                out.push((Tok::Cmp(op), Span { start, end: start + len }));
                i += len;
                continue;
            }
            b'\'' => {
                let (s, end) = lex_string(src, i)?;
                out.push((Tok::Lit(Literal::Str(s)), Span { start, end }));
                i = end;
                continue;
            }
            b'+' | b'-' | b'0'..=b'9' | b'.' => {
                let mut j = i;
                if matches!(b[j], b'+' | b'-') {
                    j += 1;
                }
                let int_start = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let int_part = &src[int_start..j];
                let is_float = b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit);
                if is_float {
                    j += 1;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    let v: f64 = src[i..j].parse().map_err(|_| err(i, "bad float literal"))?;
                    out.push((Tok::Lit(Literal::Float(v)), Span { start, end: j }));
                } else {
                    if int_part.is_empty() {
                        return Err(err(i, "a sign must be followed by a number"));
                    }
                    if int_part.len() > 1 && int_part.starts_with('0') {
                        return Err(err(i, "integers have no leading zeros"));
                    }
                    let v: i64 = src[i..j].trim_start_matches('+').parse().map_err(|_| err(i, "integer out of range"))?;
                    if b[i] == b'-' {
                        out.push((Tok::Lit(Literal::Int(v)), Span { start, end: j }));
                    } else {
                        out.push((Tok::Int(v), Span { start, end: j }));
                    }
                }
                i = j;
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                if matches!(c, b't' | b'h' | b'b') && b.get(i + 1) == Some(&b'\'') {
                    let (s, end) = lex_string(src, i + 1)?;
                    let lit = match c {
                        b't' => {
                            if !valid_timestamp(&s) {
                                return Err(err(i, format!("bad timestamp literal t'{s}'")));
                            }
                            Literal::Timestamp(s)
                        }
                        b'h' => {
                            if !s.len().is_multiple_of(2) || !s.bytes().all(|x| x.is_ascii_hexdigit()) {
                                return Err(err(i, "a hex literal needs pairs of hex digits"));
                            }
                            Literal::Hex(s)
                        }
                        _ => {
                            if !valid_base64(&s) {
                                return Err(err(i, "bad base64 in binary literal"));
                            }
                            Literal::Binary(s)
                        }
                    };
                    out.push((Tok::Lit(lit), Span { start, end }));
                    i = end;
                    continue;
                }
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
                    j += 1;
                }
                let word = &src[i..j];
                let tok = match word {
                    "true" => Tok::Lit(Literal::Bool(true)),
                    "false" => Tok::Lit(Literal::Bool(false)),
                    w => match KEYWORDS.iter().find(|k| **k == w) {
                        Some(k) => Tok::Kw(k),
                        None => Tok::Ident(w.to_string(), w.contains('-')),
                    },
                };
                out.push((tok, Span { start, end: j }));
                i = j;
                continue;
            }
            _ => return Err(err(i, format!("unexpected character {:?}", c as char))),
        }
        i += 1;
    }
    out.push((Tok::Eof, Span { start: b.len(), end: b.len() }));
    Ok(out)
}

/// A quoted string starting at `b[at] == '\''`; returns the unescaped text and the end offset.
fn lex_string(src: &str, at: usize) -> Result<(String, usize), ParseError> {
    let b = src.as_bytes();
    let mut s = String::new();
    let mut i = at + 1;
    let mut run = i;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                s.push_str(&src[run..i]);
                return Ok((s, i + 1));
            }
            b'\\' => {
                s.push_str(&src[run..i]);
                match b.get(i + 1) {
                    Some(b'\'') => s.push('\''),
                    Some(b'\\') => s.push('\\'),
                    _ => return Err(err(i, "in a string only \\' and \\\\ are escapes")),
                }
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err(err(at, "unclosed string literal"))
}

fn valid_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && (b.len() == 20 || (b[19] == b'.' && b.len() > 21 && digits(20..b.len() - 1)))
        && super::time::parse_timestamp(s).is_some()
}

fn valid_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2 && b[..b.len() - pad].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }
    fn prev_end(&self) -> usize {
        if self.pos == 0 { 0 } else { self.toks[self.pos - 1].1.end }
    }
    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        self.pos = (self.pos + 1).min(self.toks.len());
        t
    }
    fn is_kw(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Kw(x) if *x == k)
    }
    fn expect(&mut self, want: &Tok, what: &str) -> Result<Span, ParseError> {
        if self.peek() == want { Ok(self.bump().1) } else { Err(self.unexpected(what)) }
    }
    fn expect_kw(&mut self, k: &str) -> Result<(), ParseError> {
        if self.is_kw(k) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(k))
        }
    }
    fn unexpected(&self, wanted: &str) -> ParseError {
        let got = match self.peek() {
            Tok::Eof => "the end of the pattern".to_string(),
            t => format!("{t:?}"),
        };
        err(self.span().start, format!("expected {wanted}, found {got}"))
    }

    fn observations(&mut self) -> Result<Observation, ParseError> {
        let mut left = self.obs_or()?;
        while self.is_kw("FOLLOWEDBY") {
            self.bump();
            let right = self.obs_or()?;
            let span = Span { start: left.span().start, end: right.span().end };
            left = Observation::FollowedBy(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }
    fn obs_or(&mut self) -> Result<Observation, ParseError> {
        let mut left = self.obs_and()?;
        while self.is_kw("OR") {
            self.bump();
            let right = self.obs_and()?;
            let span = Span { start: left.span().start, end: right.span().end };
            left = Observation::Or(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }
    fn obs_and(&mut self) -> Result<Observation, ParseError> {
        let mut left = self.obs_qualified()?;
        while self.is_kw("AND") {
            self.bump();
            let right = self.obs_qualified()?;
            let span = Span { start: left.span().start, end: right.span().end };
            left = Observation::And(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }
    fn obs_qualified(&mut self) -> Result<Observation, ParseError> {
        let mut obs = self.obs_primary()?;
        loop {
            let q = if self.is_kw("WITHIN") {
                self.bump();
                let n = match self.bump() {
                    (Tok::Int(n), _) if n > 0 => n as f64,
                    (Tok::Lit(Literal::Float(f)), _) if f > 0.0 => f,
                    (_, sp) => return Err(err(sp.start, "WITHIN needs a positive number")),
                };
                self.expect_kw("SECONDS")?;
                Qualifier::Within(n)
            } else if self.is_kw("REPEATS") {
                self.bump();
                let n = match self.bump() {
                    (Tok::Int(n), _) if n > 0 => n,
                    (_, sp) => return Err(err(sp.start, "REPEATS needs a positive integer")),
                };
                self.expect_kw("TIMES")?;
                Qualifier::Repeats(n)
            } else if self.is_kw("START") {
                self.bump();
                let a = match self.bump() {
                    (Tok::Lit(Literal::Timestamp(a)), _) => a,
                    (_, sp) => return Err(err(sp.start, "START needs a t'…' timestamp")),
                };
                self.expect_kw("STOP")?;
                let z = match self.bump() {
                    (Tok::Lit(Literal::Timestamp(z)), _) => z,
                    (_, sp) => return Err(err(sp.start, "STOP needs a t'…' timestamp")),
                };
                Qualifier::StartStop(a, z)
            } else {
                return Ok(obs);
            };
            let span = Span { start: obs.span().start, end: self.prev_end() };
            obs = Observation::Qualified(Box::new(obs), q, span);
        }
    }
    fn obs_primary(&mut self) -> Result<Observation, ParseError> {
        match self.peek() {
            Tok::LBrack => {
                let start = self.bump().1.start;
                let cmp = self.cmp_or()?;
                let end = self.expect(&Tok::RBrack, "']'")?.end;
                Ok(Observation::Simple(cmp, Span { start, end }))
            }
            Tok::LParen => {
                let start = self.bump().1.start;
                let inner = self.observations()?;
                let end = self.expect(&Tok::RParen, "')'")?.end;
                // Keep the parentheses in the span of the inner node for faithful text.
                Ok(respan_obs(inner, Span { start, end }))
            }
            _ => Err(self.unexpected("'[' or '('")),
        }
    }
    fn cmp_or(&mut self) -> Result<Comparison, ParseError> {
        let mut left = self.cmp_and()?;
        while self.is_kw("OR") {
            self.bump();
            let right = self.cmp_and()?;
            let span = Span { start: left.span().start, end: right.span().end };
            left = Comparison::Or(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }
    fn cmp_and(&mut self) -> Result<Comparison, ParseError> {
        let mut left = self.prop_test()?;
        while self.is_kw("AND") {
            self.bump();
            let right = self.prop_test()?;
            let span = Span { start: left.span().start, end: right.span().end };
            left = Comparison::And(Box::new(left), Box::new(right), span);
        }
        Ok(left)
    }
    fn prop_test(&mut self) -> Result<Comparison, ParseError> {
        let start = self.span().start;
        if *self.peek() == Tok::LParen {
            self.bump();
            let inner = self.cmp_or()?;
            let end = self.expect(&Tok::RParen, "')'")?.end;
            return Ok(respan_cmp(inner, Span { start, end }));
        }
        let mut negated = false;
        if self.is_kw("NOT") {
            // Only `NOT EXISTS` may start a test.
            self.bump();
            negated = true;
            if !self.is_kw("EXISTS") {
                return Err(self.unexpected("EXISTS after a leading NOT"));
            }
        }
        if self.is_kw("EXISTS") {
            self.bump();
            let path = self.object_path()?;
            return Ok(Comparison::Exists { path, negated, span: Span { start, end: self.prev_end() } });
        }
        let path = self.object_path()?;
        if self.is_kw("NOT") {
            self.bump();
            negated = true;
        }
        let save = self.pos;
        let (op, values) = match self.bump() {
            (Tok::Cmp(op), sp) => {
                let v = self.literal()?;
                if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && matches!(v, Literal::Bool(_)) {
                    return Err(err(sp.start, "an ordering comparison needs an orderable literal"));
                }
                (op, vec![v])
            }
            (Tok::Kw("IN"), _) => {
                self.expect(&Tok::LParen, "'(' after IN")?;
                let mut vals = Vec::new();
                if *self.peek() != Tok::RParen {
                    loop {
                        vals.push(self.literal()?);
                        if *self.peek() == Tok::Comma {
                            self.bump();
                            continue;
                        }
                        break;
                    }
                }
                self.expect(&Tok::RParen, "')' or ','")?;
                (Op::In, vals)
            }
            (Tok::Kw(k @ ("LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET")), sp) => {
                let op = match k {
                    "LIKE" => Op::Like,
                    "MATCHES" => Op::Matches,
                    "ISSUBSET" => Op::IsSubset,
                    _ => Op::IsSuperset,
                };
                match self.bump().0 {
                    Tok::Lit(Literal::Str(s)) => (op, vec![Literal::Str(s)]),
                    _ => return Err(err(sp.end, format!("{k} needs a string literal"))),
                }
            }
            _ => {
                self.pos = save;
                return Err(self.unexpected("a comparison operator"));
            }
        };
        Ok(Comparison::Test { path, negated, op, values, span: Span { start, end: self.prev_end() } })
    }
    fn literal(&mut self) -> Result<Literal, ParseError> {
        let save = self.pos;
        match self.bump() {
            (Tok::Lit(l), _) => Ok(l),
            (Tok::Int(n), _) => Ok(Literal::Int(n)),
            _ => {
                self.pos = save;
                Err(self.unexpected("a literal"))
            }
        }
    }
    fn object_path(&mut self) -> Result<ObjectPath, ParseError> {
        let save = self.pos;
        let object_type = match self.bump() {
            (Tok::Ident(s, _), _) => s,
            _ => {
                self.pos = save;
                return Err(self.unexpected("an object type"));
            }
        };
        self.expect(&Tok::Colon, "':' after the object type")?;
        let mut steps = Vec::new();
        let save = self.pos;
        match self.bump() {
            (Tok::Ident(s, false), _) => steps.push(PathStep::Key(s)),
            (Tok::Lit(Literal::Str(s)), _) => steps.push(PathStep::Key(s)),
            (Tok::Ident(s, true), sp) => return Err(err(sp.start, format!("property {s:?} has a hyphen: quote it"))),
            _ => {
                self.pos = save;
                return Err(self.unexpected("a property name"));
            }
        }
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let save = self.pos;
                    match self.bump() {
                        (Tok::Ident(s, false), _) => steps.push(PathStep::Key(s)),
                        (Tok::Lit(Literal::Str(s)), _) => steps.push(PathStep::Key(s)),
                        (Tok::Ident(s, true), sp) => return Err(err(sp.start, format!("property {s:?} has a hyphen: quote it"))),
                        _ => {
                            self.pos = save;
                            return Err(self.unexpected("a property name after '.'"));
                        }
                    }
                }
                Tok::LBrack => {
                    self.bump();
                    let idx = match self.bump() {
                        (Tok::Int(n), _) | (Tok::Lit(Literal::Int(n)), _) => Some(n),
                        (Tok::Star, _) => None,
                        (_, sp) => return Err(err(sp.start, "an index step needs an integer or '*'")),
                    };
                    self.expect(&Tok::RBrack, "']'")?;
                    steps.push(PathStep::Index(idx));
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }
}

fn respan_obs(o: Observation, s: Span) -> Observation {
    match o {
        Observation::Simple(c, _) => Observation::Simple(c, s),
        Observation::Or(a, b, _) => Observation::Or(a, b, s),
        Observation::And(a, b, _) => Observation::And(a, b, s),
        Observation::FollowedBy(a, b, _) => Observation::FollowedBy(a, b, s),
        Observation::Qualified(a, q, _) => Observation::Qualified(a, q, s),
    }
}

fn respan_cmp(c: Comparison, s: Span) -> Comparison {
    match c {
        Comparison::Or(a, b, _) => Comparison::Or(a, b, s),
        Comparison::And(a, b, _) => Comparison::And(a, b, s),
        Comparison::Test { path, negated, op, values, .. } => Comparison::Test { path, negated, op, values, span: s },
        Comparison::Exists { path, negated, .. } => Comparison::Exists { path, negated, span: s },
    }
}

/// Parses a STIX pattern.
pub fn parse(pattern: &str) -> Result<Observation, ParseError> {
    let toks = lex(pattern)?;
    let mut p = Parser { toks, pos: 0 };
    let obs = p.observations()?;
    if *p.peek() != Tok::Eof {
        return Err(p.unexpected("AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern"));
    }
    Ok(obs)
}

/// The kinds of value sweep can match, by object path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Md5,
    Sha1,
    Sha256,
    Domain,
    Url,
    Ipv4,
    Ipv6,
    Email,
}

/// The supported paths: `file:hashes.'SHA-256'` (also `MD5`, `SHA-1`, any case, quoted or not),
/// `domain-name:value`, `url:value`, `ipv4-addr:value`, `ipv6-addr:value`, `email-addr:value`.
pub fn target(path: &ObjectPath) -> Option<Target> {
    let keys: Vec<&str> = path.steps.iter().map(|s| if let PathStep::Key(k) = s { k.as_str() } else { "\u{0}" }).collect();
    match (path.object_type.as_str(), keys.as_slice()) {
        ("file", ["hashes", alg]) => {
            let a: String = alg.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_uppercase();
            match a.as_str() {
                "MD5" => Some(Target::Md5),
                "SHA1" => Some(Target::Sha1),
                "SHA256" => Some(Target::Sha256),
                _ => None,
            }
        }
        ("domain-name", ["value"]) => Some(Target::Domain),
        ("url", ["value"]) => Some(Target::Url),
        ("ipv4-addr", ["value"]) => Some(Target::Ipv4),
        ("ipv6-addr", ["value"]) => Some(Target::Ipv6),
        ("email-addr", ["value"]) => Some(Target::Email),
        _ => None,
    }
}

/// One value a pattern offers sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub target: Target,
    pub value: String,
    /// The text of the comparison it came from.
    pub text: String,
}

/// A part of a pattern sweep cannot match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The construct, e.g. `AND`, `FOLLOWEDBY`, `WITHIN qualifier`, `LIKE`, `property file:name`.
    pub construct: String,
    pub text: String,
}

/// Splits a parsed pattern into what sweep can match and what it cannot (see the module doc).
pub fn extract(pattern: &str, obs: &Observation) -> (Vec<Extracted>, Vec<Unsupported>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    walk_obs(pattern, obs, &mut ok, &mut bad);
    (ok, bad)
}

fn text(p: &str, s: Span) -> String {
    p.get(s.start..s.end).unwrap_or(p).to_string()
}

fn walk_obs(p: &str, o: &Observation, ok: &mut Vec<Extracted>, bad: &mut Vec<Unsupported>) {
    match o {
        Observation::Or(a, b, _) => {
            walk_obs(p, a, ok, bad);
            walk_obs(p, b, ok, bad);
        }
        Observation::Simple(c, _) => walk_cmp(p, c, ok, bad),
        Observation::And(_, _, s) => bad.push(Unsupported { construct: "AND between observations".into(), text: text(p, *s) }),
        Observation::FollowedBy(_, _, s) => bad.push(Unsupported { construct: "FOLLOWEDBY".into(), text: text(p, *s) }),
        Observation::Qualified(_, q, s) => bad.push(Unsupported { construct: q.name().into(), text: text(p, *s) }),
    }
}

fn walk_cmp(p: &str, c: &Comparison, ok: &mut Vec<Extracted>, bad: &mut Vec<Unsupported>) {
    match c {
        Comparison::Or(a, b, _) => {
            walk_cmp(p, a, ok, bad);
            walk_cmp(p, b, ok, bad);
        }
        Comparison::And(_, _, s) => bad.push(Unsupported { construct: "AND".into(), text: text(p, *s) }),
        Comparison::Exists { negated, span, .. } => {
            let construct = if *negated { "NOT EXISTS" } else { "EXISTS" };
            bad.push(Unsupported { construct: construct.into(), text: text(p, *span) });
        }
        Comparison::Test { path, negated, op, values, span } => {
            let t = text(p, *span);
            let Some(target) = target(path) else {
                bad.push(Unsupported { construct: format!("property {path}"), text: t });
                return;
            };
            if *negated {
                bad.push(Unsupported { construct: format!("NOT {}", op.name()), text: t });
                return;
            }
            if !matches!(op, Op::Eq | Op::In) {
                bad.push(Unsupported { construct: op.name().into(), text: t });
                return;
            }
            for v in values {
                match v {
                    Literal::Str(s) => ok.push(Extracted { target, value: s.clone(), text: t.clone() }),
                    other => bad.push(Unsupported { construct: format!("non-string literal {other:?}"), text: t.clone() }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: &str) -> Vec<(Target, String)> {
        let o = parse(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let (ok, bad) = extract(p, &o);
        assert!(bad.is_empty(), "{p}: {bad:?}");
        ok.into_iter().map(|e| (e.target, e.value)).collect()
    }
    fn constructs(p: &str) -> Vec<String> {
        let o = parse(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        extract(p, &o).1.into_iter().map(|u| u.construct).collect()
    }

    #[test]
    fn supported_equalities() {
        assert_eq!(values("[ipv4-addr:value = '10.0.0.0']"), [(Target::Ipv4, "10.0.0.0".into())]);
        assert_eq!(values("[file:hashes.'SHA-256' = 'ab']"), [(Target::Sha256, "ab".into())]);
        assert_eq!(values("[file:hashes.md5 = 'ab']"), [(Target::Md5, "ab".into())]);
        assert_eq!(values("[file:hashes.'SHA-1' == 'ab']"), [(Target::Sha1, "ab".into())]);
        assert_eq!(
            values("[domain-name:value = 'a.com' OR ipv4-addr:value = '1.2.3.4' OR url:value = 'http://x.com/\\'q\\\\']"),
            [(Target::Domain, "a.com".into()), (Target::Ipv4, "1.2.3.4".into()), (Target::Url, "http://x.com/'q\\".into())]
        );
        assert_eq!(
            values("[email-addr:value = 'a@b.com'] OR ([ipv6-addr:value = '::1'] OR [url:value = 'u'])"),
            [(Target::Email, "a@b.com".into()), (Target::Ipv6, "::1".into()), (Target::Url, "u".into())]
        );
        assert_eq!(values("[(domain-name:value = 'a.com')]"), [(Target::Domain, "a.com".into())]);
        assert_eq!(
            values("[domain-name:value IN ('a.com', 'b.com')]"),
            [(Target::Domain, "a.com".into()), (Target::Domain, "b.com".into())]
        );
        assert_eq!(values("/* c */ [domain-name:value = 'a.com'] // trailing"), [(Target::Domain, "a.com".into())]);
        assert_eq!(values("[domain-name:value\u{3000}=\t'a.com']"), [(Target::Domain, "a.com".into())]);
    }

    #[test]
    fn unsupported_constructs_named() {
        assert_eq!(constructs("[file:name = 'x']"), ["property file:name"]);
        assert_eq!(constructs("[x509-certificate:issuer = 'CN=A' AND x509-certificate:serial_number = '4c']"), ["AND"]);
        assert_eq!(constructs("[domain-name:value LIKE '%.evil.com']"), ["LIKE"]);
        assert_eq!(constructs("[url:value MATCHES '^http']"), ["MATCHES"]);
        assert_eq!(constructs("[domain-name:value != 'a.com']"), ["!="]);
        assert_eq!(constructs("[domain-name:value NOT = 'a.com']"), ["NOT ="]);
        assert_eq!(constructs("[ipv4-addr:value ISSUBSET '10.0.0.0/8']"), ["ISSUBSET"]);
        assert_eq!(constructs("[ipv4-addr:value ISSUPERSET '10.0.0.0/8']"), ["ISSUPERSET"]);
        assert_eq!(constructs("[file:size > 10]"), ["property file:size"]);
        assert_eq!(constructs("[ipv4-addr:value = 'a'] AND [domain-name:value = 'b']"), ["AND between observations"]);
        assert_eq!(constructs("[ipv4-addr:value = 'a'] FOLLOWEDBY [domain-name:value = 'b']"), ["FOLLOWEDBY"]);
        assert_eq!(constructs("[ipv4-addr:value = 'a'] WITHIN 300 SECONDS"), ["WITHIN qualifier"]);
        assert_eq!(constructs("[ipv4-addr:value = 'a'] REPEATS 5 TIMES"), ["REPEATS qualifier"]);
        assert_eq!(
            constructs("[ipv4-addr:value = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.5Z'"),
            ["START/STOP qualifier"]
        );
        assert_eq!(constructs("[NOT EXISTS file:name]"), ["NOT EXISTS"]);
        assert_eq!(constructs("[url:value = 1]"), ["non-string literal Int(1)"]);
        assert_eq!(constructs("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]").len(), 1);
        assert_eq!(constructs("[network-traffic:src_ref.value = '1.2.3.4']"), ["property network-traffic:src_ref.value"]);
    }

    #[test]
    fn mixed_or_keeps_supported_branches() {
        let p = "[domain-name:value = 'a.com' OR file:name = 'x'] OR [url:value = 'u'] FOLLOWEDBY [url:value = 'v']";
        let o = parse(p).unwrap();
        let (ok, bad) = extract(p, &o);
        // FOLLOWEDBY binds loosest: the whole pattern is one FOLLOWEDBY.
        assert!(ok.is_empty());
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].construct, "FOLLOWEDBY");
        assert_eq!(bad[0].text, p);
        let p = "[domain-name:value = 'a.com' OR file:name = 'x'] OR [url:value = 'u']";
        let o = parse(p).unwrap();
        let (ok, bad) = extract(p, &o);
        assert_eq!(ok.len(), 2);
        assert_eq!(bad, [Unsupported { construct: "property file:name".into(), text: "file:name = 'x'".into() }]);
    }

    #[test]
    fn precedence() {
        // AND binds tighter than OR inside a comparison: a OR (b AND c).
        let p = "[url:value = 'a' OR url:value = 'b' AND url:value = 'c']";
        assert_eq!(constructs(p), ["AND"]);
        let o = parse(p).unwrap();
        assert_eq!(extract(p, &o).0.len(), 1);
        // A qualifier applies to the observation before it only.
        let p = "[url:value = 'a'] OR [url:value = 'b'] WITHIN 5 SECONDS";
        assert_eq!(constructs(p), ["WITHIN qualifier"]);
        assert_eq!(extract(p, &parse(p).unwrap()).0.len(), 1);
    }

    #[test]
    fn literals() {
        for p in [
            "[x:y = 1]",
            "[x:y = -1]",
            "[x:y = +1]",
            "[x:y = 1.5]",
            "[x:y = -.5]",
            "[x:y = true]",
            "[x:y = h'0aff']",
            "[x:y = b'AAEC']",
            "[x:y = b'AA==']",
            "[x:y = t'2016-01-01T00:00:00Z']",
            "[x:y[0] = 'a']",
            "[x:y[-1] = 'a']",
            "[x:'a b'.c = 'a']",
            "[x:y IN ()]",
            "[x:y IN (1, 'a', true)]",
            "[x:y <= 3] REPEATS 2 TIMES WITHIN 1.5 SECONDS",
        ] {
            parse(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn syntax_errors() {
        for (p, at) in [
            ("", 0),
            ("[", 1),
            ("[ipv4-addr:value = '1.2.3.4'", 28),
            ("[ipv4-addr:value = '1.2.3.4]", 19),
            ("[ipv4-addr:value '1.2.3.4']", 17),
            ("ipv4-addr:value = '1.2.3.4'", 0),
            ("[ipv4-addr:value = 'a\\b']", 21),
            ("[x:y = h'0af']", 7),
            ("[x:y = b'A']", 7),
            ("[x:y = t'2016-13-01T00:00:00Z']", 7),
            ("[x:y = 01]", 7),
            ("[x:y = 'a'] WITHIN 0 SECONDS", 19),
            ("[x:y = 'a'] REPEATS 2", 21),
            ("[x:y = 'a'] OR", 14),
            ("[x:y = 'a'] [x:y = 'b']", 12),
            ("[x:my-prop = 'a']", 3),
            ("[x:y < true]", 5),
            ("[x:y LIKE 1]", 9),
            ("[domain-name:value = 'a'] é", 26),
            ("[x:y = 'a'] /* open", 12),
            ("[NOT x:y = 'a']", 5),
        ] {
            let e = parse(p).expect_err(p);
            assert_eq!(e.offset, at, "{p}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            if let Ok(o) = parse(&s) {
                let _ = extract(&s, &o);
            }
        }

        #[test]
        fn never_panics_on_pattern_like_text(s in "[\\[\\]()' :=!<>a-z0-9.\\-_*,\\\\é]{0,60}") {
            if let Ok(o) = parse(&s) {
                let _ = extract(&s, &o);
            }
        }

        #[test]
        fn equality_of_any_string_round_trips(v in "\\PC{0,40}") {
            let esc = v.replace('\\', "\\\\").replace('\'', "\\'");
            let p = format!("[url:value = '{esc}']");
            let o = parse(&p).unwrap();
            let (ok, bad) = extract(&p, &o);
            proptest::prop_assert!(bad.is_empty());
            proptest::prop_assert_eq!(&ok[0].value, &v);
        }
    }

    #[test]
    fn multibyte_after_operator() {
        assert!(parse("[a:b =é]").is_err());
        assert!(parse("[a:b !é]").is_err());
        assert!(parse("[a:b <é]").is_err());
    }

    #[test]
    fn path_display() {
        let o = parse("[file:hashes.'SHA-256' = 'a']").unwrap();
        let Observation::Simple(Comparison::Test { path, .. }, _) = o else { panic!() };
        assert_eq!(path.to_string(), "file:hashes.'SHA-256'");
    }
}

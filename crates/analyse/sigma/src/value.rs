//! Sigma string values: wildcards and escapes, encodings, and the text comparisons shared by
//! both evaluators.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::tree::{Matcher, Piece};

/// Parses a Sigma string: `*` and `?` are wildcards; `\*`, `\?` and `\\` are the literal
/// characters; a `\` before any other character (or at the end) is a literal backslash.
pub(crate) fn parse_sigma_string(s: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(if c == '*' { Piece::AnyChars } else { Piece::AnyChar });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    pieces
}

/// A literal as pieces (no wildcard interpretation).
pub(crate) fn literal(s: &str) -> Vec<Piece> {
    if s.is_empty() { Vec::new() } else { vec![Piece::Literal(s.to_string())] }
}

/// The pieces' text if they hold no wildcard.
pub(crate) fn plain_text(pieces: &[Piece]) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Literal(s) => out.push_str(s),
            _ => return None,
        }
    }
    Some(out)
}

/// Merges adjacent literals and runs of `*`.
fn normalise(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Literal(prev)), Piece::Literal(s)) => prev.push_str(&s),
            (Some(Piece::AnyChars), Piece::AnyChars) => {}
            (_, Piece::Literal(s)) if s.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// The simplest matcher for whole-text matching of `pieces`.
pub(crate) fn pieces_to_matcher(pieces: Vec<Piece>, cased: bool) -> Matcher {
    let pieces = normalise(pieces);
    use Piece::*;
    match pieces.as_slice() {
        [] => Matcher::Equals { value: String::new(), cased },
        [Literal(s)] => Matcher::Equals { value: s.clone(), cased },
        [AnyChars, Literal(s), AnyChars] => Matcher::Contains { value: s.clone(), cased },
        [Literal(s), AnyChars] => Matcher::StartsWith { value: s.clone(), cased },
        [AnyChars, Literal(s)] => Matcher::EndsWith { value: s.clone(), cased },
        _ => Matcher::Wildcard { pattern: pieces, cased },
    }
}

/// `base64`: the standard alphabet with padding.
pub(crate) fn base64(value: &[u8]) -> String {
    STANDARD.encode(value)
}

/// `base64offset`: the three encodings of `value` at byte offsets 0, 1 and 2 of a longer
/// base64 text, without the characters that depend on the neighbouring bytes (as pySigma:
/// encode `i` spaces then the value, drop `(0, 2, 3)[i]` leading characters and
/// `(0, 3, 2)[(len + i) % 3]` trailing ones).
pub(crate) fn base64offset(value: &[u8]) -> [String; 3] {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    std::array::from_fn(|i| {
        let mut bytes = vec![b' '; i];
        bytes.extend_from_slice(value);
        let enc = STANDARD.encode(&bytes);
        let end = enc.len().saturating_sub(END[(value.len() + i) % 3]);
        enc.get(START[i]..end).unwrap_or("").to_string()
    })
}

/// Sigma's case-insensitive form of a text: Unicode lowercase (borrowed when already lowercase ASCII).
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) { Cow::Borrowed(s) } else { Cow::Owned(s.to_lowercase()) }
}

/// A wildcard pattern prepared for matching: one token per character.
#[derive(Debug, Clone)]
pub(crate) struct WildcardProgram {
    toks: Vec<Tok>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Char(char),
    One,
    Star,
}

impl WildcardProgram {
    /// `cased == false` lowercases the literal pieces: match against [`fold`]ed text then.
    pub(crate) fn new(pieces: &[Piece], cased: bool) -> Self {
        let mut toks = Vec::new();
        for p in pieces {
            match p {
                Piece::Literal(s) => {
                    let s = if cased { Cow::Borrowed(s.as_str()) } else { fold(s) };
                    toks.extend(s.chars().map(Tok::Char));
                }
                Piece::AnyChar => toks.push(Tok::One),
                Piece::AnyChars => toks.push(Tok::Star),
            }
        }
        WildcardProgram { toks }
    }

    /// Whether the whole text matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let pat = &self.toks;
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<usize> = None;
        let mut mark = 0usize;
        while t < text.len() {
            if p < pat.len() && (pat[p] == Tok::One || pat[p] == Tok::Char(text[t])) {
                p += 1;
                t += 1;
            } else if p < pat.len() && pat[p] == Tok::Star {
                star = Some(p);
                mark = t;
                p += 1;
            } else if let Some(s) = star {
                p = s + 1;
                mark += 1;
                t = mark;
            } else {
                return false;
            }
        }
        while p < pat.len() && pat[p] == Tok::Star {
            p += 1;
        }
        p == pat.len()
    }
}

/// The longest literal piece of a pattern, for prefiltering.
pub(crate) fn longest_literal(pieces: &[Piece]) -> Option<&str> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Literal(s) => Some(s.as_str()),
            _ => None,
        })
        .max_by_key(|s| s.len())
}

/// The extension of a path's last segment (see [`crate::tree::Column::PathExtension`]).
pub(crate) fn path_extension(path: &str) -> Option<Cow<'_, str>> {
    // Byte positions of ASCII `/` and `.` are char boundaries in UTF-8.
    let bytes = path.as_bytes();
    let segment = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let dot = segment + bytes[segment..].iter().rposition(|&b| b == b'.')?;
    let ext = &path[dot + 1..];
    if ext.is_empty() { None } else { Some(fold(ext)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        use Piece::*;
        assert_eq!(parse_sigma_string(r"a\*b"), vec![Literal("a*b".into())]);
        assert_eq!(parse_sigma_string(r"a\?b"), vec![Literal("a?b".into())]);
        assert_eq!(parse_sigma_string(r"a\\*b"), vec![Literal(r"a\".into()), AnyChars, Literal("b".into())]);
        assert_eq!(parse_sigma_string(r"C:\Windows\"), vec![Literal(r"C:\Windows\".into())]);
        assert_eq!(parse_sigma_string(r"momyshark\?key="), vec![Literal("momyshark?key=".into())]);
        assert_eq!(parse_sigma_string("a?c*"), vec![Literal("a".into()), AnyChar, Literal("c".into()), AnyChars]);
    }

    #[test]
    fn wildcard_programs() {
        let p = |s: &str| WildcardProgram::new(&parse_sigma_string(s), true);
        assert!(p("a*b").matches("ab"));
        assert!(p("a*b").matches("axxb"));
        assert!(!p("a*b").matches("axxbc"));
        assert!(p("a?c").matches("abc"));
        assert!(p("a?c").matches("aéc"));
        assert!(!p("a?c").matches("ac"));
        assert!(p("*").matches(""));
        assert!(p("*a*a*").matches("banana"));
        assert!(!p("*a*a*a*a*").matches("banana"));
    }

    #[test]
    fn base64offset_known_values() {
        // pySigma: `http` -> aHR0c, h0dH, odHRw.
        assert_eq!(base64offset(b"http"), ["aHR0c".to_string(), "h0dH".to_string(), "odHRw".to_string()]);
        assert_eq!(base64(b"Chrome"), "Q2hyb21l");
    }

    #[test]
    fn extensions() {
        assert_eq!(path_extension("/a/b.Tar.GZ").as_deref(), Some("gz"));
        assert_eq!(path_extension("/a/b"), None);
        assert_eq!(path_extension("/a.b/c"), None);
        assert_eq!(path_extension("/a/b."), None);
        assert_eq!(path_extension("x.exe").as_deref(), Some("exe"));
    }
}

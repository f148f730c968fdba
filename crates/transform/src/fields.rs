//! Field splitting shared by the space-separated formats (Squid, CLF family, ELFF).
//!
//! A [`Cursor`] walks a line left to right. Fields are separated by runs of spaces (Squid
//! pads with them); a field may be a `"quoted string"` with backslash escapes, or a
//! `[bracketed time]`. Nothing here allocates; [`unescape`] allocates only when a quoted
//! field really contains an escape.

use std::borrow::Cow;

use crate::reject::{Reject, RejectReason, reject};

/// A quoted field's content, still escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted<'a> {
    pub raw: &'a str,
    pub has_escapes: bool,
}

impl<'a> Quoted<'a> {
    /// The content with `\"` and `\\` resolved. `\xHH` is kept as written, so bytes that
    /// Apache and nginx hex-escaped stay visible and the field stays valid UTF-8.
    pub fn text(self) -> Cow<'a, str> {
        if self.has_escapes { unescape(self.raw) } else { Cow::Borrowed(self.raw) }
    }
}

/// Resolves `\"` and `\\` in a quoted field.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A left-to-right reader over one line.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a str) -> Self {
        Cursor { line, pos: 0 }
    }

    fn skip_spaces(&mut self) {
        let b = self.line.as_bytes();
        while self.pos < b.len() && (b[self.pos] == b' ' || b[self.pos] == b'\t') {
            self.pos += 1;
        }
    }

    /// True when only spaces remain.
    pub fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.pos >= self.line.len()
    }

    /// The unread rest of the line, leading spaces skipped.
    pub fn rest(&mut self) -> &'a str {
        self.skip_spaces();
        &self.line[self.pos..]
    }

    /// The next run of non-space bytes, or `None` at the end of the line.
    pub fn bare(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let b = self.line.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && b[self.pos] != b' ' && b[self.pos] != b'\t' {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.line[start..self.pos])
    }

    /// Like [`Cursor::bare`], but a missing field is a `field_count` reject naming `what`.
    pub fn need(&mut self, what: &'static str) -> Result<&'a str, Reject> {
        self.bare().ok_or_else(|| reject(RejectReason::FieldCount, format!("line ends before the {what} field")))
    }

    /// A `"..."` field. Backslash escapes the next byte, as Apache, nginx and Squid write.
    pub fn quoted(&mut self, what: &'static str) -> Result<Quoted<'a>, Reject> {
        self.skip_spaces();
        let b = self.line.as_bytes();
        if self.pos >= b.len() {
            return Err(reject(RejectReason::FieldCount, format!("line ends before the {what} field")));
        }
        if b[self.pos] != b'"' {
            return Err(reject(RejectReason::Malformed, format!("the {what} field does not start with a double quote")));
        }
        let start = self.pos + 1;
        let mut i = start;
        let mut has_escapes = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    has_escapes = true;
                    i += 2;
                }
                b'"' => {
                    // A quote ends the field only where a separator or the line end follows;
                    // this keeps unescaped quotes inside user agents from splitting the field.
                    if i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t' {
                        self.pos = i + 1;
                        return Ok(Quoted { raw: &self.line[start..i], has_escapes });
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Err(reject(RejectReason::Malformed, format!("the {what} field has no closing double quote")))
    }

    /// A `[...]` field (CLF time); returns the inside.
    pub fn bracketed(&mut self, what: &'static str) -> Result<&'a str, Reject> {
        self.skip_spaces();
        let rest = &self.line[self.pos..];
        if rest.is_empty() {
            return Err(reject(RejectReason::FieldCount, format!("line ends before the {what} field")));
        }
        if !rest.starts_with('[') {
            return Err(reject(RejectReason::Malformed, format!("the {what} field does not start with '['")));
        }
        match rest.find(']') {
            Some(end) => {
                self.pos += end + 1;
                Ok(&rest[1..end])
            }
            None => Err(reject(RejectReason::Malformed, format!("the {what} field has no closing ']'"))),
        }
    }

    /// A field that may be quoted or bare (ELFF writes quotes only around values with spaces).
    pub fn maybe_quoted(&mut self, what: &'static str) -> Result<Option<Cow<'a, str>>, Reject> {
        self.skip_spaces();
        match self.line.as_bytes().get(self.pos) {
            None => Ok(None),
            Some(b'"') => Ok(Some(self.quoted(what)?.text())),
            Some(_) => Ok(self.bare().map(Cow::Borrowed)),
        }
    }
}

/// `-` (and the empty string) mean "no value" in every space-separated proxy format.
pub fn dash_none(s: &str) -> Option<&str> {
    if s.is_empty() || s == "-" { None } else { Some(s) }
}

/// Same as [`dash_none`] for a field that may have been unescaped.
pub fn dash_none_cow(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    if s.is_empty() || s == "-" { None } else { Some(s) }
}

/// A non-negative decimal integer field; `-` is `None`, anything else is a `bad_number` reject.
pub fn int_field(s: &str, what: &'static str) -> Result<Option<i64>, Reject> {
    let Some(s) = dash_none(s) else { return Ok(None) };
    let b = s.as_bytes();
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(reject(RejectReason::BadNumber, format!("{what} is not a number: {:?}", truncate(s))));
    }
    let v = digits.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64);
    Ok(Some(if neg { -v } else { v }))
}

/// An HTTP status: three digits, or `-`/`0`/`000` meaning no reply (kept as 0).
pub fn status_field(s: &str) -> Result<Option<i32>, Reject> {
    match int_field(s, "status")? {
        None => Ok(None),
        Some(v) if (0..=999).contains(&v) => Ok(Some(v as i32)),
        Some(_) => Err(reject(RejectReason::BadNumber, format!("status out of range: {:?}", truncate(s)))),
    }
}

/// An IP address field, validated; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes `1.2.3.4`.
pub fn ip_field<'a>(s: &'a str, what: &'static str) -> Result<Option<Cow<'a, str>>, Reject> {
    let Some(s) = dash_none(s) else { return Ok(None) };
    let Ok(ip) = s.parse::<std::net::IpAddr>() else {
        // Some proxies bracket IPv6 client addresses.
        if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            return ip_field(inner, what);
        }
        return Err(reject(RejectReason::BadIp, format!("{what} is not an IP address: {:?}", truncate(s))));
    };
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Ok(Some(Cow::Owned(v4.to_string()))),
            None if s.bytes().any(|b| b.is_ascii_uppercase()) => Ok(Some(Cow::Owned(v6.to_string()))),
            None => Ok(Some(Cow::Borrowed(s))),
        },
        std::net::IpAddr::V4(_) => Ok(Some(Cow::Borrowed(s))),
    }
}

/// Cuts long values in detail messages so a reject stays readable.
pub fn truncate(s: &str) -> &str {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_splits_runs_of_spaces() {
        let mut c = Cursor::new("1198298239.740    565 127.0.0.1 TCP_MISS/301");
        assert_eq!(c.bare(), Some("1198298239.740"));
        assert_eq!(c.bare(), Some("565"));
        assert_eq!(c.bare(), Some("127.0.0.1"));
        assert_eq!(c.bare(), Some("TCP_MISS/301"));
        assert_eq!(c.bare(), None);
        assert!(c.at_end());
    }

    #[test]
    fn quoted_with_escapes_and_inner_quotes() {
        let mut c = Cursor::new(r#""GET / HTTP/1.1" "a \"b\" c" "x"y" z"#);
        assert_eq!(c.quoted("request").unwrap().text(), "GET / HTTP/1.1");
        assert_eq!(c.quoted("agent").unwrap().text(), "a \"b\" c");
        assert_eq!(c.quoted("odd").unwrap().text(), "x\"y");
        assert_eq!(c.bare(), Some("z"));
        let err = Cursor::new("\"open").quoted("request").unwrap_err();
        assert_eq!(err.reason, RejectReason::Malformed);
    }

    #[test]
    fn numbers_and_ips() {
        assert_eq!(int_field("-", "bytes").unwrap(), None);
        assert_eq!(int_field("631", "bytes").unwrap(), Some(631));
        assert_eq!(int_field("6x", "bytes").unwrap_err().reason, RejectReason::BadNumber);
        assert_eq!(ip_field("::ffff:10.1.2.3", "client").unwrap().unwrap(), "10.1.2.3");
        assert_eq!(ip_field("2001:DB8::1", "client").unwrap().unwrap(), "2001:db8::1");
        assert_eq!(ip_field("host.example", "client").unwrap_err().reason, RejectReason::BadIp);
    }
}

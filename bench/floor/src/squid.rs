//! Squid native access.log lines (`%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`)
//! into the columns sweep's events table holds, with the same values: fields are runs of
//! non-spaces; the user may hold spaces, so the fields after the URL are read from the right.

use std::borrow::Cow;
use std::net::IpAddr;

/// One parsed line, borrowed from it (owned only where sweep rewrites a value).
#[derive(Debug, Default)]
pub struct Event<'a> {
    pub ts: i64,
    pub client_ip: Option<Cow<'a, str>>,
    pub user: Option<&'a str>,
    pub method: Option<&'a str>,
    pub url: Option<&'a str>,
    pub scheme: Option<&'a str>,
    pub host: Option<Cow<'a, str>>,
    pub port: Option<i32>,
    pub path: Option<&'a str>,
    pub query: Option<&'a str>,
    pub status: Option<i32>,
    pub response_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub content_type: Option<&'a str>,
    pub proxy_action: Option<&'a str>,
    pub server_ip: Option<Cow<'a, str>>,
    /// `server_ip`, parsed (the sweep step matches it).
    pub server_addr: Option<IpAddr>,
}

/// A reject: sweep's reason code and a short detail.
pub type Reject = (&'static str, &'static str);

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The next field; `None` at the end of the line.
fn next<'a>(line: &'a str, pos: &mut usize) -> Option<&'a str> {
    let b = line.as_bytes();
    while *pos < b.len() && is_sep(b[*pos]) {
        *pos += 1;
    }
    let start = *pos;
    while *pos < b.len() && !is_sep(b[*pos]) {
        *pos += 1;
    }
    (*pos > start).then(|| &line[start..*pos])
}

fn dash(s: &str) -> Option<&str> {
    if s.is_empty() || s == "-" { None } else { Some(s) }
}

/// A decimal integer (optional sign, at most 18 digits); `-` is no value.
fn int(s: &str) -> Result<Option<i64>, Reject> {
    let Some(s) = dash(s) else { return Ok(None) };
    let b = s.as_bytes();
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(("bad_number", "a number field is not a number"));
    }
    let v = digits.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'));
    Ok(Some(if neg { -v } else { v }))
}

/// Epoch seconds with an optional fraction, as microseconds.
fn epoch_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    };
    if int.is_empty() || int.len() > 12 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut micros = 0i64;
    if b.len() > int.len() {
        if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        micros = (0..6).fold(0i64, |a, i| a * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0')));
    }
    Some(int.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')) * 1_000_000 + micros)
}

/// An address field: IPv4 or IPv6 (brackets accepted); IPv4-mapped IPv6 becomes IPv4, and
/// IPv6 with upper-case digits is rewritten in lower case.
fn ip(s: &str) -> Result<Option<(Cow<'_, str>, IpAddr)>, ()> {
    let Some(s) = dash(s) else { return Ok(None) };
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => Ok(Some(match v6.to_ipv4_mapped() {
            Some(v4) => (Cow::Owned(v4.to_string()), IpAddr::V4(v4)),
            None if s.bytes().any(|b| b.is_ascii_uppercase()) => (Cow::Owned(v6.to_string()), IpAddr::V6(v6)),
            None => (Cow::Borrowed(s), IpAddr::V6(v6)),
        })),
        Ok(v4) => Ok(Some((Cow::Borrowed(s), v4))),
        Err(_) => match s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            Some(inner) => ip(inner),
            None => Err(()),
        },
    }
}

pub fn parse(line: &str) -> Result<Event<'_>, Reject> {
    let mut pos = 0;
    let mut need = |what: &'static str| next(line, &mut pos).ok_or(("field_count", what));
    // In sweep's order, so that a line gets the reason sweep gives it.
    let ts = need("line ends before the timestamp field")?;
    let mut e = Event { ts: epoch_micros(ts).ok_or(("bad_timestamp", "not epoch seconds"))?, ..Event::default() };
    e.duration_ms = int(need("line ends before the elapsed field")?)?;
    let client = need("line ends before the client address field")?;
    e.client_ip = ip(client).map_err(|_| ("bad_ip", "the client address is not an IP address"))?.map(|(s, _)| s);
    let code = need("line ends before the result code field")?;
    let (action, status) = code.split_once('/').ok_or(("malformed", "result code is not ACTION/STATUS"))?;
    e.proxy_action = dash(action);
    e.status = match int(status)? {
        None => None,
        Some(v) if (0..=999).contains(&v) => Some(v as i32),
        Some(_) => return Err(("bad_number", "status out of range")),
    };
    e.response_bytes = int(need("line ends before the reply size field")?)?;
    let method = need("line ends before the method field")?;
    let url = need("line ends before the URL field")?;
    e.method = dash(method);
    if url != "-" {
        set_url(&mut e, url, method.eq_ignore_ascii_case("CONNECT"));
    }
    // The rest: user (may hold spaces), hierarchy/peer, MIME type, optional header blocks.
    let b = line.as_bytes();
    while pos < b.len() && is_sep(b[pos]) {
        pos += 1;
    }
    let mut rest = line[pos..].trim_end();
    if let Some(i) = rest.find(" [") {
        rest = rest[..i].trim_end();
    }
    let (before_mime, mime) =
        rest.rsplit_once([' ', '\t']).ok_or(("field_count", "line ends before the hierarchy and MIME type fields"))?;
    let (user, hier) = before_mime
        .trim_end()
        .rsplit_once([' ', '\t'])
        .ok_or(("field_count", "line ends before the user, hierarchy or MIME type field"))?;
    let (_, peer) = hier.split_once('/').ok_or(("malformed", "hierarchy is not CODE/PEER"))?;
    if let Ok(Some((s, a))) = ip(peer) {
        (e.server_ip, e.server_addr) = (Some(s), Some(a));
    }
    e.user = dash(user.trim());
    e.content_type = dash(mime);
    Ok(e)
}

/// The URL and its parts (absolute URL, CONNECT authority, origin-form path).
fn set_url<'a>(e: &mut Event<'a>, target: &'a str, connect: bool) {
    e.url = Some(target);
    let (mut scheme, mut rest) = (None, target);
    if target.starts_with('/') {
        (e.path, e.query) = path_query(target);
        return;
    }
    if let Some(sep) = target.find("://") {
        let s = &target[..sep];
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
            (scheme, rest) = (Some(s), &target[sep + 3..]);
        }
    }
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, port) = authority(&rest[..auth_end]);
    if auth_end < rest.len() {
        let (p, q) = path_query(&rest[auth_end..]);
        (e.path, e.query) = (p.filter(|p| !p.is_empty()), q);
    }
    e.scheme = scheme;
    e.port = port.or(match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("ws") => Some(80),
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("wss") => Some(443),
        Some(s) if s.eq_ignore_ascii_case("ftp") => Some(21),
        Some(_) => None,
        None if connect => Some(443),
        None => None,
    });
    e.host = host.map(|h| {
        let h = h.strip_suffix('.').unwrap_or(h);
        if h.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(h.to_ascii_lowercase()) } else { Cow::Borrowed(h) }
    });
}

/// `/path?query#fragment` -> (path, query); the fragment is dropped.
fn path_query(s: &str) -> (Option<&str>, Option<&str>) {
    let s = s.find('#').map_or(s, |i| &s[..i]);
    match s.find('?') {
        Some(i) => (Some(&s[..i]), Some(&s[i + 1..])),
        None => (Some(s), None),
    }
}

/// `[userinfo@]host[:port]` -> (host, port); IPv6 literals lose their brackets.
fn authority(auth: &str) -> (Option<&str>, Option<i32>) {
    let auth = auth.rfind('@').map_or(auth, |i| &auth[i + 1..]);
    if auth.is_empty() {
        return (None, None);
    }
    if let Some(rest) = auth.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) => ((!rest[..end].is_empty()).then(|| &rest[..end]), rest[end + 1..].strip_prefix(':').and_then(port)),
            None => (Some(auth), None),
        };
    }
    match auth.rfind(':') {
        Some(i) if auth[..i].contains(':') => (Some(auth), None), // a bare IPv6 address
        Some(i) => ((i > 0).then(|| &auth[..i]), port(&auth[i + 1..])),
        None => (Some(auth), None),
    }
}

fn port(s: &str) -> Option<i32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|p| *p <= 65535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let e =
            parse("1198298239.740    388 127.0.0.1 TCP_MISS/301 631 GET http://www.Slashdot.org/ graeme DIRECT/66.35.250.151 text/html")
                .unwrap();
        assert_eq!((e.ts, e.duration_ms, e.status, e.response_bytes), (1_198_298_239_740_000, Some(388), Some(301), Some(631)));
        assert_eq!((e.host.as_deref(), e.port, e.path, e.query), (Some("www.slashdot.org"), Some(80), Some("/"), None));
        assert_eq!((e.user, e.server_ip.as_deref(), e.content_type), (Some("graeme"), Some("66.35.250.151"), Some("text/html")));
        let e = parse("1700000000.001      0 2001:db8::7 TCP_DENIED/407 3944 CONNECT login.live.com:443 - HIER_NONE/- text/html").unwrap();
        assert_eq!((e.host.as_deref(), e.port, e.scheme, e.user, e.server_ip), (Some("login.live.com"), Some(443), None, None, None));
        let e = parse(
            "1700000000.5 12 10.0.0.5 TCP_MISS/200 10 GET http://a.example/?  john smith FIRST_PARENT_MISS/proxy2 text/plain [Host: a]",
        )
        .unwrap();
        assert_eq!((e.user, e.query, e.server_ip), (Some("john smith"), Some(""), None));
        assert_eq!(parse("yesterday 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - DIRECT/1.2.3.4 -").unwrap_err().0, "bad_timestamp");
        assert_eq!(parse("1.0 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ -").unwrap_err().0, "field_count");
        assert_eq!(parse("1.0 1 10.0.0.1 TCP_MISS 1 GET http://a/ - DIRECT/1.2.3.4 -").unwrap_err().0, "malformed");
    }
}

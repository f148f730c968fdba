//! Reading the fields of an event for matching: addresses, the host, and the event's URL
//! assembled from what the log gave.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::EventView;

/// A strict dotted quad (no leading zeros, like `std`), without allocation or UTF-8 checks.
#[inline]
pub(crate) fn parse_v4(b: &[u8]) -> Option<u32> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9).map(u32::from);
    let (mut i, mut acc) = (0usize, 0u32);
    for k in 0..4 {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = digit(i)?;
        i += 1;
        if let Some(d) = digit(i) {
            if v == 0 {
                return None; // leading zero
            }
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
            }
        }
        if v > 255 {
            return None;
        }
        acc = acc << 8 | v;
    }
    (i == b.len()).then_some(acc)
}

/// An address field of an event: IPv4, IPv6 (brackets accepted); an IPv4-mapped IPv6 address
/// is the IPv4 address. Anything else (`-`, a host name, junk) is no address.
#[inline]
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let b = s.as_bytes();
    let c0 = *b.first()?;
    if c0.is_ascii_digit()
        && let Some(a) = parse_v4(b)
    {
        return Some(IpAddr::V4(Ipv4Addr::from(a)));
    }
    // An IPv6 literal starts with a hex digit, `:` or `[`, and has a `:`.
    if !(c0.is_ascii_hexdigit() || c0 == b':' || c0 == b'[') || memchr::memchr(b':', b).is_none() {
        return None;
    }
    let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    match inner.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

/// The length of a leading `scheme` followed by `://`, in the sense of `normalize::url` (the
/// first `://`, preceded by ALPHA *(ALPHA / DIGIT / + / - / .)). A scheme holds no `:`, so the
/// first byte that is not a scheme character must be the `:` of `://`.
#[inline]
pub(crate) fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_alphabetic() {
        return None;
    }
    let i = b.iter().position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (b[i] == b':' && b[i + 1..].starts_with(b"//")).then_some(i)
}

/// `str::trim`, skipping the Unicode-aware scan when both ends are plain ASCII.
#[inline]
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if a > b' ' && a < 0x7f && z > b' ' && z < 0x7f => s,
        _ => s.trim(),
    }
}

/// The host of a URL as written, from its authority start: the part of the authority (up to
/// `/`, `?` or `#`) after the last `@`, before the last `:` (an IPv6 literal keeps its
/// brackets and whatever follows them).
fn raw_url_host(u: &str, start: usize) -> &str {
    let b = &u.as_bytes()[start..];
    let end = memchr::memchr3(b'/', b'?', b'#', b).unwrap_or(b.len());
    let auth = &b[..end];
    let hs = memchr::memrchr(b'@', auth).map_or(0, |a| a + 1);
    if auth.get(hs) == Some(&b'[') {
        return &u[start + hs..start + end];
    }
    match memchr::memrchr(b':', &auth[hs..]) {
        Some(c) => &u[start + hs..start + hs + c],
        None => &u[start + hs..start + end],
    }
}

/// The host of a URL as written, knowing the event's `host`: when the authority is exactly
/// that host (followed by `/`, `?`, `#` or the end), no scan is needed, and the event's `host`
/// itself is returned (equal up to ASCII case).
#[inline]
fn url_host_with_hint<'b>(u: &'b str, start: usize, hint: Option<&'b str>) -> &'b str {
    if let Some(h) = hint {
        let b = &u.as_bytes()[start..];
        if b.len() >= h.len()
            && (&b[..h.len()] == h.as_bytes() || b[..h.len()].eq_ignore_ascii_case(h.as_bytes()))
            && matches!(b.get(h.len()), None | Some(b'/' | b'?' | b'#'))
        {
            return h;
        }
    }
    raw_url_host(u, start)
}

/// Bytes a host name can hold for the URL host check to use it as it is (ASCII letters,
/// digits, `-`, `_`, `.`): canonicalisation then changes only ASCII case and one trailing dot.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
        c += 1;
    }
    t
};

/// The key under which the URL host is looked up among the hosts of the URL indicators, or
/// `None` when canonicalisation could change the host beyond ASCII case and one trailing dot
/// (percent-escapes, non-ASCII, IPv6 literals, spaces): then the URL is always canonicalised.
#[inline]
pub(crate) fn prefilter_host(host: &str) -> Option<&str> {
    let h = host.strip_suffix('.').unwrap_or(host);
    (!h.is_empty() && h.bytes().all(|b| PLAIN[b as usize])).then_some(h)
}

fn push_authority(buf: &mut String, scheme: Option<&str>, host: &str, port: Option<u16>) {
    match scheme {
        Some(s) => {
            buf.push_str(s);
            buf.push_str("://");
        }
        None => buf.push_str("//"),
    }
    if host.contains(':') && !host.starts_with('[') {
        buf.push('[');
        buf.push_str(host);
        buf.push(']');
    } else {
        buf.push_str(host);
    }
    // With a scheme, canonicalisation drops the scheme's default port; without one no
    // default is known, so the usual web ports are left out.
    if let Some(p) = port
        && (scheme.is_some() || !matches!(p, 80 | 443))
    {
        let _ = write!(buf, ":{p}");
    }
}

/// The event's URL before canonicalisation, and its prefilter host (see [`prefilter_host`]).
/// - `url` with a scheme, or scheme-relative (`//host/...`): as it is;
/// - origin-form `url` (`/path?q`): assembled as `scheme://host:port/path?q` from the event's
///   `scheme`, `host` and `port` (no host: no URL);
/// - scheme-less `host/path` (Zscaler): `scheme://host/path` when the event has a scheme,
///   else as it is;
/// - a `url` with neither `/` nor `?` (a CONNECT `host:port`) is not a URL;
/// - no `url`: assembled from `scheme`, `host`, `port`, `path` and `query` when host and path
///   are present.
pub(crate) fn event_url<'b>(ev: &EventView<'b>, buf: &'b mut String) -> Option<(&'b str, Option<&'b str>)> {
    let url = ev.url.map(trim).filter(|u| !u.is_empty() && *u != "-");
    let scheme = ev.scheme.filter(|s| !s.is_empty() && *s != "-");
    let host = ev.host.filter(|h| !h.is_empty() && *h != "-");
    let Some(u) = url else {
        let (host, path) = (host?, ev.path?);
        buf.clear();
        push_authority(buf, scheme, host, ev.port);
        if !path.starts_with('/') {
            buf.push('/');
        }
        buf.push_str(path);
        if let Some(q) = ev.query {
            buf.push('?');
            buf.push_str(q);
        }
        return Some((buf.as_str(), prefilter_host(host)));
    };
    if let Some(i) = scheme_len(u) {
        return Some((u, prefilter_host(url_host_with_hint(u, i + 3, host))));
    }
    if u.starts_with("//") {
        return Some((u, prefilter_host(url_host_with_hint(u, 2, host))));
    }
    if u.starts_with('/') {
        let host = host?;
        buf.clear();
        push_authority(buf, scheme, host, ev.port);
        buf.push_str(u);
        return Some((buf.as_str(), prefilter_host(host)));
    }
    if !u.contains(['/', '?']) {
        return None;
    }
    let pre = prefilter_host(url_host_with_hint(u, 0, host));
    match scheme {
        Some(s) => {
            buf.clear();
            buf.push_str(s);
            buf.push_str("://");
            buf.push_str(u);
            Some((buf.as_str(), pre))
        }
        None => Some((u, pre)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_parser_agrees_with_std() {
        for s in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.256",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "a.b.c.d",
            "1.2.3.04",
            "100.200.250.255",
            "1.2.3.4 ",
        ] {
            assert_eq!(parse_v4(s.as_bytes()).map(Ipv4Addr::from), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
    }

    #[test]
    fn ip_fields() {
        assert_eq!(parse_ip("::ffff:1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(parse_ip("[2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("2001:DB8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("-"), None);
        assert_eq!(parse_ip("evil.com"), None);
    }

    fn url_of(ev: EventView<'_>) -> Option<(String, Option<String>)> {
        let mut buf = String::new();
        event_url(&ev, &mut buf).map(|(u, h)| (u.to_string(), h.map(str::to_string)))
    }

    #[test]
    fn event_urls_are_assembled_from_what_the_log_gave() {
        let abs = EventView { url: Some("http://User@Evil.COM.:8080/x?y#z"), host: Some("other"), ..Default::default() };
        assert_eq!(url_of(abs), Some(("http://User@Evil.COM.:8080/x?y#z".into(), Some("Evil.COM".into()))));
        let origin = EventView { url: Some("/a?b"), scheme: Some("https"), host: Some("evil.com"), port: Some(443), ..Default::default() };
        assert_eq!(url_of(origin), Some(("https://evil.com:443/a?b".into(), Some("evil.com".into()))));
        let origin_no_scheme = EventView { url: Some("/a"), host: Some("2001:db8::1"), port: Some(80), ..Default::default() };
        assert_eq!(url_of(origin_no_scheme), Some(("//[2001:db8::1]/a".into(), None)));
        let zscaler = EventView { url: Some("evil.com/x"), scheme: Some("http"), ..Default::default() };
        assert_eq!(url_of(zscaler), Some(("http://evil.com/x".into(), Some("evil.com".into()))));
        let zscaler_bare = EventView { url: Some("evil.com:81/x"), ..Default::default() };
        assert_eq!(url_of(zscaler_bare), Some(("evil.com:81/x".into(), Some("evil.com".into()))));
        let connect = EventView { url: Some("evil.com:443"), host: Some("evil.com"), ..Default::default() };
        assert_eq!(url_of(connect), None);
        let parts = EventView {
            scheme: Some("http"),
            host: Some("evil.com"),
            port: Some(8080),
            path: Some("/p"),
            query: Some(""),
            ..Default::default()
        };
        assert_eq!(url_of(parts), Some(("http://evil.com:8080/p?".into(), Some("evil.com".into()))));
        let escaped = EventView { url: Some("http://ev%69l.com/"), ..Default::default() };
        assert_eq!(url_of(escaped), Some(("http://ev%69l.com/".into(), None)));
        assert_eq!(url_of(EventView { url: Some("-"), ..Default::default() }), None);
        // The event's host is used as the URL host only when it is the whole authority.
        let hinted = |u: &'static str| url_of(EventView { url: Some(u), host: Some("evil.com"), ..Default::default() }).unwrap().1;
        assert_eq!(hinted("http://EVIL.com/x"), Some("evil.com".into()), "the host field, equal up to case");
        assert_eq!(hinted("http://evil.com"), Some("evil.com".into()));
        assert_eq!(hinted("http://evil.com:x@other.com/"), Some("other.com".into()));
        assert_eq!(hinted("http://evil.com.au/"), Some("evil.com.au".into()));
        assert_eq!(hinted("http://evil.com@other.com/"), Some("other.com".into()));
        assert_eq!(hinted("//evil.com:81/"), Some("evil.com".into()));
        // A "://" inside the query does not make a scheme.
        let q = EventView { url: Some("1.2.3.4/x?u=http://evil.com/"), ..Default::default() };
        assert_eq!(url_of(q), Some(("1.2.3.4/x?u=http://evil.com/".into(), Some("1.2.3.4".into()))));
    }
}

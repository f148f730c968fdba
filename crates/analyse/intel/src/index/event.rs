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
    let (mut acc, mut oct, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                if digits == 1 && oct == 0 {
                    return None; // leading zero
                }
                oct = oct * 10 + u32::from(c - b'0');
                digits += 1;
                if oct > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || dots == 3 {
                    return None;
                }
                acc = acc << 8 | oct;
                (oct, digits) = (0, 0);
                dots += 1;
            }
            _ => return None,
        }
    }
    (digits > 0 && dots == 3).then_some(acc << 8 | oct)
}

/// An address field of an event: IPv4, IPv6 (brackets accepted); an IPv4-mapped IPv6 address
/// is the IPv4 address. Anything else (`-`, a host name, junk) is no address.
#[inline]
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Some(a) = parse_v4(s.as_bytes()) {
        return Some(IpAddr::V4(Ipv4Addr::from(a)));
    }
    if !s.contains(':') {
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
/// first `:` must start the `://`.
#[inline]
pub(crate) fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let i = memchr::memchr(b':', b)?;
    let sch = &b[..i];
    let ok = b[i + 1..].starts_with(b"//")
        && !sch.is_empty()
        && sch[0].is_ascii_alphabetic()
        && sch.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    ok.then_some(i)
}

pub(crate) fn has_scheme(s: &str) -> bool {
    scheme_len(s).is_some()
}

/// The host of a URL as written (scheme optional), without user info and port: the part of
/// the authority (up to `/`, `?` or `#`) after the last `@`, before the last `:` (an IPv6
/// literal keeps its brackets and whatever follows them). One pass over the authority.
fn raw_url_host(u: &str) -> &str {
    let b = u.as_bytes();
    let start = match scheme_len(u) {
        Some(i) => i + 3,
        None if b.starts_with(b"//") => 2,
        None => 0,
    };
    let (mut at, mut colon, mut end) = (None, None, b.len());
    for (k, &c) in b[start..].iter().enumerate() {
        match c {
            b'/' | b'?' | b'#' => {
                end = start + k;
                break;
            }
            b'@' => at = Some(start + k),
            b':' => colon = Some(start + k),
            _ => {}
        }
    }
    let hs = at.map_or(start, |a| a + 1);
    if b.get(hs) == Some(&b'[') {
        return &u[hs..end];
    }
    match colon {
        Some(c) if c >= hs => &u[hs..c],
        _ => &u[hs..end],
    }
}

/// The key under which the URL host is looked up among the hosts of the URL indicators, or
/// `None` when canonicalisation could change the host beyond ASCII case and one trailing dot
/// (percent-escapes, non-ASCII, IPv6 literals): then the URL is always canonicalised.
#[inline]
pub(crate) fn prefilter_host(host: &str) -> Option<&str> {
    let h = host.trim_ascii();
    let h = h.strip_suffix('.').unwrap_or(h);
    let plain = !h.is_empty() && h.bytes().all(|b| b.is_ascii() && !matches!(b, b'[' | b':' | b'%') && !b.is_ascii_whitespace());
    plain.then_some(h)
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
    let url = ev.url.map(str::trim).filter(|u| !u.is_empty() && *u != "-");
    let scheme = ev.scheme.filter(|s| !s.is_empty() && *s != "-");
    let host = ev.host.filter(|h| !h.is_empty() && *h != "-");
    match url {
        Some(u) if u.starts_with("//") || has_scheme(u) => Some((u, prefilter_host(raw_url_host(u)))),
        Some(u) if u.starts_with('/') => {
            let host = host?;
            buf.clear();
            push_authority(buf, scheme, host, ev.port);
            buf.push_str(u);
            Some((buf.as_str(), prefilter_host(host)))
        }
        Some(u) => {
            if !u.contains(['/', '?']) {
                return None;
            }
            let pre = prefilter_host(raw_url_host(u));
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
        None => {
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
            Some((buf.as_str(), prefilter_host(host)))
        }
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
        // A "://" inside the query does not make a scheme.
        let q = EventView { url: Some("1.2.3.4/x?u=http://evil.com/"), ..Default::default() };
        assert_eq!(url_of(q), Some(("1.2.3.4/x?u=http://evil.com/".into(), Some("1.2.3.4".into()))));
    }
}

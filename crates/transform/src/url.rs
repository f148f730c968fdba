//! Splitting request targets into scheme, host, port, path and query.
//!
//! Proxies log three shapes of target: absolute URLs (`http://host:8080/p?q`), authorities
//! for CONNECT (`host:443`), and origin-form paths for reverse proxies and web servers
//! (`/index.html?x`). The split never allocates unless the host needs lower-casing.

use std::borrow::Cow;

/// The parts of a request target, borrowed from it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: Option<&'a str>,
    pub host: Option<&'a str>,
    pub port: Option<i32>,
    pub path: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// The well-known port of a scheme, used when the URL names none.
pub fn default_port(scheme: &str) -> Option<i32> {
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("ftp") {
        Some(21)
    } else {
        None
    }
}

/// Splits `target` as logged for a request with `method`.
pub fn split_url<'a>(target: &'a str, method: Option<&str>) -> UrlParts<'a> {
    let is_connect = method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
    if target.starts_with('/') {
        let (path, query) = split_path_query(target);
        return UrlParts { path: Some(path), query, ..UrlParts::default() };
    }
    if let Some(sep) = target.find("://") {
        let scheme = &target[..sep];
        if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
            let rest = &target[sep + 3..];
            let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (host, port) = split_authority(&rest[..auth_end]);
            let (path, query) = if auth_end < rest.len() {
                let (p, q) = split_path_query(&rest[auth_end..]);
                (if p.is_empty() { None } else { Some(p) }, q)
            } else {
                (None, None)
            };
            return UrlParts { scheme: Some(scheme), host, port: port.or_else(|| default_port(scheme)), path, query };
        }
    }
    // CONNECT host:port, or a scheme-less `host[:port][/path]` (Zscaler writes URLs so).
    let auth_end = target.find(['/', '?', '#']).unwrap_or(target.len());
    let (host, port) = split_authority(&target[..auth_end]);
    let (path, query) = if auth_end < target.len() {
        let (p, q) = split_path_query(&target[auth_end..]);
        (if p.is_empty() { None } else { Some(p) }, q)
    } else {
        (None, None)
    };
    let port = port.or(if is_connect { Some(443) } else { None });
    UrlParts { scheme: None, host, port, path, query }
}

/// Splits `/path?query#fragment` into path and query (fragment dropped).
fn split_path_query(s: &str) -> (&str, Option<&str>) {
    let s = match s.find('#') {
        Some(i) => &s[..i],
        None => s,
    };
    match s.find('?') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Splits `[userinfo@]host[:port]`; IPv6 literals lose their brackets.
pub fn split_authority(auth: &str) -> (Option<&str>, Option<i32>) {
    let auth = match auth.rfind('@') {
        Some(i) => &auth[i + 1..],
        None => auth,
    };
    if auth.is_empty() {
        return (None, None);
    }
    if let Some(rest) = auth.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) => {
                let host = &rest[..end];
                let port = rest[end + 1..].strip_prefix(':').and_then(parse_port);
                (Some(host).filter(|h| !h.is_empty()), port)
            }
            None => (Some(auth), None),
        };
    }
    match auth.rfind(':') {
        // More than one colon without brackets: a bare IPv6 address, no port.
        Some(i) if auth[..i].contains(':') => (Some(auth), None),
        Some(i) => {
            let host = &auth[..i];
            (Some(host).filter(|h| !h.is_empty()), parse_port(&auth[i + 1..]))
        }
        None => (Some(auth), None),
    }
}

fn parse_port(s: &str) -> Option<i32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let p: i32 = s.parse().ok()?;
    (p <= 65535).then_some(p)
}

/// Lower-cases a host and drops one trailing dot; borrows when nothing changes.
pub fn lower_host(host: &str) -> Cow<'_, str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(host.to_ascii_lowercase()) } else { Cow::Borrowed(host) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_url() {
        let p = split_url("http://www.Example.com:8080/a/b?x=1#frag", Some("GET"));
        assert_eq!(p.scheme, Some("http"));
        assert_eq!(p.host, Some("www.Example.com"));
        assert_eq!(p.port, Some(8080));
        assert_eq!(p.path, Some("/a/b"));
        assert_eq!(p.query, Some("x=1"));
    }

    #[test]
    fn default_ports_and_bare_query() {
        let p = split_url("https://a.b/?", None);
        assert_eq!(p.port, Some(443));
        assert_eq!(p.path, Some("/"));
        assert_eq!(p.query, Some(""));
        assert_eq!(split_url("http://a.b", None).path, None);
    }

    #[test]
    fn connect_authority() {
        let p = split_url("login.live.com:443", Some("CONNECT"));
        assert_eq!((p.scheme, p.host, p.port, p.path), (None, Some("login.live.com"), Some(443), None));
        let p = split_url("[2001:db8::1]:8443", Some("CONNECT"));
        assert_eq!((p.host, p.port), (Some("2001:db8::1"), Some(8443)));
    }

    #[test]
    fn origin_form_and_userinfo() {
        let p = split_url("/index.php?id=3", Some("GET"));
        assert_eq!((p.host, p.path, p.query), (None, Some("/index.php"), Some("id=3")));
        let p = split_url("ftp://bob:pw@files.example.org/x", Some("GET"));
        assert_eq!((p.host, p.port), (Some("files.example.org"), Some(21)));
    }

    #[test]
    fn schemeless_host_path() {
        let p = split_url("www.example.com/login?u=1", Some("GET"));
        assert_eq!((p.scheme, p.host, p.path, p.query), (None, Some("www.example.com"), Some("/login"), Some("u=1")));
    }

    #[test]
    fn lower_host_borrows_when_clean() {
        assert!(matches!(lower_host("a.example.com"), Cow::Borrowed(_)));
        assert_eq!(lower_host("A.Example.COM."), "a.example.com");
    }
}

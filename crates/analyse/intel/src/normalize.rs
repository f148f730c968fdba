//! Validation and normalisation of indicator values.
//!
//! Every feed reader and the match index go through these functions, so a value written
//! differently in two feeds (or in a feed and a log line) ends up as the same string:
//!
//! | type | canonical form |
//! |---|---|
//! | IPv4 | dotted quad, no leading zeros (`010.1.1.1` is refused: octal or decimal is ambiguous) |
//! | IPv6 | compressed lower-case (`2001:db8::1`); IPv4-mapped `::ffff:a.b.c.d` becomes the IPv4 address |
//! | network | `addr/len` with the host bits masked off; a full-length prefix is a host address |
//! | domain | lower-case ASCII, one trailing dot dropped, non-ASCII labels punycoded (`xn--…`) |
//! | URL | lower-case scheme and host, default port dropped, fragment dropped, unreserved escapes decoded |
//! | hash | lower-case hex; MD5/SHA-1/SHA-256 told apart by length |
//! | e-mail | lower-case, domain part validated as a domain |
//!
//! A URL without a scheme (`evil.com/x`) canonicalises to the scheme-less form `//evil.com/x`;
//! [`url_without_scheme`] turns a canonical URL with a scheme into that form, so the index can
//! match a scheme-less indicator against any scheme.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::IndicatorType;

/// Why a value is not a valid indicator of the given (or any) type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Invalid {
    /// A stable reason code: `invalid_value`, `unsupported_type`, `type_mismatch`.
    pub reason: &'static str,
    pub detail: String,
}

impl Invalid {
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Invalid { reason, detail: detail.into() }
    }
    fn value(detail: impl Into<String>) -> Self {
        Invalid::new("invalid_value", detail)
    }
}

/// Longest value quoted back in an error detail.
const QUOTE_MAX: usize = 80;

/// The value, cut to a readable length, for error details.
pub(crate) fn quote(raw: &str) -> String {
    if raw.chars().count() <= QUOTE_MAX {
        format!("{raw:?}")
    } else {
        let cut: String = raw.chars().take(QUOTE_MAX).collect();
        format!("{cut:?}…")
    }
}

/// An IPv4 address in dotted-quad form (an IPv4-mapped IPv6 address is accepted too).
pub fn ipv4(raw: &str) -> Result<Ipv4Addr, Invalid> {
    match ip(raw)? {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(Invalid::value(format!("{} is an IPv6 address, not IPv4", quote(raw.trim())))),
    }
}

/// An IPv4 or IPv6 address. `[v6]` brackets are accepted; an IPv4-mapped IPv6 address
/// (`::ffff:1.2.3.4`) becomes the IPv4 address. Zone ids (`fe80::1%eth0`) are refused.
pub fn ip(raw: &str) -> Result<IpAddr, Invalid> {
    let s = raw.trim();
    let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    match inner.parse::<IpAddr>() {
        Ok(a) => Ok(unmap(a)),
        Err(_) => Err(Invalid::value(format!("{} is not an IP address", quote(s)))),
    }
}

fn unmap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A network `addr/len`: returns the network address (host bits masked off, so
/// `10.1.2.3/8` is `10.0.0.0/8`) and the prefix length. An IPv4-mapped IPv6 network
/// (`::ffff:10.0.0.0/104`) becomes the IPv4 network (`10.0.0.0/8`).
pub fn cidr(raw: &str) -> Result<(IpAddr, u8), Invalid> {
    let s = raw.trim();
    let Some((addr, len)) = s.split_once('/') else {
        return Err(Invalid::value(format!("{} is not a network (addr/len)", quote(s))));
    };
    let len_ok = !len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit());
    let len: u8 = match len.parse() {
        Ok(n) if len_ok => n,
        _ => return Err(Invalid::value(format!("{}: prefix length {:?} is not a number", quote(s), len))),
    };
    let a = addr.trim();
    let inner = a.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(a);
    let Ok(parsed) = inner.parse::<IpAddr>() else {
        return Err(Invalid::value(format!("{}: {:?} is not an IP address", quote(s), addr)));
    };
    match parsed {
        IpAddr::V4(v4) => {
            if len > 32 {
                return Err(Invalid::value(format!("{}: IPv4 prefix length {len} > 32", quote(s))));
            }
            Ok((IpAddr::V4(mask_v4(v4, len)), len))
        }
        IpAddr::V6(v6) => {
            if len > 128 {
                return Err(Invalid::value(format!("{}: IPv6 prefix length {len} > 128", quote(s))));
            }
            if let (Some(v4), true) = (v6.to_ipv4_mapped(), len >= 96) {
                let l4 = len - 96;
                return Ok((IpAddr::V4(mask_v4(v4, l4)), l4));
            }
            Ok((IpAddr::V6(mask_v6(v6, len)), len))
        }
    }
}

fn mask_v4(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    Ipv4Addr::from(u32::from(a) & m)
}

fn mask_v6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
    Ipv6Addr::from(u128::from(a) & m)
}

/// Canonical text of a network; a full-length prefix is written as the bare address.
fn network_string(addr: IpAddr, len: u8) -> (IndicatorType, String) {
    match addr {
        IpAddr::V4(a) if len == 32 => (IndicatorType::Ipv4, a.to_string()),
        IpAddr::V6(a) if len == 128 => (IndicatorType::Ipv6, a.to_string()),
        a => (IndicatorType::Cidr, format!("{a}/{len}")),
    }
}

fn ip_kind(a: IpAddr) -> IndicatorType {
    if a.is_ipv4() { IndicatorType::Ipv4 } else { IndicatorType::Ipv6 }
}

/// A domain name: lower-case ASCII, one trailing dot dropped. Labels are 1..=63 characters of
/// `a-z 0-9 - _` (underscore tolerated: it occurs in real host names), the name is at most 253
/// characters and has at least two labels; the last label is not all digits (so `107.183.86` is
/// refused), and an IP address is not a domain. A label that is not ASCII is lower-cased and
/// punycoded (`bücher.de` -> `xn--bcher-kva.de`); full UTS-46 mapping is not applied.
pub fn domain(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::value("empty domain"));
    }
    let mut name: String = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        // UTS-46 treats these as label separators.
        let dotted: String = s.chars().map(|c| if matches!(c, '\u{3002}' | '\u{ff0e}' | '\u{ff61}') { '.' } else { c }).collect();
        let mut out = String::with_capacity(dotted.len() + 8);
        for (i, label) in dotted.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            if label.is_ascii() {
                out.push_str(&label.to_ascii_lowercase());
            } else {
                let lower = label.to_lowercase();
                match crate::punycode::encode(&lower) {
                    Some(p) => {
                        out.push_str("xn--");
                        out.push_str(&p);
                    }
                    None => return Err(Invalid::value(format!("{}: label {:?} cannot be punycoded", quote(s), label))),
                }
            }
        }
        out
    };
    if name.ends_with('.') {
        name.pop();
    }
    if name.len() > 253 {
        return Err(Invalid::value(format!("{}: longer than 253 characters", quote(s))));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(Invalid::value(format!("{} is an IP address, not a domain", quote(s))));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in name.split('.') {
        if label.is_empty() {
            return Err(Invalid::value(format!("{}: empty label", quote(s))));
        }
        if label.len() > 63 {
            return Err(Invalid::value(format!("{}: label longer than 63 characters", quote(s))));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(Invalid::value(format!("{}: character {:?} is not allowed in a domain", quote(s), c)));
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(Invalid::value(format!("{}: a single label is not a domain indicator", quote(s))));
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::value(format!("{}: all-numeric top-level label (not a domain, not an IP)", quote(s))));
    }
    Ok(name)
}

/// The Public Suffix List, embedded (see data/README.md).
const PSL: &str = include_str!("../data/public_suffix_list.dat");

/// Whether the last label of a normalised domain is a top-level domain known to the Public
/// Suffix List (ICANN or private section). [`domain`] does not require it (internal names and
/// brand-new TLDs are legal indicator values); [`classify`] does, since an untyped value like
/// `igfxtray.exe` is a file name, not a host.
pub fn known_tld(normalised_domain: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::OnceLock;
    static TLDS: OnceLock<HashSet<String>> = OnceLock::new();
    let tlds = TLDS.get_or_init(|| {
        let mut set = HashSet::new();
        for line in PSL.lines() {
            let rule = line.split_whitespace().next().unwrap_or("");
            if rule.is_empty() || rule.starts_with("//") {
                continue;
            }
            let rule = rule.trim_start_matches('!');
            let tld = rule.rsplit('.').next().unwrap_or(rule);
            let tld = if tld.is_ascii() {
                tld.to_ascii_lowercase()
            } else {
                match crate::punycode::encode(&tld.to_lowercase()) {
                    Some(p) => format!("xn--{p}"),
                    None => continue,
                }
            };
            set.insert(tld);
        }
        set
    });
    let last = normalised_domain.rsplit('.').next().unwrap_or(normalised_domain);
    tlds.contains(last)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalises percent-escapes in a path/query: unreserved escapes decoded, the others
/// upper-cased; bytes that cannot appear in a URL (controls, space, non-ASCII) are escaped.
/// A `%` not followed by two hex digits is kept as it is.
fn normalize_escapes(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            let v = h * 16 + l;
            if is_unreserved(v) {
                out.push(v as char);
            } else {
                out.push('%');
                out.push(HEX[usize::from(h)] as char);
                out.push(HEX[usize::from(l)] as char);
            }
            i += 3;
            continue;
        }
        if c <= b' ' || c >= 0x7f {
            out.push('%');
            out.push(HEX[usize::from(c >> 4)] as char);
            out.push(HEX[usize::from(c & 15)] as char);
        } else {
            out.push(c as char);
        }
        i += 1;
    }
}

/// Length of a leading `scheme://`, if the value has one (scheme = ALPHA *(ALPHA DIGIT + - .)).
fn scheme_len(s: &str) -> Option<usize> {
    let colon = s.find("://")?;
    let sch = &s.as_bytes()[..colon];
    let ok =
        !sch.is_empty() && sch[0].is_ascii_alphabetic() && sch.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    ok.then_some(colon)
}

/// A canonical URL: lower-case scheme and host, default port removed (`http` 80, `https` 443),
/// fragment removed, percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) decoded and
/// other escapes upper-cased, bytes that cannot stand in a URL escaped, an empty path made `/`.
/// Path and query are otherwise kept as written (case, dot segments, parameter order).
/// The host must be a domain ([`domain`]) or an IP address (IPv6 in brackets; an IPv4-mapped
/// one becomes the IPv4 address without brackets). User info (`user@`) is kept as written.
///
/// A value without a scheme (`evil.com/x`, `//evil.com/x`) canonicalises to `//evil.com/x`:
/// the scheme-less form, which the index matches against any scheme. Its port is kept, since
/// no default is known.
pub fn url(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::value("empty URL"));
    }
    let (scheme, rest) = match scheme_len(s) {
        Some(n) => (Some(s[..n].to_ascii_lowercase()), &s[n + 3..]),
        None => (None, s.strip_prefix("//").unwrap_or(s)),
    };
    let rest = match rest.find('#') {
        Some(i) => &rest[..i],
        None => rest,
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    // Split host and port; IPv6 literals are in brackets.
    let (host_raw, port) = if let Some(r) = hostport.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return Err(Invalid::value(format!("{}: unclosed '[' in host", quote(s))));
        };
        let after = &r[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(Invalid::value(format!("{}: junk after IPv6 host", quote(s)))),
        };
        (&hostport[..close + 2], port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    if host_raw.is_empty() {
        return Err(Invalid::value(format!("{}: no host", quote(s))));
    }
    let host = if host_raw.starts_with('[') {
        match ip(host_raw) {
            Ok(IpAddr::V6(a)) => format!("[{a}]"),
            Ok(IpAddr::V4(a)) => a.to_string(),
            Err(_) => return Err(Invalid::value(format!("{}: {:?} is not an IPv6 address", quote(s), host_raw))),
        }
    } else if let Ok(a) = host_raw.parse::<Ipv4Addr>() {
        a.to_string()
    } else {
        // Percent-escapes in the host are decoded before validation (rare, but legal).
        let decoded = if host_raw.contains('%') { percent_decode_lossy(host_raw) } else { host_raw.to_string() };
        if decoded.parse::<Ipv4Addr>().is_ok() {
            decoded
        } else {
            domain(&decoded).map_err(|e| Invalid::value(format!("{}: host: {}", quote(s), e.detail)))?
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
                return Err(Invalid::value(format!("{}: port {:?} is not a number", quote(s), p)));
            }
            match p.parse::<u32>() {
                Ok(n) if n <= 65535 => Some(n),
                _ => return Err(Invalid::value(format!("{}: port {p} out of range", quote(s)))),
            }
        }
    };
    let port = match (scheme.as_deref(), port) {
        (Some("http" | "ws"), Some(80)) | (Some("https" | "wss"), Some(443)) | (Some("ftp"), Some(21)) => None,
        (_, p) => p,
    };
    let mut out = String::with_capacity(s.len() + 2);
    if let Some(sc) = &scheme {
        out.push_str(sc);
        out.push(':');
    }
    out.push_str("//");
    if let Some(u) = userinfo {
        normalize_escapes(u, &mut out);
        out.push('@');
    }
    out.push_str(&host);
    if let Some(p) = port {
        out.push(':');
        out.push_str(&p.to_string());
    }
    if !tail.starts_with('/') {
        out.push('/');
    }
    normalize_escapes(tail, &mut out);
    Ok(out)
}

fn percent_decode_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The scheme-less form of a canonical URL: `http://a/b` -> `//a/b`. A value that is
/// already scheme-less (or not a URL) is returned unchanged.
pub fn url_without_scheme(canonical: &str) -> &str {
    if canonical.starts_with("//") {
        return canonical;
    }
    match scheme_len(canonical) {
        Some(n) => &canonical[n + 1..],
        None => canonical,
    }
}

/// A hash in hex: MD5 (32), SHA-1 (40) or SHA-256 (64 digits), lower-cased.
pub fn hash(raw: &str) -> Result<(IndicatorType, String), Invalid> {
    let s = raw.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Invalid::value(format!("{} is not a hexadecimal hash", quote(s))));
    }
    let kind = match s.len() {
        32 => IndicatorType::Md5,
        40 => IndicatorType::Sha1,
        64 => IndicatorType::Sha256,
        n => return Err(Invalid::new("unsupported_type", format!("{}: a {n}-digit hash is not MD5, SHA-1 or SHA-256", quote(s)))),
    };
    Ok((kind, s.to_ascii_lowercase()))
}

/// An e-mail address `local@domain`, lower-cased; the domain is validated by [`domain`].
pub fn email(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let s = s.strip_prefix("mailto:").unwrap_or(s);
    let Some((local, dom)) = s.rsplit_once('@') else {
        return Err(Invalid::value(format!("{} is not an e-mail address (no @)", quote(s))));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(Invalid::value(format!("{}: local part must be 1..=64 characters", quote(s))));
    }
    if let Some(c) = local.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '@')) {
        return Err(Invalid::value(format!("{}: character {:?} is not allowed in the local part", quote(s), c)));
    }
    let d = domain(dom).map_err(|e| Invalid::value(format!("{}: domain part: {}", quote(s), e.detail)))?;
    Ok(format!("{}@{}", local.to_lowercase(), d))
}

/// `a.b.c.d:port`, `[v6]:port` or `host:port` split, when the port is a number 0..=65535.
fn split_port(s: &str) -> Option<(&str, &str)> {
    let (h, p) = if s.starts_with('[') {
        let close = s.find("]:")?;
        (&s[..=close], &s[close + 2..])
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None; // a bare IPv6 address, not host:port
        }
        (h, p)
    };
    let ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| n <= 65535);
    (ok && !h.is_empty()).then_some((h, p))
}

/// Classifies and normalises an untyped value from a plain list:
/// - a URL with a scheme (`http://…`) -> `Url`;
/// - an IPv4/IPv6 address -> `Ipv4`/`Ipv6` (`[v6]` accepted, IPv4-mapped -> IPv4);
/// - `ip:port` / `[v6]:port` -> the address; the port is dropped (sweep matches addresses, not
///   sockets), and so is the port of `domain:port` -> `Domain`;
/// - `addr/len` -> `Cidr` (a full-length prefix -> the address);
/// - a scheme-less `host/path` or `//host/…` -> `Url` in the scheme-less form (`//host/path`);
/// - 32/40/64 hex digits -> `Md5`/`Sha1`/`Sha256`;
/// - `local@domain` -> `Email`;
/// - otherwise a domain, or `invalid_value`.
///
/// A domain, or the host of a scheme-less URL, must end in a top-level domain the Public
/// Suffix List knows ([`known_tld`]): untyped lists carry file names (`igfxtray.exe`) too.
pub fn classify(raw: &str) -> Result<(IndicatorType, String), Invalid> {
    let (kind, value) = classify_inner(raw)?;
    let host = match kind {
        IndicatorType::Domain => Some(value.as_str()),
        IndicatorType::Url if value.starts_with("//") => Some(url_host(&value)),
        _ => None,
    };
    if let Some(h) = host
        && !h.starts_with('[')
        && h.parse::<Ipv4Addr>().is_err()
        && !known_tld(h)
    {
        let tld = h.rsplit('.').next().unwrap_or(h);
        return Err(Invalid::value(format!("{}: {tld:?} is not a known top-level domain (a file name?)", quote(raw.trim()))));
    }
    Ok((kind, value))
}

/// The host of a canonical URL (without user info and port).
pub fn url_host(canonical: &str) -> &str {
    let rest = url_without_scheme(canonical).trim_start_matches('/');
    let auth = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let hostport = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    if hostport.starts_with('[') {
        return hostport.find(']').map_or(hostport, |i| &hostport[..=i]);
    }
    hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
}

fn classify_inner(raw: &str) -> Result<(IndicatorType, String), Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::value("empty value"));
    }
    if scheme_len(s).is_some() || s.starts_with("//") {
        return Ok((IndicatorType::Url, url(s)?));
    }
    if let Ok(a) = ip(s) {
        return Ok((ip_kind(a), a.to_string()));
    }
    if let Some((h, _)) = split_port(s) {
        if let Ok(a) = ip(h) {
            return Ok((ip_kind(a), a.to_string()));
        }
        if !h.contains(['/', '@']) {
            return Ok((IndicatorType::Domain, domain(h)?));
        }
    }
    if let Some((addr, len)) = s.split_once('/')
        && !len.is_empty()
        && len.bytes().all(|b| b.is_ascii_digit())
        && ip(addr).is_ok()
    {
        let (a, l) = cidr(s)?;
        return Ok(network_string(a, l));
    }
    if s.contains(['/', '?']) {
        return Ok((IndicatorType::Url, url(s)?));
    }
    if s.bytes().all(|b| b.is_ascii_hexdigit()) && matches!(s.len(), 32 | 40 | 64) {
        return hash(s);
    }
    if s.contains('@') {
        return Ok((IndicatorType::Email, email(s)?));
    }
    Ok((IndicatorType::Domain, domain(s)?))
}

/// Normalises a value whose type the feed states, returning the type it really is: an
/// `Ipv4`/`Ipv6` value written `addr/len` is a `Cidr` (STIX `ipv4-addr:value` may be a network),
/// a `Cidr` with a full-length prefix is the host address, an IPv4-mapped `Ipv6` is `Ipv4`.
/// A hash must have the length of its stated type.
pub fn typed_as(kind: IndicatorType, raw: &str) -> Result<(IndicatorType, String), Invalid> {
    use IndicatorType as T;
    let s = raw.trim();
    match kind {
        T::Ipv4 | T::Ipv6 | T::Cidr => {
            if s.contains('/') {
                let (a, l) = cidr(s)?;
                return Ok(network_string(a, l));
            }
            if kind == T::Cidr {
                return Err(Invalid::value(format!("{} is not a network (addr/len)", quote(s))));
            }
            let a = ip(s)?;
            if kind == T::Ipv4 && !a.is_ipv4() {
                return Err(Invalid::new("type_mismatch", format!("{} is an IPv6 address, stated as IPv4", quote(s))));
            }
            Ok((ip_kind(a), a.to_string()))
        }
        T::Domain => Ok((T::Domain, domain(s)?)),
        T::Url => Ok((T::Url, url(s)?)),
        T::Md5 | T::Sha1 | T::Sha256 => {
            let want = match kind {
                T::Md5 => 32,
                T::Sha1 => 40,
                _ => 64,
            };
            if s.bytes().all(|b| b.is_ascii_hexdigit()) && !matches!(s.len(), 32 | 40 | 64) {
                return Err(Invalid::value(format!("{}: {} hex digits, a {kind} has {want}", quote(s), s.len())));
            }
            let (k, h) = hash(s)?;
            if k != kind {
                return Err(Invalid::new("type_mismatch", format!("{}: {} digits is a {k}, stated as {kind}", quote(s), s.len())));
            }
            Ok((k, h))
        }
        T::Email => Ok((T::Email, email(s)?)),
    }
}

/// Normalises a value whose type the feed states. Strict: the normalised value must be of
/// that type (`1.2.3.0/24` stated as `Ipv4` is `type_mismatch`); readers that accept the
/// type changes listed in [`typed_as`] call that instead.
pub fn typed(kind: IndicatorType, raw: &str) -> Result<String, Invalid> {
    let (k, v) = typed_as(kind, raw)?;
    if k != kind {
        return Err(Invalid::new("type_mismatch", format!("{} is a {k} value, stated as {kind}", quote(raw.trim()))));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    fn reason<T: std::fmt::Debug>(r: Result<T, Invalid>) -> &'static str {
        r.expect_err("should be refused").reason
    }

    #[test]
    fn ipv4_forms() {
        assert_eq!(ipv4("1.2.3.4").unwrap(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(ipv4("  1.2.3.4\t").unwrap(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(ipv4("::ffff:1.2.3.4").unwrap(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(ipv4("[::ffff:102:304]").unwrap(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(reason(ipv4("2001:db8::1")), "invalid_value");
        assert_eq!(reason(ipv4("1.2.3")), "invalid_value");
        assert_eq!(reason(ipv4("107.183.86")), "invalid_value");
        assert_eq!(reason(ipv4("1.2.3.256")), "invalid_value");
        assert_eq!(reason(ipv4("010.1.1.1")), "invalid_value");
        assert_eq!(reason(ipv4("")), "invalid_value");
    }

    #[test]
    fn ip_forms() {
        assert_eq!(ip("2001:DB8:0:0::1").unwrap().to_string(), "2001:db8::1");
        assert_eq!(ip("[2001:db8::1]").unwrap().to_string(), "2001:db8::1");
        assert_eq!(ip("::FFFF:10.0.0.1").unwrap(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        // IPv4-compatible (deprecated ::a.b.c.d) is not mapped: stays IPv6.
        assert!(ip("::10.0.0.1").unwrap().is_ipv6());
        assert_eq!(reason(ip("fe80::1%eth0")), "invalid_value");
        assert_eq!(reason(ip("[2001:db8::1")), "invalid_value");
        assert_eq!(reason(ip("evil.com")), "invalid_value");
    }

    #[test]
    fn cidr_forms() {
        assert_eq!(cidr("10.0.0.0/8").unwrap(), ("10.0.0.0".parse().unwrap(), 8));
        assert_eq!(cidr("10.1.2.3/8").unwrap(), ("10.0.0.0".parse().unwrap(), 8), "host bits masked");
        assert_eq!(cidr("1.2.3.4/32").unwrap(), ("1.2.3.4".parse().unwrap(), 32));
        assert_eq!(cidr("0.0.0.0/0").unwrap(), ("0.0.0.0".parse().unwrap(), 0));
        assert_eq!(cidr("2001:DB8::1/32").unwrap(), ("2001:db8::".parse().unwrap(), 32));
        assert_eq!(cidr("::ffff:10.1.0.0/112").unwrap(), ("10.1.0.0".parse().unwrap(), 16));
        assert_eq!(reason(cidr("10.0.0.0/33")), "invalid_value");
        assert_eq!(reason(cidr("2001:db8::/129")), "invalid_value");
        assert_eq!(reason(cidr("10.0.0.0/")), "invalid_value");
        assert_eq!(reason(cidr("10.0.0.0/+8")), "invalid_value");
        assert_eq!(reason(cidr("10.0.0.0")), "invalid_value");
        assert_eq!(reason(cidr("evil.com/8")), "invalid_value");
    }

    #[test]
    fn domain_forms() {
        assert_eq!(domain("Evil.COM").unwrap(), "evil.com");
        assert_eq!(domain("evil.com.").unwrap(), "evil.com");
        assert_eq!(domain(" a.b.evil.com ").unwrap(), "a.b.evil.com");
        assert_eq!(domain("_dmarc.evil.com").unwrap(), "_dmarc.evil.com");
        assert_eq!(domain("xn--bcher-kva.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(domain("Bücher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(domain("münchen.de").unwrap(), "xn--mnchen-3ya.de");
        assert_eq!(domain("例え.jp").unwrap(), "xn--r8jz45g.jp");
        assert_eq!(domain("a\u{3002}example\u{3002}com").unwrap(), "a.example.com");
        assert_eq!(reason(domain("localhost")), "invalid_value");
        assert_eq!(reason(domain("evil.com..")), "invalid_value");
        assert_eq!(reason(domain(".evil.com")), "invalid_value");
        assert_eq!(reason(domain("a..evil.com")), "invalid_value");
        assert_eq!(reason(domain("1.2.3.4")), "invalid_value");
        assert_eq!(reason(domain("107.183.86")), "invalid_value");
        assert_eq!(reason(domain("evil com")), "invalid_value");
        assert_eq!(reason(domain("*.evil.com")), "invalid_value");
        assert_eq!(reason(domain("")), "invalid_value");
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(reason(domain(&long_label)), "invalid_value");
        assert!(domain(&format!("{}.com", "a".repeat(63))).is_ok());
        let long_name = format!("{}com", "abcdefghi.".repeat(25)); // 253 characters
        assert_eq!(long_name.len(), 253);
        assert!(domain(&long_name).is_ok());
        assert_eq!(reason(domain(&format!("a{long_name}"))), "invalid_value");
    }

    #[test]
    fn punycode_rfc3492_samples() {
        // RFC 3492 section 7.1 samples (lower-cased).
        assert_eq!(crate::punycode::encode("他们为什么不说中文").unwrap(), "ihqwcrb4cv8a8dqg056pqjye");
        assert_eq!(crate::punycode::encode("3年b組金八先生").unwrap(), "3b-ww4c5e180e575a65lsy2b");
        assert_eq!(crate::punycode::encode("ü").unwrap(), "tda");
    }

    #[test]
    fn url_canonical() {
        let u = |s: &str| url(s).unwrap();
        assert_eq!(u("HTTP://Evil.COM/Path"), "http://evil.com/Path");
        assert_eq!(u("http://evil.com"), "http://evil.com/");
        assert_eq!(u("http://evil.com:80/a"), "http://evil.com/a");
        assert_eq!(u("https://evil.com:443/a"), "https://evil.com/a");
        assert_eq!(u("http://evil.com:443/a"), "http://evil.com:443/a");
        assert_eq!(u("https://evil.com:8443/a"), "https://evil.com:8443/a");
        assert_eq!(u("http://evil.com:0080/a"), "http://evil.com/a");
        assert_eq!(u("http://evil.com:/a"), "http://evil.com/a");
        assert_eq!(u("http://evil.com/a#frag"), "http://evil.com/a");
        assert_eq!(u("http://evil.com#frag"), "http://evil.com/");
        assert_eq!(u("http://evil.com/%7Euser/%7e"), "http://evil.com/~user/~");
        assert_eq!(u("http://evil.com/a%2fb%3Fc%41"), "http://evil.com/a%2Fb%3FcA");
        assert_eq!(u("http://evil.com/a%zz%4"), "http://evil.com/a%zz%4");
        assert_eq!(u("http://evil.com/a b"), "http://evil.com/a%20b");
        assert_eq!(u("http://evil.com/é"), "http://evil.com/%C3%A9");
        assert_eq!(u("http://evil.com?q=1"), "http://evil.com/?q=1");
        assert_eq!(u("http://evil.com/x?Q=%7e#f"), "http://evil.com/x?Q=~");
        assert_eq!(u("http://evil.com./x"), "http://evil.com/x");
        assert_eq!(u("http://1.2.3.4:8080/x"), "http://1.2.3.4:8080/x");
        assert_eq!(u("http://[2001:DB8::1]:80/x"), "http://[2001:db8::1]/x");
        assert_eq!(u("http://[::ffff:1.2.3.4]/x"), "http://1.2.3.4/x");
        assert_eq!(u("http://User@evil.com/"), "http://User@evil.com/");
        assert_eq!(u("http://b%C3%BCcher.de/"), "http://xn--bcher-kva.de/");
        // Scheme-less forms.
        assert_eq!(u("Evil.com/Path"), "//evil.com/Path");
        assert_eq!(u("//evil.com/a#x"), "//evil.com/a");
        assert_eq!(u("evil.com"), "//evil.com/");
        assert_eq!(u("evil.com:80/x"), "//evil.com:80/x");
        assert_eq!(u("1.2.3.4/x.exe"), "//1.2.3.4/x.exe");
    }

    #[test]
    fn url_refused() {
        assert_eq!(reason(url("107.183.86")), "invalid_value", "MISP's bogus url value");
        assert_eq!(reason(url("http://107.183.86/")), "invalid_value");
        assert_eq!(reason(url("http:///x")), "invalid_value");
        assert_eq!(reason(url("http://evil.com:99999/")), "invalid_value");
        assert_eq!(reason(url("http://evil.com:8o/")), "invalid_value");
        assert_eq!(reason(url("http://[::1/")), "invalid_value");
        assert_eq!(reason(url("http://localhost/")), "invalid_value");
        assert_eq!(reason(url("")), "invalid_value");
        assert_eq!(reason(url("http://ev il.com/")), "invalid_value");
    }

    #[test]
    fn url_scheme_less_form() {
        assert_eq!(url_without_scheme("http://a.com/b"), "//a.com/b");
        assert_eq!(url_without_scheme("https://a.com/"), "//a.com/");
        assert_eq!(url_without_scheme("//a.com/b"), "//a.com/b");
        assert_eq!(url_without_scheme("a.com/b"), "a.com/b");
        // Canonicalising without the scheme gives the same string as the scheme-less indicator.
        assert_eq!(url_without_scheme(&url("HTTPS://Evil.com:443/x#y").unwrap()), url("evil.com/x").unwrap());
    }

    #[test]
    fn hashes() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        assert_eq!(hash(md5).unwrap(), (T::Md5, md5.to_ascii_lowercase()));
        assert_eq!(hash(&"a".repeat(40)).unwrap().0, T::Sha1);
        assert_eq!(hash(&"0".repeat(64)).unwrap().0, T::Sha256);
        assert_eq!(reason(hash(&"0".repeat(128))), "unsupported_type");
        assert_eq!(reason(hash("xyz")), "invalid_value");
        assert_eq!(reason(hash(&"g".repeat(32))), "invalid_value");
    }

    #[test]
    fn emails() {
        assert_eq!(email("Bad.Guy@Evil.COM").unwrap(), "bad.guy@evil.com");
        assert_eq!(email("mailto:x@evil.com.").unwrap(), "x@evil.com");
        assert_eq!(reason(email("evil.com")), "invalid_value");
        assert_eq!(reason(email("@evil.com")), "invalid_value");
        assert_eq!(reason(email("a b@evil.com")), "invalid_value");
        assert_eq!(reason(email("x@localhost")), "invalid_value");
    }

    #[test]
    fn classify_mixed() {
        let c = |s: &str| classify(s).unwrap();
        assert_eq!(c("1.2.3.4"), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(c("1.2.3.4:8080"), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(c("::ffff:1.2.3.4"), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(c("2001:DB8::1"), (T::Ipv6, "2001:db8::1".into()));
        assert_eq!(c("[2001:db8::1]:443"), (T::Ipv6, "2001:db8::1".into()));
        assert_eq!(c("10.1.2.3/8"), (T::Cidr, "10.0.0.0/8".into()));
        assert_eq!(c("1.2.3.4/32"), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(c("2001:db8::/32"), (T::Cidr, "2001:db8::/32".into()));
        assert_eq!(c("http://Evil.com:80/x"), (T::Url, "http://evil.com/x".into()));
        assert_eq!(c("evil.com/x.php?a=1"), (T::Url, "//evil.com/x.php?a=1".into()));
        assert_eq!(c("1.2.3.4/bin.sh"), (T::Url, "//1.2.3.4/bin.sh".into()));
        assert_eq!(c("1.2.3.4:8080/bin.sh"), (T::Url, "//1.2.3.4:8080/bin.sh".into()));
        assert_eq!(c("Evil.com."), (T::Domain, "evil.com".into()));
        assert_eq!(c("evil.com:8080"), (T::Domain, "evil.com".into()));
        assert_eq!(c(&"A".repeat(64)), (T::Sha256, "a".repeat(64)));
        assert_eq!(c("x@evil.com"), (T::Email, "x@evil.com".into()));
        assert_eq!(reason(classify("107.183.86")), "invalid_value");
        assert_eq!(reason(classify("localhost")), "invalid_value");
        assert_eq!(reason(classify("")), "invalid_value");
        assert_eq!(reason(classify("not a value")), "invalid_value");
        assert_eq!(reason(classify("10.0.0.0/40")), "invalid_value");
        assert_eq!(reason(classify("igfxtray.exe")), "invalid_value", "a file name, not a domain");
        assert_eq!(reason(classify("igfxtray.exe/x")), "invalid_value");
        assert_eq!(c("http://igfxtray.exe/x").0, T::Url, "with a scheme the host is a host");
        assert_eq!(c("xn--bcher-kva.xn--p1ai"), (T::Domain, "xn--bcher-kva.xn--p1ai".into()));
    }

    #[test]
    fn tlds_and_hosts() {
        assert!(known_tld("evil.com"));
        assert!(known_tld("a.top"));
        assert!(known_tld("x.xn--p1ai"), "punycoded IDN TLD (.рф)");
        assert!(!known_tld("igfxtray.exe"));
        assert!(!known_tld("corp.local"));
        assert_eq!(url_host("http://u@evil.com:81/x"), "evil.com");
        assert_eq!(url_host("//[2001:db8::1]:81/x"), "[2001:db8::1]");
        assert_eq!(url_host("//1.2.3.4/"), "1.2.3.4");
        assert_eq!(url_host("https://a.b?x"), "a.b");
    }

    #[test]
    fn typed_values() {
        assert_eq!(typed(T::Ipv4, "1.2.3.4").unwrap(), "1.2.3.4");
        assert_eq!(typed_as(T::Ipv4, "1.2.3.0/24").unwrap(), (T::Cidr, "1.2.3.0/24".into()));
        assert_eq!(typed_as(T::Cidr, "1.2.3.4/32").unwrap(), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(typed_as(T::Ipv6, "::ffff:1.2.3.4").unwrap(), (T::Ipv4, "1.2.3.4".into()));
        assert_eq!(typed_as(T::Ipv6, "2001:db8::/128").unwrap(), (T::Ipv6, "2001:db8::".into()));
        assert_eq!(reason(typed(T::Ipv4, "1.2.3.0/24")), "type_mismatch");
        assert_eq!(reason(typed(T::Ipv4, "2001:db8::1")), "type_mismatch");
        assert_eq!(reason(typed(T::Cidr, "1.2.3.4")), "invalid_value");
        assert_eq!(typed(T::Domain, "EVIL.com.").unwrap(), "evil.com");
        assert_eq!(reason(typed(T::Domain, "1.2.3.4")), "invalid_value");
        assert_eq!(typed(T::Url, "107.183.86.1/x").unwrap(), "//107.183.86.1/x");
        assert_eq!(reason(typed(T::Url, "107.183.86")), "invalid_value");
        assert_eq!(typed(T::Md5, &"F".repeat(32)).unwrap(), "f".repeat(32));
        assert_eq!(reason(typed(T::Md5, &"f".repeat(40))), "type_mismatch");
        assert_eq!(typed(T::Email, "A@B.cd").unwrap(), "a@b.cd");
    }

    proptest::proptest! {
        #[test]
        fn never_panic_on_any_text(s in "\\PC{0,80}") {
            let _ = classify(&s);
            let _ = url(&s);
            let _ = domain(&s);
            let _ = email(&s);
            let _ = cidr(&s);
            let _ = ip(&s);
            let _ = hash(&s);
        }

        #[test]
        fn url_canonical_form_is_a_fixed_point(
            s in "(https?://)?[a-zA-Z0-9.\\-]{1,20}\\.(com|org)(:[0-9]{1,5})?(/[a-zA-Z0-9%~._\\-/?=&#]{0,30})?"
        ) {
            if let Ok(u) = url(&s) {
                proptest::prop_assert_eq!(url(&u), Ok(u.clone()));
                proptest::prop_assert_eq!(url(url_without_scheme(&u)).map(|x| x.starts_with("//")), Ok(true));
            }
        }

        #[test]
        fn classify_is_idempotent(s in "[a-zA-Z0-9.:/\\-@%]{1,40}") {
            if let Ok((k, v)) = classify(&s) {
                proptest::prop_assert_eq!(typed_as(k, &v), Ok((k, v.clone())));
            }
        }
    }

    #[test]
    fn never_panics_on_junk() {
        for s in
            ["%", "%%", "http://", "://", "[", "]", "[]", ":", "::::", "/", "@", "a@", "http://[]/", "\u{0}", "xn--", "ü", "1.2.3.4/99999"]
        {
            let _ = classify(s);
            let _ = url(s);
            let _ = domain(s);
            let _ = email(s);
            let _ = cidr(s);
        }
    }
}

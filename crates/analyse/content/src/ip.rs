//! `missing_fqdn`: hosts that are IP address literals.

use std::net::IpAddr;

use sweep_intel::normalize;

use crate::ContentError;

/// An IPv4 or IPv6 network, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    len: u8,
}

impl Net {
    fn contains(&self, a: IpAddr) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = if self.len == 0 { 0 } else { u32::MAX << (32 - u32::from(self.len)) };
                u32::from(a) & m == u32::from(n)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = if self.len == 0 { 0 } else { u128::MAX << (128 - u32::from(self.len)) };
                u128::from(a) & m == u128::from(n)
            }
            _ => false,
        }
    }
}

/// Addresses that are not on the public Internet and so never flagged: what a proxy sees for
/// intranet servers, the proxy itself and carrier-grade NAT.
pub fn is_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            // 10/8, 172.16/12, 192.168/16; 127/8; 169.254/16; 0/8; 255.255.255.255;
            // 100.64/10 (carrier-grade NAT, RFC 6598).
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || o[0] == 0
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // ::1; ::; fe80::/10 (link-local); fc00::/7 (unique local).
            v6.is_loopback() || v6.is_unspecified() || (s[0] & 0xFFC0) == 0xFE80 || (s[0] & 0xFE00) == 0xFC00
        }
    }
}

/// The IP address a host is, if it is an IP literal: dotted IPv4, IPv6, bracketed IPv6;
/// IPv4-mapped IPv6 becomes IPv4.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    let b = host.as_bytes();
    // Cheap pre-check: names have a letter beyond a-f or no ':'; skip the parser for them.
    let maybe = b.first().is_some_and(|&c| c.is_ascii_digit() || c == b'[' || c == b':')
        || (b.contains(&b':') && b.iter().all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.' | b'[' | b']')));
    if !maybe {
        return None;
    }
    normalize::ip(host).ok()
}

/// The allowlist of `missing_fqdn.allow`.
#[derive(Debug, Clone, Default)]
pub struct IpAllow {
    nets: Vec<Net>,
}

impl IpAllow {
    pub fn parse(entries: &[String]) -> Result<IpAllow, ContentError> {
        let mut nets = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let net = if e.contains('/') {
                normalize::cidr(e).map(|(addr, len)| Net { addr, len })
            } else {
                normalize::ip(e).map(|addr| Net { addr, len: if addr.is_ipv4() { 32 } else { 128 } })
            };
            nets.push(net.map_err(|err| {
                ContentError::Spec(format!("missing_fqdn.allow[{i}] {e:?}: {err}; write an address or a network addr/len"))
            })?);
        }
        Ok(IpAllow { nets })
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(a))
    }
}

/// The reason for a flagged address.
pub fn reason(host: &str, a: IpAddr) -> String {
    let v = if a.is_ipv4() { "IPv4" } else { "IPv6" };
    format!("host {host} is a public {v} address, not a domain name: the client went to a server without looking up a name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn local_ranges() {
        for l in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc12::1",
        ] {
            assert!(is_local(normalize::ip(l).unwrap()), "{l} is local");
        }
        for p in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "100.63.255.255", "2001:4860:4860::8888", "fec0::1", "1.1.1.1"] {
            assert!(!is_local(normalize::ip(p).unwrap()), "{p} is public");
        }
    }

    #[test]
    fn literals() {
        assert!(ip_literal("8.8.8.8").is_some());
        assert!(ip_literal("[2001:db8::1]").is_some());
        assert!(ip_literal("2001:db8::1").is_some());
        assert_eq!(ip_literal("::ffff:8.8.8.8"), Some(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))));
        assert!(ip_literal("example.com").is_none());
        assert!(ip_literal("1password.com").is_none());
        assert!(ip_literal("cafe.de").is_none());
        assert!(ip_literal("1.2.3").is_none());
    }

    #[test]
    fn allowlist() {
        let a = IpAllow::parse(&["203.0.113.0/24".into(), "2001:db8::5".into()]).unwrap();
        assert!(a.contains(normalize::ip("203.0.113.77").unwrap()));
        assert!(!a.contains(normalize::ip("203.0.114.1").unwrap()));
        assert!(a.contains(normalize::ip("2001:db8::5").unwrap()));
        assert!(!a.contains(normalize::ip("2001:db8::6").unwrap()));
        assert!(IpAllow::parse(&["not-an-ip".into()]).is_err());
    }
}

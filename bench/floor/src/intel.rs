//! The indicators of a plain list (one value a line) in hash maps, and the match of one
//! event against them: exact addresses, networks (one map per prefix length, so every
//! network holding the address is found), domains with their subdomains (a walk over the
//! host's label suffixes), and URLs after a light canonicalisation.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::Path;

use crate::squid::Event;

/// What the hits carry as `intel_version` (sweep's is a hash of the whole index).
pub const VERSION: &str = "floor";

const KINDS: [&str; 5] = ["ipv4", "ipv6", "cidr", "domain", "url"];
const IPV4: u8 = 0;
const IPV6: u8 = 1;
const CIDR: u8 = 2;
const DOMAIN: u8 = 3;
const URL: u8 = 4;

/// FxHash (rustc's hasher): a multiply and a rotate per word. The keys are not chosen by
/// an attacker here, so the default SipHash's protection is not needed.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let r = chunks.remainder();
        if !r.is_empty() {
            let mut w = [0u8; 8];
            w[..r.len()].copy_from_slice(r);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The table picks buckets by the low bits, which a multiply leaves poor (a masked
        // network's low bits are all zero): rotate the good high bits down, as rustc-hash 2 does.
        self.0.rotate_left(26)
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Map<K> = HashMap<K, u32, BuildHasherDefault<Fx>>;

/// One match: the indicator, how it matched and in which event field.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub id: u32,
    pub kind: &'static str,
    pub field: &'static str,
}

/// Addresses and networks, and names (domains and URLs), are two shards built side by side
/// on two threads; an indicator's id is its number in its shard times two, plus the shard.
#[derive(Default)]
pub struct Index {
    values: [Vec<&'static str>; 2],
    kinds: [Vec<u8>; 2],
    v4: Map<u32>,
    v6: Map<u128>,
    nets4: Vec<(u32, Map<u32>)>,
    nets6: Vec<(u32, Map<u128>)>,
    domains: Map<&'static str>,
    urls: Map<&'static str>,
}

fn leak(s: Cow<'static, str>) -> &'static str {
    match s {
        Cow::Borrowed(s) => s,
        Cow::Owned(s) => Box::leak(s.into_boxed_str()),
    }
}

fn mask4(a: u32, len: u32) -> u32 {
    if len == 0 { 0 } else { a & (u32::MAX << (32 - len)) }
}

fn mask6(a: u128, len: u32) -> u128 {
    if len == 0 { 0 } else { a & (u128::MAX << (128 - len)) }
}

/// An address as the events hold it; IPv4-mapped IPv6 is IPv4.
fn addr(s: &str) -> Option<IpAddr> {
    let s = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

impl Index {
    /// Reads a plain list: blank lines and lines starting with `#`, `;` or `!` are skipped;
    /// every other line is one value, classified by its shape.
    pub fn load(path: &Path) -> Result<Index, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // The values live as long as the run: the map keys borrow them from the file's text.
        let text: &'static str = Box::leak(text.into_boxed_str());
        let (mut ix, names) = std::thread::scope(|s| {
            let names = s.spawn(|| Index::shard(text, 1));
            (Index::shard(text, 0), names.join().expect("no panic"))
        });
        let Index { values: [_, values], kinds: [_, kinds], domains, urls, .. } = names;
        (ix.values[1], ix.kinds[1], ix.domains, ix.urls) = (values, kinds, domains, urls);
        Ok(ix)
    }

    /// The addresses and networks of the list (shard 0), or its domains and URLs (shard 1).
    fn shard(text: &'static str, shard: usize) -> Index {
        let mut ix = Index::default();
        // Networks by prefix length while loading.
        let mut n4: Vec<Option<Map<u32>>> = vec![None; 33];
        let mut n6: Vec<Option<Map<u128>>> = vec![None; 129];
        for line in text.lines() {
            let v = line.split_whitespace().next().unwrap_or("");
            if v.is_empty() || v.starts_with(['#', ';', '!']) {
                continue;
            }
            let is_url = v.contains("://");
            let is_name = is_url || !(v.contains('/') || v.parse::<IpAddr>().is_ok());
            if is_name != (shard == 1) {
                continue;
            }
            let id = (ix.values[shard].len() as u32) << 1 | shard as u32;
            let (kind, value, fresh) = if is_url {
                let c = leak(canon_url(v));
                (URL, c, *ix.urls.entry(c).or_insert(id) == id)
            } else if let Some((a, len)) = v.split_once('/') {
                let (Some(a), Ok(len)) = (addr(a), len.parse::<u32>()) else { continue };
                match a {
                    IpAddr::V4(a) if len <= 32 => {
                        let net = mask4(a.into(), len);
                        let m = n4[len as usize].get_or_insert_default();
                        (CIDR, leak(Cow::Owned(format!("{}/{len}", std::net::Ipv4Addr::from(net)))), *m.entry(net).or_insert(id) == id)
                    }
                    IpAddr::V6(a) if len <= 128 => {
                        let net = mask6(a.into(), len);
                        let m = n6[len as usize].get_or_insert_default();
                        (CIDR, leak(Cow::Owned(format!("{}/{len}", std::net::Ipv6Addr::from(net)))), *m.entry(net).or_insert(id) == id)
                    }
                    _ => continue,
                }
            } else if let Ok(a) = v.parse::<IpAddr>() {
                match a {
                    IpAddr::V4(a) => (IPV4, v, *ix.v4.entry(a.into()).or_insert(id) == id),
                    IpAddr::V6(a6) => match a6.to_ipv4_mapped() {
                        Some(a4) => (IPV4, leak(Cow::Owned(a4.to_string())), *ix.v4.entry(a4.into()).or_insert(id) == id),
                        None => (IPV6, leak(Cow::Owned(a6.to_string())), *ix.v6.entry(a6.into()).or_insert(id) == id),
                    },
                }
            } else {
                let d = v.strip_suffix('.').unwrap_or(v);
                let d = leak(if d.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(d.to_ascii_lowercase()) } else { Cow::Borrowed(d) });
                (DOMAIN, d, *ix.domains.entry(d).or_insert(id) == id)
            };
            if fresh {
                ix.values[shard].push(value);
                ix.kinds[shard].push(kind);
            }
        }
        ix.nets4 = n4.into_iter().enumerate().filter_map(|(l, m)| Some((l as u32, m?))).collect();
        ix.nets6 = n6.into_iter().enumerate().filter_map(|(l, m)| Some((l as u32, m?))).collect();
        ix
    }

    pub fn len(&self) -> usize {
        self.values[0].len() + self.values[1].len()
    }

    /// The value and the type name of an indicator.
    pub fn indicator(&self, id: u32) -> (&'static str, &'static str) {
        let (shard, i) = ((id & 1) as usize, (id >> 1) as usize);
        (self.values[shard][i], KINDS[self.kinds[shard][i] as usize])
    }

    /// The hits of one event, in `out`: `server_ip`, then `host`, then `url` (sweep's
    /// default fields); an indicator gives one hit per event, named by the first field.
    pub fn match_event(&self, e: &Event<'_>, out: &mut Vec<Hit>) {
        out.clear();
        if let Some(a) = e.server_addr {
            self.ip(a, "server_ip", out);
        }
        if let Some(h) = e.host.as_deref().filter(|h| !h.is_empty() && *h != "-") {
            let maybe_ip = h.bytes().all(|b| b.is_ascii_digit() || b == b'.') || h.contains(':');
            match maybe_ip.then(|| addr(h)).flatten() {
                Some(a) => self.ip(a, "host", out),
                None => self.domain(h.strip_suffix('.').unwrap_or(h), out),
            }
        }
        if !self.urls.is_empty()
            && let Some(u) = e.url.map(str::trim).filter(|u| scheme_len(u).is_some())
            && let Some(&id) = self.urls.get(&*canon_url(u))
        {
            push(out, id, "url", "url");
        }
    }

    fn ip(&self, a: IpAddr, field: &'static str, out: &mut Vec<Hit>) {
        match a {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                if let Some(&id) = self.v4.get(&a) {
                    push(out, id, "exact", field);
                }
                for (len, m) in &self.nets4 {
                    if let Some(&id) = m.get(&mask4(a, *len)) {
                        push(out, id, "cidr", field);
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                if let Some(&id) = self.v6.get(&a) {
                    push(out, id, "exact", field);
                }
                for (len, m) in &self.nets6 {
                    if let Some(&id) = m.get(&mask6(a, *len)) {
                        push(out, id, "cidr", field);
                    }
                }
            }
        }
    }

    /// The host itself (exact), then every parent domain of two labels or more (subdomain).
    fn domain(&self, host: &str, out: &mut Vec<Hit>) {
        if let Some(&id) = self.domains.get(host) {
            push(out, id, "exact", "host");
        }
        let mut rest = host;
        while let Some(i) = rest.find('.') {
            rest = &rest[i + 1..];
            if !rest.contains('.') {
                break; // a top-level domain alone: a public suffix, never matched by subdomains
            }
            if let Some(&id) = self.domains.get(rest) {
                push(out, id, "subdomain", "host");
            }
        }
    }
}

fn push(out: &mut Vec<Hit>, id: u32, kind: &'static str, field: &'static str) {
    if !out.iter().any(|h| h.id == id) {
        out.push(Hit { id, kind, field });
    }
}

/// The length of a leading scheme followed by `://`.
fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_alphabetic() {
        return None;
    }
    let i = b.iter().position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (b[i] == b':' && b[i + 1..].starts_with(b"//")).then_some(i)
}

/// A URL in the form sweep compares URLs in, as far as this floor goes: scheme and host in
/// lower case, one trailing dot of the host and the fragment dropped, the scheme's default
/// port dropped, an empty path made `/`. Borrowed when nothing changes (the usual case).
pub fn canon_url(u: &str) -> Cow<'_, str> {
    let Some(sl) = scheme_len(u) else { return Cow::Borrowed(u) };
    let (scheme, rest) = (&u[..sl], &u[sl + 3..]);
    let (rest, had_fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let (userinfo, hostport) = match auth.rfind('@') {
        Some(i) => (&auth[..=i], &auth[i + 1..]),
        None => ("", auth),
    };
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport.starts_with('[') || hostport[..i].ends_with(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    let default_port = port.is_some_and(|p| {
        p.is_empty()
            || [("http", "80"), ("ws", "80"), ("https", "443"), ("wss", "443"), ("ftp", "21")]
                .iter()
                .any(|(s, d)| p == *d && scheme.eq_ignore_ascii_case(s))
    });
    let upper = |s: &str| s.bytes().any(|b| b.is_ascii_uppercase());
    if !(had_fragment || default_port || tail.is_empty() || !tail.starts_with('/') || host.ends_with('.') || upper(scheme) || upper(host)) {
        return Cow::Borrowed(u);
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut s = String::with_capacity(u.len() + 1);
    s.push_str(&scheme.to_ascii_lowercase());
    s.push_str("://");
    s.push_str(userinfo);
    s.push_str(&host.to_ascii_lowercase());
    if let Some(p) = port.filter(|_| !default_port) {
        s.push(':');
        s.push_str(p);
    }
    if !tail.starts_with('/') {
        s.push('/');
    }
    s.push_str(tail);
    Cow::Owned(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(canon_url("http://a.com/x?y"), Cow::Borrowed(_)));
        assert_eq!(canon_url("HTTP://A.com.:80#f"), "http://a.com/");
        assert_eq!(canon_url("https://a.com:8443?q"), "https://a.com:8443/?q");
        assert_eq!(canon_url("http://u@[2001:db8::1]:80/p"), "http://u@[2001:db8::1]/p");
    }

    #[test]
    fn matches() {
        let dir = std::env::temp_dir().join(format!("floor-test-{}", std::process::id()));
        std::fs::write(&dir, "# feed\n1.2.3.4\n1.2.3.0/24\n1.2.0.0/16\nEvil.com\nhttp://x.org/a\n2001:db8::1\n").unwrap();
        let ix = Index::load(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(ix.len(), 6);
        let line = "1.0 1 10.0.0.1 TCP_MISS/200 1 GET http://X.org/a - DIRECT/1.2.3.4 -";
        let mut out = Vec::new();
        ix.match_event(&crate::squid::parse(line).unwrap(), &mut out);
        let got: Vec<_> = out.iter().map(|h| (ix.indicator(h.id).0, h.kind, h.field)).collect();
        assert_eq!(
            got,
            [
                ("1.2.3.4", "exact", "server_ip"),
                ("1.2.0.0/16", "cidr", "server_ip"),
                ("1.2.3.0/24", "cidr", "server_ip"),
                ("http://x.org/a", "url", "url")
            ]
        );
        let line = "1.0 1 10.0.0.1 TCP_MISS/200 1 CONNECT www.evil.com:443 - HIER_NONE/- -";
        ix.match_event(&crate::squid::parse(line).unwrap(), &mut out);
        assert_eq!(out.iter().map(|h| (ix.indicator(h.id).0, h.kind)).collect::<Vec<_>>(), [("evil.com", "subdomain")]);
    }
}

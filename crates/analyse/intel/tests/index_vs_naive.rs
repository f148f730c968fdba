//! The index against a plain reference matcher that loops over every indicator, on random
//! indicators, allowlists and events drawn from small spaces so that values collide often.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;
use sweep_intel::index::{AllowList, EventView, Hit, IntelIndex, MatchField, MatchKind, MatchStats};
use sweep_intel::normalize;
use sweep_intel::psl;
use sweep_intel::{Indicator, IndicatorType as T};

const LABELS: &[&str] = &["a", "b", "evil", "www"];
const BASES: &[&str] = &["evil.com", "com", "co.uk", "evil.co.uk", "uk", "github.io", "a.github.io", "x.ck", "www.ck", "ck"];
const PATHS: &[&str] = &["/", "/x", "/X", "/a~b", "/a%7Eb", "/x?q=1", "/x#frag"];

fn v4() -> impl Strategy<Value = String> {
    (0u8..2, 0u8..8).prop_map(|(c, d)| format!("10.0.{c}.{d}"))
}

fn v6() -> impl Strategy<Value = String> {
    prop_oneof![(0u8..8).prop_map(|d| format!("2001:db8::{d}")), (0u8..2, 0u8..8).prop_map(|(c, d)| format!("::ffff:10.0.{c}.{d}"))]
}

fn net() -> impl Strategy<Value = String> {
    prop_oneof![
        (v4(), 20u8..=32).prop_map(|(a, l)| format!("{a}/{l}")),
        (0u8..8, 124u8..=128).prop_map(|(d, l)| format!("2001:db8::{d}/{l}")),
        Just("0.0.0.0/0".to_string()),
    ]
}

/// Domains around public suffixes of each kind: ICANN (`co.uk`), PRIVATE (`github.io`),
/// wildcard (`*.ck`), exception (`!www.ck`), and single labels (refused as indicators).
fn domain() -> impl Strategy<Value = String> {
    (prop::collection::vec(prop::sample::select(LABELS), 0..3), prop::sample::select(BASES))
        .prop_map(|(ls, base)| if ls.is_empty() { base.to_string() } else { format!("{}.{base}", ls.join(".")) })
}

fn cased(s: String, upper: bool) -> String {
    if upper { s.to_ascii_uppercase() } else { s }
}

fn url() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just("evil.com".to_string()),
        Just("a.evil.com".to_string()),
        Just("evil.com.".to_string()),
        Just("user@evil.com".to_string()),
        Just("10.0.0.1".to_string()),
        Just("[2001:db8::1]".to_string()),
    ];
    let scheme = prop::sample::select(&["http://", "https://", "HTTP://", "", "//"][..]);
    let port = prop::sample::select(&["", ":80", ":443", ":8080"][..]);
    (scheme, host, any::<bool>(), port, prop::sample::select(PATHS)).prop_map(|(s, h, up, p, path)| format!("{s}{}{p}{path}", cased(h, up)))
}

/// A raw value of a type (not necessarily valid: the index must refuse what is not).
fn value() -> impl Strategy<Value = (T, String)> {
    prop_oneof![
        3 => v4().prop_map(|v| (T::Ipv4, v)),
        1 => v6().prop_map(|v| (T::Ipv6, v)),
        2 => net().prop_map(|v| (T::Cidr, v)),
        4 => (domain(), any::<bool>()).prop_map(|(d, up)| (T::Domain, cased(d, up))),
        3 => url().prop_map(|v| (T::Url, v)),
        1 => Just((T::Md5, "d41d8cd98f00b204e9800998ecf8427e".to_string())),
    ]
}

fn indicator() -> impl Strategy<Value = Indicator> {
    (value(), prop::sample::select(&["f1", "f2"][..]), prop::option::of(0i64..6), prop::option::of(3i64..9)).prop_map(
        |((kind, value), feed, from, until)| Indicator {
            value,
            kind,
            feed: Arc::from(feed),
            confidence: None,
            severity: None,
            tags: vec![],
            description: None,
            valid_from: from,
            valid_until: until,
        },
    )
}

#[derive(Debug, Clone)]
struct Ev {
    ts: i64,
    server_ip: Option<String>,
    client_ip: Option<String>,
    host: Option<String>,
    url: Option<String>,
}

fn event() -> impl Strategy<Value = Ev> {
    let ip = prop_oneof![v4(), v6(), Just("-".to_string())];
    let host = prop_oneof![
        (domain(), any::<bool>(), any::<bool>()).prop_map(|(d, up, dot)| format!("{}{}", cased(d, up), if dot { "." } else { "" })),
        v4(),
        v6(),
    ];
    (0i64..10, prop::option::of(ip.clone()), prop::option::of(ip), prop::option::of(host), prop::option::of(url()))
        .prop_map(|(ts, server_ip, client_ip, host, url)| Ev { ts, server_ip, client_ip, host, url })
}

fn fields() -> impl Strategy<Value = Vec<MatchField>> {
    prop::collection::vec(prop::sample::select(&MatchField::ALL[..]), 1..5)
}

// ----- the reference matcher: written plainly, one indicator at a time -----

fn ip_of(s: &str) -> Option<IpAddr> {
    normalize::ip(s).ok()
}

fn in_net(ip: IpAddr, net: &str) -> bool {
    let Ok((n, l)) = normalize::cidr(net) else { return false };
    match (ip, n) {
        (IpAddr::V4(a), IpAddr::V4(n)) => l == 0 || (u32::from(a) >> (32 - l as u32)) == (u32::from(n) >> (32 - l as u32)),
        (IpAddr::V6(a), IpAddr::V6(n)) => l == 0 || (u128::from(a) >> (128 - l as u32)) == (u128::from(n) >> (128 - l as u32)),
        _ => false,
    }
}

fn ip_match(kind: T, value: &str, ip: IpAddr) -> Option<MatchKind> {
    match kind {
        T::Ipv4 | T::Ipv6 if ip_of(value) == Some(ip) => Some(MatchKind::Exact),
        T::Cidr if in_net(ip, value) => Some(MatchKind::Cidr),
        _ => None,
    }
}

fn domain_match(value: &str, host: &str) -> Option<MatchKind> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host == value {
        Some(MatchKind::Exact)
    } else if host.ends_with(&format!(".{value}")) && !psl::is_public_suffix(value) {
        Some(MatchKind::Subdomain)
    } else {
        None
    }
}

fn split_scheme(u: &str) -> (&str, &str) {
    let rest = normalize::url_without_scheme(u);
    (&u[..u.len() - rest.len()], rest)
}

fn url_match(value: &str, canon: &str) -> Option<MatchKind> {
    let ((s1, r1), (s2, r2)) = (split_scheme(value), split_scheme(canon));
    (r1 == r2 && (s1.is_empty() || s2.is_empty() || s1 == s2)).then_some(MatchKind::Url)
}

/// What an event field holds, for matching.
enum Val {
    Ip(IpAddr),
    Host(String),
    Url(String),
}

fn field_value(ev: &Ev, f: MatchField) -> Option<Val> {
    match f {
        MatchField::ServerIp => ev.server_ip.as_deref().and_then(ip_of).map(Val::Ip),
        MatchField::ClientIp => ev.client_ip.as_deref().and_then(ip_of).map(Val::Ip),
        MatchField::Host => ev.host.as_deref().map(|h| ip_of(h).map_or_else(|| Val::Host(h.to_string()), Val::Ip)),
        MatchField::Url => ev.url.as_deref().and_then(|u| normalize::url(u).ok()).map(Val::Url),
    }
}

fn matches(kind: T, value: &str, v: &Val) -> Option<MatchKind> {
    match v {
        Val::Ip(ip) => ip_match(kind, value, *ip),
        Val::Host(h) if kind == T::Domain => domain_match(value, h),
        Val::Url(u) if kind == T::Url => url_match(value, u),
        _ => None,
    }
}

fn allowed(a: &AllowList, v: &Val) -> bool {
    match v {
        Val::Ip(ip) => a.ips.contains(ip) || a.cidrs.iter().any(|(n, l)| in_net(*ip, &format!("{n}/{l}"))),
        Val::Host(h) => a.domains.iter().any(|d| domain_match(d, h).is_some()),
        Val::Url(u) => a.urls.iter().any(|x| url_match(x, u).is_some()),
    }
}

fn naive(idx: &IntelIndex, allow: &AllowList, ev: &Ev, fields: &[MatchField]) -> (BTreeSet<Hit>, u64, u64) {
    let mut seen = Vec::new();
    let fields: Vec<MatchField> = fields.iter().copied().filter(|f| !seen.contains(f) && (seen.push(*f), true).1).collect();
    let vals: Vec<(MatchField, Val)> = fields.iter().filter_map(|&f| field_value(ev, f).map(|v| (f, v))).collect();
    let (mut hits, mut suppressed, mut inactive) = (BTreeSet::new(), 0, 0);
    for r in idx.iter() {
        let matched: Vec<(MatchField, MatchKind, &Val)> =
            vals.iter().filter_map(|(f, v)| matches(r.kind, &r.value, v).map(|k| (*f, k, v))).collect();
        if matched.is_empty() {
            continue;
        }
        if !r.is_valid_at(ev.ts) {
            inactive += 1;
            continue;
        }
        match matched.iter().find(|(_, _, v)| !allowed(allow, v)) {
            Some(&(f, k, _)) => {
                hits.insert(Hit { indicator: r.id, match_kind: k, matched_field: f });
            }
            None => suppressed += 1,
        }
    }
    (hits, suppressed, inactive)
}

fn allowlist() -> impl Strategy<Value = Vec<(T, String)>> {
    prop::collection::vec(
        prop_oneof![
            v4().prop_map(|v| (T::Ipv4, v)),
            net().prop_map(|v| (T::Cidr, v)),
            domain().prop_map(|v| (T::Domain, v)),
            url().prop_map(|v| (T::Url, v)),
        ],
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_the_naive_matcher(
        inds in prop::collection::vec(indicator(), 0..40),
        allow in allowlist(),
        events in prop::collection::vec(event(), 1..20),
        fields in fields(),
    ) {
        let allow = AllowList::from_values(allow);
        let idx = IntelIndex::build(inds.clone(), allow.clone());
        // The index holds exactly the normalised, de-duplicated input.
        let mut expected = BTreeSet::new();
        let mut refused = 0usize;
        for i in &inds {
            let empty = matches!((i.valid_from, i.valid_until), (Some(f), Some(u)) if f >= u);
            match normalize::typed_as(i.kind, &i.value) {
                Ok((k, v)) if !empty => {
                    expected.insert((k, v, i.feed.to_string(), i.valid_from, i.valid_until));
                }
                _ => refused += 1,
            }
        }
        let got: BTreeSet<_> = idx.iter().map(|r| (r.kind, r.value.to_string(), r.feed.to_string(), r.valid_from, r.valid_until)).collect();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(idx.len(), expected.len());
        prop_assert_eq!(idx.refused().len() - allow.refused.len(), refused);
        let mut stats = MatchStats::default();
        let mut out = Vec::new();
        let (mut sup, mut ina) = (0, 0);
        for ev in &events {
            let view = EventView {
                ts_micros: ev.ts,
                server_ip: ev.server_ip.as_deref(),
                client_ip: ev.client_ip.as_deref(),
                host: ev.host.as_deref(),
                url: ev.url.as_deref(),
                ..Default::default()
            };
            let start = out.len();
            idx.match_event(&view, &fields, &mut out, &mut stats);
            let got: BTreeSet<Hit> = out[start..].iter().copied().collect();
            prop_assert_eq!(got.len(), out.len() - start, "one hit per indicator and event");
            let (want, s, i) = naive(&idx, &allow, ev, &fields);
            prop_assert_eq!(got, want, "event {:?}", ev);
            sup += s;
            ina += i;
        }
        prop_assert_eq!((stats.suppressed, stats.inactive), (sup, ina));
        prop_assert_eq!(stats.hits as usize, out.len());
    }
}

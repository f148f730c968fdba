//! The matching semantics sweep promises (docs/intel.md), one behaviour a test.

use std::sync::Arc;

use sweep_intel::index::{AllowList, EventView, Hit, IntelIndex, MatchField, MatchKind, MatchStats};
use sweep_intel::{Indicator, IndicatorType as T};

fn ind(kind: T, value: &str, feed: &str) -> Indicator {
    Indicator {
        value: value.to_string(),
        kind,
        feed: Arc::from(feed),
        confidence: Some(80),
        severity: None,
        tags: vec!["test".to_string()],
        description: None,
        valid_from: None,
        valid_until: None,
    }
}

fn index(inds: &[(T, &str)]) -> IntelIndex {
    IntelIndex::build(inds.iter().map(|(k, v)| ind(*k, v, "feed")).collect(), AllowList::new())
}

/// Hits as (indicator value, match kind, field), sorted.
fn hits_with(idx: &IntelIndex, ev: &EventView<'_>, fields: &[MatchField], stats: &mut MatchStats) -> Vec<(String, MatchKind, MatchField)> {
    let mut out = Vec::new();
    idx.match_event(ev, fields, &mut out, stats);
    let mut v: Vec<_> = out.iter().map(|h: &Hit| (idx.indicator(h.indicator).value.into_owned(), h.match_kind, h.matched_field)).collect();
    v.sort();
    v
}

fn hits(idx: &IntelIndex, ev: &EventView<'_>) -> Vec<(String, MatchKind, MatchField)> {
    hits_with(idx, ev, &MatchField::DEFAULT, &mut MatchStats::default())
}

fn host(h: &str) -> EventView<'_> {
    EventView { host: Some(h), ..Default::default() }
}

fn server(ip: &str) -> EventView<'_> {
    EventView { server_ip: Some(ip), ..Default::default() }
}

fn url(u: &str) -> EventView<'_> {
    EventView { url: Some(u), ..Default::default() }
}

fn h(v: &str, k: MatchKind, f: MatchField) -> (String, MatchKind, MatchField) {
    (v.to_string(), k, f)
}

use MatchField::{ClientIp, Host, ServerIp, Url};
use MatchKind::{Cidr, Exact, Subdomain};

#[test]
fn domain_matches_itself_and_subdomains_at_a_label_boundary() {
    let idx = index(&[(T::Domain, "evil.com")]);
    assert_eq!(hits(&idx, &host("evil.com")), [h("evil.com", Exact, Host)]);
    assert_eq!(hits(&idx, &host("a.evil.com")), [h("evil.com", Subdomain, Host)]);
    assert_eq!(hits(&idx, &host("a.b.evil.com")), [h("evil.com", Subdomain, Host)]);
    assert_eq!(hits(&idx, &host("notevil.com")), []);
    assert_eq!(hits(&idx, &host("evil.com.au")), []);
    assert_eq!(hits(&idx, &host("evil.co")), []);
    assert_eq!(hits(&idx, &host("com")), []);
    // Case-insensitive, one trailing dot ignored.
    assert_eq!(hits(&idx, &host("EVIL.Com.")), [h("evil.com", Exact, Host)]);
    assert_eq!(hits(&idx, &host("WWW.evil.COM")), [h("evil.com", Subdomain, Host)]);
}

#[test]
fn parent_and_child_domain_indicators_each_hit() {
    let idx = index(&[(T::Domain, "evil.com"), (T::Domain, "a.evil.com"), (T::Domain, "b.a.evil.com")]);
    assert_eq!(hits(&idx, &host("x.a.evil.com")), [h("a.evil.com", Subdomain, Host), h("evil.com", Subdomain, Host)]);
    assert_eq!(
        hits(&idx, &host("b.a.evil.com")),
        [h("a.evil.com", Subdomain, Host), h("b.a.evil.com", Exact, Host), h("evil.com", Subdomain, Host)]
    );
}

#[test]
fn public_suffix_indicators_match_exactly_only() {
    let idx = index(&[
        (T::Domain, "co.uk"),       // ICANN section
        (T::Domain, "github.io"),   // PRIVATE section
        (T::Domain, "anything.ck"), // wildcard rule *.ck
        (T::Domain, "www.ck"),      // exception rule !www.ck: not a public suffix
        (T::Domain, "bad.github.io"),
    ]);
    assert_eq!(hits(&idx, &host("co.uk")), [h("co.uk", Exact, Host)]);
    assert_eq!(hits(&idx, &host("evil.co.uk")), []);
    assert_eq!(hits(&idx, &host("github.io")), [h("github.io", Exact, Host)]);
    assert_eq!(hits(&idx, &host("someone.github.io")), []);
    assert_eq!(hits(&idx, &host("x.bad.github.io")), [h("bad.github.io", Subdomain, Host)]);
    assert_eq!(hits(&idx, &host("anything.ck")), [h("anything.ck", Exact, Host)]);
    assert_eq!(hits(&idx, &host("x.anything.ck")), []);
    assert_eq!(hits(&idx, &host("a.www.ck")), [h("www.ck", Subdomain, Host)]);
}

#[test]
fn every_covering_network_and_the_address_itself_hit() {
    let idx = index(&[
        (T::Cidr, "10.0.0.0/8"),
        (T::Cidr, "10.1.0.0/16"),
        (T::Cidr, "10.1.2.0/24"),
        (T::Cidr, "10.1.3.0/24"),
        (T::Ipv4, "10.1.2.3"),
        (T::Cidr, "0.0.0.0/0"),
    ]);
    assert_eq!(
        hits(&idx, &server("10.1.2.3")),
        [
            h("0.0.0.0/0", Cidr, ServerIp),
            h("10.0.0.0/8", Cidr, ServerIp),
            h("10.1.0.0/16", Cidr, ServerIp),
            h("10.1.2.0/24", Cidr, ServerIp),
            h("10.1.2.3", Exact, ServerIp)
        ]
    );
    // The longest prefix starting below 10.1.2.200 is 10.1.2.0/24, which holds it.
    assert_eq!(hits(&idx, &server("10.1.2.200")).len(), 4);
    // The last network starting below 10.1.200.1 is 10.1.3.0/24, which does not hold it.
    assert_eq!(
        hits(&idx, &server("10.1.200.1")),
        [h("0.0.0.0/0", Cidr, ServerIp), h("10.0.0.0/8", Cidr, ServerIp), h("10.1.0.0/16", Cidr, ServerIp)]
    );
    assert_eq!(hits(&idx, &server("11.0.0.1")), [h("0.0.0.0/0", Cidr, ServerIp)]);
    assert_eq!(hits(&idx, &server("not-an-ip")), []);
}

#[test]
fn ipv6_and_ipv4_mapped_addresses() {
    let idx = index(&[
        (T::Ipv6, "2001:DB8::1"),
        (T::Cidr, "2001:db8::/32"),
        (T::Ipv4, "1.2.3.4"),
        (T::Ipv6, "::ffff:5.6.7.8"),      // becomes IPv4 5.6.7.8
        (T::Cidr, "::ffff:10.0.0.0/104"), // becomes 10.0.0.0/8
    ]);
    assert_eq!(idx.count(T::Ipv4), 2);
    assert_eq!(idx.count(T::Ipv6), 1);
    let both = [h("2001:db8::/32", Cidr, ServerIp), h("2001:db8::1", Exact, ServerIp)];
    assert_eq!(hits(&idx, &server("2001:db8:0::1")), both);
    assert_eq!(hits(&idx, &server("[2001:DB8::1]")), both);
    assert_eq!(hits(&idx, &server("2001:db8:1::1")), [h("2001:db8::/32", Cidr, ServerIp)]);
    assert_eq!(hits(&idx, &server("2001:db9::1")), []);
    assert_eq!(hits(&idx, &server("::ffff:1.2.3.4")), [h("1.2.3.4", Exact, ServerIp)]);
    assert_eq!(hits(&idx, &server("5.6.7.8")), [h("5.6.7.8", Exact, ServerIp)]);
    assert_eq!(hits(&idx, &server("::ffff:10.9.9.9")), [h("10.0.0.0/8", Cidr, ServerIp)]);
}

#[test]
fn ip_literal_hosts_are_checked_as_addresses() {
    let idx = index(&[(T::Ipv4, "1.2.3.4"), (T::Cidr, "2001:db8::/32"), (T::Domain, "evil.com")]);
    assert_eq!(hits(&idx, &host("1.2.3.4")), [h("1.2.3.4", Exact, Host)]);
    assert_eq!(hits(&idx, &host("2001:db8::5")), [h("2001:db8::/32", Cidr, Host)]);
    assert_eq!(hits(&idx, &host("[2001:db8::5]")), [h("2001:db8::/32", Cidr, Host)]);
}

#[test]
fn urls_match_after_canonicalisation() {
    let idx = index(&[(T::Url, "http://evil.com/a~b?q=1"), (T::Url, "HTTP://Evil.com:80/Path#frag")]);
    let u = |s| hits(&idx, &url(s));
    let one = [h("http://evil.com/a~b?q=1", MatchKind::Url, Url)];
    assert_eq!(u("http://evil.com/a~b?q=1"), one);
    assert_eq!(u("HTTP://EVIL.COM:80/a%7Eb?q=1"), one, "scheme/host case, default port, %7E");
    assert_eq!(u("http://evil.com/a%7eb?q=1#fragment"), one, "fragment dropped");
    assert_eq!(u("http://evil.com./a~b?q=1"), one, "trailing dot");
    assert_eq!(u("http://evil.com/A~b?q=1"), [], "the path is case-sensitive");
    assert_eq!(u("http://evil.com/a~b?q=2"), []);
    assert_eq!(u("http://evil.com:8080/a~b?q=1"), [], "a non-default port is part of the URL");
    assert_eq!(u("https://evil.com/a~b?q=1"), [], "a different scheme");
    assert_eq!(u("http://evil.com/Path"), [h("http://evil.com/Path", MatchKind::Url, Url)]);
    // Origin-form targets are assembled from scheme, host and port.
    let origin = EventView { url: Some("/a~b?q=1"), scheme: Some("http"), host: Some("evil.com"), port: Some(80), ..Default::default() };
    assert_eq!(hits_with(&idx, &origin, &[Url], &mut MatchStats::default()), one);
    assert_eq!(IntelIndex::event_url(&origin).as_deref(), Some("http://evil.com/a~b?q=1"));
    // A CONNECT target is not a URL.
    let connect = EventView { url: Some("evil.com:443"), host: Some("evil.com"), ..Default::default() };
    assert_eq!(hits_with(&idx, &connect, &[Url], &mut MatchStats::default()), []);
}

#[test]
fn a_url_without_scheme_matches_any_scheme() {
    let idx = index(&[(T::Url, "evil.com/payload.exe"), (T::Url, "https://bad.org/x")]);
    let u = |s| hits(&idx, &url(s));
    let any = [h("//evil.com/payload.exe", MatchKind::Url, Url)];
    assert_eq!(u("http://evil.com/payload.exe"), any);
    assert_eq!(u("HTTPS://evil.com:443/payload.exe"), any);
    assert_eq!(u("ftp://evil.com/payload.exe"), any);
    assert_eq!(u("http://evil.com:8080/payload.exe"), []);
    // An event URL without scheme (Zscaler logs) matches an indicator of any scheme.
    assert_eq!(u("bad.org/x"), [h("https://bad.org/x", MatchKind::Url, Url)]);
    assert_eq!(u("http://bad.org/x"), []);
    // With the scheme the event gives, the same URL is no longer scheme-less.
    let z = EventView { url: Some("bad.org/x"), scheme: Some("http"), ..Default::default() };
    assert_eq!(hits(&idx, &z), []);
}

#[test]
fn validity_window_is_checked_at_event_time() {
    let mut i = ind(T::Domain, "evil.com", "feed");
    i.valid_from = Some(1_000);
    i.valid_until = Some(2_000);
    let open_end = Indicator { valid_until: None, value: "late.com".into(), ..i.clone() };
    let idx = IntelIndex::build(vec![i, open_end], AllowList::new());
    let at = |ts: i64, h: &'static str| EventView { ts_micros: ts, host: Some(h), ..Default::default() };
    let mut stats = MatchStats::default();
    assert_eq!(hits_with(&idx, &at(999, "evil.com"), &[Host], &mut stats), []);
    assert_eq!(hits_with(&idx, &at(1_000, "evil.com"), &[Host], &mut stats), [h("evil.com", Exact, Host)]);
    assert_eq!(hits_with(&idx, &at(1_999, "a.evil.com"), &[Host], &mut stats), [h("evil.com", Subdomain, Host)]);
    assert_eq!(hits_with(&idx, &at(2_000, "evil.com"), &[Host], &mut stats), []);
    assert_eq!(hits_with(&idx, &at(i64::MAX, "late.com"), &[Host], &mut stats), [h("late.com", Exact, Host)]);
    assert_eq!((stats.events, stats.hits, stats.inactive, stats.suppressed), (5, 3, 2, 0));
    let r = idx.iter().find(|r| r.value == "evil.com").unwrap();
    assert_eq!((r.valid_from, r.valid_until), (Some(1_000), Some(2_000)));
    assert!(r.is_valid_at(1_000) && !r.is_valid_at(2_000));
}

#[test]
fn allow_listed_values_never_hit_and_are_counted() {
    let allow = AllowList::from_values([
        (T::Ipv4, "10.1.1.1"),
        (T::Cidr, "10.2.0.0/16"),
        (T::Domain, "good.evil.com"),
        (T::Domain, "github.io"), // a public suffix: allow-lists itself only
        (T::Url, "evil.com/ok"),  // any scheme
    ]);
    let inds = ["10.0.0.0/8", "evil.com", "github.io", "bad.github.io", "http://evil.com/ok", "http://evil.com/bad"];
    let inds = inds
        .iter()
        .map(|v| {
            let (k, v) = sweep_intel::normalize::classify(v).unwrap();
            ind(k, &v, "feed")
        })
        .collect();
    let idx = IntelIndex::build(inds, allow);
    assert_eq!(idx.allow_len(), 5);
    let mut st = MatchStats::default();
    let f = MatchField::ALL;
    assert_eq!(hits_with(&idx, &server("10.1.1.1"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &server("10.2.9.9"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &server("10.1.1.2"), &f, &mut st), [h("10.0.0.0/8", Cidr, ServerIp)]);
    assert_eq!(hits_with(&idx, &host("good.evil.com"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &host("x.good.evil.com"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &host("bad.evil.com"), &f, &mut st), [h("evil.com", Subdomain, Host)]);
    assert_eq!(hits_with(&idx, &host("github.io"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &host("x.bad.github.io"), &f, &mut st), [h("bad.github.io", Subdomain, Host)]);
    assert_eq!(hits_with(&idx, &url("HTTP://evil.com/ok"), &f, &mut st), []);
    assert_eq!(hits_with(&idx, &url("http://evil.com/bad"), &f, &mut st), [h("http://evil.com/bad", MatchKind::Url, Url)]);
    assert_eq!((st.suppressed, st.hits), (6, 4));
    // Suppressed in server_ip but matching an address that is not allow-listed in client_ip:
    // a hit on client_ip, and no suppression counted for the pair.
    let ev = EventView { server_ip: Some("10.1.1.1"), client_ip: Some("10.3.3.3"), ..Default::default() };
    let mut st = MatchStats::default();
    assert_eq!(hits_with(&idx, &ev, &f, &mut st), [h("10.0.0.0/8", Cidr, ClientIp)]);
    assert_eq!((st.suppressed, st.hits), (0, 1));
    // Suppressed in two fields: counted once.
    let ev = EventView { server_ip: Some("10.1.1.1"), host: Some("10.2.0.1"), ..Default::default() };
    let mut st = MatchStats::default();
    assert_eq!(hits_with(&idx, &ev, &f, &mut st), []);
    assert_eq!(st.suppressed, 1);
}

#[test]
fn the_same_value_from_two_feeds_gives_two_hits() {
    let idx = IntelIndex::build(
        vec![ind(T::Ipv4, "1.2.3.4", "abuse"), ind(T::Ipv4, "1.2.3.4", "ipsum"), ind(T::Ipv4, "1.2.3.4", "abuse")],
        AllowList::new(),
    );
    assert_eq!(idx.len(), 2);
    assert_eq!(idx.duplicates(), 1);
    let mut out = Vec::new();
    idx.match_event(&server("1.2.3.4"), &MatchField::DEFAULT, &mut out, &mut MatchStats::default());
    let mut feeds: Vec<String> = out.iter().map(|h| idx.indicator(h.indicator).feed.to_string()).collect();
    feeds.sort();
    assert_eq!(feeds, ["abuse", "ipsum"]);
}

#[test]
fn one_hit_per_indicator_on_the_first_configured_field() {
    let idx = index(&[(T::Ipv4, "1.2.3.4")]);
    let ev = EventView { server_ip: Some("1.2.3.4"), client_ip: Some("1.2.3.4"), host: Some("1.2.3.4"), ..Default::default() };
    let st = &mut MatchStats::default();
    assert_eq!(hits_with(&idx, &ev, &MatchField::DEFAULT, st), [h("1.2.3.4", Exact, ServerIp)]);
    assert_eq!(hits_with(&idx, &ev, &[ClientIp, ServerIp], st), [h("1.2.3.4", Exact, ClientIp)]);
    assert_eq!(hits_with(&idx, &ev, &[Host, ServerIp, Host], st), [h("1.2.3.4", Exact, Host)]);
    assert_eq!(hits_with(&idx, &ev, &[Url], st), []);
    // client_ip is not checked by default.
    let client_only = EventView { client_ip: Some("1.2.3.4"), ..Default::default() };
    assert_eq!(hits(&idx, &client_only), []);
}

#[test]
fn hashes_and_emails_are_indexed_but_never_match() {
    let idx = index(&[(T::Md5, "D41D8CD98F00B204E9800998ECF8427E"), (T::Email, "Bad@Evil.com"), (T::Domain, "evil.com")]);
    assert_eq!((idx.count(T::Md5), idx.count(T::Email), idx.len()), (1, 1, 3));
    let v: Vec<String> = idx.iter().map(|r| r.value.into_owned()).collect();
    assert_eq!(v, ["evil.com", "d41d8cd98f00b204e9800998ecf8427e", "bad@evil.com"]);
    assert_eq!(hits(&idx, &host("d41d8cd98f00b204e9800998ecf8427e")), []);
}

#[test]
fn hits_append_and_carry_full_provenance() {
    let mut i = ind(T::Domain, "evil.com", "stix-apt1");
    i.severity = Some("high".into());
    i.description = Some("APT1 C2".into());
    i.tags = vec!["apt1".into(), "c2".into()];
    let idx = IntelIndex::build(vec![i.clone()], AllowList::new());
    let mut out = vec![Hit { indicator: 99, match_kind: Exact, matched_field: Url }];
    idx.match_event(&host("evil.com"), &MatchField::DEFAULT, &mut out, &mut MatchStats::default());
    assert_eq!(out.len(), 2, "hits of earlier events are kept");
    assert_eq!(idx.indicator(out[1].indicator).to_indicator(), i);
    assert!(idx.get(7).is_none());
}

#[test]
fn version_is_a_stable_content_hash() {
    let a = index(&[(T::Domain, "evil.com"), (T::Ipv4, "1.2.3.4"), (T::Url, "http://evil.com/x")]);
    let b = index(&[(T::Url, "HTTP://EVIL.COM/x"), (T::Domain, "Evil.com."), (T::Ipv4, "1.2.3.4")]);
    assert_eq!(a.version(), b.version());
    assert_eq!(a.version().len(), 32);
    // Fixed: the same content must give the same version in every run, on every platform,
    // in every release that does not change the index format on purpose.
    assert_eq!(a.version(), "64fee4cf7e2444684a61b284da7094f3");
    let c = index(&[(T::Domain, "evil.com"), (T::Ipv4, "1.2.3.5"), (T::Url, "http://evil.com/x")]);
    assert_ne!(a.version(), c.version());
}

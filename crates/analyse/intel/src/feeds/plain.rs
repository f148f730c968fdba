//! Plain lists: one value a line.
//!
//! - Blank lines and lines starting with `#`, `;` or `!` (and an `[Adblock Plus …]` header) are
//!   comments: skipped and counted. A ` #` after a value starts a trailing comment.
//! - A single value is classified by [`normalize::classify`] (IPv4/IPv6, `ip:port`, CIDR,
//!   URL, scheme-less `host/path`, domain, hash, e-mail), or validated as the feed's
//!   `value_type` when one is configured.
//! - Hosts-file lines `0.0.0.0 evil.com [more names]` (any address first; the names are the
//!   indicators, the address is the sinkhole): each name is a domain; `localhost` and the other
//!   hosts-file boilerplate names are refused as `not_an_indicator`.
//! - `value<TAB>count` lines (IPsum: the number of blocklists listing the address): the count
//!   becomes the tag `count:N`; with `min_count`, lines below it are refused `below_min_count`.
//! - uBlock / Adblock network filters: `||host^` is a domain (or an address), `||host/path^` a
//!   scheme-less URL (`//host/path`), `|http://host/path|` a URL; options after `$` may only be
//!   `all`, `important`, `document`/`doc` (they do not narrow what a proxy sees). Exception rules
//!   (`@@`), cosmetic filters (`##`), regular-expression rules (`/…/`), wildcards (`*`) and
//!   narrowing options (`$third-party`, `$script`, `$domain=…`) are refused `unsupported_filter`.
//!   Note that uBlock matches `||host/path^` on any subdomain, as a prefix and case-insensitively;
//!   sweep matches the canonical URL exactly (see docs/intel-feeds.md).

use std::path::Path;

use super::{Collector, FeedError, lines_from, read_runs};
use crate::model::IndicatorType;
use crate::normalize::{self, Invalid};

/// One value found on a line, normalised or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub raw: &'a str,
    pub result: Result<(IndicatorType, String), (&'static str, String)>,
    pub count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineOutcome<'a> {
    /// A comment or a blank line.
    Skip,
    Items(Vec<Item<'a>>),
}

fn refused<'a>(raw: &'a str, reason: &'static str, detail: impl Into<String>) -> LineOutcome<'a> {
    LineOutcome::Items(vec![Item { raw, result: Err((reason, detail.into())), count: None }])
}

fn item(raw: &str, r: Result<(IndicatorType, String), Invalid>) -> Item<'_> {
    Item { raw, result: r.map_err(|e| (e.reason, e.detail)), count: None }
}

/// Names a hosts file maps to loopback as boilerplate; never indicators.
const HOSTS_BOILERPLATE: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// uBlock options that do not narrow a rule as a proxy sees it.
const HARMLESS_OPTIONS: &[&str] = &["all", "important", "document", "doc"];

fn value(raw: &str, value_type: Option<IndicatorType>) -> Result<(IndicatorType, String), Invalid> {
    match value_type {
        Some(k) => normalize::typed_as(k, raw),
        None => normalize::classify(raw),
    }
}

/// Parses one line of a plain list (or a plain allowlist).
pub(crate) fn parse_line(line: &str, value_type: Option<IndicatorType>) -> LineOutcome<'_> {
    let t = line.trim();
    if t.is_empty() || t.starts_with(['#', ';', '!']) || t.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("[adblock ")) {
        return LineOutcome::Skip;
    }
    // Most lines hold no `#`: one scan spares the searches for comments and cosmetic filters.
    let has_hash = memchr::memchr(b'#', t.as_bytes()).is_some();
    // A trailing comment after whitespace.
    let comment = if has_hash { t.find(" #").or_else(|| t.find("\t#")) } else { None };
    let t = match comment {
        Some(i) => t[..i].trim_end(),
        None => t,
    };
    if t.starts_with("@@") {
        return refused(t, "unsupported_filter", "an exception (allow) rule: put allow-listed values in an allowlist");
    }
    if has_hash && (t.contains("##") || t.contains("#@#") || t.contains("#?#") || t.contains("#$#")) {
        return refused(t, "unsupported_filter", "a cosmetic (element hiding) filter, not a network indicator");
    }
    if t.starts_with('|') || (t.contains('$') && !t.contains("://")) || t.ends_with('^') {
        return LineOutcome::Items(vec![ublock(t)]);
    }
    if t.len() > 2 && t.starts_with('/') && t.ends_with('/') {
        return refused(t, "unsupported_filter", "a regular-expression rule");
    }
    let mut tokens = t.split_whitespace();
    let first = tokens.next().unwrap_or("");
    let second = tokens.next();
    let Some(second) = second else {
        return LineOutcome::Items(vec![item(first, value(first, value_type))]);
    };
    // value<TAB>count (IPsum).
    if tokens.clone().next().is_none() && second.bytes().all(|b| b.is_ascii_digit()) {
        let count = second.parse::<u64>().ok();
        let mut it = item(first, value(first, value_type));
        it.count = count;
        return LineOutcome::Items(vec![it]);
    }
    // Hosts-file line: an address, then one or more names.
    if normalize::ip(first).is_ok() {
        let mut items = Vec::new();
        for name in std::iter::once(second).chain(tokens) {
            if HOSTS_BOILERPLATE.iter().any(|b| b.eq_ignore_ascii_case(name)) {
                items.push(Item { raw: name, result: Err(("not_an_indicator", "hosts-file boilerplate name".into())), count: None });
            } else {
                let r = normalize::domain(name).map(|d| (IndicatorType::Domain, d));
                items.push(item(name, r));
            }
        }
        return LineOutcome::Items(items);
    }
    refused(t, "malformed_line", "expected one value, `value<TAB>count` or a hosts-file line `address name…`")
}

/// A uBlock / Adblock network filter.
fn ublock(rule: &str) -> Item<'_> {
    let bad = |d: String| Item { raw: rule, result: Err(("unsupported_filter", d)), count: None };
    // Options follow the last `$` when they look like options.
    let (pattern, options) = match rule.rfind('$') {
        Some(i)
            if rule[i + 1..].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b',' | b'=' | b'~' | b'-' | b'_' | b'|' | b'.')) =>
        {
            (&rule[..i], Some(&rule[i + 1..]))
        }
        _ => (rule, None),
    };
    if let Some(opts) = options {
        for o in opts.split(',') {
            if !HARMLESS_OPTIONS.contains(&o) {
                return bad(format!("option ${o} narrows the rule (sweep matches every request)"));
            }
        }
    }
    let (anchor, body) = if let Some(b) = pattern.strip_prefix("||") {
        ("host", b)
    } else if let Some(b) = pattern.strip_prefix('|') {
        ("start", b)
    } else {
        ("none", pattern)
    };
    let body = body.strip_suffix('|').unwrap_or(body);
    let body = body.strip_suffix('^').unwrap_or(body);
    if body.is_empty() {
        return bad("an empty rule".into());
    }
    if body.contains('*') {
        return bad("a wildcard rule".into());
    }
    if body.contains(['^', '|']) {
        return bad("a separator or anchor inside the rule".into());
    }
    match anchor {
        "host" => {
            let host_end = body.find(['/', '?']).unwrap_or(body.len());
            let host = &body[..host_end];
            if host_end == body.len() {
                if let Ok(a) = normalize::ip(host) {
                    let k = if a.is_ipv4() { IndicatorType::Ipv4 } else { IndicatorType::Ipv6 };
                    return item(rule, Ok((k, a.to_string())));
                }
                if host.contains(':') {
                    return bad("a port-specific host rule".into());
                }
                return item(rule, normalize::domain(host).map(|d| (IndicatorType::Domain, d)));
            }
            item(rule, normalize::url(body).map(|u| (IndicatorType::Url, u)))
        }
        "start" => {
            if !body.contains("://") {
                return bad("a start-anchored rule without a scheme".into());
            }
            item(rule, normalize::url(body).map(|u| (IndicatorType::Url, u)))
        }
        _ => item(rule, normalize::classify(body)),
    }
}

pub(crate) fn read(path: &Path, bytes: &[u8], c: &mut Collector) -> Result<(), FeedError> {
    if memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some() {
        return Err(FeedError::format(path, None, "a binary file (NUL bytes), not a text list", "remove it from the feed folder"));
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // Large lists are read in runs of lines on several threads.
    read_runs(text, c, read_lines);
    Ok(())
}

/// Reads the lines of `text` (a run of whole lines, `before` lines into the file).
pub(crate) fn read_lines(text: &[u8], before: u64, c: &mut Collector) {
    let value_type = c.defaults.value_type;
    let min_count = c.defaults.min_count;
    for (n, line) in lines_from(text, before) {
        c.units += 1;
        let line = match line {
            Ok(l) => l,
            Err(b) => {
                c.refuse(format!("line {n}"), &String::from_utf8_lossy(b), "not_utf8", "the line is not valid UTF-8");
                continue;
            }
        };
        match parse_line(line, value_type) {
            LineOutcome::Skip => c.skipped += 1,
            LineOutcome::Items(items) => {
                for it in items {
                    match it.result {
                        Err((reason, detail)) => c.refuse(format!("line {n}"), it.raw, reason, detail),
                        Ok((kind, v)) => {
                            if let (Some(min), Some(cnt)) = (min_count, it.count)
                                && cnt < min
                            {
                                c.refuse(format!("line {n}"), it.raw, "below_min_count", format!("count {cnt} < min_count {min}"));
                                continue;
                            }
                            let mut ind = c.indicator(kind, v);
                            if let Some(cnt) = it.count {
                                ind.tags.push(format!("count:{cnt}"));
                            }
                            c.push(ind);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::{Defaults, FeedKind};
    use IndicatorType as T;

    fn one(line: &str) -> Result<(IndicatorType, String), (&'static str, String)> {
        match parse_line(line, None) {
            LineOutcome::Items(v) if v.len() == 1 => v[0].result.clone(),
            other => panic!("{line:?}: {other:?}"),
        }
    }
    fn reason(line: &str) -> &'static str {
        one(line).expect_err(line).0
    }

    #[test]
    fn comments_and_blanks() {
        for l in ["", "   ", "# c", "; c", "! Title: x", "[Adblock Plus 2.0]", "\t# indented"] {
            assert_eq!(parse_line(l, None), LineOutcome::Skip, "{l:?}");
        }
    }

    #[test]
    fn single_values() {
        assert_eq!(one("1.2.3.4"), Ok((T::Ipv4, "1.2.3.4".into())));
        assert_eq!(one("  Evil.COM.  "), Ok((T::Domain, "evil.com".into())));
        assert_eq!(one("evil.com # trailing comment"), Ok((T::Domain, "evil.com".into())));
        assert_eq!(one("1.2.3.4:8080"), Ok((T::Ipv4, "1.2.3.4".into())));
        assert_eq!(one("10.0.0.0/8"), Ok((T::Cidr, "10.0.0.0/8".into())));
        assert_eq!(one("evil.com/x.exe"), Ok((T::Url, "//evil.com/x.exe".into())));
        assert_eq!(one("https://evil.com:443/x#f"), Ok((T::Url, "https://evil.com/x".into())));
        assert_eq!(one("http://evil.com/a$b"), Ok((T::Url, "http://evil.com/a$b".into())), "a $ inside a URL is not an option");
        assert_eq!(reason("localhost"), "invalid_value");
        assert_eq!(reason("what is this"), "malformed_line");
    }

    #[test]
    fn typed_values() {
        match parse_line("1.2.3.4", Some(T::Domain)) {
            LineOutcome::Items(v) => assert_eq!(v[0].result.as_ref().unwrap_err().0, "invalid_value"),
            o => panic!("{o:?}"),
        }
        match parse_line("1.2.3.0/24", Some(T::Ipv4)) {
            LineOutcome::Items(v) => assert_eq!(v[0].result, Ok((T::Cidr, "1.2.3.0/24".into()))),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn hosts_file() {
        let LineOutcome::Items(v) = parse_line("0.0.0.0 Evil.com www.evil.com # x", None) else { panic!() };
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].result, Ok((T::Domain, "evil.com".into())));
        assert_eq!(v[1].result, Ok((T::Domain, "www.evil.com".into())));
        let LineOutcome::Items(v) = parse_line("127.0.0.1\tlocalhost", None) else { panic!() };
        assert_eq!(v[0].result.as_ref().unwrap_err().0, "not_an_indicator");
        let LineOutcome::Items(v) = parse_line("::1 ip6-localhost ip6-loopback", None) else { panic!() };
        assert!(v.iter().all(|i| i.result.as_ref().unwrap_err().0 == "not_an_indicator"));
        let LineOutcome::Items(v) = parse_line("0.0.0.0 bad_label!.com", None) else { panic!() };
        assert_eq!(v[0].result.as_ref().unwrap_err().0, "invalid_value");
    }

    #[test]
    fn ip_and_count() {
        let LineOutcome::Items(v) = parse_line("77.90.185.20\t10", None) else { panic!() };
        assert_eq!(v[0].result, Ok((T::Ipv4, "77.90.185.20".into())));
        assert_eq!(v[0].count, Some(10));
    }

    #[test]
    fn ublock_rules() {
        assert_eq!(one("||Evil.com^"), Ok((T::Domain, "evil.com".into())));
        assert_eq!(one("||evil.com^$all"), Ok((T::Domain, "evil.com".into())));
        assert_eq!(one("||evil.com^$important,all"), Ok((T::Domain, "evil.com".into())));
        assert_eq!(one("||1.2.3.4^"), Ok((T::Ipv4, "1.2.3.4".into())));
        assert_eq!(one("||evil.com/a/b.exe^$all"), Ok((T::Url, "//evil.com/a/b.exe".into())));
        assert_eq!(one("||evil.com/a?x=%3d^$all"), Ok((T::Url, "//evil.com/a?x=%3D".into())));
        assert_eq!(one("||evil.com/x"), Ok((T::Url, "//evil.com/x".into())));
        assert_eq!(one("|http://evil.com/x|"), Ok((T::Url, "http://evil.com/x".into())));
        assert_eq!(one("evil.com^"), Ok((T::Domain, "evil.com".into())));
        assert_eq!(
            one("||web.archive.org/web/2022/https://u.example.com/f.pdf^$all"),
            Ok((T::Url, "//web.archive.org/web/2022/https://u.example.com/f.pdf".into()))
        );
        assert_eq!(reason("@@||good.com^"), "unsupported_filter");
        assert_eq!(reason("evil.com##.ad"), "unsupported_filter");
        assert_eq!(reason("||evil.com^$third-party"), "unsupported_filter");
        assert_eq!(reason("||evil.com^$script,domain=a.com"), "unsupported_filter");
        assert_eq!(reason("||ev*il.com^"), "unsupported_filter");
        assert_eq!(reason("||evil.com^x^"), "unsupported_filter");
        assert_eq!(reason("/ba[dr]\\.com/"), "unsupported_filter");
        assert_eq!(reason("||evil.com:8080^"), "unsupported_filter");
        assert_eq!(reason("|evil.com/x|"), "unsupported_filter");
        assert_eq!(reason("||^"), "unsupported_filter");
        assert_eq!(reason("||local^"), "invalid_value");
    }

    #[test]
    fn reader_counts_everything() {
        let text = b"# comment\n\n1.2.3.4\t3\n5.6.7.8\t1\nevil.com\nevil.com\nnot valid\n\xff\xfe\n0.0.0.0 a.com b.com\n";
        let mut c = Collector::new("t".into(), Defaults { min_count: Some(2), ..Defaults::default() });
        read(Path::new("t"), text, &mut c).unwrap();
        let load = c.finish(Path::new("t"), FeedKind::Plain);
        assert_eq!(load.lines_or_objects, 9);
        assert_eq!(load.skipped, 2);
        assert_eq!(load.duplicates, 1);
        let vals: Vec<_> = load.indicators.iter().map(|i| (i.value.as_str(), i.tags.clone())).collect();
        assert_eq!(vals, vec![("1.2.3.4", vec!["count:3".to_string()]), ("evil.com", vec![]), ("a.com", vec![]), ("b.com", vec![])]);
        let reasons: Vec<_> = load.refused.iter().map(|r| (r.location.as_str(), r.reason.as_str())).collect();
        assert_eq!(reasons, vec![("line 4", "below_min_count"), ("line 7", "malformed_line"), ("line 8", "not_utf8")]);
        assert!(matches!(
            read(Path::new("b"), b"\x00\x01", &mut Collector::new("b".into(), Defaults::default())),
            Err(FeedError::Format { .. })
        ));
    }
}

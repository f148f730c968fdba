//! The Public Suffix List (<https://publicsuffix.org>), embedded in the binary.
//!
//! The list is parsed once, on first use, into a hash map from rule text to rule kinds:
//! normal rules (`co.uk`), wildcard rules (`*.ck`, stored under `ck`) and exception rules
//! (`!www.ck`, stored under `www.ck`). The algorithm is the one publicsuffix.org describes:
//! - a rule matches a domain when its labels equal the domain's rightmost labels, `*`
//!   matching any one label;
//! - an exception rule, where one matches, wins, and the public suffix is the exception rule
//!   without its leftmost label (`www.ck` -> `ck`);
//! - otherwise the matching rule with the most labels wins;
//! - when no rule matches, the rule is `*`: the rightmost label is the public suffix.
//!
//! **Both sections of the list count.** The ICANN section (`com`, `co.uk`) and the PRIVATE
//! section (`github.io`, `blogspot.com`) both define public suffixes here: a threat indicator
//! `github.io` names a hosting platform, not one site, exactly like `co.uk` names a registry.
//!
//! **Internationalised names.** Rules written in Unicode (`公司.cn`) are also stored in their
//! Punycode (`xn--55qx5d.cn`) form, so both spellings of a domain give the same answer.
//!
//! **Input.** Functions take a domain name as sweep normalises it (lower-case, no trailing
//! dot). ASCII upper case is folded anyway and one trailing dot is ignored; other case
//! mappings of Unicode names are not applied. An empty name, or one with an empty label
//! (`.com`, `a..b`), is not a domain: it is no public suffix and has no registrable domain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The list as shipped in `data/` (see `data/README.md` for its version and licence).
pub const LIST: &str = include_str!("../data/public_suffix_list.dat");

const NORMAL: u8 = 1;
const WILDCARD: u8 = 2;
const EXCEPTION: u8 = 4;

/// The parsed rules: rule text (without `*.` / `!`) -> bit set of rule kinds.
struct Rules {
    map: HashMap<Cow<'static, str>, u8>,
    /// How many rules the list holds per section, for tests and diagnostics.
    icann: usize,
    private: usize,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| parse(LIST));

fn parse(text: &'static str) -> Rules {
    let mut map: HashMap<Cow<'static, str>, u8> = HashMap::with_capacity(16_384);
    let (mut icann, mut private, mut in_private) = (0usize, 0usize, false);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("// ===BEGIN PRIVATE DOMAINS===") {
            in_private = true;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        // "Each line is only read up to the first whitespace."
        let rule = line.split_whitespace().next().unwrap_or(line);
        let (text, kind) = if let Some(rest) = rule.strip_prefix('!') {
            (rest, EXCEPTION)
        } else if let Some(rest) = rule.strip_prefix("*.") {
            (rest, WILDCARD)
        } else {
            (rule, NORMAL)
        };
        if text.is_empty() {
            continue;
        }
        if in_private {
            private += 1;
        } else {
            icann += 1;
        }
        if text.is_ascii() {
            *map.entry(Cow::Borrowed(text)).or_default() |= kind;
        } else {
            let lower = text.to_lowercase();
            if let Some(puny) = to_ascii(&lower) {
                *map.entry(Cow::Owned(puny)).or_default() |= kind;
            }
            *map.entry(Cow::Owned(lower)).or_default() |= kind;
        }
    }
    Rules { map, icann, private }
}

/// Number of rules in the ICANN and PRIVATE sections of the embedded list.
pub fn rule_counts() -> (usize, usize) {
    (RULES.icann, RULES.private)
}

/// The byte offset in `domain` where its public suffix starts, or `None` when `domain`
/// is not a usable domain name. `domain` must already be ASCII-lower-case and have no
/// trailing dot.
fn suffix_start(domain: &str) -> Option<usize> {
    if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    let rules = &RULES.map;
    // Label starts, right to left: the suffix domain[start..] for each.
    let bytes = domain.as_bytes();
    let mut best: Option<usize> = None; // longest normal/wildcard match
    let mut prev_start: Option<usize> = None; // start of the suffix one label shorter
    let mut i = bytes.len();
    loop {
        // Find the start of the next label to the left.
        let start = match memchr::memrchr(b'.', &bytes[..i]) {
            Some(dot) => dot + 1,
            None => 0,
        };
        let kind = rules.get(&domain[start..]).copied().unwrap_or(0);
        if kind & EXCEPTION != 0 {
            // The exception rule minus its leftmost label is the public suffix.
            return prev_start;
        }
        if kind & NORMAL != 0 {
            best = Some(start);
        }
        // A wildcard rule `*.X` matches when X is this suffix and there is a label to its left.
        if kind & WILDCARD != 0 && start > 0 {
            let wstart = match memchr::memrchr(b'.', &bytes[..start - 1]) {
                Some(dot) => dot + 1,
                None => 0,
            };
            // An exception under the wildcard wins; the walk returns when it reaches it.
            if !exception_at(domain, wstart) {
                best = Some(wstart);
            }
        }
        if start == 0 {
            break;
        }
        prev_start = Some(start);
        i = start - 1;
    }
    // No rule: the default rule `*`, the rightmost label.
    Some(best.unwrap_or_else(|| memchr::memrchr(b'.', bytes).map_or(0, |d| d + 1)))
}

fn exception_at(domain: &str, start: usize) -> bool {
    RULES.map.get(&domain[start..]).is_some_and(|k| k & EXCEPTION != 0)
}

/// Apply `f` to `domain` with ASCII lower-cased and one trailing dot removed, using a stack
/// buffer only when needed.
fn with_normalised<R>(domain: &str, f: impl FnOnce(&str) -> R) -> R {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if !d.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(d);
    }
    let mut buf = [0u8; 256];
    if d.len() <= buf.len() {
        for (o, b) in buf.iter_mut().zip(d.bytes()) {
            *o = b.to_ascii_lowercase();
        }
        // Lower-casing ASCII bytes keeps the text valid UTF-8.
        match std::str::from_utf8(&buf[..d.len()]) {
            Ok(s) => f(s),
            Err(_) => f(d),
        }
    } else {
        f(&d.to_ascii_lowercase())
    }
}

/// The public suffix of `domain` (`a.b.co.uk` -> `co.uk`; an unlisted TLD is its own suffix),
/// as a slice of the input, or `None` when the input is not a domain name.
pub fn public_suffix(domain: &str) -> Option<&str> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    let start = with_normalised(domain, suffix_start)?;
    Some(&d[start..])
}

/// Whether `domain` is itself a public suffix (`com`, `co.uk`, `github.io`, `foo.ck`, any
/// single label). Such a threat indicator names a whole registry or platform, so the index
/// matches it exactly only, never its subdomains.
pub fn is_public_suffix(domain: &str) -> bool {
    with_normalised(domain, |d| suffix_start(d) == Some(0))
}

/// The registrable domain (eTLD+1): the public suffix plus one label
/// (`a.b.example.co.uk` -> `example.co.uk`). `None` when `domain` is itself a public suffix
/// or not a domain name. The result is a slice of the input (case kept; a trailing dot cut).
pub fn registrable_domain(domain: &str) -> Option<&str> {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    let start = with_normalised(domain, suffix_start)?;
    if start == 0 {
        return None;
    }
    let label = memchr::memrchr(b'.', &d.as_bytes()[..start - 1]).map_or(0, |p| p + 1);
    Some(&d[label..])
}

/// The ASCII (`xn--`) form of a lower-case Unicode domain name, label by label.
pub fn to_ascii(domain: &str) -> Option<String> {
    let mut out = String::with_capacity(domain.len() + 8);
    for (i, label) in domain.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if label.is_ascii() {
            out.push_str(label);
        } else {
            out.push_str("xn--");
            out.push_str(&crate::punycode::encode(label)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `checkPublicSuffix` from publicsuffix.org's test_psl.txt: the registrable domain.
    fn check(domain: &str, expected: Option<&str>) {
        let got = registrable_domain(domain).map(str::to_ascii_lowercase);
        assert_eq!(got.as_deref(), expected, "registrable_domain({domain:?})");
    }

    #[test]
    fn list_is_parsed_with_both_sections() {
        let (icann, private) = rule_counts();
        // Counted with grep on the rule lines between the section markers.
        assert_eq!((icann, private), (6_949, 3_448));
    }

    #[test]
    fn official_cases_mixed_case_and_leading_dot() {
        check("COM", None);
        check("example.COM", Some("example.com"));
        check("WwW.example.COM", Some("example.com"));
        check(".com", None);
        check(".example", None);
        check(".example.com", None);
        check(".example.example", None);
        check("", None);
        check("a..b.com", None);
    }

    #[test]
    fn official_cases_unlisted_and_simple_tlds() {
        check("example", None);
        check("example.example", Some("example.example"));
        check("b.example.example", Some("example.example"));
        check("a.b.example.example", Some("example.example"));
        check("biz", None);
        check("domain.biz", Some("domain.biz"));
        check("b.domain.biz", Some("domain.biz"));
        check("a.b.domain.biz", Some("domain.biz"));
        check("com", None);
        check("example.com", Some("example.com"));
        check("b.example.com", Some("example.com"));
        check("a.b.example.com", Some("example.com"));
        check("uk.com", None);
        check("example.uk.com", Some("example.uk.com"));
        check("b.example.uk.com", Some("example.uk.com"));
        check("a.b.example.uk.com", Some("example.uk.com"));
        check("test.ac", Some("test.ac"));
    }

    #[test]
    fn official_cases_wildcards_and_exceptions() {
        check("mm", None);
        check("c.mm", None);
        check("b.c.mm", Some("b.c.mm"));
        check("a.b.c.mm", Some("b.c.mm"));
        check("jp", None);
        check("test.jp", Some("test.jp"));
        check("www.test.jp", Some("test.jp"));
        check("ac.jp", None);
        check("test.ac.jp", Some("test.ac.jp"));
        check("www.test.ac.jp", Some("test.ac.jp"));
        check("kyoto.jp", None);
        check("test.kyoto.jp", Some("test.kyoto.jp"));
        check("ide.kyoto.jp", None);
        check("b.ide.kyoto.jp", Some("b.ide.kyoto.jp"));
        check("a.b.ide.kyoto.jp", Some("b.ide.kyoto.jp"));
        check("c.kobe.jp", None);
        check("b.c.kobe.jp", Some("b.c.kobe.jp"));
        check("a.b.c.kobe.jp", Some("b.c.kobe.jp"));
        check("city.kobe.jp", Some("city.kobe.jp"));
        check("www.city.kobe.jp", Some("city.kobe.jp"));
        check("ck", None);
        check("test.ck", None);
        check("b.test.ck", Some("b.test.ck"));
        check("a.b.test.ck", Some("b.test.ck"));
        check("www.ck", Some("www.ck"));
        check("www.www.ck", Some("www.ck"));
        check("us", None);
        check("test.us", Some("test.us"));
        check("www.test.us", Some("test.us"));
        check("ak.us", None);
        check("test.ak.us", Some("test.ak.us"));
        check("www.test.ak.us", Some("test.ak.us"));
        check("k12.ak.us", None);
        check("test.k12.ak.us", Some("test.k12.ak.us"));
        check("www.test.k12.ak.us", Some("test.k12.ak.us"));
    }

    #[test]
    fn official_cases_idn_unicode_and_punycode() {
        check("食狮.com.cn", Some("食狮.com.cn"));
        check("食狮.公司.cn", Some("食狮.公司.cn"));
        check("www.食狮.公司.cn", Some("食狮.公司.cn"));
        check("shishi.公司.cn", Some("shishi.公司.cn"));
        check("公司.cn", None);
        check("食狮.中国", Some("食狮.中国"));
        check("www.食狮.中国", Some("食狮.中国"));
        check("shishi.中国", Some("shishi.中国"));
        check("中国", None);
        check("xn--85x722f.com.cn", Some("xn--85x722f.com.cn"));
        check("xn--85x722f.xn--55qx5d.cn", Some("xn--85x722f.xn--55qx5d.cn"));
        check("www.xn--85x722f.xn--55qx5d.cn", Some("xn--85x722f.xn--55qx5d.cn"));
        check("shishi.xn--55qx5d.cn", Some("shishi.xn--55qx5d.cn"));
        check("xn--55qx5d.cn", None);
        check("xn--85x722f.xn--fiqs8s", Some("xn--85x722f.xn--fiqs8s"));
        check("www.xn--85x722f.xn--fiqs8s", Some("xn--85x722f.xn--fiqs8s"));
        check("shishi.xn--fiqs8s", Some("shishi.xn--fiqs8s"));
        check("xn--fiqs8s", None);
    }

    #[test]
    fn is_public_suffix_covers_icann_private_wildcard_exception() {
        for ps in ["com", "co.uk", "github.io", "blogspot.com", "ck", "anything.ck", "c.mm", "unlistedtld", "CO.UK", "co.uk."] {
            assert!(is_public_suffix(ps), "{ps} should be a public suffix");
        }
        for not in ["example.com", "evil.co.uk", "user.github.io", "www.ck", "b.c.mm", "a.www.ck", "", ".com", "a..uk"] {
            assert!(!is_public_suffix(not), "{not} should not be a public suffix");
        }
    }

    #[test]
    fn public_suffix_and_registrable_slices() {
        assert_eq!(public_suffix("a.b.example.co.uk"), Some("co.uk"));
        assert_eq!(public_suffix("www.ck"), Some("ck"));
        assert_eq!(public_suffix("evil.github.io"), Some("github.io"));
        assert_eq!(registrable_domain("deep.evil.github.io"), Some("evil.github.io"));
        assert_eq!(registrable_domain("Evil.Example.COM."), Some("Example.COM"));
        assert_eq!(registrable_domain("github.io"), None);
    }

    #[test]
    fn punycode_matches_rfc_3492_examples() {
        assert_eq!(to_ascii("aéroport.ci").as_deref(), Some("xn--aroport-bya.ci"));
        assert_eq!(to_ascii("公司.cn").as_deref(), Some("xn--55qx5d.cn"));
        assert_eq!(to_ascii("中国").as_deref(), Some("xn--fiqs8s"));
        assert_eq!(to_ascii("食狮").as_deref(), Some("xn--85x722f"));
        assert_eq!(to_ascii("bücher.de").as_deref(), Some("xn--bcher-kva.de"));
        // RFC 3492 section 7.1 (A) Arabic (Egyptian), lower-cased expectation.
        let arabic = concat!(
            "\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}",
            "\u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}"
        );
        assert_eq!(crate::punycode::encode(arabic).as_deref(), Some("egbpdaj6bu4bxfgehfvwxn"));
    }
}

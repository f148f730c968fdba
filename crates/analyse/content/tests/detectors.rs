//! Each detector on hosts whose verdict is known: what must be flagged, what must not, and
//! what the analyst reads.

mod common;

use common::*;
use sweep_content::FindingKind::{Dga, Masquerade, MissingFqdn, Typosquat};
use sweep_content::{ContentAnalyser, ContentSpec};

fn with(f: impl FnOnce(&mut ContentSpec)) -> ContentAnalyser {
    let mut s = ContentSpec::default();
    f(&mut s);
    ContentAnalyser::new(s).unwrap()
}

// ---- missing_fqdn ----------------------------------------------------------------------

#[test]
fn public_ip_literals_are_missing_fqdn() {
    let a = default_analyser();
    for h in
        ["45.9.148.12", "8.8.8.8", "2001:4860:4860::8888", "[2001:4860:4860::8888]", "[2a00:1450:4001:82a::200e]", "::ffff:45.9.148.12"]
    {
        assert_eq!(kinds(&a, h), vec![MissingFqdn], "{h}");
    }
    let f = finding(&a, "45.9.148.12", MissingFqdn).unwrap();
    assert_eq!(f.score, 0.5);
    assert!(f.reason.starts_with("host 45.9.148.12 is a public IPv4 address, not a domain name"), "{}", f.reason);
    assert!(finding(&a, "[2001:4860:4860::8888]", MissingFqdn).unwrap().reason.contains("public IPv6 address"));
}

#[test]
fn local_addresses_are_never_missing_fqdn() {
    let a = default_analyser();
    for h in [
        "10.1.2.3",
        "172.16.0.10",
        "172.31.255.254",
        "192.168.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.1.1",
        "0.0.0.0",
        "::1",
        "[::1]",
        "fe80::1",
        "[fd12:3456::1]",
        "fc00::5",
        "::ffff:10.0.0.1",
    ] {
        assert_eq!(kinds(&a, h), vec![], "{h}");
    }
    // Just outside the ranges.
    for h in ["172.32.0.1", "100.128.0.1", "11.0.0.1", "192.169.0.1"] {
        assert_eq!(kinds(&a, h), vec![MissingFqdn], "{h}");
    }
}

#[test]
fn ip_allowlist_and_switch() {
    let a = with(|s| s.missing_fqdn.allow = vec!["203.0.113.0/24".into(), "2001:db8::7".into()]);
    assert_eq!(kinds(&a, "203.0.113.9"), vec![]);
    assert_eq!(kinds(&a, "[2001:db8::7]"), vec![]);
    assert_eq!(kinds(&a, "203.0.114.9"), vec![MissingFqdn]);
    assert_eq!(kinds(&a, "2001:db8::8"), vec![MissingFqdn]);
    let off = with(|s| s.missing_fqdn.enabled = false);
    assert_eq!(kinds(&off, "45.9.148.12"), vec![]);
    // Names that start with digits are names.
    assert_eq!(kinds(&default_analyser(), "1password.com"), vec![]);
    assert_eq!(kinds(&default_analyser(), "360.cn"), vec![]);
}

// ---- typosquat -------------------------------------------------------------------------

#[test]
fn typosquat_reasons_name_the_trick() {
    let a = default_analyser();
    let cases = [
        ("paypa1.com", "host paypa1.com looks like paypal.com: digit 1 in place of letter l"),
        ("rnicrosoft.com", "host rnicrosoft.com looks like microsoft.com: 'rn' in place of 'm'"),
        ("vvellsfargo.com", "host vvellsfargo.com looks like wellsfargo.com: 'vv' in place of 'w'"),
        ("g00gle.com", "host g00gle.com looks like google.com: digit 0 in place of letter o"),
        ("faceb00k.com", "host faceb00k.com looks like facebook.com: digit 0 in place of letter o"),
        ("netfl1x.com", "host netfl1x.com looks like netflix.com: digit 1 in place of letter i"),
        ("c0inba5e.com", "host c0inba5e.com looks like coinbase.com: digit 0 in place of letter o, digit 5 in place of letter s"),
        ("paypall.com", "host paypall.com looks like paypal.com: doubled letter l"),
        ("papyal.com", "host papyal.com looks like paypal.com: neighbours y and p swapped"),
        ("pypal.com", "host pypal.com looks like paypal.com: letter a dropped"),
        ("facebok.com", "host facebok.com looks like facebook.com: double letter o written once"),
        ("linkedln.com", "host linkedln.com looks like linkedin.com: letter l in place of letter i"),
        ("login.paypa1.com", "host login.paypa1.com looks like paypal.com: digit 1 in place of letter l"),
        ("paypal.co", "host paypal.co looks like paypal.com: .co in place of .com"),
        ("paypal.cm", "host paypal.cm looks like paypal.com: .cm in place of .com"),
        ("paypal.xyz", "host paypal.xyz has the name of paypal.com under another top-level domain: .xyz in place of .com"),
        ("paypal.github.io", "host paypal.github.io has the name of paypal.com as a site on the hosting platform github.io"),
        ("paypa1.xyz", "host paypa1.xyz looks like paypal.com: digit 1 in place of letter l"),
    ];
    for (host, reason) in cases {
        let f = finding(&a, host, Typosquat).unwrap_or_else(|| panic!("{host} not flagged: {:?}", a.judge(host)));
        assert_eq!(f.reason, reason);
        assert!((0.0..=1.0).contains(&f.score));
    }
    // Look-alike tricks score higher than plain edits, which score higher than another TLD.
    let s = |h: &str| finding(&a, h, Typosquat).unwrap().score;
    assert!(s("paypa1.com") > s("paypall.com") && s("paypall.com") > s("paypal.xyz"));
}

#[test]
fn long_names_allow_two_edits_short_ones_one() {
    let a = default_analyser();
    // bankofamerica (13 characters): two edits.
    let f = finding(&a, "banckofamerika.com", Typosquat).unwrap();
    assert_eq!(f.reason, "host banckofamerika.com looks like bankofamerica.com: extra letter c, letter k in place of letter c");
    // paypal (6): two edits are too many.
    assert_eq!(kinds(&a, "pyapl.com"), vec![]);
    assert_eq!(kinds(&a, "paxpbl.com"), vec![]);
    // Configurable: one edit everywhere.
    let strict = with(|s| s.typosquat.long_max_distance = 1);
    assert!(finding(&strict, "banckofamerika.com", Typosquat).is_none());
    assert!(finding(&strict, "bankofamerika.com", Typosquat).is_some());
}

#[test]
fn protected_domains_and_subdomains_are_never_flagged() {
    let a = default_analyser();
    let protected = list(sweep_content::BUNDLED_PROTECTED);
    assert!(protected.len() > 300);
    for d in &protected {
        assert_eq!(a.judge(d), vec![], "{d}");
        for sub in [format!("www.{d}"), format!("login.secure.{d}"), format!("a.b.c.d.e.f.g.h.{d}"), format!("{}.{d}", "x".repeat(90))] {
            assert_eq!(a.judge(&sub), vec![], "{sub}");
        }
    }
    // Case and a trailing dot do not matter.
    assert_eq!(a.judge("WWW.PayPal.COM."), vec![]);
    assert_eq!(kinds(&a, "WWW.PAYPA1.COM"), vec![Typosquat]);
}

#[test]
fn near_names_that_are_not_typosquats() {
    let a = default_analyser();
    for h in [
        "offices.com",    // "office" is a generic label: edit distance is not used for it
        "live-music.com", // nor as a brand token
        "ebey.com",       // ebay is shorter than typosquat.min_length
        "paypal.de",      // a brand under a country's own TLD: off by default
        "paypal.com.au",  // idem (com.au)
        "google.co.nz",   // idem
        "bing.net",       // .com/.net/.org: registered defensively by brands
        "wordpress.org",
        "entel.cl", // near intel.com, but under another, country, suffix
        "example.com",
        "mail.ru",
        "mall.cz",
        "stackoverflow.com",
    ] {
        assert!(finding(&a, h, Typosquat).is_none(), "{h}: {:?}", a.judge(h));
    }
    let cc = with(|s| s.typosquat.country_tlds = true);
    assert_eq!(kinds(&cc, "coinbase.de"), vec![Typosquat]);
    assert_eq!(kinds(&cc, "paypal.de"), vec![], "PayPal's own country site (brand_owners.txt)");
    let no_tld = with(|s| s.typosquat.other_tld = false);
    assert!(finding(&no_tld, "paypal.xyz", Typosquat).is_none());
    // A look-alike of a generic protected label is still a look-alike.
    assert_eq!(finding(&a, "0ffice.com", Typosquat).unwrap().reason, "host 0ffice.com looks like office.com: digit 0 in place of letter o");
}

#[test]
fn user_protected_domains_and_allowlist() {
    let a = with(|s| {
        s.protected = vec!["examplecorp.com".into(), "WWW.Intranet-Portal.co.uk.".into()];
        s.allow_domains = vec!["paypa1.com".into()];
    });
    assert_eq!(
        finding(&a, "examp1ecorp.com", Typosquat).unwrap().reason,
        "host examp1ecorp.com looks like examplecorp.com: digit 1 in place of letter l"
    );
    assert_eq!(a.judge("www.intranet-portal.co.uk"), vec![], "normalised to its registrable domain");
    assert!(finding(&a, "intranet-portel.co.uk", Typosquat).is_some());
    assert_eq!(a.judge("paypa1.com"), vec![], "allow-listed");
    assert_eq!(a.judge("login.paypa1.com"), vec![], "allow-listed with its subdomains");
}

// ---- masquerade ------------------------------------------------------------------------

#[test]
fn brand_names_in_unrelated_domains() {
    let a = default_analyser();
    let f = finding(&a, "paypal.com.account-verify.xyz", Masquerade).unwrap();
    assert_eq!(f.reason, "host paypal.com.account-verify.xyz puts the name paypal.com in front of the unrelated domain account-verify.xyz");
    assert_eq!(f.score, 0.95);
    // A brand alone counts only beside a combination word; a product's name alone is its users'.
    for h in ["gitlab.example.de", "samsung.club.example.ru", "google.777spin.example"] {
        assert!(finding(&a, h, Masquerade).is_none(), "{h}: {:?}", a.judge(h));
    }
    // As a word of the registrable name itself, it counts with a lower score.
    assert_eq!(finding(&a, "binance-app2.com", Masquerade).unwrap().score, 0.6);
    let f = finding(&a, "www.amazon.verify-account.top", Masquerade).unwrap();
    assert!(f.reason.ends_with("of the unrelated domain verify-account.top, beside the word verify"), "{}", f.reason);
    let f = finding(&a, "login-microsoft.example.net", Masquerade).unwrap();
    assert_eq!(
        f.reason,
        "host login-microsoft.example.net glues the brand name microsoft of microsoft.com to the word login in the label login-microsoft of the unrelated domain example.net"
    );
    for h in [
        "paypal-secure-login.com",
        "www.amazon.verify-account.top",
        "secure.netflix.billing-update.info",
        "appleid.apple.com.signin.icu",
        "apple-id.support",
    ] {
        assert_eq!(kinds(&a, h), vec![Masquerade], "{h}");
    }
    // A look-alike token.
    let f = finding(&a, "secure-paypa1.com", Masquerade).unwrap();
    assert!(
        f.reason.contains("paypa1, a look-alike of the brand name paypal (digit 1 in place of letter l), of paypal.com to the word secure"),
        "{}",
        f.reason
    );
    // Not whole tokens, generic labels, the brand's own domains: not flagged.
    for h in [
        "paypalx.com",
        "mypaypal-not.example",
        "office-depot.com",
        "live.example.com",
        "target-practice.net",
        "login.microsoftonline.com",
        "paypal-community.com",
    ] {
        assert!(finding(&a, h, Masquerade).is_none(), "{h}: {:?}", a.judge(h));
    }
    let off = with(|s| s.masquerade.brand_labels = false);
    assert!(finding(&off, "paypal.com.account-verify.xyz", Masquerade).is_none());
}

#[test]
fn punycode_look_alikes_of_protected_domains() {
    let a = default_analyser();
    // pаypal.com with a Cyrillic а (U+0430).
    let f = finding(&a, "xn--pypal-4ve.com", Masquerade).unwrap();
    assert_eq!(f.score, 1.0);
    assert_eq!(f.reason, "host xn--pypal-4ve.com is pаypal.com, which reads as paypal.com: Cyrillic 'а' (U+0430) for 'a'");
    // The same host written in Unicode, a subdomain of it, and an all-Cyrillic apple.com.
    assert_eq!(finding(&a, "pаypal.com", Masquerade).unwrap().score, 1.0);
    assert_eq!(finding(&a, "www.xn--pypal-4ve.com", Masquerade).unwrap().score, 1.0);
    let apple = sweep_intel::psl::to_ascii("аррӏе.com").unwrap();
    assert_eq!(apple, "xn--80ak6aa92e.com");
    assert!(finding(&a, &apple, Masquerade).unwrap().reason.contains("which reads as apple.com"));
    // Greek omicron, fullwidth letters, accents: look-alikes and near look-alikes.
    assert_eq!(finding(&a, &sweep_intel::psl::to_ascii("gοοgle.com").unwrap(), Masquerade).unwrap().score, 1.0);
    assert_eq!(finding(&a, "ｐａｙｐａｌ.com", Masquerade).unwrap().score, 1.0);
    let f = finding(&a, &sweep_intel::psl::to_ascii("pаypal.xyz").unwrap(), Masquerade).unwrap();
    assert!(f.reason.contains("looks like paypal.com"), "{}", f.reason);
    let f = finding(&a, &sweep_intel::psl::to_ascii("paypаl.evil.com").unwrap(), Masquerade).unwrap();
    assert!(f.reason.contains("uses the brand name paypal of paypal.com"), "{}", f.reason);
    // Real internationalised names are not look-alikes.
    for h in ["xn--90adhhccf5aeewt7j.xn--p1ai", "xn--bcher-kva.de", "xn--85x722f.com.cn", "xn--fiqs8s"] {
        assert_eq!(a.judge(h), vec![], "{h}");
    }
    let off = with(|s| s.masquerade.punycode = false);
    assert!(finding(&off, "xn--pypal-4ve.com", Masquerade).is_none());
}

#[test]
fn long_and_deep_host_names() {
    let a = default_analyser();
    let long = format!("{}.example.com", "a".repeat(70));
    assert_eq!(long.len(), 82);
    assert_eq!(finding(&a, &long, Masquerade).unwrap().reason, "host name is 82 characters long (more than 80)");
    let ok = format!("{}.example.com", "a".repeat(68));
    assert!(finding(&a, &ok, Masquerade).is_none());
    assert_eq!(finding(&a, "a.b.c.d.e.example.com", Masquerade).unwrap().reason, "host name has 7 labels (more than 6)");
    assert!(finding(&a, "a.b.c.d.example.com", Masquerade).is_none());
    let loose = with(|s| {
        s.masquerade.max_length = 253;
        s.masquerade.max_labels = 127;
    });
    assert!(finding(&loose, &long, Masquerade).is_none());
    assert!(finding(&loose, "a.b.c.d.e.example.com", Masquerade).is_none());
    // Both at once: one finding, both reasons.
    let both = format!("a.b.c.d.e.{long}");
    let f = finding(&a, &both, Masquerade).unwrap();
    assert!(f.reason.contains("characters long") && f.reason.contains("labels"), "{}", f.reason);
}

// ---- dga -------------------------------------------------------------------------------

#[test]
fn random_names_are_dga() {
    let a = default_analyser();
    for h in ["xjw9q2kz7hf0v3lp.com", "qxvkzjwpfhtr.net", "www.kq7x0vz3m9tbw1.ru", "3f8a9c0b7e6d5f4a1b2c.info", "zxcvbnmqwrtp.biz"] {
        let f = finding(&a, h, Dga).unwrap_or_else(|| panic!("{h} not flagged: {:?}", a.judge(h)));
        assert!(f.score >= 0.8 && f.score <= 1.0, "{h}: {}", f.score);
    }
    let f = finding(&a, "xjw9q2kz7hf0v3lp.com", Dga).unwrap();
    assert!(f.reason.starts_with("host xjw9q2kz7hf0v3lp.com: the name xjw9q2kz7hf0v3lp looks machine-generated"), "{}", f.reason);
    assert!(f.reason.contains("5 of its 16 characters are digits"), "{}", f.reason);
}

#[test]
fn real_names_are_not_dga() {
    let a = default_analyser();
    for h in [
        "wikipedia.org",
        "stackoverflow.com",
        "www.stackoverflow.com",
        "crowdstrike.com",
        "strengths-finder.com",
        "kupujemprodajem.com",
        "thuisbezorgd.nl",
        "1234567890.com",
        "rwth-aachen.de",
    ] {
        assert!(finding(&a, h, Dga).is_none(), "{h}: {:?}", a.judge(h));
    }
    // Too short to judge; random subdomains are not judged, only the registrable name.
    assert!(finding(&a, "xkqz.com", Dga).is_none());
    assert!(finding(&a, "xjw9q2kz7hf0v3lp.example.com", Dga).is_none());
    // Tenant names on platforms are skipped by default.
    assert!(finding(&a, "d3c33hcgiwev3x.cloudfront.net", Dga).is_none());
    let plat = with(|s| s.dga.platform_suffixes = true);
    assert!(finding(&plat, "xjw9q2kz7hf0v3lp.herokuapp.com", Dga).is_some());
    // The threshold is a knob.
    let strict = with(|s| s.dga.threshold = 1.0);
    assert!(finding(&strict, "qxvkzjwpfhtr.net", Dga).is_none());
    let off = with(|s| s.dga.enabled = false);
    assert!(finding(&off, "xjw9q2kz7hf0v3lp.com", Dga).is_none());
}

// ---- across detectors ------------------------------------------------------------------

#[test]
fn one_host_can_have_several_findings_in_fixed_order() {
    let a = default_analyser();
    let host = "paypal.com.xjw9q2kz7hf0v3lp.com";
    assert_eq!(kinds(&a, host), vec![Masquerade, Dga]);
    let host = format!("a.b.c.d.e.{}", "paypa1.com");
    assert_eq!(kinds(&a, &host), vec![Typosquat, Masquerade]);
}

#[test]
fn odd_inputs_do_not_panic_and_give_nothing() {
    let a = default_analyser();
    for h in [
        "",
        " ",
        ".",
        "..",
        "com",
        "co.uk",
        "localhost",
        "github.io",
        "a..b.com",
        "xn--",
        "xn--.com",
        "xn--zzzzzzzzzzz.com",
        "-.-",
        "_dmarc.example.com",
        "例え.テスト",
    ] {
        let f = a.judge(h);
        assert!(f.iter().all(|f| f.kind != MissingFqdn && (0.0..=1.0).contains(&f.score)), "{h}: {f:?}");
    }
    assert_eq!(a.judge("example.com:8080"), vec![]);
    assert_eq!(kinds(&a, "[2001:4860:4860::8888]:443"), vec![MissingFqdn]);
    assert_eq!(kinds(&a, "[::1]:8080"), vec![]);
    assert_eq!(kinds(&a, "paypa1.com:443"), vec![Typosquat]);
}

#[test]
fn documented_limits_are_not_caught() {
    // docs/content.md, "Limits": if one of these starts being caught, update the docs.
    let a = default_analyser();
    for h in [
        "paypalsunset.com",          // brand glued to a word that is not a combination word
        "rnicrosft.com",             // a trick plus an edit
        "sharecloseddifferent.net",  // dictionary-word DGA
        "kamilovosunedi.com",        // pronounceable DGA
        "xkqzvw.com",                // random but under 8 characters
        "secure-account-center.com", // plausible new name
    ] {
        assert_eq!(a.judge(h), vec![], "{h}");
    }
}

// ---- ownership, popularity, combinations (issue: precision on real traffic) ------------

#[test]
fn what_brands_own_is_never_a_finding() {
    let a = default_analyser();
    for h in [
        "www.google.cf",
        "google.com.br",
        "cloud.microsoft",
        "bstatic.com",
        "mercadolivre.com",
        "www.youtube-nocookie.com",
        "docker.io",
        "telegram.me",
        "apple-dns.net",
        "cloudflare-dns.com",
    ] {
        assert_eq!(a.judge(h), vec![], "{h}");
    }
    // The brand's name under a generic TLD is not a country site.
    assert_eq!(kinds(&a, "google.xyz"), vec![Typosquat]);
    // Owners from the pipeline.
    let own = with(|s| {
        s.owners.insert("paypal.com".into(), vec!["paypal-login.example".into()]);
    });
    assert_eq!(own.judge("paypal-login.example"), vec![]);
    assert_eq!(kinds(&a, "paypal-login.example"), vec![Masquerade]);
}

#[test]
fn popular_sites_are_guarded_and_the_guard_can_demote_or_go() {
    let a = default_analyser();
    // Akamai's DNS names carry brands; Amazon's name servers and Microsoft's edge look
    // random: all are on the popular list.
    for h in ["1.courier-push-apple.com.akadns.net", "0.amazon.pool.ntp.org", "ns-1.awsdns-09.com", "l-0007.l-msedge.net"] {
        assert_eq!(a.judge(h), vec![], "{h}");
    }
    let demote = with(|s| s.popular.mode = sweep_content::PopularMode::Demote);
    let f = finding(&demote, "amazon-login.ntp.org", Masquerade).unwrap();
    assert!(f.score < 0.5 && f.reason.ends_with("(score halved: ntp.org is on the popular-sites list)"), "{f:?}");
    let off = with(|s| s.popular.mode = sweep_content::PopularMode::Off);
    assert!(finding(&off, "amazon-login.ntp.org", Masquerade).unwrap().score > 0.5);
    // A content-delivery alias names its customer's host: not a masquerade, guard or not.
    assert_eq!(off.judge("1.courier-push-apple.com.akadns.net"), vec![]);
    assert_eq!(off.judge("www.paypal.com.edgekey.net"), vec![]);
    // min_score drops what scores below it.
    let strict = with(|s| s.popular.mode = sweep_content::PopularMode::Demote);
    let strict = {
        let mut spec = strict.spec().clone();
        spec.masquerade.min_score = 0.5;
        ContentAnalyser::new(spec).unwrap()
    };
    assert!(finding(&strict, "amazon-login.ntp.org", Masquerade).is_none());
}

#[test]
fn brands_glued_to_words_are_combosquats() {
    let a = default_analyser();
    for (h, words) in [
        ("microsoftsupport.com", "support"),
        ("loginnetflix.com", "login"),
        ("paypalsecure.com", "secure"),
        ("appleid-verify.com", "verify, id"),
        ("dhl-tracking.net", "tracking"),
        ("secure.my-coinbase-wallet.xyz", "wallet, my"),
        ("wwwpaypal.com", "www"),
    ] {
        let f = finding(&a, h, Masquerade).unwrap_or_else(|| panic!("{h}: {:?}", a.judge(h)));
        assert!(f.reason.contains(&format!("to the word{} {words}", if words.contains(',') { "s" } else { "" })), "{h}: {}", f.reason);
    }
    let f = finding(&a, "paypalcom.com", Masquerade).unwrap();
    assert!(f.reason.contains("glues paypal.com into one name"), "{}", f.reason);
    // Short brands alone, and words glued to nothing: not flagged.
    for h in ["web-api.example.com", "msn.example.org", "support-login.com", "dhl.example.com"] {
        assert!(finding(&a, h, Masquerade).is_none(), "{h}: {:?}", a.judge(h));
    }
    let off = with(|s| s.masquerade.combo_words = vec![]);
    assert!(finding(&off, "microsoftsupport.com", Masquerade).is_none());
}

#[test]
fn a_brand_spelled_across_labels_is_a_masquerade() {
    let a = default_analyser();
    let f = finding(&a, "goo.gle.com", Masquerade).unwrap();
    assert_eq!(f.reason, "host goo.gle.com spells the brand name google of google.com across the labels goo.gle");
    assert!(finding(&a, "pay.pal.example.net", Masquerade).is_some());
    assert!(finding(&a, "www.example.com", Masquerade).is_none());
}

#[test]
fn homoglyphs_beyond_the_old_table_are_read() {
    let a = default_analyser();
    for uni in ["pȧypal.com", "paypaɫ.com", "ṗaypal.com", "ƈoinbase.com", "nеtflix.com", "microsoƒt.com", "ṁicrosoft.com"] {
        let ascii = sweep_intel::psl::to_ascii(uni).unwrap();
        assert!(finding(&a, &ascii, Masquerade).is_some(), "{uni} ({ascii}): {:?}", a.judge(&ascii));
    }
    // Multi-letter tricks in ASCII.
    for h in ["nnicrosoft.com", "clropbox.com"] {
        assert_eq!(kinds(&a, h), vec![Typosquat], "{h}");
    }
}

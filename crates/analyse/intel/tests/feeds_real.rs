//! The real feeds in ../shared/data/intel load with exact counts per type, and the hand-written
//! fixtures in tests/fixtures/intel load as their layouts say.
//!
//! Every expected number below was derived outside sweep (python3/grep over the same files);
//! each comment says how, so a failing number can be re-derived.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sweep_intel::IndicatorType as T;
use sweep_intel::feeds::{CsvPreset, FeedError, FeedKind, FeedLoad, FeedSpec, load_allowlist, load_path};

fn real(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared/data/intel/")).join(name)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../tests/fixtures/intel/")).join(name)
}

fn load_one(spec: FeedSpec) -> FeedLoad {
    let mut v = load_path(&spec).unwrap_or_else(|e| panic!("{}: {e}", spec.path.display()));
    assert_eq!(v.len(), 1);
    v.pop().unwrap()
}

fn counts(l: &FeedLoad) -> Vec<(T, usize)> {
    l.counts().into_iter().collect()
}

fn reasons(l: &FeedLoad) -> BTreeMap<String, usize> {
    l.refusal_counts()
}

fn r(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Every unit is accounted for in line-based feeds: indicators + refusals + skipped +
/// duplicates == lines (each line of these feeds offers at most one value).
fn accounted(l: &FeedLoad) {
    assert_eq!(l.indicators.len() as u64 + l.refused.len() as u64 + l.skipped + l.duplicates, l.lines_or_objects, "{}", l.feed);
}

#[test]
fn stix_poisonivy() {
    let l = load_one(FeedSpec::new(real("stix21-poisonivy.json")));
    assert_eq!(l.kind, FeedKind::Stix);
    assert_eq!(&*l.feed, "stix21-poisonivy.json");
    // python3: Counter(o['type'] for o in bundle['objects']) -> 155 objects, 25 of them indicators.
    assert_eq!(l.lines_or_objects, 155);
    assert_eq!(l.skipped, 130);
    // The 25 indicators are NOT 25 values: 23 patterns are ORs of `domain-name:value` and
    // `ipv4-addr:value` equalities, 2 are `[file:name = '…']`. Splitting every pattern on ' OR '
    // (python3 re) gives 25 domain-name and 40 ipv4-addr comparisons; one domain value is
    // 'domain autuo.xicp.net' (a space: invalid). The same IP in several indicators stays one
    // indicator per STIX object (different id, description), so no duplicates.
    assert_eq!(counts(&l), [(T::Ipv4, 40), (T::Domain, 24)]);
    assert_eq!(l.duplicates, 0);
    assert_eq!(reasons(&l), r(&[("invalid_value", 1), ("unsupported_pattern", 2)]));
    let bad = l.refused.iter().find(|x| x.reason == "invalid_value").unwrap();
    assert_eq!(bad.value, "domain autuo.xicp.net");
    assert_eq!(bad.location, "object indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a40");
    let file_names: Vec<_> = l.refused.iter().filter(|x| x.reason == "unsupported_pattern").map(|x| x.detail.as_str()).collect();
    assert_eq!(file_names, ["property file:name", "property file:name"]);
    // Distinct values (python3 set): 24 domains, 18 addresses.
    let distinct: std::collections::BTreeSet<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str())).collect();
    assert_eq!(distinct.len(), 42);
    let first = &l.indicators[0];
    assert_eq!((first.kind, first.value.as_str()), (T::Ipv4, "219.76.208.163"));
    // valid_from 2015-05-15T09:12:16.432678Z; `date -u -d 2015-05-15T09:12:16Z +%s` = 1431681136.
    assert_eq!(first.valid_from, Some(1_431_681_136_432_678));
    assert_eq!(first.valid_until, None);
    assert_eq!(first.tags, ["malicious-activity", "attribution"]);
    assert_eq!(first.description.as_deref(), Some("IP address: 219.76.208.163 [indicator--e8094b09-7df4-4b13-b207-1e27af3c4bde]"));
    assert_eq!(first.confidence, None);
}

#[test]
fn stix_apt1_with_cidrs() {
    let l = load_one(FeedSpec::new(real("stix21-apt1.json")));
    // python3: 76 objects, 12 indicators: 4 `ipv4-addr:value = 'a.b.c.d/15'`, 3 domain-name,
    // 3 `file:hashes.md5`, 2 `x509-certificate:issuer = … AND x509-certificate:serial_number = …`.
    assert_eq!(l.lines_or_objects, 76);
    assert_eq!(l.skipped, 64);
    assert_eq!(counts(&l), [(T::Cidr, 4), (T::Domain, 3), (T::Md5, 3)]);
    assert_eq!(reasons(&l), r(&[("unsupported_pattern", 2)]));
    assert!(l.refused.iter().all(|x| x.detail == "AND" && x.value.starts_with("x509-certificate:issuer")));
    let cidrs: Vec<_> = l.indicators.iter().filter(|i| i.kind == T::Cidr).map(|i| i.value.as_str()).collect();
    assert_eq!(cidrs, ["223.166.0.0/15", "58.246.0.0/15", "112.64.0.0/15", "139.226.0.0/15"]);
    let md5: Vec<_> = l.indicators.iter().filter(|i| i.kind == T::Md5).map(|i| i.value.as_str()).collect();
    assert_eq!(md5, ["001dd76872d80801692ff942308c64e6", "002325a0a67fded0381b5648d7fe9b8e", "00dbb9e1c09dbdafb360f3163ba5a3de"]);
}

#[test]
fn stix_c2_ip() {
    let l = load_one(FeedSpec::new(real("stix21-c2-ip.json")));
    assert_eq!(l.lines_or_objects, 1);
    assert_eq!(counts(&l), [(T::Ipv4, 1)]);
    assert!(l.refused.is_empty());
    let i = &l.indicators[0];
    assert_eq!(i.value, "10.0.0.0");
    assert_eq!(i.description.as_deref(), Some("IP Address for known C2 channel [indicator--33fe3b22-0201-47cf-85d0-97c02164528d]"));
    // 2014-05-08T09:00:00Z: `date -u -d 2014-05-08T09:00:00Z +%s` = 1399539600.
    assert_eq!(i.valid_from, Some(1_399_539_600_000_000));
}

#[test]
fn misp_event() {
    let l = load_one(FeedSpec::new(real("misp-event-osint.json")));
    assert_eq!(l.kind, FeedKind::Misp);
    // python3 over Event.Attribute (370, no Objects), by (type, to_ids):
    //   to_ids=true: domain 3, hostname 9 -> 12 domains; ip-dst 8; url 14; md5 31 + filename|md5 44;
    //   sha1 57; sha256 40 + filename|sha256 44; unsupported: email-attachment 1, filename 4,
    //   imphash 1, pehash 1, ssdeep 1 (= 8).
    //   link: 64 (all to_ids=false) -> not_an_indicator.
    //   other to_ids=false: 48 -> not_to_ids.
    //   url values '107.183.86', 'igfxtray.exe', 'Data/dtl.dat', 'Data/glp.uin' -> invalid_value,
    //   leaving 10 URLs.
    //   One filename|md5 pair (BC29.tmp / E804.tmp) has the same hash and the same comment: the
    //   two indicators are identical, kept once (python3: distinct (type, value, comment) tuples).
    assert_eq!(l.lines_or_objects, 370);
    assert_eq!(counts(&l), [(T::Ipv4, 8), (T::Domain, 12), (T::Url, 10), (T::Md5, 74), (T::Sha1, 57), (T::Sha256, 84)]);
    assert_eq!(l.duplicates, 1);
    assert_eq!(reasons(&l), r(&[("invalid_value", 4), ("not_an_indicator", 64), ("not_to_ids", 48), ("unsupported_type", 8)]));
    assert_eq!(l.indicators.len() as u64 + l.refused.len() as u64 + l.duplicates, 370);
    let bogus = l.refused.iter().find(|x| x.value == "107.183.86").unwrap();
    assert_eq!(bogus.reason, "invalid_value");
    assert_eq!(bogus.location, "attribute 571620b0-5e38-4e8c-9c29-416d950d210f");
    assert!(l.refused.iter().filter(|x| x.reason == "not_an_indicator").all(|x| x.detail == "MISP type link"));
    // No link value became an indicator.
    assert!(!l.indicators.iter().any(|i| i.value.contains("virustotal.com")));
    let urls: Vec<_> = l.indicators.iter().filter(|i| i.kind == T::Url).map(|i| i.value.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://198.55.120.143:7386/B/ResN32.dll",
            "//www.whitewall.top/",
            "//www.turkistanuyghur.top/",
            "//www.yawropauyghur.top/",
            "//www.japanuyghur.top/",
            "//www.hotansft.top/",
            "//www.amerikauyghur.top/",
            "http://www.whitewall.top:8080/850D3011FA326CBB6F57A965",
            "http://www.whitewall.top:995/5724DD3DCC4A19E8416E5691",
            "//www.kcico.com.tw/data/openwebmail/doc/wthk.txt",
        ]
    );
    let i = &l.indicators[0];
    assert_eq!(i.severity.as_deref(), Some("medium"), "threat_level_id 2");
    assert_eq!(i.tags, ["tlp:white", "type:OSINT"]);
    assert!(i.description.as_deref().unwrap().starts_with("OSINT - ASERT Threat Intelligence Report 2016-03"));
    assert_eq!(i.valid_from, None, "attribute timestamps are not validity starts");
}

#[test]
fn urlhaus_filter_ublock() {
    let l = load_one(FeedSpec::new(real("urlhaus-filter-online.txt")));
    assert_eq!(l.kind, FeedKind::Plain);
    // wc -l: 6260 lines; grep -c '^!': 6 comment lines.
    // grep -v '^!' | grep -v '^||' | grep -cE '^[0-9.]+$': 2307 bare IPv4 addresses;
    // the other 601 bare lines are host names (all with a PSL top-level domain).
    // grep -c '^||': 3346 rules, all ending `^$all`: 1 is a bare host (`||wegrowcoaching.com^$all`,
    // a domain), 3345 have a path (scheme-less URLs).
    assert_eq!(l.lines_or_objects, 6260);
    assert_eq!(l.skipped, 6);
    assert_eq!(counts(&l), [(T::Ipv4, 2307), (T::Domain, 602), (T::Url, 3345)]);
    assert!(l.refused.is_empty(), "{:?}", &l.refused[..l.refused.len().min(5)]);
    assert_eq!(l.duplicates, 0);
    accounted(&l);
    let has = |v: &str| l.indicators.iter().any(|i| i.value == v);
    assert!(has("1.1.104.12"));
    assert!(has("wegrowcoaching.com"));
    assert!(has("//2024.sci-hub.se/2294/7a43bb4cf6c57229b02a9604a1f4614e/skidmore1966.pdf"));
    // Percent-escapes are upper-cased (the list writes them lower-case).
    assert!(has("//bitbucket.org/dfffrf/dfdf/downloads/notificaci%C3%B3n_demanda_virtual_juzgado_09_de_circuito_de_bogot%C3%A1.zip"));
    // A path that itself holds a URL stays one scheme-less URL.
    assert!(has(
        "//web.archive.org/web/20220120151100/https://uploads.strikinglycdn.com/files/88fe4363-1198-45e6-9226-8b94f28355d4/biwuzu.pdf"
    ));
}

#[test]
fn ipsum() {
    let l = load_one(FeedSpec::new(real("ipsum.txt")));
    // grep -c '': 120437 lines; grep -c '^#': 7; the rest are `IP<TAB>count`, all valid IPv4
    // (python3 ipaddress) and distinct (sort | uniq -d: none).
    assert_eq!(l.lines_or_objects, 120_437);
    assert_eq!(l.skipped, 7);
    assert_eq!(counts(&l), [(T::Ipv4, 120_430)]);
    assert!(l.refused.is_empty());
    accounted(&l);
    assert_eq!(l.indicators[0].value, "77.90.185.20");
    assert_eq!(l.indicators[0].tags, ["count:10"]);
    // With min_count = 3: awk -F'\t' '$2>=3' | wc -l -> 14217 kept, 120430 - 14217 refused.
    let l =
        load_one(FeedSpec { min_count: Some(3), name: Some("ipsum-3".into()), confidence: Some(60), ..FeedSpec::new(real("ipsum.txt")) });
    assert_eq!(&*l.feed, "ipsum-3");
    assert_eq!(counts(&l), [(T::Ipv4, 14_217)]);
    assert_eq!(reasons(&l), r(&[("below_min_count", 106_213)]));
    assert!(l.indicators.iter().all(|i| i.confidence == Some(60)));
    accounted(&l);
}

#[test]
fn real_folder_reads_each_file_by_type() {
    let loads = load_path(&FeedSpec::new(real(""))).unwrap();
    let kinds: Vec<_> = loads.iter().map(|l| (l.feed.to_string(), l.kind.name())).collect();
    assert_eq!(
        kinds,
        [
            ("intel/ipsum.txt".to_string(), "plain"),
            ("intel/misp-event-osint.json".to_string(), "misp"),
            ("intel/stix21-apt1.json".to_string(), "stix"),
            ("intel/stix21-c2-ip.json".to_string(), "stix"),
            ("intel/stix21-poisonivy.json".to_string(), "stix"),
            ("intel/urlhaus-filter-online.txt".to_string(), "plain"),
        ]
    );
    let total: usize = loads.iter().map(|l| l.indicators.len()).sum();
    // 120430 + 245 + 10 + 1 + 64 + 6254.
    assert_eq!(total, 127_004);
}

// ---- hand-written fixtures (tests/fixtures/intel, layouts documented in its README) ----

#[test]
fn fixture_urlhaus_csv() {
    let l = load_one(FeedSpec::new(fixture("feeds/urlhaus.csv")));
    assert!(matches!(&l.kind, FeedKind::Csv(o) if o.preset == Some(CsvPreset::Urlhaus)), "detected from the header comment");
    assert_eq!(l.lines_or_objects, 14);
    assert_eq!(l.skipped, 9);
    let v: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str())).collect();
    assert_eq!(
        v,
        [
            (T::Url, "http://192.0.2.10:39693/i"),
            (T::Url, "https://download.example.com/Invoice~1.exe"),
            (T::Url, "http://198.51.100.23/bins/x86"),
            (T::Url, "http://files.example.net/a.zip"),
        ]
    );
    let i = &l.indicators[0];
    assert_eq!(i.tags, ["32-bit", "elf", "mips", "Mozi"]);
    assert_eq!(i.description.as_deref(), Some("malware_download"));
    // `date -u -d '2026-01-10 09:01:02Z' +%s` = 1768035662.
    assert_eq!(i.valid_from, Some(1_768_035_662_000_000));
    assert!(l.indicators[2].tags.is_empty(), "`None` tags are empty");
    assert_eq!(reasons(&l), r(&[("invalid_value", 1)]));
    assert_eq!(l.refused[0].location, "line 13");
    accounted(&l);
}

#[test]
fn fixture_feodo_csv() {
    let l = load_one(FeedSpec::new(fixture("feeds/feodo-ipblocklist.csv")));
    assert!(matches!(&l.kind, FeedKind::Csv(o) if o.preset == Some(CsvPreset::Feodo)));
    let v: Vec<_> = l.indicators.iter().map(|i| (i.value.as_str(), i.description.as_deref().unwrap())).collect();
    assert_eq!(v, [("192.0.2.44", "QakBot"), ("198.51.100.9", "Emotet"), ("203.0.113.77", "Pikabot")]);
    assert!(l.refused.is_empty());
    accounted(&l);
    // A truncated copy (trailer says 3, two rows left) is an error naming the trailer line.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("feeds/feodo-ipblocklist.csv")).unwrap();
    let cut: String = text.lines().filter(|l| !l.contains("Pikabot")).map(|l| format!("{l}\n")).collect();
    let p = dir.path().join("ipblocklist.csv");
    std::fs::write(&p, cut).unwrap();
    let e = load_path(&FeedSpec::new(&p)).unwrap_err();
    assert!(matches!(e, FeedError::Truncated { expected: 3, found: 2, line: 12, .. }), "{e}");
    assert!(e.to_string().contains("fetch the feed again"), "{e}");
}

#[test]
fn fixture_threatfox_csv() {
    let l = load_one(FeedSpec::new(fixture("feeds/threatfox.csv")));
    assert!(matches!(&l.kind, FeedKind::Csv(o) if o.preset == Some(CsvPreset::Threatfox)));
    let v: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str(), i.confidence)).collect();
    assert_eq!(
        v,
        [
            (T::Ipv4, "192.0.2.200", Some(100)),
            (T::Domain, "c2.example.net", Some(75)),
            (T::Url, "https://pay.example.org/gate.php", Some(50)),
            (T::Md5, "44d88612fea8a8f36de82e1278abb02f", Some(100)),
            (T::Sha256, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", Some(100)),
        ]
    );
    assert_eq!(l.indicators[0].tags, ["botnet_cc", "Sliver", "c2"]);
    assert_eq!(l.indicators[0].description.as_deref(), Some("Sliver"));
    assert_eq!(l.indicators[2].tags, ["payload_delivery"], "`None` tags dropped");
    assert_eq!(reasons(&l), r(&[("unsupported_type", 1)]));
    assert_eq!(l.refused[0].detail, "ioc_type \"sha3_384_hash\"");
    accounted(&l);
}

#[test]
fn fixture_spamhaus_drop() {
    let l = load_one(FeedSpec::new(fixture("feeds/spamhaus-drop.txt")));
    assert!(matches!(&l.kind, FeedKind::Csv(o) if o.preset == Some(CsvPreset::SpamhausDrop)));
    let v: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str(), i.description.as_deref().unwrap())).collect();
    assert_eq!(
        v,
        [(T::Cidr, "192.0.2.0/24", "SBL000001"), (T::Cidr, "198.51.100.0/24", "SBL000002"), (T::Cidr, "203.0.113.128/25", "SBL000003")]
    );
    assert_eq!(l.skipped, 4);
    accounted(&l);
}

#[test]
fn fixture_plain_mixed() {
    let l = load_one(FeedSpec::new(fixture("feeds/plain-mixed.txt")));
    assert_eq!(l.kind, FeedKind::Plain);
    let v: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str())).collect();
    assert_eq!(
        v,
        [
            (T::Ipv4, "192.0.2.1"),
            (T::Ipv4, "192.0.2.2"),
            (T::Ipv6, "2001:db8::1"),
            (T::Cidr, "198.51.100.0/24"),
            (T::Domain, "evil.example.com"),
            (T::Url, "//files.example.net/payload.bin"),
            (T::Url, "https://shop.example.org/login"),
            (T::Domain, "ads.example.com"),
            (T::Domain, "tracker.example.com"),
            (T::Domain, "cdn.example.org"),
            (T::Url, "//mirror.example.org/pub/dropper.ps1"),
            (T::Md5, "44d88612fea8a8f36de82e1278abb02f"),
            (T::Ipv4, "203.0.113.5"),
        ]
    );
    assert_eq!(l.indicators.last().unwrap().tags, ["count:4"]);
    let refused: Vec<_> = l.refused.iter().map(|x| (x.location.as_str(), x.reason.as_str())).collect();
    assert_eq!(
        refused,
        [
            ("line 13", "not_an_indicator"),
            ("line 16", "unsupported_filter"),
            ("line 17", "unsupported_filter"),
            ("line 19", "invalid_value")
        ]
    );
    assert_eq!(l.skipped, 4);
    assert_eq!(l.lines_or_objects, 20);
}

#[test]
fn fixture_misp_feed_folder() {
    let l = load_one(FeedSpec::new(fixture("feeds/misp-feed")));
    assert_eq!(l.kind, FeedKind::MispFeedDir);
    assert_eq!(&*l.feed, "misp-feed");
    assert_eq!(l.lines_or_objects, 11);
    let v: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str(), i.severity.as_deref())).collect();
    assert_eq!(
        v,
        [
            (T::Url, "http://login.example.com/secure/index.php", Some("high")),
            (T::Domain, "login.example.com", Some("high")),
            (T::Ipv4, "192.0.2.80", Some("high")),
            (T::Email, "billing@example.net", Some("high")),
            (T::Sha256, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", Some("high")),
            (T::Ipv4, "198.51.100.66", Some("low")),
            (T::Domain, "beacon.example.net", Some("low")),
        ]
    );
    assert_eq!(l.indicators[0].description.as_deref(), Some("Fixture event one: phishing kit — kit landing page"));
    assert_eq!(l.indicators[0].tags, ["tlp:white", "misp-galaxy:threat-actor=\"Fixture\""]);
    assert_eq!(l.indicators[5].tags, ["kill-chain:command-and-control"]);
    // first_seen 2025-12-24T00:00:00Z: `date -u -d 2025-12-24 +%s` = 1766534400.
    assert_eq!(l.indicators[5].valid_from, Some(1_766_534_400_000_000));
    let refused: Vec<_> = l.refused.iter().map(|x| (x.reason.as_str(), x.value.as_str())).collect();
    assert_eq!(
        refused,
        [
            ("not_an_indicator", "https://blog.example.org/phishing-kit-analysis"),
            ("not_to_ids", "kit.zip"),
            ("not_to_ids", "203.0.113.9"),
            ("invalid_value", "203.0.113"),
            ("unsupported_type", "e7d705a3286e19ea42f587b344ee6865"),
        ]
    );
    assert!(l.refused[3].location.starts_with("event 5a0d2f1e-0000-4000-8000-000000000002 attribute "));
    // The feed folder also loads as part of its parent folder.
    let all = load_path(&FeedSpec::new(fixture("feeds"))).unwrap();
    let names: Vec<_> = all.iter().map(|l| (l.feed.to_string(), l.kind.name())).collect();
    assert_eq!(
        names,
        [
            ("feeds/feodo-ipblocklist.csv".to_string(), "csv"),
            ("feeds/misp-feed".to_string(), "misp_feed"),
            ("feeds/plain-mixed.txt".to_string(), "plain"),
            ("feeds/spamhaus-drop.txt".to_string(), "csv"),
            ("feeds/threatfox.csv".to_string(), "csv"),
            ("feeds/urlhaus.csv".to_string(), "csv"),
        ]
    );
}

#[test]
fn fixture_misp_feed_missing_event_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("feeds/misp-feed/manifest.json"), dir.path().join("manifest.json")).unwrap();
    let e = load_path(&FeedSpec::new(dir.path())).unwrap_err();
    assert!(e.to_string().contains("5a0d2f1e-0000-4000-8000-000000000001.json"), "{e}");
    assert!(e.to_string().contains("fetch it again"), "{e}");
}

#[test]
fn fixture_allowlists() {
    let a = load_allowlist(&fixture("allow")).unwrap();
    let v: Vec<_> = a.entries.iter().map(|e| (e.kind, e.value.as_str(), &*e.list)).collect();
    assert_eq!(
        v,
        [
            (T::Domain, "example.com", "allowlist.txt"),
            (T::Domain, "cdn.example.org", "allowlist.txt"),
            (T::Ipv4, "192.0.2.1", "allowlist.txt"),
            (T::Domain, "intranet.example.net", "allowlist.txt"),
            (T::Cidr, "10.0.0.0/8", "List of RFC 1918 CIDR blocks"),
            (T::Cidr, "172.16.0.0/12", "List of RFC 1918 CIDR blocks"),
            (T::Cidr, "192.168.0.0/16", "List of RFC 1918 CIDR blocks"),
        ]
    );
    assert!(a.refused.is_empty());
    // A warninglist is not a feed.
    let e = load_path(&FeedSpec::new(fixture("allow/warninglist-rfc1918.json"))).unwrap_err();
    assert!(matches!(e, FeedError::IsAllowlist { .. }), "{e}");
}

#[test]
fn errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.json");
    std::fs::write(&p, "{\"type\": \"bundle\",\n \"objects\": [\n  {\"type\": \"indicator\",, }\n]}\n").unwrap();
    let e = load_path(&FeedSpec { kind: Some(sweep_intel::feeds::FeedFormat::Stix), ..FeedSpec::new(&p) }).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("broken.json:3:"), "{msg}");
    assert!(matches!(e, FeedError::Json { line: 3, .. }));
    let e = load_path(&FeedSpec::new(dir.path().join("absent.txt"))).unwrap_err();
    assert!(matches!(e, FeedError::Io { .. }));
    assert!(e.to_string().contains("absent.txt"), "{e}");
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "host,port\nevil.com,80\n").unwrap();
    let e = load_path(&FeedSpec { column: Some(sweep_intel::feeds::Column::Name("url".into())), ..FeedSpec::new(&csv) }).unwrap_err();
    assert!(e.to_string().contains("x.csv:1: the header has no column \"url\" (it has: host, port)"), "{e}");
}

/// The readers give values in canonical form, which `IntelIndex::from_loads` relies on: each
/// value normalises to itself, and the index built from the loads is the one
/// `IntelIndex::build` makes (which normalises every value again).
#[test]
fn readers_give_canonical_values() {
    use sweep_intel::index::{AllowList, IntelIndex};
    let mut loads = load_path(&FeedSpec::new(real(""))).unwrap();
    loads.extend(load_path(&FeedSpec::new(fixture("feeds"))).unwrap());
    let mut n = 0;
    for l in &loads {
        for i in &l.indicators {
            assert_eq!(sweep_intel::normalize::typed_as(i.kind, &i.value), Ok((i.kind, i.value.clone())), "{}", l.feed);
            n += 1;
        }
    }
    assert!(n > 100_000, "{n}");
    let all: Vec<sweep_intel::Indicator> = loads.iter().flat_map(|l| l.indicators.iter().cloned()).collect();
    let allow = || AllowList::from_values([(T::Domain, "Example.com."), (T::Cidr, "10.0.0.0/8")]);
    let built = IntelIndex::build(all, allow());
    let from = IntelIndex::from_loads(loads, allow());
    assert_eq!(from.version(), built.version());
    assert_eq!((from.len(), from.duplicates(), from.value_bytes()), (built.len(), built.duplicates(), built.value_bytes()));
    assert_eq!(from.refused(), built.refused());
    assert!(from.iter().map(|r| r.to_indicator()).eq(built.iter().map(|r| r.to_indicator())));
}

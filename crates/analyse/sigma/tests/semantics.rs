//! Hand-computed expectations for each modifier and condition form.
mod common;

use common::{Ev, fired, rule, rules};
use sweep_sigma::tree::{Atom, Column, Condition, Matcher, NumOp, Number};
use sweep_sigma::{FieldMap, LoadOptions, Refusal, RuleSet, SigmaAnalyser};

fn ua(s: &str) -> Ev {
    Ev::new().set("user_agent", s)
}
fn url(s: &str) -> Ev {
    Ev::new().set("url", s)
}

/// Rows of `evs` that fire the rule with this detection body.
fn rows(det: &str, evs: &[Ev]) -> Vec<usize> {
    fired(&rules(&rule(det)), evs)
}

fn refusal(det: &str) -> Refusal {
    let (set, report) = RuleSet::from_yaml_str(&rule(det), "test");
    assert!(set.is_empty());
    report.refused[0].reason.clone()
}

#[test]
fn plain_value_is_whole_and_case_insensitive() {
    let det = "    sel:\n        c-useragent: 'Hello-World/1.0'\n    condition: sel";
    let evs =
        [ua("Hello-World/1.0"), ua("hello-world/1.0"), ua("HELLO-WORLD/1.0"), ua("Hello-World/1.0 x"), ua("x Hello-World/1.0"), Ev::new()];
    assert_eq!(rows(det, &evs), vec![0, 1, 2]);
}

#[test]
fn cased() {
    let det = "    sel:\n        c-useragent|cased: 'Hello'\n    condition: sel";
    assert_eq!(rows(det, &[ua("Hello"), ua("hello"), ua("HELLO")]), vec![0]);
    let det = "    sel:\n        c-useragent|contains|cased: 'Bot'\n    condition: sel";
    assert_eq!(rows(det, &[ua("a Bot b"), ua("a bot b")]), vec![0]);
}

#[test]
fn contains_startswith_endswith() {
    let evs = [ua("abcdef"), ua("ABCDEF"), ua("xabc"), ua("defx"), ua("")];
    assert_eq!(rows("    sel:\n        c-useragent|contains: 'cd'\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        c-useragent|startswith: 'abc'\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        c-useragent|endswith: 'DEF'\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        c-useragent|endswith: 'abc'\n    condition: sel", &evs), vec![2]);
}

#[test]
fn wildcards_and_escapes() {
    // `*` any run, `?` one character.
    let evs = [ua("Mozilla v5.1 (x)"), ua("mozilla v5.1 "), ua("Mozilla v5.1"), ua("aXc"), ua("ac"), ua("abbc")];
    assert_eq!(rows("    sel:\n        c-useragent: 'Mozilla v5.1 *'\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        c-useragent: 'a?c'\n    condition: sel", &evs), vec![3]);
    assert_eq!(rows("    sel:\n        c-useragent: 'a*c'\n    condition: sel", &evs), vec![3, 4, 5]);
    // Escaped wildcards are literal characters.
    let evs = [url("/momyshark?key=1"), url("/momysharkXkey=1"), url("a*b"), url("axb"), url(r"a\b"), url(r"a\xb")];
    assert_eq!(rows("    sel:\n        c-uri|contains: 'momyshark\\?key='\n    condition: sel", &evs), vec![0]);
    assert_eq!(rows("    sel:\n        c-uri: 'a\\*b'\n    condition: sel", &evs), vec![2]);
    // `\\` is one backslash, then `*` is a wildcard: a\ followed by anything then b.
    assert_eq!(rows("    sel:\n        c-uri: 'a\\\\*b'\n    condition: sel", &evs), vec![4, 5]);
    // A backslash before another character is literal.
    assert_eq!(rows("    sel:\n        c-uri: 'a\\b'\n    condition: sel", &evs), vec![4]);
    // A lone `*` matches any non-null value, including the empty string.
    assert_eq!(rows("    sel:\n        c-uri: '*'\n    condition: sel", &[url(""), Ev::new(), url("x")]), vec![0, 2]);
}

#[test]
fn value_lists_or_and_all() {
    let evs = [url("/a/b"), url("/a"), url("/b"), url("/c")];
    assert_eq!(rows("    sel:\n        c-uri|contains:\n            - '/a'\n            - '/b'\n    condition: sel", &evs), vec![0, 1, 2]);
    assert_eq!(rows("    sel:\n        c-uri|contains|all:\n            - '/a'\n            - '/b'\n    condition: sel", &evs), vec![0]);
}

#[test]
fn maps_and_lists_of_maps() {
    let a = Ev::new().set("method", "GET").set("url", "/x");
    let b = Ev::new().set("method", "POST").set("url", "/x");
    let c = Ev::new().set("method", "POST").set("url", "/y");
    // A map: AND across fields.
    assert_eq!(
        rows("    sel:\n        cs-method: POST\n        c-uri: '/x'\n    condition: sel", &[a.clone(), b.clone(), c.clone()]),
        vec![1]
    );
    // A list of maps: OR.
    assert_eq!(rows("    sel:\n        - cs-method: GET\n        - c-uri: '/y'\n    condition: sel", &[a, b, c]), vec![0, 2]);
}

#[test]
fn keywords_match_url_or_user_agent() {
    let det = "    keywords:\n        - '.git/'\n        - 'sqlmap'\n    condition: keywords";
    let evs = [url("https://h/.git/config"), ua("sqlmap/1.0"), Ev::new().set("referrer", ".git/"), url("https://h/.GIT/x"), Ev::new()];
    assert_eq!(rows(det, &evs), vec![0, 1, 3]);
    let det = "    keywords:\n        '|all':\n            - 'union'\n            - 'select'\n    condition: keywords";
    let evs = [url("/?q=union+select"), url("/?q=union"), Ev::new().set("url", "/union").set("user_agent", "select")];
    // `all` needs every keyword, each in url or user_agent.
    assert_eq!(rows(det, &evs), vec![0, 2]);
}

#[test]
fn regex_and_flags() {
    let evs = [url("https://ipfs.io/ipfs/x.html#a@b.com"), url("https://IPFS.IO/ipfs/x.html#a@b.com"), url("https://example.com/")];
    // The bundled rule uses an inline (?i).
    assert_eq!(
        rows("    sel:\n        cs-uri|re: '(?i)(ipfs\\.io/|ipfs\\.io\\s).+\\..+@.+\\.[a-z]+'\n    condition: sel", &evs),
        vec![0, 1]
    );
    // `re` is case-sensitive by default, `|re|i` is not; unanchored.
    assert_eq!(rows("    sel:\n        c-uri|re: 'ipfs\\.io'\n    condition: sel", &evs), vec![0]);
    assert_eq!(rows("    sel:\n        c-uri|re|i: 'ipfs\\.io'\n    condition: sel", &evs), vec![0, 1]);
    // `m`: ^ and $ at line ends; `s`: dot matches newline.
    let evs = [ua("a\nb"), ua("ab")];
    assert_eq!(rows("    sel:\n        c-useragent|re: '^b'\n    condition: sel", &evs), Vec::<usize>::new());
    assert_eq!(rows("    sel:\n        c-useragent|re|m: '^b'\n    condition: sel", &evs), vec![0]);
    assert_eq!(rows("    sel:\n        c-useragent|re: 'a.b'\n    condition: sel", &evs), Vec::<usize>::new());
    assert_eq!(rows("    sel:\n        c-useragent|re|s: 'a.b'\n    condition: sel", &evs), vec![0]);
    assert!(matches!(refusal("    sel:\n        c-uri|re: '(?<=a)b'\n    condition: sel"), Refusal::BadRegex(_)));
}

#[test]
fn cidr_v4_v6() {
    let ip = |s: &str| Ev::new().set("server_ip", s);
    let det = "    sel:\n        dst_ip|cidr:\n            - '10.0.0.0/8'\n            - '172.16.0.0/12'\n            - 'fe80::/10'\n            - '::1/128'\n    condition: sel";
    let evs = [
        ip("10.255.0.1"),
        ip("11.0.0.1"),
        ip("172.31.255.255"),
        ip("172.32.0.0"),
        ip("fe80::1"),
        ip("febf::1"),
        ip("fec0::1"),
        ip("::1"),
        ip("::2"),
        ip("not an ip"),
        Ev::new(),
    ];
    assert_eq!(rows(det, &evs), vec![0, 2, 4, 5, 7]);
    assert!(matches!(refusal("    sel:\n        dst_ip|cidr: '10.0.0.0/33'\n    condition: sel"), Refusal::BadValue(_)));
}

#[test]
fn base64_and_base64offset() {
    // base64('Chrome') = 'Q2hyb21l'.
    let det = "    sel:\n        c-useragent|base64|contains: 'Chrome'\n    condition: sel";
    assert_eq!(rows(det, &[ua("xxQ2hyb21lyy"), ua("Chrome")]), vec![0]);
    // base64offset('http') as pySigma: b64('http')='aHR0cA==' minus 3 trailing -> 'aHR0c';
    // b64(' http')='IGh0dHA=' minus 2 leading, 2 trailing -> 'h0dH';
    // b64('  http')='ICBodHRw' minus 3 leading -> 'odHRw'.
    let set = rules(&rule("    sel:\n        c-useragent|base64offset|contains: 'http'\n    condition: sel"));
    let values: Vec<String> = set.rules()[0]
        .condition
        .atoms()
        .iter()
        .map(|a| match &a.matcher {
            Matcher::Contains { value, .. } => value.clone(),
            m => panic!("{m:?}"),
        })
        .collect();
    assert_eq!(values, ["aHR0c", "h0dH", "odHRw"]);
    // base64 of 'xhttp' = 'eGh0dHA=' contains 'h0dH'.
    assert_eq!(fired(&set, &[ua("eGh0dHA="), ua("aHR0cHM6"), ua("ICBodHRw"), ua("http")]), vec![0, 1, 2]);
}

#[test]
fn null_and_empty() {
    let det = "    sel:\n        cs-referer: null\n    condition: sel";
    let evs = [Ev::new().set("referrer", ""), Ev::new(), Ev::new().set("referrer", "x")];
    assert_eq!(rows(det, &evs), vec![1]);
    let det = "    sel:\n        c-useragent: ''\n    condition: sel";
    assert_eq!(rows(det, &[ua(""), Ev::new(), ua("x")]), vec![0]);
}

#[test]
fn exists() {
    let evs = [ua(""), Ev::new(), ua("x")];
    assert_eq!(rows("    sel:\n        c-useragent|exists: true\n    condition: sel", &evs), vec![0, 2]);
    assert_eq!(rows("    sel:\n        c-useragent|exists: false\n    condition: sel", &evs), vec![1]);
    assert!(matches!(refusal("    sel:\n        c-useragent|exists: 'yes'\n    condition: sel"), Refusal::BadValue(_)));
}

#[test]
fn numbers_and_numeric_compare() {
    let st = |s: i32| Ev::new().status(s);
    let evs = [st(200), st(301), st(404), st(500), Ev::new()];
    assert_eq!(rows("    sel:\n        sc-status:\n            - 200\n            - 301\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        sc-status|gte: 400\n    condition: sel", &evs), vec![2, 3]);
    assert_eq!(rows("    sel:\n        sc-status|lt: 301\n    condition: sel", &evs), vec![0]);
    assert_eq!(rows("    sel:\n        sc-status|lte: 301\n    condition: sel", &evs), vec![0, 1]);
    assert_eq!(rows("    sel:\n        sc-status|gt: 404\n    condition: sel", &evs), vec![3]);
    // A string value compares the number's text.
    assert_eq!(rows("    sel:\n        sc-status|startswith: '4'\n    condition: sel", &evs), vec![2]);
    // A number on a text column compares text.
    assert_eq!(rows("    sel:\n        c-useragent: 42\n    condition: sel", &[ua("42"), ua("042")]), vec![0]);
    // Numeric compare on a text column parses the text.
    assert_eq!(rows("    sel:\n        c-useragent|gt: 5\n    condition: sel", &[ua("42"), ua("4"), ua("x")]), vec![0]);
}

#[test]
fn fieldref() {
    let det = "    sel:\n        cs-referer|fieldref: c-uri\n    condition: sel";
    let evs = [
        Ev::new().set("referrer", "http://a/").set("url", "http://a/"),
        Ev::new().set("referrer", "HTTP://A/").set("url", "http://a/"),
        Ev::new().set("referrer", "http://b/").set("url", "http://a/"),
        Ev::new().set("url", "http://a/"),
    ];
    assert_eq!(rows(det, &evs), vec![0, 1]);
    let det = "    sel:\n        c-uri|fieldref|contains: cs-host\n    condition: sel";
    let evs = [Ev::new().set("url", "http://h.example/x").set("host", "h.example"), Ev::new().set("url", "/x").set("host", "h.example")];
    assert_eq!(rows(det, &evs), vec![0]);
}

#[test]
fn conditions() {
    let det = "    sel_a:\n        c-useragent|contains: 'a'\n    sel_b:\n        c-useragent|contains: 'b'\n    filter:\n        c-useragent|contains: 'c'\n";
    let evs = [ua("a"), ua("b"), ua("ab"), ua("ac"), ua("abc"), ua("c"), ua("x")];
    let with = |c: &str| rows(&format!("{det}    condition: {c}"), &evs);
    assert_eq!(with("1 of sel*"), vec![0, 1, 2, 3, 4]);
    assert_eq!(with("any of sel_*"), vec![0, 1, 2, 3, 4]);
    assert_eq!(with("all of sel_*"), vec![2, 4]);
    assert_eq!(with("all of them"), vec![4]);
    assert_eq!(with("1 of them"), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(with("not filter"), vec![0, 1, 2, 6]);
    assert_eq!(with("1 of sel* and not filter"), vec![0, 1, 2]);
    // Precedence: not > and > or.
    assert_eq!(with("sel_a or sel_b and filter"), vec![0, 2, 3, 4]);
    assert_eq!(with("(sel_a or sel_b) and filter"), vec![3, 4]);
    assert_eq!(with("not sel_a and sel_b"), vec![1]);
    assert_eq!(with("not (sel_a and sel_b)"), vec![0, 1, 3, 5, 6]);
    // A list of conditions is their OR.
    assert_eq!(rows(&format!("{det}    condition:\n        - sel_a and filter\n        - sel_b and not sel_a"), &evs), vec![1, 3, 4]);
    // `them` leaves out identifiers starting with `_`.
    let det2 = "    sel:\n        c-useragent|contains: 'a'\n    _aux:\n        c-useragent|contains: 'b'\n    condition: all of them";
    assert_eq!(rows(det2, &evs), vec![0, 2, 3, 4]);
}

/// The compiled evaluator looks at a rule only on rows that hit one of its trigger atoms (one
/// branch's worth of each `or`, the rarest side of each `and`): every branch must still fire.
#[test]
fn every_branch_of_an_or_fires() {
    let det = "    sel_a:\n        c-useragent|contains: 'aaaaaa'\n    sel_b:\n        c-useragent|contains: 'b'\n    filter:\n        c-useragent|contains: 'c'\n";
    let evs = [ua("bc"), ua("b"), ua("c"), ua("aaaaaa"), ua("x")];
    let with = |c: &str| rows(&format!("{det}    condition: {c}"), &evs);
    assert_eq!(with("sel_a or sel_b and filter"), vec![0, 3]);
    assert_eq!(with("(sel_a or sel_b) and (sel_a or filter)"), vec![0, 3]);
    assert_eq!(with("sel_a or not sel_b"), vec![2, 3, 4]);
    assert_eq!(with("sel_b and (sel_a or not filter)"), vec![1]);
}

#[test]
fn refusals() {
    let r = |d: &str| refusal(&format!("    sel:\n        {d}\n    condition: sel"));
    assert_eq!(r("c-uri|windash: '-x'"), Refusal::UnsupportedModifier("windash".into()));
    assert_eq!(r("c-uri|expand: '%x%'"), Refusal::UnsupportedModifier("expand".into()));
    assert_eq!(r("c-uri|base64|utf16le: 'x'"), Refusal::UnsupportedModifier("utf16le".into()));
    assert_eq!(r("cs-cookie: 'x'"), Refusal::UnmappedField("cs-cookie".into()));
    assert!(matches!(r("c-uri|re|contains: 'x'"), Refusal::BadModifiers(_)));
    assert!(matches!(r("c-uri|contains|startswith: 'x'"), Refusal::BadModifiers(_)));
    assert!(matches!(r("sc-status|gt: 'x'"), Refusal::BadValue(_)));
    assert!(matches!(refusal("    sel:\n        c-uri: x\n    condition: sel and other"), Refusal::BadCondition(_)));
    assert!(matches!(refusal("    sel:\n        c-uri: x\n    condition: sel | count() > 5"), Refusal::BadCondition(_)));
    assert!(matches!(refusal("    sel:\n        c-uri: x\n    condition: 2 of sel*"), Refusal::BadCondition(_)));
    assert!(matches!(refusal("    sel:\n        c-uri: x\n    condition: 1 of filter*"), Refusal::BadCondition(_)));
    assert!(matches!(refusal("    sel: []\n    condition: sel"), Refusal::BadDetection(_)));
}

#[test]
fn documents_collections_correlations_skips() {
    let text = format!(
        "{}---\n{}---\ntitle: c\nname: c\ncorrelation:\n    type: event_count\n    rules: [t]\n    group-by: [c-ip]\n    timespan: 1h\n    condition: {{gte: 10}}\n---\ntitle: w\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image: x\n    condition: sel\n",
        rule("    sel:\n        c-uri: a\n    condition: sel"),
        rule("    sel:\n        c-uri: b\n    condition: sel").replace("0001", "0002")
    );
    let (set, report) = RuleSet::from_yaml_str(&text, "multi.yml");
    assert_eq!(set.len(), 2);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].reason, Refusal::UnknownRule("t".into()));
    assert_eq!(
        report.skipped_by_logsource().into_iter().collect::<Vec<_>>(),
        vec![("category=process_creation,product=windows".to_string(), 1)]
    );
    // A collection is refused as a whole.
    let text =
        "action: global\nlogsource:\n    category: proxy\n---\ntitle: a\ndetection:\n    sel:\n        c-uri: a\n    condition: sel\n";
    let (set, report) = RuleSet::from_yaml_str(text, "coll.yml");
    assert!(set.is_empty());
    assert_eq!(report.refused.len(), 2);
    assert!(report.refused.iter().all(|r| r.reason == Refusal::CollectionNotSupported("global".into())));
    // Duplicate ids: the second is refused.
    let one = rule("    sel:\n        c-uri: a\n    condition: sel");
    let (set, report) = RuleSet::from_yaml_str(&format!("{one}---\n{one}"), "dup.yml");
    assert_eq!(set.len(), 1);
    assert!(matches!(report.refused[0].reason, Refusal::DuplicateId(_)));
    // Broken YAML and aliases are refused, not fatal.
    let (_, report) = RuleSet::from_yaml_str("title: [unclosed\n", "bad.yml");
    assert!(matches!(report.refused[0].reason, Refusal::Yaml(_)));
    let (_, report) = RuleSet::from_yaml_str("a: &x [1]\nb: *x\n", "alias.yml");
    assert!(matches!(report.refused[0].reason, Refusal::Yaml(_)));
}

#[test]
fn field_map_overrides() {
    let map = FieldMap::with_overrides([("cs-cookie", "content_type")]).unwrap();
    let opts = LoadOptions { field_map: map, ..LoadOptions::default() };
    let (set, report) = RuleSet::from_yaml_str_with(&rule("    sel:\n        cs-cookie: x\n    condition: sel"), "t", &opts);
    assert!(report.refused.is_empty());
    assert_eq!(fired(&set, &[Ev::new().set("content_type", "X"), Ev::new()]), vec![0]);
    assert!(FieldMap::with_overrides([("x", "nope")]).is_err());
    assert!(FieldMap::with_overrides([("x", "ts")]).is_err());
}

#[test]
fn uri_extension_is_derived_from_path() {
    let det = "    sel:\n        c-uri-extension:\n            - 'exe'\n            - 'ps1'\n    condition: sel";
    let p = |s: &str| Ev::new().set("path", s);
    assert_eq!(rows(det, &[p("/a/b.EXE"), p("/a/b.ps1"), p("/a.exe/b"), p("/a/b.exe.txt"), p("/a/exe"), Ev::new()]), vec![0, 1]);
}

#[test]
fn neutral_tree_shape() {
    let set = rules(&rule("    sel:\n        sc-status: 404\n        c-uri|contains: 'X'\n    condition: not sel"));
    let c = &set.rules()[0].condition;
    assert_eq!(
        c,
        &Condition::Not(Box::new(Condition::And(vec![
            Condition::Atom(Atom {
                column: Column::Event("status".into()),
                matcher: Matcher::Numeric { op: NumOp::Eq, value: Number(404.0) }
            }),
            Condition::Atom(Atom { column: Column::Event("url".into()), matcher: Matcher::Contains { value: "X".into(), cased: false } }),
        ])))
    );
    // `not sel` fires on a row where no atom holds.
    let a = SigmaAnalyser::new(set.clone()).unwrap();
    let b = common::batch(&[Ev::new(), Ev::new().status(404).set("url", "x")]);
    assert_eq!(a.evaluate(&b).unwrap().iter().map(|d| d.row).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn unicode_case_insensitivity() {
    // Non-ASCII text is lowercased on both sides.
    let det = "    sel:\n        c-useragent|contains: 'ÄRGER'\n    condition: sel";
    assert_eq!(rows(det, &[ua("x ärger y"), ua("x ÄRGER y"), ua("x arger y")]), vec![0, 1]);
    // ASCII patterns match ASCII parts of non-ASCII text.
    let det = "    sel:\n        c-useragent|startswith: 'bot'\n    condition: sel";
    assert_eq!(rows(det, &[ua("BOT é"), ua("é BOT")]), vec![0]);
}

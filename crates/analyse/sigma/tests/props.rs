//! Property tests: the compiled evaluator equals the naive one on random rule trees and
//! events; loading never panics on random or mutated YAML.
mod common;

use common::{Ev, batch, sigma_dir};
use proptest::prelude::*;
use sweep_sigma::tree::{Atom, Cidr, Column, Condition, Matcher, NumOp, Number, Piece, RefKind, RegexFlags};
use sweep_sigma::{Rule, RuleMeta, RuleSet, SigmaAnalyser, evaluate_naive};

const COLS: [&str; 6] = ["url", "user_agent", "host", "referrer", "server_ip", "path"];
const ALPHABET: [&str; 16] = ["a", "b", "A", "B", "é", "É", "ß", "İ", "K", "*", "?", "\\", "/", ".", "x", "ab"];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 0..6).prop_map(|v| v.concat())
}

fn column() -> impl Strategy<Value = Column> {
    prop_oneof![
        6 => prop::sample::select(COLS.to_vec()).prop_map(|c| Column::Event(c.to_string())),
        1 => Just(Column::PathExtension),
    ]
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let piece = prop_oneof![
        3 => text().prop_filter("non-empty", |s| !s.is_empty()).prop_map(Piece::Literal),
        1 => Just(Piece::AnyChars),
        1 => Just(Piece::AnyChar),
    ];
    prop_oneof![
        3 => (text(), any::<bool>()).prop_map(|(value, cased)| Matcher::Equals { value, cased }),
        3 => (text(), any::<bool>()).prop_map(|(value, cased)| Matcher::Contains { value, cased }),
        2 => (text(), any::<bool>()).prop_map(|(value, cased)| Matcher::StartsWith { value, cased }),
        2 => (text(), any::<bool>()).prop_map(|(value, cased)| Matcher::EndsWith { value, cased }),
        2 => (prop::collection::vec(piece, 1..5), any::<bool>()).prop_map(|(pattern, cased)| Matcher::Wildcard { pattern, cased }),
        1 => (prop::sample::select(vec!["a.b", "^A", "b$", "(?i)é", "[ab]+x", "^$"]), any::<bool>(), any::<bool>())
            .prop_map(|(p, i, s)| Matcher::Regex { pattern: p.to_string(), flags: RegexFlags { case_insensitive: i, multi_line: false, dot_all: s } }),
        1 => prop::sample::select(vec!["10.0.0.0/8", "fe80::/10", "10.1.2.3", "0.0.0.0/0"]).prop_map(|c| Matcher::Cidr(Cidr::parse(c).unwrap())),
        1 => (prop::sample::select(vec![NumOp::Eq, NumOp::Lt, NumOp::Gte]), prop::sample::select(vec![0.0, 5.0, 10.0]))
            .prop_map(|(op, v)| Matcher::Numeric { op, value: Number(v) }),
        1 => any::<bool>().prop_map(Matcher::Exists),
        1 => Just(Matcher::Null),
        1 => (column(), prop::sample::select(vec![RefKind::Equals, RefKind::Contains, RefKind::StartsWith, RefKind::EndsWith]), any::<bool>())
            .prop_map(|(other, kind, cased)| Matcher::FieldRef { other, kind, cased }),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    let leaf = (column(), matcher()).prop_map(|(column, matcher)| Condition::Atom(Atom { column, matcher }));
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Condition::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Condition::Or),
            inner.prop_map(|c| Condition::Not(Box::new(c))),
        ]
    })
}

fn event() -> impl Strategy<Value = Ev> {
    let ip = prop::sample::select(vec!["10.9.8.7", "fe80::1", "192.168.0.1", "::1", "x", "5", "10"]);
    (prop::collection::vec(prop::option::of(text()), COLS.len()), prop::option::of(ip), prop::option::of(text())).prop_map(
        |(vals, ip, path)| {
            let mut ev = Ev::new();
            for (c, v) in COLS.iter().zip(vals) {
                ev.text.push((c, v));
            }
            ev.text.retain(|(c, _)| *c != "server_ip" && *c != "path");
            ev.text.push(("server_ip", ip.map(str::to_string)));
            ev.text.push(("path", path.map(|p| format!("/d/{p}"))));
            ev
        },
    )
}

fn set_of(conds: Vec<Condition>) -> RuleSet {
    let mut set = RuleSet::default();
    for (i, condition) in conds.into_iter().enumerate() {
        let meta = RuleMeta {
            id: Some(format!("r{i}")),
            name: None,
            title: format!("r{i}"),
            status: None,
            level: None,
            description: None,
            tags: vec![],
            category: Some("proxy".into()),
            product: None,
            service: None,
            origin: "prop".into(),
            document: i,
        };
        set.push(Rule { meta, condition });
    }
    set
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn compiled_equals_naive(conds in prop::collection::vec(condition(), 1..6), evs in prop::collection::vec(event(), 1..8)) {
        let set = set_of(conds);
        let b = batch(&evs);
        let naive = evaluate_naive(&set, &b).unwrap();
        let compiled = SigmaAnalyser::new(set).unwrap().evaluate(&b).unwrap();
        prop_assert_eq!(compiled, naive);
    }

    #[test]
    fn random_yaml_never_panics(text in "(?s).{0,200}") {
        let _ = RuleSet::from_yaml_str(&text, "random");
    }

    #[test]
    fn mutated_rules_never_panic(file in 0usize..42, edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3, prop::sample::select(vec!["", "|", ":", "- ", "*", "\\", "'", "\"", "{", "[", "\n", "  ", "null", "|re", "|all", "not ", " of ", "(", ")"])), 1..6)) {
        let mut files: Vec<_> = ["proxy", "webserver"].iter().flat_map(|d| std::fs::read_dir(sigma_dir().join(d)).unwrap().map(|e| e.unwrap().path())).collect();
        files.sort();
        let mut text = std::fs::read_to_string(&files[file]).unwrap();
        for (at, kind, s) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            match kind {
                0 => text.insert_str(i, s),
                1 => { let mut j = (i + 5).min(text.len()); while !text.is_char_boundary(j) { j -= 1; } text.replace_range(i..j, s) }
                _ => text.truncate(i),
            }
        }
        let (set, _) = RuleSet::from_yaml_str(&text, "mutated");
        // Whatever loaded must compile and evaluate.
        let a = SigmaAnalyser::new(set).unwrap();
        a.evaluate(&batch(&[Ev::benign(), Ev::new()])).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Long batches: values repeat (memoised per column) and then become mostly distinct
    /// (the memo is dropped mid-batch); the result must not change.
    #[test]
    fn compiled_equals_naive_on_long_batches(conds in prop::collection::vec(condition(), 1..6), evs in prop::collection::vec(event(), 1..8), distinct_from in 0usize..2500) {
        let set = set_of(conds);
        let long: Vec<Ev> = (0..2500)
            .map(|i| {
                let mut ev = evs[i % evs.len()].clone();
                if i >= distinct_from {
                    for (_, v) in ev.text.iter_mut() {
                        if let Some(v) = v {
                            v.push_str(&format!("/{}", i % 7 * 1000 + i));
                        }
                    }
                }
                ev
            })
            .collect();
        let b = batch(&long);
        let naive = evaluate_naive(&set, &b).unwrap();
        let compiled = SigmaAnalyser::new(set).unwrap().evaluate(&b).unwrap();
        prop_assert_eq!(compiled, naive);
    }
}

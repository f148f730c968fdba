//! The 42 bundled SigmaHQ rules (shared/data/sigma): what loads, what is refused and why, and
//! that each loaded rule fires on an event planted from its own values and not on a benign one.
mod common;

use std::collections::BTreeMap;

use common::{Ev, batch, sigma_dir};
use sweep_sigma::tree::{Column, Condition, Matcher, NumOp, Piece};
use sweep_sigma::{LoadOptions, Refusal, RuleSet, SigmaAnalyser, evaluate_naive};

#[test]
fn load_counts_and_refusals() {
    let (set, report) = RuleSet::load(&[sigma_dir()], &LoadOptions::default());
    let refused: Vec<(String, Refusal)> =
        report.refused.iter().map(|r| (r.origin.rsplit('/').next().unwrap().to_string(), r.reason.clone())).collect();
    assert_eq!(
        refused,
        vec![("proxy_hktl_cobalt_strike_malleable_c2_requests.yml".to_string(), Refusal::UnmappedField("cs-cookie".into()))]
    );
    assert_eq!(set.len(), 41);
    assert_eq!(report.loaded.len(), 41);
    assert!(report.skipped.is_empty());
    let by_cat: BTreeMap<String, usize> = report.loaded.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.category.clone().unwrap()).or_insert(0) += 1;
        m
    });
    assert_eq!(by_cat, BTreeMap::from([("proxy".to_string(), 28), ("webserver".to_string(), 13)]));
    assert!(report.loaded.iter().all(|r| r.id.is_some() && r.level.is_some() && r.status.is_some()));
    // The same rules with only the webserver category: proxy rules are skipped and counted.
    let opts = LoadOptions { categories: vec!["webserver".into()], ..LoadOptions::default() };
    let (set, report) = RuleSet::load(&[sigma_dir()], &opts);
    assert_eq!(set.len(), 13);
    assert_eq!(report.skipped_by_logsource(), BTreeMap::from([("category=proxy".to_string(), 29)]));
}

/// Values to give a column so that the planted atoms hold.
#[derive(Default, Clone)]
struct Plant {
    exact: Option<Option<String>>,
    prefix: String,
    middle: Vec<String>,
    suffix: String,
    number: Option<i32>,
}

/// Examples for the `re` values of the bundled rules (a regex cannot be planted generically).
fn regex_example(pattern: &str) -> &'static str {
    match pattern {
        p if p.contains("ipfs") => "https://ipfs.io/ipfs/bafy.html#victim@example.com",
        p => panic!("no example for regex {p}"),
    }
}

fn plant(c: &Condition, k: usize, out: &mut BTreeMap<Column, Plant>) {
    match c {
        Condition::And(v) => v.iter().for_each(|c| plant(c, k, out)),
        Condition::Or(v) => plant(&v[k % v.len()], k / v.len().max(1) + k, out),
        Condition::Not(_) => {}
        Condition::Atom(a) => {
            let p = out.entry(a.column.clone()).or_default();
            match &a.matcher {
                Matcher::Equals { value, .. } => p.exact = Some(Some(value.clone())),
                Matcher::Contains { value, .. } => p.middle.push(value.clone()),
                Matcher::StartsWith { value, .. } => p.prefix = value.clone(),
                Matcher::EndsWith { value, .. } => p.suffix = value.clone(),
                Matcher::Wildcard { pattern, .. } => {
                    let text = pattern
                        .iter()
                        .map(|p| match p {
                            Piece::Literal(s) => s.as_str(),
                            Piece::AnyChars => "",
                            Piece::AnyChar => "x",
                        })
                        .collect::<String>();
                    p.exact = Some(Some(text));
                }
                Matcher::Regex { pattern, .. } => p.exact = Some(Some(regex_example(pattern).to_string())),
                Matcher::Cidr(c) => p.exact = Some(Some(c.network.to_string())),
                Matcher::Numeric { op, value } => {
                    let v = value.0 as i32;
                    p.number = Some(match op {
                        NumOp::Eq | NumOp::Lte | NumOp::Gte => v,
                        NumOp::Lt => v - 1,
                        NumOp::Gt => v + 1,
                    })
                }
                Matcher::Exists(true) => p.exact = Some(Some("x".into())),
                Matcher::Exists(false) | Matcher::Null => p.exact = Some(None),
                Matcher::FieldRef { .. } => panic!("no bundled rule uses fieldref"),
            }
        }
    }
}

fn planted_event(plants: &BTreeMap<Column, Plant>) -> Ev {
    let mut ev = Ev::benign().set("host", "files.example.test").set("url", "http://files.example.test/");
    for (col, p) in plants {
        if let Some(n) = p.number {
            assert_eq!(col.source(), "status");
            ev = ev.status(n);
            continue;
        }
        let value = match &p.exact {
            Some(v) => v.clone(),
            None => Some(format!("{}{}{}", p.prefix, p.middle.concat(), p.suffix)),
        };
        let name: &'static str = match col {
            Column::PathExtension => {
                ev = ev.set("path", &format!("/download/file.{}", value.unwrap_or_default()));
                continue;
            }
            Column::Event(n) => common::TEXT_COLUMNS.iter().find(|c| *c == n).copied().expect("text column"),
        };
        ev.text.retain(|(c, _)| *c != name);
        ev.text.push((name, value));
    }
    ev
}

#[test]
fn every_loaded_rule_fires_on_its_planted_event_and_not_on_a_benign_one() {
    let (set, _) = RuleSet::load(&[sigma_dir()], &LoadOptions::default());
    let analyser = SigmaAnalyser::new(set.clone()).unwrap();
    // The benign request fires nothing.
    let benign = batch(&[Ev::benign()]);
    assert_eq!(analyser.evaluate(&benign).unwrap(), vec![]);
    let mut not_planted = Vec::new();
    for (i, rule) in set.rules().iter().enumerate() {
        let mut fired = false;
        for k in 0..8 {
            let mut plants = BTreeMap::new();
            plant(&rule.condition, k, &mut plants);
            let b = batch(&[planted_event(&plants)]);
            let got = analyser.evaluate(&b).unwrap();
            assert_eq!(got, evaluate_naive(&set, &b).unwrap());
            if got.iter().any(|d| d.rule.0 == i) {
                fired = true;
                break;
            }
        }
        if !fired {
            not_planted.push(rule.meta.origin.rsplit('/').next().unwrap().to_string());
        }
    }
    assert_eq!(not_planted, Vec::<String>::new());
}

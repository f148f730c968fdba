//! False-positive rates on real benign names, and the DGA detector's rates on held-out and
//! synthetic names. The numbers are printed (`cargo test -- --nocapture`) and written in
//! docs/content.md; the assertions are the bounds the docs promise.

mod common;

use std::collections::BTreeMap;

use common::*;
use sweep_content::dga::{DgaModel, benign_labels, synth::Rng};
use sweep_content::spec::DEFAULT_DGA_THRESHOLD;
use sweep_content::{BUNDLED_BENIGN, ContentAnalyser, FindingKind};

/// Flagged hosts per detector.
fn flagged<'a>(a: &ContentAnalyser, hosts: &[&'a str]) -> BTreeMap<FindingKind, Vec<&'a str>> {
    let mut out: BTreeMap<FindingKind, Vec<&str>> = FindingKind::ALL.iter().map(|&k| (k, Vec::new())).collect();
    for h in hosts {
        for f in a.judge(h) {
            out.get_mut(&f.kind).unwrap().push(h);
        }
    }
    out
}

fn report(name: &str, n: usize, by: &BTreeMap<FindingKind, Vec<&str>>) {
    for (k, v) in by {
        println!("{name}: {k}: {} of {n} ({:.2}%) {v:?}", v.len(), 100.0 * v.len() as f64 / n as f64);
    }
}

#[test]
fn bundled_benign_list_false_positive_rates() {
    let a = default_analyser();
    let hosts = list(BUNDLED_BENIGN);
    assert!(hosts.len() > 3500, "{}", hosts.len());
    let by = flagged(&a, &hosts);
    report("benign_top.txt", hosts.len(), &by);
    let rate = |k: FindingKind| by[&k].len() as f64 / hosts.len() as f64;
    assert_eq!(by[&FindingKind::MissingFqdn].len(), 0);
    assert!(rate(FindingKind::Typosquat) <= 0.003, "typosquat FP {:?}", by[&FindingKind::Typosquat]);
    assert!(rate(FindingKind::Masquerade) <= 0.002, "masquerade FP {:?}", by[&FindingKind::Masquerade]);
    assert!(rate(FindingKind::Dga) <= 0.001, "dga FP (in-sample) {:?}", by[&FindingKind::Dga]);
    let any = hosts.iter().filter(|h| !a.judge(h).is_empty()).count();
    println!("benign_top.txt: any detector: {any} of {} ({:.2}%)", hosts.len(), 100.0 * any as f64 / hosts.len() as f64);
    assert!(any as f64 / hosts.len() as f64 <= 0.005);
}

#[test]
fn real_referrer_hosts_false_positive_rates() {
    // Hosts not chosen by us: the referrers of a real 2015 Apache log.
    let a = default_analyser();
    let hosts = list(include_str!("fixtures/apache_referrer_hosts.txt"));
    assert!(hosts.len() > 150, "{}", hosts.len());
    let by = flagged(&a, &hosts);
    report("apache referrers", hosts.len(), &by);
    let any = hosts.iter().filter(|h| !a.judge(h).is_empty()).count();
    assert!(any as f64 / hosts.len() as f64 <= 0.02, "{any} flagged");
}

#[test]
fn dga_rates_on_held_out_benign_and_synthetic_names() {
    // The model is trained on half of the benign list; the other half is unseen.
    let labels: Vec<&str> = benign_labels(BUNDLED_BENIGN).collect();
    let model = DgaModel::train(labels.iter().step_by(2).copied());
    let held_out: Vec<&str> = labels.iter().skip(1).step_by(2).copied().filter(|l| l.len() >= 8).collect();
    let t = DEFAULT_DGA_THRESHOLD;
    let flagged = |names: &[&str]| names.iter().filter(|l| model.score(l).unwrap() >= t).count() as f64 / names.len() as f64;
    let fp = flagged(&held_out);
    println!("dga held-out benign FP: {:.2}% of {} names", 100.0 * fp, held_out.len());
    assert!(fp <= 0.005);
    let probe: Vec<&str> = benign_labels(include_str!("fixtures/non_english_names.txt")).collect();
    let probe_fp = flagged(&probe);
    println!("dga non-English probe FP: {:.1}% of {}", 100.0 * probe_fp, probe.len());
    assert!(probe_fp <= 0.2, "a known weakness, bounded: {probe_fp}");

    let mut rng = Rng(11);
    let generate = |f: fn(&mut Rng) -> String, rng: &mut Rng| -> Vec<String> { (0..2000).map(|_| f(rng)).collect() };
    for (name, f, min_tp, max_tp) in [
        ("random letters", Rng::letters as fn(&mut Rng) -> String, 0.85, 1.0),
        ("random letters and digits", Rng::alnum, 0.97, 1.0),
        ("hex", Rng::hex, 0.99, 1.0),
        ("pronounceable", Rng::pronounceable, 0.0, 0.05),
        ("dictionary words", Rng::words, 0.0, 0.05),
    ] {
        let names = generate(f, &mut rng);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let tp = flagged(&refs);
        println!("dga synthetic {name}: {:.1}% flagged", 100.0 * tp);
        assert!(tp >= min_tp && tp <= max_tp, "{name}: {tp}");
    }
}

//! How the DGA weights and threshold were chosen.
//!
//!     cargo run --release -p sweep-content --example dga_fit
//!
//! The bundled benign list is split in two: the bigram model is trained on the even lines,
//! and the odd lines are the benign test names. Synthetic DGA names (random letters, random
//! letters and digits, hex) are the positives. A logistic regression on the five features is
//! fitted (gradient descent on standardised features) and its weights printed in raw units;
//! then the weights in `sweep_content::dga::WEIGHTS` are evaluated at several thresholds:
//! false-positive rate on the held-out benign names, true-positive rate per synthetic family
//! (pronounceable and dictionary-word families included, which the detector is not meant to
//! catch). Only names of at least `min_length` (8) characters are judged, as in the analyser.

use sweep_content::dga::{self, DgaModel, benign_labels, synth::Rng};

const MIN_LENGTH: usize = 8;

fn main() {
    let lines: Vec<&str> = benign_labels(dga::BUNDLED_BENIGN).collect();
    let train: Vec<&str> = lines.iter().step_by(2).copied().collect();
    let test: Vec<&str> = lines.iter().skip(1).step_by(2).copied().filter(|l| l.len() >= MIN_LENGTH).collect();
    let model = DgaModel::train(train.iter().copied());
    let mut rng = Rng(7);
    let fam = |rng: &mut Rng, k: usize| -> Vec<String> {
        (0..2000)
            .map(|_| match k {
                0 => rng.letters(),
                1 => rng.alnum(),
                2 => rng.hex(),
                3 => rng.pronounceable(),
                _ => rng.words(),
            })
            .collect()
    };
    let families: Vec<(&str, Vec<String>)> = ["random letters", "random letters+digits", "hex", "pronounceable", "dictionary words"]
        .iter()
        .enumerate()
        .map(|(k, n)| (*n, fam(&mut rng, k)))
        .collect();

    // Fit on benign test names (label 0) and the first three families (label 1).
    let mut xs: Vec<[f64; 5]> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for l in &test {
        xs.push(model.features(l).unwrap().vector());
        ys.push(0.0);
    }
    for (_, names) in &families[..3] {
        for n in names.iter().take(700) {
            xs.push(model.features(n).unwrap().vector());
            ys.push(1.0);
        }
    }
    let n = xs.len() as f64;
    let mut mean = [0.0; 5];
    let mut sd = [0.0; 5];
    for x in &xs {
        for j in 0..5 {
            mean[j] += x[j] / n;
        }
    }
    for x in &xs {
        for j in 0..5 {
            sd[j] += (x[j] - mean[j]).powi(2) / n;
        }
    }
    sd.iter_mut().for_each(|s| *s = s.sqrt().max(1e-9));
    // Benign names weigh more: a false positive costs an analyst's time on every event.
    let wpos = 0.5;
    let mut w = [0.0f64; 6];
    for _ in 0..20_000 {
        let mut g = [0.0f64; 6];
        for (x, &y) in xs.iter().zip(&ys) {
            let z = w[0] + (0..5).map(|j| w[j + 1] * (x[j] - mean[j]) / sd[j]).sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            let c = if y > 0.5 { wpos } else { 1.0 };
            g[0] += c * (p - y);
            for j in 0..5 {
                g[j + 1] += c * (p - y) * (x[j] - mean[j]) / sd[j];
            }
        }
        for j in 0..6 {
            w[j] -= 0.5 * g[j] / n + 1e-4 * if j > 0 { w[j] } else { 0.0 };
        }
    }
    let mut raw = [0.0; 6];
    raw[0] = w[0] - (0..5).map(|j| w[j + 1] * mean[j] / sd[j]).sum::<f64>();
    for j in 0..5 {
        raw[j + 1] = w[j + 1] / sd[j];
    }
    println!("bigram model: {} training names; {} held-out benign names of >= {MIN_LENGTH} chars", train.len(), test.len());
    println!("fitted weights (raw units): [{:.2}, {:.2}, {:.2}, {:.2}, {:.2}, {:.2}]", raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]);
    println!("weights in use:             {:?}", dga::WEIGHTS);
    let probe: Vec<&str> = benign_labels(include_str!("../tests/fixtures/non_english_names.txt")).collect();
    let sc = |w: &[f64; 6], l: &str| {
        let x = model.features(l).unwrap().vector();
        1.0 / (1.0 + (-(w[0] + (0..5).map(|j| w[j + 1] * x[j]).sum::<f64>())).exp())
    };
    for (title, weights) in [("fitted weights", raw), ("weights in use", dga::WEIGHTS)] {
        println!();
        println!("{title}: threshold, benign FP (held out), TP per family");
        println!("threshold  benign-FP  non-English-FP {}", families.iter().map(|(n, _)| format!("{n:>22}")).collect::<String>());
        for t in [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99] {
            let fp = test.iter().filter(|l| sc(&weights, l) >= t).count();
            print!("{t:>9.2}  {fp:>4} ({:>5.2}%)", 100.0 * fp as f64 / test.len() as f64);
            let pf = probe.iter().filter(|l| sc(&weights, l) >= t).count();
            print!("  {pf:>2}/{} ({:>4.1}%)", probe.len(), 100.0 * pf as f64 / probe.len() as f64);
            for (_, names) in &families {
                let judged: Vec<&String> = names.iter().filter(|n| n.len() >= MIN_LENGTH).collect();
                let tp = judged.iter().filter(|n| sc(&weights, n) >= t).count();
                print!("{:>21.1}%", 100.0 * tp as f64 / judged.len() as f64);
            }
            println!();
        }
    }
    let t = sweep_content::spec::DEFAULT_DGA_THRESHOLD;
    let mut fps: Vec<(f64, &str)> = test.iter().map(|l| (sc(&dga::WEIGHTS, l), *l)).collect();
    fps.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "\nheld-out benign names with the highest scores (weights in use; threshold {t}): {:?}",
        fps.iter().take(25).collect::<Vec<_>>()
    );
    let mut ps: Vec<(f64, &str)> = probe.iter().map(|l| (sc(&dga::WEIGHTS, l), *l)).collect();
    ps.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("non-English probe, highest scores: {:?}", ps.iter().take(10).collect::<Vec<_>>());
    let full = DgaModel::bundled();
    let all: Vec<&str> = lines.iter().copied().filter(|l| l.len() >= MIN_LENGTH).collect();
    let fp_all = all.iter().filter(|l| full.features(l).unwrap().score >= t).count();
    println!(
        "bundled model on the whole list (in-sample): {fp_all} of {} names of >= {MIN_LENGTH} chars ({:.2}%)",
        all.len(),
        100.0 * fp_all as f64 / all.len() as f64
    );
}

//! `dga`: is a name algorithmically generated?
//!
//! The score of a label (the registrable name without its public suffix: `xjw9q2kz7hf0v3lp`
//! in `xjw9q2kz7hf0v3lp.com`) is a logistic function of five character statistics:
//! - the average log2-likelihood of its character bigrams (start and end of the label
//!   included) under a model of benign names, trained at first use from the bundled list
//!   `data/benign_top.txt` with add-½ smoothing over `a-z 0-9 -`;
//! - its Shannon entropy, in bits per character;
//! - its longest run of consonants (`y` counts as a vowel; digits end a run);
//! - the share of digits, when letters are mixed in (an all-digit name such as `163` scores 0);
//! - the natural log of its length.
//!
//! The weights were fitted by `examples/dga_fit.rs` (logistic regression) on one half of the
//! benign list against synthetic random-character names, with the bigram model trained on the
//! other half; docs/content.md gives the measured rates.

use std::sync::LazyLock;

use crate::typo::split_registrable;

/// The bundled benign names (`data/benign_top.txt`).
pub const BUNDLED_BENIGN: &str = include_str!("../data/benign_top.txt");

const SYMS: usize = 38; // 0: start/end of label, 1..=26: a-z, 27..=36: 0-9, 37: '-'

fn sym(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(1 + (b - b'a') as usize),
        b'A'..=b'Z' => Some(1 + (b - b'A') as usize),
        b'0'..=b'9' => Some(27 + (b - b'0') as usize),
        b'-' => Some(37),
        _ => None,
    }
}

/// Weights of the logistic score: intercept, then bigram surprise (minus the average
/// log2-likelihood), entropy, longest consonant run, digit share, ln(length).
/// Fitted by `examples/dga_fit.rs`.
pub const WEIGHTS: [f64; 6] = [-35.05, 5.62, 0.52, 0.72, 2.66, 1.63];

/// The character statistics of one label and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DgaFeatures {
    pub length: usize,
    /// Average log2-probability per bigram (higher is more name-like; benign names average
    /// about -3.5, random strings -6 or lower).
    pub bigram_log2: f64,
    pub entropy: f64,
    pub consonant_run: usize,
    pub digit_ratio: f64,
    /// In [0, 1].
    pub score: f64,
}

impl DgaFeatures {
    /// The inputs of the logistic score, in the order of [`WEIGHTS`] (without the intercept).
    pub fn vector(&self) -> [f64; 5] {
        [-self.bigram_log2, self.entropy, self.consonant_run as f64, self.digit_ratio, (self.length as f64).ln()]
    }
}

/// A character-bigram model of benign names.
#[derive(Debug, Clone)]
pub struct DgaModel {
    log2p: Vec<f32>, // SYMS x SYMS, row = previous symbol
    names: usize,
}

static BUNDLED: LazyLock<DgaModel> = LazyLock::new(|| DgaModel::train(benign_labels(BUNDLED_BENIGN)));

/// The registrable labels of a host list (one host a line, `#` comments); hosts without a
/// registrable domain are skipped.
pub fn benign_labels(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|h| split_registrable(h).map(|(_, label, _)| label))
}

impl DgaModel {
    /// The model trained on the bundled benign list (built once, on first use).
    pub fn bundled() -> &'static DgaModel {
        &BUNDLED
    }

    /// Trains a model on names (labels; characters outside `a-z 0-9 -` are skipped).
    pub fn train<'a>(labels: impl IntoIterator<Item = &'a str>) -> DgaModel {
        let mut counts = vec![0u32; SYMS * SYMS];
        let mut names = 0;
        for l in labels {
            names += 1;
            let mut prev = 0;
            for s in l.bytes().filter_map(sym) {
                counts[prev * SYMS + s] += 1;
                prev = s;
            }
            counts[prev * SYMS] += 1;
        }
        const ALPHA: f64 = 0.5;
        let mut log2p = vec![0f32; SYMS * SYMS];
        for row in 0..SYMS {
            let total: u32 = counts[row * SYMS..(row + 1) * SYMS].iter().sum();
            let denom = f64::from(total) + ALPHA * SYMS as f64;
            for col in 0..SYMS {
                log2p[row * SYMS + col] = ((f64::from(counts[row * SYMS + col]) + ALPHA) / denom).log2() as f32;
            }
        }
        DgaModel { log2p, names }
    }

    /// How many names the model was trained on.
    pub fn names(&self) -> usize {
        self.names
    }

    /// The statistics and score of a label; `None` for an empty label or one with characters
    /// outside `a-z 0-9 -`.
    pub fn features(&self, label: &str) -> Option<DgaFeatures> {
        let b = label.as_bytes();
        if b.is_empty() {
            return None;
        }
        let mut ll = 0f64;
        let mut prev = 0;
        let mut hist = [0u16; SYMS];
        let (mut run, mut best_run, mut digits) = (0usize, 0usize, 0usize);
        for &c in b {
            let s = sym(c)?;
            ll += f64::from(self.log2p[prev * SYMS + s]);
            prev = s;
            hist[s] += 1;
            let lc = c.to_ascii_lowercase();
            if lc.is_ascii_digit() {
                digits += 1;
            }
            if lc.is_ascii_alphabetic() && !matches!(lc, b'a' | b'e' | b'i' | b'o' | b'u' | b'y') {
                run += 1;
                best_run = best_run.max(run);
            } else {
                run = 0;
            }
        }
        ll += f64::from(self.log2p[prev * SYMS]);
        let n = b.len() as f64;
        let entropy = -hist.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| p * p.log2()).sum::<f64>();
        let digit_ratio = if digits == b.len() { 0.0 } else { digits as f64 / n };
        let mut f = DgaFeatures { length: b.len(), bigram_log2: ll / (n + 1.0), entropy, consonant_run: best_run, digit_ratio, score: 0.0 };
        f.score = score(&f.vector());
        Some(f)
    }

    /// The part of a registrable name that is judged, with its statistics: each `-`-separated
    /// part with the digits at its ends trimmed (`awsdns-09`, `l-msedge`, `007game01` are a
    /// word and a number: infrastructure and shop names, not generated ones), the highest
    /// scoring part of at least `min_length` characters. `None` when no part is that long.
    pub fn judge_label<'a>(&self, label: &'a str, min_length: usize) -> Option<(&'a str, DgaFeatures)> {
        label
            .split('-')
            .map(|part| part.trim_matches(|c: char| c.is_ascii_digit()))
            .filter(|part| part.len() >= min_length)
            .filter_map(|part| Some((part, self.features(part)?)))
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
    }

    /// The score of a label in [0, 1]; `None` as for [`DgaModel::features`].
    pub fn score(&self, label: &str) -> Option<f64> {
        self.features(label).map(|f| f.score)
    }
}

/// The logistic score of a feature vector.
pub fn score(x: &[f64; 5]) -> f64 {
    let z = WEIGHTS[0] + x.iter().zip(&WEIGHTS[1..]).map(|(a, w)| a * w).sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

/// The reason text for a flagged name.
pub fn reason(host: &str, label: &str, f: &DgaFeatures) -> String {
    let mut why = vec![format!(
        "its letter pairs are rare in real site names ({:.1} bits of surprise per pair, real names average about 3.5)",
        -f.bigram_log2
    )];
    if f.digit_ratio > 0.0 {
        let d = (f.digit_ratio * f.length as f64).round() as usize;
        why.push(format!("{d} of its {} characters are digits mixed with letters", f.length));
    }
    if f.consonant_run >= 4 {
        why.push(format!("{} consonants in a row", f.consonant_run));
    }
    why.push(format!("character entropy {:.1} bits", f.entropy));
    format!("host {host}: the name {label} looks machine-generated (score {:.2}): {}", f.score, why.join(", "))
}

/// Deterministic generators of synthetic names, for the tests, the fit and the benchmark.
#[doc(hidden)]
pub mod synth {
    /// splitmix64: small, fixed-seed, reproducible.
    #[derive(Debug, Clone)]
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }
        pub fn pick<'a>(&mut self, s: &'a [&'a str]) -> &'a str {
            s[self.below(s.len() as u64) as usize]
        }
        fn from(&mut self, alphabet: &[u8], min: u64, max: u64) -> String {
            let n = min + self.below(max - min + 1);
            (0..n).map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char).collect()
        }
        /// Random lower-case letters, 8 to 20 (Conficker, Ramnit, Necurs-style names).
        pub fn letters(&mut self) -> String {
            self.from(b"abcdefghijklmnopqrstuvwxyz", 8, 20)
        }
        /// Random letters and digits, 10 to 24 (Murofet, Gameover-style names).
        pub fn alnum(&mut self) -> String {
            self.from(b"abcdefghijklmnopqrstuvwxyz0123456789", 10, 24)
        }
        /// Hex digits, 16 to 32 (hash-derived names, Bamital-style).
        pub fn hex(&mut self) -> String {
            self.from(b"0123456789abcdef", 16, 32)
        }
        /// Alternating consonants and vowels, 8 to 16 (pronounceable generators).
        pub fn pronounceable(&mut self) -> String {
            let n = 8 + self.below(9);
            (0..n)
                .map(|i| if i % 2 == 0 { b"bcdfghjklmnprstvz"[self.below(17) as usize] } else { b"aeiou"[self.below(5) as usize] } as char)
                .collect()
        }
        /// Two or three English words run together (Suppobox, Matsnu-style names).
        pub fn words(&mut self) -> String {
            const W: &[&str] = &[
                "about", "after", "again", "below", "could", "every", "first", "found", "great", "house", "large", "learn", "never",
                "other", "place", "plant", "point", "right", "small", "sound", "spell", "still", "study", "their", "there", "these",
                "thing", "think", "three", "water", "where", "which", "world", "would", "write", "yellow", "river", "green", "table",
                "window", "garden", "silver", "stone", "money", "secure", "cloud", "market", "summer",
            ];
            let k = 2 + self.below(2);
            (0..k).map(|_| self.pick(W)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_of_known_names() {
        let m = DgaModel::bundled();
        assert!(m.names() > 3000, "trained on {} names", m.names());
        let f = m.features("xjw9q2kz7hf0v3lp").unwrap();
        assert_eq!(f.length, 16);
        assert!((f.digit_ratio - 5.0 / 16.0).abs() < 1e-9);
        assert_eq!(f.consonant_run, 3);
        assert!(f.bigram_log2 < -6.0, "{f:?}");
        let g = m.features("wikipedia").unwrap();
        assert!(g.bigram_log2 > -4.5, "{g:?}");
        assert_eq!(m.features("163").unwrap().digit_ratio, 0.0);
        assert!(m.features("a_b").is_none());
        assert!(m.features("").is_none());
    }

    #[test]
    fn a_word_and_a_number_is_not_judged() {
        let m = DgaModel::bundled();
        for name in ["awsdns-09", "l-msedge", "007game01", "1xlite-632331"] {
            assert!(m.judge_label(name, 8).is_none(), "{name}");
        }
        assert_eq!(m.judge_label("xjw9q2kz7hf0v3lp", 8).unwrap().0, "xjw9q2kz7hf0v3lp");
        assert_eq!(m.judge_label("3f8a9c0b7e6d5f4a1b2c", 8).unwrap().0, "f8a9c0b7e6d5f4a1b2c");
        assert_eq!(m.judge_label("cdn-qxvkzjwpfhtr", 8).unwrap().0, "qxvkzjwpfhtr");
    }
}

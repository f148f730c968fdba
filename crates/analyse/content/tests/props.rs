//! Properties on random input: the batch output is the per-host verdicts, scores stay in
//! [0, 1], the deletion index finds what a scan of the whole list finds, punycode round-trips.

mod common;

use common::*;
use proptest::prelude::*;
use sweep_content::typo::{Protected, osa};
use sweep_content::{ContentSpec, VerdictCache, punycode};

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        // Near a protected name.
        (
            prop::sample::select(vec!["paypal", "microsoft", "google", "amazon", "bankofamerica", "netflix", "coinbase"]),
            0usize..3,
            any::<u64>()
        )
            .prop_map(|(base, edits, seed)| mutate(base, edits, seed) + ".com"),
        "[a-z0-9]{3,20}\\.(com|net|xyz|co\\.uk|de)",
        "([a-z]{1,8}\\.){1,8}[a-z]{2,3}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "[a-zа-я0-9ο]{2,10}\\.com",
        Just(String::new()),
    ]
}

fn mutate(base: &str, edits: usize, mut seed: u64) -> String {
    let mut s: Vec<u8> = base.bytes().collect();
    for _ in 0..edits {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pos = (seed >> 33) as usize % (s.len() + 1);
        let c = b"abcdefghijklmnopqrstuvwxyz0135"[(seed >> 20) as usize % 30];
        match (seed >> 60) % 4 {
            0 if pos < s.len() => s[pos] = c,
            1 => s.insert(pos, c),
            2 if pos < s.len() && s.len() > 3 => {
                s.remove(pos);
            }
            _ if pos + 1 < s.len() => s.swap(pos, pos + 1),
            _ => {}
        }
    }
    String::from_utf8(s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batch_rows_are_the_per_host_verdicts(hosts in prop::collection::vec(prop::option::of(host()), 0..40)) {
        let a = default_analyser();
        let refs: Vec<Option<&str>> = hosts.iter().map(|h| h.as_deref()).collect();
        let got: Vec<(i64, String, f64, String)> = rows(&a.analyse(&batch(&refs)).unwrap())
            .into_iter().map(|r| (r.offset, r.finding, r.score, r.reason)).collect();
        let mut want = Vec::new();
        for (i, h) in hosts.iter().enumerate() {
            for f in a.judge(h.as_deref().unwrap_or("")) {
                want.push((i as i64 + 1, f.kind.as_str().to_string(), f.score, f.reason));
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_cache_across_batches_changes_nothing(batches in prop::collection::vec(prop::collection::vec(prop::option::of(host()), 0..20), 1..6), cap in 1usize..30) {
        let a = default_analyser();
        let mut cache = VerdictCache::new(cap);
        let mut events = 0;
        for hosts in &batches {
            let refs: Vec<Option<&str>> = hosts.iter().map(|h| h.as_deref()).collect();
            let b = batch(&refs);
            prop_assert_eq!(rows(&a.analyse_cached(&b, &mut cache).unwrap()), rows(&a.analyse(&b).unwrap()));
            events += hosts.iter().filter(|h| h.as_deref().is_some_and(|h| !h.is_empty())).count() as u64;
        }
        prop_assert_eq!(cache.hits() + cache.misses(), events);
    }

    #[test]
    fn scores_are_in_range_and_reasons_name_the_host(h in host()) {
        let a = default_analyser();
        for f in a.judge(&h) {
            prop_assert!((0.0..=1.0).contains(&f.score), "{:?}", f);
            prop_assert!(f.reason.starts_with("host "), "{:?}", f);
        }
    }

    #[test]
    fn deletion_index_finds_what_a_full_scan_finds(label in "[a-z0-9]{3,16}", seed in any::<u64>(), pick in 0usize..300, edits in 0usize..3) {
        let spec = ContentSpec::default();
        let list = sweep_content::typo::parse_list(sweep_content::BUNDLED_PROTECTED, "bundled").unwrap();
        let p = Protected::build(&list, &spec);
        // Half the time a mutation of a protected name, half a random label.
        let e = &p.entries[pick % p.entries.len()];
        let q = if seed % 2 == 0 { mutate(&e.label, edits, seed) } else { label };
        let best = p.entries.iter()
            .filter(|e| !e.generic && e.label.len() >= spec.typosquat.min_length)
            .map(|e| (osa(q.as_bytes(), e.label.as_bytes()), e.label.len()))
            .filter(|&(d, len)| d > 0 && d <= p.allowed(len))
            .map(|(d, _)| d)
            .min();
        let got = p.edit_match(&q, "com").map(|h| match h.kind { sweep_content::typo::TypoKind::Edit(d) => d, _ => 99 });
        prop_assert_eq!(got, best, "query {}", q);
    }

    #[test]
    fn punycode_round_trips_through_sweep_intel_encoder(s in "[a-zа-яα-ω0-9äöüß中文日本-]{1,20}") {
        let s = s.to_lowercase();
        prop_assume!(!s.starts_with('-') && !s.ends_with('-'));
        let ascii = sweep_intel::psl::to_ascii(&s).unwrap();
        let back = punycode::decode_host(&ascii).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn osa_is_a_symmetric_bounded_distance(a in "[a-z]{0,12}", b in "[a-z]{0,12}") {
        let d = osa(a.as_bytes(), b.as_bytes());
        prop_assert_eq!(d, osa(b.as_bytes(), a.as_bytes()));
        prop_assert!(d <= a.len().max(b.len()));
        prop_assert!(d >= a.len().abs_diff(b.len()));
        prop_assert_eq!(d == 0, a == b);
    }
}

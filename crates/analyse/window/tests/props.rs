//! Random events against a plain reference implementation of the rules in docs/windows.md,
//! and the equivalences the engines rely on: streaming = batch when lateness covers the
//! disorder, merge of partitions = one analyser, restore from a checkpoint = no interruption.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use proptest::prelude::*;
use sweep_window::{Alert, Emitted, KeyKind, Metric, Mode, Span, Threshold, WindowAnalyser, WindowSpec};

/// The rules, written as directly as possible: every event is added to every window whose
/// start is a multiple of `slide` in `(ts - size, ts]`, for every key kind with a non-empty value.
fn reference(spec: &WindowSpec, evs: &[Ev]) -> (Vec<M>, Vec<Alert>) {
    #[derive(Default)]
    struct Acc {
        requests: i64,
        rb: i64,
        resp: i64,
        hosts: BTreeSet<String>,
        errors: i64,
        denied: i64,
    }
    let (size, slide) = (spec.size.as_micros(), spec.slide.as_micros());
    let mut windows: BTreeMap<(i64, KeyKind, String), Acc> = BTreeMap::new();
    for e in evs {
        for &kind in &spec.keys {
            let key = match kind {
                KeyKind::ClientIp => &e.client_ip,
                KeyKind::User => &e.user,
                KeyKind::Host => &e.host,
            };
            let Some(key) = key.as_deref().filter(|k| !k.is_empty()) else { continue };
            let mut start = e.ts - e.ts.rem_euclid(slide);
            while start > e.ts - size {
                let acc = windows.entry((start, kind, key.to_string())).or_default();
                acc.requests += 1;
                acc.rb += e.request_bytes.unwrap_or(0);
                acc.resp += e.response_bytes.unwrap_or(0);
                if let Some(h) = e.host.as_deref().filter(|h| !h.is_empty()) {
                    acc.hosts.insert(h.to_string());
                }
                acc.errors += e.status.is_some_and(|s| s >= 400) as i64;
                let denied = matches!(e.status, Some(403) | Some(407))
                    || e.proxy_action.as_deref().is_some_and(|a| a.to_ascii_uppercase().contains("DENIED"));
                acc.denied += denied as i64;
                start -= slide;
            }
        }
    }
    let mut rows = Vec::new();
    let mut alerts = Vec::new();
    for ((start, kind, key), a) in windows {
        let row = m(start, start + size, kind.as_str(), &key, a.requests, a.rb, a.resp, a.hosts.len() as i64, a.errors, a.denied);
        for t in &spec.thresholds {
            if t.key.is_some_and(|k| k != kind) {
                continue;
            }
            let value = match t.metric {
                Metric::Requests => row.requests as f64,
                Metric::RequestBytes => row.request_bytes as f64,
                Metric::ResponseBytes => row.response_bytes as f64,
                Metric::DistinctHosts => row.distinct_hosts as f64,
                Metric::Errors => row.errors as f64,
                Metric::ErrorRatio => row.error_ratio,
                Metric::Denied => row.denied as f64,
            };
            if value >= t.above {
                alerts.push(Alert {
                    key_kind: kind,
                    key: key.clone(),
                    window_start: start,
                    window_end: start + size,
                    metric: t.metric,
                    value,
                    threshold: t.above,
                });
            }
        }
        rows.push(row);
    }
    (rows, alerts)
}

/// Which events are late, by the streaming rule, for these micro-batches.
fn reference_late(spec: &WindowSpec, batches: &[&[Ev]]) -> Vec<Vec<usize>> {
    let lateness = spec.allowed_lateness.as_micros();
    let mut watermark: Option<i64> = None;
    batches
        .iter()
        .map(|b| {
            let late: Vec<usize> = (0..b.len()).filter(|&i| watermark.is_some_and(|w| b[i].ts < w)).collect();
            if let Some(max) = b.iter().map(|e| e.ts).filter(|&t| watermark.is_none_or(|w| t >= w)).max() {
                watermark = Some(watermark.map_or(max - lateness, |w| w.max(max - lateness)));
            }
            late
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    spec: WindowSpec,
    /// In arrival order.
    evs: Vec<Ev>,
    /// Sorted cut points splitting `evs` into micro-batches.
    cuts: Vec<usize>,
    /// A partition (0..4) per event, for merge.
    parts: Vec<usize>,
    /// Where to checkpoint: before micro-batch `.0`; `.1`: after its observe, before end_batch.
    checkpoint: (usize, bool),
}

impl Case {
    fn batches(&self) -> Vec<&[Ev]> {
        let mut out = Vec::new();
        let mut from = 0;
        for &c in self.cuts.iter().chain(std::iter::once(&self.evs.len())) {
            out.push(&self.evs[from..c]);
            from = c;
        }
        out
    }
}

fn opt(pool: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::sample::select(pool).prop_map(|s| if s == "NULL" { None } else { Some(s.to_string()) })
}

fn event(nominal: i64, max_jitter: i64) -> impl Strategy<Value = Ev> {
    (
        0..=max_jitter,
        0..1_000_000i64,
        opt(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "", "NULL"]),
        opt(&["alice", "bob", "NULL"]),
        opt(&["a.com", "b.com", "c.com", "d.com", "", "NULL"]),
        prop::sample::select(vec![None, Some(200), Some(302), Some(399), Some(400), Some(403), Some(404), Some(407), Some(500)]),
        (prop::option::of(0..10_000i64), prop::option::of(0..1_000_000i64)),
        opt(&["TCP_MISS", "TCP_DENIED", "tcp_denied_reply", "NULL"]),
    )
        .prop_map(move |(jitter, micros, client_ip, user, host, status, (rb, resp), proxy_action)| Ev {
            ts: T0 + nominal - jitter * SEC + micros,
            client_ip,
            user,
            host,
            status,
            request_bytes: rb,
            response_bytes: resp,
            proxy_action,
        })
}

/// Random events whose disorder (how far an event can be older than one before it) is at most
/// `disorder` seconds (plus under a second of sub-second noise), with a spec whose
/// `allowed_lateness` is `disorder + 1 + extra` seconds when `covered`, else smaller than the disorder.
fn case(covered: bool) -> impl Strategy<Value = Case> {
    (1..=4u64, 1..=4u64, 0..=90i64, 0..=30u64, prop::sample::subsequence(KeyKind::ALL.to_vec(), 1..=3), 0..120usize)
        .prop_flat_map(move |(slide_10s, n, disorder, extra, keys, len)| {
            let slide = Span::seconds(slide_10s * 10);
            let size = Span::seconds(slide_10s * 10 * n);
            let lateness = if covered { Span::seconds(disorder as u64 + 1 + extra) } else { Span::seconds(extra.min(disorder as u64 / 2)) };
            let steps = prop::collection::vec(0..=20i64, len);
            let thresholds = prop::collection::vec(
                (
                    prop::sample::select(Metric::ALL.to_vec()),
                    prop::sample::select(vec![0.0, 0.5, 1.0, 2.0, 3.0, 5000.0]),
                    prop::option::of(prop::sample::select(keys.clone())),
                ),
                0..3,
            );
            (
                Just(WindowSpec { size, slide, keys: keys.clone(), allowed_lateness: lateness, thresholds: vec![] }),
                Just(disorder),
                steps,
                thresholds,
            )
        })
        .prop_flat_map(|(spec, disorder, steps, thresholds)| {
            let mut nominal = 0;
            let evs: Vec<_> = steps
                .iter()
                .map(|s| {
                    nominal += s * SEC;
                    event(nominal, disorder)
                })
                .collect();
            let len = steps.len();
            let spec = WindowSpec {
                thresholds: thresholds.into_iter().map(|(metric, above, key)| Threshold { metric, above, key }).collect(),
                ..spec
            };
            (Just(spec), evs, prop::collection::btree_set(0..=len, 0..8), prop::collection::vec(0..4usize, len), 0..=8usize, any::<bool>())
        })
        .prop_map(|(spec, evs, cuts, parts, at, mid)| {
            let cuts: Vec<usize> = cuts.into_iter().collect();
            let checkpoint = (at.min(cuts.len()), mid);
            Case { spec, evs, cuts, parts, checkpoint }
        })
}

fn alerts_of(e: &[Emitted]) -> Vec<Alert> {
    e.iter().flat_map(|e| e.alerts.clone()).collect()
}

/// Runs the micro-batches in streaming mode, optionally through a checkpoint, checking on the
/// way that emitted windows are final and sorted. Returns (late rows per batch, emissions).
fn stream(c: &Case, checkpoint: Option<(usize, bool)>) -> (Vec<Vec<usize>>, Vec<Emitted>, u64) {
    let mut a = WindowAnalyser::new(c.spec.clone(), Mode::Streaming).unwrap();
    let restart = |a: WindowAnalyser| {
        let bytes = a.snapshot();
        let b = WindowAnalyser::restore(c.spec.clone(), &bytes).unwrap();
        assert_eq!(b.snapshot(), bytes);
        b
    };
    let mut late = Vec::new();
    let mut out = Vec::new();
    for (i, b) in c.batches().into_iter().enumerate() {
        if checkpoint == Some((i, false)) {
            a = restart(a);
        }
        // One micro-batch may arrive as several record batches.
        let half = b.len() / 2;
        let mut l = a.observe(&batch(&b[..half])).unwrap();
        l.extend(a.observe(&batch(&b[half..])).unwrap().into_iter().map(|j| j + half));
        late.push(l);
        if checkpoint == Some((i, true)) {
            a = restart(a);
        }
        let e = a.end_batch().unwrap();
        let r = rows(&e.metrics);
        for w in r.windows(2) {
            assert!((w[0].start, &w[0].kind, &w[0].key) < (w[1].start, &w[1].kind, &w[1].key), "rows sorted and unique");
        }
        assert!(r.iter().all(|row| Some(row.end) <= a.watermark()), "only final windows are emitted");
        out.push(e);
    }
    let late_total = a.late_events();
    out.push(a.finish().unwrap());
    (late, out, late_total)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Batch mode, in any row order and any batching, equals the reference.
    #[test]
    fn batch_mode_equals_reference(c in case(true), seed in any::<u64>()) {
        let mut evs = c.evs.clone();
        // A cheap deterministic shuffle.
        let mut s = seed | 1;
        for i in (1..evs.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            evs.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut a = WindowAnalyser::new(c.spec.clone(), Mode::Batch).unwrap();
        for chunk in evs.chunks(7) {
            prop_assert!(a.observe(&batch(chunk)).unwrap().is_empty());
            prop_assert_eq!(a.end_batch().unwrap().metrics.num_rows(), 0);
        }
        let out = a.finish().unwrap();
        let (want_rows, want_alerts) = reference(&c.spec, &c.evs);
        prop_assert_eq!(rows(&out.metrics), want_rows);
        prop_assert_eq!(out.alerts, want_alerts);
    }

    /// With lateness at least the disorder nothing is late, and streaming (every micro-batch,
    /// then finish) gives exactly the batch-mode output.
    #[test]
    fn streaming_equals_batch_when_lateness_covers_disorder(c in case(true)) {
        let (late, out, late_total) = stream(&c, None);
        prop_assert!(late.iter().all(|l| l.is_empty()));
        prop_assert_eq!(late_total, 0);
        let mut b = WindowAnalyser::new(c.spec.clone(), Mode::Batch).unwrap();
        b.observe(&batch(&c.evs)).unwrap();
        let whole = b.finish().unwrap();
        prop_assert_eq!(all_rows(&out), rows(&whole.metrics));
        prop_assert_eq!(alerts_of(&out), whole.alerts);
    }

    /// With less lateness than disorder, exactly the events behind the watermark are late, and
    /// the output is the reference over the other events.
    #[test]
    fn streaming_drops_exactly_the_late_events(c in case(false)) {
        let batches = c.batches();
        let want_late = reference_late(&c.spec, &batches);
        let (late, out, late_total) = stream(&c, None);
        prop_assert_eq!(&late, &want_late);
        prop_assert_eq!(late_total, want_late.iter().map(|l| l.len() as u64).sum::<u64>());
        let kept: Vec<Ev> = batches
            .iter()
            .zip(&want_late)
            .flat_map(|(b, l)| b.iter().enumerate().filter(|(i, _)| !l.contains(i)).map(|(_, e)| e.clone()))
            .collect();
        let (want_rows, want_alerts) = reference(&c.spec, &kept);
        prop_assert_eq!(all_rows(&out), want_rows);
        prop_assert_eq!(alerts_of(&out), want_alerts);
    }

    /// Checkpoint and restore anywhere (between micro-batches or in the middle of one) and
    /// continue: the same late rows and the same output as without the interruption.
    #[test]
    fn restore_and_continue_equals_uninterrupted(c in case(false)) {
        let (late, out, late_total) = stream(&c, None);
        let (late2, out2, late_total2) = stream(&c, Some(c.checkpoint));
        prop_assert_eq!(late, late2);
        prop_assert_eq!(late_total, late_total2);
        prop_assert_eq!(all_rows(&out), all_rows(&out2));
        prop_assert_eq!(alerts_of(&out), alerts_of(&out2));
    }

    /// A stream checkpoints a full snapshot now and then and a delta after every other
    /// micro-batch: the last full snapshot with the deltas after it, applied in order, is
    /// the state itself (the same full snapshot, byte for byte), at every batch and after
    /// the end of input.
    #[test]
    fn a_full_snapshot_and_its_deltas_restore_the_state(c in case(false), every in 1usize..5) {
        let mut a = WindowAnalyser::new(c.spec.clone(), Mode::Streaming).unwrap();
        let (mut base, mut deltas) = (a.snapshot(), Vec::new());
        a.mark_saved();
        let batches = c.batches();
        for (i, b) in batches.iter().enumerate() {
            a.observe(&batch(b)).unwrap();
            if i + 1 == batches.len() {
                a.end_input().unwrap();
            } else {
                a.end_batch().unwrap();
            }
            if i % every == 0 {
                base = a.snapshot();
                a.mark_saved();
                deltas.clear();
            } else {
                deltas.push(a.delta_snapshot());
            }
            let mut restored = WindowAnalyser::restore(c.spec.clone(), &base).unwrap();
            for d in &deltas {
                restored.apply_delta(d).unwrap();
            }
            prop_assert_eq!(restored.snapshot(), a.snapshot(), "after batch {}", i);
        }
    }

    /// One batch-mode analyser per partition, merged, equals one analyser over everything.
    #[test]
    fn merged_partitions_equal_one_analyser(c in case(true)) {
        let mut parts: Vec<WindowAnalyser> = (0..4).map(|_| WindowAnalyser::new(c.spec.clone(), Mode::Batch).unwrap()).collect();
        for (p, a) in parts.iter_mut().enumerate() {
            let mine: Vec<Ev> = c.evs.iter().zip(&c.parts).filter(|(_, q)| **q == p).map(|(e, _)| e.clone()).collect();
            a.observe(&batch(&mine)).unwrap();
        }
        // Merge in a tree, not a chain, to exercise merging merged states.
        let d = parts.pop().unwrap();
        let c2 = parts.pop().unwrap();
        let mut b = parts.pop().unwrap();
        let mut a = parts.pop().unwrap();
        a.merge(c2).unwrap();
        b.merge(d).unwrap();
        a.merge(b).unwrap();
        let merged = a.finish().unwrap();
        let mut one = WindowAnalyser::new(c.spec.clone(), Mode::Batch).unwrap();
        one.observe(&batch(&c.evs)).unwrap();
        let one = one.finish().unwrap();
        prop_assert_eq!(rows(&merged.metrics), rows(&one.metrics));
        prop_assert_eq!(merged.alerts, one.alerts);
    }
}

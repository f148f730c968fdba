//! Correlation rules: hand-computed matches in batch mode, the same in streaming mode across
//! micro-batches and a checkpoint, and what is refused.
mod common;

use common::{Ev, batch};
use sweep_sigma::{CorrelationMatch, CorrelationMode, Correlator, Refusal, RuleSet, SigmaAnalyser};

const SEC: i64 = 1_000_000;
const T0: i64 = 1_767_225_600 * SEC;

const BASE: &str = "title: evil ua
id: 11111111-1111-1111-1111-111111111111
name: evil_ua
logsource:
    category: proxy
detection:
    sel:
        c-useragent|contains: evil
    condition: sel
---
title: admin path
name: admin_path
logsource:
    category: proxy
detection:
    sel:
        c-uri|contains: /admin
    condition: sel
";

fn load(correlation: &str) -> RuleSet {
    let (set, report) = RuleSet::from_yaml_str(&format!("{BASE}---\n{correlation}"), "corr.yml");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.correlations.len(), 1);
    set
}

fn ev(t: i64, client: &str, ua: &str, url: &str) -> Ev {
    Ev::new().at(T0 + t * SEC).set("client_ip", client).set("user_agent", ua).set("url", url).set("host", url)
}

/// Batch mode over all events.
fn run(set: &RuleSet, evs: &[Ev]) -> Vec<CorrelationMatch> {
    let a = SigmaAnalyser::new(set.clone()).unwrap();
    let mut c = Correlator::new(set.correlations().to_vec(), CorrelationMode::Batch);
    let b = batch(evs);
    c.observe(&b, &a.evaluate(&b).unwrap()).unwrap();
    c.finish()
}

fn m(group: &str, first: i64, last: i64, count: u64) -> CorrelationMatch {
    CorrelationMatch { correlation: 0, group: vec![Some(group.into())], first_ts: T0 + first * SEC, last_ts: T0 + last * SEC, count }
}

const EVENT_COUNT: &str = "title: many evil
correlation:
    type: event_count
    rules:
        - evil_ua
    group-by:
        - c-ip
    timespan: 1m
    condition:
        gte: 3
";

#[test]
fn event_count() {
    let set = load(EVENT_COUNT);
    let evs = [
        ev(0, "a", "evil", "/"),
        ev(10, "a", "evil", "/"),
        ev(15, "b", "evil", "/"),
        ev(20, "a", "good", "/"), // not a detection
        ev(59, "a", "evil", "/"), // third within (t-60s, t]: match a at 0..59
        ev(70, "a", "evil", "/"), // state cleared by the match
        ev(100, "b", "evil", "/"),
        ev(160, "b", "evil", "/"), // 100 and 160 and 15: 15 is out of (100, 160]
        ev(161, "b", "evil", "/"), // 100 is out of (101, 161]: 2 in window
        ev(162, "b", "evil", "/"), // 160, 161, 162: match
    ];
    // Observed in any order, batch mode gives the same.
    let mut shuffled = evs.to_vec();
    shuffled.reverse();
    assert_eq!(run(&set, &evs), vec![m("a", 0, 59, 3), m("b", 160, 162, 3)]);
    assert_eq!(run(&set, &shuffled), vec![m("a", 0, 59, 3), m("b", 160, 162, 3)]);
}

#[test]
fn value_count() {
    let set = load(
        "title: many hosts
correlation:
    type: value_count
    rules: [evil_ua, admin_path]
    group-by: [c-ip]
    timespan: 5m
    condition:
        field: cs-host
        gt: 2
",
    );
    let evs = [
        ev(0, "a", "evil", "h1"),
        ev(1, "a", "evil", "h1"),
        ev(2, "a", "x", "h2/admin"),
        ev(3, "a", "evil", "h2"),
        ev(4, "a", "evil", "h3"),
    ];
    // Distinct hosts h1, h2/admin, h2, h3: the third distinct value (count 3 > 2) arrives at t=3.
    assert_eq!(run(&set, &evs), vec![m("a", 0, 3, 3)]);
}

#[test]
fn temporal_and_ordered() {
    let temporal =
        load("title: both\ncorrelation:\n    type: temporal\n    rules: [evil_ua, admin_path]\n    group-by: [c-ip]\n    timespan: 30s\n");
    let ordered = load(
        "title: then\ncorrelation:\n    type: temporal_ordered\n    rules: [evil_ua, admin_path]\n    group-by: [c-ip]\n    timespan: 30s\n",
    );
    // a: admin then evil (temporal only). b: evil then admin. c: evil then admin too late.
    let evs = [
        ev(0, "a", "x", "/admin"),
        ev(5, "a", "evil", "/"),
        ev(10, "b", "evil", "/"),
        ev(20, "b", "x", "/admin"),
        ev(100, "c", "evil", "/"),
        ev(131, "c", "x", "/admin"),
    ];
    assert_eq!(run(&temporal, &evs), vec![m("a", 0, 5, 2), m("b", 10, 20, 2)]);
    assert_eq!(run(&ordered, &evs), vec![m("b", 10, 20, 2)]);
    // One event matching both rules is not an ordered sequence by itself.
    assert_eq!(run(&ordered, &[ev(0, "d", "evil", "/admin")]), vec![]);
    assert_eq!(run(&temporal, &[ev(0, "d", "evil", "/admin")]), vec![m("d", 0, 0, 2)]);
}

#[test]
fn streaming_with_checkpoint_equals_batch() {
    let set = load(EVENT_COUNT);
    let a = SigmaAnalyser::new(set.clone()).unwrap();
    let evs: Vec<Ev> = (0..40).map(|i| ev(i * 7 % 200, if i % 3 == 0 { "a" } else { "b" }, "evil", "/")).collect();
    let expected = run(&set, &evs);
    assert!(!expected.is_empty());
    let mode = CorrelationMode::Streaming { allowed_lateness: 300 * SEC };
    let mut c = Correlator::new(set.correlations().to_vec(), mode);
    let mut got = Vec::new();
    for (i, chunk) in evs.chunks(7).enumerate() {
        let b = batch(chunk);
        assert_eq!(c.observe(&b, &a.evaluate(&b).unwrap()).unwrap(), Vec::<usize>::new());
        got.extend(c.end_batch());
        if i == 2 {
            let snap = c.snapshot();
            c = Correlator::restore(set.correlations().to_vec(), &snap).unwrap();
        }
    }
    // A final far-future event pushes the watermark past everything.
    let b = batch(&[ev(10_000, "z", "good", "/")]);
    c.observe(&b, &a.evaluate(&b).unwrap()).unwrap();
    got.extend(c.end_batch());
    let mut sorted = got.clone();
    sorted.sort_by_key(|m| (m.last_ts, m.group.clone()));
    let mut exp = expected.clone();
    exp.sort_by_key(|m| (m.last_ts, m.group.clone()));
    assert_eq!(sorted, exp);

    // Late detections (behind the watermark) are dropped and counted.
    let mut c = Correlator::new(set.correlations().to_vec(), CorrelationMode::Streaming { allowed_lateness: 10 * SEC });
    let b = batch(&[ev(100, "a", "evil", "/")]);
    c.observe(&b, &a.evaluate(&b).unwrap()).unwrap();
    c.end_batch();
    assert_eq!(c.watermark(), Some(T0 + 90 * SEC));
    let b = batch(&[ev(50, "a", "evil", "/"), ev(95, "a", "evil", "/")]);
    assert_eq!(c.observe(&b, &a.evaluate(&b).unwrap()).unwrap(), vec![0]);
    assert_eq!(c.late_observations(), 1);
    // A checkpoint of other rules is refused.
    let other = load(&EVENT_COUNT.replace("gte: 3", "gte: 4"));
    assert!(Correlator::restore(other.correlations().to_vec(), &c.snapshot()).is_err());
}

#[test]
fn refused_correlations() {
    let refusal = |c: &str| {
        let (set, report) = RuleSet::from_yaml_str(&format!("{BASE}---\n{c}"), "corr.yml");
        assert!(set.correlations().is_empty());
        report.refused[0].reason.clone()
    };
    let with = |extra: &str| {
        format!("title: x\ncorrelation:\n    type: event_count\n    rules: [evil_ua]\n    group-by: [c-ip]\n    timespan: 1h\n{extra}")
    };
    assert!(matches!(refusal(&with("    condition:\n        lt: 5\n")), Refusal::UnsupportedCorrelation(_)));
    assert!(matches!(
        refusal(&with("    condition:\n        gte: 5\n    aliases:\n        ip:\n            evil_ua: c-ip\n")),
        Refusal::UnsupportedCorrelation(_)
    ));
    assert!(matches!(refusal(&with("")), Refusal::UnsupportedCorrelation(_)));
    assert_eq!(refusal(&with("    condition:\n        gte: 5\n").replace("[evil_ua]", "[nope]")), Refusal::UnknownRule("nope".into()));
    assert_eq!(
        refusal(&with("    condition:\n        gte: 5\n").replace("group-by: [c-ip]", "group-by: [cs-cookie]")),
        Refusal::UnmappedField("cs-cookie".into())
    );
    assert!(matches!(
        refusal(&with("    condition:\n        gte: 5\n").replace("timespan: 1h", "timespan: 1y")),
        Refusal::UnsupportedCorrelation(_)
    ));
    // A chain: a correlation over a correlation.
    let chain = "title: x\nname: x\ncorrelation:\n    type: event_count\n    rules: [evil_ua]\n    group-by: [c-ip]\n    timespan: 1h\n    condition:\n        gte: 5\n---\ntitle: y\nname: y\ncorrelation:\n    type: event_count\n    rules: [x]\n    group-by: [c-ip]\n    timespan: 1h\n    condition:\n        gte: 2\n";
    let (set, report) = RuleSet::from_yaml_str(&format!("{BASE}---\n{chain}"), "chain.yml");
    assert_eq!(set.correlations().len(), 1);
    assert!(matches!(report.refused[0].reason, Refusal::UnsupportedCorrelation(_)), "{:?}", report.refused);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Streaming over events in time order, any chunking and lateness, with a checkpoint
        /// after every micro-batch, gives the batch-mode matches.
        #[test]
        fn streaming_equals_batch(
            evs in prop::collection::vec((0i64..400, 0usize..3, any::<bool>(), any::<bool>()), 1..40),
            chunk in 1usize..10,
            which in 0usize..3,
            lateness in prop::sample::select(vec![0i64, 10, 1_000]),
        ) {
            let corr = [
                EVENT_COUNT.to_string(),
                "title: t\ncorrelation:\n    type: temporal\n    rules: [evil_ua, admin_path]\n    group-by: [c-ip]\n    timespan: 30s\n".to_string(),
                "title: t\ncorrelation:\n    type: temporal_ordered\n    rules: [evil_ua, admin_path]\n    group-by: [c-ip]\n    timespan: 30s\n".to_string(),
            ];
            let set = load(&corr[which]);
            // In event-time order, so that no lateness makes anything late.
            let mut evs = evs;
            evs.sort_by_key(|e| e.0);
            let evs: Vec<Ev> = evs
                .into_iter()
                .map(|(t, c, evil, admin)| ev(t, ["a", "b", "c"][c], if evil { "evil" } else { "x" }, if admin { "/admin" } else { "/" }))
                .collect();
            let mut expected = run(&set, &evs);
            let a = SigmaAnalyser::new(set.clone()).unwrap();
            let mode = CorrelationMode::Streaming { allowed_lateness: lateness * SEC };
            let mut c = Correlator::new(set.correlations().to_vec(), mode);
            let mut got = Vec::new();
            for part in evs.chunks(chunk) {
                let b = batch(part);
                prop_assert!(c.observe(&b, &a.evaluate(&b).unwrap()).unwrap().is_empty());
                got.extend(c.end_batch());
                c = Correlator::restore(set.correlations().to_vec(), &c.snapshot()).unwrap();
            }
            let b = batch(&[ev(100_000, "z", "x", "/")]);
            c.observe(&b, &a.evaluate(&b).unwrap()).unwrap();
            got.extend(c.end_batch());
            got.sort_by_key(|m| (m.last_ts, m.group.clone(), m.first_ts));
            expected.sort_by_key(|m| (m.last_ts, m.group.clone(), m.first_ts));
            prop_assert_eq!(got, expected);
        }
    }
}

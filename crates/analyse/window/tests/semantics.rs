//! The rules of docs/windows.md, each on events whose metrics are computed by hand.

mod common;

use std::sync::Arc;

use arrow::compute::cast;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use sweep_window::{Alert, Emitted, KeyKind, Metric, Mode, Span, Threshold, WindowAnalyser, WindowError, WindowSpec};

fn spec(size: &str, slide: &str, keys: &[KeyKind]) -> WindowSpec {
    WindowSpec { keys: keys.to_vec(), ..WindowSpec::new(size.parse().unwrap(), slide.parse().unwrap()) }
}

/// Batch mode over one batch, everything final.
fn run_batch(spec: WindowSpec, evs: &[Ev]) -> Emitted {
    let mut a = WindowAnalyser::new(spec, Mode::Batch).unwrap();
    assert_eq!(a.observe(&batch(evs)).unwrap(), Vec::<usize>::new());
    assert_eq!(a.end_batch().unwrap().metrics.num_rows(), 0, "batch mode emits only at finish");
    assert_eq!(a.watermark(), None);
    a.finish().unwrap()
}

const IP: &str = "client_ip";

#[test]
fn sliding_windows_ten_minutes_every_five() {
    let evs = [
        Ev::at(MIN, "A").host("x").bytes(Some(100), Some(1000)),
        Ev::at(4 * MIN, "A").host("y").bytes(None, Some(50)),
        Ev::at(7 * MIN, "A").host("x").bytes(Some(10), None),
        Ev::at(12 * MIN, "B").host("z").bytes(Some(1), Some(2)),
    ];
    let out = run_batch(spec("10m", "5m", &[KeyKind::ClientIp]), &evs);
    let w = |start: i64| (T0 + start * MIN, T0 + (start + 10) * MIN);
    let expected = vec![
        m(w(-5).0, w(-5).1, IP, "A", 2, 100, 1050, 2, 0, 0),
        m(w(0).0, w(0).1, IP, "A", 3, 110, 1050, 2, 0, 0),
        m(w(5).0, w(5).1, IP, "A", 1, 10, 0, 1, 0, 0),
        m(w(5).0, w(5).1, IP, "B", 1, 1, 2, 1, 0, 0),
        m(w(10).0, w(10).1, IP, "B", 1, 1, 2, 1, 0, 0),
    ];
    assert_eq!(rows(&out.metrics), expected);
    assert!(out.alerts.is_empty());
}

#[test]
fn tumbling_windows_and_boundaries() {
    // size == slide: every event is in exactly one window; a window includes its start and
    // excludes its end. Times before 1970 are aligned to the epoch too.
    let evs = [
        Ev::at(0, "A"),
        Ev::at(5 * MIN - 1, "A"),
        Ev::at(5 * MIN, "A"),
        Ev { ts: -1, client_ip: Some("old".into()), ..Ev::default() },
        Ev { ts: -5 * MIN, client_ip: Some("old".into()), ..Ev::default() },
    ];
    let out = run_batch(spec("5m", "5m", &[KeyKind::ClientIp]), &evs);
    let expected = vec![
        m(-5 * MIN, 0, IP, "old", 2, 0, 0, 0, 0, 0),
        m(T0, T0 + 5 * MIN, IP, "A", 2, 0, 0, 0, 0, 0),
        m(T0 + 5 * MIN, T0 + 10 * MIN, IP, "A", 1, 0, 0, 0, 0, 0),
    ];
    assert_eq!(rows(&out.metrics), expected);
}

#[test]
fn distinct_hosts_are_exact_and_skip_empty_hosts() {
    let evs = [
        Ev::at(MIN, "A").host("a.com"),
        Ev::at(MIN, "A").host("a.com"),
        Ev::at(2 * MIN, "A").host("b.com"),
        Ev::at(2 * MIN, "A"),
        Ev::at(3 * MIN, "A").host(""),
        Ev::at(6 * MIN, "A").host("c.com"),
        Ev::at(7 * MIN, "A").host("a.com"),
    ];
    let out = rows(&run_batch(spec("10m", "5m", &[KeyKind::ClientIp]), &evs).metrics);
    let hosts: Vec<(i64, i64, i64)> = out.iter().map(|r| ((r.start - T0) / MIN, r.requests, r.distinct_hosts)).collect();
    // [-5,5): a, a, b, -, "" -> 2 hosts; [0,10): all seven, hosts a, b, c; [5,15): c, a.
    assert_eq!(hosts, vec![(-5, 5, 2), (0, 7, 3), (5, 2, 2)]);
}

#[test]
fn errors_error_ratio_and_denied() {
    let evs = [
        Ev::at(0, "A").status(Some(200)),
        Ev::at(0, "A").status(Some(404)),
        Ev::at(0, "A").status(Some(500)),
        Ev::at(0, "A").status(Some(403)),
        Ev::at(0, "A").status(Some(407)),
        Ev::at(0, "A").status(None).action("TCP_DENIED"),
        Ev::at(0, "A").status(Some(302)).action("tcp_denied_reply"),
        Ev::at(0, "A").status(Some(399)).action("TCP_MISS"),
        Ev::at(0, "A").status(Some(400)),
    ];
    let out = rows(&run_batch(spec("5m", "5m", &[KeyKind::ClientIp]), &evs).metrics);
    assert_eq!(out, vec![m(T0, T0 + 5 * MIN, IP, "A", 9, 0, 0, 0, 5, 4)]);
    assert_eq!(out[0].error_ratio, 5.0 / 9.0);
}

#[test]
fn null_and_empty_keys_are_not_counted_for_their_kind() {
    let mut evs = [Ev::at(0, "1.1.1.1"), Ev::at(0, ""), Ev::at(0, "1.1.1.1").user(""), Ev::at(0, "x").user("bob")];
    evs[0].user = Some("bob".into());
    evs[1].user = Some("bob".into());
    evs[3].client_ip = None;
    let out = rows(&run_batch(spec("5m", "5m", &[KeyKind::ClientIp, KeyKind::User]), &evs).metrics);
    let w = (T0, T0 + 5 * MIN);
    assert_eq!(out, vec![m(w.0, w.1, IP, "1.1.1.1", 2, 0, 0, 0, 0, 0), m(w.0, w.1, "user", "bob", 3, 0, 0, 0, 0, 0)]);
}

#[test]
fn several_key_kinds_at_once() {
    let evs = [
        Ev::at(0, "10.0.0.1").user("alice").host("a.com").bytes(Some(1), Some(10)),
        Ev::at(MIN, "10.0.0.1").user("bob").host("b.com").bytes(Some(2), Some(20)),
        Ev::at(2 * MIN, "10.0.0.2").user("alice").host("a.com").bytes(Some(4), Some(40)),
    ];
    // The order of `keys` does not change the output order (key_kind sorts by name).
    let out = rows(&run_batch(spec("5m", "5m", &[KeyKind::User, KeyKind::Host, KeyKind::ClientIp]), &evs).metrics);
    let w = (T0, T0 + 5 * MIN);
    assert_eq!(
        out,
        vec![
            m(w.0, w.1, IP, "10.0.0.1", 2, 3, 30, 2, 0, 0),
            m(w.0, w.1, IP, "10.0.0.2", 1, 4, 40, 1, 0, 0),
            m(w.0, w.1, "host", "a.com", 2, 5, 50, 1, 0, 0),
            m(w.0, w.1, "host", "b.com", 1, 2, 20, 1, 0, 0),
            m(w.0, w.1, "user", "alice", 2, 5, 50, 1, 0, 0),
            m(w.0, w.1, "user", "bob", 1, 2, 20, 1, 0, 0),
        ]
    );
}

fn streaming(size: &str, slide: &str, lateness: &str) -> WindowAnalyser {
    let spec = WindowSpec { allowed_lateness: lateness.parse().unwrap(), ..spec(size, slide, &[KeyKind::ClientIp]) };
    WindowAnalyser::new(spec, Mode::Streaming).unwrap()
}

#[test]
fn lateness_counts_what_is_within_it_and_returns_what_is_behind_the_watermark() {
    let mut a = streaming("1m", "1m", "30s");
    let w = |k: i64| (T0 + k * MIN, T0 + (k + 1) * MIN);
    assert_eq!(a.watermark(), None);

    // Nothing is late in the first batch; the watermark becomes 1:40 - 30s = 1:10.
    assert!(a.observe(&batch(&[Ev::at(10 * SEC, "A"), Ev::at(100 * SEC, "A")])).unwrap().is_empty());
    assert_eq!(a.watermark(), None, "the watermark moves only at the end of a batch");
    let e1 = a.end_batch().unwrap();
    assert_eq!(a.watermark(), Some(T0 + 70 * SEC));
    assert_eq!(rows(&e1.metrics), vec![m(w(0).0, w(0).1, IP, "A", 1, 0, 0, 0, 0, 0)]);

    // 1:15 is 25 s behind the newest event: within the lateness, counted. 0:50 and 1:05 are
    // behind the watermark (1:10): late. 1:10 itself is not late.
    let b2 = [Ev::at(75 * SEC, "A"), Ev::at(50 * SEC, "A"), Ev::at(65 * SEC, "A"), Ev::at(70 * SEC, "A")];
    assert_eq!(a.observe(&batch(&b2)).unwrap(), vec![1, 2]);
    assert_eq!(a.late_events(), 2);
    let e2 = a.end_batch().unwrap();
    assert_eq!(a.watermark(), Some(T0 + 70 * SEC), "the watermark never goes back");
    assert_eq!(e2.metrics.num_rows(), 0, "[1m, 2m) is not final yet");

    // Lateness is judged against the watermark at the start of the batch (1:10): 1:20 counts
    // even though 3:00 in the same batch moves the watermark to 2:30.
    assert!(a.observe(&batch(&[Ev::at(180 * SEC, "A"), Ev::at(80 * SEC, "A")])).unwrap().is_empty());
    let e3 = a.end_batch().unwrap();
    assert_eq!(a.watermark(), Some(T0 + 150 * SEC));
    assert_eq!(rows(&e3.metrics), vec![m(w(1).0, w(1).1, IP, "A", 4, 0, 0, 0, 0, 0)]);

    // An empty batch changes nothing and emits nothing.
    assert!(a.observe(&batch(&[])).unwrap().is_empty());
    assert_eq!(a.end_batch().unwrap().metrics.num_rows(), 0);

    assert_eq!(a.late_events(), 2);
    let last = a.finish().unwrap();
    assert_eq!(rows(&last.metrics), vec![m(w(3).0, w(3).1, IP, "A", 1, 0, 0, 0, 0, 0)]);
}

#[test]
fn streaming_sliding_windows_are_emitted_once_when_final() {
    // 10m windows every 5m, lateness 0: after an event at 12:00 the watermark is 12:00, so
    // windows ending at or before it are final.
    let mut a = streaming("10m", "5m", "0s");
    a.observe(&batch(&[Ev::at(MIN, "A"), Ev::at(7 * MIN, "A")])).unwrap();
    let e1 = rows(&a.end_batch().unwrap().metrics);
    // Watermark 7:00: only [-5, 5) has ended.
    assert_eq!(e1.iter().map(|r| (r.start - T0) / MIN).collect::<Vec<_>>(), vec![-5]);
    a.observe(&batch(&[Ev::at(12 * MIN, "A")])).unwrap();
    let e2 = rows(&a.end_batch().unwrap().metrics);
    // Watermark 12:00: [0, 10) is final; [5, 15) is not.
    assert_eq!(e2, vec![m(T0, T0 + 10 * MIN, IP, "A", 2, 0, 0, 0, 0, 0)]);
    a.observe(&batch(&[Ev::at(25 * MIN, "A"), Ev::at(16 * MIN, "A")])).unwrap();
    let e3 = rows(&a.end_batch().unwrap().metrics);
    assert_eq!(
        e3,
        vec![
            m(T0 + 5 * MIN, T0 + 15 * MIN, IP, "A", 2, 0, 0, 0, 0, 0),
            m(T0 + 10 * MIN, T0 + 20 * MIN, IP, "A", 2, 0, 0, 0, 0, 0),
            m(T0 + 15 * MIN, T0 + 25 * MIN, IP, "A", 1, 0, 0, 0, 0, 0),
        ]
    );
    // Watermark 25:00: every window holding the 15:00-20:00 slide is final, so only the
    // 25:00-30:00 slide is still held.
    let state: serde_json::Value = serde_json::from_slice(&a.snapshot()).unwrap();
    let held: Vec<i64> = state["panes"].as_array().unwrap().iter().map(|p| (p[2].as_i64().unwrap() - T0) / MIN).collect();
    assert_eq!(held, vec![25]);
    let e4 = rows(&a.finish().unwrap().metrics);
    assert_eq!(e4.iter().map(|r| ((r.start - T0) / MIN, r.requests)).collect::<Vec<_>>(), vec![(20, 1), (25, 1)]);
}

#[test]
fn batch_mode_counts_everything_in_any_order() {
    let evs = [Ev::at(30 * MIN, "A"), Ev::at(0, "A"), Ev::at(-60 * MIN, "A")];
    let mut a = WindowAnalyser::new(spec("5m", "5m", &[KeyKind::ClientIp]), Mode::Batch).unwrap();
    for e in &evs {
        assert!(a.observe(&batch(std::slice::from_ref(e))).unwrap().is_empty());
        assert_eq!(a.end_batch().unwrap().metrics.num_rows(), 0);
    }
    assert_eq!(a.late_events(), 0);
    let starts: Vec<i64> = rows(&a.finish().unwrap().metrics).iter().map(|r| (r.start - T0) / MIN).collect();
    assert_eq!(starts, vec![-60, 0, 30]);
}

fn threshold(metric: Metric, above: f64, key: Option<KeyKind>) -> Threshold {
    Threshold { metric, above, key }
}

fn alert_events() -> Vec<Ev> {
    vec![
        Ev::at(0, "ip1").user("alice").status(Some(200)),
        Ev::at(MIN, "ip1").user("alice").status(Some(403)),
        Ev::at(2 * MIN, "ip1").user("bob").status(Some(500)),
        Ev::at(3 * MIN, "ip2").user("bob").status(Some(200)),
        Ev::at(5 * MIN, "ip2").user("alice"),
        Ev::at(6 * MIN, "ip2").user("alice"),
        Ev::at(7 * MIN, "ip2").user("alice"),
    ]
}

fn alert_spec() -> WindowSpec {
    WindowSpec {
        thresholds: vec![
            threshold(Metric::Requests, 3.0, None),
            threshold(Metric::ErrorRatio, 0.5, Some(KeyKind::ClientIp)),
            threshold(Metric::Denied, 1.0, Some(KeyKind::User)),
        ],
        ..spec("5m", "5m", &[KeyKind::ClientIp, KeyKind::User])
    }
}

#[test]
fn thresholds_raise_exactly_the_expected_alerts() {
    let out = run_batch(alert_spec(), &alert_events());
    let alert = |start: i64, kind, key: &str, metric, value, threshold| Alert {
        key_kind: kind,
        key: key.into(),
        window_start: T0 + start * MIN,
        window_end: T0 + (start + 5) * MIN,
        metric,
        value,
        threshold,
    };
    let expected = vec![
        alert(0, KeyKind::ClientIp, "ip1", Metric::Requests, 3.0, 3.0),
        alert(0, KeyKind::ClientIp, "ip1", Metric::ErrorRatio, 2.0 / 3.0, 0.5),
        alert(0, KeyKind::User, "alice", Metric::Denied, 1.0, 1.0),
        alert(5, KeyKind::ClientIp, "ip2", Metric::Requests, 3.0, 3.0),
        alert(5, KeyKind::User, "alice", Metric::Requests, 3.0, 3.0),
    ];
    assert_eq!(out.alerts, expected);

    let json = serde_json::to_string(&out.alerts[0]).unwrap();
    assert_eq!(
        json,
        r#"{"key_kind":"client_ip","key":"ip1","window_start":"2026-01-01T00:00:00.000000Z","window_end":"2026-01-01T00:05:00.000000Z","metric":"requests","value":3.0,"threshold":3.0}"#
    );
    assert_eq!(serde_json::from_str::<Alert>(&json).unwrap(), out.alerts[0]);
}

#[test]
fn thresholds_fire_only_on_final_windows() {
    let spec = WindowSpec { allowed_lateness: Span::ZERO, ..alert_spec() };
    let mut a = WindowAnalyser::new(spec, Mode::Streaming).unwrap();
    let evs = alert_events();
    a.observe(&batch(&evs[..3])).unwrap();
    // Watermark 2:00: [0, 5) holds three ip1 requests but is not final, so no alert yet.
    assert!(a.end_batch().unwrap().alerts.is_empty());
    a.observe(&batch(&evs[3..])).unwrap();
    let e = a.end_batch().unwrap();
    assert_eq!(
        e.alerts.iter().map(|al| (al.key.as_str(), al.metric)).collect::<Vec<_>>(),
        vec![("ip1", Metric::Requests), ("ip1", Metric::ErrorRatio), ("alice", Metric::Denied)]
    );
    assert_eq!(a.finish().unwrap().alerts.len(), 2);
}

fn checkpoint_batches() -> Vec<Vec<Ev>> {
    let ev =
        |sec: i64, ip: &str, host: &str, status: i32| Ev::at(sec * SEC, ip).host(host).status(Some(status)).bytes(Some(sec), Some(2 * sec));
    vec![
        vec![ev(10, "a", "x.com", 200), ev(200, "b", "y.com", 404)],
        vec![ev(150, "a", "y.com", 200), ev(20, "a", "z.com", 200), ev(420, "a", "x.com", 403)],
        vec![ev(400, "b", "x.com", 200), ev(900, "c", "z.com", 500)],
        vec![ev(850, "c", "z.com", 200), ev(300, "a", "x.com", 200), ev(1500, "a", "y.com", 200)],
        vec![ev(1490, "b", "y.com", 407), ev(2000, "b", "x.com", 200)],
    ]
}

fn checkpoint_spec() -> WindowSpec {
    WindowSpec {
        allowed_lateness: "1m".parse().unwrap(),
        thresholds: vec![threshold(Metric::DistinctHosts, 2.0, None)],
        ..spec("10m", "5m", &[KeyKind::ClientIp, KeyKind::Host])
    }
}

#[test]
fn snapshot_restore_continue_equals_an_uninterrupted_run() {
    let batches = checkpoint_batches();
    let mut whole = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    let mut expected = Vec::new();
    let mut expected_late = Vec::new();
    for b in &batches {
        expected_late.push(whole.observe(&batch(b)).unwrap());
        expected.push(whole.end_batch().unwrap());
    }
    let (late_total, watermark) = (whole.late_events(), whole.watermark());
    expected.push(whole.finish().unwrap());
    assert!(late_total > 0, "the batches should have late events");

    for cut in 0..=batches.len() {
        let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
        let mut got = Vec::new();
        let mut got_late = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            if i == cut {
                let bytes = a.snapshot();
                a = WindowAnalyser::restore(checkpoint_spec(), &bytes).unwrap();
                assert_eq!(a.snapshot(), bytes, "restore then snapshot gives the same bytes");
            }
            got_late.push(a.observe(&batch(b)).unwrap());
            got.push(a.end_batch().unwrap());
        }
        assert_eq!((a.late_events(), a.watermark()), (late_total, watermark));
        got.push(a.finish().unwrap());
        assert_eq!(got_late, expected_late, "cut {cut}");
        assert_eq!(all_rows(&got), all_rows(&expected), "cut {cut}");
        let alerts = |e: &[Emitted]| e.iter().flat_map(|e| e.alerts.clone()).collect::<Vec<_>>();
        assert_eq!(alerts(&got), alerts(&expected), "cut {cut}");
        assert!(!alerts(&got).is_empty());
    }
}

#[test]
fn state_and_output_do_not_depend_on_row_order() {
    let evs: Vec<Ev> = checkpoint_batches().concat();
    let mut reversed = evs.clone();
    reversed.reverse();
    let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    let mut b = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    a.observe(&batch(&evs)).unwrap();
    b.observe(&batch(&reversed)).unwrap();
    assert_eq!(a.snapshot(), b.snapshot());
    assert_eq!(rows(&a.end_batch().unwrap().metrics), rows(&b.end_batch().unwrap().metrics));
}

#[test]
fn snapshot_format_is_versioned_json() {
    let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    a.observe(&batch(&checkpoint_batches()[0])).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&a.snapshot()).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["mode"], "streaming");
    assert_eq!(v["spec"]["size"], "10m");
    assert_eq!(v["panes"].as_array().unwrap().len(), 4, "two client_ip panes and two host panes: {v}");
}

#[test]
fn restore_refuses_other_specs_versions_and_garbage() {
    let a = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    let bytes = a.snapshot();
    let other = WindowSpec { slide: "10m".parse().unwrap(), ..checkpoint_spec() };
    let err = WindowAnalyser::restore(other, &bytes).unwrap_err().to_string();
    assert!(err.contains("size 10m, slide 5m") && err.contains("same settings"), "{err}");

    // Thresholds may change.
    let fewer = WindowSpec { thresholds: vec![], ..checkpoint_spec() };
    assert!(WindowAnalyser::restore(fewer, &bytes).is_ok());

    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["version"] = 3.into();
    let err = WindowAnalyser::restore(checkpoint_spec(), v.to_string().as_bytes()).unwrap_err().to_string();
    assert!(err.contains("format version 3"), "{err}");

    assert!(matches!(WindowAnalyser::restore(checkpoint_spec(), b"{not json"), Err(WindowError::Snapshot(_))));
}

#[test]
fn merge_adds_partitions_and_refuses_mismatches() {
    let evs = checkpoint_batches().concat();
    let mut parts: Vec<WindowAnalyser> = (0..3).map(|_| WindowAnalyser::new(checkpoint_spec(), Mode::Batch).unwrap()).collect();
    for (i, e) in evs.iter().enumerate() {
        parts[i % 3].observe(&batch(std::slice::from_ref(e))).unwrap();
    }
    let mut merged = parts.remove(0);
    for p in parts {
        merged.merge(p).unwrap();
    }
    let single = run_batch(checkpoint_spec(), &evs);
    let merged = merged.finish().unwrap();
    assert_eq!(rows(&merged.metrics), rows(&single.metrics));
    assert_eq!(merged.alerts, single.alerts);

    let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Batch).unwrap();
    let s = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    assert!(matches!(a.merge(s), Err(WindowError::Merge(_))));
    let other = WindowAnalyser::new(WindowSpec { keys: vec![KeyKind::User], ..checkpoint_spec() }, Mode::Batch).unwrap();
    assert!(matches!(a.merge(other), Err(WindowError::Merge(_))));

    let mut s1 = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    let mut s2 = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    s2.observe(&batch(&evs[..1])).unwrap();
    s2.end_batch().unwrap();
    let err = s1.merge(s2).unwrap_err().to_string();
    assert!(err.contains("different watermarks"), "{err}");
}

/// The same batch with its string columns as Utf8View (as DataFusion produces them).
fn as_views(b: &RecordBatch) -> RecordBatch {
    let fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| if f.data_type() == &DataType::Utf8 { f.as_ref().clone().with_data_type(DataType::Utf8View) } else { f.as_ref().clone() })
        .collect();
    let columns: Vec<ArrayRef> = b
        .columns()
        .iter()
        .map(|c| if c.data_type() == &DataType::Utf8 { cast(c, &DataType::Utf8View).unwrap() } else { c.clone() })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn utf8view_columns_are_read_like_utf8() {
    let evs = checkpoint_batches().concat();
    let plain = batch(&evs);
    let views = as_views(&plain);
    assert_eq!(views.schema().field_with_name("host").unwrap().data_type(), &DataType::Utf8View);
    let run = |b: &RecordBatch| {
        let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Batch).unwrap();
        a.observe(b).unwrap();
        rows(&a.finish().unwrap().metrics)
    };
    assert_eq!(run(&views), run(&plain));
}

#[test]
fn missing_or_mistyped_columns_are_errors_that_name_them() {
    let b = batch(&[Ev::at(0, "A")]);
    let without = |name: &str| {
        let keep: Vec<usize> = (0..b.num_columns()).filter(|&i| b.schema().field(i).name() != name).collect();
        b.project(&keep).unwrap()
    };
    let mut a = WindowAnalyser::new(spec("5m", "5m", &[KeyKind::User]), Mode::Batch).unwrap();
    for col in ["ts", "user", "status", "proxy_action"] {
        let err = a.observe(&without(col)).unwrap_err().to_string();
        assert!(err.contains(&format!("no column `{col}`")), "{err}");
    }
    // client_ip is not a key here, so it may be missing.
    assert!(a.observe(&without("client_ip")).is_ok());

    let mut cols = b.columns().to_vec();
    let i = b.schema().index_of("status").unwrap();
    cols[i] = Arc::new(StringArray::from(vec!["200"]));
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("status", DataType::Utf8, true);
    let mistyped = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let err = a.observe(&mistyped).unwrap_err().to_string();
    assert!(err.contains("`status` is Utf8") && err.contains("integer"), "{err}");
}

fn parse(json: &str) -> Result<WindowSpec, String> {
    let spec: WindowSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

#[test]
fn spec_defaults_and_round_trip() {
    let s = parse(r#"{"size": "5m", "slide": "1m"}"#).unwrap();
    assert_eq!(s.keys, vec![KeyKind::ClientIp]);
    assert_eq!(s.allowed_lateness, Span::minutes(1));
    assert!(s.thresholds.is_empty());
    let s = parse(
        r#"{"size": "1h", "slide": "300s", "keys": ["user", "host"], "allowed_lateness": "0s",
        "thresholds": [{"metric": "error_ratio", "above": 0.5, "key": "user"}, {"metric": "denied", "above": 10}]}"#,
    )
    .unwrap();
    assert_eq!(s.slide, Span::minutes(5));
    assert_eq!(s.thresholds[1], threshold(Metric::Denied, 10.0, None));
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""slide":"5m""#), "{json}");
    assert_eq!(serde_json::from_str::<WindowSpec>(&json).unwrap(), s);
}

#[test]
fn validation_errors_say_what_to_fix() {
    let cases = [
        (r#"{"size": "0s", "slide": "1m"}"#, "size is 0s"),
        (r#"{"size": "5m", "slide": "0m"}"#, "slide is 0s"),
        (
            r#"{"size": "7m", "slide": "2m"}"#,
            "size 7m is not a multiple of slide 2m: every window is made of whole slides; use size = \"8m\" or slide = \"1m\"",
        ),
        (r#"{"size": "5m", "slide": "1m", "keys": []}"#, "keys is empty"),
        (r#"{"size": "5m", "slide": "1m", "keys": ["user", "user"]}"#, "keys lists \"user\" twice"),
        (
            r#"{"size": "5m", "slide": "1m", "keys": ["client_ip"], "thresholds": [{"metric": "denied", "above": 1, "key": "host"}]}"#,
            "not in keys",
        ),
        (r#"{"size": "5m", "slide": "1m", "keys": ["src_ip"]}"#, "unknown variant `src_ip`"),
        (r#"{"size": "5m", "slide": "1m", "thresholds": [{"metric": "bytes", "above": 1}]}"#, "unknown variant `bytes`"),
        (r#"{"size": "5m", "slide": "1m", "thresholds": [{"metric": "denied", "below": 1}]}"#, "unknown field `below`"),
        (r#"{"size": "5m", "slide": "1m", "lateness": "1m"}"#, "unknown field `lateness`"),
        (r#"{"size": "5 minutes", "slide": "1m"}"#, "whole number and a unit"),
        (r#"{"size": 300, "slide": "1m"}"#, "a duration string such as"),
        (r#"{"slide": "1m"}"#, "missing field `size`"),
    ];
    for (json, want) in cases {
        let err = parse(json).unwrap_err();
        assert!(err.contains(want), "{json}: {err}");
    }
    let nan =
        WindowSpec { thresholds: vec![threshold(Metric::Requests, f64::NAN, None)], ..WindowSpec::new(Span::minutes(5), Span::minutes(5)) };
    assert!(WindowAnalyser::new(nan, Mode::Batch).unwrap_err().to_string().contains("finite"));
}

#[test]
fn untimed_rows_are_counted_apart() {
    let b = batch(&[Ev::at(0, "A"), Ev::at(MIN, "A")]);
    let ts = arrow_array::TimestampMicrosecondArray::from(vec![Some(T0), None]).with_timezone("UTC");
    let mut cols = b.columns().to_vec();
    cols[0] = Arc::new(ts);
    let schema = Schema::new(
        b.schema()
            .fields()
            .iter()
            .map(|f| if f.name() == "ts" { f.as_ref().clone().with_nullable(true) } else { f.as_ref().clone() })
            .collect::<Vec<_>>(),
    );
    let b = RecordBatch::try_new(Arc::new(schema), cols).unwrap();
    assert_eq!(b.column(0).null_count(), 1);
    let mut a = WindowAnalyser::new(spec("5m", "5m", &[KeyKind::ClientIp]), Mode::Streaming).unwrap();
    assert!(a.observe(&b).unwrap().is_empty());
    assert_eq!((a.untimed_events(), a.late_events()), (1, 0));
    assert_eq!(rows(&a.finish().unwrap().metrics)[0].requests, 1);
}

#[test]
fn end_input_makes_every_window_final_once_and_later_events_before_it_late() {
    // 10m windows every 5m, lateness 1m; events at 1:00 and 7:00, then the input ends.
    let mut a = streaming("10m", "5m", "1m");
    a.observe(&batch(&[Ev::at(MIN, "A"), Ev::at(7 * MIN, "A")])).unwrap();
    let e1 = rows(&a.end_input().unwrap().metrics);
    let starts: Vec<(i64, i64)> = e1.iter().map(|r| ((r.start - T0) / MIN, r.requests)).collect();
    assert_eq!(starts, vec![(-5, 1), (0, 2), (5, 1)], "every window holding an event, each once");
    assert!(!a.has_open_windows());
    // The last window, [5, 15), ended at 15:00: that is the watermark now.
    assert_eq!(a.watermark(), Some(T0 + 15 * MIN));
    // 14:00 would fall in the already emitted [5, 15): late. 15:00 opens new windows.
    assert_eq!(a.observe(&batch(&[Ev::at(14 * MIN, "A"), Ev::at(15 * MIN, "A")])).unwrap(), vec![0]);
    assert!(a.has_open_windows());
    let e2 = rows(&a.end_input().unwrap().metrics);
    assert_eq!(e2.iter().map(|r| ((r.start - T0) / MIN, r.requests)).collect::<Vec<_>>(), vec![(10, 1), (15, 1)]);
    // Nothing is emitted twice: a further end_input has nothing left.
    assert_eq!(a.end_input().unwrap().metrics.num_rows(), 0);
}

/// Rewrites a version-2 checkpoint (panes as arrays) as version 1 wrote it (panes as objects).
fn as_version_1(bytes: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(v["version"], 2);
    v["version"] = 1.into();
    let names = ["key_kind", "key", "pane_start", "requests", "request_bytes", "response_bytes", "errors", "denied", "hosts"];
    for pane in v["panes"].as_array_mut().unwrap() {
        let fields = pane.as_array().unwrap().clone();
        assert_eq!(fields.len(), names.len());
        *pane = serde_json::Value::Object(names.iter().map(|n| n.to_string()).zip(fields).collect());
    }
    v.to_string().into_bytes()
}

#[test]
fn version_1_checkpoints_are_still_read() {
    let batches = checkpoint_batches();
    let mut a = WindowAnalyser::new(checkpoint_spec(), Mode::Streaming).unwrap();
    a.observe(&batch(&batches[0])).unwrap();
    a.end_batch().unwrap();
    let full = a.snapshot();
    a.mark_saved();
    a.observe(&batch(&batches[1])).unwrap();
    a.end_batch().unwrap();
    let delta = a.delta_snapshot();

    let mut from_v2 = WindowAnalyser::restore(checkpoint_spec(), &full).unwrap();
    from_v2.apply_delta(&delta).unwrap();
    let mut from_v1 = WindowAnalyser::restore(checkpoint_spec(), &as_version_1(&full)).unwrap();
    from_v1.apply_delta(&as_version_1(&delta)).unwrap();
    assert_eq!(from_v1.snapshot(), a.snapshot());
    assert_eq!(from_v2.snapshot(), a.snapshot());
    // Version 2 writes each pane as an array, without field names.
    assert!(full.len() < as_version_1(&full).len());
}

//! The window analyser as Spark SQL: the `metrics` table and its threshold
//! alerts, by the rules of docs/windows.md.
//!
//! An event at time `t` (µs) lies in the pane starting at `t - pmod(t, slide)`; a window is
//! the union of the `size / slide` panes from its start. Events are first counted per pane
//! (with the set of hosts, for the distinct count), then the panes are exploded into the
//! windows that hold them and summed. A Kafka run keeps the panes of the windows that are
//! not final yet between batches (crate::stream).

use sweep_window::{Alert, KeyKind, WindowSpec};

use crate::SparkError;
use crate::client::SparkClient;

/// The panes of the view `events` (docs/windows.md): per key kind, key and `slide`-long
/// pane, the counters and the set of hosts. Events before `from` (µs; a stream's watermark)
/// are left out; `newest` is the latest event time in the pane.
pub fn panes_sql(spec: &WindowSpec, from: Option<i64>) -> String {
    let slide = spec.slide.as_micros();
    let from = from.map(|w| format!(" AND unix_micros(ts) >= {w}")).unwrap_or_default();
    let keyed: Vec<String> = spec
        .keys
        .iter()
        .map(|kind| {
            let column = key_column(*kind);
            format!(
                "SELECT '{name}' AS key_kind, {column} AS key, t, host, status, request_bytes, response_bytes, proxy_action \
                 FROM timed WHERE {column} IS NOT NULL AND {column} <> ''",
                name = kind.as_str()
            )
        })
        .collect();
    format!(
        "WITH timed AS (SELECT unix_micros(ts) AS t, * FROM events WHERE ts IS NOT NULL{from}), keyed AS ({keyed}) \
         SELECT key_kind, key, t - pmod(t, {slide}) AS pane, count(*) AS requests, \
                CAST(sum(coalesce(CAST(request_bytes AS BIGINT), 0)) AS BIGINT) AS request_bytes, \
                CAST(sum(coalesce(CAST(response_bytes AS BIGINT), 0)) AS BIGINT) AS response_bytes, \
                count_if(status >= 400) AS errors, \
                count_if(status IN (403, 407) OR lower(proxy_action) LIKE '%denied%') AS denied, \
                collect_set(nullif(host, '')) AS hosts, max(t) AS newest \
         FROM keyed GROUP BY key_kind, key, t - pmod(t, {slide})",
        keyed = keyed.join(" UNION ALL "),
    )
}

/// Two sets of panes (queries with the columns of [`panes_sql`] but `newest`) as one.
pub fn merge_panes_sql(a: &str, b: &str) -> String {
    format!(
        "SELECT key_kind, key, pane, CAST(sum(requests) AS BIGINT) AS requests, CAST(sum(request_bytes) AS BIGINT) AS request_bytes, \
                CAST(sum(response_bytes) AS BIGINT) AS response_bytes, CAST(sum(errors) AS BIGINT) AS errors, \
                CAST(sum(denied) AS BIGINT) AS denied, array_distinct(flatten(collect_list(hosts))) AS hosts \
         FROM ({a} UNION ALL {b}) GROUP BY key_kind, key, pane"
    )
}

/// The columns of a stored pane.
pub const PANE_COLUMNS: &str = "key_kind, key, pane, requests, request_bytes, response_bytes, errors, denied, hosts";

/// The `metrics` rows of the windows over the view `panes` whose end is after `after` and
/// at or before `until` (µs; unbounded when `None`), in the embedded table's columns. A
/// window is the union of the `size / slide` panes from its start.
pub fn windows_sql(spec: &WindowSpec, panes: &str, after: Option<i64>, until: Option<i64>) -> String {
    let (size, slide) = (spec.size.as_micros(), spec.slide.as_micros());
    let mut bounds = Vec::new();
    if let Some(lo) = after {
        bounds.push(format!("start + {size} > {lo}"));
    }
    if let Some(hi) = until {
        bounds.push(format!("start + {size} <= {hi}"));
    }
    let bounds = if bounds.is_empty() { String::new() } else { format!("WHERE {}", bounds.join(" AND ")) };
    format!(
        "SELECT timestamp_micros(start) AS window_start, timestamp_micros(start + {size}) AS window_end, key_kind, key, \
                CAST(sum(requests) AS BIGINT) AS requests, CAST(sum(request_bytes) AS BIGINT) AS request_bytes, \
                CAST(sum(response_bytes) AS BIGINT) AS response_bytes, \
                CAST(size(array_distinct(flatten(collect_list(hosts)))) AS BIGINT) AS distinct_hosts, \
                CAST(sum(errors) AS BIGINT) AS errors, CAST(sum(errors) AS DOUBLE) / sum(requests) AS error_ratio, \
                CAST(sum(denied) AS BIGINT) AS denied \
         FROM (SELECT *, pane - j * {slide} AS start FROM {panes} LATERAL VIEW explode(sequence(0, {last})) w AS j) {bounds} \
         GROUP BY start, key_kind, key",
        last = size / slide - 1,
    )
}

fn key_column(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::ClientIp => "client_ip",
        KeyKind::User => "user",
        KeyKind::Host => "host",
    }
}

/// The threshold breaches of the view `sweep_metrics`, collected as alerts (a few rows: one
/// per final window and rule that fired), in the embedded analyser's order.
pub async fn threshold_alerts(spark: &mut SparkClient, spec: &WindowSpec) -> Result<Vec<Alert>, SparkError> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
    if spec.thresholds.is_empty() {
        return Ok(Vec::new());
    }
    let rules: Vec<String> = spec
        .thresholds
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let kind = t.key.map(|k| format!(" AND key_kind = '{}'", k.as_str())).unwrap_or_default();
            format!(
                "SELECT unix_micros(window_start) AS start, key_kind, key, {i} AS rule, CAST({metric} AS DOUBLE) AS value \
                 FROM sweep_metrics WHERE CAST({metric} AS DOUBLE) >= {above:?}{kind}",
                metric = t.metric.as_str(),
                above = t.above,
            )
        })
        .collect();
    let query = format!("SELECT * FROM ({}) ORDER BY start, key_kind, key, rule", rules.join(" UNION ALL "));
    let mut alerts = Vec::new();
    for batch in spark.sql(&query, "checking the window thresholds").await? {
        let start = batch.column(0).as_primitive::<Int64Type>();
        let (kinds, keys) = (batch.column(1).as_string::<i32>(), batch.column(2).as_string::<i32>());
        let (rules, values) = (batch.column(3).as_primitive::<Int32Type>(), batch.column(4).as_primitive::<Float64Type>());
        for row in 0..batch.num_rows() {
            let rule = &spec.thresholds[rules.value(row) as usize];
            let key_kind = KeyKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kinds.value(row))
                .ok_or_else(|| SparkError::Protocol(format!("unknown key kind {:?}", kinds.value(row))))?;
            alerts.push(Alert {
                key_kind,
                key: keys.value(row).to_string(),
                window_start: start.value(row),
                window_end: start.value(row).saturating_add(spec.size.as_micros()),
                metric: rule.metric,
                value: if values.is_valid(row) { values.value(row) } else { 0.0 },
                threshold: rule.above,
            });
        }
    }
    Ok(alerts)
}

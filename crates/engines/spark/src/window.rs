//! The window analyser of a batch run as Spark SQL: the `metrics` table and its threshold
//! alerts, by the rules of docs/windows.md (batch mode: every event counts, every window
//! is final at the end of the input).
//!
//! An event at time `t` (µs) lies in the pane starting at `t - pmod(t, slide)` and in the
//! `size / slide` windows starting at that pane and the panes before it; the rows are
//! exploded into those windows and grouped by key kind, key and window start.

use sweep_window::{Alert, KeyKind, WindowSpec};

use crate::SparkError;
use crate::client::SparkClient;

/// The `metrics` table over the view `events`, in the embedded table's columns and order.
pub fn metrics_sql(spec: &WindowSpec) -> String {
    let (size, slide) = (spec.size.as_micros(), spec.slide.as_micros());
    let panes_per_window = size / slide;
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
        "WITH timed AS (SELECT unix_micros(ts) AS t, * FROM events WHERE ts IS NOT NULL), \
              keyed AS ({keyed}), \
              windowed AS (SELECT *, t - pmod(t, {slide}) - j * {slide} AS start \
                           FROM keyed LATERAL VIEW explode(sequence(0, {last})) w AS j) \
         SELECT timestamp_micros(start) AS window_start, timestamp_micros(start + {size}) AS window_end, key_kind, key, \
                count(*) AS requests, \
                CAST(sum(coalesce(CAST(request_bytes AS BIGINT), 0)) AS BIGINT) AS request_bytes, \
                CAST(sum(coalesce(CAST(response_bytes AS BIGINT), 0)) AS BIGINT) AS response_bytes, \
                count(DISTINCT nullif(host, '')) AS distinct_hosts, \
                count_if(status >= 400) AS errors, \
                CAST(count_if(status >= 400) AS DOUBLE) / count(*) AS error_ratio, \
                count_if(status IN (403, 407) OR lower(proxy_action) LIKE '%denied%') AS denied \
         FROM windowed GROUP BY start, key_kind, key",
        keyed = keyed.join(" UNION ALL "),
        last = panes_per_window - 1,
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

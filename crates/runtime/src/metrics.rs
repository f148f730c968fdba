//! Live numbers of a streaming run, served in the Prometheus text format at `/metrics`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::RunError;
use crate::checkpoint::Totals;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A cumulative histogram with fixed buckets, as Prometheus expects.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64, times: u64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += times;
            }
        }
        self.count += times;
        self.sum += seconds * times as f64;
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {n}\n"));
        }
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}\n", self.count, self.sum, self.count));
    }
}

/// Counters and gauges the runtime updates after every batch.
#[derive(Debug, Default)]
pub struct StreamMetrics {
    pub lines: AtomicU64,
    pub events: AtomicU64,
    pub rejects: AtomicU64,
    pub hits: AtomicU64,
    pub findings: AtomicU64,
    pub detections: AtomicU64,
    pub late: AtomicU64,
    pub alerts: AtomicU64,
    pub batches: AtomicU64,
    /// Messages behind the end of the topic, summed over partitions, after the last batch.
    pub lag: AtomicU64,
    /// Lines per second over the last batch, times 1000 (atomics hold integers).
    pub rate_milli: AtomicU64,
    pub batch_seconds: Mutex<Histogram>,
    pub produce_to_commit_seconds: Mutex<Histogram>,
    pub intel: Mutex<IntelMetrics>,
    /// What the Sigma rule load did, for a stream with Sigma rules.
    pub sigma: Mutex<Option<crate::sigma::SigmaSummary>>,
}

/// The intel a stream sweeps with, and its sources.
#[derive(Debug, Default)]
pub struct IntelMetrics {
    pub version: String,
    pub indicators: u64,
    /// Swaps to a new version since the process started.
    pub swaps: u64,
    pub retro_hits: u64,
    /// Retro-sweep parts planned and not done yet.
    pub retro_parts_pending: u64,
    /// Seconds the version in use took to build after its refresh found the change.
    pub build_seconds: f64,
    /// Seconds the batch that swapped to it took (its retro-sweep included).
    pub swap_batch_seconds: f64,
    /// The sources as the refresh thread last left them (read when /metrics is asked).
    pub sources: Option<Arc<Mutex<Vec<sweep_intel_sources::SourceStats>>>>,
}

impl IntelMetrics {
    fn render(&self, out: &mut String) {
        if self.version.is_empty() {
            return;
        }
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        out.push_str("# HELP sweep_intel_version_info The intel version batches are swept with.\n# TYPE sweep_intel_version_info gauge\n");
        out.push_str(&format!("sweep_intel_version_info{{version=\"{}\"}} 1\n", label(&self.version)));
        for (name, help, kind, value) in [
            ("sweep_intel_indicators", "Indicators in the version in use.", "gauge", self.indicators),
            ("sweep_intel_swaps_total", "Swaps to a new intel version since the process started.", "counter", self.swaps),
            (
                "sweep_retro_hits_total",
                "Hits found in stored events by the retro-sweeps of new intel versions.",
                "counter",
                self.retro_hits,
            ),
            (
                "sweep_retro_parts_pending",
                "Parts of retro-sweeps planned and not done yet (one per batch).",
                "gauge",
                self.retro_parts_pending,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
        for (name, help, value) in [
            ("sweep_intel_build_seconds", "Seconds the version in use took to build, beside the one before it.", self.build_seconds),
            (
                "sweep_intel_swap_batch_seconds",
                "Seconds the batch that swapped to the version in use took, its retro-sweep included.",
                self.swap_batch_seconds,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
        }
        let per_source: [(&str, &str, &str, fn(&sweep_intel_sources::SourceStats) -> Option<f64>); 4] = [
            ("sweep_intel_source_refreshes_total", "Refreshes that found the source changed.", "counter", |s| Some(s.refreshes as f64)),
            ("sweep_intel_source_failures_total", "Refreshes that failed (the previous indicators stayed in use).", "counter", |s| {
                Some(s.failures as f64)
            }),
            ("sweep_intel_source_indicators", "Indicators of the source's content in use.", "gauge", |s| Some(s.indicators as f64)),
            ("sweep_intel_source_last_success_seconds", "When the source was last read successfully (Unix time).", "gauge", |s| {
                s.last_success_us.map(|us| us as f64 / 1e6)
            }),
        ];
        let sources = self.sources.as_ref().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default();
        for (name, help, kind, get) in per_source {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for source in &sources {
                if let Some(v) = get(source) {
                    out.push_str(&format!("{name}{{source=\"{}\"}} {v}\n", label(&source.name)));
                }
            }
        }
    }
}

impl StreamMetrics {
    /// A batch of `lines` lines committed after `seconds`, leaving the running `totals`: the
    /// gauges and the batch counter follow (both engines' streaming runs call this).
    pub fn batch_committed(&self, totals: &Totals, lines: u64, seconds: f64) {
        self.batch_seconds.lock().unwrap_or_else(|e| e.into_inner()).observe(seconds, 1);
        self.rate_milli.store((lines as f64 / seconds.max(1e-6) * 1000.0) as u64, Ordering::Relaxed);
        self.set_totals(totals);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    /// The running totals (since the checkpoint was made) as the gauges.
    pub fn set_totals(&self, totals: &Totals) {
        for (gauge, value) in [
            (&self.lines, totals.lines),
            (&self.events, totals.events),
            (&self.rejects, totals.rejects),
            (&self.hits, totals.hits),
            (&self.findings, totals.findings),
            (&self.detections, totals.detections),
            (&self.late, totals.late),
            (&self.alerts, totals.alerts),
        ] {
            gauge.store(value, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("sweep_lines_total", "Log lines read from the source.", &self.lines),
            ("sweep_events_total", "Lines parsed into events.", &self.events),
            ("sweep_rejects_total", "Lines kept as rejects (including late events).", &self.rejects),
            ("sweep_hits_total", "Threat-intel hits written.", &self.hits),
            ("sweep_findings_total", "Content analyser findings written.", &self.findings),
            ("sweep_detections_total", "Sigma detections written (correlation matches included).", &self.detections),
            ("sweep_late_events_total", "Events behind the window watermark, routed to rejects.", &self.late),
            ("sweep_alerts_total", "Alerts published to Kafka.", &self.alerts),
            ("sweep_batches_total", "Micro-batches committed.", &self.batches),
        ];
        for (name, help, value) in counters {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", value.load(Ordering::Relaxed)));
        }
        out.push_str(&format!(
            "# HELP sweep_consumer_lag Messages not yet read, summed over partitions.\n# TYPE sweep_consumer_lag gauge\nsweep_consumer_lag {}\n",
            self.lag.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP sweep_lines_per_second Throughput of the last batch.\n# TYPE sweep_lines_per_second gauge\nsweep_lines_per_second {}\n",
            self.rate_milli.load(Ordering::Relaxed) as f64 / 1000.0
        ));
        self.batch_seconds.lock().expect("metrics lock").render(
            "sweep_batch_seconds",
            "Time from the start of a batch to its commit.",
            &mut out,
        );
        self.produce_to_commit_seconds.lock().expect("metrics lock").render(
            "sweep_produce_to_commit_seconds",
            "Time from a message's Kafka timestamp to the commit of its batch.",
            &mut out,
        );
        self.intel.lock().unwrap_or_else(|e| e.into_inner()).render(&mut out);
        if let Some(sigma) = self.sigma.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            out.push_str(&format!(
                "# HELP sweep_sigma_rules_loaded Sigma rules in use (correlations included).\n# TYPE sweep_sigma_rules_loaded gauge\nsweep_sigma_rules_loaded {}\n",
                sigma.rules_loaded + sigma.correlations_loaded
            ));
            out.push_str("# HELP sweep_sigma_rules_refused Sigma rules refused, by reason.\n# TYPE sweep_sigma_rules_refused gauge\n");
            for (reason, n) in &sigma.rules_refused {
                out.push_str(&format!(
                    "sweep_sigma_rules_refused{{reason=\"{}\"}} {n}\n",
                    reason.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        }
        out
    }
}

/// Serves `GET /metrics` on `addr` from a background thread until `stop` is raised.
pub fn serve(addr: &str, metrics: Arc<StreamMetrics>, stop: Arc<AtomicBool>) -> Result<std::net::SocketAddr, RunError> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| RunError::Refused(format!("cannot serve metrics on {addr}: {e}; choose another metrics_addr (host:port)")))?;
    let bound = listener.local_addr().map_err(RunError::Runtime)?;
    listener.set_nonblocking(true).map_err(RunError::Runtime)?;
    thread::Builder::new()
        .name("sweep-metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = answer(stream, &metrics);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
            }
        })
        .map_err(RunError::Runtime)?;
    Ok(bound)
}

fn answer(mut stream: TcpStream, metrics: &StreamMetrics) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Drain the headers so the client sees a clean response.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let (status, body) = if request_line.starts_with("GET /metrics") {
        ("200 OK", metrics.render())
    } else {
        ("404 Not Found", "sweep serves /metrics only\n".to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.3, 2);
        h.observe(4.0, 1);
        let mut out = String::new();
        h.render("x", "help", &mut out);
        assert!(out.contains("x_bucket{le=\"0.25\"} 0\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.5\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"5\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn sigma_detections_and_rule_counts_are_exported() {
        let sigma = crate::sigma::SigmaSummary {
            rules_loaded: 41,
            correlations_loaded: 1,
            rules_refused: [("unmapped_field".to_string(), 2)].into(),
            ..Default::default()
        };
        let metrics = StreamMetrics { sigma: Mutex::new(Some(sigma)), ..Default::default() };
        metrics.batch_committed(&Totals { detections: 7, ..Default::default() }, 10, 0.5);
        let out = metrics.render();
        assert!(out.contains("\nsweep_detections_total 7\n"), "{out}");
        assert!(out.contains("\nsweep_sigma_rules_loaded 42\n"), "{out}");
        assert!(out.contains("\nsweep_sigma_rules_refused{reason=\"unmapped_field\"} 2\n"), "{out}");
        // Without Sigma rules, no Sigma gauges.
        assert!(!StreamMetrics::default().render().contains("sweep_sigma_"));
    }

    #[test]
    fn serves_the_text_format_over_http() {
        let metrics = Arc::new(StreamMetrics::default());
        metrics.lines.store(42, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let addr = serve("127.0.0.1:0", metrics, stop.clone()).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        stop.store(true, Ordering::Relaxed);
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("\nsweep_lines_total 42\n"), "{body}");
    }
}

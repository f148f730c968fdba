//! What the CLI shows people: a progress bar while running, a summary at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sweep::{RunCounters, RunSummary};

/// A progress bar on stderr, fed from the run's counters by a background thread.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Progress {
    pub fn start(counters: Arc<RunCounters>) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) {
                bar.set_length(counters.bytes_total.load(Ordering::Relaxed));
                bar.set_position(counters.bytes_read.load(Ordering::Relaxed));
                let lines = counters.lines.load(Ordering::Relaxed);
                let rate = lines as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{} lines ({}/s), {} rejects",
                    group(lines),
                    group(rate as u64),
                    group(counters.rejects.load(Ordering::Relaxed))
                ));
                std::thread::sleep(Duration::from_millis(150));
            }
            bar.finish_and_clear();
        });
        Progress { done, thread }
    }

    pub fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

static COLOR: std::sync::OnceLock<crate::ColorArg> = std::sync::OnceLock::new();

/// Records `--color` for [`colored`].
pub fn set_color(color: crate::ColorArg) {
    let _ = COLOR.set(color);
}

#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Whether text written to `stream` gets colours: `--color always|never`, else on a terminal
/// unless `NO_COLOR` is set (to anything but the empty string) or `TERM=dumb`.
pub fn colored(stream: Stream) -> bool {
    use std::io::IsTerminal;
    match COLOR.get().copied().unwrap_or(crate::ColorArg::Auto) {
        crate::ColorArg::Always => true,
        crate::ColorArg::Never => false,
        crate::ColorArg::Auto => {
            let terminal = match stream {
                Stream::Stdout => std::io::stdout().is_terminal(),
                Stream::Stderr => std::io::stderr().is_terminal(),
            };
            terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::env::var("TERM").as_deref() != Ok("dumb")
        }
    }
}

#[derive(Clone, Copy)]
pub enum Style {
    Good,
    Error,
    Strong,
}

/// `text` in `style` when `stream` gets colours, else as it is.
pub fn paint(stream: Stream, style: Style, text: &str) -> String {
    if !colored(stream) {
        return text.to_string();
    }
    let code = match style {
        Style::Good => "32",
        Style::Error => "1;31",
        Style::Strong => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_time(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = sweep::calendar::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// 1234567 → "1,234,567".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn print_summary(s: &RunSummary) {
    if s.stream.is_some() {
        println!("sweep: {} lines from Kafka in {:.2} s, {} lines/s", group(s.input_lines), s.elapsed_s, group(s.lines_per_second as u64));
    } else {
        println!(
            "sweep: {} lines from {} input{} ({:.1} MB) in {:.2} s, {} lines/s",
            group(s.input_lines),
            s.input_files,
            if s.input_files == 1 { "" } else { "s" },
            s.input_bytes as f64 / 1e6,
            s.elapsed_s,
            group(s.lines_per_second as u64)
        );
    }
    if !s.detected_formats.is_empty() {
        let mut files_per_format: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for format in s.detected_formats.values() {
            *files_per_format.entry(format).or_default() += 1;
        }
        let found: Vec<String> =
            files_per_format.iter().map(|(f, n)| format!("{f} ({n} file{})", if *n == 1 { "" } else { "s" })).collect();
        println!("  formats detected: {}", found.join(", "));
    }
    let table = |name: &str| s.tables.get(name).map(|t| format!("  -> {} ({} rows, {} files)", t.path.display(), group(t.rows), t.files));
    println!("  events   {:>12}{}", group(s.events), table("events").unwrap_or_default());
    let reasons: Vec<String> = s.reject_reasons.iter().map(|(k, v)| format!("{k} {}", group(*v))).collect();
    let reasons = if reasons.is_empty() { String::new() } else { format!("  [{}]", reasons.join(", ")) };
    println!("  rejects  {:>12}{}{reasons}", group(s.rejects), table("rejects").unwrap_or_default());
    println!("  skipped  {:>12}", group(s.skipped));
    if let Some(intel) = &s.intel {
        println!("  hits     {:>12}{}", group(s.hits), table("hits").unwrap_or_default());
        println!(
            "  intel    {} indicators (version {}), {} refused, {} matches suppressed by allowlists, {} outside validity",
            group(intel.indicators),
            intel.intel_version,
            group(intel.refused),
            group(intel.suppressed),
            group(intel.inactive)
        );
    }
    if s.tables.contains_key("findings") {
        let kinds: Vec<String> = s.findings_by_kind.iter().map(|(k, v)| format!("{k} {}", group(*v))).collect();
        let kinds = if kinds.is_empty() { String::new() } else { format!("  [{}]", kinds.join(", ")) };
        println!("  findings {:>12}{}{kinds}", group(s.findings), table("findings").unwrap_or_default());
    }
    if let Some(sigma) = &s.sigma {
        let refused: usize = sigma.rules_refused.values().sum();
        let why = if refused > 0 { " (`sweep sigma check` says why)" } else { "" };
        println!("  detections {:>10}{}", group(s.detections), table("detections").unwrap_or_default());
        println!(
            "           {} Sigma rules and {} correlations loaded, {refused} refused{why}",
            sigma.rules_loaded, sigma.correlations_loaded
        );
    }
    if let Some(t) = s.tables.get("metrics") {
        println!("  metrics  {:>12}  -> {} ({} files)", group(s.metrics_rows), t.path.display(), t.files);
    }
    if let Some(st) = &s.stream {
        println!(
            "  stream   {} batches ({} re-run after a crash), {} late events, {} alerts, lag {}, stopped by {}",
            group(st.batches),
            st.replayed_batches,
            group(st.late_events),
            group(st.alerts),
            group(st.lag),
            if st.stopped_by.is_empty() { "error" } else { &st.stopped_by }
        );
        println!(
            "           produce-to-commit p50 {:.2} s, p99 {:.2} s; checkpoint {}",
            st.produce_to_commit_p50_s,
            st.produce_to_commit_p99_s,
            st.checkpoint.display()
        );
        if st.counts_since_checkpoint {
            println!("           (counts are totals since the checkpoint was created)");
        } else {
            println!("           (counts are this run's)");
        }
    }
    let balanced = s.input_lines == s.events + s.rejects + s.skipped;
    println!("  every line accounted for: {}", if balanced { "yes" } else { "NO (please report this)" });
    if !s.inputs_skipped.is_empty() {
        println!(
            "  skipped  {} input{} an earlier run loaded unchanged (--reload reads them again)",
            s.inputs_skipped.len(),
            if s.inputs_skipped.len() == 1 { "" } else { "s" }
        );
    }
    if !s.run_id.is_empty() {
        println!("  committed as run {}", s.run_id);
    }
    for run in &s.recovered_runs {
        println!("  completed run {run}, which a crash had interrupted while committing");
    }
    print_warnings(s);
}

/// Warnings go to stderr, where a scheduler's log catches them, even with --quiet.
pub fn print_warnings(s: &RunSummary) {
    for w in &s.warnings {
        eprintln!("sweep: warning: {w}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::group(0), "0");
        assert_eq!(super::group(999), "999");
        assert_eq!(super::group(1000), "1,000");
        assert_eq!(super::group(1234567), "1,234,567");
    }
}

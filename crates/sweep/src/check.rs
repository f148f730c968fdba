//! `sweep check`: everything a run of a pipeline would touch, tried without running it and
//! without writing to the lake. Every problem is listed, not only the first.
//!
//! Checked: the pipeline's settings; each input (it exists, it reads, and its format reads
//! a sample of its lines); the SQL stages (planned over the events table's columns, with
//! the columns the analysers read); feeds (loaded, with counts) and Sigma rules; the lake's
//! tables (the write mode allows the run, the folders are writable); a Kafka source or
//! alert topic (the broker answers, the topic exists); a Spark Connect server (it answers).

use std::path::{Path, PathBuf};

use sweep_formats::{BatchBuilder, ChunkParser, FormatSpec};
use sweep_model::{KafkaSourceSpec, Pipeline, SinkSpec, WriteMode};

use crate::EngineKind;

/// How many files of an input are sampled for their format (all are checked to exist).
const SAMPLED_FILES: usize = 20;

/// One thing checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckItem {
    /// What part of the pipeline: pipeline, input, format, sql, intel, sigma, output, kafka, spark.
    pub area: &'static str,
    /// What was checked, in the user's words (a file, a feed, a table).
    pub subject: String,
    /// What was found: counts, the format's share of lines read, the server's version.
    pub detail: String,
    /// Why a run would fail or lose lines, and what to do; `None` when all is well.
    pub problem: Option<String>,
}

/// Everything `sweep check` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
}

impl CheckReport {
    pub fn problems(&self) -> usize {
        self.items.iter().filter(|i| i.problem.is_some()).count()
    }

    fn ok(&mut self, area: &'static str, subject: impl Into<String>, detail: impl Into<String>) {
        self.items.push(CheckItem { area, subject: subject.into(), detail: detail.into(), problem: None });
    }

    fn problem(&mut self, area: &'static str, subject: impl Into<String>, problem: impl Into<String>) {
        self.items.push(CheckItem { area, subject: subject.into(), detail: String::new(), problem: Some(problem.into()) });
    }
}

/// Checks `pipeline` as a run of it would use it.
pub fn check(pipeline: &Pipeline) -> CheckReport {
    let mut report = CheckReport::default();
    match pipeline.validate() {
        Ok(()) => report.ok("pipeline", "settings", format!("{} engine", engine_name(pipeline.engine))),
        Err(message) => report.problem("pipeline", "settings", message),
    }
    if let Some(missing) = crate::missing_part(pipeline) {
        report.problem("pipeline", "this sweep binary", missing.to_string());
    }
    for stage in &pipeline.extract {
        check_input(&mut report, stage);
    }
    check_plan(&mut report, pipeline);
    check_intel(&mut report, pipeline);
    check_outputs(&mut report, pipeline);
    if let Some(alerts) = &pipeline.load.alerts {
        let spec = KafkaSourceSpec::from_url(&format!("kafka://{}/{}", alerts.brokers, alerts.topic))
            .map(|spec| KafkaSourceSpec { options: alerts.options.clone(), ..spec });
        match spec.map_err(|e| e.to_string()).and_then(|spec| sweep_kafka::source::TopicSource::connect(&spec).map_err(|e| e.to_string())) {
            Ok(_) => report.ok("kafka", format!("alerts topic {}", alerts.topic), format!("broker {} answers", alerts.brokers)),
            Err(e) => report.problem("kafka", format!("alerts topic {}", alerts.topic), e.to_string()),
        }
    }
    if pipeline.engine == EngineKind::Spark {
        match spark_server_version(pipeline) {
            Ok((remote, version)) => report.ok("spark", remote, format!("Spark {version} answers")),
            Err(e) => report.problem("spark", pipeline.remote.clone().unwrap_or_else(|| "$SWEEP_SPARK_REMOTE".into()), e),
        }
    }
    report
}

/// The Spark Connect server's address and version, asked of the server.
#[cfg(feature = "spark")]
fn spark_server_version(pipeline: &Pipeline) -> Result<(String, String), String> {
    let spark = sweep_spark::Spark::new(pipeline.remote.as_deref()).map_err(|e| e.to_string())?;
    let version = spark.server_version().map_err(|e| e.to_string())?;
    Ok((spark.remote().to_string(), version))
}

#[cfg(not(feature = "spark"))]
fn spark_server_version(_pipeline: &Pipeline) -> Result<(String, String), String> {
    Err(crate::Error::NotBuilt { what: "the Spark engine" }.to_string())
}

fn engine_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Embedded => "embedded",
        EngineKind::Spark => "spark",
    }
}

fn check_input(report: &mut CheckReport, stage: &sweep_model::ExtractSpec) {
    if let Some(kafka) = &stage.kafka {
        let subject = format!("kafka topic {}", kafka.topics.join(", "));
        match sweep_kafka::source::TopicSource::connect(kafka) {
            Ok(source) => {
                report.ok("kafka", subject, format!("broker {} answers; {} partitions", kafka.brokers, source.partitions().len()))
            }
            Err(e) => report.problem("kafka", subject, e.to_string()),
        }
        if stage.format == FormatSpec::Auto {
            report.problem("format", subject_of(stage), "format \"auto\" reads files; name the format of a Kafka topic");
        }
        return;
    }
    let inputs = match sweep_extract::resolve_inputs(&stage.input_args()) {
        Ok(inputs) => inputs,
        Err(e) => return report.problem("input", subject_of(stage), e.to_string()),
    };
    let files: Vec<&sweep_extract::Input> = inputs.iter().filter(|i| !matches!(i, sweep_extract::Input::Stdin)).collect();
    let bytes: u64 = files.iter().filter_map(|i| i.size()).sum();
    let stdin = inputs.len() > files.len();
    report.ok(
        "input",
        subject_of(stage),
        format!(
            "{} file{} ({:.1} MB){}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            bytes as f64 / 1e6,
            if stdin { " and standard input" } else { "" }
        ),
    );
    if stage.format == FormatSpec::Auto && stdin {
        report.problem("format", "standard input", "format \"auto\" reads files; name the format of standard input");
    }
    for input in files.iter().take(SAMPLED_FILES) {
        check_sample(report, input, &stage.format);
    }
    if files.len() > SAMPLED_FILES {
        report.ok("format", subject_of(stage), format!("the first {SAMPLED_FILES} of {} files sampled", files.len()));
    }
}

fn subject_of(stage: &sweep_model::ExtractSpec) -> String {
    match &stage.kafka {
        Some(k) => format!("kafka topic {}", k.topics.join(", ")),
        None => stage.input_args().join(" "),
    }
}

/// Reads the first lines of `input` with `format` (or, for `auto`, with the format they
/// are detected as): a format that reads none of them is a problem.
fn check_sample(report: &mut CheckReport, input: &sweep_extract::Input, format: &FormatSpec) {
    let name = input.name();
    let sample = match sweep_runtime::detect::sample(input) {
        Ok(sample) => sample,
        Err(e) => return report.problem("input", name, e.to_string()),
    };
    let (spec, label) = if *format == FormatSpec::Auto {
        match sweep_formats::detect::detect(&sample) {
            Some(found) => (found.spec, format!("auto: {}", found.label)),
            None if sample.iter().all(u8::is_ascii_whitespace) => return report.ok("format", name, "empty"),
            None => {
                return report.problem(
                    "format",
                    name,
                    "no built-in format reads its first lines; name the format (`sweep formats` lists them) or write a custom pattern",
                );
            }
        }
    } else {
        (format.clone(), format.name().to_string())
    };
    let Ok(mut parser) = ChunkParser::new(&spec) else {
        // An invalid format is reported with the pipeline's settings.
        return;
    };
    let whole = match memchr_last_newline(&sample) {
        Some(end) => &sample[..=end],
        None => &sample[..],
    };
    let mut builder = BatchBuilder::new(1024, 0);
    parser.parse_chunk(whole, &name, 1, None, &mut builder);
    let counts = builder.finish().counts;
    let data = counts.events + counts.rejects;
    if data == 0 {
        return report.ok("format", name, format!("{label}: no data line in the first {} lines", counts.lines));
    }
    let share = counts.events as f64 / data as f64;
    let detail = format!("{label} reads {} of the first {data} lines ({:.1}%)", counts.events, 100.0 * share);
    if counts.events == 0 {
        let hint = match sweep_formats::detect::detect(whole) {
            Some(found) => format!("it looks like {} (`sweep detect {name}`)", found.label),
            None => "`sweep detect` finds no built-in format for it".to_string(),
        };
        report.problem("format", name, format!("{detail}: every line would be a reject; {hint}"));
    } else {
        report.ok("format", name, detail);
    }
}

fn memchr_last_newline(data: &[u8]) -> Option<usize> {
    data.iter().rposition(|b| *b == b'\n')
}

fn check_plan(report: &mut CheckReport, pipeline: &Pipeline) {
    if pipeline.engine == EngineKind::Spark {
        if !pipeline.transform.is_empty() {
            report.ok("sql", format!("{} SQL stage(s)", pipeline.transform.len()), "planned by the Spark server when the run starts");
        }
        return;
    }
    match sweep_embedded::check::plan(pipeline) {
        Ok(schema) => {
            let subject =
                if pipeline.transform.is_empty() { "events".to_string() } else { format!("{} SQL stage(s)", pipeline.transform.len()) };
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            report.ok("sql", subject, format!("events get {} columns: {}", columns.len(), columns.join(", ")));
        }
        Err(e) => report.problem("sql", "SQL stages and analysers", e.to_string()),
    }
}

fn check_intel(report: &mut CheckReport, pipeline: &Pipeline) {
    if let Some(spec) = pipeline.sweeper() {
        match sweep_runtime::intel::load_intel(spec, pipeline.intel.cache.as_deref()) {
            Ok(loaded) => {
                for feed in &loaded.feeds {
                    let detail =
                        format!("{} indicators ({}), {} refused, {} skipped", feed.indicators, feed.kind, feed.refused, feed.skipped);
                    if feed.indicators == 0 {
                        report.problem("intel", &feed.feed, format!("{detail}: the feed gives no indicator"));
                    } else {
                        report.ok("intel", &feed.feed, detail);
                    }
                }
                for allow in &loaded.allowlists {
                    report.ok("intel", format!("allowlist {}", allow.feed), format!("{} entries", allow.indicators));
                }
            }
            Err(e) => report.problem("intel", "feeds", e.to_string()),
        }
    }
    if let Some(spec) = pipeline.sigma() {
        let missing: Vec<&PathBuf> = spec.rules.iter().filter(|p| !p.exists()).collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            report.problem("sigma", names.join(", "), "no such file or folder (give Sigma rule files or folders of them)");
            return;
        }
        match spec.load() {
            Ok((_, loaded)) => {
                let detail = format!(
                    "{} rules and {} correlations loaded, {} refused (`sweep sigma check` says why), {} for other log sources",
                    loaded.loaded.len(),
                    loaded.correlations.len(),
                    loaded.refused.len(),
                    loaded.skipped.len()
                );
                let subject: Vec<String> = spec.rules.iter().map(|p| p.display().to_string()).collect();
                if loaded.loaded.is_empty() {
                    report.problem("sigma", subject.join(", "), format!("{detail}: no rule would run"));
                } else {
                    report.ok("sigma", subject.join(", "), detail);
                }
            }
            Err(e) => report.problem("sigma", "rules", e.to_string()),
        }
    }
}

/// The tables a run of `pipeline` writes.
fn tables(pipeline: &Pipeline) -> Vec<&'static str> {
    let mut names = vec!["events", "rejects"];
    if pipeline.sweeper().is_some() {
        names.extend(["hits", "intel"]);
    }
    if pipeline.window().is_some() {
        names.push("metrics");
    }
    if pipeline.content().is_some() {
        names.push("findings");
    }
    if pipeline.sigma().is_some() {
        names.push("detections");
    }
    names
}

fn check_outputs(report: &mut CheckReport, pipeline: &Pipeline) {
    let streaming = pipeline.is_streaming();
    for name in tables(pipeline) {
        let Some(sink) = pipeline.load.sink(name) else { continue };
        let path = sink.path().to_path_buf();
        let subject = format!("{name} table {}", path.display());
        let on_object_storage = sweep_load::is_object_lake(&path);
        if !on_object_storage && let Some(problem) = not_writable(&path) {
            report.problem("output", subject, problem);
            continue;
        }
        // A stream continues its tables; a batch run in the default mode refuses a table
        // that holds data (the intel snapshot is replaced whatever the mode). On object
        // storage, listing the table says whether the store, bucket and credentials work.
        let holds_data = match sweep_load::lake::table_holds_data(&sink) {
            Ok(holds) => holds,
            Err(e) => {
                // The subject names the table already; say only what the store said.
                let said = match e {
                    sweep_load::LoadError::Store { message, .. } => message,
                    e => e.to_string(),
                };
                report.problem("output", subject, said);
                continue;
            }
        };
        if holds_data && !streaming && name != "intel" && pipeline.load.mode == WriteMode::Error {
            report.problem(
                "output",
                subject,
                "already holds data; choose --mode append (adds only inputs not loaded before) or overwrite, or another folder",
            );
            continue;
        }
        let state = match (holds_data, pipeline.load.mode) {
            (false, _) => "new or empty".to_string(),
            (true, WriteMode::Overwrite) => "holds data, which the run replaces".to_string(),
            (true, _) => "holds data; the run appends".to_string(),
        };
        report.ok("output", subject, format!("{} ({state})", kind_of(&sink)));
    }
    if let Some(dir) = &pipeline.stream.checkpoint {
        if sweep_load::is_object_lake(dir) {
            // Listing the checkpoint says whether the store, bucket and credentials work.
            let subject = format!("checkpoint {}", dir.display());
            match sweep_runtime::checkpoint::Checkpoint::has_commits(dir) {
                Ok(resumes) => report.ok("output", subject, if resumes { "resumes where it stopped" } else { "new" }),
                Err(e) => report.problem("output", subject, e.to_string()),
            }
            return;
        }
        match not_writable(dir) {
            Some(problem) => report.problem("output", format!("checkpoint {}", dir.display()), problem),
            None => {
                report.ok("output", format!("checkpoint {}", dir.display()), if dir.is_dir() { "resumes where it stopped" } else { "new" })
            }
        }
    }
}

fn kind_of(sink: &SinkSpec) -> &'static str {
    match sink {
        SinkSpec::Delta(_) => "delta",
        SinkSpec::Parquet(_) => "parquet",
        SinkSpec::Jsonl(_) => "jsonl",
    }
}

/// Why the run could not create or write `path`, or `None`: the nearest folder that exists
/// must be a folder the run can create files in (tried with a file removed at once).
fn not_writable(path: &Path) -> Option<String> {
    let mut existing = path;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Some(format!("{} is a file, not a folder", existing.display()));
    }
    match tempfile::Builder::new().prefix(".sweep-check-").tempfile_in(existing) {
        Ok(_) => None,
        Err(e) => Some(format!("cannot create files in {}: {e}", existing.display())),
    }
}

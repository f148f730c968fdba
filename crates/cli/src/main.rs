//! `sweep`: the command line.

mod demo;
mod line_editor;
mod output;
mod reference;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use sweep::arrow::record_batch::RecordBatch;
use sweep::{ExtractSpec, FormatSpec, Pipeline, RunCounters, Settings, TransformStage, WriteMode};

#[derive(Parser)]
#[command(name = "sweep", version, about = "Threat-intelligence ETL for web proxy logs", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colours in messages and help: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true)]
    color: ColorArg,
    /// Log what the run does on standard error (-v: sweep's steps; -vv: also its libraries';
    /// RUST_LOG overrides both).
    #[arg(long, short, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Parse logs into tables in one go: `sweep scan logs/ --format squid --out lake/`.
    #[command(after_help = "Examples:
  sweep scan /var/log/squid/ --format squid --out lake/
  sweep scan logs/ --format auto --intel feeds/ --sigma rules/ --content --out lake/
  sweep scan access.log* --format nginx --out lake/ --mode append --fail-on-rejects 0.05
  sweep scan kafka://127.0.0.1:19092/proxy --format squid --checkpoint ckpt/ --out lake/ --table-format delta
  sweep scan logs/ --format squid --out lake/ --print-pipeline > pipeline.toml")]
    Scan(ScanArgs),
    /// Run a pipeline file (docs/pipeline.md).
    #[command(after_help = "Examples:\n  sweep check pipeline.toml && sweep run pipeline.toml --summary run.json")]
    Run {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Run SQL over the tables in an output folder (tables: events, rejects, ...).
    #[command(
        after_help = "Examples:\n  sweep query lake/ \"SELECT host, count(*) FROM events GROUP BY host ORDER BY 2 DESC LIMIT 10\"\n  sweep query lake/ \"SHOW TABLES\"              (or \\d; \\d hits lists a table's columns)\n  sweep query lake/ \"SELECT * FROM hits\" --output csv > hits.csv\n  sweep query lake/ \"SELECT * FROM hits\" --output parquet hits.parquet\n  sweep query lake/                            (a shell: SQL ending with ;, history, \\q to quit)\n  echo \"SHOW TABLES; SELECT count(*) FROM hits;\" | sweep query lake/"
    )]
    Query {
        /// The folder a run wrote (its --out or [load] dir).
        lake: PathBuf,
        /// The SQL statement, for example "SELECT host, count(*) FROM events GROUP BY host ORDER BY 2 DESC LIMIT 10";
        /// also SHOW TABLES, DESCRIBE TABLE, and \d [TABLE]. Without it: an interactive shell on a
        /// terminal, else the statements on standard input (ending with ;).
        sql: Option<String>,
        /// Where to write the result (required with --output parquet; standard output otherwise).
        file: Option<PathBuf>,
        /// How to print the result (csv writes list columns as [a, b]).
        #[arg(long, value_enum, default_value_t = QueryOutput::Table)]
        output: QueryOutput,
    },
    /// Check a pipeline without running it: inputs, formats, SQL, feeds, rules, tables, Kafka
    /// and Spark; list every problem, and exit 1 if there is one.
    #[command(after_help = "Examples:\n  sweep check pipeline.toml\n  \
                            sweep scan logs/ --format squid --intel feed.txt --out lake/ --check    (the same checks for a scan's flags)")]
    Check {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a pipeline's tests: sample lines in, the rows expected out (events or reject
    /// reasons, hits, findings, detections, counts); exit 1 when one fails.
    #[command(after_help = "Examples:\n  sweep test tests.toml\n\nA test file (docs/pipeline.md, \"Testing a pipeline\"):\n  \
                            pipeline = \"pipeline.toml\"\n  [[test]]\n  name = \"a denied request\"\n  \
                            lines = [\"1700000000.000 5 10.0.0.1 TCP_DENIED/403 0 GET http://bad.example/ - HIER_NONE/- -\"]\n  \
                            events = [{ host = \"bad.example\", status = 403 }]\n  counts = { rejects = 0 }")]
    Test {
        /// The test file (TOML).
        file: PathBuf,
        /// Print the outcomes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in log formats, each with an example line.
    Formats,
    /// Tell which built-in format log files are in, with a confidence and a sample parse.
    #[command(after_help = "Examples:\n  sweep detect /var/log/squid/access.log\n  sweep detect logs/          (every file below)\n  \
                            sweep scan logs/ --format auto --out lake/    (detects each file's format as it runs)")]
    Detect {
        /// Log files, folders, glob patterns or object storage URLs (gzip and zstd are read as a run reads them).
        #[arg(required = true)]
        files: Vec<String>,
        /// Show every candidate format's share of lines read, not only the best three.
        #[arg(long)]
        all: bool,
    },
    /// Generate realistic proxy traffic, run a pipeline over it and show what came out.
    Demo {
        /// Where the demo writes its inputs and tables (replaced if it exists).
        #[arg(long, default_value = "sweep-demo")]
        dir: PathBuf,
        /// Lines of traffic per generated log.
        #[arg(long, default_value_t = 20_000)]
        lines: u64,
    },
    /// Inspect Sigma rules: which load, which are refused and why.
    Sigma {
        #[command(subcommand)]
        command: SigmaCommand,
    },
    /// Inspect indicator feeds.
    Intel {
        #[command(subcommand)]
        command: IntelCommand,
    },
    /// Sweep stored events with today's indicators (--intel) or Sigma rules (--sigma); append
    /// only hits and detections not already stored.
    Retro {
        /// The lake folder holding the events table.
        lake: PathBuf,
        #[command(flatten)]
        intel: IntelArgs,
        /// Sigma rules (files or folders, repeatable): append the detections not stored yet
        /// (embedded engine).
        #[arg(long, value_name = "PATH")]
        sigma: Vec<PathBuf>,
        /// Only events on or after this day: YYYY-MM-DD, today, yesterday, or a span back
        /// from now (7d, 36h).
        #[arg(long, value_parser = parse_since)]
        since: Option<String>,
        /// Write the summary as JSON to this file (- for standard output, instead of the human summary).
        #[arg(long)]
        summary: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// The engine: embedded (in this process, the default) or spark (over Spark Connect, with --remote).
        #[arg(long, value_enum, default_value_t = EngineArg::Embedded)]
        engine: EngineArg,
        /// The Spark Connect server of --engine spark, sc://host:port (default: $SWEEP_SPARK_REMOTE).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
    },
    /// Remove what no reader of a lake needs: files of runs that died, and old Delta versions' files.
    Vacuum {
        /// The lake folder (the --out of a run).
        lake: PathBuf,
        /// Keep the files Delta versions of the last this many hours read (time travel).
        #[arg(long, default_value_t = 168)]
        retain_hours: u64,
    },
    /// Print a shell completion script: sweep completions bash > /etc/bash_completion.d/sweep
    #[command(after_help = "Examples:\n  sweep completions bash > ~/.local/share/bash-completion/completions/sweep\n  \
                            sweep completions zsh > ~/.zfunc/_sweep\n  sweep completions fish > ~/.config/fish/completions/sweep.fish")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write man pages: sweep.1 and one per command (sweep-scan.1, ...), into a folder.
    #[command(after_help = "Examples:\n  sweep man --out /usr/local/share/man/man1 && man sweep-scan")]
    Man {
        /// The folder to write them to (created if missing).
        #[arg(long, short, default_value = ".")]
        out: PathBuf,
    },
    /// Print the command-line reference as Markdown (docs/cli.md is this output).
    #[command(hide = true)]
    Markdown,
    /// Write synthetic proxy traffic (for benchmarks and experiments).
    Generate {
        /// Layout: squid, combined, squid_combined or elff.
        #[arg(long, default_value = "squid")]
        format: String,
        /// Number of lines.
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// Malformed lines per million.
        #[arg(long, default_value_t = 1000)]
        malformed_per_million: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file (`-` for stdout).
        #[arg(long, short)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum SigmaCommand {
    /// Load rule files and folders as a run would; list the rules loaded, refused (with the
    /// reason) and skipped (another log source). Exit 1 when a rule is refused.
    Check {
        /// Rule files or folders (searched for .yml and .yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Read a Sigma field from another events column (FIELD=COLUMN, repeatable).
        #[arg(long = "field", value_name = "FIELD=COLUMN")]
        fields: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum IntelCommand {
    /// Load feeds and report what was loaded, by type and feed, and what was refused and why;
    /// for fetched sources also their last success, refreshes and errors (from the cache).
    Stats {
        #[command(flatten)]
        intel: IntelArgs,
        /// Take the sources of this pipeline file (its sweeper and [[intel.source]]).
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,
        /// Also list every refused value.
        #[arg(long)]
        refused: bool,
    },
    /// Fetch the URL and TAXII sources into the cache (conditional requests), so that later
    /// runs can read them where the sources are not reachable.
    Pull {
        #[command(flatten)]
        intel: IntelArgs,
        /// Take the sources of this pipeline file (its sweeper and [[intel.source]]).
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone)]
struct IntelArgs {
    /// An indicator feed: a file or a folder of feeds, read by detected kind, or an http(s)://
    /// URL to download one (repeatable). STIX 2.1, MISP events and feed folders, CSV (URLhaus,
    /// Feodo, ThreatFox, Spamhaus DROP), plain lists.
    #[arg(long = "intel", value_name = "PATH|URL")]
    feeds: Vec<String>,
    /// In a stream, read every --intel source again this often (30s, 5m, 1h): new
    /// indicators apply from the next batch, and stored events are swept for them.
    #[arg(long = "intel-refresh", value_name = "SPAN")]
    refresh: Option<sweep::Span>,
    /// Where fetched sources are kept (default: $SWEEP_CACHE/intel, ~/.cache/sweep/intel;
    /// for a stream, its checkpoint folder).
    #[arg(long = "intel-cache", value_name = "DIR")]
    cache: Option<PathBuf>,
    /// An allowlist (plain list or MISP warninglist): values that never raise a hit (repeatable).
    #[arg(long = "allow", value_name = "PATH")]
    allow: Vec<PathBuf>,
    /// Event fields to check, in order (default: server_ip,host,url).
    #[arg(long = "match-fields", value_delimiter = ',', value_name = "FIELDS")]
    fields: Vec<sweep::MatchField>,
}

impl IntelArgs {
    fn sweeper(&self) -> Option<sweep::SweeperSpec> {
        if self.feeds.is_empty() {
            return None;
        }
        let mut spec = sweep::SweeperSpec::from_paths::<PathBuf>([]);
        spec.intel = self
            .feeds
            .iter()
            .map(|f| {
                let mut feed = if sweep::FEED_URL_SCHEMES.iter().any(|scheme| f.starts_with(scheme)) {
                    sweep::FeedSpec { url: Some(f.clone()), ..sweep::FeedSpec::default() }
                } else {
                    sweep::FeedSpec::new(f)
                };
                feed.refresh = self.refresh;
                feed
            })
            .collect();
        spec.allow = self.allow.clone();
        if !self.fields.is_empty() {
            spec.fields = self.fields.clone();
        }
        Some(spec)
    }
}

#[derive(Copy, Clone, ValueEnum)]
enum QueryOutput {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(clap::Args)]
struct CommonArgs {
    /// Write the run summary as JSON to this file (- for standard output, instead of the human summary).
    #[arg(long)]
    summary: Option<PathBuf>,
    /// No progress bar and no human summary.
    #[arg(long, short)]
    quiet: bool,
    /// Read every input again, even those an earlier run into the lake loaded unchanged.
    #[arg(long)]
    reload: bool,
    /// Fail (exit 3, commit nothing) when more than this share of lines (0-1) are rejects.
    #[arg(long, value_name = "RATIO")]
    fail_on_rejects: Option<f64>,
    /// Fail (exit 3, commit nothing) when the inputs hold no lines.
    #[arg(long)]
    fail_if_empty: bool,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Log files, directories or glob patterns; `-` reads stdin; `s3://`, `gs://`, `az://` and
    /// `https://` URLs (an object, a prefix or a glob; docs/storage.md). Gzip and zstd are read as such.
    /// `kafka://host:port/topic` streams a Kafka topic instead (needs --checkpoint).
    #[arg(required = true, help_heading = "Input")]
    inputs: Vec<String>,
    /// The log format (see `sweep formats`), or auto: each file's own, told from its first
    /// lines (see `sweep detect`).
    #[arg(long, short, help_heading = "Format")]
    format: String,
    /// A SQL stage over `events` (repeatable; each reads the previous one's output).
    #[arg(long, help_heading = "Format")]
    sql: Vec<String>,
    #[command(flatten, next_help_heading = "Intel")]
    intel: IntelArgs,
    /// Flag malicious-looking hosts (bare IPs, typosquats, brand masquerades, DGA names) into
    /// <out>/findings, with the default content analyser (docs/content.md; options in a pipeline file).
    #[arg(long, help_heading = "Analysis")]
    content: bool,
    /// Sigma rules (a file or a folder of them, repeatable): detections go to <out>/detections
    /// (docs/sigma.md; level filter and field map overrides in a pipeline file).
    #[arg(long, value_name = "PATH", help_heading = "Analysis")]
    sigma: Vec<PathBuf>,
    /// Output folder (the lake): tables go to <out>/events, <out>/rejects, ...; its journal to <out>/_sweep.
    /// An s3://, gs:// or az:// URL puts the lake on object storage (docs/storage.md).
    #[arg(long, short, help_heading = "Output")]
    out: PathBuf,
    /// When the lake already holds data: error (default), append (inputs loaded before are
    /// skipped) or overwrite (the old rows go only once the new run has committed).
    #[arg(long, value_enum, default_value_t = ModeArg::Error, help_heading = "Output")]
    mode: ModeArg,
    /// Table format of the lake: parquet (default) or delta (streaming runs).
    #[arg(long, value_enum, default_value_t = TableFormatArg::Parquet, help_heading = "Output")]
    table_format: TableFormatArg,
    /// Print the pipeline as TOML (for `sweep run`) instead of running it.
    #[arg(long, help_heading = "Output")]
    print_pipeline: bool,
    /// Check everything the scan would touch, as `sweep check` does, instead of running it.
    #[arg(long, help_heading = "Output")]
    check: bool,
    #[command(flatten, next_help_heading = "Run")]
    common: CommonArgs,
    #[command(flatten, next_help_heading = "Streaming (kafka:// inputs)")]
    stream: StreamArgs,
    /// The engine: embedded (in this process, the default) or spark (over Spark Connect, with --remote).
    #[arg(long, value_enum, default_value_t = EngineArg::Embedded, help_heading = "Engine")]
    engine: EngineArg,
    /// The Spark Connect server of --engine spark, sc://host:port (default: $SWEEP_SPARK_REMOTE).
    #[arg(long, value_name = "URL", help_heading = "Engine")]
    remote: Option<String>,
    /// Parser threads (default: one per core).
    #[arg(long, default_value_t = 0, help_heading = "Engine")]
    threads: usize,
}

#[derive(Copy, Clone, ValueEnum)]
enum EngineArg {
    Embedded,
    Spark,
}

/// Options of a Kafka input (`kafka://host:port/topic`).
#[derive(clap::Args)]
struct StreamArgs {
    /// Checkpoint folder (Kafka offsets and window state per batch), or a URL on object storage (s3://, gs://, az://); required for Kafka.
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Stop once the topic is read to its end (backfills, tests), instead of running until Ctrl-C.
    #[arg(long)]
    until_drained: bool,
    /// Where to start without a checkpoint: earliest, latest or committed (the group's offsets).
    #[arg(long, value_enum, default_value_t = StartArg::Committed)]
    start: StartArg,
    /// Consumer group for committed offsets.
    #[arg(long, default_value = "sweep")]
    group: String,
    /// At most this many messages per micro-batch.
    #[arg(long, default_value_t = 100_000)]
    batch_size: usize,
    /// Close a micro-batch after this many milliseconds.
    #[arg(long, default_value_t = 1_000)]
    batch_interval_ms: u64,
    /// A librdkafka property for the consumer, KEY=VALUE (repeatable): security.protocol, sasl.*, ssl.*
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    kafka_options: Vec<String>,
    /// Publish hits and threshold alerts as JSON to kafka://host:port/topic.
    #[arg(long, value_name = "URL")]
    alerts: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9898).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<String>,
}

#[derive(Copy, Clone, ValueEnum)]
enum StartArg {
    Earliest,
    Latest,
    Committed,
}

#[derive(Copy, Clone, ValueEnum)]
enum TableFormatArg {
    Parquet,
    Delta,
}

#[derive(Copy, Clone, ValueEnum)]
enum ModeArg {
    Error,
    Append,
    Overwrite,
}

impl From<ModeArg> for WriteMode {
    fn from(m: ModeArg) -> WriteMode {
        match m {
            ModeArg::Error => WriteMode::Error,
            ModeArg::Append => WriteMode::Append,
            ModeArg::Overwrite => WriteMode::Overwrite,
        }
    }
}

/// Exit codes (docs/pipeline.md): 1 an error, 3 a check failed (`--fail-on-rejects`,
/// `--fail-if-empty`), 130 interrupted by Ctrl-C or SIGTERM.
const EXIT_ERROR: i32 = 1;
const EXIT_CHECK: i32 = 3;
const EXIT_INTERRUPTED: i32 = 130;

/// `sweep --version`: the version, and the parts a build without the default features left
/// out (scripts/demo's quick build), so that a user can tell which binary they run.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let parts = [
        ("Kafka", cfg!(feature = "kafka")),
        ("the Spark engine", cfg!(feature = "spark")),
        ("Delta tables", cfg!(feature = "delta")),
        (sweep::WHAT_REMOTE_IS, cfg!(feature = "remote")),
    ];
    let without: Vec<&str> = parts.iter().filter(|(_, built)| !built).map(|(name, _)| *name).collect();
    match without.as_slice() {
        [] => env!("CARGO_PKG_VERSION").to_string(),
        _ => format!("{} (built without {}; scripts/install builds them all)", env!("CARGO_PKG_VERSION"), without.join(", ")),
    }
});

fn main() {
    let color = color_from_args();
    let command = Cli::command().version(VERSION.as_str()).color(match color {
        ColorArg::Auto => clap::ColorChoice::Auto,
        ColorArg::Always => clap::ColorChoice::Always,
        ColorArg::Never => clap::ColorChoice::Never,
    });
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    output::set_color(cli.color);
    init_logging(cli.verbose);
    if let Err(e) = dispatch(cli) {
        eprintln!("{} {}", output::paint(output::Stream::Stderr, output::Style::Error, "sweep: error:"), user_message(&e));
        let run_error = e.chain().find_map(|c| c.downcast_ref::<sweep::Error>().and_then(sweep::Error::run_error));
        let code = match run_error {
            Some(sweep::RunError::Interrupted { .. }) => EXIT_INTERRUPTED,
            Some(sweep::RunError::Check(_)) => EXIT_CHECK,
            _ => EXIT_ERROR,
        };
        std::process::exit(code);
    }
}

/// An error as the user reads it: each cause once (a message that already says its cause
/// is not followed by it again), without the query engine's own labels.
fn user_message(e: &anyhow::Error) -> String {
    const LABELS: [&str; 7] = [
        "query engine: ",
        "Error during planning: ",
        "Schema error: ",
        "External error: ",
        "Arrow error: ",
        "sql parser error: ",
        "datafusion.public.",
    ];
    let mut message = String::new();
    for cause in e.chain() {
        let mut text = sql_parser_error(&cause.to_string());
        while let Some(label) = LABELS.iter().find(|l| text.contains(**l)) {
            text = text.replacen(label, "", 1);
        }
        let text = text.trim().trim_end_matches(':').to_string();
        if text.is_empty() || message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// DataFusion shows a SQL syntax error as the parser's debug form
/// (`SQL error: ParserError("Expected: …")`); the user reads `SQL: Expected: …`.
fn sql_parser_error(text: &str) -> String {
    let Some(start) = text.find("SQL error: ParserError(\"") else { return text.to_string() };
    let inner = &text[start + "SQL error: ParserError(\"".len()..];
    let Some(end) = inner.find("\")") else { return text.to_string() };
    format!("{}SQL: {}{}", &text[..start], inner[..end].replace("\\\"", "\""), &inner[end + 2..])
}

/// `--color` as given, read before parsing so that clap's own help and errors follow it.
fn color_from_args() -> ColorArg {
    let mut args = std::env::args().skip(1);
    let mut color = ColorArg::Auto;
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--color=") {
            Some(v) => Some(v.to_string()),
            None if arg == "--color" => args.next(),
            None => None,
        };
        if let Some(v) = value {
            color = ColorArg::from_str(&v, true).unwrap_or(ColorArg::Auto);
        }
    }
    color
}

/// `-v` logs sweep's steps, `-vv` also its libraries'; `RUST_LOG` (e.g. `sweep=debug`)
/// overrides both. Without either nothing is logged (warnings are printed anyway).
fn init_logging(verbose: u8) {
    let directives = match (std::env::var("RUST_LOG"), verbose) {
        (Ok(v), _) if !v.is_empty() => v,
        (_, 0) => return,
        (_, 1) => "sweep=info,warn".to_string(),
        _ => "sweep=debug,info".to_string(),
    };
    let targets: tracing_subscriber::filter::Targets = match directives.parse() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sweep: warning: RUST_LOG={directives:?} is not a filter ({e}); logging sweep's steps instead");
            "sweep=info,warn".parse().expect("a valid filter")
        }
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(output::colored(output::Stream::Stderr))
        .with_target(verbose > 1);
    let _ = tracing_subscriber::registry().with(fmt).with(targets).try_init();
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Run { pipeline, common } => {
            let mut p = Pipeline::from_file(&pipeline)?;
            common.apply(&mut p);
            run_and_report(&p, &common)
        }
        Command::Query { lake, sql: Some(sql), file, output } => query(lake, &sql, file, output),
        Command::Query { lake, sql: None, output, .. } => query_shell(&lake, output),
        Command::Formats => {
            formats();
            Ok(())
        }
        Command::Detect { files, all } => detect(&files, all),
        Command::Check { pipeline, json } => check(&Pipeline::from_file(&pipeline)?, json),
        Command::Test { file, json } => test_file(&file, json),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sweep", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out } => man_pages(&out),
        Command::Markdown => {
            print!("{}", reference::markdown(&Cli::command()));
            Ok(())
        }
        Command::Demo { dir, lines } => demo::run(&dir, lines),
        Command::Generate { format, lines, malformed_per_million, seed, out } => {
            generate(&format, lines, malformed_per_million, seed, &out)
        }
        Command::Intel { command: IntelCommand::Stats { intel, pipeline, refused } } => intel_stats(&intel, pipeline.as_deref(), refused),
        Command::Intel { command: IntelCommand::Pull { intel, pipeline } } => intel_pull(&intel, pipeline.as_deref()),
        Command::Vacuum { lake, retain_hours } => vacuum(&lake, retain_hours),
        Command::Sigma { command: SigmaCommand::Check { paths, fields, json } } => sigma_check(&paths, &fields, json),
        Command::Retro { lake, intel, sigma, since, summary, threads, engine, remote } => {
            if !sigma.is_empty() {
                if !intel.feeds.is_empty() {
                    bail!("sweep retro takes --intel or --sigma, not both: run it once for each");
                }
                return retro_sigma(&lake, &sigma, since.as_deref(), summary, threads, engine, remote);
            }
            retro(&lake, &intel, since.as_deref(), summary, threads, engine, remote)
        }
    }
}

fn scan(args: ScanArgs) -> Result<()> {
    let format = FormatSpec::from_name(&args.format)?;
    let kafka = kafka_source(&args.inputs, &args.stream)?;
    if kafka.is_none() && !args.stream.kafka_options.is_empty() {
        bail!("--kafka-option is for Kafka inputs (kafka://host:port/topic), and this scan reads files: remove it");
    }
    let files = if kafka.is_some() { Vec::new() } else { args.inputs };
    let alerts = args.stream.alerts.as_deref().map(kafka_sink).transpose()?;
    let table_format = match args.table_format {
        TableFormatArg::Parquet => sweep::TableFormat::Parquet,
        TableFormatArg::Delta => sweep::TableFormat::Delta,
    };
    let engine = match args.engine {
        EngineArg::Embedded => sweep::EngineKind::Embedded,
        EngineArg::Spark => sweep::EngineKind::Spark,
    };
    if args.remote.is_some() && engine != sweep::EngineKind::Spark {
        bail!("--remote names a Spark Connect server: use it with --engine spark");
    }
    let pipeline = Pipeline {
        engine,
        remote: args.remote,
        extract: vec![ExtractSpec { files, stdin: false, kafka, format }],
        transform: args.sql.into_iter().map(|sql| TransformStage { sql }).collect(),
        analyse: args
            .intel
            .sweeper()
            .map(sweep::AnalyseStage::Sweeper)
            .into_iter()
            .chain(args.content.then(|| sweep::Content::detectors().into()))
            .chain((!args.sigma.is_empty()).then(|| sweep::Sigma::rules(args.sigma.clone()).into()))
            .collect(),
        load: sweep::LoadSpec { dir: Some(args.out), mode: args.mode.into(), format: table_format, alerts, ..Default::default() },
        settings: Settings { threads: args.threads, ..Settings::default() },
        stream: sweep::StreamSettings {
            checkpoint: args.stream.checkpoint,
            stop_when_drained: args.stream.until_drained,
            metrics_addr: args.stream.metrics_addr,
        },
        intel: sweep::IntelSettings { cache: args.intel.cache.clone(), ..Default::default() },
        ..Pipeline::default()
    };
    if pipeline.is_streaming() && pipeline.stream.checkpoint.is_none() {
        bail!(
            "reading Kafka needs a checkpoint folder: add --checkpoint DIR (it records offsets, so a restart neither loses nor repeats lines)"
        );
    }
    if !args.intel.allow.is_empty() && args.intel.feeds.is_empty() {
        bail!("--allow needs at least one --intel feed to suppress hits of");
    }
    let mut pipeline = pipeline;
    args.common.apply(&mut pipeline);
    if args.print_pipeline {
        // Absolute paths: `sweep run` reads relative ones from the file's folder, wherever
        // the output is saved.
        pipeline.resolve_paths(&std::env::current_dir().context("the current folder")?);
        print!("{}", pipeline.to_toml());
        return Ok(());
    }
    if args.check {
        return check(&pipeline, false);
    }
    run_and_report(&pipeline, &args.common)
}

/// A Kafka source from a `kafka://` input, with the stream options of the command line.
fn kafka_source(inputs: &[String], args: &StreamArgs) -> Result<Option<sweep::KafkaSourceSpec>> {
    let Some(url) = inputs.iter().find(|i| i.starts_with("kafka://")) else { return Ok(None) };
    if inputs.len() > 1 {
        bail!("a Kafka input is read on its own: give either {url} or files, not both");
    }
    let mut spec = sweep::KafkaSourceSpec::from_url(url).map_err(anyhow::Error::msg)?;
    spec.group = args.group.clone();
    spec.start = match args.start {
        StartArg::Earliest => sweep::StartPosition::Earliest,
        StartArg::Latest => sweep::StartPosition::Latest,
        StartArg::Committed => sweep::StartPosition::Committed,
    };
    spec.batch_size = args.batch_size;
    spec.batch_interval_ms = args.batch_interval_ms;
    for option in &args.kafka_options {
        let (k, v) = option.split_once('=').with_context(|| format!("--kafka-option {option:?} is not KEY=VALUE"))?;
        spec.options.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(Some(spec))
}

/// An alert topic from `kafka://host:port/topic`.
fn kafka_sink(url: &str) -> Result<sweep::KafkaSinkSpec> {
    let source = sweep::KafkaSourceSpec::from_url(url).map_err(anyhow::Error::msg)?;
    let [topic] = source.topics.as_slice() else { bail!("--alerts {url} names several topics; give one") };
    Ok(sweep::KafkaSinkSpec { brokers: source.brokers, topic: topic.clone(), options: Default::default() })
}

impl CommonArgs {
    /// The command-line switches that override a pipeline's settings.
    fn apply(&self, pipeline: &mut Pipeline) {
        pipeline.load.reload |= self.reload;
        if self.fail_on_rejects.is_some() {
            pipeline.settings.fail_on_rejects = self.fail_on_rejects;
        }
        pipeline.settings.fail_if_empty |= self.fail_if_empty;
    }
}

/// The first SIGTERM or Ctrl-C raises `stop`: a stream finishes the batch in flight, a file
/// run stops reading and commits nothing. A second one exits at once.
fn watch_signals(stop: Arc<AtomicBool>, streaming: bool) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("sweep-signals".into()).spawn(move || {
        for _ in signals.forever() {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                eprintln!("\nsweep: stopped at once; nothing of the run in flight was committed (the next run into the lake cleans up)");
                std::process::exit(EXIT_INTERRUPTED);
            }
            if streaming {
                eprintln!("\nsweep: stopping after the batch in flight commits (again to stop at once)");
            } else {
                eprintln!("\nsweep: stopping; nothing will be committed (again to stop at once)");
            }
        }
    })?;
    Ok(())
}

fn run_and_report(pipeline: &Pipeline, common: &CommonArgs) -> Result<()> {
    let counters = Arc::new(RunCounters::default());
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone(), pipeline.is_streaming())?;
    let show_progress = !common.quiet && std::io::stderr().is_terminal();
    let progress = show_progress.then(|| output::Progress::start(counters.clone()));
    let result = sweep::run_pipeline_until(pipeline, counters, stop);
    if let Some(p) = progress {
        p.finish();
    }
    let summary = result?;
    if let Some(path) = &common.summary {
        write_summary(path, &summary)?;
    }
    if !common.quiet && !is_stdout(common.summary.as_deref()) {
        output::print_summary(&summary);
    } else {
        output::print_warnings(&summary);
    }
    Ok(())
}

fn query(lake: PathBuf, sql: &str, file: Option<PathBuf>, output: QueryOutput) -> Result<()> {
    use sweep::arrow::array::ArrayRef;
    use sweep::arrow::datatypes::{DataType, Field, Schema};
    use sweep::arrow::util::display::{ArrayFormatter, FormatOptions};

    if matches!(output, QueryOutput::Parquet) && file.is_none() {
        bail!("--output parquet writes a file: name it after the SQL, as in sweep query lake/ \"SELECT ...\" --output parquet out.parquet");
    }
    let result = sweep::query_lake_result(&lake, &psql_shortcut(sql)).map_err(|e| {
        let e = anyhow::Error::from(e);
        let said = user_message(&e);
        if said.contains("table '") && said.contains("not found") {
            return e.context(format!("no such table in {}; SHOW TABLES lists its tables", lake.display()));
        }
        e
    })?;
    // The rows' own schema when there are rows (the planned one can name Utf8 where the
    // rows hold Utf8View); the planned one for the header of an empty result.
    let schema = result.batches.first().map_or(result.schema, RecordBatch::schema);
    let batches = result.batches;
    let mut out: Box<dyn std::io::Write + Send> = match &file {
        Some(path) => {
            Box::new(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    match output {
        QueryOutput::Table => {
            // On a terminal a long value (a URL, a user agent) is cut, so that rows stay rows.
            let on_terminal = file.is_none() && std::io::stdout().is_terminal();
            let (schema, batches) = if on_terminal { cut_long_values(schema, batches, 60)? } else { (schema, batches) };
            writeln!(out, "{}", sweep::arrow::util::pretty::pretty_format_batches_with_schema(schema, &batches)?)?;
            if on_terminal {
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
            }
        }
        QueryOutput::Csv => {
            // CSV has no lists or structs: such columns are written as their display text.
            let nested = |t: &DataType| t.is_nested();
            let flat = |schema: &Schema| {
                std::sync::Arc::new(Schema::new(
                    schema
                        .fields()
                        .iter()
                        .map(|f| if nested(f.data_type()) { Field::new(f.name(), DataType::Utf8, true) } else { f.as_ref().clone() })
                        .collect::<Vec<_>>(),
                ))
            };
            let flatten = |b: &RecordBatch| -> Result<RecordBatch> {
                let options = FormatOptions::default();
                let columns = b
                    .columns()
                    .iter()
                    .map(|c| -> Result<ArrayRef> {
                        if !nested(c.data_type()) {
                            return Ok(c.clone());
                        }
                        let formatter = ArrayFormatter::try_new(c.as_ref(), &options)?;
                        let text: sweep::arrow::array::StringArray =
                            (0..c.len()).map(|i| c.is_valid(i).then(|| formatter.value(i).to_string())).collect();
                        Ok(std::sync::Arc::new(text))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(RecordBatch::try_new(flat(&b.schema()), columns)?)
            };
            let mut w = sweep::arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
            // An empty result still has its header.
            w.write(&RecordBatch::new_empty(flat(&schema)))?;
            for b in &batches {
                w.write(&flatten(b)?)?;
            }
        }
        QueryOutput::Json => {
            let mut w = sweep::arrow::json::LineDelimitedWriter::new(&mut out);
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        QueryOutput::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)?;
            for b in &batches {
                w.write(b)?;
            }
            w.close()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--summary -`: the JSON summary goes to standard output.
fn is_stdout(path: Option<&std::path::Path>) -> bool {
    path.is_some_and(|p| p.as_os_str() == "-")
}

/// Writes a summary as pretty JSON to `path`, or to standard output for `-`.
fn write_summary(path: &std::path::Path, summary: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(summary)? + "\n";
    if is_stdout(Some(path)) {
        let mut out = std::io::stdout().lock();
        out.write_all(json.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    std::fs::write(path, json).with_context(|| format!("cannot write the summary to {}", path.display()))
}

/// psql's listing commands: `\d` lists the tables, `\d TABLE` a table's columns.
/// The text columns of `batches` with values longer than `max` characters cut, ending in `…`.
fn cut_long_values(
    schema: sweep::arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    max: usize,
) -> Result<(sweep::arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    use sweep::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use sweep::arrow::datatypes::{DataType, Field, Schema};
    let is_text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let cut_schema = std::sync::Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| if is_text(f.data_type()) { Field::new(f.name(), DataType::Utf8, true) } else { f.as_ref().clone() })
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| -> Result<ArrayRef> {
                if !is_text(c.data_type()) {
                    return Ok(c.clone());
                }
                let text = sweep::arrow::compute::cast(c, &DataType::Utf8)?;
                let text = text.as_string::<i32>();
                let cut: StringArray = (0..text.len()).map(|i| text.is_valid(i).then(|| shorten(text.value(i), max))).collect();
                Ok(std::sync::Arc::new(cut))
            })
            .collect::<Result<_>>()?;
        out.push(RecordBatch::try_new(cut_schema.clone(), columns)?);
    }
    Ok((cut_schema, out))
}

/// `sweep query LAKE` without SQL: a shell with history on a terminal, else the statements
/// of standard input, one after the other.
fn query_shell(lake: &std::path::Path, output: QueryOutput) -> Result<()> {
    use std::io::Read;

    if !lake.is_dir() && !sweep::load::is_object_lake(lake) {
        bail!("{}: no such folder (give the folder a run wrote: its --out or [load] dir)", lake.display());
    }
    if matches!(output, QueryOutput::Parquet) {
        bail!(
            "--output parquet writes one file: give the SQL and the file, as in sweep query lake/ \"SELECT ...\" --output parquet out.parquet"
        );
    }
    let run = |sql: &str| -> bool {
        match query(lake.to_path_buf(), sql, None, output) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("{} {e:#}", output::paint(output::Stream::Stderr, output::Style::Error, "error:"));
                false
            }
        }
    };
    if !std::io::stdin().is_terminal() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading SQL from standard input")?;
        let statements = split_statements(&text);
        let failed = statements.iter().filter(|s| !run(s)).count();
        if failed > 0 {
            bail!("{failed} of {} statements failed", statements.len());
        }
        return Ok(());
    }
    // Arrows edit the line and walk the history; each statement is also appended to a
    // history file, one line each (for `grep` and for the next session).
    let history =
        sweep::intel_cache_dir(None).parent().map(|d| d.join("query_history")).unwrap_or_else(|| PathBuf::from(".sweep_query_history"));
    if let Some(dir) = history.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut editor = line_editor::LineEditor::new(&history);
    eprintln!(
        "sweep query {}: SQL ending with ;  \\d [TABLE] lists tables or columns  \\q or Ctrl-D quits  (history: {})",
        lake.display(),
        editor.history_path().display()
    );
    let mut pending = String::new();
    loop {
        let line = match editor.read(if pending.is_empty() { "sweep> " } else { "   ...> " }).context("reading a line")? {
            line_editor::Read::Line(line) => line,
            line_editor::Read::Interrupted => {
                pending.clear();
                continue;
            }
            line_editor::Read::EndOfInput => break,
        };
        let trimmed = line.trim();
        if pending.is_empty() {
            if matches!(trimmed, "\\q" | "quit" | "exit") {
                break;
            }
            if trimmed.is_empty() {
                continue;
            }
        }
        let statement = if pending.is_empty() && trimmed.starts_with('\\') {
            trimmed.to_string()
        } else {
            pending.push_str(&line);
            pending.push('\n');
            if !trimmed.ends_with(';') {
                continue;
            }
            std::mem::take(&mut pending)
        };
        editor.remember(&statement);
        run(&statement);
    }
    Ok(())
}

/// SQL statements separated by `;` (not inside quotes), and `\d` lines on their own.
fn split_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for line in text.lines() {
        if !quoted && current.trim().is_empty() && line.trim_start().starts_with('\\') {
            statements.push(line.trim().to_string());
            continue;
        }
        for c in line.chars() {
            if c == '\'' {
                quoted = !quoted;
            }
            if c == ';' && !quoted {
                if !current.trim().is_empty() {
                    statements.push(current.trim().to_string());
                }
                current.clear();
            } else {
                current.push(c);
            }
        }
        current.push('\n');
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_string());
    }
    statements
}

fn psql_shortcut(sql: &str) -> String {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    match trimmed.strip_prefix("\\d") {
        Some("") => "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name".to_string(),
        Some(rest) if rest.starts_with(char::is_whitespace) => format!("DESCRIBE {}", rest.trim()),
        _ => sql.to_string(),
    }
}

fn vacuum(lake: &std::path::Path, retain_hours: u64) -> Result<()> {
    if !lake.is_dir() && !sweep::load::is_object_lake(lake) {
        bail!("{} is not a folder; give the --out folder of a sweep run", lake.display());
    }
    let opened = sweep::load::Lake::open(lake)?;
    for run in &opened.recovery().rolled_forward {
        println!("completed run {run}, which a crash had interrupted while committing");
    }
    let report = opened.vacuum(std::time::Duration::from_secs(retain_hours * 3600))?;
    println!(
        "sweep vacuum {}: {} abandoned run{} cleared, {} files deleted, {:.1} MB freed",
        lake.display(),
        report.abandoned_runs,
        if report.abandoned_runs == 1 { "" } else { "s" },
        report.files,
        report.bytes as f64 / 1e6
    );
    Ok(())
}

fn formats() {
    for info in sweep::formats::catalogue() {
        let aliases = if info.aliases.is_empty() { String::new() } else { format!(" (also: {})", info.aliases.join(", ")) };
        println!("{}{aliases}\n  {}", info.name, info.summary);
        for line in info.example.lines() {
            println!("    {line}");
        }
        println!();
    }
    println!("auto\n  each file's own format, told from its first lines (`sweep detect FILE` shows the choice)\n");
    println!("Docs: docs/formats/<name>.md. Options go in a pipeline file: format = {{ name = \"elff\", fields = [...] }}");
}

fn man_pages(out: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let command = Cli::command();
    let mut written = Vec::new();
    let mut write = |name: String, page: clap::Command| -> Result<()> {
        let path = out.join(format!("{name}.1"));
        let mut file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        clap_mangen::Man::new(page).title(name).render(&mut file).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    write("sweep".into(), command.clone())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("sweep-{}", sub.get_name());
        write(name, sub.clone())?;
    }
    eprintln!("wrote {} man pages to {} (man -M {} sweep)", written.len(), out.display(), out.display());
    Ok(())
}

/// `--since` as the day (YYYY-MM-DD, UTC) it names.
fn parse_since(text: &str) -> std::result::Result<String, String> {
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let day_of = |seconds: i64| sweep::calendar::date_string(seconds.div_euclid(86_400));
    let text = text.trim();
    match text {
        "today" => return Ok(day_of(now_s)),
        "yesterday" => return Ok(day_of(now_s - 86_400)),
        _ => {}
    }
    let b = text.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' && text.chars().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        let (y, m, d) = (text[..4].parse::<i64>(), text[5..7].parse::<u32>(), text[8..].parse::<u32>());
        if let (Ok(y), Ok(m), Ok(d)) = (y, m, d)
            && (1..=12).contains(&m)
            && d >= 1
            && d <= sweep::calendar::days_in_month(y, m)
        {
            return Ok(text.to_string());
        }
    }
    match sweep::Span::parse(text) {
        Ok(span) => Ok(day_of(now_s - span.as_secs() as i64)),
        Err(_) => Err("write a day (2026-01-31), today, yesterday, or a span back from now (7d, 36h)".to_string()),
    }
}

fn test_file(file: &std::path::Path, json: bool) -> Result<()> {
    let outcomes = sweep::testing::run_test_file(file)?;
    let failed = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for outcome in &outcomes {
            if outcome.failures.is_empty() {
                println!("test {} ... {}", outcome.name, output::paint(output::Stream::Stdout, output::Style::Good, "ok"));
            } else {
                println!("test {} ... {}", outcome.name, output::paint(output::Stream::Stdout, output::Style::Error, "FAILED"));
                for failure in &outcome.failures {
                    println!("    {failure}");
                }
            }
        }
        println!("\n{} passed, {failed} failed", outcomes.len() - failed);
    }
    if failed > 0 {
        bail!("{failed} of {} tests in {} failed", outcomes.len(), file.display());
    }
    Ok(())
}

fn check(pipeline: &Pipeline, json: bool) -> Result<()> {
    let report = sweep::check::check(pipeline);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for item in &report.items {
            match &item.problem {
                None => println!(
                    "{}       {:<8} {}: {}",
                    output::paint(output::Stream::Stdout, output::Style::Good, "ok"),
                    item.area,
                    item.subject,
                    item.detail
                ),
                Some(problem) => println!(
                    "{}  {:<8} {}: {problem}",
                    output::paint(output::Stream::Stdout, output::Style::Error, "PROBLEM"),
                    item.area,
                    item.subject
                ),
            }
        }
    }
    match report.problems() {
        0 => {
            if !json {
                println!("sweep check: no problem in {} checks", report.items.len());
            }
            Ok(())
        }
        n => bail!(
            "{n} problem{} found by {} checks (listed above); a run would fail or reject lines",
            if n == 1 { "" } else { "s" },
            report.items.len()
        ),
    }
}

fn detect(files: &[String], all: bool) -> Result<()> {
    let inputs = sweep::extract::resolve_inputs(files)?;
    let mut unknown = 0;
    for input in &inputs {
        let ranked = sweep::detect_format::rank_input(input)?;
        let name = input.name();
        let Some(best) = ranked.first().filter(|c| c.events > 0) else {
            unknown += 1;
            println!("{name}: no built-in format reads its first lines (a custom pattern can: docs/formats/custom.md)");
            continue;
        };
        println!(
            "{name}: {} ({:.1}% confidence: {} of {} sample lines read)",
            output::paint(output::Stream::Stdout, output::Style::Strong, &best.label),
            100.0 * best.confidence(),
            best.events,
            best.data_lines
        );
        let others: Vec<String> = ranked[1..]
            .iter()
            .filter(|c| all || c.events > 0)
            .take(if all { usize::MAX } else { 2 })
            .map(|c| format!("{} {:.0}%", c.label, 100.0 * c.confidence()))
            .collect();
        if !others.is_empty() {
            println!("  next: {}", others.join(", "));
        }
        let fields: Vec<String> = best.first_event.iter().map(|(k, v)| format!("{k}={}", shorten(v, 60))).collect();
        println!("  first event: {}", fields.join(" "));
    }
    if unknown > 0 {
        bail!("{unknown} of {} files are in no built-in format", inputs.len());
    }
    Ok(())
}

/// `text`, cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn generate(format: &str, lines: u64, malformed_per_million: u32, seed: u64, out: &PathBuf) -> Result<()> {
    let Some(format) = sweep::generate::GenFormat::parse(format) else {
        bail!("unknown layout {format:?} for generate; use squid, combined (also apache, nginx), squid_combined or elff");
    };
    let spec = sweep::generate::TrafficSpec { format, lines, seed, malformed_per_million, ..Default::default() };
    let stats = if out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::new(stdout.lock());
        sweep::generate::write_traffic(&spec, &mut w)?
    } else {
        let f = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let stats = sweep::generate::write_traffic(&spec, &mut w)?;
        std::io::Write::flush(&mut w)?;
        stats
    };
    eprintln!("wrote {} lines ({} malformed, {} header) as {}", stats.lines, stats.malformed, stats.header_lines, format.format_name());
    Ok(())
}

/// The sources `sweep intel stats|pull` work on: the --intel arguments, or a pipeline
/// file's sweeper; and the cache they are kept in.
fn intel_sources(args: &IntelArgs, pipeline: Option<&std::path::Path>, command: &str) -> Result<(sweep::SweeperSpec, PathBuf)> {
    let (spec, cache) = match pipeline {
        Some(file) => {
            let p = Pipeline::from_file(file)?;
            let Some(spec) = p.sweeper().cloned() else { bail!("{} has no sweeper stage and no [[intel.source]]", file.display()) };
            (spec, args.cache.clone().or(p.intel.cache.clone()))
        }
        None => match args.sweeper() {
            Some(spec) => (spec, args.cache.clone()),
            None => bail!("name the feeds: sweep intel {command} --intel feeds/ [--intel https://...] or --pipeline FILE"),
        },
    };
    Ok((spec, sweep::intel_cache_dir(cache.as_deref())))
}

fn intel_pull(args: &IntelArgs, pipeline: Option<&std::path::Path>) -> Result<()> {
    let (spec, cache) = intel_sources(args, pipeline, "pull")?;
    let mut sources = sweep::intel_sources::IntelSources::open(&spec, &cache)?;
    let pulled = sources.pull(false)?;
    let (loaded, _) = sources.build()?;
    for p in &pulled {
        let outcome = match &p.refreshed {
            Ok(sweep::intel_sources::Refreshed::Changed) => "changed".to_string(),
            Ok(sweep::intel_sources::Refreshed::Unchanged) => "unchanged".to_string(),
            Err(e) => format!("failed, the cached copy is kept: {e}"),
        };
        println!("  {:<32} {outcome}", p.name);
    }
    println!(
        "intel version {}: {} indicators, cached in {}",
        loaded.index.version(),
        output::group(loaded.index.len() as u64),
        cache.display()
    );
    if pulled.iter().any(|p| p.refreshed.is_err()) {
        bail!("some sources could not be fetched (their cached copies stay in use)");
    }
    Ok(())
}

fn intel_stats(args: &IntelArgs, pipeline: Option<&std::path::Path>, list_refused: bool) -> Result<()> {
    let (spec, cache) = intel_sources(args, pipeline, "stats")?;
    let (loaded, sources) = if spec.intel.iter().any(|f| f.is_remote()) {
        let mut sources = sweep::intel_sources::IntelSources::open(&spec, &cache)?;
        for p in sources.pull(false)? {
            if let Err(e) = p.refreshed {
                eprintln!("sweep: warning: {e} (using the copy fetched before)");
            }
        }
        let loaded = sources.build()?.0;
        (loaded, sources.stats())
    } else {
        (sweep::sweeper::load_feeds(&spec.intel, &spec.allow)?, Vec::new())
    };
    let summary = sweep::IntelSummary::new(&loaded);
    println!("intel version {}: {} indicators loaded in {:.2} s", summary.intel_version, output::group(summary.indicators), summary.load_s);
    for (kind, n) in &summary.indicators_by_type {
        println!("  {kind:<8} {:>12}", output::group(*n));
    }
    let dups = loaded.index.duplicates();
    if dups > 0 {
        println!("  ({} duplicates of the same value, type and feed merged)", output::group(dups as u64));
    }
    println!("\nfeeds:");
    for f in &summary.feeds {
        println!(
            "  {:<40} {:<12} {:>10} loaded {:>8} refused {:>8} skipped",
            f.feed,
            f.kind,
            output::group(f.indicators),
            output::group(f.refused),
            output::group(f.skipped)
        );
    }
    if !sources.is_empty() {
        println!("\nsources (cache {}):", cache.display());
        for s in &sources {
            let when = |us: Option<i64>| us.map(output::utc_time).unwrap_or_else(|| "never".into());
            println!(
                "  {:<32} last success {}  {} indicators  {} refreshes  {} failures{}",
                s.name,
                when(s.last_success_us),
                output::group(s.indicators),
                s.refreshes,
                s.failures,
                s.last_error.as_deref().map(|e| format!("\n    last error: {e}")).unwrap_or_default()
            );
            println!("    {}  content {}", s.location, s.content.as_deref().map_or("none", |c| &c[..c.len().min(12)]));
        }
    }
    let mut by_reason: std::collections::BTreeMap<&str, (u64, &str)> = Default::default();
    for r in &loaded.refused {
        let e = by_reason.entry(&r.reason).or_insert((0, &r.value));
        e.0 += 1;
    }
    if by_reason.is_empty() {
        println!("\nnothing refused");
    } else {
        println!("\nrefused, by reason (with one example):");
        for (reason, (n, example)) in by_reason {
            println!("  {reason:<22} {:>8}   e.g. {example:?}", output::group(n));
        }
    }
    if list_refused {
        println!();
        for r in &loaded.refused {
            println!("{}\t{}\t{}\t{:?}\t{}", r.feed, r.location, r.reason, r.value, r.detail);
        }
    }
    Ok(())
}

fn retro(
    lake: &std::path::Path,
    args: &IntelArgs,
    since: Option<&str>,
    summary_path: Option<PathBuf>,
    threads: usize,
    engine: EngineArg,
    remote: Option<String>,
) -> Result<()> {
    let Some(spec) = args.sweeper() else {
        bail!("name the indicators or rules to sweep with: sweep retro LAKE --intel feeds/ (or --sigma rules/)")
    };
    let s = sweep::Engine::new(retro_engine(engine, remote.as_deref())?, remote.as_deref(), threads)?.retro(lake, &spec, since)?;
    if let Some(path) = &summary_path {
        write_summary(path, &s)?;
        if is_stdout(Some(path)) {
            return Ok(());
        }
    }
    println!(
        "sweep retro: {} events swept in {:.2} s with {} indicators (intel {})",
        output::group(s.events_swept),
        s.elapsed_s,
        output::group(s.intel.indicators),
        s.intel.intel_version
    );
    println!(
        "  hits found {:>10}   new {:>10}   already stored {:>10}   suppressed by allowlist {:>8}",
        output::group(s.hits_found),
        output::group(s.hits_written),
        output::group(s.hits_already_present),
        output::group(s.intel.suppressed)
    );
    Ok(())
}

/// The engine a retro-sweep runs on.
fn retro_engine(engine: EngineArg, remote: Option<&str>) -> Result<sweep::EngineKind> {
    Ok(match engine {
        EngineArg::Embedded if remote.is_some() => bail!("--remote names a Spark Connect server: use it with --engine spark"),
        EngineArg::Embedded => sweep::EngineKind::Embedded,
        EngineArg::Spark => sweep::EngineKind::Spark,
    })
}

/// `sweep retro --sigma`: the rules over stored events, appending what is not stored yet.
fn retro_sigma(
    lake: &std::path::Path,
    rules: &[PathBuf],
    since: Option<&str>,
    summary_path: Option<PathBuf>,
    threads: usize,
    engine: EngineArg,
    remote: Option<String>,
) -> Result<()> {
    let engine = sweep::Engine::new(retro_engine(engine, remote.as_deref())?, remote.as_deref(), threads)?;
    let s = engine.retro_sigma(lake, &sweep::Sigma::rules(rules.to_vec()), since)?;
    if let Some(path) = &summary_path {
        write_summary(path, &s)?;
        if is_stdout(Some(path)) {
            return Ok(());
        }
    }
    println!(
        "sweep retro: {} events evaluated in {:.2} s with {} Sigma rules and {} correlations",
        output::group(s.events_swept),
        s.elapsed_s,
        s.sigma.rules_loaded,
        s.sigma.correlations_loaded
    );
    println!(
        "  detections found {:>10}   new {:>10}   already stored {:>10}",
        output::group(s.detections_found),
        output::group(s.detections_written),
        output::group(s.detections_already_present)
    );
    Ok(())
}

/// `sweep sigma check`: what a run would load from these rule paths, and why the rest is not.
fn sigma_check(paths: &[PathBuf], fields: &[String], json: bool) -> Result<()> {
    let mut spec = sweep::Sigma::rules(paths.to_vec());
    for f in fields {
        let (field, column) =
            f.split_once('=').with_context(|| format!("--field {f}: write it as FIELD=COLUMN, e.g. cs-cookie=category"))?;
        spec = spec.field(field.trim(), column.trim());
    }
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or folder (give Sigma rule files or folders of them)", p.display());
        }
    }
    let (set, report) = spec.load()?;
    // Compiling checks what loading cannot (it should never fail for a loaded rule).
    sweep::sigma::SigmaAnalyser::new(set)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for r in &report.loaded {
            println!(
                "loaded   {}  {}  [{}]  {}",
                r.id.as_deref().unwrap_or("(no id)"),
                r.title,
                r.level.as_deref().unwrap_or("-"),
                r.origin
            );
        }
        for r in &report.correlations {
            println!("loaded   {}  {}  [correlation]  {}", r.id.as_deref().unwrap_or("(no id)"), r.title, r.origin);
        }
        for r in &report.skipped {
            println!(
                "skipped  {}  {}: log source {} (sweep reads proxy and webserver rules)",
                r.id.as_deref().unwrap_or("(no id)"),
                r.origin,
                r.logsource
            );
        }
        for r in &report.refused {
            let doc = if r.document > 0 { format!(" (document {})", r.document + 1) } else { String::new() };
            println!("refused  {}  {}{doc}: {}", r.id.as_deref().or(r.title.as_deref()).unwrap_or("(no id)"), r.origin, r.reason);
        }
        println!(
            "\n{} rules loaded, {} correlations, {} refused, {} skipped",
            report.loaded.len(),
            report.correlations.len(),
            report.refused.len(),
            report.skipped.len()
        );
    }
    if !report.refused.is_empty() {
        // Like a linter: a refused rule fails the check (a CI step catches it), after the report.
        std::process::exit(EXIT_ERROR);
    }
    Ok(())
}

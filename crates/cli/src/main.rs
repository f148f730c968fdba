//! `sweep`: the command line.

mod demo;
mod output;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use datafusion::arrow::record_batch::RecordBatch;
use sweep::{ExtractSpec, FormatSpec, Pipeline, RunCounters, Settings, TransformStage, WriteMode};

#[derive(Parser)]
#[command(name = "sweep", version, about = "Threat-intelligence ETL for web proxy logs", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse logs into tables in one go: `sweep scan logs/ --format squid --out lake/`.
    Scan(ScanArgs),
    /// Run a pipeline file (docs/pipeline.md).
    Run {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Run SQL over the tables in an output folder (tables: events, rejects, ...).
    Query {
        /// The folder a run wrote (its --out or [load] dir).
        lake: PathBuf,
        /// The SQL statement, for example "SELECT host, count(*) FROM events GROUP BY host ORDER BY 2 DESC LIMIT 10".
        sql: String,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t = QueryOutput::Table)]
        output: QueryOutput,
    },
    /// List the built-in log formats, each with an example line.
    Formats,
    /// Generate realistic proxy traffic, run a pipeline over it and show what came out.
    Demo {
        /// Where the demo writes its inputs and tables (replaced if it exists).
        #[arg(long, default_value = "sweep-demo")]
        dir: PathBuf,
        /// Lines of traffic per generated log.
        #[arg(long, default_value_t = 20_000)]
        lines: u64,
    },
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

#[derive(Copy, Clone, ValueEnum)]
enum QueryOutput {
    Table,
    Csv,
    Json,
}

#[derive(clap::Args)]
struct CommonArgs {
    /// Write the run summary as JSON to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// No progress bar and no human summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Log files, directories or glob patterns; `-` reads stdin. Gzip and zstd are read as such.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// The log format (see `sweep formats`).
    #[arg(long, short)]
    format: String,
    /// Output folder: tables go to <out>/events and <out>/rejects.
    #[arg(long, short)]
    out: PathBuf,
    /// When a table folder already holds data: error (default), append or overwrite.
    #[arg(long, value_enum, default_value_t = ModeArg::Error)]
    mode: ModeArg,
    /// A SQL stage over `events` (repeatable; each reads the previous one's output).
    #[arg(long)]
    sql: Vec<String>,
    /// Parser threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print the pipeline as TOML (for `sweep run`) instead of running it.
    #[arg(long)]
    print_pipeline: bool,
    #[command(flatten)]
    common: CommonArgs,
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

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli) {
        eprintln!("sweep: error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Run { pipeline, common } => {
            let p = Pipeline::from_file(&pipeline)?;
            run_and_report(&p, &common)
        }
        Command::Query { lake, sql, output } => query(lake, &sql, output),
        Command::Formats => {
            formats();
            Ok(())
        }
        Command::Demo { dir, lines } => demo::run(&dir, lines),
        Command::Generate { format, lines, malformed_per_million, seed, out } => {
            generate(&format, lines, malformed_per_million, seed, &out)
        }
    }
}

fn scan(args: ScanArgs) -> Result<()> {
    let format = FormatSpec::from_name(&args.format)?;
    let pipeline = Pipeline {
        extract: vec![ExtractSpec { files: args.inputs, stdin: false, format }],
        transform: args.sql.into_iter().map(|sql| TransformStage { sql }).collect(),
        load: sweep::LoadSpec { dir: Some(args.out), mode: args.mode.into(), ..Default::default() },
        settings: Settings { threads: args.threads, ..Settings::default() },
        ..Pipeline::default()
    };
    if args.print_pipeline {
        print!("{}", pipeline.to_toml());
        return Ok(());
    }
    run_and_report(&pipeline, &args.common)
}

fn run_and_report(pipeline: &Pipeline, common: &CommonArgs) -> Result<()> {
    let counters = Arc::new(RunCounters::default());
    let show_progress = !common.quiet && std::io::stderr().is_terminal();
    let progress = show_progress.then(|| output::Progress::start(counters.clone()));
    let result = sweep::run_pipeline(pipeline, counters);
    if let Some(p) = progress {
        p.finish();
    }
    let summary = result?;
    if let Some(path) = &common.summary {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, json + "\n").with_context(|| format!("cannot write the summary to {}", path.display()))?;
    }
    if !common.quiet {
        output::print_summary(&summary);
    }
    Ok(())
}

fn query(lake: PathBuf, sql: &str, output: QueryOutput) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let batches: Vec<RecordBatch> = runtime.block_on(sweep::query::query_lake(&lake, sql))?;
    match output {
        QueryOutput::Table => println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?),
        QueryOutput::Csv => {
            let mut w = datafusion::arrow::csv::Writer::new(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
        }
        QueryOutput::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
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
    println!("Docs: docs/formats/<name>.md. Options go in a pipeline file: format = {{ name = \"elff\", fields = [...] }}");
}

fn generate(format: &str, lines: u64, malformed_per_million: u32, seed: u64, out: &PathBuf) -> Result<()> {
    let Some(format) = sweep::generate::GenFormat::parse(format) else {
        bail!("unknown layout {format:?} for generate; use squid, combined, squid_combined or elff");
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

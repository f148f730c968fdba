//! `sweep demo`: realistic traffic in several formats, one pipeline, a look at the tables.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sweep::generate::{GenFormat, TrafficSpec, write_traffic};
use sweep::{Etl, Files, Format, WriteMode};

pub fn run(dir: &Path, lines: u64) -> Result<()> {
    // Absolute paths, so that the saved pipeline file runs from any folder.
    let dir = &std::path::absolute(dir)?;
    let input = dir.join("input");
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear the demo folder {}", dir.display()))?;
    }
    std::fs::create_dir_all(&input).with_context(|| format!("cannot create {}", input.display()))?;

    println!("sweep demo: generating proxy traffic in {}", input.display());
    let logs = [
        (GenFormat::Squid, "squid-access.log", 1u64),
        (GenFormat::Combined, "nginx-access.log", 2),
        (GenFormat::Elff, "bluecoat-main.log", 3),
    ];
    for (format, name, seed) in logs {
        let spec = TrafficSpec { format, lines, seed, malformed_per_million: 1500, ..TrafficSpec::default() };
        let path = input.join(name);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let stats = write_traffic(&spec, &mut w)?;
        std::io::Write::flush(&mut w)?;
        println!("  {name:<20} {} lines, {} malformed on purpose ({})", stats.lines, stats.malformed, format.format_name());
    }

    let lake = dir.join("lake");
    let flow = Etl::embedded()
        .extract(Files::paths([input.join("squid-access.log").display().to_string()]))
        .transform(Format::squid())
        .extract(Files::paths([input.join("nginx-access.log").display().to_string()]))
        .transform(Format::combined())
        .extract(Files::paths([input.join("bluecoat-main.log").display().to_string()]))
        .transform(Format::elff())
        .lake(&lake)
        .mode(WriteMode::Overwrite);
    let pipeline_file = dir.join("pipeline.toml");
    std::fs::write(&pipeline_file, flow.to_toml())?;

    println!("\nrunning the pipeline (also saved as {}):", pipeline_file.display());
    let summary = flow.run_with(Arc::default())?;
    crate::output::print_summary(&summary);

    let lake_s = lake.display().to_string();
    println!("\nTop hosts:");
    crate::query(
        lake.clone(),
        "SELECT host, count(*) AS requests FROM events GROUP BY host ORDER BY requests DESC LIMIT 5",
        crate::QueryOutput::Table,
    )?;
    println!("\nWhy lines were rejected:");
    crate::query(
        lake.clone(),
        "SELECT format, reason, count(*) AS n FROM rejects GROUP BY format, reason ORDER BY n DESC",
        crate::QueryOutput::Table,
    )?;
    println!("\nTry these:");
    println!("  sweep query {lake_s} \"SELECT format, count(*) FROM events GROUP BY format\"");
    println!(
        "  sweep query {lake_s} \"SELECT client_ip, sum(response_bytes) AS bytes FROM events GROUP BY client_ip ORDER BY bytes DESC LIMIT 10\""
    );
    println!("  sweep query {lake_s} \"SELECT date, count(*) FROM events GROUP BY date ORDER BY date\"");
    println!("  sweep query {lake_s} \"SELECT offset, source, reason, detail FROM rejects LIMIT 5\"");
    println!("  sweep run {}", pipeline_file.display());
    Ok(())
}

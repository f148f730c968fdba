//! `format = "auto"`: each input file's format, chosen from its first lines before a run
//! starts (`sweep_formats::detect`), the same way on every engine.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use sweep_extract::Input;
use sweep_formats::FormatSpec;
use sweep_formats::detect::Candidate;
use sweep_model::{ExtractSpec, Pipeline};

use crate::RunError;

/// How much of a file (decompressed) the detection reads: a few thousand lines.
pub const SAMPLE_BYTES: usize = 256 << 10;

/// The first [`SAMPLE_BYTES`] of an input, decompressed as a run would read it.
pub fn sample(input: &Input) -> Result<Vec<u8>, RunError> {
    let mut reader = sweep_extract::open(input, Arc::new(AtomicU64::new(0)))?;
    let mut head = Vec::with_capacity(SAMPLE_BYTES);
    let mut buf = vec![0u8; 64 << 10];
    while head.len() < SAMPLE_BYTES {
        let n = reader.read(&mut buf).map_err(|e| RunError::AutoFormat(format!("reading {}: {e}", input.name())))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    head.truncate(SAMPLE_BYTES);
    Ok(head)
}

/// Every candidate's reading of the input's first lines, best first.
pub fn rank_input(input: &Input) -> Result<Vec<Candidate>, RunError> {
    Ok(sweep_formats::detect::rank(&sample(input)?))
}

/// The pipeline with every `format = "auto"` extract stage replaced by one stage per format
/// its files are in, and the format chosen for each file (by its name, as the `source`
/// column has it). Files with no data line (empty, or comments only) go with the first
/// format found. Fails, naming them, when a file is in no built-in format.
pub fn resolve_auto_formats(pipeline: &Pipeline) -> Result<(Pipeline, BTreeMap<String, String>), RunError> {
    if !pipeline.extract.iter().any(|e| e.format == FormatSpec::Auto) {
        return Ok((pipeline.clone(), BTreeMap::new()));
    }
    let mut chosen = BTreeMap::new();
    let mut stages = Vec::new();
    let mut unknown = Vec::new();
    for stage in &pipeline.extract {
        if stage.format != FormatSpec::Auto {
            stages.push(stage.clone());
            continue;
        }
        if stage.kafka.is_some() || stage.stdin || stage.files.iter().any(|f| f == "-") {
            return Err(RunError::AutoFormat(
                "reads the first lines of each file; a Kafka topic or standard input needs its format named \
                 (`sweep detect FILE` tells it from a sample; `sweep formats` lists them)"
                    .into(),
            ));
        }
        let mut groups: Vec<(String, FormatSpec, Vec<String>)> = Vec::new();
        let mut no_data = Vec::new();
        for input in sweep_extract::resolve_inputs(&stage.files)? {
            let name = input.name();
            match sweep_formats::detect::detect(&sample(&input)?) {
                Some(found) => {
                    tracing::info!(file = %name, format = %found.label, events = found.events, lines = found.data_lines, "format auto");
                    chosen.insert(name.clone(), found.label.clone());
                    match groups.iter_mut().find(|(label, _, _)| *label == found.label) {
                        Some((_, _, files)) => files.push(name),
                        None => groups.push((found.label, found.spec, vec![name])),
                    }
                }
                None if has_data_line(&input)? => unknown.push(name),
                None => no_data.push(name),
            }
        }
        if let Some((label, _, files)) = groups.first_mut() {
            for name in no_data {
                chosen.insert(name.clone(), label.clone());
                files.push(name);
            }
        } else if !no_data.is_empty() {
            // Nothing but empty files: any format reads them as nothing.
            for name in &no_data {
                chosen.insert(name.clone(), "squid".into());
            }
            groups.push(("squid".into(), FormatSpec::Squid, no_data));
        }
        for (_, spec, files) in groups {
            stages.push(ExtractSpec { files, stdin: false, kafka: None, format: spec });
        }
    }
    if !unknown.is_empty() {
        return Err(RunError::AutoFormat(format!(
            "no built-in format reads the first lines of {}; name the format with --format (`sweep formats` lists them), \
             or describe the layout with a custom pattern (docs/formats/custom.md)",
            unknown.join(", ")
        )));
    }
    Ok((Pipeline { extract: stages, ..pipeline.clone() }, chosen))
}

/// True when the input's sample holds a line that is not blank and not a `#` comment.
fn has_data_line(input: &Input) -> Result<bool, RunError> {
    let head = sample(input)?;
    Ok(head.split(|b| *b == b'\n').any(|line| {
        let line = line.trim_ascii();
        !line.is_empty() && !line.starts_with(b"#")
    }))
}

//! `sweep test`: a pipeline's own tests. Sample lines go in; the rows the pipeline writes
//! for them come out and are compared with what the test file expects, column by column:
//!
//! ```toml
//! pipeline = "pipeline.toml"     # relative to this file: its format, SQL and analysers
//!
//! [[test]]
//! name = "a denied request is an event with its status"
//! lines = ["1700000000.000 5 10.0.0.1 TCP_DENIED/403 0 GET http://bad.example/ - HIER_NONE/- -"]
//! events = [{ host = "bad.example", status = 403 }]
//! hits = [{ indicator = "bad.example" }]
//! counts = { rejects = 0 }
//! ```
//!
//! `events`, `rejects`, `hits`, `findings`, `detections` and `metrics` list the table's rows
//! in order (by input line, then by the table's own key); each row names only the columns it
//! checks. A table not named is not checked; `counts` checks row counts only. Every test runs
//! the pipeline on the embedded engine over its own lines, into a lake of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::Array;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sweep_model::{ExtractSpec, LoadSpec, Pipeline, WriteMode};

use crate::{EngineKind, Error, RunCounters};

/// A test file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// The pipeline under test.
    pipeline: Option<PathBuf>,
    /// The format, when there is no pipeline file (or to read the lines with another).
    format: Option<crate::FormatSpec>,
    #[serde(default)]
    test: Vec<TestCase>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    lines: Vec<String>,
    events: Option<Vec<toml::Table>>,
    rejects: Option<Vec<toml::Value>>,
    hits: Option<Vec<toml::Table>>,
    findings: Option<Vec<toml::Table>>,
    detections: Option<Vec<toml::Table>>,
    metrics: Option<Vec<toml::Table>>,
    #[serde(default)]
    counts: BTreeMap<String, u64>,
}

/// The order rows of each table are compared in.
const ORDER: [(&str, &str); 6] = [
    ("events", "\"offset\""),
    ("rejects", "\"offset\""),
    ("hits", "\"offset\", indicator, matched_field"),
    ("findings", "\"offset\", finding"),
    ("detections", "\"offset\", rule_title"),
    ("metrics", "window_start, key_kind, key"),
];

/// What one test found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestOutcome {
    pub name: String,
    /// Every difference from what the test expects; empty when it passed.
    pub failures: Vec<String>,
}

/// Runs the tests of `path` (TOML); the outcome of each, in order.
pub fn run_test_file(path: &Path) -> Result<Vec<TestOutcome>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Tests(format!("cannot read tests file {}: {e}", path.display())))?;
    let file: TestFile =
        toml::from_str(&text).map_err(|e| Error::Tests(format!("tests file {}: {}", path.display(), e.to_string().trim_end())))?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut pipeline = match &file.pipeline {
        Some(p) => Pipeline::from_file(&base.join(p))?,
        None => Pipeline::default(),
    };
    let format = match (&file.format, pipeline.extract.first()) {
        (Some(format), _) => format.clone(),
        (None, Some(stage)) => stage.format.clone(),
        (None, None) => {
            return Err(Error::Tests(format!(
                "tests file {} names neither a pipeline nor a format: add pipeline = \"pipeline.toml\" or format = \"squid\"",
                path.display()
            )));
        }
    };
    if file.test.is_empty() {
        return Err(Error::Tests(format!(
            "tests file {} has no [[test]]: add one (docs/pipeline.md, \"Testing a pipeline\")",
            path.display()
        )));
    }
    // Tests run here, on this machine, whatever engine and tables the pipeline names.
    pipeline.engine = EngineKind::Embedded;
    pipeline.remote = None;
    pipeline.stream = Default::default();
    pipeline.load.alerts = None;
    let mut outcomes = Vec::new();
    for case in &file.test {
        let dir = tempfile::tempdir().map_err(|e| crate::RunError::Worker(format!("a temporary folder for the test: {e}")))?;
        let input = dir.path().join("input.log");
        std::fs::write(&input, case.lines.iter().map(|l| format!("{l}\n")).collect::<String>())
            .map_err(|e| crate::RunError::Worker(format!("writing the test's lines: {e}")))?;
        let lake = dir.path().join("lake");
        let mut run = pipeline.clone();
        run.extract = vec![ExtractSpec { files: vec![input.display().to_string()], stdin: false, kafka: None, format: format.clone() }];
        run.load = LoadSpec { dir: Some(lake.clone()), mode: WriteMode::Error, format: pipeline.load.format, ..LoadSpec::default() };
        let failures = match crate::run_pipeline(&run, Arc::new(RunCounters::default())) {
            Ok(_) => compare(case, &lake),
            Err(e) => vec![format!("the pipeline failed: {e}")],
        };
        outcomes.push(TestOutcome { name: case.name.clone(), failures });
    }
    Ok(outcomes)
}

fn compare(case: &TestCase, lake: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let rejects: Option<Vec<toml::Table>> = case.rejects.as_ref().map(|rows| {
        rows.iter()
            .map(|r| match r {
                toml::Value::String(reason) => toml::Table::from_iter([("reason".to_string(), toml::Value::String(reason.clone()))]),
                toml::Value::Table(t) => t.clone(),
                other => toml::Table::from_iter([("reason".to_string(), other.clone())]),
            })
            .collect()
    });
    let expected: [(&str, Option<&Vec<toml::Table>>); 6] = [
        ("events", case.events.as_ref()),
        ("rejects", rejects.as_ref()),
        ("hits", case.hits.as_ref()),
        ("findings", case.findings.as_ref()),
        ("detections", case.detections.as_ref()),
        ("metrics", case.metrics.as_ref()),
    ];
    for (table, rows) in expected {
        let Some(rows) = rows else { continue };
        let order = ORDER.iter().find(|(t, _)| *t == table).map(|(_, o)| *o).unwrap_or("1");
        match table_rows(lake, table, order) {
            Ok(actual) => compare_rows(table, rows, &actual, &mut failures),
            Err(e) => failures.push(format!("{table}: {e}")),
        }
    }
    for (table, want) in &case.counts {
        match table_rows(lake, table, "1") {
            Ok(actual) if actual.len() as u64 == *want => {}
            Ok(actual) => failures.push(format!("{table}: expected {want} rows, got {}", actual.len())),
            Err(e) => failures.push(format!("{table}: {e}")),
        }
    }
    failures
}

/// A table's columns, and its rows as column → text (null values left out).
struct Rows {
    columns: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
}

impl Rows {
    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// The rows of `table`; none when the run wrote no such table.
fn table_rows(lake: &Path, table: &str, order: &str) -> Result<Rows, String> {
    if !lake.join(table).exists() {
        return Ok(Rows { columns: Vec::new(), rows: Vec::new() });
    }
    let result = crate::query_lake_result(lake, &format!("SELECT * FROM {table} ORDER BY {order}")).map_err(|e| e.to_string())?;
    let columns = result.schema.fields().iter().map(|f| f.name().clone()).collect();
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in &result.batches {
        let columns: Vec<(String, ArrayFormatter)> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, c)| Ok((f.name().clone(), ArrayFormatter::try_new(c.as_ref(), &options).map_err(|e| e.to_string())?)))
            .collect::<Result<_, String>>()?;
        for i in 0..batch.num_rows() {
            let mut row = BTreeMap::new();
            for ((name, formatter), column) in columns.iter().zip(batch.columns()) {
                if column.is_valid(i) {
                    row.insert(name.clone(), formatter.value(i).to_string());
                }
            }
            rows.push(row);
        }
    }
    Ok(Rows { columns, rows })
}

fn compare_rows(table: &str, expected: &[toml::Table], actual: &Rows, failures: &mut Vec<String>) {
    if expected.len() != actual.len() {
        failures.push(format!("{table}: expected {} rows, got {}", expected.len(), actual.len()));
    }
    for (i, (want, got)) in expected.iter().zip(&actual.rows).enumerate() {
        for (column, value) in want {
            let want_text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(items) => {
                    let items: Vec<String> =
                        items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect();
                    format!("[{}]", items.join(", "))
                }
                other => other.to_string(),
            };
            match got.get(column) {
                Some(got_text) if *got_text == want_text => {}
                Some(got_text) => failures.push(format!("{table}[{i}].{column}: expected {want_text:?}, got {got_text:?}")),
                None if !actual.columns.contains(column) => {
                    failures.push(format!("{table}[{i}].{column}: the table has no such column (it has {})", actual.columns.join(", ")));
                }
                None => failures.push(format!("{table}[{i}].{column}: expected {want_text:?}, got null")),
            }
        }
    }
}

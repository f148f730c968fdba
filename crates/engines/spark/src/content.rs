//! The content analyser on Spark: its verdicts depend on the host name alone, so Spark sends
//! sweep the distinct hosts of the events (far fewer than the events), sweep judges each with
//! sweep-content's own detectors, and hands the verdicts back as a small table that Spark
//! joins to the events. The findings are the embedded engine's, row for row; the events stay
//! in Spark.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Builder, Int32Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use sweep_content::ContentAnalyser;

use crate::SparkError;
use crate::client::{self, SparkClient};
use crate::run::spark_path;
use crate::sweep::write_parquet;

/// The findings of the view `events`, in the findings table's columns: one row per event and
/// finding, the findings of an event in the detectors' order (`rank`).
pub const FINDINGS_SQL: &str = "SELECT e.ts, e.client_ip, e.user, e.host, e.url, e.source, e.offset, v.finding, v.score, v.reason, \
     v.rank FROM events e JOIN sweep_verdicts v ON e.host = v.host";

/// The content analyser and where its verdicts are staged for the server to read.
pub struct StagedContent<'a> {
    pub analyser: &'a ContentAnalyser,
    pub staging: PathBuf,
}

impl StagedContent<'_> {
    /// Judges the distinct hosts of the view `events` and defines the view `sweep_verdicts`
    /// (`host, rank, finding, score, reason`: the hosts with at least one finding). `tag`
    /// names this batch's staged file apart from other batches'.
    pub async fn judge(&self, spark: &mut SparkClient, tag: &str, staged_files: &mut Vec<PathBuf>) -> Result<(), SparkError> {
        let hosts = spark
            .sql("SELECT DISTINCT CAST(host AS STRING) FROM events WHERE host IS NOT NULL AND host <> ''", "collecting the hosts to judge")
            .await?;
        let (mut host, mut rank, mut finding) = (StringBuilder::new(), Int32Builder::new(), StringBuilder::new());
        let (mut score, mut reason) = (Float64Builder::new(), StringBuilder::new());
        for batch in &hosts {
            let names = batch.column(0).as_string::<i32>();
            for row in (0..batch.num_rows()).filter(|&r| names.is_valid(r)) {
                for (i, f) in self.analyser.judge(names.value(row)).into_iter().enumerate() {
                    host.append_value(names.value(row));
                    rank.append_value(i as i32);
                    finding.append_value(f.kind.as_str());
                    score.append_value(f.score);
                    reason.append_value(&f.reason);
                }
            }
        }
        let schema = Schema::new(vec![
            Field::new("host", DataType::Utf8, false),
            Field::new("rank", DataType::Int32, false),
            Field::new("finding", DataType::Utf8, false),
            Field::new("score", DataType::Float64, false),
            Field::new("reason", DataType::Utf8, false),
        ]);
        let columns: Vec<arrow::array::ArrayRef> = vec![
            Arc::new(host.finish()),
            Arc::new(rank.finish()),
            Arc::new(finding.finish()),
            Arc::new(score.finish()),
            Arc::new(reason.finish()),
        ];
        let verdicts = RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| SparkError::Protocol(format!("verdicts: {e}")))?;
        let staged = self.staging.join(format!("verdicts{tag}.parquet"));
        write_parquet(&verdicts, &staged)?;
        spark.create_view("sweep_verdicts", client::read("parquet", vec![spark_path(&staged)], HashMap::new())).await?;
        staged_files.push(staged);
        Ok(())
    }
}

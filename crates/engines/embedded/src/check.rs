//! What `sweep check` asks of the embedded engine: the transform SQL planned over the
//! events table's columns, and the analysers' columns checked against the plan, without
//! reading a line.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use sweep_formats::events_schema;
use sweep_model::Pipeline;

use crate::EngineError;

/// Plans the pipeline's SQL stages as a run does and checks that the content analyser and
/// the Sigma rules find the columns they read in the result; returns the columns the
/// events table would have.
pub fn plan(pipeline: &Pipeline) -> Result<SchemaRef, EngineError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| EngineError::worker(e.to_string()))?;
    let schema = runtime.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_table("events", Arc::new(MemTable::try_new(events_schema(), vec![vec![]])?))?;
        let mut df = ctx.table("events").await?;
        for (i, stage) in pipeline.transform.iter().enumerate() {
            ctx.deregister_table("events")?;
            ctx.register_table("events", df.into_view())?;
            df = ctx.sql(&stage.sql).await.map_err(|source| EngineError::Sql { stage: i, source })?;
        }
        Ok::<_, EngineError>(Arc::new(df.schema().as_arrow().clone()))
    })?;
    let empty = RecordBatch::new_empty(schema.clone());
    if let Some(content) = sweep_runtime::content_analyser(pipeline)? {
        content.analyse(&empty).map_err(sweep_runtime::RunError::from)?;
    }
    if let Some(sigma) = sweep_runtime::sigma::sigma_stage(pipeline)? {
        sigma.analyser.evaluate(&empty).map_err(sweep_runtime::RunError::from)?;
    }
    Ok(schema)
}

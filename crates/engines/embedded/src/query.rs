//! SQL over the tables a run has written (`sweep query`).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

/// The tables sweep writes, in the order `sweep query` registers them.
pub const TABLES: [&str; 7] = ["events", "rejects", "hits", "metrics", "findings", "detections", "intel"];

/// Registers every table folder under `lake` that holds Parquet files, by table name.
/// Returns the names registered.
pub async fn register_lake(ctx: &SessionContext, lake: &Path) -> Result<Vec<String>> {
    if !lake.is_dir() {
        return Err(DataFusionError::Plan(format!("{lake:?} is not a folder; give the --out folder of a sweep run")));
    }
    let mut names = Vec::new();
    for table in TABLES {
        let dir = lake.join(table);
        if dir.join("_delta_log").is_dir() {
            register_delta(ctx, table, &dir).await?;
            names.push(table.to_string());
            continue;
        }
        if !has_parquet(&dir) {
            continue;
        }
        let partitioned = std::fs::read_dir(&dir)?.flatten().any(|e| e.file_name().to_string_lossy().starts_with("date="));
        let mut options = ParquetReadOptions::default();
        if partitioned {
            options = options.table_partition_cols(vec![("date".to_string(), DataType::Utf8)]);
        }
        let url = format!("{}/", std::path::absolute(&dir)?.display());
        ctx.register_parquet(table, &url, options).await?;
        names.push(table.to_string());
    }
    if names.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "{lake:?} holds no sweep tables (looked for {}); run `sweep scan ... --out {}` first",
            TABLES.join(", "),
            lake.display()
        )));
    }
    Ok(names)
}

/// Registers a Delta table as of its latest version: only files its log lists are read,
/// never a file a crashed writer left behind.
pub(crate) async fn register_delta(ctx: &SessionContext, name: &str, dir: &Path) -> Result<()> {
    let delta = |e: deltalake_core::DeltaTableError| DataFusionError::External(format!("Delta table {dir:?}: {e}").into());
    let url = deltalake_core::ensure_table_uri(std::path::absolute(dir)?.to_string_lossy()).map_err(delta)?;
    let table = deltalake_core::open_table(url).await.map_err(delta)?;
    table.update_datafusion_session(&ctx.state()).map_err(delta)?;
    let provider = table.table_provider().await?;
    ctx.register_table(name, provider)?;
    Ok(())
}

fn has_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() { has_parquet(&p) } else { p.extension().is_some_and(|x| x == "parquet") }
    })
}

/// Runs one SQL statement over the lake and collects the result.
pub async fn query_lake(lake: &Path, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(query_lake_result(lake, sql).await?.batches)
}

/// A query's rows and their schema (which an empty result still has).
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Runs one SQL statement over the lake: `SELECT ...`, and `SHOW TABLES`, `SHOW COLUMNS FROM
/// t`, `DESCRIBE t` over the lake's tables.
pub async fn query_lake_result(lake: &Path, sql: &str) -> Result<QueryResult> {
    // A run that died while committing is completed first, so the query sees whole runs.
    sweep_load::Lake::recover_if_idle(lake).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    register_lake(&ctx, lake).await?;
    let frame = ctx.sql(sql).await?;
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok(QueryResult { schema, batches })
}

/// Why a query over a lake failed (the message is DataFusion's, which names the table,
/// column or syntax at fault).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct QueryError(#[from] DataFusionError);

/// [`query_lake`] from synchronous code: on a runtime of its own.
pub fn query_lake_blocking(lake: &Path, sql: &str) -> std::result::Result<Vec<RecordBatch>, QueryError> {
    Ok(query_lake_result_blocking(lake, sql)?.batches)
}

/// [`query_lake_result`] from synchronous code: on a runtime of its own.
pub fn query_lake_result_blocking(lake: &Path, sql: &str) -> std::result::Result<QueryResult, QueryError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(runtime.block_on(query_lake_result(lake, sql))?)
}

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
    if let Some(url) = lake.to_str().filter(|l| sweep_extract::remote::is_object_url(l)) {
        return register_remote_lake(ctx, url).await;
    }
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

/// Registers the Parquet tables of a lake on object storage (written there by a run, or a
/// local lake copied there, e.g. with `aws s3 sync`): the store is given to DataFusion with sweep's credentials, and each
/// table folder holding Parquet files is registered by its URL.
async fn register_remote_lake(ctx: &SessionContext, url: &str) -> Result<Vec<String>> {
    let external = |e: sweep_extract::ExtractError| DataFusionError::External(Box::new(e));
    let (store, root, key) = sweep_extract::remote::store_for(url).map_err(external)?;
    let base = key.trim_end_matches('/');
    let prefix = if base.is_empty() { String::new() } else { format!("{base}/") };
    let listed = sweep_extract::remote::list_below(&store, &root, base).map_err(external)?;
    let root_url = url::Url::parse(&root).map_err(|e| DataFusionError::Plan(format!("{url:?}: {e}")))?;
    ctx.register_object_store(&root_url, store);
    let mut names = Vec::new();
    for table in TABLES {
        let folder = format!("{prefix}{table}/");
        let below: Vec<&str> = listed.iter().map(|m| m.location.as_ref()).filter_map(|k| k.strip_prefix(folder.as_str())).collect();
        if below.iter().any(|k| k.starts_with("_delta_log/")) {
            register_delta(ctx, table, Path::new(&format!("{root}/{prefix}{table}"))).await?;
            names.push(table.to_string());
            continue;
        }
        if !below.iter().any(|k| k.ends_with(".parquet") && !k.split('/').any(|s| s.starts_with('.') || s.starts_with('_'))) {
            continue;
        }
        let mut options = ParquetReadOptions::default();
        if below.iter().any(|k| k.starts_with("date=")) {
            options = options.table_partition_cols(vec![("date".to_string(), DataType::Utf8)]);
        }
        let table_url = format!("{root}/{folder}");
        ctx.register_parquet(table, &table_url, options).await?;
        names.push(table.to_string());
    }
    if names.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "{url} holds no sweep tables (looked for {} folders with Parquet files)",
            TABLES.join(", ")
        )));
    }
    Ok(names)
}

/// Registers a Delta table as of its latest version: only files its log lists are read,
/// never a file a crashed writer left behind.
#[cfg(feature = "delta")]
pub(crate) async fn register_delta(ctx: &SessionContext, name: &str, dir: &Path) -> Result<()> {
    let delta = |e: deltalake_core::DeltaTableError| DataFusionError::External(format!("Delta table {dir:?}: {e}").into());
    let table = sweep_load::delta::open_table(dir).await.map_err(|e| DataFusionError::External(Box::new(e)))?;
    table.update_datafusion_session(&ctx.state()).map_err(delta)?;
    let provider = table.table_provider().await?;
    ctx.register_table(name, provider)?;
    Ok(())
}

#[cfg(not(feature = "delta"))]
pub(crate) async fn register_delta(_ctx: &SessionContext, _name: &str, dir: &Path) -> Result<()> {
    Err(DataFusionError::External(Box::new(sweep_load::LoadError::DeltaNotBuilt { path: dir.to_path_buf() })))
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
    let remote = lake.to_str().is_some_and(sweep_extract::remote::is_object_url);
    if !remote || sweep_load::is_object_lake(lake) {
        sweep_load::Lake::recover_if_idle(lake).map_err(|e| DataFusionError::External(Box::new(e)))?;
    }
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

//! Delta tables in a build without the `delta` feature: the functions of `delta.rs` with the
//! same signatures, each saying [`LoadError::DeltaNotBuilt`] with the table it was asked
//! about. A [`DeltaSink`] cannot be opened, so its other methods cannot be reached (the
//! compiler checks it: they match on an empty enum).

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::{Committed, LoadError};

fn not_built(path: &Path) -> LoadError {
    LoadError::DeltaNotBuilt { path: path.to_path_buf() }
}

/// No value: a Delta sink of a build without Delta cannot be made.
enum Never {}

pub struct DeltaSink {
    never: Never,
}

impl DeltaSink {
    pub async fn open(_name: &str, path: &Path, _schema: &SchemaRef, _by_date: bool) -> Result<DeltaSink, LoadError> {
        Err(not_built(path))
    }

    pub fn path(&self) -> &Path {
        match self.never {}
    }

    pub async fn committed_batch(&mut self, _app_id: &str) -> Result<Option<i64>, LoadError> {
        match self.never {}
    }

    pub async fn commit(
        &mut self,
        _app_id: &str,
        _batch_id: i64,
        _batches: &[RecordBatch],
        _replace: bool,
    ) -> Result<Committed, LoadError> {
        match self.never {}
    }
}

pub fn active_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    Err(not_built(path))
}

pub fn active_files_sized(path: &Path) -> Result<Vec<(PathBuf, u64)>, LoadError> {
    Err(not_built(path))
}

pub fn remove_all_as_batch(path: &Path, _app_id: &str, _batch: i64) -> Result<(), LoadError> {
    Err(not_built(path))
}

pub(crate) fn ensure_table(_name: &str, path: &Path, _schema: &SchemaRef, _by_date: bool) -> Result<(), LoadError> {
    Err(not_built(path))
}

pub(crate) fn commit_run(table: &crate::lake::TableCommit, _record: &crate::lake::RunRecord) -> Result<(), LoadError> {
    Err(not_built(&table.path))
}

pub(crate) fn vacuum(path: &Path, _retain: std::time::Duration) -> Result<usize, LoadError> {
    Err(not_built(path))
}

//! Where a checkpoint's files live: a local folder, or a prefix on object storage.
//!
//! A checkpoint needs only whole-file writes that a crash never leaves half done, reads,
//! deletes and a listing of one sub-folder. On disk a file is written under a temporary
//! name, synced and renamed; on object storage a PUT is atomic already (an object is
//! visible whole or not at all), so each file is one PUT.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sweep_storage::object_store::path::Path as Key;
use sweep_storage::object_store::{self, ObjectStore, ObjectStoreExt, PutPayload};
use sweep_storage::wait;

use crate::RunError;

pub(super) enum Files {
    Local(PathBuf),
    Remote {
        /// The checkpoint's URL, as the user wrote it (without a trailing slash).
        url: String,
        store: Arc<dyn ObjectStore>,
        /// The key of the checkpoint's folder (`""` at the bucket's root).
        base: String,
    },
}

impl Files {
    /// The checkpoint at `location`: a URL (`s3://`, `gs://`, `az://` ...) or a folder,
    /// created with its sub-folders when missing.
    pub(super) fn open(location: &Path, subs: &[&str]) -> Result<Files, RunError> {
        let text = location.to_string_lossy();
        if sweep_storage::is_object_url(&text) {
            let url = text.trim_end_matches('/').to_string();
            let located = sweep_storage::locate(&url).map_err(|e| RunError::Checkpoint(e.to_string()))?;
            let files = Files::Remote { store: located.store, base: located.key.trim_matches('/').to_string(), url };
            // Asking once here gives a missing bucket or bad credentials one clear message
            // before the stream starts.
            files.names("commits")?;
            return Ok(files);
        }
        for sub in subs {
            fs::create_dir_all(location.join(sub)).map_err(|e| io(&location.join(sub), e))?;
        }
        Ok(Files::Local(location.to_path_buf()))
    }

    /// How `relative` is named to the user: its path or URL.
    pub(super) fn name(&self, relative: &str) -> String {
        match self {
            Files::Local(dir) => dir.join(relative).display().to_string(),
            Files::Remote { url, .. } => format!("{url}/{relative}"),
        }
    }

    fn key(base: &str, relative: &str) -> Key {
        Key::from(if base.is_empty() { relative.to_string() } else { format!("{base}/{relative}") })
    }

    /// The file's bytes, or `None` when it does not exist.
    pub(super) fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, RunError> {
        match self {
            Files::Local(dir) => match fs::read(dir.join(relative)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(&dir.join(relative), e)),
            },
            Files::Remote { store, base, .. } => {
                let (store, key) = (store.clone(), Files::key(base, relative));
                match wait(async move { store.get(&key).await?.bytes().await }) {
                    Ok(bytes) => Ok(Some(bytes.to_vec())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.store_error(relative, &e)),
                }
            }
        }
    }

    pub(super) fn exists(&self, relative: &str) -> Result<bool, RunError> {
        match self {
            Files::Local(dir) => Ok(dir.join(relative).exists()),
            Files::Remote { store, base, .. } => {
                let (store, key) = (store.clone(), Files::key(base, relative));
                match wait(async move { store.head(&key).await }) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(self.store_error(relative, &e)),
                }
            }
        }
    }

    /// Writes the whole file, so that a crash leaves the old one or the new one.
    pub(super) fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), RunError> {
        match self {
            Files::Local(dir) => {
                let path = dir.join(relative);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                write_atomic(&path, bytes)
            }
            Files::Remote { store, base, .. } => {
                let (store, key, payload) = (store.clone(), Files::key(base, relative), PutPayload::from(bytes.to_vec()));
                wait(async move { store.put(&key, payload).await }).map(|_| ()).map_err(|e| self.store_error(relative, &e))
            }
        }
    }

    /// Deletes the file if it exists; a file that cannot be deleted is left (old batches'
    /// files only cost space, and the next prune tries again).
    pub(super) fn remove(&self, relative: &str) {
        match self {
            Files::Local(dir) => {
                let _ = fs::remove_file(dir.join(relative));
            }
            Files::Remote { store, base, .. } => {
                let (store, key) = (store.clone(), Files::key(base, relative));
                let _ = wait(async move { store.delete(&key).await });
            }
        }
    }

    /// The names of the files in the sub-folder `sub` (none when it does not exist).
    pub(super) fn names(&self, sub: &str) -> Result<Vec<String>, RunError> {
        match self {
            Files::Local(dir) => {
                let path = dir.join(sub);
                let entries = match fs::read_dir(&path) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(io(&path, e)),
                };
                entries.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()).map_err(|e| io(&path, e))).collect()
            }
            Files::Remote { store, base, url } => {
                let prefix = Files::key(base, sub).to_string();
                let listed = sweep_storage::list(store, &prefix, url).map_err(|e| RunError::Checkpoint(e.to_string()))?;
                Ok(listed
                    .into_iter()
                    .filter_map(|m| m.location.as_ref().strip_prefix(&format!("{prefix}/")).map(str::to_string))
                    .filter(|name| !name.contains('/'))
                    .collect())
            }
        }
    }

    fn store_error(&self, relative: &str, e: &object_store::Error) -> RunError {
        let url = self.name(relative);
        RunError::Checkpoint(sweep_storage::store_error(&url, e).to_string())
    }
}

fn io(path: &Path, e: std::io::Error) -> RunError {
    RunError::Checkpoint(format!("{}: {e}", path.display()))
}

/// Write to a temporary file, sync it, rename it into place, and sync the folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    if let Some(parent) = path.parent()
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

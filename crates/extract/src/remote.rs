//! Inputs on object storage: `s3://`, `gs://`, `az://` / `abfss://` and `https://` URLs.
//!
//! A URL names one object, a prefix (everything below it, as a directory does), or a glob
//! over keys. Listing and reading go through the `object_store` crate (the client DataFusion
//! and delta-rs use), with credentials from each cloud's standard variables and chains.
//! An object is read as one streamed GET, conditional on the ETag it was listed with, so an
//! object replaced while it is read fails instead of mixing two versions; a connection lost
//! mid-object resumes from the byte where it stopped.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::ExtractError;
use sweep_storage::{Located, runtime, store_message, wait};

pub use sweep_storage::{SCHEMES, is_object_url};

/// One object to read, as listed.
#[derive(Clone)]
pub struct RemoteObject {
    /// The object's URL: the `source` column and the ledger's key.
    pub url: String,
    pub size: u64,
    /// Last modification, nanoseconds since the epoch.
    pub modified_ns: i128,
    /// The store's version tag of the content (S3 and Azure ETag, GCS generation).
    pub etag: Option<String>,
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
}

impl std::fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteObject").field("url", &self.url).field("size", &self.size).field("etag", &self.etag).finish()
    }
}

impl PartialEq for RemoteObject {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for RemoteObject {}

/// True when `arg` is written as a URL (`scheme://…`), of a scheme sweep reads or not.
pub use sweep_model::is_url;

/// The store `url` lives in, with credentials as for inputs; the URL of the store's root
/// (`s3://bucket`), for registering the store with a query engine; and the key path.
pub fn store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, String, String), ExtractError> {
    let Located { store, root, key } = locate(url)?;
    Ok((store, root, key))
}

/// Every object below `prefix` of `store` (`root` names the store in errors).
pub fn list_below(store: &Arc<dyn ObjectStore>, root: &str, prefix: &str) -> Result<Vec<object_store::ObjectMeta>, ExtractError> {
    list(store, root, prefix, root)
}

fn locate(arg: &str) -> Result<Located, ExtractError> {
    Ok(sweep_storage::locate(arg)?)
}

fn object_error(url: &str, e: &object_store::Error) -> ExtractError {
    ExtractError::Object { url: url.to_string(), message: store_message(e) }
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Expands one URL as [`crate::resolve_inputs`] does a path: an object, everything below a
/// prefix (hidden names and sweep's own outputs left out), or the keys a glob matches;
/// sorted by key.
pub fn resolve(arg: &str) -> Result<Vec<RemoteObject>, ExtractError> {
    let Located { store, root, key } = locate(arg)?;
    let scheme = arg.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    if scheme == "http" || scheme == "https" {
        // A web server cannot be listed: the URL is one object.
        if is_glob(&key) {
            return Err(ExtractError::BadUrl {
                url: arg.into(),
                message: "an http(s) URL names one file; globs need a store that lists (s3, gs, az)".into(),
            });
        }
        let location = ObjectPath::from(key.as_str());
        let meta = {
            let store = store.clone();
            let location = location.clone();
            wait(async move { store.head(&location).await })
        }
        .map_err(|e| object_error(arg, &e))?;
        return Ok(vec![object(&store, arg.to_string(), meta)]);
    }

    if let Some(at) = key.find(['*', '?', '[']) {
        let pattern = glob::Pattern::new(&key).map_err(|e| ExtractError::BadGlob { pattern: arg.to_string(), message: e.to_string() })?;
        let prefix = key[..at].rsplit_once('/').map_or("", |(dir, _)| dir).to_string();
        let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
        let mut found: Vec<RemoteObject> = list(&store, &root, &prefix, arg)?
            .into_iter()
            .filter(|m| pattern.matches_with(m.location.as_ref(), options))
            .map(|m| object(&store, format!("{root}/{}", m.location), m))
            .collect();
        if found.is_empty() {
            return Err(ExtractError::NoMatch { pattern: arg.to_string() });
        }
        found.sort_by(|a, b| a.url.cmp(&b.url));
        return Ok(found);
    }

    let trimmed = key.trim_end_matches('/').to_string();
    if !key.ends_with('/') && !trimmed.is_empty() {
        let location = ObjectPath::from(trimmed.as_str());
        let head = {
            let store = store.clone();
            wait(async move { store.head(&location).await })
        };
        match head {
            Ok(meta) => return Ok(vec![object(&store, format!("{root}/{}", meta.location), meta)]),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e @ object_store::Error::PermissionDenied { .. }) => {
                return Err(object_error(arg, &sweep_storage::explain_denied_head(&store, &trimmed, e)));
            }
            Err(e) => return Err(object_error(arg, &e)),
        }
    }
    // Not an object: a prefix, read as a directory is.
    let listed = list(&store, &root, &trimmed, arg)?;
    let base = if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") };
    let mut found: Vec<RemoteObject> =
        below_prefix(listed, &base).into_iter().map(|m| object(&store, format!("{root}/{}", m.location), m)).collect();
    if found.is_empty() {
        return Err(ExtractError::Missing { path: arg.to_string(), cwd: "(object storage: no object has this key or prefix)".into() });
    }
    found.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(found)
}

/// The objects of a listing below `base` that a directory walk would read: no hidden name
/// (a segment starting with `.`), nothing inside one of sweep's outputs (a lake with its
/// `_sweep` journal, a Delta table, a stream checkpoint).
fn below_prefix(listed: Vec<object_store::ObjectMeta>, base: &str) -> Vec<object_store::ObjectMeta> {
    let relative = |m: &object_store::ObjectMeta| m.location.as_ref().strip_prefix(base).map(str::to_string);
    let mut outputs: Vec<String> = Vec::new();
    let keys: std::collections::HashSet<String> = listed.iter().filter_map(relative).collect();
    for key in &keys {
        let mut dir = String::new();
        for segment in key.split('/') {
            if segment == "_sweep" || segment == "_delta_log" {
                outputs.push(dir.clone());
                break;
            }
            if segment == "offsets" && keys.contains(&format!("{dir}pipeline.json")) {
                outputs.push(dir.clone());
                break;
            }
            dir.push_str(segment);
            dir.push('/');
        }
    }
    listed
        .into_iter()
        .filter(|m| {
            let Some(key) = relative(m) else { return false };
            !key.split('/').any(|s| s.starts_with('.')) && !outputs.iter().any(|o| key.starts_with(o.as_str()))
        })
        .collect()
}

fn list(store: &Arc<dyn ObjectStore>, root: &str, prefix: &str, arg: &str) -> Result<Vec<object_store::ObjectMeta>, ExtractError> {
    sweep_storage::list(store, prefix, arg).map_err(|e| match e {
        // A missing bucket is the bucket's fault, not the prefix's: name the bucket.
        sweep_storage::StorageError::Store { message, .. } if message.starts_with("the bucket") => {
            ExtractError::Object { url: root.to_string(), message }
        }
        e => e.into(),
    })
}

fn object(store: &Arc<dyn ObjectStore>, url: String, meta: object_store::ObjectMeta) -> RemoteObject {
    RemoteObject {
        url,
        size: meta.size,
        modified_ns: meta.last_modified.timestamp_nanos_opt().map_or(0, i128::from),
        etag: meta.e_tag.clone(),
        store: store.clone(),
        location: meta.location,
    }
}

/// A whole object, for small files read at once (intel feeds): its bytes and ETag, or `None`
/// when its ETag is still `if_none_match` (unchanged since the last fetch).
pub fn fetch(url: &str, if_none_match: Option<&str>) -> Result<Option<(Vec<u8>, Option<String>)>, ExtractError> {
    let Located { store, key, .. } = locate(url)?;
    let location = ObjectPath::from(key.as_str());
    let options = GetOptions { if_none_match: if_none_match.map(str::to_string), ..Default::default() };
    let got = wait(async move {
        let result = store.get_opts(&location, options).await?;
        let etag = result.meta.e_tag.clone();
        Ok::<_, object_store::Error>((result.bytes().await?, etag))
    });
    match got {
        Ok((bytes, etag)) => Ok(Some((bytes.to_vec(), etag))),
        Err(object_store::Error::NotModified { .. }) => Ok(None),
        Err(e) => Err(object_error(url, &e)),
    }
}

/// How many times a read that lost its connection mid-object starts again where it stopped.
const RESUMES: u32 = 5;
/// Bytes in flight between the network and the reader: a few of the store's body frames.
const READ_AHEAD_FRAMES: usize = 64;

/// Opens an object for reading: its bytes stream in as the reader asks for them, with a
/// bounded read-ahead, so memory stays bounded whatever the object's size.
pub fn open(object: &RemoteObject) -> Box<dyn Read + Send> {
    let (mut tx, rx) = mpsc::channel::<io::Result<Bytes>>(READ_AHEAD_FRAMES);
    let store = object.store.clone();
    let location = object.location.clone();
    let etag = object.etag.clone();
    let url = object.url.clone();
    let size = object.size;
    let task = runtime().spawn(async move {
        let mut offset = 0u64;
        let mut failures = 0u32;
        while offset < size {
            let options =
                GetOptions { if_match: etag.clone(), range: (offset > 0).then_some(GetRange::Offset(offset)), ..Default::default() };
            let mut stream = match store.get_opts(&location, options).await {
                Ok(result) => result.into_stream(),
                Err(e) => {
                    let _ = tx.send(Err(read_error(&url, &e))).await;
                    return;
                }
            };
            let mut lost = None;
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(bytes) => {
                        offset += bytes.len() as u64;
                        failures = 0;
                        if tx.send(Ok(bytes)).await.is_err() {
                            return; // the reader is gone
                        }
                    }
                    Err(e) => {
                        lost = Some(e);
                        break;
                    }
                }
            }
            match lost {
                None if offset < size => {
                    let message = format!("{url}: the store ended the object at byte {offset} of {size}");
                    let _ = tx.send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, message))).await;
                    return;
                }
                None => {}
                Some(e) => {
                    failures += 1;
                    if failures > RESUMES {
                        let _ = tx.send(Err(read_error(&url, &e))).await;
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200 << failures.min(5))).await;
                }
            }
        }
    });
    Box::new(ObjectReader { rx, current: Bytes::new(), task })
}

fn read_error(url: &str, e: &object_store::Error) -> io::Error {
    let message = match e {
        object_store::Error::Precondition { .. } => format!("{url} was replaced while it was read; run again to read the new version"),
        e => format!("{url}: {}", store_message(e)),
    };
    io::Error::other(message)
}

struct ObjectReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    task: tokio::task::JoinHandle<()>,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match futures::executor::block_on(self.rx.next()) {
                Some(frame) => self.current = frame?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str) -> object_store::ObjectMeta {
        object_store::ObjectMeta { location: ObjectPath::from(key), last_modified: Default::default(), size: 1, e_tag: None, version: None }
    }

    fn keys(found: Vec<object_store::ObjectMeta>) -> Vec<String> {
        found.into_iter().map(|m| m.location.to_string()).collect()
    }

    #[test]
    fn a_prefix_reads_as_a_directory_without_hidden_names_or_sweep_outputs() {
        let listed = [
            "logs/a.log",
            "logs/.hidden",
            "logs/.tmp/b.log",
            "logs/day/c.log.gz",
            "logs/lake/_sweep/runs/1.json",
            "logs/lake/events/x.parquet",
            "logs/t/_delta_log/0.json",
            "logs/t/part.parquet",
            "logs/ck/pipeline.json",
            "logs/ck/offsets/0.json",
            "logs/pipeline.json",
        ]
        .map(meta)
        .to_vec();
        assert_eq!(keys(below_prefix(listed, "logs/")), ["logs/a.log", "logs/day/c.log.gz", "logs/pipeline.json"]);
    }
}

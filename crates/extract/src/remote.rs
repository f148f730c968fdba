//! Inputs on object storage: `s3://`, `gs://`, `az://` / `abfss://` and `https://` URLs.
//!
//! A URL names one object, a prefix (everything below it, as a directory does), or a glob
//! over keys. Listing and reading go through the `object_store` crate (the client DataFusion
//! and delta-rs use), with credentials from each cloud's standard variables and chains.
//! An object is read as one streamed GET, conditional on the ETag it was listed with, so an
//! object replaced while it is read fails instead of mixing two versions; a connection lost
//! mid-object resumes from the byte where it stopped.

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::ExtractError;

/// URL schemes read from object storage.
pub const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "abfs", "abfss", "azure", "adl", "http", "https"];

/// True when `arg` is a URL of a scheme object storage serves (see [`SCHEMES`]).
pub fn is_object_url(arg: &str) -> bool {
    arg.split_once("://").is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

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

/// The runtime object I/O runs on: its own two threads, so that the reader threads of both
/// engines (plain threads, or inside another runtime) can wait on it without blocking a
/// runtime they are part of.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sweep-object-io")
            .enable_all()
            .build()
            .expect("the object I/O runtime starts (threads and timers only)")
    })
}

/// Runs `future` on the object I/O runtime and waits for it, from any thread.
fn wait<T: Send + 'static>(future: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv().expect("the object I/O runtime runs every task it is given to the end")
}

/// Throttling and server errors are retried with exponential back-off for up to a minute,
/// then reported; a store that cannot be reached at all fails within that minute, not the
/// client's default three.
fn retries() -> object_store::RetryConfig {
    object_store::RetryConfig { max_retries: 6, retry_timeout: Duration::from_secs(60), ..Default::default() }
}

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

/// The store a URL lives in, the URL of the store's root (`s3://bucket`), and the key path.
struct Located {
    store: Arc<dyn ObjectStore>,
    root: String,
    key: String,
}

fn locate(arg: &str) -> Result<Located, ExtractError> {
    let bad = |message: String| ExtractError::BadUrl { url: arg.to_string(), message };
    let url = url::Url::parse(arg).map_err(|e| bad(e.to_string()))?;
    let scheme = url.scheme().to_ascii_lowercase();
    let store: Arc<dyn ObjectStore> = match scheme.as_str() {
        "s3" | "s3a" => {
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(arg).with_retry(retries());
            let profile = crate::aws_profile::settings_from_env().map_err(bad)?;
            let mut endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")).ok();
            for (key, value) in profile.settings {
                if key == "aws_endpoint" {
                    endpoint = Some(value.clone());
                }
                let key = key.parse().expect("object_store knows every key a profile sets");
                builder = builder.with_config(key, value);
            }
            // An endpoint the user wrote as http:// is one they mean to reach over http (an
            // on-premises or loopback store); object_store refuses it unless told.
            if endpoint.is_some_and(|e| e.starts_with("http://")) {
                builder = builder.with_allow_http(true);
            }
            Arc::new(builder.build().map_err(|e| bad(store_message(&e)))?)
        }
        "gs" => {
            let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(arg).with_retry(retries());
            Arc::new(builder.build().map_err(|e| bad(store_message(&e)))?)
        }
        "az" | "abfs" | "abfss" | "azure" | "adl" => {
            let builder = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(arg).with_retry(retries());
            Arc::new(builder.build().map_err(|e| bad(store_message(&e)))?)
        }
        "http" | "https" => {
            let origin = url.origin().ascii_serialization();
            let builder = object_store::http::HttpBuilder::new()
                .with_url(origin)
                .with_retry(retries())
                .with_client_options(object_store::ClientOptions::new().with_allow_http(scheme == "http"));
            Arc::new(builder.build().map_err(|e| bad(store_message(&e)))?)
        }
        other => return Err(bad(format!("the scheme {other:?} is not one sweep reads (it reads {})", SCHEMES.join(", ")))),
    };
    let (root, key) = split_root(arg, &url);
    Ok(Located { store, root, key })
}

/// `s3://bucket/a/b` gives (`s3://bucket`, `a/b`); for Azure's `abfss://container@account…/a`
/// and plain `https://host/a` likewise the part before the path and the path.
fn split_root(arg: &str, url: &url::Url) -> (String, String) {
    let path = url.path().trim_start_matches('/');
    // The path as the user wrote it (percent-decoding would turn `%2F` into a separator).
    let decoded = percent_decode(path);
    let root_len = arg.len() - path.len();
    let root = arg[..root_len].trim_end_matches('/').to_string();
    (root, decoded)
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

const BAD_CREDENTIALS: &str = "the store did not accept the credentials (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
     GOOGLE_APPLICATION_CREDENTIALS, or AZURE_STORAGE_ACCOUNT_KEY; docs/storage.md lists where each cloud's credentials come from)";

/// S3 answers a wrong secret or an unknown key with 403, as it does a refused permission;
/// its error code tells them apart.
fn mentions_bad_credentials(text: &str) -> bool {
    [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthenticationFailed",
        "Server failed to authenticate the request",
        "InvalidToken",
        "ExpiredToken",
    ]
    .iter()
    .any(|code| text.contains(code))
}

/// What the store said, in words a user acts on: credentials, permissions and missing
/// buckets get their own advice; credentials are never part of the text.
fn store_message(e: &object_store::Error) -> String {
    use object_store::Error as E;
    match e {
        E::Unauthenticated { .. } => BAD_CREDENTIALS.to_string(),
        E::PermissionDenied { .. } if mentions_bad_credentials(&e.to_string()) => BAD_CREDENTIALS.to_string(),
        E::PermissionDenied { .. } => "access denied: the credentials were accepted but may not read this bucket or key (check the \
             bucket policy or IAM role; docs/storage.md)"
            .to_string(),
        E::NotFound { path, .. } => format!("{path:?} not found (check the bucket and key)"),
        other => {
            let text = other.to_string();
            // object_store says "Generic S3 error: …"; the bucket-level causes the user fixes.
            if text.contains("NoSuchBucket") || text.contains("ContainerNotFound") || text.contains("The specified bucket does not exist") {
                "the bucket (or container) does not exist; check its name and the endpoint".to_string()
            } else if mentions_bad_credentials(&text) {
                BAD_CREDENTIALS.to_string()
            } else if text.contains("AccessDenied") || text.contains("AuthorizationPermissionMismatch") {
                "access denied: the credentials were accepted but may not read this bucket or key (check the bucket policy or IAM role)"
                    .to_string()
            } else if let Some(gave_up) = retries_exhausted(&text) {
                gave_up
            } else {
                text
            }
        }
    }
}

/// object_store's error after its last retry ("Error performing GET … in 6.3s, after 6
/// retries, … - <last answer>"), said as what it means to the user.
fn retries_exhausted(text: &str) -> Option<String> {
    let (before, after) = text.split_once(", after ")?;
    let retries = after.split(' ').next().filter(|n| n.parse::<u32>().is_ok())?;
    let elapsed = before.rsplit_once(" in ").map_or("", |(_, t)| t);
    // A Duration's debug form: "1.999674852s" reads better as "2.0 s".
    let elapsed = match elapsed.strip_suffix('s').filter(|t| !t.ends_with('m')).and_then(|t| t.parse::<f64>().ok()) {
        Some(seconds) => format!("{seconds:.1} s"),
        None => elapsed.to_string(),
    };
    let last = after.split_once(" - ").map_or("", |(_, l)| l).trim();
    Some(format!(
        "the store kept failing through {retries} retries with back-off over {elapsed} (last answer: {last}); it may be throttling \
         or unavailable: try again later"
    ))
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
                return Err(object_error(arg, &explain_denied_head(&store, &trimmed, e)));
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

/// A HEAD refused with 403 has no body, so a wrong secret and a refused permission look
/// the same; a one-byte GET of the same key carries S3's error code, which tells them apart.
fn explain_denied_head(store: &Arc<dyn ObjectStore>, key: &str, head_error: object_store::Error) -> object_store::Error {
    let store = store.clone();
    let location = ObjectPath::from(key);
    let options = GetOptions { range: Some(GetRange::Bounded(0..1)), ..Default::default() };
    match wait(async move { store.get_opts(&location, options).await.map(|_| ()) }) {
        Err(e @ object_store::Error::PermissionDenied { .. }) => e,
        _ => head_error,
    }
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
    let store = store.clone();
    let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let listed = wait(async move { store.list(prefix.as_ref()).try_collect::<Vec<_>>().await });
    listed.map_err(|e| match e {
        object_store::Error::NotFound { .. } => ExtractError::Object {
            url: root.to_string(),
            message: "the bucket (or container) does not exist; check its name and the endpoint".into(),
        },
        e => object_error(arg, &e),
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

    #[test]
    fn urls_of_object_stores_are_told_from_paths() {
        for url in ["s3://b/k", "S3://b/k", "gs://b/k", "az://c/k", "abfss://c@a.dfs.core.windows.net/k", "https://h/x.log"] {
            assert!(is_object_url(url), "{url}");
        }
        for path in ["logs/a.log", "/tmp/x", "-", "C:\\x", "file.log", "ftp://h/x"] {
            assert!(!is_object_url(path), "{path}");
        }
    }

    #[test]
    fn a_url_splits_into_the_store_root_and_the_key() {
        let split = |s: &str| split_root(s, &url::Url::parse(s).unwrap());
        assert_eq!(split("s3://bucket/proxy/2026/a.log.gz"), ("s3://bucket".to_string(), "proxy/2026/a.log.gz".to_string()));
        assert_eq!(split("s3://bucket/proxy/"), ("s3://bucket".to_string(), "proxy/".to_string()));
        assert_eq!(split("s3://bucket"), ("s3://bucket".to_string(), String::new()));
        assert_eq!(split("gs://b/a%20b.log"), ("gs://b".to_string(), "a b.log".to_string()));
    }
}

//! # sweep-storage: object storage for every stage of sweep
//!
//! One place that turns a URL (`s3://`, `gs://`, `az://` / `abfss://`, `https://`) into a
//! store of the `object_store` crate (the client DataFusion and delta-rs use), with each
//! cloud's credentials, retries with back-off, and errors in words a user acts on. Inputs
//! (extract), feeds (analyse) and lakes (load) all go through it, so a credential or an
//! endpoint works the same for all three.
//!
//! Object I/O runs on a private runtime of two threads; [`wait`] blocks any thread (a plain
//! reader thread, or one inside another runtime) until a future on it is done.
//!
//! The clouds' clients are the `remote` feature (on by default). A build without it (the
//! quick build of scripts/demo) refuses every URL with [`StorageError::NotBuilt`].

#[cfg(feature = "remote")]
mod aws_profile;

use std::sync::{Arc, OnceLock};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore};

pub use object_store;

/// URL schemes served by object storage.
pub const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "abfs", "abfss", "azure", "adl", "http", "https"];

/// True when `arg` is a URL of a scheme object storage serves (see [`SCHEMES`]).
pub fn is_object_url(arg: &str) -> bool {
    arg.split_once("://").is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// An object storage URL that cannot be used, or a store that refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("{url:?} is not a URL sweep can use: {message}")]
    BadUrl { url: String, message: String },
    #[error("{url}: {message}")]
    Store { url: String, message: String },
    #[error("this sweep was built without {WHAT_REMOTE_IS} {}, to use {url:?}", sweep_model::BUILT_WITHOUT_ADVICE)]
    NotBuilt { url: String },
}

/// The part of sweep a build without the `remote` feature lacks, as messages name it.
pub const WHAT_REMOTE_IS: &str = "object storage and HTTP(S)";

/// The runtime object I/O runs on: its own two threads, so that the reader threads of both
/// engines (plain threads, or inside another runtime) can wait on it without blocking a
/// runtime they are part of.
pub fn runtime() -> &'static tokio::runtime::Runtime {
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
pub fn wait<T: Send + 'static>(future: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv().expect("the object I/O runtime runs every task it is given to the end")
}

/// Throttling and server errors are retried with exponential back-off for up to a minute,
/// then reported; a store that cannot be reached at all fails within that minute, not the
/// client's default three.
#[cfg(feature = "remote")]
fn retries() -> object_store::RetryConfig {
    object_store::RetryConfig { max_retries: 6, retry_timeout: std::time::Duration::from_secs(60), ..Default::default() }
}

/// Where a URL lives: its store, the URL of the store's root (`s3://bucket`, for messages
/// and for registering the store with a query engine), and the key below that root.
pub struct Located {
    pub store: Arc<dyn ObjectStore>,
    pub root: String,
    pub key: String,
}

/// The store `url` lives in, with credentials from the cloud's standard chain (and for S3
/// the AWS profile files), retries, and for S3 an `http://` endpoint allowed when the user
/// named one.
pub fn locate(arg: &str) -> Result<Located, StorageError> {
    let bad = |message: String| StorageError::BadUrl { url: arg.to_string(), message };
    let url = url::Url::parse(arg).map_err(|e| bad(e.to_string()))?;
    let scheme = url.scheme().to_ascii_lowercase();
    if url.host_str().is_none_or(str::is_empty) {
        let what = if scheme.starts_with("http") { "host" } else { "bucket (or container)" };
        return Err(bad(format!("it names no {what}; write {scheme}://{}/key", what.split(' ').next().unwrap_or(what))));
    }
    let store = store_for(arg, &url, &scheme)?;
    let (root, key) = split_root(arg, &url);
    Ok(Located { store, root, key })
}

#[cfg(not(feature = "remote"))]
fn store_for(arg: &str, _url: &url::Url, _scheme: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
    Err(StorageError::NotBuilt { url: arg.to_string() })
}

#[cfg(feature = "remote")]
fn store_for(arg: &str, url: &url::Url, scheme: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let bad = |message: String| StorageError::BadUrl { url: arg.to_string(), message };
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" | "s3a" => {
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(arg).with_retry(retries());
            let profile = aws_profile::settings_from_env().map_err(bad)?;
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
    Ok(store)
}

/// `s3://bucket/a/b` gives (`s3://bucket`, `a/b`); for Azure's `abfss://container@account…/a`
/// and plain `https://host/a` likewise the part before the path and the path.
fn split_root(arg: &str, url: &url::Url) -> (String, String) {
    let path = url.path().trim_start_matches('/');
    // The path as the user wrote it (percent-decoding would turn `%2F` into a separator).
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    let root_len = arg.len() - path.len();
    let root = arg[..root_len].trim_end_matches('/').to_string();
    (root, decoded)
}

/// Every object below `prefix` (all of the store for an empty one). A missing bucket is
/// said as such; `url` names what was listed in errors.
pub fn list(store: &Arc<dyn ObjectStore>, prefix: &str, url: &str) -> Result<Vec<object_store::ObjectMeta>, StorageError> {
    let store = store.clone();
    let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let listed = wait(async move { store.list(prefix.as_ref()).try_collect::<Vec<_>>().await });
    listed.map_err(|e| match e {
        object_store::Error::NotFound { .. } => StorageError::Store { url: url.to_string(), message: MISSING_BUCKET.into() },
        e => store_error(url, &e),
    })
}

/// What a store that has no such bucket (or container) means to the user.
pub const MISSING_BUCKET: &str = "the bucket (or container) does not exist; check its name and the endpoint";

const BAD_CREDENTIALS: &str = "the store did not accept the credentials (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
     GOOGLE_APPLICATION_CREDENTIALS, or AZURE_STORAGE_ACCOUNT_KEY; docs/storage.md lists where each cloud's credentials come from)";

const NO_CREDENTIALS: &str = "no credentials were found: none in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
     AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY, ...) or the AWS profile files, and the machine's \
     metadata service gave none; docs/storage.md lists where each cloud's credentials come from";

/// True when the store's client failed while asking the machine's metadata service for
/// credentials: what happens when nothing else provided any.
fn asked_metadata_service(text: &str) -> bool {
    ["/latest/api/token", "/latest/meta-data/", "metadata.google.internal", "/metadata/identity/oauth2/token", "169.254.169.254"]
        .iter()
        .any(|marker| text.contains(marker))
}

const ACCESS_DENIED: &str = "access denied: the credentials were accepted but may not use this bucket or key (check the bucket policy or IAM role; docs/storage.md)";

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
pub fn store_message(e: &object_store::Error) -> String {
    use object_store::Error as E;
    match e {
        E::Unauthenticated { .. } => BAD_CREDENTIALS.to_string(),
        E::PermissionDenied { .. } if mentions_bad_credentials(&e.to_string()) => BAD_CREDENTIALS.to_string(),
        E::PermissionDenied { .. } => ACCESS_DENIED.to_string(),
        E::NotFound { path, .. } => format!("{path:?} not found (check the bucket and key)"),
        other => {
            let text = other.to_string();
            // object_store says "Generic S3 error: …"; the bucket-level causes the user fixes.
            if asked_metadata_service(&text) {
                NO_CREDENTIALS.to_string()
            } else if text.contains("NoSuchBucket")
                || text.contains("ContainerNotFound")
                || text.contains("The specified bucket does not exist")
            {
                MISSING_BUCKET.to_string()
            } else if mentions_bad_credentials(&text) {
                BAD_CREDENTIALS.to_string()
            } else if text.contains("AccessDenied") || text.contains("AuthorizationPermissionMismatch") {
                ACCESS_DENIED.to_string()
            } else if let Some(gave_up) = retries_exhausted(&text) {
                gave_up
            } else {
                text
            }
        }
    }
}

/// [`store_message`] as an error naming `url`.
pub fn store_error(url: &str, e: &object_store::Error) -> StorageError {
    StorageError::Store { url: url.to_string(), message: store_message(e) }
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

/// A HEAD refused with 403 has no body, so a wrong secret and a refused permission look
/// the same; a one-byte GET of the same key carries S3's error code, which tells them apart.
pub fn explain_denied_head(store: &Arc<dyn ObjectStore>, key: &str, head_error: object_store::Error) -> object_store::Error {
    let store = store.clone();
    let location = ObjectPath::from(key);
    let options = GetOptions { range: Some(GetRange::Bounded(0..1)), ..Default::default() };
    match wait(async move { store.get_opts(&location, options).await.map(|_| ()) }) {
        Err(e @ object_store::Error::PermissionDenied { .. }) => e,
        _ => head_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn no_credentials_at_all_is_said_as_such() {
        let text = "Generic S3 error: Error performing PUT http://169.254.169.254/latest/api/token in 3ms - Server returned \
                    non-2xx status code: 403 Forbidden";
        let said = store_message(&object_store::Error::Generic { store: "S3", source: text.into() });
        assert!(said.starts_with("no credentials were found"), "{said}");
        assert!(!said.contains("169.254"), "{said}");
    }

    #[test]
    fn a_store_that_kept_failing_is_said_in_words() {
        let text = "Generic S3 error: Error performing GET http://x/b/k in 1.999674852s, after 6 retries, max_retries: 6, \
                    retry_timeout: 60s  - Server returned non-2xx status code: 500 Internal Server Error";
        let said = retries_exhausted(text).unwrap();
        assert!(said.contains("through 6 retries") && said.contains("2.0 s") && said.contains("500"), "{said}");
    }
}

//! HTTP(S) requests for intel sources: conditional requests, timeouts, retries with back-off,
//! and header values read from the environment when the request is made.
//!
//! A build without the `remote` feature (scripts/demo's quick one) has the same client, whose
//! every request is refused with the storage's "built without" message.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::SourceError;

/// What a source remembers about its last good download, to ask "has it changed?".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The answer to a GET.
#[derive(Debug)]
pub enum Fetched {
    /// 304: what the source holds is still current.
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
        headers: BTreeMap<String, String>,
    },
}

/// Retries and timeouts of every request.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// For the whole request, body included.
    pub timeout: Duration,
    /// Attempts after the first, for network errors, 429 and 5xx.
    pub retries: u32,
    /// The first pause between attempts; it doubles after each.
    pub backoff: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { timeout: Duration::from_secs(60), retries: 3, backoff: Duration::from_millis(500) }
    }
}

/// An HTTP client for sources, usable from any thread (it runs its own small runtime on a
/// thread of its own for each request, so it works inside or outside an async runtime).
#[derive(Clone)]
pub struct HttpClient {
    #[cfg(feature = "remote")]
    client: reqwest::Client,
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    policy: Policy,
}

#[cfg(not(feature = "remote"))]
impl HttpClient {
    pub fn new(policy: Policy) -> Result<HttpClient, SourceError> {
        Ok(HttpClient { policy })
    }

    /// Refused: this build reads no URL.
    pub fn get(&self, url: &str, _headers: &[(String, String)], _validators: &Validators) -> Result<Fetched, SourceError> {
        Err(SourceError::Config(sweep_storage::StorageError::NotBuilt { url: url.to_string() }.to_string()))
    }
}

#[cfg(feature = "remote")]
impl HttpClient {
    pub fn new(policy: Policy) -> Result<HttpClient, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(15)))
            .user_agent(concat!("sweep/", env!("CARGO_PKG_VERSION")))
            // Each request runs on a runtime of its own, which ends with it: a pooled
            // connection would belong to a runtime that is gone. Refreshes are minutes
            // apart, so a new connection each time costs nothing that matters.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| SourceError::Http { url: String::new(), message: format!("cannot build the HTTP client: {e}") })?;
        Ok(HttpClient { client, policy })
    }

    /// GET `url` with `headers` (`${NAME}` expanded from the environment), conditional on
    /// `validators`. Network errors, 429 and 5xx are retried with back-off; other answers
    /// that are not 2xx or 304 are errors at once.
    ///
    /// An object storage URL (`s3://`, `gs://`, `az://`) is read with that store's client
    /// and credentials ([`sweep_extract::remote::fetch`]), conditional on its ETag.
    pub fn get(&self, url: &str, headers: &[(String, String)], validators: &Validators) -> Result<Fetched, SourceError> {
        if is_object_store_url(url) {
            let fetched = sweep_extract::remote::fetch(url, validators.etag.as_deref())
                .map_err(|e| SourceError::Http { url: url.to_string(), message: e.to_string() })?;
            return Ok(match fetched {
                None => Fetched::NotModified,
                Some((bytes, etag)) => {
                    Fetched::Body { bytes, validators: Validators { etag, last_modified: None }, headers: BTreeMap::new() }
                }
            });
        }
        let mut pause = self.policy.backoff;
        let mut attempt = 0;
        loop {
            match self.get_once(url, headers, validators) {
                Err(Attempt::Retry(message)) if attempt < self.policy.retries => {
                    attempt += 1;
                    std::thread::sleep(pause);
                    pause *= 2;
                    let _ = message;
                }
                Err(Attempt::Retry(message)) => {
                    return Err(SourceError::Http { url: url.to_string(), message: format!("{message} (after {} attempts)", attempt + 1) });
                }
                Err(Attempt::Fail(e)) => return Err(e),
                Ok(fetched) => return Ok(fetched),
            }
        }
    }

    fn get_once(&self, url: &str, headers: &[(String, String)], validators: &Validators) -> Result<Fetched, Attempt> {
        let mut request = self.client.get(url);
        for (name, value) in headers {
            request = request.header(name.as_str(), expand_env(value).map_err(|m| Attempt::Fail(SourceError::Config(m)))?);
        }
        if let Some(etag) = &validators.etag {
            request = request.header("If-None-Match", etag.as_str());
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header("If-Modified-Since", modified.as_str());
        }
        let run = async move {
            let response = request.send().await.map_err(|e| Attempt::Retry(describe(&e)))?;
            let status = response.status();
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                return Err(Attempt::Retry(format!("HTTP {status}")));
            }
            if !status.is_success() {
                let hint = match status.as_u16() {
                    401 | 403 => ": check the credentials (headers, username/password or token)",
                    404 => ": check the URL",
                    _ => "",
                };
                return Err(Attempt::Fail(SourceError::Http { url: response.url().to_string(), message: format!("HTTP {status}{hint}") }));
            }
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let validators = Validators { etag: header("etag"), last_modified: header("last-modified") };
            let kept: BTreeMap<String, String> = response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
                .collect();
            let bytes = response.bytes().await.map_err(|e| Attempt::Retry(describe(&e)))?;
            Ok(Fetched::Body { bytes: bytes.to_vec(), validators, headers: kept })
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
                    Attempt::Fail(SourceError::Http { url: url.to_string(), message: format!("cannot start the HTTP runtime: {e}") })
                })?;
                runtime.block_on(run)
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

/// A URL of object storage rather than of a web server.
pub fn is_object_store_url(url: &str) -> bool {
    sweep_extract::remote::is_object_url(url) && !url.starts_with("http://") && !url.starts_with("https://")
}

#[cfg(feature = "remote")]
enum Attempt {
    Retry(String),
    Fail(SourceError),
}

/// The error and its causes on one line (reqwest's own message is only the outermost).
#[cfg(feature = "remote")]
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// Replaces `${NAME}` by the environment variable `NAME`. A variable that is not set is an
/// error naming it (never its value).
pub fn expand_env(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in a header or credential value (write ${{NAME}})"))?;
        let name = &after[..end];
        let v = std::env::var(name)
            .map_err(|_| format!("the environment variable {name} is not set (an intel source's header or credential reads it)"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_read_the_environment() {
        // SAFETY: this test is the only one that touches this variable.
        unsafe { std::env::set_var("SWEEP_TEST_EXPAND_KEY", "s3cret") };
        assert_eq!(expand_env("Bearer ${SWEEP_TEST_EXPAND_KEY}").unwrap(), "Bearer s3cret");
        assert_eq!(expand_env("plain").unwrap(), "plain");
        let err = expand_env("${SWEEP_TEST_NOT_SET_ANYWHERE}").unwrap_err();
        assert!(err.contains("SWEEP_TEST_NOT_SET_ANYWHERE is not set"), "{err}");
        assert!(expand_env("${OPEN").is_err());
    }
}

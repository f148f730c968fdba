//! A TAXII 2.1 client: discovery, the collection's objects with an `added_after` cursor,
//! pagination, and a local copy of the collection that revocations and expiry leave.
//!
//! The copy is a map from STIX id to the newest version of the object seen (by `modified`).
//! Each poll asks only for what was added since the cursor (`X-TAXII-Date-Added-Last` of the
//! previous poll), follows `next` (or, without it, the date-added header) while `more` is
//! true, and merges. The feed the sweeper reads is the copy as a STIX bundle, without revoked
//! objects and without indicators whose `valid_until` has passed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sweep_intel::feeds::TaxiiCollection;
use sweep_intel::feeds::time::parse_timestamp;

use crate::SourceError;
use crate::http::{Fetched, HttpClient, Validators, expand_env};

const ACCEPT: &str = "application/taxii+json;version=2.1";

/// What a TAXII source keeps between polls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaxiiState {
    /// The collection's objects URL, once discovered.
    #[serde(default)]
    pub objects_url: Option<String>,
    /// `added_after` of the next poll.
    #[serde(default)]
    pub cursor: Option<String>,
    /// The newest version of every object, by id.
    #[serde(default)]
    pub objects: BTreeMap<String, Value>,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    pub pages: u32,
    pub received: u64,
    /// True when the copy changed (an object new, newer, or revoked).
    pub changed: bool,
}

/// Polls the collection and merges what was added since the cursor into `state`.
pub fn poll(client: &HttpClient, spec: &TaxiiCollection, state: &mut TaxiiState) -> Result<PollReport, SourceError> {
    let auth = auth_headers(spec)?;
    let objects_url = match &state.objects_url {
        Some(url) => url.clone(),
        None => {
            let url = discover(client, spec, &auth)?;
            state.objects_url = Some(url.clone());
            url
        }
    };
    let limit = spec.limit.unwrap_or(1000).max(1);
    let mut report = PollReport::default();
    let mut added_after = state.cursor.clone();
    let mut next: Option<String> = None;
    loop {
        let mut query = vec![format!("limit={limit}")];
        if let Some(after) = &added_after {
            query.push(format!("added_after={}", encode(after)));
        }
        if let Some(n) = &next {
            query.push(format!("next={}", encode(n)));
        }
        let url = format!("{objects_url}?{}", query.join("&"));
        let (body, headers) = get_json(client, &url, &auth)?;
        report.pages += 1;
        let objects = body.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
        report.received += objects.len() as u64;
        for object in objects {
            report.changed |= merge(&mut state.objects, object);
        }
        let last_added = headers.get("x-taxii-date-added-last").cloned();
        if let Some(last) = &last_added
            && state.cursor.as_deref().is_none_or(|c| last.as_str() > c)
        {
            state.cursor = Some(last.clone());
        }
        let more = body.get("more").and_then(Value::as_bool).unwrap_or(false);
        if !more {
            break;
        }
        match body.get("next").and_then(Value::as_str) {
            Some(n) => next = Some(n.to_string()),
            // No `next`: the next page is what was added after this page's last object.
            None => match last_added {
                Some(last) if added_after.as_deref() != Some(last.as_str()) => {
                    added_after = Some(last);
                    next = None;
                }
                _ => {
                    return Err(SourceError::Taxii {
                        url: objects_url,
                        message: "the server says there is more but gives neither next nor X-TAXII-Date-Added-Last".into(),
                    });
                }
            },
        }
        if report.pages > 100_000 {
            return Err(SourceError::Taxii { url: objects_url, message: "more than 100000 pages: the server repeats itself".into() });
        }
    }
    Ok(report)
}

/// The copy as a STIX 2.1 bundle: revoked objects left out, and indicators whose
/// `valid_until` is at or before `now_us` (µs since the epoch) too.
pub fn bundle(state: &TaxiiState, now_us: i64) -> Vec<u8> {
    let objects: Vec<&Value> = state
        .objects
        .values()
        .filter(|o| !o.get("revoked").and_then(Value::as_bool).unwrap_or(false))
        .filter(|o| match o.get("valid_until").and_then(Value::as_str).and_then(parse_timestamp) {
            Some(until) => until > now_us,
            None => true,
        })
        .collect();
    let bundle = serde_json::json!({ "type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects });
    serde_json::to_vec(&bundle).expect("JSON values serialise")
}

/// Keeps the newer of two versions of an object (by `modified`, then the later one seen).
/// Returns true when the copy changed.
fn merge(objects: &mut BTreeMap<String, Value>, object: Value) -> bool {
    let Some(id) = object.get("id").and_then(Value::as_str).map(str::to_string) else { return false };
    let modified = |o: &Value| o.get("modified").and_then(Value::as_str).map(str::to_string);
    match objects.get(&id) {
        Some(old) if modified(old) > modified(&object) => false,
        Some(old) if *old == object => false,
        _ => {
            objects.insert(id, object);
            true
        }
    }
}

/// The objects URL of the configured collection.
fn discover(client: &HttpClient, spec: &TaxiiCollection, auth: &[(String, String)]) -> Result<String, SourceError> {
    let base = with_slash(&spec.url);
    let Some(wanted) = &spec.collection else {
        // The collection's own URL.
        return Ok(format!("{base}objects/"));
    };
    let (root, _) = get_json(client, &base, auth)?;
    // A discovery document names API roots; an API root document has none.
    let api_root = match root.get("api_roots").and_then(Value::as_array) {
        Some(roots) => {
            let chosen = root
                .get("default")
                .and_then(Value::as_str)
                .or_else(|| roots.first().and_then(Value::as_str))
                .ok_or_else(|| SourceError::Taxii { url: base.clone(), message: "the discovery document lists no API root".into() })?;
            with_slash(&resolve(&base, chosen))
        }
        None => base.clone(),
    };
    let url = format!("{api_root}collections/");
    let (listing, _) = get_json(client, &url, auth)?;
    let collections = listing.get("collections").and_then(Value::as_array).cloned().unwrap_or_default();
    let found = collections.iter().find(|c| {
        c.get("id").and_then(Value::as_str) == Some(wanted.as_str()) || c.get("title").and_then(Value::as_str) == Some(wanted.as_str())
    });
    match found.and_then(|c| c.get("id").and_then(Value::as_str)) {
        Some(id) => Ok(format!("{api_root}collections/{id}/objects/")),
        None => {
            let names: Vec<String> = collections
                .iter()
                .map(|c| {
                    let id = c.get("id").and_then(Value::as_str).unwrap_or("?");
                    match c.get("title").and_then(Value::as_str) {
                        Some(t) => format!("{t} ({id})"),
                        None => id.to_string(),
                    }
                })
                .collect();
            Err(SourceError::Taxii {
                url,
                message: format!("no collection with id or title {wanted:?}; the API root has: {}", names.join(", ")),
            })
        }
    }
}

fn get_json(client: &HttpClient, url: &str, auth: &[(String, String)]) -> Result<(Value, BTreeMap<String, String>), SourceError> {
    let mut headers = vec![("Accept".to_string(), ACCEPT.to_string())];
    headers.extend(auth.iter().cloned());
    match client.get(url, &headers, &Validators::default())? {
        Fetched::Body { bytes, headers, .. } => {
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| SourceError::Taxii { url: url.to_string(), message: format!("the answer is not JSON: {e}") })?;
            Ok((value, headers))
        }
        Fetched::NotModified => Err(SourceError::Taxii { url: url.to_string(), message: "304 to an unconditional request".into() }),
    }
}

/// The Authorization header: a bearer token, or basic credentials.
fn auth_headers(spec: &TaxiiCollection) -> Result<Vec<(String, String)>, SourceError> {
    let value = match (&spec.token, &spec.username) {
        (Some(token), _) => Some(format!("Bearer {}", expand_env(token).map_err(SourceError::Config)?)),
        (None, Some(user)) => {
            let user = expand_env(user).map_err(SourceError::Config)?;
            let password = spec.password.as_deref().map(expand_env).transpose().map_err(SourceError::Config)?.unwrap_or_default();
            Some(format!("Basic {}", base64(format!("{user}:{password}").as_bytes())))
        }
        (None, None) => None,
    };
    Ok(value.map(|v| vec![("Authorization".to_string(), v)]).unwrap_or_default())
}

fn with_slash(url: &str) -> String {
    if url.ends_with('/') { url.to_string() } else { format!("{url}/") }
}

/// An API root named in a discovery document: absolute, or a path on the same server.
fn resolve(base: &str, reference: &str) -> String {
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return reference.to_string();
    }
    let origin_end = base.find("://").map(|i| i + 3).and_then(|i| base[i..].find('/').map(|j| i + j)).unwrap_or(base.len());
    if reference.starts_with('/') { format!("{}{reference}", &base[..origin_end]) } else { format!("{base}{reference}") }
}

/// Percent-encodes a query value (timestamps carry `:` and `+`).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(base64(b"admin:Password0"), "YWRtaW46UGFzc3dvcmQw");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn api_roots_resolve_against_the_server() {
        assert_eq!(resolve("http://h:5000/taxii2/", "/api1/"), "http://h:5000/api1/");
        assert_eq!(resolve("http://h:5000/taxii2/", "https://o/api2/"), "https://o/api2/");
        assert_eq!(encode("2026-01-01T00:00:00.000Z"), "2026-01-01T00%3A00%3A00.000Z");
    }

    #[test]
    fn the_newest_version_wins_and_revoked_or_expired_objects_leave_the_bundle() {
        let mut state = TaxiiState::default();
        let v1 = serde_json::json!({"id": "indicator--1", "type": "indicator", "modified": "2026-01-01T00:00:00Z"});
        let v2 = serde_json::json!({"id": "indicator--1", "type": "indicator", "modified": "2026-02-01T00:00:00Z", "revoked": true});
        assert!(merge(&mut state.objects, v1.clone()));
        assert!(!merge(&mut state.objects, v1.clone()));
        assert!(merge(&mut state.objects, v2.clone()));
        // An older version arriving late does not bring it back.
        assert!(!merge(&mut state.objects, v1));
        let expired = serde_json::json!({"id": "indicator--2", "type": "indicator", "modified": "2026-01-01T00:00:00Z", "valid_until": "2026-03-01T00:00:00Z"});
        merge(&mut state.objects, expired);
        let at = |t: &str| parse_timestamp(t).unwrap();
        let b: Value = serde_json::from_slice(&bundle(&state, at("2026-02-15T00:00:00Z"))).unwrap();
        assert_eq!(b["objects"].as_array().unwrap().len(), 1, "the revoked one is out, the valid one in");
        let b: Value = serde_json::from_slice(&bundle(&state, at("2026-03-01T00:00:00.000Z"))).unwrap();
        assert_eq!(b["objects"].as_array().unwrap().len(), 0, "expired at valid_until");
    }
}

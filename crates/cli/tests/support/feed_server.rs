//! Real servers on loopback for intel sources that change: a small HTTP/1.1 server whose
//! feed the test edits while a run goes on (with or without ETag and Last-Modified, or
//! failing, or serving garbage), and medallion, the OASIS TAXII 2.1 reference server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the feed URL answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Serve {
    Body(String),
    /// HTTP 500 for every request.
    Fail,
}

#[derive(Default)]
pub struct FeedState {
    pub serve: Mutex<Option<Serve>>,
    pub etag: AtomicBool,
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub stop: AtomicBool,
}

/// An HTTP server of one changing feed at `/feed.txt`.
pub struct FeedServer {
    pub url: String,
    pub state: Arc<FeedState>,
}

impl FeedServer {
    pub fn start(body: &str, etag: bool) -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/feed.txt", listener.local_addr().unwrap());
        let state = Arc::new(FeedState::default());
        *state.serve.lock().unwrap() = Some(Serve::Body(body.to_string()));
        state.etag.store(etag, Ordering::Relaxed);
        listener.set_nonblocking(true).unwrap();
        let shared = state.clone();
        std::thread::spawn(move || {
            while !shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        std::thread::spawn(move || {
                            let _ = answer(stream, &shared);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FeedServer { url, state }
    }

    pub fn set(&self, serve: Serve) {
        *self.state.serve.lock().unwrap() = Some(serve);
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    pub fn not_modified(&self) -> u64 {
        self.state.not_modified.load(Ordering::Relaxed)
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut stream: TcpStream, state: &FeedState) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(v.trim().to_string());
        }
    }
    state.requests.fetch_add(1, Ordering::Relaxed);
    let serve = state.serve.lock().unwrap().clone();
    let response = match serve {
        Some(Serve::Fail) | None => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
        _ if !request_line.starts_with("GET /feed.txt ") => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
        Some(Serve::Body(body)) => {
            let tag = format!("\"{:x}\"", body.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)));
            let with_etag = state.etag.load(Ordering::Relaxed);
            if with_etag && if_none_match.as_deref() == Some(tag.as_str()) {
                state.not_modified.fetch_add(1, Ordering::Relaxed);
                format!("HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            } else {
                let etag_header = if with_etag { format!("ETag: {tag}\r\n") } else { String::new() };
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{etag_header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        }
    };
    stream.write_all(response.as_bytes())?;
    let mut rest = Vec::new();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
    let _ = stream.read_to_end(&mut rest);
    Ok(())
}

/// medallion (TAXII 2.1) on a free port, with one API root `api1` and one empty, writable
/// collection titled `indicators`. Basic auth `sweep:taxii-pass`.
pub struct Taxii {
    pub discovery: String,
    pub objects_url: String,
    child: Child,
}

pub const TAXII_COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

impl Taxii {
    /// Starts medallion from the test venv (`SWEEP_PYTHON`); `None` when it is not there
    /// and the tests are not required to run.
    pub fn start(dir: &Path) -> Option<Taxii> {
        let python = std::env::var("SWEEP_PYTHON").ok().filter(|p| Path::new(p).exists());
        let Some(python) = python else {
            assert!(std::env::var_os("SWEEP_REQUIRE_KAFKA").is_none(), "SWEEP_PYTHON is not set: run the tests through scripts/test");
            eprintln!("skipped: SWEEP_PYTHON (the venv with medallion) is not set; run scripts/test");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let config = serde_json::json!({
            "backend": { "module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                         "filename": dir.join("taxii-data.json").display().to_string() },
            "users": { "sweep": "taxii-pass" },
            "taxii": { "max_page_size": 100 }
        });
        let data = serde_json::json!({
            "/discovery": { "title": "sweep test TAXII server", "default": format!("{base}/api1/"), "api_roots": [format!("{base}/api1/")] },
            "api1": {
                "information": { "title": "api1", "versions": ["application/taxii+json;version=2.1"], "max_content_length": 104857600 },
                "status": [],
                "collections": [{
                    "id": TAXII_COLLECTION, "title": "indicators", "can_read": true, "can_write": true,
                    "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []
                }]
            }
        });
        std::fs::write(dir.join("taxii-config.json"), config.to_string()).unwrap();
        std::fs::write(dir.join("taxii-data.json"), data.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("medallion.log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(dir.join("taxii-config.json"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting medallion");
        let taxii = Taxii {
            discovery: format!("{base}/taxii2/"),
            objects_url: format!("{base}/api1/collections/{TAXII_COLLECTION}/objects/"),
            child,
        };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(taxii);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("medallion did not start: {}", std::fs::read_to_string(dir.join("medallion.log")).unwrap_or_default());
    }

    /// Adds STIX objects to the collection (TAXII's "add objects").
    pub fn add(&self, objects: &[serde_json::Value]) {
        let body = serde_json::json!({ "objects": objects }).to_string();
        let (host_port, path) = self.objects_url.trim_start_matches("http://").split_once('/').unwrap();
        let mut s = TcpStream::connect(host_port).unwrap();
        let request = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host_port}\r\nAuthorization: Basic c3dlZXA6dGF4aWktcGFzcw==\r\n\
             Accept: application/taxii+json;version=2.1\r\nContent-Type: application/taxii+json;version=2.1\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 202") || answer.starts_with("HTTP/1.0 202"), "medallion refused the objects: {answer}");
    }
}

impl Drop for Taxii {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A STIX 2.1 indicator for a domain, modified at `modified` (RFC 3339).
pub fn stix_domain_indicator(id: &str, domain: &str, modified: &str, revoked: bool) -> serde_json::Value {
    serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{id}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "name": domain, "pattern": format!("[domain-name:value = '{domain}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "revoked": revoked
    })
}

//! The on-disk cache of intel sources:
//!
//! ```text
//! <cache>/sources/<key>/state.json           validators, cursor, the current snapshot, counters
//! <cache>/sources/<key>/taxii.json           a TAXII source's copy of its collection
//! <cache>/sources/<key>/snapshots/<hash>/…   one immutable copy per content a source had
//! <cache>/versions/<intel_version>.json      the snapshots (and allowlists) a version was built from
//! ```
//!
//! A snapshot is never changed once written (its name is the hash of its content), so a
//! version's manifest always rebuilds exactly that version: a stream that re-runs a batch
//! after a crash sweeps it with the indicators it was planned with.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sweep_intel::feeds::FeedSpec;

use crate::SourceError;

/// What a version was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionManifest {
    pub intel_version: String,
    /// Every feed as the readers saw it: local paths (snapshots for fetched sources).
    pub feeds: Vec<FeedSpec>,
    pub allow: Vec<PathBuf>,
    /// When the version was built (µs since the epoch).
    pub built_at_us: i64,
}

/// The cache folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, SourceError> {
        for sub in ["sources", "versions"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one source.
    pub fn source_dir(&self, key: &str) -> PathBuf {
        self.root.join("sources").join(key)
    }

    /// Writes `files` (name, bytes) as the snapshot of `content_hash` of a source, unless it
    /// exists; returns its folder.
    pub fn write_snapshot(&self, key: &str, content_hash: &str, files: &[(String, &[u8])]) -> Result<PathBuf, SourceError> {
        let dir = self.source_dir(key).join("snapshots").join(content_hash);
        if dir.is_dir() {
            return Ok(dir);
        }
        let partial = self.source_dir(key).join("snapshots").join(format!(".partial-{content_hash}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
        for (name, bytes) in files {
            let path = partial.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        }
        sync_dir(&partial);
        // Renamed whole: a snapshot folder is complete or absent.
        match fs::rename(&partial, &dir) {
            Ok(()) => Ok(dir),
            Err(_) if dir.is_dir() => {
                let _ = fs::remove_dir_all(&partial);
                Ok(dir)
            }
            Err(e) => Err(io(&dir, e)),
        }
    }

    pub fn save_version(&self, manifest: &VersionManifest) -> Result<(), SourceError> {
        write_json(&self.version_path(&manifest.intel_version), manifest)
    }

    pub fn version(&self, intel_version: &str) -> Result<Option<VersionManifest>, SourceError> {
        let path = self.version_path(intel_version);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Deletes the manifests of versions other than the newest `keep` and `pinned`, and the
    /// snapshots that no remaining manifest and no source's current state names.
    pub fn prune(&self, keep: usize, pinned: &[&str], current: &[PathBuf]) -> Result<(), SourceError> {
        let dir = self.root.join("versions");
        let mut manifests: Vec<(i64, String, VersionManifest)> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io(&dir, e))?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json")
                && let Ok(m) = read_json::<VersionManifest>(&path)
            {
                manifests.push((m.built_at_us, path.display().to_string(), m));
            }
        }
        manifests.sort_by(|a, b| b.0.cmp(&a.0));
        let mut live: Vec<PathBuf> = current.to_vec();
        for (i, (_, path, m)) in manifests.iter().enumerate() {
            if i < keep || pinned.contains(&m.intel_version.as_str()) {
                live.extend(m.feeds.iter().map(|f| f.path.clone()));
            } else {
                let _ = fs::remove_file(path);
            }
        }
        let sources = self.root.join("sources");
        for source in fs::read_dir(&sources).map_err(|e| io(&sources, e))?.flatten() {
            let snapshots = source.path().join("snapshots");
            let Ok(entries) = fs::read_dir(&snapshots) else { continue };
            for snap in entries.flatten() {
                let p = snap.path();
                if !live.iter().any(|l| l.starts_with(&p)) {
                    let _ = fs::remove_dir_all(&p);
                }
            }
        }
        Ok(())
    }

    fn version_path(&self, intel_version: &str) -> PathBuf {
        self.root.join("versions").join(format!("{intel_version}.json"))
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, SourceError> {
    let bytes = fs::read(path).map_err(|e| io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| SourceError::Cache {
        path: path.to_path_buf(),
        message: format!("damaged ({e}); delete the file to fetch the source again"),
    })
}

/// Writes through a temporary file and a rename, so a reader sees the old or the new file.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SourceError> {
    let bytes = serde_json::to_vec_pretty(value).expect("cache records serialise");
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, &bytes).map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn sync_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                sync_dir(&p);
            } else if let Ok(f) = fs::File::open(&p) {
                let _ = f.sync_all();
            }
        }
    }
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> SourceError {
    SourceError::Cache { path: path.to_path_buf(), message: source.to_string() }
}

/// FNV-1a over the bytes, 64 bits twice (two offsets), as 32 hex digits: names snapshots by
/// content. For identification, not security.
pub fn content_hash(parts: &[&[u8]]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for &byte in part.iter().chain(&(part.len() as u64).to_le_bytes()) {
            a = (a ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
        }
    }
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_immutable_and_pruned_when_no_version_names_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.write_snapshot("s", "h1", &[("feed.txt".into(), b"1.2.3.4\n")]).unwrap();
        // The same hash again leaves the first copy as it was.
        let again = store.write_snapshot("s", "h1", &[("feed.txt".into(), b"changed\n")]).unwrap();
        assert_eq!(a, again);
        assert_eq!(fs::read(a.join("feed.txt")).unwrap(), b"1.2.3.4\n");
        let b = store.write_snapshot("s", "h2", &[("feed.txt".into(), b"5.6.7.8\n")]).unwrap();
        let manifest = |v: &str, at: i64, path: &Path| VersionManifest {
            intel_version: v.into(),
            feeds: vec![FeedSpec::new(path.join("feed.txt"))],
            allow: vec![],
            built_at_us: at,
        };
        store.save_version(&manifest("v1", 1, &a)).unwrap();
        store.save_version(&manifest("v2", 2, &b)).unwrap();
        store.prune(1, &[], &[]).unwrap();
        assert!(store.version("v1").unwrap().is_none() && !a.exists(), "v1 and its snapshot are gone");
        assert!(store.version("v2").unwrap().is_some() && b.exists());
        // A pinned version (a batch planned with it) is kept.
        let c = store.write_snapshot("s", "h3", &[("feed.txt".into(), b"9.9.9.9\n")]).unwrap();
        store.save_version(&manifest("v3", 3, &c)).unwrap();
        store.prune(1, &["v2"], &[]).unwrap();
        assert!(b.exists() && c.exists());
    }

    #[test]
    fn the_content_hash_sees_every_byte_and_the_boundaries() {
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_ne!(content_hash(&[b"a"]), content_hash(&[b"b"]));
        assert_eq!(content_hash(&[b"x"]).len(), 32);
    }
}

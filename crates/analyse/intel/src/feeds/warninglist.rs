//! Allowlists: MISP warninglists (`{"name", "type", "list": [...]}`) and plain allowlist files.
//!
//! An allow-listed value never raises a hit (the match index applies them; see docs/intel.md).
//! Warninglist types:
//! - `cidr`: addresses and networks;
//! - `hostname`: domains (a leading `.` is dropped) or addresses;
//! - `string`: each entry classified like a plain-list value (IP, network, domain, URL, hash…);
//! - `substring` and `regex`: not expressible as values; every entry is refused with reason
//!   `unsupported_type` (counted, listed).
//!
//! A plain allowlist uses the plain-list syntax (comments, hosts-file lines, `||host^`); an
//! exception rule `@@||host^` there means the same as `||host^`.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::plain::{self, LineOutcome};
use super::{FeedError, lines, read_bytes, read_json};
use crate::model::{IndicatorType, Refusal};
use crate::normalize;

/// One allow-listed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub kind: IndicatorType,
    /// Normalised like an indicator value.
    pub value: String,
    /// The allowlist it came from (warninglist name or file name).
    pub list: Arc<str>,
    /// Where in it: `line N` (plain) or `entry N` (warninglist, 0-based).
    pub location: String,
}

/// The values of one allowlist (file or folder), and what was refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllowList {
    /// The warninglist's `name`, the file name, or the folder name.
    pub name: Arc<str>,
    pub entries: Vec<AllowEntry>,
    pub refused: Vec<Refusal>,
    /// Lines (plain) or list entries (warninglist) read.
    pub lines_or_objects: u64,
    /// Comments and blank lines.
    pub skipped: u64,
}

impl AllowList {
    /// Entries by type.
    pub fn counts(&self) -> std::collections::BTreeMap<IndicatorType, usize> {
        let mut m = std::collections::BTreeMap::new();
        for e in &self.entries {
            *m.entry(e.kind).or_insert(0) += 1;
        }
        m
    }

    fn refuse(&mut self, list: &Arc<str>, location: String, value: &str, reason: &str, detail: String) {
        self.refused.push(Refusal { feed: list.clone(), location, value: super::cut(value), reason: reason.to_string(), detail });
    }

    /// The match index's allowlist (`crate::index::AllowList`) holding these entries. Entries
    /// the index cannot use (hashes, e-mail addresses) join the refusals there.
    pub fn into_index(self) -> crate::index::AllowList {
        let mut a = crate::index::AllowList::new();
        a.refused = self.refused;
        for e in self.entries {
            if let Err(err) = a.add(e.kind, &e.value) {
                a.refused.push(Refusal {
                    feed: e.list,
                    location: e.location,
                    value: super::cut(&e.value),
                    reason: err.reason.to_string(),
                    detail: err.detail,
                });
            }
        }
        a
    }

    fn merge(&mut self, other: AllowList) {
        self.entries.extend(other.entries);
        self.refused.extend(other.refused);
        self.lines_or_objects += other.lines_or_objects;
        self.skipped += other.skipped;
    }
}

/// Loads an allowlist file (MISP warninglist JSON or plain list) or a folder of them (merged;
/// hidden and README/LICENSE files skipped).
pub fn load_allowlist(path: &Path) -> Result<AllowList, FeedError> {
    let meta = std::fs::metadata(path).map_err(|e| FeedError::io(path, e))?;
    let name: Arc<str> = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()).into();
    if !meta.is_dir() {
        return load_file(path, name);
    }
    let mut all = AllowList { name, ..AllowList::default() };
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| FeedError::io(path, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| FeedError::io(path, err)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if super::is_boring_file(&n) {
            continue;
        }
        all.merge(load_allowlist(&p)?);
    }
    Ok(all)
}

fn load_file(path: &Path, name: Arc<str>) -> Result<AllowList, FeedError> {
    let bytes = read_bytes(path)?;
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let doc = read_json(path, text, "MISP warninglist")?;
        return warninglist(path, &doc, name);
    }
    if memchr::memchr(0, &text[..text.len().min(8192)]).is_some() {
        return Err(FeedError::format(path, None, "a binary file (NUL bytes), not an allowlist", "remove it"));
    }
    let mut out = AllowList { name: name.clone(), ..AllowList::default() };
    for (n, line) in lines(text) {
        out.lines_or_objects += 1;
        let line = match line {
            Ok(l) => l,
            Err(b) => {
                out.refuse(&name, format!("line {n}"), &String::from_utf8_lossy(b), "not_utf8", "the line is not valid UTF-8".into());
                continue;
            }
        };
        let t = line.trim();
        let t = t.strip_prefix("@@").unwrap_or(t);
        match plain::parse_line(t, None) {
            LineOutcome::Skip => out.skipped += 1,
            LineOutcome::Items(items) => {
                for it in items {
                    match it.result {
                        Ok((kind, value)) => {
                            out.entries.push(AllowEntry { kind, value, list: name.clone(), location: format!("line {n}") })
                        }
                        Err((reason, detail)) => out.refuse(&name, format!("line {n}"), it.raw, reason, detail),
                    }
                }
            }
        }
    }
    Ok(out)
}

fn warninglist(path: &Path, doc: &Value, file_name: Arc<str>) -> Result<AllowList, FeedError> {
    let (Some(kind), Some(Value::Array(list))) = (doc.get("type").and_then(Value::as_str), doc.get("list")) else {
        return Err(FeedError::format(
            path,
            None,
            "not a MISP warninglist (needs \"type\" and a \"list\" array)",
            "check the file; a plain allowlist is one value a line",
        ));
    };
    let name: Arc<str> = doc.get("name").and_then(Value::as_str).map_or(file_name, Arc::from);
    let mut out = AllowList { name: name.clone(), ..AllowList::default() };
    for (i, v) in list.iter().enumerate() {
        out.lines_or_objects += 1;
        let loc = format!("entry {i}");
        let Some(raw) = v.as_str() else {
            out.refuse(&name, loc, &v.to_string(), "invalid_value", "a list entry that is not a string".into());
            continue;
        };
        let r = match kind {
            "cidr" => normalize::typed_as(IndicatorType::Ipv6, raw),
            "hostname" => {
                let h = raw.trim().strip_prefix('.').unwrap_or(raw.trim());
                match normalize::ip(h) {
                    Ok(a) => Ok((if a.is_ipv4() { IndicatorType::Ipv4 } else { IndicatorType::Ipv6 }, a.to_string())),
                    Err(_) => normalize::domain(h).map(|d| (IndicatorType::Domain, d)),
                }
            }
            "string" => normalize::classify(raw),
            other => Err(normalize::Invalid::new("unsupported_type", format!("warninglist type {other}"))),
        };
        match r {
            Ok((k, value)) => out.entries.push(AllowEntry { kind: k, value, list: name.clone(), location: loc }),
            Err(e) => out.refuse(&name, loc, raw, e.reason, e.detail),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    fn wl(json: &str) -> AllowList {
        warninglist(Path::new("w.json"), &serde_json::from_str(json).unwrap(), "w.json".into()).unwrap()
    }

    #[test]
    fn warninglist_types() {
        let a = wl(r#"{"name":"RFC 1918","type":"cidr","list":["10.0.0.0/8","192.168.1.1","::ffff:172.16.0.0/108","x"]}"#);
        assert_eq!(&*a.name, "RFC 1918");
        let v: Vec<_> = a.entries.iter().map(|e| (e.kind, e.value.as_str())).collect();
        assert_eq!(v, [(T::Cidr, "10.0.0.0/8"), (T::Ipv4, "192.168.1.1"), (T::Cidr, "172.16.0.0/12")]);
        assert_eq!(a.refused.len(), 1);
        let a = wl(r#"{"name":"h","type":"hostname","list":[".Google.com","8.8.8.8","bad host"]}"#);
        let v: Vec<_> = a.entries.iter().map(|e| (e.kind, e.value.as_str())).collect();
        assert_eq!(v, [(T::Domain, "google.com"), (T::Ipv4, "8.8.8.8")]);
        let a = wl(r#"{"name":"s","type":"string","list":["example.com","http://a.com:80/x",1]}"#);
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.entries[1].value, "http://a.com/x");
        assert_eq!(a.refused[0].reason, "invalid_value");
        let a = wl(r#"{"name":"r","type":"regex","list":["^a","^b"]}"#);
        assert!(a.entries.is_empty());
        assert_eq!(a.refused.len(), 2);
        assert!(a.refused.iter().all(|r| r.reason == "unsupported_type" && r.detail == "warninglist type regex"));
        assert_eq!(a.lines_or_objects, 2);
        let e = warninglist(Path::new("w.json"), &serde_json::json!({"name": "x"}), "w".into()).unwrap_err();
        assert!(matches!(e, FeedError::Format { .. }));
    }

    #[test]
    fn plain_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "# allow\ngood.com\n@@||Better.com^\n0.0.0.0 fine.org\n10.0.0.0/8\nnot ok\n").unwrap();
        std::fs::write(dir.path().join("b.json"), r#"{"name":"W","type":"substring","list":["goo"]}"#).unwrap();
        std::fs::write(dir.path().join("README.md"), "not read").unwrap();
        let a = load_allowlist(dir.path()).unwrap();
        let v: Vec<_> = a.entries.iter().map(|e| (e.kind, e.value.as_str(), &*e.list)).collect();
        assert_eq!(
            v,
            [
                (T::Domain, "good.com", "a.txt"),
                (T::Domain, "better.com", "a.txt"),
                (T::Domain, "fine.org", "a.txt"),
                (T::Cidr, "10.0.0.0/8", "a.txt")
            ]
        );
        let r: Vec<_> = a.refused.iter().map(|r| (&*r.feed, r.reason.as_str())).collect();
        assert_eq!(r, [("a.txt", "malformed_line"), ("W", "unsupported_type")]);
        assert_eq!(a.lines_or_objects, 7);
        assert_eq!(a.skipped, 1);
        assert!(matches!(load_allowlist(&dir.path().join("nope")), Err(FeedError::Io { .. })));
        assert_eq!(a.entries[3].location, "line 5");
    }

    #[test]
    fn to_index_allowlist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "good.com\n10.0.0.0/8\n192.0.2.1\nhttp://a.com/x\n44d88612fea8a8f36de82e1278abb02f\nbad value\n").unwrap();
        let idx = load_allowlist(&p).unwrap().into_index();
        assert_eq!(idx.domains, ["good.com"]);
        assert_eq!(idx.cidrs.len(), 1);
        assert_eq!(idx.ips.len(), 1);
        assert_eq!(idx.urls, ["http://a.com/x"]);
        let r: Vec<_> = idx.refused.iter().map(|r| (r.location.as_str(), r.reason.as_str())).collect();
        assert_eq!(r, [("line 6", "malformed_line"), ("line 5", "unsupported_type")]);
    }
}

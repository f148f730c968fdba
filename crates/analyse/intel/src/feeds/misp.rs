//! MISP events (`{"Event": {...}}`) and MISP feed folders (`manifest.json` plus one
//! `<uuid>.json` per event).
//!
//! Every attribute of `Event.Attribute[]` and `Event.Object[].Attribute[]` is read; checked in
//! this order, an attribute is refused as:
//! 1. `not_an_indicator`: types that describe rather than detect (`link`, `comment`, `text`,
//!    `other`, `attachment`, `datetime`, `threat-actor`, `campaign-name`, `campaign-id`);
//! 2. `deleted`: `"deleted": true`;
//! 3. `not_to_ids`: `to_ids` is false (MISP's own flag for "use this for detection");
//! 4. `unsupported_type`: a type sweep cannot match in proxy logs (`filename`, `imphash`,
//!    `ssdeep`, `uri`, `email-subject`, ...);
//! 5. `invalid_value`: the value fails validation (real events hold a `url` of `107.183.86`, or
//!    file names typed as `url`).
//!
//! Types mapped: `ip-dst`, `ip-src` (address or network), `ip-dst|port`, `ip-src|port` (the
//! address), `domain`, `hostname`, `hostname|port` (the host), `domain|ip` (both values, two
//! indicators), `url`, `md5`, `sha1`, `sha256`, `filename|md5`, `filename|sha1`,
//! `filename|sha256`, `malware-sample` (the hash part), `email`, `email-src`, `email-dst`.
//!
//! Event `Tag[]` and attribute `Tag[]` names become tags; `threat_level_id` becomes the
//! severity (1 `high`, 2 `medium`, 3 `low`, 4 undefined = none); `info` (and the attribute's
//! `comment`, after ` — `) the description. An attribute's `first_seen`, when present, becomes
//! `valid_from`; its `timestamp` and the event `date` do not: they say when an analyst recorded
//! the value, and using them would hide older traffic from a retro-sweep.

use std::path::Path;

use serde_json::Value;

use super::{Collector, Defaults, FeedError, FeedKind, FeedLoad, read_bytes, read_json, time};
use crate::model::IndicatorType;
use crate::normalize::{self, Invalid};

const NOT_INDICATORS: &[&str] =
    &["link", "comment", "text", "other", "attachment", "datetime", "threat-actor", "campaign-name", "campaign-id"];

fn tag_names(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(tags)) = v {
        for t in tags {
            if let Some(n) = t.get("name").and_then(Value::as_str)
                && !out.iter().any(|x| x == n)
            {
                out.push(n.to_string());
            }
        }
    }
    out
}

fn as_bool(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "True"),
        _ => false,
    }
}

fn severity(v: Option<&Value>) -> Option<String> {
    let n = match v? {
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    match n {
        1 => Some("high".into()),
        2 => Some("medium".into()),
        3 => Some("low".into()),
        _ => None,
    }
}

fn ip_or_network(raw: &str) -> Result<(IndicatorType, String), Invalid> {
    normalize::typed_as(IndicatorType::Ipv6, raw)
}

fn url_value(raw: &str) -> Result<(IndicatorType, String), Invalid> {
    let u = normalize::url(raw)?;
    if u.starts_with("//") {
        let host = normalize::url_host(&u);
        if !host.starts_with('[') && host.parse::<std::net::Ipv4Addr>().is_err() && !normalize::known_tld(host) {
            let tld = host.rsplit('.').next().unwrap_or(host);
            return Err(Invalid::new(
                "invalid_value",
                format!("{raw:?} has no scheme and {tld:?} is not a known top-level domain (a file name?)"),
            ));
        }
    }
    Ok((IndicatorType::Url, u))
}

type Normalised = Result<(IndicatorType, String), Invalid>;

/// The indicator values of one attribute, or why it has none.
fn values(kind: &str, value: &str) -> Result<Vec<Normalised>, (&'static str, String)> {
    use IndicatorType as T;
    let first = |v: &str| v.split('|').next().unwrap_or(v).to_string();
    let second = |v: &str| -> Result<String, Invalid> {
        v.split_once('|').map(|(_, b)| b.to_string()).ok_or_else(|| Invalid::new("invalid_value", format!("{v:?} has no '|' part")))
    };
    let one = |r| Ok(vec![r]);
    match kind {
        "ip-dst" | "ip-src" => one(ip_or_network(value)),
        "ip-dst|port" | "ip-src|port" => one(ip_or_network(&first(value))),
        "domain" | "hostname" => one(normalize::typed_as(T::Domain, value)),
        "hostname|port" => one(normalize::typed_as(T::Domain, &first(value))),
        "domain|ip" => {
            let d = normalize::typed_as(T::Domain, &first(value));
            let ip = second(value).and_then(|v| ip_or_network(&v));
            Ok(vec![d, ip])
        }
        "url" => one(url_value(value)),
        "md5" => one(normalize::typed_as(T::Md5, value)),
        "sha1" => one(normalize::typed_as(T::Sha1, value)),
        "sha256" => one(normalize::typed_as(T::Sha256, value)),
        "filename|md5" | "malware-sample" => one(second(value).and_then(|h| normalize::typed_as(T::Md5, &h))),
        "filename|sha1" => one(second(value).and_then(|h| normalize::typed_as(T::Sha1, &h))),
        "filename|sha256" => one(second(value).and_then(|h| normalize::typed_as(T::Sha256, &h))),
        "email" | "email-src" | "email-dst" => one(normalize::typed_as(T::Email, value)),
        "uri" => Err(("unsupported_type", "a uri is a path without a host; sweep matches whole URLs".into())),
        other => Err(("unsupported_type", format!("MISP type {other}"))),
    }
}

/// Reads one `{"Event": {...}}` document into the collector.
pub(crate) fn read_event(path: &Path, doc: &Value, c: &mut Collector) -> Result<(), FeedError> {
    let Some(event) = doc.get("Event").filter(|e| e.is_object()) else {
        return Err(FeedError::format(
            path,
            None,
            "not a MISP event (no top-level \"Event\" object)",
            "check the file, or set the feed's kind",
        ));
    };
    let info = event.get("info").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let event_tags = tag_names(event.get("Tag"));
    let sev = severity(event.get("threat_level_id"));
    let event_uuid = event.get("uuid").and_then(Value::as_str);
    let mut attrs: Vec<&Value> = Vec::new();
    if let Some(Value::Array(a)) = event.get("Attribute") {
        attrs.extend(a);
    }
    if let Some(Value::Array(objs)) = event.get("Object") {
        for o in objs {
            if let Some(Value::Array(a)) = o.get("Attribute") {
                attrs.extend(a);
            }
        }
    }
    for (n, a) in attrs.into_iter().enumerate() {
        c.units += 1;
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
        let value = a.get("value").and_then(Value::as_str).unwrap_or("");
        let loc = {
            let attr = a.get("uuid").and_then(Value::as_str).map_or_else(|| format!("attribute {n}"), |u| format!("attribute {u}"));
            match event_uuid {
                Some(e) if c.feed_dir => format!("event {e} {attr}"),
                _ => attr,
            }
        };
        if NOT_INDICATORS.contains(&kind) {
            c.refuse(loc, value, "not_an_indicator", format!("MISP type {kind}"));
            continue;
        }
        if as_bool(a.get("deleted")) {
            c.refuse(loc, value, "deleted", "the attribute is deleted");
            continue;
        }
        if !as_bool(a.get("to_ids")) {
            c.refuse(loc, value, "not_to_ids", format!("{kind} attribute with to_ids = false"));
            continue;
        }
        let results = match values(kind, value) {
            Ok(r) => r,
            Err((reason, detail)) => {
                c.refuse(loc, value, reason, detail);
                continue;
            }
        };
        let valid_from = match a.get("first_seen").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => match v.as_str().and_then(time::parse_timestamp) {
                Some(us) => Some(us),
                None => {
                    c.refuse(loc, value, "invalid_value", format!("first_seen {v} is not a timestamp"));
                    continue;
                }
            },
        };
        let comment = a.get("comment").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let description = match (info, comment) {
            (Some(i), Some(cm)) => Some(format!("{i} — {cm}")),
            (Some(i), None) => Some(i.to_string()),
            (None, Some(cm)) => Some(cm.to_string()),
            (None, None) => None,
        };
        let mut tags = event_tags.clone();
        for t in tag_names(a.get("Tag")) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        for r in results {
            match r {
                Ok((k, v)) => {
                    let mut ind = c.indicator(k, v);
                    ind.severity.clone_from(&sev);
                    ind.tags.clone_from(&tags);
                    ind.description.clone_from(&description);
                    ind.valid_from = valid_from;
                    c.push(ind);
                }
                Err(e) => c.refuse(loc.clone(), value, e.reason, e.detail),
            }
        }
    }
    Ok(())
}

/// Reads a MISP feed folder: `manifest.json` names the events; each is `<uuid>.json`.
pub(crate) fn load_feed_dir(dir: &Path, feed: std::sync::Arc<str>, defaults: &Defaults) -> Result<FeedLoad, FeedError> {
    let manifest_path = dir.join("manifest.json");
    let manifest = read_json(&manifest_path, &read_bytes(&manifest_path)?, "MISP feed manifest")?;
    let Some(events) = manifest.as_object() else {
        return Err(FeedError::format(&manifest_path, None, "the manifest is not a JSON object of event uuids", "check the feed"));
    };
    let mut uuids: Vec<&String> = events.keys().collect();
    uuids.sort();
    let mut c = Collector::new(feed, defaults.clone());
    c.feed_dir = true;
    for uuid in uuids {
        if uuid.is_empty() || !uuid.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-') {
            return Err(FeedError::format(&manifest_path, None, format!("{uuid:?} is not an event uuid"), "check the feed"));
        }
        let p = dir.join(format!("{uuid}.json"));
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FeedError::format(
                    &p,
                    None,
                    "the manifest lists this event but the file is missing",
                    "the feed copy is incomplete: fetch it again",
                ));
            }
            Err(e) => return Err(FeedError::io(&p, e)),
        };
        let doc = read_json(&p, &bytes, "MISP event")?;
        read_event(&p, &doc, &mut c)?;
    }
    Ok(c.finish(dir, FeedKind::MispFeedDir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    fn load(json: &str) -> FeedLoad {
        let mut c = Collector::new("m".into(), Defaults::default());
        let v: Value = serde_json::from_str(json).unwrap();
        read_event(Path::new("m.json"), &v, &mut c).unwrap();
        c.finish(Path::new("m.json"), FeedKind::Misp)
    }

    #[test]
    fn attributes_mapped_and_refused() {
        let l = load(
            r#"{"Event":{"uuid":"e1","info":"Op X","threat_level_id":"1","Tag":[{"name":"tlp:white"}],
            "Attribute":[
              {"uuid":"a1","type":"ip-dst","value":"198.51.100.7","to_ids":true,"Tag":[{"name":"c2"}]},
              {"uuid":"a2","type":"domain|ip","value":"Evil.com|203.0.113.9","to_ids":true,"comment":"seen"},
              {"uuid":"a3","type":"ip-src|port","value":"192.0.2.1|443","to_ids":true},
              {"uuid":"a4","type":"filename|sha256",
               "value":"x.exe|ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB","to_ids":true},
              {"uuid":"a5","type":"url","value":"107.183.86","to_ids":true},
              {"uuid":"a6","type":"url","value":"igfxtray.exe","to_ids":true},
              {"uuid":"a7","type":"url","value":"www.whitewall.top","to_ids":true},
              {"uuid":"a8","type":"link","value":"https://report.example.com/","to_ids":false},
              {"uuid":"a9","type":"hostname","value":"quiet.example.com","to_ids":false},
              {"uuid":"a10","type":"ssdeep","value":"3:a:b","to_ids":true},
              {"uuid":"a11","type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e","to_ids":true,"deleted":true},
              {"uuid":"a12","type":"sha1","value":"da39a3ee5e6b4b0d3255bfef95601890afd80709","to_ids":"1",
               "first_seen":"2020-01-01T00:00:00+00:00"}
            ],
            "Object":[{"name":"file","Attribute":[{"uuid":"o1","type":"md5","value":"D41D8CD98F00B204E9800998ECF8427E","to_ids":true}]}]
            }}"#,
        );
        assert_eq!(l.lines_or_objects, 13);
        let got: Vec<_> = l.indicators.iter().map(|i| (i.kind, i.value.as_str())).collect();
        assert_eq!(
            got,
            [
                (T::Ipv4, "198.51.100.7"),
                (T::Domain, "evil.com"),
                (T::Ipv4, "203.0.113.9"),
                (T::Ipv4, "192.0.2.1"),
                (T::Sha256, "abababababababababababababababababababababababababababababababab"),
                (T::Url, "//www.whitewall.top/"),
                (T::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                (T::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            ]
        );
        let a1 = &l.indicators[0];
        assert_eq!(a1.severity.as_deref(), Some("high"));
        assert_eq!(a1.tags, ["tlp:white", "c2"]);
        assert_eq!(a1.description.as_deref(), Some("Op X"));
        assert_eq!(l.indicators[1].description.as_deref(), Some("Op X — seen"));
        assert_eq!(l.indicators[6].valid_from, Some(1_577_836_800_000_000));
        assert_eq!(a1.valid_from, None);
        let r: Vec<_> = l.refused.iter().map(|r| (r.location.as_str(), r.reason.as_str())).collect();
        assert_eq!(
            r,
            [
                ("attribute a5", "invalid_value"),
                ("attribute a6", "invalid_value"),
                ("attribute a8", "not_an_indicator"),
                ("attribute a9", "not_to_ids"),
                ("attribute a10", "unsupported_type"),
                ("attribute a11", "deleted"),
            ]
        );
    }

    #[test]
    fn not_an_event() {
        let mut c = Collector::new("m".into(), Defaults::default());
        let e = read_event(Path::new("m.json"), &serde_json::json!({"response": []}), &mut c).unwrap_err();
        assert!(matches!(e, FeedError::Format { .. }));
    }

    #[test]
    fn composite_errors() {
        assert_eq!(values("domain|ip", "evil.com").unwrap()[1].as_ref().unwrap_err().reason, "invalid_value");
        assert_eq!(values("uri", "/gate.php").unwrap_err().0, "unsupported_type");
        assert_eq!(values("filename|md5", "a|b").unwrap()[0].as_ref().unwrap_err().reason, "invalid_value");
    }
}

//! STIX 2.1 (and 2.0) bundles: `indicator` objects with `pattern_type: "stix"`.
//!
//! Each value a supported pattern offers (see [`super::stix_pattern`]) becomes an indicator:
//! - `valid_from` / `valid_until` (RFC 3339) -> the validity window;
//! - `confidence` (0..=100) -> confidence;
//! - `labels` and `indicator_types` -> tags;
//! - `name` (else `description`) followed by the STIX id in brackets -> description.
//!
//! Refused, with the object id as location: `revoked` indicators (reason `revoked`), other
//! pattern types (`unsupported_pattern`, e.g. `pattern_type snort`), patterns that do not parse
//! or use constructs sweep cannot match (`unsupported_pattern`, naming the construct: one
//! refusal per unsupported part), values that fail validation (`invalid_value`), and a
//! `valid_from`/`valid_until` that is not a timestamp (`invalid_value`). Objects that are not
//! indicators are counted as skipped.

use std::path::Path;

use serde_json::Value;

use super::stix_pattern::{self, Target};
use super::{Collector, FeedError, read_json, time};
use crate::model::IndicatorType;
use crate::normalize;

fn typed(t: Target, raw: &str) -> Result<(IndicatorType, String), normalize::Invalid> {
    use IndicatorType as T;
    let kind = match t {
        Target::Md5 => T::Md5,
        Target::Sha1 => T::Sha1,
        Target::Sha256 => T::Sha256,
        Target::Domain => T::Domain,
        Target::Url => T::Url,
        Target::Ipv4 => T::Ipv4,
        Target::Ipv6 => T::Ipv6,
        Target::Email => T::Email,
    };
    normalize::typed_as(kind, raw)
}

pub(crate) fn read(path: &Path, bytes: &[u8], c: &mut Collector) -> Result<(), FeedError> {
    let doc = read_json(path, bytes, "STIX bundle")?;
    let objects: Vec<&Value> = match (&doc.get("type").and_then(Value::as_str), doc.get("objects")) {
        (Some("bundle"), Some(Value::Array(objs))) => objs.iter().collect(),
        (Some("bundle"), None) => Vec::new(),
        (Some("indicator"), _) => vec![&doc],
        _ => {
            return Err(FeedError::format(
                path,
                None,
                "not a STIX bundle (no \"type\": \"bundle\" with an \"objects\" array)",
                "check the file, or set the feed's kind",
            ));
        }
    };
    for (n, obj) in objects.into_iter().enumerate() {
        c.units += 1;
        if obj.get("type").and_then(Value::as_str) != Some("indicator") {
            c.skipped += 1;
            continue;
        }
        read_indicator(n, obj, c);
    }
    Ok(())
}

fn read_indicator(n: usize, obj: &Value, c: &mut Collector) {
    let s = |k: &str| obj.get(k).and_then(Value::as_str);
    let id = s("id").unwrap_or("");
    let loc = if id.is_empty() { format!("object {n}") } else { format!("object {id}") };
    let Some(pattern) = s("pattern") else {
        c.refuse(loc, "", "invalid_value", "an indicator without a pattern");
        return;
    };
    if obj.get("revoked").and_then(Value::as_bool) == Some(true) {
        c.refuse(loc, pattern, "revoked", "the indicator is revoked");
        return;
    }
    let pattern_type = s("pattern_type").unwrap_or("stix");
    if pattern_type != "stix" {
        c.refuse(loc, pattern, "unsupported_pattern", format!("pattern_type {pattern_type}"));
        return;
    }
    let mut window = [None, None];
    for (slot, key) in window.iter_mut().zip(["valid_from", "valid_until"]) {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            match v.as_str().and_then(time::parse_timestamp) {
                Some(us) => *slot = Some(us),
                None => {
                    c.refuse(loc, pattern, "invalid_value", format!("{key} {v} is not an RFC 3339 timestamp"));
                    return;
                }
            }
        }
    }
    let confidence = match obj.get("confidence") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(x) if x <= 100 => Some(x as u8),
            _ => {
                c.refuse(loc, pattern, "invalid_value", format!("confidence {v} is not 0..=100"));
                return;
            }
        },
    };
    let mut tags: Vec<String> = Vec::new();
    for key in ["labels", "indicator_types"] {
        if let Some(Value::Array(a)) = obj.get(key) {
            for t in a.iter().filter_map(Value::as_str) {
                if !tags.iter().any(|x| x == t) {
                    tags.push(t.to_string());
                }
            }
        }
    }
    let title = s("name").or(s("description")).map(str::trim).filter(|t| !t.is_empty());
    let description = match (title, id.is_empty()) {
        (Some(t), false) => Some(format!("{t} [{id}]")),
        (Some(t), true) => Some(t.to_string()),
        (None, false) => Some(id.to_string()),
        (None, true) => None,
    };
    let parsed = match stix_pattern::parse(pattern) {
        Ok(p) => p,
        Err(e) => {
            c.refuse(loc, pattern, "unsupported_pattern", format!("does not parse: {e}"));
            return;
        }
    };
    let (found, unsupported) = stix_pattern::extract(pattern, &parsed);
    for u in unsupported {
        c.refuse(loc.clone(), &u.text, "unsupported_pattern", u.construct);
    }
    for e in found {
        match typed(e.target, &e.value) {
            Ok((kind, value)) => {
                let mut ind = c.indicator(kind, value);
                ind.confidence = confidence;
                ind.tags.clone_from(&tags);
                ind.description.clone_from(&description);
                ind.valid_from = window[0];
                ind.valid_until = window[1];
                c.push(ind);
            }
            Err(err) => c.refuse(loc.clone(), &e.value, err.reason, err.detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::{Defaults, FeedKind, FeedLoad};
    use IndicatorType as T;

    fn load(json: &str) -> Result<FeedLoad, FeedError> {
        let mut c = Collector::new("s".into(), Defaults::default());
        read(Path::new("s.json"), json.as_bytes(), &mut c)?;
        Ok(c.finish(Path::new("s.json"), FeedKind::Stix))
    }

    #[test]
    fn indicator_fields() {
        let l = load(
            r#"{"type":"bundle","id":"bundle--1","objects":[
              {"type":"malware","id":"malware--1"},
              {"type":"indicator","id":"indicator--1","pattern_type":"stix","name":"C2",
               "pattern":"[ipv4-addr:value = '198.51.100.0/24' OR domain-name:value = 'Evil.COM.' OR url:value = 'nope']",
               "valid_from":"2020-01-01T00:00:00Z","valid_until":"2021-01-01T00:00:00.5Z","confidence":85,
               "labels":["c2"],"indicator_types":["malicious-activity","c2"]},
              {"type":"indicator","id":"indicator--2","pattern":"[file:name = 'x']","pattern_type":"stix",
               "valid_from":"2020-01-01T00:00:00Z"},
              {"type":"indicator","id":"indicator--3","pattern":"alert tcp any any","pattern_type":"snort",
               "valid_from":"2020-01-01T00:00:00Z"},
              {"type":"indicator","id":"indicator--4","pattern":"[url:value = 'http://a.com/']","revoked":true},
              {"type":"indicator","id":"indicator--5","pattern":"[url:value = 'http://a.com/'","valid_from":"2020"},
              {"type":"indicator","id":"indicator--6","pattern":"[url:value = 'http://a.com/'"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(l.lines_or_objects, 7);
        assert_eq!(l.skipped, 1);
        assert_eq!(l.indicators.len(), 2);
        let i = &l.indicators[0];
        assert_eq!((i.kind, i.value.as_str()), (T::Cidr, "198.51.100.0/24"));
        assert_eq!(i.valid_from, Some(1_577_836_800_000_000));
        assert_eq!(i.valid_until, Some(1_609_459_200_500_000));
        assert_eq!(i.confidence, Some(85));
        assert_eq!(i.tags, ["c2", "malicious-activity"]);
        assert_eq!(i.description.as_deref(), Some("C2 [indicator--1]"));
        assert_eq!((l.indicators[1].kind, l.indicators[1].value.as_str()), (T::Domain, "evil.com"));
        let r: Vec<_> = l.refused.iter().map(|r| (r.location.as_str(), r.reason.as_str(), r.detail.as_str())).collect();
        assert_eq!(r[0].0, "object indicator--1");
        assert_eq!(r[0].1, "invalid_value");
        assert_eq!(r[1], ("object indicator--2", "unsupported_pattern", "property file:name"));
        assert_eq!(r[2], ("object indicator--3", "unsupported_pattern", "pattern_type snort"));
        assert_eq!(r[3], ("object indicator--4", "revoked", "the indicator is revoked"));
        assert_eq!((r[4].1, r[4].2.starts_with("valid_from")), ("invalid_value", true));
        assert_eq!((r[5].1, r[5].2.starts_with("does not parse")), ("unsupported_pattern", true));
        assert_eq!(r.len(), 6);
    }

    #[test]
    fn broken_json_names_line() {
        let e = load("{\"type\":\"bundle\",\n\"objects\":[\n{]}").unwrap_err();
        assert!(matches!(e, FeedError::Json { line: 3, .. }), "{e}");
        assert!(e.to_string().starts_with("s.json:3:"), "{e}");
        assert!(matches!(load(r#"{"type":"report"}"#), Err(FeedError::Format { .. })));
    }
}

//! Which format a pipeline reads, as data: the `format` key of a pipeline file.
//!
//! In TOML a format is either a name (`format = "squid"`) or a table with a `name` and
//! the format's options (`format = { name = "custom", pattern = "..." }`).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::LineParser;
use crate::formats::{clf, custom, elff, jsonl, squid, zscaler};

/// A log format and its options.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum FormatSpec {
    /// Squid native `access.log`.
    Squid,
    /// Squid `common` logformat (CLF followed by `%Ss:%Sh`).
    SquidCommon,
    /// Squid `combined` logformat (combined followed by `%Ss:%Sh`).
    SquidCombined,
    /// NCSA common log format (Apache `common`).
    Common,
    /// Apache / nginx `combined`.
    Combined,
    /// Apache `vhost_combined`: `host:port` then combined.
    VhostCombined,
    /// Blue Coat ProxySG ELFF / W3C extended, driven by `#Fields:`.
    Elff(elff::ElffOptions),
    /// Zscaler NSS web feed (CSV, TSV or JSON).
    Zscaler(zscaler::ZscalerOptions),
    /// JSON objects, one a line, with a field mapping.
    Jsonl(jsonl::JsonMapping),
    /// A user-defined layout given as a pattern of named fields.
    Custom(custom::CustomOptions),
    /// Chosen per input file from its first lines (`crate::detect`), before a run starts.
    Auto,
}

/// A format that cannot be built from its options.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("unknown format {name:?}; known formats: {known}{hint}")]
    Unknown { name: String, known: String, hint: String },
    #[error("format {format}: {message}")]
    Invalid { format: &'static str, message: String },
}

/// A line of `sweep formats`: a format's name, aliases, description and an example line.
#[derive(Debug, Clone, Copy)]
pub struct FormatInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    pub example: &'static str,
}

/// Every built-in format, in the order `sweep formats` lists them.
pub fn catalogue() -> Vec<FormatInfo> {
    vec![
        FormatInfo { name: "squid", aliases: &["squid_native"], summary: "Squid native access.log", example: squid::EXAMPLE },
        FormatInfo {
            name: "squid_common",
            aliases: &[],
            summary: "Squid common logformat (CLF + %Ss:%Sh)",
            example: clf::EXAMPLE_SQUID_COMMON,
        },
        FormatInfo {
            name: "squid_combined",
            aliases: &[],
            summary: "Squid combined logformat (combined + %Ss:%Sh)",
            example: clf::EXAMPLE_SQUID_COMBINED,
        },
        FormatInfo {
            name: "common",
            aliases: &["clf", "ncsa"],
            summary: "NCSA common log format (Apache common)",
            example: clf::EXAMPLE_COMMON,
        },
        FormatInfo { name: "combined", aliases: &["apache", "nginx"], summary: "Apache / nginx combined", example: clf::EXAMPLE_COMBINED },
        FormatInfo {
            name: "vhost_combined",
            aliases: &[],
            summary: "Apache vhost_combined (host:port + combined)",
            example: clf::EXAMPLE_VHOST_COMBINED,
        },
        FormatInfo {
            name: "elff",
            aliases: &["w3c", "bluecoat"],
            summary: "Blue Coat ProxySG ELFF / W3C extended, follows #Fields:",
            example: elff::EXAMPLE,
        },
        FormatInfo {
            name: "zscaler",
            aliases: &["nss"],
            summary: "Zscaler NSS web feed (layout = csv | tsv | json)",
            example: zscaler::EXAMPLE,
        },
        FormatInfo { name: "jsonl", aliases: &["json"], summary: "JSON lines with a field mapping", example: jsonl::EXAMPLE },
        FormatInfo { name: "custom", aliases: &[], summary: "your own layout: a pattern of named fields", example: custom::EXAMPLE },
    ]
}

impl FormatSpec {
    /// The canonical name, as written to the `format` column.
    pub fn name(&self) -> &'static str {
        match self {
            FormatSpec::Squid => "squid",
            FormatSpec::SquidCommon => "squid_common",
            FormatSpec::SquidCombined => "squid_combined",
            FormatSpec::Common => "common",
            FormatSpec::Combined => "combined",
            FormatSpec::VhostCombined => "vhost_combined",
            FormatSpec::Elff(_) => "elff",
            FormatSpec::Zscaler(_) => "zscaler",
            FormatSpec::Jsonl(_) => "jsonl",
            FormatSpec::Custom(_) => "custom",
            FormatSpec::Auto => "auto",
        }
    }

    /// A format given by name only, with default options. Aliases are accepted.
    pub fn from_name(name: &str) -> Result<FormatSpec, FormatError> {
        let lower = name.trim().to_ascii_lowercase();
        let spec = match lower.as_str() {
            "squid" | "squid_native" => FormatSpec::Squid,
            "squid_common" => FormatSpec::SquidCommon,
            "squid_combined" => FormatSpec::SquidCombined,
            "common" | "clf" | "ncsa" => FormatSpec::Common,
            "combined" | "apache" | "nginx" => FormatSpec::Combined,
            "vhost_combined" => FormatSpec::VhostCombined,
            "elff" | "w3c" | "bluecoat" => FormatSpec::Elff(Default::default()),
            "zscaler" | "nss" => FormatSpec::Zscaler(Default::default()),
            "jsonl" | "json" => FormatSpec::Jsonl(Default::default()),
            "auto" => FormatSpec::Auto,
            "custom" => {
                return Err(FormatError::Invalid {
                    format: "custom",
                    message: "needs a pattern: format = { name = \"custom\", pattern = \"{ts:iso8601} {client_ip} ...\" } (see docs/formats/custom.md)".into(),
                });
            }
            _ => return Err(unknown(name)),
        };
        Ok(spec)
    }

    /// The directive line prefix that changes how later lines parse (`#Fields:` for ELFF).
    /// Readers remember the last such line of a file and hand it to each chunk's parser.
    pub fn header_directive(&self) -> Option<&'static [u8]> {
        match self {
            FormatSpec::Elff(_) => Some(b"#Fields:"),
            _ => None,
        }
    }

    /// Checks the options and builds a parser.
    pub fn build(&self) -> Result<Box<dyn LineParser>, FormatError> {
        Ok(match self {
            FormatSpec::Squid => Box::new(squid::SquidNative),
            FormatSpec::SquidCommon => Box::new(clf::Clf::new(clf::ClfVariant::SquidCommon)),
            FormatSpec::SquidCombined => Box::new(clf::Clf::new(clf::ClfVariant::SquidCombined)),
            FormatSpec::Common => Box::new(clf::Clf::new(clf::ClfVariant::Common)),
            FormatSpec::Combined => Box::new(clf::Clf::new(clf::ClfVariant::Combined)),
            FormatSpec::VhostCombined => Box::new(clf::Clf::new(clf::ClfVariant::VhostCombined)),
            FormatSpec::Elff(o) => Box::new(elff::Elff::new(o)?),
            FormatSpec::Zscaler(o) => Box::new(zscaler::Zscaler::new(o)?),
            FormatSpec::Jsonl(m) => Box::new(jsonl::JsonLines::new(m)?),
            FormatSpec::Custom(o) => Box::new(custom::Custom::new(o)?),
            FormatSpec::Auto => {
                return Err(FormatError::Invalid {
                    format: "auto",
                    message: "is chosen per input file from its first lines when a run starts; a Kafka topic or standard input \
                              needs its format named (`sweep detect FILE` tells it from a sample)"
                        .into(),
                });
            }
        })
    }
}

const KNOWN: &[&str] =
    &["squid", "squid_common", "squid_combined", "common", "combined", "vhost_combined", "elff", "zscaler", "jsonl", "custom", "auto"];

fn unknown(name: &str) -> FormatError {
    let lower = name.to_ascii_lowercase();
    let best = KNOWN.iter().map(|k| (edit_distance(&lower, k), *k)).min().filter(|(d, _)| *d <= 3);
    FormatError::Unknown {
        name: name.to_string(),
        known: KNOWN.join(", "),
        hint: best.map(|(_, k)| format!(" (did you mean {k:?}?)")).unwrap_or_default(),
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'de> Deserialize<'de> for FormatSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SpecVisitor)
    }
}

struct SpecVisitor;

/// The table form, with every option of every format; checked per format below so that
/// an option of another format is reported as unknown for this one.
#[derive(Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    #[serde(alias = "squid_native")]
    Squid,
    SquidCommon,
    SquidCombined,
    #[serde(alias = "clf", alias = "ncsa")]
    Common,
    #[serde(alias = "apache", alias = "nginx")]
    Combined,
    VhostCombined,
    #[serde(alias = "w3c", alias = "bluecoat")]
    Elff(elff::ElffOptions),
    #[serde(alias = "nss")]
    Zscaler(zscaler::ZscalerOptions),
    #[serde(alias = "json")]
    Jsonl(jsonl::JsonMapping),
    Custom(custom::CustomOptions),
    Auto,
}

impl<'de> Visitor<'de> for SpecVisitor {
    type Value = FormatSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a format name such as \"squid\", or a table such as { name = \"custom\", pattern = \"...\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FormatSpec, E> {
        FormatSpec::from_name(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FormatSpec, A::Error> {
        let tagged = Tagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let spec = match tagged {
            Tagged::Squid => FormatSpec::Squid,
            Tagged::SquidCommon => FormatSpec::SquidCommon,
            Tagged::SquidCombined => FormatSpec::SquidCombined,
            Tagged::Common => FormatSpec::Common,
            Tagged::Combined => FormatSpec::Combined,
            Tagged::VhostCombined => FormatSpec::VhostCombined,
            Tagged::Elff(o) => FormatSpec::Elff(o),
            Tagged::Zscaler(o) => FormatSpec::Zscaler(o),
            Tagged::Jsonl(m) => FormatSpec::Jsonl(m),
            Tagged::Custom(o) => FormatSpec::Custom(o),
            Tagged::Auto => return Ok(FormatSpec::Auto),
        };
        // Surface option errors (a bad pattern, an unknown column) at load time.
        spec.build().map_err(de::Error::custom)?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_name_suggests() {
        let err = FormatSpec::from_name("sqiud").unwrap_err().to_string();
        assert!(err.contains("did you mean \"squid\""), "{err}");
        assert!(err.contains("known formats: squid"), "{err}");
    }

    #[test]
    fn aliases() {
        assert_eq!(FormatSpec::from_name("nginx").unwrap(), FormatSpec::Combined);
        assert_eq!(FormatSpec::from_name("W3C").unwrap().name(), "elff");
    }

    #[test]
    fn catalogue_examples_parse() {
        for info in catalogue() {
            let spec = match info.name {
                "custom" => FormatSpec::Custom(custom::CustomOptions::example()),
                name => FormatSpec::from_name(name).unwrap(),
            };
            let out = crate::parse_all(&spec, info.example.as_bytes(), "example").unwrap();
            assert!(out.counts.events >= 1, "the example of {} gives no event: {:?}", info.name, out.rejects);
            assert_eq!(out.counts.rejects, 0, "the example of {} is rejected", info.name);
        }
    }
}

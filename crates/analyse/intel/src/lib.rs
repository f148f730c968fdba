//! # sweep-intel: indicators of compromise and a fast match index
//!
//! The threat-intel half of sweep's analyse step, with no engine dependencies:
//! - [`model`]: the indicator model (value, type, feed, confidence, tags, validity);
//! - [`normalize`]: validation and normalisation of values (IPs, networks, domains,
//!   canonical URLs, hashes, e-mail);
//! - [`feeds`]: readers for plain lists, CSV (URLhaus, Feodo, ThreatFox, Spamhaus DROP
//!   presets), STIX 2.1 bundles, MISP events and feed folders, MISP warninglists;
//! - [`psl`]: the Public Suffix List, embedded;
//! - [`index`]: the immutable, versioned match index that the sweeper stage queries.
//!
//! Matching semantics are written down in docs/intel.md and tested against them.

pub mod feeds;
pub mod index;
pub mod model;
pub mod normalize;
pub mod psl;
pub mod punycode;

pub use model::{Indicator, IndicatorType, Refusal};

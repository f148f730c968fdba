//! # sweep-content: malicious-looking hosts in the events
//!
//! The content analyser of sweep's analyse step (`[[analyse]] kind = "content"`). It reads the
//! `host` of every event and writes a `findings` row ([`findings_schema`]) for each detector
//! that flags it. docs/content.md is the full description; the detectors in short:
//!
//! - **missing_fqdn**: the host is a public IP literal (IPv4, IPv6, `[IPv6]`); private,
//!   loopback, link-local, CGNAT and unique-local addresses and an allowlist never are.
//! - **typosquat**: the host's registrable domain (Public Suffix List, from sweep-intel) looks
//!   like a protected domain: within Damerau-Levenshtein distance 1 (2 for names of 10+
//!   characters), look-alike tricks (`rn`/`m`, `vv`/`w`, `0`/`o`, `1`/`l`/`i`, `3`/`e`,
//!   `5`/`s`), a mistyped TLD (`paypal.co`), or the same name under another TLD.
//! - **masquerade**: a brand name as a label or `-`-token of an unrelated domain
//!   (`paypal.com.account-verify.xyz`), a punycode/Unicode name that reads as a protected one
//!   once look-alike characters are mapped (`xn--pypal-4ve.com`), very long or deep names.
//! - **dga**: a registrable name that looks algorithmically generated (character bigram
//!   likelihood against bundled benign names, entropy, consonant runs, digits).
//!
//! Protected domains and their subdomains are never flagged. The analyser is immutable and
//! `Send + Sync`; [`ContentAnalyser::analyse`] computes a verdict once per distinct host of a
//! batch, and [`ContentAnalyser::analyse_cached`] keeps verdicts across batches in a
//! caller-owned [`VerdictCache`] (one per thread). [`ContentAnalyser::judge`] gives the
//! findings of one host. Depends on Arrow, sweep-formats (schema) and sweep-intel (Public
//! Suffix List) only.

mod analyser;
pub mod confusables;
pub mod dga;
mod error;
mod fx;
mod ip;
pub mod ownership;
pub mod punycode;
pub mod spec;
pub mod typo;

pub use analyser::{ContentAnalyser, Finding, FindingKind, VerdictCache, findings_schema, is_platform_suffix};
pub use dga::{BUNDLED_BENIGN, DgaFeatures, DgaModel};
pub use error::ContentError;
pub use ownership::{BUNDLED_OWNERS, BUNDLED_POPULAR, Owners, Popular};
pub use spec::{ContentSpec, DgaSpec, MasqueradeSpec, MissingFqdnSpec, PopularMode, PopularSpec, TyposquatSpec};
pub use typo::BUNDLED_PROTECTED;

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn analyser_is_send_and_sync() {
        assert_send_sync::<crate::ContentAnalyser>();
    }
}

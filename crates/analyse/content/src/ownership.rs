//! Who owns a domain, and which domains are popular: the checks made before any suspicion.
//!
//! - [`Owners`]: the domains brands own (their registrable domains, their name under country
//!   top-level domains, their brand top-level domains). An owned domain is never a finding.
//! - [`Popular`]: registrable domains of a top-sites list. typosquat, masquerade and dga do
//!   not flag them (or halve their score), since a site in the top 10,000 is not a trap set
//!   for the users of one proxy.

use std::collections::HashSet;

use crate::ContentError;
use crate::typo::{self, is_country_suffix};

/// The brand map bundled with the crate (`data/brand_owners.txt`).
pub const BUNDLED_OWNERS: &str = include_str!("../data/brand_owners.txt");

/// The top-sites list bundled with the crate (`data/popular_domains.txt`: Tranco top 10k).
pub const BUNDLED_POPULAR: &str = include_str!("../data/popular_domains.txt");

/// Domains owned by brands.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    domains: HashSet<Box<str>>,
    /// Names owned under every country's own TLD (`paypal` of `paypal.*`).
    country_names: HashSet<Box<str>>,
    /// Names owned under every two-letter TLD (`google` of `google.**`).
    two_letter_names: HashSet<Box<str>>,
    /// Brand top-level domains (`google` of `.google`).
    tlds: HashSet<Box<str>>,
}

impl Owners {
    /// Adds the owned entries of one brand (see `data/brand_owners.txt` for the forms);
    /// `what` names the entry in errors.
    pub fn add(&mut self, brand: &str, owned: &[String], what: &str) -> Result<(), ContentError> {
        let bad = |entry: &str, e: String| ContentError::Spec(format!("{what}: {entry:?}: {e}"));
        self.domains.insert(typo::normalise_domain(brand).map_err(|e| bad(brand, e))?.into());
        for entry in owned {
            let entry = entry.trim().to_ascii_lowercase();
            let pattern = match entry.strip_suffix(".**") {
                Some(name) => Some((name, true)),
                None => entry.strip_suffix(".*").map(|name| (name, false)),
            };
            if let Some((name, every)) = pattern {
                if name.is_empty() || name.contains('.') || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(bad(&entry, "NAME.* and NAME.** take one label, as in paypal.* or google.**".into()));
                }
                if every { &mut self.two_letter_names } else { &mut self.country_names }.insert(name.into());
            } else if let Some(tld) = entry.strip_prefix('.') {
                if tld.is_empty() || tld.contains('.') {
                    return Err(bad(&entry, ".TLD takes one top-level domain, as in .google".into()));
                }
                self.tlds.insert(tld.into());
            } else {
                // A listed host such as officeapps.live.com is owned through its registrable domain.
                self.domains.insert(typo::normalise_domain(&entry).map_err(|e| bad(&entry, e))?.into());
            }
        }
        Ok(())
    }

    /// Reads `BRAND: OWNED...` lines (`#` comments).
    pub fn parse(&mut self, text: &str, what: &str) -> Result<(), ContentError> {
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{what}, line {}", n + 1);
            let Some((brand, owned)) = line.split_once(':') else {
                return Err(ContentError::Spec(format!(
                    "{at}: write BRAND-DOMAIN: OWNED-DOMAIN..., as in google.com: google.* youtube.com"
                )));
            };
            let owned: Vec<String> = owned.split_whitespace().map(str::to_string).collect();
            self.add(brand.trim(), &owned, &at)?;
        }
        Ok(())
    }

    /// Whether the registrable domain `rd` (`label.suffix`) is owned by a brand. `platform`:
    /// the suffix is a platform of the Public Suffix List (`paypal.github.io` is a
    /// customer's site, never a country site).
    pub fn owns(&self, rd: &str, label: &str, suffix: &str, platform: bool) -> bool {
        if self.domains.contains(rd) {
            return true;
        }
        let tld = suffix.rsplit('.').next().unwrap_or(suffix);
        if self.tlds.contains(tld) {
            return true;
        }
        let two_letter = !platform && tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
        (self.country_names.contains(label) && is_country_suffix(suffix, platform)) || (self.two_letter_names.contains(label) && two_letter)
    }

    pub fn len(&self) -> usize {
        self.domains.len() + self.country_names.len() + self.two_letter_names.len() + self.tlds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Platforms of the Public Suffix List whose names are content-delivery or DNS aliases of
/// their customers' own hosts (`www.apple.com.edgekey.net`,
/// `courier-push-apple.com.akadns.net`): a brand in their labels is the customer naming its
/// own host (or, under `googleapis.com`, the operator's own service), so typosquat and
/// masquerade's brand, length and depth checks skip them (look-alike characters still count).
pub const CDN_SUFFIXES: &[&str] = &[
    "akadns.net",
    "akamai.net",
    "akamaiedge.net",
    "akamaihd.net",
    "akamaized.net",
    "edgekey.net",
    "edgesuite.net",
    "azureedge.net",
    "azurefd.net",
    "trafficmanager.net",
    "cloudfront.net",
    "cdn.cloudflare.net",
    "fastly.net",
    "googleapis.com",
];

/// Whether a public suffix is one of [`CDN_SUFFIXES`] (or under one).
pub fn is_cdn_suffix(suffix: &str) -> bool {
    CDN_SUFFIXES.iter().any(|c| suffix == *c || suffix.strip_suffix(c).is_some_and(|rest| rest.ends_with('.')))
}

/// Registrable domains of a top-sites list.
#[derive(Debug, Clone, Default)]
pub struct Popular {
    domains: HashSet<Box<str>>,
    /// Listed names that are platforms of the Public Suffix List (`akadns.net`,
    /// `blogspot.com`): their customers' sites are not popular for being under them, so they
    /// guard nothing; kept to be counted.
    platforms: usize,
}

impl Popular {
    /// Reads a list of domains, one a line (`#` comments). Names that are not domains are
    /// refused with their line; hosts are cut to their registrable domain.
    pub fn parse(text: &str, what: &str) -> Result<Popular, ContentError> {
        let mut popular = Popular::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match typo::normalise_domain(line) {
                Ok(rd) => {
                    popular.domains.insert(rd.into());
                }
                Err(_) if sweep_intel::psl::public_suffix(&line.to_ascii_lowercase()).is_some_and(|s| s.len() == line.len()) => {
                    popular.platforms += 1;
                }
                Err(e) => return Err(ContentError::Spec(format!("{what}, line {}: {e}", n + 1))),
            }
        }
        Ok(popular)
    }

    /// Listed names that are platforms (public suffixes), which guard nothing.
    pub fn platforms(&self) -> usize {
        self.platforms
    }

    pub fn contains(&self, rd: &str) -> bool {
        self.domains.contains(rd)
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners() -> Owners {
        let mut o = Owners::default();
        o.parse(BUNDLED_OWNERS, "bundled brand_owners.txt").unwrap();
        o
    }

    #[test]
    fn the_bundled_lists_parse() {
        assert!(owners().len() > 200, "{}", owners().len());
        assert!(Popular::parse(BUNDLED_POPULAR, "bundled popular_domains.txt").unwrap().len() > 9_000);
    }

    #[test]
    fn country_sites_and_brand_tlds_are_owned() {
        let o = owners();
        assert!(o.owns("google.cf", "google", "cf", false));
        assert!(o.owns("paypal.de", "paypal", "de", false));
        assert!(!o.owns("paypal.co", "paypal", "co", false), "paypal.* is the countries' own TLDs, not .co");
        assert!(o.owns("google.co.uk", "google", "co.uk", false));
        assert!(o.owns("cloud.microsoft", "cloud", "microsoft", false));
        assert!(o.owns("bstatic.com", "bstatic", "com", false));
        assert!(!o.owns("google.xyz", "google", "xyz", false), "a generic TLD is not a country site");
        assert!(!o.owns("paypal-login.com", "paypal-login", "com", false));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let mut o = Owners::default();
        let e = o.parse("google.com: google.*\npaypal.com paypal.de\n", "owners.txt").unwrap_err().to_string();
        assert!(e.contains("owners.txt, line 2"), "{e}");
        let e = o.parse("x.com: a.b.*\n", "owners.txt").unwrap_err().to_string();
        assert!(e.contains("NAME.* and NAME.** take one label"), "{e}");
    }
}

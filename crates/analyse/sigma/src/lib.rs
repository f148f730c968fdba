//! # sweep-sigma: Sigma detection rules over the events table
//!
//! Loads [Sigma](https://github.com/SigmaHQ/sigma-specification) rules whose `logsource.category`
//! is `proxy` or `webserver`, maps their fields to `events` columns with a [`FieldMap`], and
//! evaluates them on Arrow batches with a [`SigmaAnalyser`]. Each loaded rule is also available
//! as an engine-neutral tree ([`tree::Condition`] over [`tree::Atom`]s) for other backends.
//! The rules in short:
//!
//! - **Loading** ([`RuleSet::load`]): files and folders (recursive, `.yml`/`.yaml`, sorted by
//!   name), one or more YAML documents per file. Nothing stops a load: every document is
//!   loaded, skipped (another log source category) or refused with a [`Refusal`] in the
//!   [`LoadReport`]. Correlation rules are loaded too (see [`correlation`] for what is
//!   supported and the [`Correlator`] that evaluates them). Refused: rule collections
//!   (`action: global|repeat|reset`, the whole file), Sigma filter documents, YAML aliases, unknown or unsupported modifiers
//!   (`windash`, `expand`, `utf16*`/`wide`), fields without a column, regular expressions the
//!   `regex` crate cannot compile (look-around, back-references), `N of` with N > 1,
//!   aggregations (`| count()`), and a second rule with an `id` already loaded. Only the
//!   search identifiers the condition uses are parsed. `timeframe` is ignored.
//! - **Search identifiers**: a map is the AND of its fields; a list of maps is the OR of the
//!   maps; a list of values for a field is their OR (AND with `|all`); a list of plain values
//!   (or `'|all':` with a list) is a keyword search.
//! - **Keywords** (values without a field) match the raw request, which sweep defines as the
//!   `url` and `user_agent` columns: a keyword matches if either *contains* it (wildcards
//!   allowed). Only `all`, `cased` and `contains` may modify keywords.
//! - **Strings**: case-insensitive unless `|cased`; `*` is any run of characters, `?` exactly
//!   one character; `\*`, `\?`, `\\` are the literal characters and a `\` before anything else
//!   is a literal backslash. Case-insensitive means both sides are compared after Unicode
//!   lowercasing ([`str::to_lowercase`]), which is exact for ASCII; for other scripts it is
//!   lowercasing, not full case folding (`ß` does not match `SS`), and `?` matches one
//!   character of the lowercased text.
//! - **Modifiers**: `contains`, `startswith`, `endswith`, `all`, `cased`, `re` (with `i`, `m`,
//!   `s`; unanchored search, case-sensitive unless `i`), `cidr` (IPv4 and IPv6; the value must
//!   parse as an address, IPv4-mapped IPv6 is not unmapped), `base64`, `base64offset` (the
//!   three pySigma variants, see `value::base64offset`), `exists` (`true`: not null),
//!   `lt`/`lte`/`gt`/`gte` (integer columns, or text parsed as a number), `fieldref` (with
//!   `contains`/`startswith`/`endswith` too; false if either side is null).
//! - **Null and empty**: `field: null` matches a null column value (a field that an event
//!   lacks is a null column). The empty string is a value: `field: ''` matches only `''`,
//!   never null, and `field: null` does not match `''` (as pySigma's SQL backends:
//!   `field = ''` vs `field IS NULL`). An atom on a null value is false, `not` is boolean
//!   negation (`not filter` holds when the filtered field is null).
//! - **Numbers**: a YAML number compared whole with an integer column (`sc-status: 404`) is
//!   numeric equality; anything else compares the column's text (integers in decimal).
//! - **Conditions**: `and`, `or`, `not`, brackets, precedence `not` > `and` > `or`,
//!   `1 of`/`any of`/`all of` a pattern (`*` wildcards) or `them` (identifiers not starting
//!   with `_`). A list of conditions is their OR.
//!
//! ## Field map ([`FieldMap::default`])
//!
//! | Sigma field | events column |
//! |---|---|
//! | `c-uri`, `cs-uri` | `url` (a forward proxy logs the absolute URL the client sent) |
//! | `c-uri-query`, `cs-uri-query` | `query` (without `?`) |
//! | `c-uri-stem`, `cs-uri-stem` | `path` |
//! | `c-uri-extension` | derived: lowercased extension of `path`'s last segment, without the dot ([`tree::Column::PathExtension`]) |
//! | `cs-host`, `c-host`, `r-dns` | `host` |
//! | `c-useragent`, `cs-user-agent` | `user_agent` |
//! | `cs-method` | `method` |
//! | `sc-status` | `status` |
//! | `cs-referrer`, `cs-referer` | `referrer` |
//! | `c-ip`, `src_ip` | `client_ip` |
//! | `s-ip`, `dst_ip` | `server_ip` |
//! | `s-port`, `dst_port` | `port` |
//! | `cs-username` | `user` |
//! | `cs-bytes` | `request_bytes` |
//! | `sc-bytes` | `response_bytes` |
//! | `time-taken` | `duration_ms` |
//!
//! Not mapped (no column; rules using them are refused with `UnmappedField`): `cs-cookie`,
//! `cs-version`, `sc-substatus`, `sc-win32-status`, `s-sitename`, `s-computername`, and any
//! other name. [`FieldMap::with_overrides`] adds or replaces entries.
//!
//! ## Evaluation
//!
//! [`SigmaAnalyser::evaluate`] returns [`Detection`]s sorted by row then rule. Per column it
//! runs one Aho-Corasick automaton over the lowercased literals of every rule (plus one for
//! `cased` literals; wildcard patterns are prefiltered by their longest literal), one
//! `RegexSet` over every `re` value, then evaluates only the rules whose atoms were hit (and
//! rules that hold when no atom does). [`evaluate_naive`] is the reference semantics.
//!
//! This crate depends on Arrow only (no DataFusion, no async runtime).

mod analyser;
mod condition;
pub mod correlation;
mod detections;
mod error;
mod eval;
mod fieldmap;
mod load;
mod parse;
pub mod spec;
pub mod tree;
mod value;

pub use analyser::{Detection, RuleIndex, SigmaAnalyser};
pub use correlation::{CORRELATION_SNAPSHOT_VERSION, CorrelationKind, CorrelationMatch, CorrelationMode, CorrelationRule, Correlator};
pub use detections::{at_or_above, correlation_batch, detections_batch, detections_schema};
pub use error::{Refusal, SigmaError};
pub use eval::evaluate_naive;
pub use fieldmap::{DEFAULT_FIELDS, FieldMap, UNMAPPED_FIELDS};
pub use load::{DEFAULT_CATEGORIES, LoadOptions, LoadReport, MAX_FILE_BYTES, RefusedRule, Rule, RuleMeta, RuleSet, SkippedRule};
pub use parse::KEYWORD_COLUMNS;
pub use spec::{LEVELS, SigmaSpec};

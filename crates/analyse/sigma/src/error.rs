use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// What can go wrong building or running a Sigma analyser. Every message says what to change.
/// (A rule that cannot be used is not an error: it is refused with a [`Refusal`] in the
/// [`crate::LoadReport`].)
#[derive(Debug, Error)]
pub enum SigmaError {
    /// The analyser's configuration is wrong (a level that is not a Sigma level ...).
    #[error("sigma: {0}")]
    Spec(String),
    /// A field map override names a column the events table does not have.
    #[error("sigma: field map: {0}")]
    FieldMap(String),
    /// An input batch lacks a column the rules read, or has it in a type the analyser cannot read.
    #[error("sigma: {0}")]
    Column(String),
    /// A correlator checkpoint cannot be restored.
    #[error("sigma: cannot restore correlation checkpoint: {0}")]
    Snapshot(String),
    /// A rule that loaded cannot be compiled (a bug if it happens: loading checks what compiling needs).
    #[error("sigma: cannot compile rule {rule}: {reason}")]
    Compile { rule: String, reason: String },
}

/// Why a Sigma document was refused. `Display` gives the human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Refusal {
    /// The file cannot be read.
    Io(String),
    /// The text is not valid YAML (or uses YAML aliases, which are refused).
    Yaml(String),
    /// The document is not a Sigma rule (not a mapping, no `detection`, no `title` ...).
    NotARule(String),
    /// A modifier this engine does not implement (`windash`, `expand`, `utf16le` ...).
    UnsupportedModifier(String),
    /// Modifiers that cannot go together (`re|contains`, two of `contains`/`startswith`/`endswith` ...).
    BadModifiers(String),
    /// A field the field map does not map to an events column.
    UnmappedField(String),
    /// A `re` value the `regex` crate refuses (look-around and back-references are not supported).
    BadRegex(String),
    /// The condition does not parse or names search identifiers that do not exist.
    BadCondition(String),
    /// A value that does not fit its modifier (`cidr` not a network, `gt` not a number ...).
    BadValue(String),
    /// A search identifier of a shape Sigma does not define (empty, nested lists ...).
    BadDetection(String),
    /// A rule collection (`action: global|reset|repeat`): not implemented.
    CollectionNotSupported(String),
    /// A correlation rule using what is not implemented (aliases, chains, upper bounds ...).
    UnsupportedCorrelation(String),
    /// A correlation refers to a rule id or name that is not loaded.
    UnknownRule(String),
    /// A Sigma filter (meta-filter) document: not implemented.
    FilterNotSupported,
    /// Another rule with the same `id` was loaded first.
    DuplicateId(String),
}

impl Refusal {
    /// A short name for counting refusals by reason (`unmapped_field`, `bad_regex` ...).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Io(_) => "io",
            Refusal::Yaml(_) => "yaml",
            Refusal::NotARule(_) => "not_a_rule",
            Refusal::UnsupportedModifier(_) => "unsupported_modifier",
            Refusal::BadModifiers(_) => "bad_modifiers",
            Refusal::UnmappedField(_) => "unmapped_field",
            Refusal::BadRegex(_) => "bad_regex",
            Refusal::BadCondition(_) => "bad_condition",
            Refusal::BadValue(_) => "bad_value",
            Refusal::BadDetection(_) => "bad_detection",
            Refusal::CollectionNotSupported(_) => "collection",
            Refusal::UnsupportedCorrelation(_) => "unsupported_correlation",
            Refusal::UnknownRule(_) => "unknown_rule",
            Refusal::FilterNotSupported => "filter",
            Refusal::DuplicateId(_) => "duplicate_id",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Io(e) => write!(f, "cannot read the file: {e}"),
            Refusal::Yaml(e) => write!(f, "not valid YAML: {e}"),
            Refusal::NotARule(e) => write!(f, "not a Sigma rule: {e}"),
            Refusal::UnsupportedModifier(m) => write!(f, "modifier `{m}` is not supported by sweep's Sigma engine"),
            Refusal::BadModifiers(m) => write!(f, "modifiers cannot be combined: {m}"),
            Refusal::UnmappedField(field) => {
                write!(f, "field `{field}` has no column in the events table (add it to the field map to use this rule)")
            }
            Refusal::BadRegex(e) => write!(f, "regular expression not supported: {e}"),
            Refusal::BadCondition(e) => write!(f, "bad condition: {e}"),
            Refusal::BadValue(e) => write!(f, "bad value: {e}"),
            Refusal::BadDetection(e) => write!(f, "bad detection: {e}"),
            Refusal::CollectionNotSupported(a) => {
                write!(f, "rule collections (`action: {a}`) are not supported; split the file into plain rules")
            }
            Refusal::UnsupportedCorrelation(e) => write!(f, "correlation not supported: {e}"),
            Refusal::UnknownRule(r) => write!(f, "the correlation refers to `{r}`, which is not a loaded rule's id or name"),
            Refusal::FilterNotSupported => write!(f, "Sigma filter documents are not supported"),
            Refusal::DuplicateId(id) => write!(f, "another rule with id {id} was loaded first"),
        }
    }
}

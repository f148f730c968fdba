//! The built-in formats as Spark SQL, one module per module of sweep_formats::formats, each
//! mirroring that format's parser; `file_format_sql` in lib.rs picks one for a `FormatSpec`.

pub(crate) mod clf;
pub(crate) mod custom;
pub(crate) mod elff;
pub(crate) mod jsonl;
pub(crate) mod squid;
pub(crate) mod zscaler;

/// What the format modules' tests check a parse against.
#[cfg(test)]
pub(crate) mod shape {
    use std::collections::BTreeSet;

    use sweep_formats::{FormatSpec, Outcome, Record};

    use crate::FormatSql;

    /// The events columns the parse fills (its `e_` columns), in the order it fills them.
    pub(crate) fn filled(sql: &FormatSql) -> Vec<String> {
        sql.steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_").map(str::to_string)).collect()
    }

    /// The reason codes of every reject the SQL can give.
    pub(crate) fn reasons_in(sql: &str) -> BTreeSet<String> {
        sql.split("named_struct('reason', '").skip(1).map(|rest| rest[..rest.find('\'').unwrap_or(rest.len())].to_string()).collect()
    }

    /// What the embedded parser of `spec` makes of each line: the reason code and detail of
    /// its reject. Panics at a line it does not reject.
    pub(crate) fn embedded_rejects(spec: &FormatSpec, lines: &[String]) -> Vec<(&'static str, String)> {
        let mut parser = spec.build().unwrap();
        lines
            .iter()
            .map(|line| match parser.parse(line, &mut Record::default()) {
                Outcome::Reject(r) => (r.reason.code(), r.detail.to_string()),
                other => panic!("{} does not reject {line:?}: {other:?}", spec.name()),
            })
            .collect()
    }

    /// The words of a reject's detail before the value it quotes: the part the SQL writes as
    /// one literal.
    pub(crate) fn detail_words(detail: &str) -> &str {
        detail.split_once('"').map_or(detail, |(words, _)| words)
    }
}

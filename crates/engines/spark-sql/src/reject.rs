//! Rejects as Spark SQL (mirrors sweep_formats::reject, and the checks sweep_formats'
//! reader makes before a parser sees the line): the reject struct with its reason code and
//! detail, the first failing check of a parse, the `invalid_utf8` and `control_character`
//! rejects of a raw line, and the bytes a reject keeps.

use crate::fields::{escape_debug, lit, truncate_bytes};

/// A reject: its reason code and its detail (a SQL expression).
pub fn rejection(reason: &str, detail: String) -> String {
    reject_struct(reason, &detail, NO_TEXT, NO_TEXT)
}

/// A reject whose detail is `prefix` (a SQL expression) followed by the value `value` as
/// the embedded parser quotes it, Rust's `{:?}` of `truncate(value)`.
pub(crate) fn rejection_quoting(reason: &str, prefix: impl std::fmt::Display, value: &str) -> String {
    reject_struct(reason, &format!("concat({prefix}, {QUOTED_1})"), &truncate_bytes(value), NO_TEXT)
}

const NO_TEXT: &str = "CAST(NULL AS STRING)";

/// Where a reject's detail shows its first and its second quoted value (see [`reject_struct`]).
pub(crate) const QUOTED_1: &str = "chr(1)";
pub(crate) const QUOTED_2: &str = "chr(2)";

/// A parse's reject, `named_struct(reason, detail, quoted_1, quoted_2)`: the detail shows
/// the texts `quoted_1` and `quoted_2` as Rust's `{:?}` writes them where it holds
/// [`QUOTED_1`] and [`QUOTED_2`] (see [`reject_detail`]). The quoting is done when the
/// rejects table is written, over the rejects alone: for the rare characters Rust writes as
/// `\u{..}` it takes a per-character lambda, which in the parse would keep Spark from
/// compiling the parse's steps into one function.
pub(crate) fn reject_struct(reason: &str, detail: &str, quoted_1: &str, quoted_2: &str) -> String {
    format!("named_struct('reason', '{reason}', 'detail', {detail}, 'quoted_1', {quoted_1}, 'quoted_2', {quoted_2})")
}

/// The detail text of the reject struct `r` (see `reject_struct`). Escaped text holds no
/// control characters, so a marker is never read inside a quoted value.
pub fn reject_detail(r: &str) -> String {
    format!(
        "CASE WHEN {r}.quoted_1 IS NULL THEN {r}.detail \
         ELSE replace(replace({r}.detail, {QUOTED_1}, {}), {QUOTED_2}, coalesce({}, '')) END",
        escape_debug(&format!("{r}.quoted_1")),
        escape_debug(&format!("{r}.quoted_2"))
    )
}

/// The reject of the first check (condition, reject) that holds, or NULL for an event.
pub(crate) fn first_reject(checks: Vec<(String, String)>) -> String {
    let whens: Vec<String> = checks.into_iter().map(|(cond, rej)| format!("WHEN {cond} THEN {rej}")).collect();
    format!("CASE {} END", whens.join(" "))
}

/// One valid UTF-8 sequence as the hex digits Spark's `hex` writes (RFC 3629, as Rust's
/// `str::from_utf8` checks it: no overlong forms, no surrogates, nothing past U+10FFFF).
const UTF8_SEQUENCE_HEX: &str = "[0-7][0-9A-F]|C[2-9A-F][89AB][0-9A-F]|D[0-9A-F][89AB][0-9A-F]|E0[AB][0-9A-F][89AB][0-9A-F]\
|E[1-9A-CEF][89AB][0-9A-F][89AB][0-9A-F]|ED[89][0-9A-F][89AB][0-9A-F]|F0[9AB][0-9A-F](?:[89AB][0-9A-F]){2}\
|F[1-3][89AB][0-9A-F](?:[89AB][0-9A-F]){2}|F48[0-9A-F](?:[89AB][0-9A-F]){2}";

/// The `invalid_utf8` reject of the bytes `bytes` (BINARY, known not to be UTF-8), with the
/// embedded reader's detail: the length of the valid prefix (`Utf8Error::valid_up_to`). The
/// pattern is possessive, so a line of a mebibyte is read without backtracking.
pub fn invalid_utf8(bytes: &str) -> String {
    let prefix = format!("regexp_extract(hex({bytes}), {}, 0)", lit(&format!("^(?:{UTF8_SEQUENCE_HEX})*+")));
    rejection("invalid_utf8", format!("concat('invalid UTF-8 at byte ', CAST(char_length({prefix}) / 2 AS BIGINT))"))
}

/// The reader's check for a `\r` or NUL in `line` (the line as text, without the `\r` of its
/// `\r\n`, known to be UTF-8), as a `WHEN ... THEN reject` clause: the `control_character`
/// reject of the first one, with the embedded parser's detail (its byte position).
pub fn control_character(line: &str) -> String {
    let before = format!("regexp_extract({line}, {}, 0)", lit("^[^\\r\\x00]*+"));
    let detail = |byte: u8| {
        let (name, why) = sweep_formats::control_character_text(byte);
        format!("concat({}, octet_length({before}), {})", lit(&format!("{name} at byte ")), lit(&format!(": {why}")))
    };
    format!(
        "WHEN instr({line}, chr(13)) > 0 OR instr({line}, chr(0)) > 0 THEN {}",
        rejection(
            "control_character",
            format!("CASE WHEN substr({line}, char_length({before}) + 1, 1) = chr(13) THEN {} ELSE {} END", detail(b'\r'), detail(0))
        )
    )
}

/// The bytes a reject keeps of the line `bytes` (BINARY): all of them, but for a `too_long`
/// reject, whose first `max_line` bytes the embedded reader keeps.
pub fn reject_raw(bytes: &str, max_line: usize) -> String {
    format!("CASE WHEN rej.reason = 'too_long' THEN substr({bytes}, 1, {}) ELSE {bytes} END", max_line.min(i32::MAX as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_character_detail_is_the_embedded_one() {
        let sql = control_character("line");
        // The texts as Spark reads the literals: the embedded parser's words around the position.
        assert!(
            sql.contains(
                r"'carriage return at byte ', octet_length(regexp_extract(line, '^[^\\r\\x00]*+', 0)), ': a line break without \\n after it"
            ),
            "{sql}"
        );
        assert!(sql.contains("'NUL at byte '"), "{sql}");
        assert!(
            sql.starts_with("WHEN instr(line, chr(13)) > 0 OR instr(line, chr(0)) > 0 THEN named_struct('reason', 'control_character'"),
            "{sql}"
        );
    }
}

//! Field values as Spark SQL (mirrors sweep_formats::fields): literals and patterns, the
//! addresses `ip_field` reads, the numbers `int_field` reads, `dash_none`, a missing field
//! (`Cursor::need`), and the text a reject quotes (`truncate`, then Rust's `{:?}`).

use crate::reject::rejection;
use crate::steps::Steps;

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `x RLIKE pattern` with the pattern written as Rust text.
pub(crate) fn rlike(x: &str, pattern: &str) -> String {
    format!("({x} RLIKE {})", lit(pattern))
}

const V4: &str = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

/// RFC 3986's IPv6address rule (what Rust's `Ipv6Addr` parser accepts).
fn v6_pattern() -> String {
    let h16 = "[0-9A-Fa-f]{1,4}";
    let ls32 = format!("(?:{h16}:{h16}|{V4})");
    let mut alts = vec![format!("(?:{h16}:){{6}}{ls32}"), format!("::(?:{h16}:){{5}}{ls32}")];
    // [ (h16:){0,k-1} h16 ] :: (h16:){4-k} ls32, for k = 1..=4, then the two shorter tails.
    for (before, after) in [(0, 4), (1, 3), (2, 2), (3, 1), (4, 0)] {
        let head = if before == 0 { format!("(?:{h16})?") } else { format!("(?:(?:{h16}:){{0,{before}}}{h16})?") };
        alts.push(format!("{head}::(?:{h16}:){{{after}}}{ls32}"));
    }
    alts.push(format!("(?:(?:{h16}:){{0,5}}{h16})?::{h16}"));
    alts.push(format!("(?:(?:{h16}:){{0,6}}{h16})?::"));
    format!("(?:{})", alts.join("|"))
}

/// True when `x` is an address written without brackets (what the sweeper parses).
pub fn is_ip_literal(x: &str) -> String {
    format!(
        "({x} IS NOT NULL AND CASE WHEN instr({x}, ':') = 0 THEN {} ELSE {} END)",
        rlike(x, &format!("^{V4}\\z")),
        rlike(x, &format!("^{}\\z", v6_pattern()))
    )
}

/// [`is_ip_literal`] of the column `x` that [`ip_steps`] read with prefix `p`, from its
/// columns (two steps after its base): the IPv4 pattern, the common case, runs once for both.
pub fn is_ip_literal_of_steps(x: &str, p: &str) -> String {
    format!("({x} IS NOT NULL AND {p}_b = {x} AND CASE WHEN {p}_c THEN {} ELSE {p}_v4 END)", rlike(x, &format!("^{}\\z", v6_pattern())))
}

/// Adds, from step `base` on, the columns `{p}_hex` (32 hex digits of the address, IPv4 as
/// IPv4-mapped IPv6, for comparisons) and `{p}_value` (the address as `ip_field` writes it:
/// brackets dropped, IPv4-mapped IPv6 as IPv4) of the address column `x`, and returns the
/// step after the last one used. Both are meaningful only for text that is an address.
pub fn ip_steps(steps: &mut Steps, base: usize, x: &str, p: &str) -> usize {
    address_steps(steps, base, x, p, true)
}

/// [`ip_steps`], with `{p}_hex` of an IPv4 address left null unless `v4_hex`: a parsed field
/// stores an IPv4 address as written and never reads its hex digits.
fn address_steps(steps: &mut Steps, base: usize, x: &str, p: &str, v4_hex: bool) -> usize {
    // Four octets as eight hex digits.
    let v4hex = |octets: &str| {
        let octet = |i: usize| format!("lpad(hex(CAST(get({octets}, {i}) AS INT)), 2, '0')");
        format!("lower(concat({}, {}, {}, {}))", octet(0), octet(1), octet(2), octet(3))
    };
    // Most values are IPv4 addresses (or, for hosts, names): the IPv6 columns are computed
    // only for values with a colon, and are null (and cost nothing) for the rest.
    steps.at(
        base,
        format!("{p}_b"),
        format!("CASE WHEN {x} LIKE '[%' OR {x} LIKE '%]' THEN regexp_replace({x}, '^\\\\[|\\\\]\\\\z', '') ELSE {x} END"),
    );
    steps.at(base + 1, format!("{p}_c"), format!("(instr({p}_b, ':') > 0)"));
    steps.at(base + 1, format!("{p}_v4"), format!("(instr({p}_b, ':') = 0 AND {})", rlike(&format!("{p}_b"), &format!("^{V4}\\z"))));
    if v4_hex {
        steps.at(base + 2, format!("{p}_oct"), format!("CASE WHEN {p}_v4 THEN split({p}_b, '\\\\.') END"));
    }
    steps.at(
        base + 2,
        format!("{p}_tail"),
        format!("CASE WHEN {p}_c AND instr({p}_b, '.') > 0 THEN regexp_extract({p}_b, '([0-9.]+)\\\\z', 1) END"),
    );
    steps.at(
        base + 3,
        format!("{p}_tailhex"),
        format!("CASE WHEN {p}_tail IS NOT NULL THEN {} END", v4hex(&format!("split({p}_tail, '\\\\.')"))),
    );
    // A dotted tail becomes two hex groups, then `::` is expanded to the missing groups and
    // every group padded to four digits (by regular expressions: a lambda would keep Spark
    // from compiling the step to Java code).
    steps.at(
        base + 4,
        format!("{p}_s6"),
        format!(
            "CASE WHEN {p}_c THEN lower(CASE WHEN {p}_tail IS NOT NULL THEN concat(substr({p}_b, 1, length({p}_b) - length({p}_tail)), \
             substr({p}_tailhex, 1, 4), ':', substr({p}_tailhex, 5, 4)) ELSE {p}_b END) END"
        ),
    );
    steps.at(base + 5, format!("{p}_halves"), format!("CASE WHEN {p}_c THEN split({p}_s6, '::', -1) END"));
    steps.at(
        base + 6,
        format!("{p}_left"),
        format!(
            "CASE WHEN NOT {p}_c THEN NULL WHEN get({p}_halves, 0) = '' THEN CAST(array() AS ARRAY<STRING>) \
             ELSE split(get({p}_halves, 0), ':') END"
        ),
    );
    steps.at(
        base + 6,
        format!("{p}_right"),
        format!(
            "CASE WHEN NOT {p}_c THEN NULL WHEN size({p}_halves) < 2 OR get({p}_halves, 1) = '' THEN CAST(array() AS ARRAY<STRING>) \
             ELSE split(get({p}_halves, 1), ':') END"
        ),
    );
    steps.at(
        base + 7,
        format!("{p}_hex"),
        format!(
            "CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL \
             WHEN {p}_v4 THEN {} \
             WHEN {p}_c THEN replace(regexp_replace(regexp_replace(concat(':', array_join(concat({p}_left, \
                 array_repeat('0', 8 - size({p}_left) - size({p}_right)), {p}_right), ':')), ':', ':000'), \
                 ':0*([0-9a-f]{{4}})(?=:|$)', '$1'), ':', '') END",
            if v4_hex { format!("concat('00000000000000000000ffff', {})", v4hex(&format!("{p}_oct"))) } else { "NULL".into() }
        ),
    );
    let dotted = |h: &str| {
        let octet = |at: usize| format!("CAST(conv(substr({h}, {at}, 2), 16, 10) AS STRING)");
        format!("concat_ws('.', {}, {}, {}, {})", octet(25), octet(27), octet(29), octet(31))
    };
    steps.at(
        base + 8,
        format!("{p}_value"),
        format!(
            "CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL WHEN {p}_v4 THEN {p}_b \
             WHEN substr({p}_hex, 1, 24) = '00000000000000000000ffff' THEN {} ELSE lower({p}_b) END",
            dotted(&format!("{p}_hex"))
        ),
    );
    base + 9
}

/// Rust's `Display` of an IPv6 address, from `w`: its 32 hex digits (`ip_steps`' `{p}_hex`)
/// as [`ipv6_groups`] writes them. The longest run of two or more zero groups (the first of
/// equal runs) is written `::`.
fn ipv6_display(w: &str) -> String {
    // Between colons, a run of n zero groups is `:0(:0){n-1}:`; the first longest one becomes
    // `::`, then the colons added around the groups go, unless they belong to that `::`.
    let runs: String = (2..=8)
        .rev()
        .map(|n| {
            let run = format!(":0(?::0){{{}}}:", n - 1);
            format!(" WHEN {} THEN regexp_replace({w}, {}, '$1::')", rlike(w, &run), lit(&format!("^(.*?){run}")))
        })
        .collect();
    format!("regexp_replace(CASE{runs} ELSE {w} END, '^:(?!:)|(?<!:):\\\\z', '')")
}

/// The eight groups of an address given as 32 hex digits, without leading zeros, between
/// colons (`:2001:db8:0:0:0:0:0:1:`).
fn ipv6_groups(hex: &str) -> String {
    format!("concat(':', regexp_replace(regexp_replace({hex}, '([0-9a-f]{{4}})(?!\\\\z)', '$1:'), '(^|:)0{{1,3}}(?=[0-9a-f])', '$1'), ':')")
}

/// Adds, from step `base` on, the checks and value of the address field `x` (null when
/// absent) as `fields::ip_field` reads it: `{p}_bad` (true
/// when it is not an address) and `{p}_ip` (the address as stored), and `{p}_core` (the text
/// checked, for the message); returns the step after the last one used.
///
/// `ip_field` strips one pair of outer brackets at a time until the text parses, so the text
/// checked is `x` without as many leading `[` and trailing `]` as it has of both; that text
/// may then be empty or `-`, which is no address and no error. An IPv6 address written with
/// an upper-case letter is stored in Rust's canonical form; one without is kept as written.
pub(crate) fn ip_field_steps(steps: &mut Steps, base: usize, x: &str, p: &str) -> usize {
    // Nearly every value has no brackets: the layers are counted only for those that do.
    let layers = format!(
        "CASE WHEN {x} LIKE '[%' AND {x} LIKE '%]' THEN least(char_length({x}) - char_length(TRIM(LEADING '[' FROM {x})), \
         char_length({x}) - char_length(TRIM(TRAILING ']' FROM {x}))) ELSE 0 END"
    );
    steps.at(base, format!("{p}_k"), layers);
    steps.at(
        base + 1,
        format!("{p}_core"),
        format!("CASE WHEN {p}_k = 0 THEN {x} ELSE substr({x}, {p}_k + 1, char_length({x}) - 2 * {p}_k) END"),
    );
    let core = format!("{p}_core");
    let next = address_steps(steps, base + 2, &core, p, false);
    // An address has no brackets left: an IPv4 one is `ip_steps`' `_v4` of the text itself,
    // so its pattern runs once; only text with a colon meets the IPv6 grammar.
    steps.at(
        base + 4,
        format!("{p}_bad"),
        format!(
            "({core} IS NOT NULL AND {core} NOT IN ('', '-') AND NOT CASE WHEN {p}_v4 THEN {p}_b = {core} WHEN {p}_c THEN {} ELSE FALSE END)",
            rlike(&core, &format!("^{}\\z", v6_pattern()))
        ),
    );
    steps.at(
        next,
        format!("{p}_w"),
        format!(
            "CASE WHEN {p}_c AND {} AND substr({p}_hex, 1, 24) <> '00000000000000000000ffff' THEN {} END",
            rlike(&core, "[A-Z]"),
            ipv6_groups(&format!("{p}_hex"))
        ),
    );
    steps.at(
        next + 1,
        format!("{p}_ip"),
        format!("CASE WHEN {p}_w IS NOT NULL THEN {} ELSE {p}_value END", ipv6_display(&format!("{p}_w"))),
    );
    next + 2
}

const ASCII_UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ASCII_LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

/// `x` with ASCII letters lower-cased and every other character kept (Rust's
/// `to_ascii_lowercase`; Spark's `lower` also maps non-ASCII letters).
pub(crate) fn ascii_lower(x: &str) -> String {
    format!("translate({x}, '{ASCII_UPPER}', '{ASCII_LOWER}')")
}

/// `x` without the trailing white space the pattern `\s+\z` removes (space, tab, line
/// feed, vertical tab, form feed, carriage return), without a regular expression.
pub(crate) fn trim_trailing_space(x: &str) -> String {
    format!("TRIM(TRAILING ' \\t\\n\\u000B\\u000C\\r' FROM {x})")
}

/// `int_field`: empty and `-` are none; otherwise an optionally signed decimal of at most 18 digits.
pub(crate) fn int_ok(x: &str) -> String {
    format!("({x} IN ('', '-') OR {})", rlike(x, "^[+-]?[0-9]{1,18}\\z"))
}

pub(crate) fn int_value(x: &str) -> String {
    format!("CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL ELSE CAST({x} AS BIGINT) END")
}

/// `dash_none`: empty and `-` are none.
pub(crate) fn dash_none(x: &str) -> String {
    format!("CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL ELSE {x} END")
}

/// `Cursor::need` failed: the field is missing.
pub(crate) fn missing(x: &str) -> String {
    format!("({x} IS NULL OR {x} = '')")
}

/// The `field_count` reject of a missing field (`Cursor::need`).
pub(crate) fn field_missing(what: &str) -> String {
    rejection("field_count", lit(&format!("line ends before the {what} field")))
}

/// The characters Rust's `{:?}` of a string writes as `\u{..}`: controls, format and private
/// use characters, unassigned code points, separators but the space, and combining marks
/// (which it escapes as grapheme extenders).
const ESCAPED_BY_DEBUG: &str = r"[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Mn}\p{Me}&&[^ \t\r\n]]";

/// Rust's `{:?}` of the text `x`: quoted, with `\\`, `\"`, `\t`, `\r`, `\n` and `\0`
/// escaped, and the characters of [`ESCAPED_BY_DEBUG`] as `\u{hex}`. Text without such
/// characters (nearly all) takes the path without a lambda.
pub(crate) fn escape_debug(x: &str) -> String {
    let simple = format!(
        "concat('\"', replace(replace(replace(replace(replace({x}, '\\\\', '\\\\\\\\'), '\"', '\\\\\"'), '\\t', '\\\\t'), \
         '\\r', '\\\\r'), '\\n', '\\\\n'), '\"')"
    );
    let each = format!(
        "concat('\"', array_join(transform(regexp_extract_all({x}, '(?s).', 0), c -> CASE WHEN c = '\\\\' THEN '\\\\\\\\' \
         WHEN c = '\"' THEN '\\\\\"' WHEN c = '\\t' THEN '\\\\t' WHEN c = '\\r' THEN '\\\\r' WHEN c = '\\n' THEN '\\\\n' \
         WHEN ascii(c) = 0 THEN '\\\\0' WHEN {} THEN concat('\\\\u{{', lower(hex(ascii(c))), '}}') ELSE c END), ''), '\"')",
        rlike("c", ESCAPED_BY_DEBUG)
    );
    format!("(CASE WHEN {} THEN {each} ELSE {simple} END)", rlike(x, ESCAPED_BY_DEBUG))
}

/// `sweep_formats::fields::truncate`: at most 64 bytes, cut at a character boundary.
pub(crate) fn truncate_bytes(x: &str) -> String {
    let continuation = |i: usize| format!("(hex(substr(encode({x}, 'UTF-8'), {i}, 1)) BETWEEN '80' AND 'BF')");
    format!(
        "CASE WHEN octet_length({x}) <= 64 THEN {x} ELSE decode(substr(encode({x}, 'UTF-8'), 1, \
         CASE WHEN NOT {} THEN 64 WHEN NOT {} THEN 63 WHEN NOT {} THEN 62 ELSE 61 END), 'UTF-8') END",
        continuation(65),
        continuation(64),
        continuation(63)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit(r"a'b\c"), r"'a\'b\\c'");
    }
}

//! Log formats as Spark SQL.
//!
//! Each function here mirrors a parser of sweep-formats check for check, so that a line
//! becomes the same event, or the same reject with the same reason, on both engines. The
//! embedded parser is the reference; the differential tests (crates/cli/tests/spark_diff.rs)
//! hold the two together. The SQL runs with Spark's ANSI mode on (the 4.0 default), so array
//! access uses `get` and numbers are checked by pattern before they are cast.

use sweep_formats::FormatSpec;

use crate::Unsupported;

mod clf;
mod custom;
mod elff;
mod jsonl;
mod squid;
pub mod time;
mod zscaler;

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

pub(crate) const V4: &str = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

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

/// Columns computed in steps: a step's expressions may use, by name, the columns of the
/// steps before it. Every step is its own `SELECT`, and Spark does not merge a step into the
/// next when that would copy an expression into several users, so the SQL and the plan stay
/// small however many times a column is used.
#[derive(Debug, Default, Clone)]
pub struct Steps {
    steps: Vec<Vec<(String, String)>>,
}

impl Steps {
    /// Adds `name = expr` to step `i`.
    pub fn at(&mut self, i: usize, name: impl Into<String>, expr: impl Into<String>) {
        while self.steps.len() <= i {
            self.steps.push(Vec::new());
        }
        self.steps[i].push((name.into(), expr.into()));
    }

    /// The `SELECT` that computes every step over `input` (a query or a view name in
    /// parentheses), keeping the input's columns.
    pub fn over(&self, input: &str) -> String {
        let mut sql = input.to_string();
        for (i, step) in self.steps.iter().enumerate() {
            let columns: Vec<String> = step.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
            sql = format!("SELECT *, {} FROM ({sql}) s{i}", columns.join(", "));
        }
        sql
    }
}

/// Adds, from step `base` on, the columns `{p}_hex` (32 hex digits of the address, IPv4 as
/// IPv4-mapped IPv6, for comparisons) and `{p}_value` (the address as `ip_field` writes it:
/// brackets dropped, IPv4-mapped IPv6 as IPv4) of the address column `x`, and returns the
/// step after the last one used. Both are meaningful only for text that is an address.
pub fn ip_steps(steps: &mut Steps, base: usize, x: &str, p: &str) -> usize {
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
    steps.at(base + 2, format!("{p}_oct"), format!("CASE WHEN {p}_v4 THEN split({p}_b, '\\\\.') END"));
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
             WHEN {p}_v4 THEN concat('00000000000000000000ffff', {}) \
             WHEN {p}_c THEN replace(regexp_replace(regexp_replace(concat(':', array_join(concat({p}_left, \
                 array_repeat('0', 8 - size({p}_left) - size({p}_right)), {p}_right), ':')), ':', ':000'), \
                 ':0*([0-9a-f]{{4}})(?=:|$)', '$1'), ':', '') END",
            v4hex(&format!("{p}_oct"))
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
    let next = ip_steps(steps, base + 2, &core, p);
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

/// `int_field`: `-` is none; otherwise an optionally signed decimal of at most 18 digits.
pub(crate) fn int_ok(x: &str) -> String {
    format!("({x} = '-' OR {})", rlike(x, "^[+-]?[0-9]{1,18}\\z"))
}

pub(crate) fn int_value(x: &str) -> String {
    format!("CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL ELSE CAST({x} AS BIGINT) END")
}

/// `dash_none`: empty and `-` are none.
pub(crate) fn dash_none(x: &str) -> String {
    format!("CASE WHEN {x} IS NULL OR {x} IN ('', '-') THEN NULL ELSE {x} END")
}

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

/// The detail text of the reject struct `r` (see [`reject_struct`]). Escaped text holds no
/// control characters, so a marker is never read inside a quoted value.
pub fn reject_detail(r: &str) -> String {
    format!(
        "CASE WHEN {r}.quoted_1 IS NULL THEN {r}.detail \
         ELSE replace(replace({r}.detail, {QUOTED_1}, {}), {QUOTED_2}, coalesce({}, '')) END",
        escape_debug(&format!("{r}.quoted_1")),
        escape_debug(&format!("{r}.quoted_2"))
    )
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

/// The `field_count` reject of a missing field (`Cursor::need`).
pub(crate) fn field_missing(what: &str) -> String {
    rejection("field_count", lit(&format!("line ends before the {what} field")))
}

/// The reject of the first check (condition, reject) that holds, or NULL for an event.
pub(crate) fn first_reject(checks: Vec<(String, String)>) -> String {
    let whens: Vec<String> = checks.into_iter().map(|(cond, rej)| format!("WHEN {cond} THEN {rej}")).collect();
    format!("CASE {} END", whens.join(" "))
}

/// `Cursor::need` failed: the field is missing.
pub(crate) fn missing(x: &str) -> String {
    format!("({x} IS NULL OR {x} = '')")
}

/// Adds, from step `base` on, the columns `Record::set_url` fills (`{p}_scheme`, `{p}_host`,
/// `{p}_port`, `{p}_path`, `{p}_query`) from the request target column `u` and the method
/// column `m`; returns the step after the last one used. Mirrors
/// sweep_formats::url::split_url and lower_host.
pub(crate) fn url_steps(steps: &mut Steps, base: usize, u: &str, m: &str, p: &str) -> usize {
    steps.at(base, format!("{p}_origin"), format!("({u} LIKE '/%')"));
    steps.at(base, format!("{p}_sch"), format!("regexp_extract({u}, '^([A-Za-z0-9+.-]+)://', 1)"));
    steps.at(base + 1, format!("{p}_has_sch"), format!("(NOT {p}_origin AND {p}_sch <> '')"));
    steps.at(base + 2, format!("{p}_after"), format!("CASE WHEN {p}_has_sch THEN substr({u}, length({p}_sch) + 4) ELSE {u} END"));
    steps.at(base + 3, format!("{p}_auth"), format!("regexp_extract({p}_after, '^([^/?#]*)', 1)"));
    steps.at(base + 4, format!("{p}_tail"), format!("CASE WHEN {p}_origin THEN {u} ELSE substr({p}_after, length({p}_auth) + 1) END"));
    // Userinfo ends at the last `@`.
    steps.at(base + 4, format!("{p}_a"), format!("regexp_replace({p}_auth, '(?s)^.*@', '')"));
    steps.at(base + 5, format!("{p}_pq"), format!("regexp_extract({p}_tail, '^([^#]*)', 1)"));
    steps.at(base + 5, format!("{p}_colons"), format!("(size(split({p}_a, ':', -1)) - 1)"));
    steps.at(base + 5, format!("{p}_be"), format!("instr({p}_a, ']')"));
    steps.at(base + 6, format!("{p}_ab"), format!("substr({p}_a, {p}_be + 1)"));
    let port_of = |x: &str| format!("CASE WHEN {} AND CAST({x} AS INT) <= 65535 THEN CAST({x} AS INT) END", rlike(x, "^[0-9]{1,5}\\z"));
    let host_raw = format!(
        "CASE WHEN {p}_origin OR {p}_a = '' THEN NULL \
         WHEN {p}_a LIKE '[%' AND {p}_be > 0 THEN nullif(substr({p}_a, 2, {p}_be - 2), '') \
         WHEN {p}_a LIKE '[%' THEN {p}_a \
         WHEN {p}_colons >= 2 THEN {p}_a \
         WHEN {p}_colons = 1 THEN nullif(substring_index({p}_a, ':', 1), '') \
         ELSE {p}_a END"
    );
    steps.at(base + 7, format!("{p}_host_raw"), host_raw);
    steps.at(
        base + 7,
        format!("{p}_port_raw"),
        format!(
            "CASE WHEN {p}_origin OR {p}_a = '' THEN NULL \
             WHEN {p}_a LIKE '[%' AND {p}_be > 0 AND {p}_ab LIKE ':%' THEN {} \
             WHEN {p}_a LIKE '[%' THEN NULL \
             WHEN {p}_colons = 1 THEN {} \
             ELSE NULL END",
            port_of(&format!("substr({p}_ab, 2)")),
            port_of(&format!("substring_index({p}_a, ':', -1)"))
        ),
    );
    let default_port = format!(
        "CASE lower({p}_sch) WHEN 'http' THEN 80 WHEN 'ws' THEN 80 WHEN 'https' THEN 443 WHEN 'wss' THEN 443 WHEN 'ftp' THEN 21 END"
    );
    let when_url = |e: String| format!("CASE WHEN {u} IS NOT NULL THEN {e} END");
    steps.at(base + 8, format!("{p}_scheme"), when_url(format!("CASE WHEN {p}_has_sch THEN {p}_sch END")));
    steps.at(base + 8, format!("{p}_host"), when_url(ascii_lower(&format!("regexp_replace({p}_host_raw, '\\\\.\\\\z', '')"))));
    steps.at(
        base + 8,
        format!("{p}_port"),
        when_url(format!(
            "CASE WHEN {p}_origin THEN NULL WHEN {p}_has_sch THEN coalesce({p}_port_raw, {default_port}) \
             ELSE coalesce({p}_port_raw, CASE WHEN upper({m}) = 'CONNECT' THEN 443 END) END"
        )),
    );
    steps.at(
        base + 8,
        format!("{p}_path"),
        when_url(format!(
            "CASE WHEN {p}_origin THEN regexp_extract({p}_pq, '^([^?]*)', 1) ELSE nullif(regexp_extract({p}_pq, '^([^?]*)', 1), '') END"
        )),
    );
    steps.at(
        base + 8,
        format!("{p}_query"),
        when_url(format!("CASE WHEN instr({p}_pq, '?') > 0 THEN substr({p}_pq, instr({p}_pq, '?') + 1) END")),
    );
    base + 9
}

/// The parse of one format, as steps over the columns `line` (the line without its `\r`).
/// The last step holds `parse_rej`, a struct (reason, detail) that is null for events,
/// `parse_skip`, true for lines the format skips (comments, directives, header rows), and
/// every column of the events table but the provenance.
pub struct FormatSql {
    pub name: &'static str,
    pub steps: Steps,
}

/// The columns of the events table that a format fills (all but the provenance), in
/// table order.
pub fn event_columns() -> Vec<String> {
    sweep_formats::events_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| !["format", "source", "offset"].contains(&name.as_str()))
        .collect()
}

pub use elff::Directive;

/// The SQL of a format, or why it cannot run on Spark yet.
pub fn format_sql(spec: &FormatSpec) -> Result<FormatSql, Unsupported> {
    file_format_sql(spec, &[])
}

/// The SQL of a format for one file whose header directives (`#Fields:` lines of ELFF,
/// see `FormatSpec::header_directive`) are `directives`.
pub fn file_format_sql(spec: &FormatSpec, directives: &[Directive]) -> Result<FormatSql, Unsupported> {
    match spec {
        FormatSpec::Squid => Ok(squid::squid()),
        FormatSpec::Common => Ok(clf::clf(clf::Variant::Common)),
        FormatSpec::Combined => Ok(clf::clf(clf::Variant::Combined)),
        FormatSpec::VhostCombined => Ok(clf::clf(clf::Variant::VhostCombined)),
        FormatSpec::SquidCommon => Ok(clf::clf(clf::Variant::SquidCommon)),
        FormatSpec::SquidCombined => Ok(clf::clf(clf::Variant::SquidCombined)),
        FormatSpec::Elff(options) => Ok(elff::elff(options, directives)),
        FormatSpec::Zscaler(options) => zscaler::zscaler(options),
        FormatSpec::Jsonl(mapping) => jsonl::jsonl(mapping),
        FormatSpec::Custom(options) => custom::custom(options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn squid_fills_every_event_column() {
        let steps = squid::squid().steps;
        let filled: Vec<&str> = steps.steps.iter().flatten().filter_map(|(name, _)| name.strip_prefix("e_")).collect();
        assert_eq!(filled, event_columns(), "the squid SQL must fill the events table's columns, in order");
    }

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

    #[test]
    fn steps_nest_in_order_and_keep_the_sql_small() {
        let mut st = Steps::default();
        st.at(1, "b", "a + 1");
        st.at(0, "a", "x * 2");
        assert_eq!(st.over("SELECT 1 AS x"), "SELECT *, a + 1 AS b FROM (SELECT *, x * 2 AS a FROM (SELECT 1 AS x) s0) s1");
        // The whole squid parse stays far below what Spark's parser handles comfortably.
        let sql = squid::squid().steps.over("lines");
        assert!(sql.len() < 40_000, "{} bytes", sql.len());
    }
}

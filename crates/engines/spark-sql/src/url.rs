//! Request targets as Spark SQL (mirrors sweep_formats::url): the scheme, host, port, path
//! and query of a logged URL.

use crate::fields::{ascii_lower, rlike};
use crate::steps::Steps;

/// Adds, from step `base` on, the columns `Record::set_url` fills (`{p}_scheme`, `{p}_host`,
/// `{p}_port`, `{p}_path`, `{p}_query`) from the request target column `u` and the method
/// column `m`; returns the step after the last one used. Mirrors
/// sweep_formats::url::split_url and lower_host.
pub(crate) fn url_steps(steps: &mut Steps, base: usize, u: &str, m: &str, p: &str) -> usize {
    steps.at(base, format!("{p}_origin"), format!("({u} LIKE '/%')"));
    steps.at(base, format!("{p}_sch"), format!("regexp_extract({u}, '^([A-Za-z0-9+.-]+)://', 1)"));
    steps.at(base + 1, format!("{p}_has_sch"), format!("(NOT {p}_origin AND {p}_sch <> '')"));
    steps.at(base + 2, format!("{p}_after"), format!("CASE WHEN {p}_has_sch THEN substr({u}, length({p}_sch) + 4) ELSE {u} END"));
    steps.at(base + 3, format!("{p}_auth"), format!("substring_index(translate({p}_after, '?#', '//'), '/', 1)"));
    steps.at(base + 4, format!("{p}_tail"), format!("CASE WHEN {p}_origin THEN {u} ELSE substr({p}_after, length({p}_auth) + 1) END"));
    // Userinfo ends at the last `@`. (String functions rather than regular expressions split
    // the target: on Spark they cost a fraction per row.)
    steps.at(base + 4, format!("{p}_a"), format!("substring_index({p}_auth, '@', -1)"));
    steps.at(base + 5, format!("{p}_pq"), format!("substring_index({p}_tail, '#', 1)"));
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
    steps.at(
        base + 8,
        format!("{p}_host"),
        when_url(ascii_lower(&format!(
            "CASE WHEN endswith({p}_host_raw, '.') THEN substr({p}_host_raw, 1, char_length({p}_host_raw) - 1) ELSE {p}_host_raw END"
        ))),
    );
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
        when_url(format!("CASE WHEN {p}_origin THEN substring_index({p}_pq, '?', 1) ELSE nullif(substring_index({p}_pq, '?', 1), '') END")),
    );
    steps.at(
        base + 8,
        format!("{p}_query"),
        when_url(format!("CASE WHEN instr({p}_pq, '?') > 0 THEN substr({p}_pq, instr({p}_pq, '?') + 1) END")),
    );
    base + 9
}

//! Sigma rules on Spark: every rule's condition ([`sweep_sigma::tree::Condition`]) compiled to
//! a Spark SQL boolean expression, all rules evaluated in one pass over the events (an array
//! of the indexes of the rules that hold, exploded), joined to the rules' metadata: the rows
//! of the embedded engine's `detections` table. Correlations are rare: the observations of
//! the rules they reference come back to sweep, which runs `sweep_sigma::Correlator` on them
//! as the embedded engine does.
//!
//! The compiled SQL keeps the rules of `sweep_sigma::tree` (two-valued logic: every atom is
//! wrapped in `coalesce(.., false)`; case-insensitive text compares `lower()` of both sides;
//! the extension of `path` as `path_extension` computes it). Regular expressions run as Java
//! regular expressions (docs/spark.md lists the differences).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use sweep_runtime::sigma::SigmaStage;
use sweep_sigma::tree::{Atom, Cidr, Column, Condition, Matcher, NumOp, Piece, RefKind};
use sweep_sigma::{CorrelationKind, Detection, RuleIndex, at_or_above};
use sweep_spark_sql::fields::{ip_steps, is_ip_literal, lit};
use sweep_spark_sql::steps::Steps;

use crate::SparkError;
use crate::client::{self, SparkClient};

/// A column name as a quoted identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Trims whitespace as Rust's `str::trim` does (Unicode White_Space).
fn trim(x: &str) -> String {
    format!("regexp_replace({x}, '(?U)^\\\\s+|\\\\s+\\\\z', '')")
}

/// The text of a column: integers in decimal; the extension of `path` as
/// `sweep_sigma`'s `path_extension` computes it (the text after the last `.` of the last
/// `/`-separated segment, lowercased; null without one, or when it is empty).
fn text(c: &Column) -> String {
    match c {
        Column::Event(name) => format!("CAST({} AS STRING)", ident(name)),
        Column::PathExtension => "lower(nullif(regexp_extract(CAST(`path` AS STRING), '\\\\.([^./]+)\\\\z', 1), ''))".to_string(),
    }
}

/// The text of a column as a finite number, as Rust's `f64::from_str` reads the trimmed text
/// (null when it is not a number).
fn number(c: &Column) -> String {
    let t = trim(&text(c));
    format!("CASE WHEN {t} RLIKE '^[+-]?(?:[0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)(?:[eE][+-]?[0-9]+)?\\\\z' THEN CAST({t} AS DOUBLE) END",)
}

/// A wildcard pattern as a `LIKE` pattern (escape character `\`).
fn like_pattern(pattern: &[Piece], cased: bool) -> String {
    let mut out = String::new();
    for p in pattern {
        match p {
            Piece::AnyChars => out.push('%'),
            Piece::AnyChar => out.push('_'),
            Piece::Literal(s) => {
                let s = if cased { s.clone() } else { s.to_lowercase() };
                for ch in s.chars() {
                    if matches!(ch, '%' | '_' | '\\') {
                        out.push('\\');
                    }
                    out.push(ch);
                }
            }
        }
    }
    out
}

/// A Rust regular expression (with its flags) as a Java one: `UNIX_LINES` (only `\n` ends a
/// line, as in Rust) and `UNICODE_CHARACTER_CLASS` (`\w`, `\d`, `\s`, `\b` and case folding
/// Unicode-aware, as in Rust); Rust's `(?P<name>` groups are Java's `(?<name>`.
pub(crate) fn java_regex(pattern: &str, flags: sweep_sigma::tree::RegexFlags) -> String {
    format!("(?dU){}", flags.wrap(&pattern.replace("(?P<", "(?<")))
}

/// 32 hex digits as 128 `0`/`1` characters.
fn hex_to_bits(hex: &str) -> String {
    let part = |i: usize| format!("lpad(conv(substr({hex}, {}, 8), 16, 2), 32, '0')", i * 8 + 1);
    format!("concat({}, {}, {}, {})", part(0), part(1), part(2), part(3))
}

/// The rules compiled: the steps that prepare the columns (addresses for `cidr`) and each
/// rule's condition over them.
pub(crate) struct Compiled {
    steps: Steps,
    /// The prefix of each column the `cidr` atoms read (its steps' columns).
    cidr_columns: BTreeMap<Column, String>,
}

impl Compiled {
    fn new(conditions: &[&Condition]) -> Compiled {
        let mut cidr_columns = BTreeMap::new();
        let mut steps = Steps::default();
        for c in conditions {
            for a in c.atoms() {
                if matches!(a.matcher, Matcher::Cidr(_)) && !cidr_columns.contains_key(&a.column) {
                    let p = format!("sigma_ip{}", cidr_columns.len());
                    steps.at(0, format!("{p}_t"), trim(&text(&a.column)));
                    steps.at(1, format!("{p}_ok"), is_ip_literal(&format!("{p}_t")));
                    ip_steps(&mut steps, 1, &format!("{p}_t"), &p);
                    cidr_columns.insert(a.column.clone(), p);
                }
            }
        }
        Compiled { steps, cidr_columns }
    }

    fn condition(&self, c: &Condition) -> String {
        match c {
            Condition::And(v) => format!("({})", v.iter().map(|c| self.condition(c)).collect::<Vec<_>>().join(" AND ")),
            Condition::Or(v) => format!("({})", v.iter().map(|c| self.condition(c)).collect::<Vec<_>>().join(" OR ")),
            Condition::Not(c) => format!("(NOT {})", self.condition(c)),
            Condition::Atom(a) => format!("coalesce({}, false)", self.atom(a)),
        }
    }

    fn atom(&self, a: &Atom) -> String {
        let col = text(&a.column);
        let folded = |cased: bool, x: String| if cased { x } else { format!("lower({x})") };
        let value = |cased: bool, v: &str| if cased { lit(v) } else { lit(&v.to_lowercase()) };
        match &a.matcher {
            Matcher::Equals { value: v, cased } => format!("({} = {})", folded(*cased, col), value(*cased, v)),
            Matcher::Contains { value: v, cased } => format!("contains({}, {})", folded(*cased, col), value(*cased, v)),
            Matcher::StartsWith { value: v, cased } => format!("startswith({}, {})", folded(*cased, col), value(*cased, v)),
            Matcher::EndsWith { value: v, cased } => format!("endswith({}, {})", folded(*cased, col), value(*cased, v)),
            Matcher::Wildcard { pattern, cased } => format!("({} LIKE {})", folded(*cased, col), lit(&like_pattern(pattern, *cased))),
            Matcher::Regex { pattern, flags } => format!("({col} RLIKE {})", lit(&java_regex(pattern, *flags))),
            Matcher::Cidr(cidr) => self.cidr(&a.column, cidr),
            Matcher::Numeric { op, value } => {
                let n = number(&a.column);
                let op = match op {
                    NumOp::Eq => "=",
                    NumOp::Lt => "<",
                    NumOp::Lte => "<=",
                    NumOp::Gt => ">",
                    NumOp::Gte => ">=",
                };
                format!("(abs({n}) < CAST('Infinity' AS DOUBLE) AND {n} {op} CAST({} AS DOUBLE))", lit(&format!("{:?}", value.0)))
            }
            Matcher::Exists(true) => format!("({col} IS NOT NULL)"),
            Matcher::Exists(false) | Matcher::Null => format!("({col} IS NULL)"),
            Matcher::FieldRef { other, kind, cased } => {
                let (a, b) = (folded(*cased, col), folded(*cased, text(other)));
                match kind {
                    RefKind::Equals => format!("({a} = {b})"),
                    RefKind::Contains => format!("contains({a}, {b})"),
                    RefKind::StartsWith => format!("startswith({a}, {b})"),
                    RefKind::EndsWith => format!("endswith({a}, {b})"),
                }
            }
        }
    }

    /// The address (the trimmed text, as Rust's `IpAddr` parses it: no brackets, no zone) in
    /// the network; IPv4 addresses are never in IPv6 networks and the other way round.
    fn cidr(&self, column: &Column, cidr: &Cidr) -> String {
        let p = &self.cidr_columns[column];
        match cidr.network {
            IpAddr::V4(n) => {
                let key = u64::from(u32::from(n)) >> (32 - u32::from(cidr.prefix));
                format!(
                    "({p}_ok AND {p}_v4 AND shiftright(CAST(conv(substr({p}_hex, 25, 8), 16, 10) AS BIGINT), {}) = {key})",
                    32 - u32::from(cidr.prefix)
                )
            }
            IpAddr::V6(n) => {
                let bits: String = format!("{:0128b}", u128::from(n)).chars().take(cidr.prefix as usize).collect();
                format!("({p}_ok AND {p}_c AND substr({}, 1, {}) = '{bits}')", hex_to_bits(&format!("{p}_hex")), cidr.prefix)
            }
        }
    }
}

/// The columns the correlations read (their group-by and value fields), by source column.
fn correlation_columns(stage: &SigmaStage) -> Vec<String> {
    let mut cols = BTreeSet::new();
    for c in &stage.correlations {
        for g in &c.group_by {
            cols.insert(g.source().to_string());
        }
        if let CorrelationKind::ValueCount { field } = &c.kind {
            cols.insert(field.source().to_string());
        }
    }
    cols.into_iter().collect()
}

/// The matches of the view `events`: `ts, client_ip, user, host, url, format, source,
/// offset, rule` (an index into the analyser's rules) and `sigma_c{i}` (the text of the
/// correlations' columns), for the rules that are written (at `min_level` or above) or that a
/// correlation references. `None` when no rule is.
pub(crate) fn matches_sql(stage: &SigmaStage) -> Option<String> {
    let rules = stage.analyser.rules();
    let referenced: BTreeSet<usize> = stage.correlations.iter().flat_map(|c| c.rules.iter().map(|r| r.0)).collect();
    let evaluated: Vec<usize> =
        (0..rules.len()).filter(|&i| at_or_above(&rules[i].meta, stage.min_level) || referenced.contains(&i)).collect();
    if evaluated.is_empty() {
        return None;
    }
    let compiled = Compiled::new(&evaluated.iter().map(|&i| &rules[i].condition).collect::<Vec<_>>());
    let cases: Vec<String> =
        evaluated.iter().map(|&i| format!("CASE WHEN {} THEN {i} END", compiled.condition(&rules[i].condition))).collect();
    let extra: String =
        correlation_columns(stage).iter().enumerate().map(|(i, c)| format!(", CAST({} AS STRING) AS sigma_c{i}", ident(c))).collect();
    Some(format!(
        "SELECT ts, client_ip, user, host, url, format, source, offset, rule{extra} \
         FROM (SELECT *, explode(filter(array({}), x -> x IS NOT NULL)) AS rule FROM ({}) s) m",
        cases.join(", "),
        compiled.steps.over("SELECT * FROM events")
    ))
}

/// The rules' metadata as a query: `rule, rule_id, rule_title, level, status, tags`, for the
/// rules at `min_level` or above.
fn rules_sql(stage: &SigmaStage) -> Option<String> {
    let opt = |v: &Option<String>| v.as_deref().map_or_else(|| "CAST(NULL AS STRING)".to_string(), lit);
    let rows: Vec<String> = stage
        .analyser
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| at_or_above(&r.meta, stage.min_level))
        .map(|(i, r)| {
            let m = &r.meta;
            let tags: Vec<String> = m.tags.iter().map(|t| lit(t)).collect();
            format!(
                "SELECT {i} AS rule, {} AS rule_id, {} AS rule_title, {} AS level, {} AS status, CAST(array({}) AS ARRAY<STRING>) AS tags",
                opt(&m.id),
                lit(&m.title),
                opt(&m.level),
                opt(&m.status),
                tags.join(", ")
            )
        })
        .collect();
    (!rows.is_empty()).then(|| rows.join(" UNION ALL "))
}

/// Evaluates the rules over the view `events` into the view `sweep_detections` (the
/// detections table's columns, correlations' rows included) and returns its row count.
/// `correlator` takes the referenced rules' detections (a batch run's, made for the run; a
/// stream's, which carries its state from batch to batch); with `final_flush` it matches
/// everything it holds, otherwise what its watermark has passed. `staging` is where the
/// correlations' rows are handed to the server.
pub(crate) async fn detect(
    spark: &mut SparkClient,
    stage: &SigmaStage,
    correlator: Option<&mut sweep_sigma::Correlator>,
    final_flush: bool,
    staging: &std::path::Path,
    checkpoints: &mut Vec<String>,
    staged_files: &mut Vec<std::path::PathBuf>,
) -> Result<u64, SparkError> {
    let Some(matches) = matches_sql(stage) else {
        spark.create_view("sweep_detections", client::sql(&format!("{} WHERE false", empty_detections_sql()))).await?;
        return Ok(0);
    };
    checkpoints.push(spark.checkpoint("sweep_sigma_matches", client::sql(&matches), "evaluating the Sigma rules").await?);
    let mut parts = Vec::new();
    let mut rows = 0;
    if let Some(rules) = rules_sql(stage) {
        let query = format!(
            "SELECT /*+ BROADCAST(r) */ m.ts, m.client_ip, m.user, m.host, m.url, r.rule_id, r.rule_title, r.level, r.status, r.tags, \
                    CAST(NULL AS STRING) AS group_by, CAST(NULL AS BIGINT) AS count, CAST(NULL AS TIMESTAMP) AS first_ts, \
                    m.format, m.source, m.offset \
             FROM sweep_sigma_matches m JOIN ({rules}) r ON m.rule = r.rule"
        );
        spark.create_view("sweep_sigma_rows", client::sql(&query)).await?;
        rows += crate::run::count(spark, "SELECT count(*) FROM sweep_sigma_rows", "counting detections").await?;
        parts.push("SELECT * FROM sweep_sigma_rows".to_string());
    }
    if let Some(correlator) = correlator {
        let columns = correlation_columns(stage);
        let referenced: BTreeSet<usize> = stage.correlations.iter().flat_map(|c| c.rules.iter().map(|r| r.0)).collect();
        let list: Vec<String> = referenced.iter().map(|r| r.to_string()).collect();
        let extra: String = (0..columns.len()).map(|i| format!(", sigma_c{i}")).collect();
        let query = format!(
            "SELECT unix_micros(ts) AS ts, source, offset, rule{extra} FROM sweep_sigma_matches WHERE rule IN ({}) \
             ORDER BY source, offset, rule",
            list.join(", ")
        );
        let observed = spark.sql(&query, "collecting the observations of the Sigma correlations").await?;
        let (batch, found) = observations(&observed, &columns)?;
        correlator.observe(&batch, &found).map_err(sweep_runtime::RunError::from)?;
        // The watermark follows every event, not only the detected ones: the newest event
        // time is observed as an event with no detection.
        let newest = spark.sql("SELECT max(unix_micros(ts)) FROM events", "reading the newest event time").await?;
        if let Some(t) = newest.first().and_then(|b| b.column(0).as_primitive_opt::<Int64Type>()).filter(|t| t.is_valid(0)) {
            let (newest, _) = observations(&[], &columns)?;
            let mut arrays: Vec<ArrayRef> =
                vec![Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![t.value(0)]).with_timezone(sweep_formats::schema::UTC))];
            arrays.extend(columns.iter().map(|_| Arc::new(arrow::array::StringArray::from(vec![None::<&str>])) as ArrayRef));
            let one = RecordBatch::try_new(newest.schema(), arrays).map_err(|e| SparkError::Protocol(e.to_string()))?;
            correlator.observe(&one, &[]).map_err(sweep_runtime::RunError::from)?;
        }
        let matches = if final_flush { correlator.finish() } else { correlator.end_batch() };
        let corr = sweep_sigma::correlation_batch(&correlator, &matches, stage.min_level).map_err(sweep_runtime::RunError::from)?;
        if corr.num_rows() > 0 {
            rows += corr.num_rows() as u64;
            let path = staging.join("correlations.parquet");
            crate::sweep::write_parquet(&corr, &path)?;
            staged_files.push(path.clone());
            spark
                .create_view(
                    "sweep_sigma_correlations",
                    client::read("parquet", vec![crate::run::spark_path(&path)], std::collections::HashMap::new()),
                )
                .await?;
            parts.push(
                "SELECT ts, client_ip, user, host, url, rule_id, rule_title, level, status, tags, group_by, count, first_ts, format, \
                 source, offset FROM sweep_sigma_correlations"
                    .to_string(),
            );
        }
    }
    let query = if parts.is_empty() { format!("{} WHERE false", empty_detections_sql()) } else { parts.join(" UNION ALL ") };
    spark.create_view("sweep_detections", client::sql(&query)).await?;
    Ok(rows)
}

/// One row of the detections table's columns, for an empty table.
fn empty_detections_sql() -> &'static str {
    "SELECT CAST(NULL AS TIMESTAMP) AS ts, CAST(NULL AS STRING) AS client_ip, CAST(NULL AS STRING) AS user, \
     CAST(NULL AS STRING) AS host, CAST(NULL AS STRING) AS url, CAST(NULL AS STRING) AS rule_id, '' AS rule_title, \
     CAST(NULL AS STRING) AS level, CAST(NULL AS STRING) AS status, CAST(array() AS ARRAY<STRING>) AS tags, \
     CAST(NULL AS STRING) AS group_by, CAST(NULL AS BIGINT) AS count, CAST(NULL AS TIMESTAMP) AS first_ts, \
     CAST(NULL AS STRING) AS format, CAST(NULL AS STRING) AS source, CAST(NULL AS BIGINT) AS offset"
}

/// The collected observations (`ts, source, offset, rule, sigma_c*`, ordered by event) as
/// one batch of events (`ts` and the correlations' columns by name) and its detections.
fn observations(batches: &[RecordBatch], columns: &[String]) -> Result<(RecordBatch, Vec<Detection>), SparkError> {
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone(sweep_formats::schema::UTC);
    let mut texts: Vec<StringBuilder> = columns.iter().map(|_| StringBuilder::new()).collect();
    let mut found = Vec::new();
    let mut last: Option<(Option<String>, Option<i64>)> = None;
    let mut row = 0usize;
    let bad = |what: &str| SparkError::Protocol(format!("the Sigma observations: unexpected type of {what}"));
    for b in batches {
        let t = b.column(0).as_primitive_opt::<Int64Type>().ok_or_else(|| bad("ts"))?;
        let source = b.column(1).as_string_opt::<i32>().ok_or_else(|| bad("source"))?;
        let offset = b.column(2).as_primitive_opt::<Int64Type>().ok_or_else(|| bad("offset"))?;
        let rule = b.column(3).as_primitive_opt::<Int32Type>().ok_or_else(|| bad("rule"))?;
        for i in 0..b.num_rows() {
            let key = (source.is_valid(i).then(|| source.value(i).to_string()), offset.is_valid(i).then(|| offset.value(i)));
            if last.as_ref() != Some(&key) {
                if last.is_some() {
                    row += 1;
                }
                last = Some(key);
                ts.append_option(t.is_valid(i).then(|| t.value(i)));
                for (c, builder) in texts.iter_mut().enumerate() {
                    let col = b.column(4 + c).as_string_opt::<i32>().ok_or_else(|| bad("a correlation column"))?;
                    builder.append_option(col.is_valid(i).then(|| col.value(i)));
                }
            }
            found.push(Detection { row, rule: RuleIndex(rule.value(i) as usize) });
        }
    }
    let mut fields = vec![Field::new("ts", sweep_formats::schema::timestamp_type(), true)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(ts.finish())];
    for (name, mut b) in columns.iter().zip(texts) {
        fields.push(Field::new(name, DataType::Utf8, true));
        arrays.push(Arc::new(b.finish()));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| SparkError::Protocol(e.to_string()))?;
    Ok((batch, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sweep_sigma::tree::RegexFlags;

    #[test]
    fn like_patterns_escape_the_like_wildcards() {
        let p = vec![Piece::Literal("A%_\\".into()), Piece::AnyChar, Piece::AnyChars];
        assert_eq!(like_pattern(&p, false), "a\\%\\_\\\\_%");
        assert_eq!(like_pattern(&p, true), "A\\%\\_\\\\_%");
    }

    #[test]
    fn regexes_get_rusts_line_and_unicode_semantics() {
        let f = RegexFlags { case_insensitive: true, ..RegexFlags::default() };
        assert_eq!(java_regex("(?P<x>a)$", f), "(?dU)(?i:(?<x>a)$)");
        assert_eq!(java_regex("a", RegexFlags::default()), "(?dU)(?:a)");
    }

    #[test]
    fn atoms_are_two_valued() {
        let c = Compiled::new(&[]);
        let a = Atom { column: Column::Event("url".into()), matcher: Matcher::Contains { value: "X'".into(), cased: false } };
        assert_eq!(
            c.condition(&Condition::Not(Box::new(Condition::Atom(a)))),
            "(NOT coalesce(contains(lower(CAST(`url` AS STRING)), 'x\\''), false))"
        );
    }
}

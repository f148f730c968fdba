//! Reading event columns, the per-atom tests shared by both evaluators, and the naive
//! (reference) evaluator.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use arrow_schema::DataType;
use regex::Regex;

use crate::tree::{Atom, Column, Matcher, RefKind};
use crate::value::{WildcardProgram, fold, path_extension};
use crate::{Detection, RuleIndex, RuleSet, SigmaError};

#[derive(Clone, Copy)]
enum Col<'a> {
    Str(&'a StringArray),
    LargeStr(&'a LargeStringArray),
    View(&'a StringViewArray),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
}

/// One column of a batch as Sigma sees it (text, number, null).
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    col: Col<'a>,
    extension: bool,
}

impl<'a> Reader<'a> {
    fn raw_text(&self, row: usize) -> Option<Cow<'a, str>> {
        match self.col {
            Col::Str(a) => a.is_valid(row).then(|| Cow::Borrowed(a.value(row))),
            Col::LargeStr(a) => a.is_valid(row).then(|| Cow::Borrowed(a.value(row))),
            Col::View(a) => a.is_valid(row).then(|| Cow::Borrowed(a.value(row))),
            Col::I32(a) => a.is_valid(row).then(|| Cow::Owned(a.value(row).to_string())),
            Col::I64(a) => a.is_valid(row).then(|| Cow::Owned(a.value(row).to_string())),
        }
    }

    /// The value's text (integers in decimal); `None` when null.
    pub(crate) fn text(&self, row: usize) -> Option<Cow<'a, str>> {
        let t = self.raw_text(row)?;
        if !self.extension {
            return Some(t);
        }
        match t {
            Cow::Borrowed(path) => path_extension(path),
            Cow::Owned(path) => path_extension(&path).map(|e| Cow::Owned(e.into_owned())),
        }
    }

    /// The value as a number: integer columns directly, text parsed (trimmed) as a decimal number.
    pub(crate) fn number(&self, row: usize) -> Option<f64> {
        if !self.extension {
            match self.col {
                Col::I32(a) => return a.is_valid(row).then(|| f64::from(a.value(row))),
                Col::I64(a) => return a.is_valid(row).then(|| a.value(row) as f64),
                _ => {}
            }
        }
        self.text(row)?.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    }

    pub(crate) fn is_null(&self, row: usize) -> bool {
        if self.extension {
            return self.text(row).is_none();
        }
        match self.col {
            Col::Str(a) => a.is_null(row),
            Col::LargeStr(a) => a.is_null(row),
            Col::View(a) => a.is_null(row),
            Col::I32(a) => a.is_null(row),
            Col::I64(a) => a.is_null(row),
        }
    }
}

/// The columns of a batch that some rules read.
pub(crate) struct BatchView<'a> {
    pub(crate) readers: HashMap<Column, Reader<'a>>,
}

impl<'a> BatchView<'a> {
    pub(crate) fn new<'c>(batch: &'a RecordBatch, columns: impl IntoIterator<Item = &'c Column>) -> Result<Self, SigmaError> {
        let mut readers = HashMap::new();
        for c in columns {
            if readers.contains_key(c) {
                continue;
            }
            let name = c.source();
            let arr = batch.column_by_name(name).ok_or_else(|| {
                SigmaError::Column(format!("the batch has no `{name}` column, which Sigma rules read (see SigmaAnalyser::columns)"))
            })?;
            let col = match arr.data_type() {
                DataType::Utf8 => Col::Str(arr.as_string::<i32>()),
                DataType::LargeUtf8 => Col::LargeStr(arr.as_string::<i64>()),
                DataType::Utf8View => Col::View(arr.as_string_view()),
                DataType::Int32 => Col::I32(arr.as_primitive::<Int32Type>()),
                DataType::Int64 => Col::I64(arr.as_primitive::<Int64Type>()),
                other => return Err(SigmaError::Column(format!("column `{name}` is {other}; Sigma reads text or integer columns"))),
            };
            readers.insert(c.clone(), Reader { col, extension: matches!(c, Column::PathExtension) });
        }
        Ok(BatchView { readers })
    }

    pub(crate) fn reader(&self, c: &Column) -> Reader<'a> {
        self.readers[c]
    }
}

/// The non-text atoms' tests (and `FieldRef`), shared by both evaluators.
pub(crate) fn eval_other(m: &Matcher, r: Reader<'_>, view: &BatchView<'_>, row: usize) -> bool {
    match m {
        Matcher::Cidr(c) => r.text(row).and_then(|t| t.trim().parse::<IpAddr>().ok()).is_some_and(|ip| c.contains(ip)),
        Matcher::Numeric { op, value } => r.number(row).is_some_and(|n| op.apply(n, value.0)),
        Matcher::Exists(b) => r.is_null(row) != *b,
        Matcher::Null => r.is_null(row),
        Matcher::FieldRef { other, kind, cased } => {
            let (Some(a), Some(b)) = (r.text(row), view.reader(other).text(row)) else { return false };
            let (a, b) = if *cased { (a, b) } else { (Cow::Owned(fold(&a).into_owned()), Cow::Owned(fold(&b).into_owned())) };
            match kind {
                RefKind::Equals => a == b,
                RefKind::Contains => a.contains(b.as_ref()),
                RefKind::StartsWith => a.starts_with(b.as_ref()),
                RefKind::EndsWith => a.ends_with(b.as_ref()),
            }
        }
        _ => unreachable!("text matchers are not evaluated here"),
    }
}

/// A matcher prepared for the naive evaluator.
enum Prepared {
    Regex(Regex),
    Wildcard(WildcardProgram),
    Plain,
}

fn prepare(m: &Matcher) -> Result<Prepared, SigmaError> {
    Ok(match m {
        Matcher::Regex { pattern, flags } => Prepared::Regex(
            Regex::new(&flags.wrap(pattern))
                .map_err(|e| SigmaError::Compile { rule: format!("(regex {pattern})"), reason: e.to_string() })?,
        ),
        Matcher::Wildcard { pattern, cased } => Prepared::Wildcard(WildcardProgram::new(pattern, *cased)),
        _ => Prepared::Plain,
    })
}

fn eval_naive_atom(a: &Atom, p: &Prepared, view: &BatchView<'_>, row: usize) -> bool {
    let r = view.reader(&a.column);
    let text_test = |value: &str, cased: bool, f: fn(&str, &str) -> bool| {
        r.text(row).is_some_and(|t| if cased { f(&t, value) } else { f(&t.to_lowercase(), &value.to_lowercase()) })
    };
    match &a.matcher {
        Matcher::Equals { value, cased } => text_test(value, *cased, |t, v| t == v),
        Matcher::Contains { value, cased } => text_test(value, *cased, |t, v| t.contains(v)),
        Matcher::StartsWith { value, cased } => text_test(value, *cased, |t, v| t.starts_with(v)),
        Matcher::EndsWith { value, cased } => text_test(value, *cased, |t, v| t.ends_with(v)),
        Matcher::Wildcard { cased, .. } => {
            let Prepared::Wildcard(w) = p else { unreachable!() };
            r.text(row).is_some_and(|t| if *cased { w.matches(&t) } else { w.matches(&t.to_lowercase()) })
        }
        Matcher::Regex { .. } => {
            let Prepared::Regex(re) = p else { unreachable!() };
            r.text(row).is_some_and(|t| re.is_match(&t))
        }
        m => eval_other(m, r, view, row),
    }
}

/// The reference semantics: every rule's tree evaluated on every row, atom by atom. Slow;
/// for differential tests of [`crate::SigmaAnalyser`].
pub fn evaluate_naive(rules: &RuleSet, batch: &RecordBatch) -> Result<Vec<Detection>, SigmaError> {
    let mut columns = Vec::new();
    let mut prepared: HashMap<&Atom, Prepared> = HashMap::new();
    for r in rules.rules() {
        for a in r.condition.atoms() {
            columns.push(a.column.clone());
            if let Matcher::FieldRef { other, .. } = &a.matcher {
                columns.push(other.clone());
            }
            if !prepared.contains_key(a) {
                prepared.insert(a, prepare(&a.matcher)?);
            }
        }
    }
    let view = BatchView::new(batch, &columns)?;
    let mut out = Vec::new();
    for row in 0..batch.num_rows() {
        for (i, r) in rules.rules().iter().enumerate() {
            if r.condition.eval(&mut |a| eval_naive_atom(a, &prepared[a], &view, row)) {
                out.push(Detection { row, rule: RuleIndex(i) });
            }
        }
    }
    Ok(out)
}

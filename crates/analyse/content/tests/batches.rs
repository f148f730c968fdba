//! `analyse` on batches: the findings table's shape, row order, copied columns, input types.

mod common;

use std::sync::Arc;

use arrow::compute::cast;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use sweep_content::{ContentError, findings_schema};

#[test]
fn one_row_per_event_and_finding_in_event_order() {
    let a = default_analyser();
    let hosts = [
        Some("www.wikipedia.org"),
        Some("paypa1.com"),
        None,
        Some(""),
        Some("45.9.148.12"),
        Some("paypal.com.xjw9q2kz7hf0v3lp.com"),
        Some("paypa1.com"),
        Some("10.0.0.1"),
    ];
    let out = a.analyse(&batch(&hosts)).unwrap();
    assert_eq!(out.schema(), findings_schema());
    let r = rows(&out);
    let got: Vec<(i64, &str, &str)> = r.iter().map(|r| (r.offset, r.host.as_str(), r.finding.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (2, "paypa1.com", "typosquat"),
            (5, "45.9.148.12", "missing_fqdn"),
            (6, "paypal.com.xjw9q2kz7hf0v3lp.com", "masquerade"),
            (6, "paypal.com.xjw9q2kz7hf0v3lp.com", "dga"),
            (7, "paypa1.com", "typosquat"),
        ]
    );
    // Event columns are copied from the right row; the verdict from judge().
    let row = &r[0];
    assert_eq!(row.ts, T0 + 1);
    assert_eq!(row.client_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(row.user.as_deref(), Some("u1"));
    assert_eq!(row.url.as_deref(), Some("https://paypa1.com/p1"));
    assert_eq!(row.source, "test.log");
    assert_eq!(row.reason, "host paypa1.com looks like paypal.com: digit 1 in place of letter l");
    assert_eq!(row.score, a.judge("paypa1.com")[0].score);
    assert_eq!(r[1].user.as_deref(), Some("u4"));
    assert_eq!(r[4].user, None, "a null user stays null");
    assert_eq!((r[0].score, &r[0].reason), (r[4].score, &r[4].reason), "same host, same verdict");
}

#[test]
fn empty_and_clean_batches_give_empty_findings() {
    let a = default_analyser();
    assert_eq!(a.analyse(&batch(&[])).unwrap().num_rows(), 0);
    let out = a.analyse(&batch(&[Some("google.com"), Some("github.com"), None])).unwrap();
    assert_eq!((out.num_rows(), out.schema()), (0, findings_schema()));
}

/// The batch with its string columns in another type.
fn recast(b: &RecordBatch, to: &DataType) -> RecordBatch {
    let fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| if f.data_type() == &DataType::Utf8 { Field::new(f.name(), to.clone(), f.is_nullable()) } else { f.as_ref().clone() })
        .collect();
    let cols: Vec<ArrayRef> =
        b.columns().iter().map(|c| if c.data_type() == &DataType::Utf8 { cast(c, to).unwrap() } else { c.clone() }).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

#[test]
fn string_views_large_strings_and_dictionaries_are_read() {
    let a = default_analyser();
    let b = batch(&[Some("paypa1.com"), Some("example.org"), Some("2001:4860:4860::8888"), None, Some("xn--pypal-4ve.com")]);
    let expected = rows(&a.analyse(&b).unwrap());
    assert_eq!(expected.len(), 3);
    for t in [DataType::Utf8View, DataType::LargeUtf8, DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))] {
        let out = a.analyse(&recast(&b, &t)).unwrap();
        assert_eq!(rows(&out), expected, "{t}");
    }
}

#[test]
fn missing_or_mistyped_columns_are_errors_that_say_what_to_do() {
    let a = default_analyser();
    let b = batch(&[Some("paypa1.com")]);
    let without = |name: &str| {
        let keep: Vec<usize> = (0..b.num_columns()).filter(|&i| b.schema().field(i).name() != name).collect();
        b.project(&keep).unwrap()
    };
    for name in ["host", "ts", "offset", "url"] {
        match a.analyse(&without(name)) {
            Err(ContentError::Column(msg)) => {
                assert!(msg.contains(&format!("no column `{name}`")) && msg.contains("[[transform]]"), "{msg}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // host as a number.
    let mut cols = b.columns().to_vec();
    let i = b.schema().index_of("host").unwrap();
    cols[i] = Arc::new(arrow_array::Int64Array::from(vec![1]));
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("host", DataType::Int64, true);
    let bad = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    match a.analyse(&bad) {
        Err(ContentError::Column(msg)) => assert!(msg.contains("column `host` is Int64"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_null_host_column_gives_nothing() {
    let a = default_analyser();
    let b = batch(&[Some("paypa1.com"), Some("paypa1.com")]);
    let i = b.schema().index_of("host").unwrap();
    let mut cols = b.columns().to_vec();
    cols[i] = arrow_array::new_null_array(&DataType::Null, 2);
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("host", DataType::Null, true);
    let out = a.analyse(&RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()).unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.column(3).null_count(), 0);
}

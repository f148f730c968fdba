//! The line numbers of a file read in many splits, on a live Spark Connect server: every line
//! once, numbered from 1 in file order, as the embedded reader numbers them.

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;

use crate::client::{self, Remote, SparkClient};

#[test]
fn a_file_read_in_many_splits_is_numbered_in_file_order() {
    let Some(remote) = crate::test_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many-splits.log");
    // Lines of every length up to a split's size, blank ones, CRLF endings, and a last line
    // without a line break.
    let mut want: Vec<String> = Vec::new();
    let mut text = String::new();
    for i in 0..6_000usize {
        let line = match i % 50 {
            7 => String::new(),
            8 => " \t ".to_string(),
            _ => format!("line {i} {}", "x".repeat((i * 37) % 301)),
        };
        text.push_str(&line);
        if i % 11 == 3 {
            text.push('\r');
        }
        if i + 1 < 6_000 {
            text.push('\n');
        }
        want.push(line);
    }
    std::fs::write(&path, &text).unwrap();

    let runtime = crate::run::client_runtime().unwrap();
    runtime.block_on(async {
        let mut spark = SparkClient::connect(&Remote::parse(&remote).unwrap()).await.unwrap();
        crate::run::prepare_session(&mut spark).await.unwrap();
        spark.sql("SET spark.sql.files.maxPartitionBytes=16384", "small splits").await.unwrap();
        let options = std::collections::HashMap::from([("lineSep".to_string(), "\n".to_string())]);
        spark.create_view("many_splits", client::read("text", vec![path.display().to_string()], options)).await.unwrap();
        let splits =
            spark.sql("SELECT count(DISTINCT b) FROM (SELECT input_file_block_start() AS b FROM many_splits) t", "splits").await.unwrap();
        let splits = splits[0].column(0).as_primitive::<Int64Type>().value(0);
        assert!(splits >= 20, "the file is read in many splits, not {splits}");

        let lines = crate::run::numbered_lines(&mut spark, "many_splits", "'many-splits.log'", &path).await.unwrap();
        let batches = spark.sql(&format!("SELECT offset, line, blank FROM ({lines}) l ORDER BY offset"), "lines").await.unwrap();
        let mut got: Vec<(i64, String, bool)> = Vec::new();
        for batch in &batches {
            let (offsets, texts, blanks) =
                (batch.column(0).as_primitive::<Int64Type>(), batch.column(1).as_string::<i32>(), batch.column(2).as_boolean());
            for row in 0..batch.num_rows() {
                got.push((offsets.value(row), texts.value(row).to_string(), blanks.value(row)));
            }
        }
        assert_eq!(got.len(), want.len(), "every line once");
        for (n, ((offset, line, blank), expected)) in got.iter().zip(&want).enumerate() {
            assert_eq!(*offset, n as i64 + 1, "line numbers run from 1 without gaps");
            assert_eq!(line, expected, "line {offset} is the file's line {offset}, without its \\r");
            assert_eq!(*blank, expected.trim_matches([' ', '\t']).is_empty(), "line {offset}: blank");
        }
    });
}

//! How the cost of one stream commit to a Delta table changes as the table grows.
//!
//! `cargo run --release --example delta_commit_cost -- [commits] [rows per commit]`
//! prints the mean time of a commit for every block of 100 commits.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use sweep_load::delta::DeltaSink;

fn main() {
    let mut args = std::env::args().skip(1);
    let commits: i64 = args.next().map_or(2_000, |a| a.parse().expect("commits is a number"));
    let rows: i64 = args.next().map_or(100, |a| a.parse().expect("rows is a number"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false), Field::new("host", DataType::Utf8, false)]));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let mut sink = DeltaSink::open("events", &dir.path().join("events"), &schema, false).await.expect("the table opens");
        let mut block = Instant::now();
        for batch_id in 0..commits {
            let n = Int64Array::from_iter_values(batch_id * rows..(batch_id + 1) * rows);
            let host = StringArray::from_iter_values((0..rows).map(|i| format!("host{i}.example")));
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(host)]).expect("a batch");
            sink.commit("bench", batch_id, &[batch], false).await.expect("the commit lands");
            if (batch_id + 1) % 100 == 0 {
                println!("commits {:>6}-{:>6}: {:>7.2} ms a commit", batch_id - 98, batch_id + 1, block.elapsed().as_secs_f64() * 10.0);
                block = Instant::now();
            }
        }
    });
}

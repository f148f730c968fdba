//! The time expressions of sweep-spark-sql, run on a live Spark Connect server against
//! sweep_formats::time over the same texts. It lives here, not beside the expressions,
//! because it needs this crate's client and session settings.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use sweep_formats::time;
use sweep_spark_sql::fields::lit;
use sweep_spark_sql::time::{clf_micros, ctime_micros, date_time_micros, epoch_seconds_micros, rfc3339_micros};

use crate::client::{Remote, SparkClient};

type RustParse = fn(&str) -> Option<i64>;

/// Each function, on a live server, against sweep_formats::time over the same texts.
#[test]
fn agree_with_sweep_formats_on_a_server() {
    let Some(remote) = crate::test_server() else { return };
    let date_time = |s: &str| s.split_once('|').and_then(|(d, t)| time::parse_date_and_time(d, t));
    let cases: [(&str, fn(&str) -> String, RustParse, &[&str]); 5] = [
        (
            "epoch",
            epoch_seconds_micros,
            time::parse_epoch_seconds,
            &[
                "1198298239.740",
                "1198298239",
                "0",
                "1198298239.",
                ".5",
                "1234567890123",
                "123456789012.1234567",
                "-1",
                "1e9",
                " 1",
                "12.3.4",
                "",
            ],
        ),
        (
            "date_time",
            |x| date_time_micros(&format!("substring_index({x}, '|', 1)"), &format!("substring_index({x}, '|', -1)")),
            date_time,
            &[
                "2022-06-20|15:29:11",
                "2022-06-20|15:29:11.5",
                "2024-02-29|23:59:60.5",
                "2024-12-31|23:59:60.999999",
                "2022-06-20|15:29:11,123456789",
                "2024-02-29|23:59:60",
                "2023-02-29|00:00:00",
                "2022-13-01|00:00:00",
                "2022-06-20|24:00:00",
                "2022-06-20|15:60:00",
                "2022-6-20|15:29:11",
                "2022-06-20|15:29",
                "2022-06-20|15:29:11.",
                "2022-06-20|15:29:11Z",
                "0001-01-01|00:00:00",
            ],
        ),
        (
            "rfc3339",
            rfc3339_micros,
            time::parse_rfc3339,
            &[
                "2022-06-20T15:29:11Z",
                "2022-06-20t15:29:11.123z",
                "2022-06-20 15:29:11+02:00",
                "2022-06-20T15:29:11-0530",
                "2022-06-20T15:29:11+01",
                "2022-06-20T15:29:11",
                "2022-06-20T15:29:11.1234567+00:00",
                "2022-06-20T15:29:11+24:00",
                "2022-06-20T15:29:11+01:60",
                "2022-06-20T15:29:11+1",
                "2022-06-20T15:29:11 +01:00",
                "2022-06-20X15:29:11Z",
                "2022-02-30T00:00:00Z",
                "2022-06-20T15:29:11Zx",
                "2022-06-20T15:29:11,5Z",
                "2022-06-20T15:29:11.Z",
                "",
            ],
        ),
        (
            "clf",
            clf_micros,
            time::parse_clf,
            &[
                "10/Oct/2000:13:55:36 -0700",
                "10/oct/2000:13:55:36",
                "10/Oct/2000:13:55:36.123 Z",
                "29/Feb/2024:23:59:60",
                "29/Feb/2024:23:59:60.25 +0100",
                "29/Feb/2023:00:00:00",
                "10/Oct/2000:13:55:36 +2400",
                "10/Oct/2000:13:55:36 +01",
                "10/Oct/2000:13:55:36 -02:30",
                "10/Foo/2000:13:55:36",
                "10/Oct/2000:13:55:36  +0000",
                "10/Oct/2000:13:55:36.",
                "1/Oct/2000:13:55:36",
            ],
        ),
        (
            "ctime",
            ctime_micros,
            time::parse_ctime,
            &[
                "Mon Jun 20 15:29:11 2022",
                "Jun 20 15:29:11 2022",
                "  Mon  Jun 20 15:29:11.250 2022 ",
                "Mon Jun 31 15:29:11 2022",
                "Mon Jun 20 15:29 2022",
                "Mon Jun 20 15:29:11",
                "Mon Jun 20 15:29:11 2022 x",
                "Jun Jun 20 15:29:11 2022",
                "Mo Jun 20 15:29:11 2022",
                "Mon Jun 7 5:29:11 2022",
                "Mon\tJun\t20\t15:29:11\t2022",
                "Mon Jun 20 15:29:11,5 2022",
                "1Mo Jun 20 15:29:11 2022",
            ],
        ),
    ];
    let runtime = crate::run::client_runtime().unwrap();
    runtime.block_on(async {
        let mut spark = SparkClient::connect(&Remote::parse(&remote).unwrap()).await.unwrap();
        crate::run::prepare_session(&mut spark).await.unwrap();
        for (name, sql_of, rust_of, texts) in cases {
            let values: Vec<String> = texts.iter().enumerate().map(|(i, t)| format!("({i}, {})", lit(t))).collect();
            let query = format!("SELECT {} AS v FROM VALUES {} AS t(id, x) ORDER BY id", sql_of("x"), values.join(", "));
            let batches = spark.sql(&query, name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            let got: Vec<Option<i64>> = batches
                .iter()
                .flat_map(|b| {
                    let col = b.column(0).as_primitive::<Int64Type>().clone();
                    (0..col.len()).map(move |i| col.is_valid(i).then(|| col.value(i)))
                })
                .collect();
            let want: Vec<Option<i64>> = texts.iter().map(|t| rust_of(t)).collect();
            for ((text, g), w) in texts.iter().zip(&got).zip(&want) {
                assert_eq!(g, w, "{name}({text:?}): spark {g:?}, sweep_formats {w:?}");
            }
            assert_eq!(got.len(), want.len());
        }
    });
}

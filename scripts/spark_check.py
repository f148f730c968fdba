"""End-to-end checks of the local Spark Connect server (run by `scripts/spark submit-check`
with the Spark venv's python): a count, a Python UDF, a Delta table written and read back,
and, with --kafka/--topic, a batch read of a Kafka topic, a Kafka sink write, and a streaming
query from Kafka into a Delta table with a checkpoint (trigger availableNow), run twice to
show that the checkpoint makes the second run read only the new records.

The topic must already hold the lines line-1 .. line-5 (scripts/spark produces them).
Exits non-zero at the first check that fails."""

import argparse
import shutil
import sys
import tempfile
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import udf


def check(name, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--remote", default="sc://127.0.0.1:15002")
    ap.add_argument("--kafka", help="bootstrap servers, e.g. 127.0.0.1:19092")
    ap.add_argument("--topic", help="a topic that holds line-1 .. line-5")
    args = ap.parse_args()

    t0 = time.monotonic()
    spark = SparkSession.builder.remote(args.remote).getOrCreate()
    print(f"spark-check: connected to {args.remote}, Spark {spark.version}", flush=True)
    tmp = tempfile.mkdtemp(prefix="sweep-spark-check-", dir="/tmp")
    try:
        n = spark.range(10).count()
        check("spark.range(10).count()", n == 10, str(n))

        @udf("long")
        def plus_one(x):
            return x + 1

        got = spark.range(5).select(plus_one("id").alias("y")).groupBy().sum("y").collect()[0][0]
        check("Python UDF on the server", got == 15, str(got))

        delta = f"{tmp}/delta-table"
        df = spark.range(100).selectExpr("id", "id % 7 AS bucket", "CAST(id AS STRING) AS s")
        df.write.format("delta").mode("overwrite").save(delta)
        spark.range(100, 110).selectExpr("id", "id % 7 AS bucket", "CAST(id AS STRING) AS s") \
            .write.format("delta").mode("append").save(delta)
        back = spark.read.format("delta").load(delta)
        rows = back.count()
        total = back.groupBy().sum("id").collect()[0][0]
        check("Delta write, append and read back", rows == 110 and total == sum(range(110)),
              f"{rows} rows in {delta}")
        versions = [r["version"] for r in
                    spark.sql(f"DESCRIBE HISTORY delta.`{delta}`").select("version").collect()]
        check("Delta history", sorted(versions) == [0, 1], f"versions {sorted(versions)}")

        if args.kafka and args.topic:
            kafka_checks(spark, args.kafka, args.topic, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"spark-check: all checks passed in {time.monotonic() - t0:.1f} s", flush=True)


def kafka_checks(spark, bootstrap, topic, tmp):
    def source(reader):
        return (reader.format("kafka")
                .option("kafka.bootstrap.servers", bootstrap)
                .option("subscribe", topic)
                .option("startingOffsets", "earliest"))

    expected = {f"line-{i}" for i in range(1, 6)}
    batch = source(spark.read).load().selectExpr("CAST(value AS STRING) AS line")
    got = [r["line"] for r in batch.collect()]
    check("Kafka batch read", sorted(got) == sorted(expected), f"{len(got)} records from {topic}")

    table, ckpt = f"{tmp}/kafka-delta", f"{tmp}/kafka-delta-checkpoint"

    def run_stream():
        q = (source(spark.readStream).load()
             .selectExpr("CAST(value AS STRING) AS line", "partition", "offset", "timestamp")
             .writeStream.format("delta")
             .option("checkpointLocation", ckpt)
             .trigger(availableNow=True)
             .start(table))
        finished = q.awaitTermination(180)
        if not finished:
            q.stop()
        return finished, q.exception()

    finished, err = run_stream()
    check("streaming Kafka -> Delta (availableNow) finished", finished and err is None,
          str(err or ""))
    got = [r["line"] for r in spark.read.format("delta").load(table).collect()]
    check("streamed Delta table read back", sorted(got) == sorted(expected), f"{len(got)} rows")

    more = [f"line-{i}" for i in range(6, 9)]
    spark.createDataFrame([(v,) for v in more], "value STRING").write.format("kafka") \
        .option("kafka.bootstrap.servers", bootstrap).option("topic", topic).save()
    check("Kafka sink write", True, f"{len(more)} more records to {topic}")

    finished, err = run_stream()
    check("second streaming run from the checkpoint", finished and err is None, str(err or ""))
    got = [r["line"] for r in spark.read.format("delta").load(table).collect()]
    check("only the new records were added", sorted(got) == sorted(expected | set(more)),
          f"{len(got)} rows, no duplicates" if len(got) == len(set(got)) else f"{len(got)} rows")


if __name__ == "__main__":
    main()

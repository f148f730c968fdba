//! Kafka pipelines on Spark: Spark reads the topic itself (the log data never passes through
//! this process) and runs one streaming query per table (events, rejects), each with
//! its own checkpoint under `<checkpoint>/spark/`, into Delta or Parquet. Spark's checkpoint
//! and the table's transaction log make every message land exactly once, across restarts.
//!
//! A run reads what the topic holds when it starts, in micro-batches of at most
//! `batch_size` messages, and stops (Spark's available-now trigger: `--until-drained`); run
//! it again, or on a schedule, and it resumes from the checkpoint. The counts come from
//! metrics Spark observes on the rows as they pass (`observe`), reported with each
//! micro-batch's progress.

use std::collections::{BTreeMap, HashMap};

use sweep_embedded::RunSummary;
use sweep_formats::RejectReason;
use sweep_model::{KafkaSourceSpec, Pipeline, SinkSpec, StartPosition};

use crate::client::{self, SparkClient};
use crate::formats::format_sql;
use crate::run::{parsed_sql, spark_path, transform_views};
use crate::{SparkError, proto};

/// Refuses, before anything runs, what a Kafka pipeline on Spark cannot do yet.
pub(crate) fn check_supported_stream(pipeline: &Pipeline, kafka: &KafkaSourceSpec) -> Result<(), SparkError> {
    if kafka.start == StartPosition::Committed {
        return Err(SparkError::Unsupported(
            "start = \"committed\" (the consumer group's offsets): Spark's Kafka source keeps its position in its checkpoint, \
             not in a consumer group; start with --start earliest or --start latest (later runs resume from the checkpoint)"
                .into(),
        ));
    }
    if !pipeline.stream.stop_when_drained {
        return Err(SparkError::Unsupported(
            "a Kafka pipeline that runs until stopped: on Spark a run reads what the topic holds and stops (--until-drained, \
             [stream] stop_when_drained = true); run it on a schedule, each run resumes from the checkpoint"
                .into(),
        ));
    }
    if pipeline.stream.metrics_addr.is_some() {
        return Err(SparkError::Unsupported("the /metrics endpoint (the Spark UI shows a streaming query's progress)".into()));
    }
    if pipeline.analyse.iter().any(|a| matches!(a, sweep_model::AnalyseStage::Sweeper(_))) {
        return Err(SparkError::Unsupported(
            "the sweeper in a Kafka pipeline: not yet on Spark; store the stream's events (this pipeline without --intel) and \
             sweep them with `sweep retro LAKE --intel ... --engine spark`, or run the stream on the embedded engine"
                .into(),
        ));
    }
    for table in ["events", "rejects", "hits"] {
        if let Some(SinkSpec::Jsonl(_)) = pipeline.load.sink(table) {
            return Err(SparkError::Unsupported(format!("the {table} table as JSON lines in a Kafka pipeline: use delta or parquet")));
        }
    }
    Ok(())
}

/// Runs the Kafka pipeline; `summary` gets this run's counts.
pub(crate) async fn run_stream(
    spark: &mut SparkClient,
    pipeline: &Pipeline,
    kafka: &KafkaSourceSpec,
    summary: &mut RunSummary,
) -> Result<(), SparkError> {
    let extract = &pipeline.extract[0];
    let fmt = format_sql(&extract.format)?;
    let checkpoint =
        pipeline.stream.checkpoint.clone().ok_or_else(|| SparkError::Unsupported("a Kafka pipeline without a checkpoint".into()))?;
    let checkpoint = checkpoint.join("spark");

    let mut options = HashMap::from([
        ("kafka.bootstrap.servers".to_string(), kafka.brokers.clone()),
        ("subscribe".to_string(), kafka.topics.join(",")),
        ("startingOffsets".to_string(), if kafka.start == StartPosition::Latest { "latest" } else { "earliest" }.to_string()),
        ("maxOffsetsPerTrigger".to_string(), kafka.batch_size.max(1).to_string()),
        ("includeHeaders".to_string(), "false".to_string()),
    ]);
    for (key, value) in &kafka.options {
        options.insert(format!("kafka.{key}"), value.clone());
    }
    spark.create_view("sweep_kafka", client::read_stream("kafka", options)).await?;

    // One message is one line, its trailing `\n` dropped, as the embedded reader takes it; an
    // empty message is a reject; then the checks of every line (a `\r` dropped, length,
    // UTF-8, blank).
    let max_line = pipeline.settings.max_line_bytes;
    let lines = "SELECT source, offset, raw, l1, l2, line, utf8_ok, \
                        (octet_length(l1) > 0 AND utf8_ok AND line RLIKE '^[ \\t]*\\\\z') AS blank \
                 FROM (SELECT *, decode(l2, 'UTF-8') AS line, (encode(decode(l2, 'UTF-8'), 'UTF-8') = l2) AS utf8_ok \
                       FROM (SELECT *, CASE WHEN octet_length(l1) > 0 AND substr(l1, -1) = X'0D' THEN substr(l1, 1, octet_length(l1) - 1) \
                                            ELSE l1 END AS l2 \
                             FROM (SELECT concat('kafka:', topic, '/', partition) AS source, offset, coalesce(value, X'') AS raw, \
                                          CASE WHEN octet_length(value) > 0 AND substr(value, -1) = X'0A' \
                                               THEN substr(value, 1, octet_length(value) - 1) ELSE coalesce(value, X'') END AS l1 \
                                   FROM sweep_kafka) k) k) k";
    let early = format!(
        "WHEN octet_length(l1) = 0 THEN named_struct('reason', 'empty', 'detail', 'the Kafka message has no payload') \
         WHEN octet_length(l2) > {max_line} THEN named_struct('reason', 'too_long', 'detail', \
              concat('line has ', octet_length(l2), ' bytes; the limit is {max_line} (max_line_bytes)')) \
         WHEN NOT utf8_ok THEN named_struct('reason', 'invalid_utf8', 'detail', \
              concat('invalid UTF-8 at byte ', octet_length(substr(line, 1, instr(line, '\\uFFFD') - 1))))"
    );
    // A reject keeps the message as it came, but for its `\n` (`l1`, the embedded reader's
    // `raw`); `sweep_barrier`: see run::transform_views.
    let parsed = parsed_sql(&fmt, lines, "l1, rand() AS sweep_barrier, ", &early);
    let reasons: Vec<&str> = RejectReason::ALL.iter().map(|r| r.code()).collect();
    let mut line_metrics =
        vec!["count(*) AS lines".to_string(), "count_if(blank) AS skipped".into(), "count_if(rej IS NOT NULL) AS rejects".into()];
    line_metrics.extend(reasons.iter().map(|r| format!("count_if(rej.reason = '{r}') AS `r_{r}`")));
    spark.create_view("sweep_parsed", client::observe(client::sql(&parsed), "lines", &line_metrics)).await?;
    let previous = transform_views(spark, pipeline, true).await?;
    spark.create_view("events", client::sql(&format!("SELECT * FROM {previous}"))).await?;

    let mut queries = Vec::new();
    let trigger = proto::write_stream_operation_start::Trigger::AvailableNow(true);
    let start = |table: &str,
                 sink: &SinkSpec,
                 partition_by: &'static [&'static str]|
     -> (String, String, HashMap<String, String>, &'static [&'static str]) {
        let format = match sink {
            SinkSpec::Delta(_) => "delta",
            _ => "parquet",
        };
        let options = HashMap::from([("checkpointLocation".to_string(), spark_path(&checkpoint.join(table)))]);
        (format.to_string(), spark_path(sink.path()), options, partition_by)
    };
    // The rejects query carries the line counts: it reads every parsed line.
    if let Some(sink) = pipeline.load.sink("rejects") {
        let (format, path, options, by) = start("rejects", &sink, &[]);
        let query = "SELECT CASE WHEN octet_length(l1) = 0 THEN raw ELSE l1 END AS raw, rej.reason AS reason, rej.detail AS detail, format, source, offset, current_timestamp() AS ingest_ts \
                     FROM sweep_parsed WHERE rej IS NOT NULL AND sweep_barrier >= 0";
        let id = spark.start_stream(client::sql(query), &format, &path, by, options, "sweep_rejects", trigger.clone()).await?;
        queries.push(("rejects", id));
    } else {
        return Err(SparkError::Unsupported("a Kafka pipeline on Spark without a rejects table (it carries the line counts)".into()));
    }
    if let Some(sink) = pipeline.load.sink("events") {
        let (format, path, options, by) = start("events", &sink, &["date"]);
        let query = "SELECT *, date_format(ts, 'yyyy-MM-dd') AS date FROM events";
        let id = spark.start_stream(client::sql(query), &format, &path, by, options, "sweep_events", trigger.clone()).await?;
        queries.push(("events", id));
    }
    // Wait for every query to read the topic to where it was at the start, then add up the
    // metrics of this run's micro-batches.
    let mut batches = 0u64;
    for (table, id) in &queries {
        // Waited for in short steps, so that a server that stops answering is an error, not a hang.
        loop {
            let wait = proto::streaming_query_command::Command::AwaitTermination(proto::streaming_query_command::AwaitTerminationCommand {
                timeout_ms: Some(2_000),
            });
            let answer = tokio::time::timeout(
                std::time::Duration::from_secs(60),
                spark.stream_command(id, wait, &format!("running the {table} query")),
            )
            .await
            .map_err(|_| SparkError::Protocol(format!("the server stopped answering while the {table} query ran")))??;
            if let Some(proto::streaming_query_command_result::ResultType::AwaitTermination(t)) = answer
                && t.terminated
            {
                break;
            }
        }
        let failure = spark.stream_command(id, proto::streaming_query_command::Command::Exception(true), "checking the query").await?;
        if let Some(proto::streaming_query_command_result::ResultType::Exception(e)) = failure
            && let Some(message) = e.exception_message
        {
            return Err(SparkError::Server { what: format!("the {table} query"), message: first_lines(&message, 12) });
        }
        let progress =
            spark.stream_command(id, proto::streaming_query_command::Command::RecentProgress(true), "reading the query's progress").await?;
        let Some(proto::streaming_query_command_result::ResultType::RecentProgress(progress)) = progress else {
            return Err(SparkError::Protocol(format!("the {table} query sent no progress")));
        };
        let mut observed: BTreeMap<String, u64> = BTreeMap::new();
        let mut n = 0u64;
        for json in &progress.recent_progress_json {
            let p: serde_json::Value = serde_json::from_str(json).map_err(|e| SparkError::Protocol(format!("query progress: {e}")))?;
            let read: u64 = p["sources"].as_array().into_iter().flatten().map(|s| s["numInputRows"].as_u64().unwrap_or(0)).sum();
            if read > 0 {
                n += 1;
            }
            // {"lines": {"values": [3000, 0, ...], "schema": {"fields": [{"name": "lines", ...}, ...]}}}
            if let Some(metrics) = p["observedMetrics"].as_object() {
                for group in metrics.values() {
                    let names = group["schema"]["fields"].as_array().into_iter().flatten().map(|f| f["name"].as_str().unwrap_or(""));
                    let values = group["values"].as_array().into_iter().flatten().map(|v| v.as_u64().unwrap_or(0));
                    for (name, value) in names.zip(values) {
                        *observed.entry(name.to_string()).or_default() += value;
                    }
                }
            }
        }
        batches = batches.max(n);
        match *table {
            "rejects" => {
                summary.input_lines = observed.get("lines").copied().unwrap_or(0);
                summary.skipped = observed.get("skipped").copied().unwrap_or(0);
                summary.rejects = observed.get("rejects").copied().unwrap_or(0);
                summary.events = summary.input_lines - summary.skipped.min(summary.input_lines) - summary.rejects.min(summary.input_lines);
                for r in &reasons {
                    let count = observed.get(&format!("r_{r}")).copied().unwrap_or(0);
                    if count > 0 {
                        summary.reject_reasons.insert(r.to_string(), count);
                    }
                }
            }
            _ => {}
        }
    }
    summary.stream = Some(sweep_embedded::stream::StreamSummary {
        checkpoint: pipeline.stream.checkpoint.clone().unwrap_or_default(),
        batches,
        stopped_by: "drained".to_string(),
        ..Default::default()
    });
    Ok(())
}

fn first_lines(message: &str, n: usize) -> String {
    message.lines().take(n).collect::<Vec<_>>().join("\n")
}

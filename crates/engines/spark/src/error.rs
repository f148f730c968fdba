/// What can go wrong on the Spark engine; every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    #[error("{remote:?} is not a Spark Connect address ({why})")]
    BadRemote { remote: String, why: String },
    #[error(
        "cannot reach the Spark Connect server at {remote}: {why}\n\
         Is it running? Locally: `scripts/spark start` (it listens on sc://127.0.0.1:15002). \
         On a cluster: start the Connect server (sbin/start-connect-server.sh) and pass its address with --remote."
    )]
    Unreachable { remote: String, why: String },
    #[error(
        "the Spark Connect server at {remote} runs Spark {version}; sweep's Spark engine needs Spark 4.0 or newer \
         (it speaks the Spark 4.0 Connect protocol)"
    )]
    Version { remote: String, version: String },
    #[error("Spark failed while {what}:\n{message}{hint}", hint = hint(message))]
    Server { what: String, message: String },
    #[error("unexpected answer from Spark Connect: {0}")]
    Protocol(String),
    #[error(
        "this pipeline cannot run on the Spark engine: {0}\nRun it on the embedded engine (the default), or see docs/spark.md for what the Spark engine supports."
    )]
    Unsupported(String),
    #[error("no Spark Connect server given: pass --remote sc://host:15002, or set `remote` in the pipeline file (or SWEEP_SPARK_REMOTE)")]
    NoRemote,
    #[error(transparent)]
    Extract(#[from] sweep_extract::ExtractError),
    #[error(transparent)]
    Run(#[from] sweep_runtime::RunError),
    #[error("reading the table Spark wrote at {path}: {message}")]
    Output { path: String, message: String },
}

/// A format the Spark SQL compiler refuses is a pipeline this engine cannot run.
impl From<sweep_spark_sql::Unsupported> for SparkError {
    fn from(e: sweep_spark_sql::Unsupported) -> Self {
        SparkError::Unsupported(e.0)
    }
}

/// Advice for the server errors a user can fix.
fn hint(message: &str) -> &'static str {
    if message.contains("DATA_SOURCE_NOT_FOUND") && message.contains("delta") {
        "\nThe Delta connector is missing on the server: start it with --packages io.delta:delta-spark_2.13:4.0.0 (scripts/spark does)."
    } else if message.contains("DATA_SOURCE_NOT_FOUND") && message.contains("kafka") {
        "\nThe Kafka connector is missing on the server: add spark-sql-kafka-0-10_2.13 and its dependencies (see docs/spark.md)."
    } else if message.contains("PATH_NOT_FOUND") {
        "\nThe Spark server reads the input files itself: they must be at the same path on the server (a shared file system or object store)."
    } else {
        ""
    }
}

impl From<sweep_sweeper::SweeperError> for SparkError {
    fn from(e: sweep_sweeper::SweeperError) -> SparkError {
        SparkError::Run(e.into())
    }
}

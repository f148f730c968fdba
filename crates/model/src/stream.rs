//! The streaming parts of a pipeline: a Kafka source, the checkpoint, the alert sink.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a Kafka source starts when its checkpoint has no position yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPosition {
    /// The oldest message the broker still holds.
    Earliest,
    /// Only messages produced after the pipeline starts.
    Latest,
    /// The consumer group's committed offsets; the oldest message where the group has none.
    #[default]
    Committed,
}

/// A Kafka topic (or several) of log lines, one line per message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceSpec {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    pub topics: Vec<String>,
    /// Consumer group: offsets are committed there after every batch (for lag monitoring
    /// and `start = "committed"`); the checkpoint stays the source of truth.
    #[serde(default = "default_group")]
    pub group: String,
    #[serde(default)]
    pub start: StartPosition,
    /// At most this many messages per micro-batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// A micro-batch closes after this long even when it is not full.
    #[serde(default = "default_batch_interval_ms")]
    pub batch_interval_ms: u64,
    /// librdkafka properties passed through unchanged: `security.protocol`, `sasl.mechanisms`,
    /// `sasl.username`, `ssl.ca.location`, ...
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

pub fn default_group() -> String {
    "sweep".to_string()
}

fn default_batch_size() -> usize {
    100_000
}

fn default_batch_interval_ms() -> u64 {
    1_000
}

impl KafkaSourceSpec {
    /// A source with default settings: `kafka://host:port[,host:port]/topic[,topic]`.
    pub fn from_url(url: &str) -> Result<KafkaSourceSpec, String> {
        let rest = url.strip_prefix("kafka://").ok_or_else(|| format!("{url:?} is not a kafka:// address"))?;
        let (brokers, topics) = rest.split_once('/').ok_or_else(|| format!("{url:?} names no topic: write kafka://host:port/topic"))?;
        let topics: Vec<String> = topics.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
        if brokers.is_empty() || topics.is_empty() {
            return Err(format!("{url:?} needs brokers and a topic: kafka://host:port/topic"));
        }
        Ok(KafkaSourceSpec {
            brokers: brokers.to_string(),
            topics,
            group: default_group(),
            start: StartPosition::default(),
            batch_size: default_batch_size(),
            batch_interval_ms: default_batch_interval_ms(),
            options: BTreeMap::new(),
        })
    }
}

/// A Kafka topic that receives alerts (hits and threshold breaches) as JSON messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkSpec {
    pub brokers: String,
    pub topic: String,
    /// librdkafka producer properties passed through unchanged.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// How a streaming pipeline keeps its place and reports on itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// The checkpoint folder: Kafka offsets and window state per batch. Required for Kafka.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
    /// Stop once every partition is read up to the end offset seen at that moment
    /// (backfills, tests). Otherwise the pipeline runs until SIGTERM or Ctrl-C.
    #[serde(default)]
    pub stop_when_drained: bool,
    /// Serve Prometheus metrics at `http://<addr>/metrics`, e.g. "127.0.0.1:9898".
    #[serde(default)]
    pub metrics_addr: Option<String>,
}

//! # sweep-kafka: Kafka in and out
//!
//! The Kafka ends of a streaming pipeline, kept in their own crate because librdkafka is
//! a large C build that the format and intel crates must not pay for:
//!
//! - [`source::TopicSource`] (extract) reads log lines from the partitions of one or more
//!   topics in micro-batches. It does not use consumer-group rebalancing: the engine owns
//!   the offsets (they live in its checkpoint) and assigns every partition itself, so a
//!   batch can be re-read exactly after a crash.
//! - [`sink::AlertProducer`] (load) publishes alerts as JSON messages keyed by client.
//!
//! librdkafka is behind the `kafka` feature (on by default). Without it the same types exist,
//! but connecting says that this build of sweep has no Kafka: the quick demo build leaves out
//! the slowest C build of all.

#[cfg(not(feature = "kafka"))]
mod absent;
pub mod sink;
pub mod source;

#[cfg(feature = "kafka")]
use std::collections::BTreeMap;

#[cfg(feature = "kafka")]
use rdkafka::ClientConfig;

/// The Kafka client's own error: librdkafka's, or none in a build without Kafka.
#[cfg(feature = "kafka")]
pub type ClientError = rdkafka::error::KafkaError;
/// The Kafka client's own error: librdkafka's, or none in a build without Kafka.
#[cfg(not(feature = "kafka"))]
pub type ClientError = std::convert::Infallible;

/// A Kafka operation that failed, with what to check.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot create a Kafka client for {brokers}: {source}")]
    Client { brokers: String, source: ClientError },
    #[error(
        "cannot reach the Kafka brokers {brokers} to read topic {topic:?}: {source}; check that the broker runs and the address is right"
    )]
    Unreachable { brokers: String, topic: String, source: ClientError },
    #[error("topic {topic:?} does not exist on {brokers}; create it first (scripts/kafka topic {topic})")]
    NoSuchTopic { brokers: String, topic: String },
    #[error("Kafka {what}: {source}")]
    Operation { what: String, source: ClientError },
    #[error(
        "cannot re-read {topic}/{partition} offsets {from}..{until} for checkpointed batch {batch}: {why}. \
         The messages are gone (retention?) or the topic was recreated; start from a new checkpoint folder"
    )]
    Replay { topic: String, partition: i32, from: i64, until: i64, batch: u64, why: String },
    #[error("{failed} alert message(s) were not delivered to topic {topic:?}: {last_error}")]
    Delivery { topic: String, failed: u64, last_error: String },
    #[error("this sweep was built without Kafka {}, to read or write {brokers}", sweep_model::BUILT_WITHOUT_ADVICE)]
    NotBuilt { brokers: String },
}

#[cfg(feature = "kafka")]
/// A client configuration: sweep's defaults, then the user's pass-through options (which win).
fn client_config(brokers: &str, options: &BTreeMap<String, String>, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (k, v) in defaults {
        config.set(*k, *v);
    }
    for (k, v) in options {
        config.set(k, v);
    }
    config
}

//! The Kafka ends in a build without the `kafka` feature: the same types and methods, but
//! connecting fails with [`KafkaError::NotBuilt`], so no value of them ever exists and the
//! other methods cannot be reached (the compiler checks it: they match on an empty enum).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::KafkaError;
use crate::sink::KafkaSinkSpec;
use crate::source::{KafkaSourceSpec, PolledBatch, TopicPartition};

/// No value: a source or producer of a build without Kafka cannot be made.
enum Never {}

pub struct TopicSource {
    never: Never,
}

impl TopicSource {
    pub fn connect(spec: &KafkaSourceSpec) -> Result<TopicSource, KafkaError> {
        Err(KafkaError::NotBuilt { brokers: spec.brokers.clone() })
    }

    pub fn partitions(&self) -> &[TopicPartition] {
        match self.never {}
    }

    pub fn positions(&self) -> &[i64] {
        match self.never {}
    }

    pub fn start_offsets(&self) -> Result<Vec<i64>, KafkaError> {
        match self.never {}
    }

    pub fn watermarks(&self) -> Result<Vec<(i64, i64)>, KafkaError> {
        match self.never {}
    }

    pub fn cached_high_watermarks(&self) -> Vec<Option<i64>> {
        match self.never {}
    }

    pub fn seek(&mut self, _offsets: &[i64]) -> Result<(), KafkaError> {
        match self.never {}
    }

    pub fn next_batch(&mut self, _stop: &AtomicBool) -> Result<PolledBatch, KafkaError> {
        match self.never {}
    }

    pub fn read_range(&mut self, _from: &[i64], _until: &[i64], _batch_id: u64, _stop: &AtomicBool) -> Result<PolledBatch, KafkaError> {
        match self.never {}
    }

    pub fn commit(&self, _offsets: &[i64]) -> Result<(), KafkaError> {
        match self.never {}
    }

    pub fn commit_and_wait(&self, _offsets: &[i64]) -> Result<(), KafkaError> {
        match self.never {}
    }
}

pub struct AlertProducer {
    never: Never,
}

impl AlertProducer {
    pub fn connect(spec: &KafkaSinkSpec) -> Result<AlertProducer, KafkaError> {
        Err(KafkaError::NotBuilt { brokers: spec.brokers.clone() })
    }

    pub fn send(&mut self, _key: &str, _json: &[u8]) -> Result<(), KafkaError> {
        match self.never {}
    }

    pub fn flush(&mut self, _timeout: Duration) -> Result<u64, KafkaError> {
        match self.never {}
    }
}

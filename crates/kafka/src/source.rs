//! Reading log lines from Kafka in micro-batches whose offset ranges the caller records.

#[cfg(not(feature = "kafka"))]
pub use crate::absent::TopicSource;
pub use sweep_model::{KafkaSourceSpec, StartPosition};
#[cfg(feature = "kafka")]
pub use with_librdkafka::TopicSource;

/// One partition of a source topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    /// The `source` written into the events and rejects tables: `kafka:<topic>/<partition>`.
    pub fn source_name(&self) -> String {
        format!("kafka:{}/{}", self.topic, self.partition)
    }
}

/// Where a message's bytes are in a [`PolledBatch`].
#[derive(Debug, Clone, Copy)]
pub struct MessageRef {
    /// Index into [`TopicSource::partitions`].
    pub partition: usize,
    pub offset: i64,
    /// Broker or producer timestamp in milliseconds, when the message has one.
    pub timestamp_ms: Option<i64>,
    start: usize,
    len: usize,
}

/// The messages of one micro-batch, their payloads in one buffer.
#[derive(Debug, Default)]
pub struct PolledBatch {
    pub messages: Vec<MessageRef>,
    payloads: Vec<u8>,
}

impl PolledBatch {
    /// The payload of a message (empty for a message without one).
    pub fn payload(&self, m: &MessageRef) -> &[u8] {
        &self.payloads[m.start..m.start + m.len]
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn payload_bytes(&self) -> usize {
        self.payloads.len()
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    fn push(&mut self, partition: usize, offset: i64, timestamp_ms: Option<i64>, payload: &[u8]) {
        let start = self.payloads.len();
        self.payloads.extend_from_slice(payload);
        self.messages.push(MessageRef { partition, offset, timestamp_ms, start, len: payload.len() });
    }
}

#[cfg(feature = "kafka")]
mod with_librdkafka {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::error::KafkaError as RdError;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

    use super::{KafkaSourceSpec, PolledBatch, StartPosition, TopicPartition};
    use crate::{KafkaError, client_config};

    /// How long one metadata or watermark request may take before it counts as a failure.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

    /// Reads every partition of the configured topics, from offsets the caller chooses.
    pub struct TopicSource {
        consumer: BaseConsumer,
        spec: KafkaSourceSpec,
        partitions: Vec<TopicPartition>,
        /// The next offset to read, per partition.
        positions: Vec<i64>,
        /// True once [`seek`](Self::seek) assigned the partitions: the consumer fetches.
        assigned: bool,
    }

    impl TopicSource {
        /// Connects, and lists the partitions of every topic (a missing topic is an error).
        pub fn connect(spec: &KafkaSourceSpec) -> Result<TopicSource, KafkaError> {
            let config = client_config(
                &spec.brokers,
                &spec.options,
                &[
                    ("group.id", spec.group.as_str()),
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    ("enable.partition.eof", "false"),
                    ("auto.offset.reset", "earliest"),
                    // Large fetches keep up with 100k+ lines per second on one consumer.
                    ("fetch.max.bytes", "104857600"),
                    ("max.partition.fetch.bytes", "16777216"),
                    ("queued.max.messages.kbytes", "262144"),
                ],
            );
            let consumer: BaseConsumer = config.create().map_err(|source| KafkaError::Client { brokers: spec.brokers.clone(), source })?;
            let mut partitions = Vec::new();
            for topic in &spec.topics {
                let unreachable = |source| KafkaError::Unreachable { brokers: spec.brokers.clone(), topic: topic.clone(), source };
                let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT).map_err(unreachable)?;
                let found = metadata.topics().iter().find(|t| t.name() == topic);
                let found = match found {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => t,
                    _ => return Err(KafkaError::NoSuchTopic { brokers: spec.brokers.clone(), topic: topic.clone() }),
                };
                let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                partitions.extend(ids.into_iter().map(|partition| TopicPartition { topic: topic.clone(), partition }));
            }
            let positions = vec![0; partitions.len()];
            Ok(TopicSource { consumer, spec: spec.clone(), partitions, positions, assigned: false })
        }

        pub fn partitions(&self) -> &[TopicPartition] {
            &self.partitions
        }

        /// The next offset to read, per partition (in [`partitions`](Self::partitions) order).
        pub fn positions(&self) -> &[i64] {
            &self.positions
        }

        /// The offsets a pipeline without a checkpoint starts from, per its start position.
        pub fn start_offsets(&self) -> Result<Vec<i64>, KafkaError> {
            let marks = self.watermarks()?;
            match self.spec.start {
                StartPosition::Earliest => Ok(marks.iter().map(|(low, _)| *low).collect()),
                StartPosition::Latest => Ok(marks.iter().map(|(_, high)| *high).collect()),
                StartPosition::Committed => {
                    let committed = self
                        .consumer
                        .committed_offsets(self.partition_list(|_| Offset::Invalid)?, REQUEST_TIMEOUT)
                        .map_err(|source| KafkaError::Operation { what: "reading the group's committed offsets".into(), source })?;
                    Ok(self
                        .partitions
                        .iter()
                        .zip(&marks)
                        .map(|(tp, (low, _))| match committed.find_partition(&tp.topic, tp.partition).map(|e| e.offset()) {
                            Some(Offset::Offset(o)) if o >= *low => o,
                            _ => *low,
                        })
                        .collect())
                }
            }
        }

        /// Low and high watermark (first offset held, next offset to be written) per partition.
        pub fn watermarks(&self) -> Result<Vec<(i64, i64)>, KafkaError> {
            let ask = |tp: &TopicPartition| {
                self.consumer.fetch_watermarks(&tp.topic, tp.partition, REQUEST_TIMEOUT).map_err(|source| KafkaError::Operation {
                    what: format!("reading the end offsets of {}/{}", tp.topic, tp.partition),
                    source,
                })
            };
            if self.partitions.len() < 2 {
                return self.partitions.iter().map(ask).collect();
            }
            // Each request may wait behind a fetch the broker holds open (up to
            // `fetch.wait.max.ms`): the partitions are asked side by side, not one after another.
            std::thread::scope(|s| {
                let asks: Vec<_> = self.partitions.iter().map(|tp| s.spawn(move || ask(tp))).collect();
                asks.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
            })
        }

        /// The high watermarks the consumer last saw in its fetch responses, per partition
        /// (`None` until a fetch answered for the partition). No request is made, so nothing
        /// waits behind a fetch the broker holds open: this is what monitoring reads between
        /// batches. [`watermarks`](Self::watermarks) asks the broker, for planning.
        pub fn cached_high_watermarks(&self) -> Vec<Option<i64>> {
            self.partitions
                .iter()
                .map(|tp| {
                    let topic = std::ffi::CString::new(tp.topic.as_str()).ok()?;
                    let (mut low, mut high) = (-1i64, -1i64);
                    // SAFETY: the handle lives as long as `self.consumer`; the topic is a valid C
                    // string for the call; librdkafka only reads its own cache and writes the two
                    // out-parameters (rd_kafka_get_watermark_offsets is documented as non-blocking).
                    let err = unsafe {
                        rdkafka::bindings::rd_kafka_get_watermark_offsets(
                            self.consumer.client().native_ptr(),
                            topic.as_ptr(),
                            tp.partition,
                            &mut low,
                            &mut high,
                        )
                    };
                    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
                })
                .collect()
        }

        /// Moves every partition to `offsets`; the next batch starts there.
        pub fn seek(&mut self, offsets: &[i64]) -> Result<(), KafkaError> {
            let list = self.partition_list(|i| Offset::Offset(offsets[i]))?;
            self.consumer.assign(&list).map_err(|source| KafkaError::Operation { what: "assigning partitions".into(), source })?;
            self.positions = offsets.to_vec();
            self.assigned = true;
            Ok(())
        }

        /// Reads the next micro-batch from the current positions: up to `batch_size` messages,
        /// or what arrived within `batch_interval_ms`, or less when `stop` is raised.
        pub fn next_batch(&mut self, stop: &AtomicBool) -> Result<PolledBatch, KafkaError> {
            let mut batch = PolledBatch::default();
            let deadline = Instant::now() + Duration::from_millis(self.spec.batch_interval_ms);
            while batch.len() < self.spec.batch_size && !stop.load(Ordering::Relaxed) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match self.consumer.poll(left.min(Duration::from_millis(100))) {
                    None => continue,
                    Some(Ok(m)) => {
                        let Some(p) = self.partition_index(m.topic(), m.partition()) else { continue };
                        // A message below the position was already read (a broker retry after an outage).
                        if m.offset() < self.positions[p] {
                            continue;
                        }
                        batch.push(p, m.offset(), m.timestamp().to_millis(), m.payload().unwrap_or_default());
                        self.positions[p] = m.offset() + 1;
                    }
                    // Broker outages show up here; librdkafka reconnects by itself.
                    Some(Err(e)) if is_transient(&e) => continue,
                    Some(Err(source)) => return Err(KafkaError::Operation { what: "reading messages".into(), source }),
                }
            }
            Ok(batch)
        }

        /// Re-reads exactly the messages `from[p] <= offset < until[p]` of every partition: a
        /// batch that was planned (its ranges checkpointed) but not committed before a crash.
        /// Afterwards the positions are `until`.
        pub fn read_range(&mut self, from: &[i64], until: &[i64], batch_id: u64, stop: &AtomicBool) -> Result<PolledBatch, KafkaError> {
            self.seek(from)?;
            let mut batch = PolledBatch::default();
            let mut done: Vec<bool> = from.iter().zip(until).map(|(f, u)| f >= u).collect();
            let mut last_progress = Instant::now();
            while done.iter().any(|d| !d) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match self.consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) => {
                        let Some(p) = self.partition_index(m.topic(), m.partition()) else { continue };
                        let offset = m.offset();
                        if offset >= self.positions[p] && offset < until[p] {
                            batch.push(p, offset, m.timestamp().to_millis(), m.payload().unwrap_or_default());
                            self.positions[p] = offset + 1;
                            last_progress = Instant::now();
                        }
                        if offset + 1 >= until[p] {
                            done[p] = true;
                        }
                    }
                    Some(Err(e)) if is_transient(&e) => {}
                    Some(Err(e)) => return Err(self.replay_error(from, until, &done, batch_id, e.to_string())),
                    None => {
                        // Offsets may skip (transaction markers, compaction): ask where the consumer is.
                        if let Ok(list) = self.consumer.position() {
                            for (p, tp) in self.partitions.iter().enumerate() {
                                if let Some(Offset::Offset(o)) = list.find_partition(&tp.topic, tp.partition).map(|e| e.offset())
                                    && o >= until[p]
                                {
                                    done[p] = true;
                                }
                            }
                        }
                    }
                }
                if last_progress.elapsed() > Duration::from_secs(120) {
                    return Err(self.replay_error(from, until, &done, batch_id, "no message arrived for 120 s".into()));
                }
            }
            self.seek(until)?;
            Ok(batch)
        }

        /// Records `offsets` as the consumer group's position (monitoring and `start = committed`).
        /// Asynchronous: the request is queued and this returns at once (a synchronous commit
        /// waits behind the fetch the broker holds open, up to `fetch.wait.max.ms`, on every
        /// batch). The checkpoint, not the group, is what a restart resumes from, so a commit
        /// lost in a crash costs nothing; a later batch's commit supersedes it.
        /// A consumer that never polls (the Spark engine's planner, which only asks for end
        /// offsets) has no fetch to wait behind and nothing that would serve the answer to an
        /// asynchronous commit, so it commits synchronously.
        pub fn commit(&self, offsets: &[i64]) -> Result<(), KafkaError> {
            self.commit_with(offsets, if self.assigned { CommitMode::Async } else { CommitMode::Sync })
        }

        /// Like [`commit`](Self::commit), waiting for the broker's answer: for the end of a run.
        pub fn commit_and_wait(&self, offsets: &[i64]) -> Result<(), KafkaError> {
            self.commit_with(offsets, CommitMode::Sync)
        }

        fn commit_with(&self, offsets: &[i64], mode: CommitMode) -> Result<(), KafkaError> {
            let list = self.partition_list(|i| Offset::Offset(offsets[i]))?;
            self.consumer
                .commit(&list, mode)
                .map_err(|source| KafkaError::Operation { what: format!("committing offsets for group {:?}", self.spec.group), source })
        }

        fn replay_error(&self, from: &[i64], until: &[i64], done: &[bool], batch: u64, why: String) -> KafkaError {
            let p = done.iter().position(|d| !d).unwrap_or(0);
            let tp = &self.partitions[p];
            KafkaError::Replay { topic: tp.topic.clone(), partition: tp.partition, from: from[p], until: until[p], batch, why }
        }

        fn partition_index(&self, topic: &str, partition: i32) -> Option<usize> {
            self.partitions.iter().position(|tp| tp.partition == partition && tp.topic == topic)
        }

        fn partition_list(&self, offset: impl Fn(usize) -> Offset) -> Result<TopicPartitionList, KafkaError> {
            let mut list = TopicPartitionList::new();
            for (i, tp) in self.partitions.iter().enumerate() {
                list.add_partition_offset(&tp.topic, tp.partition, offset(i))
                    .map_err(|source| KafkaError::Operation { what: "building a partition list".into(), source })?;
            }
            Ok(list)
        }
    }

    /// Errors librdkafka recovers from by itself (broker down, leader moving, timeouts).
    fn is_transient(e: &RdError) -> bool {
        use rdkafka::types::RDKafkaErrorCode as C;
        match e.rdkafka_error_code() {
            Some(code) => matches!(
                code,
                C::BrokerTransportFailure
                    | C::AllBrokersDown
                    | C::OperationTimedOut
                    | C::RequestTimedOut
                    | C::LeaderNotAvailable
                    | C::NotLeaderForPartition
                    | C::NetworkException
                    | C::CoordinatorNotAvailable
                    | C::NotCoordinator
                    | C::PartitionEOF
                    | C::Resolve
            ),
            None => false,
        }
    }
}

//! Publishing alerts to a Kafka topic, with every delivery confirmed before a batch commits.

#[cfg(not(feature = "kafka"))]
pub use crate::absent::AlertProducer;
pub use sweep_model::KafkaSinkSpec;
#[cfg(feature = "kafka")]
pub use with_librdkafka::AlertProducer;

#[cfg(feature = "kafka")]
mod with_librdkafka {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use rdkafka::ClientContext;
    use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
    use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

    use super::KafkaSinkSpec;
    use crate::{KafkaError, client_config};

    /// Counts deliveries that failed, so that a batch whose alerts were lost is not committed.
    #[derive(Default)]
    struct DeliveryWatch {
        failed: AtomicU64,
        last_error: Mutex<Option<String>>,
    }

    impl ClientContext for DeliveryWatch {}

    impl ProducerContext for DeliveryWatch {
        type DeliveryOpaque = ();

        fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
            if let Err((e, _)) = result {
                self.failed.fetch_add(1, Ordering::Relaxed);
                *self.last_error.lock().expect("delivery lock") = Some(e.to_string());
            }
        }
    }

    /// Publishes JSON alerts keyed by client; [`flush`](Self::flush) waits for every delivery.
    pub struct AlertProducer {
        producer: BaseProducer<DeliveryWatch>,
        topic: String,
        sent: u64,
    }

    impl AlertProducer {
        pub fn connect(spec: &KafkaSinkSpec) -> Result<AlertProducer, KafkaError> {
            let config = client_config(
                &spec.brokers,
                &spec.options,
                &[("enable.idempotence", "true"), ("linger.ms", "20"), ("compression.type", "lz4"), ("message.timeout.ms", "60000")],
            );
            let producer = config
                .create_with_context(DeliveryWatch::default())
                .map_err(|source| KafkaError::Client { brokers: spec.brokers.clone(), source })?;
            Ok(AlertProducer { producer, topic: spec.topic.clone(), sent: 0 })
        }

        /// Queues one alert; waits while the local queue is full.
        pub fn send(&mut self, key: &str, json: &[u8]) -> Result<(), KafkaError> {
            let mut record = BaseRecord::to(&self.topic).key(key).payload(json);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        self.producer.poll(Duration::from_millis(50));
                    }
                    Err((source, _)) => {
                        return Err(KafkaError::Operation { what: format!("queueing an alert for topic {:?}", self.topic), source });
                    }
                }
            }
            self.sent += 1;
            Ok(())
        }

        /// Waits until every queued alert is acknowledged by the broker (or has failed).
        pub fn flush(&mut self, timeout: Duration) -> Result<u64, KafkaError> {
            self.producer
                .flush(timeout)
                .map_err(|source| KafkaError::Operation { what: format!("delivering alerts to topic {:?}", self.topic), source })?;
            let watch = self.producer.context();
            let failed = watch.failed.swap(0, Ordering::Relaxed);
            if failed > 0 {
                let last_error = watch.last_error.lock().expect("delivery lock").take().unwrap_or_default();
                return Err(KafkaError::Delivery { topic: self.topic.clone(), failed, last_error });
            }
            Ok(std::mem::take(&mut self.sent))
        }
    }
}

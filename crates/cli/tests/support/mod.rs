//! Helpers for the tests that run against the real Kafka broker that scripts/test starts
//! (scripts/kafka). Without SWEEP_KAFKA_BOOTSTRAP those tests say so and return, unless
//! SWEEP_REQUIRE_KAFKA=1 (set by scripts/test), where a missing broker fails them.
#![allow(dead_code)]

pub mod feed_server;
pub mod s3;
pub mod spark;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

pub fn broker() -> Option<String> {
    service("SWEEP_KAFKA_BOOTSTRAP", "SWEEP_REQUIRE_KAFKA", "scripts/kafka start")
}

/// The value of `variable` (a server's address that scripts/test exports), or `None`, and
/// the test says it is skipped; unless `require` is 1 (scripts/test sets it), where a missing
/// server fails the test and says how to start one.
pub fn service(variable: &str, require: &str, start: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(std::env::var(require).as_deref() != Ok("1"), "{require}=1 but {variable} is unset: start the server with {start}");
            eprintln!("skipped: {variable} is unset (scripts/test starts the server: {start})");
            None
        }
    }
}

/// A new topic with a name unique to this test process.
pub fn create_topic(broker: &str, prefix: &str, partitions: i32) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!("{prefix}-{}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed), nanos());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", broker).create().unwrap();
    let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
    let results = futures::executor::block_on(admin.create_topics([&topic], &AdminOptions::new())).unwrap();
    for r in results {
        r.unwrap();
    }
    name
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000
}

/// Sends each payload to partition `i % partitions`, then waits for every delivery.
pub fn produce<'a>(broker: &str, topic: &str, partitions: i32, payloads: impl IntoIterator<Item = &'a [u8]>) -> usize {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let mut n = 0;
    for (i, payload) in payloads.into_iter().enumerate() {
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload).partition(i as i32 % partitions);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                // A full queue drains; any other error (a message over the broker's size limit)
                // never does, and must fail the test rather than hang it.
                Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => panic!("cannot produce message {i} to {topic}: {e}"),
            }
        }
        n += 1;
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    n
}

pub fn sweep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).output().expect("the sweep binary runs")
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "sweep failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `sweep query` as CSV rows (the header dropped).
pub fn query(lake: &Path, sql: &str) -> Vec<String> {
    let text = ok(sweep(&["query", lake.to_str().unwrap(), sql, "--output", "csv"]));
    text.lines().skip(1).map(str::to_string).collect()
}

pub fn query_one(lake: &Path, sql: &str) -> i64 {
    let rows = query(lake, sql);
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0].parse().unwrap_or_else(|_| panic!("{sql}: {rows:?}"))
}

pub fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Generated Squid lines (with ~0.1% malformed ones), one payload per line.
pub fn squid_lines(dir: &Path, lines: u64, seed: u64) -> Vec<Vec<u8>> {
    let file = dir.join(format!("gen-{seed}.log"));
    ok(sweep(&[
        "generate",
        "--format",
        "squid",
        "--lines",
        &lines.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        file.to_str().unwrap(),
    ]));
    std::fs::read(&file).unwrap().split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// Every message of `topic` (key, payload), waiting up to 20 s for `expect` of them and a
/// little longer for any beyond.
pub fn consume_all(broker: &str, topic: &str, expect: usize) -> Vec<(String, Vec<u8>)> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", format!("check-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
            out.push((key, m.payload().unwrap_or_default().to_vec()));
        }
        if out.len() >= expect {
            // Wait a little longer: more than expected is a failure too.
            std::thread::sleep(Duration::from_millis(500));
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                out.push((String::from_utf8_lossy(m.key().unwrap_or_default()).to_string(), m.payload().unwrap_or_default().to_vec()));
            }
            break;
        }
    }
    out
}

/// A metric's value from the `/metrics` endpoint at `addr`.
pub fn metric(addr: &str, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: sweep\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// Waits until `sweep_lines_total` is `lines`.
pub fn wait_for_lines(addr: &str, lines: f64, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let seen = metric(addr, "sweep_lines_total");
        if seen == Some(lines) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the pipeline reached {seen:?} of {lines} lines in {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

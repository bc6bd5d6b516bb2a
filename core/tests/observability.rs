//! What a client shows of itself without a call failing: statistics snapshots (producer,
//! consumer, per broker) and the error callback for background failures, against our broker.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::consumer::{ConsumerClient, Offset};
use odradek::error::Error;
use odradek::metrics::BrokerState;
use odradek::producer::{Producer, ProducerRecord};
use odradek_broker::EmbeddedBroker;

const TOPIC: &str = "observed";

fn config(bootstrap: &str, extra: &[(&str, &str)]) -> Config {
    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in extra {
        config.set(k, v).unwrap();
    }
    config
}

/// Waits up to `within` for an error named `name` from the callback's channel.
fn wait_for(rx: &mpsc::Receiver<Error>, name: &str, within: Duration) -> Error {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(e) if e.name() == name => return e,
            Ok(e) => seen.push(e.name()),
            Err(_) => break,
        }
    }
    panic!("no {name} within {within:?}; the callback saw {seen:?}");
}

#[test]
fn statistics_count_what_was_sent_and_read_and_a_stopped_broker_reaches_the_error_callback() {
    let mut broker = EmbeddedBroker::start(&[]).unwrap();
    let bootstrap = broker.bootstrap_servers().to_string();
    let address = bootstrap.clone();
    let consumer =
        ConsumerClient::new(&config(&bootstrap, &[("reconnect.backoff.max.ms", "500")])).unwrap();
    let (tx, rx) = mpsc::channel::<Error>();
    let tx = Mutex::new(tx);
    consumer.set_error_callback(Arc::new(move |e: &Error| {
        let _ = tx.lock().unwrap().send(e.clone());
    }));

    odradek::runtime::block_on(async {
        Admin::from_config(&config(&bootstrap, &[]))
            .unwrap()
            .create_topics(&[NewTopic::new(TOPIC, 1)])
            .await
            .unwrap();
        let producer = Producer::from_config(&config(&bootstrap, &[])).unwrap();
        let values: Vec<String> = (0..20).map(|i| format!("value-{i:02}")).collect();
        let reports: Vec<_> = values
            .iter()
            .map(|v| producer.send(ProducerRecord::new(TOPIC).value(v.as_bytes())))
            .collect();
        for r in reports {
            r.await.unwrap();
        }
        let sent = producer.metrics();
        assert_eq!(sent.records_delivered, 20);
        let row = sent
            .brokers
            .iter()
            .find(|b| b.address == address)
            .expect("the producer's broker row");
        assert_eq!(row.state, BrokerState::Up);
        assert!(row.connects >= 1 && row.requests >= 2, "{row:?}");
        assert!(row.request_latency_max_us >= row.request_latency_avg_us);
        assert!(sent.to_json().contains("\"brokers\""));

        consumer
            .assign(&[(TOPIC, 0, Offset::Beginning)])
            .await
            .unwrap();
        let mut taken = 0;
        while taken < 15 {
            assert!(consumer.wait_ready(Duration::from_secs(10)).await.unwrap());
            taken += consumer.take_ready(15 - taken).unwrap().len();
        }
    });

    let read = consumer.metrics();
    assert_eq!(read.records_consumed, 15);
    assert_eq!(read.bytes_consumed, 15 * "value-00".len() as u64);
    assert!(read.fetch_requests >= 1);
    assert_eq!(read.partitions.len(), 1);
    let p = &read.partitions[0];
    assert_eq!((p.topic.as_str(), p.partition), (TOPIC, 0));
    assert_eq!((p.position, p.high_watermark, p.lag), (15, 20, 5));
    assert!(read.to_json().contains("\"lag\":5"));

    // The broker goes away while the consumer keeps fetching: nothing the application calls
    // fails, so the callback is where it learns, within seconds.
    broker.stop();
    let lost = wait_for(&rx, "_TRANSPORT", Duration::from_secs(15));
    assert_eq!(lost.broker(), Some(address.as_str()));
    assert!(lost.is_retriable());
    let down = wait_for(&rx, "_ALL_BROKERS_DOWN", Duration::from_secs(15));
    assert!(down.is_retriable(), "{down}");
    let row = consumer
        .metrics()
        .brokers
        .into_iter()
        .find(|b| b.address == address)
        .unwrap();
    assert!(row.disconnects >= 1 && row.connect_failures >= 1, "{row:?}");
    assert_ne!(row.state, BrokerState::Up);
}

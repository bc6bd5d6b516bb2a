//! What the rebalance listener guarantees the application, on the embedded broker: no record
//! of a newly assigned partition is handed out before `on_assigned` returned, so a seek made in
//! the callback decides the first record read (as in the Java client, where the callback runs
//! inside `poll`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::consumer::Offset;
use odradek::group::{GroupConsumer, RebalanceListener};
use odradek::producer::{Producer, ProducerRecord};
use odradek_broker::EmbeddedBroker;

const TOPIC: &str = "assigned-first";

/// Slow `on_assigned` that seeks partition 0 to offset 5 before it returns.
struct SeekOnAssign {
    consumer: OnceLock<GroupConsumer>,
    returned: AtomicBool,
}

impl RebalanceListener for SeekOnAssign {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        if partitions.is_empty() {
            return;
        }
        // Long enough for the first fetch to have come back with records 0..10.
        std::thread::sleep(Duration::from_millis(800));
        let consumer = self.consumer.get().expect("set before subscribe");
        consumer.consumer().seek(TOPIC, 0, Offset::At(5)).unwrap();
        self.returned.store(true, Ordering::SeqCst);
    }
}

#[test]
fn no_record_is_handed_out_before_on_assigned_returns() {
    let broker = EmbeddedBroker::start(&[]).unwrap();
    let bootstrap = broker.bootstrap_servers().to_string();
    odradek::runtime::block_on(async {
        let mut config = Config::new();
        config.set("bootstrap.servers", &bootstrap).unwrap();
        Admin::from_config(&config)
            .unwrap()
            .create_topics(&[NewTopic::new(TOPIC, 1)])
            .await
            .unwrap();
        let producer = Producer::from_config(&config).unwrap();
        for i in 0..10 {
            producer
                .send(ProducerRecord::new(TOPIC).value(format!("v{i}").as_bytes()))
                .await
                .unwrap();
        }

        // Both group protocols: classic (JoinGroup/SyncGroup) and KIP-848.
        for protocol in ["classic", "consumer"] {
            let group = format!("assigned-first-{protocol}");
            for (k, v) in [
                ("group.id", group.as_str()),
                ("group.protocol", protocol),
                ("auto.offset.reset", "earliest"),
                ("enable.auto.commit", "false"),
            ] {
                config.set(k, v).unwrap();
            }
            first_record_after_on_assigned(&config, protocol).await;
        }
    });
}

async fn first_record_after_on_assigned(config: &Config, protocol: &str) {
    let consumer = GroupConsumer::new(config).unwrap();
    let listener = Arc::new(SeekOnAssign {
        consumer: OnceLock::new(),
        returned: AtomicBool::new(false),
    });
    let _ = listener.consumer.set(consumer.clone());
    consumer.set_rebalance_listener(listener.clone());
    consumer.subscribe(&[TOPIC]).unwrap();

    let first = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a record within 30 s")
        .unwrap();
    assert!(
        listener.returned.load(Ordering::SeqCst),
        "{protocol}: record {} was handed out before on_assigned returned",
        first.offset
    );
    assert_eq!(
        first.offset, 5,
        "{protocol}: the seek made in on_assigned comes first"
    );
    consumer.close().await.unwrap();
}

/// Counts callbacks; `on_assigned` of a non-empty assignment takes `slow`.
struct Counting {
    slow: Duration,
    assigned: AtomicUsize,
    lost: AtomicUsize,
}

impl RebalanceListener for Counting {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        if !partitions.is_empty() {
            self.assigned.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.slow);
        }
    }
    fn on_lost(&self, _partitions: &[(String, i32)]) {
        self.lost.fetch_add(1, Ordering::SeqCst);
    }
}

/// A KIP-848 member keeps heartbeating while its callback runs longer than the session
/// timeout, so it is not fenced (no `on_lost`, no second `on_assigned` after a rejoin).
#[test]
fn a_callback_longer_than_the_session_keeps_the_kip848_membership() {
    let broker = EmbeddedBroker::start(&[
        ("group.consumer.session.timeout.ms", "1500"),
        ("group.consumer.min.session.timeout.ms", "1000"),
        ("group.consumer.heartbeat.interval.ms", "500"),
    ])
    .unwrap();
    let bootstrap = broker.bootstrap_servers().to_string();
    odradek::runtime::block_on(async {
        let topic = "slow-callback";
        let mut config = Config::new();
        config.set("bootstrap.servers", &bootstrap).unwrap();
        Admin::from_config(&config)
            .unwrap()
            .create_topics(&[NewTopic::new(topic, 1)])
            .await
            .unwrap();
        Producer::from_config(&config)
            .unwrap()
            .send(ProducerRecord::new(topic).value(&b"v"[..]))
            .await
            .unwrap();
        for (k, v) in [
            ("group.id", "slow-callback-group"),
            ("group.protocol", "consumer"),
            ("heartbeat.interval.ms", "300"),
            ("auto.offset.reset", "earliest"),
        ] {
            config.set(k, v).unwrap();
        }
        let consumer = GroupConsumer::new(&config).unwrap();
        let listener = Arc::new(Counting {
            slow: Duration::from_millis(4000),
            assigned: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
        });
        consumer.set_rebalance_listener(listener.clone());
        consumer.subscribe(&[topic]).unwrap();
        tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a record within 30 s")
            .unwrap();
        // Two more session timeouts of ordinary heartbeats, to see a late fencing too.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            listener.lost.load(Ordering::SeqCst),
            0,
            "fenced during the callback"
        );
        assert_eq!(
            listener.assigned.load(Ordering::SeqCst),
            1,
            "rejoined after the callback"
        );
        consumer.close().await.unwrap();
    });
}

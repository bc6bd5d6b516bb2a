//! The hand-out every binding uses (`ConsumerClient::take_ready` / `wait_ready`): a fetch brings
//! far more records into the client than the application takes, and only what was taken counts
//! for position and the commit on close.

use std::time::Duration;

use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::consumer::ConsumerClient;
use odradek::producer::{Producer, ProducerRecord};
use odradek_broker::EmbeddedBroker;

const TOPIC: &str = "read-ahead";

fn consumer(bootstrap: &str) -> ConsumerClient {
    let mut config = Config::new();
    for (k, v) in [
        ("bootstrap.servers", bootstrap),
        ("group.id", "read-ahead-group"),
        ("enable.auto.commit", "true"),
        ("auto.offset.reset", "earliest"),
    ] {
        config.set(k, v).unwrap();
    }
    ConsumerClient::new(&config).unwrap()
}

#[test]
fn close_commits_only_what_was_handed_out() {
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
        let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let reports: Vec<_> = values
            .iter()
            .map(|v| producer.send(ProducerRecord::new(TOPIC).value(v.as_bytes())))
            .collect();
        for r in reports {
            r.await.unwrap();
        }

        // One record at a time, as an iterator does; the fetch brought all 100 into the client.
        let c = consumer(&bootstrap);
        c.subscribe(&[TOPIC]).unwrap();
        let mut taken = Vec::new();
        while taken.len() < 10 {
            if !c.wait_ready(Duration::from_secs(10)).await.unwrap() {
                panic!("no record within 10 s");
            }
            taken.extend(c.take_ready(1).unwrap());
        }
        assert_eq!(
            c.position(TOPIC, 0),
            Some(10),
            "position follows the hand-out"
        );
        let first_unread = taken.last().unwrap().offset + 1;
        c.close().await.unwrap();

        // The group's committed offset is the first record the application never took.
        let next = consumer(&bootstrap);
        let committed = next.committed(&[(TOPIC.to_string(), 0)]).await.unwrap();
        assert_eq!(committed[&(TOPIC.to_string(), 0)], Some(first_unread));

        // A batch hand-out counts whole.
        next.subscribe(&[TOPIC]).unwrap();
        let mut again = Vec::new();
        while again.len() < 5 {
            again.extend(next.poll_batch(100, Duration::from_secs(10)).await.unwrap());
        }
        assert_eq!(
            again[0].offset, first_unread,
            "the next member resumes at the unread record"
        );
        let last = again.last().unwrap().offset;
        next.close().await.unwrap();
        let check = consumer(&bootstrap);
        let committed = check.committed(&[(TOPIC.to_string(), 0)]).await.unwrap();
        assert_eq!(committed[&(TOPIC.to_string(), 0)], Some(last + 1));
    });
}

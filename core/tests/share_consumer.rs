//! The share consumer (KIP-932) against our broker (one broker for every scenario, a topic and a
//! group each) and one round trip against Apache Kafka 4.3.1: records split between members,
//! release → delivered again with delivery count 2, reject → never again, an expired lock →
//! delivered again, close releases what was not acknowledged, explicit mode refuses to poll past
//! unacknowledged records.

mod client_support;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::protocol::StrBytes;
use odradek::admin::{Admin, NewTopic};
use odradek::cluster::Cluster;
use odradek::config::Config;
use odradek::producer::{Producer, ProducerRecord};
use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};
use odradek_broker::EmbeddedBroker;

/// Our broker, shared: its share-lock minimum lowered so one group can use short locks.
fn broker() -> &'static str {
    static BROKER: OnceLock<EmbeddedBroker> = OnceLock::new();
    BROKER
        .get_or_init(|| {
            EmbeddedBroker::start(&[("group.share.min.record.lock.duration.ms", "200")]).unwrap()
        })
        .bootstrap_servers()
}

fn config(bootstrap: &str, pairs: &[(&str, &str)]) -> Config {
    let mut c = Config::new();
    c.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c
}

/// Group configs (resource type 32) through IncrementalAlterConfigs, as the Java admin's
/// `incrementalAlterConfigs(ConfigResource.Type.GROUP, ...)` sends them.
async fn set_group_configs(bootstrap: &str, group: &str, pairs: &[(&str, &str)]) {
    let cluster = Cluster::new(config(bootstrap, &[]).client().unwrap());
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(StrBytes::from_string(group.to_owned()))
            .with_configs(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(StrBytes::from_string((*k).to_owned()))
                            .with_config_operation(0)
                            .with_value(Some(StrBytes::from_string((*v).to_owned())))
                    })
                    .collect(),
            ),
    ]);
    let response = cluster.request_any(&request).await.unwrap();
    for r in response.responses {
        assert_eq!(
            r.error_code, 0,
            "group config refused: {:?}",
            r.error_message
        );
    }
}

async fn setup(bootstrap: &str, topic: &str, group: &str, extra: &[(&str, &str)]) {
    Admin::from_config(&config(bootstrap, &[]))
        .unwrap()
        .create_topics(&[NewTopic::new(topic, 1)])
        .await
        .unwrap();
    let mut pairs = vec![("share.auto.offset.reset", "earliest")];
    pairs.extend_from_slice(extra);
    set_group_configs(bootstrap, group, &pairs).await;
}

async fn produce(bootstrap: &str, topic: &str, values: impl IntoIterator<Item = String>) {
    let producer = Producer::from_config(&config(bootstrap, &[])).unwrap();
    let values: Vec<String> = values.into_iter().collect();
    let reports: Vec<_> = values
        .iter()
        .map(|v| producer.send(ProducerRecord::new(topic).value(v.as_bytes())))
        .collect();
    for r in reports {
        r.await.unwrap();
    }
}

fn share(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)]) -> ShareConsumer {
    let mut pairs = vec![("group.id", group)];
    pairs.extend_from_slice(extra);
    let c = ShareConsumer::new(&config(bootstrap, &pairs)).unwrap();
    c.subscribe(&[topic]);
    c
}

/// Polls until `n` records came or 20 s passed.
async fn poll_n(c: &ShareConsumer, n: usize) -> Vec<ShareRecord> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < Duration::from_secs(20) {
        out.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    }
    out
}

fn value(r: &ShareRecord) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

#[test]
fn two_members_split_one_partition_without_overlap() {
    let bootstrap = broker();
    odradek::runtime::block_on(async {
        let (topic, group) = ("share-split", "share-split-group");
        setup(bootstrap, topic, group, &[]).await;
        let a = share(bootstrap, group, topic, &[]);
        let b = share(bootstrap, group, topic, &[]);
        produce(bootstrap, topic, (0..100).map(|i| i.to_string())).await;
        let mut got_a = poll_n(&a, 1).await;
        // A holds its records under locks, so B gets only the next ones.
        produce(bootstrap, topic, (100..200).map(|i| i.to_string())).await;
        let mut got_b = Vec::new();
        let start = Instant::now();
        while got_a.len() + got_b.len() < 200 && start.elapsed() < Duration::from_secs(20) {
            got_b.extend(b.poll(Duration::from_millis(300)).await.unwrap());
            got_a.extend(a.poll(Duration::from_millis(300)).await.unwrap());
        }
        let offsets_a: BTreeSet<i64> = got_a.iter().map(|r| r.offset).collect();
        let offsets_b: BTreeSet<i64> = got_b.iter().map(|r| r.offset).collect();
        println!(
            "member a: {} records, member b: {}",
            got_a.len(),
            got_b.len()
        );
        assert!(!got_a.is_empty() && !got_b.is_empty(), "both members read");
        assert_eq!(offsets_a.len(), got_a.len(), "a got a record twice");
        assert_eq!(offsets_b.len(), got_b.len(), "b got a record twice");
        assert!(offsets_a.is_disjoint(&offsets_b), "a record went to both");
        let all: BTreeSet<i64> = offsets_a.union(&offsets_b).copied().collect();
        assert_eq!(all, (0..200).collect());
        assert!(got_a.iter().chain(&got_b).all(|r| r.delivery_count == 1));
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

#[test]
fn release_redelivers_reject_discards_and_explicit_mode_insists() {
    let bootstrap = broker();
    odradek::runtime::block_on(async {
        let (topic, group) = ("share-acks", "share-acks-group");
        setup(bootstrap, topic, group, &[]).await;
        let explicit = [("share.acknowledgement.mode", "explicit")];
        let c = share(bootstrap, group, topic, &explicit);
        produce(
            bootstrap,
            topic,
            ["accept", "release", "reject"].map(String::from),
        )
        .await;
        let first = poll_n(&c, 3).await;
        assert_eq!(
            first.iter().map(value).collect::<Vec<_>>(),
            ["accept", "release", "reject"]
        );
        assert!(first.iter().all(|r| r.delivery_count == 1));
        c.acknowledge(&first[0], AcknowledgeType::Accept).unwrap();
        let err = c.poll(Duration::from_millis(10)).await.unwrap_err();
        assert!(err.message().contains("explicit"), "{err}");
        assert!(c.acknowledge(&first[0], AcknowledgeType::Reject).is_err());
        c.acknowledge(&first[1], AcknowledgeType::Release).unwrap();
        c.acknowledge(&first[2], AcknowledgeType::Reject).unwrap();

        let again = poll_n(&c, 1).await;
        assert_eq!(again.len(), 1);
        assert_eq!(
            (value(&again[0]).as_str(), again[0].delivery_count),
            ("release", 2)
        );
        c.acknowledge(&again[0], AcknowledgeType::Accept).unwrap();
        c.commit_sync().await.unwrap();
        // Nothing is left for this member nor for a new one.
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
        let other = share(bootstrap, group, topic, &[]);
        assert!(
            other
                .poll(Duration::from_millis(500))
                .await
                .unwrap()
                .is_empty()
        );
        c.close().await.unwrap();
        other.close().await.unwrap();
    });
}

#[test]
fn an_expired_lock_and_close_hand_records_to_another_member() {
    let bootstrap = broker();
    odradek::runtime::block_on(async {
        // Short locks: a member that holds records and says nothing loses them.
        let (topic, group) = ("share-locks", "share-locks-group");
        setup(
            bootstrap,
            topic,
            group,
            &[("share.record.lock.duration.ms", "1000")],
        )
        .await;
        let silent = share(bootstrap, group, topic, &[]);
        let other = share(bootstrap, group, topic, &[]);
        produce(bootstrap, topic, (0..5).map(|i| i.to_string())).await;
        let held = poll_n(&silent, 5).await;
        assert_eq!(held.len(), 5);
        let redelivered = poll_n(&other, 5).await;
        assert_eq!(redelivered.len(), 5, "the expired locks were not handed on");
        assert!(redelivered.iter().all(|r| r.delivery_count == 2));
        other.commit_sync().await.unwrap();
        silent.close().await.ok();
        other.close().await.unwrap();

        // Close releases: the next member gets them with delivery count 2.
        let (topic, group) = ("share-close", "share-close-group");
        setup(bootstrap, topic, group, &[]).await;
        let first = share(bootstrap, group, topic, &[]);
        produce(bootstrap, topic, (0..5).map(|i| i.to_string())).await;
        assert_eq!(poll_n(&first, 5).await.len(), 5);
        first.close().await.unwrap();
        let second = share(bootstrap, group, topic, &[]);
        let after = poll_n(&second, 5).await;
        assert_eq!(after.len(), 5);
        assert!(after.iter().all(|r| r.delivery_count == 2), "{after:?}");
        second.close().await.unwrap();
    });
}

/// Apache Kafka 4.3.1 (share groups are on by default there): our producer, our share consumer
/// accepts everything, a second member finds nothing left.
#[test]
fn round_trip_with_apache_kafka() {
    let kafka = client_support::TestCluster::apache_kafka();
    let bootstrap = kafka.bootstrap.as_str();
    odradek::runtime::block_on(async {
        let (topic, group) = ("share-kafka", "share-kafka-group");
        setup(bootstrap, topic, group, &[]).await;
        produce(bootstrap, topic, (0..50).map(|i| i.to_string())).await;
        let c = share(bootstrap, group, topic, &[]);
        let got = poll_n(&c, 50).await;
        let offsets: BTreeSet<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..50).collect());
        c.commit_sync().await.unwrap();
        c.close().await.unwrap();
        let other = share(bootstrap, group, topic, &[]);
        assert!(other.poll(Duration::from_secs(2)).await.unwrap().is_empty());
        other.close().await.unwrap();
    });
}

//! Fail-over behaviour of the client against scripted fake brokers and our own broker (no JVM):
//! reconnect back-off is never slept inside a request, a partition goes to the leader that
//! metadata or a Produce response (KIP-951) names, a broker that stops answering is abandoned at
//! the delivery deadline with `_MSG_TIMED_OUT`, bootstrap does not hang on hung hosts, and a
//! coordinator that is not ready yet is retried.

mod client_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use odradek::admin::Admin;
use odradek::config::{ClientConfig, Config};
use odradek::consumer::ConsumerClient;
use odradek::net::{CLIENT_SUPPORTED, ConnectOptions, ConnectionPool, Readiness};
use odradek::producer::{Producer, ProducerRecord};
use odradek::protocol::codec::{decode_request, encode_response_message};
use odradek::protocol::frame::FrameDecoder;
use odradek::protocol::messages::api_versions_response::ApiVersion;
use odradek::protocol::messages::find_coordinator_response::Coordinator;
use odradek::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use odradek::protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use odradek::protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use odradek::protocol::messages::{
    ApiVersionsResponse, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse,
    InitProducerIdResponse, MetadataResponse, OffsetFetchRequest, OffsetFetchResponse,
    ProduceResponse, ProducerId, RequestKind, TopicName,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use client_support::TestCluster;

const TOPIC: &str = "t";

/// What a fake node does with a Produce request.
#[derive(Clone, Copy)]
enum OnProduce {
    Accept,
    /// NOT_LEADER_OR_FOLLOWER naming node 2 (epoch 7) as the leader, with its endpoint.
    NotLeaderPointTo2,
    /// Never answers (a hung broker).
    Hang,
}

/// A scripted cluster: every node answers Metadata from one script (shared across nodes), so
/// which node the client asks does not matter.
struct Script {
    /// Node id → address, as listed in Metadata.
    brokers: Vec<(i32, String)>,
    /// The leader named by the first `switch_after` Metadata answers, then `leader_after`.
    leader_before: i32,
    leader_after: i32,
    switch_after: usize,
    answered: AtomicUsize,
    /// Node 2's address for the KIP-951 endpoint, if node 2 is not in the metadata.
    node2: String,
    /// OffsetFetch requests answered so far (the first gets COORDINATOR_NOT_AVAILABLE).
    offset_fetches: AtomicUsize,
}

impl Script {
    /// Metadata names `before` as the leader for `switch_after` answers, then `after`.
    fn new(
        brokers: Vec<(i32, String)>,
        before: i32,
        after: i32,
        switch_after: usize,
        node2: &str,
    ) -> Arc<Script> {
        Arc::new(Script {
            brokers,
            leader_before: before,
            leader_after: after,
            switch_after,
            answered: AtomicUsize::new(0),
            node2: node2.to_owned(),
            offset_fetches: AtomicUsize::new(0),
        })
    }

    fn metadata(&self) -> MetadataResponse {
        let n = self.answered.fetch_add(1, Ordering::SeqCst);
        let (leader, epoch) = if n < self.switch_after {
            (self.leader_before, 1)
        } else {
            (self.leader_after, 2)
        };
        let brokers = self
            .brokers
            .iter()
            .map(|(id, address)| {
                let (host, port) = address.rsplit_once(':').unwrap();
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(*id))
                    .with_host(StrBytes::from_string(host.to_owned()))
                    .with_port(port.parse().unwrap())
            })
            .collect();
        let partition = MetadataResponsePartition::default()
            .with_partition_index(0)
            .with_leader_id(BrokerId(leader))
            .with_leader_epoch(epoch)
            .with_replica_nodes(vec![BrokerId(leader)])
            .with_isr_nodes(vec![BrokerId(leader)]);
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_controller_id(BrokerId(self.leader_before))
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))))
                    .with_partitions(vec![partition]),
            ])
    }

    /// This node (the first listed) coordinates every group.
    fn find_coordinator(&self, request: &FindCoordinatorRequest) -> FindCoordinatorResponse {
        let (id, address) = &self.brokers[0];
        let (host, port) = address.rsplit_once(':').unwrap();
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(*id))
                    .with_host(StrBytes::from_string(host.to_owned()))
                    .with_port(port.parse().unwrap())
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    }

    /// The first answer is COORDINATOR_NOT_AVAILABLE (a coordinator still loading, as a fresh
    /// Apache Kafka answers); later ones give offset 42 for every partition asked.
    fn offset_fetch(&self, request: &OffsetFetchRequest) -> OffsetFetchResponse {
        let not_ready = self.offset_fetches.fetch_add(1, Ordering::SeqCst) == 0;
        let groups = request
            .groups
            .iter()
            .map(|g| {
                let topics = g
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| {
                        let partitions = t
                            .partition_indexes
                            .iter()
                            .map(|&p| {
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(42)
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(t.name.clone())
                            .with_partitions(partitions)
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_error_code(if not_ready { 15 } else { 0 })
                    .with_topics(if not_ready { vec![] } else { topics })
            })
            .collect();
        OffsetFetchResponse::default().with_groups(groups)
    }

    fn produce(&self, on: OnProduce) -> Option<ProduceResponse> {
        let mut partition = PartitionProduceResponse::default().with_index(0);
        let mut response = ProduceResponse::default();
        match on {
            OnProduce::Accept => partition = partition.with_base_offset(0),
            OnProduce::Hang => return None,
            OnProduce::NotLeaderPointTo2 => {
                partition = partition.with_error_code(6).with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(2))
                        .with_leader_epoch(7),
                );
                let (host, port) = self.node2.rsplit_once(':').unwrap();
                response = response.with_node_endpoints(vec![
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(2))
                        .with_host(StrBytes::from_string(host.to_owned()))
                        .with_port(port.parse().unwrap()),
                ]);
            }
        }
        Some(response.with_responses(vec![
                TopicProduceResponse::default()
                    .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                    .with_partition_responses(vec![partition]),
            ]))
    }
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = l.local_addr().unwrap().to_string();
    (l, address)
}

/// Serves every connection of `listener` from the script, with `on` for Produce requests.
fn serve(listener: TcpListener, script: Arc<Script>, on: OnProduce) {
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve_connection(socket, script.clone(), on));
        }
    });
}

async fn serve_connection(mut socket: TcpStream, script: Arc<Script>, on: OnProduce) {
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    loop {
        let frame = loop {
            if let Some(f) = decoder.decode(&mut buf).unwrap() {
                break f;
            }
            if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        };
        let (header, body) = decode_request(frame.freeze()).unwrap();
        let (v, id) = (header.request_api_version, header.correlation_id);
        let response: Bytes = match body {
            RequestKind::ApiVersions(_) => {
                let keys = [
                    (18, 0, 3),
                    (3, 0, 12),
                    (0, 3, 11),
                    (22, 0, 4),
                    (10, 4, 4),
                    (9, 8, 8),
                ]
                .iter()
                .map(|&(k, min, max)| {
                    ApiVersion::default()
                        .with_api_key(k)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect();
                let r = ApiVersionsResponse::default().with_api_keys(keys);
                encode_response_message(v, id, &r).unwrap()
            }
            RequestKind::Metadata(_) => encode_response_message(v, id, &script.metadata()).unwrap(),
            RequestKind::InitProducerId(_) => {
                let r = InitProducerIdResponse::default().with_producer_id(ProducerId(1));
                encode_response_message(v, id, &r).unwrap()
            }
            RequestKind::FindCoordinator(r) => {
                encode_response_message(v, id, &script.find_coordinator(&r)).unwrap()
            }
            RequestKind::OffsetFetch(r) => {
                encode_response_message(v, id, &script.offset_fetch(&r)).unwrap()
            }
            RequestKind::Produce(_) => match script.produce(on) {
                Some(r) => encode_response_message(v, id, &r).unwrap(),
                None => continue,
            },
            other => panic!("the fake broker got an unexpected request: {other:?}"),
        };
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

/// A port nothing listens on (connects are refused).
fn refused_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer {
    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap).unwrap();
    config.set("enable.idempotence", "false").unwrap();
    config.set("acks", "1").unwrap();
    for (k, v) in extra {
        config.set(k, v).unwrap();
    }
    Producer::new(config.producer().unwrap()).unwrap()
}

/// Guards a test against hanging; the bound is far above anything the behaviour under test needs.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn the_pool_fails_at_once_while_a_broker_backs_off() {
    let address = refused_address();
    let options = ConnectOptions {
        client_id: "test".into(),
        setup_timeout: Duration::from_secs(5),
        max_response_bytes: 1 << 20,
        supported: CLIENT_SUPPORTED,
        security: Default::default(),
    };
    // An hour of back-off: a pool that slept it inside `get` would hang this test.
    let pool = ConnectionPool::new(
        options,
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    assert!(pool.get(&address).await.is_err());
    assert!(matches!(pool.readiness(&address), Readiness::BackingOff(_)));
    let err = within("a get during back-off", pool.get(&address))
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(err.to_string().contains("back-off"), "{err}");
}

#[tokio::test]
async fn a_partition_goes_to_the_new_leader_while_the_old_one_backs_off() {
    let (l2, node2) = listener().await;
    let dead = refused_address();
    let script = Script::new(vec![(1, dead), (2, node2.clone())], 1, 2, 2, &node2);
    serve(l2, script.clone(), OnProduce::Accept);
    // Node 1 refuses connections and then backs off for a minute. Metadata names it twice, then
    // node 2: the record must go to node 2 long before the back-off ends (and before
    // delivery.timeout.ms), so the retry must not wait out the back-off inside its request.
    let p = producer(
        &node2,
        &[
            ("reconnect.backoff.ms", "60000"),
            ("reconnect.backoff.max.ms", "60000"),
            ("delivery.timeout.ms", "20000"),
            ("request.timeout.ms", "10000"),
        ],
    );
    let report = within("the send", p.send(ProducerRecord::new(TOPIC).value(b"v")))
        .await
        .expect("delivered by the new leader");
    assert_eq!(report.partition, 0);
    assert!(
        script.answered.load(Ordering::SeqCst) > 2,
        "metadata was refreshed"
    );
}

#[tokio::test]
async fn a_produce_response_naming_the_new_leader_reroutes_at_once() {
    let (l1, node1) = listener().await;
    let (l2, node2) = listener().await;
    // Metadata always names node 1 (stale) and does not even list node 2: only the Produce
    // response (KIP-951 current_leader + node_endpoints) can lead the client to node 2.
    let script = Script::new(vec![(1, node1.clone())], 1, 1, usize::MAX, &node2);
    serve(l1, script.clone(), OnProduce::NotLeaderPointTo2);
    serve(l2, script.clone(), OnProduce::Accept);
    let p = producer(&node1, &[("delivery.timeout.ms", "20000")]);
    let report = within("the send", p.send(ProducerRecord::new(TOPIC).value(b"v")))
        .await
        .expect("delivered by the leader the response named");
    assert_eq!(report.partition, 0);
    let leader = p.cluster().metadata().topics[TOPIC].partitions[0].clone();
    assert_eq!((leader.leader, leader.leader_epoch), (2, 7));
}

#[tokio::test]
async fn a_hung_leader_fails_the_record_at_its_delivery_deadline_as_msg_timed_out() {
    let (l1, node1) = listener().await;
    let script = Script::new(vec![(1, node1.clone())], 1, 1, usize::MAX, &node1);
    serve(l1, script, OnProduce::Hang);
    // request.timeout.ms is far longer than delivery.timeout.ms: the request must be bounded by
    // the record's deadline, not wait out request.timeout.ms.
    let p = producer(
        &node1,
        &[
            ("delivery.timeout.ms", "1500"),
            ("request.timeout.ms", "300000"),
            ("linger.ms", "0"),
        ],
    );
    let err = within("the send", p.send(ProducerRecord::new(TOPIC).value(b"v")))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "_MSG_TIMED_OUT", "{err}");
    assert!(err.possibly_persisted(), "sent and never answered: {err}");
}

/// No broker reachable at all (the bootstrap refuses): the record waits for metadata and fails
/// at its delivery deadline, not after a metadata request's request.timeout.ms.
#[tokio::test]
async fn with_no_broker_reachable_a_record_fails_at_its_delivery_deadline() {
    // Idempotence on (the default), so the producer needs a producer id first.
    let p = producer(
        &refused_address(),
        &[
            ("delivery.timeout.ms", "1000"),
            ("request.timeout.ms", "300000"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
        ],
    );
    let started = std::time::Instant::now();
    let err = within("the send", p.send(ProducerRecord::new(TOPIC).value(b"v")))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "_MSG_TIMED_OUT", "{err}");
    assert!(!err.possibly_persisted(), "never sent: {err}");
    // Printed, not asserted (tests never assert on time): the deadline is 1 s.
    eprintln!("failed after {:?}", started.elapsed());
    // Nothing is left to deliver, so close does not wait for the cluster either.
    within("close", p.close()).await.unwrap();
    eprintln!("closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_request_stuck_on_a_replaced_leader_is_abandoned_for_the_new_one() {
    let (l1, node1) = listener().await;
    let (l2, node2) = listener().await;
    // Node 1 takes Produce requests and never answers (SIGSTOPped); metadata names node 1 for
    // its first two answers, then node 2. The record's request to node 1 must not be waited out
    // to its deadline: once metadata names node 2, it goes there under the same sequence.
    let script = Script::new(
        vec![(1, node1.clone()), (2, node2.clone())],
        1,
        2,
        2,
        &node2,
    );
    serve(l1, script.clone(), OnProduce::Hang);
    serve(l2, script.clone(), OnProduce::Accept);
    let p = producer(
        &node2,
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("delivery.timeout.ms", "30000"),
            ("request.timeout.ms", "300000"),
        ],
    );
    let report = within("the send", p.send(ProducerRecord::new(TOPIC).value(b"v")))
        .await
        .expect("delivered by the new leader, not failed at the deadline");
    assert_eq!(report.partition, 0);
}

#[test]
fn bootstrap_does_not_wait_for_hung_hosts() {
    let ours = TestCluster::odradek();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // Three hosts that accept TCP (the kernel completes the handshake) but never answer.
        let mut hung = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..3 {
            let (l, address) = listener().await;
            hung.push(l);
            servers.push(address);
        }
        servers.push(ours.bootstrap.clone());
        // With the connection setup timeout far above request.timeout.ms, trying a hung host
        // alone until it times out would fail the call; racing the hosts must not.
        for _ in 0..4 {
            let mut config = ClientConfig::new(&servers.join(",")).unwrap();
            config.connection_setup_timeout = Duration::from_secs(300);
            config.request_timeout = Duration::from_secs(5);
            let admin = Admin::new(config);
            within("list_topics", admin.list_topics())
                .await
                .expect("listed topics past the hung hosts");
        }
        drop(hung);
    });
}

#[tokio::test]
async fn committed_retries_a_coordinator_that_is_not_ready() {
    let (l1, node1) = listener().await;
    let script = Script::new(vec![(1, node1.clone())], 1, 1, usize::MAX, &node1);
    serve(l1, script.clone(), OnProduce::Accept);
    let mut config = Config::new();
    config.set("bootstrap.servers", &node1).unwrap();
    config.set("group.id", "g").unwrap();
    let consumer = ConsumerClient::new(&config).unwrap();
    let committed = within("committed", consumer.committed(&[(TOPIC.to_string(), 0)]))
        .await
        .expect("COORDINATOR_NOT_AVAILABLE is retried, as the Java client's committed() does");
    assert_eq!(committed[&(TOPIC.to_string(), 0)], Some(42));
    assert_eq!(script.offset_fetches.load(Ordering::SeqCst), 2);
}

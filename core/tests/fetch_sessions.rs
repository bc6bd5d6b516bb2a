//! Our consumer's fetch sessions (KIP-227), seen on the wire: a proxy between the consumer and
//! the broker (the broker advertises the proxy) decodes every Fetch request. Against our broker
//! and Apache Kafka 4.3.1: the first fetch names every partition, later ones only those that
//! moved, pause forgets a partition and resume names it again, a seek names the new offset, a
//! new connection starts the session over, and every record arrives exactly once.

mod client_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use client_support::{TestCluster, topic};
use kafka_protocol::messages::{FetchRequest, RequestHeader};
use kafka_protocol::protocol::{Decodable, HeaderVersion, Request};
use odradek::admin::{Admin, NewTopic};
use odradek::config::{ClientConfig, Config};
use odradek::consumer::{Consumer, ConsumerRecord, Offset};
use odradek::producer::{Producer, ProducerRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PARTITIONS: i32 = 120;

/// One Fetch request as the proxy saw it.
#[derive(Debug, Clone)]
struct SeenFetch {
    frame_bytes: usize,
    session_id: i32,
    epoch: i32,
    /// (partition, fetch offset) of every partition the request names.
    named: Vec<(i32, i64)>,
    forgotten: Vec<i32>,
}

/// A TCP proxy that forwards both ways and decodes the Fetch requests going to the broker.
struct FetchProxy {
    addr: SocketAddr,
    upstream: Arc<Mutex<Option<SocketAddr>>>,
    seen: Arc<Mutex<Vec<SeenFetch>>>,
    /// Bumped to close every proxied connection (clients then reconnect).
    cut: tokio::sync::watch::Sender<u64>,
    _runtime: tokio::runtime::Runtime,
}

impl FetchProxy {
    fn start() -> FetchProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let seen: Arc<Mutex<Vec<SeenFetch>>> = Arc::default();
        let (up, log) = (upstream.clone(), seen.clone());
        let (cut, cut_rx) = tokio::sync::watch::channel(0u64);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Some(target) = *up.lock().unwrap() else {
                    continue;
                };
                let log = log.clone();
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(broker) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_broker, mut to_broker) = broker.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_broker, &mut to_client).await;
                    });
                    loop {
                        let frame = tokio::select! {
                            frame = read_frame(&mut from_client) => frame,
                            _ = cut.changed() => None,
                        };
                        let Some(frame) = frame else { break };
                        if let Some(f) = decode_fetch(&frame) {
                            log.lock().unwrap().push(f);
                        }
                        let len = (frame.len() as u32).to_be_bytes();
                        if to_broker.write_all(&len).await.is_err()
                            || to_broker.write_all(&frame).await.is_err()
                        {
                            break;
                        }
                    }
                    down.abort();
                });
            }
        });
        FetchProxy {
            addr,
            upstream,
            seen,
            cut,
            _runtime: runtime,
        }
    }

    /// Closes every connection through the proxy.
    fn cut_connections(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    fn forward_to(&self, bootstrap: &str) {
        *self.upstream.lock().unwrap() = Some(bootstrap.parse().unwrap());
    }

    fn fetches(&self) -> Vec<SeenFetch> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_frame(r: &mut (impl AsyncReadExt + Unpin)) -> Option<Bytes> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut buf).await.ok()?;
    Some(Bytes::from(buf))
}

fn decode_fetch(frame: &Bytes) -> Option<SeenFetch> {
    let mut b = frame.clone();
    let (key, version) = (b.clone().get_i16(), {
        let mut v = b.clone();
        v.advance(2);
        v.get_i16()
    });
    if key != FetchRequest::KEY {
        return None;
    }
    RequestHeader::decode(&mut b, FetchRequest::header_version(version)).ok()?;
    let req = FetchRequest::decode(&mut b, version).ok()?;
    Some(SeenFetch {
        frame_bytes: frame.len(),
        session_id: req.session_id,
        epoch: req.session_epoch,
        named: req
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (p.partition, p.fetch_offset)))
            .collect(),
        forgotten: req
            .forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().copied())
            .collect(),
    })
}

/// Asserts that nothing is handed out for `ms` milliseconds.
async fn assert_nothing_within(consumer: &Consumer, ms: u64, why: &str) {
    let got = consumer
        .recv_timeout(Duration::from_millis(ms))
        .await
        .unwrap();
    assert!(got.is_none(), "{why}: {got:?}");
}

/// Reads exactly `n` records.
async fn read_n(consumer: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch =
            tokio::time::timeout(Duration::from_secs(60), consumer.recv_batch(n - out.len()))
                .await
                .expect("records within 60 s")
                .unwrap();
        out.extend(batch);
    }
    out
}

async fn send(producer: &Producer, t: &str, partition: i32, range: std::ops::Range<i32>) {
    for i in range {
        producer
            .send(
                ProducerRecord::new(t)
                    .partition(partition)
                    .value(format!("{partition}-{i}").as_bytes()),
            )
            .await
            .unwrap();
    }
}

/// Offsets read per partition, checked to be exactly `from..to` of each.
fn assert_exactly(records: &[ConsumerRecord], expected: &[(i32, std::ops::Range<i64>)]) {
    let mut got: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in records {
        got.entry(r.partition).or_default().push(r.offset);
    }
    let want: BTreeMap<i32, Vec<i64>> = expected
        .iter()
        .map(|(p, r)| (*p, r.clone().collect()))
        .collect();
    assert_eq!(got, want, "every record once, in order");
}

/// The scenario on a broker that advertises `proxy`.
async fn scenario(cluster_bootstrap: String, proxy: &FetchProxy) {
    let bootstrap = proxy.addr.to_string();
    let admin = Admin::new(ClientConfig::new(&cluster_bootstrap).unwrap());
    let t = topic("sessions");
    admin
        .create_topics(&[NewTopic::new(&t, PARTITIONS)])
        .await
        .unwrap();
    let producer_config = Config::from_pairs([
        ("bootstrap.servers", &*cluster_bootstrap),
        ("linger.ms", "0"),
    ]);
    let producer = Producer::new(producer_config.unwrap().producer().unwrap()).unwrap();
    send(&producer, &t, 3, 0..30).await;
    send(&producer, &t, 77, 0..20).await;

    let consumer_config = Config::from_pairs([
        ("bootstrap.servers", &*bootstrap),
        ("fetch.wait.max.ms", "100"),
    ]);
    let consumer = Consumer::new(consumer_config.unwrap().consumer().unwrap()).unwrap();
    let all: Vec<(&str, i32, Offset)> = (0..PARTITIONS)
        .map(|p| (t.as_str(), p, Offset::Beginning))
        .collect();
    consumer.assign(&all).unwrap();
    let first = read_n(&consumer, 50).await;
    assert_exactly(&first, &[(3, 0..30), (77, 0..20)]);

    // New records on one partition while the others stay quiet.
    send(&producer, &t, 3, 30..35).await;
    let more = read_n(&consumer, 5).await;
    assert_exactly(&more, &[(3, 30..35)]);
    // A few empty polls: incremental fetches with nothing to name.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen = proxy.fetches();
    let full = seen
        .iter()
        .find(|f| f.epoch == 0)
        .expect("a full fetch opened the session");
    assert_eq!(full.named.len(), PARTITIONS as usize);
    let incremental: Vec<&SeenFetch> = seen.iter().filter(|f| f.epoch > 0).collect();
    assert!(
        incremental.len() >= 3,
        "incremental fetches follow the full one: {seen:?}"
    );
    let session_id = incremental[0].session_id;
    assert_ne!(session_id, 0);
    for f in &incremental {
        assert_eq!(f.session_id, session_id);
        assert!(
            f.named.iter().all(|(p, _)| *p == 3 || *p == 77),
            "an incremental fetch names only partitions that moved: {f:?}"
        );
        assert!(f.forgotten.is_empty(), "{f:?}");
        assert!(
            f.frame_bytes * 10 < full.frame_bytes,
            "incremental {} B vs full {} B",
            f.frame_bytes,
            full.frame_bytes
        );
    }
    // Epochs count up one by one.
    for pair in incremental.windows(2) {
        assert_eq!(pair[1].epoch, pair[0].epoch + 1);
    }
    eprintln!(
        "{PARTITIONS} partitions: full fetch {} B, largest incremental {} B, {} incremental",
        full.frame_bytes,
        incremental.iter().map(|f| f.frame_bytes).max().unwrap(),
        incremental.len()
    );

    // Pause: the partition is forgotten; records sent meanwhile arrive once after resume.
    let before = proxy.fetches().len();
    consumer.pause(&[(&t, 3)]);
    send(&producer, &t, 3, 35..40).await;
    assert_nothing_within(&consumer, 700, "a paused partition hands nothing out").await;
    let during = proxy.fetches()[before..].to_vec();
    assert!(
        during.iter().any(|f| f.forgotten.contains(&3)),
        "pause forgets the partition: {during:?}"
    );
    consumer.resume(&[(&t, 3)]);
    let resumed = read_n(&consumer, 5).await;
    assert_exactly(&resumed, &[(3, 35..40)]);
    // Its position: 35, or past what a fetch already in flight at the pause brought back.
    let after = proxy.fetches()[before..].to_vec();
    assert!(
        after.iter().any(|f| f.epoch > 0
            && f.named
                .iter()
                .any(|&(p, o)| p == 3 && (35..40).contains(&o))),
        "resume names it again at its position: {after:?}"
    );

    // Seek back: the session is told the new offset, and the records come again once.
    let before = proxy.fetches().len();
    consumer.seek(&t, 77, Offset::At(10)).unwrap();
    let again = read_n(&consumer, 10).await;
    assert_exactly(&again, &[(77, 10..20)]);
    let after = proxy.fetches()[before..].to_vec();
    assert!(
        after
            .iter()
            .any(|f| f.epoch > 0 && f.named.contains(&(77, 10))),
        "the seek's offset is sent incrementally: {after:?}"
    );
    assert_nothing_within(&consumer, 300, "nothing twice").await;

    // A new connection: the session starts over with a full fetch that names (and so closes)
    // the old session; nothing is lost or read twice across it.
    let before = proxy.fetches().len();
    proxy.cut_connections();
    send(&producer, &t, 77, 20..25).await;
    let after_cut = read_n(&consumer, 5).await;
    assert_exactly(&after_cut, &[(77, 20..25)]);
    let after = proxy.fetches()[before..].to_vec();
    let restart = after
        .iter()
        .find(|f| f.epoch == 0)
        .unwrap_or_else(|| panic!("a full fetch after reconnecting: {after:?}"));
    assert_eq!(restart.session_id, session_id, "it closes the old session");
    assert_eq!(restart.named.len(), PARTITIONS as usize);
    assert!(
        after
            .iter()
            .any(|f| f.epoch > 0 && f.session_id != session_id && f.session_id != 0),
        "a new session follows: {after:?}"
    );
    assert_nothing_within(&consumer, 300, "nothing twice after reconnecting").await;
}

fn run(cluster: TestCluster, proxy: FetchProxy) {
    proxy.forward_to(&cluster.bootstrap);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(cluster.bootstrap.clone(), &proxy));
    drop(cluster);
}

#[test]
fn consumer_uses_fetch_sessions_with_our_broker() {
    let proxy = FetchProxy::start();
    let advertised = format!("PLAINTEXT://{}", proxy.addr);
    let cluster = TestCluster::odradek_with(&[("advertised.listeners", &advertised)]);
    run(cluster, proxy);
}

#[test]
fn consumer_uses_fetch_sessions_with_apache_kafka() {
    let proxy = FetchProxy::start();
    let cluster =
        TestCluster::apache_kafka_with(&format!("advertised.listeners=PLAINTEXT://{}", proxy.addr));
    run(cluster, proxy);
}

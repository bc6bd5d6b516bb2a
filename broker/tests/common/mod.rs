//! Test helpers: start a broker on an ephemeral port in a temp dir, and a minimal raw client
//! that speaks kafka-protocol structs over one TCP connection.
#![allow(dead_code)]

pub mod cluster;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use odradek_broker::{Broker, BrokerConfig, BrokerHandle, BrokerProperties, FsyncPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestBroker {
    pub handle: BrokerHandle,
    pub dir: tempfile::TempDir,
}

pub async fn start_with(props: &str, fsync: FsyncPolicy) -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), props, fsync).await;
    TestBroker { handle, dir }
}

pub async fn start() -> TestBroker {
    start_with("", FsyncPolicy::Interval).await
}

pub async fn start_in(dir: &std::path::Path, props: &str, fsync: FsyncPolicy) -> BrokerHandle {
    init_tracing("info");
    let mut cfg = BrokerConfig::new("127.0.0.1:0".parse().unwrap(), dir);
    cfg.properties = BrokerProperties::parse(props).unwrap();
    cfg.fsync = fsync;
    Broker::start(cfg).await.unwrap()
}

/// Broker logs show up in a failing test's output (RUST_LOG to change the level).
pub fn init_tracing(default_level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .try_init();
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub fn topic(v: &str) -> TopicName {
    TopicName(s(v))
}

/// A byte stream the raw client speaks over: TCP, or TLS over TCP.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

pub struct Client {
    stream: Box<dyn Stream>,
    next_cid: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self::over(Box::new(stream))
    }

    /// A client over an already connected stream (a TLS session, say).
    pub fn over(stream: Box<dyn Stream>) -> Self {
        Self {
            stream,
            next_cid: 1,
        }
    }

    pub fn encode<R: Request>(&mut self, req: &R, version: i16) -> (i32, Bytes) {
        let cid = self.next_cid;
        self.next_cid += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = cid;
        h.client_id = Some(s("odradek-test"));
        h.encode(&mut buf, R::header_version(version)).unwrap();
        req.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        (cid, buf.freeze())
    }

    /// Sends one request and reads its response.
    pub async fn call<R: Request>(&mut self, req: R, version: i16) -> R::Response {
        let (cid, bytes) = self.encode(&req, version);
        self.stream.write_all(&bytes).await.unwrap();
        self.stream.flush().await.unwrap();
        self.read_response::<R>(cid, version).await
    }

    pub async fn read_response<R: Request>(&mut self, cid: i32, version: i16) -> R::Response {
        let mut frame = self
            .read_frame()
            .await
            .expect("connection closed before the response");
        let hv = <R::Response as HeaderVersion>::header_version(version);
        let h = ResponseHeader::decode(&mut frame, hv).unwrap();
        assert_eq!(h.correlation_id, cid, "responses arrive in request order");
        R::Response::decode(&mut frame, version).unwrap()
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The broker may already have closed; that is what some tests expect.
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    pub async fn write(&mut self, bytes: &Bytes) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// The next frame body, or None when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.ok()?;
        let len = i32::from_be_bytes(len) as usize;
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    /// True if the broker closes the connection (reads EOF or reset) within 10 s.
    pub async fn closed_by_peer(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub async fn create_topic(
    c: &mut Client,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> i16 {
    create_topic_with(c, name, partitions, 1, configs)
        .await
        .error_code
}

/// CreateTopics v7 of one topic with a replication factor; returns its result.
pub async fn create_topic_with(
    c: &mut Client,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> create_topics_response::CreatableTopicResult {
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic(name);
    t.num_partitions = partitions;
    t.replication_factor = replication_factor;
    for (k, v) in configs {
        let mut c = create_topics_request::CreatableTopicConfig::default();
        c.name = s(k);
        c.value = Some(s(v));
        t.configs.push(c);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    c.call(req, 7).await.topics.remove(0)
}

/// An uncompressed (or compressed) batch of `values`, keyed by `keys` when given.
pub fn batch(
    values: &[&str],
    keys: Option<&[&str]>,
    producer: Option<(i64, i16, i32)>,
    compression: Compression,
) -> Bytes {
    let now = 1_700_000_000_000i64;
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits batches where offset − sequence changes.
            sequence: seq.wrapping_add(i as i32),
            timestamp: now + i as i64,
            key: keys.map(|k| Bytes::from(k[i].to_string())),
            value: if v.is_empty() {
                None
            } else {
                Some(Bytes::from(v.to_string()))
            },
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

/// Produces one batch to `name`/`partition` (Produce v9); returns the partition's answer.
pub async fn produce_response(
    c: &mut Client,
    name: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> produce_response::PartitionProduceResponse {
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = produce_request::TopicProduceData::default();
    td.name = topic(name);
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 5000;
    req.topic_data.push(td);
    let mut resp = c.call(req, 9).await;
    resp.responses.remove(0).partition_responses.remove(0)
}

/// Produces one batch to `name`/`partition`; returns (error code, base offset).
pub async fn produce(
    c: &mut Client,
    name: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> (i16, i64) {
    let p = produce_response(c, name, partition, records, acks).await;
    if p.error_code != 0 {
        eprintln!(
            "produce to {name}/{partition}: error {} {:?}",
            p.error_code, p.error_message
        );
    }
    (p.error_code, p.base_offset)
}

pub fn fetch_request(
    name: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
    partition_max: i32,
) -> FetchRequest {
    let mut fp = fetch_request::FetchPartition::default();
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = partition_max;
    fp.current_leader_epoch = -1;
    fp.log_start_offset = -1;
    let mut ft = fetch_request::FetchTopic::default();
    ft.topic = topic(name);
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = min_bytes;
    req.max_bytes = 50 * 1024 * 1024;
    req.session_epoch = -1;
    req.topics.push(ft);
    req
}

/// Fetch v12 of one partition: (error code, high watermark, records bytes).
pub async fn fetch(
    c: &mut Client,
    name: &str,
    partition: i32,
    offset: i64,
    partition_max: i32,
) -> (i16, i64, Bytes) {
    let resp = c
        .call(
            fetch_request(name, partition, offset, 0, 0, partition_max),
            12,
        )
        .await;
    let p = &resp.responses[0].partitions[0];
    (
        p.error_code,
        p.high_watermark,
        p.records.clone().unwrap_or_default(),
    )
}

/// (offset, value) of every record in a records blob (ignores a truncated trailing batch).
pub fn decode_values(records: Bytes) -> Vec<(i64, Option<String>)> {
    decode_records(records)
        .into_iter()
        .map(|(o, _, v)| (o, v))
        .collect()
}

/// (offset, key, value) of every record in a records blob.
pub fn decode_records(mut records: Bytes) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    while records.len() >= 12 {
        let len = i32::from_be_bytes(records[8..12].try_into().unwrap()) as usize;
        if records.len() < 12 + len {
            break;
        }
        let mut one = records.split_to(12 + len);
        let set = RecordBatchDecoder::decode(&mut one).unwrap();
        for r in set.records {
            let text = |b: Option<Bytes>| b.map(|v| String::from_utf8(v.to_vec()).unwrap());
            out.push((r.offset, text(r.key), text(r.value)));
        }
    }
    let _ = records.remaining();
    out
}

/// ListOffsets v7 for one partition at `timestamp` (-1 latest, -2 earliest, -3 max ts).
pub async fn list_offset(
    c: &mut Client,
    name: &str,
    partition: i32,
    timestamp: i64,
) -> (i16, i64, i64) {
    let mut p = list_offsets_request::ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    p.current_leader_epoch = -1;
    let mut t = list_offsets_request::ListOffsetsTopic::default();
    t.name = topic(name);
    t.partitions.push(p);
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics.push(t);
    let resp = c.call(req, 7).await;
    let r = &resp.topics[0].partitions[0];
    (r.error_code, r.offset, r.timestamp)
}

/// A connection authenticated with SASL PLAIN as `user` (password `<user>-pw`).
pub async fn login_plain(addr: SocketAddr, user: &str) -> Client {
    let mut c = Client::connect(addr).await;
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = s("PLAIN");
    assert_eq!(c.call(hs, 1).await.error_code, 0);
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = format!("\0{user}\0{user}-pw").into_bytes().into();
    assert_eq!(c.call(auth, 2).await.error_code, 0);
    c
}

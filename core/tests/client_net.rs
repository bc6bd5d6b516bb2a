//! Connection-level behaviour against a scripted fake broker (deterministic, no JVM): pipelining,
//! cancellation safety, failure of pending requests when the broker goes away, reconnect.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use odradek::net::{CLIENT_SUPPORTED, ConnectOptions, Connection, ConnectionPool, Readiness};
use odradek::protocol::codec::{decode_request, encode_response_message};
use odradek::protocol::frame::FrameDecoder;
use odradek::protocol::messages::api_versions_response::ApiVersion;
use odradek::protocol::messages::metadata_request::MetadataRequestTopic;
use odradek::protocol::messages::{
    ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

fn options() -> ConnectOptions {
    ConnectOptions {
        client_id: "test".into(),
        setup_timeout: Duration::from_secs(5),
        max_response_bytes: 1 << 20,
        supported: CLIENT_SUPPORTED,
        security: Default::default(),
    }
}

/// A fake broker: answers ApiVersions at once; answers each Metadata request with
/// `throttle_time_ms = number of topics asked`, but only when the test releases it (one
/// release per response), so the test controls when responses arrive.
async fn fake_broker() -> (
    String,
    mpsc::UnboundedSender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (release_tx, mut release_rx) = mpsc::unbounded_channel::<()>();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut decoder = FrameDecoder::new(1 << 20);
        let mut buf = BytesMut::new();
        loop {
            let frame = loop {
                if let Some(f) = decoder.decode(&mut buf).unwrap() {
                    break f;
                }
                if socket.read_buf(&mut buf).await.unwrap() == 0 {
                    return;
                }
            };
            let (header, body) = decode_request(frame.freeze()).unwrap();
            let version = header.request_api_version;
            let response = match body {
                RequestKind::ApiVersions(_) => {
                    let keys = [(18, 0, 3), (3, 0, 12)]
                        .iter()
                        .map(|&(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(k)
                                .with_min_version(min)
                                .with_max_version(max)
                        })
                        .collect();
                    encode_response_message(
                        version,
                        header.correlation_id,
                        &ApiVersionsResponse::default().with_api_keys(keys),
                    )
                    .unwrap()
                }
                RequestKind::Metadata(m) => {
                    if release_rx.recv().await.is_none() {
                        return;
                    }
                    let n = m.topics.map_or(0, |t| t.len()) as i32;
                    encode_response_message(
                        version,
                        header.correlation_id,
                        &MetadataResponse::default().with_throttle_time_ms(n),
                    )
                    .unwrap()
                }
                other => panic!("unexpected request {other:?}"),
            };
            socket.write_all(&response).await.unwrap();
        }
    });
    (address, release_tx, task)
}

fn metadata_asking(n: usize) -> MetadataRequest {
    MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default(); n]))
}

#[tokio::test]
async fn a_dropped_request_leaves_the_connection_aligned() {
    let (address, release, _task) = fake_broker().await;
    let conn = Connection::connect(&address, &options()).await.unwrap();
    // Request A is abandoned before its response arrives.
    let abandoned =
        tokio::time::timeout(Duration::from_millis(20), conn.request(&metadata_asking(1))).await;
    assert!(
        abandoned.is_err(),
        "the fake broker had not been released yet"
    );
    assert_eq!(
        conn.pending_requests(),
        0,
        "the dropped request unregistered itself"
    );
    // Request B must get B's response, not A's late one.
    let b_request = metadata_asking(2);
    let b = conn.request(&b_request);
    release.send(()).unwrap(); // A's (discarded) response
    release.send(()).unwrap(); // B's response
    let response = b.await.unwrap();
    assert_eq!(response.throttle_time_ms, 2);
    assert_eq!(conn.pending_requests(), 0);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn responses_are_matched_when_pipelined() {
    let (address, release, _task) = fake_broker().await;
    let conn = Arc::new(Connection::connect(&address, &options()).await.unwrap());
    let mut futs = Vec::new();
    for n in 0..50 {
        let conn = conn.clone();
        futs.push(tokio::spawn(async move {
            (n, conn.request(&metadata_asking(n)).await)
        }));
    }
    for _ in 0..50 {
        release.send(()).unwrap();
    }
    for f in futs {
        let (n, r) = f.await.unwrap();
        assert_eq!(r.unwrap().throttle_time_ms, n as i32);
    }
}

#[tokio::test]
async fn pending_requests_fail_when_the_broker_goes_away() {
    let (address, _release, task) = fake_broker().await;
    let conn = Connection::connect(&address, &options()).await.unwrap();
    let request = metadata_asking(1);
    let pending = conn.request(&request);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        task.abort();
    };
    let (result, ()) = tokio::join!(pending, killer);
    let err = result.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(conn.is_closed());
    // New requests fail fast instead of hanging.
    assert!(
        conn.request(&metadata_asking(1))
            .await
            .unwrap_err()
            .is_retriable()
    );
}

#[tokio::test]
async fn the_pool_reconnects_after_a_failure() {
    // Reserve a port, then close it so the first connect is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let pool = ConnectionPool::new(
        options(),
        Duration::from_millis(1),
        Duration::from_millis(5),
    );
    let err = pool.get(&address).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(err.to_string().contains(&address), "{err}");
    // Now a broker appears on that port; the next attempt (after backoff) succeeds.
    let listener = TcpListener::bind(&address).await.unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = BytesMut::new();
        let mut decoder = FrameDecoder::new(1 << 20);
        let frame = loop {
            if let Some(f) = decoder.decode(&mut buf).unwrap() {
                break f;
            }
            assert!(socket.read_buf(&mut buf).await.unwrap() > 0);
        };
        let (header, _) = decode_request(frame.freeze()).unwrap();
        let keys = vec![ApiVersion::default().with_api_key(18).with_max_version(3)];
        let resp = encode_response_message(
            header.request_api_version,
            header.correlation_id,
            &ApiVersionsResponse::default().with_api_keys(keys),
        )
        .unwrap();
        socket.write_all(&resp).await.unwrap();
        let mut rest = BytesMut::new();
        rest.put_u8(0);
        let _ = socket.read_buf(&mut rest).await;
    });
    // The pool does not sleep out the back-off inside `get` (it fails at once meanwhile): wait
    // for the back-off to end, as a caller would by retrying later.
    while matches!(pool.readiness(&address), Readiness::BackingOff(_)) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let conn = pool.get(&address).await.unwrap();
    assert!(!conn.is_closed());
    assert!(
        Arc::ptr_eq(&conn, &pool.get(&address).await.unwrap()),
        "connections are reused"
    );
    drop(conn);
    pool.close_all();
    let _ = server.await;
}

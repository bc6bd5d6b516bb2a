//! One TCP connection to one broker, shared by every request to that broker.
//!
//! A writer task and a reader task own the socket halves. A request is registered in the
//! pending map under its correlation id *before* its frame is queued for the writer, so the
//! reader can always route the response. Invariants that make it cancellation-safe:
//! - whole frames are written only by the writer task, so a dropped caller never leaves half a
//!   request on the wire;
//! - a dropped caller removes its pending entry (guard), and a response with no entry is
//!   discarded, so nothing is orphaned and the stream stays aligned;
//! - when either task fails, the connection is marked closed and every pending request fails
//!   with a retriable network error, under the same lock that registration checks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use odradek_socket::{ClientStream, ReadHalf};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::pooled_read;
use super::writer::{Outgoing, Queues, write_loop};
use crate::error::{Error, ErrorClass, ErrorKind, Result};
use crate::metrics::BrokerCounters;
use crate::protocol::EncodeRequest;
use crate::protocol::codec::{Response, decode_response, peek_correlation_id};
use crate::protocol::frame::FrameDecoder;
use crate::protocol::versions::ApiVersionMap;
use crate::security::Security;

type Reply = oneshot::Sender<Result<Bytes>>;

#[derive(Default)]
struct PendingMap {
    closed: Option<Error>,
    replies: HashMap<i32, Reply>,
}

struct Shared {
    address: String,
    /// The broker's counters in the pool (request round trips).
    counters: Arc<BrokerCounters>,
    pending: Mutex<PendingMap>,
    closed: AtomicBool,
    next_correlation_id: AtomicI32,
}

impl Shared {
    fn close(&self, error: Error) {
        let replies = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.closed.is_some() {
                return;
            }
            pending.closed = Some(error.clone());
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut pending.replies)
        };
        tracing::debug!(broker = %self.address, %error, "connection closed");
        for (_, reply) in replies {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// Options for opening a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Client id sent in every request header.
    pub client_id: String,
    /// Deadline for TCP connect + ApiVersions.
    pub setup_timeout: Duration,
    /// Largest response frame accepted.
    pub max_response_bytes: usize,
    /// The API ranges this client speaks (intersected with the broker's).
    pub supported: &'static [(ApiKey, i16, i16)],
    /// TLS and SASL.
    pub security: Security,
}

impl ConnectOptions {
    /// The options every connection of a client with `config` uses.
    pub fn for_client(config: &crate::config::ClientConfig) -> Self {
        ConnectOptions {
            client_id: config.client_id.clone(),
            setup_timeout: config.connection_setup_timeout,
            max_response_bytes: config.max_response_bytes,
            supported: super::CLIENT_SUPPORTED,
            security: config.security.clone(),
        }
    }
}

/// A multiplexed, pipelined connection to one broker. Cheap to share behind an `Arc`.
pub struct Connection {
    link: Link,
    tasks: Vec<JoinHandle<()>>,
    session_lifetime: Option<Duration>,
    /// KIP-368: the channel re-authentication writes on while ordinary requests wait, and the
    /// switch that makes them wait; `None` without SASL.
    reauth: Option<(mpsc::UnboundedSender<Outgoing>, watch::Sender<bool>)>,
}

/// What sending a request needs: the connection's shared state, the writer's queue to use,
/// the negotiated versions. The connection has one over the ordinary queue; re-authentication
/// has one over the writer's priority queue.
pub(super) struct Link {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Outgoing>,
    versions: ApiVersionMap,
    client_id: StrBytes,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.link.shared.address)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Dropping the last handle closes the socket: no half-open connection is left behind.
        self.link.shared.close(Error::closed("connection dropped"));
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    /// Connects to `address`, negotiates API versions, and starts the reader and writer tasks.
    ///
    /// Every address the host name resolves to is tried (`client.dns.lookup=use_all_dns_ips`),
    /// staggered happy-eyeballs style: one that accepts TCP but never answers ApiVersions costs
    /// [`super::STAGGER`], not the whole `socket.connection.setup.timeout.ms`.
    pub async fn connect(address: &str, options: &ConnectOptions) -> Result<Connection> {
        Connection::connect_counted(address, options, Arc::default()).await
    }

    /// [`Connection::connect`], recording request round trips in `counters` (the pool's, kept
    /// per broker across reconnects).
    pub(crate) async fn connect_counted(
        address: &str,
        options: &ConnectOptions,
        counters: Arc<BrokerCounters>,
    ) -> Result<Connection> {
        let setup = async {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host(address)
                .await
                .map_err(|e| {
                    Error::from(e)
                        .with_broker(address)
                        .with_class(ErrorClass::Retriable)
                })?
                .collect();
            super::race_staggered(resolved, 1, super::STAGGER, |ip| {
                Connection::connect_ip(ip, address, options, counters.clone())
            })
            .await
        };
        match tokio::time::timeout(options.setup_timeout, setup).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!(
                "connecting to {address} took longer than {:?} (socket.connection.setup.timeout.ms)",
                options.setup_timeout
            ))
            .with_broker(address)),
        }
    }

    /// TCP connect to one resolved address, the TLS handshake (SSL, SASL_SSL), the ApiVersions
    /// handshake, then SASL (SASL_PLAINTEXT, SASL_SSL).
    async fn connect_ip(
        ip: SocketAddr,
        address: &str,
        options: &ConnectOptions,
        counters: Arc<BrokerCounters>,
    ) -> Result<Connection> {
        let stream = TcpStream::connect(ip).await.map_err(|e| {
            Error::from(e)
                .with_broker(format_args!("{address} ({ip})"))
                .with_class(ErrorClass::Retriable)
        })?;
        let _ = stream.set_nodelay(true);
        let stream = match &options.security.tls {
            None => ClientStream::Plain(stream),
            Some(tls) => {
                let host = host_of(address);
                let tls_stream = odradek_socket::tls::connect(tls.clone(), host, stream)
                    .await
                    .map_err(|e| match odradek_socket::tls::certificate_problem(&e) {
                        Some(problem) => {
                            Error::ssl(format!("TLS handshake with {host} failed: {problem}"))
                                .with_broker(address)
                        }
                        None => Error::network(format!("TLS handshake failed: {e}"))
                            .with_broker(format_args!("{address} ({ip})")),
                    })?;
                ClientStream::Tls(Box::new(tls_stream))
            }
        };
        let mut connection = Connection::start(stream, address, options, counters);
        connection.link.versions = connection.negotiate(options.supported).await?;
        if let Some(sasl) = &options.security.sasl {
            connection.session_lifetime = super::sasl::authenticate(&connection.link, sasl).await?;
            if let (Some(lifetime), Some((auth_tx, paused))) =
                (connection.session_lifetime, connection.reauth.take())
            {
                let link = Link {
                    shared: connection.link.shared.clone(),
                    tx: auth_tx,
                    versions: connection.link.versions.clone(),
                    client_id: connection.link.client_id.clone(),
                };
                connection
                    .tasks
                    .push(tokio::spawn(super::sasl::reauthenticate(
                        link,
                        paused,
                        sasl.clone(),
                        lifetime,
                    )));
            }
        }
        Ok(connection)
    }

    /// The SASL session lifetime the broker set (KIP-368), if any.
    pub fn session_lifetime(&self) -> Option<Duration> {
        self.session_lifetime
    }

    fn start(
        stream: ClientStream,
        address: &str,
        options: &ConnectOptions,
        counters: Arc<BrokerCounters>,
    ) -> Connection {
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            address: address.to_owned(),
            counters,
            pending: Mutex::new(PendingMap::default()),
            closed: AtomicBool::new(false),
            next_correlation_id: AtomicI32::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (auth_tx, auth_rx) = mpsc::unbounded_channel();
        let (paused_tx, paused_rx) = watch::channel(false);
        let reader = tokio::spawn(read_loop(read, shared.clone(), options.max_response_bytes));
        let writer = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let queues = Queues {
                    ordinary: rx,
                    auth: auth_rx,
                    paused: paused_rx,
                };
                let error = write_loop(write, queues, &shared.address).await;
                shared.close(error);
            })
        };
        Connection {
            link: Link {
                shared,
                tx,
                versions: ApiVersionMap::default(),
                client_id: StrBytes::from_string(options.client_id.clone()),
            },
            tasks: vec![reader, writer],
            session_lifetime: None,
            reauth: options
                .security
                .sasl
                .is_some()
                .then_some((auth_tx, paused_tx)),
        }
    }

    /// ApiVersions at the highest version we speak; a broker that does not know it answers with
    /// v0 listing its ranges, and we retry at the best version it does know.
    async fn negotiate(&self, supported: &[(ApiKey, i16, i16)]) -> Result<ApiVersionMap> {
        let ours = supported
            .iter()
            .find(|(k, _, _)| *k == ApiKey::ApiVersions)
            .map_or(3, |&(_, _, max)| max.min(3));
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("odradek"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut response: ApiVersionsResponse = self.request_at(&request, ours).await?;
        if response.error_code == ResponseErrorCode::UNSUPPORTED_VERSION {
            let theirs = response
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map_or(0, |k| k.max_version.min(ours));
            response = self.request_at(&request, theirs).await?;
        }
        if let Some(err) = Error::from_code(response.error_code) {
            return Err(err.with_broker(&self.link.shared.address));
        }
        Ok(ApiVersionMap::negotiate(supported, &response))
    }

    /// The broker address this connection is to.
    pub fn address(&self) -> &str {
        &self.link.shared.address
    }

    /// True once the connection failed or was closed; a new one must be opened.
    pub fn is_closed(&self) -> bool {
        self.link.shared.closed.load(Ordering::Acquire)
    }

    /// The negotiated version for `api_key`, if both sides speak it.
    pub fn version(&self, api_key: ApiKey) -> Option<i16> {
        self.link.versions.version(api_key)
    }

    /// The level at which the broker finalized `feature` (0 when it did not; KIP-584).
    pub fn finalized_level(&self, feature: &str) -> i16 {
        self.link.versions.finalized_level(feature)
    }

    /// The negotiated version, or an error naming the API.
    pub fn require_version(&self, api_key: ApiKey) -> Result<i16> {
        self.link
            .versions
            .require(api_key)
            .map_err(|e| Error::from(e).with_broker(&self.link.shared.address))
    }

    /// Sends `request` at the highest common version and waits for its response.
    ///
    /// Not bounded in time here: callers wrap it in their deadline (see [`Connection::request_timeout`]).
    pub async fn request<R>(&self, request: &R) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        let version = self.require_version(R::API_KEY)?;
        self.request_at(request, version).await
    }

    /// [`Connection::request`] with a deadline. On timeout the connection is closed (as
    /// librdkafka and the Java client do): a broker that stopped answering is abandoned at once
    /// by every request on it, and the next request reconnects, so nothing waits on it twice.
    pub async fn request_timeout<R>(&self, request: &R, timeout: Duration) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        self.request_timeout_capped(request, None, timeout).await
    }

    /// [`Connection::request_timeout`] at the highest common version not above `cap` (a
    /// transactional producer keeps to transaction version 1's versions unless the broker
    /// finalized version 2).
    pub async fn request_timeout_capped<R>(
        &self,
        request: &R,
        cap: Option<i16>,
        timeout: Duration,
    ) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        match tokio::time::timeout(timeout, self.request_capped(request, cap)).await {
            Ok(result) => result,
            Err(_) => {
                let error = Error::timeout(format!(
                    "no response to {:?} within {timeout:?}; connection closed",
                    R::API_KEY
                ))
                .with_broker(&self.link.shared.address);
                tracing::warn!(broker = %self.link.shared.address, %error, "request timed out");
                self.close_with(error.clone());
                Err(error)
            }
        }
    }

    /// [`Connection::request`] with a deadline of the caller's own (shorter than
    /// `request.timeout.ms`, e.g. a record's delivery deadline): on timeout only this request is
    /// abandoned (a late response is discarded) and the connection stays open, since a broker
    /// that is merely slow (waiting for replicas) must not cost the other requests on it.
    pub async fn request_within<R>(
        &self,
        request: &R,
        cap: Option<i16>,
        timeout: Duration,
    ) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        match tokio::time::timeout(timeout, self.request_capped(request, cap)).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!(
                "no response to {:?} within {timeout:?}; request abandoned",
                R::API_KEY
            ))
            .with_broker(&self.link.shared.address)),
        }
    }

    /// [`Connection::request`] at a version not above `cap`.
    async fn request_capped<R>(&self, request: &R, cap: Option<i16>) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        let version = self.require_version(R::API_KEY)?;
        self.request_at(request, cap.map_or(version, |c| version.min(c)))
            .await
    }

    /// Sends `request` at `version` and waits for its response.
    pub async fn request_at<R>(&self, request: &R, version: i16) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        self.link.request_at(request, version).await
    }

    /// Sends a request that gets no response (Produce with acks=0); resolves once written.
    pub async fn send_no_response<R: EncodeRequest>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<()> {
        let header = self.link.header(version);
        let frame = request.encode_frame(&header, version)?;
        let (written_tx, written_rx) = oneshot::channel();
        if self.is_closed() {
            return Err(self.closed_error());
        }
        self.link
            .tx
            .send(Outgoing {
                frame,
                written: Some(written_tx),
            })
            .map_err(|_| self.closed_error())?;
        written_rx.await.map_err(|_| self.closed_error())?
    }

    fn closed_error(&self) -> Error {
        self.link.closed_error()
    }

    /// Number of requests waiting for a response (for tests and metrics).
    pub fn pending_requests(&self) -> usize {
        let pending = self
            .link
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.replies.len()
    }

    /// Closes the connection; pending requests fail with a retriable error.
    pub fn close(&self) {
        self.close_with(
            Error::network("connection closed by the client")
                .with_broker(&self.link.shared.address),
        );
    }

    /// Closes the connection; pending requests fail with `error`.
    fn close_with(&self, error: Error) {
        self.link.shared.close(error);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Link {
    /// Sends `request` at `version` and waits for its response.
    pub async fn request_at<R>(&self, request: &R, version: i16) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        let frame = self.send_frame::<R>(request, version)?;
        let bytes = frame.await?;
        let (_, response) = decode_response::<R::Response>(bytes, version)
            .map_err(|e| Error::from(e).with_broker(&self.shared.address))?;
        Ok(response)
    }

    fn header(&self, _version: i16) -> RequestHeader {
        let correlation_id = self
            .shared
            .next_correlation_id
            .fetch_add(1, Ordering::Relaxed)
            & i32::MAX;
        RequestHeader::default()
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()))
    }

    /// Registers the request and queues its frame synchronously (no await point, so a caller
    /// cancelled afterwards can only drop the returned future, whose guard unregisters it).
    fn send_frame<R: EncodeRequest>(&self, request: &R, version: i16) -> Result<PendingResponse> {
        let header = self.header(version);
        let correlation_id = header.correlation_id;
        let frame = request.encode_frame(&header, version)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(err) = &pending.closed {
                return Err(err.clone());
            }
            pending.replies.insert(correlation_id, reply_tx);
        }
        let guard = PendingResponse {
            shared: self.shared.clone(),
            correlation_id,
            rx: reply_rx,
            sent: std::time::Instant::now(),
        };
        if self
            .tx
            .send(Outgoing {
                frame,
                written: None,
            })
            .is_err()
        {
            return Err(self.closed_error());
        }
        Ok(guard)
    }

    pub(super) fn closed_error(&self) -> Error {
        let pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.closed.clone().unwrap_or_else(|| {
            Error::network("connection closed").with_broker(&self.shared.address)
        })
    }

    /// True once the connection failed or was closed.
    pub(super) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The broker address.
    pub(super) fn address(&self) -> &str {
        &self.shared.address
    }

    /// The negotiated version for `api_key`, if both sides speak it.
    pub(super) fn version(&self, api_key: ApiKey) -> Option<i16> {
        self.versions.version(api_key)
    }

    /// Fails every request on the connection with `error` and stops its tasks' work.
    pub(super) fn close(&self, error: Error) {
        self.shared.close(error);
    }
}

struct ResponseErrorCode;
impl ResponseErrorCode {
    const UNSUPPORTED_VERSION: i16 = 35;
}

/// The response side of one request: resolves to the response frame body. Dropping it
/// unregisters the request.
struct PendingResponse {
    shared: Arc<Shared>,
    correlation_id: i32,
    rx: oneshot::Receiver<Result<Bytes>>,
    sent: std::time::Instant,
}

impl Drop for PendingResponse {
    fn drop(&mut self) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.replies.remove(&self.correlation_id);
    }
}

impl std::future::Future for PendingResponse {
    type Output = Result<Bytes>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let rx = std::pin::Pin::new(&mut self.rx);
        match rx.poll(cx) {
            std::task::Poll::Ready(Ok(result)) => {
                if result.is_ok() {
                    self.shared.counters.requests.record(self.sent.elapsed());
                }
                std::task::Poll::Ready(result)
            }
            std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Err(Error::network(
                "connection closed before the response arrived",
            )
            .with_broker(&self.shared.address))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// A failed read: a TLS alert about certificates (TLS 1.3 brokers refuse a client certificate
/// after the handshake, on the first read) is a fatal `_SSL` error, the rest retriable.
fn read_error(e: std::io::Error) -> Error {
    match odradek_socket::tls::certificate_problem(&e) {
        Some(problem) => Error::ssl(problem),
        None => Error::from(e).with_class(ErrorClass::Retriable),
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed): the TLS server name.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

async fn read_loop(mut read: ReadHalf, shared: Arc<Shared>, max_frame: usize) {
    let mut decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // Large frames (Fetch responses) are read into recycled buffers; see super::pooled_read.
    let pool = pooled_read::frame_pool();
    let error = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => match route_response(&shared, frame.freeze()) {
                Ok(()) => continue,
                Err(e) => break e,
            },
            Ok(None) => {}
            Err(e) => break Error::from(e).with_class(ErrorClass::Retriable),
        }
        let body_len = decoder.peek_body_len(&buf).ok().flatten();
        if let Some(len) = body_len.filter(|&len| len >= pooled_read::POOLED_FRAME_MIN) {
            match pooled_read::read_frame(&mut read, &mut buf, len, &pool).await {
                Ok(frame) => match route_response(&shared, frame) {
                    Ok(()) => continue,
                    Err(e) => break e,
                },
                Err(e) => break e,
            }
        }
        // Make room for the rest of the current frame (bounded by the validated maximum).
        if let Some(len) = body_len {
            let want = (len + 4).saturating_sub(buf.len()).min(8 * 1024 * 1024);
            buf.reserve(want.max(16 * 1024));
        } else {
            buf.reserve(16 * 1024);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) => break Error::network("broker closed the connection"),
            Ok(_) => {}
            Err(e) => break read_error(e),
        }
    };
    shared.close(error.with_broker(&shared.address));
}

/// Hands a response frame to the request waiting for it (or discards it if that was cancelled).
fn route_response(shared: &Shared, frame: Bytes) -> Result<()> {
    let Some(correlation_id) = peek_correlation_id(&frame) else {
        return Err(Error::new(
            ErrorKind::Protocol,
            ErrorClass::Retriable,
            "response frame shorter than its header",
        ));
    };
    let reply = {
        let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.replies.remove(&correlation_id)
    };
    match reply {
        Some(reply) => {
            let _ = reply.send(Ok(frame));
        }
        None => {
            tracing::trace!(broker = %shared.address, correlation_id, "discarding response to a cancelled request")
        }
    }
    Ok(())
}

//! One client connection, served by a single task: it frames, decodes and dispatches requests
//! in arrival order and writes their responses in that same order. Work that waits (a
//! long-poll fetch, an fsync before acking) stays queued as a future while later pipelined
//! requests keep being read and handled; responses behind it wait their turn.
//!
//! One task per connection (not a reader and a writer task joined by a channel) because at
//! fixed produce rates every task wake-up is a thread hand-off: with two tasks each request
//! woke the writer and, through the scheduler, another worker thread, doubling the context
//! switches per request (measured in BENCHMARKS.md). Finished responses go out together in one
//! vectored write, straight from their encoded buffers.
//!
//! On a TLS listener the handshake runs first (bounded by `socket.request.read.timeout.ms`);
//! the same loop then serves the decrypted stream, with every limit applying as on a plain
//! socket. On a SASL listener a [`SaslSession`] gates what is served until the client has
//! authenticated.

use std::collections::VecDeque;
use std::future::Future;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use super::Net;
use super::admission::{LogLimiter, Ticket};
use super::budget::Share;
use super::versions::is_supported;
use crate::config::ConnectionLimits;
use crate::handlers::{self, Ctx, Outcome};
use crate::security::sasl::{Gate, SaslSession, Step};
use crate::security::{ANONYMOUS, Listener, tls};
use crate::state::BrokerState;
use odradek_protocol::ProtocolError;
use odradek_protocol::codec::{decode_request, encode_response, peek_request_preamble};
use odradek_protocol::frame::FrameDecoder;

/// The content type of a TLS handshake record, the first byte a TLS client sends.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Responses handed to one vectored write at most.
const MAX_WRITE_SLICES: usize = 32;

/// Read granularity: the read buffer starts here and grows with the bytes that arrive, never
/// with the size a frame announces.
const READ_CHUNK: usize = 16 * 1024;

/// Frames up to this size are read without waiting for the broker-wide budget: they fit the
/// read buffer a connection has anyway (bounded by `max.connections`).
const SMALL_FRAME: usize = 64 * 1024;

/// One WARN per second at most for connections closed on a fault (hostile or broken
/// clients), with a count of the ones held back.
static CLOSE_LOG: LogLimiter = LogLimiter::new(Duration::from_secs(1));

type ResponseFuture = Pin<Box<dyn Future<Output = Option<Result<Bytes, ProtocolError>>> + Send>>;

enum Pending {
    Ready(Bytes),
    /// A response still being computed; `fetch` marks a long-poll Fetch.
    Later {
        fut: ResponseFuture,
        fetch: bool,
    },
}

/// Responses in request order: `ready` (encoded, partly written at its front) all precede
/// `waiting`, whose front may be a future still running.
#[derive(Default)]
struct Outbox {
    ready: VecDeque<Bytes>,
    /// Bytes in `ready` not yet written.
    ready_bytes: usize,
    waiting: VecDeque<Pending>,
    /// Long-poll Fetches in `waiting`.
    waiting_fetches: usize,
}

impl Outbox {
    fn len(&self) -> usize {
        self.ready.len() + self.waiting.len()
    }

    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.waiting.is_empty()
    }

    /// Whether another request may be read: fewer than the allowed requests in flight and
    /// fewer than the allowed response bytes waiting for the peer to read them.
    fn has_room(&self, limits: &ConnectionLimits) -> bool {
        self.len() < limits.max_requests_per_connection
            && self.ready_bytes < limits.max_response_bytes_per_connection
    }

    fn push(&mut self, p: Pending) {
        if let Pending::Later { fetch: true, .. } = p {
            self.waiting_fetches += 1;
        }
        self.waiting.push_back(p);
        self.promote();
    }

    fn push_ready(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.ready_bytes += b.len();
            self.ready.push_back(b);
        }
    }

    /// Whether the request at the front of `buf` is a Fetch that must wait: behind an unanswered
    /// long-poll Fetch a second one is not read, since each would add a response of up to its
    /// `max_bytes` when it completes (consumers keep one Fetch in flight per connection). Other
    /// requests are still read, so a Produce behind a long poll can wake it.
    fn fetch_must_wait(&self, buf: &[u8]) -> bool {
        self.waiting_fetches > 0 && buf.get(4..6) == Some(&(ApiKey::Fetch as i16).to_be_bytes()[..])
    }

    /// Removes the future at the front of `waiting` once it has produced its response.
    fn drop_finished_front(&mut self) {
        if let Some(Pending::Later { fetch: true, .. }) = self.waiting.pop_front() {
            self.waiting_fetches -= 1;
        }
    }

    /// Moves finished responses at the front of `waiting` to `ready`.
    fn promote(&mut self) {
        while let Some(Pending::Ready(_)) = self.waiting.front() {
            if let Some(Pending::Ready(b)) = self.waiting.pop_front() {
                self.push_ready(b);
            }
        }
    }

    /// Drops `n` written bytes from the front of `ready`.
    fn advance(&mut self, mut n: usize) {
        self.ready_bytes -= n.min(self.ready_bytes);
        while n > 0 {
            let Some(front) = self.ready.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.ready.pop_front();
        }
        while self.ready.front().is_some_and(|b| b.is_empty()) {
            self.ready.pop_front();
        }
    }
}

/// Why a connection ended early.
enum Close {
    /// `connections.max.idle.ms` passed without a byte read or written: routine.
    Idle,
    /// A broken or hostile peer: logged (rate-limited).
    Fault(String),
}

impl From<String> for Close {
    fn from(why: String) -> Self {
        Close::Fault(why)
    }
}

/// The read side of a connection, plain or TLS.
enum Reader {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

impl Reader {
    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Reader::Plain(r) => r.read_buf(buf).await,
            Reader::Tls(r) => r.read_buf(buf).await,
        }
    }
}

/// The write side. TLS may keep encrypted records buffered after a write returns (when the
/// socket is full); `unflushed` says a flush must follow before the connection goes quiet.
enum Writer {
    Plain(OwnedWriteHalf),
    Tls {
        wr: WriteHalf<TlsStream<TcpStream>>,
        unflushed: bool,
    },
}

impl Writer {
    fn needs_flush(&self) -> bool {
        matches!(
            self,
            Writer::Tls {
                unflushed: true,
                ..
            }
        )
    }

    /// Writes the leading ready responses with one vectored write (bytes taken: `Some(n)`), or,
    /// with nothing ready, flushes what TLS still holds (`None`). Cancel-safe: nothing is taken
    /// unless the write returns.
    async fn write_or_flush(&mut self, ready: &VecDeque<Bytes>) -> std::io::Result<Option<usize>> {
        if ready.is_empty() {
            if let Writer::Tls { wr, unflushed } = self {
                wr.flush().await?;
                *unflushed = false;
            }
            return Ok(None);
        }
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
        let mut n = 0;
        for b in ready.iter().take(MAX_WRITE_SLICES) {
            slices[n] = IoSlice::new(b);
            n += 1;
        }
        match self {
            Writer::Plain(wr) => odradek_socket::send_vectored(wr.as_ref(), &slices[..n])
                .await
                .map(Some),
            Writer::Tls { wr, unflushed } => {
                let written = wr.write_vectored(&slices[..n]).await?;
                *unflushed = true;
                Ok(Some(written))
            }
        }
    }

    async fn close(&mut self) {
        let _ = match self {
            Writer::Plain(wr) => wr.shutdown().await,
            Writer::Tls { wr, .. } => wr.shutdown().await,
        };
    }
}

pub(super) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
    net: Arc<Net>,
    _ticket: Ticket,
) {
    let mut ctx = Ctx {
        state,
        shutdown: shutdown.clone(),
        peer,
        listener: listener.clone(),
        principal: Arc::from(ANONYMOUS),
    };
    let (rd, wr) = match &listener.tls {
        None => {
            let (rd, wr) = stream.into_split();
            (Reader::Plain(rd), Writer::Plain(wr))
        }
        Some(acceptor) => {
            let accepted = tokio::time::timeout(net.limits.partial_request_timeout, async {
                // A peer speaking plaintext Kafka here would leave rustls waiting for a record
                // length read from its size prefix: look at the first byte instead.
                let mut first = [0u8; 1];
                let n = stream.peek(&mut first).await?;
                if n == 1 && first[0] != TLS_HANDSHAKE_RECORD {
                    return Err(std::io::Error::other(format!(
                        "not TLS: first byte {:#04x}, a TLS handshake starts with 0x16 \
                         (a plaintext client on a TLS listener?)",
                        first[0]
                    )));
                }
                acceptor.accept(stream).await
            })
            .await;
            let tls = match accepted {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    if let Some(suppressed) = CLOSE_LOG.check() {
                        tracing::warn!(%peer, listener = %listener.name, suppressed, "closing connection: TLS handshake failed: {e}");
                    }
                    return;
                }
                Err(_) => {
                    if let Some(suppressed) = CLOSE_LOG.check() {
                        tracing::warn!(%peer, listener = %listener.name, suppressed, "closing connection: TLS handshake incomplete after {:?} (socket.request.read.timeout.ms)", net.limits.partial_request_timeout);
                    }
                    return;
                }
            };
            if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                match tls::subject_dn(cert).and_then(|dn| listener.principal_mapper.map(&dn)) {
                    Ok(name) => ctx.principal = Arc::from(format!("User:{name}")),
                    Err(e) => {
                        tracing::warn!(%peer, "closing connection: {e}");
                        return;
                    }
                }
            }
            let (rd, wr) = tokio::io::split(tls);
            (
                Reader::Tls(rd),
                Writer::Tls {
                    wr,
                    unflushed: false,
                },
            )
        }
    };
    let mut sasl = listener.sasl.clone().map(SaslSession::new);
    let mut io = (rd, wr);
    match serve(&mut io, &mut ctx, &mut sasl, shutdown, &net).await {
        Ok(()) => io.1.close().await,
        Err(Close::Idle) => {
            tracing::debug!(%peer, "closing idle connection (connections.max.idle.ms)");
        }
        Err(Close::Fault(why)) => {
            if let Some(suppressed) = CLOSE_LOG.check() {
                tracing::warn!(%peer, listener = %listener.name, suppressed, "closing connection: {why}");
            }
        }
    }
}

/// Serves requests until the peer closes (or shutdown), then answers what is still queued.
///
/// Memory per connection is bounded: the read buffer grows only as bytes arrive; a frame
/// larger than [`SMALL_FRAME`] is read only once the broker-wide budget has room for it; no
/// request is read while `queued.max.requests.per.connection` requests or
/// `queued.max.response.bytes.per.connection` unwritten response bytes are queued.
async fn serve(
    (rd, wr): &mut (Reader, Writer),
    ctx: &mut Ctx,
    sasl: &mut Option<SaslSession>,
    mut shutdown: watch::Receiver<bool>,
    net: &Net,
) -> Result<(), Close> {
    let limits = &net.limits;
    let max_frame = |sasl: &Option<SaslSession>| match sasl {
        Some(s) => s.max_frame(limits.max_request_bytes),
        None => limits.max_request_bytes,
    };
    let mut frames = FrameDecoder::new(max_frame(sasl));
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Outbox::default();
    let mut share = Share::new(net.budget.clone());
    let mut reading = true;
    // Set after a refused authentication: what is queued is answered, nothing more is read.
    let mut refused = false;
    let mut last_io = Instant::now();
    // When the frame at the front of `buf` started to stay incomplete while we were reading.
    let mut partial_since: Option<Instant> = None;
    loop {
        while !refused
            && out.has_room(limits)
            && !out.fetch_must_wait(&buf)
            && let Some(frame) = frames.decode(&mut buf).map_err(|e| e.to_string())?
        {
            let handled = match sasl {
                Some(session) => handle_on_sasl_listener(frame, ctx, session).await,
                None => handle_frame(frame, ctx).await.map(|p| (p, false)),
            };
            share.release_frame();
            partial_since = None;
            let (pending, then_close) = handled?;
            if let Some(p) = pending {
                out.push(p);
            }
            if then_close {
                // Kafka answers a failed authentication, then closes: read nothing more.
                refused = true;
                reading = false;
                buf.clear();
            }
            // Before authentication only small frames are accepted
            // (`sasl.server.max.receive.size`), checked from the size prefix.
            let limit = max_frame(sasl);
            if limit != frames.max_frame_bytes() {
                frames = FrameDecoder::new(limit);
            }
        }
        share.set_responses(out.ready_bytes);
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            // A large frame is gone: do not keep its allocation for the connection's life.
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
        if !reading && out.is_empty() && !wr.needs_flush() {
            return Ok(());
        }
        let room = reading && out.has_room(limits) && !out.fetch_must_wait(&buf);
        let can_read = room && may_read_next(&frames, &buf, &mut share, out.ready_bytes, net)?;
        if can_read {
            buf.reserve(next_read_size(&frames, &buf));
        }
        if can_read && !buf.is_empty() {
            partial_since.get_or_insert_with(Instant::now);
        } else {
            partial_since = None;
        }
        let partial_deadline = partial_since.map(|t| t + limits.partial_request_timeout);
        let idle_deadline = last_io + limits.idle_timeout;
        // A long poll or an fsync in progress is the broker's work, not the peer idling.
        let idle_counts = out.waiting.is_empty();
        let must_write = !out.ready.is_empty() || wr.needs_flush();
        let front_waits = matches!(out.waiting.front(), Some(Pending::Later { .. }));
        // Biased: write what is ready first, so a response leaves as soon as it exists.
        tokio::select! {
            biased;
            written = wr.write_or_flush(&out.ready), if must_write => {
                match written {
                    Ok(None) => {}
                    Ok(Some(0)) => return Err("peer stopped reading (write returned 0)".to_string().into()),
                    Ok(Some(n)) => {
                        out.advance(n);
                        last_io = Instant::now();
                    }
                    Err(e) => return Err(format!("write failed: {e}").into()),
                }
            }
            done = front_future(&mut out.waiting), if front_waits => {
                out.drop_finished_front();
                match done {
                    Some(Ok(b)) => out.push_ready(b),
                    Some(Err(e)) => return Err(e.to_string().into()),
                    None => {}
                }
                out.promote();
                last_io = Instant::now();
            }
            n = rd.read_buf(&mut buf), if can_read => match n {
                Ok(0) => {
                    if !buf.is_empty() {
                        return Err(format!("peer closed mid-frame ({} bytes pending)", buf.len()).into());
                    }
                    reading = false;
                }
                Ok(_) => last_io = Instant::now(),
                Err(e) => return Err(format!("read failed: {e}").into()),
            },
            _ = shutdown.changed(), if reading => reading = false,
            _ = net.budget.wait_for_release(), if room && !can_read => {}
            _ = sleep_until_some(partial_deadline), if partial_deadline.is_some() => {
                return Err(format!(
                    "request incomplete after {:?} ({} bytes received; socket.request.read.timeout.ms)",
                    limits.partial_request_timeout,
                    buf.len()
                ).into());
            }
            _ = tokio::time::sleep_until(idle_deadline), if idle_counts => return Err(Close::Idle),
        }
    }
}

/// Whether the connection may read now: a frame already reserved keeps reading; a new large
/// frame first reserves its announced size from the broker-wide budget (the reservation is
/// bookkeeping, memory still grows only with the bytes that arrive). With the budget spent, a
/// connection whose peer has not read its responses yet reads nothing new, while one that
/// keeps up may still send small requests (so clients that read are served throughout).
fn may_read_next(
    frames: &FrameDecoder,
    buf: &BytesMut,
    share: &mut Share,
    unwritten_responses: usize,
    net: &Net,
) -> Result<bool, String> {
    if share.has_frame() {
        return Ok(true);
    }
    let Some(body_len) = frames.peek_body_len(buf).map_err(|e| e.to_string())? else {
        return Ok(unwritten_responses == 0 || !net.budget.is_spent());
    };
    let frame_len = 4 + body_len;
    if frame_len <= SMALL_FRAME {
        share.force_frame(frame_len);
        return Ok(true);
    }
    Ok(share.reserve_frame(frame_len))
}

/// How much room to make before the next read: the rest of the current frame, but at most as
/// much as has arrived so far (so the buffer at most doubles per read), and at least a chunk.
fn next_read_size(frames: &FrameDecoder, buf: &BytesMut) -> usize {
    let rest = match frames.peek_body_len(buf) {
        Ok(Some(len)) => (4 + len).saturating_sub(buf.len()),
        _ => 0,
    };
    rest.min(buf.len()).max(READ_CHUNK)
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Polls the future at the front of `waiting` (the caller checked that it is one); dropping
/// this future leaves it queued.
async fn front_future(waiting: &mut VecDeque<Pending>) -> Option<Result<Bytes, ProtocolError>> {
    std::future::poll_fn(|cx| match waiting.front_mut() {
        Some(Pending::Later { fut, .. }) => fut.as_mut().poll(cx),
        _ => std::task::Poll::Ready(None),
    })
    .await
}

/// One frame on a SASL listener: a bare token after SaslHandshake v0, SaslHandshake and
/// SaslAuthenticate for the session, other requests only once authenticated (else the
/// connection closes, as Kafka). The flag asks to close after the response is written.
async fn handle_on_sasl_listener(
    frame: BytesMut,
    ctx: &mut Ctx,
    session: &mut SaslSession,
) -> Result<(Option<Pending>, bool), String> {
    if session.expects_raw_token() {
        // SaslHandshake v0: the token is the whole frame and so is the answer.
        let step = session.authenticate(&frame, &ctx.state.scram);
        return match step {
            Step::Reply { bytes, done } => {
                if done {
                    authenticated(ctx, session);
                }
                let mut out = BytesMut::with_capacity(4 + bytes.len());
                out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(&bytes);
                Ok((Some(Pending::Ready(out.freeze())), false))
            }
            Step::Failed(why) => Err(format!("SASL authentication failed: {why}")),
        };
    }
    let pre = peek_request_preamble(&frame)
        .ok_or_else(|| format!("request header truncated: {} bytes", frame.len()))?;
    let api_key =
        ApiKey::try_from(pre.api_key).map_err(|_| format!("unknown API key {}", pre.api_key))?;
    match session.gate(api_key) {
        Gate::Serve => handle_frame(frame, ctx).await.map(|p| (p, false)),
        Gate::Close(why) => Err(why),
        Gate::Sasl => {
            if !is_supported(api_key, pre.api_version) {
                return Err(format!("{api_key:?} v{} is not supported", pre.api_version));
            }
            let (header, request) = decode_request(frame.freeze()).map_err(|e| e.to_string())?;
            let version = header.request_api_version;
            let (body, close) = match request {
                RequestKind::SaslHandshake(req) => {
                    let (resp, verdict) = session.handshake(version, &req);
                    if let Err(why) = &verdict {
                        tracing::info!(peer = %ctx.peer, "SASL handshake refused: {why}");
                    }
                    (ResponseKind::SaslHandshake(resp), verdict.is_err())
                }
                RequestKind::SaslAuthenticate(req) => {
                    let step = session.authenticate(&req.auth_bytes, &ctx.state.scram);
                    let resp = session.response(&step);
                    match &step {
                        Step::Reply { done: true, .. } => authenticated(ctx, session),
                        Step::Failed(why) => {
                            if let Some(suppressed) = AUTH_FAIL_LOG.check() {
                                tracing::info!(peer = %ctx.peer, suppressed, "SASL authentication failed: {why}");
                            }
                        }
                        Step::Reply { .. } => {}
                    }
                    (
                        ResponseKind::SaslAuthenticate(resp),
                        matches!(step, Step::Failed(_)),
                    )
                }
                _ => return Err(format!("{api_key:?} is not a SASL request")),
            };
            let bytes = encode_response(api_key, version, header.correlation_id, &body)
                .map_err(|e| e.to_string())?;
            Ok((Some(Pending::Ready(bytes)), close))
        }
    }
}

/// Failed logins are logged at most once a second (a password-guessing client must not fill
/// the log).
static AUTH_FAIL_LOG: LogLimiter = LogLimiter::new(Duration::from_secs(1));

fn authenticated(ctx: &mut Ctx, session: &SaslSession) {
    if let Some(p) = session.principal() {
        ctx.principal = Arc::from(p);
    }
}

/// Decodes and dispatches one request; `Err` closes the connection, as Kafka does for
/// unknown APIs, unsupported versions (other than ApiVersions) and undecodable requests.
async fn handle_frame(frame: BytesMut, ctx: &Ctx) -> Result<Option<Pending>, String> {
    let pre = peek_request_preamble(&frame)
        .ok_or_else(|| format!("request header truncated: {} bytes", frame.len()))?;
    let api_key =
        ApiKey::try_from(pre.api_key).map_err(|_| format!("unknown API key {}", pre.api_key))?;
    let version = pre.api_version;
    if !is_supported(api_key, version) {
        if api_key == ApiKey::ApiVersions {
            // Kafka answers an ApiVersions it cannot parse with a v0 body: the error and the
            // versions it does support, so the client can retry with one of them.
            let body =
                handlers::api_versions::response(35, ctx.state.props().transaction_version());
            let bytes = encode_response(
                api_key,
                0,
                pre.correlation_id,
                &ResponseKind::ApiVersions(body),
            )
            .map_err(|e| e.to_string())?;
            return Ok(Some(Pending::Ready(bytes)));
        }
        return Err(format!(
            "{api_key:?} v{version} is not supported (correlation id {})",
            pre.correlation_id
        ));
    }
    let (header, request) = decode_request(frame.freeze()).map_err(|e| e.to_string())?;
    let cid = header.correlation_id;
    let encode = move |body: ResponseKind| encode_response(api_key, version, cid, &body);
    Ok(match handlers::handle(ctx, &header, request).await {
        Outcome::Respond(body) => Some(Pending::Ready(encode(*body).map_err(|e| e.to_string())?)),
        Outcome::Later(fut) => Some(Pending::Later {
            fut: Box::pin(async move { Some(encode(fut.await)) }),
            fetch: api_key == ApiKey::Fetch,
        }),
        Outcome::NoResponse => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(fetch: bool) -> Pending {
        Pending::Later {
            fut: Box::pin(async { None }),
            fetch,
        }
    }

    #[test]
    fn one_long_poll_fetch_at_a_time() {
        let mut out = Outbox::default();
        let fetch_next = [0, 0, 0, 60, 0, 1, 0, 4];
        let produce_next = [0, 0, 0, 60, 0, 0, 0, 9];
        out.push(later(false));
        assert!(
            !out.fetch_must_wait(&fetch_next),
            "a pending produce holds no fetch"
        );
        out.push(later(true));
        assert!(
            out.fetch_must_wait(&fetch_next),
            "a 2nd fetch waits for the long poll"
        );
        assert!(
            !out.fetch_must_wait(&produce_next),
            "a produce is still read"
        );
        assert!(!out.fetch_must_wait(&fetch_next[..5]));
        out.drop_finished_front();
        assert!(out.fetch_must_wait(&fetch_next));
        out.drop_finished_front();
        assert!(!out.fetch_must_wait(&fetch_next));
    }

    #[test]
    fn no_reading_behind_unread_responses() {
        let limits = crate::config::BrokerProperties::default().connection_limits();
        let mut out = Outbox::default();
        assert!(out.has_room(&limits));
        let cap = limits.max_response_bytes_per_connection;
        out.push(Pending::Ready(Bytes::from(vec![0u8; cap])));
        assert!(
            !out.has_room(&limits),
            "unread responses at the cap stop reading"
        );
        out.advance(1);
        assert!(out.has_room(&limits));
    }
}

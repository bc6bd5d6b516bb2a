//! One client connection, served by a single task: it frames, decodes and dispatches requests
//! in arrival order and writes their responses in that same order. Work that waits (a
//! long-poll fetch, an fsync before acking) stays queued as a future while later pipelined
//! requests keep being read and handled; responses behind it wait their turn.
//!
//! One task per connection (not a reader and a writer task joined by a channel) because at
//! fixed produce rates every task wake-up is a thread hand-off: with two tasks each request
//! woke the writer and, through the scheduler, another worker thread, doubling the context
//! switches per request (see notes/s3-broker.md). Finished responses go out together in one
//! vectored write, straight from their encoded buffers.

use std::collections::VecDeque;
use std::future::Future;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::versions::is_supported;
use crate::handlers::{self, Ctx, Outcome};
use crate::state::BrokerState;
use odradek_protocol::ProtocolError;
use odradek_protocol::codec::{decode_request, encode_response, peek_request_preamble};
use odradek_protocol::frame::FrameDecoder;

/// Requests decoded but not yet answered, per connection (Kafka's per-connection muting is
/// stricter: one; pipelining clients send up to 5). At the limit the connection stops reading.
const MAX_IN_FLIGHT: usize = 64;

/// Responses handed to one vectored write at most.
const MAX_WRITE_SLICES: usize = 32;

type ResponseFuture = Pin<Box<dyn Future<Output = Option<Result<Bytes, ProtocolError>>> + Send>>;

enum Pending {
    Ready(Bytes),
    Later(ResponseFuture),
}

/// Responses in request order: `ready` (encoded, partly written at its front) all precede
/// `waiting`, whose front may be a future still running.
#[derive(Default)]
struct Outbox {
    ready: VecDeque<Bytes>,
    waiting: VecDeque<Pending>,
}

impl Outbox {
    fn len(&self) -> usize {
        self.ready.len() + self.waiting.len()
    }

    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.waiting.is_empty()
    }

    fn push(&mut self, p: Pending) {
        self.waiting.push_back(p);
        self.promote();
    }

    /// Moves finished responses at the front of `waiting` to `ready`.
    fn promote(&mut self) {
        while let Some(Pending::Ready(_)) = self.waiting.front() {
            if let Some(Pending::Ready(b)) = self.waiting.pop_front()
                && !b.is_empty()
            {
                self.ready.push_back(b);
            }
        }
    }

    /// Drops `n` written bytes from the front of `ready`.
    fn advance(&mut self, mut n: usize) {
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

pub async fn run(
    mut stream: TcpStream,
    peer: SocketAddr,
    state: Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
) {
    let ctx = Ctx {
        state,
        shutdown: shutdown.clone(),
        peer,
    };
    if let Err(why) = serve(&mut stream, &ctx, shutdown).await {
        tracing::warn!(%peer, "closing connection: {why}");
        return;
    }
    let _ = stream.shutdown().await;
}

/// Serves requests until the peer closes (or shutdown), then answers what is still queued.
async fn serve(
    stream: &mut TcpStream,
    ctx: &Ctx,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let (mut rd, mut wr) = stream.split();
    let mut frames = FrameDecoder::new(ctx.state.max_request_bytes);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out = Outbox::default();
    let mut reading = true;
    loop {
        while out.len() < MAX_IN_FLIGHT
            && let Some(frame) = frames.decode(&mut buf).map_err(|e| e.to_string())?
        {
            if let Some(p) = handle_frame(frame, ctx).await? {
                out.push(p);
            }
        }
        if !reading && out.is_empty() {
            return Ok(());
        }
        if reading {
            // Room for the rest of a partly read frame (its size already checked), else 8 KiB.
            let pending = match frames.peek_body_len(&buf) {
                Ok(Some(len)) => (4 + len).saturating_sub(buf.len()),
                _ => 0,
            };
            buf.reserve(pending.max(8 * 1024));
        }
        let can_read = reading && out.len() < MAX_IN_FLIGHT;
        let front_waits = matches!(out.waiting.front(), Some(Pending::Later(_)));
        // Biased: write what is ready first, so a response leaves as soon as it exists.
        tokio::select! {
            biased;
            written = write_ready(&mut wr, &out.ready), if !out.ready.is_empty() => {
                match written {
                    Ok(0) => return Err("peer stopped reading (write returned 0)".into()),
                    Ok(n) => out.advance(n),
                    Err(e) => return Err(format!("write failed: {e}")),
                }
            }
            done = front_future(&mut out.waiting), if front_waits => {
                out.waiting.pop_front();
                match done {
                    Some(Ok(b)) if !b.is_empty() => out.ready.push_back(b),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => {}
                }
                out.promote();
            }
            n = rd.read_buf(&mut buf), if can_read => match n {
                Ok(0) => {
                    if !buf.is_empty() {
                        return Err(format!("peer closed mid-frame ({} bytes pending)", buf.len()));
                    }
                    reading = false;
                }
                Ok(_) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            },
            _ = shutdown.changed(), if reading => reading = false,
        }
    }
}

/// Writes the leading ready responses with one vectored write; returns the bytes written.
async fn write_ready(
    wr: &mut tokio::net::tcp::WriteHalf<'_>,
    ready: &VecDeque<Bytes>,
) -> std::io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
    let mut n = 0;
    for b in ready.iter().take(MAX_WRITE_SLICES) {
        slices[n] = IoSlice::new(b);
        n += 1;
    }
    odradek_socket::send_vectored(wr.as_ref(), &slices[..n]).await
}

/// Polls the future at the front of `waiting` (the caller checked that it is one); dropping
/// this future leaves it queued.
async fn front_future(waiting: &mut VecDeque<Pending>) -> Option<Result<Bytes, ProtocolError>> {
    std::future::poll_fn(|cx| match waiting.front_mut() {
        Some(Pending::Later(f)) => f.as_mut().poll(cx),
        _ => std::task::Poll::Ready(None),
    })
    .await
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
            let body = handlers::api_versions::response(35);
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
        Outcome::Later(fut) => Some(Pending::Later(Box::pin(
            async move { Some(encode(fut.await)) },
        ))),
        Outcome::NoResponse => None,
    })
}

//! One client connection: a reader that frames, decodes and dispatches requests in arrival
//! order, and a writer that sends responses in that same order. Work that waits (a long-poll
//! fetch, an fsync before acking) travels to the writer as a future, so the reader keeps
//! appending pipelined produce requests in order meanwhile. The queue between them is bounded.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};

use super::versions::is_supported;
use crate::handlers::{self, Ctx, Outcome};
use crate::state::BrokerState;
use odradek::protocol::ProtocolError;
use odradek::protocol::codec::{decode_request, encode_response, peek_request_preamble};
use odradek::protocol::frame::FrameDecoder;

/// Requests decoded but not yet answered, per connection (Kafka's per-connection muting is
/// stricter: one; pipelining clients send up to 5).
const MAX_IN_FLIGHT: usize = 64;

type ResponseFuture = Pin<Box<dyn Future<Output = Option<Result<Bytes, ProtocolError>>> + Send>>;

enum Pending {
    Ready(Bytes),
    Later(ResponseFuture),
}

pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(wr, rx, peer));
    let ctx = Ctx {
        state: state.clone(),
        shutdown: shutdown.clone(),
        peer,
    };
    if let Err(why) = read_loop(&mut rd, &ctx, &tx, shutdown).await {
        tracing::warn!(%peer, "closing connection: {why}");
    }
    drop(tx);
    let _ = writer.await;
}

async fn read_loop(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    ctx: &Ctx,
    tx: &mpsc::Sender<Pending>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut frames = FrameDecoder::new(ctx.state.max_request_bytes);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        while let Some(frame) = frames.decode(&mut buf).map_err(|e| e.to_string())? {
            let pending = handle_frame(frame, ctx).await?;
            if let Some(p) = pending
                && tx.send(p).await.is_err()
            {
                return Ok(()); // writer gone: the peer closed
            }
        }
        // Room for the rest of a partly read frame (its size already checked), else 8 KiB.
        let pending = match frames.peek_body_len(&buf) {
            Ok(Some(len)) => (4 + len).saturating_sub(buf.len()),
            _ => 0,
        };
        buf.reserve(pending.max(8 * 1024));
        tokio::select! {
            n = rd.read_buf(&mut buf) => match n {
                Ok(0) => {
                    if !buf.is_empty() {
                        return Err(format!("peer closed mid-frame ({} bytes pending)", buf.len()));
                    }
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            },
            _ = shutdown.changed() => return Ok(()),
        }
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

async fn write_loop(wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Pending>, peer: SocketAddr) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(p) = rx.recv().await {
        let bytes = match p {
            Pending::Ready(b) => b,
            Pending::Later(f) => match f.await {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    tracing::error!(%peer, "closing connection: {e}");
                    break;
                }
                None => continue,
            },
        };
        if w.write_all(&bytes).await.is_err() {
            return;
        }
        if rx.is_empty() && w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}

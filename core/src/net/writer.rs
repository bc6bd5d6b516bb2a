//! The write side of a connection: one task takes queued request frames and writes them to the
//! socket with vectored writes, whole frames only and in queue order.
//!
//! Frames are lists of chunks ([`RequestFrame`]): a Produce request's record batches are chunks
//! of their own, pointing at the producer's buffers. Handing the chunks to `writev` means the
//! batches are not copied on the way to the kernel (a buffered writer copied every byte of
//! every request once more). Everything queued when the task wakes goes out together, so a
//! burst of small requests still costs about one system call.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use odradek_socket::WriteHalf;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{Error, ErrorClass};
use crate::protocol::RequestFrame;

/// At most this many chunks per `writev` call (Linux accepts up to 1024; a long vector would only
/// be cut there).
const MAX_IO_SLICES: usize = 64;

/// A frame queued for the writer task.
pub(super) struct Outgoing {
    pub frame: RequestFrame,
    /// Completed once the frame is handed to the socket (used when no response is expected).
    pub written: Option<oneshot::Sender<Result<(), Error>>>,
}

/// The writer's inputs: ordinary request frames, SASL re-authentication frames (KIP-368), and
/// the switch that holds ordinary frames back while a re-authentication runs (a broker reads
/// nothing but SaslHandshake/SaslAuthenticate between the two).
pub(super) struct Queues {
    pub ordinary: mpsc::UnboundedReceiver<Outgoing>,
    pub auth: mpsc::UnboundedReceiver<Outgoing>,
    pub paused: watch::Receiver<bool>,
}

/// Writes frames until the ordinary queue closes or a write fails; returns why it stopped.
/// Every `written` notification is answered, with the error if its frame was not written.
/// Re-authentication frames go first; while paused, ordinary frames stay queued (none is lost,
/// none is written between SaslHandshake and the last SaslAuthenticate).
pub(super) async fn write_loop(mut socket: WriteHalf, mut queues: Queues, broker: &str) -> Error {
    let mut chunks: VecDeque<Bytes> = VecDeque::new();
    let mut written: Vec<oneshot::Sender<Result<(), Error>>> = Vec::new();
    let mut auth_open = true;
    // Once the re-authentication task is gone (no SASL, or the connection closing), nothing
    // holds ordinary frames back.
    let mut pause_open = true;
    let error = loop {
        let paused = pause_open && *queues.paused.borrow_and_update();
        let first = tokio::select! {
            biased;
            out = queues.auth.recv(), if auth_open => match out {
                Some(out) => out,
                None => {
                    auth_open = false;
                    continue;
                }
            },
            out = queues.ordinary.recv(), if !paused => match out {
                Some(out) => out,
                None => break Error::closed("connection dropped"),
            },
            changed = queues.paused.changed(), if pause_open => {
                pause_open = changed.is_ok();
                continue;
            }
        };
        let mut next = Some(first);
        while let Some(out) = next.take() {
            chunks.extend(out.frame.into_chunks());
            written.extend(out.written);
            next = queues.auth.try_recv().ok();
            if next.is_none() && !(pause_open && *queues.paused.borrow()) {
                next = queues.ordinary.try_recv().ok();
            }
        }
        if let Err(e) = write_chunks(&mut socket, &mut chunks).await {
            break Error::from(e).with_class(ErrorClass::Retriable);
        }
        for w in written.drain(..) {
            let _ = w.send(Ok(()));
        }
    };
    let error = error.with_broker(broker);
    for w in written.drain(..) {
        let _ = w.send(Err(error.clone()));
    }
    // Frames still queued were never written; their callers see the connection close.
    let _ = socket.shutdown().await;
    error
}

/// Writes every chunk, in order, with as few `writev` calls as the socket allows.
async fn write_chunks(socket: &mut WriteHalf, chunks: &mut VecDeque<Bytes>) -> std::io::Result<()> {
    while !chunks.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(chunks.iter()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let mut n = socket.write_vectored(&slices[..count]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        // Drop what was written; a chunk written in part keeps its tail.
        while n > 0 {
            let front = chunks.front_mut().expect("wrote no more than was queued");
            if front.len() <= n {
                n -= front.len();
                chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
    // TLS keeps the last record in the session until flushed; plaintext has nothing buffered.
    socket.flush().await
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Queues with only the ordinary channel in use (no SASL); the other ends are dropped.
    fn queues(ordinary: mpsc::UnboundedReceiver<Outgoing>) -> Queues {
        Queues {
            ordinary,
            auth: mpsc::unbounded_channel().1,
            paused: watch::channel(false).1,
        }
    }

    fn frame(chunks: &[&[u8]]) -> RequestFrame {
        // Built through the public conversions: one chunk per frame here, several frames.
        let mut b = BytesMut::new();
        for c in chunks {
            b.extend_from_slice(c);
        }
        RequestFrame::from(b)
    }

    /// A loopback connection: the server's end and the client's write half (its read half is
    /// dropped, as the connection's reader would never read here).
    async fn connected() -> (TcpStream, WriteHalf) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_read, write) = client.into_split();
        (server, WriteHalf::Plain(write))
    }

    #[tokio::test]
    async fn frames_arrive_whole_and_in_order_across_partial_writes() {
        let (mut server, write) = connected().await;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move { write_loop(write, queues(rx), "test").await });

        // More frames than one writev takes, some larger than the socket buffer (partial
        // writes while the reader is not reading yet).
        let mut expected = Vec::new();
        let mut acks = Vec::new();
        for i in 0..200u32 {
            let len = if i % 50 == 7 {
                3 << 20
            } else {
                1 + (i as usize * 37) % 900
            };
            let body: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            expected.extend_from_slice(&body);
            let (wtx, wrx) = oneshot::channel();
            tx.send(Outgoing {
                frame: frame(&[&body]),
                written: Some(wtx),
            })
            .unwrap_or_else(|_| panic!("writer gone"));
            acks.push(wrx);
        }
        let mut got = vec![0u8; expected.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(
            got == expected,
            "bytes differ from the frames in queue order"
        );
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
        drop(tx);
        let stopped = writer.await.unwrap();
        assert!(
            stopped.to_string().contains("connection dropped"),
            "{stopped}"
        );
        // The writer shut its half down: the reader sees end of stream.
        assert_eq!(server.read(&mut [0u8; 1]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn chunked_frames_are_written_in_chunk_order() {
        let (mut server, write) = connected().await;
        let mut chunks: VecDeque<Bytes> = (0..300u32)
            .map(|i| Bytes::from(vec![i as u8; 1 + (i as usize % 13) * 1000]))
            .collect();
        let expected: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; expected.len()];
            server.read_exact(&mut got).await.unwrap();
            got == expected
        });
        let mut write = write;
        write_chunks(&mut write, &mut chunks).await.unwrap();
        assert!(chunks.is_empty());
        assert!(
            reader.await.unwrap(),
            "bytes differ from the chunks in order"
        );
    }

    #[tokio::test]
    async fn a_failed_write_fails_the_waiting_notifications() {
        let (server, write) = connected().await;
        drop(server);
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move { write_loop(write, queues(rx), "peer:1").await });
        // Keep writing until the reset peer makes a write fail.
        let mut last = None;
        for _ in 0..200 {
            let (wtx, wrx) = oneshot::channel();
            if tx
                .send(Outgoing {
                    frame: frame(&[&[0u8; 64 * 1024]]),
                    written: Some(wtx),
                })
                .is_err()
            {
                break;
            }
            last = Some(wrx);
            tokio::task::yield_now().await;
        }
        drop(tx);
        let error = writer.await.unwrap();
        assert!(error.to_string().contains("peer:1"), "{error}");
        assert!(!error.to_string().contains("connection dropped"), "{error}");
        assert!(error.is_retriable(), "{error}");
        // The last queued frame was not written: its notification carries an error (or its
        // sender was dropped with the queue).
        let outcome = last.expect("sent at least one").await;
        assert!(!matches!(outcome, Ok(Ok(()))), "{outcome:?}");
    }
}

//! The write side of a connection: one task takes queued request frames and writes them to the
//! socket with vectored writes, whole frames only and in queue order.
//!
//! Frames are lists of chunks ([`RequestFrame`]): a Produce request's record batches are chunks
//! of their own, pointing at the producer's buffers. Handing the chunks to `writev` means the
//! batches are not copied on the way to the kernel (a buffered writer copied every byte of
//! every request once more). Everything queued when the task wakes goes out together, so a
//! burst of small requests still costs about one system call.
//!
//! A caller may write its frame itself ([`write_now`]) when the writer task is not writing and
//! nothing is queued: on a plaintext connection without SASL that saves a hand-off to the
//! writer task per request — a wake-up of another runtime thread and two context switches.
//! The write is synchronous (no await point), so a cancelled caller never leaves half a frame;
//! what the socket does not take at once becomes the `tail`, written by the writer task before
//! anything else.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use bytes::{Buf, Bytes};
use odradek_socket::WriteHalf;
use tokio::sync::{Mutex, mpsc, oneshot, watch};

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

/// The socket's write half, shared by the writer task (which owns it) and callers writing a
/// frame themselves; whoever holds the lock writes, the `tail` first.
pub(super) struct WriteSide {
    socket: WriteHalf,
    /// What a caller's own write left unwritten (the socket was full, or failed): it goes out
    /// before anything else, by the writer task.
    tail: VecDeque<Bytes>,
}

impl WriteSide {
    pub fn new(socket: WriteHalf) -> Arc<Mutex<WriteSide>> {
        Arc::new(Mutex::new(WriteSide {
            socket,
            tail: VecDeque::new(),
        }))
    }
}

/// Where a frame that a caller tried to write itself went.
pub(super) enum Direct {
    /// The socket took all of it.
    Written,
    /// The socket took part of it or none: the rest is the tail, and the caller must wake the
    /// writer task (queue an empty frame).
    Tail,
    /// The writer task is writing, frames are queued, or the connection is gone: the caller
    /// queues the frame as usual.
    Busy(RequestFrame),
}

/// Writes `frame` on the caller's thread if no one is writing and nothing is queued before it
/// (`queued` counts frames sent to the writer task and not yet written). Synchronous: the
/// frame is either written whole, or its rest is left as the tail.
pub(super) fn write_now(
    side: &Weak<Mutex<WriteSide>>,
    queued: &AtomicUsize,
    frame: RequestFrame,
) -> Direct {
    let Some(side) = side.upgrade() else {
        return Direct::Busy(frame);
    };
    let Ok(mut guard) = side.try_lock() else {
        return Direct::Busy(frame);
    };
    if queued.load(Ordering::Acquire) != 0 || !guard.tail.is_empty() {
        return Direct::Busy(frame);
    }
    let mut chunks: VecDeque<Bytes> = frame.into_chunks().into();
    while !chunks.is_empty() {
        let (slices, count) = io_slices(&chunks);
        match guard.socket.try_write_vectored(&slices[..count]) {
            Ok(n) if n > 0 => consume(&mut chunks, n),
            // Full (WouldBlock), TLS (Unsupported), or failed: the writer task takes over and
            // meets any failure itself.
            _ => break,
        }
    }
    if chunks.is_empty() {
        return Direct::Written;
    }
    guard.tail = chunks;
    Direct::Tail
}

/// Writes frames until the ordinary queue closes or a write fails; returns why it stopped.
/// Every `written` notification is answered, with the error if its frame was not written.
/// Re-authentication frames go first; while paused, ordinary frames stay queued (none is lost,
/// none is written between SaslHandshake and the last SaslAuthenticate). `queued` is
/// decremented for every frame written (see [`write_now`]).
pub(super) async fn write_loop(
    side: Arc<Mutex<WriteSide>>,
    mut queues: Queues,
    broker: &str,
    queued: &AtomicUsize,
) -> Error {
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
        let mut frames = 0;
        while let Some(out) = next.take() {
            frames += 1;
            chunks.extend(out.frame.into_chunks());
            written.extend(out.written);
            next = queues.auth.try_recv().ok();
            if next.is_none() && !(pause_open && *queues.paused.borrow()) {
                next = queues.ordinary.try_recv().ok();
            }
        }
        let result = {
            let mut guard = side.lock().await;
            let WriteSide { socket, tail } = &mut *guard;
            let result = match write_chunks(socket, tail).await {
                Ok(()) => write_chunks(socket, &mut chunks).await,
                Err(e) => Err(e),
            };
            // Under the lock: a caller that finds it free and the count at 0 writes first.
            queued.fetch_sub(frames, Ordering::AcqRel);
            result
        };
        if let Err(e) = result {
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
    let _ = side.lock().await.socket.shutdown().await;
    error
}

/// The first chunks (at most [`MAX_IO_SLICES`]) as an I/O vector, and how many there are.
fn io_slices(chunks: &VecDeque<Bytes>) -> ([IoSlice<'_>; MAX_IO_SLICES], usize) {
    let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
    let mut count = 0;
    for (slot, chunk) in slices.iter_mut().zip(chunks.iter()) {
        *slot = IoSlice::new(chunk);
        count += 1;
    }
    (slices, count)
}

/// Drops the `n` bytes written from the front; a chunk written in part keeps its rest.
fn consume(chunks: &mut VecDeque<Bytes>, mut n: usize) {
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

/// Writes every chunk, in order, with as few `writev` calls as the socket allows.
async fn write_chunks(socket: &mut WriteHalf, chunks: &mut VecDeque<Bytes>) -> std::io::Result<()> {
    while !chunks.is_empty() {
        let (slices, count) = io_slices(chunks);
        let n = socket.write_vectored(&slices[..count]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        consume(chunks, n);
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
        let writer = tokio::spawn(async move {
            write_loop(
                WriteSide::new(write),
                queues(rx),
                "test",
                &AtomicUsize::new(0),
            )
            .await
        });

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
    async fn a_frame_its_caller_writes_goes_out_whole_and_before_later_frames() {
        let (mut server, write) = connected().await;
        let side = WriteSide::new(write);
        let weak = Arc::downgrade(&side);
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = {
            let queued = queued.clone();
            tokio::spawn(async move { write_loop(side, queues(rx), "test", &queued).await })
        };
        // Nothing queued, no one writing: the caller writes its frame itself.
        let small: Vec<u8> = (0..100u8).collect();
        assert!(matches!(
            write_now(&weak, &queued, frame(&[&small])),
            Direct::Written
        ));
        // Larger than the socket takes while the server does not read: the rest is the tail.
        let big: Vec<u8> = (0..16usize << 20)
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        assert!(matches!(
            write_now(&weak, &queued, frame(&[&big[..1000], &big[1000..]])),
            Direct::Tail
        ));
        // The next caller may not write past the tail: it queues, and the writer task writes
        // the tail first.
        let later = b"later".to_vec();
        let Direct::Busy(f) = write_now(&weak, &queued, frame(&[&later])) else {
            panic!("a caller wrote while a tail was pending");
        };
        queued.fetch_add(1, Ordering::AcqRel);
        tx.send(Outgoing {
            frame: f,
            written: None,
        })
        .unwrap_or_else(|_| panic!("writer gone"));
        let expected: Vec<u8> = [&small[..], &big[..], &later[..]].concat();
        let mut got = vec![0u8; expected.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(got == expected, "frames interleaved or out of order");
        // Everything written: the count is back at 0 and callers write directly again.
        for _ in 0..1000 {
            if queued.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            write_now(&weak, &queued, frame(&[b"again"])),
            Direct::Written
        ));
        let mut again = [0u8; 5];
        server.read_exact(&mut again).await.unwrap();
        assert_eq!(&again, b"again");
        drop(tx);
        writer.await.unwrap();
        // The writer task owned the only strong handle: callers now queue.
        assert!(matches!(
            write_now(&weak, &queued, frame(&[b"x"])),
            Direct::Busy(_)
        ));
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
        let writer = tokio::spawn(async move {
            write_loop(
                WriteSide::new(write),
                queues(rx),
                "peer:1",
                &AtomicUsize::new(0),
            )
            .await
        });
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

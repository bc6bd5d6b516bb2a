//! A client connection's byte stream: plaintext TCP or TLS over TCP, split into a read half
//! and a write half that the connection's reader and writer tasks own.
//!
//! Plaintext writes keep `sendmsg(MSG_NOSIGNAL)` with the caller's chunks as one vector (no
//! copy). TLS has to copy into records anyway; its socket writes also go through
//! `sendmsg(MSG_NOSIGNAL)` ([`NoSigPipe`]) so a peer that closed mid-write cannot raise SIGPIPE.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::tls::ClientTlsStream;

/// A TCP stream whose writes never raise SIGPIPE (tokio's vectored write is `writev`, which
/// does); what TLS runs over.
#[derive(Debug)]
pub struct NoSigPipe(TcpStream);

impl NoSigPipe {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> Self {
        NoSigPipe(stream)
    }

    /// The TCP stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.0
    }
}

impl AsyncRead for NoSigPipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for NoSigPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = &self.0;
        loop {
            ready!(stream.poll_write_ready(cx))?;
            match stream.try_io(Interest::WRITABLE, || {
                SockRef::from(stream).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A connected client stream, plaintext or TLS.
#[derive(Debug)]
pub enum ClientStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the session state is large).
    Tls(Box<ClientTlsStream>),
}

impl ClientStream {
    /// Splits the stream for a reader task and a writer task.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            ClientStream::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            ClientStream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }

    /// True for TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientStream::Tls(_))
    }
}

/// The read half of a [`ClientStream`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Plain TCP.
    Plain(OwnedReadHalf),
    /// TLS.
    Tls(tokio::io::ReadHalf<ClientTlsStream>),
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Plain(r) => Pin::new(r).poll_read(cx, buf),
            ReadHalf::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

/// The write half of a [`ClientStream`].
#[derive(Debug)]
pub enum WriteHalf {
    /// Plain TCP.
    Plain(OwnedWriteHalf),
    /// TLS.
    Tls(tokio::io::WriteHalf<ClientTlsStream>),
}

impl WriteHalf {
    /// Writes as much of `bufs` as the stream takes now (waiting until it takes some). For TLS
    /// the bytes may sit in the session until [`WriteHalf::flush`].
    pub async fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(w) => crate::send_vectored(w.as_ref(), bufs).await,
            WriteHalf::Tls(w) => w.write_vectored(bufs).await,
        }
    }

    /// Pushes buffered TLS records to the socket.
    pub async fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(_) => Ok(()),
            WriteHalf::Tls(w) => w.flush().await,
        }
    }

    /// Shuts the write direction down (TLS: sends close_notify first).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(w) => w.shutdown().await,
            WriteHalf::Tls(w) => w.shutdown().await,
        }
    }
}

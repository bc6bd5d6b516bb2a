//! Socket helpers shared by the client (`odradek`) and the broker (`odradek-broker`), kept out of
//! the sans-io `odradek-protocol`.
//!
//! Vectored socket writes that cannot raise SIGPIPE:
//! `writev(2)` (what `AsyncWrite::write_vectored` calls) sends SIGPIPE when the peer has gone,
//! and SIGPIPE's default action ends the process. Rust programs ignore it, but a C or C++
//! program hosting this library (the C ABI, the C++ binding, an embedded test broker) does not:
//! a broker closing a connection mid-write would kill the application. `sendmsg` with
//! MSG_NOSIGNAL fails with EPIPE instead, like the plain writes of std and tokio.
//!
//! Client streams ([`stream`]): plaintext or TLS ([`tls`], rustls with the ring provider: no
//! OpenSSL at run time), split into halves for a connection's reader and writer tasks.

pub mod stream;
pub mod tls;
pub mod tls_key;

/// The TLS library, for the types in [`tls`]'s signatures.
pub use rustls;
pub use stream::{ClientStream, ReadHalf, WriteHalf};

use std::io::{self, IoSlice};

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Writes as much of `bufs` as the socket takes now (waiting until it takes some); the number
/// of bytes written.
pub async fn send_vectored(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            SockRef::from(stream).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
        }) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

//! A host program that keeps SIGPIPE's default action (any C or C++ program using the C ABI or
//! the C++ binding) must not be killed when a peer closes a connection the library writes to:
//! `odradek_socket::send_vectored` fails with an error instead. This test binary restores the
//! default action first (Rust programs ignore SIGPIPE), so a `writev` here would end it.

use std::io::IoSlice;

use tokio::net::{TcpListener, TcpStream};

#[allow(unsafe_code)] // the one way to restore SIGPIPE's default action
fn restore_default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL has no memory-safety preconditions.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
    restore_default_sigpipe();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(server);
        let chunk = vec![7u8; 64 * 1024];
        let bufs = [IoSlice::new(&chunk), IoSlice::new(&chunk)];
        // The first writes may still be accepted; once the peer's reset arrives, writing fails.
        let mut error = None;
        for _ in 0..1000 {
            match odradek_socket::send_vectored(&client, &bufs).await {
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let e = error.expect("writing to a closed peer must fail");
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        );
    });
}

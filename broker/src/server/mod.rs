//! The listeners: one accept loop per configured listener, one task per connection, stopped
//! together on shutdown. Admission (`max.connections`, `max.connections.per.ip`, the
//! descriptor limit) is shared by every listener and happens here; the byte budget and
//! timeouts are enforced per connection (see `connection`), on TLS connections as on plain
//! ones.

mod admission;
mod budget;
mod connection;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use odradek_cluster::NetworkGate;

use crate::config::ConnectionLimits;
use crate::security::Listener;
use crate::state::BrokerState;
use admission::{Admission, LogLimiter, SpareDescriptor, is_descriptor_limit};
use budget::MemoryBudget;

/// How long connections get after shutdown to answer what they already read; a peer that does
/// not read its responses must not hold the broker open.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every connection task shares.
#[derive(Debug)]
struct Net {
    limits: ConnectionLimits,
    budget: Arc<MemoryBudget>,
}

static REFUSED_LOG: LogLimiter = LogLimiter::new(Duration::from_secs(1));
static ACCEPT_LOG: LogLimiter = LogLimiter::new(Duration::from_secs(1));

/// Serves every listener until shutdown.
pub async fn serve(
    listeners: Vec<(TcpListener, Arc<Listener>)>,
    state: Arc<BrokerState>,
    shutdown: watch::Receiver<bool>,
    gate: NetworkGate,
) {
    let limits = state.props().connection_limits();
    let admission = Admission::new(&limits);
    let net = Arc::new(Net {
        budget: MemoryBudget::new(limits.queued_max_bytes),
        limits,
    });
    let mut loops = JoinSet::new();
    for (socket, listener) in listeners {
        loops.spawn(accept_loop(
            socket,
            listener,
            state.clone(),
            shutdown.clone(),
            net.clone(),
            admission.clone(),
            gate.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
}

/// Accepts connections on one listener until shutdown, then waits (a bounded time) for its
/// connection tasks.
async fn accept_loop(
    socket: TcpListener,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    mut shutdown: watch::Receiver<bool>,
    net: Arc<Net>,
    admission: Arc<Admission>,
    gate: NetworkGate,
) {
    let mut spare = SpareDescriptor::open();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                // An isolated node (a test's network partition) drops what arrives.
                Ok((stream, _)) if gate.is_isolated() => drop(stream),
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Ok(ticket) => {
                        let _ = stream.set_nodelay(true);
                        let connection = connection::run(
                            stream,
                            peer,
                            listener.clone(),
                            state.clone(),
                            shutdown.clone(),
                            net.clone(),
                            ticket,
                        );
                        let gate = gate.clone();
                        conns.spawn(async move {
                            gate.cut_on_isolation(connection).await;
                        });
                    }
                    Err(why) => {
                        drop(stream);
                        if let Some(suppressed) = REFUSED_LOG.check() {
                            tracing::warn!(%peer, suppressed, "refused connection: {why}");
                        }
                    }
                },
                Err(e) if is_descriptor_limit(&e) => {
                    let closed = spare.shed(&socket).await;
                    if let Some(suppressed) = ACCEPT_LOG.check() {
                        tracing::warn!(
                            closed,
                            suppressed,
                            "out of file descriptors ({e}): closing new connections until some are free"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    if let Some(suppressed) = ACCEPT_LOG.check() {
                        tracing::warn!(suppressed, "accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(socket);
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = conns.join_next() => if joined.is_none() { return },
            _ = &mut grace => break,
        }
    }
    tracing::warn!(
        connections = conns.len(),
        listener = %listener.name,
        "closing connections that did not finish within {SHUTDOWN_GRACE:?} of shutdown"
    );
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

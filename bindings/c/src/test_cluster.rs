//! The embedded N-node cluster for fail-over tests of Go, .NET and C code: nodes 1..=N
//! in-process on 127.0.0.1, each killable, restartable and isolatable by id
//! (`odradek_broker::EmbeddedCluster`).

use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard};

use odradek::error::Error;
use odradek_broker::EmbeddedCluster;

use crate::broker::{on_plain_thread, properties_arg};
use crate::error::OdradekError;
use crate::util::{
    FfiResult, OdradekConfigEntry, check_out, guard, guard_void, handle, owned_str, str_arg,
    write_out,
};

/// An embedded cluster handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekTestCluster {
    cluster: Mutex<EmbeddedCluster>,
}

impl OdradekTestCluster {
    fn lock(&self) -> MutexGuard<'_, EmbeddedCluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A cluster operation's failure as the ABI's error: a bad node id or property is
/// `_INVALID_ARG`, a wait that ran out `_TIMED_OUT`, anything else `_TRANSPORT` (retriable).
fn cluster_error(what: &str, e: std::io::Error) -> Error {
    let message = format!("embedded cluster: {what}: {e}");
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::NotConnected => {
            Error::invalid_argument(message)
        }
        std::io::ErrorKind::TimedOut => Error::timeout(message),
        _ => Error::network(message),
    }
}

/// Starts `nodes` nodes (ids 1..=nodes, at most 9) with these Kafka broker properties (NULL
/// when count is 0) over fast test timings (a lapsed lease after 2 s), and returns once every
/// node is registered. `*out` receives the handle; stop and free it with
/// odradek_test_cluster_stop().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_start(
    nodes: i32,
    properties: *const OdradekConfigEntry,
    count: usize,
    out: *mut *mut OdradekTestCluster,
) -> *mut OdradekError {
    guard(|| {
        check_out(out, "out")?;
        let props = properties_arg(properties, count)?;
        let nodes = u16::try_from(nodes).unwrap_or(0);
        let cluster = on_plain_thread("the embedded cluster", || {
            EmbeddedCluster::start(nodes, &props)
        })?
        .map_err(|e| cluster_error("start", e))?;
        let handle = Box::new(OdradekTestCluster {
            cluster: Mutex::new(cluster),
        });
        write_out(out, Box::into_raw(handle), "out")
    })
}

/// `host:port,...` of every running node for bootstrap.servers, in `*out` (free it with
/// odradek_string_free). It changes as nodes are killed and restarted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_bootstrap(
    cluster: *const OdradekTestCluster,
    out: *mut *mut c_char,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(cluster, "cluster")?;
        check_out(out, "out")?;
        let text = c.lock().bootstrap_servers();
        write_out(out, owned_str(text), "out")
    })
}

/// The number of nodes; their ids are 1..=count. 0 for a NULL handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_node_count(
    cluster: *const OdradekTestCluster,
) -> i32 {
    // SAFETY: a non-null handle is alive (header contract).
    match unsafe { cluster.as_ref() } {
        Some(c) => i32::try_from(c.lock().node_ids().len()).unwrap_or(0),
        None => 0,
    }
}

fn node_op(
    cluster: *const OdradekTestCluster,
    node_id: i32,
    what: &str,
    op: impl FnOnce(&mut EmbeddedCluster, u64) -> std::io::Result<()> + Send,
) -> FfiResult {
    let c = handle(cluster, "cluster")?;
    let id = u64::try_from(node_id).unwrap_or(0);
    let mut guard = c.lock();
    let cluster = &mut *guard;
    on_plain_thread("the embedded cluster", move || op(cluster, id))?
        .map_err(|e| cluster_error(&format!("{what} node {node_id}"), e).into())
}

/// Kills node `node_id` abruptly (no flush, connections drop); its data stays for
/// odradek_test_cluster_restart.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_kill(
    cluster: *const OdradekTestCluster,
    node_id: i32,
) -> *mut OdradekError {
    guard(|| node_op(cluster, node_id, "kill", EmbeddedCluster::kill))
}

/// Starts node `node_id` again (same id, data and, if free, client port; a running node is
/// killed first) and returns once it is registered.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_restart(
    cluster: *const OdradekTestCluster,
    node_id: i32,
) -> *mut OdradekError {
    guard(|| node_op(cluster, node_id, "restart", EmbeddedCluster::restart))
}

/// Cuts node `node_id` off the network: it keeps running, its connections close and no
/// client, peer or controller traffic reaches it or leaves it until odradek_test_cluster_heal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_isolate(
    cluster: *const OdradekTestCluster,
    node_id: i32,
) -> *mut OdradekError {
    guard(|| node_op(cluster, node_id, "isolate", |c, id| c.isolate(id)))
}

/// Reconnects an isolated node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_heal(
    cluster: *const OdradekTestCluster,
    node_id: i32,
) -> *mut OdradekError {
    guard(|| node_op(cluster, node_id, "heal", |c, id| c.heal(id)))
}

/// The leader of `topic`'s `partition` in the newest metadata a connected node has, in
/// `*out`: a node id, or -1 when the partition is unknown or has no leader now.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_leader(
    cluster: *const OdradekTestCluster,
    topic: *const c_char,
    partition: i32,
    out: *mut i32,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(cluster, "cluster")?;
        let topic = str_arg(topic, "topic")?;
        check_out(out, "out")?;
        let leader = c
            .lock()
            .leader(topic, partition)
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(-1);
        write_out(out, leader, "out")
    })
}

/// Kills every node, removes the data directories and frees the handle (the last call on
/// it). NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_cluster_stop(cluster: *mut OdradekTestCluster) {
    if cluster.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the handle came from odradek_test_cluster_start and is freed once.
        let c = unsafe { Box::from_raw(cluster) };
        let inner = c.cluster.into_inner().unwrap_or_else(|p| p.into_inner());
        // Stopping blocks on the nodes' runtimes: do it from a plain thread.
        let _ = std::thread::spawn(move || drop(inner)).join();
    })
}

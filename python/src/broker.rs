//! `odradek.testing.Broker` and `odradek.testing.Cluster`: the Rust broker in-process on
//! ephemeral ports and temporary data directories, one node or an N-node cluster.

use std::sync::Mutex;

use odradek_broker::{EmbeddedBroker, EmbeddedCluster};
use pyo3::prelude::*;

/// Borrowed `(name, value)` pairs, as the embedded broker and cluster take them.
fn as_pairs(properties: &[(String, String)]) -> Vec<(&str, &str)> {
    properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The native embedded broker.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeBroker {
    broker: Mutex<Option<EmbeddedBroker>>,
    bootstrap: String,
    ca_pem: Option<String>,
}

impl NativeBroker {
    /// Starts the broker off the GIL (it blocks on its own runtime).
    fn start(
        py: Python<'_>,
        properties: crate::config::ConfigPairs,
        sasl_ssl: Option<(String, String)>,
    ) -> PyResult<Self> {
        let properties = crate::config::settings(py, properties)?;
        let broker = py
            .detach(move || {
                let props = as_pairs(&properties);
                match &sasl_ssl {
                    Some((user, password)) => {
                        EmbeddedBroker::start_sasl_ssl(user, password, &props)
                    }
                    None => EmbeddedBroker::start(&props),
                }
            })
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        Ok(NativeBroker {
            bootstrap: broker.bootstrap_servers().to_string(),
            ca_pem: broker.ca_pem().map(str::to_string),
            broker: Mutex::new(Some(broker)),
        })
    }
}

#[pymethods]
impl NativeBroker {
    /// Starts a broker with these Kafka broker properties (`num.partitions`, ...).
    #[new]
    fn new(py: Python<'_>, properties: crate::config::ConfigPairs) -> PyResult<Self> {
        Self::start(py, properties, None)
    }

    /// Starts a broker whose one listener is SASL_SSL: TLS with a CA made now (`ca_pem`),
    /// SCRAM-SHA-256/512 with this user.
    #[staticmethod]
    fn sasl_ssl(
        py: Python<'_>,
        username: String,
        password: String,
        properties: crate::config::ConfigPairs,
    ) -> PyResult<Self> {
        Self::start(py, properties, Some((username, password)))
    }

    /// The CA certificate (PEM) a client must trust; None for a plaintext broker.
    #[getter]
    fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `host:port` for `bootstrap.servers`.
    #[getter]
    fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Stops the broker and removes its data directory. Idempotent.
    fn stop(&self, py: Python<'_>) {
        let broker = self.broker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut b) = broker {
            py.detach(move || b.stop());
        }
    }
}

/// The native embedded cluster (`odradek.testing.Cluster`): nodes 1..=N, each killable,
/// restartable and isolatable by id. Every call blocks off the GIL.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeCluster {
    cluster: Mutex<Option<EmbeddedCluster>>,
}

/// A bad node id or property is a `ValueError`; a wait that ran out a `TimeoutError`; the
/// rest a `RuntimeError`. Each names the operation.
fn cluster_error(what: &str, e: std::io::Error) -> PyErr {
    let message = format!("embedded cluster: {what}: {e}");
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::NotConnected => {
            pyo3::exceptions::PyValueError::new_err(message)
        }
        std::io::ErrorKind::TimedOut => pyo3::exceptions::PyTimeoutError::new_err(message),
        _ => pyo3::exceptions::PyRuntimeError::new_err(message),
    }
}

impl NativeCluster {
    /// Runs `op` on the running cluster, off the GIL.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        what: &str,
        op: impl FnOnce(&mut EmbeddedCluster) -> std::io::Result<T> + Send,
    ) -> PyResult<T> {
        let mut guard = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        let cluster = guard.as_mut().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err(format!(
                "embedded cluster: {what}: the cluster was stopped"
            ))
        })?;
        py.detach(move || op(cluster))
            .map_err(|e| cluster_error(what, e))
    }
}

#[pymethods]
impl NativeCluster {
    /// Starts `nodes` nodes with these Kafka broker properties; returns once all registered.
    #[new]
    fn new(py: Python<'_>, nodes: u16, properties: crate::config::ConfigPairs) -> PyResult<Self> {
        let properties = crate::config::settings(py, properties)?;
        let cluster = py
            .detach(move || {
                let props = as_pairs(&properties);
                EmbeddedCluster::start(nodes, &props)
            })
            .map_err(|e| cluster_error("start", e))?;
        Ok(NativeCluster {
            cluster: Mutex::new(Some(cluster)),
        })
    }

    fn bootstrap_servers(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, "bootstrap_servers", |c| Ok(c.bootstrap_servers()))
    }

    fn node_ids(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        self.with(py, "node_ids", |c| Ok(c.node_ids()))
    }

    fn kill(&self, py: Python<'_>, node_id: u64) -> PyResult<()> {
        self.with(py, &format!("kill node {node_id}"), |c| c.kill(node_id))
    }

    fn restart(&self, py: Python<'_>, node_id: u64) -> PyResult<()> {
        self.with(py, &format!("restart node {node_id}"), |c| {
            c.restart(node_id)
        })
    }

    fn isolate(&self, py: Python<'_>, node_id: u64) -> PyResult<()> {
        self.with(py, &format!("isolate node {node_id}"), |c| {
            c.isolate(node_id)
        })
    }

    fn heal(&self, py: Python<'_>, node_id: u64) -> PyResult<()> {
        self.with(py, &format!("heal node {node_id}"), |c| c.heal(node_id))
    }

    fn leader(&self, py: Python<'_>, topic: String, partition: i32) -> PyResult<Option<u64>> {
        self.with(py, "leader", |c| Ok(c.leader(&topic, partition)))
    }

    /// Kills every node and removes the data. Idempotent.
    fn stop(&self, py: Python<'_>) {
        let cluster = self
            .cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut c) = cluster {
            py.detach(move || c.stop());
        }
    }
}

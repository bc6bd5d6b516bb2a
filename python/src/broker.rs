//! `odradek.testing.Broker`: the Rust broker in-process on an ephemeral port and a temporary
//! data directory.

use std::sync::Mutex;

use odradek_broker::EmbeddedBroker;
use pyo3::prelude::*;

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
                let props: Vec<(&str, &str)> = properties
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
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

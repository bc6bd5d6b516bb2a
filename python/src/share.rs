//! The share consumer (KIP-932, share groups) under `odradek.ShareConsumer`: records come as
//! `ShareMessage`, a `Message` with its delivery count. Every wait releases the GIL.

use std::sync::Arc;

use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::consumer::Message;
use crate::dispatch::{Resolver, dispatch, resolve_unit_later};

/// A record handed out by a share consumer: a `Message` with `delivery_count`.
#[pyclass(module = "odradek._odradek", frozen, extends = Message)]
#[derive(Debug)]
pub struct ShareMessage {
    delivery_count: i16,
}

#[pymethods]
impl ShareMessage {
    /// 1 the first time the record is delivered, 2 after one release or lock timeout, ...
    #[getter]
    fn delivery_count(&self) -> i16 {
        self.delivery_count
    }

    fn __repr__(slf: PyRef<'_, Self>) -> String {
        let record = &slf.as_super().record;
        format!(
            "ShareMessage(topic={:?}, partition={}, offset={}, delivery_count={})",
            &*record.topic, record.partition, record.offset, slf.delivery_count
        )
    }
}

fn share_message(py: Python<'_>, r: ShareRecord) -> PyResult<Bound<'_, ShareMessage>> {
    let record = r.to_consumer_record();
    let init = PyClassInitializer::from(Message { record }).add_subclass(ShareMessage {
        delivery_count: r.delivery_count,
    });
    Bound::new(py, init)
}

/// The native share consumer under `odradek.ShareConsumer`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeShareConsumer {
    consumer: Arc<ShareConsumer>,
}

#[pymethods]
impl NativeShareConsumer {
    #[new]
    #[pyo3(signature = (config, oauth_cb=None))]
    fn new(
        py: Python<'_>,
        config: crate::config::ConfigPairs,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        let consumer = ShareConsumer::new(&config).map_err(|e| crate::raise(py, e))?;
        Ok(NativeShareConsumer {
            consumer: Arc::new(consumer),
        })
    }

    /// Subscribes to these topics (replacing the previous subscription).
    fn subscribe(&self, topics: Vec<String>) {
        self.consumer.subscribe(&topics);
    }

    /// The (topic, partition) pairs the coordinator assigned to this member.
    fn assignment(&self) -> Vec<(String, i32)> {
        self.consumer.assignment()
    }

    /// Waits up to `timeout` seconds (`None`: until records arrive) for records. The wait is
    /// the core's own: interrupting it (Ctrl+C) drops the fetch, whose records come back once
    /// their locks time out.
    #[pyo3(signature = (timeout=None))]
    fn poll<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let forever = crate::timeout_of(timeout)?.is_none();
        let limit = crate::timeout_of(timeout)?.unwrap_or(std::time::Duration::from_secs(1));
        loop {
            let consumer = self.consumer.clone();
            let records =
                crate::wait(py, None, async move { consumer.poll(limit).await }, &|| {
                    false
                })?
                .unwrap_or_default();
            if !records.is_empty() || !forever {
                let items = records
                    .into_iter()
                    .map(|r| share_message(py, r))
                    .collect::<PyResult<Vec<_>>>()?;
                return PyList::new(py, items);
            }
        }
    }

    /// `poll` in the background for asyncio: `callback(list of ShareMessage | KafkaError)` runs
    /// on `event_loop` once the fetch is done (`odradek.aio` releases what a cancelled wait
    /// received).
    #[pyo3(signature = (timeout, callback, event_loop))]
    fn poll_async(&self, timeout: f64, callback: Py<PyAny>, event_loop: Py<PyAny>) -> PyResult<()> {
        let limit = crate::timeout_of(Some(timeout))?.unwrap_or(std::time::Duration::from_secs(1));
        let consumer = self.consumer.clone();
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        odradek::runtime::spawn(async move {
            let polled = consumer.poll(limit).await;
            dispatch(Box::new(move |py| {
                let arg = match polled {
                    Ok(records) => records
                        .into_iter()
                        .map(|r| share_message(py, r))
                        .collect::<PyResult<Vec<_>>>()
                        .and_then(|items| PyList::new(py, items))
                        .map(Bound::into_any)
                        .unwrap_or_else(|e| e.into_value(py).into_bound(py).into_any()),
                    Err(e) => crate::exception(py, &e),
                };
                resolver.call(py, arg);
            }));
        });
        Ok(())
    }

    /// `commit_sync` in the background for asyncio: `callback(None | KafkaError)` on
    /// `event_loop`.
    fn commit_sync_async(&self, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        let consumer = self.consumer.clone();
        resolve_unit_later(
            async move { consumer.commit_sync().await },
            Resolver {
                callback,
                event_loop: Some(event_loop),
            },
        );
    }

    /// `close` in the background for asyncio: `callback(None | KafkaError)` on `event_loop`.
    fn close_async(&self, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        let consumer = self.consumer.clone();
        resolve_unit_later(
            async move { consumer.close().await },
            Resolver {
                callback,
                event_loop: Some(event_loop),
            },
        );
    }

    /// Acknowledges the record at (topic, partition, offset) handed out by `poll`: `kind` 1
    /// accept, 2 release, 3 reject. Sent with the next poll or commit.
    fn acknowledge(
        &self,
        py: Python<'_>,
        topic: &str,
        partition: i32,
        offset: i64,
        kind: i32,
    ) -> PyResult<()> {
        let kind = match kind {
            1 => AcknowledgeType::Accept,
            2 => AcknowledgeType::Release,
            3 => AcknowledgeType::Reject,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "acknowledge type {other} is not ACCEPT (1), RELEASE (2) or REJECT (3)"
                )));
            }
        };
        self.consumer
            .acknowledge_offset(topic, partition, offset, kind)
            .map_err(|e| crate::raise(py, e))
    }

    /// Sends the pending acknowledgements and waits for the answers (the first partition
    /// error is raised).
    #[pyo3(signature = (timeout=None))]
    fn commit_sync(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let consumer = self.consumer.clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "commit_sync", async move {
            consumer.commit_sync().await
        })
    }

    /// Sends the pending acknowledgements in the background (a failure is logged).
    fn commit_async(&self) {
        self.consumer.commit_async();
    }

    /// Leaves the share group (records handed out and not acknowledged are released).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let consumer = self.consumer.clone();
        let limit = crate::timeout_of(timeout)?.or(Some(std::time::Duration::from_secs(30)));
        crate::wait_for(py, limit, "close", async move { consumer.close().await })
    }
}

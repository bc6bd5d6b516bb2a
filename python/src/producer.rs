//! The producer: `send` appends to the core's batch at once (no GIL release needed, it never
//! blocks) and registers the delivery with this producer's driver task, which gathers finished
//! deliveries and hands them to Python in batches through the dispatcher thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use odradek::error::Result as CoreResult;
use odradek::producer::{self as core, Producer, ProducerRecord};
use odradek::records::RecordHeader;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use tokio::sync::mpsc;

use crate::buffer::{Borrowed, borrow, borrow_opt};
use crate::dispatch::{Resolver, dispatch, resolve_unit_later};

/// Where a record was written: `topic`, `partition`, `offset` (-1 with acks=0) and
/// `timestamp` (ms since the epoch: create time, or the broker's append time).
#[pyclass(module = "odradek._odradek", frozen, get_all)]
#[derive(Debug)]
pub struct DeliveryReport {
    /// Topic.
    topic: Py<PyAny>,
    /// Partition.
    partition: i32,
    /// Offset (-1 with acks=0).
    offset: i64,
    /// Timestamp in ms since the epoch: the create time, or the broker's log-append time.
    timestamp: i64,
}

#[pymethods]
impl DeliveryReport {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DeliveryReport(topic={}, partition={}, offset={}, timestamp={})",
            self.topic
                .bind(py)
                .repr()
                .map_or_else(|_| "?".into(), |r| r.to_string()),
            self.partition,
            self.offset,
            self.timestamp
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        let Ok(other) = other.cast::<DeliveryReport>() else {
            return false;
        };
        let o = other.get();
        self.partition == o.partition
            && self.offset == o.offset
            && self.timestamp == o.timestamp
            && self.topic.bind(py).eq(o.topic.bind(py)).unwrap_or(false)
    }
}

enum Outcome {
    One(CoreResult<core::DeliveryReport>),
    Many(Vec<CoreResult<core::DeliveryReport>>),
}

/// A finished delivery: the Python token (a future) and what happened.
struct Finished {
    token: Py<PyAny>,
    topic: Py<PyAny>,
    outcome: Outcome,
}

type Pending = Pin<Box<dyn Future<Output = Finished> + Send>>;

/// The native producer under `odradek.Producer` and `odradek.aio.Producer`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeProducer {
    producer: Producer,
    pending: mpsc::UnboundedSender<Pending>,
    closed: AtomicBool,
}

#[pymethods]
impl NativeProducer {
    /// `config`: property pairs; `callback(list[(token, DeliveryReport | KafkaError |
    /// list[DeliveryReport])])` receives finished deliveries, on `event_loop` (via
    /// `call_soon_threadsafe`) when one is given.
    #[new]
    #[pyo3(signature = (config, callback, event_loop=None, oauth_cb=None))]
    fn new(
        py: Python<'_>,
        config: crate::config::ConfigPairs,
        callback: Py<PyAny>,
        event_loop: Option<Py<PyAny>>,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        // Producer::new spawns its sender on the library runtime (we are not inside one).
        let producer = Producer::from_config(&config).map_err(|e| crate::raise(py, e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let resolver = Arc::new(Resolver {
            callback,
            event_loop,
        });
        odradek::runtime::spawn(drive(rx, resolver));
        Ok(NativeProducer {
            producer,
            pending: tx,
            closed: AtomicBool::new(false),
        })
    }

    /// Appends one record; `token` comes back to the callback with the outcome.
    #[pyo3(signature = (topic, value, key, headers, partition, timestamp_ms, token))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        topic: Bound<'_, PyAny>,
        value: Option<Bound<'_, PyAny>>,
        key: Option<Bound<'_, PyAny>>,
        headers: Option<Bound<'_, PyAny>>,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
        token: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let topic_str: String = topic.extract()?;
        let value = borrow_opt(value.as_ref())?;
        let key = borrow_opt(key.as_ref())?;
        let headers = headers_of(headers.as_ref())?;
        let mut record = ProducerRecord::new(&topic_str).headers(&headers);
        record.value = value.as_ref().map(Borrowed::as_slice);
        record.key = key.as_ref().map(Borrowed::as_slice);
        record.partition = partition;
        record.timestamp = timestamp_ms;
        let delivery = self.producer.send(record);
        let topic = exact_str(py, topic, &topic_str);
        let fut: Pending = Box::pin(async move {
            Finished {
                token,
                topic,
                outcome: Outcome::One(delivery.await),
            }
        });
        let _ = self.pending.send(fut);
        Ok(())
    }

    /// Appends many records of one topic, crossing into Rust once: `values` is a sequence of
    /// values, `keys` an optional sequence of keys of the same length. `token` comes back once
    /// with the list of reports, or with the first error.
    #[pyo3(signature = (topic, values, keys, partition, token))]
    fn send_batch(
        &self,
        py: Python<'_>,
        topic: Bound<'_, PyAny>,
        values: Bound<'_, PyAny>,
        keys: Option<Bound<'_, PyAny>>,
        partition: Option<i32>,
        token: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let topic_str: String = topic.extract()?;
        let values: Vec<Bound<'_, PyAny>> = values.try_iter()?.collect::<PyResult<_>>()?;
        let keys: Option<Vec<Bound<'_, PyAny>>> = match keys {
            Some(k) if !k.is_none() => Some(k.try_iter()?.collect::<PyResult<_>>()?),
            _ => None,
        };
        if let Some(k) = &keys
            && k.len() != values.len()
        {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{} keys for {} values",
                k.len(),
                values.len()
            )));
        }
        // Borrow everything first so that a bad element fails the call before anything is sent.
        let mut borrowed = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            let key = match &keys {
                Some(k) => borrow_opt(Some(&k[i]))?,
                None => None,
            };
            borrowed.push((key, borrow_opt(Some(v))?));
        }
        let mut deliveries = Vec::with_capacity(borrowed.len());
        for (key, value) in &borrowed {
            let mut record = ProducerRecord::new(&topic_str);
            record.key = key.as_ref().map(Borrowed::as_slice);
            record.value = value.as_ref().map(Borrowed::as_slice);
            record.partition = partition;
            deliveries.push(self.producer.send(record));
        }
        drop(borrowed);
        let topic = exact_str(py, topic, &topic_str);
        let fut: Pending = Box::pin(async move {
            // The last record first: batches of a partition finish in order, so once it is in
            // the others usually are too and are taken without waiting (one wake-up for the
            // whole call instead of one per batch, or one per record as join_all had).
            let mut deliveries = deliveries;
            let last = match deliveries.pop() {
                Some(d) => Some(d.await),
                None => None,
            };
            let mut results = Vec::with_capacity(deliveries.len() + 1);
            for d in deliveries {
                results.push(d.await);
            }
            results.extend(last);
            Finished {
                token,
                topic,
                outcome: Outcome::Many(results),
            }
        });
        let _ = self.pending.send(fut);
        Ok(())
    }

    /// Waits (GIL released, Ctrl+C-interruptible) until everything sent so far is delivered or
    /// failed. Returns how many records are still queued (0 unless the timeout ran out).
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u64> {
        let timeout = crate::timeout_of(timeout)?;
        let producer = self.producer.clone();
        match crate::wait(py, timeout, async move { producer.flush().await }, &|| {
            false
        })? {
            Some(()) => Ok(0),
            None => Ok(self.producer.metrics().queue_records.max(1)),
        }
    }

    /// Starts a flush in the background and calls `callback(None | KafkaError)` through the
    /// resolver when it is done (for asyncio's `await flush()` / `await close()`).
    #[pyo3(signature = (close, callback, event_loop=None))]
    fn flush_async(
        &self,
        py: Python<'_>,
        close: bool,
        callback: Py<PyAny>,
        event_loop: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        if close {
            self.closed.store(true, Ordering::SeqCst);
        } else {
            self.check_open(py)?;
        }
        let producer = self.producer.clone();
        let resolver = Resolver {
            callback,
            event_loop,
        };
        odradek::runtime::spawn(async move {
            let r = if close {
                producer.close().await
            } else {
                producer.flush().await
            };
            dispatch(Box::new(move |py| {
                let arg = match r {
                    Ok(()) => py.None().into_bound(py),
                    Err(e) => crate::exception(py, &e),
                };
                resolver.call(py, arg);
            }));
        });
        Ok(())
    }

    /// Flushes (up to `timeout`), then stops the producer; later sends fail.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u64> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(0);
        }
        let left = self.flush(py, timeout)?;
        let producer = self.producer.clone();
        crate::wait(
            py,
            crate::timeout_of(timeout)?,
            async move { producer.close().await },
            &|| false,
        )?;
        Ok(left)
    }

    /// `init_transactions`: registers `transactional.id` (fencing earlier producers with it).
    #[pyo3(signature = (timeout=None))]
    fn init_transactions(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let producer = self.producer.clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "init_transactions",
            async move { producer.init_transactions().await },
        )
    }

    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        self.producer
            .begin_transaction()
            .map_err(|e| crate::raise(py, e))
    }

    /// `offsets`: (topic, partition, next offset); `group`: (group id, generation, member id,
    /// group instance id) from the consumer.
    #[pyo3(signature = (offsets, group, timeout=None))]
    #[allow(clippy::type_complexity)]
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: Vec<(String, i32, i64)>,
        group: (String, i32, String, Option<String>),
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let producer = self.producer.clone();
        let group = group_metadata(group);
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "send_offsets_to_transaction",
            async move { producer.send_offsets_to_transaction(&offsets, &group).await },
        )
    }

    #[pyo3(signature = (commit, timeout=None))]
    fn end_transaction(&self, py: Python<'_>, commit: bool, timeout: Option<f64>) -> PyResult<()> {
        let producer = self.producer.clone();
        let what = if commit {
            "commit_transaction"
        } else {
            "abort_transaction"
        };
        crate::wait_for(py, crate::timeout_of(timeout)?, what, async move {
            if commit {
                producer.commit_transaction().await
            } else {
                producer.abort_transaction().await
            }
        })
    }

    /// asyncio `init_transactions`: `callback(None | exception)` runs on `event_loop`.
    fn init_transactions_async(&self, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        let producer = self.producer.clone();
        resolve_unit_later(
            async move { producer.init_transactions().await },
            Resolver {
                callback,
                event_loop: Some(event_loop),
            },
        );
    }

    /// asyncio `send_offsets_to_transaction` (arguments as the blocking one).
    #[allow(clippy::type_complexity)]
    fn send_offsets_to_transaction_async(
        &self,
        offsets: Vec<(String, i32, i64)>,
        group: (String, i32, String, Option<String>),
        callback: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) {
        let producer = self.producer.clone();
        let group = group_metadata(group);
        resolve_unit_later(
            async move { producer.send_offsets_to_transaction(&offsets, &group).await },
            Resolver {
                callback,
                event_loop: Some(event_loop),
            },
        );
    }

    /// asyncio `commit_transaction` (`commit`) or `abort_transaction`.
    fn end_transaction_async(&self, commit: bool, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        let producer = self.producer.clone();
        resolve_unit_later(
            async move {
                if commit {
                    producer.commit_transaction().await
                } else {
                    producer.abort_transaction().await
                }
            },
            Resolver {
                callback,
                event_loop: Some(event_loop),
            },
        );
    }

    /// `error_cb(exception)` for failures no call returns (a broker unreachable, every
    /// broker down, TLS/SASL, the producer fenced), on `event_loop` when given; `None` stops it.
    #[pyo3(signature = (callback, event_loop=None))]
    fn set_error_callback(&self, callback: Option<Py<PyAny>>, event_loop: Option<Py<PyAny>>) {
        crate::observability::set_error_callback(
            self.producer.cluster().events(),
            callback,
            event_loop,
        );
    }

    /// The producer's statistics snapshot, per-broker rows included, as JSON text.
    fn metrics_json(&self) -> String {
        self.producer.metrics().to_json()
    }

    /// Records and bytes buffered, delivered and failed so far, as a dict.
    fn metrics(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let m = self.producer.metrics();
        let pairs = [
            ("records_delivered", m.records_delivered),
            ("records_failed", m.records_failed),
            ("bytes_delivered", m.bytes_delivered),
            ("requests", m.requests),
            ("retries", m.retries),
            ("queue_records", m.queue_records),
            ("queue_bytes", m.queue_bytes),
        ];
        let d = pyo3::types::PyDict::new(py);
        for (k, v) in pairs {
            d.set_item(k, v)?;
        }
        Ok(d.into_any().unbind())
    }
}

impl NativeProducer {
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(crate::raise(
                py,
                odradek::error::Error::closed("the producer is closed"),
            ));
        }
        Ok(())
    }
}

fn headers_of(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<RecordHeader>> {
    let Some(headers) = headers else {
        return Ok(Vec::new());
    };
    if headers.is_none() {
        return Ok(Vec::new());
    }
    // A dict gives its items; any other iterable must yield (name, value) pairs.
    let items = if let Ok(d) = headers.cast::<pyo3::types::PyDict>() {
        d.items().into_any()
    } else {
        headers.clone()
    };
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let item = item?;
        let pair = item.cast::<PyTuple>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("a header is a (name, value) pair")
        })?;
        if pair.len() != 2 {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "a header is a (name, value) pair",
            ));
        }
        let name = pair.get_item(0)?;
        let name = borrow(&name)?;
        let value = pair.get_item(1)?;
        let value = borrow_opt(Some(&value))?;
        out.push(RecordHeader {
            key: Bytes::copy_from_slice(name.as_slice()),
            value: value.map(|v| Bytes::copy_from_slice(v.as_slice())),
        });
    }
    Ok(out)
}

/// Gathers finished deliveries and hands them to Python in batches: everything that finished
/// together (a produce response completes a whole batch) goes in one dispatcher job.
async fn drive(mut rx: mpsc::UnboundedReceiver<Pending>, resolver: Arc<Resolver>) {
    let mut inflight: FuturesUnordered<Pending> = FuturesUnordered::new();
    let mut open = true;
    loop {
        while open {
            match rx.try_recv() {
                Ok(f) => inflight.push(f),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        if !open && inflight.is_empty() {
            return;
        }
        tokio::select! {
            m = rx.recv(), if open => match m {
                Some(f) => inflight.push(f),
                None => open = false,
            },
            Some(first) = inflight.next(), if !inflight.is_empty() => {
                let mut done = vec![first];
                while let Some(Some(more)) = inflight.next().now_or_never() {
                    done.push(more);
                }
                let resolver = resolver.clone();
                dispatch(Box::new(move |py| deliver(py, &resolver, done)));
            }
        }
    }
}

/// The topic as an exact `str` (a subclass instance could have a `__dict__`, and the untracked
/// reports must not hold anything that can be part of a cycle).
fn exact_str(py: Python<'_>, topic: Bound<'_, PyAny>, text: &str) -> Py<PyAny> {
    if topic.is_exact_instance_of::<PyString>() {
        topic.unbind()
    } else {
        PyString::new(py, text).into_any().unbind()
    }
}

fn report<'py>(
    py: Python<'py>,
    topic: &Py<PyAny>,
    r: &CoreResult<core::DeliveryReport>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match r {
        Ok(rep) => crate::untracked(Bound::new(
            py,
            DeliveryReport {
                topic: topic.clone_ref(py),
                partition: rep.partition,
                offset: rep.offset,
                timestamp: rep.timestamp,
            },
        )?)
        .into_any(),
        Err(e) => crate::exception(py, e),
    })
}

fn deliver(py: Python<'_>, resolver: &Resolver, done: Vec<Finished>) {
    let build = || -> PyResult<Bound<'_, PyList>> {
        let list = PyList::empty(py);
        for f in done {
            let result = match &f.outcome {
                Outcome::One(r) => report(py, &f.topic, r)?,
                Outcome::Many(rs) => match rs.iter().find_map(|r| r.as_ref().err()) {
                    Some(e) => crate::exception(py, e),
                    None => {
                        let reports = rs
                            .iter()
                            .map(|r| report(py, &f.topic, r))
                            .collect::<PyResult<Vec<_>>>()?;
                        PyList::new(py, reports)?.into_any()
                    }
                },
            };
            list.append(PyTuple::new(py, [f.token.into_bound(py), result])?)?;
        }
        Ok(list)
    };
    match build() {
        Ok(list) => resolver.call(py, list.into_any()),
        Err(e) => e.write_unraisable(py, None),
    }
}

/// The group metadata tuple `Consumer.consumer_group_metadata()` hands to Python, back as the
/// core's value.
fn group_metadata(
    (group_id, generation_id, member_id, group_instance_id): (String, i32, String, Option<String>),
) -> odradek::producer::ConsumerGroupMetadata {
    odradek::producer::ConsumerGroupMetadata {
        group_id,
        generation_id,
        member_id,
        group_instance_id,
    }
}

//! The consumer: one object for manual assignment and group subscription. With `group.id` in
//! the config it is a group member underneath (commits and `committed` work with either
//! `assign` or `subscribe`); without it only `assign` is possible.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use odradek::consumer::{ConsumerClient, ConsumerRecord, Offset};
use odradek::error::Error;
use odradek::group::RebalanceListener;
use odradek::records::TimestampType;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::dispatch::{Resolver, dispatch};

/// confluent-kafka's special offsets, so users' constants keep working.
const OFFSET_BEGINNING: i64 = -2;
const OFFSET_END: i64 = -1;
const OFFSET_STORED: i64 = -1000;
const OFFSET_INVALID: i64 = -1001;

/// A record read from Kafka. Key, value and header values are `bytes` (or `None` when null).
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct Message {
    record: ConsumerRecord,
}

#[pymethods]
impl Message {
    /// Topic name.
    #[getter]
    fn topic(&self) -> &str {
        &self.record.topic
    }

    /// Partition.
    #[getter]
    fn partition(&self) -> i32 {
        self.record.partition
    }

    /// Offset.
    #[getter]
    fn offset(&self) -> i64 {
        self.record.offset
    }

    /// Timestamp in ms since the epoch.
    #[getter]
    fn timestamp(&self) -> i64 {
        self.record.timestamp
    }

    /// `"create"` (set by the producer) or `"log_append"` (set by the broker).
    #[getter]
    fn timestamp_type(&self) -> &'static str {
        match self.record.timestamp_type {
            TimestampType::LogAppendTime => "log_append",
            _ => "create",
        }
    }

    /// Key bytes, `None` for a null key.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.record.key.as_ref().map(|k| PyBytes::new(py, k))
    }

    /// Value bytes, `None` for a null value (a tombstone).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.record.value.as_ref().map(|v| PyBytes::new(py, v))
    }

    /// Headers in order, duplicates kept: a list of (name, value) with value `bytes` or `None`.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for h in &self.record.headers {
            let name = PyString::new(py, &String::from_utf8_lossy(&h.key));
            let value = h.value.as_ref().map(|v| PyBytes::new(py, v));
            list.append(PyTuple::new(
                py,
                [name.into_any(), value.into_pyobject(py)?],
            )?)?;
        }
        Ok(list)
    }

    fn __len__(&self) -> usize {
        self.record.value.as_ref().map_or(0, |v| v.len())
    }

    fn __repr__(&self) -> String {
        format!(
            "Message(topic={:?}, partition={}, offset={}, key={}, value={})",
            &*self.record.topic,
            self.record.partition,
            self.record.offset,
            self.record
                .key
                .as_ref()
                .map_or("None".into(), |k| format!("<{} bytes>", k.len())),
            self.record
                .value
                .as_ref()
                .map_or("None".into(), |v| format!("<{} bytes>", v.len())),
        )
    }
}

/// Long enough to mean "until a record arrives" for `poll_batch` (callers cut the wait short).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

type Events = Arc<Mutex<VecDeque<(&'static str, Vec<(String, i32)>)>>>;

/// Queues rebalance events; Python runs the user's callbacks in its own thread, from
/// `poll`/`consume`, as confluent-kafka does.
struct QueuedListener(Events);

impl RebalanceListener for QueuedListener {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        push(&self.0, "assign", partitions);
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        push(&self.0, "revoke", partitions);
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        push(&self.0, "lost", partitions);
    }
}

fn push(events: &Events, kind: &'static str, partitions: &[(String, i32)]) {
    events
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push_back((kind, partitions.to_vec()));
}

/// The native consumer under `odradek.Consumer` and `odradek.aio.Consumer`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeConsumer {
    client: ConsumerClient,
    events: Events,
    closed: AtomicBool,
}

fn offset_of(o: i64) -> PyResult<Offset> {
    match o {
        OFFSET_BEGINNING => Ok(Offset::Beginning),
        OFFSET_END => Ok(Offset::End),
        OFFSET_STORED | OFFSET_INVALID => Ok(Offset::Default),
        o if o >= 0 => Ok(Offset::At(o)),
        o => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "offset {o}: expected ≥ 0 or OFFSET_BEGINNING/OFFSET_END/OFFSET_STORED"
        ))),
    }
}

fn messages<'py>(py: Python<'py>, records: Vec<ConsumerRecord>) -> PyResult<Bound<'py, PyList>> {
    let items = records
        .into_iter()
        .map(|record| Bound::new(py, Message { record }).map(crate::untracked))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

#[pymethods]
impl NativeConsumer {
    #[new]
    #[pyo3(signature = (config, oauth_cb=None))]
    fn new(
        py: Python<'_>,
        config: Vec<(String, String)>,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        let events: Events = Arc::default();
        let client = ConsumerClient::new(&config).map_err(|e| crate::raise(py, e))?;
        if client.group().is_some() {
            client
                .set_rebalance_listener(Arc::new(QueuedListener(events.clone())))
                .map_err(|e| crate::raise(py, e))?;
        }
        Ok(NativeConsumer {
            client,
            events,
            closed: AtomicBool::new(false),
        })
    }

    /// Joins the group for these topics (replacing an earlier subscription).
    fn subscribe(&self, py: Python<'_>, topics: Vec<String>) -> PyResult<()> {
        let t: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.client.subscribe(&t).map_err(|e| crate::raise(py, e))
    }

    /// Replaces the assignment: (topic, partition, offset) triples, offset ≥ 0 or one of the
    /// special offsets; `OFFSET_STORED` starts at the group's committed offset, else as
    /// `auto.offset.reset` says.
    #[pyo3(signature = (partitions, timeout=None))]
    fn assign(
        &self,
        py: Python<'_>,
        partitions: Vec<(String, i32, i64)>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let resolved: Vec<(String, i32, Offset)> = partitions
            .into_iter()
            .map(|(t, p, o)| offset_of(o).map(|o| (t, p, o)))
            .collect::<PyResult<_>>()?;
        let client = self.client.clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "assign", async move {
            let refs: Vec<(&str, i32, Offset)> = resolved
                .iter()
                .map(|(t, p, o)| (t.as_str(), *p, *o))
                .collect();
            client.assign(&refs).await
        })
    }

    /// Removes every assigned partition.
    fn unassign(&self) {
        self.client.unassign();
    }

    /// The assigned (topic, partition) pairs.
    fn assignment(&self) -> Vec<(String, i32)> {
        self.client.assignment()
    }

    /// (group id, generation, member id, group instance id) for
    /// `send_offsets_to_transaction`; `None` without `group.id`.
    #[allow(clippy::type_complexity)]
    fn group_metadata(&self) -> Option<(String, i32, String, Option<String>)> {
        let m = self.client.group()?.group_metadata();
        Some((
            m.group_id,
            m.generation_id,
            m.member_id,
            m.group_instance_id,
        ))
    }

    /// The next record of that partition will be the one at `offset`.
    fn seek(&self, py: Python<'_>, topic: &str, partition: i32, offset: i64) -> PyResult<()> {
        self.client
            .seek(topic, partition, offset_of(offset)?)
            .map_err(|e| crate::raise(py, e))
    }

    /// Records of this partition from `offset` on were taken from the core but never handed to
    /// the application (the Python side's buffer): the group's commits (close, revoke,
    /// auto-commit) stop before them. Called before `close`.
    fn mark_unread(&self, topic: &str, partition: i32, offset: i64) {
        self.client.mark_unread(topic, partition, offset);
    }

    /// Offset of the next record to be returned for the partition, `None` until known.
    fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.client.position(topic, partition)
    }

    /// Up to `max` records. With `fill`, waits until `max` arrived or the timeout ran out;
    /// without, returns as soon as any arrived. Returns early (possibly empty) when a rebalance
    /// event is queued, so its callback runs promptly.
    #[pyo3(signature = (max, timeout=None, fill=true))]
    fn consume<'py>(
        &self,
        py: Python<'py>,
        max: usize,
        timeout: Option<f64>,
        fill: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        self.check_open(py)?;
        let timeout = crate::timeout_of(timeout)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let max = max.max(1);
        let mut out: Vec<ConsumerRecord> = Vec::new();
        let events = &self.events;
        let has_events = || !events.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let client = self.client.clone();
            let want = max - out.len();
            let got = crate::wait(
                py,
                left,
                async move { client.poll_batch(want, FOREVER).await },
                &has_events,
            );
            match got {
                Ok(Some(batch)) => out.extend(batch),
                Ok(None) => break,
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    // Hand out what arrived; a signal or error shows on the next call.
                    e.restore(py);
                    break;
                }
            }
            if !fill || out.len() >= max || has_events() {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        if PyErr::occurred(py) {
            if out.is_empty() {
                return Err(PyErr::fetch(py));
            }
            let _ = PyErr::take(py);
        }
        messages(py, out)
    }

    /// Starts a read in the background; `callback((token, list[Message] | KafkaError))` runs on
    /// `event_loop` via `call_soon_threadsafe`. `timeout_ms=None` waits for the first record.
    #[pyo3(signature = (max, timeout_ms, token, callback, event_loop))]
    fn consume_async(
        &self,
        py: Python<'_>,
        max: usize,
        timeout_ms: Option<u64>,
        token: Py<PyAny>,
        callback: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let client = self.client.clone();
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        let max = max.max(1);
        let timeout = timeout_ms.map_or(FOREVER, Duration::from_millis);
        odradek::runtime::spawn(async move {
            let r = client.poll_batch(max, timeout).await;
            dispatch(Box::new(move |py| {
                let result = match r {
                    Ok(records) => messages(py, records).map(Bound::into_any),
                    Err(e) => Ok(crate::exception(py, &e)),
                };
                let arg = result.and_then(|res| PyTuple::new(py, [token.into_bound(py), res]));
                match arg {
                    Ok(arg) => resolver.call(py, arg.into_any()),
                    Err(e) => e.write_unraisable(py, None),
                }
            }));
        });
        Ok(())
    }

    /// Queued rebalance events, oldest first: ("assign" | "revoke" | "lost", partitions).
    fn take_events(&self) -> Vec<(&'static str, Vec<(String, i32)>)> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Commits (topic, partition, offset) triples, or without them the position of every
    /// assigned partition. Synchronous; needs `group.id`.
    #[pyo3(signature = (offsets=None, timeout=None))]
    fn commit(
        &self,
        py: Python<'_>,
        offsets: Option<Vec<(String, i32, i64)>>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let client = self.client.clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "commit", async move {
            match offsets {
                Some(o) => client.commit_offsets(&o).await,
                None => client.commit().await,
            }
        })
    }

    /// Commits like [`NativeConsumer::commit`] in the background; the outcome goes to
    /// `callback(None | KafkaError)` on `event_loop`.
    #[pyo3(signature = (offsets, callback, event_loop))]
    fn commit_async(
        &self,
        py: Python<'_>,
        offsets: Option<Vec<(String, i32, i64)>>,
        callback: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let client = self.client.clone();
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        odradek::runtime::spawn(async move {
            let r = match offsets {
                Some(o) => client.commit_offsets(&o).await,
                None => client.commit().await,
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

    /// The group's committed offsets for these partitions, in order (`None`: none committed).
    #[pyo3(signature = (partitions, timeout=None))]
    fn committed(
        &self,
        py: Python<'_>,
        partitions: Vec<(String, i32)>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Option<i64>>> {
        let map = self.fetch_committed(py, partitions.clone(), timeout)?;
        Ok(partitions
            .iter()
            .map(|k| map.get(k).copied().flatten())
            .collect())
    }

    /// `committed` in the background for asyncio: `callback(list[int | None] | KafkaError)` on
    /// `event_loop`.
    fn committed_async(
        &self,
        py: Python<'_>,
        partitions: Vec<(String, i32)>,
        callback: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let client = self.client.clone();
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        odradek::runtime::spawn(async move {
            let r = client.committed(&partitions).await;
            dispatch(Box::new(move |py| {
                let arg = match r {
                    Ok(map) => {
                        let offsets: Vec<Option<i64>> = partitions
                            .iter()
                            .map(|k| map.get(k).copied().flatten())
                            .collect();
                        offsets.into_pyobject(py).map(Bound::into_any)
                    }
                    Err(e) => Ok(crate::exception(py, &e)),
                };
                match arg {
                    Ok(arg) => resolver.call(py, arg),
                    Err(e) => e.write_unraisable(py, None),
                }
            }));
        });
        Ok(())
    }

    /// (low, high) watermarks of a partition, asked from its leader.
    #[pyo3(signature = (topic, partition, timeout=None))]
    fn watermarks(
        &self,
        py: Python<'_>,
        topic: String,
        partition: i32,
        timeout: Option<f64>,
    ) -> PyResult<(i64, i64)> {
        let c = self.client.consumer().clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "watermarks", async move {
            c.fetch_watermarks(&topic, partition).await
        })
    }

    /// Leaves the group (committing processed offsets when auto-commit is on) and stops.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let client = self.client.clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?.or(Some(Duration::from_secs(30))),
            "close",
            async move { client.close().await },
        )?;
        Ok(())
    }

    /// `close` in the background for asyncio; `callback(None | KafkaError)` on `event_loop`.
    fn close_async(&self, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        if self.closed.swap(true, Ordering::SeqCst) {
            Python::attach(|py| {
                let _ = event_loop
                    .bind(py)
                    .call_method1("call_soon_threadsafe", (callback.bind(py), py.None()));
            });
            return;
        }
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        let client = self.client.clone();
        odradek::runtime::spawn(async move {
            let r = client.close().await;
            dispatch(Box::new(move |py| {
                let arg = match r {
                    Ok(()) => py.None().into_bound(py),
                    Err(e) => crate::exception(py, &e),
                };
                resolver.call(py, arg);
            }));
        });
    }
}

impl NativeConsumer {
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(crate::raise(py, Error::closed("the consumer is closed")));
        }
        Ok(())
    }

    fn fetch_committed(
        &self,
        py: Python<'_>,
        partitions: Vec<(String, i32)>,
        timeout: Option<f64>,
    ) -> PyResult<std::collections::HashMap<(String, i32), Option<i64>>> {
        let client = self.client.clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "committed", async move {
            client.committed(&partitions).await
        })
    }
}

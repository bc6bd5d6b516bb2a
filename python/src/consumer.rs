//! The consumer: one object for manual assignment and group subscription. With `group.id` in
//! the config it is a group member underneath (commits and `committed` work with either
//! `assign` or `subscribe`); without it only `assign` is possible.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use odradek::consumer::{ConsumerClient, ConsumerRecord, Offset};
use odradek::error::Error;
use odradek::group::RebalanceListener;
use odradek::records::TimestampType;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::dispatch::{Resolver, dispatch};

/// A record read from Kafka. Key, value and header values are `bytes` (or `None` when null).
#[pyclass(module = "odradek._odradek", frozen, subclass)]
#[derive(Debug)]
pub struct Message {
    pub(crate) record: ConsumerRecord,
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

/// A rebalance event waiting for Python, and how to tell the membership task it has run.
type Pending = (&'static str, Vec<(String, i32)>, mpsc::Sender<()>);

/// Rebalance events handed to Python. The core runs listeners on its callback thread and waits
/// for them; this one queues the event and blocks that thread until Python ran the user's
/// callback — inside `poll`/`consume`/`close` for `odradek.Consumer` (as confluent-kafka does),
/// on the event loop for `odradek.aio.Consumer` — so a commit in `on_revoke` lands before the
/// partitions move. Bounded by `max.poll.interval.ms`, as the core's own wait is.
#[derive(Default)]
struct Events {
    queued: Mutex<VecDeque<Pending>>,
    /// Taken by Python and not yet reported done.
    running: Mutex<Vec<mpsc::Sender<()>>>,
    /// asyncio: told (on its loop) that an event is queued.
    wake: Mutex<Option<Resolver>>,
    max_wait: Duration,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("queued", &lock(&self.queued).len())
            .finish()
    }
}

struct QueuedListener(Arc<Events>);

impl QueuedListener {
    fn hand_over(&self, kind: &'static str, partitions: &[(String, i32)]) {
        let (done, finished) = mpsc::channel();
        lock(&self.0.queued).push_back((kind, partitions.to_vec(), done));
        if lock(&self.0.wake).is_some() {
            let events = self.0.clone();
            dispatch(Box::new(move |py| {
                if let Some(r) = lock(&events.wake).as_ref() {
                    r.call(py, py.None().into_bound(py));
                }
            }));
        }
        // Err: Python ran it (the sender is dropped after), or gave up on it (closed).
        let _ = finished.recv_timeout(self.0.max_wait);
    }
}

impl RebalanceListener for QueuedListener {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        self.hand_over("assign", partitions);
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        self.hand_over("revoke", partitions);
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        self.hand_over("lost", partitions);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The native consumer under `odradek.Consumer` and `odradek.aio.Consumer`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeConsumer {
    client: ConsumerClient,
    events: Arc<Events>,
    closed: AtomicBool,
    /// An error a `consume` met after it had records to return: raised by the next call.
    deferred: Mutex<Option<Error>>,
    /// The close running in the background while `close` hands rebalance events to Python.
    closing: Mutex<Option<tokio::task::JoinHandle<odradek::error::Result<()>>>>,
}

fn offset_of(o: i64) -> PyResult<Offset> {
    Offset::from_raw(o).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
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
        config: crate::config::ConfigPairs,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        let max_wait = config
            .get("max.poll.interval.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_secs(300), Duration::from_millis);
        let events = Arc::new(Events {
            max_wait,
            ..Events::default()
        });
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
            deferred: Mutex::new(None),
            closing: Mutex::new(None),
        })
    }

    /// `error_cb(exception)` for failures no call returns (a broker unreachable, every
    /// broker down, TLS/SASL, the group refusing the member), on `event_loop` when given.
    #[pyo3(signature = (callback, event_loop=None))]
    fn set_error_callback(&self, callback: Option<Py<PyAny>>, event_loop: Option<Py<PyAny>>) {
        crate::observability::set_error_callback(
            self.client.consumer().cluster().events(),
            callback,
            event_loop,
        );
    }

    /// The consumer's statistics snapshot as JSON text.
    fn metrics_json(&self) -> String {
        self.client.metrics().to_json()
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

    /// Stops fetching these (topic, partition) pairs until `resume`; records already fetched
    /// are still handed out.
    fn pause(&self, partitions: Vec<(String, i32)>) {
        let refs: Vec<(&str, i32)> = partitions.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        self.client.consumer().pause(&refs);
    }

    /// Fetches these (topic, partition) pairs again.
    fn resume(&self, partitions: Vec<(String, i32)>) {
        let refs: Vec<(&str, i32)> = partitions.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        self.client.consumer().resume(&refs);
    }

    /// Offset of the next record to be returned for the partition, `None` until known.
    fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.client.position(topic, partition)
    }

    /// Up to `max` records. With `fill`, waits until `max` arrived or the timeout ran out;
    /// without, returns as soon as any arrived (`timeout=0`: only what is ready, without
    /// releasing the GIL). Returns early (possibly empty) when a rebalance event is queued, so
    /// its callback runs promptly. Every record returned counts as handed out (the core's
    /// `take_ready`); the wait takes nothing, so an interrupted call loses no record.
    #[pyo3(signature = (max, timeout=None, fill=true))]
    fn consume<'py>(
        &self,
        py: Python<'py>,
        max: usize,
        timeout: Option<f64>,
        fill: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        self.check_open(py)?;
        if let Some(e) = lock(&self.deferred).take() {
            return Err(crate::raise(py, e));
        }
        let timeout = crate::timeout_of(timeout)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let max = max.max(1);
        let mut out: Vec<ConsumerRecord> = Vec::new();
        let has_events = || self.has_events();
        loop {
            match self.client.take_ready(max - out.len()) {
                Ok(batch) => out.extend(batch),
                Err(e) if out.is_empty() => return Err(crate::raise(py, e)),
                Err(e) => {
                    // Hand out what arrived; the error comes with the next call.
                    *lock(&self.deferred) = Some(e);
                    break;
                }
            }
            if out.len() >= max || (!fill && !out.is_empty()) || has_events() {
                break;
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                break;
            }
            let client = self.client.clone();
            match crate::wait(
                py,
                left,
                async move { client.wait_ready(FOREVER).await },
                &has_events,
            ) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    // A signal: hand out what arrived, the signal's exception is dropped
                    // (the handler already ran).
                    drop(e);
                    break;
                }
            }
        }
        messages(py, out)
    }

    /// Waits in the background until `consume(max, 0)` may find a record; `callback(True |
    /// False | KafkaError)` runs on `event_loop` (`False`: `timeout_ms` passed).
    /// `timeout_ms=None` waits until a record is ready. Takes nothing: a cancelled asyncio read
    /// loses no record.
    #[pyo3(signature = (timeout_ms, callback, event_loop))]
    fn wait_async(
        &self,
        py: Python<'_>,
        timeout_ms: Option<u64>,
        callback: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let client = self.client.clone();
        let resolver = Resolver {
            callback,
            event_loop: Some(event_loop),
        };
        let timeout = timeout_ms.map_or(FOREVER, Duration::from_millis);
        odradek::runtime::spawn(async move {
            let r = client.wait_ready(timeout).await;
            dispatch(Box::new(move |py| {
                let arg = match r {
                    Ok(ready) => pyo3::types::PyBool::new(py, ready).to_owned().into_any(),
                    Err(e) => crate::exception(py, &e),
                };
                resolver.call(py, arg);
            }));
        });
        Ok(())
    }

    /// Queued rebalance events, oldest first: ("assign" | "revoke" | "lost", partitions). The
    /// group waits until `events_done` says their callbacks ran.
    fn take_events(&self) -> Vec<(&'static str, Vec<(String, i32)>)> {
        let taken: Vec<Pending> = lock(&self.events.queued).drain(..).collect();
        let mut running = lock(&self.events.running);
        taken
            .into_iter()
            .map(|(kind, parts, done)| {
                running.push(done);
                (kind, parts)
            })
            .collect()
    }

    /// The callbacks of the events taken so far have run: the rebalance goes on.
    fn events_done(&self) {
        for done in lock(&self.events.running).drain(..) {
            let _ = done.send(());
        }
    }

    /// asyncio: `callback(None)` is scheduled on `event_loop` whenever a rebalance event is
    /// queued, so the consumer runs it there without waiting for the next read.
    fn wake_on_events(&self, callback: Py<PyAny>, event_loop: Py<PyAny>) {
        *lock(&self.events.wake) = Some(Resolver {
            callback,
            event_loop: Some(event_loop),
        });
        if self.has_events() {
            let events = self.events.clone();
            dispatch(Box::new(move |py| {
                if let Some(r) = lock(&events.wake).as_ref() {
                    r.call(py, py.None().into_bound(py));
                }
            }));
        }
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
        // No binding-level closed check: a commit in the on_revoke that close runs must pass
        // (the core refuses commits once the consumer is closed).
        let _ = py;
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

    /// For each (topic, partition, timestamp), (offset, timestamp) of the first record at or
    /// after it; (-1, -1) when there is none.
    #[pyo3(signature = (queries, timeout=None))]
    fn offsets_for_times(
        &self,
        py: Python<'_>,
        queries: Vec<(String, i32, i64)>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<(i64, i64)>> {
        let c = self.client.consumer().clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "offsets_for_times",
            async move {
                let refs: Vec<(&str, i32, i64)> = queries
                    .iter()
                    .map(|(t, p, ts)| (t.as_str(), *p, *ts))
                    .collect();
                let found = c.offsets_for_times(&refs).await?;
                Ok(queries
                    .iter()
                    .map(|(t, p, _)| {
                        found
                            .get(&(t.clone(), *p))
                            .map_or((-1, -1), |o| (o.offset, o.timestamp))
                    })
                    .collect())
            },
        )
    }

    /// Leaves the group (committing processed offsets when auto-commit is on) and stops.
    /// Returns `False` early, with the close still under way, when a rebalance event (the
    /// `on_revoke` close runs) waits for Python: run it, then call `close` again.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let mut closing = lock(&self.closing).take();
        if closing.is_none() {
            if self.closed.swap(true, Ordering::SeqCst) {
                return Ok(true);
            }
            let client = self.client.clone();
            closing = Some(odradek::runtime::spawn(async move { client.close().await }));
        }
        let Some(mut task) = closing else {
            return Ok(true);
        };
        let limit = crate::timeout_of(timeout)?.or(Some(Duration::from_secs(30)));
        let joined = crate::wait(
            py,
            limit,
            async {
                (&mut task).await.map_err(|e| {
                    Error::closed(format!("the close task ended without finishing: {e}"))
                })
            },
            &|| self.has_events(),
        );
        match joined {
            Ok(Some(result)) => result.map(|()| true).map_err(|e| crate::raise(py, e)),
            Ok(None) if self.has_events() => {
                *lock(&self.closing) = Some(task);
                Ok(false)
            }
            Ok(None) => {
                *lock(&self.closing) = Some(task);
                Err(crate::raise(
                    py,
                    Error::timeout(format!(
                        "close did not finish within {:?}",
                        limit.unwrap_or_default()
                    )),
                ))
            }
            Err(e) => {
                *lock(&self.closing) = Some(task);
                Err(e)
            }
        }
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
    fn has_events(&self) -> bool {
        !lock(&self.events.queued).is_empty()
    }

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

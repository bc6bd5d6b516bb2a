//! A partition as the request handlers see it: its log behind a short-held mutex, a wake-up for
//! long-polling fetches, and group commit for fsyncs.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::log::PartitionLog;
use crate::time::now_ms;

#[derive(Debug)]
pub struct Partition {
    pub topic: Arc<str>,
    pub topic_id: Uuid,
    pub index: i32,
    log: Mutex<PartitionLog>,
    /// Woken whenever the high watermark advances.
    pub data_arrived: Notify,
    flush: Mutex<FlushState>,
    flushed: Notify,
}

#[derive(Debug)]
struct FlushState {
    durable_offset: i64,
    flushing: bool,
}

impl Partition {
    pub fn new(topic: Arc<str>, topic_id: Uuid, index: i32, log: PartitionLog) -> Self {
        let durable_offset = log.log_end_offset();
        Self {
            topic,
            topic_id,
            index,
            log: Mutex::new(log),
            data_arrived: Notify::new(),
            flush: Mutex::new(FlushState {
                durable_offset,
                flushing: false,
            }),
            flushed: Notify::new(),
        }
    }

    /// Locks the log. Holders never await; a poisoned lock (a panic mid-append) still yields
    /// the log, whose on-disk state recovery would handle anyway.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn flush_state(&self) -> MutexGuard<'_, FlushState> {
        self.flush.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until everything up to `offset` is fsynced. Concurrent callers share one fsync:
    /// the first becomes the flusher, the others wait for it and re-check (group commit).
    pub async fn flush_to(&self, offset: i64) -> io::Result<()> {
        loop {
            let notified = self.flushed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let must_wait = {
                let mut st = self.flush_state();
                if st.durable_offset >= offset {
                    return Ok(());
                }
                let busy = st.flushing;
                st.flushing = true;
                busy
            };
            if must_wait {
                notified.await;
                continue;
            }
            let job = self.log().prepare_flush();
            let (job, result) = match tokio::task::spawn_blocking(move || {
                let r = job.run();
                (job, r)
            })
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    self.flush_state().flushing = false;
                    self.flushed.notify_waiters();
                    return Err(io::Error::other(format!("fsync task failed: {e}")));
                }
            };
            let upto = job.upto_offset();
            let hw_moved = {
                let mut log = self.log();
                match &result {
                    Ok(()) => log.complete_flush(&job, now_ms()),
                    Err(_) => {
                        log.abort_flush(job);
                        false
                    }
                }
            };
            {
                let mut st = self.flush_state();
                st.flushing = false;
                if result.is_ok() {
                    st.durable_offset = st.durable_offset.max(upto);
                }
            }
            self.flushed.notify_waiters();
            if hw_moved {
                self.data_arrived.notify_waiters();
            }
            if let Err(e) = result {
                tracing::error!(topic = %self.topic, partition = self.index, "fsync failed: {e}");
                return Err(e);
            }
        }
    }

    /// Flushes whatever is appended now.
    pub async fn flush(&self) -> io::Result<()> {
        let leo = self.log().log_end_offset();
        self.flush_to(leo).await
    }
}

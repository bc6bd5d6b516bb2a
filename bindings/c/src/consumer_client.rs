//! Stand-in for `odradek::consumer::ConsumerClient` (being added to core by the lead) with the
//! same method signatures, so that switching to it is replacing this module by a `use`.
//! A consumer either subscribes (a group member) or is assigned partitions by hand; with
//! `group.id` set, commits and committed offsets go through the group coordinator either way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use odradek::config::Config;
use odradek::consumer::{Consumer, ConsumerRecord, Offset};
use odradek::error::{Error, Result};
use odradek::group::{GroupConsumer, RebalanceListener};

#[derive(Clone, Debug)]
pub(crate) struct ConsumerClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    group: Option<GroupConsumer>,
    consumer: Consumer,
    subscribed: AtomicBool,
    manual: Mutex<Vec<(String, i32)>>,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ConsumerClient {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let group = match config.get("group.id") {
            Some(g) if !g.is_empty() => Some(GroupConsumer::new(config)?),
            _ => None,
        };
        let consumer = match &group {
            Some(g) => g.consumer().clone(),
            None => Consumer::from_config(config)?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                group,
                consumer,
                subscribed: AtomicBool::new(false),
                manual: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    fn open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            Err(Error::closed("the consumer is closed"))
        } else {
            Ok(())
        }
    }

    fn group(&self, what: &str) -> Result<&GroupConsumer> {
        self.inner
            .group
            .as_ref()
            .ok_or_else(|| Error::config("group.id", format!("is required to {what}")))
    }

    fn is_subscribed(&self) -> bool {
        self.inner.subscribed.load(Ordering::SeqCst)
    }

    pub(crate) fn subscribe(&self, topics: &[&str]) -> Result<()> {
        self.open()?;
        let group = self.group("subscribe")?;
        if !lock(&self.inner.manual).is_empty() {
            return Err(Error::invalid_argument(
                "subscribe after assign: unassign first",
            ));
        }
        group.subscribe(topics)?;
        self.inner.subscribed.store(true, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn set_rebalance_listener(
        &self,
        listener: Arc<dyn RebalanceListener>,
    ) -> Result<()> {
        self.group("listen to rebalances")?
            .set_rebalance_listener(listener);
        Ok(())
    }

    pub(crate) async fn assign(&self, partitions: &[(&str, i32, Offset)]) -> Result<()> {
        self.open()?;
        if self.is_subscribed() {
            return Err(Error::invalid_argument(
                "assign after subscribe: a consumer either subscribes or is assigned partitions",
            ));
        }
        let mut starts = partitions.to_vec();
        if let Some(group) = &self.inner.group {
            let wanted: Vec<(String, i32)> = starts
                .iter()
                .filter(|s| s.2 == Offset::Default)
                .map(|s| (s.0.to_string(), s.1))
                .collect();
            if !wanted.is_empty() {
                let committed = group.committed(&wanted).await?;
                for s in starts.iter_mut() {
                    if s.2 == Offset::Default
                        && let Some(Some(c)) = committed.get(&(s.0.to_string(), s.1))
                    {
                        s.2 = Offset::At(*c);
                    }
                }
            }
        }
        self.inner.consumer.assign(&starts)?;
        *lock(&self.inner.manual) = partitions.iter().map(|s| (s.0.to_string(), s.1)).collect();
        Ok(())
    }

    pub(crate) fn unassign(&self) {
        let parts = std::mem::take(&mut *lock(&self.inner.manual));
        let refs: Vec<(&str, i32)> = parts.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        self.inner.consumer.unassign(&refs);
    }

    pub(crate) fn assignment(&self) -> Vec<(String, i32)> {
        match &self.inner.group {
            Some(g) if self.is_subscribed() => g.assignment(),
            _ => lock(&self.inner.manual).clone(),
        }
    }

    pub(crate) async fn poll_batch(
        &self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<ConsumerRecord>> {
        self.open()?;
        let read = async {
            match &self.inner.group {
                Some(g) if self.is_subscribed() => g.recv_batch(max).await,
                _ => self.inner.consumer.recv_batch(max).await,
            }
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(r) => r,
            Err(_) => Ok(Vec::new()),
        }
    }

    pub(crate) fn seek(&self, topic: &str, partition: i32, offset: Offset) -> Result<()> {
        self.open()?;
        self.inner.consumer.seek(topic, partition, offset)
    }

    pub(crate) fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.inner.consumer.position(topic, partition)
    }

    pub(crate) async fn commit(&self) -> Result<()> {
        self.open()?;
        let group = self.group("commit offsets")?;
        if self.is_subscribed() {
            return group.commit().await;
        }
        let offsets: Vec<(String, i32, i64)> = lock(&self.inner.manual)
            .iter()
            .filter_map(|(t, p)| self.position(t, *p).map(|o| (t.clone(), *p, o)))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        group.commit_offsets(&offsets).await
    }

    pub(crate) async fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<()> {
        self.open()?;
        self.group("commit offsets")?.commit_offsets(offsets).await
    }

    pub(crate) async fn committed(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<HashMap<(String, i32), Option<i64>>> {
        self.open()?;
        self.group("read committed offsets")?
            .committed(partitions)
            .await
    }

    pub(crate) async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.unassign();
        match &self.inner.group {
            Some(g) => g.clone().close().await,
            None => Ok(()),
        }
    }
}

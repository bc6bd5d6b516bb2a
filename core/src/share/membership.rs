//! Share-group membership: one ShareGroupHeartbeat every interval the coordinator asks for. The
//! member names itself (a UUID, as KIP-932 requires), joins with epoch 0, follows the epochs the
//! coordinator answers, takes the assignment it sends, and leaves with epoch -1 on close.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_protocol::messages::{GroupId, ShareGroupHeartbeatRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{Inner, lock};
use crate::error::{Error, Result};

const UNKNOWN_MEMBER_ID: i16 = 25;
const FENCED_MEMBER_EPOCH: i16 = 110;
const NOT_COORDINATOR: i16 = 16;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// One assigned partition, with the topic id the share fetch names it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Assigned {
    pub topic: String,
    pub topic_id: uuid::Uuid,
    pub partition: i32,
}

#[derive(Debug, Default)]
struct State {
    topics: Vec<String>,
    epoch: i32,
    assignment: Vec<Assigned>,
    coordinator: Option<i32>,
}

pub(crate) struct Member {
    pub id: String,
    state: Mutex<State>,
    closed: AtomicBool,
    /// Wakes the heartbeat task (subscription changed, close).
    wake: tokio::sync::Notify,
    /// Wakes pollers waiting for an assignment.
    pub assigned: tokio::sync::Notify,
}

impl Member {
    pub fn new() -> Member {
        Member {
            id: crate::group::consumer_protocol::new_member_id(),
            state: Mutex::new(State::default()),
            closed: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            assigned: tokio::sync::Notify::new(),
        }
    }

    pub fn subscribe(&self, topics: Vec<String>) {
        lock(&self.state).topics = topics;
        self.wake.notify_one();
    }

    pub fn assignment(&self) -> Vec<Assigned> {
        lock(&self.state).assignment.clone()
    }

    /// Marks the member closed; true if it was already.
    pub fn close(&self) -> bool {
        let was = self.closed.swap(true, Ordering::SeqCst);
        self.wake.notify_one();
        was
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

async fn coordinator(inner: &Inner) -> Result<i32> {
    if let Some(node) = lock(&inner.member.state).coordinator {
        return Ok(node);
    }
    let node = inner.cluster.coordinator_node(&inner.group_id, 0).await?;
    lock(&inner.member.state).coordinator = Some(node);
    Ok(node)
}

fn request(inner: &Inner, epoch: i32, topics: Option<Vec<String>>) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(inner.group_id.clone())))
        .with_member_id(StrBytes::from_string(inner.member.id.clone()))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|ts| {
            ts.into_iter()
                .map(|t| TopicName(StrBytes::from_string(t)))
                .collect()
        }))
}

/// One heartbeat; the interval to wait before the next.
async fn beat(inner: &Inner) -> Result<Duration> {
    let (epoch, topics) = {
        let st = lock(&inner.member.state);
        (st.epoch, st.topics.clone())
    };
    let node = coordinator(inner).await?;
    let resp = match inner
        .cluster
        .request_to(node, &request(inner, epoch, Some(topics)))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            lock(&inner.member.state).coordinator = None;
            return Err(e);
        }
    };
    if let Some(e) = Error::from_code_msg(resp.error_code, resp.error_message.as_deref()) {
        let mut st = lock(&inner.member.state);
        match resp.error_code {
            UNKNOWN_MEMBER_ID | FENCED_MEMBER_EPOCH => {
                // Rejoin at once with epoch 0; the partitions are no longer ours.
                st.epoch = 0;
                st.assignment.clear();
                return Ok(Duration::ZERO);
            }
            NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE => st.coordinator = None,
            _ => {}
        }
        return Err(e.with_topic(&format!("ShareGroupHeartbeat({})", inner.group_id)));
    }
    let interval = Duration::from_millis(resp.heartbeat_interval_ms.max(100) as u64);
    lock(&inner.member.state).epoch = resp.member_epoch;
    if let Some(assignment) = resp.assignment {
        let mut resolved = Vec::new();
        for tp in &assignment.topic_partitions {
            let id = tp.topic_id;
            let mut name = topic_name(inner, id);
            if name.is_none() {
                inner.cluster.refresh(&[]).await?;
                name = topic_name(inner, id);
            }
            let Some(topic) = name else {
                tracing::warn!(topic_id = %id, "assigned topic not in metadata yet");
                continue;
            };
            for &partition in &tp.partitions {
                resolved.push(Assigned {
                    topic: topic.clone(),
                    topic_id: id,
                    partition,
                });
            }
        }
        resolved.sort();
        lock(&inner.member.state).assignment = resolved;
        inner.member.assigned.notify_waiters();
    }
    Ok(interval)
}

fn topic_name(inner: &Inner, id: uuid::Uuid) -> Option<String> {
    inner
        .cluster
        .metadata()
        .topics
        .values()
        .find(|t| t.id == *id.as_bytes())
        .map(|t| t.name.clone())
}

/// The heartbeat task: runs until the member is closed.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut failures = 0u32;
    loop {
        if inner.member.is_closed() {
            return;
        }
        if lock(&inner.member.state).topics.is_empty() {
            inner.member.wake.notified().await;
            continue;
        }
        let wait = match beat(&inner).await {
            Ok(interval) => {
                failures = 0;
                interval
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(group = %inner.group_id, %error, "share group heartbeat failed");
                inner.cluster.retry_backoff(failures)
            }
        };
        let _ = tokio::time::timeout(wait, inner.member.wake.notified()).await;
    }
}

/// The final heartbeat (epoch -1): the coordinator forgets the member at once.
pub(crate) async fn leave(inner: &Inner) -> Result<()> {
    if lock(&inner.member.state).epoch <= 0 {
        return Ok(());
    }
    let node = coordinator(inner).await?;
    let resp = inner
        .cluster
        .request_to(node, &request(inner, -1, None))
        .await?;
    lock(&inner.member.state).assignment.clear();
    match Error::from_code_msg(resp.error_code, resp.error_message.as_deref()) {
        Some(e) if resp.error_code != UNKNOWN_MEMBER_ID => {
            Err(e.with_topic(&format!("ShareGroupHeartbeat({})", inner.group_id)))
        }
        _ => Ok(()),
    }
}

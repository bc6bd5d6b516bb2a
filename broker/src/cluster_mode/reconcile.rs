//! Local logs follow the metadata image: a topic with a replica on this node gets its logs
//! (under the quorum's topic id), grows with CreatePartitions, takes config changes, and is
//! deleted when the image drops it or a reassignment moves its replicas off this node; a
//! partition this node now leads gets the image's leader
//! epoch, and the two sides of replication learn which partitions this node leads
//! (`leaders`) and follows (`replica_fetcher`). Only a deletion seen in this process deletes: a
//! topic missing from an image that is still replaying after a restart is left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use odradek_cluster::MetadataImage;
use tokio::sync::watch;
use uuid::Uuid;

use super::ClusterNode;
use crate::state::BrokerState;

pub async fn run(
    state: Arc<BrokerState>,
    node: Arc<ClusterNode>,
    mut images: watch::Receiver<Arc<MetadataImage>>,
) {
    let mut seen: BTreeMap<String, Uuid> = BTreeMap::new();
    loop {
        let image = images.borrow_and_update().clone();
        let st = state.clone();
        let n = node.clone();
        let previous = std::mem::take(&mut seen);
        match tokio::task::spawn_blocking(move || apply(&st, &n, &image, previous)).await {
            Ok(now) => seen = now,
            Err(e) => tracing::error!("applying the metadata image to local logs failed: {e}"),
        }
        if images.changed().await.is_err() {
            return;
        }
    }
}

/// Brings the local logs in line with `image`; returns the topics it names (id by name).
fn apply(
    state: &BrokerState,
    node: &ClusterNode,
    image: &MetadataImage,
    seen: BTreeMap<String, Uuid>,
) -> BTreeMap<String, Uuid> {
    let me = node.node_id;
    // Stop fetching what this node now leads before stamping its leader epoch (the fetchers
    // check their target under the log lock; see `replica_fetcher::apply`).
    let following = super::replica_fetcher::following(image, me);
    node.following.send_if_modified(|f| {
        let changed = *f != following;
        *f = following;
        changed
    });
    let serving = node.is_serving(image);
    let topics = &state.topics;
    for (name, id) in &seen {
        let gone = image
            .topics
            .get(name)
            .is_none_or(|t| Uuid::from_u128(t.id) != *id);
        if gone
            && topics.get(name).is_some_and(|t| t.id == *id)
            && let Err(e) = topics.remove(name)
        {
            tracing::error!(topic = %name, "deleting a topic the quorum deleted: {}", e.message);
        }
    }
    let mut now = BTreeMap::new();
    for (name, t) in &image.topics {
        let id = Uuid::from_u128(t.id);
        now.insert(name.clone(), id);
        if !t.partitions.iter().any(|p| p.replicas.contains(&me)) {
            // A reassignment moved every replica of it off this node.
            if serving && seen.get(name) == Some(&id) {
                remove_moved_topic(state, name, id);
            }
            continue;
        }
        let count = t.partitions.len() as i32;
        let local = match topics.create_replica(name, id, count, t.configs.clone()) {
            Ok(local) => local,
            Err(e) => {
                tracing::error!(topic = %name, "opening the logs of a topic the quorum created: {}", e.message);
                continue;
            }
        };
        if (local.partition_count() as i32) < count
            && let Err(e) = topics.add_partitions(name, count, false)
        {
            tracing::error!(topic = %name, "adding partitions the quorum added: {}", e.message);
        }
        if local.overrides() != t.configs {
            let configs = t.configs.clone();
            if let Err(e) = topics.alter_config(name, |o| *o = configs, false) {
                tracing::error!(topic = %name, "applying the quorum's topic configs: {}", e.message);
            }
        }
        for (index, p) in t.partitions.iter().enumerate() {
            if serving && !p.replicas.contains(&me) {
                drop_moved_replica(&local, name, index);
            }
            if p.leader != Some(me) || !serving {
                continue;
            }
            if let Some(partition) = local.partition(index as i32)
                && let Err(e) = partition.log().become_leader(p.leader_epoch)
            {
                tracing::error!(topic = %name, partition = index, "recording leader epoch {}: {e}", p.leader_epoch);
            }
        }
    }
    node.leaders.apply(state, me, image, serving);
    node.groups.sync(state, node);
    now
}

/// Deletes the local logs of a topic none of whose replicas is on this node any more (they
/// were reassigned away; the topic itself lives on elsewhere).
fn remove_moved_topic(state: &BrokerState, name: &str, id: Uuid) {
    if state.topics.get(name).is_some_and(|t| t.id == id) {
        tracing::info!(topic = %name, "every replica moved off this node; deleting its local logs");
        if let Err(e) = state.topics.remove(name) {
            tracing::error!(topic = %name, "deleting the logs of a moved topic: {}", e.message);
        }
    }
}

/// A partition reassigned off this node while other partitions of its topic stay: its log is
/// emptied (the topic's partition directories are kept together, so it is not removed).
fn drop_moved_replica(local: &crate::topics::Topic, name: &str, index: usize) {
    let Some(partition) = local.partition(index as i32) else {
        return;
    };
    let mut log = partition.log();
    let start = log.log_start_offset();
    if log.log_end_offset() > start {
        tracing::info!(topic = %name, partition = index, "replica moved off this node; dropping its records");
        if let Err(e) = log.truncate_to(start, crate::time::now_ms()) {
            tracing::error!(topic = %name, partition = index, "dropping a moved replica's records: {e}");
        }
    }
}

//! Producer ids in cluster mode: blocks of ids allocated by the metadata quorum
//! (`AllocateProducerIds`), so no two brokers ever hand out the same id. The next block is
//! fetched while half of the current one is left, so InitProducerId never waits for the quorum.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use odradek_cluster::{Applied, MetadataRecord};
use tokio::sync::Notify;

use super::ClusterNode;

/// Ids per block (Kafka's producer-id block size).
const BLOCK: u32 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdBlocks {
    inner: Mutex<Blocks>,
    /// Wakes the refill task when a block should be fetched.
    low: Notify,
}

#[derive(Debug, Default)]
struct Blocks {
    next: i64,
    end: i64,
    /// The block after the current one, once fetched.
    spare: Option<(i64, i64)>,
}

impl ProducerIdBlocks {
    pub fn next(&self) -> io::Result<i64> {
        let mut b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if b.next >= b.end
            && let Some((start, end)) = b.spare.take()
        {
            (b.next, b.end) = (start, end);
        }
        if b.spare.is_none() && b.end - b.next <= i64::from(BLOCK / 2) {
            self.low.notify_one();
        }
        if b.next >= b.end {
            return Err(io::Error::other(
                "no producer id block from the controller yet; retry",
            ));
        }
        let id = b.next;
        b.next += 1;
        Ok(id)
    }

    fn needs_block(&self) -> bool {
        let b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        b.spare.is_none() && b.end - b.next <= i64::from(BLOCK / 2)
    }

    fn add(&self, start: i64, count: u32) {
        let mut b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let end = start + i64::from(count);
        if b.next >= b.end {
            (b.next, b.end) = (start, end);
        } else {
            b.spare = Some((start, end));
        }
    }
}

/// Keeps a spare block: asks the controller whenever fewer than half a block is left.
pub async fn refill(node: Arc<ClusterNode>) {
    let blocks = &node.producer_ids;
    loop {
        if !blocks.needs_block() {
            blocks.low.notified().await;
            continue;
        }
        let record = MetadataRecord::AllocateProducerIds {
            broker: node.node_id,
            count: BLOCK,
        };
        match node.propose(record, Duration::ZERO).await {
            Ok(Applied::ProducerIds { start, count }) => blocks.add(start, count),
            Ok(other) => {
                tracing::warn!(answer = ?other, "the controller refused a producer id block");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                tracing::debug!("producer id block: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_blocks_and_switch_to_the_spare() {
        let b = ProducerIdBlocks::default();
        assert!(b.next().is_err(), "no block yet");
        b.add(5000, 2);
        assert!(b.needs_block());
        b.add(9000, 2);
        assert!(!b.needs_block());
        let ids: Vec<i64> = (0..4).map(|_| b.next().unwrap()).collect();
        assert_eq!(ids, [5000, 5001, 9000, 9001]);
        assert!(b.next().is_err());
    }
}

//! Broker heartbeat leases, kept by the active controller only (as KRaft: leases are not in the
//! metadata log; their outcome is). Sans-io: the caller passes the time in milliseconds.
//!
//! A controller that just became active has seen no heartbeat yet, so it grants every live
//! broker a full lease from its first tick instead of fencing the whole cluster at once.

use std::collections::BTreeMap;

use crate::metadata::{MetadataImage, MetadataRecord, NodeId};

#[derive(Debug)]
pub struct Leases {
    timeout_ms: u64,
    /// Broker → (epoch it heartbeated with, when).
    last: BTreeMap<NodeId, (u64, u64)>,
}

impl Leases {
    /// `timeout_ms` is Kafka's `broker.session.timeout.ms`.
    pub fn new(timeout_ms: u64) -> Self {
        Self {
            timeout_ms,
            last: BTreeMap::new(),
        }
    }

    pub fn heartbeat(&mut self, id: NodeId, epoch: u64, now_ms: u64) {
        self.last.insert(id, (epoch, now_ms));
    }

    /// The fencing records the active controller should propose now: one per live broker whose
    /// lease (for its current epoch) lapsed.
    pub fn expired(&mut self, image: &MetadataImage, now_ms: u64) -> Vec<MetadataRecord> {
        let mut fence = vec![];
        for b in image.brokers.values().filter(|b| !b.fenced) {
            let (epoch, at) = *self.last.entry(b.id).or_insert((b.epoch, now_ms));
            // A heartbeat from an older incarnation does not extend the new one's lease.
            let since = if epoch == b.epoch { at } else { 0 };
            if now_ms.saturating_sub(since) > self.timeout_ms {
                fence.push(MetadataRecord::FenceBroker {
                    id: b.id,
                    epoch: b.epoch,
                });
            }
        }
        fence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with_live(ids: &[NodeId]) -> MetadataImage {
        let mut image = MetadataImage::default();
        let mut offset = 0;
        for id in ids {
            offset += 1;
            image.apply(
                offset,
                &MetadataRecord::RegisterBroker {
                    id: *id,
                    incarnation: 1,
                    listeners: vec![],
                    rack: None,
                },
            );
            let epoch = offset;
            offset += 1;
            image.apply(offset, &MetadataRecord::UnfenceBroker { id: *id, epoch });
        }
        image
    }

    #[test]
    fn a_silent_broker_is_fenced_after_the_timeout_and_not_before() {
        let image = image_with_live(&[1, 2]);
        let mut leases = Leases::new(9_000);
        assert!(
            leases.expired(&image, 1_000).is_empty(),
            "first tick grants a lease"
        );
        leases.heartbeat(1, image.brokers[&1].epoch, 8_000);
        assert!(leases.expired(&image, 10_000).is_empty());
        let fence = leases.expired(&image, 10_001);
        assert_eq!(
            fence,
            vec![MetadataRecord::FenceBroker {
                id: 2,
                epoch: image.brokers[&2].epoch
            }]
        );
    }

    #[test]
    fn a_heartbeat_with_an_old_epoch_does_not_keep_the_new_incarnation_alive() {
        let image = image_with_live(&[1]);
        let mut leases = Leases::new(100);
        leases.heartbeat(1, image.brokers[&1].epoch - 1, 500);
        assert_eq!(leases.expired(&image, 501).len(), 1);
    }
}

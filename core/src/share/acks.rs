//! The records a share consumer holds under acquisition locks, and what the user said about each.
//! Taking the acknowledgements turns them into the wire's batches: runs of consecutive offsets
//! with one type each.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// How a record is acknowledged (the wire's AcknowledgeType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcknowledgeType {
    /// Processed: never delivered again.
    Accept,
    /// Not processed: delivered again (to any member), its delivery count grows.
    Release,
    /// Cannot be processed: never delivered again.
    Reject,
}

impl AcknowledgeType {
    /// The wire value (1 accept, 2 release, 3 reject).
    pub fn wire(self) -> i8 {
        match self {
            AcknowledgeType::Accept => 1,
            AcknowledgeType::Release => 2,
            AcknowledgeType::Reject => 3,
        }
    }
}

/// Offsets acquired but not handed out (control records, records compacted away): the wire's
/// GAP, which the broker archives.
const GAP: i8 = 0;

/// One acquired offset: handed out and waiting for the user (`None`), or settled (a wire type).
type Slot = Option<i8>;

/// Acquired records per `(topic, partition, leader)`.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    partitions: BTreeMap<(String, i32), Partition>,
}

#[derive(Debug, Default)]
struct Partition {
    /// The broker the records came from (their share session).
    leader: i32,
    offsets: BTreeMap<i64, Slot>,
}

/// Acknowledgements ready to send for one partition: `(first, last, type)` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ready {
    pub topic: String,
    pub partition: i32,
    pub leader: i32,
    pub runs: Vec<(i64, i64, i8)>,
}

impl InFlight {
    /// Records acquired from `leader`: `handed` offsets go to the user, the rest of the
    /// acquired offsets are gaps.
    pub fn acquired(
        &mut self,
        topic: &str,
        partition: i32,
        leader: i32,
        acquired: &[i64],
        handed: &[i64],
    ) {
        let p = self
            .partitions
            .entry((topic.to_owned(), partition))
            .or_default();
        p.leader = leader;
        for &o in acquired {
            p.offsets.insert(o, Some(GAP));
        }
        for &o in handed {
            p.offsets.insert(o, None);
        }
    }

    pub fn acknowledge(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        kind: AcknowledgeType,
    ) -> Result<()> {
        let slot = self
            .partitions
            .get_mut(&(topic.to_owned(), partition))
            .and_then(|p| p.offsets.get_mut(&offset));
        match slot {
            Some(slot @ None) => {
                *slot = Some(kind.wire());
                Ok(())
            }
            Some(Some(_)) => Err(Error::invalid_argument(format!(
                "record {topic}-{partition}@{offset} is acknowledged already"
            ))),
            None => Err(Error::invalid_argument(format!(
                "record {topic}-{partition}@{offset} is not held by this share consumer \
                 (never handed out, or its acknowledgement was sent already)"
            ))),
        }
    }

    /// Offsets handed out and not acknowledged, as `topic-partition@offset` (for errors).
    pub fn unacknowledged(&self) -> Vec<String> {
        let mut out = Vec::new();
        for ((t, p), part) in &self.partitions {
            for (o, slot) in &part.offsets {
                if slot.is_none() {
                    out.push(format!("{t}-{p}@{o}"));
                }
            }
        }
        out
    }

    /// Takes every settled acknowledgement; records still waiting get `fill` if given (and are
    /// taken too), else stay. Runs never cross a waiting record.
    pub fn take(&mut self, fill: Option<AcknowledgeType>) -> Vec<Ready> {
        let mut out = Vec::new();
        for ((topic, partition), part) in &mut self.partitions {
            let mut runs: Vec<(i64, i64, i8)> = Vec::new();
            let mut kept = BTreeMap::new();
            for (&offset, &slot) in &part.offsets {
                let Some(kind) = slot.or(fill.map(AcknowledgeType::wire)) else {
                    kept.insert(offset, None);
                    continue;
                };
                match runs.last_mut() {
                    Some((_, last, k)) if *last + 1 == offset && *k == kind => *last = offset,
                    _ => runs.push((offset, offset, kind)),
                }
            }
            part.offsets = kept;
            if !runs.is_empty() {
                out.push(Ready {
                    topic: topic.clone(),
                    partition: *partition,
                    leader: part.leader,
                    runs,
                });
            }
        }
        self.partitions.retain(|_, p| !p.offsets.is_empty());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_by_type_and_gaps_and_waiting_records_stay() {
        let mut f = InFlight::default();
        f.acquired("t", 0, 1, &[0, 1, 2, 3, 4, 5, 7], &[0, 1, 3, 4, 5, 7]);
        f.acknowledge("t", 0, 0, AcknowledgeType::Accept).unwrap();
        f.acknowledge("t", 0, 1, AcknowledgeType::Accept).unwrap();
        f.acknowledge("t", 0, 3, AcknowledgeType::Release).unwrap();
        assert!(f.acknowledge("t", 0, 3, AcknowledgeType::Accept).is_err());
        assert!(f.acknowledge("t", 0, 9, AcknowledgeType::Accept).is_err());
        let ready = f.take(None);
        assert_eq!(ready[0].runs, vec![(0, 1, 1), (2, 2, GAP), (3, 3, 2)]);
        assert_eq!(f.unacknowledged(), vec!["t-0@4", "t-0@5", "t-0@7"]);
        let ready = f.take(Some(AcknowledgeType::Accept));
        assert_eq!(ready[0].runs, vec![(4, 5, 1), (7, 7, 1)]);
        assert!(f.take(Some(AcknowledgeType::Accept)).is_empty());
    }
}

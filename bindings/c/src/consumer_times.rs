//! The consumer's offsets by timestamp (librdkafka's rd_kafka_offsets_for_times).

use std::collections::HashMap;

use crate::consumer::{OdradekConsumer, OdradekTopicPartition, partitions_arg};
use crate::error::OdradekError;
use crate::util::{OdradekCancel, block, guard, handle};

/// A query (topic, partition, timestamp) with its index among the caller's entries.
type Indexed<'a> = (usize, (&'a str, i32, i64));

/// Splits queries into rounds in which each partition appears once: one ListOffsets answers a
/// partition once, and a caller may ask the same partition for several timestamps.
pub(crate) fn rounds<'a>(queries: &[(&'a str, i32, i64)]) -> Vec<Vec<Indexed<'a>>> {
    let mut seen: HashMap<(&str, i32), usize> = HashMap::new();
    let mut rounds: Vec<Vec<Indexed>> = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let round = seen.entry((q.0, q.1)).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((i, *q));
        *round += 1;
    }
    rounds
}

/// For each partition, the first offset whose record timestamp is at or after
/// `partitions[i].offset` (a timestamp in ms since the epoch, ≥ 0), written back into `offset`
/// in place; ODRADEK_OFFSET_END (-1) when no record is that recent. A partition may appear
/// several times. Read committed or not per the consumer's `isolation.level`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_offsets_for_times(
    consumer: *const OdradekConsumer,
    partitions: *mut OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let queries = partitions_arg(partitions, count)?;
        for round in rounds(&queries) {
            let asked: Vec<(&str, i32, i64)> = round.iter().map(|(_, q)| *q).collect();
            let found = block(
                c.client.consumer().offsets_for_times(&asked),
                timeout_ms,
                cancel,
                "offsets for times",
            )?;
            for (i, (topic, partition, _)) in round {
                let offset = found
                    .get(&(topic.to_string(), partition))
                    .map_or(crate::ODRADEK_OFFSET_END, |o| o.offset);
                // SAFETY: `partitions` has `count` writable entries (checked non-null above).
                unsafe { (*partitions.add(i)).offset = offset };
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::rounds;

    #[test]
    fn a_partition_asked_twice_goes_into_two_rounds_in_order() {
        let r = rounds(&[("a", 0, 10), ("a", 1, 5), ("a", 0, 20), ("a", 0, 30)]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![(0, ("a", 0, 10)), (1, ("a", 1, 5))]);
        assert_eq!(r[1], vec![(2, ("a", 0, 20))]);
        assert_eq!(r[2], vec![(3, ("a", 0, 30))]);
    }
}

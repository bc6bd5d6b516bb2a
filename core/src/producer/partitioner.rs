//! Partition choice for records without an explicit partition.
//!
//! - murmur2: the Java client's hash (`murmur2(key) & 0x7fffffff) % partitions`), so keys land
//!   on the same partitions as with the Java client (checked against vectors the Java client
//!   produced, `core/tests/fixtures/murmur2_partitions.json`).
//! - consistent: librdkafka's CRC32 of the key.
//! - null keys: sticky (KIP-480) — one random partition until its batch closes — or random.

use crate::config::Partitioner;

/// The Java client's murmur2 (seed 0x9747b28c), on the key bytes.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's partition for a key: `toPositive(murmur2(key)) % partitions`.
pub fn murmur2_partition(key: &[u8], partitions: u32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) as u32 % partitions) as i32
}

/// librdkafka's `consistent` partition: CRC32 (IEEE) of the key.
pub fn consistent_partition(key: &[u8], partitions: u32) -> i32 {
    (crc32fast::hash(key) % partitions) as i32
}

/// How the partition of one record is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// A fixed partition.
    Fixed(i32),
    /// The topic's sticky partition (null key with a sticky partitioner).
    Sticky,
}

/// Chooses by key; `None` key yields `Sticky` or a random partition according to the partitioner.
pub(crate) fn choose(partitioner: Partitioner, key: Option<&[u8]>, partitions: u32) -> Choice {
    match (partitioner, key) {
        (Partitioner::Murmur2Random | Partitioner::Murmur2, Some(k)) => {
            Choice::Fixed(murmur2_partition(k, partitions))
        }
        (Partitioner::ConsistentRandom | Partitioner::Consistent, Some(k)) => {
            Choice::Fixed(consistent_partition(k, partitions))
        }
        (Partitioner::Consistent, None) => Choice::Fixed(consistent_partition(&[], partitions)),
        (Partitioner::Murmur2Random | Partitioner::ConsistentRandom, None) => Choice::Sticky,
        (Partitioner::Random | Partitioner::Murmur2, _) => {
            Choice::Fixed(fastrand::u32(..partitions) as i32)
        }
    }
}

/// A new sticky partition, different from `previous` when there is a choice.
pub(crate) fn next_sticky(previous: Option<i32>, partitions: u32) -> i32 {
    if partitions <= 1 {
        return 0;
    }
    match previous {
        Some(p) => {
            // Any partition but the previous one, uniformly.
            let r = fastrand::u32(..partitions - 1) as i32;
            if r >= p { r + 1 } else { r }
        }
        None => fastrand::u32(..partitions) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_known_java_values() {
        // Values from the Java client's Utils.murmur2 (also in kafka-python's test suite).
        assert_eq!(murmur2(b""), 275_646_681);
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn sticky_moves_to_another_partition() {
        for _ in 0..100 {
            let p = next_sticky(Some(2), 5);
            assert!((0..5).contains(&p) && p != 2);
        }
        assert_eq!(next_sticky(Some(0), 1), 0);
    }
}

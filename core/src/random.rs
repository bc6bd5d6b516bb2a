//! A fast, non-cryptographic per-thread random source for jitter and random partitioning
//! (a hot path, so no locking and no syscalls after the first use on a thread).

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded from the OS once per process and varied per instance.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// A uniformly distributed u64 (xorshift64*).
pub(crate) fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A number in `0..n` (`n > 0`).
pub(crate) fn below(n: u32) -> u32 {
    (((next_u64() >> 32) * u64::from(n)) >> 32) as u32
}

/// A factor in `[1 - spread, 1 + spread]`, for jitter.
pub(crate) fn jitter_factor(spread: f64) -> f64 {
    let unit = (next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    1.0 - spread + 2.0 * spread * unit
}

#[cfg(test)]
mod tests {
    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [false; 7];
        for _ in 0..10_000 {
            let v = super::below(7) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
        for _ in 0..1000 {
            let f = super::jitter_factor(0.2);
            assert!((0.8..=1.2).contains(&f));
        }
    }
}

/// A fast, non-cryptographic hasher for small internal maps keyed by topic names and partition
/// numbers (hashed on every send/record; SipHash showed up at ~10 % of producer CPU). Keys are
/// our own data, not attacker-chosen, so HashDoS resistance is not needed here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    #[inline]
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `BuildHasher` for [`FastHasher`].
pub(crate) type FastHash = std::hash::BuildHasherDefault<FastHasher>;

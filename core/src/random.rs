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

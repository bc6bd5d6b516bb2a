//! What the simulations share: which seeds to run.

/// `ODRADEK_SIM_SEED=S` replays one seed; otherwise seeds 1..=`ODRADEK_SIM_SEEDS` (default
/// `default`) and then the `regressions`, seeds that once broke an invariant.
pub fn seeds(default: u64, regressions: &[u64]) -> Vec<u64> {
    if let Ok(s) = std::env::var("ODRADEK_SIM_SEED") {
        return vec![s.parse().expect("ODRADEK_SIM_SEED is a number")];
    }
    let n = std::env::var("ODRADEK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (1..=n).chain(regressions.iter().copied()).collect()
}

//! Fresh randomness for every failed election. openraft 0.9 draws a node's election timeout
//! once, when the node starts, and checks it only on its tick (every 1.5 heartbeats), so the
//! timeouts collapse onto a few tick multiples and stay there: candidates whose timers land on
//! the same tick (nodes started together, or started a tick multiple apart) split the vote,
//! all time out again on the same tick, and split it again, term after term, with no leader
//! ever (simulation seed 171 of an earlier workload: five candidates to term 456). Raft's
//! liveness rests on a timeout drawn anew per election; this task supplies that draw.

use std::ops::Range;
use std::time::Duration;

use openraft::ServerState;

use crate::raft::{Raft, random_millis};

/// Watches `raft`: while this node is a candidate, this task, not openraft's fixed timer,
/// decides when it campaigns again: after a timeout drawn anew from `timeout_ms` each time its
/// vote stays unchanged that long (no one won, no one newer asked for its vote). Followers keep
/// openraft's timer (a leader lost is noticed as before). Ends with the raft.
pub fn spawn_split_vote_breaker(raft: Raft, timeout_ms: Range<u64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut metrics = raft.metrics();
        loop {
            let vote = {
                let m = metrics.borrow_and_update();
                (m.state == ServerState::Candidate).then_some(m.vote)
            };
            raft.runtime_config().elect(vote.is_none());
            let Some(vote) = vote else {
                if metrics.changed().await.is_err() {
                    return;
                }
                continue;
            };
            let wait = Duration::from_millis(random_millis(timeout_ms.clone()));
            // A vote change (a new term, a newer candidate granted, a leader) restarts the wait.
            let changed = tokio::time::timeout(wait, async {
                loop {
                    if metrics.changed().await.is_err() {
                        return false;
                    }
                    let m = metrics.borrow();
                    if m.state != ServerState::Candidate || m.vote != vote {
                        return true;
                    }
                }
            })
            .await;
            match changed {
                Ok(true) => continue,
                Ok(false) => return,
                Err(_elapsed) => {
                    tracing::debug!(%vote, ?wait, "election undecided; campaigning again");
                    if raft.trigger().elect().await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

//! Periodic work: retention, time-based flushes, producer-id expiry, aborting transactions
//! past their timeout, expiring idle transactional ids. Each loop stops on
//! shutdown; disk work runs on the blocking pool.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::FsyncPolicy;
use crate::state::BrokerState;
use crate::time::now_ms;

pub fn spawn(state: Arc<BrokerState>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        crate::group::spawn_timer(state.groups.clone(), shutdown.clone()),
        crate::share::spawn_timer(state.share.clone(), shutdown.clone()),
    ];
    let retention_every = state.props().retention_check_interval();
    tasks.push(tokio::spawn(every(
        retention_every,
        shutdown.clone(),
        state.clone(),
        |s| {
            let now = now_ms();
            let expiry = s.props().producer_id_expiration_ms();
            for p in s.topics.all_partitions() {
                let mut log = p.log();
                if let Err(e) = log.apply_retention(now) {
                    tracing::error!(topic = %p.topic, partition = p.index, "retention failed: {e}");
                }
                log.expire_producers(now, expiry);
            }
        },
    )));
    {
        // Transactions past their timeout are aborted (and their producer fenced).
        let st = state.clone();
        let mut sd = shutdown.clone();
        let period = state.props().transaction_abort_interval();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = sd.changed() => return,
                }
                let s = st.clone();
                let written =
                    tokio::task::spawn_blocking(move || s.txns.abort_timed_out(&s, now_ms())).await;
                match written {
                    Ok(w) => {
                        if let Err(e) = w.settle(st.fsync).await {
                            tracing::error!("flushing timeout abort markers failed: {e}");
                        }
                    }
                    Err(e) => tracing::error!("transaction timeout task failed: {e}"),
                }
            }
        }));
    }
    {
        // Transactional ids idle past transactional.id.expiration.ms are forgotten.
        let period = state.props().transactional_id_expiry_interval();
        tasks.push(tokio::spawn(every(
            period,
            shutdown.clone(),
            state.clone(),
            |s| {
                let expiry = s.props().transactional_id_expiration_ms();
                s.txns.expire_ids(now_ms(), expiry);
            },
        )));
    }
    if state.props().cleaner_enable() {
        let every_ms = state.props().cleaner_backoff();
        tasks.push(tokio::spawn(every(every_ms, shutdown.clone(), state.clone(), |s| {
            let now = now_ms();
            let map_bytes = s.props().cleaner_dedupe_buffer_size();
            for p in s.topics.all_partitions() {
                let mut log = p.log();
                if !log.config().compact {
                    continue;
                }
                match log.compact(now, map_bytes) {
                    Ok(st) if st.segments_rewritten > 0 => tracing::info!(
                        topic = %p.topic,
                        partition = p.index,
                        segments = st.segments_rewritten,
                        removed = st.records_removed,
                        passes = st.passes,
                        skipped_batches = st.skipped_batches,
                        "compacted"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(topic = %p.topic, partition = p.index, "compaction failed: {e}"),
                }
            }
        })));
    }
    if state.fsync == FsyncPolicy::Interval {
        let every_ms = state.props().flush_scheduler_interval();
        let st = state.clone();
        let mut sd = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every_ms);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = sd.changed() => return,
                }
                let now = now_ms();
                for p in st.topics.all_partitions() {
                    let due = { p.log().flush_due(now) };
                    if due && let Err(e) = p.flush().await {
                        tracing::error!(topic = %p.topic, partition = p.index, "scheduled flush failed: {e}");
                    }
                }
            }
        }));
    }
    tasks
}

/// Runs `work` on the blocking pool every `period` until shutdown.
async fn every(
    period: Duration,
    mut shutdown: watch::Receiver<bool>,
    state: Arc<BrokerState>,
    work: fn(&BrokerState),
) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await; // the first tick is immediate; start one period in
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let st = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || work(&st)).await {
            tracing::error!("background task failed: {e}");
        }
    }
}

//! Kafka's delayed produce for acks=all: the answer waits until the partition's high
//! watermark reaches the end of the appended batch, at most the request's timeout. A leader
//! that loses its leadership meanwhile answers NOT_LEADER_OR_FOLLOWER; a timeout answers
//! REQUEST_TIMED_OUT (the batch is in the leader's log and may still be replicated, so the
//! producer's retry is answered as a duplicate by the idempotence check).

use std::sync::Arc;
use std::time::Duration;

use super::leaders::Led;

/// Kafka's error codes for a produce that cannot be acknowledged.
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
pub const REQUEST_TIMED_OUT: i16 = 7;
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;

/// Waits until `led`'s high watermark is at least `upto`; `Err` is the error code to answer.
pub async fn wait_for_high_watermark(
    led: Arc<Led>,
    upto: i64,
    timeout: Duration,
) -> Result<(), i16> {
    let mut hw = led.watch_high_watermark();
    let led_weak = Arc::downgrade(&led);
    // Holding `led` would keep the leadership's channel open after it ended.
    drop(led);
    match tokio::time::timeout(timeout, hw.wait_for(|hw| *hw >= upto)).await {
        Ok(Ok(_)) => match led_weak.upgrade() {
            Some(led) if led.below_min_isr() => Err(NOT_ENOUGH_REPLICAS_AFTER_APPEND),
            _ => Ok(()),
        },
        Ok(Err(_)) => Err(NOT_LEADER_OR_FOLLOWER),
        Err(_) => Err(REQUEST_TIMED_OUT),
    }
}

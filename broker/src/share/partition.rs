//! One share-partition's state (KIP-932): the in-flight window of records from the share-partition
//! start offset (SPSO) to its end offset (SPEO), each record Available, Acquired by one member
//! until its acquisition lock runs out, Acknowledged or Archived, with its delivery count. The
//! window holds at most `max_record_locks` records, so no client grows it without limit; the SPSO
//! moves past records that are done (acknowledged or archived) at the front.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Kafka's error INVALID_RECORD_STATE: an acknowledgement names a record this member does not
/// hold.
pub const INVALID_RECORD_STATE: i16 = 121;
/// INVALID_REQUEST: an acknowledgement that is malformed.
pub const INVALID_REQUEST: i16 = 42;

/// Acknowledgement types of ShareFetch / ShareAcknowledge.
pub mod ack {
    /// A gap: the offset has no record (compacted away, a control record).
    pub const GAP: i8 = 0;
    pub const ACCEPT: i8 = 1;
    pub const RELEASE: i8 = 2;
    pub const REJECT: i8 = 3;
    /// KIP-1222: extend the acquisition lock.
    pub const RENEW: i8 = 4;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordState {
    Available,
    Acquired { member: Arc<str>, until: Instant },
    Acknowledged,
    Archived,
}

#[derive(Debug, Clone)]
struct Slot {
    state: RecordState,
    delivery_count: u16,
}

/// The limits a share-partition works under (group configs and broker properties).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub lock_duration: Duration,
    pub delivery_count_limit: u16,
    pub max_record_locks: usize,
}

/// One acknowledgement batch: first offset, last offset, and one type for the whole range or
/// one per offset.
pub type AckBatch = (i64, i64, Vec<i8>);

/// Offsets acquired by one call: (first, last, delivery count), in offset order.
pub type Acquired = Vec<(i64, i64, i16)>;

/// A batch of records as read from the log: first and last offset, and whether it is a control
/// batch (transaction markers are never handed to a share consumer).
#[derive(Debug, Clone, Copy)]
pub struct BatchSpan {
    pub first: i64,
    pub last: i64,
    pub control: bool,
}

#[derive(Debug, Clone)]
pub struct SharePartition {
    start: i64,
    slots: VecDeque<Slot>,
}

impl SharePartition {
    pub fn new(start: i64) -> Self {
        Self {
            start,
            slots: VecDeque::new(),
        }
    }

    /// The share-partition start offset.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// One past the last offset in the window.
    pub fn end(&self) -> i64 {
        self.start + self.slots.len() as i64
    }

    /// Records in flight (the window's length).
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Moves the SPSO to `start` and forgets every record state (AlterShareGroupOffsets, or
    /// records removed by retention).
    pub fn reset(&mut self, start: i64) {
        self.start = start;
        self.slots.clear();
    }

    /// Archives everything before `log_start` (records the log no longer has).
    pub fn skip_to(&mut self, log_start: i64) {
        while self.start < log_start {
            if self.slots.pop_front().is_none() {
                self.start = log_start;
                return;
            }
            self.start += 1;
        }
    }

    /// Releases acquisitions whose lock ran out; returns how many became available again.
    pub fn expire(&mut self, now: Instant, limits: &Limits) -> usize {
        let mut released = 0;
        for slot in &mut self.slots {
            if matches!(&slot.state, RecordState::Acquired { until, .. } if *until <= now) {
                released += usize::from(release(slot, limits));
            }
        }
        self.advance();
        released
    }

    /// Releases every record `member` holds (it left the group or closed its session).
    pub fn release_member(&mut self, member: &str, limits: &Limits) -> usize {
        let mut released = 0;
        for slot in &mut self.slots {
            if matches!(&slot.state, RecordState::Acquired { member: m, .. } if &**m == member) {
                released += usize::from(release(slot, limits));
            }
        }
        self.advance();
        released
    }

    /// Where the next acquisition should read from: the first available record in the window,
    /// else the window's end if it is below `high_watermark` and the window has room.
    pub fn next_to_acquire(&self, high_watermark: i64, limits: &Limits) -> Option<i64> {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.state == RecordState::Available)
        {
            return Some(self.start + i as i64);
        }
        (self.end() < high_watermark && self.slots.len() < limits.max_record_locks)
            .then(|| self.end())
    }

    /// Acquires for `member` up to `max_records` available records among `batches` (read from
    /// the log at or after [`Self::next_to_acquire`]), extending the window over new records
    /// while it has room. Control records are archived as they enter.
    pub fn acquire(
        &mut self,
        batches: &[BatchSpan],
        member: &Arc<str>,
        now: Instant,
        limits: &Limits,
        max_records: usize,
    ) -> Acquired {
        let until = now + limits.lock_duration;
        let mut out: Acquired = Vec::new();
        let mut taken = 0usize;
        for b in batches {
            let mut offset = b.first.max(self.start);
            while offset <= b.last && taken < max_records {
                if offset >= self.end() {
                    if offset > self.end() || self.slots.len() >= limits.max_record_locks {
                        return out;
                    }
                    self.slots.push_back(Slot {
                        state: if b.control {
                            RecordState::Archived
                        } else {
                            RecordState::Available
                        },
                        delivery_count: 0,
                    });
                }
                let slot = &mut self.slots[(offset - self.start) as usize];
                if slot.state == RecordState::Available {
                    slot.delivery_count = slot.delivery_count.saturating_add(1);
                    slot.state = RecordState::Acquired {
                        member: member.clone(),
                        until,
                    };
                    taken += 1;
                    let count = slot.delivery_count as i16;
                    match out.last_mut() {
                        Some((_, last, c)) if *last + 1 == offset && *c == count => *last = offset,
                        _ => out.push((offset, offset, count)),
                    }
                }
                offset += 1;
            }
        }
        self.advance();
        out
    }

    /// Applies one member's acknowledgements, all or none: every offset named must be acquired
    /// by `member` (a gap may also name a record not in the window). `batches` are (first, last,
    /// types): one type for the whole range or one per offset.
    pub fn acknowledge(
        &mut self,
        member: &str,
        batches: &[AckBatch],
        now: Instant,
        limits: &Limits,
    ) -> Result<usize, (i16, String)> {
        let mut plan: Vec<(i64, i8)> = Vec::new();
        for (first, last, types) in batches {
            if last < first || types.is_empty() {
                return Err((
                    INVALID_REQUEST,
                    format!(
                        "acknowledgement batch {first}..={last} with {} types",
                        types.len()
                    ),
                ));
            }
            let n = last - first + 1;
            if types.len() != 1 && types.len() as i64 != n {
                return Err((
                    INVALID_REQUEST,
                    format!(
                        "acknowledgement batch {first}..={last} has {} types for {n} offsets",
                        types.len()
                    ),
                ));
            }
            if n > limits.max_record_locks as i64 + 1 && types.len() == 1 && types[0] != ack::GAP {
                return Err((
                    INVALID_RECORD_STATE,
                    format!("acknowledgement batch {first}..={last} is larger than the window"),
                ));
            }
            for i in 0..n {
                let t = if types.len() == 1 {
                    types[0]
                } else {
                    types[i as usize]
                };
                if !(ack::GAP..=ack::RENEW).contains(&t) {
                    return Err((INVALID_REQUEST, format!("unknown acknowledge type {t}")));
                }
                plan.push((first + i, t));
            }
        }
        for &(offset, t) in &plan {
            let held = offset >= self.start
                && offset < self.end()
                && matches!(&self.slots[(offset - self.start) as usize].state,
                    RecordState::Acquired { member: m, .. } if &**m == member);
            // A gap outside the window (already archived, or never fetched) changes nothing.
            let gap_elsewhere = t == ack::GAP && !(offset >= self.start && offset < self.end());
            if !held && !gap_elsewhere {
                return Err((
                    INVALID_RECORD_STATE,
                    format!("offset {offset} is not acquired by member {member}"),
                ));
            }
        }
        let mut changed = 0;
        for (offset, t) in plan {
            if offset < self.start || offset >= self.end() {
                continue;
            }
            let slot = &mut self.slots[(offset - self.start) as usize];
            match t {
                ack::ACCEPT => slot.state = RecordState::Acknowledged,
                ack::GAP | ack::REJECT => slot.state = RecordState::Archived,
                ack::RELEASE => {
                    release(slot, limits);
                }
                _ => {
                    if let RecordState::Acquired { until, .. } = &mut slot.state {
                        *until = now + limits.lock_duration;
                    }
                }
            }
            changed += 1;
        }
        self.advance();
        Ok(changed)
    }

    /// Run-length encoding of the window for the state file: (state, delivery count, run length),
    /// state 0 available (acquired records count as available: locks do not survive a restart),
    /// 2 acknowledged, 4 archived (Kafka's record-state numbers).
    pub fn runs(&self) -> Vec<(u8, u16, u32)> {
        let mut out: Vec<(u8, u16, u32)> = Vec::new();
        for s in &self.slots {
            let code = match s.state {
                RecordState::Available | RecordState::Acquired { .. } => 0,
                RecordState::Acknowledged => 2,
                RecordState::Archived => 4,
            };
            match out.last_mut() {
                Some((c, d, n)) if *c == code && *d == s.delivery_count => *n += 1,
                _ => out.push((code, s.delivery_count, 1)),
            }
        }
        out
    }

    /// Rebuilds a share-partition from [`Self::runs`]; the window is cut at `max_record_locks`.
    pub fn from_runs(start: i64, runs: &[(u8, u16, u32)], max_record_locks: usize) -> Self {
        let mut p = Self::new(start);
        'runs: for &(code, delivery_count, n) in runs {
            for _ in 0..n {
                if p.slots.len() >= max_record_locks {
                    break 'runs;
                }
                p.slots.push_back(Slot {
                    state: match code {
                        2 => RecordState::Acknowledged,
                        4 => RecordState::Archived,
                        _ => RecordState::Available,
                    },
                    delivery_count,
                });
            }
        }
        p.advance();
        p
    }

    /// Drops finished records from the front, moving the SPSO.
    fn advance(&mut self) {
        while let Some(s) = self.slots.front() {
            if !matches!(s.state, RecordState::Acknowledged | RecordState::Archived) {
                break;
            }
            self.slots.pop_front();
            self.start += 1;
        }
    }
}

/// Makes an acquired record available again, or archives it once its delivery count has reached
/// the limit. Returns whether it became available.
fn release(slot: &mut Slot, limits: &Limits) -> bool {
    if slot.delivery_count >= limits.delivery_count_limit {
        slot.state = RecordState::Archived;
        false
    } else {
        slot.state = RecordState::Available;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            lock_duration: Duration::from_secs(30),
            delivery_count_limit: 2,
            max_record_locks: 4,
        }
    }

    fn batch(first: i64, last: i64) -> BatchSpan {
        BatchSpan {
            first,
            last,
            control: false,
        }
    }

    #[test]
    fn window_is_bounded_and_advances() {
        let l = limits();
        let a: Arc<str> = Arc::from("a");
        let now = Instant::now();
        let mut p = SharePartition::new(0);
        assert_eq!(p.next_to_acquire(10, &l), Some(0));
        let got = p.acquire(&[batch(0, 9)], &a, now, &l, 100);
        assert_eq!(got, vec![(0, 3, 1)], "at most max_record_locks in flight");
        assert_eq!(p.next_to_acquire(10, &l), None);
        p.acknowledge("a", &[(0, 1, vec![ack::ACCEPT])], now, &l)
            .unwrap();
        assert_eq!((p.start(), p.in_flight()), (2, 2));
        assert_eq!(p.next_to_acquire(10, &l), Some(4));
    }

    #[test]
    fn release_redelivers_until_the_limit_then_archives() {
        let l = limits();
        let a: Arc<str> = Arc::from("a");
        let now = Instant::now();
        let mut p = SharePartition::new(5);
        p.acquire(&[batch(5, 5)], &a, now, &l, 10);
        p.acknowledge("a", &[(5, 5, vec![ack::RELEASE])], now, &l)
            .unwrap();
        assert_eq!(p.acquire(&[batch(5, 5)], &a, now, &l, 10), vec![(5, 5, 2)]);
        p.acknowledge("a", &[(5, 5, vec![ack::RELEASE])], now, &l)
            .unwrap();
        assert_eq!(p.start(), 6, "archived at the delivery-count limit");
    }

    #[test]
    fn acknowledgements_are_all_or_nothing() {
        let l = limits();
        let a: Arc<str> = Arc::from("a");
        let now = Instant::now();
        let mut p = SharePartition::new(0);
        p.acquire(&[batch(0, 1)], &a, now, &l, 10);
        let err = p
            .acknowledge("a", &[(0, 2, vec![ack::ACCEPT])], now, &l)
            .unwrap_err();
        assert_eq!(err.0, INVALID_RECORD_STATE);
        assert_eq!(p.start(), 0, "nothing applied");
        assert_eq!(
            p.acknowledge("b", &[(0, 0, vec![ack::ACCEPT])], now, &l)
                .unwrap_err()
                .0,
            INVALID_RECORD_STATE
        );
        assert_eq!(
            p.acknowledge("a", &[(0, 1, vec![1, 2, 3])], now, &l)
                .unwrap_err()
                .0,
            INVALID_REQUEST
        );
    }

    #[test]
    fn runs_round_trip() {
        let l = limits();
        let a: Arc<str> = Arc::from("a");
        let now = Instant::now();
        let mut p = SharePartition::new(0);
        p.acquire(&[batch(0, 3)], &a, now, &l, 10);
        p.acknowledge("a", &[(1, 1, vec![ack::ACCEPT])], now, &l)
            .unwrap();
        let q = SharePartition::from_runs(p.start(), &p.runs(), 10);
        assert_eq!(q.runs(), vec![(0, 1, 1), (2, 1, 1), (0, 1, 2)]);
        assert_eq!(q.next_to_acquire(4, &l), Some(0));
    }
}

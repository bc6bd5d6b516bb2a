//! The consumer's side of a fetch session (KIP-227), one per broker: the first Fetch names
//! every partition and asks for a session; later ones name only partitions that are new or
//! whose fetch position moved, and list those no longer wanted as forgotten. The broker then
//! answers only partitions with news; one left out keeps its position here, so nothing is
//! lost or fetched twice.
//!
//! Invariant: `partitions` is exactly what the broker's session holds (partition and fetch
//! offset), because it is updated only from a successful answer to the request built from it.
//! Any doubt (an error, a new connection, an answer without our session id) starts over with
//! a full fetch that also closes the old session.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use super::TopicPartition;
use crate::net::Connection;

/// "No session" in requests and responses.
const NO_SESSION: i32 = 0;
/// A full fetch asking for a (new) session.
const INITIAL_EPOCH: i32 = 0;
/// A full fetch closing the session and asking for none.
pub(crate) const FINAL_EPOCH: i32 = -1;
/// The broker does not know our session id (evicted, restarted, closed).
pub(crate) const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
/// The broker expected another epoch (a lost or duplicated request).
pub(crate) const INVALID_FETCH_SESSION_EPOCH: i16 = 71;

/// The session part of one Fetch: which session and epoch, what to name, what to forget.
#[derive(Debug)]
pub(crate) struct SessionFetch {
    pub session_id: i32,
    pub epoch: i32,
    /// Partitions and fetch offsets the request names.
    pub to_send: Vec<(TopicPartition, i64)>,
    /// Partitions the session drops.
    pub forgotten: Vec<TopicPartition>,
    /// What the session holds once the broker accepts this request.
    after: HashMap<TopicPartition, i64>,
    full: bool,
}

impl SessionFetch {
    pub fn is_full(&self) -> bool {
        self.full
    }
}

/// One broker's fetch session as this consumer knows it.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    /// The epoch of the next request; 0 (with any id) means the next one is full.
    epoch: i32,
    partitions: HashMap<TopicPartition, i64>,
    /// The connection the session was made on: a new one (a reconnect) starts over.
    connection: Option<Weak<Connection>>,
}

impl FetchSession {
    /// The open session's id (0: none).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Starts over with a full fetch on `connection` unless the session was made on it.
    pub fn use_connection(&mut self, connection: &Arc<Connection>) {
        let same = self
            .connection
            .as_ref()
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(connection)));
        if !same {
            if self.epoch != INITIAL_EPOCH {
                tracing::debug!(
                    session_id = self.id,
                    "new connection: fetch session restarts"
                );
            }
            self.start_over();
            self.connection = Some(Arc::downgrade(connection));
        }
    }

    /// The next request for `wanted` (partition → fetch position): all of them when no
    /// session is open, else only those new or moved, with the others forgotten.
    pub fn next_fetch(&self, wanted: &[(TopicPartition, i64)]) -> SessionFetch {
        let after: HashMap<TopicPartition, i64> = wanted.iter().cloned().collect();
        if self.epoch == INITIAL_EPOCH {
            return SessionFetch {
                // With the old id, epoch 0 also closes the old session on the broker.
                session_id: self.id,
                epoch: INITIAL_EPOCH,
                to_send: wanted.to_vec(),
                forgotten: Vec::new(),
                after,
                full: true,
            };
        }
        let to_send = wanted
            .iter()
            .filter(|(tp, pos)| self.partitions.get(tp) != Some(pos))
            .cloned()
            .collect();
        let forgotten = self
            .partitions
            .keys()
            .filter(|tp| !after.contains_key(*tp))
            .cloned()
            .collect();
        SessionFetch {
            session_id: self.id,
            epoch: self.epoch,
            to_send,
            forgotten,
            after,
            full: false,
        }
    }

    /// Applies the broker's answer to `fetch`: `Ok((error code, session id))` of the
    /// response, or `Err` when no answer came.
    pub fn on_answer(&mut self, fetch: SessionFetch, answer: Result<(i16, i32), ()>) {
        match answer {
            Ok((0, session_id)) if fetch.full => {
                self.id = session_id;
                self.epoch = if session_id == NO_SESSION {
                    INITIAL_EPOCH
                } else {
                    next_epoch(INITIAL_EPOCH)
                };
                self.partitions = fetch.after;
            }
            Ok((0, session_id)) if session_id == self.id => {
                self.epoch = next_epoch(self.epoch);
                self.partitions = fetch.after;
            }
            Ok((0, _)) => {
                // The broker closed the session (all partitions forgotten): start over.
                self.id = NO_SESSION;
                self.start_over();
            }
            Ok((FETCH_SESSION_ID_NOT_FOUND, _)) => {
                tracing::debug!(session_id = self.id, "fetch session not found; full fetch");
                self.id = NO_SESSION;
                self.start_over();
            }
            Ok((code, _)) => {
                tracing::debug!(
                    session_id = self.id,
                    code,
                    "fetch failed; the session restarts"
                );
                self.start_over();
            }
            Err(()) => self.start_over(),
        }
    }

    /// The next fetch is full; it names the current id (if any) so the broker drops it.
    fn start_over(&mut self) {
        self.epoch = INITIAL_EPOCH;
        self.partitions.clear();
    }
}

/// Kafka's successor of an epoch: from i32::MAX it wraps to 1 (0 and -1 are reserved).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        (Arc::from("t"), p)
    }

    fn open(session: &mut FetchSession, wanted: &[(TopicPartition, i64)]) {
        let f = session.next_fetch(wanted);
        assert!(f.is_full());
        session.on_answer(f, Ok((0, 42)));
    }

    #[test]
    fn incremental_fetches_name_only_new_and_moved_partitions_and_forget_the_rest() {
        let mut s = FetchSession::default();
        open(&mut s, &[(tp(0), 0), (tp(1), 5), (tp(2), 7)]);
        let f = s.next_fetch(&[(tp(0), 0), (tp(1), 9), (tp(3), 1)]);
        assert!(!f.is_full());
        assert_eq!((f.session_id, f.epoch), (42, 1));
        let mut sent: Vec<i32> = f.to_send.iter().map(|(t, _)| t.1).collect();
        sent.sort();
        assert_eq!(sent, vec![1, 3]);
        assert_eq!(f.forgotten, vec![tp(2)]);
        s.on_answer(f, Ok((0, 42)));
        let f = s.next_fetch(&[(tp(0), 0), (tp(1), 9), (tp(3), 1)]);
        assert_eq!(f.epoch, 2);
        assert!(f.to_send.is_empty() && f.forgotten.is_empty());
    }

    #[test]
    fn errors_and_failures_start_over_with_a_full_fetch() {
        let wanted = [(tp(0), 3)];
        let mut s = FetchSession::default();
        open(&mut s, &wanted);
        let f = s.next_fetch(&wanted);
        s.on_answer(f, Ok((INVALID_FETCH_SESSION_EPOCH, 0)));
        let f = s.next_fetch(&wanted);
        assert!(f.is_full());
        assert_eq!(f.session_id, 42, "the full fetch closes the old session");
        s.on_answer(f, Ok((0, 43)));
        let f = s.next_fetch(&wanted);
        s.on_answer(f, Err(()));
        assert!(s.next_fetch(&wanted).is_full());
        open(&mut s, &wanted);
        let f = s.next_fetch(&wanted);
        s.on_answer(f, Ok((FETCH_SESSION_ID_NOT_FOUND, 0)));
        let f = s.next_fetch(&wanted);
        assert!(f.is_full());
        assert_eq!(f.session_id, 0);
        // A broker without room answers session id 0: full fetches go on.
        s.on_answer(f, Ok((0, 0)));
        assert!(s.next_fetch(&wanted).is_full());
    }
}

//! Fetch sessions (KIP-227): a consumer with many partitions sends its whole partition list
//! once (a full fetch that creates a session), then only what changed (incremental fetches);
//! the broker remembers the rest and answers only partitions with something new.
//!
//! Semantics follow Kafka's `FetchSession`: epoch 0 is a full fetch that asks for a session
//! (closing the one named, if any), epoch -1 a full fetch that closes it and stays sessionless,
//! any other epoch an incremental fetch that must be the session's next one. The cache holds
//! `max.incremental.fetch.session.cache.slots` sessions; when full, a new session may evict
//! one unused for two minutes, or else only the smallest one and only when it is smaller than
//! the new one. A session belongs to the principal that created it: another identity gets
//! FETCH_SESSION_ID_NOT_FOUND, as if it did not exist.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// "No session" in requests and responses.
pub const INVALID_SESSION_ID: i32 = 0;
/// A full fetch that creates (or recreates) a session.
pub const INITIAL_EPOCH: i32 = 0;
/// A full fetch that closes the session and asks for none.
pub const FINAL_EPOCH: i32 = -1;
/// A session unused this long may be evicted by any new one (Kafka's
/// MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS).
pub const STALE_AFTER_MS: i64 = 120_000;

pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
/// A session created with topic names used with topic ids, or the other way round.
pub const FETCH_SESSION_TOPIC_ID_ERROR: i16 = 106;

/// A topic as the request names it: by name (Fetch v7–v12) or by id (v13+).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicKey {
    Name(StrBytes),
    Id(Uuid),
}

pub type PartitionKey = (TopicKey, i32);

/// What the client asked of one partition; kept by the session between fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    pub last_fetched_epoch: i32,
}

/// The partition-level facts last sent to the client; an incremental response carries a
/// partition again only when one of them changed, it has records, or it has an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub last_stable_offset: i64,
}

impl Sent {
    /// Nothing sent yet: the first answer always carries the partition.
    const NOTHING: Sent = Sent {
        high_watermark: -1,
        log_start_offset: -1,
        last_stable_offset: -1,
    };
}

/// One partition of a response, as the session judges it.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub facts: Sent,
    pub has_records: bool,
    /// An error, a diverging epoch or a leader hint: always sent.
    pub must_send: bool,
}

#[derive(Debug)]
struct CachedPartition {
    requested: Requested,
    sent: Sent,
}

#[derive(Debug)]
struct Session {
    principal: Arc<str>,
    uses_topic_ids: bool,
    /// The epoch the next incremental fetch must carry.
    next_epoch: i32,
    /// The partitions in read order; those that returned records move to the back so that a
    /// response's byte limit does not always starve the same ones. A Vec, not a map: every
    /// fetch walks all of them in order, while updates name only a few (no hashing per fetch).
    entries: Vec<(PartitionKey, CachedPartition)>,
    last_used_ms: i64,
}

/// What the handler does for one Fetch request.
#[derive(Debug)]
pub enum FetchContext {
    /// Answer every requested partition; the response carries session id 0.
    Sessionless,
    /// Answer every requested partition and try to create a session for them.
    Full,
    /// Read these partitions (the session's, in its order) and answer only what changed.
    Incremental {
        session_id: i32,
        epoch: i32,
        partitions: Vec<(PartitionKey, Requested)>,
    },
    /// Answer this top-level error and nothing else (session id 0).
    Error(i16),
}

/// The session part of a Fetch request.
#[derive(Debug, Default)]
pub struct SessionRequest {
    pub session_id: i32,
    pub epoch: i32,
    /// Partitions to add or update.
    pub requested: Vec<(PartitionKey, Requested)>,
    /// Partitions to remove (`forgotten_topics_data`).
    pub forgotten: Vec<PartitionKey>,
}

/// The broker's fetch sessions.
#[derive(Debug)]
pub struct FetchSessionCache {
    slots: usize,
    sessions: Mutex<HashMap<i32, Session>>,
}

/// Kafka's successor of an epoch: wraps from i32::MAX to 1 (0 and -1 are reserved).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

impl FetchSessionCache {
    pub fn new(slots: usize) -> Self {
        FetchSessionCache {
            slots,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open sessions (for tests and logs).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides how to answer a Fetch with this session id and epoch. For an incremental
    /// fetch, `requested` updates (or adds) partitions and `forgotten` removes them before
    /// the session's partition list is returned; the epoch advances here, so a retried
    /// request with the same epoch is refused.
    pub fn context(
        &self,
        principal: &Arc<str>,
        uses_topic_ids: bool,
        request: SessionRequest,
        now_ms: i64,
    ) -> FetchContext {
        let SessionRequest {
            session_id,
            epoch,
            requested,
            forgotten,
        } = request;
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            if session_id != INVALID_SESSION_ID {
                let mut sessions = self.lock();
                if sessions
                    .get(&session_id)
                    .is_some_and(|s| s.principal == *principal)
                {
                    sessions.remove(&session_id);
                    tracing::debug!(session_id, "fetch session closed by its client");
                }
            }
            return if epoch == FINAL_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full
            };
        }
        let mut sessions = self.lock();
        let Some(session) = sessions
            .get_mut(&session_id)
            .filter(|s| s.principal == *principal)
        else {
            tracing::debug!(
                session_id,
                epoch,
                "incremental fetch refused: no such session"
            );
            return FetchContext::Error(FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.next_epoch != epoch {
            tracing::debug!(
                session_id,
                epoch,
                expected = session.next_epoch,
                "incremental fetch refused: wrong epoch"
            );
            return FetchContext::Error(INVALID_FETCH_SESSION_EPOCH);
        }
        if session.uses_topic_ids != uses_topic_ids {
            return FetchContext::Error(FETCH_SESSION_TOPIC_ID_ERROR);
        }
        if !forgotten.is_empty() {
            let forgotten: HashSet<PartitionKey> = forgotten.into_iter().collect();
            session.entries.retain(|(k, _)| !forgotten.contains(k));
        }
        update_entries(&mut session.entries, requested);
        if session.entries.is_empty() {
            // Kafka closes a session left with no partitions and answers sessionless.
            sessions.remove(&session_id);
            tracing::debug!(session_id, "fetch session closed: no partitions left");
            return FetchContext::Sessionless;
        }
        session.next_epoch = next_epoch(epoch);
        session.last_used_ms = now_ms;
        let partitions = session
            .entries
            .iter()
            .map(|(k, c)| (k.clone(), c.requested))
            .collect();
        FetchContext::Incremental {
            session_id,
            epoch,
            partitions,
        }
    }

    /// After a full fetch: creates a session of these partitions if there is a free slot or
    /// one may be evicted. Returns its id, or [`INVALID_SESSION_ID`] (the client stays on full
    /// fetches).
    pub fn create(
        &self,
        principal: &Arc<str>,
        uses_topic_ids: bool,
        partitions: Vec<(PartitionKey, Requested, Sent)>,
        now_ms: i64,
    ) -> i32 {
        if partitions.is_empty() || self.slots == 0 {
            return INVALID_SESSION_ID;
        }
        let mut sessions = self.lock();
        if sessions.len() >= self.slots && !evict_one(&mut sessions, partitions.len(), now_ms) {
            tracing::debug!(
                partitions = partitions.len(),
                "fetch session cache full; fetch stays sessionless"
            );
            return INVALID_SESSION_ID;
        }
        let id = loop {
            let id = (crate::time::random_u64() & 0x7fff_ffff) as i32;
            if id != INVALID_SESSION_ID && !sessions.contains_key(&id) {
                break id;
            }
        };
        let mut seen = HashSet::with_capacity(partitions.len());
        let mut entries = Vec::with_capacity(partitions.len());
        for (key, requested, sent) in partitions {
            if seen.insert(key.clone()) {
                entries.push((key, CachedPartition { requested, sent }));
            }
        }
        tracing::debug!(
            session_id = id,
            partitions = entries.len(),
            "fetch session created"
        );
        sessions.insert(
            id,
            Session {
                principal: principal.clone(),
                uses_topic_ids,
                next_epoch: next_epoch(INITIAL_EPOCH),
                entries,
                last_used_ms: now_ms,
            },
        );
        id
    }

    /// After an incremental fetch was read: decides which partitions the response carries
    /// (`answers` in the order they were read) and remembers what was sent. `Err` is the
    /// top-level error to answer instead when the session was closed, evicted or used by
    /// another request meanwhile.
    pub fn respond(
        &self,
        session_id: i32,
        epoch: i32,
        answers: &[(&PartitionKey, Answer)],
    ) -> Result<Vec<bool>, i16> {
        let mut sessions = self.lock();
        let Some(session) = sessions.get_mut(&session_id) else {
            return Err(FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.next_epoch != next_epoch(epoch) {
            return Err(INVALID_FETCH_SESSION_EPOCH);
        }
        // The epoch check guarantees nothing changed the session since `context` listed its
        // partitions, so the answers line up with the entries; checked all the same.
        let aligned = session.entries.len() == answers.len()
            && session
                .entries
                .iter()
                .zip(answers)
                .all(|((k, _), (key, _))| k == *key);
        if !aligned {
            return Err(INVALID_FETCH_SESSION_EPOCH);
        }
        let mut keep = Vec::with_capacity(answers.len());
        let mut any_records = false;
        for ((_, cached), (_, answer)) in session.entries.iter_mut().zip(answers) {
            let send = answer.has_records || answer.must_send || answer.facts != cached.sent;
            if send {
                cached.sent = answer.facts;
            }
            any_records |= answer.has_records;
            keep.push(send);
        }
        if any_records {
            let (quiet, moved): (Vec<_>, Vec<_>) = std::mem::take(&mut session.entries)
                .into_iter()
                .zip(answers)
                .partition(|(_, (_, a))| !a.has_records);
            session.entries = quiet.into_iter().chain(moved).map(|(e, _)| e).collect();
        }
        Ok(keep)
    }
}

/// Applies an incremental fetch's partitions to a session: new ones are appended, known ones
/// take the new fetch offset and limits. A few are looked up by a scan (no hashing of every
/// entry); many by an index built once.
fn update_entries(
    entries: &mut Vec<(PartitionKey, CachedPartition)>,
    requested: Vec<(PartitionKey, Requested)>,
) {
    const SCAN_UP_TO: usize = 8;
    let positions: Vec<Option<usize>> = if requested.len() <= SCAN_UP_TO {
        requested
            .iter()
            .map(|(key, _)| entries.iter().position(|(k, _)| k == key))
            .collect()
    } else {
        let index: HashMap<&PartitionKey, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k, i))
            .collect();
        requested
            .iter()
            .map(|(key, _)| index.get(key).copied())
            .collect()
    };
    let known = entries.len();
    for ((key, req), at) in requested.into_iter().zip(positions) {
        // A partition named twice in one request: the second finds the first's new entry.
        let at = at.or_else(|| {
            entries[known..]
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| known + i)
        });
        match at {
            Some(i) => entries[i].1.requested = req,
            None => entries.push((
                key,
                CachedPartition {
                    requested: req,
                    sent: Sent::NOTHING,
                },
            )),
        }
    }
}

/// Frees a slot for a new session of `size` partitions (Kafka's rule for unprivileged
/// sessions): the least recently used session if it is stale, else the smallest session
/// (oldest id first among equals) only when the new one is bigger. Returns whether it did.
fn evict_one(sessions: &mut HashMap<i32, Session>, size: usize, now_ms: i64) -> bool {
    let lru = sessions
        .iter()
        .min_by_key(|(id, s)| (s.last_used_ms, **id))
        .map(|(id, s)| (*id, s.last_used_ms));
    if let Some((id, last_used)) = lru
        && now_ms - last_used > STALE_AFTER_MS
    {
        sessions.remove(&id);
        tracing::debug!(session_id = id, "fetch session evicted: stale");
        return true;
    }
    let smallest = sessions
        .iter()
        .min_by_key(|(id, s)| (s.entries.len(), **id))
        .map(|(id, s)| (*id, s.entries.len()));
    match smallest {
        Some((id, smallest_size)) if size > smallest_size => {
            sessions.remove(&id);
            tracing::debug!(
                session_id = id,
                size = smallest_size,
                new_size = size,
                "fetch session evicted by a bigger one"
            );
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(topic: &str, p: i32) -> PartitionKey {
        (TopicKey::Name(StrBytes::from_string(topic.into())), p)
    }

    fn req(offset: i64) -> Requested {
        Requested {
            fetch_offset: offset,
            max_bytes: 1 << 20,
            current_leader_epoch: -1,
            last_fetched_epoch: -1,
        }
    }

    fn bare(session_id: i32, epoch: i32) -> SessionRequest {
        SessionRequest {
            session_id,
            epoch,
            ..SessionRequest::default()
        }
    }

    fn session_of(cache: &FetchSessionCache, who: &Arc<str>, n: i32, now: i64) -> i32 {
        let parts = (0..n)
            .map(|p| (key("t", p), req(0), Sent::NOTHING))
            .collect();
        cache.create(who, false, parts, now)
    }

    #[test]
    fn a_full_cache_evicts_a_stale_session_first_then_only_a_smaller_one() {
        let who: Arc<str> = Arc::from("User:ANONYMOUS");
        let cache = FetchSessionCache::new(2);
        let old = session_of(&cache, &who, 5, 0);
        let small = session_of(&cache, &who, 1, STALE_AFTER_MS);
        assert_ne!(old, INVALID_SESSION_ID);
        assert_ne!(small, INVALID_SESSION_ID);
        // `old` was last used more than two minutes ago: any new session may take its slot.
        let newer = session_of(&cache, &who, 1, STALE_AFTER_MS + 1);
        assert_ne!(newer, INVALID_SESSION_ID);
        assert_eq!(cache.len(), 2);
        let ctx = cache.context(&who, false, bare(old, 1), STALE_AFTER_MS + 1);
        assert!(matches!(
            ctx,
            FetchContext::Error(FETCH_SESSION_ID_NOT_FOUND)
        ));
        // Nothing stale now: a session of the same size evicts nothing, a bigger one does.
        assert_eq!(
            session_of(&cache, &who, 1, STALE_AFTER_MS + 2),
            INVALID_SESSION_ID
        );
        assert_ne!(
            session_of(&cache, &who, 2, STALE_AFTER_MS + 3),
            INVALID_SESSION_ID
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn another_principal_cannot_use_or_close_a_session() {
        let alice: Arc<str> = Arc::from("User:alice");
        let bob: Arc<str> = Arc::from("User:bob");
        let cache = FetchSessionCache::new(10);
        let id = session_of(&cache, &alice, 3, 0);
        let ctx = cache.context(&bob, false, bare(id, 1), 1);
        assert!(matches!(
            ctx,
            FetchContext::Error(FETCH_SESSION_ID_NOT_FOUND)
        ));
        let ctx = cache.context(&bob, false, bare(id, FINAL_EPOCH), 1);
        assert!(matches!(ctx, FetchContext::Sessionless));
        assert_eq!(
            cache.len(),
            1,
            "bob's close must not remove alice's session"
        );
        let ctx = cache.context(&alice, false, bare(id, 1), 1);
        assert!(matches!(ctx, FetchContext::Incremental { .. }), "{ctx:?}");
    }

    #[test]
    fn unchanged_partitions_are_left_out_and_records_move_to_the_back() {
        let who: Arc<str> = Arc::from("User:ANONYMOUS");
        let cache = FetchSessionCache::new(10);
        let facts = Sent {
            high_watermark: 10,
            log_start_offset: 0,
            last_stable_offset: 10,
        };
        let parts = (0..3).map(|p| (key("t", p), req(10), facts)).collect();
        let id = cache.create(&who, false, parts, 0);
        let FetchContext::Incremental { partitions, .. } =
            cache.context(&who, false, bare(id, 1), 1)
        else {
            panic!("expected an incremental context");
        };
        assert_eq!(partitions.len(), 3);
        let quiet = Answer {
            facts,
            has_records: false,
            must_send: false,
        };
        let grown = Answer {
            facts: Sent {
                high_watermark: 11,
                ..facts
            },
            has_records: true,
            must_send: false,
        };
        let keys = [key("t", 0), key("t", 1), key("t", 2)];
        let answers = vec![(&keys[0], grown), (&keys[1], quiet), (&keys[2], quiet)];
        assert_eq!(cache.respond(id, 1, &answers), Ok(vec![true, false, false]));
        let FetchContext::Incremental { partitions, .. } =
            cache.context(&who, false, bare(id, 2), 2)
        else {
            panic!("expected an incremental context");
        };
        let order: Vec<i32> = partitions.iter().map(|(k, _)| k.1).collect();
        assert_eq!(order, vec![1, 2, 0]);
        // The same epoch again (a retried request) is refused.
        let ctx = cache.context(&who, false, bare(id, 2), 3);
        assert!(matches!(
            ctx,
            FetchContext::Error(INVALID_FETCH_SESSION_EPOCH)
        ));
    }

    #[test]
    fn updates_by_scan_or_index_add_update_and_forget_in_place() {
        let who: Arc<str> = Arc::from("User:ANONYMOUS");
        let cache = FetchSessionCache::new(10);
        let id = session_of(&cache, &who, 20, 0);
        // A few named (scanned): partition 3 moves, partition 25 is new and named twice.
        let few = SessionRequest {
            session_id: id,
            epoch: 1,
            requested: vec![
                (key("t", 3), req(7)),
                (key("t", 25), req(1)),
                (key("t", 25), req(2)),
            ],
            forgotten: vec![key("t", 0)],
        };
        let FetchContext::Incremental { partitions, .. } = cache.context(&who, false, few, 1)
        else {
            panic!("expected an incremental context");
        };
        assert_eq!(partitions.len(), 20, "19 left of 20, one added once");
        assert_eq!(partitions[2], (key("t", 3), req(7)));
        assert_eq!(partitions[19], (key("t", 25), req(2)));
        // Many named (indexed): every one of 1..=10 moves to offset 100.
        let many = SessionRequest {
            session_id: id,
            epoch: 2,
            requested: (1..=10).map(|p| (key("t", p), req(100))).collect(),
            forgotten: vec![],
        };
        let FetchContext::Incremental { partitions, .. } = cache.context(&who, false, many, 2)
        else {
            panic!("expected an incremental context");
        };
        assert_eq!(partitions.len(), 20);
        for (k, r) in &partitions {
            let want = if (1..=10).contains(&k.1) {
                100
            } else if k.1 == 25 {
                2
            } else {
                0
            };
            assert_eq!(r.fetch_offset, want, "{k:?}");
        }
    }
}

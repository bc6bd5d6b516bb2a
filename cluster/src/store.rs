//! The metadata quorum's storage in the data dir (`__cluster_metadata-0/`): the raft log, the
//! vote, the commit point and the state-machine snapshot.
//!
//! The log is small (metadata only) and purged behind each snapshot, so it lives in memory and
//! in one append-only file of frames `[u32 length][u32 crc32][JSON entry]`; a torn tail from a
//! crash is cut off on open. Truncation and purge rewrite the file atomically. The vote, the
//! commit point and the snapshot are small files replaced atomically. With `sync` every write
//! is fsynced before raft is told it is durable; without it (simulation) a write survives a
//! process crash but not a power loss.
//!
//! File I/O here is synchronous inside async fns: each write is a few hundred bytes of metadata
//! and the tasks that call it are openraft's own, not request handlers.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, RaftLogId, RaftLogReader, RaftSnapshotBuilder,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::metadata::{Applied, MetadataImage};
use crate::raft::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig, Vote,
};

/// The quorum's directory inside a node's data dir (Kafka names its metadata log the same).
pub const DIR: &str = "__cluster_metadata-0";
const LOG: &str = "raft.log";
const VOTE: &str = "vote.json";
const COMMITTED: &str = "committed.json";
const PURGED: &str = "purged.json";
const SNAPSHOT: &str = "snapshot.json";
/// A frame longer than this is corruption, not an entry.
const MAX_FRAME: usize = 64 << 20;

fn io_err(subject: ErrorSubject<u64>, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(subject, verb, e)
}

fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Replaces `path` with `bytes` so a crash leaves the old or the new file, never a mix.
fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)?;
    if sync && let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(json_err),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn frame(entry: &Entry, out: &mut Vec<u8>) -> io::Result<()> {
    let body = serde_json::to_vec(entry).map_err(json_err)?;
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Reads whole, intact frames; returns them and the length of the good prefix.
fn read_frames(bytes: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = vec![];
    let mut at = 0;
    while bytes.len() - at >= 8 {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        if len > MAX_FRAME || bytes.len() - at - 8 < len {
            break;
        }
        let body = &bytes[at + 8..at + 8 + len];
        if crc32fast::hash(body) != crc {
            break;
        }
        match serde_json::from_slice(body) {
            Ok(e) => entries.push(e),
            Err(_) => break,
        }
        at += 8 + len;
    }
    (entries, at)
}

#[derive(Debug)]
struct LogInner {
    dir: PathBuf,
    sync: bool,
    file: File,
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

impl LogInner {
    /// Rewrites the log file from `entries` (after a truncation or purge).
    fn rewrite(&mut self) -> io::Result<()> {
        let mut bytes = vec![];
        for e in self.entries.values() {
            frame(e, &mut bytes)?;
        }
        let path = self.dir.join(LOG);
        write_atomically(&path, &bytes, self.sync)?;
        self.file = OpenOptions::new().append(true).open(&path)?;
        Ok(())
    }
}

/// The raft log, vote and commit point. Cloning shares the same log (openraft's log reader).
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, cutting off a torn tail.
    pub fn open(dir: &Path, sync: bool) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let mut bytes = vec![];
        file.read_to_end(&mut bytes)?;
        let (entries, good) = read_frames(&bytes);
        if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                cut = bytes.len() - good,
                "metadata log: cutting off a torn or corrupt tail"
            );
            file.set_len(good as u64)?;
        }
        let last_purged: Option<LogId> = read_json(&dir.join(PURGED))?;
        // A crash between writing the purge point and rewriting the log leaves purged entries.
        let purged_to = last_purged.map(|l| l.index);
        let inner = LogInner {
            dir: dir.to_path_buf(),
            sync,
            file,
            entries: entries
                .into_iter()
                .filter(|e| purged_to.is_none_or(|p| e.log_id.index > p))
                .map(|e| (e.log_id.index, e))
                .collect(),
            last_purged,
            vote: read_json(&dir.join(VOTE))?,
            committed: read_json(&dir.join(COMMITTED))?,
        };
        Ok(Self {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        // Only the run of consecutive entries from the range's start: openraft sends what this
        // returns after the entry before `start`, so entries after a purged gap would reach a
        // follower as if they followed it (the quorum simulation's seed 503 saw such a request).
        let mut entries: Vec<Entry> = vec![];
        let inner = self.lock();
        for (index, e) in inner.entries.range(range.clone()) {
            let expected = match entries.last() {
                Some(prev) => prev.log_id.index + 1,
                None => match range.start_bound() {
                    std::ops::Bound::Included(s) => *s,
                    std::ops::Bound::Excluded(s) => s + 1,
                    std::ops::Bound::Unbounded => *index,
                },
            };
            if *index != expected {
                break;
            }
            entries.push(e.clone());
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.lock();
        let last = inner.entries.values().next_back().map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last.or(inner.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let bytes = serde_json::to_vec(vote).map_err(json_err);
        bytes
            .and_then(|b| write_atomically(&inner.dir.join(VOTE), &b, inner.sync))
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        // Only a hint for replay after restart: not fsynced (raft re-learns it from the leader).
        let bytes = serde_json::to_vec(&committed).map_err(json_err);
        bytes
            .and_then(|b| write_atomically(&inner.dir.join(COMMITTED), &b, false))
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        inner.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock();
        let mut bytes = vec![];
        let mut added = vec![];
        for e in entries {
            frame(&e, &mut bytes)
                .map_err(|err| io_err(ErrorSubject::Logs, ErrorVerb::Write, err))?;
            added.push(e);
        }
        let sync = inner.sync;
        let written = inner
            .file
            .write_all(&bytes)
            .and_then(|()| if sync { inner.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(io_err(ErrorSubject::Logs, ErrorVerb::Write, e));
        }
        for e in added {
            inner.entries.insert(e.log_id.index, e);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.entries.split_off(&log_id.index);
        inner
            .rewrite()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        // The purge point first: a crash between the two leaves extra entries, never a gap.
        let bytes = serde_json::to_vec(&log_id).map_err(json_err);
        bytes
            .and_then(|b| write_atomically(&inner.dir.join(PURGED), &b, inner.sync))
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        inner.last_purged = Some(log_id);
        inner.entries = inner.entries.split_off(&(log_id.index + 1));
        inner
            .rewrite()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

/// What a snapshot file holds: the image and where in the log it stands.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    image: MetadataImage,
}

/// Called after each applied entry (and after a snapshot is installed) with the entry's raft
/// index and the image as it stands then; the simulation uses it to compare nodes.
pub type ApplyObserver = Box<dyn FnMut(u64, &MetadataImage) + Send>;

struct SmInner {
    dir: PathBuf,
    sync: bool,
    image: MetadataImage,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    snapshots_built: u64,
    published: watch::Sender<Arc<MetadataImage>>,
    observer: Option<ApplyObserver>,
}

impl std::fmt::Debug for SmInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmInner")
            .field("dir", &self.dir)
            .field("last_applied", &self.last_applied)
            .finish_non_exhaustive()
    }
}

impl SmInner {
    fn save_snapshot(&mut self, meta: SnapshotMeta) -> io::Result<Vec<u8>> {
        let file = SnapshotFile {
            meta: meta.clone(),
            image: self.image.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(json_err)?;
        write_atomically(&self.dir.join(SNAPSHOT), &bytes, self.sync)?;
        self.snapshot = Some((meta, bytes.clone()));
        Ok(bytes)
    }

    fn publish(&mut self) {
        self.published.send_replace(Arc::new(self.image.clone()));
    }
}

/// The state machine: the `MetadataImage`, its last snapshot, and a watch channel that hands
/// every applied image to whoever runs on this node (the broker learns metadata from it).
#[derive(Debug, Clone)]
pub struct StateMachineStore {
    inner: Arc<Mutex<SmInner>>,
}

impl StateMachineStore {
    /// Opens the state machine from the snapshot in `dir`, if any; openraft then re-applies the
    /// committed log after it.
    pub fn open(
        dir: &Path,
        sync: bool,
        observer: Option<ApplyObserver>,
    ) -> io::Result<(Self, watch::Receiver<Arc<MetadataImage>>)> {
        std::fs::create_dir_all(dir)?;
        let saved: Option<SnapshotFile> = read_json(&dir.join(SNAPSHOT))?;
        let (image, last_applied, membership, snapshot) = match saved {
            Some(f) => {
                let bytes = std::fs::read(dir.join(SNAPSHOT))?;
                (
                    f.image,
                    f.meta.last_log_id,
                    f.meta.last_membership.clone(),
                    Some((f.meta, bytes)),
                )
            }
            None => Default::default(),
        };
        let (published, rx) = watch::channel(Arc::new(image.clone()));
        let inner = SmInner {
            dir: dir.to_path_buf(),
            sync,
            image,
            last_applied,
            membership,
            snapshot,
            snapshots_built: 0,
            published,
            observer,
        };
        Ok((
            Self {
                inner: Arc::new(Mutex::new(inner)),
            },
            rx,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, SmInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let mut inner = self.lock();
        inner.snapshots_built += 1;
        let snapshot_id = match inner.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, inner.snapshots_built),
            None => format!("empty-{}", inner.snapshots_built),
        };
        let meta = SnapshotMeta {
            last_log_id: inner.last_applied,
            last_membership: inner.membership.clone(),
            snapshot_id,
        };
        let bytes = inner
            .save_snapshot(meta.clone())
            .map_err(|e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Write, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(bytes),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let inner = self.lock();
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock();
        let mut out = vec![];
        for entry in entries {
            let log_id = *entry.get_log_id();
            inner.last_applied = Some(log_id);
            let applied = match &entry.payload {
                EntryPayload::Blank => Applied::Done,
                EntryPayload::Normal(record) => inner.image.apply(log_id.index, record),
                EntryPayload::Membership(m) => {
                    inner.membership = StoredMembership::new(Some(log_id), m.clone());
                    Applied::Done
                }
            };
            let SmInner {
                observer, image, ..
            } = &mut *inner;
            if let Some(observe) = observer {
                observe(log_id.index, image);
            }
            out.push(applied);
        }
        inner.publish();
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Vec<u8>>, StorageError> {
        Ok(Box::default())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Vec<u8>>,
    ) -> Result<(), StorageError> {
        let read_err = |e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, e);
        let file: SnapshotFile = serde_json::from_slice(&snapshot)
            .map_err(json_err)
            .map_err(read_err)?;
        let mut inner = self.lock();
        inner.image = file.image;
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner
            .save_snapshot(meta.clone())
            .map_err(|e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Write, e))?;
        let SmInner {
            observer, image, ..
        } = &mut *inner;
        if let (Some(observe), Some(l)) = (observer, meta.last_log_id) {
            observe(l.index, image);
        }
        inner.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self.lock().snapshot.clone().map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(bytes),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_read_only_up_to_the_first_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path(), false).unwrap();
        for i in [3, 4, 6] {
            let e = Entry {
                log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), i),
                payload: EntryPayload::Blank,
            };
            store.lock().entries.insert(i, e);
        }
        let indexes = |v: Vec<Entry>| v.iter().map(|e| e.log_id.index).collect::<Vec<_>>();
        assert_eq!(
            indexes(store.try_get_log_entries(3..7).await.unwrap()),
            vec![3, 4]
        );
        assert!(
            store.try_get_log_entries(2..7).await.unwrap().is_empty(),
            "2 is gone"
        );
    }

    #[test]
    fn a_torn_tail_is_cut_and_whole_frames_survive() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |i| Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), i),
            payload: EntryPayload::Blank,
        };
        let mut bytes = vec![];
        frame(&entry(1), &mut bytes).unwrap();
        frame(&entry(2), &mut bytes).unwrap();
        let whole = bytes.len();
        frame(&entry(3), &mut bytes).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();

        let store = LogStore::open(dir.path(), false).unwrap();
        assert_eq!(store.lock().entries.len(), 2);
        assert_eq!(
            std::fs::metadata(dir.path().join(LOG)).unwrap().len(),
            whole as u64
        );
        drop(store);

        // Purged up to 1 but the crash came before the log was rewritten.
        let purged = serde_json::to_vec(&entry(1).log_id).unwrap();
        std::fs::write(dir.path().join(PURGED), purged).unwrap();
        let store = LogStore::open(dir.path(), false).unwrap();
        let kept: Vec<u64> = store.lock().entries.keys().copied().collect();
        assert_eq!(kept, vec![2]);
    }
}

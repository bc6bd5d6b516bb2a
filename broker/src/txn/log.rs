//! The durable transaction log (`__transactions/txn.log`): every state change of a
//! transactional id appends that id's whole metadata, and its expiry a removal; replay keeps
//! the last entry per id. The
//! file is rewritten with only the live entries when superseded ones dominate it. Framing,
//! torn-tail handling and the CRC are the offsets log's (`group::offsets`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{TxnMeta, TxnState};
use crate::config::FsyncPolicy;
use crate::group::offsets::{Committed, Reader, frame, put_str, replay_framed};
use crate::log::index::write_file_atomically;

const KIND_META: u8 = 1;
/// The id expired (`transactional.id.expiration.ms`): replay forgets it.
const KIND_REMOVED: u8 = 2;
const COMPACT_SLACK: usize = 10_000;

#[derive(Debug)]
pub struct TxnLog {
    path: PathBuf,
    file: File,
    fsync: FsyncPolicy,
    entries: usize,
}

impl TxnLog {
    /// Opens the log under `data_dir` and returns it with the replayed transactions.
    pub fn open(
        data_dir: &Path,
        fsync: FsyncPolicy,
    ) -> io::Result<(Self, HashMap<String, TxnMeta>)> {
        let dir = data_dir.join("__transactions");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("txn.log");
        let mut txns = HashMap::new();
        let (file, entries) = replay_framed(&path, |payload| {
            match decode(payload)? {
                (id, Some(meta)) => txns.insert(id, meta),
                (id, None) => txns.remove(&id),
            };
            Some(())
        })?;
        let mut log = Self {
            path,
            file,
            fsync,
            entries,
        };
        log.maybe_compact(&txns)?;
        Ok((log, txns))
    }

    /// Durably records `meta` as the state of `id`.
    pub fn write(
        &mut self,
        id: &str,
        meta: &TxnMeta,
        all: &HashMap<String, TxnMeta>,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        frame(&mut buf, &encode(id, meta));
        self.file.write_all(&buf)?;
        if self.fsync != FsyncPolicy::Never {
            // A transaction's state is its promise to the producer (a commit decided is a
            // commit done after a crash): written through whatever the data's fsync policy.
            self.file.sync_data()?;
        }
        self.entries += 1;
        self.maybe_compact(all)
    }

    /// Durably records that `id` expired.
    pub fn write_removal(&mut self, id: &str, all: &HashMap<String, TxnMeta>) -> io::Result<()> {
        let mut p = vec![KIND_REMOVED];
        put_str(&mut p, id);
        let mut buf = Vec::new();
        frame(&mut buf, &p);
        self.file.write_all(&buf)?;
        if self.fsync != FsyncPolicy::Never {
            self.file.sync_data()?;
        }
        self.entries += 1;
        self.maybe_compact(all)
    }

    fn maybe_compact(&mut self, all: &HashMap<String, TxnMeta>) -> io::Result<()> {
        if self.entries < all.len().saturating_mul(2).max(COMPACT_SLACK) {
            return Ok(());
        }
        let mut buf = Vec::new();
        for (id, meta) in all {
            frame(&mut buf, &encode(id, meta));
        }
        write_file_atomically(&self.path, &buf)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.entries = all.len();
        Ok(())
    }
}

fn encode(id: &str, m: &TxnMeta) -> Vec<u8> {
    let mut p = vec![KIND_META];
    put_str(&mut p, id);
    p.extend_from_slice(&m.producer_id.to_be_bytes());
    p.extend_from_slice(&(m.epoch as i32).to_be_bytes());
    p.extend_from_slice(&m.timeout_ms.to_be_bytes());
    p.push(m.state as u8);
    p.extend_from_slice(&m.start_ms.to_be_bytes());
    p.extend_from_slice(&m.last_update_ms.to_be_bytes());
    p.extend_from_slice(&(m.partitions.len() as i32).to_be_bytes());
    for (topic, partition) in &m.partitions {
        put_str(&mut p, topic);
        p.extend_from_slice(&partition.to_be_bytes());
    }
    p.extend_from_slice(&(m.offsets.len() as i32).to_be_bytes());
    for (group, offsets) in &m.offsets {
        put_str(&mut p, group);
        p.extend_from_slice(&(offsets.len() as i32).to_be_bytes());
        for ((topic, partition), c) in offsets {
            put_str(&mut p, topic);
            p.extend_from_slice(&partition.to_be_bytes());
            c.put(&mut p);
        }
    }
    p
}

/// An entry: the id and its metadata, or `None` for a removal.
fn decode(payload: &[u8]) -> Option<(String, Option<TxnMeta>)> {
    let mut r = Reader(payload);
    let kind = r.u8()?;
    let id = r.string()?;
    match kind {
        KIND_META => {}
        KIND_REMOVED => return Some((id, None)),
        _ => return None,
    }
    let producer_id = r.i64()?;
    let epoch = i16::try_from(r.i32()?).ok()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_u8(r.u8()?)?;
    let start_ms = r.i64()?;
    let last_update_ms = r.i64()?;
    let mut partitions = BTreeSet::new();
    for _ in 0..r.i32()? {
        let topic = r.string()?;
        partitions.insert((topic, r.i32()?));
    }
    let mut offsets = BTreeMap::new();
    for _ in 0..r.i32()? {
        let group = r.string()?;
        let mut g = BTreeMap::new();
        for _ in 0..r.i32()? {
            let topic = r.string()?;
            let partition = r.i32()?;
            g.insert((topic, partition), Committed::read(&mut r)?);
        }
        offsets.insert(group, g);
    }
    Some((
        id,
        Some(TxnMeta {
            producer_id,
            epoch,
            timeout_ms,
            state,
            start_ms,
            last_update_ms,
            partitions,
            offsets,
            previous_producer_id: -1,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_the_last_state_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, mut all) = TxnLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut m = TxnMeta::new(5, 60_000, 1);
        m.state = TxnState::Ongoing;
        m.partitions.insert(("t".into(), 2));
        m.offsets.entry("g".into()).or_default().insert(
            ("in".into(), 0),
            Committed {
                offset: 42,
                leader_epoch: -1,
                metadata: Some("m".into()),
                commit_timestamp: 9,
            },
        );
        all.insert("a".into(), m.clone());
        log.write("a", &m, &all).unwrap();
        m.state = TxnState::PrepareCommit;
        all.insert("a".into(), m.clone());
        log.write("a", &m, &all).unwrap();
        drop(log);
        let path = dir.path().join("__transactions/txn.log");
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(&[0, 0, 0, 40, 1, 2]);
        std::fs::write(&path, raw).unwrap();
        let (_, back) = TxnLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        let a = &back["a"];
        assert_eq!(a.state, TxnState::PrepareCommit);
        assert_eq!(a.partitions.len(), 1);
        assert_eq!(a.offsets["g"][&("in".to_string(), 0)].offset, 42);
    }

    #[test]
    fn a_removal_forgets_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, mut all) = TxnLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        for id in ["a", "b"] {
            let m = TxnMeta::new(1, 60_000, 1);
            all.insert(id.into(), m.clone());
            log.write(id, &m, &all).unwrap();
        }
        all.remove("a");
        log.write_removal("a", &all).unwrap();
        drop(log);
        let (_, back) = TxnLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), vec!["b"]);
    }
}

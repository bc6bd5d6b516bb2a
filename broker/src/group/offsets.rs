//! Committed offsets, kept in memory ([`OffsetMap`]) and, on a single node ([`FileStore`]), in an
//! append-only log under the data dir (`__groups/offsets.log`) that is replayed on start and
//! rewritten (compacted) when it holds mostly superseded entries. Each entry is `[len u32][crc32c u32][payload]`; replay stops at
//! the first torn or corrupt entry and truncates it away (a crash mid-append loses only that
//! append, which was never acknowledged).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::storage::{GroupStorage, GroupWrite, Pending, WriteError};
use crate::config::FsyncPolicy;
use crate::log::index::write_file_atomically;

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_timestamp: i64,
}

impl Committed {
    /// Appends the fields in the layout both the offsets log and the transaction log use.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.leader_epoch.to_be_bytes());
        match &self.metadata {
            Some(m) => {
                out.push(1);
                put_str(out, m);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.commit_timestamp.to_be_bytes());
    }

    /// Reads what [`Committed::put`] wrote; `None` on a short or torn entry.
    pub(crate) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let offset = r.i64()?;
        let leader_epoch = r.i32()?;
        let metadata = match r.u8()? {
            0 => None,
            _ => Some(r.string()?),
        };
        Some(Self {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp: r.i64()?,
        })
    }
}

/// (topic, partition) → committed offset, per group.
pub type GroupOffsets = BTreeMap<(String, i32), Committed>;

/// Every group's committed offsets, in memory; whichever storage backs them
/// (`super::storage`) fills it on start or on load.
#[derive(Debug, Default)]
pub struct OffsetMap {
    groups: HashMap<String, GroupOffsets>,
}

impl OffsetMap {
    pub fn group(&self, group: &str) -> Option<&GroupOffsets> {
        self.groups.get(group).filter(|g| !g.is_empty())
    }

    /// Groups that have at least one committed offset.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter(|(_, o)| !o.is_empty())
            .map(|(g, _)| g.as_str())
    }

    /// Sets (`Some`) or removes (`None`) one committed offset.
    pub fn apply(&mut self, group: &str, topic: &str, partition: i32, c: Option<Committed>) {
        match c {
            Some(c) => {
                self.groups
                    .entry(group.to_string())
                    .or_default()
                    .insert((topic.to_string(), partition), c);
            }
            None => {
                if let Some(g) = self.groups.get_mut(group) {
                    g.remove(&(topic.to_string(), partition));
                }
            }
        }
    }

    pub fn remove_group(&mut self, group: &str) -> Option<GroupOffsets> {
        self.groups.remove(group)
    }

    /// Keeps only the groups `keep` selects (a coordinator that stops coordinating some).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.groups.retain(|g, _| keep(g));
    }

    /// Takes `other`'s groups over (replacing any of the same id).
    pub fn extend(&mut self, other: OffsetMap) {
        self.groups.extend(other.groups);
    }

    fn live_entries(&self) -> usize {
        self.groups.values().map(BTreeMap::len).sum()
    }
}

const KIND_COMMIT: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_DELETE_GROUP: u8 = 3;
/// Entries above this are corrupt (metadata is bounded by `offset.metadata.max.bytes`).
const MAX_ENTRY: usize = 1 << 20;
/// Compact when the log has this many more entries than live offsets (and at least this many).
const COMPACT_SLACK: usize = 10_000;

/// The single-node backend: committed offsets in `__groups/offsets.log`. Group membership is
/// not kept (a restarted single node has no members to keep).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: File,
    fsync: FsyncPolicy,
    entries_in_log: usize,
}

impl FileStore {
    /// Opens (creating if needed) the store under `data_dir` and replays it into the map.
    pub fn open(data_dir: &Path, fsync: FsyncPolicy) -> io::Result<(Self, OffsetMap)> {
        let dir = data_dir.join("__groups");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("offsets.log");
        let mut offsets = OffsetMap::default();
        let (file, entries_in_log) = replay_framed(&path, |payload| apply(&mut offsets, payload))?;
        let mut store = Self {
            path,
            file,
            fsync,
            entries_in_log,
        };
        store.maybe_compact(&offsets)?;
        Ok((store, offsets))
    }

    /// Durably records the writes (one write for the whole batch); `live` already holds them.
    fn append(
        &mut self,
        group: &str,
        writes: &[GroupWrite<'_>],
        live: &OffsetMap,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        let mut entries = 0;
        for w in writes {
            match w {
                GroupWrite::Offset {
                    topic,
                    partition,
                    committed: Some(c),
                } => frame(&mut buf, &commit_payload(group, topic, *partition, c)),
                GroupWrite::Offset {
                    topic,
                    partition,
                    committed: None,
                } => {
                    let mut p = vec![KIND_DELETE];
                    put_str(&mut p, group);
                    put_str(&mut p, topic);
                    p.extend_from_slice(&partition.to_be_bytes());
                    frame(&mut buf, &p);
                }
                GroupWrite::Membership(_) => continue,
            }
            entries += 1;
        }
        if entries == 0 {
            return Ok(());
        }
        self.file.write_all(&buf)?;
        if self.fsync == FsyncPolicy::Always {
            self.file.sync_data()?;
        }
        self.entries_in_log += entries;
        self.maybe_compact(live)
    }

    /// Rewrites the log with only live offsets once superseded entries dominate it.
    fn maybe_compact(&mut self, live: &OffsetMap) -> io::Result<()> {
        let live_entries = live.live_entries();
        if self.entries_in_log < live_entries.saturating_mul(2).max(COMPACT_SLACK) {
            return Ok(());
        }
        let mut buf = Vec::new();
        let mut groups: Vec<_> = live.groups.iter().collect();
        groups.sort_by(|a, b| a.0.cmp(b.0));
        for (group, offsets) in groups {
            for ((topic, partition), c) in offsets {
                frame(&mut buf, &commit_payload(group, topic, *partition, c));
            }
        }
        write_file_atomically(&self.path, &buf)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        tracing::debug!(
            before = self.entries_in_log,
            after = live_entries,
            "compacted the offsets log"
        );
        self.entries_in_log = live_entries;
        Ok(())
    }
}

impl GroupStorage for FileStore {
    fn keeps_membership(&self) -> bool {
        false
    }

    fn write(
        &mut self,
        group: &str,
        writes: &[GroupWrite<'_>],
        live: &OffsetMap,
    ) -> Result<Option<Pending>, WriteError> {
        self.append(group, writes, live)
            .map(|()| None)
            .map_err(|e| WriteError {
                code: super::codes::KAFKA_STORAGE_ERROR,
                message: format!("writing {}: {e}", self.path.display()),
            })
    }
}

fn commit_payload(group: &str, topic: &str, partition: i32, c: &Committed) -> Vec<u8> {
    let mut p = vec![KIND_COMMIT];
    put_str(&mut p, group);
    put_str(&mut p, topic);
    p.extend_from_slice(&partition.to_be_bytes());
    c.put(&mut p);
    p
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Replays a log of framed entries through `apply` (which refuses a payload it cannot parse by
/// returning `None`), truncates a torn or corrupt tail, and returns the file open for appending
/// with the number of entries replayed. Shared by the offsets and transaction logs.
pub(crate) fn replay_framed(
    path: &Path,
    mut apply: impl FnMut(&[u8]) -> Option<()>,
) -> io::Result<(File, usize)> {
    let mut entries = 0;
    let mut valid_len = 0u64;
    if let Ok(mut f) = File::open(path) {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        let mut pos = 0usize;
        while let Some((payload, next)) = next_entry(&bytes, pos) {
            if apply(payload).is_none() {
                break;
            }
            entries += 1;
            pos = next;
        }
        valid_len = pos as u64;
        if pos < bytes.len() {
            tracing::warn!(path = %path.display(), valid = pos, total = bytes.len(),
                "log has a torn or corrupt tail; truncating it");
        }
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    file.set_len(valid_len)?;
    Ok((file, entries))
}

/// The payload of the entry at `pos` and where the next one starts, if it is whole and intact.
pub(crate) fn next_entry(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let head = bytes.get(pos..pos + 8)?;
    let len = u32::from_be_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_be_bytes(head[4..].try_into().ok()?);
    if len > MAX_ENTRY {
        return None;
    }
    let payload = bytes.get(pos + 8..pos + 8 + len)?;
    (crc32c::crc32c(payload) == crc).then_some((payload, pos + 8 + len))
}

/// Reads a payload; `None` if it does not parse (treated like corruption).
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn string(&mut self) -> Option<String> {
        let n = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn apply(offsets: &mut OffsetMap, payload: &[u8]) -> Option<()> {
    let mut r = Reader(payload);
    match r.u8()? {
        KIND_COMMIT => {
            let group = r.string()?;
            let topic = r.string()?;
            let partition = r.i32()?;
            let committed = Committed::read(&mut r)?;
            offsets.apply(&group, &topic, partition, Some(committed));
        }
        KIND_DELETE => {
            let group = r.string()?;
            let topic = r.string()?;
            let partition = r.i32()?;
            offsets.apply(&group, &topic, partition, None);
        }
        // Written by earlier versions for DeleteGroups (now a delete per offset).
        KIND_DELETE_GROUP => {
            offsets.remove_group(&r.string()?);
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset: i64) -> Committed {
        Committed {
            offset,
            leader_epoch: 0,
            metadata: Some("m".into()),
            commit_timestamp: 7,
        }
    }

    /// Applies then writes, as the coordinator does.
    fn put(
        s: &mut FileStore,
        m: &mut OffsetMap,
        group: &str,
        offsets: &[(&str, i32, Option<i64>)],
    ) {
        let writes: Vec<(String, i32, Option<Committed>)> = offsets
            .iter()
            .map(|(t, p, o)| (t.to_string(), *p, o.map(c)))
            .collect();
        for (t, p, o) in &writes {
            m.apply(group, t, *p, o.clone());
        }
        s.write(group, &GroupWrite::offsets(&writes), m).unwrap();
    }

    #[test]
    fn replays_commits_deletes_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, mut m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
            put(&mut s, &mut m, "g", &[("t", 0, Some(5)), ("t", 1, Some(6))]);
            put(&mut s, &mut m, "g", &[("t", 0, Some(9))]);
            put(&mut s, &mut m, "h", &[("u", 0, Some(1))]);
            put(&mut s, &mut m, "g", &[("t", 1, None)]);
            put(&mut s, &mut m, "h", &[("u", 0, None)]);
        }
        // A crash mid-append leaves half an entry.
        let path = dir.path().join("__groups/offsets.log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 0, 40, 1, 2]).unwrap();
        drop(f);
        let (mut s, mut m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
        let g = m.group("g").unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[&("t".to_string(), 0)], c(9));
        assert!(m.group("h").is_none());
        // Appends after the truncated tail replay too.
        put(&mut s, &mut m, "g", &[("t", 2, Some(3))]);
        drop(s);
        let (_, m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
        assert_eq!(m.group("g").unwrap().len(), 2);
    }

    #[test]
    fn replays_a_group_deletion_of_earlier_versions() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, mut m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
            put(&mut s, &mut m, "g", &[("t", 0, Some(5))]);
        }
        let mut p = vec![KIND_DELETE_GROUP];
        put_str(&mut p, "g");
        let mut buf = Vec::new();
        frame(&mut buf, &p);
        let path = dir.path().join("__groups/offsets.log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&buf).unwrap();
        drop(f);
        let (_, m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
        assert!(m.group("g").is_none());
    }

    #[test]
    fn compaction_keeps_live_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, mut m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
        for i in 0..(COMPACT_SLACK as i64 + 10) {
            put(&mut s, &mut m, "g", &[("t", (i % 3) as i32, Some(i))]);
        }
        assert!(s.entries_in_log < COMPACT_SLACK);
        let len = std::fs::metadata(dir.path().join("__groups/offsets.log"))
            .unwrap()
            .len();
        assert!(len < 10_000, "log not compacted: {len} bytes");
        drop(s);
        let (_, m) = FileStore::open(dir.path(), FsyncPolicy::Never).unwrap();
        let g = m.group("g").unwrap();
        assert_eq!(g.len(), 3);
        // Every partition keeps its last commit, including the one the compaction ran in.
        let last = COMPACT_SLACK as i64 + 9;
        for p in 0..3 {
            let expected = (0..=last).rev().find(|i| i % 3 == p).unwrap();
            assert_eq!(g[&("t".to_string(), p as i32)].offset, expected);
        }
    }
}

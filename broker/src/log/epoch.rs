//! Leader epoch history of a partition: (epoch, start offset) pairs, persisted in
//! `leader-epoch-checkpoint` in Kafka's text format. Replication uses it to find where a
//! follower's log diverged from the leader's (OffsetsForLeaderEpoch, Fetch's diverging epoch).

use std::io;
use std::path::{Path, PathBuf};

use super::index::write_file_atomically;

const FILE: &str = "leader-epoch-checkpoint";

#[derive(Debug, Clone)]
pub struct LeaderEpochCache {
    path: PathBuf,
    /// (epoch, start offset), both increasing.
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Loads the checkpoint, or starts empty if it is missing or unreadable.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(FILE);
        let entries = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| parse(&t))
            .unwrap_or_default();
        Self { path, entries }
    }

    /// (epoch, start offset) pairs, ascending.
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Records that `epoch` starts at `start_offset` (no-op if it is already the latest).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> io::Result<()> {
        if let Some(&(e, _)) = self.entries.last()
            && e >= epoch
        {
            return Ok(());
        }
        self.entries.retain(|&(_, o)| o < start_offset);
        self.entries.push((epoch, start_offset));
        self.persist()
    }

    /// Forgets the whole history (a replica that starts over at the leader's log start).
    pub fn clear(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.persist()
    }

    /// Drops entries whose start offset is at or beyond `end_offset` (log truncated).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> io::Result<()> {
        let before = self.entries.len();
        // Keep the first entry even if empty, so a leader epoch stays known.
        let keep_first = self.entries.first().copied();
        self.entries.retain(|&(_, o)| o < end_offset);
        if self.entries.is_empty()
            && let Some((e, _)) = keep_first
        {
            self.entries.push((e, end_offset));
        }
        if self.entries.len() != before {
            self.persist()
        } else {
            Ok(())
        }
    }

    /// OffsetsForLeaderEpoch: the largest epoch ≤ `requested` and the offset where the next
    /// epoch starts (or `log_end_offset` if `requested` is the latest). `(-1, -1)` if unknown.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let i = self.entries.partition_point(|&(e, _)| e <= requested);
        if i == 0 {
            return (-1, -1);
        }
        let epoch = self.entries[i - 1].0;
        let end = self
            .entries
            .get(i)
            .map(|&(_, o)| o)
            .unwrap_or(log_end_offset);
        (epoch, end)
    }

    fn persist(&self) -> io::Result<()> {
        let mut t = format!("0\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            t.push_str(&format!("{e} {o}\n"));
        }
        write_file_atomically(&self.path, t.as_bytes())
    }
}

fn parse(text: &str) -> Option<Vec<(i32, i64)>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let n: usize = lines.next()?.trim().parse().ok()?;
    let mut out = Vec::with_capacity(n.min(1024));
    for line in lines.take(n) {
        let (e, o) = line.trim().split_once(' ')?;
        out.push((e.parse().ok()?, o.parse().ok()?));
    }
    (out.len() == n).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_persist_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path());
        assert_eq!(c.end_offset_for(0, 10), (-1, -1));
        c.assign(0, 0).unwrap();
        c.assign(2, 50).unwrap();
        let c = LeaderEpochCache::load(dir.path());
        assert_eq!(c.latest_epoch(), Some(2));
        assert_eq!(c.end_offset_for(0, 80), (0, 50));
        assert_eq!(c.end_offset_for(1, 80), (0, 50));
        assert_eq!(c.end_offset_for(2, 80), (2, 80));
        assert_eq!(c.end_offset_for(5, 80), (2, 80));
    }
}

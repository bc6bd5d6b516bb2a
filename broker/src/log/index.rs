//! Sparse per-segment indexes: offset → file position, and timestamp → offset.
//!
//! Entries live in memory while a segment is active and are written to `.index` /
//! `.timeindex` when the segment rolls or the log closes. Offsets are stored relative to the
//! segment's base offset (u32), like Kafka; a file that fails validation is rebuilt by scanning.

use std::io::{self, Write};
use std::path::Path;

/// Offset index: (base offset of a batch − segment base, byte position of that batch).
#[derive(Debug, Default, Clone)]
pub struct OffsetIndex {
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    pub fn push(&mut self, relative_offset: u32, position: u32) {
        self.entries.push((relative_offset, position));
    }

    /// Position of the last indexed batch whose base offset is ≤ `relative_offset` (0 if none).
    pub fn lookup(&self, relative_offset: u32) -> u32 {
        let i = self.entries.partition_point(|e| e.0 <= relative_offset);
        if i == 0 { 0 } else { self.entries[i - 1].1 }
    }

    pub fn last(&self) -> Option<(u32, u32)> {
        self.entries.last().copied()
    }

    /// Drops entries at or beyond `position` (after truncation).
    pub fn truncate_to_position(&mut self, position: u32) {
        self.entries.retain(|e| e.1 < position);
    }

    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut buf = Vec::with_capacity(self.entries.len() * 8);
        for (o, p) in &self.entries {
            buf.extend_from_slice(&o.to_be_bytes());
            buf.extend_from_slice(&p.to_be_bytes());
        }
        write_file_atomically(path, &buf)
    }

    /// Loads an index file; `None` if it is missing or inconsistent with a segment of
    /// `segment_size` bytes (then the caller rebuilds it).
    pub fn load(path: &Path, segment_size: u64) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        if bytes.len() % 8 != 0 {
            return None;
        }
        let mut entries = Vec::with_capacity(bytes.len() / 8);
        for c in bytes.chunks_exact(8) {
            let o = u32::from_be_bytes(c[0..4].try_into().ok()?);
            let p = u32::from_be_bytes(c[4..8].try_into().ok()?);
            if let Some(&(lo, lp)) = entries.last()
                && (o <= lo || p <= lp)
            {
                return None;
            }
            if p as u64 >= segment_size {
                return None;
            }
            entries.push((o, p));
        }
        Some(Self { entries })
    }
}

/// Time index: (largest timestamp so far in the segment, relative base offset of the batch
/// that raised it). Timestamps are non-decreasing.
#[derive(Debug, Default, Clone)]
pub struct TimeIndex {
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// Appends if `timestamp` is larger than the last entry's.
    pub fn maybe_push(&mut self, timestamp: i64, relative_offset: u32) {
        match self.entries.last() {
            Some(&(t, o)) if timestamp <= t || relative_offset <= o => {}
            _ => self.entries.push((timestamp, relative_offset)),
        }
    }

    /// Relative offset from which to scan for the first batch with max timestamp ≥ `ts`:
    /// the last entry whose timestamp is < `ts` (all batches up to it are older), else 0.
    pub fn lookup(&self, ts: i64) -> u32 {
        let i = self.entries.partition_point(|e| e.0 < ts);
        if i == 0 { 0 } else { self.entries[i - 1].1 }
    }

    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.last().copied()
    }

    pub fn truncate_to_offset(&mut self, relative_offset: u32) {
        self.entries.retain(|e| e.1 < relative_offset);
    }

    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut buf = Vec::with_capacity(self.entries.len() * 12);
        for (t, o) in &self.entries {
            buf.extend_from_slice(&t.to_be_bytes());
            buf.extend_from_slice(&o.to_be_bytes());
        }
        write_file_atomically(path, &buf)
    }

    pub fn load(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        if bytes.len() % 12 != 0 {
            return None;
        }
        let mut entries = Vec::with_capacity(bytes.len() / 12);
        for c in bytes.chunks_exact(12) {
            let t = i64::from_be_bytes(c[0..8].try_into().ok()?);
            let o = u32::from_be_bytes(c[8..12].try_into().ok()?);
            if let Some(&(lt, lo)) = entries.last()
                && (t < lt || o <= lo)
            {
                return None;
            }
            entries.push((t, o));
        }
        Some(Self { entries })
    }
}

/// Writes `bytes` to `path` via a temporary file and rename, so a crash leaves either the old
/// or the new content, never a torn mix.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup() {
        let mut i = OffsetIndex::default();
        assert_eq!(i.lookup(5), 0);
        i.push(10, 4096);
        i.push(20, 8192);
        assert_eq!(i.lookup(5), 0);
        assert_eq!(i.lookup(10), 4096);
        assert_eq!(i.lookup(19), 4096);
        assert_eq!(i.lookup(100), 8192);
        i.truncate_to_position(8192);
        assert_eq!(i.last(), Some((10, 4096)));
    }

    #[test]
    fn time_lookup_and_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TimeIndex::default();
        t.maybe_push(100, 0);
        t.maybe_push(90, 1); // not larger: skipped
        t.maybe_push(200, 5);
        assert_eq!(t.lookup(100), 0);
        assert_eq!(t.lookup(150), 0);
        assert_eq!(t.lookup(201), 5);
        let p = dir.path().join("x.timeindex");
        t.write_to(&p).unwrap();
        assert_eq!(TimeIndex::load(&p).unwrap().last(), Some((200, 5)));
        let mut o = OffsetIndex::default();
        o.push(1, 10);
        o.push(2, 20);
        let p = dir.path().join("x.index");
        o.write_to(&p).unwrap();
        assert!(OffsetIndex::load(&p, 100).is_some());
        assert!(
            OffsetIndex::load(&p, 15).is_none(),
            "position beyond segment end"
        );
        std::fs::write(&p, [1, 2, 3]).unwrap();
        assert!(OffsetIndex::load(&p, 100).is_none());
    }
}

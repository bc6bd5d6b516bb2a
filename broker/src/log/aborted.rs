//! The aborted-transactions index of one partition: for every aborted transaction, its producer
//! and the offsets from its first batch to its abort marker. A `read_committed` Fetch answers
//! with the entries overlapping what it returns, so the consumer can drop those records.
//!
//! Kept in memory and in an append-only file (`aborted-txns`, 24 bytes an entry). An entry lost
//! to a crash is found again when recovery replays the active segment's markers; entries below
//! the log start offset are dropped when retention moves it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::index::write_file_atomically;

const FILE: &str = "aborted-txns";
const ENTRY: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

#[derive(Debug)]
pub struct AbortedIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
    file: Option<File>,
    unsynced: bool,
}

impl AbortedIndex {
    /// Loads the index of the partition in `dir` (a torn last entry is ignored).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(FILE);
        let bytes = std::fs::read(&path).unwrap_or_default();
        let entries = bytes
            .chunks_exact(ENTRY)
            .map(|c| {
                let n = |i: usize| i64::from_be_bytes(c[i..i + 8].try_into().expect("8 bytes"));
                AbortedTxn {
                    producer_id: n(0),
                    first_offset: n(8),
                    last_offset: n(16),
                }
            })
            .collect();
        Self {
            path,
            entries,
            file: None,
            unsynced: false,
        }
    }

    /// Adds an aborted transaction (once: replay after a crash may meet it again).
    pub fn record(&mut self, txn: AbortedTxn) -> io::Result<()> {
        if self.entries.contains(&txn) {
            return Ok(());
        }
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            // Drop a torn tail so entries stay aligned.
            let len = f.metadata()?.len();
            f.set_len(len - len % ENTRY as u64)?;
            self.file = Some(f);
        }
        let mut b = [0u8; ENTRY];
        b[0..8].copy_from_slice(&txn.producer_id.to_be_bytes());
        b[8..16].copy_from_slice(&txn.first_offset.to_be_bytes());
        b[16..24].copy_from_slice(&txn.last_offset.to_be_bytes());
        self.file.as_mut().expect("opened above").write_all(&b)?;
        self.unsynced = true;
        self.entries.push(txn);
        Ok(())
    }

    /// Aborted transactions with records in `[from, to)`, as a Fetch answer lists them.
    pub fn overlapping(&self, from: i64, to: i64) -> impl Iterator<Item = &AbortedTxn> {
        self.entries
            .iter()
            .filter(move |t| t.last_offset >= from && t.first_offset < to)
    }

    /// Whether the batch of `producer_id` at `offset` belongs to an aborted transaction.
    pub fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        self.entries.iter().any(|t| {
            t.producer_id == producer_id && t.first_offset <= offset && offset < t.last_offset
        })
    }

    /// Makes the appended entries durable (called when the log is flushed or rolled).
    pub fn sync(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.unsynced)
            && let Some(f) = &self.file
        {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Forgets transactions wholly below `log_start_offset`.
    pub fn truncate_below(&mut self, log_start_offset: i64) -> io::Result<()> {
        self.retain(|t| t.last_offset >= log_start_offset)
    }

    /// Forgets transactions whose abort marker is at or past `log_end` (a truncated replica).
    pub fn truncate_from(&mut self, log_end: i64) -> io::Result<()> {
        self.retain(|t| t.last_offset < log_end)
    }

    fn retain(&mut self, keep: impl Fn(&AbortedTxn) -> bool) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|t| keep(t));
        if self.entries.len() == before {
            return Ok(());
        }
        let mut b = Vec::with_capacity(self.entries.len() * ENTRY);
        for t in &self.entries {
            b.extend_from_slice(&t.producer_id.to_be_bytes());
            b.extend_from_slice(&t.first_offset.to_be_bytes());
            b.extend_from_slice(&t.last_offset.to_be_bytes());
        }
        self.file = None;
        self.unsynced = false;
        write_file_atomically(&self.path, &b)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reload_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = AbortedIndex::load(dir.path());
        let a = AbortedTxn {
            producer_id: 7,
            first_offset: 10,
            last_offset: 20,
        };
        let b = AbortedTxn {
            producer_id: 8,
            first_offset: 30,
            last_offset: 40,
        };
        idx.record(a).unwrap();
        idx.record(a).unwrap();
        idx.record(b).unwrap();
        assert_eq!(idx.len(), 2);
        assert!(idx.is_aborted(7, 15));
        assert!(!idx.is_aborted(7, 20));
        assert!(!idx.is_aborted(8, 15));
        assert_eq!(idx.overlapping(21, 35).count(), 1);
        let mut back = AbortedIndex::load(dir.path());
        assert_eq!(back.len(), 2);
        back.truncate_below(25).unwrap();
        assert_eq!(AbortedIndex::load(dir.path()).len(), 1);
    }
}

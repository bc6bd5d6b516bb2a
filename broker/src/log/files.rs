//! Segment files opened on demand, with a process-wide bound on how many stay open: a partition
//! does not pin a descriptor, so thousands of partitions fit under a 1,024 descriptor limit.
//!
//! Each segment owns a [`SegmentFile`]; [`SegmentFile::get`] hands out the open `File`, opening
//! it again if it was closed. Past the bound the least recently used file is closed (a reader
//! still holding its `Arc<File>` keeps that descriptor until it is done). Data written through a
//! closed descriptor stays in the page cache, and an fsync through a new one flushes it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

/// The bound never goes below this, so a tiny descriptor limit still leaves a working set.
const MIN_OPEN: usize = 16;
/// Nor above this: past it descriptors only cost kernel memory.
const MAX_OPEN: usize = 4096;

/// How many segment files stay open: a quarter of the soft descriptor limit (the rest is for
/// connections, index and checkpoint writes), within [`MIN_OPEN`, `MAX_OPEN`].
pub fn open_files_bound() -> usize {
    CACHE.capacity
}

/// The soft descriptor limit, read from /proc (1,024, the usual default, where it is missing).
fn soft_nofile_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            let soft = line["Max open files".len()..].split_whitespace().next()?;
            Some(if soft == "unlimited" {
                u64::MAX
            } else {
                soft.parse().ok()?
            })
        })
        .unwrap_or(1024)
}

fn bound_from_rlimit() -> usize {
    usize::try_from(soft_nofile_limit() / 4)
        .unwrap_or(MAX_OPEN)
        .clamp(MIN_OPEN, MAX_OPEN)
}

static CACHE: LazyLock<FileCache> = LazyLock::new(|| FileCache {
    capacity: bound_from_rlimit(),
    open: Mutex::new(HashMap::new()),
    next_id: AtomicU64::new(1),
    clock: AtomicU64::new(1),
});

struct FileCache {
    capacity: usize,
    /// Segment files whose descriptor is open, by id.
    open: Mutex<HashMap<u64, OpenEntry>>,
    next_id: AtomicU64,
    clock: AtomicU64,
}

/// An open segment file as the cache sees it. Its recency is shared, not read through the
/// file: upgrading the `Weak` under the cache lock could make this thread drop the last strong
/// reference there, and `SegmentFile::drop` takes the same lock.
struct OpenEntry {
    file: Weak<SegmentFile>,
    last_use: Arc<AtomicU64>,
}

impl FileCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, OpenEntry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Notes `file` as open and picks the least recently used files to close past the bound.
    fn admit(&self, file: &Arc<SegmentFile>) -> Vec<Arc<SegmentFile>> {
        let mut open = self.lock();
        open.insert(
            file.id,
            OpenEntry {
                file: Arc::downgrade(file),
                last_use: file.last_use.clone(),
            },
        );
        let mut victims = Vec::new();
        while open.len() > self.capacity {
            let oldest = open
                .iter()
                .filter(|(id, _)| **id != file.id)
                .min_by_key(|(_, entry)| entry.last_use.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            let Some(id) = oldest else { break };
            // The upgraded victim is dropped by the caller, after this lock is released.
            if let Some(v) = open.remove(&id).and_then(|entry| entry.file.upgrade()) {
                victims.push(v);
            }
        }
        victims
    }
}

/// One segment's log file, open or not.
pub struct SegmentFile {
    id: u64,
    path: PathBuf,
    file: Mutex<Option<Arc<File>>>,
    last_use: Arc<AtomicU64>,
}

impl std::fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SegmentFile {
    /// Takes over an already open `file` at `path` (it counts towards the bound).
    pub fn adopt(path: PathBuf, file: Arc<File>) -> Arc<Self> {
        let sf = Arc::new(Self {
            id: CACHE.next_id.fetch_add(1, Ordering::Relaxed),
            path,
            file: Mutex::new(Some(file)),
            last_use: Arc::new(AtomicU64::new(CACHE.tick())),
        });
        close_all(CACHE.admit(&sf));
        sf
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<File>>> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, reopened (read-write) if it was closed to stay under the bound.
    pub fn get(self: &Arc<Self>) -> io::Result<Arc<File>> {
        self.last_use.store(CACHE.tick(), Ordering::Relaxed);
        if let Some(f) = &*self.slot() {
            return Ok(f.clone());
        }
        let file = Arc::new(OpenOptions::new().read(true).write(true).open(&self.path)?);
        {
            let mut slot = self.slot();
            if let Some(f) = &*slot {
                return Ok(f.clone()); // another thread reopened it meanwhile
            }
            *slot = Some(file.clone());
        }
        close_all(CACHE.admit(self));
        Ok(file)
    }

    /// Whether the descriptor is open now (for tests and metrics).
    pub fn is_open(&self) -> bool {
        self.slot().is_some()
    }
}

fn close_all(victims: Vec<Arc<SegmentFile>>) {
    for v in victims {
        v.slot().take();
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        CACHE.lock().remove(&self.id);
    }
}

/// Segment files open now, process-wide.
pub fn open_count() -> usize {
    CACHE.lock().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_past_the_bound_are_closed_and_reopen_on_use() {
        let dir = tempfile::tempdir().unwrap();
        let bound = open_files_bound();
        let files: Vec<_> = (0..bound + 10)
            .map(|i| {
                let path = dir.path().join(format!("{i}.log"));
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .unwrap();
                SegmentFile::adopt(path, Arc::new(f))
            })
            .collect();
        // Other tests in this process may hold files too; ours alone exceed the bound.
        assert!(open_count() <= bound);
        assert!(!files[0].is_open(), "the oldest was closed");
        assert!(files[bound + 9].is_open());
        use std::os::unix::fs::FileExt;
        files[0].get().unwrap().write_all_at(b"x", 0).unwrap();
        assert!(files[0].is_open());
        assert!(open_count() <= bound);
        drop(files);
    }
}

//! One segment of a partition log: `<base offset>.log` holding batches back to back exactly as
//! produced (base offset and leader epoch rewritten), plus its sparse indexes.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::files::SegmentFile;
use super::index::{OffsetIndex, TimeIndex};
use odradek_protocol::records::{BATCH_HEADER_LEN, BatchHeader, RecordsError, verify_crc};

/// File name stem for a segment: the base offset, zero-padded like Kafka's.
pub fn segment_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: i64,
    /// The log file, opened on demand (see [`super::files`]).
    file: Arc<SegmentFile>,
    /// Bytes of valid batches in the file.
    pub size: u64,
    /// One past the last offset stored here (== base offset while empty).
    pub next_offset: i64,
    /// Largest batch max-timestamp, -1 while empty.
    pub max_timestamp: i64,
    /// Base offset of the batch holding `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// When the segment got its first batch (wall clock ms), for `segment.ms` rolling.
    pub first_append_ms: Option<i64>,
    /// Wall clock ms of the last write, for retention of tombstones and age.
    pub last_modified_ms: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u64,
    dir: PathBuf,
}

impl Segment {
    pub fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
        dir.join(format!("{}.log", segment_stem(base_offset)))
    }
    fn index_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}.index", segment_stem(self.base_offset)))
    }
    fn time_index_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}.timeindex", segment_stem(self.base_offset)))
    }

    /// Creates a new empty segment file.
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> io::Result<Self> {
        let path = Self::log_path(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(Self::empty(
            dir,
            base_offset,
            SegmentFile::adopt(path, Arc::new(file)),
            now_ms,
        ))
    }

    fn empty(dir: &Path, base_offset: i64, file: Arc<SegmentFile>, now_ms: i64) -> Self {
        Self {
            base_offset,
            file,
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_append_ms: None,
            last_modified_ms: now_ms,
            offset_index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_index: 0,
            dir: dir.to_path_buf(),
        }
    }

    /// Opens an existing segment. With `check_crc` (the active segment) every batch is
    /// verified and the file is truncated at the first torn or corrupt batch; otherwise the
    /// index files are trusted when they validate, and rebuilt by a header scan when not.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        check_crc: bool,
        index_interval: u32,
    ) -> io::Result<(Self, Option<u64>)> {
        let path = Self::log_path(dir, base_offset);
        let file = Arc::new(OpenOptions::new().read(true).write(true).open(&path)?);
        let meta = file.metadata()?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let file_size = meta.len();
        let mut seg = Self::empty(
            dir,
            base_offset,
            SegmentFile::adopt(path.clone(), file.clone()),
            mtime,
        );
        seg.size = file_size;
        let mut scan_from = 0u64;
        if !check_crc
            && let (Some(oi), Some(ti)) = (
                OffsetIndex::load(&seg.index_path(), file_size),
                TimeIndex::load(&seg.time_index_path()),
            )
        {
            if let Some((rel, pos)) = oi.last() {
                scan_from = pos as u64;
                seg.next_offset = base_offset + rel as i64;
            }
            if let Some((ts, rel)) = ti.last() {
                seg.max_timestamp = ts;
                seg.offset_of_max_timestamp = base_offset + rel as i64;
            }
            seg.offset_index = oi;
            seg.time_index = ti;
            // The tail after the last index entry is scanned below without re-indexing it.
            seg.bytes_since_index = 0;
        }
        let rebuild_index = scan_from == 0;
        let mut reader = SegmentReader::new(file.clone(), scan_from, file_size);
        let mut valid_end = scan_from;
        let mut truncated_at = None;
        loop {
            let item = if check_crc {
                reader.next_batch_checked()
            } else {
                reader.next_header().map(|o| o.map(|(p, h)| (p, h, Ok(()))))
            };
            match item {
                Ok(None) => break,
                Ok(Some((pos, h, Ok(())))) if h.base_offset >= seg.next_offset || pos == 0 => {
                    seg.note_batch(pos, &h, rebuild_index, index_interval);
                    valid_end = pos + h.total_len() as u64;
                }
                Ok(Some((pos, h, check))) => {
                    let why = match check {
                        Err(e) => e.to_string(),
                        Ok(()) => format!(
                            "offset {} does not follow {}",
                            h.base_offset, seg.next_offset
                        ),
                    };
                    tracing::warn!(segment = %path.display(), position = pos, "invalid batch: {why}");
                    truncated_at = Some(pos);
                    break;
                }
                Err(ScanError::Io(e)) => return Err(e),
                Err(ScanError::Batch { position, error }) => {
                    tracing::warn!(segment = %path.display(), position, "invalid batch: {error}");
                    truncated_at = Some(position);
                    break;
                }
            }
        }
        if valid_end < file_size {
            if !check_crc && truncated_at.is_some() {
                // A sealed segment should never be torn; keep what validates and say so.
                tracing::warn!(segment = %path.display(), valid_end, file_size, "truncating corrupt tail of a sealed segment");
            }
            file.set_len(valid_end)?;
            file.sync_all()?;
            seg.offset_index.truncate_to_position(valid_end as u32);
            truncated_at = Some(valid_end);
        }
        seg.size = valid_end;
        Ok((seg, truncated_at))
    }

    /// Records a batch written at `position` in the in-memory indexes and counters.
    fn note_batch(&mut self, position: u64, h: &BatchHeader, index: bool, index_interval: u32) {
        let rel = (h.base_offset - self.base_offset) as u32;
        if index && (position == 0 || self.bytes_since_index >= index_interval as u64) {
            self.offset_index.push(rel, position as u32);
            self.time_index
                .maybe_push(h.max_timestamp.max(self.max_timestamp), rel);
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += h.total_len() as u64;
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.base_offset;
        }
        if self.first_append_ms.is_none() {
            self.first_append_ms = Some(if h.max_timestamp >= 0 {
                h.max_timestamp
            } else {
                self.last_modified_ms
            });
        }
        self.next_offset = h.last_offset() + 1;
    }

    /// Appends the bytes of whole batches (already offset-stamped) and indexes them.
    pub fn append(
        &mut self,
        bytes: &[u8],
        headers: &[BatchHeader],
        index_interval: u32,
        now_ms: i64,
    ) -> io::Result<()> {
        self.file.get()?.write_all_at(bytes, self.size)?;
        if self.first_append_ms.is_none() {
            self.first_append_ms = Some(now_ms);
        }
        let mut pos = self.size;
        for h in headers {
            self.note_batch(pos, h, true, index_interval);
            pos += h.total_len() as u64;
        }
        self.size = pos;
        self.last_modified_ms = now_ms;
        Ok(())
    }

    /// The position and header of the first batch whose last offset is ≥ `offset`, reading at
    /// most up to `end` bytes.
    pub fn find(&self, offset: i64, end: u64) -> io::Result<Option<(u64, BatchHeader)>> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let rel = (offset.max(self.base_offset) - self.base_offset) as u32;
        let start = self.offset_index.lookup(rel) as u64;
        let mut reader = SegmentReader::new(self.file.get()?, start, end.min(self.size));
        while let Some((pos, h)) = reader.next_header().map_err(ScanError::into_io)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }

    /// The first batch whose max timestamp is ≥ `ts`.
    pub fn find_by_timestamp(&self, ts: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        if self.max_timestamp < ts {
            return Ok(None);
        }
        let rel = self.time_index.lookup(ts);
        let start = self.offset_index.lookup(rel) as u64;
        let mut reader = SegmentReader::new(self.file.get()?, start, self.size);
        while let Some((pos, h)) = reader.next_header().map_err(ScanError::into_io)? {
            if h.max_timestamp >= ts {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }

    /// Reads `len` bytes at `position`.
    pub fn read(file: &File, position: u64, len: usize) -> io::Result<Bytes> {
        let mut buf = BytesMut::zeroed(len);
        let mut done = 0;
        while done < len {
            let n = file.read_at(&mut buf[done..], position + done as u64)?;
            if n == 0 {
                buf.truncate(done);
                break;
            }
            done += n;
        }
        Ok(buf.freeze())
    }

    /// A reader over the batches from `position`.
    pub fn reader(&self, position: u64) -> io::Result<SegmentReader> {
        Ok(SegmentReader::new(self.file.get()?, position, self.size))
    }

    /// The open log file (opened again if it was closed to stay under the descriptor bound).
    pub fn file(&self) -> io::Result<Arc<File>> {
        self.file.get()
    }

    /// The segment's file handle, for flushing later without holding the segment.
    pub fn handle(&self) -> Arc<SegmentFile> {
        self.file.clone()
    }

    /// Writes the index files (on roll and close).
    pub fn write_indexes(&mut self) -> io::Result<()> {
        // A final time entry makes the last entry carry the segment's true max timestamp.
        if self.max_timestamp >= 0 {
            let rel = (self.offset_of_max_timestamp - self.base_offset) as u32;
            self.time_index.maybe_push(self.max_timestamp, rel);
        }
        self.offset_index.write_to(&self.index_path())?;
        self.time_index.write_to(&self.time_index_path())
    }

    /// Deletes the segment's files.
    pub fn delete_files(&self) -> io::Result<()> {
        for p in [
            Self::log_path(&self.dir, self.base_offset),
            self.index_path(),
            self.time_index_path(),
        ] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// Why a scan stopped early.
#[derive(Debug)]
pub enum ScanError {
    Io(io::Error),
    Batch { position: u64, error: RecordsError },
}

impl ScanError {
    pub fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            Self::Batch { position, error } => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("corrupt batch at position {position}: {error}"),
            ),
        }
    }
}

/// Sequential batch reader over a segment file with a read-ahead window, so a scan costs one
/// syscall per window rather than one per batch.
#[derive(Debug)]
pub struct SegmentReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 64 * 1024;

impl SegmentReader {
    pub fn new(file: Arc<File>, pos: u64, end: u64) -> Self {
        Self {
            file,
            pos,
            end,
            window: Vec::new(),
            window_start: 0,
        }
    }

    /// Makes `[pos, pos + len)` available in the window; false if the file ends before.
    fn ensure(&mut self, pos: u64, len: usize) -> io::Result<bool> {
        if pos + len as u64 > self.end {
            return Ok(false);
        }
        let have = pos >= self.window_start
            && pos + len as u64 <= self.window_start + self.window.len() as u64;
        if have {
            return Ok(true);
        }
        let want = len.max(WINDOW).min((self.end - pos) as usize);
        self.window.resize(want, 0);
        let mut done = 0;
        while done < want {
            let n = self
                .file
                .read_at(&mut self.window[done..], pos + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        self.window.truncate(done);
        self.window_start = pos;
        Ok(done >= len)
    }

    fn slice(&self, pos: u64, len: usize) -> &[u8] {
        let at = (pos - self.window_start) as usize;
        &self.window[at..at + len]
    }

    /// The next batch header (its body is skipped unread when it lies beyond the window).
    pub fn next_header(&mut self) -> Result<Option<(u64, BatchHeader)>, ScanError> {
        let pos = self.pos;
        if pos >= self.end {
            return Ok(None);
        }
        if !self.ensure(pos, BATCH_HEADER_LEN).map_err(ScanError::Io)? {
            return Err(ScanError::Batch {
                position: pos,
                error: RecordsError::Truncated {
                    base_offset: -1,
                    needed: BATCH_HEADER_LEN,
                    available: (self.end - pos) as usize,
                },
            });
        }
        let h = BatchHeader::parse(self.slice(pos, BATCH_HEADER_LEN)).map_err(|error| {
            ScanError::Batch {
                position: pos,
                error,
            }
        })?;
        let total = h.total_len() as u64;
        if pos + total > self.end {
            return Err(ScanError::Batch {
                position: pos,
                error: RecordsError::Truncated {
                    base_offset: -1,
                    needed: total as usize,
                    available: (self.end - pos) as usize,
                },
            });
        }
        self.pos = pos + total;
        Ok(Some((pos, h)))
    }

    /// The next whole batch with its CRC checked; the check result is returned, not raised, so
    /// recovery can name the position.
    #[allow(clippy::type_complexity)]
    pub fn next_batch_checked(
        &mut self,
    ) -> Result<Option<(u64, BatchHeader, Result<(), RecordsError>)>, ScanError> {
        let Some((pos, h)) = self.next_header()? else {
            return Ok(None);
        };
        let total = h.total_len();
        if !self.ensure(pos, total).map_err(ScanError::Io)? {
            return Err(ScanError::Batch {
                position: pos,
                error: RecordsError::Truncated {
                    base_offset: -1,
                    needed: total,
                    available: (self.end - pos) as usize,
                },
            });
        }
        let check = verify_crc(self.slice(pos, total));
        Ok(Some((pos, h, check)))
    }

    /// The next whole batch's bytes (copied out of the window).
    pub fn next_batch(&mut self) -> Result<Option<(u64, BatchHeader, Bytes)>, ScanError> {
        let Some((pos, h)) = self.next_header()? else {
            return Ok(None);
        };
        let total = h.total_len();
        if !self.ensure(pos, total).map_err(ScanError::Io)? {
            return Err(ScanError::Batch {
                position: pos,
                error: RecordsError::Truncated {
                    base_offset: -1,
                    needed: total,
                    available: (self.end - pos) as usize,
                },
            });
        }
        Ok(Some((
            pos,
            h,
            Bytes::copy_from_slice(self.slice(pos, total)),
        )))
    }
}

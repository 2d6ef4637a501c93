//! The durable log: one header value and a sequence of records in one file,
//! written as checksummed JSON frames, synced in batches (group commit) and
//! replaced atomically for snapshots.
//!
//! The log is generic over the header `H` and record `R` types; it stores
//! bytes and knows nothing of Raft.
//!
//! # File format
//!
//! ```text
//! "RAFTLOG 0001\n"                      magic: format name, 4-digit version
//! [len u32 LE][crc32 u32 LE][JSON]      the header
//! [len u32 LE][crc32 u32 LE][JSON]      record 0
//! ...                                   record 1, 2, ...
//! 00 00 00 ...                          zero bytes to the end: preallocated
//! ```
//!
//! `len` is the JSON length, 1 to [`MAX_FRAME_LEN`]. `crc32` (IEEE, as
//! `crc32fast` computes it) covers the four length bytes and then the JSON,
//! so every byte of a frame but the checksum itself is vouched for.
//!
//! The frames may be followed by zero bytes up to the end of the file:
//! space allocated ahead of the records, so that an append overwrites
//! blocks the file already has instead of growing it, and its `fdatasync`
//! has no new file length or block allocation to commit (see
//! [`Batch::write`]); the writer leaves fewer than [`PREALLOC_CHUNK`] of
//! them, and recovery accepts any number. They are not a frame (a length of
//! 0 is impossible), and the next record is written over them, at the end
//! of the last frame.
//!
//! Next to the log live `<log>.lock` (see [`crate::lockfile`]) and, during a
//! [`FileLog::replace`] or after a crash in one, `<log>.tmp`, which is
//! ignored and overwritten.
//!
//! # Recovery
//!
//! Appends go right after the last frame, so a crash can only damage what
//! follows it: a torn write leaves a final frame that is incomplete or fails
//! its checksum, maybe followed by zeros, and nothing valid after it.
//! Recovery therefore reads frames until the first bad one and then:
//!
//! - if it and every byte after it are zero, they are preallocated space:
//!   kept as they are, without a warning, and written over by the next
//!   append. (A write torn so that only zeros reached the disk looks the
//!   same, and loses nothing: its records were never reported durable.)
//! - otherwise it asks whether a valid frame starts at any later byte
//!   offset:
//!   - no: the bad frame and everything after it are the tail of an
//!     interrupted write; they are dropped with a warning naming the file,
//!     offset and record number, and the file is truncated to the intact
//!     prefix before `open` returns (with the preallocated space after it,
//!     which later appends allocate again);
//!   - yes: something damaged the middle of the log (a flipped bit, a
//!     corrupted length that points past the end, a zeroed block); `open`
//!     fails with [`LogError::Corrupt`] naming the offset and record, and
//!     never drops the records after it.
//!
//! A frame whose checksum matches but whose JSON does not decode is always an
//! error, as is any damage to the header. The rule is conservative: a crash
//! that persisted the pages of one batched write out of order looks like
//! damage in the middle and is refused rather than guessed at.
//!
//! Recovery reads the whole file into memory, preallocated zeros included.
//! The log is meant to be compacted once it [grew lots](LogSize::grew_lots),
//! so it stays within a small multiple of the snapshot, which the server
//! holds in memory anyway.

mod error;
mod format;
mod recover;
mod size;

pub use error::{Frame, LogError};
pub use format::{MAGIC, MAGIC_LEN, MAX_FRAME_LEN, VERSION};
pub use recover::{Parsed, Recovered, parse};
pub use size::LogSize;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::marker::PhantomData;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::lockfile::{LockError, LockFile};
use error::io_error;
use format::{FRAME_HEADER_LEN, check_magic, encode_frame};
use recover::parse_header;

/// The file is extended to whole multiples of this many bytes, by writing
/// zeros, so that most batches overwrite blocks the file already has: their
/// `fdatasync` then has no new length or allocation to commit to the
/// journal. Measured on ext4 on a virtual disk, with 4 KiB batches: about
/// 160 µs per `fdatasync` past the end of the file, 105 µs over zeros
/// already synced, and 138 µs into `fallocate`d space, whose unwritten
/// extents still need a journal commit when first written; so the zeros
/// are really written. A megabyte (about 2 ms to write and sync) makes an
/// extension rare, once per megabyte of records, and keeps the zero tail
/// small for the disk and for recovery, which reads and checks it at every
/// open.
pub const PREALLOC_CHUNK: u64 = 1 << 20;

/// The zeros written to preallocate, shared so that no extension allocates
/// (a zero-initialised static takes no room in the binary).
static ZEROS: [u8; PREALLOC_CHUNK as usize] = [0; PREALLOC_CHUNK as usize];

/// A written batch's buffer is reused for the next appends unless it grew
/// past this, so one huge batch does not pin its memory for the log's
/// lifetime.
const PENDING_KEEP_CAPACITY: usize = 1 << 20;

/// An open, locked log file. See the [module docs](self) for the format.
///
/// Dropping it releases the lock and discards records appended since the
/// last [`sync`](FileLog::sync), exactly as a crash would.
#[derive(Debug)]
pub struct FileLog<H, R> {
    path: PathBuf,
    /// Shared with the [`Batch`] in flight, which another thread may be writing.
    file: Arc<File>,
    /// Held, never read: dropping it releases the lock.
    _lock: LockFile,
    /// Frames appended since the last sync, written by the next sync.
    pending: Vec<u8>,
    pending_records: u64,
    /// The bytes and records of the batch taken and not yet finished.
    in_flight: Option<(u64, u64)>,
    /// Bytes of frames (magic, header, records) and records in the file,
    /// excluding `pending` and the batch in flight; the next batch is
    /// written at `frames_len`.
    frames_len: u64,
    file_records: u64,
    /// The file's length: `frames_len`, then zeros preallocated for the
    /// next batches (excluding any the batch in flight writes).
    allocated_len: u64,
    /// The file length just past the header.
    base_len: u64,
    /// The first write error, once one has happened; see [`LogError::Poisoned`].
    poisoned: Option<String>,
    /// `fn` so the log is `Send` and `Sync` whatever `H` and `R` are: it
    /// holds bytes, never values.
    _types: PhantomData<fn(&H, &R)>,
}

impl<H, R> FileLog<H, R>
where
    H: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    /// Creates a new log holding only `header`, durably (the file and its
    /// directory entry are synced), and returns it locked. Fails with
    /// [`LogError::AlreadyExists`] if `path` exists.
    pub fn create(path: impl AsRef<Path>, header: &H) -> Result<Self, LogError> {
        let path = path.as_ref();
        let lock = take_lock(path)?;
        let mut image = MAGIC.to_vec();
        encode_frame(header, &mut image).map_err(|what| encode_error(path, what))?;
        let file = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(LogError::AlreadyExists {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io_error(path, "create")(e)),
        };
        if let Err(e) = write_image(&file, &image, path).and_then(|()| sync_parent(path)) {
            // A half-written file would make every later `create` fail with
            // "already exists" and every `open` fail on the torn header; it
            // holds nothing of value, and the lock keeps others off it.
            let _ = fs::remove_file(path);
            return Err(e);
        }
        let len = image.len() as u64;
        Ok(Self::new(path, file, lock, len, len, len, 0))
    }

    /// Opens and locks an existing log and reads it back, repairing a torn
    /// tail (see the [module docs](self)); the file is truncated to its
    /// intact prefix before this returns. A tail of preallocated zeros is
    /// kept, and the next batch is written over it.
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Recovered<H, R>), LogError> {
        let path = path.as_ref();
        let lock = take_lock(path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error(path, "open"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_error(path, "read"))?;
        let parsed: Parsed<H, R> = parse(path, &bytes)?;
        let kept_len = parsed.valid_len + parsed.zero_tail_len;
        if kept_len < bytes.len() as u64 {
            file.set_len(kept_len).map_err(io_error(path, "truncate"))?;
            sync_data(&file, path)?;
        }
        let records = parsed.recovered.records.len() as u64;
        let log = Self::new(
            path,
            file,
            lock,
            parsed.header_end,
            parsed.valid_len,
            kept_len,
            records,
        );
        Ok((log, parsed.recovered))
    }

    /// Appends `records` to the in-memory batch that the next
    /// [`sync`](FileLog::sync) writes; no system call. All or nothing: if
    /// one record cannot be encoded, none of them is appended.
    pub fn append(&mut self, records: &[R]) -> Result<(), LogError> {
        self.check_poisoned()?;
        let start = self.pending.len();
        for record in records {
            if let Err(what) = encode_frame(record, &mut self.pending) {
                self.pending.truncate(start);
                return Err(encode_error(&self.path, what));
            }
        }
        self.pending_records += records.len() as u64;
        Ok(())
    }

    /// Makes every appended record durable with one `write` and one
    /// `fdatasync` (none if nothing is pending; a second `write` of zeros
    /// when the batch extends the file, see [`Batch::write`]). If any of
    /// them fails, the log is poisoned: what reached the disk is unknown, so
    /// this and every later call fail rather than write after a possibly
    /// torn frame.
    ///
    /// The same as [`take_batch`](FileLog::take_batch), [`Batch::write`] and
    /// [`finish_batch`](FileLog::finish_batch) in a row.
    pub fn sync(&mut self) -> Result<(), LogError> {
        let Some(batch) = self.take_batch()? else {
            return Ok(());
        };
        let result = batch.write();
        self.finish_batch(batch, result)
    }

    /// Takes every appended record as one batch to make durable, maybe on
    /// another thread, while appends go on; `None` if nothing is pending.
    /// Hand the batch and the outcome of its [`write`](Batch::write) back to
    /// [`finish_batch`](FileLog::finish_batch) before taking the next: one
    /// batch is in flight at a time, so the file is written in order.
    pub fn take_batch(&mut self) -> Result<Option<Batch>, LogError> {
        self.check_poisoned()?;
        assert!(
            self.in_flight.is_none(),
            "one batch at a time: the previous batch of {} was not finished",
            self.path.display()
        );
        if self.pending.is_empty() {
            return Ok(None);
        }
        self.in_flight = Some((self.pending.len() as u64, self.pending_records));
        self.pending_records = 0;
        Ok(Some(Batch {
            file: self.file.clone(),
            path: self.path.clone(),
            offset: self.frames_len,
            allocated_len: self.allocated_len,
            bytes: std::mem::take(&mut self.pending),
        }))
    }

    /// Takes back the batch in flight with the outcome of its write. An
    /// error poisons the log.
    pub fn finish_batch(
        &mut self,
        mut batch: Batch,
        result: Result<(), LogError>,
    ) -> Result<(), LogError> {
        let (bytes, records) = self
            .in_flight
            .take()
            .expect("finish_batch without a batch in flight");
        if let Err(e) = result {
            return Err(self.poison(e));
        }
        self.frames_len += bytes;
        self.file_records += records;
        self.allocated_len = batch.allocated_len_after();
        if self.pending.is_empty() && batch.bytes.capacity() <= PENDING_KEEP_CAPACITY {
            // Reuse the batch's buffer for the next appends.
            batch.bytes.clear();
            std::mem::swap(&mut self.pending, &mut batch.bytes);
        }
        Ok(())
    }

    /// Atomically replaces the whole log by `header` and `records` (a
    /// snapshot or a compaction): writes `<log>.tmp`, fdatasyncs it, renames
    /// it over the log and fsyncs the directory. Later appends go to the new
    /// file.
    ///
    /// The new file ends at its last frame, as a created one does: the first
    /// batch written after it preallocates. So this, which the caller may
    /// run on its event loop, takes no longer than before, and the zeros are
    /// written by whichever thread writes that batch.
    ///
    /// Records appended but not yet synced are dropped, not written: the new
    /// header and records must describe the complete state, as a Raft
    /// snapshot does, so writing them to a file about to be replaced would
    /// only cost a write and an fdatasync. Once this returns `Ok` they are as
    /// durable as the state that supersedes them.
    ///
    /// All or nothing: on an encoding error or an I/O error before the
    /// rename, the old log and the pending records are untouched and the
    /// log stays usable. A failure of the rename or of the directory sync
    /// leaves it unknown which file is the log, so it poisons the log.
    pub fn replace(&mut self, header: &H, records: &[R]) -> Result<(), LogError> {
        self.check_poisoned()?;
        assert!(
            self.in_flight.is_none(),
            "replace while a batch of {} is in flight",
            self.path.display()
        );
        let mut image = MAGIC.to_vec();
        encode_frame(header, &mut image).map_err(|what| encode_error(&self.path, what))?;
        let header_end = image.len() as u64;
        for record in records {
            encode_frame(record, &mut image).map_err(|what| encode_error(&self.path, what))?;
        }
        let tmp = sibling(&self.path, ".tmp");
        let file = write_temp(&tmp, &image).inspect_err(|_| {
            // Only a stale temporary file is lost; the log is untouched.
            let _ = fs::remove_file(&tmp);
        })?;
        if let Err(e) = fs::rename(&tmp, &self.path)
            .map_err(io_error(&self.path, "rename"))
            .and_then(|()| sync_parent(&self.path))
        {
            return Err(self.poison(e));
        }
        self.file = Arc::new(file);
        self.frames_len = image.len() as u64;
        self.allocated_len = self.frames_len;
        self.base_len = header_end;
        self.file_records = records.len() as u64;
        self.pending.clear();
        self.pending_records = 0;
        Ok(())
    }

    /// The log's size, counting records appended but not yet synced.
    pub fn size(&self) -> LogSize {
        let (flying_bytes, flying_records) = self.in_flight.unwrap_or((0, 0));
        LogSize {
            bytes: self.frames_len + flying_bytes + self.pending.len() as u64,
            base_bytes: self.base_len,
            records: self.file_records + flying_records + self.pending_records,
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn new(
        path: &Path,
        file: File,
        lock: LockFile,
        base_len: u64,
        frames_len: u64,
        allocated_len: u64,
        file_records: u64,
    ) -> Self {
        FileLog {
            path: path.to_path_buf(),
            file: Arc::new(file),
            _lock: lock,
            pending: Vec::new(),
            pending_records: 0,
            in_flight: None,
            frames_len,
            file_records,
            allocated_len,
            base_len,
            poisoned: None,
            _types: PhantomData,
        }
    }

    fn check_poisoned(&self) -> Result<(), LogError> {
        match &self.poisoned {
            None => Ok(()),
            Some(cause) => Err(LogError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            }),
        }
    }

    /// Records `error` as the reason the log is unusable, and returns it.
    fn poison(&mut self, error: LogError) -> LogError {
        self.poisoned = Some(error.to_string());
        error
    }
}

/// Appended records on their way to the disk: see [`FileLog::take_batch`].
#[derive(Debug)]
pub struct Batch {
    file: Arc<File>,
    path: PathBuf,
    /// Where the batch goes: the end of the last frame in the file.
    offset: u64,
    /// The file's length when the batch was taken: the frames, then
    /// preallocated zeros.
    allocated_len: u64,
    bytes: Vec<u8>,
}

impl Batch {
    /// Writes the batch after the last frame of the log with one `pwrite`
    /// (more only if the kernel takes less) and makes it durable with one
    /// `fdatasync`. Blocks for as long as the disk takes; any thread may
    /// call it.
    ///
    /// A batch that ends past the preallocated zeros also extends the file
    /// with zeros to the next multiple of [`PREALLOC_CHUNK`], with a second
    /// `pwrite` covered by the same `fdatasync`, so that the next batches
    /// overwrite allocated blocks.
    pub fn write(&self) -> Result<(), LogError> {
        self.file
            .write_all_at(&self.bytes, self.offset)
            .map_err(io_error(&self.path, "write"))?;
        write_zeros(&self.file, self.zero_fill(), &self.path)?;
        sync_data(&self.file, &self.path)
    }

    /// The zeros written after the batch: from its end to the next multiple
    /// of [`PREALLOC_CHUNK`] if it ends past the preallocated ones, else
    /// none.
    fn zero_fill(&self) -> Range<u64> {
        let end = self.offset + self.bytes.len() as u64;
        if end <= self.allocated_len {
            return end..end;
        }
        end..end.next_multiple_of(PREALLOC_CHUNK)
    }

    /// The file's length once the batch is written.
    fn allocated_len_after(&self) -> u64 {
        self.allocated_len.max(self.zero_fill().end)
    }
}

/// Reads only the header of the log at `path`, without taking the lock, so
/// tools can show a running server's metadata. Reads no further than the
/// header frame.
pub fn read_header<H: DeserializeOwned>(path: impl AsRef<Path>) -> Result<H, LogError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(io_error(path, "open"))?;
    let mut reader = io::BufReader::new(file);
    let mut bytes = Vec::new();
    read_up_to(&mut reader, &mut bytes, MAGIC_LEN + FRAME_HEADER_LEN, path)?;
    check_magic(path, &bytes)?;
    let len_field: Option<[u8; 4]> = bytes
        .get(MAGIC_LEN..MAGIC_LEN + 4)
        .and_then(|b| b.try_into().ok());
    if let Some(len) = len_field.map(u32::from_le_bytes) {
        // Reading at most MAX_FRAME_LEN bytes, and only as many as the file
        // holds, so a damaged length cannot force a huge allocation.
        read_up_to(
            &mut reader,
            &mut bytes,
            len.min(MAX_FRAME_LEN) as usize,
            path,
        )?;
    }
    // Everything short or damaged is reported by the full check.
    parse_header(path, &bytes).map(|(header, _)| header)
}

/// Appends up to `limit` more bytes from `reader` to `bytes`, fewer at end
/// of file.
fn read_up_to(
    reader: &mut impl Read,
    bytes: &mut Vec<u8>,
    limit: usize,
    path: &Path,
) -> Result<(), LogError> {
    reader
        .take(limit as u64)
        .read_to_end(bytes)
        .map(drop)
        .map_err(io_error(path, "read"))
}

/// Locks `<log>.lock`, translating "held" into the log-level error.
fn take_lock(log: &Path) -> Result<LockFile, LogError> {
    LockFile::acquire(&sibling(log, ".lock")).map_err(|e| match e {
        LockError::Held { .. } => LogError::Locked {
            path: log.to_path_buf(),
        },
        LockError::Io { path, source } => LogError::Io {
            path,
            action: "lock",
            source,
        },
    })
}

/// Writes a whole log image at the start of a new file and makes it
/// durable with one `fdatasync`.
fn write_image(file: &File, image: &[u8], path: &Path) -> Result<(), LogError> {
    file.write_all_at(image, 0)
        .map_err(io_error(path, "write"))?;
    sync_data(file, path)
}

/// Writes zeros over `range` of the file, from [`ZEROS`]: one `pwrite` for
/// a range no longer than a [`PREALLOC_CHUNK`], none for an empty one.
fn write_zeros(file: &File, range: Range<u64>, path: &Path) -> Result<(), LogError> {
    let mut at = range.start;
    while at < range.end {
        let len = (range.end - at).min(PREALLOC_CHUNK);
        file.write_all_at(&ZEROS[..len as usize], at)
            .map_err(io_error(path, "preallocate"))?;
        at += len;
    }
    Ok(())
}

/// `fdatasync`, with an error naming the file.
fn sync_data(file: &File, path: &Path) -> Result<(), LogError> {
    file.sync_data().map_err(io_error(path, "fdatasync"))
}

/// Writes a complete log image to the temporary file `tmp`, replacing any
/// stale one left by a crash, and returns it open for writing.
fn write_temp(tmp: &Path, image: &[u8]) -> Result<File, LogError> {
    match fs::remove_file(tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(io_error(tmp, "remove stale temporary file")(e));
        }
        _ => {}
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io_error(tmp, "create"))?;
    write_image(&file, image, tmp)?;
    Ok(file)
}

/// Fsyncs the directory holding `path`, making a create or rename in it
/// durable.
fn sync_parent(path: &Path) -> Result<(), LogError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "fsync directory"))
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

fn encode_error(path: &Path, what: String) -> LogError {
    LogError::Encode {
        path: path.to_path_buf(),
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "raft-mio-filelog-unit-{name}-{}-{n}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn failed_write_poisons_the_log() {
        let dir = Scratch::new("poison");
        let path = dir.0.join("log");
        let mut log = FileLog::<String, u32>::create(&path, &"h".to_string()).unwrap();
        // A read-only handle makes the next write fail with EBADF, standing
        // in for a disk error.
        log.file = Arc::new(File::open(&path).unwrap());
        log.append(&[1]).unwrap();
        let first = log.sync().unwrap_err();
        assert!(
            matches!(
                first,
                LogError::Io {
                    action: "write",
                    ..
                }
            ),
            "{first}"
        );
        for later in [log.sync(), log.append(&[2]), log.replace(&"x".into(), &[])] {
            let err = later.unwrap_err();
            assert!(matches!(err, LogError::Poisoned { .. }), "{err}");
            assert!(err.to_string().contains("write failed"), "{err}");
        }
    }

    #[test]
    fn appends_go_on_while_a_batch_is_in_flight() {
        let dir = Scratch::new("batch");
        let path = dir.0.join("log");
        let mut log = FileLog::<String, u32>::create(&path, &"h".to_string()).unwrap();
        log.append(&[1, 2]).unwrap();
        let batch = log.take_batch().unwrap().expect("two records pending");
        log.append(&[3]).unwrap();
        assert_eq!(log.size().records, 3, "in flight and pending both count");
        let written = std::thread::spawn(move || {
            let result = batch.write();
            (batch, result)
        });
        let (batch, result) = written.join().unwrap();
        log.finish_batch(batch, result).unwrap();
        assert!(log.take_batch().unwrap().is_some(), "the third record");
        drop(log);
        let (_, recovered) = FileLog::<String, u32>::open(&path).unwrap();
        assert_eq!(recovered.records, [1, 2], "the unfinished batch is lost");
    }

    #[test]
    fn size_counts_pending_and_resets_on_replace() {
        let dir = Scratch::new("size");
        let path = dir.0.join("log");
        let mut log = FileLog::<String, u32>::create(&path, &"h".to_string()).unwrap();
        let base = log.size();
        assert_eq!(base.bytes, base.base_bytes);
        assert_eq!(base.bytes, fs::metadata(&path).unwrap().len());
        log.append(&[1, 2, 3]).unwrap();
        let grown = log.size();
        assert_eq!(grown.records, 3);
        log.sync().unwrap();
        assert_eq!(log.size(), grown);
        let bytes = fs::read(&path).unwrap();
        let parsed = parse::<String, u32>(&path, &bytes).unwrap();
        assert_eq!(
            grown.bytes, parsed.valid_len,
            "frames, not preallocated zeros"
        );
        assert_eq!(bytes.len() as u64, PREALLOC_CHUNK);
        log.replace(&"hh".into(), &[7]).unwrap();
        let replaced = log.size();
        assert_eq!(replaced.records, 1);
        assert_eq!(replaced.base_bytes, base.base_bytes + 1);
        assert_eq!(replaced.bytes, fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn sibling_appends_to_the_file_name() {
        assert_eq!(
            sibling(Path::new("a/b.log"), ".tmp"),
            PathBuf::from("a/b.log.tmp")
        );
    }
}

//! An exclusive advisory lock that keeps two servers off one log.
//!
//! The lock lives on a separate `<log>.lock` file next to the log rather than
//! on the log itself, because [`crate::filelog::FileLog::replace`] renames a
//! new file over the log: a lock on the log's inode would stay with the old,
//! unlinked file and leave the new one unprotected. The `.lock` file's inode
//! never changes, so the lock covers every generation of the log.
//!
//! The lock is `flock`-style (`File::try_lock`): it belongs to the open file,
//! so it is released when the [`LockFile`] is dropped or the process dies,
//! and a second attempt fails even from the same process. The `.lock` file is
//! left in place on release: deleting it would let a process that had
//! already opened the old inode lock it while a newcomer locks a fresh file
//! under the same name, and both would believe they hold the lock.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// How many times a held lock is tried again before it counts as taken.
const LOCK_RETRIES: u32 = 10;
/// The pause between tries.
const LOCK_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// An exclusive lock on a `.lock` file, held until this value is dropped.
#[derive(Debug)]
pub struct LockFile {
    /// Kept open only because closing it releases the lock.
    _file: File,
    path: PathBuf,
}

/// Why a lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another open file (in this or another process) holds the lock.
    Held {
        /// The `.lock` file.
        path: PathBuf,
    },
    /// The `.lock` file could not be opened or locked.
    Io {
        /// The `.lock` file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held { path } => {
                write!(f, "{} is locked by another process", path.display())
            }
            LockError::Io { path, source } => {
                write!(f, "{}: cannot lock: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Held { .. } => None,
            LockError::Io { source, .. } => Some(source),
        }
    }
}

impl LockFile {
    /// Creates `path` if needed and takes an exclusive lock on it without
    /// waiting.
    pub fn acquire(path: &Path) -> Result<LockFile, LockError> {
        let io_error = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        // A lock released a moment ago may still be held by a child process this one forks
        // (say, a test spawning a server): the child shares the lock until its exec closes
        // the file. Such a hold lasts microseconds, a real second server's lasts; retry
        // briefly before calling the log taken.
        for attempt in 0..=LOCK_RETRIES {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(LockFile {
                        _file: file,
                        path: path.to_path_buf(),
                    });
                }
                Err(TryLockError::WouldBlock) if attempt < LOCK_RETRIES => {
                    std::thread::sleep(LOCK_RETRY_PAUSE);
                }
                Err(TryLockError::WouldBlock) => break,
                Err(TryLockError::Error(source)) => return Err(io_error(source)),
            }
        }
        Err(LockError::Held {
            path: path.to_path_buf(),
        })
    }

    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn scratch_file(name: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!(
            "raft-mio-lockfile-{name}-{}-{n}.lock",
            std::process::id()
        ))
    }

    #[test]
    fn second_acquire_fails_until_first_is_dropped() {
        let path = scratch_file("twice");
        let first = LockFile::acquire(&path).unwrap();
        assert_eq!(first.path(), path);
        let err = LockFile::acquire(&path).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        assert!(err.to_string().contains("locked by another process"));
        drop(first);
        let again = LockFile::acquire(&path).unwrap();
        drop(again);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_path() {
        let path = scratch_file("nodir").join("x.lock");
        let err = LockFile::acquire(&path).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }));
        assert!(err.to_string().contains(&path.display().to_string()));
    }
}

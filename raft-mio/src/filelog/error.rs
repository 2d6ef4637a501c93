//! The error type of the file log: every variant names the file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Which frame of a log an error or warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The header, the first frame after the magic.
    Header,
    /// A record, numbered from 0 in file order (the index it would have in
    /// [`Recovered::records`](super::Recovered::records)).
    Record(u64),
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Header => f.write_str("header"),
            Frame::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// An error from the file log.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// A system call failed.
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done ("write", "fdatasync", "rename", ...).
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Damage that recovery must not paper over: a frame before the end
    /// fails its checksum, or an intact frame does not decode.
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Byte offset of the frame's length field.
        offset: u64,
        /// Which frame.
        frame: Frame,
        /// What is wrong with it.
        what: String,
    },
    /// The file does not start with the raft log magic.
    NotALog {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The magic names a format version this build cannot read.
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        version: u32,
    },
    /// Another open log (in this or another process) holds the lock.
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// `create` found the file already there.
    AlreadyExists {
        /// The log file.
        path: PathBuf,
    },
    /// A value could not be serialised, or its frame would exceed
    /// [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN). Nothing was written.
    Encode {
        /// The log file.
        path: PathBuf,
        /// Why.
        what: String,
    },
    /// An earlier write, fdatasync or rename failed, so the state on disk is
    /// unknown and the log refuses all further work.
    Poisoned {
        /// The log file.
        path: PathBuf,
        /// The first error, as text.
        cause: String,
    },
}

impl LogError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LogError::Io { path, .. }
            | LogError::Corrupt { path, .. }
            | LogError::NotALog { path, .. }
            | LogError::UnsupportedVersion { path, .. }
            | LogError::Locked { path }
            | LogError::AlreadyExists { path }
            | LogError::Encode { path, .. }
            | LogError::Poisoned { path, .. } => path,
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io {
                path,
                action,
                source,
            } => write!(f, "{}: {action} failed: {source}", path.display()),
            LogError::Corrupt {
                path,
                offset,
                frame,
                what,
            } => write!(
                f,
                "{}: {frame} at byte offset {offset} is corrupt: {what}",
                path.display()
            ),
            LogError::NotALog { path, detail } => {
                write!(f, "{} is not a raft log ({detail})", path.display())
            }
            LogError::UnsupportedVersion { path, version } => write!(
                f,
                "{}: unsupported raft log version {version} (this build reads version {})",
                path.display(),
                super::VERSION
            ),
            LogError::Locked { path } => {
                write!(f, "log {} is locked by another server", path.display())
            }
            LogError::AlreadyExists { path } => write!(f, "{} already exists", path.display()),
            LogError::Encode { path, what } => {
                write!(f, "{}: cannot encode: {what}", path.display())
            }
            LogError::Poisoned { path, cause } => write!(
                f,
                "log {} is unusable after an earlier write error: {cause}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Builds a closure that wraps an `io::Error` with the path and action, for
/// `map_err`. It borrows the path so that the success path allocates nothing.
pub(super) fn io_error(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> LogError {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

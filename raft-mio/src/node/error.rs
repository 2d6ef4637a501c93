//! Why a node could not start or run.

use std::fmt;
use std::io;
use std::path::PathBuf;

use raft_core::{BootstrapError, OpenError};

use crate::filelog::LogError;

/// An error that stops a node, with the file or address it is about.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The log file could not be created, opened, read or locked.
    Log(LogError),
    /// The log's contents were refused by the core (S4).
    Open {
        /// The log file.
        path: PathBuf,
        /// Why.
        error: OpenError,
    },
    /// Creating or joining a cluster was refused (bad address, timer, remotes).
    Bootstrap(BootstrapError),
    /// A system call of the poll loop or the listener failed.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The state machine refused a snapshot.
    Restore(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Log(e) => e.fmt(f),
            NodeError::Open { path, error } => write!(f, "{}: {error}", path.display()),
            NodeError::Bootstrap(e) => e.fmt(f),
            NodeError::Io { what, source } => write!(f, "{what}: {source}"),
            NodeError::Restore(why) => write!(f, "cannot restore snapshot: {why}"),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NodeError::Log(e) => Some(e),
            NodeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<LogError> for NodeError {
    fn from(e: LogError) -> NodeError {
        NodeError::Log(e)
    }
}

impl From<BootstrapError> for NodeError {
    fn from(e: BootstrapError) -> NodeError {
        NodeError::Bootstrap(e)
    }
}

/// Wraps an `io::Error` with what was being done, for `map_err`.
pub(crate) fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> NodeError {
    let what = what.into();
    move |source| NodeError::Io { what, source }
}

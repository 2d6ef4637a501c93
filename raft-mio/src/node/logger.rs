//! Where a node's log lines go.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use raft_core::LogLevel;

/// Receives every log line of a node: the core's, the transport's and the node's own.
pub type Logger = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// A logger that writes `SECONDS.MILLIS|LEVEL|text` lines to stderr for lines at `min` or
/// above.
pub fn stderr_logger(min: LogLevel) -> Logger {
    Arc::new(move |level, text| {
        if level >= min {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!("{}.{:03}|{level}|{text}", t.as_secs(), t.subsec_millis());
        }
    })
}

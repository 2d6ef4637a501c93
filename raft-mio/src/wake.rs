//! Waking a poll loop once per batch of work handed to it from other threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::Waker;

/// A waker that is woken at most once until the woken loop takes what is waiting: work
/// queued while a wake-up is pending rides on it, so many producers cost the loop one
/// wake-up (one `eventfd` write), not one each.
///
/// Producers queue their work first and then call [`wake`](WakeOnce::wake); the loop calls
/// [`taking`](WakeOnce::taking) before it takes everything queued. Work queued after that
/// call wakes the loop again; work queued before it is taken by it.
#[derive(Debug)]
pub(crate) struct WakeOnce {
    waker: Arc<Waker>,
    pending: AtomicBool,
}

impl WakeOnce {
    pub(crate) fn new(waker: Arc<Waker>) -> WakeOnce {
        WakeOnce {
            waker,
            pending: AtomicBool::new(false),
        }
    }

    /// Wakes the loop unless a wake-up is pending already. False if the loop's poll is gone.
    pub(crate) fn wake(&self) -> bool {
        self.pending.swap(true, Ordering::AcqRel) || self.waker.wake().is_ok()
    }

    /// The loop is about to take everything queued: the next work must wake it again.
    pub(crate) fn taking(&self) {
        self.pending.store(false, Ordering::Release);
    }
}

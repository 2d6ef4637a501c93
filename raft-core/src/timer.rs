//! The server's timers as data: one deadline per kind, the earliest is the next deadline.

use crate::Millis;

/// The kinds of timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Followers and candidates start an election; leaders check quorum (E1, E8).
    Election,
    /// Leaders send heartbeats; everyone expires old commands (R6, C7).
    Ping,
    /// A joining server asks again to be added (M7).
    Join,
    /// A leaving server asks again to be removed (M8).
    Leave,
    /// A leader tells followers no append has told the new commit index (R5).
    CommitNotify,
}

const ALL: [Timer; 5] = [
    Timer::Election,
    Timer::Ping,
    Timer::Join,
    Timer::Leave,
    Timer::CommitNotify,
];

/// One optional deadline per timer.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable([Option<Millis>; 5]);

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Millis) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Millis> {
        self.0[timer as usize]
    }

    /// The first timer due at `now`, stopped so it fires once.
    pub(crate) fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        let timer = ALL
            .into_iter()
            .find(|t| self.get(*t).is_some_and(|at| at <= now))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_fire_once_in_kind_order() {
        let mut t = TimerTable::default();
        t.set(Timer::Ping, Millis(5));
        t.set(Timer::Election, Millis(7));
        assert_eq!(t.pop_due(Millis(4)), None);
        assert_eq!(t.pop_due(Millis(9)), Some(Timer::Election));
        assert_eq!(t.pop_due(Millis(9)), Some(Timer::Ping));
        assert_eq!(t.pop_due(Millis(9)), None);
    }
}

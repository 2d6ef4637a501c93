//! The reference's failure-test scenarios (A3), engaged per server by name.

use std::fmt;
use std::str::FromStr;

/// A failure-test scenario. Crash points surface as `Action::Crash`; the others change how
/// the server behaves until cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureTest {
    /// Crash before a leader sends the append request of a new command.
    CrashBeforeSendAppendRequest,
    /// Crash right after a leader sent the append requests of a new command.
    CrashAfterSendAppendRequest,
    /// Crash before the leader answers a relayed command.
    CrashBeforeSendExecuteReply,
    /// Crash right after the leader answered a relayed command.
    CrashAfterSendExecuteReply,
    /// Crash before a follower relays a command.
    CrashBeforeSendExecuteRequest,
    /// Crash right after a follower relayed a command.
    CrashAfterSendExecuteRequest,
    /// Crash when an append request changes the log, before writing it.
    CrashAfterReceiveAppendRequestUpdate,
    /// Crash before answering an install-snapshot request.
    CrashBeforeSendSnapshotReply,
    /// Add one election timer to every election timeout, so this server loses elections.
    DelayElection,
    /// Start elections without sending vote requests.
    DontSendVoteRequest,
    /// Stop all RPC: nothing sent, received or connected.
    StopRaftRpc,
    /// Transfer leadership (as before a snapshot) at the next step, once.
    TransferLeadership,
    /// After the next new command's append requests, transfer leadership once.
    TransferLeadershipAfterSendAppendRequest,
}

const NAMES: &[(&str, FailureTest)] = &[
    (
        "crash-before-sending-append-request",
        FailureTest::CrashBeforeSendAppendRequest,
    ),
    (
        "crash-after-sending-append-request",
        FailureTest::CrashAfterSendAppendRequest,
    ),
    (
        "crash-before-sending-execute-command-reply",
        FailureTest::CrashBeforeSendExecuteReply,
    ),
    (
        "crash-after-sending-execute-command-reply",
        FailureTest::CrashAfterSendExecuteReply,
    ),
    (
        "crash-before-sending-execute-command-request",
        FailureTest::CrashBeforeSendExecuteRequest,
    ),
    (
        "crash-after-sending-execute-command-request",
        FailureTest::CrashAfterSendExecuteRequest,
    ),
    (
        "crash-after-receiving-append-request-update",
        FailureTest::CrashAfterReceiveAppendRequestUpdate,
    ),
    (
        "crash-before-sending-install-snapshot-reply",
        FailureTest::CrashBeforeSendSnapshotReply,
    ),
    ("delay-election", FailureTest::DelayElection),
    ("dont-send-vote-request", FailureTest::DontSendVoteRequest),
    ("stop-raft-rpc", FailureTest::StopRaftRpc),
    ("transfer-leadership", FailureTest::TransferLeadership),
    (
        "transfer-leadership-after-sending-append-request",
        FailureTest::TransferLeadershipAfterSendAppendRequest,
    ),
];

impl FailureTest {
    /// Every scenario.
    pub fn all() -> impl Iterator<Item = FailureTest> {
        NAMES.iter().map(|(_, t)| *t)
    }

    /// The reference's name for the scenario.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }
}

impl FromStr for FailureTest {
    type Err = crate::AdminError;

    fn from_str(s: &str) -> Result<FailureTest, crate::AdminError> {
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or(crate::AdminError::UnknownFailureTest)
    }
}

impl fmt::Display for FailureTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

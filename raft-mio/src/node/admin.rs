//! Administrative requests from a [`super::Handle`].

use raft_core::{Millis, Role};

use super::{Admin, Node, StateMachine};

impl<S: StateMachine> Node<S> {
    /// Runs `command` and returns the text to show the operator.
    pub(super) fn admin(&mut self, now: Millis, command: Admin) -> Result<String, String> {
        let result = self.admin_now(now, command);
        // Whatever the request did, its actions are carried out before the answer is read.
        if let Err(e) = self.drain(now) {
            return Err(e.to_string());
        }
        result
    }

    fn admin_now(&mut self, now: Millis, command: Admin) -> Result<String, String> {
        let server = &mut self.server;
        match command {
            Admin::Status => {
                let size = self.storage.size();
                Ok(format!(
                    "{}Log file: {} ({} bytes, {} records)",
                    server.status(now),
                    self.storage.path().display(),
                    size.bytes,
                    size.records
                ))
            }
            Admin::ClusterId => server
                .cluster_id()
                .map(|c| c.to_string())
                .ok_or_else(|| "cluster id not yet known (still joining)".to_owned()),
            Admin::ServerId => Ok(server.server_id().to_string()),
            Admin::Leave => server
                .leave(now)
                .map(|()| "leaving cluster".to_owned())
                .map_err(|e| e.to_string()),
            Admin::Kick(name) => server.kick(now, &name).map_err(|e| e.to_string()),
            Admin::ChangeElectionTimer(ms) => server
                .change_election_timer(now, ms)
                .map(str::to_owned)
                .map_err(|e| e.to_string()),
            Admin::SetBacklogThreshold(messages, bytes) => server
                .set_backlog_threshold(messages, bytes)
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
            Admin::TransferLeadership => {
                if server.role() != Role::Leader {
                    return Err("this server is not the leader".to_owned());
                }
                server.transfer_leadership(now);
                Ok("transferring leadership".to_owned())
            }
            Admin::FailureTest(name) => server
                .set_failure_test(now, &name)
                .map(str::to_owned)
                .map_err(|e| e.to_string()),
            Admin::Compact => self.compact(now),
        }
    }

    /// `cluster/compact`: snapshot now if the server may, else as soon as it may.
    fn compact(&mut self, now: Millis) -> Result<String, String> {
        let start = self.server.log_start();
        self.compact_forced = true;
        self.compact_recommended = None;
        self.maybe_snapshot(now).map_err(|e| e.to_string())?;
        if self.server.log_start() > start {
            Ok(format!(
                "snapshot taken: the log now starts at index {}",
                self.server.log_start()
            ))
        } else if self.compact_forced {
            Ok("handing over leadership first; the snapshot follows as a follower".to_owned())
        } else {
            Err("nothing to compact".to_owned())
        }
    }
}

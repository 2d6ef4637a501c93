//! The status report of `cluster/status` (A1), as a value with a `Display` in the reference's
//! layout.

use std::fmt;

use crate::{Address, ClusterId, Index, Nickname, Role, ServerId, Term};

/// Everything `cluster/status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This server's id.
    pub server_id: ServerId,
    /// The cluster's name.
    pub name: String,
    /// The cluster's id, if known.
    pub cluster_id: Option<ClusterId>,
    /// This server's address.
    pub address: Address,
    /// Membership state.
    pub state: MemberState,
    /// The addresses tried while joining.
    pub remotes: Vec<Address>,
    /// Servers being added (leader only): id, address, phase.
    pub adding: Vec<(ServerId, Address, &'static str)>,
    /// The server being removed (leader only).
    pub removing: Option<(ServerId, Address)>,
    /// The role.
    pub role: Role,
    /// The current term.
    pub term: Term,
    /// The known leader.
    pub leader: Option<ServerId>,
    /// The vote in the current term.
    pub vote: Option<ServerId>,
    /// Milliseconds since the last election started, and whether it was a transfer.
    pub election_started: Option<(u64, bool)>,
    /// Milliseconds since the last election was won.
    pub election_won: Option<u64>,
    /// The election timer in effect.
    pub election_timer: u64,
    /// A pending new election timer (leader only).
    pub election_timer_new: Option<u64>,
    /// The first index in the log.
    pub log_start: Index,
    /// One past the last index.
    pub log_end: Index,
    /// Entries not committed yet.
    pub uncommitted: u64,
    /// Entries not applied yet.
    pub unapplied: u64,
    /// The connections.
    pub connections: Vec<ConnectionStatus>,
    /// Connections lost so far.
    pub disconnections: u64,
    /// The configured servers.
    pub servers: Vec<ServerStatus>,
}

/// The membership state line of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Joining.
    Joining,
    /// Leaving.
    Leaving,
    /// Left.
    Left,
    /// A write failed.
    Failed,
    /// Retrying a failed election: probably cut off.
    Disconnected,
    /// A member in good standing.
    Member,
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberState::Joining => "joining cluster",
            MemberState::Leaving => "leaving cluster",
            MemberState::Left => "left cluster",
            MemberState::Failed => "failed",
            MemberState::Disconnected => "disconnected from the cluster (election timeout)",
            MemberState::Member => "cluster member",
        })
    }
}

/// One connection in the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// Opened by the other side.
    pub incoming: bool,
    /// The peer's nickname, or the address when its id is unknown.
    pub peer: String,
    /// False for an outgoing connection wanted but not established.
    pub connected: bool,
}

/// One configured server in the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// Its id.
    pub id: ServerId,
    /// Its address.
    pub address: Address,
    /// True for this server.
    pub is_self: bool,
    /// Its membership phase when not stable (leader only).
    pub phase: Option<&'static str>,
    /// Its vote (candidate only).
    pub vote: Option<ServerId>,
    /// Next and match index (leader only).
    pub indexes: Option<(Index, Index)>,
    /// Milliseconds since it last sent us a message.
    pub last_msg_ms_ago: Option<u64>,
}

fn who(sid: Option<ServerId>, me: ServerId) -> String {
    match sid {
        Some(s) if s == me => "self".to_owned(),
        Some(s) => s.nickname().to_string(),
        None => "unknown".to_owned(),
    }
}

impl Status {
    /// This server's nickname (W2).
    pub fn nickname(&self) -> Nickname {
        self.server_id.nickname()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let me = self.server_id;
        writeln!(f, "{}", me.nickname())?;
        writeln!(f, "Name: {}", self.name)?;
        match self.cluster_id {
            Some(c) => writeln!(f, "Cluster ID: {} ({})", c.nickname(), c)?,
            None => writeln!(f, "Cluster ID: not yet known")?,
        }
        writeln!(f, "Server ID: {} ({})", me.nickname(), me)?;
        writeln!(f, "Address: {}", self.address)?;
        writeln!(f, "Status: {}", self.state)?;
        if self.state == MemberState::Joining {
            write!(f, "Remotes for joining:")?;
            for r in &self.remotes {
                write!(f, " {r}")?;
            }
            writeln!(f)?;
        }
        for (sid, addr, phase) in &self.adding {
            writeln!(
                f,
                "Adding server {} ({} at {addr}) ({phase})",
                sid.nickname(),
                sid.nickname()
            )?;
        }
        if let Some((sid, addr)) = &self.removing {
            writeln!(
                f,
                "Removing server {} ({} at {addr}) (remove)",
                sid.nickname(),
                sid.nickname()
            )?;
        }
        writeln!(f, "Role: {}", self.role)?;
        writeln!(f, "Term: {}", self.term)?;
        writeln!(f, "Leader: {}", who(self.leader, me))?;
        writeln!(f, "Vote: {}", who(self.vote, me))?;
        writeln!(f)?;
        if let Some((ago, transfer)) = self.election_started {
            let reason = if transfer {
                "leadership_transfer"
            } else {
                "timeout"
            };
            writeln!(f, "Last Election started {ago} ms ago, reason: {reason}")?;
        }
        if let Some(ago) = self.election_won {
            writeln!(f, "Last Election won: {ago} ms ago")?;
        }
        write!(f, "Election timer: {}", self.election_timer)?;
        if let Some(new) = self.election_timer_new {
            write!(f, " (changing to {new})")?;
        }
        writeln!(f)?;
        writeln!(f, "Log: [{}, {}]", self.log_start, self.log_end)?;
        writeln!(f, "Entries not yet committed: {}", self.uncommitted)?;
        writeln!(f, "Entries not yet applied: {}", self.unapplied)?;
        write!(f, "Connections:")?;
        for c in &self.connections {
            let arrow = if c.incoming { "<-" } else { "->" };
            match c.connected {
                true => write!(f, " {arrow}{}", c.peer)?,
                false => write!(f, " ({arrow}{})", c.peer)?,
            }
        }
        writeln!(f)?;
        writeln!(f, "Disconnections: {}", self.disconnections)?;
        writeln!(f, "Servers:")?;
        for s in &self.servers {
            write!(
                f,
                "    {} ({} at {})",
                s.id.nickname(),
                s.id.nickname(),
                s.address
            )?;
            if s.is_self {
                write!(f, " (self)")?;
            }
            if let Some(phase) = s.phase {
                write!(f, " ({phase})")?;
            }
            if let Some(v) = s.vote {
                write!(f, " (voted for {})", v.nickname())?;
            }
            if let Some((next, matched)) = s.indexes {
                write!(f, " next_index={next} match_index={matched}")?;
            }
            if let Some(ago) = s.last_msg_ms_ago {
                write!(f, " last msg {ago} ms ago")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

//! Small readable names for everything the scripts mention: node `n` is server `nnnn0000-…`
//! (nickname "1111" for n1), entry ids are labelled `e1`, `e2`… in the order commands are
//! proposed, and `e0` is the initial snapshot's.

use std::collections::BTreeMap;

use raft_core::{Address, ClusterId, Configuration, EntryId, ServerId};

/// Node numbers run from 1 to 15, so every nickname is four equal hex digits (`ffff` for 15).
pub const MAX_NODE: usize = 15;

/// The cluster every script's servers belong to.
pub const CLUSTER: ClusterId = ClusterId::from_u128(0xc1c1 << 112);

/// The entry id of the initial snapshot, labelled `e0`.
pub const SNAPSHOT_EID: EntryId = EntryId::from_u128(0xe0e0 << 112);

/// The server id of node `n`: its nickname is the digit `n` four times ("1111", "2222", …).
pub fn sid(n: usize) -> ServerId {
    ServerId::from_u128((n as u128 * 0x1111) << 112)
}

/// The address of node `n`.
pub fn address(n: usize) -> Address {
    Address::parse(&format!("tcp:127.0.0.1:{}", 7000 + n)).expect("a valid address")
}

/// The node number of `sid`, if it is one of ours.
pub fn node_of(sid: ServerId) -> Option<usize> {
    (1..=MAX_NODE).find(|&n| self::sid(n) == sid)
}

/// Labels for entry ids, and the rewriting of core log lines into script names.
#[derive(Default)]
pub struct Names {
    labels: BTreeMap<EntryId, String>,
}

impl Names {
    pub fn new() -> Names {
        let mut names = Names::default();
        names.labels.insert(SNAPSHOT_EID, "e0".to_owned());
        names
    }

    /// Gives `eid` the next free label (`e1`, `e2`, …) and returns it.
    pub fn register(&mut self, eid: EntryId) -> String {
        let next = self.next_label();
        self.labels.entry(eid).or_insert(next).clone()
    }

    /// The label the next registered entry id gets.
    pub fn next_label(&self) -> String {
        format!("e{}", self.labels.len())
    }

    /// The entry id labelled `label`, if any.
    pub fn eid(&self, label: &str) -> Option<EntryId> {
        self.labels
            .iter()
            .find(|(_, l)| l.as_str() == label)
            .map(|(eid, _)| *eid)
    }

    /// `e3` for a registered id; otherwise its nickname, marked so it stands out.
    pub fn label(&self, eid: EntryId) -> String {
        match self.labels.get(&eid) {
            Some(label) => label.clone(),
            None => format!("e?{}", eid.nickname()),
        }
    }

    /// `n3` for one of our servers; otherwise its nickname.
    pub fn server(&self, sid: ServerId) -> String {
        match node_of(sid) {
            Some(n) => format!("n{n}"),
            None => sid.nickname().to_string(),
        }
    }

    /// `n3` for one of our addresses; otherwise the address.
    pub fn address(&self, address: &Address) -> String {
        match (1..=MAX_NODE).find(|&n| self::address(n) == *address) {
            Some(n) => format!("n{n}"),
            None => address.to_string(),
        }
    }

    /// `[n1,n2,n3]`.
    pub fn configuration(&self, config: &Configuration) -> String {
        let servers: Vec<String> = config.iter().map(|(sid, _)| self.server(sid)).collect();
        format!("[{}]", servers.join(","))
    }

    /// A core log line with server ids, nicknames and entry ids replaced by script names,
    /// so the golden files read like the scripts.
    pub fn humanize(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (eid, label) in &self.labels {
            text = text.replace(&eid.to_string(), label);
        }
        for n in 1..=MAX_NODE {
            let sid = sid(n);
            let name = format!("n{n}");
            text = text.replace(&sid.to_string(), &name);
            text = text.replace(sid.nickname().as_str(), &name);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_the_node_digit_four_times() {
        assert_eq!(sid(1).nickname().as_str(), "1111");
        assert_eq!(sid(15).nickname().as_str(), "ffff");
        assert_eq!(node_of(sid(7)), Some(7));
        assert_eq!(node_of(ServerId::from_u128(7)), None);
    }

    #[test]
    fn humanize_names_servers_and_entries() {
        let mut names = Names::new();
        let eid = EntryId::from_u128(0xabcdef);
        assert_eq!(names.register(eid), "e1");
        assert_eq!(names.register(eid), "e1");
        let text = format!("server 2222 ({}) eid {}", sid(2), eid.0);
        assert_eq!(names.humanize(&text), "server n2 (n2) eid e1");
    }
}

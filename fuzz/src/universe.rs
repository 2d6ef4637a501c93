//! The fixed cast of every fuzz input: the server under test is number 0, its peers 1 and 2,
//! server 3 is a would-be member (for joins and removals), server 4 a stranger.

use raft_core::ServerId;
use raft_core::{Address, ClusterId, Configuration, Data, EntryId, Header, Index, Snapshot, Term};

/// How many servers the inputs can name.
pub const SERVERS: usize = 5;

/// Server `i` (taken modulo [`SERVERS`]). Ids differ in their first hex digits, so id prefixes
/// (as `cluster/kick` takes them) are unambiguous.
pub fn sid(i: usize) -> ServerId {
    ServerId::from_u128(((((i % SERVERS) as u128) + 1) * 0x1111) << 112)
}

/// The address of server `i` (modulo [`SERVERS`]).
pub fn address(i: usize) -> Address {
    Address::parse(&format!("tcp:127.0.0.1:{}", 7000 + i % SERVERS)).expect("valid address")
}

/// The number of server `sid`, if it is one of the cast.
pub fn peer_of(sid: ServerId) -> Option<usize> {
    (0..SERVERS).find(|&i| self::sid(i) == sid)
}

/// The number of the server at `address`, if it is one of the cast.
pub fn peer_at(a: &Address) -> Option<usize> {
    (0..SERVERS).find(|&i| address(i) == *a)
}

/// The cluster of every input.
pub fn cid() -> ClusterId {
    ClusterId::from_u128(0xc1c1 << 112)
}

/// Another cluster, for messages that went astray.
pub fn other_cid() -> ClusterId {
    ClusterId::from_u128(0xdead << 112)
}

/// A small entry id; 0 is the id of the initial snapshot.
pub fn eid(n: u8) -> EntryId {
    EntryId::from_u128(u128::from(n) + 1)
}

/// A one-byte command or state.
pub fn data(n: u8) -> Data {
    Data::from(vec![b'a' + n % 26])
}

/// The configuration holding the servers whose bits are set in `mask` (bit `i` is server
/// `i`); an empty mask means servers 0, 1 and 2.
pub fn configuration(mask: u8) -> Configuration {
    let mask = if mask & 0x1f == 0 { 0b111 } else { mask };
    Configuration(
        (0..SERVERS)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| (sid(i), address(i)))
            .collect(),
    )
}

/// The header server 0 of a cluster with `configuration` starts from: a snapshot at index 1.
pub fn header(configuration: Configuration) -> Header {
    Header {
        server_id: sid(0),
        cluster_id: Some(cid()),
        name: "fuzz".into(),
        local_address: address(0),
        joining: None,
        snapshot: Some(Snapshot {
            index: Index(1),
            term: Term(1),
            eid: eid(0),
            servers: configuration,
            election_timer: None,
            data: data(0),
        }),
    }
}

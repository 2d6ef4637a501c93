//! Creating a cluster, joining one, reading metadata (S1–S3): pure functions that return what
//! an adapter writes. Ids are supplied by the caller, so the core never mints them.

use crate::{
    Address, BootstrapError, ClusterId, Configuration, Data, Entry, EntryId, Header, Index,
    Payload, Record, ServerId, Snapshot, Term,
};

/// Checks an election timer (S1, M10): 100..=600000 ms.
pub fn validate_election_timer(ms: u64) -> Result<(), BootstrapError> {
    if (crate::MIN_ELECTION_TIMER_MS..=crate::MAX_ELECTION_TIMER_MS).contains(&ms) {
        Ok(())
    } else {
        Err(BootstrapError::ElectionTimer(ms))
    }
}

/// The header and records of a new one-server cluster (S1): a snapshot at index 1, term 1,
/// holding the configuration of this server alone and the application's initial `data`,
/// plus, if an election timer is given, an entry at index 2 that sets it.
///
/// The adapter must refuse to create the log if it already exists.
pub fn create_cluster(
    server_id: ServerId,
    cluster_id: ClusterId,
    name: &str,
    local_address: &str,
    snapshot_eid: EntryId,
    data: Data,
    election_timer: Option<u64>,
) -> Result<(Header, Vec<Record>), BootstrapError> {
    let local_address = Address::parse(local_address)?;
    if let Some(ms) = election_timer {
        validate_election_timer(ms)?;
    }
    let snapshot = Snapshot {
        index: Index(1),
        term: Term(1),
        eid: snapshot_eid,
        servers: Configuration::single(server_id, local_address.clone()),
        election_timer: None,
        data,
    };
    let header = Header {
        server_id,
        cluster_id: Some(cluster_id),
        name: name.to_owned(),
        local_address,
        joining: None,
        snapshot: Some(snapshot),
    };
    let records = election_timer
        .map(|ms| Record::Entry {
            index: Index(2),
            entry: Entry {
                term: Term(1),
                payload: Payload::ElectionTimer(ms),
            },
        })
        .into_iter()
        .collect();
    Ok((header, records))
}

/// The header of a server that will join an existing cluster (S2). It has no snapshot yet;
/// it holds the addresses to ask. `cluster_id`, if given, restricts the join to that cluster.
pub fn join_cluster(
    server_id: ServerId,
    cluster_id: Option<ClusterId>,
    name: &str,
    local_address: &str,
    remote_addresses: &[&str],
) -> Result<Header, BootstrapError> {
    let local_address = Address::parse(local_address)?;
    if remote_addresses.is_empty() {
        return Err(BootstrapError::NoRemotes);
    }
    let mut remotes = Vec::with_capacity(remote_addresses.len());
    for r in remote_addresses {
        let r = Address::parse(r)?;
        if r == local_address {
            return Err(BootstrapError::RemoteIsLocal);
        }
        if !remotes.contains(&r) {
            remotes.push(r);
        }
    }
    if cluster_id.is_some_and(|c| c.0.is_nil()) {
        return Err(BootstrapError::ZeroClusterId);
    }
    Ok(Header {
        server_id,
        cluster_id,
        name: name.to_owned(),
        local_address,
        joining: Some(remotes),
        snapshot: None,
    })
}

/// What a log says about its server without opening it (S3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The server's id.
    pub server_id: ServerId,
    /// The cluster's id, if known.
    pub cluster_id: Option<ClusterId>,
    /// The cluster's name.
    pub name: String,
    /// The server's address.
    pub local_address: Address,
}

/// Reads the metadata of a log from its header (S3).
pub fn metadata(header: &Header) -> Metadata {
    Metadata {
        server_id: header.server_id,
        cluster_id: header.cluster_id,
        name: header.name.clone(),
        local_address: header.local_address.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> ServerId {
        ServerId::from_u128(0xabcd << 112)
    }

    #[test]
    fn s1_create_cluster_writes_snapshot_at_one_and_optional_timer_entry() {
        let (h, recs) = create_cluster(
            sid(),
            ClusterId::from_u128(2),
            "kv",
            "tcp:127.0.0.1:6641",
            EntryId::from_u128(3),
            Data::from("init"),
            None,
        )
        .unwrap();
        let s = h.snapshot.as_ref().unwrap();
        assert_eq!((s.index, s.term), (Index(1), Term(1)));
        assert_eq!(
            s.servers,
            Configuration::single(sid(), Address::parse("tcp:127.0.0.1:6641").unwrap())
        );
        assert_eq!(s.data, Data::from("init"));
        assert!(h.joining.is_none() && recs.is_empty());
        let (_, recs) = create_cluster(
            sid(),
            ClusterId::from_u128(2),
            "kv",
            "tcp:127.0.0.1:6641",
            EntryId::from_u128(3),
            Data::default(),
            Some(2000),
        )
        .unwrap();
        assert_eq!(
            recs,
            vec![Record::Entry {
                index: Index(2),
                entry: Entry {
                    term: Term(1),
                    payload: Payload::ElectionTimer(2000)
                }
            }]
        );
    }

    #[test]
    fn s1_create_cluster_validates_address_and_timer() {
        let mk = |addr: &str, t| {
            create_cluster(
                sid(),
                ClusterId::from_u128(2),
                "kv",
                addr,
                EntryId::from_u128(3),
                Data::default(),
                t,
            )
        };
        assert!(matches!(mk("bogus", None), Err(BootstrapError::Address(_))));
        assert_eq!(
            mk("tcp:1.2.3.4:5", Some(99)).unwrap_err(),
            BootstrapError::ElectionTimer(99)
        );
        assert_eq!(
            mk("tcp:1.2.3.4:5", Some(600_001)).unwrap_err(),
            BootstrapError::ElectionTimer(600_001)
        );
        assert!(
            mk("tcp:1.2.3.4:5", Some(100)).is_ok() && mk("tcp:1.2.3.4:5", Some(600_000)).is_ok()
        );
    }

    #[test]
    fn s2_join_cluster_validates() {
        let local = "tcp:127.0.0.1:1";
        assert_eq!(
            join_cluster(sid(), None, "kv", local, &[]).unwrap_err(),
            BootstrapError::NoRemotes
        );
        assert_eq!(
            join_cluster(sid(), None, "kv", local, &[local]).unwrap_err(),
            BootstrapError::RemoteIsLocal
        );
        assert_eq!(
            join_cluster(
                sid(),
                Some(ClusterId::from_u128(0)),
                "kv",
                local,
                &["tcp:127.0.0.1:2"]
            )
            .unwrap_err(),
            BootstrapError::ZeroClusterId
        );
        assert!(matches!(
            join_cluster(sid(), None, "kv", local, &["x"]),
            Err(BootstrapError::Address(_))
        ));
        let h = join_cluster(
            sid(),
            None,
            "kv",
            local,
            &["tcp:127.0.0.1:2", "tcp:127.0.0.1:2"],
        )
        .unwrap();
        assert_eq!(h.joining.as_ref().unwrap().len(), 1);
        assert!(h.snapshot.is_none());
    }

    #[test]
    fn s3_metadata_reads_the_header() {
        let h = join_cluster(
            sid(),
            Some(ClusterId::from_u128(9)),
            "kv",
            "tcp:127.0.0.1:1",
            &["tcp:127.0.0.1:2"],
        )
        .unwrap();
        let m = metadata(&h);
        assert_eq!(m.server_id, sid());
        assert_eq!(m.cluster_id, Some(ClusterId::from_u128(9)));
        assert_eq!(m.name, "kv");
        assert_eq!(m.local_address.as_str(), "tcp:127.0.0.1:1");
    }
}

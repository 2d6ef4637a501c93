//! Creating the log of a new cluster or of a server about to join one (S1, S2).

use std::path::Path;

use raft_core::{ClusterId, Data, EntryId, ServerId, bootstrap};
use uuid::Uuid;

use crate::NodeError;
use crate::storage::RaftLog;

/// Creates the log of a new one-server cluster at `path` with the application's initial state
/// `initial`, durably. Refuses if `path` exists. Returns the new cluster's and server's ids.
pub fn create_cluster(
    path: &Path,
    name: &str,
    local_address: &str,
    election_timer: Option<u64>,
    initial: Vec<u8>,
) -> Result<(ClusterId, ServerId), NodeError> {
    let (sid, cid) = (ServerId(Uuid::new_v4()), ClusterId(Uuid::new_v4()));
    let (header, records) = bootstrap::create_cluster(
        sid,
        cid,
        name,
        local_address,
        EntryId(Uuid::new_v4()),
        Data::from(initial),
        election_timer,
    )?;
    let mut log = RaftLog::create(path, &header)?;
    log.append(&records)?;
    log.sync()?;
    Ok((cid, sid))
}

/// Creates the log of a server that will join the cluster at `remotes` when it first runs.
/// `cluster`, if given, restricts the join to that cluster. Refuses if `path` exists. Returns
/// the new server's id.
pub fn join_cluster(
    path: &Path,
    name: &str,
    local_address: &str,
    remotes: &[&str],
    cluster: Option<ClusterId>,
) -> Result<ServerId, NodeError> {
    let sid = ServerId(Uuid::new_v4());
    let header = bootstrap::join_cluster(sid, cluster, name, local_address, remotes)?;
    RaftLog::create(path, &header)?;
    Ok(sid)
}

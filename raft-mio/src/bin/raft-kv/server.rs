//! `raft-kv serve`.

use std::net::TcpListener;
use std::path::Path;
use std::thread;
use std::time::Duration;

use raft_mio::kv::{KvStore, serve_clients};
use raft_mio::{Exit, Node, NodeConfig, control};

use crate::parse;

/// How long a client's command may take before it is answered with a timeout.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn serve(rest: &[String]) -> Result<(), String> {
    let Some(args) = parse(rest, &["db", "control", "client"], false)? else {
        return Ok(());
    };
    crate::no_positional(&args)?;
    let db = Path::new(args.required("db")?);
    let control_path = Path::new(args.required("control")?);
    let client = args.required("client")?.to_owned();
    let node =
        Node::open(db, KvStore::default(), NodeConfig::default()).map_err(|e| e.to_string())?;
    let clients = TcpListener::bind(&client).map_err(|e| format!("--client {client}: {e}"))?;
    let control = control::bind(control_path)
        .map_err(|e| format!("--control {}: {e}", control_path.display()))?;
    let handle = node.handle();
    control::serve(control, handle.clone());
    let client_address = client.clone();
    thread::spawn(move || {
        if let Err(e) = serve_clients(clients, handle, COMMAND_TIMEOUT) {
            // The Raft server goes on (it may still be needed for a quorum); clients cannot.
            eprintln!("raft-kv: no longer serving clients on {client_address}: {e}");
        }
    });
    eprintln!(
        "raft-kv: serving {} (raft {}, clients {client}, control {})",
        db.display(),
        node.server().local_address(),
        control_path.display()
    );
    let exit = node.run().map_err(|e| e.to_string());
    let _ = std::fs::remove_file(control_path);
    match exit? {
        Exit::Shutdown => eprintln!("raft-kv: shut down"),
        Exit::Left => eprintln!("raft-kv: left the cluster; this log cannot be served again"),
        Exit::Crashed(reason) => {
            eprintln!("raft-kv: failure test crash: {reason}");
            std::process::abort();
        }
    }
    Ok(())
}

//! The key-value server's client side: one thread per client connection, each executing
//! commands through a [`Handle`].

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::frames::{MAX_CLIENT_FRAME, read_frame, write_frame};
use super::{KvCommand, KvReply};
use crate::Handle;
use crate::codec::FrameDecoder;

/// The server's answer to a client's [`KvCommand`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KvResponse {
    /// The store's reply.
    Reply(KvReply),
    /// The command failed.
    Error {
        /// Why, for people.
        message: String,
        /// True if the command certainly did not take effect (safe to retry); false if it
        /// may have.
        certainly_not_applied: bool,
    },
}

/// Accepts clients on `listener` for ever, serving each on its own thread. Each command waits
/// up to `timeout` for its outcome.
pub fn serve_clients(listener: TcpListener, handle: Handle, timeout: Duration) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue; // A client that vanished between connect and accept.
        };
        let handle = handle.clone();
        thread::spawn(move || serve_client(stream, &handle, timeout));
    }
}

fn serve_client(mut stream: TcpStream, handle: &Handle, timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let mut decoder = FrameDecoder::new(MAX_CLIENT_FRAME);
    // A client that sends garbage or goes away simply loses its connection.
    while let Ok(Some(command)) = read_frame::<KvCommand>(&mut stream, &mut decoder) {
        let response = execute(handle, &command, timeout);
        if write_frame(&mut stream, &response).is_err() {
            return;
        }
    }
}

fn execute(handle: &Handle, command: &KvCommand, timeout: Duration) -> KvResponse {
    let data = match serde_json::to_vec(command) {
        Ok(data) => data,
        Err(e) => {
            return KvResponse::Error {
                message: e.to_string(),
                certainly_not_applied: true,
            };
        }
    };
    match handle.execute(data, timeout) {
        Ok(output) => match serde_json::from_slice(&output) {
            Ok(reply) => KvResponse::Reply(reply),
            Err(e) => KvResponse::Error {
                message: format!("undecodable reply from the state machine: {e}"),
                certainly_not_applied: false,
            },
        },
        Err(e) => KvResponse::Error {
            message: e.to_string(),
            certainly_not_applied: e.certainly_not_applied(),
        },
    }
}

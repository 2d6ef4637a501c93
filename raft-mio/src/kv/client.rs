//! A blocking key-value client.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::frames::{MAX_CLIENT_FRAME, read_frame, write_frame};
use super::{KvCommand, KvReply, KvResponse};
use crate::codec::FrameDecoder;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed or timed out: the outcome is unknown.
    Io(io::Error),
    /// The server answered with an error.
    Server {
        /// Why.
        message: String,
        /// True if the command certainly did not take effect.
        certainly_not_applied: bool,
    },
}

impl ClientError {
    /// True if the command certainly did not take effect.
    pub fn certainly_not_applied(&self) -> bool {
        matches!(
            self,
            ClientError::Server {
                certainly_not_applied: true,
                ..
            }
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "connection failed (outcome unknown): {e}"),
            ClientError::Server { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one `raft-kv serve --client` address.
#[derive(Debug)]
pub struct KvClient {
    stream: TcpStream,
    decoder: FrameDecoder,
}

impl KvClient {
    /// Connects to `server`; every call waits at most `timeout` for its answer.
    pub fn connect(server: SocketAddr, timeout: Duration) -> io::Result<KvClient> {
        let stream = TcpStream::connect_timeout(&server, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(KvClient {
            stream,
            decoder: FrameDecoder::new(MAX_CLIENT_FRAME),
        })
    }

    /// Sends `command` and waits for the store's reply. After an `Io` error the connection is
    /// unusable.
    pub fn call(&mut self, command: &KvCommand) -> Result<KvReply, ClientError> {
        write_frame(&mut self.stream, command).map_err(ClientError::Io)?;
        match read_frame::<KvResponse>(&mut self.stream, &mut self.decoder) {
            Ok(Some(KvResponse::Reply(reply))) => Ok(reply),
            Ok(Some(KvResponse::Error {
                message,
                certainly_not_applied,
            })) => Err(ClientError::Server {
                message,
                certainly_not_applied,
            }),
            Ok(None) => Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into())),
            Err(e) => Err(ClientError::Io(e)),
        }
    }
}

//! Blocking frame I/O for the key-value client protocol (codec frames over std TCP).

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{FrameDecoder, encode_frame};

/// The largest client request or response, in bytes.
pub(super) const MAX_CLIENT_FRAME: usize = 1 << 20;

/// Reads the next frame; `Ok(None)` at a clean end of stream.
pub(super) fn read_frame<T: DeserializeOwned>(
    stream: &mut impl Read,
    decoder: &mut FrameDecoder,
) -> io::Result<Option<T>> {
    let mut buf = [0; 4096];
    loop {
        if let Some(frame) = decoder
            .next_frame()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            return Ok(Some(frame));
        }
        match stream.read(&mut buf)? {
            0 if decoder.buffered() == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => decoder.extend(&buf[..n]),
        }
    }
}

/// Writes one frame.
pub(super) fn write_frame<T: Serialize>(stream: &mut impl Write, value: &T) -> io::Result<()> {
    let mut out = Vec::new();
    encode_frame(value, &mut out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    stream.write_all(&out)
}

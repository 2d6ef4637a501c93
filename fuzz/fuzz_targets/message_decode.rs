//! `message_decode`: bytes as a peer or a disk could deliver them.
//!
//! - As one JSON document: whatever decodes as a `Message`, a transport `Wire` frame, a log
//!   `Record` or a `Header` re-encodes, and the re-encoding decodes to the same value (and
//!   encodes to the same text again).
//! - As a TCP byte stream through raft-mio's `FrameDecoder`, in chunks of a size the input
//!   chooses: the frames and errors it yields are exactly those of a straightforward reading
//!   of the documented layout (`[len u32 BE][JSON]`), whatever the chunking, and every frame
//!   round-trips through `encode_frame`.
//!
//! Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raft_core::{Header, Message, Record};
use raft_mio::codec::{FrameDecoder, FrameError, encode_frame};
use raft_mio::transport::Wire;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A small frame limit, so the fuzzer reaches it.
const MAX_FRAME: usize = 512;

fuzz_target!(|bytes: &[u8]| {
    round_trip::<Message>(bytes);
    round_trip::<Wire>(bytes);
    round_trip::<Record>(bytes);
    round_trip::<Header>(bytes);
    stream(bytes);
});

/// If `bytes` decode as a `T`, the value survives encoding and decoding.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(bytes) else {
        return;
    };
    let text = serde_json::to_vec(&value).expect("a decoded value encodes");
    let again: T = serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!(
            "re-encoding does not decode: {e}\nvalue: {value:?}\ntext: {}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(again, value, "round trip changed the value");
    assert_eq!(
        serde_json::to_vec(&again).expect("encodes"),
        text,
        "encoding is not canonical"
    );
}

/// What reading one frame can give.
#[derive(Debug, PartialEq)]
enum Outcome {
    Frame(Box<Wire>),
    Undecodable,
    TooLarge(u64),
}

/// The frames of a whole stream, read directly from the documented layout.
fn expected(bytes: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((prefix, after)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > MAX_FRAME {
            out.push(Outcome::TooLarge(len as u64));
            break;
        }
        let Some(payload) = after.get(..len) else {
            break;
        };
        out.push(match serde_json::from_slice::<Wire>(payload) {
            Ok(w) => Outcome::Frame(Box::new(w)),
            Err(_) => Outcome::Undecodable,
        });
        rest = &after[len..];
    }
    out
}

/// Feeds `bytes` to a decoder in chunks and compares with [`expected`].
fn stream(bytes: &[u8]) {
    let Some((&chunking, _)) = bytes.split_first() else {
        return;
    };
    // Chunk sizes cycle through 1..=8 times a factor the first byte picks, so the fuzzer
    // tries byte-at-a-time delivery as well as large reads.
    let factor = usize::from(chunking % 16) + 1;
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut got = Vec::new();
    let mut at = 0;
    let mut k = 0;
    'feed: while at < bytes.len() {
        let n = (k % 8 + 1) * factor;
        k += 1;
        let end = (at + n).min(bytes.len());
        decoder.extend(&bytes[at..end]);
        at = end;
        loop {
            match decoder.next_frame::<Wire>() {
                Ok(Some(w)) => {
                    let mut framed = Vec::new();
                    encode_frame(&w, &mut framed).expect("a decoded frame encodes");
                    let mut again = FrameDecoder::new(usize::MAX);
                    again.extend(&framed);
                    assert_eq!(
                        again.next_frame::<Wire>().expect("decodes"),
                        Some(w.clone())
                    );
                    assert_eq!(again.buffered(), 0);
                    got.push(Outcome::Frame(Box::new(w)));
                }
                Ok(None) => break,
                Err(FrameError::Decode(_)) => got.push(Outcome::Undecodable),
                Err(FrameError::TooLarge { len, max }) => {
                    assert_eq!(max, MAX_FRAME);
                    assert!(
                        decoder.next_frame::<Wire>().is_err(),
                        "a length above the limit stays an error"
                    );
                    got.push(Outcome::TooLarge(len));
                    break 'feed;
                }
                Err(e) => panic!("unexpected decoder error: {e}"),
            }
        }
    }
    assert_eq!(got, expected(bytes), "chunk factor {factor}");
}

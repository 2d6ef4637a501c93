//! Stream framing: frames survive any chunking, limits are enforced early,
//! bad frames are reported, and random input never panics.

use std::collections::BTreeMap;

use proptest::prelude::*;
use raft_mio::codec::{FrameDecoder, FrameError, MAX_FRAME_LEN, encode_frame};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Message {
    Ping { seq: u64 },
    Append { term: u64, entries: Vec<String> },
}

fn encode_all(messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        encode_frame(m, &mut out).unwrap();
    }
    out
}

/// Decodes every complete frame currently buffered.
fn drain(decoder: &mut FrameDecoder) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(m) = decoder.next_frame().unwrap() {
        out.push(m);
    }
    out
}

fn sample() -> Vec<Message> {
    vec![
        Message::Ping { seq: 1 },
        Message::Append {
            term: 2,
            entries: vec!["a".into(), "ü\n\"".into()],
        },
        Message::Ping { seq: u64::MAX },
    ]
}

#[test]
fn frames_round_trip_in_one_chunk() {
    let mut decoder = FrameDecoder::default();
    decoder.extend(&encode_all(&sample()));
    assert_eq!(drain(&mut decoder), sample());
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn frames_round_trip_byte_by_byte() {
    let bytes = encode_all(&sample());
    let mut decoder = FrameDecoder::default();
    let mut got = Vec::new();
    for b in &bytes {
        decoder.extend(std::slice::from_ref(b));
        got.extend(drain(&mut decoder));
    }
    assert_eq!(got, sample());
}

#[test]
fn many_small_frames_in_one_chunk() {
    let messages: Vec<Message> = (0..20_000).map(|seq| Message::Ping { seq }).collect();
    let bytes = encode_all(&messages);
    let mut decoder = FrameDecoder::default();
    decoder.extend(&bytes);
    assert_eq!(drain(&mut decoder), messages);
}

#[test]
fn a_partial_frame_stays_buffered() {
    let bytes = encode_all(&sample());
    let mut decoder = FrameDecoder::default();
    decoder.extend(&bytes[..bytes.len() - 3]);
    assert_eq!(drain(&mut decoder).len(), 2);
    assert!(decoder.buffered() > 0, "the stream ended mid-frame");
}

#[test]
fn an_oversized_length_is_an_error_before_its_payload_arrives() {
    let mut decoder = FrameDecoder::new(100);
    let mut bytes = encode_all(&[Message::Ping { seq: 1 }]);
    bytes.extend(101u32.to_be_bytes());
    decoder.extend(&bytes);
    assert_eq!(
        decoder.next_frame::<Message>().unwrap(),
        Some(Message::Ping { seq: 1 })
    );
    let err = decoder.next_frame::<Message>().unwrap_err();
    assert!(
        matches!(err, FrameError::TooLarge { len: 101, max: 100 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "frame of 101 bytes exceeds the 100-byte limit"
    );
}

#[test]
fn the_default_limit_is_the_largest_frame() {
    let mut decoder = FrameDecoder::default();
    decoder.extend(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes());
    assert!(decoder.next_payload().is_err());
}

#[test]
fn an_undecodable_frame_is_an_error_for_that_frame_only() {
    let mut bytes = Vec::new();
    encode_frame(&"not a message", &mut bytes).unwrap();
    encode_frame(&Message::Ping { seq: 5 }, &mut bytes).unwrap();
    let mut decoder = FrameDecoder::default();
    decoder.extend(&bytes);
    let err = decoder.next_frame::<Message>().unwrap_err();
    assert!(matches!(err, FrameError::Decode(_)), "{err}");
    assert_eq!(
        decoder.next_frame::<Message>().unwrap(),
        Some(Message::Ping { seq: 5 })
    );
}

#[test]
fn an_unencodable_value_leaves_the_buffer_alone() {
    let mut map = BTreeMap::new();
    map.insert((1, 2), 3); // JSON object keys must be strings
    let mut out = b"keep".to_vec();
    let err = encode_frame(&map, &mut out).unwrap_err();
    assert!(matches!(err, FrameError::Encode(_)), "{err}");
    assert_eq!(out, b"keep");
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        any::<u64>().prop_map(|seq| Message::Ping { seq }),
        (any::<u64>(), prop::collection::vec(".{0,20}", 0..4))
            .prop_map(|(term, entries)| Message::Append { term, entries }),
    ]
}

proptest! {
    #[test]
    fn any_chunking_yields_the_same_frames(
        messages in prop::collection::vec(message(), 0..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let bytes = encode_all(&messages);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort();
        let mut decoder = FrameDecoder::default();
        let mut got = Vec::new();
        for pair in cuts.windows(2) {
            decoder.extend(&bytes[pair[0]..pair[1]]);
            got.extend(drain(&mut decoder));
        }
        prop_assert_eq!(got, messages);
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn random_bytes_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let mut decoder = FrameDecoder::new(1000);
        for chunk in &chunks {
            decoder.extend(chunk);
            // A bad frame is consumed, so keep going after one; stop when
            // more input is needed or the stream is unusable.
            while let Ok(Some(_)) | Err(FrameError::Decode(_)) = decoder.next_frame::<Message>() {}
        }
    }
}

//! `log_recover`: bytes → raft-mio's file-log recovery (`filelog::parse` over raft-core's
//! header and records). It must never panic, and what it returns must be explainable from
//! the bytes by an independent reading of the documented format:
//!
//! - `Ok`: the records are exactly the intact frames from the header's end to `valid_len`,
//!   each decoding to the returned record. Anything after `valid_len` is either all zero bytes
//!   (preallocated space: no warning, and `zero_tail_len` counts them), or holds no intact
//!   frame at any offset (a torn tail) and is reported in exactly one warning naming that
//!   offset.
//! - `Err(Corrupt)`: the offset is the header's, or the start of a frame reached by walking
//!   intact frames, and the message names it.
//! - `Err(NotALog | UnsupportedVersion)`: the magic is not this build's.
//!
//! The input's first byte picks its shape. Even: the bytes after it are the file, as is (seed
//! it with real logs; the fuzzer tears and flips them). Odd: the bytes after it are lines,
//! each one the JSON of a frame that gets a correct length and checksum — the header first,
//! then records — so the fuzzer can edit the JSON itself, which a checksum would otherwise
//! hide from it; a line starting with `!` goes in raw, without a frame. With only framed
//! lines, recovery must return every line as a record, or fail at the first line that does
//! not decode, naming its offset.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use raft_core::{Header, Record};
use raft_mio::filelog::{Frame, LogError, MAGIC, MAGIC_LEN, MAX_FRAME_LEN, Parsed, parse};

fuzz_target!(|input: &[u8]| {
    let Some((&shape, rest)) = input.split_first() else {
        return;
    };
    if shape % 2 == 0 {
        check(rest, None);
    } else {
        let (image, lines) = build(rest);
        check(&image, lines.as_deref());
    }
});

/// A frame as the format documents it: length and CRC-32 (over the length field and the
/// payload), both little-endian, then the payload.
fn frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// The image for the line shape, and its framed lines with their offsets if every line was
/// framed and non-empty (only then is the outcome predictable line by line).
#[allow(clippy::type_complexity)]
fn build(text: &[u8]) -> (Vec<u8>, Option<Vec<(usize, &[u8])>>) {
    let mut image = MAGIC.to_vec();
    let mut lines = Some(Vec::new());
    for line in text.split(|&b| b == b'\n') {
        match line.strip_prefix(b"!") {
            Some(raw) => {
                image.extend_from_slice(raw);
                lines = None;
            }
            None => {
                if line.is_empty() {
                    lines = None;
                }
                if let Some(l) = lines.as_mut() {
                    l.push((image.len(), line));
                }
                frame(line, &mut image);
            }
        }
    }
    (image, lines)
}

/// The payload and end of an intact frame at `offset`, by the documented layout.
fn intact(bytes: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(offset..)?;
    let (len_field, rest) = rest.split_first_chunk::<4>()?;
    let (crc_field, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len_field);
    if len == 0 || len > MAX_FRAME_LEN {
        return None;
    }
    let payload = rest.get(..len as usize)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(len_field);
    crc.update(payload);
    (crc.finalize() == u32::from_le_bytes(*crc_field))
        .then_some((payload, offset + 8 + payload.len()))
}

fn check(bytes: &[u8], lines: Option<&[(usize, &[u8])]>) {
    let result = parse::<Header, Record>(Path::new("fuzz.log"), bytes);
    if let Some(lines) = lines {
        check_lines(&result, lines);
    }
    match result {
        Ok(parsed) => check_ok(bytes, &parsed),
        Err(LogError::Corrupt { offset, frame, .. }) => {
            let offset = offset as usize;
            let text = result_text(bytes);
            assert!(text.contains(&format!("offset {offset}")), "{text}");
            match frame {
                Frame::Header => assert_eq!(offset, MAGIC_LEN),
                Frame::Record(n) => {
                    // Walking n intact frames from the header's end must land on `offset`.
                    let (_, mut at) = intact(bytes, MAGIC_LEN).expect("an intact header");
                    for _ in 0..n {
                        at = intact(bytes, at)
                            .expect("intact frames before the bad one")
                            .1;
                    }
                    assert_eq!(at, offset, "record {n}");
                }
            }
        }
        Err(LogError::NotALog { .. } | LogError::UnsupportedVersion { .. }) => {
            assert!(
                bytes.get(..MAGIC_LEN) != Some(&MAGIC[..]),
                "refused a good magic"
            );
        }
        Err(e) => panic!("parse gave an error it has no business giving: {e}"),
    }
}

fn result_text(bytes: &[u8]) -> String {
    parse::<Header, Record>(Path::new("fuzz.log"), bytes)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn check_ok(bytes: &[u8], parsed: &Parsed<Header, Record>) {
    assert_eq!(&bytes[..MAGIC_LEN], &MAGIC[..]);
    let (header_json, header_end) = intact(bytes, MAGIC_LEN).expect("an intact header");
    assert_eq!(parsed.header_end as usize, header_end);
    let header: Header = serde_json::from_slice(header_json).expect("the header decodes");
    assert_eq!(header, parsed.recovered.header);
    let valid_len = parsed.valid_len as usize;
    assert!(header_end <= valid_len && valid_len <= bytes.len());
    let mut at = header_end;
    for record in &parsed.recovered.records {
        let (json, end) = intact(bytes, at).expect("each record is an intact frame");
        let decoded: Record = serde_json::from_slice(json).expect("each record decodes");
        assert_eq!(&decoded, record);
        at = end;
    }
    assert_eq!(at, valid_len, "the records end where the valid prefix does");
    let tail = &bytes[valid_len..];
    if tail.iter().all(|&b| b == 0) {
        assert!(
            parsed.recovered.warnings.is_empty(),
            "a zero tail is not torn"
        );
        assert_eq!(parsed.zero_tail_len as usize, tail.len());
    } else {
        assert_eq!(parsed.zero_tail_len, 0, "a torn tail is not kept");
        assert_eq!(parsed.recovered.warnings.len(), 1);
        assert!(parsed.recovered.warnings[0].contains(&format!("offset {valid_len}")));
        assert!(
            intact(bytes, valid_len).is_none(),
            "dropped an intact frame"
        );
        for offset in valid_len + 1..bytes.len() {
            assert!(
                intact(bytes, offset).is_none(),
                "dropped a tail with an intact frame at {offset}"
            );
        }
    }
}

/// With every line framed, recovery reads line by line: all of them, or an error at the first
/// that does not decode.
fn check_lines(result: &Result<Parsed<Header, Record>, LogError>, lines: &[(usize, &[u8])]) {
    let Some(((_, header), records)) = lines.split_first() else {
        return;
    };
    let first_bad = if serde_json::from_slice::<Header>(header).is_err() {
        Some((MAGIC_LEN, Frame::Header))
    } else {
        records
            .iter()
            .enumerate()
            .find(|(_, (_, json))| serde_json::from_slice::<Record>(json).is_err())
            .map(|(n, (offset, _))| (*offset, Frame::Record(n as u64)))
    };
    match (first_bad, result) {
        (None, Ok(parsed)) => {
            assert_eq!(parsed.recovered.records.len(), records.len());
            assert!(parsed.recovered.warnings.is_empty());
        }
        (
            Some((offset, frame)),
            Err(LogError::Corrupt {
                offset: o,
                frame: f,
                ..
            }),
        ) => {
            assert_eq!((offset as u64, frame), (*o, *f));
        }
        (want, got) => panic!("expected failure at {want:?}, got {got:?}"),
    }
}

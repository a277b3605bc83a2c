//! Per-part integrity: the browser computes each part's checksum from the file, the server
//! signs it into the part's URL as an `x-amz-checksum-*` header, and the store refuses a part
//! whose bytes do not match. Shared by both sides so they agree on algorithms and encoding.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    Crc32c,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 2] = [Self::Crc32c, Self::Sha256];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Crc32c => "crc32c",
            Self::Sha256 => "sha256",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == word)
    }

    /// Bytes in a digest.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Crc32c => 4,
            Self::Sha256 => 32,
        }
    }

    /// Does `value` look like this algorithm's digest as S3 headers carry it (base64)? The
    /// store checks the value itself; this only keeps garbage out of signed URLs.
    pub fn accepts(self, value: &str) -> bool {
        value.len() == self.digest_len().div_ceil(3) * 4
            && value
                .trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Self::Crc32c => Hasher::Crc32c(CRC32C.digest()),
            Self::Sha256 => Hasher::Sha256(Box::default()),
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CRC32C with a slice-by-16 table: the browser hashes every byte it uploads, in WebAssembly
/// where no CRC instruction helps. In V8 (`bench/crc32c_wasm.sh`) it takes 0.25 s per GiB, where
/// the `crc32c` crate's slice-by-8 fallback took 0.45 s.
static CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// A running checksum, fed the part's bytes a chunk at a time so no part is ever held whole.
pub enum Hasher {
    Crc32c(crc::Digest<'static, u32, crc::Table<16>>),
    Sha256(Box<sha2::Sha256>),
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Crc32c(digest) => digest.update(bytes),
            Self::Sha256(hasher) => sha2::Digest::update(hasher.as_mut(), bytes),
        }
    }

    /// The digest in base64, as the `x-amz-checksum-*` header wants it.
    pub fn finish(self) -> String {
        base64(&self.finish_bytes())
    }

    /// The digest's bytes.
    pub fn finish_bytes(self) -> Vec<u8> {
        match self {
            Self::Crc32c(digest) => digest.finalize().to_be_bytes().to_vec(),
            Self::Sha256(hasher) => sha2::Digest::finalize(*hasher).to_vec(),
        }
    }
}

/// The checksum of `bytes` in one go (tests, and anything already in memory).
pub fn of(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
    let mut hasher = algorithm.hasher();
    hasher.update(bytes);
    hasher.finish()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding back to bytes; `None` for anything that is not.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (i, chunk) in text.as_bytes().chunks(4).enumerate() {
        let last = i + 1 == text.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (j, c) in chunk.iter().enumerate() {
            let v = if j >= 4 - pad { 0 } else { value(*c)? };
            n |= u32::from(v) << (18 - 6 * j);
        }
        out.extend(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// A SHA-256 written in hex, as the `x-amz-checksum-sha256` header carries it (base64).
pub fn sha256_header(hex: &str) -> Option<String> {
    if hex.len() != 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    Some(base64(&bytes?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_comes_back_as_it_went_and_garbage_is_refused() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(unbase64(&base64(&bytes)), Some(bytes));
        }
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "@@@@"] {
            assert_eq!(unbase64(bad), None, "{bad}");
        }
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            sha256_header(empty).as_deref(),
            Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        );
        assert_eq!(sha256_header("xyz"), None);
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn checksums_match_known_values_whatever_the_chunking() {
        // CRC32C("123456789") = 0xE3069283 (the catalogue check value).
        assert_eq!(
            of(ChecksumAlgorithm::Crc32c, b"123456789"),
            base64(&[0xE3, 0x06, 0x92, 0x83])
        );
        assert_eq!(
            of(ChecksumAlgorithm::Sha256, b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for algorithm in ChecksumAlgorithm::ALL {
            let mut chunked = algorithm.hasher();
            data.chunks(777).for_each(|c| chunked.update(c));
            let whole = of(algorithm, &data);
            assert_eq!(chunked.finish(), whole);
            assert!(algorithm.accepts(&whole), "{algorithm}: {whole}");
        }
        assert!(!ChecksumAlgorithm::Crc32c.accepts("not base64!"));
        assert!(!ChecksumAlgorithm::Sha256.accepts("AAAAAA=="));
    }
}

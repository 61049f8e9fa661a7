//! SHA-256 digests of model and data files, as the manifest records them.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest: 32 bytes, written as 64 lowercase hex characters.
///
/// A model's digest is its identity: it is what an agent registers on chain as its model hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Wraps 32 digest bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Hashes `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 32 digest bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }
}

impl From<[u8; 32]> for Sha256Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl From<Sha256Digest> for [u8; 32] {
    fn from(digest: Sha256Digest) -> Self {
        digest.0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

/// Why a string is not a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The string is not 64 characters long.
    #[error("sha256 digest `{value}` has {len} characters, expected 64 hex characters")]
    Length {
        /// The string.
        value: String,
        /// Its length in characters.
        len: usize,
    },
    /// The string has a character that is not a hex digit.
    #[error("sha256 digest `{value}` is not hex: {reason}")]
    NotHex {
        /// The string.
        value: String,
        /// The hex decoder's complaint.
        reason: String,
    },
}

impl FromStr for Sha256Digest {
    type Err = DigestParseError;

    /// Parses 64 hex characters (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let len = s.chars().count();
        if len != 64 {
            return Err(DigestParseError::Length { value: s.to_owned(), len });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)
            .map_err(|e| DigestParseError::NotHex { value: s.to_owned(), reason: e.to_string() })?;
        Ok(Self(bytes))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_sha256sum() {
        // `printf abc | sha256sum`
        let digest = Sha256Digest::of(b"abc");
        assert_eq!(
            digest.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parses_what_it_prints_in_either_case() {
        let digest = Sha256Digest::of(b"nsed");
        assert_eq!(digest.to_string().parse::<Sha256Digest>(), Ok(digest));
        assert_eq!(digest.to_string().to_uppercase().parse::<Sha256Digest>(), Ok(digest));
    }

    #[test]
    fn rejects_wrong_lengths_and_non_hex() {
        assert!(matches!(
            "abcd".parse::<Sha256Digest>(),
            Err(DigestParseError::Length { len: 4, .. })
        ));
        let not_hex = "z".repeat(64);
        assert!(matches!(not_hex.parse::<Sha256Digest>(), Err(DigestParseError::NotHex { .. })));
    }

    #[test]
    fn round_trips_through_json_as_a_hex_string() {
        let digest = Sha256Digest::of(b"nsed");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), digest);
    }
}

//! Signatures on the wire: one 65-byte `0x…` hex string (r ‖ s ‖ v), like `eth_sign` output.

use alloy_primitives::{Bytes, Signature};
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(
    signature: &Signature,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&Bytes::from(signature.as_bytes()).to_string())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Signature, D::Error> {
    let bytes = Bytes::deserialize(deserializer)?;
    Signature::try_from(bytes.as_ref()).map_err(serde::de::Error::custom)
}

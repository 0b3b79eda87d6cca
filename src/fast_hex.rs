//! Hex for large byte fields stored with every write of a channel (an
//! onion is 1,366 bytes, attribution data 920): `hex::serde` builds its
//! string a character at a time, this writes it through
//! `hex::encode_to_slice` in one pass. Shared by `channel` and `onion`.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("twice the length");
    s.serialize_str(std::str::from_utf8(&out).expect("hex is ASCII"))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    let mut out = vec![0u8; text.len() / 2];
    hex::decode_to_slice(text.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
    Ok(out)
}

//! BOLT 1 "Fundamental Types": `bigsize` (a big-endian varint, unlike
//! Bitcoin's little-endian CompactSize, so no crate we use provides it),
//! truncated unsigned integers (`tu16`, `tu32`, `tu64`) and signed integers
//! (`s8`..`s64`, Appendix D).

/// A BigSize value: 0xfc and below in one byte, then 0xfd + u16, 0xfe + u32, 0xff + u64,
/// always the shortest form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BigSize(pub u64);

/// Why bytes do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all (Go's `EOF`).
    #[error("no bytes left")]
    Eof,
    /// Some bytes, but fewer than the encoding needs (Go's `unexpected EOF`).
    #[error("truncated: needs {needed} bytes, {available} left")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        available: usize,
    },
    /// A longer encoding than the value needs.
    #[error("not minimally encoded")]
    NotMinimal,
}

impl BigSize {
    /// Decode from the front of `bytes`: the value and the bytes it used.
    pub fn decode(bytes: &[u8]) -> Result<(BigSize, usize), DecodeError> {
        let first = *bytes.first().ok_or(DecodeError::Eof)?;
        let (len, min) = match first {
            0xfd => (2, 0xfd),
            0xfe => (4, 0x1_0000),
            0xff => (8, 0x1_0000_0000),
            small => return Ok((BigSize(u64::from(small)), 1)),
        };
        let body = bytes.get(1..1 + len).ok_or(DecodeError::Truncated {
            needed: 1 + len,
            available: bytes.len(),
        })?;
        let value = body.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if value < min {
            return Err(DecodeError::NotMinimal);
        }
        Ok((BigSize(value), 1 + len))
    }

    /// The shortest encoding.
    pub fn encode(self) -> Vec<u8> {
        let v = self.0;
        match v {
            0..=0xfc => vec![v as u8],
            0xfd..=0xffff => [&[0xfd][..], &(v as u16).to_be_bytes()].concat(),
            0x1_0000..=0xffff_ffff => [&[0xfe][..], &(v as u32).to_be_bytes()].concat(),
            _ => [&[0xff][..], &v.to_be_bytes()].concat(),
        }
    }

    /// The length of the shortest encoding.
    pub fn encoded_len(self) -> usize {
        match self.0 {
            0..=0xfc => 1,
            0xfd..=0xffff => 3,
            0x1_0000..=0xffff_ffff => 5,
            _ => 9,
        }
    }
}

/// A truncated unsigned integer (`tu16`/`tu32`/`tu64`): big-endian with the
/// leading zero bytes dropped (zero is the empty string).
pub fn encode_truncated(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// Decode a truncated integer of at most `max_len` bytes; a leading zero byte is not minimal.
pub fn decode_truncated(bytes: &[u8], max_len: usize) -> Result<u64, TruncatedError> {
    if bytes.len() > max_len {
        return Err(TruncatedError::TooLong {
            len: bytes.len(),
            max: max_len,
        });
    }
    if bytes.first() == Some(&0) {
        return Err(TruncatedError::NotMinimal);
    }
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Why a truncated integer does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TruncatedError {
    /// More bytes than the type holds.
    #[error("{len} bytes is more than the {max} the type holds")]
    TooLong {
        /// Bytes given.
        len: usize,
        /// The type's width.
        max: usize,
    },
    /// A leading zero byte.
    #[error("a leading zero byte: not minimally encoded")]
    NotMinimal,
}

/// BOLT 1 Appendix D: a signed integer in the smallest of s8/s16/s32/s64
/// that holds it, big-endian two's complement.
pub fn encode_signed(v: i64) -> Vec<u8> {
    if let Ok(x) = i8::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i16::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i32::try_from(v) {
        x.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// Decode a signed integer of 1, 2, 4 or 8 bytes.
pub fn decode_signed(bytes: &[u8]) -> Option<i64> {
    Some(match bytes.len() {
        1 => i64::from(i8::from_be_bytes(bytes.try_into().ok()?)),
        2 => i64::from(i16::from_be_bytes(bytes.try_into().ok()?)),
        4 => i64::from(i32::from_be_bytes(bytes.try_into().ok()?)),
        8 => i64::from_be_bytes(bytes.try_into().ok()?),
        _ => return None,
    })
}

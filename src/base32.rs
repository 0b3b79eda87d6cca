//! Base 32 in a caller's alphabet: RFC 4648's lower case (Tor onion
//! addresses, BOLT 7) and z-base-32 (message signatures). The bit packing is
//! bech32's (through `bitcoin`); only the alphabets differ.

use bitcoin::bech32::primitives::iter::{ByteIterExt, Fe32IterExt};
use bitcoin::bech32::Fe32;

/// RFC 4648 base 32, lower case.
pub(crate) const RFC4648_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// z-base-32 (Zooko's human-oriented base 32), LND's `signmessage` alphabet.
pub(crate) const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// `bytes` in `alphabet`, without padding (the last group filled with zero bits).
pub(crate) fn encode(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    bytes
        .iter()
        .copied()
        .bytes_to_fes()
        .map(|fe| alphabet[usize::from(fe.to_u8())] as char)
        .collect()
}

/// The bytes `text` encodes in `alphabet` (trailing fill bits dropped), or
/// the first character not in it.
pub(crate) fn decode(text: &str, alphabet: &[u8; 32]) -> Result<Vec<u8>, char> {
    let fes = text
        .chars()
        .map(|c| {
            alphabet
                .iter()
                .position(|&a| char::from(a) == c)
                .and_then(|i| Fe32::try_from(i as u8).ok())
                .ok_or(c)
        })
        .collect::<Result<Vec<Fe32>, char>>()?;
    Ok(fes.into_iter().fes_to_bytes().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_in_both_alphabets() {
        for alphabet in [RFC4648_LOWER, ZBASE32] {
            for n in 0..70u8 {
                let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
                assert_eq!(decode(&encode(&data, alphabet), alphabet).unwrap(), data);
            }
        }
        // RFC 4648 test vector "foobar" (lower case, unpadded).
        assert_eq!(encode(b"foobar", RFC4648_LOWER), "mzxw6ytboi");
        assert_eq!(decode("mzx!", RFC4648_LOWER), Err('!'));
    }
}

//! Lightning message signing: the `signmessage` / `verifymessage` scheme of
//! LND and Core Lightning, which The Eye of Satoshi's users and towers sign
//! with (BOLT 13 draft, "User authentication").
//!
//! The signed digest is SHA256d("Lightning Signed Message:" || message); the
//! signature is a recoverable ECDSA signature, written as one header byte
//! (31 + recovery id: a compressed key) followed by r || s, in zbase32. The
//! signer's key is recovered from the signature, so a request carries no key:
//! the tower identifies a user by the key the signature gives.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey, Signing, Verification};

use crate::base32;

/// What every signed message is prefixed with.
const PREFIX: &[u8] = b"Lightning Signed Message:";

/// The header byte of a signature by a compressed key is 31 + recovery id.
const HEADER_COMPRESSED: u8 = 31;

/// Why a signature gives no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not zbase32.
    #[error("not zbase32 (character {0:?})")]
    NotZbase32(char),
    /// Not 65 bytes once decoded.
    #[error("{0} bytes once decoded, expected 65")]
    WrongLength(usize),
    /// The header byte is not 31..=34.
    #[error("header byte {0} is not 31..=34 (a compressed key's recovery id)")]
    BadHeader(u8),
    /// The curve recovers no key from it.
    #[error("no key recovers from it")]
    Unrecoverable,
}

fn digest(message: &[u8]) -> Message {
    let mut data = Vec::with_capacity(PREFIX.len() + message.len());
    data.extend_from_slice(PREFIX);
    data.extend_from_slice(message);
    Message::from_digest(sha256d::Hash::hash(&data).to_byte_array())
}

/// Sign `message` with `key` (RFC 6979: the same message and key give the same signature).
pub fn sign<C: Signing>(secp: &Secp256k1<C>, message: &[u8], key: &SecretKey) -> String {
    let sig = secp.sign_ecdsa_recoverable(&digest(message), key);
    let (id, rs) = sig.serialize_compact();
    let mut bytes = [0u8; 65];
    bytes[0] = HEADER_COMPRESSED + id.to_i32() as u8;
    bytes[1..].copy_from_slice(&rs);
    base32::encode(&bytes, base32::ZBASE32)
}

/// The key that signed `message`, as the signature says.
pub fn recover<C: Verification>(
    secp: &Secp256k1<C>,
    message: &[u8],
    signature: &str,
) -> Result<PublicKey, SignatureError> {
    let bytes = base32::decode(signature, base32::ZBASE32).map_err(SignatureError::NotZbase32)?;
    if bytes.len() != 65 {
        return Err(SignatureError::WrongLength(bytes.len()));
    }
    let id = bytes[0]
        .checked_sub(HEADER_COMPRESSED)
        .and_then(|i| RecoveryId::from_i32(i32::from(i)).ok())
        .ok_or(SignatureError::BadHeader(bytes[0]))?;
    let sig = RecoverableSignature::from_compact(&bytes[1..], id)
        .map_err(|_| SignatureError::Unrecoverable)?;
    secp.recover_ecdsa(&digest(message), &sig)
        .map_err(|_| SignatureError::Unrecoverable)
}

/// Whether `key` signed `message`.
pub fn verify<C: Verification>(
    secp: &Secp256k1<C>,
    message: &[u8],
    signature: &str,
    key: &PublicKey,
) -> bool {
    recover(secp, message, signature).is_ok_and(|k| k == *key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_recovers_its_signer_and_only_for_its_message() {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&[0x11; 32]).unwrap();
        let sig = sign(&secp, b"get subscription info", &key);
        let pk = PublicKey::from_secret_key(&secp, &key);
        assert_eq!(recover(&secp, b"get subscription info", &sig), Ok(pk));
        assert!(verify(&secp, b"get subscription info", &sig, &pk));
        assert!(!verify(&secp, b"get subscription inf0", &sig, &pk));
        assert_eq!(
            recover(&secp, b"x", "0"),
            Err(SignatureError::NotZbase32('0'))
        );
        assert_eq!(
            recover(&secp, b"x", &sig[..sig.len() - 8]),
            Err(SignatureError::WrongLength(60))
        );
    }
}

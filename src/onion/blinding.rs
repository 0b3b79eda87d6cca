//! BOLT 4 "Route Blinding": a recipient hides the last hops of a route behind
//! blinded node ids, each with `encrypted_recipient_data` only that hop can
//! read.
//!
//! With path key `E_i = e_i * G` and hop `N_i`: `ss_i = SHA256(ECDH(e_i, N_i))`,
//! `B_i = HMAC256("blinded_node_id", ss_i) * N_i`, `rho_i = HMAC256("rho", ss_i)`
//! encrypts the hop's `encrypted_data_tlv` (ChaCha20-Poly1305, zero nonce), and
//! `e_{i+1} = SHA256(E_i || ss_i) * e_i`.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing, Verification};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;

use super::keys::{self, OnionKeyError};

/// One hop of a blinded path, with the values the recipient computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlindedHop {
    /// The path key `E_i` this hop receives.
    pub path_key: PublicKey,
    /// `ss_i`.
    pub shared_secret: [u8; 32],
    /// `rho_i`, the key of its encrypted data.
    pub rho: [u8; 32],
    /// `B_i`.
    pub blinded_node_id: PublicKey,
    /// `encrypted_recipient_data`.
    pub encrypted_data: Vec<u8>,
}

/// Encrypt or decrypt `encrypted_recipient_data` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlindingError {
    /// The Poly1305 tag does not match: not for this hop, or tampered.
    #[error("encrypted_recipient_data does not decrypt: not for this node, or tampered")]
    Decrypt,
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] OnionKeyError),
}

fn cipher(rho: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(rho.into())
}

/// Encrypt an `encrypted_data_tlv` under `rho`.
pub fn encrypt_data(rho: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    cipher(rho)
        .encrypt(&[0u8; 12].into(), plaintext)
        .expect("ChaCha20-Poly1305 encrypts any length we use")
}

/// Decrypt `encrypted_recipient_data` under `rho`.
pub fn decrypt_data(rho: &[u8; 32], ciphertext: &[u8]) -> Result<Vec<u8>, BlindingError> {
    cipher(rho)
        .decrypt(&[0u8; 12].into(), ciphertext)
        .map_err(|_| BlindingError::Decrypt)
}

/// Build a blinded path from `session_key` (the first path key's secret)
/// through `hops`: each node id with its `encrypted_data_tlv` plaintext.
pub fn create_blinded_path<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    session_key: &SecretKey,
    hops: &[(PublicKey, Vec<u8>)],
) -> Result<Vec<BlindedHop>, BlindingError> {
    let mut e = *session_key;
    let mut out = vec![];
    for (node, data) in hops {
        let path_key = PublicKey::from_secret_key(secp, &e);
        let ss = keys::shared_secret(node, &e);
        let rho = keys::generate_key(b"rho", &ss);
        let blinded_node_id =
            keys::tweak_point(secp, node, keys::generate_key(b"blinded_node_id", &ss))?;
        out.push(BlindedHop {
            path_key,
            shared_secret: ss,
            rho,
            blinded_node_id,
            encrypted_data: encrypt_data(&rho, data),
        });
        e = keys::tweak_secret(&e, keys::blinding_factor(&path_key, &ss))?;
    }
    Ok(out)
}

/// What a blinded hop learns from its path key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unblinded {
    /// `HMAC256("blinded_node_id", ss) * node_privkey`: the key its onion layer was made for.
    pub blinded_privkey: SecretKey,
    /// The decrypted `encrypted_data_tlv`, when encrypted data was given.
    pub data: Option<Vec<u8>>,
    /// The path key for the next hop, `SHA256(E || ss) * E` (unless the data overrides it).
    pub next_path_key: PublicKey,
    /// `ss`.
    pub shared_secret: [u8; 32],
}

/// A blinded hop's side: from `path_key` and its node key, the blinded key
/// (to peel the onion), its decrypted data and the next path key.
pub fn unblind<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    node_privkey: &SecretKey,
    path_key: &PublicKey,
    encrypted_data: Option<&[u8]>,
) -> Result<Unblinded, BlindingError> {
    let ss = keys::shared_secret(path_key, node_privkey);
    let blinded_privkey =
        keys::tweak_secret(node_privkey, keys::generate_key(b"blinded_node_id", &ss))?;
    let data = encrypted_data
        .map(|d| decrypt_data(&keys::generate_key(b"rho", &ss), d))
        .transpose()?;
    let next_path_key = keys::tweak_point(secp, path_key, keys::blinding_factor(path_key, &ss))?;
    Ok(Unblinded {
        blinded_privkey,
        data,
        next_path_key,
        shared_secret: ss,
    })
}

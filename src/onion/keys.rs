//! BOLT 4 "Shared Secret", "Key Generation", "Pseudo Random Byte Stream" and
//! "Blinding Ephemeral Onion Keys".

use bitcoin::secp256k1::{
    ecdh::SharedSecret, PublicKey, Scalar, Secp256k1, SecretKey, Signing, Verification,
};
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `HMAC256(key_type, secret)`: BOLT 4 derives `rho`, `mu`, `um`, `pad`,
/// `ammag` (and `ammagext`, `blinded_node_id`) this way, the key type as the
/// HMAC key and without a terminating zero byte.
pub fn generate_key(key_type: &[u8], secret: &[u8; 32]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key_type).expect("HMAC takes any key length");
    mac.update(secret);
    mac.finalize().into_bytes().into()
}

/// `HMAC256(key, data...)`.
pub fn hmac(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for d in data {
        mac.update(d);
    }
    mac.finalize().into_bytes().into()
}

/// XOR `buf` with the ChaCha20 stream of `key` (96-bit zero nonce), from its start.
pub fn xor_stream(key: &[u8; 32], buf: &mut [u8]) {
    let mut cipher = ChaCha20::new(key.into(), &[0u8; 12].into());
    cipher.apply_keystream(buf);
}

/// `len` bytes of the ChaCha20 stream of `key`.
pub fn stream(key: &[u8; 32], len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    xor_stream(key, &mut buf);
    buf
}

/// The shared secret: SHA256 of the compressed ECDH point (what `secp256k1`'s `SharedSecret` computes).
pub fn shared_secret(point: &PublicKey, secret: &SecretKey) -> [u8; 32] {
    SharedSecret::new(point, secret).secret_bytes()
}

/// `SHA256(ephemeral_pubkey || shared_secret)`: the blinding factor for the next hop's ephemeral key.
pub fn blinding_factor(ephemeral: &PublicKey, shared_secret: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ephemeral.serialize());
    h.update(shared_secret);
    h.finalize().into()
}

/// A 32-byte hash as a scalar (a SHA256 at or above the order has probability ~2^-128).
pub fn scalar(bytes: [u8; 32]) -> Result<Scalar, OnionKeyError> {
    Scalar::from_be_bytes(bytes).map_err(|_| OnionKeyError::OutOfRange)
}

/// A key operation that failed (negligible for honest inputs, possible for crafted ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OnionKeyError {
    /// A hash not below the curve order.
    #[error("a derived tweak is not below the curve order")]
    OutOfRange,
    /// A product that is the point at infinity.
    #[error("a derived key is the point at infinity")]
    Infinity,
}

/// Multiply a point by a 32-byte tweak.
pub fn tweak_point<C: Verification>(
    secp: &Secp256k1<C>,
    p: &PublicKey,
    tweak: [u8; 32],
) -> Result<PublicKey, OnionKeyError> {
    p.mul_tweak(secp, &scalar(tweak)?)
        .map_err(|_| OnionKeyError::Infinity)
}

/// Multiply a secret by a 32-byte tweak.
pub fn tweak_secret(s: &SecretKey, tweak: [u8; 32]) -> Result<SecretKey, OnionKeyError> {
    s.mul_tweak(&scalar(tweak)?)
        .map_err(|_| OnionKeyError::Infinity)
}

/// The per-hop values of a route, computed by the sender from the session key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopKeys {
    /// The ephemeral public key this hop sees.
    pub ephemeral_pubkey: PublicKey,
    /// ECDH(ephemeral, hop) hashed.
    pub shared_secret: [u8; 32],
    /// `SHA256(ephemeral_pubkey || shared_secret)`.
    pub blinding_factor: [u8; 32],
}

/// BOLT 4 "Packet Construction": the ephemeral keys and shared secrets of each hop.
pub fn route_keys<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    session_key: &SecretKey,
    hops: &[PublicKey],
) -> Result<Vec<HopKeys>, OnionKeyError> {
    let mut ephemeral = *session_key;
    let mut out = Vec::with_capacity(hops.len());
    for hop in hops {
        let ephemeral_pubkey = PublicKey::from_secret_key(secp, &ephemeral);
        let ss = shared_secret(hop, &ephemeral);
        let b = blinding_factor(&ephemeral_pubkey, &ss);
        out.push(HopKeys {
            ephemeral_pubkey,
            shared_secret: ss,
            blinding_factor: b,
        });
        ephemeral = tweak_secret(&ephemeral, b)?;
    }
    Ok(out)
}

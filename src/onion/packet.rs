//! BOLT 4 "Packet Structure", "Packet Construction", "Onion Decryption" and
//! "Filler Generation": the Sphinx onion.
//!
//! `version (1) || public_key (33) || hop_payloads (1300) || hmac (32)`. Each
//! hop's entry in `hop_payloads` is `bigsize(len) || payload || next_hmac`;
//! each hop removes its entry, XORing the rest with its `rho` stream and
//! refilling the end, so the packet never changes size.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing, Verification};

use super::keys::{self, HopKeys, OnionKeyError};
use crate::wire::BigSize;

/// The size of `hop_payloads` in a payment onion.
pub const HOP_PAYLOADS_LEN: usize = 1300;
/// The size of a whole payment onion.
pub const PACKET_LEN: usize = 1 + 33 + HOP_PAYLOADS_LEN + 32;
/// HMAC size.
pub const HMAC_LEN: usize = 32;

/// An onion packet (payment onions have 1300 bytes of `hop_payloads`; onion messages may be larger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnionPacket {
    /// `version`: 0.
    pub version: u8,
    /// The ephemeral key for the hop that receives it.
    pub public_key: PublicKey,
    /// The obfuscated payloads.
    pub hop_payloads: Vec<u8>,
    /// The HMAC for the hop that receives it.
    pub hmac: [u8; 32],
}

/// Bytes that are not an onion packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Too short to hold version, key and HMAC.
    #[error("{0} bytes is too short for an onion packet")]
    TooShort(usize),
    /// A payment onion must be 1366 bytes.
    #[error("expected a {expected}-byte onion, got {got} bytes")]
    WrongLength {
        /// The required length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Only version 0 exists.
    #[error("unknown onion version {0} (only 0 exists)")]
    Version(u8),
    /// The ephemeral key is not a point.
    #[error("the ephemeral public key is not a valid point on the curve")]
    PublicKey,
}

impl OnionPacket {
    /// The wire bytes.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 33 + self.hop_payloads.len() + 32);
        out.push(self.version);
        out.extend(self.public_key.serialize());
        out.extend(&self.hop_payloads);
        out.extend(self.hmac);
        out
    }

    /// Parse an onion of any size (onion messages vary); see [`OnionPacket::parse_payment`].
    pub fn parse(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() < 1 + 33 + 32 {
            return Err(PacketError::TooShort(bytes.len()));
        }
        if bytes[0] != 0 {
            return Err(PacketError::Version(bytes[0]));
        }
        let public_key =
            PublicKey::from_slice(&bytes[1..34]).map_err(|_| PacketError::PublicKey)?;
        let split = bytes.len() - 32;
        Ok(OnionPacket {
            version: 0,
            public_key,
            hop_payloads: bytes[34..split].to_vec(),
            hmac: bytes[split..].try_into().expect("32 bytes"),
        })
    }

    /// Parse a payment onion: exactly 1366 bytes.
    pub fn parse_payment(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() != PACKET_LEN {
            return Err(PacketError::WrongLength {
                expected: PACKET_LEN,
                got: bytes.len(),
            });
        }
        Self::parse(bytes)
    }
}

/// Why an onion cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// No hops.
    #[error("a route needs at least one hop")]
    NoHops,
    /// The payloads with their length prefixes and HMACs exceed the packet.
    #[error("the hop payloads take {needed} bytes but an onion holds {available}: {excess} bytes too many")]
    TooLarge {
        /// Bytes the hops need.
        needed: usize,
        /// Bytes the packet has.
        available: usize,
        /// How many too many.
        excess: usize,
    },
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] OnionKeyError),
}

/// The bytes a hop takes in `hop_payloads`: `bigsize(len) || payload || hmac`.
pub fn shift_size(payload_len: usize) -> usize {
    BigSize(payload_len as u64).encoded_len() + payload_len + HMAC_LEN
}

/// An onion with what the sender computed for each hop.
#[derive(Clone, Debug)]
pub struct CreatedOnion {
    /// The packet for the first hop.
    pub packet: OnionPacket,
    /// Per hop: ephemeral key, shared secret, blinding factor.
    pub hops: Vec<HopKeys>,
}

/// BOLT 4 "Filler Generation", for variable-size payloads: what the last
/// hop's view of the end of `hop_payloads` looks like after every earlier hop
/// has shifted it and XORed in its stream.
fn filler(shared_secrets: &[[u8; 32]], shifts: &[usize], payloads_len: usize) -> Vec<u8> {
    let mut filler: Vec<u8> = vec![];
    for (ss, shift) in shared_secrets.iter().zip(shifts) {
        let rho = keys::generate_key(b"rho", ss);
        let stream = keys::stream(&rho, payloads_len + shift);
        let start = payloads_len - filler.len();
        filler.resize(filler.len() + shift, 0);
        for (f, s) in filler.iter_mut().zip(&stream[start..]) {
            *f ^= s;
        }
    }
    filler
}

/// BOLT 4 "Packet Construction" from already-derived hop keys.
pub fn construct(
    hops: Vec<HopKeys>,
    payloads: &[Vec<u8>],
    session_key: &SecretKey,
    associated_data: &[u8],
    payloads_len: usize,
) -> Result<CreatedOnion, CreateError> {
    let shifts: Vec<usize> = payloads.iter().map(|p| shift_size(p.len())).collect();
    let needed: usize = shifts.iter().sum();
    if needed > payloads_len {
        return Err(CreateError::TooLarge {
            needed,
            available: payloads_len,
            excess: needed - payloads_len,
        });
    }
    let secrets: Vec<[u8; 32]> = hops.iter().map(|h| h.shared_secret).collect();
    let filler = filler(
        &secrets[..hops.len() - 1],
        &shifts[..hops.len() - 1],
        payloads_len,
    );
    // The starting bytes are random but deterministic: the `pad` key's stream.
    let mut mix = keys::stream(
        &keys::generate_key(b"pad", &session_key.secret_bytes()),
        payloads_len,
    );
    let mut next_hmac = [0u8; 32];
    for i in (0..hops.len()).rev() {
        let rho = keys::generate_key(b"rho", &secrets[i]);
        let mu = keys::generate_key(b"mu", &secrets[i]);
        let shift = shifts[i];
        mix.copy_within(0..payloads_len - shift, shift);
        let mut entry = BigSize(payloads[i].len() as u64).encode();
        entry.extend(&payloads[i]);
        entry.extend(next_hmac);
        mix[..shift].copy_from_slice(&entry);
        keys::xor_stream(&rho, &mut mix);
        if i == hops.len() - 1 {
            let at = payloads_len - filler.len();
            mix[at..].copy_from_slice(&filler);
        }
        next_hmac = keys::hmac(&mu, &[&mix, associated_data]);
    }
    Ok(CreatedOnion {
        packet: OnionPacket {
            version: 0,
            public_key: hops[0].ephemeral_pubkey,
            hop_payloads: mix,
            hmac: next_hmac,
        },
        hops,
    })
}

/// Build a payment onion: `hops[i]` is the node's pubkey and its payload (the
/// TLV bytes, without the length prefix, which is added here).
pub fn create_onion<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    session_key: &SecretKey,
    hops: &[(PublicKey, Vec<u8>)],
    associated_data: &[u8],
) -> Result<CreatedOnion, CreateError> {
    if hops.is_empty() {
        return Err(CreateError::NoHops);
    }
    let pubkeys: Vec<PublicKey> = hops.iter().map(|(p, _)| *p).collect();
    let payloads: Vec<Vec<u8>> = hops.iter().map(|(_, p)| p.clone()).collect();
    let keys = keys::route_keys(secp, session_key, &pubkeys)?;
    construct(
        keys,
        &payloads,
        session_key,
        associated_data,
        HOP_PAYLOADS_LEN,
    )
}

/// One layer taken off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peeled {
    /// This hop's payload (TLV bytes, without the length prefix).
    pub payload: Vec<u8>,
    /// The shared secret with the sender (kept to wrap a failure later).
    pub shared_secret: [u8; 32],
    /// The onion for the next hop; `None` when the next HMAC is all zero (we are the final hop).
    pub next: Option<OnionPacket>,
}

/// Why a hop cannot peel an onion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeelError {
    /// BOLT 4: the HMAC must match before anything is decrypted.
    #[error("HMAC mismatch: not for this node, or tampered")]
    HmacMismatch,
    /// The decrypted length prefix is malformed, below 2, or runs past the packet.
    #[error("malformed hop payload: {0}")]
    Payload(&'static str),
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] OnionKeyError),
}

/// BOLT 4 "Onion Decryption" for the holder of `node_privkey`. With
/// `path_key` (a blinded hop), the key is first tweaked by
/// `HMAC256("blinded_node_id", ECDH(path_key, node_privkey))`.
pub fn peel<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    packet: &OnionPacket,
    node_privkey: &SecretKey,
    associated_data: &[u8],
    path_key: Option<&PublicKey>,
) -> Result<Peeled, PeelError> {
    let key = match path_key {
        Some(pk) => {
            let blinding_ss = keys::shared_secret(pk, node_privkey);
            keys::tweak_secret(
                node_privkey,
                keys::generate_key(b"blinded_node_id", &blinding_ss),
            )?
        }
        None => *node_privkey,
    };
    let ss = keys::shared_secret(&packet.public_key, &key);
    let mu = keys::generate_key(b"mu", &ss);
    let expected = keys::hmac(&mu, &[&packet.hop_payloads, associated_data]);
    // Constant time: the comparison must not leak how many bytes matched.
    let diff = expected
        .iter()
        .zip(&packet.hmac)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(PeelError::HmacMismatch);
    }
    let len = packet.hop_payloads.len();
    let mut unwrapped = packet.hop_payloads.clone();
    unwrapped.resize(2 * len, 0);
    keys::xor_stream(&keys::generate_key(b"rho", &ss), &mut unwrapped);
    let (payload_len, n) =
        BigSize::decode(&unwrapped).map_err(|_| PeelError::Payload("bad length prefix"))?;
    let payload_len = usize::try_from(payload_len.0).unwrap_or(usize::MAX);
    if payload_len < 2 {
        return Err(PeelError::Payload("payload shorter than 2 bytes"));
    }
    let end = n
        .checked_add(payload_len)
        .filter(|e| e + HMAC_LEN <= len)
        .ok_or(PeelError::Payload("payload longer than the packet"))?;
    let payload = unwrapped[n..end].to_vec();
    let next_hmac: [u8; 32] = unwrapped[end..end + HMAC_LEN].try_into().expect("32 bytes");
    let next = if next_hmac == [0u8; 32] {
        None
    } else {
        let blinding = keys::blinding_factor(&packet.public_key, &ss);
        Some(OnionPacket {
            version: 0,
            public_key: keys::tweak_point(secp, &packet.public_key, blinding)?,
            hop_payloads: unwrapped[end + HMAC_LEN..end + HMAC_LEN + len].to_vec(),
            hmac: next_hmac,
        })
    };
    Ok(Peeled {
        payload,
        shared_secret: ss,
        next,
    })
}

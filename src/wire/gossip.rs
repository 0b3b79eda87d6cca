//! BOLT 7 gossip signatures: `channel_announcement` (four signatures),
//! `node_announcement` and `channel_update`, each over the double-SHA256 of
//! the message after its signatures, and the check that an announced channel's
//! funding output pays the 2-of-2 of its two bitcoin keys.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::secp256k1::{
    ecdsa::Signature, Message as Msg, PublicKey, Secp256k1, SecretKey, Signing, Verification,
};
use bitcoin::Transaction;

use super::message::{self, Message, MessageError, Value};
use crate::script::funding_script;

/// Bytes signed: the double-SHA256 of the message from `offset` bytes after its type.
fn signed_digest(bytes: &[u8], offset: usize) -> Msg {
    Msg::from_digest(sha256d::Hash::hash(&bytes[2 + offset..]).to_byte_array())
}

/// Where a message's signed part starts, after its type: 4 signatures for a
/// channel_announcement, 1 for node_announcement and channel_update.
pub fn signed_offset(typ: u16) -> Option<usize> {
    match typ {
        256 => Some(4 * 64),
        257 | 258 => Some(64),
        _ => None,
    }
}

fn set(m: &mut Message, field: &str, v: Value) {
    if let Some(slot) = m.fields.iter_mut().find(|(n, _)| *n == field) {
        slot.1 = v;
    }
}

fn get<'a>(m: &'a Message, field: &str) -> Option<&'a Value> {
    m.fields.iter().find(|(n, _)| *n == field).map(|(_, v)| v)
}

/// Sign a gossip message in place: `signers` are (signature field, key), the message's
/// other fields already set. Returns the encoded, signed message.
pub fn sign<C: Signing>(
    secp: &Secp256k1<C>,
    m: &mut Message,
    signers: &[(&str, &SecretKey)],
) -> Result<Vec<u8>, MessageError> {
    let offset = signed_offset(m.typ).ok_or(MessageError::Value("type"))?;
    for (field, _) in signers {
        set(m, field, Value::Bytes(vec![0; 64]));
    }
    let unsigned = message::encode(m)?;
    let digest = signed_digest(&unsigned, offset);
    for (field, key) in signers {
        set(
            m,
            field,
            Value::Bytes(secp.sign_ecdsa(&digest, key).serialize_compact().to_vec()),
        );
    }
    message::encode(m)
}

/// What the signatures of a message cover (BOLT 7): the double-SHA256 of
/// everything after them, with whatever is in the signature fields now
/// (they are not part of it).
pub fn digest(m: &Message) -> Result<Msg, MessageError> {
    let offset = signed_offset(m.typ).ok_or(MessageError::Value("type"))?;
    Ok(signed_digest(&message::encode(m)?, offset))
}

/// Put a signature in one of a message's signature fields.
pub fn set_signature(m: &mut Message, field: &str, signature: &Signature) {
    set(
        m,
        field,
        Value::Bytes(signature.serialize_compact().to_vec()),
    );
}

/// One signature checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The signature field.
    pub field: &'static str,
    /// The key it must verify against.
    pub key: PublicKey,
    /// Whether it does.
    pub valid: bool,
}

/// Why a message cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// Not a gossip message lnkit signs.
    #[error("type {0} is not a channel_announcement, node_announcement or channel_update")]
    NotGossip(u16),
    /// A channel_update needs the node id that signed it.
    #[error("a channel_update names no key: give the node_id of its direction's node")]
    NeedsNodeId,
    /// Decoding failed.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Check every signature of a gossip message. `update_signer` is the node id a
/// channel_update must be signed by (the message itself does not carry it).
pub fn verify<C: Verification>(
    secp: &Secp256k1<C>,
    bytes: &[u8],
    update_signer: Option<&PublicKey>,
) -> Result<Vec<SignatureCheck>, GossipError> {
    verify_decoded(secp, &message::decode(bytes)?, bytes, update_signer)
}

/// [`verify`] of a message already decoded from `bytes` (its keys are not parsed twice).
pub fn verify_decoded<C: Verification>(
    secp: &Secp256k1<C>,
    m: &Message,
    bytes: &[u8],
    update_signer: Option<&PublicKey>,
) -> Result<Vec<SignatureCheck>, GossipError> {
    let offset = signed_offset(m.typ).ok_or(GossipError::NotGossip(m.typ))?;
    let digest = signed_digest(bytes, offset);
    let pairs: Vec<(&'static str, PublicKey)> = match m.typ {
        256 => [
            "node_signature_1",
            "node_signature_2",
            "bitcoin_signature_1",
            "bitcoin_signature_2",
        ]
        .into_iter()
        .zip(["node_id_1", "node_id_2", "bitcoin_key_1", "bitcoin_key_2"])
        .filter_map(|(s, k)| match get(m, k) {
            Some(Value::Point(p)) => Some((s, *p)),
            _ => None,
        })
        .collect(),
        257 => match get(m, "node_id") {
            Some(Value::Point(p)) => vec![("signature", *p)],
            _ => vec![],
        },
        _ => vec![("signature", *update_signer.ok_or(GossipError::NeedsNodeId)?)],
    };
    Ok(pairs
        .into_iter()
        .map(|(field, key)| {
            let valid = match get(m, field) {
                Some(Value::Bytes(b)) => Signature::from_compact(b)
                    .is_ok_and(|sig| secp.verify_ecdsa(&digest, &sig, &key).is_ok()),
                _ => false,
            };
            SignatureCheck { field, key, valid }
        })
        .collect())
}

/// Whether `funding_tx` has, at the announced short channel id's output index, the P2WSH
/// 2-of-2 of the announcement's bitcoin keys.
pub fn funding_output_matches(announcement: &Message, funding_tx: &Transaction) -> bool {
    let (Some(Value::Scid(scid)), Some(Value::Point(k1)), Some(Value::Point(k2))) = (
        get(announcement, "short_channel_id"),
        get(announcement, "bitcoin_key_1"),
        get(announcement, "bitcoin_key_2"),
    ) else {
        return false;
    };
    let vout = (scid & 0xffff) as usize;
    funding_tx
        .output
        .get(vout)
        .is_some_and(|o| o.script_pubkey == funding_script(k1, k2).to_p2wsh())
}
